//! Group commit of step records: results that finish while another is being written share the
//! next transaction, so a wide fan-out or a `for_each` with concurrency pays one commit (one
//! wait for the server's WAL flush) for many records (leader-based: whoever gets the
//! connection writes everything waiting). Each caller still gets its answer only after its
//! record is committed, so "durable when `record_step` returns" holds; a record that fails
//! fails alone; a lone record is written without a transaction around it (one statement is
//! its own transaction).
//!
//! Unlike SQLite, Postgres aborts a whole transaction when one of its statements fails, so
//! every multi-row statement runs under a savepoint, and each row of a failed one is then
//! written under a savepoint of its own.

use std::sync::Arc;
use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use tokio::sync::oneshot;

use super::bind::{PgTime, payload_bytes};
use super::open::{self, ShownUrl};
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
    pub started_at: Option<PgTime>,
    pub ended_at: Option<PgTime>,
    pub duration_us: Option<i64>,
    /// What the caller was doing, for the error message.
    pub operation: String,
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

/// How the writer reconnects after its connection broke.
#[derive(Debug)]
struct Reconnect {
    options: PgConnectOptions,
    shown: ShownUrl,
    timeout: Duration,
}

/// Step records waiting to be written, and the connection that writes them. The first caller
/// to get the connection writes every record waiting (its own and those that came while the
/// connection was busy) in one transaction, and answers each caller: no task sits between a
/// caller and the database.
#[derive(Debug, Clone)]
pub(super) struct StepWriter {
    queue: Arc<std::sync::Mutex<Vec<Pending>>>,
    /// `None` after the connection broke (a server restart, a network failure): the next
    /// leader connects again, so one lost connection does not fail every later record.
    connection: Arc<tokio::sync::Mutex<Option<PgConnection>>>,
    reconnect: Arc<Reconnect>,
}

impl StepWriter {
    /// Takes over the store's first connection (schema checked, migrations applied).
    ///
    /// Why a connection of its own: a step's result waits for its write, so a chain of steps
    /// pays a pool check-out (and sqlx's liveness ping, a round trip) at every step; the
    /// batch's leader also needs one connection to hand the queue to.
    pub(super) fn start(
        connection: PgConnection,
        options: PgConnectOptions,
        shown: ShownUrl,
        timeout: Duration,
    ) -> StepWriter {
        StepWriter {
            queue: Arc::default(),
            connection: Arc::new(tokio::sync::Mutex::new(Some(connection))),
            reconnect: Arc::new(Reconnect {
                options,
                shown,
                timeout,
            }),
        }
    }

    /// Writes the row; returns once it is committed.
    pub(super) async fn write(&self, row: StepRow) -> Result<(), StateError> {
        let (reply, mut answer) = oneshot::channel();
        self.lock_queue().push(Pending { row, reply });
        // Either a leader writes this record (and answers), or this caller gets the connection
        // and becomes the leader.
        let mut connection = tokio::select! {
            biased;
            answered = &mut answer => return answered.unwrap_or_else(|_| Err(interrupted())),
            connection = self.connection.lock() => connection,
        };
        let batch: Vec<Pending> = std::mem::take(&mut *self.lock_queue());
        if !batch.is_empty() {
            // Answers are sent before the connection is released: a caller whose record an
            // earlier batch took finds its answer waiting when it gets the connection.
            if connection.is_none() {
                let reconnect = &self.reconnect;
                match open::connect(&reconnect.options, &reconnect.shown, reconnect.timeout).await {
                    Ok(fresh) => *connection = Some(fresh),
                    Err(error) => {
                        let message = error.to_string();
                        for Pending { row, reply } in batch {
                            let _ = reply.send(Err(StateError::backend_message(row.operation, &message)));
                        }
                        drop(connection);
                        return answer.try_recv().unwrap_or_else(|_| Err(interrupted()));
                    }
                }
            }
            if let Some(live) = connection.as_mut()
                && !write_batch(live, batch).await
            {
                // Dropped without the goodbye message: the connection is broken anyway.
                *connection = None;
            }
        }
        drop(connection);
        answer.try_recv().unwrap_or_else(|_| Err(interrupted()))
    }

    /// Closes the writer's connection.
    pub(super) async fn close(&self) {
        if let Some(connection) = self.connection.lock().await.take() {
            let _ = connection.close().await;
        }
    }

