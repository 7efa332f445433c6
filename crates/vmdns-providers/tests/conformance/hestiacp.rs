//! The battery against the HestiaCP fake (with access keys and with the legacy login), and what only
//! HestiaCP has: one DNS restart per apply, no duplicates (Hestia never deduplicates adds), failures behind
//! HTTP 200, the refusal to delete the last A record, names relative to the domain, and a pinned
//! self-signed certificate.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use vmdns_core::{Change, DnsName, RecordType, RrSet};
use vmdns_providers::testing::conformance::{Backend, run_battery};
use vmdns_providers::testing::hestia_fake::{
    ACCESS_KEY, ADMIN_PASSWORD, ADMIN_USER, FakeRecord, Fault, HestiaFake, SECRET_KEY, TEMPLATE_IP,
};
use vmdns_providers::{
    HttpConfig, Provider, ProviderContext, ProviderError, ProviderKind, Settings,
};

/// The Hestia user that owns the test domains.
const USER: &str = "alice";

struct HestiaBackend {
    fake: HestiaFake,
    ctx: ProviderContext,
    legacy: bool,
}

impl HestiaBackend {
    async fn start(legacy: bool) -> Self {
        Self {
            fake: HestiaFake::start().await.expect("fake HestiaCP starts"),
            ctx: ProviderContext::default(),
            legacy,
        }
    }

    fn settings(&self) -> Settings {
        if self.legacy {
            self.fake.legacy_settings(USER)
        } else {
            self.fake.access_key_settings(USER)
        }
    }
}

fn provider(zone: &DnsName, settings: &Settings, ctx: &ProviderContext) -> Arc<dyn Provider> {
    vmdns_providers::build(ProviderKind::Hestiacp, zone.clone(), settings, ctx)
        .expect("valid HestiaCP settings")
}

#[async_trait]
impl Backend for HestiaBackend {
    fn name(&self) -> &str {
        if self.legacy {
            "hestiacp-fake-legacy"
        } else {
            "hestiacp-fake"
        }
    }

    async fn fresh_zone(&self, zone: &DnsName) -> Arc<dyn Provider> {
        self.fake.remove_domain(USER, zone.as_str());
        self.fake
            .add_domain(USER, zone.as_str())
            .unwrap_or_else(|e| panic!("fake refuses domain {zone}: {e}"));
        provider(zone, &self.settings(), &self.ctx)
    }

    async fn with_bad_credentials(&self, zone: &DnsName) -> Arc<dyn Provider> {
        let mut s = self.settings();
        if self.legacy {
            s.insert("admin_password".into(), "not-the-password".into());
        } else {
            s.insert("secret_key".into(), "x".repeat(40));
        }
        provider(zone, &s, &self.ctx)
    }

    async fn mismatched(
        &self,
        _configured: &DnsName,
        _actual: &DnsName,
    ) -> Option<Arc<dyn Provider>> {
        None // Hestia addresses domains by name: a provider for one name cannot reach another domain.
    }

    async fn unknown_zone(&self, zone: &DnsName) -> Arc<dyn Provider> {
        provider(zone, &self.settings(), &self.ctx)
    }

    async fn observe(&self, zone: &DnsName, name: &DnsName, rtype: RecordType) -> BTreeSet<String> {
        held(&self.fake.records(USER, zone.as_str()), zone, name, rtype)
            .into_iter()
            .collect()
    }

    fn chunk_size(&self) -> usize {
        // Hestia has no batch: one request per record. The battery's big batch is 2 × this + 7 adds.
        20
    }
}

/// The served values at `name`/`rtype`, normalised, duplicates kept (so tests can count them).
fn held(records: &[FakeRecord], zone: &DnsName, name: &DnsName, rtype: RecordType) -> Vec<String> {
    let mut out: Vec<String> = records
        .iter()
        .filter(|r| !r.suspended && r.rtype == rtype.as_str())
        .filter(|r| DnsName::from_relative(&r.record, zone).ok().as_ref() == Some(name))
        .map(|r| rtype.normalize_content(&r.value))
        .collect();
    out.sort();
    out
}

fn dns(s: &str) -> DnsName {
    DnsName::parse(s).expect("valid name")
}

fn a(name: &DnsName, ttl: u32, ips: &[&str]) -> RrSet {
    RrSet::new(name.clone(), RecordType::A, ttl, ips)
}

/// Quick failures and quick retries, for the fault tests.
fn fast_ctx(max_attempts: u32) -> ProviderContext {
    ProviderContext::new(HttpConfig {
        timeout: Duration::from_millis(1500),
        max_attempts,
        base_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        max_retry_after: Duration::from_secs(1),
    })
}

