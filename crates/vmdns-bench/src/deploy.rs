//! Scenarios 3 and 4: single-service jobs through the HTTP API of a real `vmdns serve` (SQLite default):
//! the latency of a deploy from enqueue to done, and the requests one job sends to each provider
//! (PowerDNS counted by the proxy; the Cloudflare and HestiaCP fakes count their own).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use vmdns_core::DnsName;
use vmdns_providers::testing::cloudflare_fake::CloudflareFake;
use vmdns_providers::testing::hestia_fake::HestiaFake;
use vmdns_providers::{ProviderKind, Settings};

use crate::bulk::{Bench, Timeline};
use crate::dataset::{self, Vm};
use crate::pdns::{fresh_zones, verify};
use crate::proc::Serve;
use crate::vmdns_side::{Api, JobView, ZoneSpec, populate};

/// How often the bench asks whether a job is done.
const POLL: Duration = Duration::from_millis(2);

/// Scenario 3.
#[derive(Debug)]
pub(crate) struct Latency {
    pub(crate) jobs: usize,
    /// `finished_at - created_at` as vmdns recorded them, ms, sorted.
    pub(crate) server_ms: Vec<f64>,
    /// POST enqueue sent → the bench's poll sees the job done, ms, sorted.
    pub(crate) client_ms: Vec<f64>,
    /// Where each job's time went, seen from the client and the proxy (POST sent → done seen).
    pub(crate) phases: Vec<Timeline>,
    pub(crate) not_done: usize,
}

impl Latency {
    /// The median of each phase, ms: start-up, reads, plan, writes, after (the last one up to the moment
    /// the client saw the job done).
    pub(crate) fn phase_medians(&self) -> [f64; 5] {
        let pick = |f: fn(&Timeline) -> Duration| {
            let mut v: Vec<f64> = self
                .phases
                .iter()
                .map(|t| f(t).as_secs_f64() * 1e3)
                .collect();
            v.sort_by(f64::total_cmp);
            quantile(&v, 0.5)
        };
        [
            pick(|t| t.startup),
            pick(|t| t.reads),
            pick(|t| t.plan),
            pick(|t| t.writes),
            pick(|t| t.after),
        ]
    }
}

/// The `q` quantile (nearest rank) of sorted values.
pub(crate) fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Requests one kind of job sent to one provider.
#[derive(Debug, Clone)]
pub(crate) struct ProviderOps {
    pub(crate) provider: &'static str,
    pub(crate) op: &'static str,
    pub(crate) jobs: usize,
    /// Zones of this provider that match the service.
    pub(crate) zones: usize,
    /// Requests per job (all zones), mean.
    pub(crate) per_job_mean: f64,
    /// Requests per zone per job, largest seen.
    pub(crate) per_zone_max: usize,
    /// Write requests per zone per job, largest seen.
    pub(crate) writes_per_zone_max: usize,
    /// HestiaCP: DNS restarts per zone per job, smallest and largest seen.
    pub(crate) restarts_per_zone: Option<(usize, usize)>,
    pub(crate) not_done: usize,
}

/// One zone's share of one job.
#[derive(Debug, Default, Clone, Copy)]
struct ZoneCount {
    requests: usize,
    /// Requests that change something (restarts not included).
    writes: usize,
    /// HestiaCP: DNS server restarts after this zone's writes.
    restarts: usize,
}

/// One job's requests to one provider, per zone name.
#[derive(Debug, Default)]
struct JobCount {
    per_zone: BTreeMap<String, ZoneCount>,
    total: usize,
}

#[derive(Debug, Default)]
struct Acc {
    jobs: usize,
    total: usize,
    per_zone_max: usize,
    writes_max: usize,
    /// Restarts of each zone that was written to, over all jobs.
    restarts: Vec<usize>,
    not_done: usize,
}

impl Acc {
    fn add(&mut self, c: &JobCount, done: bool) {
        self.jobs += 1;
        self.total += c.total;
        for z in c.per_zone.values() {
            self.per_zone_max = self.per_zone_max.max(z.requests);
            self.writes_max = self.writes_max.max(z.writes);
            if z.writes > 0 || z.restarts > 0 {
                self.restarts.push(z.restarts);
            }
        }
        if !done {
            self.not_done += 1;
        }
    }

    fn finish(&self, provider: &'static str, op: &'static str, zones: usize) -> ProviderOps {
        ProviderOps {
            provider,
            op,
            jobs: self.jobs,
            zones,
            per_job_mean: self.total as f64 / self.jobs.max(1) as f64,
            per_zone_max: self.per_zone_max,
            writes_per_zone_max: self.writes_max,
            restarts_per_zone: (provider == "HestiaCP").then(|| {
                (
                    self.restarts.iter().copied().min().unwrap_or(0),
                    self.restarts.iter().copied().max().unwrap_or(0),
                )
            }),
            not_done: self.not_done,
        }
    }
}

