//! A job's log: the page shows the output so far and, while the job runs, follows it live through
//! `/ui/jobs/{id}/events` (server-sent events, authenticated by the session like every page).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::session::Authed;
use super::{Chrome, UiResult, parse_id, render, when};
use crate::app::App;
use crate::store::{Job, JobOutputLine, JobState};

/// A job in lists (the services list's "last job", the service page's jobs).
pub(crate) struct JobRow {
    pub(crate) id: i64,
    pub(crate) kind: String,
    pub(crate) state: &'static str,
    pub(crate) tone: &'static str,
    pub(crate) created: String,
    pub(crate) finished: Option<String>,
    pub(crate) summary: String,
}

/// How a state looks: `ok`, `err`, `warn`, `busy` or `same`.
pub(crate) fn tone(state: JobState) -> &'static str {
    match state {
        JobState::Done => "ok",
        JobState::DoneWithErrors => "warn",
        JobState::Failed => "err",
        JobState::Queued | JobState::Running => "busy",
        JobState::Superseded => "same",
    }
}

impl From<&Job> for JobRow {
    fn from(j: &Job) -> Self {
        Self {
            id: j.id,
            kind: j.kind.as_str().replace('_', " "),
            state: j.state.as_str(),
            tone: tone(j.state),
            created: when(j.created_at),
            finished: j.finished_at.map(when),
            summary: j.summary.clone().unwrap_or_default(),
        }
    }
}

/// One output line, with its look (`ok` for `fwd OK ...`, `err` for `rev ERR ...`).
pub(crate) struct LineView {
    text: String,
    tone: &'static str,
}

pub(crate) fn line_tone(line: &str) -> &'static str {
    match line.split_whitespace().nth(1) {
        Some("OK") => "ok",
        Some("ERR") => "err",
        _ if line.starts_with("summary:") => "summary",
        _ => "",
    }
}

impl From<JobOutputLine> for LineView {
    fn from(l: JobOutputLine) -> Self {
        Self {
            tone: line_tone(&l.line),
            text: l.line,
        }
    }
}

#[derive(Template)]
#[template(path = "job.html")]
struct JobPage {
    chrome: Chrome,
    job: JobRow,
    service_id: i64,
    service_name: String,
    started: Option<String>,
    attempts: i64,
    retry_number: i64,
    lines: Vec<LineView>,
    /// Where the page's script follows the output; none once the job is finished.
    events_url: Option<String>,
}

pub(crate) async fn show(State(app): State<App>, s: Authed, Path(id): Path<String>) -> UiResult {
    let id = parse_id("job", &id)?;
    let job = app.store.get_job(id).await?;
    let service_name = app
        .store
        .get_service(job.service_id)
        .await
        .map(|svc| svc.name)
        .unwrap_or_else(|_| format!("(deleted service {})", job.service_id));
    let output = app.store.job_output(id, 0).await?;
    let last = output.last().map_or(0, |l| l.seq);
    let events_url =
        (!job.state.is_finished()).then(|| format!("/ui/jobs/{id}/events?after={last}"));
    render(&JobPage {
        chrome: Chrome::new(&s, "services", format!("Job #{id}")),
        service_id: job.service_id,
        service_name,
        started: job.started_at.map(when),
        attempts: job.attempts,
        retry_number: job.retry_number,
        lines: output.into_iter().map(LineView::from).collect(),
        events_url,
        job: JobRow::from(&job),
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct EventsQuery {
    after: Option<i64>,
}

/// `event: line` per output line (id = its sequence number, so a reconnect resumes), then `event: end`
/// with the job's final state.
pub(crate) async fn events(
    State(app): State<App>,
    _s: Authed,
    Path(id): Path<String>,
    Query(q): Query<EventsQuery>,
    headers: HeaderMap,
) -> UiResult<Response> {
    let id = parse_id("job", &id)?;
    app.store.get_job(id).await?;
    let after = crate::http::events::last_event_id(&headers)
        .or(q.after)
        .unwrap_or(0);
    Ok(crate::http::events::job_events(app, id, after).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_get_their_tone() {
        assert_eq!(line_tone("fwd OK   create vm.example.com A"), "ok");
        assert_eq!(line_tone("rev ERR  unauthorized"), "err");
        assert_eq!(line_tone("summary: 2 ok"), "summary");
        assert_eq!(line_tone("job 3 started"), "");
    }
}
