//! The PowerDNS side: fresh zones per contender, and a check (straight to the server, not through the
//! counting proxy) that a contender left exactly the records it was asked to write.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use serde::Deserialize;
use vmdns_core::{DnsName, RrSet};
use vmdns_providers::testing::pdns::PdnsServer;

/// Deletes the zones (with everything in them) and creates them anew, empty but for SOA and NS.
pub(crate) async fn fresh_zones(server: &PdnsServer, zones: &[DnsName]) {
    for z in zones {
        server.delete_zone(z).await;
        server.create_zone(z).await;
    }
}

#[derive(Debug, Deserialize)]
struct Zone {
    rrsets: Vec<WireRrSet>,
}

#[derive(Debug, Deserialize)]
struct WireRrSet {
    name: String,
    #[serde(rename = "type")]
    rtype: String,
    ttl: u32,
    records: Vec<WireRecord>,
}

#[derive(Debug, Deserialize)]
struct WireRecord {
    content: String,
}

type Key = (String, String);
type Value = (u32, Vec<String>);

/// The A, AAAA and PTR RRsets of a zone, as `(name., type) → (ttl, sorted contents)`.
async fn read_zone(server: &PdnsServer, zone: &DnsName) -> anyhow::Result<BTreeMap<Key, Value>> {
    let url = format!(
        "{}/api/v1/servers/localhost/zones/{}",
        server.api_url(),
        zone.to_fqdn()
    );
    let answer = reqwest::Client::new()
        .get(url)
        .header("X-API-Key", server.api_key())
        .header("Accept", "application/json")
        .send()
        .await?;
    let status = answer.status();
    if !status.is_success() {
        bail!("GET zone {zone}: {status}: {}", answer.text().await?);
    }
    let zone: Zone = answer.json().await.context("zone JSON")?;
    Ok(zone
        .rrsets
        .into_iter()
        .filter(|r| matches!(r.rtype.as_str(), "A" | "AAAA" | "PTR"))
        .map(|r| {
            let mut contents: Vec<String> = r.records.into_iter().map(|c| c.content).collect();
            contents.sort();
            ((r.name, r.rtype), (r.ttl, contents))
        })
        .collect())
}

/// Fails unless each zone holds exactly `expected[i]` (A, AAAA and PTR; SOA and NS aside).
pub(crate) async fn verify(
    server: &PdnsServer,
    zones: &[DnsName],
    expected: &[Vec<RrSet>],
    who: &str,
) -> anyhow::Result<()> {
    for (zone, want) in zones.iter().zip(expected) {
        let got = read_zone(server, zone).await?;
        let want: BTreeMap<Key, Value> = want
            .iter()
            .map(|r| {
                let mut contents: Vec<String> = r.contents_absolute().collect();
                contents.sort();
                (
                    (r.name.to_fqdn(), r.rtype.as_str().to_string()),
                    (r.ttl, contents),
                )
            })
            .collect();
        if got != want {
            let missing = want.iter().find(|(k, v)| got.get(*k) != Some(*v));
            let extra = got.iter().find(|(k, _)| !want.contains_key(*k));
            bail!(
                "{who}: zone {zone} holds {} RRsets, {} wanted; first missing or different: {missing:?}; first extra: {extra:?}",
                got.len(),
                want.len()
            );
        }
    }
    Ok(())
}
