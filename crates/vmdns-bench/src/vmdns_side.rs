//! vmdns as the bench drives it: a data directory filled through the `vmdns` library (zones, services, an
//! API token: much faster than the CLI), and a small client of a running server's `/api/v1`.

use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use serde::Deserialize;
use vmdns::app::App;
use vmdns::config::Config;
use vmdns_core::DnsName;
use vmdns_providers::{ProviderKind, Settings};

use crate::dataset::Vm;

/// A zone to configure.
#[derive(Debug, Clone)]
pub(crate) struct ZoneSpec {
    pub(crate) name: DnsName,
    pub(crate) provider: ProviderKind,
    pub(crate) settings: Settings,
}

/// What [`populate`] made.
#[derive(Debug)]
pub(crate) struct Populated {
    /// Service ids, in the order of the `vms` given.
    pub(crate) service_ids: Vec<i64>,
    pub(crate) token: String,
}

/// Opens (creating) the data dir as `vmdns` would with its defaults, and adds zones, services and a token.
pub(crate) async fn populate(
    data_dir: &Path,
    zones: &[ZoneSpec],
    vms: &[Vm],
) -> anyhow::Result<Populated> {
    let app = App::open(Config {
        data_dir: data_dir.to_path_buf(),
        ..Config::default()
    })
    .await?;
    for z in zones {
        app.store
            .create_zone(&z.name, z.provider, &z.settings)
            .await
            .with_context(|| format!("create zone {}", z.name))?;
    }
    let mut service_ids = Vec::with_capacity(vms.len());
    for vm in vms {
        let s = app
            .store
            .create_service(&vm.input()?)
            .await
            .with_context(|| format!("create service {}", vm.name))?;
        service_ids.push(s.id);
    }
    let (_, token) = app.store.create_token("bench").await?;
    app.store.close().await;
    Ok(Populated { service_ids, token })
}

/// Replaces the addresses of the services `ids[i]` with those of `vms[i]` (for every `i` in `which`).
pub(crate) async fn update_services(
    data_dir: &Path,
    ids: &[i64],
    vms: &[Vm],
    which: impl Iterator<Item = usize>,
) -> anyhow::Result<usize> {
    let app = App::open(Config {
        data_dir: data_dir.to_path_buf(),
        ..Config::default()
    })
    .await?;
    let mut n = 0;
    for i in which {
        app.store.update_service(ids[i], &vms[i].input()?).await?;
        n += 1;
    }
    app.store.close().await;
    Ok(n)
}

/// A client of `/api/v1` with a bearer token.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

/// A job as the API shows it (the fields the bench reads).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct JobView {
    pub(crate) state: String,
    pub(crate) created_at: String,
    pub(crate) finished_at: Option<String>,
    pub(crate) summary: Option<String>,
}

impl JobView {
    pub(crate) fn is_finished(&self) -> bool {
        !matches!(self.state.as_str(), "queued" | "running")
    }

    /// `finished_at - created_at` as vmdns recorded them (millisecond resolution).
    pub(crate) fn server_latency(&self) -> anyhow::Result<Duration> {
        let parse = |s: &str| -> anyhow::Result<SystemTime> {
            humantime::parse_rfc3339(s).with_context(|| format!("time {s:?}"))
        };
        let done = parse(self.finished_at.as_deref().context("job not finished")?)?;
        Ok(done.duration_since(parse(&self.created_at)?)?)
    }
}

#[derive(Debug, Deserialize)]
struct Queued {
    job_id: i64,
}

#[derive(Debug, Deserialize)]
struct Created {
    id: i64,
}

impl Api {
    pub(crate) fn new(base: &str, token: &str) -> anyhow::Result<Self> {
        Ok(Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()?,
            base: format!("{base}/api/v1"),
            token: token.to_string(),
        })
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
        what: &str,
    ) -> anyhow::Result<T> {
        let answer = req.bearer_auth(&self.token).send().await?;
        let status = answer.status();
        if !status.is_success() {
            bail!("{what}: {status}: {}", answer.text().await?);
        }
        Ok(answer.json().await?)
    }

    /// `POST /services/{id}/{action}`: the job id.
    pub(crate) async fn enqueue(&self, service_id: i64, action: &str) -> anyhow::Result<i64> {
        let q: Queued = self
            .send(
                self.client
                    .post(format!("{}/services/{service_id}/{action}", self.base)),
                action,
            )
            .await?;
        Ok(q.job_id)
    }

    pub(crate) async fn job(&self, job_id: i64) -> anyhow::Result<JobView> {
        self.send(
            self.client.get(format!("{}/jobs/{job_id}", self.base)),
            "GET job",
        )
        .await
    }

    /// Polls the job every `every` until it is finished.
    pub(crate) async fn wait(&self, job_id: i64, every: Duration) -> anyhow::Result<JobView> {
        let started = std::time::Instant::now();
        loop {
            let job = self.job(job_id).await?;
            if job.is_finished() {
                return Ok(job);
            }
            if started.elapsed() > Duration::from_secs(120) {
                bail!("job {job_id} not finished after 120 s ({})", job.state);
            }
            tokio::time::sleep(every).await;
        }
    }

    pub(crate) async fn create_service(&self, vm: &Vm) -> anyhow::Result<i64> {
        let c: Created = self
            .send(
                self.client
                    .post(format!("{}/services", self.base))
                    .json(&vm.api_body()),
                "POST service",
            )
            .await?;
        Ok(c.id)
    }

    pub(crate) async fn update_service(&self, id: i64, vm: &Vm) -> anyhow::Result<()> {
        let _: serde_json::Value = self
            .send(
                self.client
                    .put(format!("{}/services/{id}", self.base))
                    .json(&vm.api_body()),
                "PUT service",
            )
            .await?;
        Ok(())
    }

    /// `GET /services`: how many there are.
    pub(crate) async fn count_services(&self) -> anyhow::Result<usize> {
        let all: Vec<serde_json::Value> = self
            .send(
                self.client.get(format!("{}/services", self.base)),
                "GET services",
            )
            .await?;
        Ok(all.len())
    }
}
