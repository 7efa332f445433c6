//! Cloudflare provider: one zone (by zone id) at the Cloudflare API v4, written through the DNS batch
//! endpoint.
//!
//! - `check`: `GET /zones/{id}` (its name must be the configured zone), then the token:
//!   `GET /user/tokens/verify`, falling back to `GET /accounts/{account_id}/tokens/verify` for
//!   account-owned tokens (which the user endpoint answers with code 1000).
//! - `rrsets`: one name is read with `?name=`; several names read the whole zone (one page up to 5,000
//!   records, so the PTRs of a VM's addresses in one reverse zone cost one request), unless the zone is
//!   known to be bigger than a page, when up to four names are read one by one. A/AAAA/CNAME/PTR are
//!   kept, grouped into RRsets, and every record id seen is remembered.
//! - `apply`: Cloudflare has records, not RRsets: each change is diffed against the records last read
//!   (contents that go are deleted, contents that come are posted, identical ones kept, a TTL change is a
//!   patch) and everything goes into `POST /dns_records/batch`, chunked to `batch_size` records. A deploy
//!   thus costs one read and one write per zone. A batch is one transaction: when it fails, it is split in
//!   halves until the bad change is alone, so good changes land and the bad one is reported with
//!   Cloudflare's code and message. Without the batch endpoint, single-record calls are used.
//!
//! TTL: Cloudflare's `ttl: 1` ("automatic") is 300 seconds for DNS-only records, and is read as 300 so a
//! desired TTL of 300 does not rewrite it. When the records of one RRset carry different TTLs, the RRset
//! is read with TTL 0 ("mixed"), which no desired RRset has, so the next plan replaces it and the odd
//! records are patched.
//!
//! Record ids never leave this module.

mod client;
mod types;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tokio::time::Instant;
use url::Url;
use vmdns_core::{Change, DnsName, RecordType, RrKey, RrSet};

use self::client::{ApiError, CallError, Client};
use self::types::{BatchRequest, BatchResult, DnsRecord, IdRef, RecordBody};
use crate::http::{Http, RateLimiter};
use crate::settings;
use crate::{
    ApplyReport, Provider, ProviderContext, ProviderError, ProviderKind, Settings, SettingsError,
    ZoneInfo,
};

/// What `ttl: 1` ("automatic") means for a DNS-only record.
pub const AUTO_TTL: u32 = 300;
/// The TTL an RRset is read with when its records disagree (see the module docs).
pub const MIXED_TTL: u32 = 0;
/// Cloudflare's rate-limit window.
const RATE_WINDOW: Duration = Duration::from_secs(300);
/// In a zone bigger than one page, up to this many names are read one `?name=` query each; more read
/// the whole zone.
const PER_NAME_READS: usize = 4;
/// Record ids older than this are read again before they are used.
const CACHE_MAX_AGE: Duration = Duration::from_secs(600);
/// After the batch endpoint was found missing, single-record calls are used this long before it is tried
/// again.
const BATCH_REPROBE: Duration = Duration::from_secs(3600);

/// Invalid token, missing or malformed credentials, not allowed.
const AUTH_CODES: &[i64] = &[1000, 6003, 6111, 9103, 9106, 9109, 10000];
/// "Could not route to /zones/..., perhaps your object identifier is invalid?"
const ZONE_GONE: &[i64] = &[7003];
/// "No route for that URI".
const NO_ROUTE: &[i64] = &[7000];
/// "Record already exists." / "An identical record already exists."
const ALREADY_EXISTS: &[i64] = &[81057, 81058];
/// "Record does not exist."
const NO_SUCH_RECORD: &[i64] = &[81044];

/// One Cloudflare zone.
#[derive(Debug)]
pub struct Cloudflare {
    zone: DnsName,
    client: Client,
    batch_size: usize,
    /// Record ids from the last read (and the writes since), per RRset.
    cache: Mutex<HashMap<RrKey, CacheEntry>>,
    /// When the batch endpoint was last found missing.
    batch_missing_since: Mutex<Option<Instant>>,
    /// Records in the zone at the last whole-zone read.
    zone_size: Mutex<Option<usize>>,
}