async fn fake_with(domain: &str) -> HestiaFake {
    let fake = HestiaFake::start().await.expect("fake HestiaCP starts");
    fake.add_domain(USER, domain).expect("valid domain");
    fake
}

fn all_ok(report: &vmdns_providers::ApplyReport) {
    for (i, o) in report.outcomes.iter().enumerate() {
        assert!(o.is_ok(), "change {i}: {o:?}");
    }
}

#[tokio::test]
async fn hestia_fake_passes_the_battery() {
    let backend = HestiaBackend::start(false).await;
    run_battery(&backend).await;
    // Every write went out with RESTART=no; restarts came from v-restart-dns alone.
    let calls = backend.fake.calls();
    let restarts = calls.iter().filter(|c| c.cmd == "v-restart-dns").count() as u64;
    assert_eq!(backend.fake.restarts(), restarts);
}

#[tokio::test]
async fn hestia_fake_passes_the_battery_with_the_legacy_login() {
    let backend = HestiaBackend::start(true).await;
    run_battery(&backend).await;
}

#[tokio::test]
async fn the_dns_server_restarts_once_per_apply() {
    let zone = dns("example.com");
    let fake = fake_with(zone.as_str()).await;
    let p = provider(
        &zone,
        &fake.access_key_settings(USER),
        &ProviderContext::default(),
    );
    let vm1 = dns("vm1.example.com");

    let changes = [
        Change::Create(a(&vm1, 300, &["192.0.2.1", "192.0.2.2"])),
        Change::Create(RrSet::new(
            vm1.clone(),
            RecordType::Aaaa,
            300,
            ["2001:db8::1"],
        )),
        Change::Create(RrSet::new(
            dns("www.example.com"),
            RecordType::Cname,
            300,
            ["vm1.example.com"],
        )),
    ];
    all_ok(&p.apply(&changes).await.expect("apply"));
    assert_eq!(fake.restarts(), 1, "one restart for four adds");
    for call in fake.calls().iter().filter(|c| c.cmd == "v-add-dns-record") {
        assert_eq!(
            call.args.get(7).map(String::as_str),
            Some("no"),
            "RESTART=no on every add: {call:?}"
        );
    }

    let changes = [
        Change::Replace {
            from: a(&vm1, 300, &["192.0.2.1", "192.0.2.2"]),
            to: a(&vm1, 300, &["192.0.2.2", "192.0.2.3"]),
        },
        Change::Delete(RrSet::new(
            vm1.clone(),
            RecordType::Aaaa,
            300,
            ["2001:db8::1"],
        )),
    ];
    all_ok(&p.apply(&changes).await.expect("apply"));
    assert_eq!(
        fake.restarts(),
        2,
        "one more restart for an add and two deletes"
    );
    for call in fake
        .calls()
        .iter()
        .filter(|c| c.cmd == "v-delete-dns-record")
    {
        assert_eq!(
            call.args.get(3).map(String::as_str),
            Some("no"),
            "RESTART=no on every delete: {call:?}"
        );
    }

    // Nothing to write: no write, no restart.
    let before = fake.calls().len();
    let same = [Change::Create(a(&vm1, 300, &["192.0.2.2", "192.0.2.3"]))];
    all_ok(&p.apply(&same).await.expect("apply"));
    assert_eq!(fake.restarts(), 2);
    let after: Vec<String> = fake.calls()[before..]
        .iter()
        .map(|c| c.cmd.clone())
        .collect();
    assert_eq!(after, ["v-list-dns-records"]);

    // Nothing at all: not even a request.
    let requests = fake.requests();
    assert!(p.apply(&[]).await.expect("apply").outcomes.is_empty());
    assert_eq!(fake.requests(), requests);
}

