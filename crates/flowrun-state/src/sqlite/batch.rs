//! Group commit of step records: results that finish while another is being written share the
//! next transaction, so a wide fan-out or a `for_each` with concurrency pays one commit for
//! many records (leader-based: whoever gets the connection writes everything waiting). Each caller still gets its answer only after its record is committed, so
//! "durable when `record_step` returns" holds; a record that fails fails alone; a lone record
//! is written without a transaction around it (one statement is its own transaction).

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use std::sync::Arc;

use sqlx::Connection;
use tokio::sync::oneshot;

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

struct Pending {
    row: StepRow,
    reply: oneshot::Sender<Result<(), StateError>>,
}

/// Step records waiting to be written, and the connection that writes them. The first caller
/// to get the connection writes every record waiting (its own and those that came while the
/// connection was busy) in one transaction, and answers each caller: no task sits between a
/// caller and the database.
#[derive(Debug, Clone)]
pub(super) struct StepWriter {
    queue: Arc<std::sync::Mutex<Vec<Pending>>>,
    connection: Arc<tokio::sync::Mutex<SqliteConnection>>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.row.operation)
    }
}

impl StepWriter {
    /// Opens the writer's own connection.
    ///
    /// Why its own connection: a pooled connection costs a check-out and a return per use,
    /// about 100 µs, more than the insert itself (about 40 µs); a step's result waits for its
    /// write, so a chain of steps pays it at every step. The store's other writes use the
    /// writer pool; both wait on SQLite's busy timeout when they meet.
    pub(super) async fn start(options: &SqliteConnectOptions) -> Result<StepWriter, sqlx::Error> {
        let connection = SqliteConnection::connect_with(options).await?;
        Ok(StepWriter {
            queue: Arc::default(),
            connection: Arc::new(tokio::sync::Mutex::new(connection)),
        })
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
            write_batch(&mut connection, batch).await;
        }
        drop(connection);
        answer.try_recv().unwrap_or_else(|_| Err(interrupted()))
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

/// Writes a batch and answers each caller.
async fn write_batch(connection: &mut SqliteConnection, batch: Vec<Pending>) {
    let mut replies = Vec::with_capacity(batch.len());
    let mut rows = Vec::with_capacity(batch.len());
    for Pending { mut row, reply } in batch {
        replies.push((std::mem::take(&mut row.operation), reply));
        rows.push(row);
    }
    if rows.len() == 1 {
        let row = rows.pop().expect("one record");
        let result = insert(&mut *connection, row).await;
        let (operation, reply) = replies.pop().expect("one caller");
        let _ = reply.send(result.map_err(|error| StateError::backend(operation, error)));
        return;
    }
    match write_all(connection, rows).await {
        Ok(results) => {
            for ((operation, reply), result) in replies.into_iter().zip(results) {
                let _ = reply.send(result.map_err(|error| StateError::backend(operation, error)));
            }
        }
        Err(error) => {
            // The commit failed: nothing of the batch is in. Each caller hears why.
            let message = error.to_string();
            for (operation, reply) in replies {
                let _ = reply.send(Err(StateError::backend_message(operation, &message)));
            }
        }
    }
}

/// Rows per multi-row INSERT (12 parameters each, far below SQLite's limit of 32,766).
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
/// distinct (one round trip to the connection's thread per 400 rows, not per row). When such
/// a statement fails (a constraint; SQLite undoes that statement, the transaction goes on),
/// the rows are inserted one by one, so a row that fails fails alone. Errs only when the
/// transaction itself does.
async fn write_all(
    connection: &mut SqliteConnection,
    rows: Vec<StepRow>,
) -> Result<Vec<Result<(), sqlx::Error>>, sqlx::Error> {
    let mut transaction = connection.begin().await?;
    let count = rows.len();
    let keys: std::collections::HashSet<(&str, &str, i64)> = rows
        .iter()
        .map(|row| (row.run_id.as_str(), row.step_id.as_str(), row.item_index))
        .collect();
    if keys.len() == count {
        let mut all_in = true;
        let mut written = 0;
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            if insert_many(&mut transaction, chunk.to_vec()).await.is_err() {
                all_in = false;
                break;
            }
            written += chunk.len();
        }
        if all_in {
            transaction.commit().await?;
            return Ok((0..count).map(|_| Ok(())).collect());
        }
        // The chunks before the failed one are in; the rest go one by one.
        let mut results: Vec<Result<(), sqlx::Error>> = (0..written).map(|_| Ok(())).collect();
        for row in rows.into_iter().skip(written) {
            results.push(insert(&mut *transaction, row).await);
        }
        transaction.commit().await?;
        return Ok(results);
    }
    let mut results = Vec::with_capacity(count);
    for row in rows {
        results.push(insert(&mut *transaction, row).await);
    }
    transaction.commit().await?;
    Ok(results)
}

async fn insert_many(connection: &mut SqliteConnection, rows: Vec<StepRow>) -> Result<(), sqlx::Error> {
    let mut builder = sqlx::QueryBuilder::<sqlx::Sqlite>::new(COLUMNS);
    builder.push_values(rows, |mut values, row| {
        values
            .push_bind(row.run_id)
            .push_bind(row.step_id)
            .push_bind(row.item_index)
            .push_bind(row.item_key)
            .push_bind(row.status)
            .push_bind(row.attempts)
            .push_bind(row.parameters)
            .push_bind(row.output)
            .push_bind(row.error)
            .push_bind(row.started_at)
            .push_bind(row.ended_at)
            .push_bind(row.duration_us);
    });
    builder.push(UPSERT);
    builder.build().execute(&mut *connection).await.map(|_| ())
}

async fn insert<'e, E>(executor: E, row: StepRow) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    static ONE_ROW: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("{COLUMNS}VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?){UPSERT}"));
    sqlx::query(ONE_ROW.as_str())
        .bind(row.run_id)
        .bind(row.step_id)
        .bind(row.item_index)
        .bind(row.item_key)
        .bind(row.status)
        .bind(row.attempts)
        .bind(row.parameters)
        .bind(row.output)
        .bind(row.error)
        .bind(row.started_at)
        .bind(row.ended_at)
        .bind(row.duration_us)
        .execute(executor)
        .await
        .map(|_| ())
}
