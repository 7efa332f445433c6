//! The job queue: lifecycle jobs per service, claimed with a lease, one at a time per service in the order
//! queued, their output lines kept with them.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Dialect, Store, StoreError, StoreResult, now_ms};

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Deploy,
    ChangePackage,
    Terminate,
    SetDnsRecords,
}

impl JobKind {
    pub const ALL: [JobKind; 4] = [
        Self::Deploy,
        Self::ChangePackage,
        Self::Terminate,
        Self::SetDnsRecords,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deploy => "deploy",
            Self::ChangePackage => "change_package",
            Self::Terminate => "terminate",
            Self::SetDnsRecords => "set_dns_records",
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobKind {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| anyhow::anyhow!("unknown job kind {s:?}"))
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    /// Every record in every zone as desired.
    Done,
    /// Some records or zones failed; the rest went on. A retry may be queued.
    DoneWithErrors,
    /// vmdns itself could not work (the service vanished, the store failed).
    Failed,
    /// A newer job of the same service made this queued retry unnecessary.
    Superseded,
}

impl JobState {
    pub const ALL: [JobState; 6] = [
        Self::Queued,
        Self::Running,
        Self::Done,
        Self::DoneWithErrors,
        Self::Failed,
        Self::Superseded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::DoneWithErrors => "done_with_errors",
            Self::Failed => "failed",
            Self::Superseded => "superseded",
        }
    }

    pub fn is_finished(self) -> bool {
        !matches!(self, Self::Queued | Self::Running)
    }
}

impl FromStr for JobState {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| anyhow::anyhow!("unknown job state {s:?}"))
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Job {
    pub id: i64,
    pub service_id: i64,
    pub kind: JobKind,
    pub state: JobState,
    /// How many times a worker took it (more than one after a worker died mid-job).
    pub attempts: i64,
    /// 0 for a job someone asked for; N for the Nth automatic retry after errors.
    pub retry_number: i64,
    pub run_after: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub summary: Option<String>,
}

/// One line of a job's live output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobOutputLine {
    pub seq: i64,
    pub at: i64,
    pub line: String,
}

const COLS: &str = "id, service_id, kind, state, attempts, retry_number, run_after, lease_owner, lease_until, created_at, started_at, finished_at, summary";

fn job_from_row(row: &AnyRow) -> StoreResult<Job> {
    let kind: String = row.try_get("kind")?;
    let state: String = row.try_get("state")?;
    Ok(Job {
        id: row.try_get("id")?,
        service_id: row.try_get("service_id")?,
        kind: kind.parse()?,
        state: state.parse()?,
        attempts: row.try_get("attempts")?,
        retry_number: row.try_get("retry_number")?,
        run_after: row.try_get("run_after")?,
        lease_owner: row.try_get("lease_owner")?,
        lease_until: row.try_get("lease_until")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        summary: row.try_get("summary")?,
    })
}

impl Store {
    /// Queues a job for a service. A queued automatic retry of the same service is superseded: the new
    /// job converges everything anyway.
    pub async fn enqueue_job(
        &self,
        service_id: i64,
        kind: JobKind,
        run_after: i64,
        retry_number: i64,
    ) -> StoreResult<Job> {
        let mut tx = self.pool().begin().await?;
        if retry_number == 0 {
            sqlx::query("UPDATE jobs SET state = 'superseded', finished_at = $1 WHERE service_id = $2 AND state = 'queued' AND retry_number > 0")
                .bind(now_ms())
                .bind(service_id)
                .execute(&mut *tx)
                .await?;
        }
        let row = sqlx::query(&format!(
            "INSERT INTO jobs (service_id, kind, state, attempts, retry_number, run_after, created_at) VALUES ($1, $2, 'queued', 0, $3, $4, $5) RETURNING {COLS}"
        ))
        .bind(service_id)
        .bind(kind.as_str())
        .bind(retry_number)
        .bind(run_after)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        job_from_row(&row)
    }

