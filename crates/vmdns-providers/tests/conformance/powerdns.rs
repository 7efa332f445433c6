//! The battery against a real PowerDNS on loopback (observed through real DNS queries), and what only
//! PowerDNS has: zone ids with `/`, PATCH splitting by body size, one PATCH per apply, the server's own
//! error texts, disabled records.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use vmdns_core::{Change, DnsName, RecordType, RrSet};
use vmdns_providers::testing::conformance::{Backend, run_battery};
use vmdns_providers::testing::pdns::PdnsServer;
use vmdns_providers::{Provider, ProviderContext, ProviderError, ProviderKind, Settings};

/// PATCH bodies of the battery's providers stay below this, so its big batch is split.
const BATTERY_MAX_BODY: usize = 4096;

struct PowerDnsBackend<'a> {
    server: &'a PdnsServer,
    ctx: ProviderContext,
}

impl PowerDnsBackend<'_> {
    fn provider(&self, zone: &DnsName, settings: Settings) -> Arc<dyn Provider> {
        vmdns_providers::build(ProviderKind::Powerdns, zone.clone(), &settings, &self.ctx)
            .expect("the harness gives valid settings")
    }

    fn settings(&self, zone: &DnsName) -> Settings {
        let mut s = self.server.settings(zone);
        s.insert("max_body_bytes".into(), BATTERY_MAX_BODY.to_string());
        s
    }
}

#[async_trait]
impl Backend for PowerDnsBackend<'_> {
    fn name(&self) -> &str {
        "powerdns"
    }

    async fn fresh_zone(&self, zone: &DnsName) -> Arc<dyn Provider> {
        self.server.create_zone(zone).await;
        self.provider(zone, self.settings(zone))
    }

    async fn with_bad_credentials(&self, zone: &DnsName) -> Arc<dyn Provider> {
        let mut s = self.settings(zone);
        s.insert("api_key".into(), "not-the-key".into());
        self.provider(zone, s)
    }

    async fn mismatched(
        &self,
        _configured: &DnsName,
        _actual: &DnsName,
    ) -> Option<Arc<dyn Provider>> {
        None // PowerDNS addresses zones by name.
    }

    async fn unknown_zone(&self, zone: &DnsName) -> Arc<dyn Provider> {
        self.provider(zone, self.settings(zone))
    }

    async fn observe(
        &self,
        _zone: &DnsName,
        name: &DnsName,
        rtype: RecordType,
    ) -> BTreeSet<String> {
        self.server.query(name, rtype).await
    }

    fn chunk_size(&self) -> usize {
        // About 150 bytes per A RRset of the battery: 4096 bytes hold fewer than 30.
        25
    }
}

#[tokio::test]
async fn powerdns_passes_the_battery() {
    let server = PdnsServer::start().await;
    let backend = PowerDnsBackend {
        server: &server,
        ctx: ProviderContext::default(),
    };
    run_battery(&backend).await;
}

// --- PowerDNS only -------------------------------------------------------------------------------------

fn unique(prefix: &str) -> DnsName {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    DnsName::parse(&format!("{prefix}-{n}.pdns-only.test")).expect("valid test zone")
}

fn name(s: &str) -> DnsName {
    DnsName::parse(s).expect("valid test name")
}

fn a(owner: &DnsName, ip: &str) -> RrSet {
    RrSet::new(owner.clone(), RecordType::A, 300, [ip])
}

/// A provider with its own context (so its request count is its own) and extra settings.
fn provider(
    server: &PdnsServer,
    zone: &DnsName,
    extra: &[(&str, &str)],
) -> (Arc<dyn Provider>, ProviderContext) {
    let ctx = ProviderContext::default();
    let mut settings = server.settings(zone);
    for (k, v) in extra {
        settings.insert(k.to_string(), v.to_string());
    }
    let p = vmdns_providers::build(ProviderKind::Powerdns, zone.clone(), &settings, &ctx)
        .expect("valid settings");
    (p, ctx)
}

fn requests(ctx: &ProviderContext) -> u64 {
    ctx.stats(ProviderKind::Powerdns).requests()
}

