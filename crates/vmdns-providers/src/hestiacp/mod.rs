//! HestiaCP provider: one DNS domain of one Hestia user, written through `v-*` commands over the panel's API.
//!
//! Hestia has no RRsets and no batch: records are single lines with an ID, names relative to the domain
//! (`@` = apex). [`Hestia::apply`] therefore lists the domain once, diffs every change against that fresh
//! listing, then adds what is missing and deletes what must go (`RESTART=no`), and restarts the DNS server
//! once at the end. Two Hestia habits shape the order and the bookkeeping:
//! - it never deduplicates adds, so every add carries an explicit, unused record ID: a retried add whose
//!   first attempt landed answers `E_EXISTS` instead of creating a twin, and duplicates already there (from
//!   an apply that died half way) are deleted like any other extra record;
//! - it refuses to delete the last A (or NS) record of a domain, so all adds run before any delete.
//!
//! Record IDs never leave this module.

mod client;
mod types;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use vmdns_core::{Change, DnsName, RecordType, RrKey, RrSet};

use self::client::{Client, CommandError, Credentials, Mode};
use self::types::{DEFAULT_TTL, DomainList, E_EXISTS, E_NOTEXIST, RecordList};
use crate::http::Http;
use crate::settings::{self, ProviderKind, Settings, SettingsError};
use crate::{ApplyReport, Provider, ProviderContext, ProviderError, ZoneInfo};

/// One DNS domain at one HestiaCP panel.
#[derive(Debug)]
pub struct Hestia {
    zone: DnsName,
    /// The Hestia user that owns the domain (`arg1` of every command).
    user: String,
    client: Client,
    /// Records were written but the DNS server was not restarted after them (an apply died half way, or
    /// `v-restart-dns` failed): the next apply restarts even when it writes nothing.
    restart_pending: AtomicBool,
}

/// A record of a managed type as the fresh listing has it.
#[derive(Debug, Clone)]
struct Present {
    id: u32,
    key: RrKey,
    /// Normalised as [`RecordType::normalize_content`] does.
    value: String,
    ttl: u32,
}

/// One `v-add-dns-record` the diff asks for.
#[derive(Debug)]
struct Add {
    change: usize,
    key: RrKey,
    /// Relative to the domain, `@` = apex.
    record: String,
    value: String,
    ttl: u32,
}

/// Why one write did not happen.
enum WriteError {
    /// The command ran and failed: the change is rejected with Hestia's words.
    Command(String),
    /// The call as such failed (transport, credentials, zone gone): the whole apply stops.
    Call(ProviderError),
}

impl From<ProviderError> for WriteError {
    fn from(e: ProviderError) -> Self {
        Self::Call(e)
    }
}

impl Hestia {
    pub fn new(
        zone: DnsName,
        settings: &Settings,
        ctx: &ProviderContext,
    ) -> Result<Self, SettingsError> {
        let kind = ProviderKind::Hestiacp;
        let get = |key: &str| settings::get(kind, settings, key);
        let server_url =
            get("server_url").ok_or_else(|| SettingsError::new("server_url", "is required"))?;
        let user = get("user").ok_or_else(|| SettingsError::new("user", "is required"))?;
        let credentials = match (
            get("access_key"),
            get("secret_key"),
            get("admin_user"),
            get("admin_password"),
        ) {
            (Some(access_key), Some(secret_key), _, _) => Credentials::AccessKey {
                access_key: access_key.to_string(),
                secret_key: secret_key.to_string(),
            },
            (_, _, Some(user), Some(password)) => Credentials::Password {
                user: user.to_string(),
                password: password.to_string(),
            },
            _ => {
                return Err(SettingsError::new(
                    "admin_user",
                    "admin_user and admin_password, or access_key and secret_key, are required",
                ));
            }
        };
        let pin = match get("tls_fingerprint") {
            Some(fp) => Some(client::parse_fingerprint(fp).ok_or_else(|| {
                SettingsError::new(
                    "tls_fingerprint",
                    "must be a SHA-256 fingerprint (64 hex digits)",
                )
            })?),
            None => None,
        };
        let config = ctx.http_config().clone();
        let http_client = client::http_client(&config, pin)
            .map_err(|reason| SettingsError::new("tls_fingerprint", reason))?;
        let http = Http::new(http_client, config, None, ctx.stats(kind));
        Ok(Self {
            zone,
            user: user.to_string(),
            client: Client::new(http, server_url, credentials),
            restart_pending: AtomicBool::new(false),
        })
    }

