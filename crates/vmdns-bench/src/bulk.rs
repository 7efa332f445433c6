//! Scenarios 1 and 2: bulk converge with the real `vmdns resync --all` (from empty, no-op, 10 % changed),
//! and the same records sent by the floor, the naive client and octoDNS, each into fresh zones of the same
//! PowerDNS.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use vmdns_core::{DnsName, RrSet};
use vmdns_providers::ProviderKind;
use vmdns_providers::testing::pdns::PdnsServer;

use crate::contenders::{self, PatchClient, VMDNS_MAX_BODY_BYTES};
use crate::dataset::{self, Vm};
use crate::pdns::{fresh_zones, verify};
use crate::proc::{run_timed, tail};
use crate::proxy::{Counts, Logged, Proxy};
use crate::vmdns_side::{ZoneSpec, populate, update_services};

/// One measured run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run {
    pub(crate) wall: Duration,
    pub(crate) counts: Counts,
    pub(crate) max_rss_kib: Option<u64>,
    pub(crate) timeline: Option<Timeline>,
}

/// Where the wall time of a `vmdns resync --all` went, as seen from the proxy: zone by zone, vmdns reads
/// (GET), works, writes (PATCH), works again; added up over the zones.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Timeline {
    /// Process start → first request: start-up, opening the store, loading services, desired RRsets.
    pub(crate) startup: Duration,
    /// First GET sent → last GET answered, per zone (PowerDNS reading the zone out, mostly).
    pub(crate) reads: Duration,
    /// Last GET answered → first PATCH sent (or the next zone, when nothing is written): planning and
    /// writing the ledger's intent.
    pub(crate) plan: Duration,
    /// First PATCH sent → last PATCH answered (PowerDNS applying, mostly).
    pub(crate) writes: Duration,
    /// Last PATCH answered → next zone's first request, or the process's exit: updating the ledger.
    pub(crate) after: Duration,
}

impl Timeline {
    pub(crate) fn of(log: &[Logged], started: Instant, ended: Instant) -> Self {
        let mut t = Self::default();
        let Some(first) = log.first() else {
            t.startup = ended - started;
            return t;
        };
        t.startup = first.at.saturating_duration_since(started);
        // Consecutive requests of one zone.
        let mut groups: Vec<&[Logged]> = Vec::new();
        let mut start = 0;
        for i in 1..=log.len() {
            if i == log.len() || log[i].zone() != log[start].zone() {
                groups.push(&log[start..i]);
                start = i;
            }
        }
        for (k, g) in groups.iter().enumerate() {
            let next = groups.get(k + 1).map_or(ended, |n| n[0].at);
            let done = |l: &Logged| l.done.unwrap_or(l.at);
            let reads: Vec<&Logged> = g.iter().filter(|l| !l.is_write()).collect();
            let writes: Vec<&Logged> = g.iter().filter(|l| l.is_write()).collect();
            let read_end = reads.iter().map(|l| done(l)).max().unwrap_or(g[0].at);
            if let (Some(r0), true) = (reads.first(), !reads.is_empty()) {
                t.reads += read_end.saturating_duration_since(r0.at);
            }
            match (writes.first(), writes.iter().map(|l| done(l)).max()) {
                (Some(w0), Some(w_end)) => {
                    t.plan += w0.at.saturating_duration_since(read_end);
                    t.writes += w_end.saturating_duration_since(w0.at);
                    t.after += next.saturating_duration_since(w_end);
                }
                _ => t.plan += next.saturating_duration_since(read_end),
            }
        }
        t
    }
}

/// Everything scenarios 1 and 2 measured.
#[derive(Debug)]
pub(crate) struct BulkResults {
    pub(crate) services: usize,
    pub(crate) rrsets: usize,
    pub(crate) populate: Duration,
    pub(crate) rounds: usize,
    pub(crate) floor: Vec<Run>,
    pub(crate) vmdns: VmdnsRuns,
    /// `--compare-vmdns`: another vmdns binary measured in the same rounds.
    pub(crate) other: Option<(PathBuf, VmdnsRuns)>,
    pub(crate) changed_services: usize,
    /// The naive run sent this many of the RRsets; its wall time is scaled up to all of them.
    pub(crate) naive_sent: usize,
    pub(crate) naive: Run,
    pub(crate) octodns: Result<Run, String>,
}