fn pdns_zone_specs(b: &Bench<'_>, zones: &[DnsName]) -> Vec<ZoneSpec> {
    zones
        .iter()
        .map(|z| {
            let mut settings = b.pdns.settings(z);
            settings.insert("server_url".into(), b.proxy.url().to_string());
            ZoneSpec {
                name: z.clone(),
                provider: ProviderKind::Powerdns,
                settings,
            }
        })
        .collect()
}

fn pdns_count(b: &Bench<'_>, mark: usize) -> JobCount {
    let mut c = JobCount::default();
    for l in b.proxy.since(mark) {
        c.total += 1;
        let e = c
            .per_zone
            .entry(l.zone().unwrap_or("(no zone)").to_string())
            .or_default();
        e.requests += 1;
        e.writes += usize::from(l.is_write());
    }
    c
}

/// Scenario 3: `jobs` deploys of one new service each, one after the other.
pub(crate) async fn latency(b: &Bench<'_>, jobs: usize) -> anyhow::Result<Latency> {
    let zones = dataset::zones()?;
    fresh_zones(b.pdns, &zones).await;
    let vms = dataset::vms("d", jobs, false);
    let dir = b.work.join("deploy");
    let populated = populate(&dir, &pdns_zone_specs(b, &zones), &vms).await?;
    let serve = Serve::start(b.vmdns, &dir, b.work.join("serve-deploy.log")).await?;
    let api = Api::new(&serve.base, &populated.token)?;
    eprintln!("vmdns-bench: deploy: {jobs} jobs through {}", serve.base);
    let mut server_ms = Vec::with_capacity(jobs);
    let mut client_ms = Vec::with_capacity(jobs);
    let mut phases = Vec::with_capacity(jobs);
    let mut not_done = 0;
    let result: anyhow::Result<()> = async {
        for id in &populated.service_ids {
            let mark = b.proxy.mark();
            let started = Instant::now();
            let job_id = api.enqueue(*id, "deploy").await?;
            let job = api.wait(job_id, POLL).await?;
            let seen = Instant::now();
            client_ms.push((seen - started).as_secs_f64() * 1e3);
            phases.push(Timeline::of(&b.proxy.since(mark), started, seen));
            server_ms.push(job.server_latency()?.as_secs_f64() * 1e3);
            if job.state != "done" {
                not_done += 1;
                eprintln!(
                    "vmdns-bench: job {job_id} ended {}: {}",
                    job.state,
                    job.summary.unwrap_or_default()
                );
            }
        }
        Ok(())
    }
    .await;
    serve.stop().await?;
    result?;
    verify(
        b.pdns,
        &zones,
        &dataset::rrsets_by_zone(&vms)?,
        "vmdns deploys",
    )
    .await?;
    server_ms.sort_by(f64::total_cmp);
    client_ms.sort_by(f64::total_cmp);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Latency {
        jobs,
        server_ms,
        client_ms,
        phases,
        not_done,
    })
}

/// The three providers of scenario 4 and what they counted so far.
struct Providers<'a> {
    b: &'a Bench<'a>,
    cf: CloudflareFake,
    /// Cloudflare zone id → zone name.
    cf_zones: BTreeMap<String, String>,
    hestia: HestiaFake,
}

#[derive(Debug, Clone, Copy)]
struct Marks {
    pdns: usize,
    cf: usize,
    hestia_requests: u64,
    hestia_restarts: u64,
    hestia_calls: usize,
}

const HESTIA_USER: &str = "bench";

impl Providers<'_> {
    fn marks(&self) -> Marks {
        Marks {
            pdns: self.b.proxy.mark(),
            cf: self.cf.request_log().len(),
            hestia_requests: self.hestia.requests(),
            hestia_restarts: self.hestia.restarts(),
            hestia_calls: self.hestia.calls().len(),
        }
    }

    fn counts(&self, m: Marks) -> [JobCount; 3] {
        let pdns = pdns_count(self.b, m.pdns);
        let mut cf = JobCount::default();
        for r in self.cf.request_log().into_iter().skip(m.cf) {
            cf.total += 1;
            let zone = r
                .zone_id
                .as_ref()
                .and_then(|id| self.cf_zones.get(id))
                .cloned()
                .unwrap_or_else(|| "(no zone)".into());
            let e = cf.per_zone.entry(zone).or_default();
            e.requests += 1;
            e.writes += usize::from(r.method != "GET");
        }
        let mut hestia = JobCount {
            total: usize::try_from(self.hestia.requests() - m.hestia_requests).unwrap_or(0),
            ..JobCount::default()
        };
        let mut last_domain: Option<String> = None;
        let mut restarts_seen = 0;
        for call in self.hestia.calls().into_iter().skip(m.hestia_calls) {
            if call.cmd == "v-restart-dns" {
                // It names no domain: it belongs to the zone whose writes came just before it.
                restarts_seen += 1;
                let zone = last_domain.clone().unwrap_or_else(|| "(no zone)".into());
                let e = hestia.per_zone.entry(zone).or_default();
                e.requests += 1;
                e.restarts += 1;
                continue;
            }
            let Some(domain) = call.args.get(1) else {
                continue;
            };
            last_domain = Some(domain.clone());
            let e = hestia.per_zone.entry(domain.clone()).or_default();
            e.requests += 1;
            e.writes += usize::from(!call.cmd.starts_with("v-list"));
        }
        // Writes that restarted by themselves (RESTART not `no`) are counted by the fake only.
        let total_restarts =
            usize::try_from(self.hestia.restarts() - m.hestia_restarts).unwrap_or(0);
        if total_restarts > restarts_seen {
            let extra = total_restarts - restarts_seen;
            for e in hestia.per_zone.values_mut().filter(|e| e.writes > 0) {
                e.restarts += extra;
            }
        }
        [pdns, cf, hestia]
    }
}

