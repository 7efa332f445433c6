//! PowerDNS Authoritative (4.7+) over its HTTP API: one PATCH per zone per apply, split only to stay below
//! the server's body limit, and a rejected PATCH bisected until the bad RRsets are found.
//!
//! - [`client`]: URLs, the zone id, headers, status codes → [`ProviderError`].
//! - [`types`]: the wire structs.

mod client;
mod types;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::task::JoinSet;
use vmdns_core::{Change, DnsName, RecordType, RrSet};

use crate::http::Http;
use crate::settings;
use crate::{
    ApplyReport, Provider, ProviderContext, ProviderError, ProviderKind, Settings, SettingsError,
    ZoneInfo,
};
use client::{Client, PatchResult};
use types::{ChangeType, PatchRrSet, Record};

#[cfg(feature = "testing")]
pub(crate) use client::zone_id;

/// Above this many names, [`Provider::rrsets`] reads the whole zone once instead of one RRset name at a time.
const MANY_NAMES: usize = 20;
/// Name-by-name reads in flight at once.
const PARALLEL_READS: usize = 4;
/// `{"rrsets":[` + `]}`.
const BODY_OVERHEAD: usize = r#"{"rrsets":[]}"#.len();

/// One zone at a PowerDNS server.
#[derive(Debug)]
pub struct PowerDns {
    zone: DnsName,
    client: Client,
    max_body_bytes: usize,
    /// Writes to one server go one at a time (see [`ProviderContext::write_lock`]).
    write_lock: Arc<tokio::sync::Mutex<()>>,
}

impl PowerDns {
    /// Settings: `server_url`, `api_key` (secret), `server_id` (default `localhost`), `max_body_bytes`
    /// (default 1,000,000; PATCH bodies are split to stay at or below it).
    pub fn new(
        zone: DnsName,
        settings: &Settings,
        ctx: &ProviderContext,
    ) -> Result<Self, SettingsError> {
        let kind = ProviderKind::Powerdns;
        let required = |key: &str| {
            settings::get(kind, settings, key).ok_or_else(|| SettingsError::new(key, "is required"))
        };
        let server_url = required("server_url")?;
        let api_key = required("api_key")?;
        let server_id = settings::get(kind, settings, "server_id").unwrap_or("localhost");
        let max_body_bytes = settings::get(kind, settings, "max_body_bytes")
            .unwrap_or("1000000")
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                SettingsError::new("max_body_bytes", "must be a whole number of at least 1")
            })?;
        let http = Http::new(
            Http::default_client(ctx.http_config()),
            ctx.http_config().clone(),
            None,
            ctx.stats(ProviderKind::Powerdns),
        );
        let client = Client::new(http, server_url, server_id, &zone, api_key)?;
        let write_lock = ctx.write_lock(&format!("powerdns {server_url} {server_id}"));
        Ok(Self {
            zone,
            client,
            max_body_bytes,
            write_lock,
        })
    }
}

