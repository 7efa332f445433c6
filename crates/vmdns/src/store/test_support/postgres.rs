//! A fresh PostgreSQL database for one test: `vmdns_test_<unix seconds>_<random>`, created through an admin
//! connection (`VMDNS_TEST_POSTGRES_URL`, default [`DEFAULT_URL`]) and dropped after the test, also when it
//! panics (the [`Drop`] guard). When PostgreSQL cannot be reached the test fails, unless
//! `VMDNS_TEST_SKIP_POSTGRES=1` says to skip it.
//!
//! Shared by the store's unit tests and the `scale` integration test (which includes this file by path),
//! so it uses nothing but std, sqlx, tokio and rand.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::PgConnection;
use sqlx::{Connection, Executor};

/// The admin connection URL; its database part is replaced by the test database's name.
pub(crate) const URL_VAR: &str = "VMDNS_TEST_POSTGRES_URL";
/// Set to `1` to skip PostgreSQL tests when no server is reachable (instead of failing them).
pub(crate) const SKIP_VAR: &str = "VMDNS_TEST_SKIP_POSTGRES";
pub(crate) const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const PREFIX: &str = "vmdns_test_";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Test databases older than this are left-overs of killed test runs: dropped when the next one is made.
const STALE_SECS: u64 = 6 * 3600;

/// The admin URL in force.
pub(crate) fn admin_url() -> String {
    std::env::var(URL_VAR)
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_URL.to_string())
}

/// `url` with its database replaced by `database` (query parameters kept).
pub(crate) fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.find('?') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    format!("{}/{database}{query}", &base[..path_start])
}

/// `url` fit to print: its password, if any, replaced by `***`.
pub(crate) fn shown(url: &str) -> String {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[authority_start..];
    match (rest.find('@'), rest.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:***{}",
            &url[..authority_start],
            &rest[..colon],
            &rest[at..]
        ),
        _ => url.to_string(),
    }
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

async fn admin_connection(admin_url: &str) -> Result<PgConnection, String> {
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(admin_url)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(format!("cannot connect to {}: {e}", shown(admin_url))),
        Err(_) => Err(format!(
            "cannot connect to {}: no answer within {CONNECT_TIMEOUT:?}",
            shown(admin_url)
        )),
    }
}

async fn drop_database(admin_url: &str, name: &str) -> Result<(), String> {
    let mut conn = admin_connection(admin_url).await?;
    // FORCE ends the connections a failed test left open.
    conn.execute(format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#).as_str())
        .await
        .map_err(|e| format!("cannot drop database {name}: {e}"))?;
    let _ = conn.close().await;
    Ok(())
}

/// Drops test databases left behind by test runs that were killed (best effort).
async fn drop_stale(conn: &mut PgConnection) {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'vmdns\\_test\\_%'")
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_default();
    let now = unix_secs();
    for name in names {
        let born = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if born.is_some_and(|b| b + STALE_SECS < now) {
            let _ = conn
                .execute(format!(r#"DROP DATABASE IF EXISTS "{name}""#).as_str())
                .await;
        }
    }
}

/// One fresh database; dropped by [`PgTestDb::drop_now`] or, failing that, by `Drop`.
#[derive(Debug)]
pub(crate) struct PgTestDb {
    admin_url: String,
    name: String,
    url: String,
    dropped: bool,
}

impl PgTestDb {
    /// Creates a fresh database; the error says why PostgreSQL could not be used.
    pub(crate) async fn create() -> Result<Self, String> {
        let admin_url = admin_url();
        let mut conn = admin_connection(&admin_url).await?;
        drop_stale(&mut conn).await;
        let name = format!("{PREFIX}{}_{:016x}", unix_secs(), rand::random::<u64>());
        conn.execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
            .await
            .map_err(|e| {
                format!(
                    "cannot create database {name} through {}: {e}",
                    shown(&admin_url)
                )
            })?;
        let _ = conn.close().await;
        Ok(Self {
            url: with_database(&admin_url, &name),
            admin_url,
            name,
            dropped: false,
        })
    }

    /// Creates a fresh database, or, when PostgreSQL cannot be reached and `VMDNS_TEST_SKIP_POSTGRES=1`,
    /// prints a note and returns `None`.
    ///
    /// # Panics
    /// When PostgreSQL cannot be reached and skipping was not asked for.
    pub(crate) async fn create_or_skip(test: &str) -> Option<Self> {
        match Self::create().await {
            Ok(db) => Some(db),
            Err(why) if std::env::var(SKIP_VAR).as_deref() == Ok("1") => {
                eprintln!("note: {test}: PostgreSQL test skipped ({SKIP_VAR}=1): {why}");
                None
            }
            Err(why) => panic!(
                "{test}: PostgreSQL is needed: {why}. Start one (scripts/test does, as root), point \
                 {URL_VAR} at one, or set {SKIP_VAR}=1 to skip the PostgreSQL tests"
            ),
        }
    }

    /// The URL of the test database.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Drops the database now (after the test closed its connections).
    pub(crate) async fn drop_now(mut self) {
        self.dropped = true;
        if let Err(e) = drop_database(&self.admin_url, &self.name).await {
            eprintln!("warning: {e}");
        }
    }
}

impl Drop for PgTestDb {
    /// The test failed (or forgot [`PgTestDb::drop_now`]): drop the database from a thread of its own,
    /// since this may run inside the test's runtime.
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropper = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match rt {
                Ok(rt) => rt.block_on(drop_database(&admin_url, &name)),
                Err(e) => Err(format!("cannot drop database {name}: {e}")),
            }
        });
        match dropper.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: {e}"),
            Err(_) => eprintln!("warning: dropping test database {} panicked", self.name),
        }
    }
}
