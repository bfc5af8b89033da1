//! Group commit of step records: results that finish while another is being written share the
//! next transaction, so a wide fan-out or a `for_each` with concurrency pays one commit for
//! many records. Each caller still gets its answer only after its record is committed, so
//! "durable when `record_step` returns" holds; a record that fails fails alone; a lone record
//! is written without a transaction around it (one statement is its own transaction).

use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use crate::error::StateError;
use crate::payload::Encoded;

/// Records written in one transaction at most.
const MAX_BATCH: usize = 256;
/// Records waiting for the writer at most; callers beyond wait for room.
const QUEUE: usize = 1024;

/// One encoded step record, ready to bind.
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

/// The sending side: cheap to clone; the writer task ends when every clone is dropped.
#[derive(Debug, Clone)]
pub(super) struct StepWriter {
    sender: mpsc::Sender<Pending>,
}

impl StepWriter {
    /// Starts the writer task on the current tokio runtime.
    pub(super) fn start(pool: SqlitePool) -> StepWriter {
        let (sender, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(pool, receiver));
        StepWriter { sender }
    }

    /// Writes the row; returns once it is committed.
    pub(super) async fn write(&self, row: StepRow) -> Result<(), StateError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || StateError::backend_message("recording a step result", "the store's writer has stopped");
        self.sender.send(Pending { row, reply }).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn write_batches(pool: SqlitePool, mut receiver: mpsc::Receiver<Pending>) {
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(pending) => batch.push(pending),
                Err(_) => break,
            }
        }
        let mut replies = Vec::with_capacity(batch.len());
        let mut rows = Vec::with_capacity(batch.len());
        for Pending { mut row, reply } in batch {
            replies.push((std::mem::take(&mut row.operation), reply));
            rows.push(row);
        }
        if rows.len() == 1 {
            let row = rows.pop().expect("one record");
            let result = insert(&pool, row).await;
            let (operation, reply) = replies.pop().expect("one caller");
            let _ = reply.send(result.map_err(|error| StateError::backend(operation, error)));
            continue;
        }
        match write_all(&pool, rows).await {
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
}

/// Inserts every row in one transaction. A row that fails (a constraint) fails alone: SQLite
/// undoes that statement, the transaction goes on. Errs only when the transaction itself does.
async fn write_all(pool: &SqlitePool, rows: Vec<StepRow>) -> Result<Vec<Result<(), sqlx::Error>>, sqlx::Error> {
    let mut transaction = pool.begin().await?;
    let mut results = Vec::with_capacity(rows.len());
    for row in rows {
        results.push(insert(&mut *transaction, row).await);
    }
    transaction.commit().await?;
    Ok(results)
}

async fn insert<'e, E>(executor: E, row: StepRow) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    sqlx::query(
        "INSERT INTO step_executions (run_id, step_id, item_index, item_key, status, \
         attempts, parameters_json, output_json, error_json, started_at, ended_at, \
         duration_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (run_id, step_id, item_index) DO UPDATE SET \
         item_key = excluded.item_key, status = excluded.status, \
         attempts = excluded.attempts, parameters_json = excluded.parameters_json, \
         output_json = excluded.output_json, error_json = excluded.error_json, \
         started_at = excluded.started_at, ended_at = excluded.ended_at, \
         duration_us = excluded.duration_us",
    )
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