#[derive(Debug, Clone)]
struct CacheEntry {
    read_at: Instant,
    records: Vec<Cached>,
}

/// One record as read: its id, its normalised content and its TTL as Cloudflare has it (1 = auto).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cached {
    id: String,
    content: String,
    ttl: u32,
}

impl Cached {
    fn effective_ttl(&self) -> u32 {
        effective_ttl(self.ttl)
    }
}

fn effective_ttl(ttl: u32) -> u32 {
    if ttl == 1 { AUTO_TTL } else { ttl }
}

/// The record operations of one change (or of a slice of one, when an RRset has more records than fit in
/// one batch), in the order Cloudflare runs them.
#[derive(Debug, Clone)]
struct Unit {
    /// The change's position in the `apply` call.
    index: usize,
    key: RrKey,
    ttl: u32,
    deletes: Vec<Cached>,
    /// Kept records whose TTL changes.
    patches: Vec<Cached>,
    /// Contents to add.
    posts: Vec<String>,
}

impl Unit {
    fn len(&self) -> usize {
        self.deletes.len() + self.patches.len() + self.posts.len()
    }

    fn body(&self, id: Option<&str>, content: &str) -> RecordBody {
        RecordBody {
            id: id.map(str::to_string),
            rtype: self.key.rtype.as_str(),
            name: self.key.name.as_str().to_string(),
            content: content.to_string(),
            ttl: self.ttl,
        }
    }

    /// Cuts the unit into pieces of at most `max` operations, keeping the order deletes → patches → posts.
    fn split(self, max: usize) -> Vec<Unit> {
        if self.len() <= max {
            return vec![self];
        }
        enum Op {
            Delete(Cached),
            Patch(Cached),
            Post(String),
        }
        let ops: Vec<Op> = self
            .deletes
            .iter()
            .cloned()
            .map(Op::Delete)
            .chain(self.patches.iter().cloned().map(Op::Patch))
            .chain(self.posts.iter().cloned().map(Op::Post))
            .collect();
        let mut out = Vec::new();
        let mut piece = self.empty_like();
        for op in ops {
            if piece.len() >= max {
                out.push(std::mem::replace(&mut piece, self.empty_like()));
            }
            match op {
                Op::Delete(c) => piece.deletes.push(c),
                Op::Patch(c) => piece.patches.push(c),
                Op::Post(c) => piece.posts.push(c),
            }
        }
        if piece.len() > 0 {
            out.push(piece);
        }
        out
    }

    fn empty_like(&self) -> Unit {
        Unit {
            index: self.index,
            key: self.key.clone(),
            ttl: self.ttl,
            deletes: Vec::new(),
            patches: Vec::new(),
            posts: Vec::new(),
        }
    }
}

impl Cloudflare {
    pub fn new(
        zone: DnsName,
        settings: &Settings,
        ctx: &ProviderContext,
    ) -> Result<Self, SettingsError> {
        let kind = ProviderKind::Cloudflare;
        let get = |key: &'static str| {
            settings::get(kind, settings, key).ok_or_else(|| SettingsError::new(key, "is required"))
        };
        let account_id = id_setting("account_id", get("account_id")?)?;
        let zone_id = id_setting("zone_id", get("zone_id")?)?;
        let token = get("api_token")?.to_string();
        if token.chars().any(|c| !c.is_ascii_graphic()) {
            return Err(SettingsError::new(
                "api_token",
                "must be one word of printable ASCII characters",
            ));
        }
        let api_url = Url::parse(get("api_url")?)
            .map_err(|e| SettingsError::new("api_url", format!("is not a valid URL ({e})")))?;
        if !matches!(api_url.scheme(), "http" | "https") || api_url.cannot_be_a_base() {
            return Err(SettingsError::new(
                "api_url",
                "must start with http:// or https://",
            ));
        }
        let batch_size = count_setting("batch_size", get("batch_size")?)?;
        let rate_limit = count_setting("rate_limit", get("rate_limit")?)?;
        let rate_limit = u32::try_from(rate_limit).unwrap_or(u32::MAX);

