//! Scenario 5: the resident memory of a real `vmdns serve` (SQLite default, worker on): idle on an empty
//! data dir, then after services were created through its API and listed back in one `GET /services`.

use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::dataset;
use crate::proc::{Rss, Serve};
use crate::vmdns_side::{Api, populate};

#[derive(Debug)]
pub(crate) struct Memory {
    pub(crate) idle: Rss,
    pub(crate) services: usize,
    pub(crate) load_time: Duration,
    pub(crate) loaded: Rss,
}

/// API calls in flight while loading.
const IN_FLIGHT: usize = 4;

pub(crate) async fn run(
    vmdns: &std::path::Path,
    work: &std::path::Path,
    services: usize,
) -> anyhow::Result<Memory> {
    let dir = work.join("memory");
    // An empty data dir with just a token (no zone, no service).
    let populated = populate(&dir, &[], &[]).await?;
    let serve = Serve::start(vmdns, &dir, work.join("serve-memory.log")).await?;
    let api = Api::new(&serve.base, &populated.token)?;
    let result = async {
        // Let start-up allocations settle and the worker reach its idle wait.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let idle = serve.rss()?;
        eprintln!(
            "vmdns-bench: memory: idle serve {} KiB; creating {services} services through the API",
            idle.now_kib
        );
        let vms = dataset::vms("m", services, false);
        let started = Instant::now();
        let created: Vec<anyhow::Result<i64>> = futures::stream::iter(&vms)
            .map(|vm| api.create_service(vm))
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        for c in created {
            c?;
        }
        let listed = api.count_services().await?;
        let load_time = started.elapsed();
        anyhow::ensure!(
            listed == services,
            "GET /services listed {listed} of {services}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        let loaded = serve.rss()?;
        Ok(Memory {
            idle,
            services,
            load_time,
            loaded,
        })
    }
    .await;
    serve.stop().await?;
    let _ = std::fs::remove_dir_all(&dir);
    result
}