#[tokio::test]
async fn an_apply_that_died_half_way_leaves_no_duplicates_when_run_again() {
    let zone = dns("example.com");
    let fake = fake_with(zone.as_str()).await;
    let settings = fake.access_key_settings(USER);
    let vm = dns("vm.example.com");
    let hosts: Vec<DnsName> = (1..=3).map(|i| dns(&format!("h{i}.example.com"))).collect();

    let p = provider(&zone, &settings, &fast_ctx(1));
    all_ok(
        &p.apply(&[Change::Create(a(&vm, 300, &["192.0.2.1"]))])
            .await
            .expect("apply"),
    );
    let restarts = fake.restarts();

    let mut changes = vec![Change::Replace {
        from: a(&vm, 300, &["192.0.2.1"]),
        to: a(&vm, 300, &["192.0.2.2", "192.0.2.3"]),
    }];
    changes.extend(
        hosts
            .iter()
            .map(|h| Change::Create(a(h, 300, &["192.0.2.50"]))),
    );

    // The listing and three of the five adds get through; then the panel is gone.
    fake.inject_after(4, Fault::Reset, usize::MAX);
    let err = p.apply(&changes).await.expect_err("the panel died");
    assert!(err.is_retryable(), "{err}");
    fake.clear_faults();
    let records = fake.records(USER, zone.as_str());
    assert_eq!(
        held(&records, &zone, &vm, RecordType::A),
        ["192.0.2.1", "192.0.2.2", "192.0.2.3"],
        "half done"
    );
    assert_eq!(fake.restarts(), restarts, "no restart while dying");

    // Run again, as a new process would: same changes, a new provider.
    let p = provider(&zone, &settings, &fast_ctx(1));
    all_ok(&p.apply(&changes).await.expect("apply"));
    let records = fake.records(USER, zone.as_str());
    assert_eq!(
        held(&records, &zone, &vm, RecordType::A),
        ["192.0.2.2", "192.0.2.3"]
    );
    for h in &hosts {
        assert_eq!(
            held(&records, &zone, h, RecordType::A),
            ["192.0.2.50"],
            "{h} exactly once"
        );
    }
    assert_eq!(fake.restarts(), restarts + 1);

    // And once more: nothing left to do.
    let before = fake.calls().len();
    all_ok(&p.apply(&changes).await.expect("apply"));
    assert!(
        fake.calls()[before..]
            .iter()
            .all(|c| c.cmd == "v-list-dns-records")
    );
}

#[tokio::test]
async fn duplicates_already_there_are_deleted() {
    let zone = dns("example.com");
    let fake = fake_with(zone.as_str()).await;
    let vm = dns("vm.example.com");
    for _ in 0..3 {
        fake.insert_record(USER, zone.as_str(), "vm", "A", "192.0.2.1", 300)
            .expect("domain exists");
    }
    let p = provider(
        &zone,
        &fake.access_key_settings(USER),
        &ProviderContext::default(),
    );
    let read = p.rrsets(std::slice::from_ref(&vm)).await.expect("rrsets");
    assert_eq!(
        read,
        [a(&vm, 300, &["192.0.2.1"])],
        "read as one RRset of one value"
    );

    let change = Change::Replace {
        from: a(&vm, 300, &["192.0.2.1"]),
        to: a(&vm, 300, &["192.0.2.1", "192.0.2.5"]),
    };
    all_ok(&p.apply(&[change]).await.expect("apply"));
    let records = fake.records(USER, zone.as_str());
    assert_eq!(
        held(&records, &zone, &vm, RecordType::A),
        ["192.0.2.1", "192.0.2.5"]
    );
}

#[tokio::test]
async fn a_retried_add_whose_answer_was_lost_is_not_added_twice() {
    let zone = dns("example.com");
    let fake = fake_with(zone.as_str()).await;
    let p = provider(&zone, &fake.access_key_settings(USER), &fast_ctx(4));
    let vm = dns("vm.example.com");
    // The add runs, the answer never arrives, the client sends it again.
    fake.inject_on("v-add-dns-record", 0, Fault::RunThenReset);
    all_ok(
        &p.apply(&[Change::Create(a(&vm, 300, &["192.0.2.7"]))])
            .await
            .expect("apply"),
    );
    let records = fake.records(USER, zone.as_str());
    assert_eq!(held(&records, &zone, &vm, RecordType::A), ["192.0.2.7"]);
    let adds: Vec<u16> = fake
        .calls()
        .iter()
        .filter(|c| c.cmd == "v-add-dns-record")
        .map(|c| c.code)
        .collect();
    assert_eq!(adds, [0, 4], "the retry met its own record's ID (E_EXISTS)");
    assert_eq!(fake.restarts(), 1);
}

#[tokio::test]
async fn legacy_login_sees_failures_behind_http_200() {
    let zone = dns("example.com");
    let fake = fake_with(zone.as_str()).await;
    let p = provider(
        &zone,
        &fake.legacy_settings(USER),
        &ProviderContext::default(),
    );
    assert!(
        p.check()
            .await
            .expect("check")
            .message
            .contains("example.com")
    );

    // A write: returncode=yes, the body is the exit code.
    let bad = dns("bad.example.com");
    let report = p
        .apply(&[Change::Create(a(&bad, 300, &["192.0.2.999"]))])
        .await
        .expect("apply");
    match &report.outcomes[0] {
        Err(ProviderError::Rejected { message }) => assert_eq!(message, "E_INVALID (2)"),
        other => panic!("want Rejected, got {other:?}"),
    }
    assert!(
        held(
            &fake.records(USER, zone.as_str()),
            &zone,
            &bad,
            RecordType::A
        )
        .is_empty()
    );
    let last = fake
        .calls()
        .into_iter()
        .rfind(|c| c.cmd == "v-add-dns-record")
        .expect("add sent");
    assert_eq!(last.code, 2);

    // A read: the `Error: ...` text is the only sign, and it is kept word for word.
    let other = dns("nosuch.example");
    let p = provider(
        &other,
        &fake.legacy_settings(USER),
        &ProviderContext::default(),
    );
    match p.check().await {
        Err(ProviderError::ZoneNotFound { message }) => {
            assert_eq!(message, "Error: dns domain nosuch.example doesn't exist");
        }
        other => panic!("want ZoneNotFound, got {other:?}"),
    }
    match p.rrsets(&[dns("vm.nosuch.example")]).await {
        Err(ProviderError::ZoneNotFound { .. }) => {}
        other => panic!("want ZoneNotFound, got {other:?}"),
    }

    // A wrong password: HTTP 401.
    let mut s = fake.legacy_settings(USER);
    s.insert("admin_password".into(), "wrong".into());
    match provider(&zone, &s, &ProviderContext::default())
        .check()
        .await
    {
        Err(ProviderError::Auth { message }) => assert_eq!(message, "Error: authentication failed"),
        other => panic!("want Auth, got {other:?}"),
    }
}

