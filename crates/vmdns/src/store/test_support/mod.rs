//! Test support for the store: a fresh store on either engine, and [`on_every_engine!`], which runs one
//! test function on SQLite and on PostgreSQL (a fresh database each, see [`postgres`]).

use std::future::Future;
use std::path::PathBuf;

use super::{Dialect, Store};
use crate::secrets::Cipher;

pub(crate) mod postgres;

const KEY: [u8; 32] = [1u8; 32];

/// What a test function gets: a store on a fresh database.
#[derive(Debug, Clone)]
pub(crate) struct TestDb {
    pub(crate) store: Store,
    url: String,
    /// SQLite only: the directory of the database file.
    pub(crate) sqlite_dir: Option<PathBuf>,
}

impl TestDb {
    /// Another store (its own connection pool) on the same database, as another process would open it.
    pub(crate) async fn open_another(&self) -> Store {
        Store::open(&self.url, Cipher::new(&KEY))
            .await
            .expect("open the store a second time")
    }
}

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display())
}

/// Runs `test` on a fresh database of `dialect`, then removes the database (also when the test panics).
/// PostgreSQL: see [`postgres`] for where it connects and when it skips.
pub(crate) async fn run<F, Fut>(dialect: Dialect, test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    match dialect {
        Dialect::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = sqlite_url(&dir);
            let store = Store::open(&url, Cipher::new(&KEY))
                .await
                .expect("open the SQLite store");
            test(TestDb {
                store: store.clone(),
                url,
                sqlite_dir: Some(dir.path().to_path_buf()),
            })
            .await;
            store.close().await;
        }
        Dialect::Postgres => {
            let name = std::thread::current()
                .name()
                .unwrap_or("a store test")
                .to_string();
            let Some(db) = postgres::PgTestDb::create_or_skip(&name).await else {
                return;
            };
            let store = Store::open(db.url(), Cipher::new(&KEY))
                .await
                .unwrap_or_else(|e| panic!("open the PostgreSQL store {}: {e:#}", db.name()));
            test(TestDb {
                store: store.clone(),
                url: db.url().to_string(),
                sqlite_dir: None,
            })
            .await;
            store.close().await;
            db.drop_now().await;
        }
    }
}

/// Runs each named test function (`async fn NAME(db: TestDb)`) on every engine: generates the tests
/// `NAME::sqlite` and `NAME::postgres`.
macro_rules! on_every_engine {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                $crate::store::test_support::run($crate::store::Dialect::Sqlite, super::$name).await;
            }

            #[tokio::test]
            async fn postgres() {
                $crate::store::test_support::run($crate::store::Dialect::Postgres, super::$name).await;
            }
        }
    )+};
}
pub(crate) use on_every_engine;

mod tests {
    use super::postgres::{shown, with_database};

    #[test]
    fn test_database_urls() {
        let cases = [
            (
                "postgres://postgres@127.0.0.1:5432/postgres",
                "postgres://postgres@127.0.0.1:5432/t1",
            ),
            (
                "postgres://u:p@db.example:5432/admin?sslmode=disable",
                "postgres://u:p@db.example:5432/t1?sslmode=disable",
            ),
            ("postgres://127.0.0.1", "postgres://127.0.0.1/t1"),
            (
                "postgresql://h/?sslmode=require",
                "postgresql://h/t1?sslmode=require",
            ),
        ];
        for (admin, want) in cases {
            assert_eq!(with_database(admin, "t1"), want, "{admin}");
        }
    }

    #[test]
    fn passwords_are_not_shown() {
        let cases = [
            (
                "postgres://vmdns_test:s3cret@127.0.0.1:5432/postgres",
                "postgres://vmdns_test:***@127.0.0.1:5432/postgres",
            ),
            (
                "postgres://postgres@127.0.0.1:5432/postgres",
                "postgres://postgres@127.0.0.1:5432/postgres",
            ),
            ("postgres://127.0.0.1:5432/x", "postgres://127.0.0.1:5432/x"),
        ];
        for (url, want) in cases {
            assert_eq!(shown(url), want);
        }
    }
}
