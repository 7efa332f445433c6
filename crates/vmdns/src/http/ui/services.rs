//! Services: the list (name, FQDN, addresses, last job and its outcome), the add/edit form, and the
//! service page: desired records, the status matrix (record × zone → OK / ERR with the last error and
//! time), the lifecycle buttons (Deploy, Set DNS records, Terminate, Preview) and the service's jobs.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use serde_json::Value;
use vmdns_core::{Action, Change, Policy};

use super::jobs::JobRow;
use super::session::{Authed, Posted};
use super::zones::NoticeQuery;
use super::{
    Chrome, Field, FieldErrors, UiError, UiResult, notice_text, parse_id, render, render_invalid,
    when,
};
use crate::admin::{self, AddressBody, AdminError, ServiceBody};
use crate::app::App;
use crate::engine::converge::{Sink, converge_service};
use crate::store::{JobKind, Service, ServiceStatus, StoreError, Zone};

pub(crate) struct AddressRow {
    ip: String,
    ptr: Option<String>,
}

fn addresses(s: &Service) -> Vec<AddressRow> {
    s.addresses
        .iter()
        .map(|a| AddressRow {
            ip: a.ip.to_string(),
            ptr: a.ptr.as_ref().map(ToString::to_string),
        })
        .collect()
}

pub(crate) struct ServiceRow {
    id: i64,
    name: String,
    fqdn: String,
    status: &'static str,
    addresses: Vec<AddressRow>,
    last_job: Option<JobRow>,
}

#[derive(Template)]
#[template(path = "services.html")]
struct ServicesPage {
    chrome: Chrome,
    services: Vec<ServiceRow>,
    notice: Option<String>,
}

pub(crate) async fn list(
    State(app): State<App>,
    s: Authed,
    Query(q): Query<NoticeQuery>,
) -> UiResult {
    let services = app.store.list_services().await?;
    let mut rows = Vec::with_capacity(services.len());
    for svc in &services {
        let last_job = app
            .store
            .list_jobs(Some(svc.id), 1)
            .await?
            .first()
            .map(JobRow::from);
        rows.push(ServiceRow {
            id: svc.id,
            name: svc.name.clone(),
            fqdn: svc.fqdn(),
            status: svc.status.as_str(),
            addresses: addresses(svc),
            last_job,
        });
    }
    render(&ServicesPage {
        chrome: Chrome::new(&s, "services", "Services"),
        services: rows,
        notice: notice_text(q.notice.as_deref(), q.id),
    })
}

// ----------------------------------------------------------------------------------------------- form

#[derive(Template)]
#[template(path = "service_form.html")]
struct ServiceForm {
    chrome: Chrome,
    service_id: Option<i64>,
    fields: Vec<Field>,
    errors: FieldErrors,
}

struct ServiceValues {
    name: String,
    domain: String,
    ttl: String,
    addresses: String,
}

fn service_form(
    chrome: Chrome,
    service_id: Option<i64>,
    v: ServiceValues,
    errors: FieldErrors,
) -> ServiceForm {
    let fields = vec![
        Field::text("name", "Name", v.name)
            .required()
            .placeholder("vm-123")
            .help("The VM's internal name: the first label of its FQDN.")
            .error_from(&errors, "name"),
        Field::text("domain", "Domain", v.domain)
            .required()
            .placeholder("example.com")
            .help("The main domain: forward records are written for <name>.<domain>.")
            .error_from(&errors, "domain"),
        Field::text("ttl", "TTL (seconds)", v.ttl)
            .kind("number")
            .placeholder(admin::DEFAULT_TTL.to_string())
            .help(format!("Of every record of this service; default {}.", admin::DEFAULT_TTL))
            .error_from(&errors, "ttl"),
        Field::text("addresses", "Addresses", v.addresses)
            .kind("textarea")
            .placeholder("192.0.2.10\n2001:db8::10 mail.example.net")
            .help("One address per line, optionally followed by the PTR name the customer set (the FQDN otherwise).")
            .error_from(&errors, "addresses"),
    ];
    ServiceForm {
        chrome,
        service_id,
        fields,
        errors,
    }
}

