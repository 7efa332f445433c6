//! The job queue: lifecycle jobs per service, claimed with a lease, one at a time per service in the order
//! queued, their output lines kept with them.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Dialect, Store, StoreError, StoreResult, is_unique_violation, now_ms, placeholders};

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

/// What taking a job sets: `$1` the worker, `$2` the lease end, `$3` now.
const TAKE: &str = "state = 'running', lease_owner = $1, lease_until = $2, attempts = attempts + 1, \
                    started_at = COALESCE(started_at, $3)";
/// Job `j` may run now (`now`: the placeholder of the current time).
fn due(now: &str) -> String {
    format!(
        "((j.state = 'queued' AND j.run_after <= {now}) OR (j.state = 'running' AND j.lease_until < {now}))"
    )
}

/// Another job of `j`'s service is in the way: an older one not finished, or one running under a live
/// lease.
fn in_the_way(now: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM jobs k WHERE k.service_id = j.service_id AND k.id <> j.id \
         AND ((k.id < j.id AND k.state IN ('queued', 'running')) OR (k.state = 'running' AND k.lease_until >= {now})))"
    )
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
        let mut tx = self.begin().await?;
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

    /// Takes the oldest due job whose service has no other job in the way, and leases it to `worker`
    /// until `now + lease_ms`. Due: queued and `run_after` passed, or running with an expired lease (its
    /// worker died; the job runs again, `attempts` counts the takes). In the way: an older job of the
    /// service still queued or running, or any job of the service running under a live lease.
    ///
    /// Safe with any number of workers and processes on one database: SQLite runs the claim as one write
    /// statement (writers take turns); PostgreSQL skips the rows other claims hold (`FOR UPDATE SKIP
    /// LOCKED`) and re-checks the service under a per-service lock, since ids are handed out before
    /// commits, so a job can become visible after a newer job of its service was claimed.
    pub async fn claim_job(&self, worker: &str, lease_ms: i64) -> StoreResult<Option<Job>> {
        match self.dialect {
            Dialect::Sqlite => self.claim_job_sqlite(worker, lease_ms).await,
            Dialect::Postgres => self.claim_job_postgres(worker, lease_ms).await,
        }
    }

    async fn claim_job_sqlite(&self, worker: &str, lease_ms: i64) -> StoreResult<Option<Job>> {
        let now = now_ms();
        let sql = format!(
            "UPDATE jobs SET {TAKE} WHERE id = (SELECT j.id FROM jobs j WHERE {} AND NOT {} \
             ORDER BY j.id LIMIT 1) RETURNING {COLS}",
            due("$3"),
            in_the_way("$3")
        );
        let row = sqlx::query(&sql)
            .bind(worker)
            .bind(now + lease_ms)
            .bind(now)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    async fn claim_job_postgres(&self, worker: &str, lease_ms: i64) -> StoreResult<Option<Job>> {
        // Candidates turned down because another claim got in first; short-lived, so a few rounds do.
        let mut passed: Vec<i64> = Vec::new();
        for _ in 0..8 {
            let now = now_ms();
            let mut tx = self.begin().await?;
            let not_passed = if passed.is_empty() {
                String::new()
            } else {
                format!("AND j.id NOT IN ({})", placeholders(2, passed.len()))
            };
            let sql = format!(
                "SELECT j.id, j.service_id FROM jobs j WHERE {} AND NOT {} {not_passed} \
                 ORDER BY j.id LIMIT 1 FOR UPDATE OF j SKIP LOCKED",
                due("$1"),
                in_the_way("$1")
            );
            let mut q = sqlx::query(&sql).bind(now);
            for id in &passed {
                q = q.bind(*id);
            }
            let Some(candidate) = q.fetch_optional(&mut *tx).await? else {
                tx.commit().await?;
                return Ok(None);
            };
            let id: i64 = candidate.try_get("id")?;
            let service_id: i64 = candidate.try_get("service_id")?;
            // One claim per service at a time; held until commit, so the check below sees every claim
            // of the service that committed before.
            sqlx::query("SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock($1)) AS l")
                .bind(service_id)
                .fetch_one(&mut *tx)
                .await?;
            let sql = format!(
                "SELECT COUNT(*) FROM jobs j WHERE j.id = $1 AND {}",
                in_the_way("$2")
            );
            let blocked: i64 = sqlx::query_scalar(&sql)
                .bind(id)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            if blocked > 0 {
                tx.rollback().await?;
                passed.push(id);
                continue;
            }
            let sql = format!("UPDATE jobs SET {TAKE} WHERE id = $4 RETURNING {COLS}");
            let row = sqlx::query(&sql)
                .bind(worker)
                .bind(now + lease_ms)
                .bind(now)
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            return job_from_row(&row).map(Some);
        }
        Ok(None)
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

    /// Appends one output line to a job. Two writers of one job (a worker whose lease expired, and the
    /// one that took the job over) may pick the same number at once on PostgreSQL: the loser picks again.
    pub async fn append_output(&self, job_id: i64, line: &str) -> StoreResult<i64> {
        let mut tries = 0;
        loop {
            let inserted = sqlx::query_scalar(
                "INSERT INTO job_output (job_id, seq, at, line) \
                 VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM job_output WHERE job_id = $1), $2, $3) RETURNING seq",
            )
            .bind(job_id)
            .bind(now_ms())
            .bind(line)
            .fetch_one(self.pool())
            .await;
            match inserted {
                Err(e) if is_unique_violation(&e) && tries < 20 => tries += 1,
                other => return Ok(other?),
            }
        }
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
    use super::super::test_support::{TestDb, on_every_engine};
    use super::*;

    on_every_engine!(
        one_job_at_a_time_per_service_in_order,
        expired_lease_is_taken_over,
        future_jobs_wait_and_retries_are_superseded,
        output_lines_in_order,
        counts_leases_and_listing,
        a_running_job_holds_its_service_whatever_the_ids,
        claims_from_several_processes_run_each_job_once,
        output_from_two_writers_keeps_every_line,
    );

    async fn one_job_at_a_time_per_service_in_order(db: TestDb) {
        let store = db.store;
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

    async fn expired_lease_is_taken_over(db: TestDb) {
        let store = db.store;
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

    async fn future_jobs_wait_and_retries_are_superseded(db: TestDb) {
        let store = db.store;
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

    async fn output_lines_in_order(db: TestDb) {
        let store = db.store;
        assert_eq!(store.append_output(7, "fwd OK a").await.expect("append"), 1);
        assert_eq!(store.append_output(7, "rev OK b").await.expect("append"), 2);
        let lines = store.job_output(7, 1).await.expect("read");
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].line, "rev OK b");
    }

    async fn counts_leases_and_listing(db: TestDb) {
        let store = db.store;
        let now = now_ms();
        let a = store
            .enqueue_job(1, JobKind::Deploy, now, 0)
            .await
            .expect("enqueue");
        let b = store
            .enqueue_job(1, JobKind::Terminate, now, 0)
            .await
            .expect("enqueue");
        store
            .enqueue_job(2, JobKind::Deploy, now + 60_000, 0)
            .await
            .expect("enqueue");
        assert_eq!(store.queue_depth().await.expect("depth"), 3);
        assert_eq!(store.due_jobs().await.expect("due"), 2);
        assert!(store.has_newer_job(1, a.id).await.expect("newer"));
        assert!(!store.has_newer_job(1, b.id).await.expect("newer"));
        let listed = store.list_jobs(Some(1), 10).await.expect("list");
        assert_eq!(
            listed.iter().map(|j| j.id).collect::<Vec<_>>(),
            [b.id, a.id]
        );
        assert_eq!(store.list_jobs(None, 2).await.expect("list").len(), 2);
        let claimed = store
            .claim_job("w", 60_000)
            .await
            .expect("claim")
            .expect("a");
        assert_eq!(claimed.lease_owner.as_deref(), Some("w"));
        assert!(claimed.lease_until.is_some_and(|t| t >= now + 60_000));
        assert!(claimed.started_at.is_some());
        assert!(store.renew_lease(a.id, "w", 120_000).await.expect("renew"));
        assert!(!store.renew_lease(a.id, "x", 120_000).await.expect("renew"));
        assert!(
            store
                .finish_job(a.id, "w", JobState::DoneWithErrors, "1 error")
                .await
                .expect("finish")
        );
        assert!(!store.renew_lease(a.id, "w", 1000).await.expect("renew"));
        let done = store.get_job(a.id).await.expect("get");
        assert_eq!(done.state, JobState::DoneWithErrors);
        assert_eq!(done.summary.as_deref(), Some("1 error"));
        assert!(done.finished_at.is_some() && done.lease_until.is_none());
        let counts = store.job_counts().await.expect("counts");
        assert_eq!(
            counts,
            [
                ("deploy".to_string(), "done_with_errors".to_string(), 1),
                ("deploy".to_string(), "queued".to_string(), 1),
                ("terminate".to_string(), "queued".to_string(), 1),
            ]
        );
        assert!(matches!(
            store.get_job(9999).await,
            Err(StoreError::NotFound { what: "job", .. })
        ));
    }

    /// Ids are handed out when a job is inserted, but transactions commit in any order: a job may become
    /// visible after a newer job of its service was claimed. It must wait for that one all the same.
    async fn a_running_job_holds_its_service_whatever_the_ids(db: TestDb) {
        let store = db.store;
        let insert = |id: i64| {
            let store = store.clone();
            async move {
                sqlx::query("INSERT INTO jobs (id, service_id, kind, state, attempts, retry_number, run_after, created_at) VALUES ($1, 1, 'deploy', 'queued', 0, 0, $2, $2)")
                    .bind(id)
                    .bind(now_ms())
                    .execute(store.pool())
                    .await
                    .expect("insert");
            }
        };
        insert(100).await;
        let newer = store
            .claim_job("w1", 60_000)
            .await
            .expect("claim")
            .expect("job");
        assert_eq!(newer.id, 100);
        insert(50).await;
        assert!(
            store
                .claim_job("w2", 60_000)
                .await
                .expect("claim")
                .is_none(),
            "job 50 must wait while job 100 of its service runs"
        );
        assert!(
            store
                .finish_job(100, "w1", JobState::Done, "ok")
                .await
                .expect("finish")
        );
        let older = store
            .claim_job("w2", 60_000)
            .await
            .expect("claim")
            .expect("job 50 after job 100 finished");
        assert_eq!(older.id, 50);
        // A running job whose lease expired holds nothing: its worker is gone, and the older job goes first.
        insert(10).await;
        sqlx::query("UPDATE jobs SET lease_until = 0 WHERE id = 50")
            .execute(store.pool())
            .await
            .expect("expire");
        let next = store
            .claim_job("w3", 60_000)
            .await
            .expect("claim")
            .expect("job");
        assert_eq!(next.id, 10);
        assert!(
            store
                .claim_job("w3", 60_000)
                .await
                .expect("claim")
                .is_none()
        );
    }

    /// Several stores on one database, as several worker processes open it, claim at once: every job runs
    /// exactly once, never two jobs of one service at the same time, and each service's jobs in order.
    async fn claims_from_several_processes_run_each_job_once(db: TestDb) {
        use std::collections::{BTreeMap, HashMap};
        use std::sync::{Arc, Mutex};

        const SERVICES: i64 = 12;
        const PER_SERVICE: i64 = 5;
        const PROCESSES: usize = 3;
        const TASKS_PER_PROCESS: usize = 3;
        let store = db.store.clone();
        for _ in 0..PER_SERVICE {
            for service in 1..=SERVICES {
                store
                    .enqueue_job(service, JobKind::Deploy, now_ms(), 0)
                    .await
                    .expect("enqueue");
            }
        }
        let running: Arc<Mutex<HashMap<i64, i64>>> = Arc::default();
        let runs: Arc<Mutex<Vec<(i64, i64, String)>>> = Arc::default();
        let mut tasks = tokio::task::JoinSet::new();
        for p in 0..PROCESSES {
            let process = db.open_another().await;
            for t in 0..TASKS_PER_PROCESS {
                let (store, running, runs) = (process.clone(), running.clone(), runs.clone());
                let worker = format!("p{p}t{t}");
                tasks.spawn(async move {
                    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
                    loop {
                        assert!(
                            std::time::Instant::now() < deadline,
                            "queue not drained in 60 s"
                        );
                        let Some(job) = store.claim_job(&worker, 60_000).await.expect("claim")
                        else {
                            if store.queue_depth().await.expect("depth") == 0 {
                                return;
                            }
                            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                            continue;
                        };
                        {
                            let mut running = running.lock().expect("lock");
                            if let Some(other) = running.insert(job.service_id, job.id) {
                                panic!(
                                    "job {} of service {} claimed while job {other} runs",
                                    job.id, job.service_id
                                );
                            }
                        }
                        runs.lock()
                            .expect("lock")
                            .push((job.service_id, job.id, worker.clone()));
                        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                        running.lock().expect("lock").remove(&job.service_id);
                        assert!(
                            store
                                .finish_job(job.id, &worker, JobState::Done, "ok")
                                .await
                                .expect("finish"),
                            "job {} was not {worker}'s any more",
                            job.id
                        );
                    }
                });
            }
        }
        while let Some(done) = tasks.join_next().await {
            done.expect("worker task");
        }
        let runs = runs.lock().expect("lock").clone();
        assert_eq!(
            runs.len(),
            usize::try_from(SERVICES * PER_SERVICE).expect("n")
        );
        let mut per_service: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for (service, job, _) in &runs {
            per_service.entry(*service).or_default().push(*job);
        }
        for (service, jobs) in &per_service {
            let mut sorted = jobs.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(
                jobs, &sorted,
                "service {service}: jobs out of order or run twice"
            );
        }
        let all = store.list_jobs(None, 1000).await.expect("list");
        assert!(
            all.iter()
                .all(|j| j.state == JobState::Done && j.attempts == 1),
            "{all:?}"
        );
        let workers: std::collections::BTreeSet<&str> =
            runs.iter().map(|(_, _, w)| w.as_str()).collect();
        assert!(workers.len() > 1, "only {workers:?} ran jobs");
    }

    /// A worker whose lease expired may still be writing when the next one starts on the job: both
    /// writers' lines are kept, numbered without gaps.
    async fn output_from_two_writers_keeps_every_line(db: TestDb) {
        let other = db.open_another().await;
        let write = |store: Store, who: &'static str| {
            tokio::spawn(async move {
                for i in 0..40 {
                    store
                        .append_output(5, &format!("{who} {i}"))
                        .await
                        .expect("append");
                }
            })
        };
        let (a, b) = (write(db.store.clone(), "a"), write(other, "b"));
        a.await.expect("a");
        b.await.expect("b");
        let lines = db.store.job_output(5, 0).await.expect("read");
        assert_eq!(
            lines.iter().map(|l| l.seq).collect::<Vec<_>>(),
            (1..=80).collect::<Vec<_>>()
        );
    }
}
