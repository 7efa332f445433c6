//! Lifecycle jobs: queue them (`202 {"job_id"}` at once: the caller never waits on DNS), read them, follow
//! their output live as server-sent events, and preview what a resync would change.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
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

/// `event: line` per output line (id = its sequence number, so `Last-Event-ID` resumes), then
/// `event: end` with the job's final state.
pub(super) async fn events(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let id = parse_id("job", &id)?;
    app.store.get_job(id).await?;
    let after: i64 = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let stream = async_stream(app, id, after);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

fn async_stream(app: App, id: i64, after: i64) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(
        (app, after, false),
        move |(app, mut seq, done)| async move {
            if done {
                return None;
            }
            loop {
                let lines = app.store.job_output(id, seq).await.unwrap_or_default();
                if !lines.is_empty() {
                    let mut events = Vec::new();
                    for l in lines {
                        seq = l.seq;
                        events.push(Ok(Event::default()
                            .event("line")
                            .id(l.seq.to_string())
                            .data(l.line)));
                    }
                    return Some((futures::stream::iter(events), (app, seq, false)));
                }
                match app.store.get_job(id).await {
                    Ok(job) if job.state.is_finished() => {
                        // One more read: lines written just before the state changed.
                        if !app
                            .store
                            .job_output(id, seq)
                            .await
                            .unwrap_or_default()
                            .is_empty()
                        {
                            continue;
                        }
                        let end = Event::default().event("end").data(job.state.as_str());
                        return Some((futures::stream::iter(vec![Ok(end)]), (app, seq, true)));
                    }
                    Ok(_) => {}
                    Err(_) => return None,
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        },
    )
    .flatten()
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
