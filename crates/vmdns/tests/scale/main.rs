//! Scale-out: several `vmdns worker` processes share one database and one real PowerDNS.
//!
//! Three workers run 300 deploy jobs (300 services, one IPv4 and one IPv6 address each, a forward zone
//! and two reverse zones): every job runs exactly once and every record is right. Then 300 more, and one
//! worker is killed with SIGKILL mid-run: once their leases expire (3 s) the others take its jobs over
//! (attempt 2), nothing is duplicated, nothing lost.
//!
//! On PostgreSQL (a fresh database; see `src/store/test_support/postgres.rs` for the server it needs and
//! `VMDNS_TEST_SKIP_POSTGRES`), and, with 100 jobs per run, on one SQLite file.
//!
//! - [`cluster`]: the worker processes.
//! - [`fixture`]: PowerDNS, the zones, the services, and what PowerDNS must hold.
//! - [`gate`]: one write at a time into the test PowerDNS, whose SQLite backend takes no concurrent writes.

mod cluster;
mod fixture;
mod gate;
#[allow(
    dead_code,
    reason = "shared with the store's unit tests, which use all of it"
)]
#[path = "../../src/store/test_support/postgres.rs"]
mod pg;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use vmdns::app::App;
use vmdns::config::Config;
use vmdns::secrets::Cipher;
use vmdns::store::{Job, JobKind, JobState, ServiceInput, Store};
use vmdns_core::{AddressSpec, DnsName};
use vmdns_providers::ProviderContext;
use vmdns_providers::testing::pdns::PdnsServer;

use cluster::Cluster;
use fixture::Vm;

const WORKERS: usize = 3;
/// Each run must be over by then: about 20 s on an idle two-core machine (PowerDNS takes one write at a
/// time, three per job), more when it is busy; the takeover alone waits out a 3 s lease.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
const CLI_TIMEOUT: Duration = Duration::from_secs(60);
/// Run 2 kills its victim once this many of its jobs are done (and the victim holds some).
const KILL_AFTER_DONE: usize = 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_three_workers_one_queue() {
    let Some(db) = pg::PgTestDb::create_or_skip("scale::postgres_three_workers_one_queue").await
    else {
        return;
    };
    scenario("postgres", db.url(), 300).await;
    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_three_workers_one_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("vmdns.db").display()
    );
    // Fewer jobs: the point is several processes on one file, and PowerDNS writes are the bottleneck.
    scenario("sqlite", &url, 100).await;
}

