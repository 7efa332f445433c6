//! Plan: desired RRsets + what the zone holds + what vmdns owns → the changes to make, under a policy.
//!
//! The rules, per RRset (name + type):
//! - desired and absent → create;
//! - desired and present with the same contents → unchanged (or replaced, to fix only the TTL);
//! - desired and present with other contents → replace, but only when every present content is owned by
//!   vmdns (this service or another) or desired; otherwise it is a conflict and left untouched;
//! - not desired, present, holding contents this service wrote → those contents go (delete the RRset, or
//!   replace it with what remains when others' contents are in it);
//! - not desired and pointing elsewhere (an address reassigned, a customer's own PTR) → left alone.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::rrset::{Change, RrKey, RrSet};

/// What the plan may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Create, replace and delete.
    #[default]
    Sync,
    /// Never delete (not even contents of an RRset).
    UpsertOnly,
    /// Only create what is missing.
    CreateOnly,
}

/// What vmdns owns in one zone, from its ledger: contents per RRset, split into what this service
/// (or this run) wrote and what other services wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Owned {
    mine: BTreeMap<RrKey, BTreeSet<String>>,
    others: BTreeMap<RrKey, BTreeSet<String>>,
}

impl Owned {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that this service (or this run) wrote `content` at `key`.
    pub fn add_mine(&mut self, key: RrKey, content: impl Into<String>) {
        let content = key.rtype.normalize_content(&content.into());
        self.mine.entry(key).or_default().insert(content);
    }

    /// Records that another service wrote `content` at `key`.
    pub fn add_other(&mut self, key: RrKey, content: impl Into<String>) {
        let content = key.rtype.normalize_content(&content.into());
        self.others.entry(key).or_default().insert(content);
    }

    fn mine(&self, key: &RrKey) -> Option<&BTreeSet<String>> {
        self.mine.get(key)
    }

    fn owned_by_anyone(&self, key: &RrKey, content: &str) -> bool {
        self.mine.get(key).is_some_and(|s| s.contains(content))
            || self.others.get(key).is_some_and(|s| s.contains(content))
    }
}

/// One line of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// A change to apply.
    Apply { change: Change },
    /// Already as desired.
    Unchanged { rrset: RrSet },
    /// The RRset holds contents vmdns does not own: left untouched.
    Conflict {
        current: RrSet,
        desired: Option<RrSet>,
        foreign: BTreeSet<String>,
    },
    /// vmdns wrote here once, but the RRset now points elsewhere (address reassigned, customer's own
    /// record): left alone.
    LeftAlone { current: RrSet },
    /// The policy forbids this change.
    Suppressed { change: Change, policy: Policy },
}

/// One planned item for one RRset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedChange {
    pub key: RrKey,
    #[serde(flatten)]
    pub action: Action,
}

/// The plan for one zone: one item per RRset considered, ordered by name and type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub items: Vec<PlannedChange>,
}

impl Plan {
    /// The changes to hand to the provider, in plan order.
    pub fn changes(&self) -> Vec<Change> {
        self.items
            .iter()
            .filter_map(|i| match &i.action {
                Action::Apply { change } => Some(change.clone()),
                _ => None,
            })
            .collect()
    }

    /// Whether anything would be written.
    pub fn is_noop(&self) -> bool {
        !self
            .items
            .iter()
            .any(|i| matches!(i.action, Action::Apply { .. }))
    }

    /// Contents the plan deletes (whole RRsets deleted, or contents dropped from a replaced RRset).
    pub fn deleted_contents(&self) -> usize {
        self.items
            .iter()
            .map(|i| match &i.action {
                Action::Apply {
                    change: Change::Delete(r),
                } => r.records.len(),
                Action::Apply {
                    change: Change::Replace { from, to },
                } => from.records.difference(&to.records).count(),
                _ => 0,
            })
            .sum()
    }
}

/// Computes the plan for one zone. Pure and deterministic: the same input gives the same output, in the
/// same order. `current` may hold RRsets the plan has no interest in (they are ignored unless desired or
/// owned by this service).
pub fn plan(desired: &[RrSet], current: &[RrSet], owned: &Owned, policy: Policy) -> Plan {
    let desired: BTreeMap<RrKey, &RrSet> = desired.iter().map(|r| (r.key(), r)).collect();
    let current: BTreeMap<RrKey, &RrSet> = current.iter().map(|r| (r.key(), r)).collect();
    let mut keys: BTreeSet<&RrKey> = desired.keys().collect();
    keys.extend(owned.mine.keys());
    let mut items = Vec::new();
    for key in keys {
        let d = desired.get(key).copied();
        let c = current.get(key).copied();
        let action = match (d, c) {
            (Some(d), None) => Some(Action::Apply {
                change: Change::Create(d.clone()),
            }),
            (Some(d), Some(c)) if c.records == d.records && c.ttl == d.ttl => {
                Some(Action::Unchanged { rrset: c.clone() })
            }
            (Some(d), Some(c)) => {
                let foreign: BTreeSet<String> = c
                    .records
                    .iter()
                    .filter(|x| !d.records.contains(*x) && !owned.owned_by_anyone(key, x))
                    .cloned()
                    .collect();
                if foreign.is_empty() {
                    Some(Action::Apply {
                        change: Change::Replace {
                            from: c.clone(),
                            to: d.clone(),
                        },
                    })
                } else {
                    Some(Action::Conflict {
                        current: c.clone(),
                        desired: Some(d.clone()),
                        foreign,
                    })
                }
            }
            (None, None) => None,
            (None, Some(c)) => {
                let mine = owned.mine(key);
                let remaining: BTreeSet<String> = c
                    .records
                    .iter()
                    .filter(|x| !mine.is_some_and(|m| m.contains(*x)))
                    .cloned()
                    .collect();
                if remaining.len() == c.records.len() {
                    Some(Action::LeftAlone { current: c.clone() })
                } else if remaining.is_empty() {
                    Some(Action::Apply {
                        change: Change::Delete(c.clone()),
                    })
                } else {
                    let mut to = c.clone();
                    to.records = remaining;
                    Some(Action::Apply {
                        change: Change::Replace {
                            from: c.clone(),
                            to,
                        },
                    })
                }
            }
        };
        if let Some(action) = action {
            items.push(PlannedChange {
                key: key.clone(),
                action: apply_policy(action, policy),
            });
        }
    }
    Plan { items }
}

