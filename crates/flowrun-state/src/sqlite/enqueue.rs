//! Group commit of queued runs on SQLite: webhooks that arrive while another enqueue is being
//! written share the next transaction (leader-based, as step records do in `batch.rs`). Each
//! caller is answered only after the transaction holding its run committed, so a 202 never goes
//! out for a run that is not durable; a burst of deliveries pays one commit, not one each. A
//! transaction that fails fails every run in it: their webhooks get 503 and are sent again.

use std::sync::Arc;

use sqlx::{Sqlite, SqlitePool, Transaction};
use tokio::sync::oneshot;

use crate::error::StateError;
use crate::payload::Encoded;

/// One run to insert, encoded.
pub(super) struct QueuedRow {
    pub id: String,
    pub flow_id: String,
    pub flow_version: String,
    pub trigger: Option<Encoded>,
    pub inputs: Option<Encoded>,
    pub created_at: i64,
    pub dedupe_key: Option<String>,
}

struct Pending {
    row: QueuedRow,
    /// `true`: inserted; `false`: the dedupe key was taken.
    reply: oneshot::Sender<Result<bool, StateError>>,
}

/// Runs waiting to be inserted, and the right to write them.
#[derive(Clone, Default)]
pub(super) struct EnqueueWriter {
    queue: Arc<std::sync::Mutex<Vec<Pending>>>,
    /// Held by the caller (then its write task) writing a batch.
    leader: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for EnqueueWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnqueueWriter")
    }
}

const OPERATION: &str = "queueing runs";

impl EnqueueWriter {
    /// Inserts the run (nothing when its dedupe key is taken); returns once committed, with
    /// whether it was inserted.
    pub(super) async fn insert(&self, writer: &SqlitePool, row: QueuedRow) -> Result<bool, StateError> {
        let (reply, mut answer) = oneshot::channel();
        self.lock_queue().push(Pending { row, reply });
        let leader = tokio::select! {
            biased;
            answered = &mut answer => return answered.unwrap_or_else(|_| Err(interrupted())),
            leader = Arc::clone(&self.leader).lock_owned() => leader,
        };
        let batch: Vec<Pending> = std::mem::take(&mut *self.lock_queue());
        if batch.is_empty() {
            drop(leader);
        } else {
            // On a task of its own, which finishes even when this caller gives up (a webhook
            // whose client hung up): cancelling the transaction here would fail the runs of
            // every other caller in the batch.
            let writer = writer.clone();
            let write = tokio::spawn(async move {
                write_batch(&writer, batch).await;
                drop(leader);
            });
            // A panic of the task drops the replies: the callers hear `interrupted`.
            let _ = write.await;
        }
        answer.try_recv().unwrap_or_else(|_| Err(interrupted()))
    }

    fn lock_queue(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        // Push and take only: a panic cannot leave the list half-changed.
        self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn interrupted() -> StateError {
    StateError::backend_message(OPERATION, "the write was interrupted before it was answered")
}

/// Inserts a batch in one transaction and answers each caller.
async fn write_batch(writer: &SqlitePool, batch: Vec<Pending>) {
    let (rows, replies): (Vec<QueuedRow>, Vec<_>) =
        batch.into_iter().map(|pending| (pending.row, pending.reply)).unzip();
    match write_all(writer, rows).await {
        Ok(inserted) => {
            for (reply, inserted) in replies.into_iter().zip(inserted) {
                let _ = reply.send(Ok(inserted));
            }
        }
        Err(error) => {
            let message = error.to_string();
            for reply in replies {
                let _ = reply.send(Err(StateError::backend_message(OPERATION, message.clone())));
            }
        }
    }
}

async fn write_all(writer: &SqlitePool, rows: Vec<QueuedRow>) -> Result<Vec<bool>, sqlx::Error> {
    let mut tx: Transaction<'_, Sqlite> = writer.begin_with("BEGIN IMMEDIATE").await?;
    let mut inserted = Vec::with_capacity(rows.len());
    for row in rows {
        let done = sqlx::query(
            "INSERT INTO runs (id, flow_id, flow_version, trigger_json, inputs_json, status, \
             created_at, dedupe_key, enqueued) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, 1) \
             ON CONFLICT (flow_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING",
        )
        .bind(row.id)
        .bind(row.flow_id)
        .bind(row.flow_version)
        .bind(row.trigger)
        .bind(row.inputs)
        .bind(row.created_at)
        .bind(row.dedupe_key)
        .execute(&mut *tx)
        .await?;
        inserted.push(done.rows_affected() > 0);
    }
    tx.commit().await?;
    Ok(inserted)
}