#[tokio::test]
async fn access_keys_keep_hestias_words() {
    let zone = dns("example.com");
    let fake = fake_with(zone.as_str()).await;
    let p = provider(
        &zone,
        &fake.access_key_settings(USER),
        &ProviderContext::default(),
    );
    let info = p.check().await.expect("check");
    assert_eq!(info.name, zone);
    assert!(info.message.contains("serial"), "{}", info.message);

    let bad = dns("bad.example.com");
    let report = p
        .apply(&[Change::Create(a(&bad, 300, &["192.0.2.999"]))])
        .await
        .expect("apply");
    match &report.outcomes[0] {
        Err(ProviderError::Rejected { message }) => {
            assert_eq!(message, "Error: invalid ip format :: 192.0.2.999")
        }
        other => panic!("want Rejected, got {other:?}"),
    }

    let mut s = fake.access_key_settings(USER);
    s.insert("secret_key".into(), "y".repeat(40));
    match provider(&zone, &s, &ProviderContext::default())
        .check()
        .await
    {
        Err(ProviderError::Auth { .. }) => {}
        other => panic!("want Auth, got {other:?}"),
    }

    fake.set_allowed_ips(Some(vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 200))]));
    match p.check().await {
        Err(ProviderError::Auth { message }) => {
            assert_eq!(message, "Error: IP is not allowed to connect with API")
        }
        other => panic!("want Auth, got {other:?}"),
    }
    match p
        .apply(&[Change::Create(a(
            &dns("vm.example.com"),
            300,
            &["192.0.2.1"],
        ))])
        .await
    {
        Err(ProviderError::Auth { .. }) => {}
        other => panic!("want Err(Auth), got {other:?}"),
    }
    fake.set_allowed_ips(Some(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]));
    p.check().await.expect("allowed again");
}

#[tokio::test]
async fn replacing_the_only_a_record_works() {
    let zone = dns("example.com");
    let fake = HestiaFake::start().await.expect("fake HestiaCP starts");
    fake.add_bare_domain(USER, zone.as_str())
        .expect("valid domain");
    let p = provider(
        &zone,
        &fake.access_key_settings(USER),
        &ProviderContext::default(),
    );

    all_ok(
        &p.apply(&[Change::Create(a(&zone, 300, &["192.0.2.1"]))])
            .await
            .expect("apply"),
    );
    let change = Change::Replace {
        from: a(&zone, 300, &["192.0.2.1"]),
        to: a(&zone, 300, &["192.0.2.2"]),
    };
    all_ok(&p.apply(&[change]).await.expect("apply"));
    assert_eq!(
        held(
            &fake.records(USER, zone.as_str()),
            &zone,
            &zone,
            RecordType::A
        ),
        ["192.0.2.2"]
    );
    // A TTL change is a replace of the same value: still possible for the only A record.
    let change = Change::Replace {
        from: a(&zone, 300, &["192.0.2.2"]),
        to: a(&zone, 600, &["192.0.2.2"]),
    };
    all_ok(&p.apply(&[change]).await.expect("apply"));
    let records = fake.records(USER, zone.as_str());
    let apex_a: Vec<&FakeRecord> = records.iter().filter(|r| r.rtype == "A").collect();
    assert_eq!(apex_a.len(), 1);
    assert_eq!(apex_a[0].ttl, 600);

    // Deleting it is what Hestia refuses, in its own words.
    let report = p
        .apply(&[Change::Delete(a(&zone, 600, &["192.0.2.2"]))])
        .await
        .expect("apply");
    match &report.outcomes[0] {
        Err(ProviderError::Rejected { message }) => {
            assert_eq!(message, "Error: at least one A record should remain active");
        }
        other => panic!("want Rejected, got {other:?}"),
    }

    // The template's apex A of a normal domain is replaced the same way.
    let other = dns("example.net");
    fake.add_domain(USER, other.as_str()).expect("valid domain");
    let p = provider(
        &other,
        &fake.access_key_settings(USER),
        &ProviderContext::default(),
    );
    let change = Change::Replace {
        from: a(&other, 14400, &[TEMPLATE_IP]),
        to: a(&other, 300, &["192.0.2.9"]),
    };
    all_ok(&p.apply(&[change]).await.expect("apply"));
    assert_eq!(
        held(
            &fake.records(USER, other.as_str()),
            &other,
            &other,
            RecordType::A
        ),
        ["192.0.2.9"]
    );
}

