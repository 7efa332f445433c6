//! Converging one service: for every zone that matches any of its records (or holds records vmdns wrote
//! for it), read what is there, plan against the ledger, apply one batch, and report one line per record
//! per zone. Every zone and every record is handled on its own: a failure is logged with full context and
//! the rest goes on.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use vmdns_core::plan::Owned;
use vmdns_core::{Action, Change, DnsName, PlannedChange, Policy, RrKey, RrSet, ZoneKind, plan};
use vmdns_providers::ProviderError;

use super::ledger;
use crate::app::App;
use crate::store::{
    LedgerRow, LogLevel, NewLogEntry, RecordStatus, Service, ServiceStatus, StoreResult, Zone,
    now_ms,
};

/// Where a job's output lines go: the job's stored output, and stdout for `vmdns cron`.
#[derive(Debug, Clone)]
pub struct Sink {
    pub job_id: Option<i64>,
    pub echo: bool,
}

impl Sink {
    pub fn none() -> Self {
        Self {
            job_id: None,
            echo: false,
        }
    }

    pub async fn line(&self, app: &App, line: &str) {
        if self.echo {
            println!("{line}");
        }
        if let Some(job_id) = self.job_id
            && let Err(e) = app.store.append_output(job_id, line).await
        {
            tracing::error!(job_id, error = %e, "cannot store job output");
        }
    }
}

/// The plan for one zone, for previews.
#[derive(Debug, Serialize)]
pub struct ZonePlan {
    pub zone_id: i64,
    pub zone: String,
    pub provider: String,
    pub items: Vec<PlannedChange>,
    /// Why the zone could not be planned (provider unreachable, bad settings).
    pub error: Option<String>,
}

/// What a converge did.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub zones: usize,
    pub ok: usize,
    pub unchanged: usize,
    pub errors: usize,
    /// Some error may go away by itself (provider down, rate limited): worth an automatic retry.
    pub retryable: bool,
    pub plans: Vec<ZonePlan>,
}

impl Report {
    pub fn summary(&self) -> String {
        format!(
            "summary: {} ok ({} unchanged), {} error{} in {} zone{}",
            self.ok + self.unchanged,
            self.unchanged,
            self.errors,
            if self.errors == 1 { "" } else { "s" },
            self.zones,
            if self.zones == 1 { "" } else { "s" }
        )
    }
}

fn tag(zone: &Zone) -> &'static str {
    match zone.name.zone_kind() {
        ZoneKind::Forward => "fwd",
        ZoneKind::ReverseV4 | ZoneKind::ReverseV6 => "rev",
    }
}

fn where_(zone: &Zone) -> String {
    format!("in {} ({} zone #{})", zone.name, zone.provider, zone.id)
}

