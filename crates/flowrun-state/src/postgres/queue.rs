//! The run queue of `flowrun serve` on Postgres, shared by every worker process, and the
//! trigger state.
//!
//! - A claim is one statement: `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1)`.
//!   Two claimers never lock the same row, and neither waits for the other: each skips the rows
//!   the other holds.
//! - Deduplication is the unique index on `(flow_id, dedupe_key)`: `INSERT … ON CONFLICT DO
//!   NOTHING`, then the row that won is read back.
//! - Every transaction that makes a run claimable sends `NOTIFY flowrun_queue` (delivered at
//!   its commit); each store listens on a connection of its own and wakes its waiters, so an
//!   enqueue on one host wakes idle workers on all. The notification is a hint: waiters poll.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sqlx::Row;
use sqlx::postgres::{PgListener, PgRow};
use tokio::sync::Notify;

use super::bind::{PgTime, lease_expiry_sql, lease_interval, payload_ref};
use super::runs::{RUN_COLUMNS, end, ownership_error};
use super::{PostgresStore, db, retrying};
use crate::error::StateError;
use crate::model::{Claim, Enqueued, QueuedRun, Run, RunStatus};
use crate::payload::{self, OverLimit};

/// The channel of queue wake-ups.
const CHANNEL: &str = "flowrun_queue";

/// The shortest time between two wake-ups sent after enqueues.
const NOTIFY_EVERY: Duration = Duration::from_millis(10);

/// Wakes this store's waiters when any process makes a run claimable.
#[derive(Debug)]
pub(super) struct QueueSignal {
    pub notify: Arc<Notify>,
    listening: std::sync::OnceLock<()>,
    /// When the last wake-up after an enqueue went out, in ms since `started`.
    last_notify_ms: std::sync::atomic::AtomicU64,
    started: std::time::Instant,
}

impl QueueSignal {
    pub fn new() -> QueueSignal {
        QueueSignal {
            notify: Arc::new(Notify::new()),
            listening: std::sync::OnceLock::new(),
            last_notify_ms: std::sync::atomic::AtomicU64::new(0),
            started: std::time::Instant::now(),
        }
    }
}

