//! The one conformance battery every provider passes: create, replace, delete, delete-missing-is-ok,
//! PTR and AAAA content, a batch above the chunk size, one bad RRset among good ones, wrong credentials,
//! zone-name mismatch, unknown zone.
//!
//! Every case works in zones of its own with fresh names, so cases never see each other's records, and a
//! backend may run the battery more than once (on one shared server, say). Each result is checked twice:
//! around the provider ([`Backend::observe`]: a DNS query, the fake's state) and through it
//! ([`Provider::rrsets`]).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use vmdns_core::{Change, DnsName, RecordType, RrSet};

use crate::{ApplyReport, Provider, ProviderError};

/// A provider backend under test (a real server or a fake).
#[async_trait]
pub trait Backend: Send + Sync {
    /// For messages: `powerdns`, `cloudflare-fake`, ...
    fn name(&self) -> &str;
    /// Creates a fresh zone (holding only what a new zone holds: SOA/NS) and a working provider for it.
    async fn fresh_zone(&self, zone: &DnsName) -> Arc<dyn Provider>;
    /// A provider for an existing zone whose credentials are wrong.
    async fn with_bad_credentials(&self, zone: &DnsName) -> Arc<dyn Provider>;
    /// A provider configured for zone `configured` whose zone id / settings point at the existing zone
    /// `actual`. `None` when the provider has no way to express that (PowerDNS addresses zones by name).
    async fn mismatched(&self, configured: &DnsName, actual: &DnsName)
    -> Option<Arc<dyn Provider>>;
    /// A provider for a zone that does not exist at the backend.
    async fn unknown_zone(&self, zone: &DnsName) -> Arc<dyn Provider>;
    /// What the backend holds now for `name`/`rtype`, read around the provider (DNS query, fake state),
    /// contents normalised as [`RecordType::normalize_content`] does.
    async fn observe(&self, zone: &DnsName, name: &DnsName, rtype: RecordType) -> BTreeSet<String>;
    /// The batch size above which the provider must split (the battery applies more than this at once).
    fn chunk_size(&self) -> usize;
}

/// Runs every case of the battery against `backend`, panicking with the backend's name and the case on
/// the first failure.
pub async fn run_battery(backend: &dyn Backend) {
    let b = Battery { backend };
    b.create().await;
    b.replace().await;
    b.delete().await;
    b.delete_missing_is_ok().await;
    b.ptr_content().await;
    b.aaaa_content().await;
    b.batch_over_limit().await;
    b.one_bad_among_good().await;
    b.auth_failure().await;
    b.zone_mismatch().await;
    b.unknown_zone().await;
}

/// A number no other call in this process gets, starting at a random point so that test binaries sharing a
/// backend are unlikely to meet.
fn unique() -> u32 {
    static SEED: OnceLock<u32> = OnceLock::new();
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let seed = *SEED.get_or_init(rand::random::<u32>);
    seed.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A fresh forward zone name for `case`: `create-1a2b3c4d.vmdns-battery.test`.
fn forward_zone(case: &str) -> DnsName {
    name(&format!("{case}-{:08x}.vmdns-battery.test", unique()))
}

/// A fresh IPv4 reverse zone (`X.Y.192.in-addr.arpa`, a /24 of 192.0.0.0/8).
fn reverse_zone() -> DnsName {
    let u = unique();
    name(&format!(
        "{}.{}.192.in-addr.arpa",
        u & 0xff,
        (u >> 8) & 0xff
    ))
}

fn name(s: &str) -> DnsName {
    DnsName::parse(s).unwrap_or_else(|e| panic!("battery name {s:?}: {e}"))
}

fn owner(zone: &DnsName, label: &str) -> DnsName {
    zone.prepend(label)
        .unwrap_or_else(|e| panic!("battery name {label}.{zone}: {e}"))
}

fn set(owner: &DnsName, rtype: RecordType, ttl: u32, contents: &[&str]) -> RrSet {
    RrSet::new(owner.clone(), rtype, ttl, contents)
}

struct Battery<'a> {
    backend: &'a dyn Backend,
}

