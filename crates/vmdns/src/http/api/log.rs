//! `/log`: the module log, filtered by service, zone, level and time, newest first, paged by `before`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::http::error::{ApiError, ApiResult, Json};
use crate::store::{LogEntry, LogFilter, LogLevel, format_ms};

#[derive(Debug, Deserialize)]
pub(super) struct LogQuery {
    service: Option<i64>,
    zone: Option<i64>,
    level: Option<String>,
    /// RFC 3339 time or Unix milliseconds.
    since: Option<String>,
    /// Entries older than this id (the `next_before` of the previous page).
    before: Option<i64>,
    limit: Option<i64>,
}

#[derive(Debug, Serialize)]
pub(super) struct LogPage {
    entries: Vec<LogEntryView>,
    /// Pass as `before` for the next page; absent on the last page.
    next_before: Option<i64>,
}

#[derive(Debug, Serialize)]
pub(super) struct LogEntryView {
    #[serde(flatten)]
    entry: LogEntry,
    time: String,
}

pub(super) fn parse_since(s: &str) -> Result<i64, ApiError> {
    if let Ok(ms) = s.trim().parse::<i64>() {
        return Ok(ms);
    }
    humantime::parse_rfc3339_weak(s.trim())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .ok_or_else(|| {
            ApiError::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                "since",
                "must be an RFC 3339 time or Unix milliseconds",
            )
        })
}

pub(super) async fn read(
    State(app): State<App>,
    query: Result<Query<LogQuery>, QueryRejection>,
) -> ApiResult<Json<LogPage>> {
    let Query(q) = query?;
    let level = match q.level.as_deref() {
        None | Some("") => None,
        Some(l) => Some(LogLevel::parse(l).ok_or_else(|| {
            ApiError::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                "level",
                "must be one of info, warn, error",
            )
        })?),
    };
    let limit = q.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "limit",
            "must be from 1 to 1000",
        ));
    }
    let filter = LogFilter {
        service_id: q.service,
        zone_id: q.zone,
        level,
        since: q.since.as_deref().map(parse_since).transpose()?,
        before_id: q.before,
        limit,
    };
    let entries = app.store.read_log(&filter).await?;
    let next_before = if entries.len() as i64 == limit {
        entries.last().map(|e| e.id)
    } else {
        None
    };
    Ok(Json(LogPage {
        entries: entries
            .into_iter()
            .map(|entry| LogEntryView {
                time: format_ms(entry.at),
                entry,
            })
            .collect(),
        next_before,
    }))
}
