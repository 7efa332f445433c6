//! The contenders vmdns is measured against, on the same records and the same server:
//! - the floor: the PATCH bodies vmdns would send (same members, same split at `max_body_bytes`), built
//!   before the clock starts, sent one after the other by a bare HTTP client;
//! - the naive way: one PATCH per RRset through the same client;
//! - octoDNS 1.22 with octodns-powerdns 1.2.0 (the `octodns-sync` of a venv), from YAML zone files.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use vmdns_core::{DnsName, RrSet};

use crate::proc::{Timed, run_timed};

/// vmdns's default `max_body_bytes` (`vmdns-providers`, PowerDNS settings).
pub(crate) const VMDNS_MAX_BODY_BYTES: usize = 1_000_000;
/// `{"rrsets":[` + `]}`.
const BODY_OVERHEAD: usize = r#"{"rrsets":[]}"#.len();

/// One member of a PATCH body, field for field as vmdns writes it (`powerdns::types::PatchRrSet`).
#[derive(Debug, Serialize)]
struct Member<'a> {
    name: String,
    #[serde(rename = "type")]
    rtype: &'a str,
    ttl: u32,
    changetype: &'static str,
    records: Vec<Record>,
}

#[derive(Debug, Serialize)]
struct Record {
    content: String,
    disabled: bool,
}

fn member(r: &RrSet) -> anyhow::Result<Vec<u8>> {
    Ok(serde_json::to_vec(&Member {
        name: r.name.to_fqdn(),
        rtype: r.rtype.as_str(),
        ttl: r.ttl,
        changetype: "REPLACE",
        records: r
            .contents_absolute()
            .map(|content| Record {
                content,
                disabled: false,
            })
            .collect(),
    })?)
}

fn body(members: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        BODY_OVERHEAD + members.iter().map(Vec::len).sum::<usize>() + members.len(),
    );
    out.extend_from_slice(br#"{"rrsets":["#);
    for (i, m) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(m);
    }
    out.extend_from_slice(b"]}");
    out
}

/// The PATCH bodies for `rrsets`, split greedily to stay at or below `max` bytes, as
/// `vmdns_providers::powerdns::split_bodies` does.
pub(crate) fn chunked_bodies(rrsets: &[RrSet], max: usize) -> anyhow::Result<Vec<Vec<u8>>> {
    let members = rrsets
        .iter()
        .map(member)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut out = Vec::new();
    let mut start = 0;
    let mut len = BODY_OVERHEAD;
    for (i, m) in members.iter().enumerate() {
        let extra = m.len() + usize::from(i > start);
        if i > start && len + extra > max {
            out.push(body(&members[start..i]));
            start = i;
            len = BODY_OVERHEAD + m.len();
        } else {
            len += extra;
        }
    }
    if start < members.len() {
        out.push(body(&members[start..]));
    }
    Ok(out)
}

/// One body per RRset.
pub(crate) fn single_bodies(rrsets: &[RrSet]) -> anyhow::Result<Vec<Vec<u8>>> {
    rrsets.iter().map(|r| Ok(body(&[member(r)?]))).collect()
}

/// A bare PowerDNS client: PATCHes ready-made bodies, one at a time, over one kept-alive connection.
#[derive(Debug)]
pub(crate) struct PatchClient {
    client: reqwest::Client,
    base: String,
    api_key: String,
}

impl PatchClient {
    pub(crate) fn new(server_url: &str, api_key: &str) -> anyhow::Result<Self> {
        Ok(Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(600))
                .build()?,
            base: format!(
                "{}/api/v1/servers/localhost/zones",
                server_url.trim_end_matches('/')
            ),
            api_key: api_key.to_string(),
        })
    }

    /// Sends every zone's bodies (zones one after the other); the time it took.
    pub(crate) async fn send_all(
        &self,
        zones: &[DnsName],
        bodies: Vec<Vec<Vec<u8>>>,
    ) -> anyhow::Result<Duration> {
        let started = Instant::now();
        for (zone, bodies) in zones.iter().zip(bodies) {
            let url = format!("{}/{}", self.base, zone.to_fqdn());
            for b in bodies {
                let answer = self
                    .client
                    .patch(&url)
                    .header("X-API-Key", &self.api_key)
                    .header("Content-Type", "application/json")
                    .header("Accept", "application/json")
                    .body(b)
                    .send()
                    .await?;
                let status = answer.status();
                if !status.is_success() {
                    bail!("PATCH {zone}: {status}: {}", answer.text().await?);
                }
            }
        }
        Ok(started.elapsed())
    }
}

/// Writes the octoDNS config and one YAML file per zone (records relative to the zone, all keys quoted).
pub(crate) fn write_octodns_config(
    dir: &Path,
    zones: &[DnsName],
    rrsets: &[Vec<RrSet>],
    port: u16,
    api_key: &str,
) -> anyhow::Result<std::path::PathBuf> {
    let zone_dir = dir.join("zones");
    std::fs::create_dir_all(&zone_dir)?;
    let mut config = format!(
        "---\nproviders:\n  config:\n    class: octodns.provider.yaml.YamlProvider\n    directory: {}\n    enforce_order: false\n  pdns:\n    class: octodns_powerdns.PowerDnsProvider\n    host: 127.0.0.1\n    port: {port}\n    api_key: {api_key}\n    timeout: 600\nzones:\n",
        zone_dir.display()
    );
    for (zone, sets) in zones.iter().zip(rrsets) {
        config.push_str(&format!(
            "  {}:\n    sources:\n      - config\n    targets:\n      - pdns\n",
            zone.to_fqdn()
        ));
        let mut yaml = String::from("---\n");
        let mut last: Option<&DnsName> = None;
        for r in sets {
            if last != Some(&r.name) {
                let rel = r
                    .name
                    .relative_to(zone)
                    .with_context(|| format!("{} is not within {zone}", r.name))?;
                let rel = if rel.is_empty() || rel == "@" {
                    String::new()
                } else {
                    rel
                };
                yaml.push_str(&format!("'{rel}':\n"));
                last = Some(&r.name);
            }
            let values: Vec<String> = r.contents_absolute().map(|c| format!("'{c}'")).collect();
            yaml.push_str(&format!(
                "  - type: {}\n    ttl: {}\n    values: [{}]\n",
                r.rtype.as_str(),
                r.ttl,
                values.join(", ")
            ));
        }
        std::fs::write(zone_dir.join(format!("{zone}.yaml")), yaml)?;
    }
    let path = dir.join("octodns.yaml");
    std::fs::write(&path, config)?;
    Ok(path)
}

/// Runs `octodns-sync --doit --force` on every zone of `config`.
pub(crate) async fn run_octodns(sync: &Path, config: &Path, log: &Path) -> anyhow::Result<Timed> {
    let args = [
        format!("--config-file={}", config.display()),
        "--doit".to_string(),
        "--force".to_string(),
    ];
    run_timed(sync, &args, log, &[]).await
}