fn all_ok(report: &vmdns_providers::ApplyReport, n: usize) {
    assert_eq!(report.outcomes.len(), n);
    for (i, o) in report.outcomes.iter().enumerate() {
        assert!(o.is_ok(), "change {i}: {o:?}");
    }
}

#[tokio::test]
async fn zone_with_a_slash_in_its_name() {
    let server = PdnsServer::shared().await;
    let zone = name("0/25.2.0.192.in-addr.arpa");
    server.create_zone(&zone).await;
    let (p, _) = provider(server, &zone, &[]);
    let info = p.check().await.expect("check");
    assert_eq!(info.name, zone);
    assert!(
        info.message
            .starts_with("zone 0/25.2.0.192.in-addr.arpa found on PowerDNS (Native, serial "),
        "{}",
        info.message
    );

    let owner = name("10.0/25.2.0.192.in-addr.arpa");
    let ptr = RrSet::new(owner.clone(), RecordType::Ptr, 300, ["vm10.example.com"]);
    all_ok(
        &p.apply(&[Change::Create(ptr.clone())])
            .await
            .expect("apply"),
        1,
    );
    assert_eq!(server.query(&owner, RecordType::Ptr).await, ptr.records);
    assert_eq!(
        p.rrsets(std::slice::from_ref(&owner))
            .await
            .expect("rrsets"),
        vec![ptr.clone()]
    );

    all_ok(&p.apply(&[Change::Delete(ptr)]).await.expect("apply"), 1);
    assert!(server.query(&owner, RecordType::Ptr).await.is_empty());
    server.delete_zone(&zone).await;
}

#[tokio::test]
async fn a_small_body_limit_splits_the_patch() {
    // Its own server: PowerDNS's SQLite backend answers concurrent writers with a retried 500
    // ("database is locked"), which would make the request count of this test vary.
    let own = PdnsServer::start().await;
    let server = &own;
    let zone = unique("split");
    server.create_zone(&zone).await;
    let (p, ctx) = provider(server, &zone, &[("max_body_bytes", "2000")]);
    let sets: Vec<RrSet> = (0..60)
        .map(|i| {
            a(
                &zone.prepend(&format!("h{i}")).expect("name"),
                &format!("192.0.2.{}", i + 1),
            )
        })
        .collect();
    let changes: Vec<Change> = sets.iter().cloned().map(Change::Create).collect();
    // Each member is about 120 bytes: 60 of them make about 7,200 bytes, four or five bodies of 2,000.
    let member_bytes: usize = sets.iter().map(|s| s.name.as_str().len() + 100).sum();
    let before = requests(&ctx);
    all_ok(&p.apply(&changes).await.expect("apply"), 60);
    let patches = requests(&ctx) - before;
    let least = member_bytes.div_ceil(2000) as u64;
    assert!(
        patches >= least && patches <= least + 2,
        "{patches} PATCHes for ~{member_bytes} bytes"
    );
    for s in [&sets[0], &sets[29], &sets[59]] {
        assert_eq!(server.query(&s.name, RecordType::A).await, s.records);
    }
    let names: Vec<DnsName> = sets.iter().map(|s| s.name.clone()).collect();
    let read: BTreeSet<RrSet> = p
        .rrsets(&names)
        .await
        .expect("rrsets")
        .into_iter()
        .collect();
    assert_eq!(read, sets.into_iter().collect());
}

