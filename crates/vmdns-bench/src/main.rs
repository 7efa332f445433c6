//! `vmdns-bench`: measures vmdns against a real PowerDNS on loopback, side by side in one run, and writes
//! the results into BENCHMARKS.md. Started by `scripts/bench`, which builds the release binaries and
//! installs octoDNS into a venv first. Not a test: CI never runs it.
//!
//! # Layout
//! - [`proxy`]: the counting HTTP proxy every contender talks to PowerDNS through.
//! - [`dataset`]: the services and the three zones; their RRsets come from `vmdns-core`.
//! - [`pdns`]: fresh zones per contender, and the check that each left exactly the wanted records.
//! - [`proc`]: child processes (timed under `/usr/bin/time -v`; a real `vmdns serve`).
//! - [`vmdns_side`]: filling a data dir through the vmdns library; a client of the HTTP API.
//! - [`contenders`]: the floor, the naive client and octoDNS.
//! - [`bulk`]: scenarios 1 and 2 (bulk converge, the other contenders).
//! - [`deploy`]: scenarios 3 and 4 (single deploy latency, requests per job per provider).
//! - [`memory`]: scenario 5 (RSS of `vmdns serve`).
//! - [`report`]: the Markdown report and the targets.

mod bulk;
mod contenders;
mod dataset;
mod deploy;
mod memory;
mod pdns;
mod proc;
mod proxy;
mod report;
mod vmdns_side;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use vmdns_providers::testing::pdns::PdnsServer;

/// Benchmarks of vmdns against a real PowerDNS on loopback.
#[derive(Debug, Parser)]
#[command(name = "vmdns-bench", args_override_self = true)]
struct Args {
    /// The `vmdns` binary to measure (a release build).
    #[arg(long)]
    vmdns: PathBuf,
    /// Services in the bulk scenarios (4 RRsets each).
    #[arg(long, default_value_t = 10_000)]
    services: usize,
    /// Rounds of "floor, then vmdns from empty"; the medians are compared.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Send only this many RRsets the naive way (one PATCH each) and scale its time up to all of them.
    #[arg(long)]
    naive_sample: Option<usize>,
    /// Deploy jobs timed in scenario 3.
    #[arg(long, default_value_t = 500)]
    deploys: usize,
    /// Services per kind of job in scenario 4.
    #[arg(long, default_value_t = 20)]
    provider_jobs: usize,
    /// Services created through the API of `vmdns serve` in scenario 5.
    #[arg(long, default_value_t = 10_000)]
    memory_services: usize,
    /// `octodns-sync` of a venv with octodns 1.22.0 and octodns-powerdns 1.2.0.
    #[arg(long)]
    octodns_sync: Option<PathBuf>,
    /// Why octoDNS is not measured (shown in the table when --octodns-sync is absent).
    #[arg(long, default_value = "not run")]
    octodns_note: String,
    /// Another `vmdns` binary (say, with a fix) to measure in the same rounds of scenario 1, for an
    /// A/B comparison of the same run.
    #[arg(long)]
    compare_vmdns: Option<PathBuf>,
    /// Scratch directory (data dirs, logs, octoDNS zone files); removed when empty at the end.
    #[arg(long)]
    work_dir: PathBuf,
    /// The Markdown file to write the results into (between its marker lines).
    #[arg(long)]
    out: PathBuf,
    /// The command line to record in the report.
    #[arg(long, default_value = "scripts/bench")]
    command: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vmdns-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(last_line) => {
            println!("{last_line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vmdns-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<String> {
    std::fs::create_dir_all(&args.work_dir)
        .with_context(|| format!("create {}", args.work_dir.display()))?;
    let date = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    eprintln!("vmdns-bench: starting PowerDNS on loopback");
    let pdns = PdnsServer::start().await;
    let proxy = proxy::Proxy::start(&pdns.api_url()).await?;
    let bench = bulk::Bench {
        pdns: &pdns,
        proxy: &proxy,
        vmdns: &args.vmdns,
        work: &args.work_dir,
    };
    let octodns = args
        .octodns_sync
        .as_deref()
        .ok_or_else(|| args.octodns_note.clone());
    let bulk = bulk::run(
        &bench,
        args.services,
        args.rounds.max(1),
        args.naive_sample,
        octodns,
        args.compare_vmdns.as_deref(),
    )
    .await?;
    let latency = deploy::latency(&bench, args.deploys).await?;
    let providers = deploy::per_provider(&bench, args.provider_jobs).await?;
    let memory = memory::run(&args.vmdns, &args.work_dir, args.memory_services).await?;
    let results = report::Results {
        command: args.command.clone(),
        date,
        machine: machine(args.octodns_sync.is_some()),
        bulk,
        latency,
        providers,
        memory,
    };
    report::write_section(&args.out, &results.render())?;
    for t in results.targets() {
        let met = match t.met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "not measured",
        };
        eprintln!("vmdns-bench: target {met}: {} ({})", t.what, t.measured);
    }
    eprintln!("vmdns-bench: results written to {}", args.out.display());
    drop(proxy);
    drop(pdns);
    let _ = std::fs::remove_dir(&args.work_dir);
    Ok(format!(
        "bulk_vs_floor={:.2} naive_vs_vmdns={:.1}",
        results.bulk_vs_floor(),
        results.naive_vs_vmdns()
    ))
}

/// What the numbers were measured on.
fn machine(octodns: bool) -> Vec<String> {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(str::trim)
        .unwrap_or("unknown CPU")
        .to_string();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_kib: u64 = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let kernel = read("/proc/sys/kernel/osrelease").trim().to_string();
    let version = |cmd: &str, args: &[&str]| -> String {
        std::process::Command::new(cmd)
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".into())
    };
    let mut out = vec![
        format!(
            "Machine: {cores} cores ({cpu}), {:.1} GB memory, Linux {kernel}; shared and noisy, so compare ratios of one run, not absolute times across runs",
            mem_kib as f64 * 1024.0 / 1e9
        ),
        format!(
            "PowerDNS Authoritative {} (gsqlite3 backend), started by the bench on 127.0.0.1 with the settings of `reference/peers.md`",
            version("dpkg-query", &["-W", "-f=${Version}", "pdns-server"])
        ),
        format!(
            "vmdns {} (release build), {}",
            env!("CARGO_PKG_VERSION"),
            version("rustc", &["--version"])
        ),
    ];
    if octodns {
        out.push("octoDNS 1.22.0 and octodns-powerdns 1.2.0 from PyPI in a venv".into());
    }
    out
}