fn apply_policy(action: Action, policy: Policy) -> Action {
    let Action::Apply { change } = action else {
        return action;
    };
    let allowed = match (&change, policy) {
        (_, Policy::Sync) | (Change::Create(_), _) => true,
        // Upsert-only may swap contents, but not only drop some.
        (Change::Replace { from, to }, Policy::UpsertOnly) => !is_pure_removal(from, to),
        (Change::Replace { .. } | Change::Delete(_), Policy::CreateOnly)
        | (Change::Delete(_), Policy::UpsertOnly) => false,
    };
    if allowed {
        Action::Apply { change }
    } else {
        Action::Suppressed { change, policy }
    }
}

/// A replace that only drops contents (the not-desired case keeping others' records).
fn is_pure_removal(from: &RrSet, to: &RrSet) -> bool {
    to.records.len() < from.records.len() && to.records.is_subset(&from.records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::DnsName;
    use crate::rrset::RecordType;

    fn rr(name: &str, t: RecordType, ttl: u32, contents: &[&str]) -> RrSet {
        RrSet::new(
            DnsName::parse(name).expect("name"),
            t,
            ttl,
            contents.iter().copied(),
        )
    }

    fn a(contents: &[&str]) -> RrSet {
        rr("vm1.example.com", RecordType::A, 300, contents)
    }

    fn ptr(contents: &[&str]) -> RrSet {
        rr("10.2.0.192.in-addr.arpa", RecordType::Ptr, 300, contents)
    }

    fn owned_mine(sets: &[&RrSet]) -> Owned {
        let mut o = Owned::new();
        for s in sets {
            for c in &s.records {
                o.add_mine(s.key(), c.clone());
            }
        }
        o
    }

    fn summary(p: &Plan) -> Vec<String> {
        p.items
            .iter()
            .map(|i| match &i.action {
                Action::Apply { change } => format!("{change}"),
                Action::Unchanged { rrset } => format!("unchanged {rrset}"),
                Action::Conflict {
                    current, foreign, ..
                } => {
                    format!(
                        "conflict {current} foreign={}",
                        foreign.iter().cloned().collect::<Vec<_>>().join(",")
                    )
                }
                Action::LeftAlone { current } => format!("left-alone {current}"),
                Action::Suppressed { change, policy } => format!("suppressed({policy:?}) {change}"),
            })
            .collect()
    }

    #[test]
    fn case_table() {
        type Case = (
            &'static str,
            Vec<RrSet>,
            Vec<RrSet>,
            Owned,
            Policy,
            Vec<&'static str>,
        );
        let cases: Vec<Case> = vec![
            (
                "create when absent",
                vec![a(&["192.0.2.1"])],
                vec![],
                Owned::new(),
                Policy::Sync,
                vec!["create vm1.example.com A 300 192.0.2.1"],
            ),
            (
                "unchanged when equal",
                vec![a(&["192.0.2.1"])],
                vec![a(&["192.0.2.1"])],
                Owned::new(),
                Policy::Sync,
                vec!["unchanged vm1.example.com A 300 192.0.2.1"],
            ),
            (
                "adopt an identical unowned RRset with another TTL",
                vec![a(&["192.0.2.1"])],
                vec![rr("vm1.example.com", RecordType::A, 60, &["192.0.2.1"])],
                Owned::new(),
                Policy::Sync,
                vec!["replace vm1.example.com A 300 192.0.2.1"],
            ),
            (
                "replace what we own",
                vec![a(&["192.0.2.2"])],
                vec![a(&["192.0.2.1"])],
                owned_mine(&[&a(&["192.0.2.1"])]),
                Policy::Sync,
                vec!["replace vm1.example.com A 300 192.0.2.2"],
            ),
            (
                "conflict on what we do not own",
                vec![a(&["192.0.2.2"])],
                vec![a(&["192.0.2.1", "192.0.2.9"])],
                owned_mine(&[&a(&["192.0.2.1"])]),
                Policy::Sync,
                vec!["conflict vm1.example.com A 300 192.0.2.1,192.0.2.9 foreign=192.0.2.9"],
            ),
            (
                "delete what we own and no longer want",
                vec![],
                vec![ptr(&["vm1.example.com"])],
                owned_mine(&[&ptr(&["vm1.example.com"])]),
                Policy::Sync,
                vec!["delete 10.2.0.192.in-addr.arpa PTR 300 vm1.example.com"],
            ),
            (
                "a reassigned PTR is left alone",
                vec![],
                vec![ptr(&["other.example.net"])],
                owned_mine(&[&ptr(&["vm1.example.com"])]),
                Policy::Sync,
                vec!["left-alone 10.2.0.192.in-addr.arpa PTR 300 other.example.net"],
            ),
            (
                "only our contents go from a shared RRset",
                vec![],
                vec![a(&["192.0.2.1", "192.0.2.9"])],
                owned_mine(&[&a(&["192.0.2.1"])]),
                Policy::Sync,
                vec!["replace vm1.example.com A 300 192.0.2.9"],
            ),
            (
                "owned but already gone: nothing",
                vec![],
                vec![],
                owned_mine(&[&a(&["192.0.2.1"])]),
                Policy::Sync,
                vec![],
            ),
            (
                "unrelated current RRsets are ignored",
                vec![],
                vec![rr("other.example.com", RecordType::A, 300, &["192.0.2.5"])],
                Owned::new(),
                Policy::Sync,
                vec![],
            ),
            (
                "upsert-only never deletes",
                vec![],
                vec![ptr(&["vm1.example.com"])],
                owned_mine(&[&ptr(&["vm1.example.com"])]),
                Policy::UpsertOnly,
                vec![
                    "suppressed(UpsertOnly) delete 10.2.0.192.in-addr.arpa PTR 300 vm1.example.com",
                ],
            ),
            (
                "upsert-only does not drop our contents from a shared RRset",
                vec![],
                vec![a(&["192.0.2.1", "192.0.2.9"])],
                owned_mine(&[&a(&["192.0.2.1"])]),
                Policy::UpsertOnly,
                vec!["suppressed(UpsertOnly) replace vm1.example.com A 300 192.0.2.9"],
            ),
            (
                "upsert-only replaces",
                vec![a(&["192.0.2.2"])],
                vec![a(&["192.0.2.1"])],
                owned_mine(&[&a(&["192.0.2.1"])]),
                Policy::UpsertOnly,
                vec!["replace vm1.example.com A 300 192.0.2.2"],
            ),
            (
                "create-only only creates",
                vec![a(&["192.0.2.2"]), ptr(&["vm1.example.com"])],
                vec![a(&["192.0.2.1"])],
                owned_mine(&[&a(&["192.0.2.1"])]),
                Policy::CreateOnly,
                vec![
                    "create 10.2.0.192.in-addr.arpa PTR 300 vm1.example.com",
                    "suppressed(CreateOnly) replace vm1.example.com A 300 192.0.2.2",
                ],
            ),
        ];
        for (what, desired, current, owned, policy, want) in cases {
            let got = summary(&plan(&desired, &current, &owned, policy));
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn another_services_records_may_be_replaced_but_not_deleted() {
        // Address reassigned from service A to service B: B's deploy may take the PTR over...
        let mut owned = Owned::new();
        owned.add_other(ptr(&[]).key(), "a.example.com");
        let p = plan(
            &[ptr(&["b.example.com"])],
            &[ptr(&["a.example.com"])],
            &owned,
            Policy::Sync,
        );
        assert_eq!(
            summary(&p),
            ["replace 10.2.0.192.in-addr.arpa PTR 300 b.example.com"]
        );
        // ...and A's later cleanup leaves B's PTR alone.
        let mut owned_a = Owned::new();
        owned_a.add_mine(ptr(&[]).key(), "a.example.com");
        owned_a.add_other(ptr(&[]).key(), "b.example.com");
        let p = plan(&[], &[ptr(&["b.example.com"])], &owned_a, Policy::Sync);
        assert_eq!(
            summary(&p),
            ["left-alone 10.2.0.192.in-addr.arpa PTR 300 b.example.com"]
        );
        assert!(p.is_noop());
    }

    #[test]
    fn deterministic_order_and_counts() {
        let desired = vec![ptr(&["vm1.example.com"]), a(&["192.0.2.1"])];
        let p1 = plan(&desired, &[], &Owned::new(), Policy::Sync);
        let mut rev = desired.clone();
        rev.reverse();
        let p2 = plan(&rev, &[], &Owned::new(), Policy::Sync);
        assert_eq!(p1, p2);
        assert_eq!(p1.changes().len(), 2);
        assert_eq!(p1.deleted_contents(), 0);
        let del = plan(
            &[],
            &[a(&["192.0.2.1", "192.0.2.2"])],
            &owned_mine(&[&a(&["192.0.2.1", "192.0.2.2"])]),
            Policy::Sync,
        );
        assert_eq!(del.deleted_contents(), 2);
    }
}