    /// Takes the oldest due job whose service has no older unfinished job, or a running job whose lease
    /// expired (its worker died), and leases it to `worker` until `now + lease_ms`.
    pub async fn claim_job(&self, worker: &str, lease_ms: i64) -> StoreResult<Option<Job>> {
        let now = now_ms();
        let lock = match self.dialect {
            Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET state = 'running', lease_owner = $1, lease_until = $2, attempts = attempts + 1, \
             started_at = COALESCE(started_at, $3) \
             WHERE id = (SELECT j.id FROM jobs j \
                WHERE ((j.state = 'queued' AND j.run_after <= $3) OR (j.state = 'running' AND j.lease_until < $3)) \
                AND NOT EXISTS (SELECT 1 FROM jobs k WHERE k.service_id = j.service_id AND k.id < j.id \
                                AND k.state IN ('queued', 'running')) \
                ORDER BY j.id LIMIT 1 {lock}) \
             AND (state = 'queued' OR (state = 'running' AND lease_until < $3)) \
             RETURNING {COLS}"
        );
        let row = sqlx::query(&sql)
            .bind(worker)
            .bind(now + lease_ms)
            .bind(now)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    /// Extends a lease; false when the job is no longer this worker's.
    pub async fn renew_lease(&self, job_id: i64, worker: &str, lease_ms: i64) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE jobs SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 AND state = 'running'")
            .bind(now_ms() + lease_ms)
            .bind(job_id)
            .bind(worker)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends a job; false when the job was no longer this worker's (its lease expired and another took it).
    pub async fn finish_job(
        &self,
        job_id: i64,
        worker: &str,
        state: JobState,
        summary: &str,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET state = $1, summary = $2, finished_at = $3, lease_until = NULL WHERE id = $4 AND lease_owner = $5 AND state = 'running'",
        )
        .bind(state.as_str())
        .bind(summary)
        .bind(now_ms())
        .bind(job_id)
        .bind(worker)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn get_job(&self, id: i64) -> StoreResult<Job> {
        let row = sqlx::query(&format!("SELECT {COLS} FROM jobs WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NotFound { what: "job", id })?;
        job_from_row(&row)
    }

    /// Newest first.
    pub async fn list_jobs(&self, service_id: Option<i64>, limit: i64) -> StoreResult<Vec<Job>> {
        let rows = match service_id {
            Some(s) => {
                sqlx::query(&format!(
                    "SELECT {COLS} FROM jobs WHERE service_id = $1 ORDER BY id DESC LIMIT $2"
                ))
                .bind(s)
                .bind(limit)
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {COLS} FROM jobs ORDER BY id DESC LIMIT $1"
                ))
                .bind(limit)
                .fetch_all(self.pool())
                .await?
            }
        };
        rows.iter().map(job_from_row).collect()
    }

    /// True when a job of the service newer than `job_id` is waiting.
    pub async fn has_newer_job(&self, service_id: i64, job_id: i64) -> StoreResult<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE service_id = $1 AND id > $2 AND state IN ('queued', 'running')")
            .bind(service_id)
            .bind(job_id)
            .fetch_one(self.pool())
            .await?;
        Ok(n > 0)
    }

