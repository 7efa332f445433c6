//! The engine: what happens to DNS when a VM is deployed, changes package, is terminated, or an operator
//! asks for "Set DNS records".
//!
//! Every job kind runs the same thing, [`converge::converge_service`]: compute the desired RRsets (core),
//! read what each matching zone holds now, plan against the ledger of what vmdns owns, apply one batch per
//! zone. The kinds differ only in what they say about the service before the job is queued (deployed →
//! active, terminated → no records wanted). So running a job twice is safe, and a job interrupted by a
//! crash is simply run again.
//!
//! - [`converge`]: one service, every zone; output lines, ledger, record status, module log.
//! - [`worker`]: the job loop (claim with a lease, run, finish, schedule retries).
//! - [`bulk`]: `resync --all`, every service at once, grouped per zone.
//! - [`providers`]: provider instances per zone, cached while the zone is unchanged.

pub mod bulk;
pub mod converge;
pub mod ledger;
pub mod providers;
pub mod worker;

use crate::app::App;
use crate::store::{Job, JobKind, ServiceStatus, StoreResult, now_ms};

/// Queues a lifecycle job for a service and wakes this process's worker. What the job means for the
/// service is recorded at once (terminate → the service's records are no longer wanted), so the legacy
/// endpoint and the next job see it even before the worker runs.
pub async fn enqueue(app: &App, service_id: i64, kind: JobKind) -> StoreResult<Job> {
    app.store.get_service(service_id).await?;
    match kind {
        JobKind::Deploy | JobKind::ChangePackage => {
            app.store
                .set_service_status(service_id, ServiceStatus::Active)
                .await?
        }
        JobKind::Terminate => {
            app.store
                .set_service_status(service_id, ServiceStatus::Terminated)
                .await?
        }
        JobKind::SetDnsRecords => {}
    }
    let job = app.store.enqueue_job(service_id, kind, now_ms(), 0).await?;
    tracing::info!(job_id = job.id, service_id, kind = %kind, "job queued");
    app.job_queued.notify_one();
    Ok(job)
}