#[tokio::test]
async fn one_patch_per_apply_otherwise() {
    // Its own server: PowerDNS's SQLite backend answers concurrent writers with a retried 500
    // ("database is locked"), which would make the request count of this test vary.
    let own = PdnsServer::start().await;
    let server = &own;
    let zone = unique("one-patch");
    server.create_zone(&zone).await;
    let (p, ctx) = provider(server, &zone, &[]);
    let sets: Vec<RrSet> = (0..300)
        .map(|i| {
            a(
                &zone.prepend(&format!("vm{i}")).expect("name"),
                &format!("192.0.{}.{}", i / 250, 1 + i % 250),
            )
        })
        .collect();
    let before = requests(&ctx);
    all_ok(
        &p.apply(&sets.iter().cloned().map(Change::Create).collect::<Vec<_>>())
            .await
            .expect("apply"),
        300,
    );
    assert_eq!(requests(&ctx) - before, 1, "one PATCH for 300 creates");

    // Replace a hundred, delete a hundred, add a PTR-free AAAA to fifty: still one PATCH.
    let mut mixed = Vec::new();
    for s in &sets[..100] {
        mixed.push(Change::Replace {
            from: s.clone(),
            to: RrSet::new(s.name.clone(), RecordType::A, 600, ["198.51.100.1"]),
        });
    }
    for s in &sets[100..200] {
        mixed.push(Change::Delete(s.clone()));
    }
    for s in &sets[200..250] {
        mixed.push(Change::Create(RrSet::new(
            s.name.clone(),
            RecordType::Aaaa,
            300,
            ["2001:db8::1"],
        )));
    }
    let before = requests(&ctx);
    all_ok(&p.apply(&mixed).await.expect("apply"), 250);
    assert_eq!(requests(&ctx) - before, 1, "one PATCH for a mixed apply");
    assert_eq!(
        server.query(&sets[0].name, RecordType::A).await,
        BTreeSet::from(["198.51.100.1".to_string()])
    );
    assert!(
        server
            .query(&sets[150].name, RecordType::A)
            .await
            .is_empty()
    );
    assert_eq!(
        server.query(&sets[220].name, RecordType::Aaaa).await,
        BTreeSet::from(["2001:db8::1".to_string()])
    );
    assert_eq!(
        server.query(&sets[220].name, RecordType::A).await,
        sets[220].records
    );
}

