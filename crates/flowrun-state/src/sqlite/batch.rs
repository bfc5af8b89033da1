//! The step writer: step results committed on the calling thread, with group commit.
//!
//! Results that finish while another is being written share the next transaction, so a wide
//! fan-out or a `for_each` with concurrency pays one commit for many records (leader-based:
//! whoever gets the connection writes everything waiting). Each caller still gets its answer
//! only after its record is committed, so "durable when `record_step` returns" holds; a record
//! that fails fails alone; a lone record is written without a transaction around it (one
//! statement is its own transaction).
//!
//! Why rusqlite here, when the rest of the store is sqlx: a chain of steps waits for each
//! step's commit before the next step starts, so the commit's latency is the engine's cost
//! per step. sqlx runs a SQLite connection on a thread of its own, and the hand-off to that
//! thread and back costs about 50 µs on our machines, more than the commit itself (about
//! 20 µs in WAL mode with `synchronous = NORMAL`). The writer's own rusqlite connection
//! commits on the calling worker instead, inside `block_in_place`, which moves that worker's
//! other tasks to another thread first: no task waits behind the write. On a current-thread
//! runtime (where `block_in_place` is not allowed) the write goes to the blocking pool.
//! Both crates link the same SQLite library, so the two kinds of connections lock the file
//! as any two connections of one process do.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::{OwnedMutexGuard, oneshot};

use super::checkpoint::{Checkpointer, ROW_OVERHEAD_BYTES};
use crate::error::StateError;
use crate::payload::Encoded;

/// One encoded step record, ready to bind.
#[derive(Clone)]
pub(super) struct StepRow {
    pub run_id: String,
    pub step_id: String,
    pub item_index: i64,
    pub item_key: Option<String>,
    pub status: &'static str,
    pub attempts: i64,
    pub parameters: Option<Encoded>,
    pub output: Option<Encoded>,
    pub error: Option<Encoded>,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub duration_us: Option<i64>,
    /// What the caller was doing, for the error message.
    pub operation: String,
}

impl StepRow {
    /// About what committing the row adds to the write-ahead log.
    fn log_bytes(&self) -> usize {
        let payload = |value: &Option<Encoded>| value.as_ref().map_or(0, Encoded::len);
        ROW_OVERHEAD_BYTES + payload(&self.parameters) + payload(&self.output) + payload(&self.error)
    }
}

struct Pending {
    row: StepRow,
    reply: oneshot::Sender<Result<(), StateError>>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.row.operation)
    }
}

/// Step records waiting to be written, and the connection that writes them. The first caller
/// to get the connection writes every record waiting (its own and those that came while the
/// connection was busy) in one transaction, and answers each caller: no task sits between a
/// caller and the database.
#[derive(Clone)]
pub(super) struct StepWriter {
    queue: Arc<std::sync::Mutex<Vec<Pending>>>,
    connection: Arc<tokio::sync::Mutex<Connection>>,
    checkpoints: Checkpointer,
}

impl std::fmt::Debug for StepWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepWriter").finish_non_exhaustive()
    }
}

impl StepWriter {
    /// Opens the writer's own connection to the store's file (already created; migrated
    /// before the first write, as the store opens it alongside); checkpoints run on
    /// `checkpoints` (checkpoint.rs).
    pub(super) async fn start(
        path: &Path,
        busy_timeout: Duration,
        checkpoints: Checkpointer,
    ) -> Result<StepWriter, StateError> {
        let path = path.to_owned();
        let connection = tokio::task::spawn_blocking(move || {
            open(&path, busy_timeout)
                .map_err(|error| StateError::backend(format!("opening {} for step results", path.display()), error))
        })
        .await
        .map_err(StateError::task)??;
        Ok(StepWriter {
            queue: Arc::default(),
            connection: Arc::new(tokio::sync::Mutex::new(connection)),
            checkpoints,
        })
    }

    /// Writes the row; returns once it is committed.
    pub(super) async fn write(&self, row: StepRow) -> Result<(), StateError> {
        let (reply, mut answer) = oneshot::channel();
        self.lock_queue().push(Pending { row, reply });
        // Either a leader writes this record (and answers), or this caller gets the connection
        // and becomes the leader.
        let connection = tokio::select! {
            biased;
            answered = &mut answer => return answered.unwrap_or_else(|_| Err(interrupted())),
            connection = self.connection.clone().lock_owned() => connection,
        };
        // The write below blocks this task (and the futures it polls: the engine runs a
        // run's steps as futures of one task). Yielding once first lets the results that are
        // ready now join the queue, so a fan-out of 1,000 steps shares a few commits instead
        // of paying 1,000.
        tokio::task::yield_now().await;
        let batch: Vec<Pending> = std::mem::take(&mut *self.lock_queue());
        if !batch.is_empty() {
            // Answers are sent before the connection is released: a caller whose record an
            // earlier batch took finds its answer waiting when it gets the connection.
            let checkpoints = self.checkpoints.clone();
            on_connection(connection, move |connection| {
                write_batch(connection, batch, &checkpoints)
            })
            .await;
        }
        answer.try_recv().unwrap_or_else(|_| Err(interrupted()))
    }