    fn lock_queue(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        // A panic while holding this lock cannot leave the list half-changed (push or take).
        self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn interrupted() -> StateError {
    StateError::backend_message(
        "recording a step result",
        "the write was interrupted before it was answered",
    )
}

/// Whether an error leaves the connection usable: the server answered (a constraint, a
/// type error), as opposed to I/O, TLS or protocol failures.
fn connection_survives(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(_) | sqlx::Error::ColumnDecode { .. })
}

/// Writes a batch and answers each caller; returns whether the connection is still usable.
async fn write_batch(connection: &mut PgConnection, batch: Vec<Pending>) -> bool {
    let mut replies = Vec::with_capacity(batch.len());
    let mut rows = Vec::with_capacity(batch.len());
    for Pending { mut row, reply } in batch {
        replies.push((std::mem::take(&mut row.operation), reply));
        rows.push(row);
    }
    if rows.len() == 1
        && let Some(row) = rows.pop()
    {
        let result = insert(&mut *connection, row).await;
        let usable = result.as_ref().err().is_none_or(connection_survives);
        if let Some((operation, reply)) = replies.pop() {
            let _ = reply.send(result.map_err(|error| StateError::backend(operation, error)));
        }
        return usable;
    }
    match write_all(connection, rows).await {
        Ok(results) => {
            let mut usable = true;
            for ((operation, reply), result) in replies.into_iter().zip(results) {
                usable &= result.as_ref().err().is_none_or(connection_survives);
                let _ = reply.send(result.map_err(|error| StateError::backend(operation, error)));
            }
            usable
        }
        Err(error) => {
            // The commit failed: nothing of the batch is in. Each caller hears why.
            let message = error.to_string();
            for (operation, reply) in replies {
                let _ = reply.send(Err(StateError::backend_message(operation, &message)));
            }
            connection_survives(&error)
        }
    }
}

/// Rows per multi-row INSERT (12 parameters each, far below Postgres's limit of 65,535).
const ROWS_PER_STATEMENT: usize = 400;

const COLUMNS: &str = "INSERT INTO step_executions (run_id, step_id, item_index, item_key, status, \
     attempts, parameters_json, output_json, error_json, started_at, ended_at, duration_us) ";

const UPSERT: &str = " ON CONFLICT (run_id, step_id, item_index) DO UPDATE SET \
     item_key = excluded.item_key, status = excluded.status, \
     attempts = excluded.attempts, parameters_json = excluded.parameters_json, \
     output_json = excluded.output_json, error_json = excluded.error_json, \
     started_at = excluded.started_at, ended_at = excluded.ended_at, \
     duration_us = excluded.duration_us";

/// Inserts every row in one transaction: in multi-row statements when the rows' keys are
/// distinct (one round trip per 400 rows, not per row; Postgres refuses an upsert that
/// touches one row twice). When such a statement fails (a constraint), its savepoint is
/// rolled back and its rows and the rest are inserted one by one, each under a savepoint,
/// so a row that fails fails alone. Errs only when the transaction itself does.
async fn write_all(
    connection: &mut PgConnection,
    rows: Vec<StepRow>,
) -> Result<Vec<Result<(), sqlx::Error>>, sqlx::Error> {
    let mut transaction = connection.begin().await?;
    let count = rows.len();
    let keys: std::collections::HashSet<(&str, &str, i64)> = rows
        .iter()
        .map(|row| (row.run_id.as_str(), row.step_id.as_str(), row.item_index))
        .collect();
    let mut written = 0;
    if keys.len() == count {
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let mut savepoint = Connection::begin(&mut *transaction).await?;
            match insert_many(&mut savepoint, chunk.to_vec()).await {
                Ok(()) => savepoint.commit().await?,
                Err(error) if connection_survives(&error) => {
                    savepoint.rollback().await?;
                    break;
                }
                Err(error) => return Err(error),
            }
            written += chunk.len();
        }
    }
    // The rows before a failed chunk are in; the rest go one by one.
    let mut results: Vec<Result<(), sqlx::Error>> = (0..written).map(|_| Ok(())).collect();
    for row in rows.into_iter().skip(written) {
        let mut savepoint = Connection::begin(&mut *transaction).await?;
        let result = insert(&mut savepoint, row).await;
        match &result {
            Ok(()) => savepoint.commit().await?,
            Err(error) if connection_survives(error) => savepoint.rollback().await?,
            Err(_) => return result.map(|()| Vec::new()),
        }
        results.push(result);
    }
    transaction.commit().await?;
    Ok(results)
}

async fn insert_many(connection: &mut PgConnection, rows: Vec<StepRow>) -> Result<(), sqlx::Error> {
    let mut builder = sqlx::QueryBuilder::<sqlx::Postgres>::new(COLUMNS);
    builder.push_values(rows, |mut values, row| {
        values
            .push_bind(row.run_id)
            .push_bind(row.step_id)
            .push_bind(row.item_index)
            .push_bind(row.item_key)
            .push_bind(row.status)
            .push_bind(row.attempts)
            .push_bind(payload_bytes(row.parameters))
            .push_bind(payload_bytes(row.output))
            .push_bind(payload_bytes(row.error))
            .push_bind(row.started_at)
            .push_bind(row.ended_at)
            .push_bind(row.duration_us);
    });
    builder.push(UPSERT);
    builder.build().execute(&mut *connection).await.map(|_| ())
}

async fn insert(connection: &mut PgConnection, row: StepRow) -> Result<(), sqlx::Error> {
    static ONE_ROW: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!("{COLUMNS}VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12){UPSERT}")
    });
    sqlx::query(ONE_ROW.as_str())
        .bind(row.run_id)
        .bind(row.step_id)
        .bind(row.item_index)
        .bind(row.item_key)
        .bind(row.status)
        .bind(row.attempts)
        .bind(payload_bytes(row.parameters))
        .bind(payload_bytes(row.output))
        .bind(payload_bytes(row.error))
        .bind(row.started_at)
        .bind(row.ended_at)
        .bind(row.duration_us)
        .execute(connection)
        .await
        .map(|_| ())
}