#[async_trait]
impl Provider for PowerDns {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Powerdns
    }

    fn zone(&self) -> &DnsName {
        &self.zone
    }

    async fn check(&self) -> Result<ZoneInfo, ProviderError> {
        let zone = self.client.get_zone(&[("rrsets", "false")]).await?;
        let found = DnsName::parse(&zone.name).map_err(|e| {
            ProviderError::transient(format!("malformed answer: zone name {:?}: {e}", zone.name))
        })?;
        if found != self.zone {
            return Err(ProviderError::ZoneMismatch {
                expected: self.zone.to_string(),
                found: found.to_string(),
            });
        }
        let mut facts = Vec::new();
        if !zone.kind.is_empty() {
            facts.push(zone.kind.clone());
        }
        if let Some(serial) = zone.serial {
            facts.push(format!("serial {serial}"));
        }
        let details = if facts.is_empty() {
            String::new()
        } else {
            format!(" ({})", facts.join(", "))
        };
        Ok(ZoneInfo {
            message: format!("zone {found} found on PowerDNS{details}"),
            name: found,
        })
    }

    async fn rrsets(&self, names: &[DnsName]) -> Result<Vec<RrSet>, ProviderError> {
        let wanted: BTreeSet<DnsName> = names
            .iter()
            .filter(|n| n.is_within(&self.zone))
            .cloned()
            .collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let wire = if wanted.len() > MANY_NAMES {
            self.client.get_zone(&[]).await?.rrsets
        } else {
            self.read_by_name(&wanted).await?
        };
        let mut found: BTreeMap<(DnsName, RecordType), RrSet> = BTreeMap::new();
        for set in wire {
            if let Some(set) = managed_rrset(&set).filter(|s| wanted.contains(&s.name)) {
                found.insert((set.name.clone(), set.rtype), set);
            }
        }
        Ok(found.into_values().collect())
    }

    async fn apply(&self, changes: &[Change]) -> Result<ApplyReport, ProviderError> {
        if changes.is_empty() {
            return Ok(ApplyReport::default());
        }
        let members = changes
            .iter()
            .map(|c| {
                serde_json::to_vec(&patch_member(c)).map_err(|e| {
                    ProviderError::transient(format!("cannot encode the PATCH body: {e}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let _one_writer = self.write_lock.lock().await;
        let outcomes = apply_members(&members, self.max_body_bytes, |body| {
            self.client.patch(body)
        })
        .await?;
        Ok(ApplyReport { outcomes })
    }
}

impl PowerDns {
    /// One `rrset_name=NAME.` read per name, a few at a time.
    async fn read_by_name(
        &self,
        names: &BTreeSet<DnsName>,
    ) -> Result<Vec<types::RrSet>, ProviderError> {
        let names: Vec<String> = names.iter().map(DnsName::to_fqdn).collect();
        let mut out = Vec::new();
        for window in names.chunks(PARALLEL_READS) {
            let mut reads = JoinSet::new();
            for name in window {
                let client = self.client.clone();
                let name = name.clone();
                reads.spawn(async move { client.get_zone(&[("rrset_name", name.as_str())]).await });
            }
            while let Some(joined) = reads.join_next().await {
                let zone = joined
                    .map_err(|e| ProviderError::transient(format!("read task failed: {e}")))??;
                out.extend(zone.rrsets);
            }
        }
        Ok(out)
    }
}

/// An RRset as vmdns sees it, or `None` for types vmdns does not manage, names it cannot parse and RRsets
/// whose records are all disabled. Disabled records are left out.
fn managed_rrset(set: &types::RrSet) -> Option<RrSet> {
    let rtype: RecordType = set.rtype.parse().ok()?;
    let name = DnsName::parse(&set.name).ok()?;
    let contents: Vec<&str> = set
        .records
        .iter()
        .filter(|r| !r.disabled)
        .map(|r| r.content.as_str())
        .collect();
    if contents.is_empty() {
        return None;
    }
    Some(RrSet::new(name, rtype, set.ttl, contents))
}

/// One change as a member of a PATCH body: create and replace swap the whole RRset, delete removes it.
fn patch_member(change: &Change) -> PatchRrSet {
    match change {
        Change::Create(set) | Change::Replace { to: set, .. } => PatchRrSet {
            name: set.name.to_fqdn(),
            rtype: set.rtype.as_str(),
            ttl: Some(set.ttl),
            changetype: ChangeType::Replace,
            records: Some(
                set.contents_absolute()
                    .map(|content| Record {
                        content,
                        disabled: false,
                    })
                    .collect(),
            ),
        },
        Change::Delete(set) => PatchRrSet {
            name: set.name.to_fqdn(),
            rtype: set.rtype.as_str(),
            ttl: None,
            changetype: ChangeType::Delete,
            records: None,
        },
    }
}

/// The size of the body made of `members`.
fn body_len(members: &[Vec<u8>]) -> usize {
    BODY_OVERHEAD + members.iter().map(Vec::len).sum::<usize>() + members.len().saturating_sub(1)
}

/// `{"rrsets":[m1,m2,...]}` from members serialised beforehand.
fn body(members: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body_len(members));
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

/// Consecutive runs of members whose bodies stay at or below `max` bytes. A member too big on its own
/// goes alone (the server decides).
fn split_bodies(members: &[Vec<u8>], max: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut len = BODY_OVERHEAD;
    for (i, m) in members.iter().enumerate() {
        let extra = m.len() + usize::from(i > start);
        if i > start && len + extra > max {
            out.push(start..i);
            start = i;
            len = BODY_OVERHEAD + m.len();
        } else {
            len += extra;
        }
    }
    if start < members.len() {
        out.push(start..members.len());
    }
    out
}

/// Sends `members` in as few PATCHes as `max` bytes allow. PowerDNS applies a PATCH whole or not at all
/// and names only the first bad RRset, so a refused body (`422`, or `400`, which an over-size body also
/// gets) is halved and each half sent again, until the bad members stand alone. An error of the whole
/// call (credentials, zone gone, server down) stops at once.
async fn apply_members<F, Fut>(
    members: &[Vec<u8>],
    max: usize,
    mut send: F,
) -> Result<Vec<Result<(), ProviderError>>, ProviderError>
where
    F: FnMut(Vec<u8>) -> Fut,
    Fut: Future<Output = Result<PatchResult, ProviderError>>,
{
    let mut outcomes: Vec<Result<(), ProviderError>> = members.iter().map(|_| Ok(())).collect();
    let mut queue: VecDeque<Range<usize>> = split_bodies(members, max).into();
    let mut requests = 0usize;
    while let Some(range) = queue.pop_front() {
        requests += 1;
        match send(body(&members[range.clone()])).await? {
            PatchResult::Applied => {}
            PatchResult::Invalid(message) if range.len() > 1 => {
                tracing::debug!(rrsets = range.len(), error = %message, "PowerDNS refused a PATCH; splitting it");
                let mid = range.start + range.len() / 2;
                queue.push_front(mid..range.end);
                queue.push_front(range.start..mid);
            }
            PatchResult::Invalid(message) | PatchResult::Refused(message) => {
                tracing::debug!(rrsets = range.len(), error = %message, "PowerDNS rejected RRsets");
                for i in range {
                    outcomes[i] = Err(ProviderError::rejected(message.clone()));
                }
            }
        }
    }
    tracing::debug!(rrsets = members.len(), requests, "PowerDNS PATCH done");
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    fn n(s: &str) -> DnsName {
        DnsName::parse(s).expect("valid test name")
    }

    fn member(i: usize) -> Vec<u8> {
        serde_json::to_vec(&patch_member(&Change::Create(RrSet::new(
            n(&format!("h{i}.example.com")),
            RecordType::A,
            300,
            ["192.0.2.1"],
        ))))
        .expect("serialise")
    }

    #[test]
    fn members_carry_absolute_contents_and_no_ttl_on_delete() {
        let ptr = RrSet::new(
            n("10.2.0.192.in-addr.arpa"),
            RecordType::Ptr,
            300,
            ["VM1.example.com."],
        );
        let created =
            serde_json::to_string(&patch_member(&Change::Create(ptr.clone()))).expect("ser");
        assert_eq!(
            created,
            r#"{"name":"10.2.0.192.in-addr.arpa.","type":"PTR","ttl":300,"changetype":"REPLACE","records":[{"content":"vm1.example.com.","disabled":false}]}"#
        );
        let aaaa = RrSet::new(
            n("vm1.example.com"),
            RecordType::Aaaa,
            60,
            ["2001:DB8::1", "2001:db8::2"],
        );
        let replaced = serde_json::to_string(&patch_member(&Change::Replace {
            from: aaaa.clone(),
            to: aaaa,
        }))
        .expect("ser");
        assert!(replaced.contains(r#""ttl":60,"changetype":"REPLACE","records":[{"content":"2001:db8::1","disabled":false},{"content":"2001:db8::2","disabled":false}]"#), "{replaced}");
        let deleted = serde_json::to_string(&patch_member(&Change::Delete(ptr))).expect("ser");
        assert_eq!(
            deleted,
            r#"{"name":"10.2.0.192.in-addr.arpa.","type":"PTR","changetype":"DELETE"}"#
        );
    }

    #[test]
    fn body_is_valid_json_of_the_measured_size() {
        let members: Vec<Vec<u8>> = (0..5).map(member).collect();
        for k in 0..=members.len() {
            let b = body(&members[..k]);
            assert_eq!(b.len(), body_len(&members[..k]));
            let v: serde_json::Value = serde_json::from_slice(&b).expect("valid json");
            assert_eq!(v["rrsets"].as_array().map(Vec::len), Some(k));
        }
    }

    #[test]
    fn bodies_split_only_at_the_limit() {
        let members: Vec<Vec<u8>> = (0..100).map(member).collect();
        assert_eq!(split_bodies(&members, 1_000_000), vec![0..100]);
        for max in [1, 50, 200, 500, 1000, 3333, 10_000] {
            let ranges = split_bodies(&members, max);
            // Covers every member once, in order.
            let flat: Vec<usize> = ranges.iter().flat_map(Clone::clone).collect();
            assert_eq!(flat, (0..100).collect::<Vec<_>>(), "max {max}");
            for r in &ranges {
                let len = body_len(&members[r.clone()]);
                assert!(
                    len <= max || r.len() == 1,
                    "max {max}: {r:?} is {len} bytes"
                );
            }
            // Greedy: no two neighbours would have fitted together.
            for w in ranges.windows(2) {
                assert!(
                    body_len(&members[w[0].start..w[1].start + 1]) > max,
                    "max {max}: {w:?}"
                );
            }
        }
        assert!(split_bodies(&[], 10).is_empty());
    }

    /// A PowerDNS stand-in: refuses a body holding any member whose index is in `bad` (naming the first),
    /// applies the others.
    struct Server {
        bad: BTreeSet<usize>,
        applied: Mutex<Vec<usize>>,
        requests: Mutex<usize>,
        refuse_with: fn(String) -> PatchResult,
    }

    impl Server {
        fn new(bad: &[usize]) -> Self {
            Self {
                bad: bad.iter().copied().collect(),
                applied: Mutex::new(Vec::new()),
                requests: Mutex::new(0),
                refuse_with: PatchResult::Invalid,
            }
        }

        async fn patch(&self, body: Vec<u8>) -> Result<PatchResult, ProviderError> {
            *self.requests.lock().expect("lock") += 1;
            let v: serde_json::Value = serde_json::from_slice(&body).expect("valid json");
            let idx: Vec<usize> = v["rrsets"]
                .as_array()
                .expect("rrsets")
                .iter()
                .map(|m| {
                    let name = m["name"].as_str().expect("name");
                    name.trim_start_matches('h')
                        .split('.')
                        .next()
                        .expect("label")
                        .parse()
                        .expect("index")
                })
                .collect();
            if let Some(first_bad) = idx.iter().find(|i| self.bad.contains(i)) {
                return Ok((self.refuse_with)(format!(
                    "RRset h{first_bad}.example.com. IN A: bad"
                )));
            }
            self.applied.lock().expect("lock").extend(idx);
            Ok(PatchResult::Applied)
        }
    }

    #[tokio::test]
    async fn bisect_isolates_the_bad_members_and_applies_the_rest() {
        let members: Vec<Vec<u8>> = (0..64).map(member).collect();
        for bad in [
            vec![],
            vec![0],
            vec![37],
            vec![63],
            vec![5, 6],
            vec![1, 30, 62],
        ] {
            let server = Server::new(&bad);
            let outcomes = apply_members(&members, 1_000_000, |b| server.patch(b))
                .await
                .expect("no call error");
            assert_eq!(outcomes.len(), 64);
            for (i, o) in outcomes.iter().enumerate() {
                if bad.contains(&i) {
                    assert_eq!(
                        o,
                        &Err(ProviderError::rejected(format!(
                            "RRset h{i}.example.com. IN A: bad"
                        ))),
                        "bad {bad:?}"
                    );
                } else {
                    assert_eq!(o, &Ok(()), "bad {bad:?}, member {i}");
                }
            }
            let mut applied = server.applied.lock().expect("lock").clone();
            applied.sort_unstable();
            let want: Vec<usize> = (0..64).filter(|i| !bad.contains(i)).collect();
            assert_eq!(applied, want, "bad {bad:?}");
            // One request when all is well; about 2·log2(64) more per bad member otherwise.
            let requests = *server.requests.lock().expect("lock");
            assert!(
                requests <= 1 + bad.len() * 12,
                "bad {bad:?}: {requests} requests"
            );
        }
    }

    #[tokio::test]
    async fn bisect_happens_inside_each_split_body() {
        let members: Vec<Vec<u8>> = (0..40).map(member).collect();
        let max = body_len(&members[..10]);
        assert!(split_bodies(&members, max).len() >= 4);
        let server = Server::new(&[25]);
        let outcomes = apply_members(&members, max, |b| server.patch(b))
            .await
            .expect("ok");
        assert_eq!(outcomes.iter().filter(|o| o.is_err()).count(), 1);
        assert!(outcomes[25].is_err());
        assert_eq!(server.applied.lock().expect("lock").len(), 39);
    }

    #[tokio::test]
    async fn refused_bodies_are_not_split() {
        let members: Vec<Vec<u8>> = (0..8).map(member).collect();
        let mut server = Server::new(&[3]);
        server.refuse_with = PatchResult::Refused;
        let outcomes = apply_members(&members, 1_000_000, |b| server.patch(b))
            .await
            .expect("ok");
        assert!(
            outcomes
                .iter()
                .all(|o| o == &Err(ProviderError::rejected("RRset h3.example.com. IN A: bad")))
        );
        assert_eq!(*server.requests.lock().expect("lock"), 1);
    }

    #[tokio::test]
    async fn a_call_error_stops_everything() {
        let members: Vec<Vec<u8>> = (0..8).map(member).collect();
        let calls = Mutex::new(0);
        let err = apply_members(&members, body_len(&members[..2]), |_| {
            *calls.lock().expect("lock") += 1;
            async {
                Err(ProviderError::Auth {
                    message: "Unauthorized".into(),
                })
            }
        })
        .await
        .expect_err("auth");
        assert_eq!(err.kind(), "auth");
        assert_eq!(*calls.lock().expect("lock"), 1);
    }

    #[test]
    fn managed_rrsets_skip_other_types_and_disabled_records() {
        let wire: Vec<types::RrSet> = serde_json::from_str(
            r#"[
              {"name":"example.com.","type":"SOA","ttl":3600,"records":[{"content":"a. b. 1 2 3 4 5","disabled":false}]},
              {"name":"vm1.example.com.","type":"A","ttl":300,"records":[
                 {"content":"192.0.2.1","disabled":false},{"content":"192.0.2.2","disabled":true}]},
              {"name":"vm2.example.com.","type":"A","ttl":300,"records":[{"content":"192.0.2.3","disabled":true}]},
              {"name":"10.2.0.192.in-addr.arpa.","type":"PTR","ttl":60,"records":[{"content":"VM1.example.com.","disabled":false}]}
            ]"#,
        )
        .expect("parse");
        let got: Vec<RrSet> = wire.iter().filter_map(managed_rrset).collect();
        assert_eq!(
            got,
            vec![
                RrSet::new(n("vm1.example.com"), RecordType::A, 300, ["192.0.2.1"]),
                RrSet::new(
                    n("10.2.0.192.in-addr.arpa"),
                    RecordType::Ptr,
                    60,
                    ["vm1.example.com"]
                ),
            ]
        );
    }

    #[test]
    fn settings_are_checked_without_echoing_the_key() {
        let ctx = ProviderContext::default();
        let s = |pairs: &[(&str, &str)]| -> Settings {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let ok = PowerDns::new(
            n("example.com"),
            &s(&[("server_url", "http://127.0.0.1:1"), ("api_key", "k")]),
            &ctx,
        )
        .expect("valid");
        assert_eq!(ok.max_body_bytes, 1_000_000);
        let small = PowerDns::new(
            n("example.com"),
            &s(&[
                ("server_url", "http://127.0.0.1:1"),
                ("api_key", "k"),
                ("max_body_bytes", "5000"),
            ]),
            &ctx,
        )
        .expect("valid");
        assert_eq!(small.max_body_bytes, 5000);
        let missing =
            PowerDns::new(n("example.com"), &s(&[("api_key", "k")]), &ctx).expect_err("no url");
        assert_eq!(missing.field, "server_url");
        let bad_key = PowerDns::new(
            n("example.com"),
            &s(&[("server_url", "http://x"), ("api_key", "top\nsecret")]),
            &ctx,
        )
        .expect_err("bad key");
        assert!(!bad_key.to_string().contains("secret"));
        assert!(!format!("{ok:?}").contains("\"k\""));
    }

    #[cfg(feature = "testing")]
    mod over_http {
        //! The provider against a tiny in-process server: headers, status codes, read strategies.

        use std::sync::Arc;

        use axum::Router;
        use axum::extract::{Query, State};
        use axum::http::{HeaderMap, StatusCode};
        use axum::response::IntoResponse;
        use axum::routing::get;

        use super::*;

        #[derive(Default)]
        struct Seen {
            gets: Mutex<Vec<Option<String>>>,
            keys: Mutex<Vec<(Option<String>, Option<String>)>>,
        }

        async fn zone(
            State(seen): State<Arc<Seen>>,
            headers: HeaderMap,
            Query(q): Query<BTreeMap<String, String>>,
        ) -> impl IntoResponse {
            let header = |k: &str| {
                headers
                    .get(k)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            seen.keys
                .lock()
                .expect("lock")
                .push((header("x-api-key"), header("accept")));
            seen.gets
                .lock()
                .expect("lock")
                .push(q.get("rrset_name").cloned());
            if header("x-api-key").as_deref() != Some("good") {
                return (StatusCode::UNAUTHORIZED, r#"{"error": "Unauthorized"}"#).into_response();
            }
            let sets: Vec<String> = (0..30)
                .map(|i| format!(r#"{{"name":"h{i}.example.com.","type":"A","ttl":300,"records":[{{"content":"192.0.2.{i}","disabled":false}}]}}"#))
                .filter(|s| q.get("rrset_name").is_none_or(|n| s.contains(&format!("\"{n}\""))))
                .collect();
            let body = format!(
                r#"{{"name":"example.com.","kind":"Native","serial":7,"rrsets":[{}]}}"#,
                sets.join(",")
            );
            (StatusCode::OK, body).into_response()
        }

        async fn serve(seen: Arc<Seen>) -> String {
            let app = Router::new()
                .route("/api/v1/servers/localhost/zones/example.com.", get(zone))
                .with_state(seen);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            tokio::spawn(async move { axum::serve(listener, app).await });
            format!("http://{addr}")
        }

        fn provider(url: &str, zone: &str, key: &str) -> PowerDns {
            let settings: Settings = [("server_url", url), ("api_key", key)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            PowerDns::new(n(zone), &settings, &ProviderContext::default()).expect("provider")
        }

        #[tokio::test]
        async fn sends_key_and_accept_and_reads_the_zone() {
            let seen = Arc::new(Seen::default());
            let url = serve(seen.clone()).await;
            let info = provider(&url, "example.com", "good")
                .check()
                .await
                .expect("check");
            assert_eq!(
                info.message,
                "zone example.com found on PowerDNS (Native, serial 7)"
            );
            assert_eq!(
                seen.keys.lock().expect("lock")[0],
                (
                    Some("good".to_string()),
                    Some("application/json".to_string())
                )
            );
            let err = provider(&url, "example.com", "bad-key-value")
                .check()
                .await
                .expect_err("401");
            assert_eq!(
                err,
                ProviderError::Auth {
                    message: "Unauthorized".into()
                }
            );
            assert!(!err.to_string().contains("bad-key-value"));
            let err = provider(&url, "other.example", "good")
                .check()
                .await
                .expect_err("404");
            assert_eq!(
                err.to_string(),
                "zone other.example does not exist on the server (404 Not Found: Not Found)"
            );
        }

        #[tokio::test]
        async fn few_names_are_read_one_by_one_many_at_once() {
            let seen = Arc::new(Seen::default());
            let url = serve(seen.clone()).await;
            let p = provider(&url, "example.com", "good");
            let few: Vec<DnsName> = [1, 2, 3]
                .iter()
                .map(|i| n(&format!("h{i}.example.com")))
                .collect();
            let got = p.rrsets(&few).await.expect("rrsets");
            assert_eq!(got.len(), 3);
            assert_eq!(
                got[0],
                RrSet::new(n("h1.example.com"), RecordType::A, 300, ["192.0.2.1"])
            );
            let mut gets = seen.gets.lock().expect("lock").clone();
            gets.sort();
            assert_eq!(
                gets,
                vec![
                    Some("h1.example.com.".to_string()),
                    Some("h2.example.com.".to_string()),
                    Some("h3.example.com.".to_string())
                ]
            );
            seen.gets.lock().expect("lock").clear();
            let mut many: Vec<DnsName> = (0..25).map(|i| n(&format!("h{i}.example.com"))).collect();
            many.push(n("elsewhere.example.org"));
            let got = p.rrsets(&many).await.expect("rrsets");
            assert_eq!(got.len(), 25);
            assert_eq!(*seen.gets.lock().expect("lock"), vec![None]);
        }
    }
}
