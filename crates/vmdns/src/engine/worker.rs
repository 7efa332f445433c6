//! The job worker: claim a due job with a lease, run it (renewing the lease), finish it, and queue an
//! automatic retry with backoff when it ended with errors that may go away by themselves.
//! A worker that dies mid-job loses nothing: its lease expires and another worker runs the job again,
//! which is safe because jobs converge.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use vmdns_core::Policy;

use super::converge::{Sink, converge_service};
use crate::app::App;
use crate::store::{Job, JobState, LogLevel, NewLogEntry, StoreError, StoreResult, now_ms};

/// What one try to take a job did.
#[derive(Debug)]
pub enum Tick {
    Ran(Job, JobState),
    Empty,
}

fn lease_ms(app: &App) -> i64 {
    i64::try_from(app.config.worker.lease.as_millis()).unwrap_or(60_000)
}

/// Claims one due job and runs it to the end (`try_execute_task`).
pub async fn run_one(app: &App, worker: &str, echo: bool) -> StoreResult<Tick> {
    match app.store.claim_job(worker, lease_ms(app)).await? {
        Some(job) => {
            let state = run_job(app, &job, worker, echo).await?;
            Ok(Tick::Ran(job, state))
        }
        None => Ok(Tick::Empty),
    }
}

/// Runs every due job, one after the other, until none is due (`vmdns cron`, and tests that drain the
/// queue instead of sleeping). Returns how many ran.
pub async fn drain(app: &App, worker: &str, echo: bool) -> StoreResult<usize> {
    let mut n = 0;
    while let Tick::Ran(..) = run_one(app, worker, echo).await? {
        n += 1;
    }
    Ok(n)
}

/// Runs a claimed job and finishes it.
pub async fn run_job(app: &App, job: &Job, worker: &str, echo: bool) -> StoreResult<JobState> {
    let sink = Sink {
        job_id: Some(job.id),
        echo,
    };
    // Renew the lease while the job runs.
    let renew = {
        let app = app.clone();
        let worker = worker.to_string();
        let id = job.id;
        let every = app.config.worker.lease / 3;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match app.store.renew_lease(id, &worker, lease_ms(&app)).await {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => tracing::warn!(job_id = id, error = %e, "cannot renew lease"),
                }
            }
        })
    };
    let result = execute(app, job, &sink).await;
    renew.abort();
    let (state, summary) = match result {
        Ok(v) => v,
        Err(StoreError::NotFound {
            what: "service", ..
        }) => (JobState::Failed, "the service no longer exists".to_string()),
        Err(e) => {
            // vmdns itself cannot work (the store failed): the lease expires and the job runs again.
            tracing::error!(job_id = job.id, error = %e, "job interrupted");
            return Err(e);
        }
    };
    if !app
        .store
        .finish_job(job.id, worker, state, &summary)
        .await?
    {
        tracing::warn!(
            job_id = job.id,
            "job was taken over by another worker before it finished here"
        );
    }
    tracing::info!(job_id = job.id, service_id = job.service_id, kind = %job.kind, state = state.as_str(), "job finished");
    Ok(state)
}

async fn execute(app: &App, job: &Job, sink: &Sink) -> StoreResult<(JobState, String)> {
    let service = app.store.get_service(job.service_id).await?;
    let attempt = if job.attempts > 1 {
        format!(", attempt {}", job.attempts)
    } else {
        String::new()
    };
    let retry = if job.retry_number > 0 {
        format!(", automatic retry {}", job.retry_number)
    } else {
        String::new()
    };
    sink.line(
        app,
        &format!(
            "job {} {} for service {} ({}){attempt}{retry}",
            job.id,
            job.kind,
            service.id,
            service.fqdn()
        ),
    )
    .await;
    let report = converge_service(app, &service, sink, Policy::Sync, false).await?;
    let summary = report.summary();
    if report.errors == 0 {
        sink.line(app, &summary).await;
        return Ok((JobState::Done, summary));
    }
    app.store
        .log(NewLogEntry {
            level: Some(LogLevel::Warn),
            message: format!(
                "job {} ({}) for {} ended with {} error(s): {summary}",
                job.id,
                job.kind,
                service.fqdn(),
                report.errors
            ),
            job_id: Some(job.id),
            service_id: Some(service.id),
            operation: Some(job.kind.to_string()),
            ..Default::default()
        })
        .await?;
    let cfg = &app.config.worker;
    if report.retryable
        && job.retry_number < i64::from(cfg.max_retries)
        && !app.store.has_newer_job(service.id, job.id).await?
    {
        let n = u32::try_from(job.retry_number).unwrap_or(0);
        let delay = cfg
            .retry_base
            .saturating_mul(1u32 << n.min(20))
            .min(cfg.retry_max);
        let at = now_ms() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
        let retry = app
            .store
            .enqueue_job(service.id, job.kind, at, job.retry_number + 1)
            .await?;
        sink.line(
            app,
            &format!(
                "retry {} of {} queued as job {} in {}s",
                job.retry_number + 1,
                cfg.max_retries,
                retry.id,
                delay.as_secs()
            ),
        )
        .await;
    }
    sink.line(app, &summary).await;
    Ok((JobState::DoneWithErrors, summary))
}

/// The worker loop of `vmdns serve` and `vmdns worker`: jobs of different services at once (bounded),
/// until `shutdown` resolves; jobs in flight then finish (their leases cover a hard stop).
pub async fn run(app: App, shutdown: impl Future<Output = ()>) {
    let worker = app.config.node_name.clone();
    let sem = Arc::new(Semaphore::new(app.config.worker.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    tracing::info!(
        worker,
        concurrency = app.config.worker.concurrency,
        "worker started"
    );
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            p = sem.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        while tasks.try_join_next().is_some() {}
        match app.store.claim_job(&worker, lease_ms(&app)).await {
            Ok(Some(job)) => {
                let app = app.clone();
                let worker = worker.clone();
                tasks.spawn(async move {
                    let _permit = permit;
                    if let Err(e) = run_job(&app, &job, &worker, false).await {
                        tracing::error!(job_id = job.id, error = %e, "job failed to run");
                    }
                });
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "cannot claim jobs"),
        }
        drop(permit);
        tokio::select! {
            () = &mut shutdown => break,
            () = app.job_queued.notified() => {}
            () = tokio::time::sleep(app.config.worker.poll) => {}
        }
    }
    tracing::info!(
        running = tasks.len(),
        "worker stopping; letting running jobs finish"
    );
    let grace = tokio::time::timeout(Duration::from_secs(30), async {
        while tasks.join_next().await.is_some() {}
    });
    if grace.await.is_err() {
        tracing::warn!(
            "jobs still running at shutdown: their leases expire and another run takes them over"
        );
    }
}