    fn domain(&self) -> &str {
        self.zone.as_str()
    }

    /// `v-list-dns-records USER DOMAIN json`, managed types only, suspended records left out (Hestia does
    /// not serve them).
    async fn list(&self) -> Result<Vec<Present>, ProviderError> {
        let outcome = self
            .client
            .run(
                "v-list-dns-records",
                &[&self.user, self.domain(), "json"],
                Mode::Read,
            )
            .await?;
        let text = outcome.map_err(|e| self.domain_error(e))?;
        let list: RecordList = if text.is_empty() || text == "OK" || text == "[]" {
            RecordList::new()
        } else {
            serde_json::from_str(&text).map_err(|e| {
                ProviderError::transient(format!(
                    "malformed answer from HestiaCP (v-list-dns-records): {e}"
                ))
            })?
        };
        Ok(parse_listing(list, &self.zone))
    }

    /// A failed list command: the user or the domain is unknown, or Hestia refused.
    fn domain_error(&self, e: CommandError) -> ProviderError {
        if e.is(E_NOTEXIST) {
            ProviderError::ZoneNotFound {
                message: e.message(),
            }
        } else {
            ProviderError::rejected(e.message())
        }
    }

    /// Adds one record under a fresh explicit ID and returns the ID.
    async fn add(&self, add: &Add, next_id: &mut u32) -> Result<u32, WriteError> {
        let mut retried = false;
        loop {
            let id = *next_id;
            *next_id += 1;
            let (id_arg, ttl_arg) = (id.to_string(), add.ttl.to_string());
            let rtype = add.key.rtype.as_str();
            let args = [
                self.user.as_str(),
                self.domain(),
                add.record.as_str(),
                rtype,
                add.value.as_str(),
                "",
                id_arg.as_str(),
                "no",
                ttl_arg.as_str(),
            ];
            let err = match self
                .client
                .run("v-add-dns-record", &args, Mode::Write)
                .await?
            {
                Ok(_) => return Ok(id),
                Err(e) => e,
            };
            if !err.is(E_EXISTS) {
                return Err(WriteError::Command(err.message()));
            }
            // The ID is taken: either an earlier attempt of this very request landed and its answer was lost
            // (the request was retried), or someone added a record since the listing. Look.
            let fresh = self.list().await?;
            let value = add.key.rtype.normalize_content(&add.value);
            if fresh
                .iter()
                .any(|p| p.id == id && p.key == add.key && p.value == value && p.ttl == add.ttl)
            {
                return Ok(id);
            }
            if retried {
                return Err(WriteError::Command(err.message()));
            }
            retried = true;
            let max = fresh.iter().map(|p| p.id).max().unwrap_or(0);
            *next_id = (*next_id).max(max.saturating_add(1));
        }
    }

    /// Deletes one record; one that is gone already counts as deleted.
    async fn delete(&self, id: u32) -> Result<(), WriteError> {
        let id_arg = id.to_string();
        let args = [self.user.as_str(), self.domain(), id_arg.as_str(), "no"];
        match self
            .client
            .run("v-delete-dns-record", &args, Mode::Write)
            .await?
        {
            Ok(_) => Ok(()),
            Err(e) if e.is(E_NOTEXIST) => Ok(()),
            Err(e) => Err(WriteError::Command(e.message())),
        }
    }

    /// `v-restart-dns`: rebuilds nothing, reloads the DNS server once for every write before it.
    async fn restart(&self) -> Result<(), ProviderError> {
        match self.client.run("v-restart-dns", &[], Mode::Write).await {
            Ok(Ok(_)) => {
                self.restart_pending.store(false, Ordering::SeqCst);
                Ok(())
            }
            Ok(Err(e)) => {
                self.restart_pending.store(true, Ordering::SeqCst);
                Err(ProviderError::transient(format!(
                    "records were saved, but v-restart-dns failed: {}",
                    e.message()
                )))
            }
            Err(e) => {
                self.restart_pending.store(true, Ordering::SeqCst);
                Err(e)
            }
        }
    }