    fn lock_queue(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        // A panic while holding this lock cannot leave the list half-changed (push or take).
        self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The writer's connection: the file is in WAL mode by its first write (a property of the
/// file, set by the template or the store's writer; SQLite reads it at every transaction);
/// the other settings are per connection, as the store's sqlx ones.
fn open(path: &Path, busy_timeout: Duration) -> rusqlite::Result<Connection> {
    // NO_MUTEX: the connection is used by one thread at a time (behind the writer's lock).
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(busy_timeout)?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.pragma_update(None, "foreign_keys", true)?;
    // Checkpoints run elsewhere (checkpoint.rs).
    connection.pragma_update(None, "wal_autocheckpoint", 0)?;
    Ok(connection)
}

/// Runs `write` on the connection, then releases it. On a multi-thread runtime in place,
/// after `block_in_place` moved this worker's other tasks away; elsewhere on the blocking
/// pool. Either way the write runs to its end even if the caller's future is dropped, so
/// every caller of the batch is answered.
async fn on_connection(
    mut connection: OwnedMutexGuard<Connection>,
    write: impl FnOnce(&mut Connection) + Send + 'static,
) {
    if Handle::current().runtime_flavor() == RuntimeFlavor::MultiThread {
        tokio::task::block_in_place(|| write(&mut connection));
    } else {
        // A panic in `write` drops the replies: their callers hear "interrupted".
        let _ = tokio::task::spawn_blocking(move || write(&mut connection)).await;
    }
}

fn interrupted() -> StateError {
    StateError::backend_message(
        "recording a step result",
        "the write was interrupted before it was answered",
    )
}

/// Writes a batch and answers each caller.
fn write_batch(connection: &mut Connection, batch: Vec<Pending>, checkpoints: &Checkpointer) {
    checkpoints.committed(batch.iter().map(|pending| pending.row.log_bytes()).sum());
    if let [Pending { row, .. }] = batch.as_slice() {
        let result = insert(connection, row);
        if let Some(Pending { row, reply }) = batch.into_iter().next() {
            let _ = reply.send(result.map_err(|error| StateError::backend(row.operation, error)));
        }
        return;
    }
    match write_all(connection, &batch) {
        Ok(results) => {
            for (Pending { row, reply }, result) in batch.into_iter().zip(results) {
                let _ = reply.send(result.map_err(|error| StateError::backend(row.operation, error)));
            }
        }
        Err(error) => {
            // The commit failed: nothing of the batch is in. Each caller hears why.
            let message = error.to_string();
            for Pending { row, reply } in batch {
                let _ = reply.send(Err(StateError::backend_message(row.operation, &message)));
            }
        }
    }
}

/// Inserts every row in one `BEGIN IMMEDIATE` transaction (another process writing the file
/// makes it wait on the busy timeout, not fail). A row whose statement fails (a constraint)
/// fails alone: SQLite undoes that statement and the transaction goes on. Errs only when the
/// transaction itself does.
fn write_all(connection: &mut Connection, batch: &[Pending]) -> rusqlite::Result<Vec<rusqlite::Result<()>>> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let results = batch.iter().map(|pending| insert(&transaction, &pending.row)).collect();
    transaction.commit()?;
    Ok(results)
}

const INSERT: &str = "INSERT INTO step_executions (run_id, step_id, item_index, item_key, status, \
     attempts, parameters_json, output_json, error_json, started_at, ended_at, duration_us) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
     ON CONFLICT (run_id, step_id, item_index) DO UPDATE SET \
     item_key = excluded.item_key, status = excluded.status, \
     attempts = excluded.attempts, parameters_json = excluded.parameters_json, \
     output_json = excluded.output_json, error_json = excluded.error_json, \
     started_at = excluded.started_at, ended_at = excluded.ended_at, \
     duration_us = excluded.duration_us";

/// Inserts or replaces one record (prepared once per connection, then cached).
fn insert(connection: &Connection, row: &StepRow) -> rusqlite::Result<()> {
    let mut statement = connection.prepare_cached(INSERT)?;
    statement.execute(rusqlite::params![
        row.run_id,
        row.step_id,
        row.item_index,
        row.item_key,
        row.status,
        row.attempts,
        row.parameters,
        row.output,
        row.error,
        row.started_at,
        row.ended_at,
        row.duration_us,
    ])?;
    Ok(())
}
