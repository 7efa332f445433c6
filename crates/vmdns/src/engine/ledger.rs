//! Keeping the ledger true after a plan was applied: contents that are gone are forgotten, desired
//! contents that are there (written now, or found identical) are owned. Shared by one-service jobs and
//! bulk resyncs.

use std::collections::{BTreeMap, BTreeSet};

use vmdns_core::{Action, Change, Plan, RrKey, RrSet};
use vmdns_providers::ProviderError;

use crate::store::LedgerRow;

/// What the RRset of each plan item holds after the apply, when known (`None` when its change failed).
pub fn final_states(
    plan: &Plan,
    outcomes: &[Result<(), ProviderError>],
) -> Vec<Option<BTreeSet<String>>> {
    let mut outcomes = outcomes.iter();
    plan.items
        .iter()
        .map(|item| match &item.action {
            Action::Apply { change } => match outcomes.next() {
                Some(Ok(())) => Some(match change {
                    Change::Delete(_) => BTreeSet::new(),
                    Change::Create(to) | Change::Replace { to, .. } => to.records.clone(),
                }),
                _ => None,
            },
            Action::Unchanged { rrset } => Some(rrset.records.clone()),
            Action::Conflict { current, .. } | Action::LeftAlone { current } => {
                Some(current.records.clone())
            }
            Action::Suppressed { change, .. } => match change {
                Change::Create(_) => None,
                Change::Replace { from, .. } | Change::Delete(from) => Some(from.records.clone()),
            },
        })
        .collect()
}

/// Ledger rows to write before applying: the contents the plan is about to create, for their owners.
pub fn intent(zone_id: i64, plan: &Plan, owner: &BTreeMap<RrKey, i64>) -> Vec<LedgerRow> {
    plan.changes()
        .iter()
        .filter_map(|c| match c {
            Change::Create(to) | Change::Replace { to, .. } => {
                owner.get(&to.key()).map(|s| (to, *s))
            }
            Change::Delete(_) => None,
        })
        .flat_map(|(to, service_id)| rows_of(zone_id, service_id, to))
        .collect()
}

/// After the apply: `(forget, own)`. `rows` are the ledger rows at the planned names before the apply;
/// `owner` says which service desires each key; `current` is what the zone held before.
pub fn reconcile(
    zone_id: i64,
    plan: &Plan,
    finals: &[Option<BTreeSet<String>>],
    rows: &[LedgerRow],
    owner: &BTreeMap<RrKey, i64>,
    current: &[RrSet],
    cleanup_service: Option<i64>,
) -> (Vec<LedgerRow>, Vec<LedgerRow>) {
    let mut by_key: BTreeMap<RrKey, Vec<&LedgerRow>> = BTreeMap::new();
    for r in rows {
        by_key
            .entry(RrKey {
                name: r.name.clone(),
                rtype: r.rtype,
            })
            .or_default()
            .push(r);
    }
    let mut forget = Vec::new();
    let mut own = Vec::new();
    for (item, fin) in plan.items.iter().zip(finals) {
        let Some(fin) = fin else { continue };
        for r in by_key.get(&item.key).into_iter().flatten() {
            if !fin.contains(&r.content) {
                forget.push((*r).clone());
            }
        }
        if let Some(service_id) = owner.get(&item.key) {
            // A conflict's RRset holds contents vmdns did not write: of those, it owns only the desired.
            let desired = match &item.action {
                Action::Conflict { desired, .. } => Some(
                    desired
                        .as_ref()
                        .map(|d| d.records.clone())
                        .unwrap_or_default(),
                ),
                _ => None,
            };
            for content in fin
                .iter()
                .filter(|c| desired.as_ref().is_none_or(|d| d.contains(*c)))
            {
                own.push(LedgerRow {
                    zone_id,
                    name: item.key.name.clone(),
                    rtype: item.key.rtype,
                    content: content.clone(),
                    service_id: *service_id,
                });
            }
        }
    }
    // Rows at keys the plan did not mention and the zone no longer holds: the records are gone.
    let planned: BTreeSet<&RrKey> = plan.items.iter().map(|i| &i.key).collect();
    let present: BTreeSet<RrKey> = current.iter().map(RrSet::key).collect();
    for (key, rs) in &by_key {
        if planned.contains(key) || present.contains(key) {
            continue;
        }
        forget.extend(
            rs.iter()
                .filter(|r| cleanup_service.is_none_or(|s| r.service_id == s))
                .map(|r| (*r).clone()),
        );
    }
    (forget, own)
}

pub fn rows_of(zone_id: i64, service_id: i64, r: &RrSet) -> Vec<LedgerRow> {
    r.records
        .iter()
        .map(|c| LedgerRow {
            zone_id,
            name: r.name.clone(),
            rtype: r.rtype,
            content: c.clone(),
            service_id,
        })
        .collect()
}
