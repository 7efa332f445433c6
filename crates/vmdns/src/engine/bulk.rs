//! `vmdns resync --all`: converge every service at once, one plan and one batched apply per zone (the
//! fast path when a provider recovers from an outage or a whole pool changes). Refuses to delete more than
//! a share of what vmdns owns in a zone unless forced, and says what it would have deleted.

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use serde::Serialize;
use vmdns_core::plan::Owned;
use vmdns_core::{Action, Change, DnsName, Policy, RrKey, RrSet, plan};

use super::converge::apply;
use super::ledger;
use crate::app::App;
use crate::store::{LogLevel, NewLogEntry, ServiceStatus, StoreResult, Zone};

#[derive(Debug, Clone)]
pub struct BulkOptions {
    pub dry_run: bool,
    pub force: bool,
    /// Largest share (0..1) of the contents vmdns owns in a zone that one run may delete.
    pub max_delete_share: f64,
}

impl Default for BulkOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            force: false,
            max_delete_share: 0.3,
        }
    }
}

/// What happened in one zone.
#[derive(Debug, Default, Serialize)]
pub struct ZoneOutcome {
    pub zone_id: i64,
    pub zone: String,
    pub provider: String,
    pub creates: usize,
    pub replaces: usize,
    pub deletes: usize,
    pub unchanged: usize,
    pub conflicts: usize,
    pub errors: usize,
    /// Why nothing was written (provider unreachable, deletion guard).
    pub refused: Option<String>,
    /// A few of the contents the deletion guard protected, for the operator.
    pub would_delete: Vec<String>,
}

/// Progress for a progress bar: `(zones done, zones in all, zone name)`.
pub type Progress<'a> = &'a (dyn Fn(usize, usize, &str) + Sync);

pub async fn resync_all(
    app: &App,
    opts: &BulkOptions,
    progress: Progress<'_>,
) -> StoreResult<Vec<ZoneOutcome>> {
    let zones = app.store.list_zones().await?;
    let names: Vec<DnsName> = zones.iter().map(|z| z.name.clone()).collect();
    let mut desired: Vec<Vec<RrSet>> = vec![Vec::new(); zones.len()];
    let mut owners: Vec<BTreeMap<RrKey, i64>> = vec![BTreeMap::new(); zones.len()];
    for service in app.store.list_services().await? {
        if service.status != ServiceStatus::Active {
            continue;
        }
        let Ok(assigned) = vmdns_core::assign_to_zones(&service.vm_spec(), &names) else {
            continue;
        };
        for (i, rrsets) in assigned.into_iter().enumerate() {
            for r in rrsets {
                // Two services wanting the same RRset: the first (oldest) keeps it.
                if let std::collections::btree_map::Entry::Vacant(e) = owners[i].entry(r.key()) {
                    e.insert(service.id);
                    desired[i].push(r);
                }
            }
        }
    }
    // Zones run side by side (a few at a time): one zone's read, plan and ledger intent overlap another's
    // writes. Writes to one PowerDNS server still go one at a time (the provider's write lock).
    let total = zones.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    progress(0, total, "");
    let work = zones
        .iter()
        .zip(desired)
        .zip(&owners)
        .map(|((zone, desired), owner)| {
            let done = &done;
            async move {
                let outcome = resync_zone(app, zone, &desired, owner, opts).await;
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                progress(n, total, zone.name.as_str());
                outcome
            }
        });
    let out: Vec<ZoneOutcome> = futures::stream::iter(work)
        .buffered(ZONES_AT_ONCE)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<StoreResult<_>>()?;
    Ok(out)
}

/// How many zones a bulk resync works on at once.
const ZONES_AT_ONCE: usize = 4;

