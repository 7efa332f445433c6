//! Worker processes: real `vmdns worker` binaries sharing one database, each with its own data dir and
//! log file. Dropping the [`Cluster`] kills them all (also when a test panics); a small `sh` watchdog
//! kills them within a second should the test binary itself be killed.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use tempfile::TempDir;

/// Kills the workers (`$2...`) once the test process (`$1`) is gone.
const WATCHDOG: &str = r#"
parent="$1"; shift
while kill -0 "$parent" 2>/dev/null; do sleep 0.3; done
kill -9 "$@" 2>/dev/null
"#;

/// One `vmdns worker` process.
#[derive(Debug)]
pub(crate) struct Worker {
    child: Child,
    log: PathBuf,
    alive: bool,
}

impl Worker {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The lease owner this worker writes into the jobs it claims: `<host>:<pid>`.
    pub(crate) fn owns(&self, lease_owner: &str) -> bool {
        lease_owner.ends_with(&format!(":{}", self.pid()))
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Several workers on one database.
#[derive(Debug)]
pub(crate) struct Cluster {
    workers: Vec<Worker>,
    watchdog: Option<Child>,
    _dir: TempDir,
}

/// `vmdns` with the database and the master key every node shares.
pub(crate) fn vmdns(database_url: &str, master_key: &str, data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vmdns"));
    cmd.arg("--database-url")
        .arg(database_url)
        .arg("--data-dir")
        .arg(data_dir)
        .env("VMDNS_MASTER_KEY", master_key)
        .env("VMDNS_LOG", "info")
        .stdin(Stdio::null());
    cmd
}

impl Cluster {
    /// Starts `n` workers: `vmdns --database-url URL worker --lease-secs 3`, automatic retries off (a
    /// failed job shows as failed instead of coming back later).
    pub(crate) fn start(n: usize, database_url: &str, master_key: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("vmdns-scale-")
            .tempdir()
            .expect("temp dir");
        let mut cluster = Self {
            workers: Vec::new(),
            watchdog: None,
            _dir: dir,
        };
        for i in 0..n {
            let data_dir = cluster._dir.path().join(format!("node{i}"));
            std::fs::create_dir_all(&data_dir).expect("data dir");
            let log = cluster._dir.path().join(format!("worker{i}.log"));
            let out = File::create(&log).expect("log file");
            let err = out.try_clone().expect("log file");
            let child = vmdns(database_url, master_key, &data_dir)
                .args(["worker", "--lease-secs", "3", "--max-retries", "0"])
                .args(["--concurrency", "8"])
                .stdout(out)
                .stderr(err)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start vmdns worker: {e}"));
            cluster.workers.push(Worker {
                child,
                log,
                alive: true,
            });
        }
        cluster.watchdog = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("scale-watchdog")
            .arg(std::process::id().to_string())
            .args(cluster.workers.iter().map(|w| w.pid().to_string()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok();
        cluster
    }

    pub(crate) fn workers(&self) -> &[Worker] {
        &self.workers
    }

    /// SIGKILL: the worker gets no chance to finish or hand back anything.
    pub(crate) fn kill(&mut self, i: usize) {
        let w = &mut self.workers[i];
        w.child.kill().expect("SIGKILL the worker");
        w.child.wait().expect("reap the worker");
        w.alive = false;
    }

    /// Panics, with the workers' logs, when a worker that should run has exited.
    pub(crate) fn assert_running(&mut self) {
        for (i, w) in self.workers.iter_mut().enumerate() {
            if w.alive
                && let Ok(Some(status)) = w.child.try_wait()
            {
                w.alive = false;
                panic!("worker {i} exited ({status}):\n{}", w.log());
            }
        }
    }

    /// Every worker's log, for failure messages (the last lines of each).
    pub(crate) fn logs(&self) -> String {
        let mut out = String::new();
        for (i, w) in self.workers.iter().enumerate() {
            let log = w.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(30)..];
            out.push_str(&format!(
                "--- worker {i} (pid {}), last {} lines:\n{}\n",
                w.pid(),
                tail.len(),
                tail.join("\n")
            ));
        }
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for w in &mut self.workers {
            if w.alive {
                let _ = w.child.kill();
                let _ = w.child.wait();
            }
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}