/// Two runs of `jobs` deploy jobs each on the database at `url`; see the module docs.
async fn scenario(engine: &str, url: &str, jobs: u32) {
    let started = Instant::now();
    let lap = |what: &str| {
        eprintln!(
            "[{engine}] {:>6.1}s {what}",
            started.elapsed().as_secs_f64()
        )
    };
    let key = hex::encode(rand::random::<[u8; 32]>());
    let admin_dir = tempfile::tempdir().expect("temp dir");
    let pdns = PdnsServer::start().await;
    let gate = gate::WriteGate::start(&pdns.api_url()).await;

    // Set up as an operator would, through the CLI: the schema, then the zones (their API key sealed
    // with the master key every node shares).
    cli(url, &key, admin_dir.path(), &["migrate"]).await;
    for zone in fixture::zones() {
        pdns.create_zone(&zone).await;
        cli(
            url,
            &key,
            admin_dir.path(),
            &[
                "zone",
                "add",
                "--name",
                zone.as_str(),
                "--provider",
                "powerdns",
                "--set",
                &format!("server_url={}", gate.url()),
                "--set",
                &format!("api_key={}", pdns.api_key()),
            ],
        )
        .await;
    }
    let store = Store::open(url, Cipher::from_text(&key).expect("key"))
        .await
        .expect("open the store");
    let zones = store.list_zones().await.expect("zones");
    assert_eq!(zones.len(), 3);
    assert!(
        zones
            .iter()
            .all(|z| z.settings.get("api_key").map(String::as_str) == Some(pdns.api_key())),
        "the zones' API key does not open with the shared master key"
    );
    // This process is one more node: it queues the jobs and reads their output.
    let app = App::with_store(store.clone(), Config::default(), ProviderContext::default());
    let mut cluster = Cluster::start(WORKERS, url, &key);
    lap("PowerDNS, zones and 3 workers up");

    // Run 1: every job once, by all three workers.
    let vms1: Vec<Vm> = (0..jobs).map(Vm::new).collect();
    let services1 = create_services(&store, &vms1).await;
    lap(&format!("run 1: {jobs} services created"));
    let (jobs1, _) = run(&app, &mut cluster, &services1, None).await;
    lap(&format!(
        "run 1: {jobs} jobs done; {}",
        pdns_load(&gate).await
    ));
    for job in &jobs1 {
        assert_eq!(
            job.attempts, 1,
            "job {} ran more than once: {job:?}",
            job.id
        );
    }
    for (i, w) in cluster.workers().iter().enumerate() {
        let ran = jobs1
            .iter()
            .filter(|j| j.lease_owner.as_deref().is_some_and(|o| w.owns(o)))
            .count();
        assert!(ran > 0, "worker {i} ran no job of run 1");
        eprintln!("[{engine}]        worker {i} ran {ran} jobs");
    }
    assert_output(&store, &jobs1, &HashSet::new()).await;
    fixture::assert_records(&pdns, &vms1).await;
    lap("run 1: jobs, output and records checked");

    // Run 2: worker 0 dies mid-run.
    let vms2: Vec<Vm> = (jobs..2 * jobs).map(Vm::new).collect();
    let services2 = create_services(&store, &vms2).await;
    lap(&format!("run 2: {jobs} more services created"));
    let victim = 0;
    let (jobs2, orphans) = run(&app, &mut cluster, &services2, Some(victim)).await;
    lap(&format!(
        "run 2: {jobs} jobs done; {}",
        pdns_load(&gate).await
    ));
    // Exactly the jobs the dead worker held ran again, on the others; every other job ran once.
    let again: HashSet<i64> = jobs2
        .iter()
        .filter(|j| j.attempts > 1)
        .map(|j| j.id)
        .collect();
    assert!(!orphans.is_empty(), "the killed worker held no job");
    assert_eq!(
        again, orphans,
        "jobs run twice vs. jobs the killed worker held"
    );
    let victim_worker = &cluster.workers()[victim];
    for job in &jobs2 {
        let owner = job.lease_owner.as_deref().unwrap_or_default();
        if orphans.contains(&job.id) {
            assert_eq!(job.attempts, 2, "{job:?}");
            assert!(
                !victim_worker.owns(owner),
                "job {} finished by the dead worker?",
                job.id
            );
        } else {
            assert_eq!(job.attempts, 1, "{job:?}");
        }
    }
    assert_output(&store, &jobs2, &orphans).await;
    let mut all = vms1.clone();
    all.extend(vms2);
    fixture::assert_records(&pdns, &all).await;
    lap(&format!(
        "run 2: {} jobs taken over from the killed worker; jobs, output and records checked",
        orphans.len()
    ));

    for (i, w) in cluster.workers().iter().enumerate() {
        let log = w.log();
        let bad: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("ERROR") || l.contains("database is locked"))
            .take(5)
            .collect();
        assert!(
            bad.is_empty(),
            "worker {i} logged errors:\n{}",
            bad.join("\n")
        );
    }
    drop(cluster);
    store.close().await;
    lap("done");
}

/// How many writes PowerDNS took so far and how long they kept it busy.
async fn pdns_load(gate: &gate::WriteGate) -> String {
    let (n, busy) = gate.writes().await;
    format!(
        "PowerDNS took {n} writes so far, busy {:.1}s with them",
        busy.as_secs_f64()
    )
}