async fn resync_zone(
    app: &App,
    zone: &Zone,
    desired: &[RrSet],
    owner: &BTreeMap<RrKey, i64>,
    opts: &BulkOptions,
) -> StoreResult<ZoneOutcome> {
    let mut outcome = ZoneOutcome {
        zone_id: zone.id,
        zone: zone.name.to_string(),
        provider: zone.provider.to_string(),
        ..Default::default()
    };
    let rows = app.store.ledger_of_zone(zone.id).await?;
    let mut names: BTreeSet<DnsName> = desired.iter().map(|r| r.name.clone()).collect();
    names.extend(rows.iter().map(|r| r.name.clone()));
    if names.is_empty() {
        return Ok(outcome);
    }
    let names: Vec<DnsName> = names.into_iter().collect();
    let provider = match app.provider_cache.get(zone, &app.providers) {
        Ok(p) => p,
        Err(e) => {
            outcome.refused = Some(format!("invalid zone settings: {e}"));
            return Ok(outcome);
        }
    };
    let current = match provider.rrsets(&names).await {
        Ok(c) => c,
        Err(e) => {
            outcome.refused = Some(e.to_string());
            log_zone(app, zone, &format!("resync: cannot read the zone: {e}")).await?;
            return Ok(outcome);
        }
    };
    // Bulk acts for every service at once: all of vmdns's contents count as its own.
    let mut owned = Owned::new();
    for r in &rows {
        owned.add_mine(
            RrKey {
                name: r.name.clone(),
                rtype: r.rtype,
            },
            r.content.clone(),
        );
    }
    let plan = plan(desired, &current, &owned, Policy::Sync);
    for item in &plan.items {
        match &item.action {
            Action::Apply {
                change: Change::Create(_),
            } => outcome.creates += 1,
            Action::Apply {
                change: Change::Replace { .. },
            } => outcome.replaces += 1,
            Action::Apply {
                change: Change::Delete(_),
            } => outcome.deletes += 1,
            Action::Unchanged { .. } | Action::LeftAlone { .. } | Action::Suppressed { .. } => {
                outcome.unchanged += 1
            }
            Action::Conflict { .. } => outcome.conflicts += 1,
        }
    }
    let deleting = plan.deleted_contents();
    let owned_total = rows.len().max(1);
    if !opts.force && deleting > 0 && (deleting as f64) > opts.max_delete_share * owned_total as f64
    {
        outcome.would_delete = plan
            .items
            .iter()
            .filter_map(|i| match &i.action {
                Action::Apply {
                    change: Change::Delete(r),
                } => Some(r.to_string()),
                _ => None,
            })
            .take(20)
            .collect();
        outcome.refused = Some(format!(
            "would delete {deleting} of the {owned_total} records vmdns owns in this zone (more than {:.0}%): run with --force to allow",
            opts.max_delete_share * 100.0
        ));
        return Ok(outcome);
    }
    if opts.dry_run || plan.is_noop() {
        return Ok(outcome);
    }
    let intent = ledger::intent(zone.id, &plan, owner);
    app.store.ledger_add(&intent).await?;
    let changes = plan.changes();
    let outcomes = apply(provider.as_ref(), &changes).await;
    for (change, result) in changes.iter().zip(&outcomes) {
        if let Err(e) = result {
            outcome.errors += 1;
            app.store
                .log(NewLogEntry {
                    level: Some(LogLevel::Error),
                    message: format!(
                        "resync: {} {} in {} failed: {e}",
                        change.verb(),
                        change.target(),
                        zone.name
                    ),
                    zone_id: Some(zone.id),
                    zone_name: Some(zone.name.to_string()),
                    provider: Some(zone.provider.to_string()),
                    record: Some(change.target().to_string()),
                    operation: Some(change.verb().to_string()),
                    detail: Some(format!("{e} ({})", e.kind())),
                    service_id: owner.get(&change.key()).copied(),
                    ..Default::default()
                })
                .await?;
        }
    }
    let finals = ledger::final_states(&plan, &outcomes);
    let (forget, own) = ledger::reconcile(zone.id, &plan, &finals, &rows, owner, &current, None);
    app.store.ledger_remove(&forget).await?;
    // Rows the ledger held before the apply, or got as intent, need no second insert: in a resync most
    // of `own` is one of them (everything unchanged, everything just created).
    let known: std::collections::HashSet<&crate::store::LedgerRow> =
        rows.iter().chain(&intent).collect();
    let own: Vec<_> = own.into_iter().filter(|r| !known.contains(r)).collect();
    app.store.ledger_add(&own).await?;
    Ok(outcome)
}

async fn log_zone(app: &App, zone: &Zone, message: &str) -> StoreResult<()> {
    app.store
        .log(NewLogEntry {
            level: Some(LogLevel::Error),
            message: message.to_string(),
            zone_id: Some(zone.id),
            zone_name: Some(zone.name.to_string()),
            provider: Some(zone.provider.to_string()),
            operation: Some("resync".into()),
            ..Default::default()
        })
        .await
}