#[tokio::test]
async fn a_failed_add_leaves_its_rrset_as_it_was() {
    let zone = dns("example.com");
    let fake = fake_with(zone.as_str()).await;
    let p = provider(
        &zone,
        &fake.access_key_settings(USER),
        &ProviderContext::default(),
    );
    let vm = dns("vm.example.com");
    all_ok(
        &p.apply(&[Change::Create(a(&vm, 300, &["192.0.2.1"]))])
            .await
            .expect("apply"),
    );
    let change = Change::Replace {
        from: a(&vm, 300, &["192.0.2.1"]),
        to: a(&vm, 300, &["192.0.2.2", "192.0.2.999"]),
    };
    let report = p.apply(&[change]).await.expect("apply");
    assert!(
        matches!(&report.outcomes[0], Err(ProviderError::Rejected { .. })),
        "{report:?}"
    );
    assert_eq!(
        held(
            &fake.records(USER, zone.as_str()),
            &zone,
            &vm,
            RecordType::A
        ),
        ["192.0.2.1"]
    );
}

#[tokio::test]
async fn names_are_relative_to_the_domain() {
    let zone = dns("example.com");
    let rev = dns("2.0.192.in-addr.arpa");
    let fake = fake_with(zone.as_str()).await;
    fake.add_domain(USER, rev.as_str())
        .expect("reverse zones are Hestia domains");
    assert!(
        fake.add_domain(USER, "0/25.2.0.192.in-addr.arpa").is_err(),
        "RFC 2317 names are refused"
    );
    let ctx = ProviderContext::default();
    let p = provider(&zone, &fake.access_key_settings(USER), &ctx);
    let r = provider(&rev, &fake.access_key_settings(USER), &ctx);

    let deep = dns("vm.sub.example.com");
    let cname = RrSet::new(
        dns("www.example.com"),
        RecordType::Cname,
        300,
        ["vm.sub.example.com"],
    );
    let changes = [
        Change::Replace {
            from: a(&zone, 14400, &[TEMPLATE_IP]),
            to: a(&zone, 300, &["192.0.2.1"]),
        },
        Change::Create(a(&deep, 300, &["192.0.2.10"])),
        Change::Create(cname.clone()),
    ];
    all_ok(&p.apply(&changes).await.expect("apply"));
    let ptr = RrSet::new(
        dns("10.2.0.192.in-addr.arpa"),
        RecordType::Ptr,
        300,
        ["vm.sub.example.com"],
    );
    all_ok(
        &r.apply(&[Change::Create(ptr.clone())])
            .await
            .expect("apply"),
    );

    let stored = |domain: &str, rtype: &str| -> Vec<(String, String)> {
        fake.records(USER, domain)
            .into_iter()
            .filter(|x| x.rtype == rtype)
            .map(|x| (x.record, x.value))
            .collect()
    };
    assert_eq!(
        stored("example.com", "A"),
        [
            ("@".to_string(), "192.0.2.1".to_string()),
            ("vm.sub".into(), "192.0.2.10".into())
        ]
    );
    assert_eq!(
        stored("example.com", "CNAME"),
        [("www".to_string(), "vm.sub.example.com.".to_string())]
    );
    assert_eq!(
        stored("2.0.192.in-addr.arpa", "PTR"),
        [("10".to_string(), "vm.sub.example.com.".to_string())]
    );

    // Read back as absolute names.
    let names = [zone.clone(), deep.clone(), dns("www.example.com")];
    let read: BTreeSet<RrSet> = p
        .rrsets(&names)
        .await
        .expect("rrsets")
        .into_iter()
        .collect();
    let want: BTreeSet<RrSet> = [
        a(&zone, 300, &["192.0.2.1"]),
        a(&deep, 300, &["192.0.2.10"]),
        cname,
    ]
    .into_iter()
    .collect();
    assert_eq!(read, want);
    assert_eq!(
        r.rrsets(std::slice::from_ref(&ptr.name))
            .await
            .expect("rrsets"),
        [ptr]
    );

    // Records written by hand in the panel: capitals, an absolute owner, a relative target, a suspended one.
    fake.insert_record(USER, "example.com", "Mail", "A", "192.0.2.25", 300);
    fake.insert_record(
        USER,
        "example.com",
        "abs.example.com.",
        "A",
        "192.0.2.26",
        300,
    );
    fake.insert_record(USER, "example.com", "alias", "CNAME", "mail", 300);
    let off = fake
        .insert_record(USER, "example.com", "off", "A", "192.0.2.27", 300)
        .expect("domain exists");
    assert!(fake.suspend_record(USER, "example.com", off));
    let names = [
        dns("mail.example.com"),
        dns("abs.example.com"),
        dns("alias.example.com"),
        dns("off.example.com"),
    ];
    let read: BTreeSet<RrSet> = p
        .rrsets(&names)
        .await
        .expect("rrsets")
        .into_iter()
        .collect();
    let want: BTreeSet<RrSet> = [
        a(&names[0], 300, &["192.0.2.25"]),
        a(&names[1], 300, &["192.0.2.26"]),
        RrSet::new(
            names[2].clone(),
            RecordType::Cname,
            300,
            ["mail.example.com"],
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(read, want);

    // A name outside the zone is rejected per change, never sent.
    let report = p
        .apply(&[Change::Create(a(
            &dns("vm.example.org"),
            300,
            &["192.0.2.1"],
        ))])
        .await
        .expect("apply");
    assert!(
        matches!(&report.outcomes[0], Err(ProviderError::Rejected { .. })),
        "{report:?}"
    );
}

#[tokio::test]
async fn secrets_never_show_in_errors() {
    const PASSWORD: &str = "pw-Must-Never-Leak-4711";
    const SECRET: &str = "SecretMustNeverLeak000000000000000004711";
    let zone = dns("example.com");
    let fake = fake_with(zone.as_str()).await;
    let mut legacy = fake.legacy_settings(USER);
    legacy.insert("admin_password".into(), PASSWORD.into());
    let mut keys = fake.access_key_settings(USER);
    keys.insert("secret_key".into(), SECRET.into());
    let mut wrong_url = fake.legacy_settings(USER);
    wrong_url.insert("server_url".into(), format!("{}panel/", fake.url()));
    wrong_url.insert("admin_password".into(), PASSWORD.into());
    let ctx = fast_ctx(1);

    let mut messages = Vec::new();
    for settings in [&legacy, &keys, &wrong_url] {
        let p = provider(&zone, settings, &ctx);
        messages.push(format!("{p:?}"));
        let checked = p.check().await.map(|_| ());
        let applied = p
            .apply(&[Change::Create(a(&zone, 300, &["192.0.2.1"]))])
            .await
            .map(|_| ());
        for result in [checked, applied] {
            let e = result.expect_err("wrong credentials or URL");
            messages.push(e.to_string());
            messages.push(format!("{e:?}"));
        }
    }
    for settings in [&legacy, &keys] {
        fake.inject(Fault::Reset, 1);
        let e = provider(&zone, settings, &ctx)
            .check()
            .await
            .expect_err("connection dropped");
        assert_eq!(e.kind(), "transient", "{e}");
        messages.push(e.to_string());
    }
    let wrong_url_err = provider(&zone, &wrong_url, &ctx)
        .check()
        .await
        .expect_err("404");
    assert!(
        wrong_url_err.to_string().contains("HTTP 404"),
        "{wrong_url_err}"
    );
    for m in &messages {
        assert!(!m.contains(PASSWORD), "password in {m:?}");
        assert!(!m.contains(SECRET), "secret key in {m:?}");
        assert!(!m.contains(ADMIN_PASSWORD), "admin password in {m:?}");
        assert!(!m.contains(SECRET_KEY), "secret key in {m:?}");
    }
}

#[tokio::test]
async fn faults_are_retried_or_reported() {
    let zone = dns("example.com");
    let fake = fake_with(zone.as_str()).await;
    let settings = fake.access_key_settings(USER);

    // A 502 is retried.
    let p = provider(&zone, &settings, &fast_ctx(3));
    fake.inject(Fault::ServerError, 2);
    p.check().await.expect("third try works");

    // Garbage is not success.
    fake.inject(Fault::Malformed, 1);
    let e = p.check().await.expect_err("malformed");
    assert_eq!(e.kind(), "transient", "{e}");
    fake.inject(Fault::Malformed, 1);
    let e = p
        .rrsets(&[dns("vm.example.com")])
        .await
        .expect_err("malformed");
    assert_eq!(e.kind(), "transient", "{e}");

    // A panel that does not answer: the client gives up.
    let p = provider(&zone, &settings, &fast_ctx(1));
    fake.inject(Fault::Hang, 1);
    let e = p.check().await.expect_err("timed out");
    assert!(e.to_string().contains("timed out"), "{e}");

    // A command failing mid-apply with Hestia's words: that change is rejected, the rest goes on.
    let v1 = dns("v1.example.com");
    let v2 = dns("v2.example.com");
    fake.inject_on(
        "v-add-dns-record",
        0,
        Fault::Exit {
            code: 13,
            message: "Error: disk quota exceeded".into(),
        },
    );
    let report = p
        .apply(&[
            Change::Create(a(&v1, 300, &["192.0.2.1"])),
            Change::Create(a(&v2, 300, &["192.0.2.2"])),
        ])
        .await
        .expect("apply");
    match &report.outcomes[0] {
        Err(ProviderError::Rejected { message }) => {
            assert_eq!(message, "Error: disk quota exceeded")
        }
        other => panic!("want Rejected, got {other:?}"),
    }
    assert!(report.outcomes[1].is_ok(), "{report:?}");

    // A failed restart is reported, and the next apply restarts even with nothing to write.
    let restarts = fake.restarts();
    fake.inject_on(
        "v-restart-dns",
        0,
        Fault::Exit {
            code: 20,
            message: "Error: bind9 restart failed".into(),
        },
    );
    let e = p
        .apply(&[Change::Create(a(&v1, 300, &["192.0.2.1"]))])
        .await
        .expect_err("restart failed");
    assert!(e.to_string().contains("bind9 restart failed"), "{e}");
    assert_eq!(fake.restarts(), restarts);
    all_ok(
        &p.apply(&[Change::Create(a(&v1, 300, &["192.0.2.1"]))])
            .await
            .expect("apply"),
    );
    assert_eq!(fake.restarts(), restarts + 1);
}

#[tokio::test]
async fn the_fake_speaks_both_dialects() {
    let fake = fake_with("example.com").await;
    let client = reqwest::Client::new();
    let url = format!("{}api/", fake.url());
    let post = |fields: Vec<(&str, &str)>| {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        client
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let legacy = [("user", ADMIN_USER), ("password", ADMIN_PASSWORD)];
    let keys = [("access_key", ACCESS_KEY), ("secret_key", SECRET_KEY)];
    let add_bad = [
        ("cmd", "v-add-dns-record"),
        ("arg1", USER),
        ("arg2", "example.com"),
        ("arg3", "vm"),
        ("arg4", "A"),
        ("arg5", "192.0.2.999"),
    ];

    let with = |a: &[(&'static str, &'static str)],
                b: &[(&'static str, &'static str)]|
     -> Vec<(&'static str, &'static str)> { a.iter().chain(b).copied().collect() };

    // Legacy: HTTP 200 and the exit code, or the text.
    let r = post(with(&with(&add_bad, &[("returncode", "yes")]), &legacy))
        .await
        .expect("answer");
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.expect("body"), "2");
    let r = post(with(&add_bad, &legacy)).await.expect("answer");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.text().await.expect("body").trim(),
        "Error: invalid ip format :: 192.0.2.999"
    );
    let r = post(with(&[("cmd", "v-restart-dns")], &legacy))
        .await
        .expect("answer");
    assert_eq!(r.text().await.expect("body"), "OK");
    let r = post(vec![
        ("cmd", "v-restart-dns"),
        ("user", ADMIN_USER),
        ("password", "nope"),
    ])
    .await
    .expect("answer");
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.text().await.expect("body"),
        "Error: authentication failed"
    );

    // Access keys: header, mapped status, 204.
    let r = post(with(&add_bad, &keys)).await.expect("answer");
    assert_eq!(r.status(), 422);
    assert_eq!(r.headers()["hestia-exit-code"], "2");
    let r = post(with(&[("cmd", "v-restart-dns")], &keys))
        .await
        .expect("answer");
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["hestia-exit-code"], "0");
    let hash = format!("{ACCESS_KEY}:{SECRET_KEY}");
    let r = post(vec![
        ("cmd", "v-list-dns-records"),
        ("arg1", USER),
        ("arg2", "example.com"),
        ("arg3", "json"),
        ("hash", hash.as_str()),
    ])
    .await
    .expect("answer");
    assert_eq!(r.status(), 200);
    let list: serde_json::Value = r.json().await.expect("json");
    assert_eq!(list["3"]["VALUE"], TEMPLATE_IP);
    assert_eq!(list["1"]["TTL"], "14400", "every value is a string");
    let r = post(with(
        &[
            ("cmd", "v-delete-dns-record"),
            ("arg1", USER),
            ("arg2", "example.com"),
            ("arg3", "99"),
        ],
        &keys,
    ))
    .await
    .expect("answer");
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["hestia-exit-code"], "3");

    // No duplicate check, and a taken explicit ID.
    let add = [
        ("cmd", "v-add-dns-record"),
        ("arg1", USER),
        ("arg2", "example.com"),
        ("arg3", "ptrtest"),
        ("arg4", "CNAME"),
        ("arg5", "target.example.net"),
    ];
    for _ in 0..2 {
        assert_eq!(post(with(&add, &keys)).await.expect("answer").status(), 204);
    }
    let twins: Vec<FakeRecord> = fake
        .records(USER, "example.com")
        .into_iter()
        .filter(|r| r.record == "ptrtest")
        .collect();
    assert_eq!(twins.len(), 2);
    assert_eq!(twins[0].value, "target.example.net.", "a dot is appended");
    let taken = with(&add, &[("arg6", ""), ("arg7", "1")]);
    let r = post(with(&taken, &keys)).await.expect("answer");
    assert_eq!(r.headers()["hestia-exit-code"], "4");
    assert_eq!(
        fake.restarts(),
        2 + 2,
        "two restarts by hand, two by adds without RESTART=no"
    );

    // v-change-dns-record: a TTL change, then the same again (no change: E_EXISTS).
    let id = twins[1].id.to_string();
    let change: Vec<(&str, &str)> = vec![
        ("cmd", "v-change-dns-record"),
        ("arg1", USER),
        ("arg2", "example.com"),
        ("arg3", id.as_str()),
        ("arg4", "ptrtest"),
        ("arg5", "CNAME"),
        ("arg6", "other.example.net"),
        ("arg7", ""),
        ("arg8", "no"),
        ("arg9", "60"),
        ("access_key", ACCESS_KEY),
        ("secret_key", SECRET_KEY),
    ];
    assert_eq!(post(change.clone()).await.expect("answer").status(), 204);
    let changed = fake
        .records(USER, "example.com")
        .into_iter()
        .find(|r| r.id == twins[1].id);
    assert_eq!(
        changed.map(|r| (r.value, r.ttl)),
        Some(("other.example.net.".to_string(), 60))
    );
    let r = post(change).await.expect("answer");
    assert_eq!(r.headers()["hestia-exit-code"], "4");

    // The last NS record stays.
    let delete = |id: &'static str| {
        with(
            &[
                ("cmd", "v-delete-dns-record"),
                ("arg1", USER),
                ("arg2", "example.com"),
                ("arg3", id),
            ],
            &keys,
        )
    };
    assert_eq!(post(delete("1")).await.expect("answer").status(), 204);
    let r = post(delete("2")).await.expect("answer");
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.text().await.expect("body"),
        "Error: at least one NS record should remain active"
    );
    assert_eq!(
        fake.restarts(),
        4 + 1,
        "the delete without RESTART=no restarted"
    );

    // Not a form, or not the API.
    let r = client.post(&url).body("{}").send().await.expect("answer");
    assert_eq!(r.status(), 405);
    let r = client
        .post(format!("{}nope", fake.url()))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 404);
}

