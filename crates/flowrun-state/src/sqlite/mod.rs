//! The embedded SQLite store: one file, WAL journal, migrations applied at open.
//!
//! Writes go through one writer connection (a pool of one), so in-process writers queue on
//! the pool instead of spinning on SQLite's busy handler, except step records: they have a
//! connection of their own, and those that arrive together share one transaction (group
//! commit, `batch.rs`); reads use their own pool, which WAL
//! lets run beside the writer. Multi-statement writes are `BEGIN IMMEDIATE` transactions so
//! another process writing the same file waits on the busy timeout instead of failing.
//! sqlx runs each SQLite connection on its own thread: no query blocks a tokio worker. The
//! step writer is the exception: it commits on the calling worker inside `block_in_place`,
//! because a chain of steps waits on every commit (batch.rs says why).

mod batch;
mod bind;
mod checkpoint;
mod enqueue;
mod incomplete;
mod open;
mod queue;
mod runs;
mod steps;
mod template;
mod tokens;
mod triggers;

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

pub use self::open::{resolve_sqlite_url, sqlite_path};
use crate::error::StateError;
use crate::model::{
    Claim, Cursor, Enqueued, FinishRun, Incomplete, IncompleteStatus, NewIncomplete, NewRun, QueuedRun, ResumeRun, Run,
    RunFilter, RunStatus, StepRecord, TokenSet,
};
use crate::payload::PayloadLimits;
use crate::store::StateStore;

/// The schema, embedded at build time from `migrations/sqlite/`.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How a [`SqliteStore`] is opened. `Default` gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// When large values are compressed or truncated.
    pub limits: PayloadLimits,
    /// How long a write waits for another process holding the file's write lock (default 5 s).
    pub busy_timeout: Duration,
    /// Connections for reads (default 4); writes always use one connection.
    pub read_connections: u32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            limits: PayloadLimits::default(),
            busy_timeout: Duration::from_secs(5),
            read_connections: 4,
        }
    }
}

/// The state store in one SQLite file. Cheap to clone (the pools are shared).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Step records, group-committed through `writer` (batch.rs).
    steps: batch::StepWriter,
    limits: PayloadLimits,
    path: PathBuf,
    /// Woken when a run becomes claimable (`wait_for_queued`).
    queue_signal: std::sync::Arc<tokio::sync::Notify>,
    /// Queued runs, group-committed through `writer` (enqueue.rs).
    enqueues: enqueue::EnqueueWriter,
}

impl SqliteStore {
    /// Opens (creating it, its folders and its schema when missing) the store at
    /// `sqlite://path/to/state.db` (relative to the current directory; `sqlite:///abs/path`
    /// for an absolute path), with default options.
    pub async fn open(url: &str) -> Result<SqliteStore, StateError> {
        SqliteStore::open_with(url, SqliteOptions::default()).await
    }

    /// Opens the store at `url` with the given options.
    pub async fn open_with(url: &str, options: SqliteOptions) -> Result<SqliteStore, StateError> {
        let path = sqlite_path(url)?;
        let prepared = path.clone();
        tokio::task::spawn_blocking(move || {
            template::install(&prepared)?;
            open::prepare_file(&prepared)
        })
        .await
        .map_err(StateError::task)??;

        let connect = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(false)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(options.busy_timeout)
            .foreign_keys(true);
        // No ping before each use: a local file does not drop connections, and the ping is a
        // round trip to the connection's thread on every write.
        // Connected on the first read: a `flowrun run` that reads nothing back (most do not)
        // does not open a connection for it. The writer below shows the file opens.
        let reader = SqlitePoolOptions::new()
            .max_connections(options.read_connections.max(1))
            .test_before_acquire(false)
            .connect_lazy_with(connect.clone());
        let checkpoints = checkpoint::Checkpointer::start(reader.clone());
        // The step writer's connection opens while the writer connects and migrates (each
        // on a thread of its own): it writes nothing before `open_with` returns.
        let writer = async {
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                .test_before_acquire(false)
                .connect_with(connect.clone())
                .await
                .map_err(|error| StateError::backend(format!("opening {}", path.display()), error))?;
            MIGRATOR.run(&writer).await.map_err(|error| StateError::Migrate {
                source: Box::new(error),
            })?;
            Ok::<_, StateError>(writer)
        };
        let (writer, steps) = tokio::try_join!(
            writer,
            batch::StepWriter::start(&path, options.busy_timeout, checkpoints)
        )?;
        Ok(SqliteStore {
            steps,
            writer,
            reader,
            limits: options.limits,
            path,
            queue_signal: std::sync::Arc::new(tokio::sync::Notify::new()),
            enqueues: enqueue::EnqueueWriter::default(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The size limits in force.
    pub fn limits(&self) -> PayloadLimits {
        self.limits
    }

    /// Closes every connection (the last one checkpoints the WAL into the main file).
    /// Dropping the store without closing is safe too: everything returned is committed.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

/// Maps a database error to [`StateError::Backend`] with what the store was doing.
fn db(operation: &str) -> impl FnOnce(sqlx::Error) -> StateError + '_ {
    move |error| StateError::backend(operation, error)
}

fn now() -> Timestamp {
    Timestamp::now()
}

#[async_trait]
impl StateStore for SqliteStore {
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
