//! The Postgres store: one database (optionally one schema of it), shared by many processes.
//!
//! Reads and writes use one pool: Postgres runs transactions side by side, so nothing here
//! queues writes the way the SQLite store must. Step records have a connection of their own,
//! and those that arrive together share one transaction (group commit, `batch.rs`), as in
//! SQLite: each commit waits for the server's WAL flush. sqlx speaks the protocol on tokio's
//! sockets: no query blocks a tokio worker.
//!
//! # Clock
//! Every time the store sets itself (created, started, ended, leases, commits, resolutions,
//! token updates) is the server's `now()`, the start of the current transaction; times the
//! engine hands over (a step's start and end, a token's expiry) are stored as given. Workers
//! on several hosts thus measure leases by one clock, and clock skew between them cannot make
//! a live run look dead. Times are `timestamptz`, with microsecond precision.
//!
//! # Concurrency
//! Transactions run at READ COMMITTED (set explicitly: a server default of SERIALIZABLE would
//! turn the waits below into errors). Two workers never take one run or one flow lock: every
//! decision about a run or a lock is made on a row the transaction holds (`SELECT … FOR
//! UPDATE`, `FOR NO KEY UPDATE`, or a conditional `UPDATE`), so a second worker waits for the
//! first to commit and then decides on what it committed.
//!
//! # Lock order
//! A transaction that takes or drops a flow lock locks the `flow_locks` row before any `runs`
//! row (`finish_run` deletes its lock first, `mark_abandoned` locks the locks of dead runs
//! first, in flow order), so the lock takers, finishers and heartbeats cannot wait on each
//! other in a cycle. The rare cycle left (two sweeps of expired runs meeting a resume) is
//! broken by Postgres as a deadlock error, and such a transaction is run again (`retrying`).

mod batch;
mod bind;
mod incomplete;
mod open;
mod queue;
mod runs;
mod steps;
mod tokens;
mod triggers;
mod wake;

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use serde_json::Value;
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::error::StateError;
use crate::model::{
    Claim, Cursor, Enqueued, FinishRun, Incomplete, IncompleteStatus, NewIncomplete, NewRun, QueuedRun, ResumeRun, Run,
    RunFilter, RunStatus, StepRecord, TokenSet,
};
use crate::payload::PayloadLimits;
use crate::store::StateStore;

/// The schema, embedded at build time from `migrations/postgres/`.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How a [`PostgresStore`] is opened. `Default` gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// When large values are compressed or truncated.
    pub limits: PayloadLimits,
    /// Connections of the pool for everything but step records (default 8); step records
    /// use one more connection of their own.
    pub max_connections: u32,
    /// How long opening the store, or waiting for a connection later, may take before it
    /// fails (default 10 s).
    pub connect_timeout: Duration,
    /// The schema holding the tables (and sqlx's `_sqlx_migrations`), created at open when
    /// missing and put first on every connection's `search_path`. `None` (the default) uses
    /// the connection's `search_path` as the server or the URL sets it (usually `public`).
    /// A lowercase identifier: `a-z`, `0-9` and `_`.
    pub schema: Option<String>,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            limits: PayloadLimits::default(),
            max_connections: 8,
            connect_timeout: Duration::from_secs(10),
            schema: None,
        }
    }
}

/// The state store in a Postgres database. Cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// Step records, group-committed on a connection of their own (batch.rs).
    steps: batch::StepWriter,
    limits: PayloadLimits,
    url: open::ShownUrl,
    /// Wakes `wait_for_queued` on `NOTIFY flowrun_queue` from any process (wake.rs).
    queue_signal: std::sync::Arc<wake::QueueSignal>,
}

impl PostgresStore {
    /// Opens the store at `postgres://user:password@host:5432/database` (or `postgresql://`;
    /// sqlx's parameters such as `sslmode=require` or `options[search_path]=flowrun` apply),
    /// creating or migrating its tables, with default options.
    pub async fn open(url: &str) -> Result<PostgresStore, StateError> {
        PostgresStore::open_with(url, PostgresOptions::default()).await
    }