/// Scenario 4: per provider, per kind of job, the requests one job of one service sends.
pub(crate) async fn per_provider(
    b: &Bench<'_>,
    services: usize,
) -> anyhow::Result<Vec<ProviderOps>> {
    let zones = dataset::zones()?;
    fresh_zones(b.pdns, &zones).await;
    let cf = CloudflareFake::start().await;
    let hestia = HestiaFake::start().await?;
    let mut specs = pdns_zone_specs(b, &zones);
    let mut cf_zones = BTreeMap::new();
    for z in &zones {
        let fz = cf.create_zone(z.as_str(), "bench-account");
        cf_zones.insert(fz.id.clone(), z.to_string());
        let settings: Settings = [
            ("api_url", cf.url()),
            ("zone_id", fz.id.clone()),
            ("account_id", fz.account_id.clone()),
            ("api_token", fz.token.clone()),
            // The client-side budget (1,000 per 5 minutes by default) would only slow the bench down.
            ("rate_limit", "1000000".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        specs.push(ZoneSpec {
            name: z.clone(),
            provider: ProviderKind::Cloudflare,
            settings,
        });
        hestia
            .add_domain(HESTIA_USER, z.as_str())
            .map_err(anyhow::Error::msg)?;
        specs.push(ZoneSpec {
            name: z.clone(),
            provider: ProviderKind::Hestiacp,
            settings: hestia.access_key_settings(HESTIA_USER),
        });
    }
    let vms = dataset::vms("p", services, false);
    let moved: Vec<Vm> = (0..services).map(|i| dataset::vm("p", i, true)).collect();
    let dir = b.work.join("providers");
    let populated = populate(&dir, &specs, &vms).await?;
    let serve = Serve::start(b.vmdns, &dir, b.work.join("serve-providers.log")).await?;
    let api = Api::new(&serve.base, &populated.token)?;
    let p = Providers {
        b,
        cf,
        cf_zones,
        hestia,
    };
    const OPS: [&str; 4] = [
        "deploy (new service)",
        "deploy again (no change)",
        "set-dns-records (both addresses changed)",
        "terminate",
    ];
    let mut acc: BTreeMap<(usize, usize), Acc> = BTreeMap::new();
    let result: anyhow::Result<()> = async {
        for (op, name) in OPS.iter().enumerate() {
            eprintln!("vmdns-bench: providers: {services} x {name}");
            for (i, id) in populated.service_ids.iter().enumerate() {
                if op == 2 {
                    api.update_service(*id, &moved[i]).await?;
                }
                let marks = p.marks();
                let action = match op {
                    0 | 1 => "deploy",
                    2 => "set-dns-records",
                    _ => "terminate",
                };
                let job_id = api.enqueue(*id, action).await?;
                let job: JobView = api.wait(job_id, POLL).await?;
                let done = job.state == "done";
                if !done {
                    eprintln!(
                        "vmdns-bench: {name} job {job_id} ended {}: {}",
                        job.state,
                        job.summary.clone().unwrap_or_default()
                    );
                }
                for (k, c) in p.counts(marks).iter().enumerate() {
                    acc.entry((op, k)).or_default().add(c, done);
                }
            }
        }
        Ok(())
    }
    .await;
    serve.stop().await?;
    result?;
    let _ = std::fs::remove_dir_all(&dir);
    let names = ["PowerDNS", "Cloudflare", "HestiaCP"];
    let mut out = Vec::new();
    for (k, provider) in names.into_iter().enumerate() {
        for (op, name) in OPS.iter().enumerate() {
            let a = acc
                .get(&(op, k))
                .with_context(|| format!("no counts for {name}"))?;
            out.push(a.finish(provider, name, zones.len()));
        }
    }
    if out.iter().any(|o| o.jobs != services) {
        bail!("some jobs were not counted");
    }
    Ok(out)
}