impl Battery<'_> {
    fn at(&self, case: &str) -> String {
        format!("[{}] {case}", self.backend.name())
    }

    /// Applies `changes` and expects the call to succeed with one outcome per change.
    async fn apply(&self, case: &str, p: &dyn Provider, changes: &[Change]) -> ApplyReport {
        let report = p
            .apply(changes)
            .await
            .unwrap_or_else(|e| panic!("{}: apply failed as a whole: {e}", self.at(case)));
        assert_eq!(
            report.outcomes.len(),
            changes.len(),
            "{}: one outcome per change expected",
            self.at(case)
        );
        report
    }

    /// Applies `changes` and expects every one of them to succeed.
    async fn apply_ok(&self, case: &str, p: &dyn Provider, changes: &[Change]) {
        let report = self.apply(case, p, changes).await;
        for (change, outcome) in changes.iter().zip(&report.outcomes) {
            if let Err(e) = outcome {
                panic!("{}: {change} failed: {e}", self.at(case));
            }
        }
    }

    /// The backend and the provider agree that `present` is there (exactly) and `absent` is not.
    async fn expect_state(
        &self,
        case: &str,
        p: &dyn Provider,
        zone: &DnsName,
        present: &[RrSet],
        absent: &[(DnsName, RecordType)],
    ) {
        for want in present {
            let seen = self.backend.observe(zone, &want.name, want.rtype).await;
            assert_eq!(
                seen,
                want.records,
                "{}: backend holds for {} {}",
                self.at(case),
                want.name,
                want.rtype
            );
        }
        for (n, t) in absent {
            let seen = self.backend.observe(zone, n, *t).await;
            assert!(
                seen.is_empty(),
                "{}: backend still holds {n} {t}: {seen:?}",
                self.at(case)
            );
        }
        let mut names: Vec<DnsName> = present.iter().map(|s| s.name.clone()).collect();
        names.extend(absent.iter().map(|(n, _)| n.clone()));
        names.sort();
        names.dedup();
        let read: BTreeSet<RrSet> = p
            .rrsets(&names)
            .await
            .unwrap_or_else(|e| panic!("{}: rrsets failed: {e}", self.at(case)))
            .into_iter()
            .collect();
        let want: BTreeSet<RrSet> = present.iter().cloned().collect();
        assert_eq!(read, want, "{}: provider.rrsets({names:?})", self.at(case));
    }

    async fn create(&self) {
        let case = "create";
        let zone = forward_zone(case);
        let p = self.backend.fresh_zone(&zone).await;
        let vm1 = owner(&zone, "vm1");
        let before = p
            .rrsets(std::slice::from_ref(&vm1))
            .await
            .unwrap_or_else(|e| panic!("{}: rrsets of a fresh zone: {e}", self.at(case)));
        assert!(
            before.is_empty(),
            "{}: a fresh zone holds {before:?}",
            self.at(case)
        );
        let empty = self.apply(case, p.as_ref(), &[]).await;
        assert!(
            empty.outcomes.is_empty(),
            "{}: nothing to apply",
            self.at(case)
        );

        let a = set(&vm1, RecordType::A, 300, &["192.0.2.1", "192.0.2.2"]);
        self.apply_ok(case, p.as_ref(), &[Change::Create(a.clone())])
            .await;
        self.expect_state(
            case,
            p.as_ref(),
            &zone,
            &[a],
            &[(vm1.clone(), RecordType::Aaaa)],
        )
        .await;
    }

    async fn replace(&self) {
        let case = "replace";
        let zone = forward_zone(case);
        let p = self.backend.fresh_zone(&zone).await;
        let vm1 = owner(&zone, "vm1");
        let old = set(&vm1, RecordType::A, 300, &["192.0.2.1", "192.0.2.2"]);
        self.apply_ok(case, p.as_ref(), &[Change::Create(old.clone())])
            .await;
        let new = set(
            &vm1,
            RecordType::A,
            600,
            &["192.0.2.2", "192.0.2.3", "192.0.2.4"],
        );
        self.apply_ok(
            case,
            p.as_ref(),
            &[Change::Replace {
                from: old,
                to: new.clone(),
            }],
        )
        .await;
        self.expect_state(case, p.as_ref(), &zone, std::slice::from_ref(&new), &[])
            .await;
        let single = set(&vm1, RecordType::A, 600, &["192.0.2.9"]);
        self.apply_ok(
            case,
            p.as_ref(),
            &[Change::Replace {
                from: new,
                to: single.clone(),
            }],
        )
        .await;
        self.expect_state(case, p.as_ref(), &zone, &[single], &[])
            .await;
    }

    async fn delete(&self) {
        let case = "delete";
        let zone = forward_zone(case);
        let p = self.backend.fresh_zone(&zone).await;
        let vm1 = owner(&zone, "vm1");
        let a = set(&vm1, RecordType::A, 300, &["192.0.2.1", "192.0.2.2"]);
        let aaaa = set(&vm1, RecordType::Aaaa, 300, &["2001:db8::1"]);
        self.apply_ok(
            case,
            p.as_ref(),
            &[Change::Create(a.clone()), Change::Create(aaaa.clone())],
        )
        .await;
        self.expect_state(case, p.as_ref(), &zone, &[a.clone(), aaaa.clone()], &[])
            .await;
        self.apply_ok(case, p.as_ref(), &[Change::Delete(a)]).await;
        self.expect_state(
            case,
            p.as_ref(),
            &zone,
            std::slice::from_ref(&aaaa),
            &[(vm1.clone(), RecordType::A)],
        )
        .await;
        self.apply_ok(case, p.as_ref(), &[Change::Delete(aaaa)])
            .await;
        self.expect_state(
            case,
            p.as_ref(),
            &zone,
            &[],
            &[(vm1.clone(), RecordType::A), (vm1, RecordType::Aaaa)],
        )
        .await;
    }

    async fn delete_missing_is_ok(&self) {
        let case = "delete-missing-is-ok";
        let zone = forward_zone(case);
        let p = self.backend.fresh_zone(&zone).await;
        let ghost = owner(&zone, "ghost");
        let gone = set(&ghost, RecordType::A, 300, &["192.0.2.9"]);
        let aaaa_gone = set(&ghost, RecordType::Aaaa, 300, &["2001:db8::9"]);
        self.apply_ok(
            case,
            p.as_ref(),
            &[Change::Delete(gone), Change::Delete(aaaa_gone)],
        )
        .await;
        self.expect_state(
            case,
            p.as_ref(),
            &zone,
            &[],
            &[(ghost.clone(), RecordType::A), (ghost, RecordType::Aaaa)],
        )
        .await;
    }

    async fn ptr_content(&self) {
        let case = "ptr-content";
        let zone = reverse_zone();
        let p = self.backend.fresh_zone(&zone).await;
        let ten = owner(&zone, "10");
        let eleven = owner(&zone, "11");
        // Given with a trailing dot and capitals: stored and read back in the one normal spelling.
        let ptr10 = set(&ten, RecordType::Ptr, 300, &["VM1.Example.com."]);
        let ptr11 = set(&eleven, RecordType::Ptr, 300, &["vm2.example.com"]);
        assert_eq!(
            ptr10.records.iter().next().map(String::as_str),
            Some("vm1.example.com")
        );
        self.apply_ok(
            case,
            p.as_ref(),
            &[Change::Create(ptr10.clone()), Change::Create(ptr11.clone())],
        )
        .await;
        self.expect_state(case, p.as_ref(), &zone, &[ptr10.clone(), ptr11], &[])
            .await;
        let renamed = set(&ten, RecordType::Ptr, 300, &["vm1-renamed.example.net"]);
        self.apply_ok(
            case,
            p.as_ref(),
            &[Change::Replace {
                from: ptr10,
                to: renamed.clone(),
            }],
        )
        .await;
        self.expect_state(case, p.as_ref(), &zone, &[renamed], &[])
            .await;
    }

    async fn aaaa_content(&self) {
        let case = "aaaa-content";
        let zone = forward_zone(case);
        let p = self.backend.fresh_zone(&zone).await;
        let vm1 = owner(&zone, "vm1");
        let aaaa = set(
            &vm1,
            RecordType::Aaaa,
            300,
            &["2001:DB8:0:0:0:0:0:1", "2001:db8::a:b"],
        );
        assert_eq!(
            aaaa.records,
            ["2001:db8::1", "2001:db8::a:b"]
                .iter()
                .map(|s| s.to_string())
                .collect::<BTreeSet<_>>()
        );
        self.apply_ok(case, p.as_ref(), &[Change::Create(aaaa.clone())])
            .await;
        self.expect_state(case, p.as_ref(), &zone, &[aaaa], &[(vm1, RecordType::A)])
            .await;
    }

    async fn batch_over_limit(&self) {
        let case = "batch-over-limit";
        let zone = forward_zone(case);
        let p = self.backend.fresh_zone(&zone).await;
        let n = self.backend.chunk_size() * 2 + 7;
        let sets: Vec<RrSet> = (0..n)
            .map(|i| {
                let ip = format!("192.0.{}.{}", 2 + i / 250, 1 + i % 250);
                set(
                    &owner(&zone, &format!("h{i}")),
                    RecordType::A,
                    300,
                    &[ip.as_str()],
                )
            })
            .collect();
        let changes: Vec<Change> = sets.iter().cloned().map(Change::Create).collect();
        self.apply_ok(case, p.as_ref(), &changes).await;

        // Around the provider: a spread of names, the first and the last among them.
        let step = (n / 20).max(1);
        for (i, want) in sets.iter().enumerate() {
            if i % step == 0 || i + 1 == n {
                let seen = self.backend.observe(&zone, &want.name, RecordType::A).await;
                assert_eq!(
                    seen,
                    want.records,
                    "{}: backend holds for {}",
                    self.at(case),
                    want.name
                );
            }
        }
        // Through the provider: every one of them.
        let names: Vec<DnsName> = sets.iter().map(|s| s.name.clone()).collect();
        let read: BTreeSet<RrSet> = p
            .rrsets(&names)
            .await
            .unwrap_or_else(|e| panic!("{}: rrsets failed: {e}", self.at(case)))
            .into_iter()
            .collect();
        let want: BTreeSet<RrSet> = sets.iter().cloned().collect();
        assert_eq!(
            read.len(),
            n,
            "{}: provider.rrsets returned {} of {n}",
            self.at(case),
            read.len()
        );
        assert_eq!(read, want, "{}: provider.rrsets", self.at(case));

        // And away again, in one apply.
        let deletes: Vec<Change> = sets.iter().cloned().map(Change::Delete).collect();
        self.apply_ok(case, p.as_ref(), &deletes).await;
        let left = p
            .rrsets(&names)
            .await
            .unwrap_or_else(|e| panic!("{}: rrsets failed: {e}", self.at(case)));
        assert!(
            left.is_empty(),
            "{}: {} RRsets left after deleting all",
            self.at(case),
            left.len()
        );
        let last = &sets[n - 1];
        let seen = self.backend.observe(&zone, &last.name, RecordType::A).await;
        assert!(
            seen.is_empty(),
            "{}: backend still holds {}: {seen:?}",
            self.at(case),
            last.name
        );
    }

    async fn one_bad_among_good(&self) {
        let case = "one-bad-among-good";
        let zone = forward_zone(case);
        let p = self.backend.fresh_zone(&zone).await;
        let good: Vec<RrSet> = (0..6)
            .map(|i| {
                let ip = format!("192.0.2.{}", 10 + i);
                set(
                    &owner(&zone, &format!("good{i}")),
                    RecordType::A,
                    300,
                    &[ip.as_str()],
                )
            })
            .collect();
        let bad_name = owner(&zone, "bad");
        let bad = set(&bad_name, RecordType::A, 300, &["192.0.2.999"]);
        let bad_at = 3;
        let mut changes: Vec<Change> = good.iter().cloned().map(Change::Create).collect();
        changes.insert(bad_at, Change::Create(bad));
        let report = self.apply(case, p.as_ref(), &changes).await;
        for (i, (change, outcome)) in changes.iter().zip(&report.outcomes).enumerate() {
            if i == bad_at {
                match outcome {
                    Err(ProviderError::Rejected { message }) => {
                        assert!(
                            !message.trim().is_empty(),
                            "{}: rejection without a message",
                            self.at(case)
                        );
                    }
                    other => panic!("{}: {change}: want Rejected, got {other:?}", self.at(case)),
                }
            } else if let Err(e) = outcome {
                panic!("{}: good change {change} failed: {e}", self.at(case));
            }
        }
        self.expect_state(case, p.as_ref(), &zone, &good, &[(bad_name, RecordType::A)])
            .await;
    }

    async fn auth_failure(&self) {
        let case = "auth-failure";
        let zone = forward_zone(case);
        let _good = self.backend.fresh_zone(&zone).await;
        let p = self.backend.with_bad_credentials(&zone).await;
        match p.check().await {
            Err(ProviderError::Auth { .. }) => {}
            other => panic!(
                "{}: check() with bad credentials: want Auth, got {other:?}",
                self.at(case)
            ),
        }
        let vm1 = owner(&zone, "vm1");
        let a = set(&vm1, RecordType::A, 300, &["192.0.2.1"]);
        match p.apply(&[Change::Create(a)]).await {
            Err(ProviderError::Auth { .. }) => {}
            other => panic!(
                "{}: apply() with bad credentials: want Err(Auth), got {other:?}",
                self.at(case)
            ),
        }
        let seen = self.backend.observe(&zone, &vm1, RecordType::A).await;
        assert!(
            seen.is_empty(),
            "{}: written with bad credentials: {seen:?}",
            self.at(case)
        );
    }

    async fn zone_mismatch(&self) {
        let case = "zone-mismatch";
        let configured = forward_zone("mismatch-configured");
        let actual = forward_zone("mismatch-actual");
        let _actual = self.backend.fresh_zone(&actual).await;
        let Some(p) = self.backend.mismatched(&configured, &actual).await else {
            return;
        };
        match p.check().await {
            Err(ProviderError::ZoneMismatch { expected, found }) => {
                assert_eq!(
                    DnsName::parse(&expected).ok(),
                    Some(configured),
                    "{}: expected",
                    self.at(case)
                );
                assert_eq!(
                    DnsName::parse(&found).ok(),
                    Some(actual),
                    "{}: found",
                    self.at(case)
                );
            }
            other => panic!("{}: want ZoneMismatch, got {other:?}", self.at(case)),
        }
    }

    async fn unknown_zone(&self) {
        let case = "unknown-zone";
        let zone = forward_zone(case);
        let p = self.backend.unknown_zone(&zone).await;
        match p.check().await {
            Err(ProviderError::ZoneNotFound { message }) => {
                assert!(
                    !message.trim().is_empty(),
                    "{}: ZoneNotFound without a message",
                    self.at(case)
                );
            }
            other => panic!("{}: want ZoneNotFound, got {other:?}", self.at(case)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_names_are_valid_and_never_repeat() {
        let mut seen = BTreeSet::new();
        for _ in 0..200 {
            assert!(seen.insert(forward_zone("create")));
            assert!(seen.insert(reverse_zone()));
        }
        let rev = reverse_zone();
        assert_eq!(rev.zone_kind(), vmdns_core::ZoneKind::ReverseV4);
        assert!(owner(&rev, "10").is_within(&rev));
    }
}