#[tokio::test]
async fn rejections_carry_the_servers_words_and_cost_few_requests() {
    // Its own server: PowerDNS's SQLite backend answers concurrent writers with a retried 500
    // ("database is locked"), which would make the request count of this test vary.
    let own = PdnsServer::start().await;
    let server = &own;
    let zone = unique("bad");
    server.create_zone(&zone).await;
    let (p, ctx) = provider(server, &zone, &[]);
    let bad_owner = zone.prepend("bad").expect("name");
    let mut changes: Vec<Change> = (0..15)
        .map(|i| {
            Change::Create(a(
                &zone.prepend(&format!("ok{i}")).expect("name"),
                "192.0.2.1",
            ))
        })
        .collect();
    changes.insert(9, Change::Create(a(&bad_owner, "192.0.2.999")));
    let before = requests(&ctx);
    let report = p.apply(&changes).await.expect("apply");
    let used = requests(&ctx) - before;
    assert_eq!(report.failed(), 1);
    let want = format!(
        "Record {}./A '192.0.2.999': Parsing record content (try 'pdnsutil check-zone'): unable to parse IP address",
        bad_owner
    );
    assert_eq!(
        report.outcomes[9],
        Err(ProviderError::Rejected { message: want })
    );
    // 16 members: the whole, then two halves per level down to the bad one.
    assert!(used <= 1 + 2 * 4, "{used} requests");
    assert_eq!(
        server
            .query(&zone.prepend("ok14").expect("name"), RecordType::A)
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn the_zone_setting_is_normalised() {
    let server = PdnsServer::shared().await;
    let zone = unique("trail");
    server.create_zone(&zone).await;
    // Given with a trailing dot, in capitals, and a server URL that already ends in /api/v1/.
    let configured = DnsName::parse(&format!("{}.", zone.as_str().to_uppercase())).expect("name");
    assert_eq!(configured, zone);
    let api = format!("{}/api/v1/", server.api_url());
    let (p, _) = provider(server, &configured, &[("server_url", api.as_str())]);
    let info = p.check().await.expect("check");
    assert_eq!(info.name, zone);
    assert!(
        info.message
            .starts_with(&format!("zone {zone} found on PowerDNS (Native, serial ")),
        "{}",
        info.message
    );
    let vm = zone.prepend("vm").expect("name");
    all_ok(
        &p.apply(&[Change::Create(a(&vm, "192.0.2.7"))])
            .await
            .expect("apply"),
        1,
    );
    assert_eq!(
        p.rrsets(&[vm]).await.expect("rrsets"),
        vec![a(&zone.prepend("vm").expect("name"), "192.0.2.7")]
    );
}

#[tokio::test]
async fn auth_and_missing_zone_errors_say_what_the_server_said() {
    let server = PdnsServer::shared().await;
    let zone = unique("errors");
    server.create_zone(&zone).await;
    let (p, _) = provider(server, &zone, &[("api_key", "s3cr3t-but-wrong")]);
    let err = p.check().await.expect_err("bad key");
    assert_eq!(
        err,
        ProviderError::Auth {
            message: "Unauthorized".into()
        }
    );
    let err = p
        .rrsets(&[zone.prepend("vm").expect("name")])
        .await
        .expect_err("bad key");
    assert_eq!(err.kind(), "auth");
    let err = p
        .apply(&[Change::Create(a(
            &zone.prepend("vm").expect("name"),
            "192.0.2.1",
        ))])
        .await
        .expect_err("bad key");
    assert!(!err.to_string().contains("s3cr3t"), "{err}");
    assert!(!format!("{p:?}").contains("s3cr3t"));

    let missing = unique("missing");
    let (p, _) = provider(server, &missing, &[]);
    let err = p.check().await.expect_err("no such zone");
    assert_eq!(
        err,
        ProviderError::ZoneNotFound {
            message: format!(
                "zone {missing} does not exist on the server (404 Not Found: Not Found)"
            )
        }
    );
    let err = p
        .apply(&[Change::Create(a(
            &missing.prepend("vm").expect("name"),
            "192.0.2.1",
        ))])
        .await
        .expect_err("404");
    assert_eq!(err.kind(), "zone_not_found");
}

#[tokio::test]
async fn reads_skip_disabled_records_and_unmanaged_types_and_pick_a_strategy() {
    // Its own server: PowerDNS's SQLite backend answers concurrent writers with a retried 500
    // ("database is locked"), which would make the request count of this test vary.
    let own = PdnsServer::start().await;
    let server = &own;
    let zone = unique("reads");
    server.create_zone(&zone).await;
    let vm = zone.prepend("vm").expect("name");
    let off = zone.prepend("off").expect("name");
    // Written around the provider: a disabled record, an all-disabled RRset, an MX.
    let body = serde_json::json!({"rrsets": [
        {"name": vm.to_fqdn(), "type": "A", "ttl": 120, "changetype": "REPLACE", "records": [
            {"content": "192.0.2.1", "disabled": false}, {"content": "192.0.2.2", "disabled": true}]},
        {"name": off.to_fqdn(), "type": "A", "ttl": 120, "changetype": "REPLACE", "records": [
            {"content": "192.0.2.3", "disabled": true}]},
        {"name": vm.to_fqdn(), "type": "MX", "ttl": 120, "changetype": "REPLACE", "records": [
            {"content": "10 mail.example.com.", "disabled": false}]},
    ]});
    let status = reqwest::Client::new()
        .patch(format!(
            "{}/api/v1/servers/localhost/zones/{}",
            server.api_url(),
            zone.to_fqdn()
        ))
        .header("X-API-Key", server.api_key())
        .json(&body)
        .send()
        .await
        .expect("patch")
        .status();
    assert_eq!(status.as_u16(), 204);

    let (p, ctx) = provider(server, &zone, &[]);
    let before = requests(&ctx);
    let got = p
        .rrsets(&[vm.clone(), off.clone(), name("elsewhere.example.org")])
        .await
        .expect("rrsets");
    assert_eq!(
        got,
        vec![RrSet::new(vm.clone(), RecordType::A, 120, ["192.0.2.1"])]
    );
    assert_eq!(requests(&ctx) - before, 2, "one read per name in the zone");

    let mut many: Vec<DnsName> = (0..40)
        .map(|i| zone.prepend(&format!("n{i}")).expect("name"))
        .collect();
    many.push(vm.clone());
    let before = requests(&ctx);
    let got = p.rrsets(&many).await.expect("rrsets");
    assert_eq!(got, vec![RrSet::new(vm, RecordType::A, 120, ["192.0.2.1"])]);
    assert_eq!(requests(&ctx) - before, 1, "one read of the whole zone");
}