/// Runs `vmdns --database-url URL ARGS...` to the end; panics with its output when it fails.
async fn cli(url: &str, key: &str, data_dir: &Path, args: &[&str]) -> String {
    let mut cmd = tokio::process::Command::from(cluster::vmdns(url, key, data_dir));
    cmd.args(args).kill_on_drop(true);
    let out = tokio::time::timeout(CLI_TIMEOUT, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("vmdns {args:?} did not finish within {CLI_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("cannot run vmdns {args:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "vmdns {args:?} failed ({}):\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

async fn create_services(store: &Store, vms: &[Vm]) -> Vec<i64> {
    let domain = DnsName::parse(fixture::FORWARD).expect("domain");
    let mut ids = Vec::with_capacity(vms.len());
    for vm in vms {
        let s = store
            .create_service(&ServiceInput {
                name: vm.name.clone(),
                domain: domain.clone(),
                ttl: 300,
                addresses: [vm.v4, vm.v6]
                    .map(|ip| AddressSpec { ip, ptr: None })
                    .to_vec(),
            })
            .await
            .expect("create service");
        ids.push(s.id);
    }
    ids
}

/// Queues a deploy job per service (while the workers run) and waits until every one is finished;
/// with `kill`, SIGKILLs that worker once it holds a running job and the run is well under way.
/// Returns the jobs as finished, all of them `done`, and those the killed worker held when it died.
async fn run(
    app: &App,
    cluster: &mut Cluster,
    services: &[i64],
    kill: Option<usize>,
) -> (Vec<Job>, HashSet<i64>) {
    let enqueuer = {
        let (app, services) = (app.clone(), services.to_vec());
        tokio::spawn(async move {
            for id in services {
                vmdns::engine::enqueue(&app, id, JobKind::Deploy)
                    .await
                    .expect("enqueue");
            }
        })
    };
    let wanted: HashSet<i64> = services.iter().copied().collect();
    let mut kill = kill;
    let mut orphans = HashSet::new();
    let started = Instant::now();
    let jobs = loop {
        cluster.assert_running();
        let jobs: Vec<Job> = app
            .store
            .list_jobs(None, 100_000)
            .await
            .expect("list jobs")
            .into_iter()
            .filter(|j| wanted.contains(&j.service_id))
            .collect();
        let finished = jobs.iter().filter(|j| j.state.is_finished()).count();
        if let Some(victim) = kill {
            let w = &cluster.workers()[victim];
            let holds = jobs.iter().any(|j| {
                j.state == JobState::Running && j.lease_owner.as_deref().is_some_and(|o| w.owns(o))
            });
            if holds && finished >= KILL_AFTER_DONE {
                cluster.kill(victim);
                eprintln!(
                    "        killed worker {victim} (SIGKILL) with {finished} of {} jobs finished",
                    services.len()
                );
                kill = None;
                // What it held once the database settled (a commit it sent just before dying may land).
                tokio::time::sleep(Duration::from_millis(300)).await;
                let w = &cluster.workers()[victim];
                orphans = app
                    .store
                    .list_jobs(None, 100_000)
                    .await
                    .expect("list jobs")
                    .into_iter()
                    .filter(|j| {
                        j.state == JobState::Running
                            && j.lease_owner.as_deref().is_some_and(|o| w.owns(o))
                    })
                    .map(|j| j.id)
                    .collect();
                continue;
            }
        }
        if enqueuer.is_finished() && jobs.len() == services.len() && finished == jobs.len() {
            break jobs;
        }
        if started.elapsed() > RUN_TIMEOUT {
            let mut states: BTreeMap<&str, usize> = BTreeMap::new();
            for j in &jobs {
                *states.entry(j.state.as_str()).or_default() += 1;
            }
            panic!(
                "jobs not finished within {RUN_TIMEOUT:?}: {} queued of {}, by state {states:?}\n{}",
                jobs.len(),
                services.len(),
                cluster.logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    enqueuer.await.expect("enqueue task");
    assert!(
        kill.is_none(),
        "the run ended before the victim was caught holding a job"
    );
    let bad: Vec<&Job> = jobs.iter().filter(|j| j.state != JobState::Done).collect();
    assert!(
        bad.is_empty(),
        "{} jobs not done, first: {:?}\n{}",
        bad.len(),
        bad.first(),
        cluster.logs()
    );
    let distinct: BTreeSet<i64> = jobs.iter().map(|j| j.service_id).collect();
    assert_eq!(distinct.len(), services.len(), "one job per service");
    (jobs, orphans)
}

/// Each job's live output, read from this process (another node than the workers): one run of the job
/// (its header line once), or, for a job taken over, a last run that says it is attempt 2.
async fn assert_output(store: &Store, jobs: &[Job], taken_over: &HashSet<i64>) {
    for job in jobs {
        let lines = store.job_output(job.id, 0).await.expect("job output");
        let header = format!("job {} deploy for service {} (", job.id, job.service_id);
        let runs: Vec<&str> = lines
            .iter()
            .map(|l| l.line.as_str())
            .filter(|l| l.starts_with(&header))
            .collect();
        if taken_over.contains(&job.id) {
            assert!(
                !runs.is_empty() && runs.len() <= 2,
                "job {}: {runs:?}",
                job.id
            );
            assert!(
                runs.last().is_some_and(|l| l.ends_with(", attempt 2")),
                "job {}: {runs:?}",
                job.id
            );
        } else {
            assert_eq!(
                runs.len(),
                1,
                "job {} ran {} times: {lines:?}",
                job.id,
                runs.len()
            );
        }
        assert!(
            lines.iter().any(|l| l.line.starts_with("summary: ")),
            "job {} has no summary line: {lines:?}",
            job.id
        );
    }
}