fn stored_values(s: &Service) -> ServiceValues {
    ServiceValues {
        name: s.name.clone(),
        domain: s.domain.to_string(),
        ttl: s.ttl.to_string(),
        addresses: s
            .addresses
            .iter()
            .map(|a| match &a.ptr {
                Some(p) => format!("{} {p}", a.ip),
                None => a.ip.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

fn posted_values(p: &Posted) -> ServiceValues {
    ServiceValues {
        name: p.text("name"),
        domain: p.text("domain"),
        ttl: p.text("ttl"),
        addresses: p.text("addresses"),
    }
}

/// The body the shared admin operations take, and for each address the form line it came from.
fn body_of(p: &Posted) -> Result<(ServiceBody, Vec<usize>), FieldErrors> {
    let mut addresses = Vec::new();
    let mut lines = Vec::new();
    for (i, line) in p.text("addresses").lines().enumerate() {
        let mut words = line.split_whitespace();
        let Some(ip) = words.next() else { continue };
        let ptr = words.next().map(str::to_string);
        if words.next().is_some() {
            let mut e = FieldErrors::default();
            e.set(
                "addresses",
                format!(
                    "line {}: expected an address and at most one PTR name",
                    i + 1
                ),
            );
            return Err(e);
        }
        addresses.push(AddressBody {
            ip: Some(ip.to_string()),
            ptr,
        });
        lines.push(i + 1);
    }
    let ttl = p.text("ttl");
    Ok((
        ServiceBody {
            name: Some(p.text("name")),
            domain: Some(p.text("domain")),
            addresses,
            ttl: (!ttl.is_empty()).then_some(Value::String(ttl)),
        },
        lines,
    ))
}

/// Sorts an admin error onto the form's fields; address errors name their line.
fn form_errors(e: AdminError, lines: &[usize]) -> Result<FieldErrors, UiError> {
    let addr_line = |f: &str| -> Option<usize> {
        let i: usize = f
            .strip_prefix("addresses[")?
            .split(']')
            .next()?
            .parse()
            .ok()?;
        lines.get(i).copied()
    };
    match e {
        AdminError::Invalid {
            field: Some(f),
            message,
        } if f.starts_with("addresses[") => {
            let mut out = FieldErrors::default();
            let line = addr_line(&f)
                .map(|l| format!("line {l}: "))
                .unwrap_or_default();
            out.set("addresses", format!("{line}{message}"));
            Ok(out)
        }
        other => FieldErrors::from_admin(other, |f| {
            ["name", "domain", "ttl", "addresses"]
                .contains(&f)
                .then(|| f.to_string())
        }),
    }
}

pub(crate) async fn new_form(s: Authed) -> UiResult {
    render(&service_form(
        Chrome::new(&s, "services", "Add Service"),
        None,
        ServiceValues {
            name: String::new(),
            domain: String::new(),
            ttl: String::new(),
            addresses: String::new(),
        },
        FieldErrors::default(),
    ))
}

pub(crate) async fn edit_form(
    State(app): State<App>,
    s: Authed,
    Path(id): Path<String>,
) -> UiResult {
    let id = parse_id("service", &id)?;
    let svc = app.store.get_service(id).await?;
    render(&service_form(
        Chrome::new(&s, "services", format!("Edit Service #{id}")),
        Some(id),
        stored_values(&svc),
        FieldErrors::default(),
    ))
}

pub(crate) async fn create(State(app): State<App>, posted: Posted) -> UiResult {
    let title = "Add Service";
    let result = match body_of(&posted) {
        Ok((body, lines)) => match admin::create_service(&app, &body).await {
            Ok(svc) => {
                return Ok(Redirect::to(&format!("/services/{}", svc.id)).into_response());
            }
            Err(e) => form_errors(e, &lines)?,
        },
        Err(errors) => errors,
    };
    render_invalid(&service_form(
        Chrome::new(&posted.session, "services", title),
        None,
        posted_values(&posted),
        result,
    ))
}

pub(crate) async fn update(
    State(app): State<App>,
    Path(id): Path<String>,
    posted: Posted,
) -> UiResult {
    let id = parse_id("service", &id)?;
    let errors = match body_of(&posted) {
        Ok((body, lines)) => match admin::update_service(&app, id, &body).await {
            Ok(_) => {
                return Ok(
                    Redirect::to(&format!("/services/{id}?notice=service-saved&id={id}"))
                        .into_response(),
                );
            }
            Err(e) => form_errors(e, &lines)?,
        },
        Err(errors) => errors,
    };
    render_invalid(&service_form(
        Chrome::new(&posted.session, "services", format!("Edit Service #{id}")),
        Some(id),
        posted_values(&posted),
        errors,
    ))
}

pub(crate) async fn delete(
    State(app): State<App>,
    Path(id): Path<String>,
    posted: Posted,
) -> UiResult {
    let id = parse_id("service", &id)?;
    let force = posted.get("force") == Some("1");
    match app.store.delete_service(id, force).await {
        Ok(()) => {
            Ok(Redirect::to(&format!("/services?notice=service-deleted&id={id}")).into_response())
        }
        // Still owns records: say so on the service page, where Terminate is.
        Err(StoreError::Conflict { message, .. }) => {
            let page = service_page(&app, &posted.session, id, None, Some(message)).await?;
            render_invalid(&page)
        }
        Err(e) => Err(e.into()),
    }
}

// ----------------------------------------------------------------------------------------------- page

pub(crate) struct DesiredRow {
    zone_id: i64,
    zone: String,
    provider: &'static str,
    provider_label: &'static str,
    name: String,
    rtype: String,
    ttl: u32,
    content: String,
}

/// One cell of the status matrix.
pub(crate) enum Cell {
    /// The record does not belong in this zone.
    None,
    /// Belongs there, but no job has written it yet.
    Pending,
    Ok {
        message: String,
        at: String,
    },
    Err {
        message: String,
        at: String,
    },
}

pub(crate) struct MatrixRow {
    name: String,
    rtype: String,
    cells: Vec<Cell>,
}

pub(crate) struct MatrixZone {
    id: i64,
    name: String,
    provider_label: &'static str,
}

#[derive(Template)]
#[template(path = "service.html")]
struct ServicePage {
    chrome: Chrome,
    id: i64,
    name: String,
    fqdn: String,
    domain: String,
    ttl: u32,
    active: bool,
    status: &'static str,
    addresses: Vec<AddressRow>,
    desired: Vec<DesiredRow>,
    desired_error: Option<String>,
    zones: Vec<MatrixZone>,
    matrix: Vec<MatrixRow>,
    jobs: Vec<JobRow>,
    notice: Option<String>,
    error: Option<String>,
}

fn desired_rows(svc: &Service, zones: &[Zone]) -> Result<Vec<DesiredRow>, String> {
    if svc.status != ServiceStatus::Active {
        return Ok(Vec::new());
    }
    let names: Vec<_> = zones.iter().map(|z| z.name.clone()).collect();
    let assigned =
        vmdns_core::assign_to_zones(&svc.vm_spec(), &names).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for (zone, rrsets) in zones.iter().zip(assigned) {
        for r in rrsets {
            out.push(DesiredRow {
                zone_id: zone.id,
                zone: zone.name.to_string(),
                provider: zone.provider.as_str(),
                provider_label: zone.provider.label(),
                name: r.name.to_string(),
                rtype: r.rtype.to_string(),
                ttl: r.ttl,
                content: r.records.into_iter().collect::<Vec<_>>().join(", "),
            });
        }
    }
    Ok(out)
}

#[derive(Debug, Deserialize)]
pub(crate) struct ShowQuery {
    notice: Option<String>,
    id: Option<i64>,
}

async fn service_page(
    app: &App,
    s: &Authed,
    id: i64,
    notice: Option<String>,
    error: Option<String>,
) -> Result<ServicePage, UiError> {
    let svc = app.store.get_service(id).await?;
    let zones = app.store.list_zones().await?;
    let (desired, desired_error) = match desired_rows(&svc, &zones) {
        Ok(d) => (d, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let status = app.store.record_status(id).await?;
    // Rows: every desired record and every record with a status; columns: every zone involved.
    let mut keys: BTreeSet<(String, String)> = desired
        .iter()
        .map(|d| (d.name.clone(), d.rtype.clone()))
        .collect();
    keys.extend(status.iter().map(|r| (r.name.clone(), r.rtype.clone())));
    let zone_ids: BTreeSet<i64> = desired
        .iter()
        .map(|d| d.zone_id)
        .chain(status.iter().map(|r| r.zone_id))
        .collect();
    let matrix_zones: Vec<MatrixZone> = zones
        .iter()
        .filter(|z| zone_ids.contains(&z.id))
        .map(|z| MatrixZone {
            id: z.id,
            name: z.name.to_string(),
            provider_label: z.provider.label(),
        })
        .collect();
    let by_key: BTreeMap<(i64, &str, &str), &crate::store::RecordStatus> = status
        .iter()
        .map(|r| ((r.zone_id, r.name.as_str(), r.rtype.as_str()), r))
        .collect();
    let matrix = keys
        .into_iter()
        .map(|(name, rtype)| {
            let cells = matrix_zones
                .iter()
                .map(
                    |z| match by_key.get(&(z.id, name.as_str(), rtype.as_str())) {
                        Some(r) if r.ok => Cell::Ok {
                            message: r.message.clone(),
                            at: when(r.at),
                        },
                        Some(r) => Cell::Err {
                            message: r.message.clone(),
                            at: when(r.at),
                        },
                        None if desired
                            .iter()
                            .any(|d| d.zone_id == z.id && d.name == name && d.rtype == rtype) =>
                        {
                            Cell::Pending
                        }
                        None => Cell::None,
                    },
                )
                .collect();
            MatrixRow { name, rtype, cells }
        })
        .collect();
    let jobs = app
        .store
        .list_jobs(Some(id), 20)
        .await?
        .iter()
        .map(JobRow::from)
        .collect();
    Ok(ServicePage {
        chrome: Chrome::new(s, "services", format!("{} — Service #{id}", svc.name)),
        id,
        name: svc.name.clone(),
        fqdn: svc.fqdn(),
        domain: svc.domain.to_string(),
        ttl: svc.ttl,
        active: svc.status == ServiceStatus::Active,
        status: svc.status.as_str(),
        addresses: addresses(&svc),
        desired,
        desired_error,
        zones: matrix_zones,
        matrix,
        jobs,
        notice,
        error,
    })
}

pub(crate) async fn show(
    State(app): State<App>,
    s: Authed,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> UiResult {
    let id = parse_id("service", &id)?;
    let notice = notice_text(q.notice.as_deref(), q.id);
    render(&service_page(&app, &s, id, notice, None).await?)
}

/// Deploy, Set DNS records, Terminate: queue the job, then show its live log.
pub(crate) async fn enqueue(
    State(app): State<App>,
    Path(id): Path<String>,
    posted: Posted,
) -> UiResult {
    let id = parse_id("service", &id)?;
    let kind = match posted.get("action") {
        Some("deploy") => JobKind::Deploy,
        Some("change-package") => JobKind::ChangePackage,
        Some("terminate") => JobKind::Terminate,
        Some("set-dns-records") => JobKind::SetDnsRecords,
        other => {
            let page = service_page(
                &app,
                &posted.session,
                id,
                None,
                Some(format!("unknown action {:?}", other.unwrap_or_default())),
            )
            .await?;
            return render_invalid(&page);
        }
    };
    let job = crate::engine::enqueue(&app, id, kind).await?;
    tracing::info!(job_id = job.id, service_id = id, kind = %kind, user = %posted.session.0.user_name, "job queued in the UI");
    Ok(Redirect::to(&format!("/jobs/{}", job.id)).into_response())
}

// ------------------------------------------------------------------------------------------- preview

pub(crate) struct PlanRow {
    action: &'static str,
    /// `ok` (a change), `same` (nothing to do), `warn` (left untouched).
    tone: &'static str,
    record: String,
    detail: String,
}

pub(crate) struct PlanZone {
    zone_id: i64,
    zone: String,
    provider: String,
    error: Option<String>,
    rows: Vec<PlanRow>,
}

#[derive(Template)]
#[template(path = "plan.html")]
struct PlanPage {
    chrome: Chrome,
    id: i64,
    fqdn: String,
    zones: Vec<PlanZone>,
}

fn contents(r: &vmdns_core::RrSet) -> String {
    let c: Vec<&str> = r.records.iter().map(String::as_str).collect();
    format!("{} (TTL {})", c.join(", "), r.ttl)
}

fn plan_row(item: &vmdns_core::PlannedChange) -> PlanRow {
    let record = item.key.to_string();
    let (action, tone, detail) = match &item.action {
        Action::Apply { change } => match change {
            Change::Create(r) => ("create", "ok", contents(r)),
            Change::Replace { from, to } => (
                "replace",
                "ok",
                format!("{} → {}", contents(from), contents(to)),
            ),
            Change::Delete(r) => ("delete", "ok", contents(r)),
        },
        Action::Unchanged { rrset } => ("unchanged", "same", contents(rrset)),
        Action::Conflict {
            current, foreign, ..
        } => (
            "conflict",
            "warn",
            format!(
                "holds {} not written by vmdns: left untouched (now {})",
                foreign.iter().cloned().collect::<Vec<_>>().join(", "),
                contents(current)
            ),
        ),
        Action::LeftAlone { current } => (
            "left alone",
            "warn",
            format!("points elsewhere now: {}", contents(current)),
        ),
        Action::Suppressed { change, policy } => (
            "suppressed",
            "warn",
            format!("{change} (not allowed by the {policy:?} policy)"),
        ),
    };
    PlanRow {
        action,
        tone,
        record,
        detail,
    }
}

/// Preview: what "Set DNS records" would change, zone by zone, without changing anything.
pub(crate) async fn plan(State(app): State<App>, s: Authed, Path(id): Path<String>) -> UiResult {
    let id = parse_id("service", &id)?;
    let svc = app.store.get_service(id).await?;
    let report = converge_service(&app, &svc, &Sink::none(), Policy::Sync, true).await?;
    let zones = report
        .plans
        .iter()
        .map(|p| PlanZone {
            zone_id: p.zone_id,
            zone: p.zone.clone(),
            provider: p
                .provider
                .parse::<vmdns_providers::ProviderKind>()
                .map_or_else(|_| p.provider.clone(), |k| k.label().to_string()),
            error: p.error.clone(),
            rows: p.items.iter().map(plan_row).collect(),
        })
        .collect();
    render(&PlanPage {
        chrome: Chrome::new(&s, "services", format!("Preview — Service #{id}")),
        id,
        fqdn: svc.fqdn(),
        zones,
    })
}