impl PostgresStore {
    pub(super) async fn enqueue_run_impl(&self, queued: QueuedRun) -> Result<Enqueued, StateError> {
        if !queued.skip_if_active {
            return self.enqueue_one_statement(queued).await;
        }
        let operation = format!("queueing a run of flow `{}`", queued.flow_id);
        let trigger = payload::encode_opt(self.limits, queued.trigger.clone(), OverLimit::Truncate).await?;
        let inputs = payload::encode_opt(self.limits, queued.inputs.clone(), OverLimit::Truncate).await?;
        let id = uuid::Uuid::now_v7().to_string();
        let outcome = retrying(|| async {
            let mut tx = self.begin(&operation).await?;
            let result = async {
                if let Some(key) = &queued.dedupe_key {
                    let existing = sqlx::query(&format!(
                        "SELECT {RUN_COLUMNS} FROM runs WHERE flow_id = $1 AND dedupe_key = $2"
                    ))
                    .bind(&queued.flow_id)
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db(&operation))?;
                    if let Some(row) = existing {
                        return Ok(Outcome::Duplicate(row));
                    }
                }
                if queued.skip_if_active {
                    let active: Option<String> = sqlx::query_scalar(
                        "SELECT id FROM runs WHERE flow_id = $1 AND status IN ('queued', 'running') \
                         ORDER BY created_at, id LIMIT 1",
                    )
                    .bind(&queued.flow_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db(&operation))?;
                    if let Some(active_run_id) = active {
                        return Ok(Outcome::Skipped(active_run_id));
                    }
                }
                let inserted = sqlx::query(&format!(
                    "INSERT INTO runs (id, flow_id, flow_version, trigger_json, inputs_json, status, \
                     created_at, dedupe_key, enqueued) VALUES ($1, $2, $3, $4, $5, 'queued', now(), $6, true) \
                     ON CONFLICT (flow_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING \
                     RETURNING {RUN_COLUMNS}"
                ))
                .bind(&id)
                .bind(&queued.flow_id)
                .bind(&queued.flow_version)
                .bind(payload_ref(trigger.as_ref()))
                .bind(payload_ref(inputs.as_ref()))
                .bind(&queued.dedupe_key)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db(&operation))?;
                match inserted {
                    Some(row) => {
                        notify(&mut tx, &queued.flow_id, &operation).await?;
                        Ok(Outcome::Created(row))
                    }
                    // Another process inserted the key since the check: its row wins.
                    None => Ok(Outcome::Raced),
                }
            }
            .await;
            end(tx, result, &operation).await
        })
        .await?;
        match outcome {
            Outcome::Created(row) => Ok(Enqueued::Created(self.one(row, &operation).await?)),
            Outcome::Duplicate(row) => Ok(Enqueued::Duplicate(self.one(row, &operation).await?)),
            Outcome::Skipped(active_run_id) => Ok(Enqueued::Skipped { active_run_id }),
            Outcome::Raced => {
                let key = queued.dedupe_key.as_deref().unwrap_or_default();
                let row = sqlx::query(&format!(
                    "SELECT {RUN_COLUMNS} FROM runs WHERE flow_id = $1 AND dedupe_key = $2"
                ))
                .bind(&queued.flow_id)
                .bind(key)
                .fetch_one(&self.pool)
                .await
                .map_err(db(&operation))?;
                Ok(Enqueued::Duplicate(self.one(row, &operation).await?))
            }
        }
    }

    /// Without the overlap rule an enqueue is one statement (one round trip, its own
    /// transaction): the insert with its `NOTIFY`, or nothing when the dedupe key is taken
    /// (the unique index decides a race), then the run holding the key is read.
    async fn enqueue_one_statement(&self, mut queued: QueuedRun) -> Result<Enqueued, StateError> {
        let operation = format!("queueing a run of flow `{}`", queued.flow_id);
        let (trigger, trigger_value) =
            payload::encode_opt_keep(self.limits, queued.trigger.take(), OverLimit::Truncate).await?;
        let (inputs, inputs_value) =
            payload::encode_opt_keep(self.limits, queued.inputs.take(), OverLimit::Truncate).await?;
        let id = uuid::Uuid::now_v7().to_string();
        let created_at: Option<PgTime> = sqlx::query_scalar(
            "INSERT INTO runs (id, flow_id, flow_version, trigger_json, inputs_json, status, \
             created_at, dedupe_key, enqueued) VALUES ($1, $2, $3, $4, $5, 'queued', now(), $6, true) \
             ON CONFLICT (flow_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING RETURNING created_at",
        )
        .bind(&id)
        .bind(&queued.flow_id)
        .bind(&queued.flow_version)
        .bind(payload_ref(trigger.as_ref()))
        .bind(payload_ref(inputs.as_ref()))
        .bind(&queued.dedupe_key)
        .fetch_optional(&self.pool)
        .await
        .map_err(db(&operation))?;
        let Some(created_at) = created_at else {
            let key = queued.dedupe_key.as_deref().unwrap_or_default();
            let row = sqlx::query(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE flow_id = $1 AND dedupe_key = $2"
            ))
            .bind(&queued.flow_id)
            .bind(key)
            .fetch_one(&self.pool)
            .await
            .map_err(db(&operation))?;
            return Ok(Enqueued::Duplicate(self.one(row, &operation).await?));
        };
        self.wake_workers();
        Ok(Enqueued::Created(queued.into_run(
            id,
            trigger_value,
            inputs_value,
            created_at.0,
        )))
    }

    /// `NOTIFY flowrun_queue` after an enqueue committed, at most once per [`NOTIFY_EVERY`],
    /// off the caller's path. Not inside the insert: Postgres serializes the commits of
    /// notifying transactions on one lock, which would make every webhook wait for every other.
    /// Workers woken once claim until the queue is empty, so one wake-up serves a burst.
    fn wake_workers(&self) {
        let now = u64::try_from(self.queue_signal.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self
            .queue_signal
            .last_notify_ms
            .load(std::sync::atomic::Ordering::Relaxed);
        // 0: none sent yet.
        if (last != 0 && now.saturating_sub(last) < NOTIFY_EVERY.as_millis() as u64)
            || self
                .queue_signal
                .last_notify_ms
                .compare_exchange(
                    last,
                    now.max(1),
                    std::sync::atomic::Ordering::Relaxed,
                    std::sync::atomic::Ordering::Relaxed,
                )
                .is_err()
        {
            // Another enqueue just sent one, or is sending it; its wake-up is ours too (its
            // notification goes out after our commit, since ours committed before we looked).
            return;
        }
        let pool = self.pool.clone();
        // In-process waiters at once, other processes through the server.
        self.queue_signal.notify.notify_one();
        tokio::spawn(async move {
            if let Err(error) = sqlx::query("SELECT pg_notify($1, '')")
                .bind(CHANNEL)
                .execute(&pool)
                .await
            {
                tracing::debug!(%error, "NOTIFY flowrun_queue failed; idle workers poll");
            }
        });
    }

    async fn one(&self, row: PgRow, operation: &str) -> Result<Run, StateError> {
        self.decode_runs(vec![row], operation)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| StateError::corrupt("run", "a row read back was not decoded"))
    }

    pub(super) async fn claim_run_impl(&self, claim: Claim) -> Result<Option<Run>, StateError> {
        let operation = "claiming a queued run";
        let flows = claim.flow_ids.clone();
        if flows.as_ref().is_some_and(Vec::is_empty) {
            return Ok(None);
        }
        let filter = if flows.is_some() { " AND flow_id = ANY($3)" } else { "" };
        let sql = format!(
            "UPDATE runs SET status = 'running', lease_owner = $1, lease_expires_at = {}, \
             started_at = COALESCE(started_at, now()), available_at = NULL \
             WHERE id = (SELECT id FROM runs WHERE status = 'queued' \
             AND (available_at IS NULL OR available_at <= now()){filter} \
             ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING {RUN_COLUMNS}",
            lease_expiry_sql(2)
        );
        let mut query = sqlx::query(&sql)
            .bind(&claim.lease_owner)
            .bind(lease_interval(claim.lease));
        if let Some(flows) = &flows {
            query = query.bind(flows);
        }
        let row = query.fetch_optional(&self.pool).await.map_err(db(operation))?;
        match row {
            Some(row) => {
                // Pass the wake-up on: another idle worker looks for the next run (see
                // wait_for_queued).
                self.queue_signal.notify.notify_one();
                self.one(row, operation).await.map(Some)
            }
            None => Ok(None),
        }
    }

    pub(super) async fn release_run_impl(
        &self,
        run_id: &str,
        lease_owner: &str,
        delay: Duration,
    ) -> Result<(), StateError> {
        let operation = format!("handing run {run_id} back to the queue");
        retrying(|| async {
            let mut tx = self.begin(&operation).await?;
            let result = async {
                // The lock first (lock order, mod.rs); a refusal below rolls it back.
                sqlx::query("DELETE FROM flow_locks WHERE run_id = $1")
                    .bind(run_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db(&operation))?;
                let row = sqlx::query("SELECT flow_id, status, lease_owner FROM runs WHERE id = $1 FOR NO KEY UPDATE")
                    .bind(run_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db(&operation))?;
                let Some(row) = row else {
                    return Err(StateError::RunNotFound {
                        run_id: run_id.to_owned(),
                    });
                };
                if let Some(error) = ownership_error(&row, run_id, lease_owner, &operation) {
                    return Err(error);
                }
                let flow_id: String = row.try_get("flow_id").map_err(db(&operation))?;
                sqlx::query(&format!(
                    "UPDATE runs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL, \
                     available_at = {} WHERE id = $1",
                    lease_expiry_sql(2)
                ))
                .bind(run_id)
                .bind(lease_interval(delay))
                .execute(&mut *tx)
                .await
                .map_err(db(&operation))?;
                notify(&mut tx, &flow_id, &operation).await
            }
            .await;
            end(tx, result, &operation).await
        })
        .await
    }

    pub(super) async fn requeue_expired_impl(&self) -> Result<Vec<Run>, StateError> {
        let operation = "queueing the runs of workers whose lease expired";
        let rows = retrying(|| async {
            let mut tx = self.begin(operation).await?;
            let result = async {
                // The locks of dead holders first, in flow order (lock order, mod.rs); locked
                // here, deleted below only when their run was requeued (a run skipped below, held
                // by a heartbeat, lives on and keeps its lock).
                let flows: Vec<String> = sqlx::query_scalar(
                    "SELECT l.flow_id FROM flow_locks l JOIN runs r ON r.id = l.run_id \
                     WHERE r.status = 'running' AND r.enqueued AND r.lease_expires_at <= now() \
                     ORDER BY l.flow_id FOR UPDATE OF l",
                )
                .fetch_all(&mut *tx)
                .await
                .map_err(db(operation))?;
                // The rows as they were (with the dead worker's name): a CTE sees the
                // snapshot before the update. SKIP LOCKED: a run a heartbeat or another
                // sweep holds is not waited for.
                let rows = sqlx::query(&format!(
                    "WITH expired AS (SELECT {RUN_COLUMNS} FROM runs WHERE status = 'running' AND enqueued \
                     AND lease_expires_at <= now() FOR UPDATE SKIP LOCKED), \
                     requeued AS (UPDATE runs SET status = 'queued', lease_owner = NULL, \
                     lease_expires_at = NULL, available_at = NULL FROM expired WHERE runs.id = expired.id) \
                     SELECT * FROM expired"
                ))
                .fetch_all(&mut *tx)
                .await
                .map_err(db(operation))?;
                if !flows.is_empty() {
                    sqlx::query(
                        "DELETE FROM flow_locks l WHERE l.flow_id = ANY($1) AND NOT EXISTS \
                         (SELECT 1 FROM runs r WHERE r.id = l.run_id AND r.status = 'running')",
                    )
                    .bind(&flows)
                    .execute(&mut *tx)
                    .await
                    .map_err(db(operation))?;
                }
                if !rows.is_empty() {
                    notify(&mut tx, "", operation).await?;
                }
                Ok(rows)
            }
            .await;
            end(tx, result, operation).await
        })
        .await?;
        self.decode_runs(rows, operation).await
    }

    pub(super) async fn queue_depth_impl(&self) -> Result<u64, StateError> {
        let depth: i64 = sqlx::query_scalar("SELECT count(*) FROM runs WHERE status = 'queued'")
            .fetch_one(&self.pool)
            .await
            .map_err(db("counting queued runs"))?;
        Ok(u64::try_from(depth).unwrap_or_default())
    }

    pub(super) async fn count_runs_impl(&self) -> Result<Vec<(RunStatus, u64)>, StateError> {
        let rows: Vec<(String, i64)> = sqlx::query_as("SELECT status, count(*) FROM runs GROUP BY status")
            .fetch_all(&self.pool)
            .await
            .map_err(db("counting runs by status"))?;
        crate::model::status_counts(rows)
    }

    pub(super) async fn wait_for_queued_impl(&self, timeout: Duration) {
        // One waiter is woken per signal (kept when nobody waits); a worker that claims a run
        // wakes the next one, so idle workers join one by one while there is work, instead of
        // every worker of every process racing for each run.
        self.start_listening();
        let _ = tokio::time::timeout(timeout, self.queue_signal.notify.notified()).await;
    }

    /// Starts, once per store, the task that listens on `flowrun_queue` and wakes waiters.
    fn start_listening(&self) {
        if self.queue_signal.listening.set(()).is_err() {
            return;
        }
        let pool = self.pool.clone();
        let notify = self.queue_signal.notify.clone();
        tokio::spawn(async move {
            loop {
                match PgListener::connect_with(&pool).await {
                    Ok(mut listener) => {
                        if let Err(error) = listener.listen(CHANNEL).await {
                            tracing::warn!(%error, "cannot LISTEN for queued runs; idle workers poll");
                        } else {
                            // `recv` reconnects by itself after a dropped connection (and
                            // a wake-up then is harmless: waiters look at the queue).
                            while listener.recv().await.is_ok() {
                                notify.notify_one();
                            }
                        }
                    }
                    Err(error) => tracing::warn!(%error, "cannot LISTEN for queued runs; idle workers poll"),
                }
                if pool.is_closed() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    pub(super) async fn trigger_state_impl(&self, flow_id: &str, key: &str) -> Result<Option<Value>, StateError> {
        let operation = format!("reading trigger state `{key}` of flow `{flow_id}`");
        let value: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT value_json FROM trigger_state WHERE flow_id = $1 AND key = $2")
                .bind(flow_id)
                .bind(key)
                .fetch_optional(&self.pool)
                .await
                .map_err(db(&operation))?;
        value
            .map(|bytes| payload::decode("trigger state", &bytes, self.limits))
            .transpose()
    }

    pub(super) async fn put_trigger_state_impl(
        &self,
        flow_id: &str,
        key: &str,
        value: Value,
    ) -> Result<(), StateError> {
        let operation = format!("storing trigger state `{key}` of flow `{flow_id}`");
        let value = payload::encode(self.limits, value, OverLimit::Refuse("a trigger state")).await?;
        sqlx::query(
            "INSERT INTO trigger_state (flow_id, key, value_json, updated_at) VALUES ($1, $2, $3, now()) \
             ON CONFLICT (flow_id, key) DO UPDATE SET value_json = excluded.value_json, \
             updated_at = excluded.updated_at",
        )
        .bind(flow_id)
        .bind(key)
        .bind(payload_ref(Some(&value)))
        .execute(&self.pool)
        .await
        .map_err(db(&operation))?;
        Ok(())
    }

    pub(super) async fn insert_trigger_state_impl(
        &self,
        flow_id: &str,
        key: &str,
        value: Value,
    ) -> Result<Value, StateError> {
        let operation = format!("storing trigger state `{key}` of flow `{flow_id}`");
        let encoded = payload::encode(self.limits, value, OverLimit::Refuse("a trigger state")).await?;
        // The no-op update makes RETURNING give the row that is there, inserted or not.
        let stored: Vec<u8> = sqlx::query_scalar(
            "INSERT INTO trigger_state (flow_id, key, value_json, updated_at) VALUES ($1, $2, $3, now()) \
             ON CONFLICT (flow_id, key) DO UPDATE SET flow_id = trigger_state.flow_id RETURNING value_json",
        )
        .bind(flow_id)
        .bind(key)
        .bind(payload_ref(Some(&encoded)))
        .fetch_one(&self.pool)
        .await
        .map_err(db(&operation))?;
        payload::decode("trigger state", &stored, self.limits)
    }

    pub(super) async fn delete_trigger_state_impl(&self, flow_id: &str, key: &str) -> Result<bool, StateError> {
        let operation = format!("deleting trigger state `{key}` of flow `{flow_id}`");
        let deleted = sqlx::query("DELETE FROM trigger_state WHERE flow_id = $1 AND key = $2")
            .bind(flow_id)
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(db(&operation))?;
        Ok(deleted.rows_affected() > 0)
    }
}

/// What one try of an enqueue found.
enum Outcome {
    Created(PgRow),
    Duplicate(PgRow),
    Skipped(String),
    /// The dedupe key was inserted by another process between the check and the insert.
    Raced,
}

/// `NOTIFY flowrun_queue`, delivered when the transaction commits.
async fn notify(tx: &mut sqlx::PgConnection, flow_id: &str, operation: &str) -> Result<(), StateError> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(flow_id)
        .execute(&mut *tx)
        .await
        .map_err(db(operation))?;
    Ok(())
}
