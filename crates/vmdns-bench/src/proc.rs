//! Child processes: a command timed under `/usr/bin/time -v` (wall time and peak RSS), and a real
//! `vmdns serve` on a free loopback port, stopped with SIGTERM (and killed if it lingers or the bench dies).

use std::ffi::OsStr;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

const TIME: &str = "/usr/bin/time";

/// What a timed run came to.
#[derive(Debug, Clone)]
pub(crate) struct Timed {
    pub(crate) started: Instant,
    pub(crate) wall: Duration,
    /// Peak resident set size (`Maximum resident set size` of `time -v`), in KiB.
    pub(crate) max_rss_kib: u64,
    pub(crate) status: ExitStatus,
}

/// Runs `program args` under `time -v`, stdout and stderr into `log`; the wall time is measured here
/// around the whole process (start-up included).
pub(crate) async fn run_timed(
    program: &Path,
    args: &[impl AsRef<OsStr>],
    log: &Path,
    env: &[(&str, &str)],
) -> anyhow::Result<Timed> {
    let time_out = log.with_extension("time");
    let out = std::fs::File::create(log).with_context(|| format!("create {}", log.display()))?;
    let err = out.try_clone()?;
    let mut cmd = tokio::process::Command::new(TIME);
    cmd.arg("-v")
        .arg("-o")
        .arg(&time_out)
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let status = cmd
        .status()
        .await
        .with_context(|| format!("run {TIME} {}", program.display()))?;
    let wall = started.elapsed();
    let report = std::fs::read_to_string(&time_out).unwrap_or_default();
    let max_rss_kib = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    Ok(Timed {
        started,
        wall,
        max_rss_kib,
        status,
    })
}

/// The last `n` lines of a log file, for error messages.
pub(crate) fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A free TCP port on 127.0.0.1 (free when asked; the child binds it a moment later).
pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// A running `vmdns serve`.
#[derive(Debug)]
pub(crate) struct Serve {
    child: tokio::process::Child,
    pid: u32,
    /// `http://127.0.0.1:PORT`.
    pub(crate) base: String,
    pub(crate) log: PathBuf,
}

/// Resident set size now and its peak, in KiB (`/proc/PID/status`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Rss {
    pub(crate) now_kib: u64,
    pub(crate) peak_kib: u64,
}

impl Serve {
    /// Starts `vmdns --data-dir DIR serve --listen 127.0.0.1:PORT` with the default settings (SQLite in
    /// the data dir, 8 workers) and waits until `/healthz` answers.
    pub(crate) async fn start(vmdns: &Path, data_dir: &Path, log: PathBuf) -> anyhow::Result<Self> {
        let port = free_port()?;
        let out = std::fs::File::create(&log)?;
        let err = out.try_clone()?;
        let child = tokio::process::Command::new(vmdns)
            .arg("--data-dir")
            .arg(data_dir)
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {} serve", vmdns.display()))?;
        let pid = child.id().context("vmdns serve has no pid")?;
        let serve = Self {
            child,
            pid,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        serve.wait_ready().await?;
        Ok(serve)
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(r) = client
                .get(format!("{}/healthz", self.base))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                && r.status().is_success()
            {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!(
                    "vmdns serve did not answer within 30 s:\n{}",
                    tail(&self.log, 20)
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub(crate) fn rss(&self) -> anyhow::Result<Rss> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        };
        Ok(Rss {
            now_kib: field("VmRSS:"),
            peak_kib: field("VmHWM:"),
        })
    }

    /// SIGTERM (graceful: running jobs finish), then SIGKILL after 10 s.
    pub(crate) async fn stop(mut self) -> anyhow::Result<()> {
        let _ = tokio::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status()
            .await;
        match tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await {
            Ok(_) => Ok(()),
            Err(_) => {
                self.child.kill().await?;
                bail!("vmdns serve did not stop within 10 s of SIGTERM");
            }
        }
    }
}
