//! Lifecycle jobs: queue them (`202 {"job_id"}` at once: the caller never waits on DNS), read them, follow
//! their output live as server-sent events, and preview what a resync would change.

use std::convert::Infallible;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, Sse};
use futures::Stream;
use serde::{Deserialize, Serialize};
use vmdns_core::Policy;

use super::parse_id;
use crate::app::App;
use crate::engine::converge::{Sink, ZonePlan, converge_service};
use crate::http::error::{ApiError, ApiResult, Json};
use crate::store::JobKind;
use crate::views::JobView;

#[derive(Debug, Serialize)]
pub(super) struct Queued {
    job_id: i64,
}

pub(super) async fn enqueue(
    State(app): State<App>,
    Path((id, action)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<Queued>)> {
    let kind = match action.as_str() {
        "deploy" => JobKind::Deploy,
        "change-package" => JobKind::ChangePackage,
        "terminate" => JobKind::Terminate,
        "set-dns-records" => JobKind::SetDnsRecords,
        _ => {
            return Err(ApiError::not_found(format!(
                "no action {action:?}: use deploy, change-package, terminate or set-dns-records"
            )));
        }
    };
    let id = parse_id("service", &id)?;
    let job = crate::engine::enqueue(&app, id, kind).await?;
    Ok((StatusCode::ACCEPTED, Json(Queued { job_id: job.id })))
}

#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    service: Option<i64>,
    limit: Option<i64>,
}

pub(super) async fn list(
    State(app): State<App>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<JobView>>> {
    let Query(q) = query?;
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    let jobs = app.store.list_jobs(q.service, limit).await?;
    Ok(Json(jobs.iter().map(|j| JobView::new(j, None)).collect()))
}

pub(super) async fn get(
    State(app): State<App>,
    Path(id): Path<String>,
) -> ApiResult<Json<JobView>> {
    let id = parse_id("job", &id)?;
    let job = app.store.get_job(id).await?;
    let output = app.store.job_output(id, 0).await?;
    Ok(Json(JobView::new(&job, Some(output))))
}

/// The job's output as server-sent events (see [`crate::http::events`]).
pub(super) async fn events(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let id = parse_id("job", &id)?;
    app.store.get_job(id).await?;
    let after = crate::http::events::last_event_id(&headers).unwrap_or(0);
    Ok(crate::http::events::job_events(app, id, after))
}

#[derive(Debug, Serialize)]
pub(super) struct PlanView {
    service_id: i64,
    zones: Vec<ZonePlan>,
}

/// What "Set DNS records" would change, zone by zone, without changing anything.
pub(super) async fn plan(
    State(app): State<App>,
    Path(id): Path<String>,
) -> ApiResult<Json<PlanView>> {
    let id = parse_id("service", &id)?;
    let service = app.store.get_service(id).await?;
    let report = converge_service(&app, &service, &Sink::none(), Policy::Sync, true).await?;
    Ok(Json(PlanView {
        service_id: id,
        zones: report.plans,
    }))
}
