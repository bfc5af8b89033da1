//! WAL checkpoints off the step writer's path.
//!
//! SQLite copies the write-ahead log back into the database file (a checkpoint, with its
//! `fsync`s) on the connection whose commit made the log pass 1,000 pages. On the step writer
//! that would stall a step every few hundred commits for milliseconds, so the writer turns
//! automatic checkpoints off and, after about as much written, asks this task to run a
//! `PASSIVE` checkpoint on a reader connection (its own thread) while steps go on committing.
//! The store's other connections keep SQLite's automatic checkpoints.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::sqlite::SqlitePool;
use tokio::sync::mpsc;

/// About SQLite's automatic checkpoint threshold: 1,000 pages of 4 KiB.
const CHECKPOINT_AFTER_BYTES: usize = 4 * 1024 * 1024;

/// What a committed row adds to the log beyond its payloads (its pages of the table and of
/// the unique index are rewritten whole, whatever the row's size).
pub(super) const ROW_OVERHEAD_BYTES: usize = 2 * 4096;

/// Counts what the step writer committed and asks for a checkpoint when it is enough.
#[derive(Debug, Clone)]
pub(super) struct Checkpointer {
    written: Arc<AtomicUsize>,
    requests: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Starts the checkpoint task on `pool`; it ends when the last `Checkpointer` is dropped.
    pub(super) fn start(pool: SqlitePool) -> Checkpointer {
        // One request waiting is enough: a checkpoint covers everything committed before it.
        let (requests, mut received) = mpsc::channel::<()>(1);
        tokio::spawn(async move {
            while received.recv().await.is_some() {
                if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
                    // The next request tries again; SQLite's own checkpoints still happen on
                    // the store's other connections.
                    tracing::debug!(%error, "WAL checkpoint failed");
                }
            }
        });
        Checkpointer {
            written: Arc::default(),
            requests,
        }
    }

    /// Notes `bytes` committed to the log; asks for a checkpoint past the threshold.
    pub(super) fn committed(&self, bytes: usize) {
        let total = self.written.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if total >= CHECKPOINT_AFTER_BYTES {
            self.written.store(0, Ordering::Relaxed);
            // Full: a checkpoint is already asked for.
            let _ = self.requests.try_send(());
        }
    }
}