    /// Opens the store at `url` with the given options.
    pub async fn open_with(url: &str, options: PostgresOptions) -> Result<PostgresStore, StateError> {
        let shown = open::ShownUrl::new(url);
        let connect = open::connect_options(url, &shown, options.schema.as_deref())?;
        let mut first = open::connect(&connect, &shown, options.connect_timeout).await?;
        if let Some(schema) = &options.schema {
            open::create_schema(&mut first, schema).await?;
        }
        // sqlx holds a Postgres advisory lock while it migrates: stores opening at once apply
        // each migration once. `run_direct` (public, documented by sqlx as the way around
        // `Acquire`'s lifetimes): `run(&mut connection)` makes this future not `Send`, so a
        // store could not be opened inside `tokio::spawn`.
        MIGRATOR
            .run_direct(&mut first)
            .await
            .map_err(|error| StateError::Migrate {
                source: Box::new(error),
            })?;
        let steps = batch::StepWriter::start(first, connect.clone(), shown.clone(), options.connect_timeout);
        // Connections are made as needed, the first of them now that the server answered.
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.connect_timeout)
            .connect_lazy_with(connect);
        Ok(PostgresStore {
            pool,
            steps,
            limits: options.limits,
            url: shown,
            queue_signal: std::sync::Arc::new(wake::QueueSignal::new()),
        })
    }

    /// The store's URL with its password as `***`.
    pub fn url(&self) -> &str {
        &self.url.shown
    }

    /// The size limits in force.
    pub fn limits(&self) -> PayloadLimits {
        self.limits
    }

    /// Closes every connection. Dropping the store without closing is safe too: everything
    /// returned is committed.
    pub async fn close(&self) {
        self.pool.close().await;
        self.steps.close().await;
    }
}

/// A URL as messages may show it: its password, if any, as `***`.
pub(crate) fn shown_url(url: &str) -> String {
    open::ShownUrl::new(url).shown
}

/// Maps a database error to [`StateError::Backend`] with what the store was doing.
fn db(operation: &str) -> impl FnOnce(sqlx::Error) -> StateError + '_ {
    move |error| StateError::backend(operation, error)
}

/// How often a transaction Postgres aborted to break a deadlock (or a serialization failure)
/// is run again before its error is returned.
const TRANSIENT_RETRIES: u32 = 4;

/// Runs a transaction (`attempt` begins and commits it) again when Postgres aborted it as a
/// deadlock victim or a serialization failure: it changed nothing, and a second try meets
/// the other transaction committed.
async fn retrying<T, F, Fut>(mut attempt: F) -> Result<T, StateError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StateError>>,
{
    let mut retries = 0;
    loop {
        match attempt().await {
            Err(error) if retries < TRANSIENT_RETRIES && is_transient(&error) => retries += 1,
            result => return result,
        }
    }
}

/// 40P01 `deadlock_detected`, 40001 `serialization_failure`.
fn is_transient(error: &StateError) -> bool {
    let StateError::Backend { source, .. } = error else {
        return false;
    };
    source
        .downcast_ref::<sqlx::Error>()
        .and_then(sqlx::Error::as_database_error)
        .and_then(|error| error.code())
        .is_some_and(|code| code == "40P01" || code == "40001")
}

#[async_trait]
impl StateStore for PostgresStore {
    async fn create_run(&self, new_run: NewRun) -> Result<Run, StateError> {
        self.create_run_impl(new_run).await
    }

    async fn resume_run(&self, resume: ResumeRun) -> Result<Run, StateError> {
        self.resume_run_impl(resume).await
    }

    async fn heartbeat(&self, run_id: &str, lease_owner: &str, lease: Duration) -> Result<Timestamp, StateError> {
        self.heartbeat_impl(run_id, lease_owner, lease).await
    }

    async fn mark_abandoned(&self) -> Result<Vec<Run>, StateError> {
        self.mark_abandoned_impl().await
    }

    async fn finish_run(&self, finish: FinishRun) -> Result<(), StateError> {
        self.finish_run_impl(finish).await
    }

    async fn run(&self, run_id: &str) -> Result<Option<Run>, StateError> {
        self.run_impl(run_id).await
    }