    /// The whole apply stops on `e`, in the middle of writing: whatever landed (perhaps the very write
    /// whose answer was lost) still needs a restart, which the next apply does.
    fn abort(&self, e: ProviderError) -> ProviderError {
        self.restart_pending.store(true, Ordering::SeqCst);
        e
    }
}

/// Reads a listing into records of managed types with absolute names and normalised values.
fn parse_listing(list: RecordList, zone: &DnsName) -> Vec<Present> {
    let mut out = Vec::with_capacity(list.len());
    for (map_id, rec) in list {
        if rec.suspended.eq_ignore_ascii_case("yes") {
            continue;
        }
        let Ok(rtype) = rec.rtype.parse::<RecordType>() else {
            continue;
        };
        let Ok(name) = DnsName::from_relative(&rec.record, zone) else {
            tracing::debug!(record = %rec.record, "HestiaCP record name is not a DNS name vmdns manages; ignored");
            continue;
        };
        if !name.is_within(zone) {
            continue;
        }
        let Some(id) = rec
            .id
            .trim()
            .parse::<u32>()
            .ok()
            .or_else(|| map_id.parse().ok())
        else {
            tracing::warn!(record = %rec.record, id = %rec.id, "HestiaCP record without a numeric ID; ignored");
            continue;
        };
        let ttl = match rec.ttl.trim() {
            "" => DEFAULT_TTL,
            t => t.parse().unwrap_or_else(|_| {
                tracing::warn!(record = %rec.record, ttl = %t, "HestiaCP record TTL is not a number; read as the default");
                DEFAULT_TTL
            }),
        };
        out.push(Present {
            id,
            key: RrKey { name, rtype },
            value: read_value(rtype, &rec.value, zone),
            ttl,
        });
    }
    out.sort_by_key(|p| p.id);
    out
}

/// A record value as vmdns compares it. Hestia appends a dot to names; one without a dot is relative to
/// the domain, as in the zone file Hestia writes.
fn read_value(rtype: RecordType, value: &str, zone: &DnsName) -> String {
    let v = value.trim();
    if rtype.content_is_name() && !v.ends_with('.') {
        if let Ok(name) = DnsName::from_relative(v, zone) {
            return name.as_str().to_string();
        }
    }
    rtype.normalize_content(v)
}

/// A record value as Hestia is given it: names absolute, with the trailing dot.
fn write_value(rtype: RecordType, normalized: &str) -> String {
    if rtype.content_is_name() && !normalized.ends_with('.') {
        format!("{normalized}.")
    } else {
        normalized.to_string()
    }
}

