//! Cloudflare against its stateful fake: the conformance battery, then what is Cloudflare's own (request
//! budget per deploy, duplicates, the batch endpoint missing, 429 and other faults, account tokens, zone
//! ids of other domains, the token kept out of every message).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use vmdns_core::plan::Owned;
use vmdns_core::{Change, DnsName, Policy, RecordType, RrSet, plan};
use vmdns_providers::testing::cloudflare_fake::{CloudflareFake, FakeZone, Fault};
use vmdns_providers::testing::conformance::{Backend, run_battery};
use vmdns_providers::{
    HttpConfig, Provider, ProviderContext, ProviderError, ProviderKind, Settings,
};

const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";
/// The battery applies more than this at once; the fake refuses bigger batches.
const CHUNK: usize = 5;

fn n(s: &str) -> DnsName {
    DnsName::parse(s).expect("valid test name")
}

fn settings(fake: &CloudflareFake, zone_id: &str, token: &str, batch_size: usize) -> Settings {
    [
        ("account_id", ACCOUNT.to_string()),
        ("zone_id", zone_id.to_string()),
        ("api_token", token.to_string()),
        ("api_url", fake.url()),
        ("batch_size", batch_size.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn provider_with(
    ctx: &ProviderContext,
    fake: &CloudflareFake,
    zone: &DnsName,
    zone_id: &str,
    token: &str,
) -> Arc<dyn Provider> {
    vmdns_providers::build(
        ProviderKind::Cloudflare,
        zone.clone(),
        &settings(fake, zone_id, token, CHUNK),
        ctx,
    )
    .expect("valid Cloudflare settings")
}

struct FakeBackend {
    fake: CloudflareFake,
    ctx: ProviderContext,
}

impl FakeBackend {
    async fn start() -> Self {
        let fake = CloudflareFake::start().await;
        fake.set_batch_limit(CHUNK);
        Self {
            fake,
            ctx: ProviderContext::default(),
        }
    }

    fn zone_id(&self, zone: &DnsName) -> String {
        self.fake
            .zone_id(zone.as_str())
            .unwrap_or_else(|| self.fake.create_zone(zone.as_str(), ACCOUNT).id)
    }
}

#[async_trait]
impl Backend for FakeBackend {
    fn name(&self) -> &str {
        "cloudflare-fake"
    }

    async fn fresh_zone(&self, zone: &DnsName) -> Arc<dyn Provider> {
        let z = self.fake.create_zone(zone.as_str(), ACCOUNT);
        provider_with(&self.ctx, &self.fake, zone, &z.id, &z.token)
    }

    async fn with_bad_credentials(&self, zone: &DnsName) -> Arc<dyn Provider> {
        let id = self.zone_id(zone);
        provider_with(
            &self.ctx,
            &self.fake,
            zone,
            &id,
            "cfNotAValidTokenAtAll0000000000000000000",
        )
    }

    async fn mismatched(
        &self,
        configured: &DnsName,
        actual: &DnsName,
    ) -> Option<Arc<dyn Provider>> {
        let id = self.zone_id(actual);
        let token = self.fake.user_token(&[&id]);
        Some(provider_with(
            &self.ctx, &self.fake, configured, &id, &token,
        ))
    }

    async fn unknown_zone(&self, zone: &DnsName) -> Arc<dyn Provider> {
        // A working token, a zone id nobody has.
        let token = self.fake.account_token(ACCOUNT);
        provider_with(
            &self.ctx,
            &self.fake,
            zone,
            "ffffffffffffffffffffffffffffffff",
            &token,
        )
    }

    async fn observe(&self, zone: &DnsName, name: &DnsName, rtype: RecordType) -> BTreeSet<String> {
        match self.fake.zone_id(zone.as_str()) {
            Some(id) => self.fake.contents(&id, name.as_str(), rtype),
            None => BTreeSet::new(),
        }
    }

    fn chunk_size(&self) -> usize {
        CHUNK
    }
}

#[tokio::test]
async fn cloudflare_fake_passes_the_battery() {
    let backend = FakeBackend::start().await;
    run_battery(&backend).await;
}

/// One zone at a fresh fake, and a provider for it with its own context (so statistics are its own).
struct One {
    fake: CloudflareFake,
    zone: FakeZone,
    name: DnsName,
    ctx: ProviderContext,
    p: Arc<dyn Provider>,
}

async fn one(zone: &str) -> One {
    one_with(zone, HttpConfig::default()).await
}

async fn one_with(zone: &str, config: HttpConfig) -> One {
    let fake = CloudflareFake::start().await;
    let z = fake.create_zone(zone, ACCOUNT);
    let ctx = ProviderContext::new(config);
    let name = n(zone);
    let p = provider_with(&ctx, &fake, &name, &z.id, &z.token);
    One {
        fake,
        zone: z,
        name,
        ctx,
        p,
    }
}

fn a(name: &DnsName, ttl: u32, contents: &[&str]) -> RrSet {
    RrSet::new(name.clone(), RecordType::A, ttl, contents)
}

fn aaaa(name: &DnsName, ttl: u32, contents: &[&str]) -> RrSet {
    RrSet::new(name.clone(), RecordType::Aaaa, ttl, contents)
}

async fn apply_ok(p: &dyn Provider, changes: &[Change]) {
    let report = p.apply(changes).await.expect("apply as a whole");
    for (c, o) in changes.iter().zip(&report.outcomes) {
        assert!(o.is_ok(), "{c}: {o:?}");
    }
}

/// A deploy as the engine does it: read the names, plan (owning what earlier deploys wrote), apply.
async fn deploy(p: &dyn Provider, desired: &[RrSet], earlier: &[RrSet]) {
    let names: Vec<DnsName> = desired
        .iter()
        .map(|r| r.name.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let current = p.rrsets(&names).await.expect("read");
    let mut owned = Owned::new();
    for r in earlier {
        for c in &r.records {
            owned.add_mine(r.key(), c.as_str());
        }
    }
    let changes = plan(desired, &current, &owned, Policy::Sync).changes();
    apply_ok(p, &changes).await;
}

#[tokio::test]
async fn a_deploy_costs_one_read_and_one_write_per_zone() {
    let fake = CloudflareFake::start().await;
    let ctx = ProviderContext::default();
    let fwd = fake.create_zone("example.com", ACCOUNT);
    let rev = fake.create_zone("2.0.192.in-addr.arpa", ACCOUNT);
    let pf = provider_with(&ctx, &fake, &n("example.com"), &fwd.id, &fwd.token);
    let pr = provider_with(&ctx, &fake, &n("2.0.192.in-addr.arpa"), &rev.id, &rev.token);
    let vm = n("vm1.example.com");
    let ptr = n("10.2.0.192.in-addr.arpa");

    let v1 = [
        a(&vm, 300, &["192.0.2.10"]),
        aaaa(&vm, 300, &["2001:db8::10"]),
    ];
    deploy(pf.as_ref(), &v1, &[]).await;
    // Two addresses in one reverse zone: two names, still one read (the whole, small zone).
    let ptr_sets = [
        RrSet::new(ptr.clone(), RecordType::Ptr, 300, ["vm1.example.com"]),
        RrSet::new(
            n("11.2.0.192.in-addr.arpa"),
            RecordType::Ptr,
            300,
            ["vm1.example.com"],
        ),
    ];
    deploy(pr.as_ref(), &ptr_sets, &[]).await;
    assert_eq!(
        fake.requests_for_zone(&fwd.id),
        2,
        "{:#?}",
        fake.request_log()
    );
    assert_eq!(
        fake.requests_for_zone(&rev.id),
        2,
        "{:#?}",
        fake.request_log()
    );
    assert_eq!(
        fake.contents(&fwd.id, vm.as_str(), RecordType::Aaaa),
        BTreeSet::from(["2001:db8::10".to_string()])
    );
    assert_eq!(
        fake.contents(&rev.id, ptr.as_str(), RecordType::Ptr),
        BTreeSet::from(["vm1.example.com".to_string()])
    );

    // Readdressed: one content deleted, others posted, in place; still one read and one write.
    fake.reset_requests();
    let v2 = [
        a(&vm, 300, &["192.0.2.11"]),
        aaaa(&vm, 300, &["2001:db8::10", "2001:db8::11"]),
    ];
    deploy(pf.as_ref(), &v2, &v1).await;
    assert_eq!(
        fake.requests_for_zone(&fwd.id),
        2,
        "{:#?}",
        fake.request_log()
    );
    assert_eq!(
        fake.contents(&fwd.id, vm.as_str(), RecordType::A),
        BTreeSet::from(["192.0.2.11".to_string()])
    );
    assert_eq!(
        fake.contents(&fwd.id, vm.as_str(), RecordType::Aaaa).len(),
        2
    );

    // Nothing to do: only the read.
    fake.reset_requests();
    deploy(pf.as_ref(), &v2, &v2).await;
    assert_eq!(fake.requests(), 1);
    assert_eq!(ctx.stats(ProviderKind::Cloudflare).errors(), 0);
}

#[tokio::test]
async fn records_that_already_exist_or_are_already_gone_are_fine() {
    let o = one("example.com").await;
    let vm = n("vm.example.com");
    // Someone (a previous run that timed out, say) already wrote one of the two.
    o.fake
        .insert_record(&o.zone.id, "vm.example.com", "A", "192.0.2.1", 300)
        .expect("seed");
    let want = a(&vm, 300, &["192.0.2.1", "192.0.2.2"]);
    apply_ok(
        o.p.as_ref(),
        &[
            Change::Create(want.clone()),
            Change::Create(aaaa(&vm, 300, &["2001:db8::1"])),
        ],
    )
    .await;
    assert_eq!(
        o.fake.contents(&o.zone.id, vm.as_str(), RecordType::A),
        want.records
    );
    // The batch failed as a whole (81058); halved, the AAAA went through as a batch and the A, alone and
    // failing the same way, went record by record.
    let log: Vec<String> = o
        .fake
        .request_log()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let posts = format!("POST /zones/{}/dns_records", o.zone.id);
    assert_eq!(
        log.iter().filter(|l| l.ends_with("/batch")).count(),
        3,
        "{log:#?}"
    );
    assert!(log.contains(&posts), "{log:#?}");
    assert_eq!(
        o.p.rrsets(std::slice::from_ref(&vm))
            .await
            .expect("read")
            .len(),
        2
    );

    // One record vanishes behind our back; the replace that deletes it still succeeds.
    let gone = o
        .fake
        .records(&o.zone.id)
        .into_iter()
        .find(|r| r.content == "192.0.2.1")
        .expect("record");
    let client = reqwest::Client::new();
    let resp = client
        .delete(format!(
            "{}/zones/{}/dns_records/{}",
            o.fake.url(),
            o.zone.id,
            gone.id
        ))
        .bearer_auth(&o.zone.token)
        .send()
        .await
        .expect("delete behind the provider's back");
    assert!(resp.status().is_success());
    let next = a(&vm, 300, &["192.0.2.3"]);
    apply_ok(
        o.p.as_ref(),
        &[Change::Replace {
            from: want,
            to: next.clone(),
        }],
    )
    .await;
    assert_eq!(
        o.fake.contents(&o.zone.id, vm.as_str(), RecordType::A),
        next.records
    );
}

#[tokio::test]
async fn without_the_batch_endpoint_single_calls_are_used() {
    let o = one("example.com").await;
    o.fake.set_batch_available(false);
    let vm = n("vm.example.com");
    let v1 = a(&vm, 300, &["192.0.2.1", "192.0.2.2"]);
    let six = aaaa(&vm, 300, &["2001:db8::1"]);
    apply_ok(
        o.p.as_ref(),
        &[Change::Create(v1.clone()), Change::Create(six.clone())],
    )
    .await;
    let v2 = a(&vm, 600, &["192.0.2.2", "192.0.2.3"]);
    apply_ok(
        o.p.as_ref(),
        &[
            Change::Replace {
                from: v1,
                to: v2.clone(),
            },
            Change::Delete(six),
        ],
    )
    .await;
    assert_eq!(
        o.fake.contents(&o.zone.id, vm.as_str(), RecordType::A),
        v2.records
    );
    assert!(
        o.fake
            .contents(&o.zone.id, vm.as_str(), RecordType::Aaaa)
            .is_empty()
    );
    assert_eq!(
        o.p.rrsets(std::slice::from_ref(&vm)).await.expect("read"),
        [v2]
    );
    // The missing endpoint was tried once, then remembered.
    let batches = o
        .fake
        .request_log()
        .iter()
        .filter(|r| r.path.ends_with("/batch"))
        .count();
    assert_eq!(batches, 1, "{:#?}", o.fake.request_log());

    // A bad record is still reported as such, with Cloudflare's words.
    let bad = a(&n("bad.example.com"), 300, &["192.0.2.999"]);
    let report = o.p.apply(&[Change::Create(bad)]).await.expect("apply");
    let err = report.outcomes[0].as_ref().expect_err("rejected");
    assert!(
        err.to_string().contains(
            "bad.example.com A: Content for A record must be a valid IPv4 address. (code 9005)"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_bad_change_is_isolated_with_cloudflares_code_and_message() {
    let o = one("example.com").await;
    let mut changes: Vec<Change> = (0..4)
        .map(|i| {
            Change::Create(a(
                &n(&format!("h{i}.example.com")),
                300,
                &[format!("192.0.2.{i}").as_str()],
            ))
        })
        .collect();
    changes.insert(
        2,
        Change::Create(aaaa(&n("bad.example.com"), 300, &["192.0.2.1"])),
    );
    let report = o.p.apply(&changes).await.expect("apply");
    assert_eq!(report.failed(), 1);
    match &report.outcomes[2] {
        Err(ProviderError::Rejected { message }) => {
            assert!(message.contains("bad.example.com AAAA"), "{message}");
            assert!(
                message
                    .contains("Content for AAAA record must be a valid IPv6 address. (code 9006)"),
                "{message}"
            );
        }
        other => panic!("want Rejected, got {other:?}"),
    }
    assert_eq!(o.fake.records(&o.zone.id).len(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_429_is_waited_out_and_retried() {
    let o = one("example.com").await;
    o.fake.inject(
        Fault::RateLimited {
            retry_after_secs: 7,
        },
        1,
    );
    let started = tokio::time::Instant::now();
    let info = o.p.check().await.expect("check after one 429");
    assert_eq!(info.name, o.name);
    assert!(
        started.elapsed() >= Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(o.ctx.stats(ProviderKind::Cloudflare).errors(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_long_retry_after_is_reported_not_waited() {
    let o = one("example.com").await;
    o.fake.inject(
        Fault::RateLimited {
            retry_after_secs: 120,
        },
        1,
    );
    match o.p.check().await {
        Err(ProviderError::RateLimited {
            retry_after,
            message,
        }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(120)));
            assert!(message.contains("971"), "{message}");
        }
        other => panic!("want RateLimited, got {other:?}"),
    }
    assert_eq!(o.fake.requests(), 1);

    // The fake's own budget: 2 requests per 5 minutes, then 429 until the window ends.
    o.fake.set_rate_limit(Some((2, Duration::from_secs(300))));
    let vm = n("vm.example.com");
    apply_ok(o.p.as_ref(), &[Change::Create(a(&vm, 300, &["192.0.2.1"]))]).await;
    o.p.rrsets(std::slice::from_ref(&vm))
        .await
        .expect("second request");
    match o.p.rrsets(std::slice::from_ref(&vm)).await {
        Err(ProviderError::RateLimited {
            retry_after: Some(d),
            ..
        }) => assert!(d > Duration::from_secs(30), "{d:?}"),
        other => panic!("want RateLimited, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn server_errors_resets_and_hangs_are_retried() {
    let config = HttpConfig {
        timeout: Duration::from_secs(5),
        ..HttpConfig::default()
    };
    let o = one_with("example.com", config).await;
    o.fake.inject(Fault::ServerError(502), 1);
    o.fake.inject(Fault::Reset, 1);
    o.fake.inject(Fault::Hang, 1);
    o.p.check().await.expect("fourth attempt succeeds");
    assert_eq!(o.fake.pending_faults(), 0);
    assert_eq!(o.ctx.stats(ProviderKind::Cloudflare).errors(), 3);

    // Past the attempts: the last cause is reported as transient.
    o.fake.inject(Fault::ServerError(503), 4);
    match o.p.check().await {
        Err(ProviderError::Transient { message }) => assert!(message.contains("503"), "{message}"),
        other => panic!("want Transient, got {other:?}"),
    }

    // A write that fails transiently reports the whole call and leaves nothing half-done behind.
    o.fake.inject(Fault::ServerError(500), 4);
    let vm = n("vm.example.com");
    match o
        .p
        .apply(&[Change::Create(a(&vm, 300, &["192.0.2.1"]))])
        .await
    {
        Err(e) => assert!(e.is_retryable(), "{e}"),
        Ok(r) => panic!("want Err, got {r:?}"),
    }
    apply_ok(o.p.as_ref(), &[Change::Create(a(&vm, 300, &["192.0.2.1"]))]).await;
}

#[tokio::test]
async fn a_malformed_answer_is_transient() {
    let o = one("example.com").await;
    o.fake.inject(Fault::Malformed, 1);
    match o.p.check().await {
        Err(ProviderError::Transient { message }) => {
            assert!(message.contains("malformed"), "{message}")
        }
        other => panic!("want Transient, got {other:?}"),
    }
    o.fake.inject(Fault::Malformed, 1);
    let err =
        o.p.rrsets(&[n("vm.example.com")])
            .await
            .expect_err("malformed list");
    assert!(err.is_retryable(), "{err}");
}

#[tokio::test]
async fn an_account_token_is_verified_at_the_account() {
    let fake = CloudflareFake::start().await;
    let z = fake.create_zone("example.com", ACCOUNT);
    let token = fake.account_token(ACCOUNT);
    let p = provider_with(
        &ProviderContext::default(),
        &fake,
        &n("example.com"),
        &z.id,
        &token,
    );
    let info = p.check().await.expect("account token works");
    assert!(info.message.contains("example.com"), "{}", info.message);
    let paths: Vec<String> = fake.request_log().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            format!("/zones/{}", z.id),
            "/user/tokens/verify".to_string(),
            format!("/accounts/{ACCOUNT}/tokens/verify"),
        ]
    );

    // The user token needs no fallback.
    fake.reset_requests();
    let p = provider_with(
        &ProviderContext::default(),
        &fake,
        &n("example.com"),
        &z.id,
        &z.token,
    );
    p.check().await.expect("user token works");
    assert_eq!(fake.requests(), 2);

    // An account token of another account is refused at the zone already.
    let other = fake.account_token("ffffffffffffffffffffffffffffffff");
    let p = provider_with(
        &ProviderContext::default(),
        &fake,
        &n("example.com"),
        &z.id,
        &other,
    );
    match p.check().await {
        Err(ProviderError::Auth { message }) => assert!(
            message.contains("Authentication error (code 10000)"),
            "{message}"
        ),
        other => panic!("want Auth, got {other:?}"),
    }
}

#[tokio::test]
async fn the_zone_id_of_another_domain_is_a_mismatch() {
    let fake = CloudflareFake::start().await;
    let other = fake.create_zone("other-domain.net", ACCOUNT);
    let p = provider_with(
        &ProviderContext::default(),
        &fake,
        &n("example.com"),
        &other.id,
        &other.token,
    );
    let err = p.check().await.expect_err("mismatch");
    assert_eq!(
        err,
        ProviderError::ZoneMismatch {
            expected: "example.com".into(),
            found: "other-domain.net".into()
        }
    );
    assert!(err.to_string().contains("other-domain.net"), "{err}");
}

#[tokio::test]
async fn unknown_zone_and_bad_token_keep_cloudflares_words() {
    let fake = CloudflareFake::start().await;
    let z = fake.create_zone("example.com", ACCOUNT);
    let p = provider_with(
        &ProviderContext::default(),
        &fake,
        &n("example.com"),
        "0000000000000000000000000000dead",
        &z.token,
    );
    match p.check().await {
        Err(ProviderError::ZoneNotFound { message }) => {
            assert!(
                message.contains("perhaps your object identifier is invalid? (code 7003)"),
                "{message}"
            );
        }
        other => panic!("want ZoneNotFound, got {other:?}"),
    }
    fake.revoke_token(&z.token);
    let p = provider_with(
        &ProviderContext::default(),
        &fake,
        &n("example.com"),
        &z.id,
        &z.token,
    );
    match p.check().await {
        Err(ProviderError::Auth { message }) => {
            assert_eq!(message, "Invalid access token (code 9109)")
        }
        other => panic!("want Auth, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn the_token_never_appears_in_an_error() {
    let o = one_with(
        "example.com",
        HttpConfig {
            max_attempts: 1,
            ..HttpConfig::default()
        },
    )
    .await;
    let secret = o.zone.token.clone();
    let vm = n("vm.example.com");
    let mut seen: Vec<String> = vec![format!("{:?}", o.p)];
    let mut note = |e: &ProviderError| seen.push(format!("{e} / {e:?}"));

    for fault in [
        Fault::Malformed,
        Fault::ServerError(502),
        Fault::Reset,
        Fault::Hang,
        Fault::RateLimited {
            retry_after_secs: 600,
        },
    ] {
        o.fake.inject(fault, 1);
        note(&o.p.check().await.expect_err("fault"));
    }
    let report =
        o.p.apply(&[Change::Create(a(&vm, 300, &["192.0.2.999"]))])
            .await
            .expect("apply");
    for e in report.outcomes.iter().filter_map(|r| r.as_ref().err()) {
        note(e);
    }
    let wrong_zone = provider_with(&o.ctx, &o.fake, &n("example.org"), &o.zone.id, &secret);
    note(&wrong_zone.check().await.expect_err("mismatch"));
    let unknown = provider_with(
        &o.ctx,
        &o.fake,
        &o.name,
        "0000000000000000000000000000dead",
        &secret,
    );
    note(&unknown.check().await.expect_err("unknown zone"));
    o.fake.revoke_token(&secret);
    note(&o.p.check().await.expect_err("revoked"));
    note(
        &o.p.apply(&[Change::Delete(a(&vm, 300, &["192.0.2.1"]))])
            .await
            .expect_err("revoked"),
    );

    assert_eq!(seen.len(), 11);
    for s in &seen {
        assert!(!s.contains(&secret), "token leaked: {s}");
    }
}

#[tokio::test]
async fn reads_follow_pages_and_map_automatic_ttl() {
    let o = one("example.com").await;
    o.fake.set_max_per_page(10);
    let names: Vec<DnsName> = (0..25).map(|i| n(&format!("h{i}.example.com"))).collect();
    for (i, name) in names.iter().enumerate() {
        o.fake
            .insert_record(&o.zone.id, name.as_str(), "A", &format!("192.0.2.{i}"), 1)
            .expect("seed");
    }
    o.fake
        .insert_record(&o.zone.id, "h0.example.com", "TXT", "\"not ours\"", 300)
        .expect("seed");
    o.fake.reset_requests();
    let read = o.p.rrsets(&names).await.expect("read");
    assert_eq!(read.len(), 25);
    assert!(
        read.iter()
            .all(|r| r.ttl == 300 && r.rtype == RecordType::A),
        "{read:?}"
    );
    // 26 records at 10 a page.
    assert_eq!(o.fake.requests(), 3, "{:#?}", o.fake.request_log());

    // Automatic TTL is 300: a desired 300 changes nothing.
    let h0 = a(&names[0], 300, &["192.0.2.0"]);
    assert!(plan(&[h0], &read, &Owned::new(), Policy::Sync).is_noop());
}

#[tokio::test]
async fn mixed_ttls_read_as_zero_and_are_evened_out() {
    let o = one("example.com").await;
    let vm = n("vm.example.com");
    o.fake
        .insert_record(&o.zone.id, vm.as_str(), "A", "192.0.2.1", 300)
        .expect("seed");
    o.fake
        .insert_record(&o.zone.id, vm.as_str(), "A", "192.0.2.2", 3600)
        .expect("seed");
    let read = o.p.rrsets(std::slice::from_ref(&vm)).await.expect("read");
    assert_eq!(read, [a(&vm, 0, &["192.0.2.1", "192.0.2.2"])]);
    let want = a(&vm, 300, &["192.0.2.1", "192.0.2.2"]);
    let changes = plan(
        std::slice::from_ref(&want),
        &read,
        &Owned::new(),
        Policy::Sync,
    )
    .changes();
    assert_eq!(changes.len(), 1);
    apply_ok(o.p.as_ref(), &changes).await;
    let ttls: Vec<u32> = o.fake.records(&o.zone.id).iter().map(|r| r.ttl).collect();
    assert_eq!(ttls, [300, 300]);
    assert_eq!(
        o.p.rrsets(std::slice::from_ref(&vm)).await.expect("read"),
        [want]
    );
}

#[tokio::test]
async fn an_rrset_bigger_than_a_batch_is_split() {
    let o = one("example.com").await;
    o.fake.set_batch_limit(CHUNK);
    let vm = n("vm.example.com");
    let ips: Vec<String> = (1..=12).map(|i| format!("192.0.2.{i}")).collect();
    let big = RrSet::new(vm.clone(), RecordType::A, 300, &ips);
    apply_ok(o.p.as_ref(), &[Change::Create(big.clone())]).await;
    assert_eq!(
        o.fake.contents(&o.zone.id, vm.as_str(), RecordType::A),
        big.records
    );
    let batches = o
        .fake
        .request_log()
        .iter()
        .filter(|r| r.path.ends_with("/batch"))
        .count();
    assert_eq!(batches, 3);
}

/// The fake itself, spoken to directly: the answers the provider relies on look like Cloudflare's.
#[tokio::test]
async fn the_fake_answers_like_cloudflare() {
    let fake = CloudflareFake::start().await;
    let z = fake.create_zone("example.com", ACCOUNT);
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}/zones/{}{path}", fake.url(), z.id);
    let send = |req: reqwest::RequestBuilder| {
        let token = z.token.clone();
        async move {
            let resp = req.bearer_auth(token).send().await.expect("answer");
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap_or_default().to_string());
            let body = resp.text().await.expect("body");
            (
                status,
                serde_json::from_str::<serde_json::Value>(&body).ok(),
                retry_after,
                body,
            )
        }
    };
    let code =
        |v: &Option<serde_json::Value>| v.as_ref().and_then(|v| v["errors"][0]["code"].as_i64());
    let post = |body: serde_json::Value| http.post(url("/dns_records")).json(&body);

    let (status, v, _, _) = send(post(
        serde_json::json!({"type":"A","name":"vm","content":"192.0.2.1","ttl":300}),
    ))
    .await;
    assert_eq!(status, 200);
    let v = v.expect("json");
    assert_eq!(v["success"], true);
    assert_eq!(v["result"]["name"], "vm.example.com");
    let id = v["result"]["id"].as_str().expect("id").to_string();
    assert_eq!(id.len(), 32);

    let cases = [
        (
            serde_json::json!({"type":"A","name":"vm","content":"192.0.2.1","ttl":300}),
            81058,
        ),
        (
            serde_json::json!({"type":"A","name":"vm","content":"192.0.2.1","ttl":60}),
            81057,
        ),
        (
            serde_json::json!({"type":"CNAME","name":"vm","content":"x.example.net"}),
            81053,
        ),
        (
            serde_json::json!({"type":"A","name":"vm","content":"192.0.2.999"}),
            9005,
        ),
        (
            serde_json::json!({"type":"AAAA","name":"vm","content":"192.0.2.1"}),
            9006,
        ),
        (
            serde_json::json!({"type":"A","name":"vm","content":"192.0.2.2","ttl":5}),
            9021,
        ),
    ];
    for (body, want) in cases {
        let (status, v, _, raw) = send(post(body.clone())).await;
        assert_eq!((status, code(&v)), (400, Some(want)), "{body}: {raw}");
        assert_eq!(v.as_ref().map(|v| v["result"].is_null()), Some(true));
    }
    let (status, v, _, _) =
        send(http.delete(url("/dns_records/ffffffffffffffffffffffffffffffff"))).await;
    assert_eq!((status, code(&v)), (404, Some(81044)));

    // Batch: one transaction, first error, nothing applied.
    let batch = serde_json::json!({
        "deletes": [{"id": id}],
        "posts": [
            {"type":"A","name":"h1","content":"192.0.2.5"},
            {"type":"A","name":"h2","content":"192.0.2.999"}
        ]
    });
    let (status, v, _, _) = send(http.post(url("/dns_records/batch")).json(&batch)).await;
    assert_eq!((status, code(&v)), (400, Some(9005)));
    assert_eq!(fake.records(&z.id).len(), 1);
    fake.set_batch_limit(2);
    let (_, v, _, raw) = send(http.post(url("/dns_records/batch")).json(&batch)).await;
    assert!(raw.contains("maximum of 2"), "{raw}");
    assert!(code(&v).is_some());
    fake.set_batch_available(false);
    let (status, v, _, _) = send(http.post(url("/dns_records/batch")).json(&batch)).await;
    assert_eq!((status, code(&v)), (404, Some(7000)));

    // Pagination.
    for i in 0..5 {
        fake.insert_record(&z.id, &format!("p{i}.example.com"), "A", "192.0.2.7", 1)
            .expect("seed");
    }
    let (_, v, _, _) = send(http.get(url("/dns_records?per_page=2&page=3"))).await;
    let v = v.expect("json");
    assert_eq!(v["result_info"]["total_count"], 6);
    assert_eq!(v["result_info"]["total_pages"], 3);
    assert_eq!(v["result_info"]["count"], 2);
    let (_, v, _, _) = send(http.get(url("/dns_records?name=P3.example.com"))).await;
    assert_eq!(v.expect("json")["result"][0]["ttl"], 1);

    // Faults.
    fake.inject(
        Fault::RateLimited {
            retry_after_secs: 42,
        },
        1,
    );
    let (status, v, retry_after, _) = send(http.get(url(""))).await;
    assert_eq!(
        (status, code(&v), retry_after.as_deref()),
        (429, Some(971), Some("42"))
    );
    fake.inject(Fault::ServerError(502), 1);
    let (status, v, _, raw) = send(http.get(url(""))).await;
    assert_eq!(status, 502);
    assert!(v.is_none() && raw.contains("cloudflare"), "{raw}");
    fake.inject(Fault::Malformed, 1);
    let (status, v, _, _) = send(http.get(url(""))).await;
    assert_eq!((status, v.is_none()), (200, true));
    fake.inject(Fault::Reset, 1);
    let err = http
        .get(url(""))
        .bearer_auth(&z.token)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map(|_| ())
        .expect_err("reset");
    assert!(err.status().is_none(), "{err:?}");

    // Authentication: no header, unknown token, a token for another zone.
    let resp = http.get(url("")).send().await.expect("answer");
    assert_eq!(resp.status().as_u16(), 400);
    let other = fake.create_zone("other.example", ACCOUNT);
    let resp = http
        .get(url(""))
        .bearer_auth(&other.token)
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status().as_u16(), 403);
    let (status, v, _, _) =
        send(http.get(format!("{}/zones/{}", fake.url(), "0".repeat(32)))).await;
    assert_eq!((status, code(&v)), (404, Some(7003)));
}

#[tokio::test]
async fn a_zone_bigger_than_a_page_is_read_by_name() {
    let o = one("example.com").await;
    for i in 0..5001 {
        let name = format!("h{i}.example.com");
        let ip = format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256);
        o.fake
            .insert_record(&o.zone.id, &name, "A", &ip, 300)
            .expect("seed");
    }
    let names = [n("h1.example.com"), n("h4999.example.com")];
    o.fake.reset_requests();
    let read = o.p.rrsets(&names).await.expect("read");
    assert_eq!(read.len(), 2);
    // First the whole zone, two pages of 5,000; then, knowing its size, name by name.
    assert_eq!(o.fake.requests(), 2);
    o.fake.reset_requests();
    assert_eq!(o.p.rrsets(&names).await.expect("read"), read);
    let queries: Vec<Option<String>> = o.fake.request_log().into_iter().map(|r| r.query).collect();
    assert_eq!(queries.len(), 2);
    assert!(
        queries
            .iter()
            .all(|q| q.as_deref().is_some_and(|q| q.contains("name=h"))),
        "{queries:?}"
    );
}
