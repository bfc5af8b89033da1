//! The state store against a real SQLite file in a temporary folder and a real Postgres
//! database (a fresh schema per test).
//!
//! Behavioural tests are written once, as `async fn name(backend: Backend)`, and run on both
//! backends by `backends!(name)` (as `name::sqlite` and `name::postgres`). Postgres is
//! `flowrun_test_postgres::url()`'s: `FLOWRUN_TEST_POSTGRES_URL`, else the machine's at
//! 127.0.0.1:5432, else a throwaway server from the system's binaries; without any, the
//! Postgres tests fail, they do not skip.

// Test helpers outside `#[test]` functions unwrap too: a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod cursors;
mod incomplete;
mod locks;
mod open;
mod postgres;
mod queue;
mod runs;
mod steps;
mod template;
mod tokens;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use flowrun_state::{
    NewRun, PayloadLimits, PostgresOptions, PostgresStore, Run, SqliteOptions, SqliteStore, StateStore, StepRecord,
    StepStatus,
};
use serde_json::{Value, json};
use sqlx::Connection;
use tempfile::TempDir;

/// Runs `async fn $name(backend: Backend)` on each backend, as `$name::sqlite` and
/// `$name::postgres`.
macro_rules! backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(crate::Backend::Sqlite).await;
            }

            #[tokio::test]
            async fn postgres() {
                super::$name(crate::Backend::Postgres).await;
            }
        }
    };
    ($name:ident, multi_thread) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name(crate::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::$name(crate::Backend::Postgres).await;
            }
        }
    };
}
pub(crate) use backends;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh store of one backend: a file in a new folder, or a new Postgres schema (dropped
/// with the `TestStore`).
struct TestStore {
    backend: Backend,
    store: Arc<dyn StateStore>,
    limits: PayloadLimits,
    /// SQLite: the folder holding `state/state.db`.
    dir: Option<TempDir>,
    /// Postgres: the schema holding the tables.
    schema: Option<TestSchema>,
}

impl TestStore {
    async fn new(backend: Backend) -> TestStore {
        TestStore::with_limits(backend, PayloadLimits::default()).await
    }

    async fn with_limits(backend: Backend, limits: PayloadLimits) -> TestStore {
        let (dir, schema) = match backend {
            Backend::Sqlite => (Some(tempfile::tempdir().unwrap()), None),
            Backend::Postgres => (None, Some(TestSchema::new().await)),
        };
        let store = open_store(backend, limits, dir.as_ref(), schema.as_ref()).await;
        TestStore {
            backend,
            store,
            limits,
            dir,
            schema,
        }
    }

    /// A second, independent store on the same database (as another process would open it).
    async fn reopen(&self) -> Arc<dyn StateStore> {
        open_store(self.backend, self.limits, self.dir.as_ref(), self.schema.as_ref()).await
    }

    /// The SQLite file.
    fn sqlite_path(&self) -> PathBuf {
        self.dir.as_ref().unwrap().path().join("state/state.db")
    }

    /// Runs SQL (several statements allowed) on the store's database, outside the store.
    async fn execute(&self, sqlite: &str, postgres: &str) {
        match self.backend {
            Backend::Sqlite => {
                let mut raw = self.sqlite_connection().await;
                sqlx::raw_sql(sqlite).execute(&mut raw).await.unwrap();
                raw.close().await.unwrap();
            }
            Backend::Postgres => {
                let mut raw = self.postgres_connection().await;
                sqlx::raw_sql(postgres).execute(&mut raw).await.unwrap();
                raw.close().await.unwrap();
            }
        }
    }

    /// The rows of a table, counted outside the store.
    async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        match self.backend {
            Backend::Sqlite => sqlx::query_scalar(&sql)
                .fetch_one(&mut self.sqlite_connection().await)
                .await
                .unwrap(),
            Backend::Postgres => sqlx::query_scalar(&sql)
                .fetch_one(&mut self.postgres_connection().await)
                .await
                .unwrap(),
        }
    }

    async fn sqlite_connection(&self) -> sqlx::SqliteConnection {
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", self.sqlite_path().display()))
            .await
            .unwrap()
    }

    /// A connection with the test's schema first on its `search_path`.
    async fn postgres_connection(&self) -> sqlx::PgConnection {
        let schema = &self.schema.as_ref().unwrap().0;
        let options: sqlx::postgres::PgConnectOptions = postgres_url().parse().unwrap();
        sqlx::PgConnection::connect_with(&options.options([("search_path", schema)]))
            .await
            .unwrap()
    }
}

async fn open_store(
    backend: Backend,
    limits: PayloadLimits,
    dir: Option<&TempDir>,
    schema: Option<&TestSchema>,
) -> Arc<dyn StateStore> {
    match backend {
        Backend::Sqlite => {
            let options = SqliteOptions {
                limits,
                ..SqliteOptions::default()
            };
            Arc::new(SqliteStore::open_with(&url_in(dir.unwrap()), options).await.unwrap())
        }
        Backend::Postgres => Arc::new(schema.unwrap().open(limits).await),
    }
}

