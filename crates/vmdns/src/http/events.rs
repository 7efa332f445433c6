//! A job's live output as server-sent events, for the API and the UI alike: `event: line` per output line
//! (its id is the line's sequence number, so `Last-Event-ID` resumes), then `event: end` with the job's
//! final state. Lines are read from the store, so any node serving the request sees any worker's output.

use std::convert::Infallible;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};

use crate::app::App;

/// How often a follower looks for new lines.
const POLL: Duration = Duration::from_millis(200);

/// The sequence number a reconnecting client saw last.
pub fn last_event_id(headers: &HeaderMap) -> Option<i64> {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Follows job `id` from after line `after` until it ends.
pub fn job_events(
    app: App,
    id: i64,
    after: i64,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    Sse::new(follow(app, id, after)).keep_alive(KeepAlive::default())
}

fn follow(app: App, id: i64, after: i64) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(
        (app, after, false),
        move |(app, mut seq, done)| async move {
            if done {
                return None;
            }
            loop {
                let lines = app.store.job_output(id, seq).await.unwrap_or_default();
                if !lines.is_empty() {
                    let events: Vec<_> = lines
                        .into_iter()
                        .map(|l| {
                            seq = l.seq;
                            Ok(Event::default()
                                .event("line")
                                .id(l.seq.to_string())
                                .data(l.line))
                        })
                        .collect();
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
                tokio::time::sleep(POLL).await;
            }
        },
    )
    .flatten()
}