    async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<Run>, StateError> {
        self.list_runs_impl(filter).await
    }

    async fn record_step(&self, record: StepRecord) -> Result<(), StateError> {
        self.record_step_impl(record).await
    }

    async fn step_records(&self, run_id: &str) -> Result<Vec<StepRecord>, StateError> {
        self.step_records_impl(run_id).await
    }

    async fn cursor(&self, flow_id: &str, step_id: &str) -> Result<Option<Cursor>, StateError> {
        Ok(self.cursors_impl(flow_id, Some(step_id)).await?.into_iter().next())
    }

    async fn cursors(&self, flow_id: &str) -> Result<Vec<Cursor>, StateError> {
        self.cursors_impl(flow_id, None).await
    }

    async fn add_incomplete(&self, new: NewIncomplete) -> Result<Incomplete, StateError> {
        self.add_incomplete_impl(new).await
    }

    async fn list_incomplete(
        &self,
        run_id: &str,
        status: Option<IncompleteStatus>,
    ) -> Result<Vec<Incomplete>, StateError> {
        self.list_incomplete_impl(run_id, status).await
    }

    async fn resolve_incomplete(&self, id: &str) -> Result<Incomplete, StateError> {
        self.resolve_incomplete_impl(id).await
    }

    async fn fail_incomplete(&self, id: &str, error: Option<Value>) -> Result<Incomplete, StateError> {
        self.fail_incomplete_impl(id, error).await
    }

    async fn token(&self, connection_key: &str) -> Result<Option<TokenSet>, StateError> {
        self.token_impl(connection_key).await
    }

    async fn put_token(&self, connection_key: &str, tokens: TokenSet) -> Result<(), StateError> {
        self.put_token_impl(connection_key, tokens).await
    }

    async fn delete_token(&self, connection_key: &str) -> Result<bool, StateError> {
        self.delete_token_impl(connection_key).await
    }

    async fn acquire_flow_lock(&self, flow_id: &str, run_id: &str) -> Result<(), StateError> {
        self.acquire_flow_lock_impl(flow_id, run_id).await
    }

    async fn release_flow_lock(&self, flow_id: &str, run_id: &str) -> Result<bool, StateError> {
        self.release_flow_lock_impl(flow_id, run_id).await
    }

    async fn flow_lock_holder(&self, flow_id: &str) -> Result<Option<String>, StateError> {
        self.flow_lock_holder_impl(flow_id).await
    }

    async fn enqueue_run(&self, run: QueuedRun) -> Result<Enqueued, StateError> {
        self.enqueue_run_impl(run).await
    }

    async fn claim_run(&self, claim: Claim) -> Result<Option<Run>, StateError> {
        self.claim_run_impl(claim).await
    }

    async fn release_run(&self, run_id: &str, lease_owner: &str, delay: Duration) -> Result<(), StateError> {
        self.release_run_impl(run_id, lease_owner, delay).await
    }

    async fn requeue_expired(&self) -> Result<Vec<Run>, StateError> {
        self.requeue_expired_impl().await
    }

    async fn queue_depth(&self) -> Result<u64, StateError> {
        self.queue_depth_impl().await
    }

    async fn count_runs(&self) -> Result<Vec<(RunStatus, u64)>, StateError> {
        self.count_runs_impl().await
    }

    async fn wait_for_queued(&self, timeout: Duration) {
        self.wait_for_queued_impl(timeout).await;
    }

    async fn trigger_state(&self, flow_id: &str, key: &str) -> Result<Option<Value>, StateError> {
        self.trigger_state_impl(flow_id, key).await
    }

    async fn put_trigger_state(&self, flow_id: &str, key: &str, value: Value) -> Result<(), StateError> {
        self.put_trigger_state_impl(flow_id, key, value).await
    }

    async fn insert_trigger_state(&self, flow_id: &str, key: &str, value: Value) -> Result<Value, StateError> {
        self.insert_trigger_state_impl(flow_id, key, value).await
    }

    async fn delete_trigger_state(&self, flow_id: &str, key: &str) -> Result<bool, StateError> {
        self.delete_trigger_state_impl(flow_id, key).await
    }
}
