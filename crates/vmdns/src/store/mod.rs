//! The store: every piece of state vmdns keeps, behind one type that works on SQLite (the embedded
//! default) and PostgreSQL alike. SQL is written once for both (sqlx `Any`, `$N` placeholders, BIGINT
//! columns, Unix-millisecond times); the few statements that differ switch on [`Dialect`]. Nothing outside
//! this module sees SQL or a database type.
//!
//! Provider secrets are sealed with the master key here, on the way in, and opened on the way out: the
//! database never holds them in clear text.

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

use crate::secrets::Cipher;

mod jobs;
mod ledger;
mod log;
mod pools;
mod services;
mod tokens;
mod users;
mod zones;

pub use jobs::{Job, JobKind, JobOutputLine, JobState};
pub use ledger::{LedgerRow, RecordStatus};
pub use log::{LogEntry, LogFilter, LogLevel, NewLogEntry};
pub use pools::{Pool, PoolInput};
pub use services::{Service, ServiceInput, ServiceStatus};
pub use tokens::ApiToken;
pub use users::{LoginOutcome, SESSION_TTL_MS, Session, User, check_password, check_user_name};
pub use zones::Zone;

/// The database engine behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: i64 },
    #[error("{message}")]
    Conflict {
        field: &'static str,
        message: String,
    },
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The store handle: cheap to clone, shared by the API, the engine and the CLI.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
    cipher: Cipher,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// RFC 3339 text of a millisecond time, for JSON and pages.
pub fn format_ms(ms: i64) -> String {
    let t = UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(t).to_string()
}

impl Store {
    /// Connects to `url` (`sqlite://PATH?mode=rwc` or `postgres://...`) and applies the migrations.
    pub async fn open(url: &str, cipher: Cipher) -> anyhow::Result<Self> {
        install_default_drivers();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Dialect::Postgres
        } else {
            anyhow::bail!("database URL must start with sqlite: or postgres:");
        };
        let options = AnyPoolOptions::new().after_connect(move |conn, _| {
            Box::pin(async move {
                if dialect == Dialect::Sqlite {
                    // The busy timeout first: what follows may wait for another process. Switching to WAL
                    // needs an exclusive lock no timeout waits for, so only when not in WAL already.
                    conn.execute("PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;")
                        .await?;
                    let mut tries = 0;
                    loop {
                        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                            .fetch_one(&mut *conn)
                            .await?;
                        if mode.eq_ignore_ascii_case("wal") {
                            break;
                        }
                        match conn.execute("PRAGMA journal_mode = WAL").await {
                            Ok(_) => break,
                            // Another process is creating the database: wait for it.
                            Err(e) if tries < 50 => {
                                tries += 1;
                                tracing::debug!(error = %e, "switching to WAL, again");
                                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                }
                Ok(())
            })
        });
        let options = match dialect {
            Dialect::Sqlite => options.max_connections(8),
            Dialect::Postgres => options.max_connections(16),
        };
        let pool = options
            .connect(url)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
        let store = Self {
            pool,
            dialect,
            cipher,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the migrations of this engine (idempotent). Safe when several processes start at once:
    /// on PostgreSQL they take turns (an advisory lock); on SQLite, where sqlx has no such lock, a process
    /// that lost the race to another one's migration looks again and finds it applied.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self.dialect {
            Dialect::Sqlite => {
                let mut tries = 0;
                loop {
                    match sqlx::migrate!("migrations/sqlite").run(&self.pool).await {
                        Ok(()) => break,
                        Err(e) if tries < 5 => {
                            tries += 1;
                            tracing::debug!(error = %e, "migrating again (another process at work?)");
                            tokio::time::sleep(std::time::Duration::from_millis(200 * tries)).await;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Dialect::Postgres => {
                sqlx::migrate!("migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
        }
        Ok(())
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a transaction that writes. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`,
    /// waiting up to the busy timeout for other writers, in this process or another): a plain `BEGIN`
    /// that reads first fails at its first write with "database is locked" (`SQLITE_BUSY_SNAPSHOT`,
    /// which no busy timeout waits out) whenever another connection wrote in between.
    pub(crate) async fn begin(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Any>> {
        match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Dialect::Postgres => self.pool.begin().await,
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// `$first, $first+1, ...` placeholders for an IN list of `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            db.is_unique_violation()
                || db.message().contains("UNIQUE constraint failed")
                || db.code().as_deref() == Some("23505")
        }
        _ => false,
    }
}

#[cfg(test)]
pub(crate) mod test_support;