/// A TLS front with a self-signed certificate before the fake: returns its address and the certificate's
/// SHA-256.
async fn tls_front(backend: SocketAddr) -> (SocketAddr, [u8; 32]) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["hestia.test".to_string()]).expect("certificate");
    let cert_der = certified.cert.der().clone();
    let fingerprint: [u8; 32] = Sha256::digest(cert_der.as_ref()).into();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_no_client_auth()
    .with_single_cert(vec![cert_der], key)
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (addr, fingerprint)
}

#[tokio::test]
async fn a_pinned_self_signed_certificate_is_accepted_and_no_other() {
    let zone = dns("example.com");
    let fake = fake_with(zone.as_str()).await;
    let (front, fingerprint) = tls_front(fake.addr()).await;
    let mut settings = fake.access_key_settings(USER);
    settings.insert("server_url".into(), format!("https://{front}/"));
    let ctx = fast_ctx(1);

    // Not pinned: the self-signed certificate fails ordinary verification.
    let e = provider(&zone, &settings, &ctx)
        .check()
        .await
        .expect_err("unknown issuer");
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");

    // Pinned (in the colon form browsers show): accepted.
    let colons: Vec<String> = fingerprint.iter().map(|b| format!("{b:02X}")).collect();
    settings.insert("tls_fingerprint".into(), colons.join(":"));
    provider(&zone, &settings, &ctx)
        .check()
        .await
        .expect("pinned certificate accepted");

    // Another pin: refused, and the message shows the certificate's real fingerprint.
    settings.insert("tls_fingerprint".into(), "00".repeat(32));
    let e = provider(&zone, &settings, &ctx)
        .check()
        .await
        .expect_err("wrong pin");
    assert!(e.to_string().contains(&colons.join(":")), "{e}");
}
