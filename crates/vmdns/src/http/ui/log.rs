//! Module log: every DNS failure (and each job's summary of them) with its full context, filtered by
//! service, zone and level, newest first, paged by the id of the last entry shown.

use askama::Template;
use axum::extract::{Query, State};
use serde::Deserialize;

use super::session::Authed;
use super::{Chrome, UiResult, render, when};
use crate::app::App;
use crate::store::{LogEntry, LogFilter, LogLevel};

/// Entries per page.
const PAGE: i64 = 50;

pub(crate) struct EntryRow {
    id: i64,
    time: String,
    level: String,
    message: String,
    job_id: Option<i64>,
    service_id: Option<i64>,
    zone: Option<String>,
    /// The rest of the context: (label, value) for every field that is set.
    context: Vec<(&'static str, String)>,
}

impl From<LogEntry> for EntryRow {
    fn from(e: LogEntry) -> Self {
        let zone = match (&e.zone_name, e.zone_id) {
            (Some(n), Some(id)) => Some(format!("{n} (#{id})")),
            (Some(n), None) => Some(n.clone()),
            (None, Some(id)) => Some(format!("#{id}")),
            (None, None) => None,
        };
        let context = [
            ("Provider", e.provider.clone()),
            ("Record", e.record.clone()),
            ("Operation", e.operation.clone()),
            ("Detail", e.detail.clone()),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| (k, v)))
        .collect();
        Self {
            id: e.id,
            time: when(e.at),
            level: e.level,
            message: e.message,
            job_id: e.job_id,
            service_id: e.service_id,
            zone,
            context,
        }
    }
}

/// A choice in a filter's drop-down.
pub(crate) struct Choice {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "log.html")]
struct LogPage {
    chrome: Chrome,
    services: Vec<Choice>,
    zones: Vec<Choice>,
    levels: Vec<Choice>,
    entries: Vec<EntryRow>,
    /// The query string of the next (older) page, if there is one.
    older: Option<String>,
    /// Whether this is a later page (a link back to the newest entries makes sense).
    paged: bool,
    filtered: bool,
    /// The query string of the first page with the same filters.
    first_page: String,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct LogQuery {
    service: Option<String>,
    zone: Option<String>,
    level: Option<String>,
    before: Option<String>,
}

fn id_of(v: Option<&str>) -> Option<i64> {
    v.and_then(|s| s.trim().parse().ok()).filter(|i| *i > 0)
}

pub(crate) async fn page(State(app): State<App>, s: Authed, Query(q): Query<LogQuery>) -> UiResult {
    let service = id_of(q.service.as_deref());
    let zone = id_of(q.zone.as_deref());
    let level = q.level.as_deref().and_then(LogLevel::parse);
    let before = id_of(q.before.as_deref());
    let entries = app
        .store
        .read_log(&LogFilter {
            service_id: service,
            zone_id: zone,
            level,
            since: None,
            before_id: before,
            limit: PAGE,
        })
        .await?;
    let mut filter_query = Vec::new();
    if let Some(s) = service {
        filter_query.push(format!("service={s}"));
    }
    if let Some(z) = zone {
        filter_query.push(format!("zone={z}"));
    }
    if let Some(l) = level {
        filter_query.push(format!("level={}", l.as_str()));
    }
    let older = (entries.len() as i64 == PAGE)
        .then(|| entries.last().map(|e| e.id))
        .flatten()
        .map(|last| {
            let mut q = filter_query.clone();
            q.push(format!("before={last}"));
            q.join("&")
        });
    let services = app
        .store
        .list_services()
        .await?
        .iter()
        .map(|svc| Choice {
            value: svc.id.to_string(),
            label: format!("#{} {}", svc.id, svc.fqdn()),
            selected: service == Some(svc.id),
        })
        .collect();
    let zones = app
        .store
        .list_zones()
        .await?
        .iter()
        .map(|z| Choice {
            value: z.id.to_string(),
            label: format!("#{} {} ({})", z.id, z.name, z.provider.label()),
            selected: zone == Some(z.id),
        })
        .collect();
    let levels = [LogLevel::Info, LogLevel::Warn, LogLevel::Error]
        .into_iter()
        .map(|l| Choice {
            value: l.as_str().to_string(),
            label: l.as_str().to_string(),
            selected: level == Some(l),
        })
        .collect();
    render(&LogPage {
        chrome: Chrome::new(&s, "log", "Module log"),
        services,
        zones,
        levels,
        entries: entries.into_iter().map(EntryRow::from).collect(),
        older,
        paged: before.is_some(),
        filtered: !filter_query.is_empty(),
        first_page: filter_query.join("&"),
    })
}