        // One budget per token, shared by every zone using it; the key is a hash so it can be printed.
        let key = format!(
            "cloudflare:{}",
            hex::encode(Sha256::digest(token.as_bytes()))
        );
        let limiter = ctx.limiter(&key, || RateLimiter::per_window(rate_limit, RATE_WINDOW));
        let config = ctx.http_config().clone();
        let http = Http::new(
            Http::default_client(&config),
            config,
            Some(limiter),
            ctx.stats(kind),
        );
        Ok(Self {
            zone,
            client: Client::new(http, api_url, token, zone_id, account_id),
            batch_size,
            cache: Mutex::new(HashMap::new()),
            batch_missing_since: Mutex::new(None),
            zone_size: Mutex::new(None),
        })
    }

    /// Reads the records at `names` (see the module docs for how), refreshes the id cache for every
    /// (name, managed type) asked about, and returns what was found.
    async fn read(
        &self,
        names: &BTreeSet<DnsName>,
    ) -> Result<BTreeMap<RrKey, Vec<Cached>>, ProviderError> {
        let big_zone = lock(&self.zone_size).is_some_and(|n| n as u64 > client::PER_PAGE);
        let one_by_one = names.len() == 1 || (big_zone && names.len() <= PER_NAME_READS);
        let raw: Vec<DnsRecord> = if one_by_one {
            let mut all = Vec::new();
            for name in names {
                let found = self.client.list_records(Some(name.as_str())).await;
                all.extend(found.map_err(zone_call_error)?);
            }
            all
        } else {
            let all = self
                .client
                .list_records(None)
                .await
                .map_err(zone_call_error)?;
            *lock(&self.zone_size) = Some(all.len());
            all
        };
        let mut sets: BTreeMap<RrKey, Vec<Cached>> = names
            .iter()
            .flat_map(|n| {
                RecordType::ALL.map(|rtype| {
                    (
                        RrKey {
                            name: n.clone(),
                            rtype,
                        },
                        Vec::new(),
                    )
                })
            })
            .collect();
        for r in raw {
            let (Ok(rtype), Ok(name)) = (r.rtype.parse::<RecordType>(), DnsName::parse(&r.name))
            else {
                continue;
            };
            let Some(set) = sets.get_mut(&RrKey { name, rtype }) else {
                continue;
            };
            let content = rtype.normalize_content(&r.content);
            if !set.iter().any(|c| c.content == content) {
                set.push(Cached {
                    id: r.id,
                    content,
                    ttl: r.ttl,
                });
            }
        }
        let now = Instant::now();
        let mut cache = lock(&self.cache);
        for (key, records) in &sets {
            cache.insert(
                key.clone(),
                CacheEntry {
                    read_at: now,
                    records: records.clone(),
                },
            );
        }
        Ok(sets)
    }

    /// The records of `key` as last read, if that read is recent enough.
    fn cached(&self, key: &RrKey) -> Option<Vec<Cached>> {
        lock(&self.cache)
            .get(key)
            .filter(|e| e.read_at.elapsed() < CACHE_MAX_AGE)
            .map(|e| e.records.clone())
    }

    fn forget(&self, key: &RrKey) {
        lock(&self.cache).remove(key);
    }

    /// Applies what a unit did to the cache (only for RRsets the cache knows completely).
    fn remember(&self, unit: &Unit, posted: &[(String, String)]) {
        let mut cache = lock(&self.cache);
        let Some(entry) = cache.get_mut(&unit.key) else {
            return;
        };
        entry
            .records
            .retain(|c| !unit.deletes.iter().any(|d| d.id == c.id));
        for c in &mut entry.records {
            if unit.patches.iter().any(|p| p.id == c.id) {
                c.ttl = unit.ttl;
            }
        }
        for (content, id) in posted {
            entry.records.retain(|c| &c.content != content);
            entry.records.push(Cached {
                id: id.clone(),
                content: content.clone(),
                ttl: unit.ttl,
            });
        }
    }

    /// The record operations that turn the RRset as read into what `change` wants.
    fn diff(&self, index: usize, change: &Change, current: Option<Vec<Cached>>) -> Unit {
        let key = change.key();
        let target = change.target();
        let current = current.unwrap_or_default();
        let have: BTreeSet<String> = current.iter().map(|c| c.content.clone()).collect();
        let mut unit = Unit {
            index,
            key,
            ttl: target.ttl,
            deletes: Vec::new(),
            patches: Vec::new(),
            posts: Vec::new(),
        };
        match change {
            Change::Delete(_) => unit.deletes = current,
            Change::Create(_) | Change::Replace { .. } => {
                for c in current {
                    if target.records.contains(&c.content) {
                        if c.effective_ttl() != target.ttl {
                            unit.patches.push(c);
                        }
                    } else if matches!(change, Change::Replace { .. }) {
                        // A create never deletes: what it finds there was not part of the plan.
                        unit.deletes.push(c);
                    }
                }
                unit.posts = target.records.difference(&have).cloned().collect();
            }
        }
        unit
    }

    fn batch_missing(&self) -> bool {
        lock(&self.batch_missing_since).is_some_and(|t| t.elapsed() < BATCH_REPROBE)
    }

    fn set_batch_missing(&self, missing: bool) {
        *lock(&self.batch_missing_since) = missing.then(Instant::now);
    }

    /// Sends one group of units as one batch request.
    async fn send_batch(&self, group: &[Unit]) -> Result<BatchResult, CallError> {
        let mut req = BatchRequest::default();
        for u in group {
            req.deletes
                .extend(u.deletes.iter().map(|d| IdRef { id: d.id.clone() }));
            req.patches
                .extend(u.patches.iter().map(|p| u.body(Some(&p.id), &p.content)));
            req.posts.extend(u.posts.iter().map(|c| u.body(None, c)));
        }
        tracing::debug!(zone = %self.zone, records = req.len(), "cloudflare batch");
        self.client.batch(&req).await
    }

    fn after_batch(&self, group: &[Unit], result: &BatchResult) {
        let total_posts: usize = group.iter().map(|u| u.posts.len()).sum();
        let mut ids = result.posts.iter();
        let ids_line_up = result.posts.len() == total_posts;
        for u in group {
            if !ids_line_up {
                self.forget(&u.key);
                continue;
            }
            let posted: Vec<(String, String)> = u
                .posts
                .iter()
                .filter_map(|c| ids.next().map(|r| (c.clone(), r.id.clone())))
                .collect();
            self.remember(u, &posted);
        }
    }

    /// Applies one unit with single-record calls (no batch endpoint, or a batch that failed on a record
    /// that already exists / no longer exists). `Ok(Err)` is this change's failure, `Err` the whole call's.
    async fn single_calls(&self, unit: &Unit) -> Result<Result<(), ProviderError>, ProviderError> {
        let mut tolerated = false;
        let mut posted = Vec::new();
        for d in &unit.deletes {
            if let Err(e) = self.client.delete(&d.id).await {
                match op_error(e, NO_SUCH_RECORD)? {
                    None => tolerated = true,
                    Some(words) => {
                        self.forget(&unit.key);
                        return Ok(Err(rejected(unit, &words)));
                    }
                }
            }
        }
        for p in &unit.patches {
            let body = unit.body(None, &p.content);
            let result = match self.client.patch(&p.id, &body).await {
                Err(CallError::Api(a)) if a.has_code(NO_SUCH_RECORD) => {
                    // Gone since it was read: add it again with the wanted TTL.
                    tolerated = true;
                    self.client.create(&body).await.map(|_| ())
                }
                other => other.map(|_| ()),
            };
            if let Err(e) = result {
                match op_error(e, ALREADY_EXISTS)? {
                    None => tolerated = true,
                    Some(words) => {
                        self.forget(&unit.key);
                        return Ok(Err(rejected(unit, &words)));
                    }
                }
            }
        }
        for content in &unit.posts {
            match self.client.create(&unit.body(None, content)).await {
                Ok(r) => posted.push((content.clone(), r.id)),
                Err(e) => match op_error(e, ALREADY_EXISTS)? {
                    None => tolerated = true,
                    Some(words) => {
                        self.forget(&unit.key);
                        return Ok(Err(rejected(unit, &words)));
                    }
                },
            }
        }
        if tolerated {
            self.forget(&unit.key);
        } else {
            self.remember(unit, &posted);
        }
        Ok(Ok(()))
    }
}

