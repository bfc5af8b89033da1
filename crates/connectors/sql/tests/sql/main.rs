//! The `sql` modules against real databases, found through a `Registry` and called with a
//! `CallContext` as the engine calls them: SQLite files in temporary folders, and Postgres
//! (`FLOWRUN_TEST_POSTGRES_URL`, else the machine's at `postgres://postgres@127.0.0.1:5432/test`,
//! else a throwaway server started from the installed PostgreSQL binaries: see
//! `flowrun_test_postgres::url`), each test in a schema of its own that is dropped at the end.
//! When no Postgres can be had the Postgres tests fail, saying how to get one; they never skip.

#![allow(clippy::unwrap_used)]

mod both;
mod postgres;
mod sqlite;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use flowrun_connect::module::{CallContext, ErrorKind, Module, ModuleError};
use flowrun_connect::registry::Registry;
use serde_json::{Value as Json, json};
use sqlx::Connection;
use tempfile::TempDir;

/// The Postgres the tests use (trust auth: any password is accepted), as
/// `flowrun_test_postgres::url` finds or starts it.
fn postgres_url() -> String {
    flowrun_test_postgres::url()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A database of the test's own, and a connector to call it through.
struct Db {
    backend: Backend,
    registry: Registry,
    context: CallContext,
    /// The SQLite file's folder (`files_dir`); a scratch folder for Postgres tests.
    dir: TempDir,
    /// The Postgres schema the test works in.
    schema: Option<String>,
}

impl Db {
    async fn new(backend: Backend) -> Db {
        match backend {
            Backend::Sqlite => Db::sqlite().await,
            Backend::Postgres => Db::postgres().await,
        }
    }

    /// A SQLite file `data/test.db` below a new temporary folder, given as a relative path.
    async fn sqlite() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let context = context(&dir, json!({ "url": "sqlite://data/test.db" }));
        Db {
            backend: Backend::Sqlite,
            registry: registry(),
            context,
            dir,
            schema: None,
        }
    }

    /// A new schema on the machine's Postgres, first on the connection's `search_path`.
    async fn postgres() -> Db {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let schema = format!(
            "flowrun_test_{}_{}_{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = admin().await;
        sqlx::raw_sql(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let url = with_query(&postgres_url(), &format!("options[search_path]={schema}"));
        let context = context(&dir, json!({ "url": url }));
        Db {
            backend: Backend::Postgres,
            registry: registry(),
            context,
            dir,
            schema: Some(schema),
        }
    }

    /// The same database with other connection settings (a new pool).
    fn with(&self, settings: Json) -> CallContext {
        let mut config = (*self.context.connection.as_ref().unwrap().config).clone();
        for (key, value) in settings.as_object().unwrap() {
            config[key] = value.clone();
        }
        self.context.clone().with_connection("db", config)
    }

    async fn call(&self, module: &str, params: Json) -> Result<Json, ModuleError> {
        call_with(&self.registry, &self.context, module, params).await
    }

    async fn ok(&self, module: &str, params: Json) -> Json {
        match self.call(module, params.clone()).await {
            Ok(output) => {
                assert_output(module, &output);
                output
            }
            Err(error) => panic!("{:?} sql.{module} {params}: {}", self.backend, error.message),
        }
    }

    async fn err(&self, module: &str, params: Json) -> ModuleError {
        match self.call(module, params.clone()).await {
            Ok(output) => panic!("{:?} sql.{module} {params} succeeded: {output}", self.backend),
            Err(error) => error,
        }
    }

    /// `sql` with `{1}`, `{2}`… as this backend's placeholders (`$1` or `?1`).
    fn sql(&self, sql: &str) -> String {
        let mut sql = sql.to_owned();
        for n in (1..=20).rev() {
            let placeholder = match self.backend {
                Backend::Sqlite => format!("?{n}"),
                Backend::Postgres => format!("${n}"),
            };
            sql = sql.replace(&format!("{{{n}}}"), &placeholder);
        }
        sql
    }

    async fn execute(&self, sql: &str) {
        self.ok("execute", json!({ "sql": sql })).await;
    }

    async fn rows(&self, sql: &str) -> Json {
        self.ok("query", json!({ "sql": self.sql(sql) })).await
    }

    async fn count(&self, table: &str) -> i64 {
        let rows = self.rows(&format!("SELECT count(*) AS n FROM {table}")).await;
        rows[0]["n"].as_i64().unwrap()
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let Some(schema) = self.schema.take() else {
            return;
        };
        // Dropped from a thread of its own: Drop cannot wait on the test's runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut admin = admin().await;
                sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
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

/// A connection for setting up and tearing down; fails the test when Postgres is unreachable.
async fn admin() -> sqlx::PgConnection {
    let url = postgres_url();
    match sqlx::PgConnection::connect(&url).await {
        Ok(connection) => connection,
        Err(error) => panic!(
            "the Postgres tests need the Postgres at {url} (trust auth, database `test`): {error}; \
             start it, or point FLOWRUN_TEST_POSTGRES_URL at one"
        ),
    }
}

fn with_query(url: &str, pair: &str) -> String {
    if url.contains('?') {
        format!("{url}&{pair}")
    } else {
        format!("{url}?{pair}")
    }
}

fn registry() -> Registry {
    let mut registry = Registry::default();
    registry.register(flowrun_connector_sql::connector());
    registry
}

/// A context of connection `db` with `config`, relative paths below `dir`.
fn context(dir: &TempDir, config: Json) -> CallContext {
    let mut context = CallContext::new("run-1", "step");
    context.files_dir = Some(Arc::from(dir.path()));
    context.with_connection("db", config)
}

async fn call_with(
    registry: &Registry,
    context: &CallContext,
    module: &str,
    params: Json,
) -> Result<Json, ModuleError> {
    let uses = format!("sql.{module}");
    let found: Arc<dyn Module> = registry.module(&uses).unwrap_or_else(|| panic!("no module {uses}"));
    found.call(context, params).await
}

/// The output fits the catalog's output schema of `module`.
fn assert_output(module: &str, output: &Json) {
    flowrun_connect::testing::assert_output(&flowrun_connector_sql::spec(), module, output.clone());
}

#[track_caller]
fn assert_kind(error: &ModuleError, kind: ErrorKind, contains: &[&str]) {
    assert_eq!(error.kind, kind, "{}", error.message);
    for part in contains {
        assert!(error.message.contains(part), "`{part}` is not in: {}", error.message);
    }
}

/// Tests on both backends: `name::sqlite` and `name::postgres` for each `name`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(&crate::Db::new(crate::Backend::Sqlite).await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(&crate::Db::new(crate::Backend::Postgres).await).await;
                }
            }
        )*
    };
}
pub(crate) use on_both;
