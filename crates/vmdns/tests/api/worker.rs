//! Durability: a `vmdns worker` process killed (SIGKILL) in the middle of a job loses nothing. Its lease
//! expires, a second worker process runs the job again, and because jobs converge the result is the same
//! as one clean run: no duplicate records, the ledger right, `attempts` = 2.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use vmdns::store::JobState;
use vmdns_core::RecordType;
use vmdns_providers::testing::pdns::PdnsServer;

use crate::helpers::{
    SlowProxy, TestApp, api_addr, dig, dig_ptr, lines, n, pdns_direct, set, spawn_app, wait_until,
};

/// `vmdns --data-dir DIR worker --lease-secs 3`: the real binary on the test app's data dir. Killed when
/// dropped.
fn spawn_worker(app: &TestApp, log_name: &str) -> tokio::process::Child {
    let log = std::fs::File::create(app.dir.path().join(log_name)).expect("worker log file");
    tokio::process::Command::new(env!("CARGO_BIN_EXE_vmdns"))
        .arg("--data-dir")
        .arg(app.dir.path())
        .args(["worker", "--lease-secs", "3", "--retry-base-secs", "3600"])
        .env("VMDNS_LOG", "info")
        .env_remove("VMDNS_MASTER_KEY")
        .env_remove("VMDNS_DATABASE_URL")
        .env_remove("VMDNS_DATA_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("start the vmdns binary")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_job_loses_nothing() {
    let server = &PdnsServer::start().await;
    let app = spawn_app().await;
    server.create_zone(&n("killed.test")).await;
    server.create_zone(&n("0.59.10.in-addr.arpa")).await;
    // Writes to PowerDNS go through a proxy that holds each PATCH for two seconds.
    let proxy = SlowProxy::start(api_addr(server), Duration::from_secs(2)).await;
    for zone in ["killed.test", "0.59.10.in-addr.arpa"] {
        app.create_zone(
            zone,
            "powerdns",
            json!({"server_url": proxy.url(), "api_key": server.api_key()}),
        )
        .await;
    }
    let svc = app
        .create_service("vm", "killed.test", &[("10.59.0.5", None)])
        .await;
    let job_id = app.enqueue(svc, "deploy").await;

    // The first worker takes the job and is killed while its first write is in flight.
    let mut first = spawn_worker(&app, "worker1.log");
    wait_until(
        Duration::from_secs(30),
        "the first worker's PATCH",
        || async { proxy.patches() >= 1 },
    )
    .await;
    first.start_kill().expect("SIGKILL the first worker");
    first.wait().await.expect("reap the first worker");
    let job = app.app.store.get_job(job_id).await.expect("job");
    assert_eq!(job.state, JobState::Running, "{job:?}");
    assert_eq!(job.attempts, 1);
    let dead_owner = job.lease_owner.clone().expect("leased");

    // A second worker takes it over once the lease expired, and finishes it.
    let mut second = spawn_worker(&app, "worker2.log");
    let store = app.app.store.clone();
    wait_until(
        Duration::from_secs(60),
        "the second worker to finish the job",
        || {
            let store = store.clone();
            async move {
                store
                    .get_job(job_id)
                    .await
                    .is_ok_and(|j| j.state.is_finished())
            }
        },
    )
    .await;
    second.start_kill().expect("stop the second worker");
    second.wait().await.expect("reap the second worker");

    let job = app.app.store.get_job(job_id).await.expect("job");
    let log2 = std::fs::read_to_string(app.dir.path().join("worker2.log")).unwrap_or_default();
    assert_eq!(job.state, JobState::Done, "{job:?}\n{log2}");
    assert_eq!(job.attempts, 2);
    assert_ne!(job.lease_owner.as_deref(), Some(dead_owner.as_str()));
    let shown = app.job(job_id).await;
    let out = lines(&shown);
    assert!(out.iter().any(|l| l.contains("attempt 2")), "{out:#?}");
    assert!(proxy.patches() >= 2, "the second worker wrote too");

    // DNS as after one clean run: one record each, nothing twice.
    assert_eq!(
        dig(server, "vm.killed.test", RecordType::A).await,
        set(&["10.59.0.5"])
    );
    assert_eq!(dig_ptr(server, "10.59.0.5").await, set(&["vm.killed.test"]));
    let fwd = pdns_direct(server, "killed.test")
        .rrsets(&[n("vm.killed.test")])
        .await
        .expect("read");
    assert_eq!(fwd.len(), 1, "{fwd:?}");
    assert_eq!(fwd[0].records.len(), 1, "{fwd:?}");
    let mut ledger = app.app.store.ledger_of_service(svc).await.expect("ledger");
    ledger.sort_by(|a, b| (a.zone_id, a.name.as_str()).cmp(&(b.zone_id, b.name.as_str())));
    let owned: Vec<(String, String)> = ledger
        .iter()
        .map(|r| (r.name.to_string(), r.content.clone()))
        .collect();
    assert_eq!(
        owned,
        vec![
            ("vm.killed.test".to_string(), "10.59.0.5".to_string()),
            (
                "5.0.59.10.in-addr.arpa".to_string(),
                "vm.killed.test".to_string()
            ),
        ]
    );
    // And a resync finds nothing to do.
    let job = app.run(svc, "set-dns-records").await;
    assert_eq!(
        lines(&job).last().map(String::as_str),
        Some("summary: 2 ok (2 unchanged), 0 errors in 2 zones")
    );
}