/// The runs of one vmdns binary.
#[derive(Debug)]
pub(crate) struct VmdnsRuns {
    /// From empty, one per round.
    pub(crate) empty: Vec<Run>,
    pub(crate) noop: Run,
    pub(crate) changed: Run,
}

/// The run with the median wall time.
pub(crate) fn median(runs: &[Run]) -> Run {
    let mut sorted = runs.to_vec();
    sorted.sort_by_key(|r| r.wall);
    sorted[sorted.len() / 2]
}

/// What the bulk scenarios need.
#[derive(Debug)]
pub(crate) struct Bench<'a> {
    pub(crate) pdns: &'a PdnsServer,
    pub(crate) proxy: &'a Proxy,
    pub(crate) vmdns: &'a Path,
    pub(crate) work: &'a Path,
}

impl Bench<'_> {
    fn zone_specs(&self, zones: &[DnsName]) -> Vec<ZoneSpec> {
        zones
            .iter()
            .map(|z| {
                let mut settings = self.pdns.settings(z);
                settings.insert("server_url".into(), self.proxy.url().to_string());
                ZoneSpec {
                    name: z.clone(),
                    provider: ProviderKind::Powerdns,
                    settings,
                }
            })
            .collect()
    }

    /// `BINARY --data-dir DIR resync --all`, timed and counted.
    async fn resync(&self, binary: &Path, data_dir: &Path, label: &str) -> anyhow::Result<Run> {
        let log = self.work.join(format!("resync-{label}.log"));
        let args = [
            "--data-dir".as_ref(),
            data_dir.as_os_str(),
            "resync".as_ref(),
            "--all".as_ref(),
        ];
        let mark = self.proxy.mark();
        // A profiling aid: `VMDNS_BENCH_WRAP="perf record -g -o /tmp/perf-{label}.data --"` runs each
        // resync under that command (times then include its overhead).
        let wrap: Vec<String> = std::env::var("VMDNS_BENCH_WRAP")
            .unwrap_or_default()
            .split_whitespace()
            .map(|w| w.replace("{label}", label))
            .collect();
        let t = match wrap.split_first() {
            Some((program, before)) => {
                let mut all: Vec<&std::ffi::OsStr> = before.iter().map(|w| w.as_ref()).collect();
                all.push(binary.as_os_str());
                all.extend(args);
                run_timed(Path::new(program), &all, &log, &[]).await?
            }
            None => run_timed(binary, &args, &log, &[]).await?,
        };
        let requests = self.proxy.since(mark);
        let counts = Counts::of(&requests);
        let timeline = Timeline::of(&requests, t.started, t.started + t.wall);
        if !t.status.success() {
            bail!(
                "vmdns resync --all ({label}) failed ({}):\n{}",
                t.status,
                tail(&log, 20)
            );
        }
        Ok(Run {
            wall: t.wall,
            counts,
            max_rss_kib: Some(t.max_rss_kib),
            timeline: Some(timeline),
        })
    }

    async fn floor(&self, zones: &[DnsName], rrsets: &[Vec<RrSet>]) -> anyhow::Result<Run> {
        let bodies = rrsets
            .iter()
            .map(|r| contenders::chunked_bodies(r, VMDNS_MAX_BODY_BYTES))
            .collect::<anyhow::Result<Vec<_>>>()?;
        self.send(zones, bodies).await
    }

    async fn naive(&self, zones: &[DnsName], rrsets: &[Vec<RrSet>]) -> anyhow::Result<Run> {
        let bodies = rrsets
            .iter()
            .map(|r| contenders::single_bodies(r))
            .collect::<anyhow::Result<Vec<_>>>()?;
        self.send(zones, bodies).await
    }

    async fn send(&self, zones: &[DnsName], bodies: Vec<Vec<Vec<u8>>>) -> anyhow::Result<Run> {
        let client = PatchClient::new(self.proxy.url(), self.pdns.api_key())?;
        let mark = self.proxy.mark();
        let wall = client.send_all(zones, bodies).await?;
        Ok(Run {
            wall,
            counts: Counts::of(&self.proxy.since(mark)),
            max_rss_kib: None,
            timeline: None,
        })
    }

    async fn octodns(
        &self,
        sync: &Path,
        zones: &[DnsName],
        rrsets: &[Vec<RrSet>],
    ) -> anyhow::Result<Run> {
        let dir = self.work.join("octodns");
        let config = contenders::write_octodns_config(
            &dir,
            zones,
            rrsets,
            self.proxy.port(),
            self.pdns.api_key(),
        )?;
        let log = dir.join("octodns-sync.log");
        let mark = self.proxy.mark();
        let t = contenders::run_octodns(sync, &config, &log).await?;
        let counts = Counts::of(&self.proxy.since(mark));
        if !t.status.success() {
            bail!("octodns-sync failed ({}):\n{}", t.status, tail(&log, 15));
        }
        Ok(Run {
            wall: t.wall,
            counts,
            max_rss_kib: Some(t.max_rss_kib),
            timeline: None,
        })
    }
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        std::fs::copy(entry.path(), to.join(entry.file_name()))
            .with_context(|| format!("copy {}", entry.path().display()))?;
    }
    Ok(())
}