#[async_trait]
impl Provider for Hestia {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Hestiacp
    }

    fn zone(&self) -> &DnsName {
        &self.zone
    }

    async fn check(&self) -> Result<ZoneInfo, ProviderError> {
        let outcome = self
            .client
            .run(
                "v-list-dns-domain",
                &[&self.user, self.domain(), "json"],
                Mode::Read,
            )
            .await?;
        let text = outcome.map_err(|e| self.domain_error(e))?;
        let list: DomainList = serde_json::from_str(&text).map_err(|e| {
            ProviderError::transient(format!(
                "malformed answer from HestiaCP (v-list-dns-domain): {e}"
            ))
        })?;
        let Some((name, info)) = list.into_iter().next() else {
            return Err(ProviderError::ZoneNotFound {
                message: format!(
                    "HestiaCP lists no DNS domain {} for user {}",
                    self.zone, self.user
                ),
            });
        };
        if DnsName::parse(&name).ok().as_ref() != Some(&self.zone) {
            return Err(ProviderError::ZoneMismatch {
                expected: self.zone.to_string(),
                found: name,
            });
        }
        let mut message = format!("zone {} found (HestiaCP, user {}", self.zone, self.user);
        if !info.serial.is_empty() {
            message.push_str(&format!(", serial {}", info.serial));
        }
        if info.suspended.eq_ignore_ascii_case("yes") {
            message.push_str(", suspended");
        }
        message.push(')');
        Ok(ZoneInfo {
            name: self.zone.clone(),
            message,
        })
    }

    async fn rrsets(&self, names: &[DnsName]) -> Result<Vec<RrSet>, ProviderError> {
        let wanted: HashSet<&DnsName> = names.iter().filter(|n| n.is_within(&self.zone)).collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let mut sets: BTreeMap<RrKey, (u32, BTreeSet<String>)> = BTreeMap::new();
        for p in self.list().await? {
            if !wanted.contains(&p.key.name) {
                continue;
            }
            let entry = sets.entry(p.key).or_insert((p.ttl, BTreeSet::new()));
            // Hestia keeps a TTL per record; an RRset's is the smallest, as resolvers treat it.
            entry.0 = entry.0.min(p.ttl);
            entry.1.insert(p.value);
        }
        Ok(sets
            .into_iter()
            .map(|(key, (ttl, values))| RrSet::new(key.name, key.rtype, ttl, values))
            .collect())
    }

    async fn apply(&self, changes: &[Change]) -> Result<ApplyReport, ProviderError> {
        let pending = self.restart_pending.load(Ordering::SeqCst);
        if changes.is_empty() && !pending {
            return Ok(ApplyReport::default());
        }
        let present = self.list().await?;
        let mut next_id = present
            .iter()
            .map(|p| p.id)
            .max()
            .unwrap_or(0)
            .saturating_add(1);

        // Diff every change against the fresh listing, not against what the change says was there.
        let mut outcomes: Vec<Result<(), ProviderError>> = changes.iter().map(|_| Ok(())).collect();
        let mut adds: Vec<Add> = Vec::new();
        let mut deletes: Vec<Vec<u32>> = vec![Vec::new(); changes.len()];
        let mut seen: HashSet<RrKey> = HashSet::new();
        for (i, change) in changes.iter().enumerate() {
            let target = change.target();
            let key = target.key();
            let Some(record) = target.name.relative_to(&self.zone) else {
                outcomes[i] = Err(ProviderError::rejected(format!(
                    "{} is not within zone {}",
                    target.name, self.zone
                )));
                continue;
            };
            if !seen.insert(key.clone()) {
                outcomes[i] = Err(ProviderError::rejected(format!(
                    "{key} appears more than once in one apply"
                )));
                continue;
            }
            let desired: BTreeSet<String> = match change {
                Change::Delete(_) => BTreeSet::new(),
                Change::Create(set) | Change::Replace { to: set, .. } => set
                    .records
                    .iter()
                    .map(|v| key.rtype.normalize_content(v))
                    .collect(),
            };
            let ttl = target.ttl;
            let current: Vec<&Present> = present.iter().filter(|p| p.key == key).collect();
            // Keep one record per wanted value (the oldest) when its TTL is right; every other record goes,
            // duplicates included.
            let mut kept: HashSet<u32> = HashSet::new();
            for value in &desired {
                match current.iter().find(|p| &p.value == value && p.ttl == ttl) {
                    Some(p) => {
                        kept.insert(p.id);
                    }
                    None => adds.push(Add {
                        change: i,
                        key: key.clone(),
                        record: record.clone(),
                        value: write_value(key.rtype, value),
                        ttl,
                    }),
                }
            }
            deletes[i] = current
                .iter()
                .filter(|p| !kept.contains(&p.id))
                .map(|p| p.id)
                .collect();
        }

        // Adds first: Hestia refuses to delete the last A record, so a replaced A RRset must grow first.
        let mut wrote = false;
        let mut added: Vec<Vec<u32>> = vec![Vec::new(); changes.len()];
        for add in &adds {
            if outcomes[add.change].is_err() {
                continue;
            }
            match self.add(add, &mut next_id).await {
                Ok(id) => {
                    wrote = true;
                    added[add.change].push(id);
                }
                Err(WriteError::Command(message)) => {
                    outcomes[add.change] = Err(ProviderError::rejected(message))
                }
                Err(WriteError::Call(e)) => return Err(self.abort(e)),
            }
        }

        // Then deletes. A change whose add failed keeps its old records and loses the ones it added, so it
        // is left as it was found rather than half done.
        for (i, outcome) in outcomes.iter_mut().enumerate() {
            let rollback = outcome.is_err();
            let ids = if rollback { &added[i] } else { &deletes[i] };
            for &id in ids {
                match self.delete(id).await {
                    Ok(()) => wrote = true,
                    Err(WriteError::Command(message)) if rollback => {
                        tracing::warn!(id, %message, "HestiaCP: could not take back a record of a failed change");
                    }
                    Err(WriteError::Command(message)) => {
                        if outcome.is_ok() {
                            *outcome = Err(ProviderError::rejected(message));
                        }
                    }
                    Err(WriteError::Call(e)) => return Err(self.abort(e)),
                }
            }
        }

        if wrote || pending {
            self.restart().await?;
        }
        Ok(ApplyReport { outcomes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hestiacp::types::ListedRecord;

    fn zone(s: &str) -> DnsName {
        DnsName::parse(s).expect("valid zone")
    }

    fn rec(id: &str, record: &str, rtype: &str, value: &str, ttl: &str) -> (String, ListedRecord) {
        (
            id.to_string(),
            ListedRecord {
                record: record.into(),
                rtype: rtype.into(),
                value: value.into(),
                id: id.into(),
                suspended: "no".into(),
                ttl: ttl.into(),
            },
        )
    }

    #[test]
    fn listing_maps_relative_names_and_values() {
        let z = zone("example.com");
        let list: RecordList = [
            rec("1", "@", "NS", "ns1.example.com.", "14400"),
            rec("2", "@", "A", "192.0.2.1", "300"),
            rec("3", "VM.Sub", "AAAA", "2001:DB8::0:1", ""),
            rec("4", "www", "CNAME", "@", "60"),
            rec("5", "alias", "CNAME", "target.example.net.", "60"),
            rec("6", "rel", "CNAME", "vm", "60"),
            rec("7", "other.example.org.", "A", "192.0.2.2", "60"),
            rec("8", "*", "A", "192.0.2.3", "60"),
            rec("10", "abs.example.com.", "A", "192.0.2.4", "x"),
        ]
        .into_iter()
        .collect();
        let got: Vec<(u32, String, RecordType, String, u32)> = parse_listing(list, &z)
            .into_iter()
            .map(|p| (p.id, p.key.name.to_string(), p.key.rtype, p.value, p.ttl))
            .collect();
        let want = vec![
            (
                2,
                "example.com".to_string(),
                RecordType::A,
                "192.0.2.1".to_string(),
                300,
            ),
            (
                3,
                "vm.sub.example.com".into(),
                RecordType::Aaaa,
                "2001:db8::1".into(),
                DEFAULT_TTL,
            ),
            (
                4,
                "www.example.com".into(),
                RecordType::Cname,
                "example.com".into(),
                60,
            ),
            (
                5,
                "alias.example.com".into(),
                RecordType::Cname,
                "target.example.net".into(),
                60,
            ),
            (
                6,
                "rel.example.com".into(),
                RecordType::Cname,
                "vm.example.com".into(),
                60,
            ),
            (
                10,
                "abs.example.com".into(),
                RecordType::A,
                "192.0.2.4".into(),
                DEFAULT_TTL,
            ),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn reverse_zone_names_are_single_labels() {
        let z = zone("2.0.192.in-addr.arpa");
        let list: RecordList = [rec("1", "10", "PTR", "vm1.example.com.", "300")]
            .into_iter()
            .collect();
        let got = parse_listing(list, &z);
        assert_eq!(got[0].key.name.as_str(), "10.2.0.192.in-addr.arpa");
        assert_eq!(got[0].value, "vm1.example.com");
        let name = DnsName::parse("10.2.0.192.in-addr.arpa").expect("valid");
        assert_eq!(name.relative_to(&z).as_deref(), Some("10"));
        assert_eq!(z.relative_to(&z).as_deref(), Some("@"));
    }

    #[test]
    fn written_values_are_absolute() {
        let cases = [
            (RecordType::Ptr, "vm1.example.com", "vm1.example.com."),
            (RecordType::Cname, "t.example.com.", "t.example.com."),
            (RecordType::A, "192.0.2.1", "192.0.2.1"),
            (RecordType::Aaaa, "2001:db8::1", "2001:db8::1"),
        ];
        for (t, input, want) in cases {
            assert_eq!(write_value(t, input), want);
        }
    }

    #[test]
    fn suspended_records_are_not_served() {
        let z = zone("example.com");
        let (id, mut r) = rec("1", "vm", "A", "192.0.2.1", "300");
        r.suspended = "yes".into();
        assert!(parse_listing([(id, r)].into_iter().collect(), &z).is_empty());
    }
}