/// A new, empty Postgres schema, dropped (with everything in it) when this is.
struct TestSchema(String);

impl TestSchema {
    /// `flowrun_t_` and a unique suffix (tests run in parallel, and the `sql` connector's
    /// tests use the same database).
    async fn new() -> TestSchema {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let schema = format!(
            "flowrun_t_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            uuid::Uuid::new_v4().simple()
        );
        let mut admin = admin().await;
        sqlx::raw_sql(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        TestSchema(schema)
    }

    /// A store with its tables in this schema.
    async fn open(&self, limits: PayloadLimits) -> PostgresStore {
        let options = PostgresOptions {
            limits,
            schema: Some(self.0.clone()),
            ..PostgresOptions::default()
        };
        PostgresStore::open_with(&postgres_url(), options).await.unwrap()
    }

    /// The machine's Postgres URL with this schema first on the `search_path`.
    fn url(&self) -> String {
        format!("{}?options[search_path]={}", postgres_url(), self.0)
    }
}

impl Drop for TestSchema {
    /// From a thread of its own: Drop cannot wait on the test's runtime.
    fn drop(&mut self) {
        let schema = self.0.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut admin = admin().await;
                // A store left holding locks makes the test fail rather than hang.
                sqlx::raw_sql(&format!(
                    "SET lock_timeout = '20s'; DROP SCHEMA IF EXISTS {schema} CASCADE"
                ))
                .execute(&mut admin)
                .await
            })
        })
        .join();
        if !std::thread::panicking() {
            dropped.unwrap().unwrap();
        }
    }
}

/// The machine's Postgres.
fn postgres_url() -> String {
    flowrun_test_postgres::url()
}

/// A connection for setting up and tearing down; fails the test when Postgres is unreachable.
async fn admin() -> sqlx::PgConnection {
    match sqlx::PgConnection::connect(&postgres_url()).await {
        Ok(connection) => connection,
        Err(error) => panic!(
            "the Postgres tests need a server (FLOWRUN_TEST_POSTGRES_URL, default \
             postgres://postgres@127.0.0.1:5432/test): {error}"
        ),
    }
}

/// A SQLite store in a fresh folder, for the tests of what only SQLite has (files, WAL,
/// modes); keep the folder alive as long as the store.
struct SqliteTest {
    dir: TempDir,
    store: SqliteStore,
}

impl SqliteTest {
    async fn new() -> SqliteTest {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&url_in(&dir)).await.unwrap();
        SqliteTest { dir, store }
    }

    async fn reopen(&self) -> SqliteStore {
        SqliteStore::open(&url_in(&self.dir)).await.unwrap()
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("state/state.db")
    }
}

fn url_in(dir: &TempDir) -> String {
    format!("sqlite://{}/state/state.db", dir.path().display())
}

const OWNER: &str = "test-host:1";
const LEASE: Duration = Duration::from_secs(60);
/// Short enough to wait out in a test.
const SHORT_LEASE: Duration = Duration::from_millis(300);

fn new_run(flow_id: &str) -> NewRun {
    NewRun {
        id: None,
        flow_id: flow_id.to_owned(),
        flow_version: "sha256:abc".to_owned(),
        trigger: Some(json!({"event": "created", "id": 7})),
        inputs: Some(json!({"since": "2024-01-01"})),
        lease_owner: OWNER.to_owned(),
        lease: LEASE,
        lock_flow: false,
    }
}

async fn create(store: &dyn StateStore, flow_id: &str) -> Run {
    store.create_run(new_run(flow_id)).await.unwrap()
}

fn step(run_id: &str, step_id: &str, item_index: Option<u64>, output: Value) -> StepRecord {
    StepRecord {
        run_id: run_id.to_owned(),
        step_id: step_id.to_owned(),
        item_index,
        item_key: item_index.map(|index| format!("order-{index}")),
        status: StepStatus::Success,
        attempts: 1,
        parameters: Some(json!({"url": "https://example.test/orders", "token": "***"}).into()),
        output: Some(output.into()),
        error: None,
        started_at: Some(jiff::Timestamp::from_millisecond(1_700_000_000_000).unwrap()),
        ended_at: Some(jiff::Timestamp::from_millisecond(1_700_000_000_250).unwrap()),
        duration: Some(Duration::from_micros(250_123)),
    }
}

/// Waits until a lease of `SHORT_LEASE` taken before the call has surely expired.
async fn outlive_short_lease() {
    tokio::time::sleep(SHORT_LEASE + Duration::from_millis(50)).await;
}

fn small_limits() -> PayloadLimits {
    PayloadLimits {
        compress_above: 1024,
        truncate_above: 64 * 1024,
    }
}