    /// Jobs waiting or running.
    pub async fn queue_depth(&self) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')")
                .fetch_one(self.pool())
                .await?,
        )
    }

    /// Jobs due now (queued and due, or with an expired lease).
    pub async fn due_jobs(&self) -> StoreResult<i64> {
        let now = now_ms();
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE (state = 'queued' AND run_after <= $1) OR (state = 'running' AND lease_until < $1)",
        )
        .bind(now)
        .fetch_one(self.pool())
        .await?)
    }

    /// Job counts by kind and state, for `/metrics`.
    pub async fn job_counts(&self) -> StoreResult<Vec<(String, String, i64)>> {
        let rows = sqlx::query(
            "SELECT kind, state, COUNT(*) AS n FROM jobs GROUP BY kind, state ORDER BY kind, state",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("kind")?, r.try_get("state")?, r.try_get("n")?)))
            .collect()
    }

    /// Appends one output line to a job.
    pub async fn append_output(&self, job_id: i64, line: &str) -> StoreResult<i64> {
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO job_output (job_id, seq, at, line) \
             VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM job_output WHERE job_id = $1), $2, $3) RETURNING seq",
        )
        .bind(job_id)
        .bind(now_ms())
        .bind(line)
        .fetch_one(self.pool())
        .await?;
        Ok(seq)
    }

    /// Output lines after `after_seq`.
    pub async fn job_output(&self, job_id: i64, after_seq: i64) -> StoreResult<Vec<JobOutputLine>> {
        let rows = sqlx::query(
            "SELECT seq, at, line FROM job_output WHERE job_id = $1 AND seq > $2 ORDER BY seq",
        )
        .bind(job_id)
        .bind(after_seq)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(JobOutputLine {
                    seq: r.try_get("seq")?,
                    at: r.try_get("at")?,
                    line: r.try_get("line")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::sqlite_store;
    use super::*;

    #[tokio::test]
    async fn one_job_at_a_time_per_service_in_order() {
        let (store, _dir) = sqlite_store().await;
        let now = now_ms();
        let a1 = store
            .enqueue_job(1, JobKind::Deploy, now, 0)
            .await
            .expect("enqueue");
        let a2 = store
            .enqueue_job(1, JobKind::Terminate, now, 0)
            .await
            .expect("enqueue");
        let b1 = store
            .enqueue_job(2, JobKind::Deploy, now, 0)
            .await
            .expect("enqueue");
        let first = store
            .claim_job("w1", 60_000)
            .await
            .expect("claim")
            .expect("a job");
        assert_eq!(first.id, a1.id);
        assert_eq!(first.attempts, 1);
        // a2 waits for a1; b1 of another service runs.
        let second = store
            .claim_job("w2", 60_000)
            .await
            .expect("claim")
            .expect("a job");
        assert_eq!(second.id, b1.id);
        assert!(
            store
                .claim_job("w3", 60_000)
                .await
                .expect("claim")
                .is_none()
        );
        assert!(
            store
                .finish_job(a1.id, "w1", JobState::Done, "ok")
                .await
                .expect("finish")
        );
        let third = store
            .claim_job("w3", 60_000)
            .await
            .expect("claim")
            .expect("a job");
        assert_eq!(third.id, a2.id);
        // Another worker cannot finish a job it does not hold.
        assert!(
            !store
                .finish_job(a2.id, "w1", JobState::Done, "x")
                .await
                .expect("finish")
        );
    }

    #[tokio::test]
    async fn expired_lease_is_taken_over() {
        let (store, _dir) = sqlite_store().await;
        let j = store
            .enqueue_job(1, JobKind::Deploy, now_ms(), 0)
            .await
            .expect("enqueue");
        let taken = store
            .claim_job("dead", -1)
            .await
            .expect("claim")
            .expect("job");
        assert_eq!(taken.id, j.id);
        let again = store
            .claim_job("alive", 60_000)
            .await
            .expect("claim")
            .expect("taken over");
        assert_eq!(again.id, j.id);
        assert_eq!(again.attempts, 2);
        assert!(
            !store
                .finish_job(j.id, "dead", JobState::Done, "late")
                .await
                .expect("finish")
        );
        assert!(
            store
                .finish_job(j.id, "alive", JobState::Done, "ok")
                .await
                .expect("finish")
        );
    }

    #[tokio::test]
    async fn future_jobs_wait_and_retries_are_superseded() {
        let (store, _dir) = sqlite_store().await;
        let retry = store
            .enqueue_job(1, JobKind::SetDnsRecords, now_ms() + 60_000, 1)
            .await
            .expect("enqueue");
        assert!(store.claim_job("w", 1000).await.expect("claim").is_none());
        store
            .enqueue_job(1, JobKind::Deploy, now_ms(), 0)
            .await
            .expect("enqueue");
        assert_eq!(
            store.get_job(retry.id).await.expect("get").state,
            JobState::Superseded
        );
        assert!(store.claim_job("w", 1000).await.expect("claim").is_some());
    }

    #[tokio::test]
    async fn output_lines_in_order() {
        let (store, _dir) = sqlite_store().await;
        assert_eq!(store.append_output(7, "fwd OK a").await.expect("append"), 1);
        assert_eq!(store.append_output(7, "rev OK b").await.expect("append"), 2);
        let lines = store.job_output(7, 1).await.expect("read");
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].line, "rev OK b");
    }
}