/// Outcomes being collected: `None` = not decided yet.
struct Outcomes {
    slots: Vec<Option<Result<(), ProviderError>>>,
    /// Something was written (so a whole-call failure later is reported per change, not as `Err`).
    wrote: bool,
}

impl Outcomes {
    /// The first failure of a change wins (a change may be sent in several pieces).
    fn set(&mut self, index: usize, result: Result<(), ProviderError>) {
        if let Some(slot) = self.slots.get_mut(index) {
            if !matches!(slot, Some(Err(_))) {
                *slot = Some(result);
            }
        }
    }
}

#[async_trait]
impl Provider for Cloudflare {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Cloudflare
    }

    fn zone(&self) -> &DnsName {
        &self.zone
    }

    async fn check(&self) -> Result<ZoneInfo, ProviderError> {
        let zone = self.client.zone().await.map_err(zone_call_error)?;
        let found = zone.name.trim().trim_end_matches('.').to_ascii_lowercase();
        let name = match DnsName::parse(&found) {
            Ok(n) if n == self.zone => n,
            Ok(n) => {
                return Err(ProviderError::ZoneMismatch {
                    expected: self.zone.to_string(),
                    found: n.to_string(),
                });
            }
            Err(_) => {
                return Err(ProviderError::ZoneMismatch {
                    expected: self.zone.to_string(),
                    found,
                });
            }
        };
        let token = match self.client.verify_user_token().await {
            Ok(t) => t,
            // Account-owned tokens are unknown to the user endpoint.
            Err(CallError::Api(a)) if a.has_code(&[1000]) => self
                .client
                .verify_account_token()
                .await
                .map_err(token_call_error)?,
            Err(e) => return Err(token_call_error(e)),
        };
        if token.status != "active" {
            return Err(ProviderError::Auth {
                message: format!(
                    "the API token is {}",
                    if token.status.is_empty() {
                        "not active"
                    } else {
                        &token.status
                    }
                ),
            });
        }
        let status = zone.status.as_deref().unwrap_or("unknown");
        Ok(ZoneInfo {
            message: format!("zone {name} found (Cloudflare, status {status}, token active)"),
            name,
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
        let sets = self.read(&wanted).await?;
        Ok(sets
            .into_iter()
            .filter(|(_, records)| !records.is_empty())
            .map(|(key, records)| {
                let ttls: BTreeSet<u32> = records.iter().map(Cached::effective_ttl).collect();
                let ttl = if ttls.len() == 1 {
                    ttls.into_iter().next().unwrap_or(AUTO_TTL)
                } else {
                    MIXED_TTL
                };
                RrSet::new(
                    key.name,
                    key.rtype,
                    ttl,
                    records.iter().map(|c| c.content.as_str()),
                )
            })
            .collect())
    }

    async fn apply(&self, changes: &[Change]) -> Result<ApplyReport, ProviderError> {
        let mut out = Outcomes {
            slots: vec![None; changes.len()],
            wrote: false,
        };
        for (i, c) in changes.iter().enumerate() {
            let key = c.key();
            if !key.name.is_within(&self.zone) {
                out.set(
                    i,
                    Err(ProviderError::rejected(format!(
                        "{} is not within zone {}",
                        key.name, self.zone
                    ))),
                );
            }
        }

        // Replacing and deleting need record ids; read the RRsets the cache does not know (fresh).
        let unknown: BTreeSet<DnsName> = changes
            .iter()
            .enumerate()
            .filter(|(i, c)| out.slots[*i].is_none() && !matches!(c, Change::Create(_)))
            .map(|(_, c)| c.key())
            .filter(|k| self.cached(k).is_none())
            .map(|k| k.name)
            .collect();
        if !unknown.is_empty() {
            self.read(&unknown).await?;
        }

        let mut units = Vec::new();
        for (i, c) in changes.iter().enumerate() {
            if out.slots[i].is_some() {
                continue;
            }
            let unit = self.diff(i, c, self.cached(&c.key()));
            if unit.len() == 0 {
                out.set(i, Ok(()));
            } else {
                units.extend(unit.split(self.batch_size));
            }
        }

        // Greedy chunks of at most batch_size records, sent in order; a failed chunk is halved until the
        // bad change is alone.
        let mut chunks: Vec<Vec<Unit>> = Vec::new();
        let mut current: Vec<Unit> = Vec::new();
        let mut current_len = 0;
        for u in units {
            if current_len + u.len() > self.batch_size && !current.is_empty() {
                chunks.push(std::mem::take(&mut current));
                current_len = 0;
            }
            current_len += u.len();
            current.push(u);
        }
        if !current.is_empty() {
            chunks.push(current);
        }
        let mut stack: Vec<Vec<Unit>> = chunks.into_iter().rev().collect();
        let mut fatal: Option<ProviderError> = None;

        while let Some(group) = stack.pop() {
            if let Some(e) = &fatal {
                for u in &group {
                    out.set(u.index, Err(e.clone()));
                }
                continue;
            }
            if self.batch_missing() {
                if let Err(e) = self.singles(&group, &mut out).await {
                    fatal = Some(e);
                }
                continue;
            }
            match self.send_batch(&group).await {
                Ok(result) => {
                    self.after_batch(&group, &result);
                    out.wrote = true;
                    for u in &group {
                        out.set(u.index, Ok(()));
                    }
                }
                Err(CallError::Provider(e)) => {
                    // A batch that timed out may still have been applied: read again next time.
                    for u in &group {
                        self.forget(&u.key);
                    }
                    fatal = Some(e);
                }
                Err(CallError::Api(a)) if is_auth(&a) => fatal = Some(auth_error(&a)),
                Err(CallError::Api(a)) if is_missing_route(&a) => {
                    tracing::info!(zone = %self.zone, error = %a, "Cloudflare batch endpoint unavailable; using single-record calls");
                    self.set_batch_missing(true);
                    stack.push(group);
                }
                Err(CallError::Api(a)) if group.len() == 1 => {
                    let unit = &group[0];
                    if a.has_code(ALREADY_EXISTS) || a.has_code(NO_SUCH_RECORD) {
                        // The batch is all-or-nothing; redo this change record by record, tolerating what
                        // is already as wanted.
                        if let Err(e) = self.singles(&group, &mut out).await {
                            fatal = Some(e);
                        }
                    } else {
                        out.set(unit.index, Err(rejected(unit, &a.describe())));
                    }
                }
                Err(CallError::Api(_)) => {
                    let mut left = group;
                    let right = left.split_off(left.len() / 2);
                    stack.push(right);
                    stack.push(left);
                }
            }
        }

        if let Some(e) = fatal {
            if !out.wrote {
                return Err(e);
            }
            for slot in &mut out.slots {
                if slot.is_none() {
                    *slot = Some(Err(e.clone()));
                }
            }
        }
        Ok(ApplyReport {
            outcomes: out
                .slots
                .into_iter()
                .map(|s| {
                    s.unwrap_or_else(|| Err(ProviderError::transient("change was not attempted")))
                })
                .collect(),
        })
    }
}

impl Cloudflare {
    /// Single-record calls for every unit of `group`.
    async fn singles(&self, group: &[Unit], out: &mut Outcomes) -> Result<(), ProviderError> {
        for unit in group {
            match self.single_calls(unit).await {
                Ok(result) => {
                    if result.is_ok() {
                        out.wrote = true;
                    }
                    out.set(unit.index, result);
                }
                Err(e) => {
                    // Stopped half-way: what the cache knows of this RRset may be wrong now.
                    self.forget(&unit.key);
                    if matches!(e, ProviderError::ZoneNotFound { .. }) {
                        // It was the zone, not the endpoint.
                        self.set_batch_missing(false);
                    }
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn id_setting(key: &'static str, value: &str) -> Result<String, SettingsError> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(value.to_string())
    } else {
        Err(SettingsError::new(
            key,
            "must be a Cloudflare identifier (letters and digits, as shown in the dashboard)",
        ))
    }
}

fn count_setting(key: &'static str, value: &str) -> Result<usize, SettingsError> {
    value
        .parse::<usize>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| SettingsError::new(key, "must be a whole number of at least 1"))
}

fn is_auth(a: &ApiError) -> bool {
    a.has_code(AUTH_CODES) || a.status == 401 || a.status == 403
}

fn auth_error(a: &ApiError) -> ProviderError {
    ProviderError::Auth {
        message: a.describe(),
    }
}

/// The batch route is not there: "No route for that URI", a zone-route error (older APIs read `batch` as
/// a record id), or a 404/405/501 that is not a Cloudflare envelope. If it was the zone after all, the
/// single-record calls say so.
fn is_missing_route(a: &ApiError) -> bool {
    a.has_code(NO_ROUTE)
        || a.has_code(ZONE_GONE)
        || (matches!(a.status, 404 | 405 | 501) && !a.enveloped())
}

/// Errors of calls about the zone as a whole (zone, listing).
fn zone_call_error(e: CallError) -> ProviderError {
    match e {
        CallError::Provider(p) => p,
        CallError::Api(a) if is_auth(&a) => auth_error(&a),
        CallError::Api(a) if a.has_code(ZONE_GONE) || a.has_code(NO_ROUTE) || a.status == 404 => {
            ProviderError::ZoneNotFound {
                message: a.describe(),
            }
        }
        CallError::Api(a) => ProviderError::rejected(a.describe()),
    }
}

/// Errors of the token checks: any refusal is an authentication failure.
fn token_call_error(e: CallError) -> ProviderError {
    match e {
        CallError::Provider(p) => p,
        CallError::Api(a) => auth_error(&a),
    }
}

/// One record call failed: `Ok(None)` when the code is one to tolerate, `Ok(Some(words))` when this
/// change is rejected, `Err` when the whole call cannot go on.
fn op_error(e: CallError, tolerate: &[i64]) -> Result<Option<String>, ProviderError> {
    match e {
        CallError::Provider(p) => Err(p),
        CallError::Api(a) if a.has_code(tolerate) => Ok(None),
        CallError::Api(a) if is_auth(&a) => Err(auth_error(&a)),
        CallError::Api(a) if a.has_code(ZONE_GONE) => Err(ProviderError::ZoneNotFound {
            message: a.describe(),
        }),
        CallError::Api(a) => Ok(Some(a.describe())),
    }
}

/// A change refused by Cloudflare: `vm.example.com A: Content for A record must be ... (code 9005)`.
fn rejected(unit: &Unit, words: &str) -> ProviderError {
    ProviderError::rejected(format!("{}: {words}", unit.key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> DnsName {
        DnsName::parse(s).expect("name")
    }

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn base() -> Settings {
        settings(&[
            ("account_id", "acc1"),
            ("zone_id", "023e105f4ecef8ad9ca31a8372d0c353"),
            ("api_token", "tok"),
            ("api_url", "http://127.0.0.1:1/client/v4"),
            ("batch_size", "3"),
        ])
    }

    fn provider() -> Cloudflare {
        Cloudflare::new(n("example.com"), &base(), &ProviderContext::default()).expect("provider")
    }

    fn cached(id: &str, content: &str, ttl: u32) -> Cached {
        Cached {
            id: id.into(),
            content: content.into(),
            ttl,
        }
    }

    #[test]
    fn settings_are_checked() {
        let ctx = ProviderContext::default();
        let cases = [
            ("zone_id", "../../user", "zone_id"),
            ("account_id", "a b", "account_id"),
            ("batch_size", "0", "batch_size"),
            ("api_url", "ftp://x", "api_url"),
            ("api_token", "two words", "api_token"),
        ];
        for (key, value, field) in cases {
            let mut s = base();
            s.insert(key.into(), value.into());
            let err = Cloudflare::new(n("example.com"), &s, &ctx).expect_err(key);
            assert_eq!(err.field, field);
            assert!(!err.to_string().contains("two words"));
        }
    }

    #[test]
    fn diff_inside_an_rrset() {
        let p = provider();
        let name = n("vm.example.com");
        let from = RrSet::new(name.clone(), RecordType::A, 300, ["192.0.2.1", "192.0.2.2"]);
        let to = RrSet::new(name.clone(), RecordType::A, 300, ["192.0.2.2", "192.0.2.3"]);
        let current = vec![
            cached("id1", "192.0.2.1", 300),
            cached("id2", "192.0.2.2", 1),
        ];
        let u = p.diff(
            0,
            &Change::Replace {
                from,
                to: to.clone(),
            },
            Some(current.clone()),
        );
        assert_eq!(u.deletes, [cached("id1", "192.0.2.1", 300)]);
        assert!(u.patches.is_empty(), "ttl 1 is 300");
        assert_eq!(u.posts, ["192.0.2.3"]);

        let to60 = RrSet::new(name.clone(), RecordType::A, 60, ["192.0.2.1", "192.0.2.2"]);
        let u = p.diff(
            0,
            &Change::Replace {
                from: to.clone(),
                to: to60,
            },
            Some(current.clone()),
        );
        assert!(u.deletes.is_empty() && u.posts.is_empty());
        assert_eq!(u.patches.len(), 2);

        let u = p.diff(0, &Change::Delete(to.clone()), Some(current.clone()));
        assert_eq!(u.deletes.len(), 2);

        // A create posts what is missing and never deletes.
        let u = p.diff(0, &Change::Create(to), Some(current));
        assert!(u.deletes.is_empty());
        assert_eq!(u.posts, ["192.0.2.3"]);
    }

    #[test]
    fn big_units_are_split_in_order() {
        let u = Unit {
            index: 4,
            key: RrKey {
                name: n("vm.example.com"),
                rtype: RecordType::A,
            },
            ttl: 300,
            deletes: vec![cached("a", "192.0.2.1", 300), cached("b", "192.0.2.2", 300)],
            patches: vec![cached("c", "192.0.2.3", 60)],
            posts: vec!["192.0.2.4".into(), "192.0.2.5".into()],
        };
        let parts = u.split(2);
        let lens: Vec<usize> = parts.iter().map(Unit::len).collect();
        assert_eq!(lens, [2, 2, 1]);
        assert_eq!(parts[0].deletes.len(), 2);
        assert_eq!((parts[1].patches.len(), parts[1].posts.len()), (1, 1));
        assert!(parts.iter().all(|p| p.index == 4));
    }

    #[test]
    fn error_classes() {
        let api = |status: u16, code: i64| ApiError {
            status,
            errors: vec![types::ApiMessage {
                code,
                message: "m".into(),
                error_chain: Vec::new(),
            }],
            text: String::new(),
        };
        assert!(matches!(
            zone_call_error(CallError::Api(api(403, 9109))),
            ProviderError::Auth { .. }
        ));
        assert!(matches!(
            zone_call_error(CallError::Api(api(400, 10000))),
            ProviderError::Auth { .. }
        ));
        assert!(matches!(
            zone_call_error(CallError::Api(api(404, 7003))),
            ProviderError::ZoneNotFound { .. }
        ));
        assert!(matches!(
            zone_call_error(CallError::Api(api(400, 7003))),
            ProviderError::ZoneNotFound { .. }
        ));
        assert!(matches!(
            zone_call_error(CallError::Api(api(400, 9005))),
            ProviderError::Rejected { .. }
        ));
        assert!(is_missing_route(&api(404, 7000)));
        assert!(is_missing_route(&ApiError {
            status: 404,
            errors: Vec::new(),
            text: "<html>".into()
        }));
        assert!(!is_missing_route(&api(400, 9005)));
        assert_eq!(
            op_error(CallError::Api(api(404, 81044)), NO_SUCH_RECORD),
            Ok(None)
        );
        assert!(matches!(
            op_error(CallError::Api(api(400, 81058)), NO_SUCH_RECORD),
            Ok(Some(_))
        ));
    }
}