/// Converges one service in every zone. With `dry_run` nothing is written (not even the ledger): the
/// report carries the plans.
pub async fn converge_service(
    app: &App,
    service: &Service,
    sink: &Sink,
    policy: Policy,
    dry_run: bool,
) -> StoreResult<Report> {
    let zones = app.store.list_zones().await?;
    let names: Vec<DnsName> = zones.iter().map(|z| z.name.clone()).collect();
    let desired_all = if service.status == ServiceStatus::Active {
        vmdns_core::assign_to_zones(&service.vm_spec(), &names).map_err(anyhow::Error::from)?
    } else {
        vec![Vec::new(); zones.len()]
    };
    let mut ledger: BTreeMap<i64, Vec<LedgerRow>> = BTreeMap::new();
    for row in app.store.ledger_of_service(service.id).await? {
        ledger.entry(row.zone_id).or_default().push(row);
    }
    let mut report = Report::default();
    if !dry_run {
        app.store.clear_record_status(service.id).await?;
    }
    for (zone, desired) in zones.iter().zip(desired_all) {
        let mine = ledger.remove(&zone.id).unwrap_or_default();
        let mut wanted: BTreeSet<DnsName> = desired.iter().map(|r| r.name.clone()).collect();
        wanted.extend(mine.iter().map(|r| r.name.clone()));
        if wanted.is_empty() {
            continue; // The zone matches nothing of this service: skipped without error.
        }
        report.zones += 1;
        let names: Vec<DnsName> = wanted.into_iter().collect();
        converge_zone(
            app,
            service,
            zone,
            &desired,
            &names,
            sink,
            policy,
            dry_run,
            &mut report,
        )
        .await?;
    }
    // The caller writes the `summary:` line last, after anything it adds (a retry).
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
async fn converge_zone(
    app: &App,
    service: &Service,
    zone: &Zone,
    desired: &[RrSet],
    names: &[DnsName],
    sink: &Sink,
    policy: Policy,
    dry_run: bool,
    report: &mut Report,
) -> StoreResult<()> {
    let fail_zone = |message: String| ZonePlan {
        zone_id: zone.id,
        zone: zone.name.to_string(),
        provider: zone.provider.to_string(),
        items: Vec::new(),
        error: Some(message),
    };
    let provider = match app.provider_cache.get(zone, &app.providers) {
        Ok(p) => p,
        Err(e) => {
            let err = ProviderError::rejected(format!("invalid zone settings: {e}"));
            if dry_run {
                report.plans.push(fail_zone(err.to_string()));
            } else {
                zone_failed(
                    app, service, zone, desired, names, "read", &err, sink, report,
                )
                .await?;
            }
            return Ok(());
        }
    };
    let current = match provider.rrsets(names).await {
        Ok(c) => c,
        Err(err) => {
            if dry_run {
                report.plans.push(fail_zone(err.to_string()));
            } else {
                zone_failed(
                    app, service, zone, desired, names, "read", &err, sink, report,
                )
                .await?;
            }
            return Ok(());
        }
    };
    let rows = app.store.ledger_at(zone.id, names).await?;
    let mut owned = Owned::new();
    for r in &rows {
        let key = RrKey {
            name: r.name.clone(),
            rtype: r.rtype,
        };
        if r.service_id == service.id {
            owned.add_mine(key, r.content.clone());
        } else {
            owned.add_other(key, r.content.clone());
        }
    }
    let plan = plan(desired, &current, &owned, policy);
    if dry_run {
        report.plans.push(ZonePlan {
            zone_id: zone.id,
            zone: zone.name.to_string(),
            provider: zone.provider.to_string(),
            items: plan.items,
            error: None,
        });
        return Ok(());
    }
    // The intent goes into the ledger before the write: a crash between the two never leaves a record
    // vmdns wrote without knowing it owns it.
    let owner: BTreeMap<RrKey, i64> = desired.iter().map(|r| (r.key(), service.id)).collect();
    app.store
        .ledger_add(&ledger::intent(zone.id, &plan, &owner))
        .await?;

    let changes = plan.changes();
    let outcomes = apply(provider.as_ref(), &changes).await;
    let finals = ledger::final_states(&plan, &outcomes);
    let mut outcomes = outcomes.into_iter();
    let t = tag(zone);
    let w = where_(zone);
    let mut statuses = Vec::new();
    for item in &plan.items {
        let (ok, line, message) = match &item.action {
            Action::Apply { change } => match outcomes
                .next()
                .unwrap_or_else(|| Err(ProviderError::transient("no outcome")))
            {
                Ok(()) => {
                    report.ok += 1;
                    (
                        true,
                        format!("{t} OK   {} {} {w}", change.verb(), show(change.target())),
                        change.verb().to_string(),
                    )
                }
                Err(e) => {
                    report.errors += 1;
                    report.retryable |= e.is_retryable();
                    log_failure(
                        app,
                        service,
                        zone,
                        &change.target().to_string(),
                        change.verb(),
                        &e,
                        sink,
                    )
                    .await?;
                    (
                        false,
                        format!(
                            "{t} ERR  {} {} {w}: {e}",
                            change.verb(),
                            show(change.target())
                        ),
                        e.to_string(),
                    )
                }
            },
            Action::Unchanged { rrset } => {
                report.unchanged += 1;
                (
                    true,
                    format!("{t} OK   unchanged {} {w}", show(rrset)),
                    "unchanged".to_string(),
                )
            }
            Action::Conflict {
                current, foreign, ..
            } => {
                report.errors += 1;
                let list: Vec<&str> = foreign.iter().map(String::as_str).collect();
                let msg = format!(
                    "{} {} holds {} not written by vmdns: left untouched",
                    current.name,
                    current.rtype,
                    list.join(", ")
                );
                log_failure(
                    app,
                    service,
                    zone,
                    &current.to_string(),
                    "conflict",
                    &ProviderError::rejected(msg.clone()),
                    sink,
                )
                .await?;
                (false, format!("{t} ERR  {msg} {w}"), msg)
            }
            Action::LeftAlone { current } => {
                report.ok += 1;
                let msg = format!("left alone {}: it points elsewhere now", show(current));
                (true, format!("{t} OK   {msg} {w}"), msg)
            }
            Action::Suppressed { change, policy } => {
                report.ok += 1;
                let msg = format!(
                    "skipped {} {} (policy {policy:?})",
                    change.verb(),
                    show(change.target())
                );
                (true, format!("{t} OK   {msg} {w}"), msg)
            }
        };
        sink.line(app, &line).await;
        statuses.push(RecordStatus {
            service_id: service.id,
            zone_id: zone.id,
            name: item.key.name.to_string(),
            rtype: item.key.rtype.to_string(),
            ok,
            message,
            at: now_ms(),
        });
    }
    let (forget, own) = ledger::reconcile(
        zone.id,
        &plan,
        &finals,
        &rows,
        &owner,
        &current,
        Some(service.id),
    );
    app.store.ledger_remove(&forget).await?;
    app.store.ledger_add(&own).await?;
    app.store.set_record_status(&statuses).await?;
    Ok(())
}

/// Applies changes and gives one outcome per change, whatever the provider answered.
pub(crate) async fn apply(
    provider: &dyn vmdns_providers::Provider,
    changes: &[Change],
) -> Vec<Result<(), ProviderError>> {
    if changes.is_empty() {
        return Vec::new();
    }
    match provider.apply(changes).await {
        Ok(r) if r.outcomes.len() == changes.len() => r.outcomes,
        Ok(r) => {
            let e = ProviderError::transient(format!(
                "provider answered {} outcomes for {} changes",
                r.outcomes.len(),
                changes.len()
            ));
            changes.iter().map(|_| Err(e.clone())).collect()
        }
        Err(e) => changes.iter().map(|_| Err(e.clone())).collect(),
    }
}

fn show(r: &RrSet) -> String {
    let contents: Vec<&str> = r.records.iter().map(String::as_str).collect();
    format!("{} {} {}", r.name, r.rtype, contents.join(","))
}

/// A whole zone failed (settings, provider unreachable, credentials): one ERR line per record.
#[allow(clippy::too_many_arguments)]
async fn zone_failed(
    app: &App,
    service: &Service,
    zone: &Zone,
    desired: &[RrSet],
    names: &[DnsName],
    operation: &str,
    err: &ProviderError,
    sink: &Sink,
    report: &mut Report,
) -> StoreResult<()> {
    let t = tag(zone);
    let w = where_(zone);
    let mut records: Vec<(String, String, String)> = desired
        .iter()
        .map(|r| (show(r), r.name.to_string(), r.rtype.to_string()))
        .collect();
    if records.is_empty() {
        // Nothing desired here: the records to remove.
        records = names
            .iter()
            .map(|n| (format!("{n} (remove)"), n.to_string(), "*".to_string()))
            .collect();
    }
    let mut statuses = Vec::new();
    for (shown, name, rtype) in records {
        report.errors += 1;
        report.retryable |= err.is_retryable();
        sink.line(app, &format!("{t} ERR  {shown} {w}: {err}"))
            .await;
        statuses.push(RecordStatus {
            service_id: service.id,
            zone_id: zone.id,
            name,
            rtype,
            ok: false,
            message: err.to_string(),
            at: now_ms(),
        });
    }
    log_failure(
        app,
        service,
        zone,
        &format!("{} record(s)", statuses.len()),
        operation,
        err,
        sink,
    )
    .await?;
    app.store.set_record_status(&statuses).await?;
    Ok(())
}

async fn log_failure(
    app: &App,
    service: &Service,
    zone: &Zone,
    record: &str,
    operation: &str,
    err: &ProviderError,
    sink: &Sink,
) -> StoreResult<()> {
    tracing::warn!(
        job_id = sink.job_id,
        service_id = service.id,
        zone_id = zone.id,
        zone = %zone.name,
        provider = %zone.provider,
        record,
        operation,
        error = %err,
        "DNS operation failed"
    );
    app.store
        .log(NewLogEntry {
            level: Some(LogLevel::Error),
            message: format!("{operation} {record} in {} failed: {err}", zone.name),
            job_id: sink.job_id,
            service_id: Some(service.id),
            zone_id: Some(zone.id),
            zone_name: Some(zone.name.to_string()),
            provider: Some(zone.provider.to_string()),
            record: Some(record.to_string()),
            operation: Some(operation.to_string()),
            detail: Some(format!("{} ({})", err, err.kind())),
        })
        .await
}