fn say(line: &str) {
    eprintln!("vmdns-bench: {line}");
}

/// Runs scenarios 1 and 2.
pub(crate) async fn run(
    b: &Bench<'_>,
    services: usize,
    rounds: usize,
    naive_sample: Option<usize>,
    octodns: Result<&Path, String>,
    other: Option<&Path>,
) -> anyhow::Result<BulkResults> {
    let zones = dataset::zones()?;
    let vms: Vec<Vm> = dataset::vms("vm", services, false);
    let changed_vms: Vec<Vm> = dataset::vms("vm", services, true);
    let want = dataset::rrsets_by_zone(&vms)?;
    let want_changed = dataset::rrsets_by_zone(&changed_vms)?;
    let rrsets: usize = want.iter().map(Vec::len).sum();

    say(&format!(
        "bulk: filling a data dir with {services} services through the vmdns library"
    ));
    let template = b.work.join("bulk-template");
    let started = Instant::now();
    let populated = populate(&template, &b.zone_specs(&zones), &vms).await?;
    let populate_time = started.elapsed();
    say(&format!("bulk: filled in {populate_time:.2?}"));

    let binaries: Vec<(&Path, &str)> = std::iter::once((b.vmdns, "vmdns"))
        .chain(other.map(|o| (o, "other vmdns")))
        .collect();
    let mut empty: Vec<Vec<Run>> = vec![Vec::new(); binaries.len()];
    let mut floor = Vec::new();
    let mut last_dir: Option<PathBuf> = None;
    for round in 1..=rounds {
        fresh_zones(b.pdns, &zones).await;
        let f = b.floor(&zones, &want).await?;
        verify(b.pdns, &zones, &want, "floor").await?;
        say(&format!(
            "round {round}/{rounds}: floor {:.2?} ({} requests)",
            f.wall, f.counts.total
        ));
        floor.push(f);
        // The measured binary last, so that its data dir and the zones match for the runs after.
        for (k, (binary, name)) in binaries.iter().enumerate().rev() {
            fresh_zones(b.pdns, &zones).await;
            let dir = b.work.join(format!("bulk-{k}-{round}"));
            copy_dir(&template, &dir)?;
            let v = b
                .resync(binary, &dir, &format!("empty-{k}-{round}"))
                .await?;
            verify(b.pdns, &zones, &want, "vmdns resync --all").await?;
            say(&format!(
                "round {round}/{rounds}: {name} resync --all from empty {:.2?} ({} requests, peak RSS {} MiB)",
                v.wall,
                v.counts.total,
                v.max_rss_kib.unwrap_or(0) / 1024
            ));
            empty[k].push(v);
            if let Some(old) = last_dir.replace(dir) {
                let _ = std::fs::remove_dir_all(old);
            }
        }
    }
    let mut runs = Vec::new();
    let mut changed_services = 0;
    for (k, (binary, name)) in binaries.iter().enumerate() {
        let dir = if k == 0 {
            last_dir.clone().context("at least one round")?
        } else {
            // Its own zones and data dir again (not timed): the no-op and the change start from there.
            fresh_zones(b.pdns, &zones).await;
            let dir = b.work.join(format!("bulk-{k}-last"));
            copy_dir(&template, &dir)?;
            b.resync(binary, &dir, &format!("empty-{k}-again")).await?;
            dir
        };
        let noop = b.resync(binary, &dir, &format!("noop-{k}")).await?;
        verify(b.pdns, &zones, &want, "vmdns resync --all (no-op)").await?;
        say(&format!(
            "{name} no-op re-run {:.2?} ({} requests, {} writes)",
            noop.wall, noop.counts.total, noop.counts.writes
        ));
        changed_services = update_services(
            &dir,
            &populated.service_ids,
            &changed_vms,
            (0..services).filter(|i| i % 10 == 0),
        )
        .await?;
        let changed = b.resync(binary, &dir, &format!("changed-{k}")).await?;
        verify(
            b.pdns,
            &zones,
            &want_changed,
            "vmdns resync --all (10% changed)",
        )
        .await?;
        say(&format!(
            "{name} with {changed_services} services changed {:.2?} ({} requests)",
            changed.wall, changed.counts.total
        ));
        let _ = std::fs::remove_dir_all(&dir);
        runs.push(VmdnsRuns {
            empty: std::mem::take(&mut empty[k]),
            noop,
            changed,
        });
    }
    let mut runs = runs.into_iter();
    let vmdns = runs.next().context("the measured binary's runs")?;
    let other = other.zip(runs.next()).map(|(p, r)| (p.to_path_buf(), r));

    fresh_zones(b.pdns, &zones).await;
    // A sample, when asked: the first RRsets of each zone in proportion, the time scaled up to all.
    let sample: Vec<Vec<RrSet>> = match naive_sample.filter(|n| *n < rrsets) {
        Some(n) => want
            .iter()
            .map(|z| z[..(z.len() * n).div_ceil(rrsets).min(z.len())].to_vec())
            .collect(),
        None => want.clone(),
    };
    let naive_sent: usize = sample.iter().map(Vec::len).sum();
    say(&format!(
        "naive: {naive_sent} PATCHes, one per RRset (of {rrsets})"
    ));
    let mut naive = b.naive(&zones, &sample).await?;
    verify(b.pdns, &zones, &sample, "naive").await?;
    say(&format!("naive {:.2?}", naive.wall));
    if naive_sent < rrsets {
        naive.wall = naive.wall.mul_f64(rrsets as f64 / naive_sent.max(1) as f64);
    }

    let octodns = match octodns {
        Ok(sync) => {
            fresh_zones(b.pdns, &zones).await;
            let r = b.octodns(sync, &zones, &want).await;
            let r = match r {
                Ok(run) => verify(b.pdns, &zones, &want, "octoDNS").await.map(|()| run),
                Err(e) => Err(e),
            };
            match r {
                Ok(run) => {
                    say(&format!(
                        "octoDNS {:.2?} ({} requests)",
                        run.wall, run.counts.total
                    ));
                    Ok(run)
                }
                Err(e) => {
                    say(&format!("octoDNS failed: {e:#}"));
                    Err(format!("failed: {e:#}"))
                }
            }
        }
        Err(why) => Err(why),
    };

    let _ = std::fs::remove_dir_all(&template);
    Ok(BulkResults {
        services,
        rrsets,
        populate: populate_time,
        rounds,
        floor,
        vmdns,
        other,
        changed_services,
        naive_sent,
        naive,
        octodns,
    })
}
