//! The run queue of `flowrun serve` on SQLite.
//!
//! Every write is one `BEGIN IMMEDIATE` transaction or one statement on the single writer
//! connection, so claims are serialized: two workers of the process never get one run. The
//! waiters of `wait_for_queued` are woken in-process (a SQLite file is served by one process).

use std::time::Duration;

use super::bind::millis;
use super::runs::{RUN_COLUMNS, ownership_error};
use super::{SqliteStore, db, now};
use crate::error::StateError;
use crate::model::{Claim, Enqueued, QueuedRun, Run, RunStatus};
use crate::payload::{self, OverLimit};

impl SqliteStore {
    pub(super) async fn enqueue_run_impl(&self, queued: QueuedRun) -> Result<Enqueued, StateError> {
        if !queued.skip_if_active {
            return self.enqueue_one_statement(queued).await;
        }
        let operation = format!("queueing a run of flow `{}`", queued.flow_id);
        let trigger = payload::encode_opt(self.limits, queued.trigger, OverLimit::Truncate).await?;
        let inputs = payload::encode_opt(self.limits, queued.inputs, OverLimit::Truncate).await?;
        let id = uuid::Uuid::now_v7().to_string();
        let mut tx = self.begin_write(&operation).await?;
        if let Some(key) = &queued.dedupe_key {
            let existing: Option<String> =
                sqlx::query_scalar("SELECT id FROM runs WHERE flow_id = ? AND dedupe_key = ?")
                    .bind(&queued.flow_id)
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db(&operation))?;
            if let Some(existing) = existing {
                tx.commit().await.map_err(db(&operation))?;
                return self.existing(&existing, &operation).await.map(Enqueued::Duplicate);
            }
        }
        if queued.skip_if_active {
            let active: Option<String> = sqlx::query_scalar(
                "SELECT id FROM runs WHERE flow_id = ? AND status IN ('queued', 'running') \
                 ORDER BY created_at, id LIMIT 1",
            )
            .bind(&queued.flow_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db(&operation))?;
            if let Some(active_run_id) = active {
                tx.commit().await.map_err(db(&operation))?;
                return Ok(Enqueued::Skipped { active_run_id });
            }
        }
        sqlx::query(
            "INSERT INTO runs (id, flow_id, flow_version, trigger_json, inputs_json, status, \
             created_at, dedupe_key, enqueued) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, 1)",
        )
        .bind(&id)
        .bind(&queued.flow_id)
        .bind(&queued.flow_version)
        .bind(trigger)
        .bind(inputs)
        .bind(millis(now()))
        .bind(&queued.dedupe_key)
        .execute(&mut *tx)
        .await
        .map_err(db(&operation))?;
        tx.commit().await.map_err(db(&operation))?;
        self.queue_signal.notify_one();
        self.existing(&id, &operation).await.map(Enqueued::Created)
    }

    /// Without the overlap rule an enqueue is one insert, group-committed with the enqueues
    /// that arrive meanwhile (`enqueue.rs`): the row, or nothing when the dedupe key is taken
    /// (the unique index decides), then the run that holds the key is read.
    async fn enqueue_one_statement(&self, mut queued: QueuedRun) -> Result<Enqueued, StateError> {
        let operation = format!("queueing a run of flow `{}`", queued.flow_id);
        let (trigger, trigger_value) =
            payload::encode_opt_keep(self.limits, queued.trigger.take(), OverLimit::Truncate).await?;
        let (inputs, inputs_value) =
            payload::encode_opt_keep(self.limits, queued.inputs.take(), OverLimit::Truncate).await?;
        let id = uuid::Uuid::now_v7().to_string();
        let created_at = millis(now());
        let row = super::enqueue::QueuedRow {
            id: id.clone(),
            flow_id: queued.flow_id.clone(),
            flow_version: queued.flow_version.clone(),
            trigger,
            inputs,
            created_at,
            dedupe_key: queued.dedupe_key.clone(),
        };
        let inserted = self.enqueues.insert(&self.writer, row).await?;
        if !inserted {
            let key = queued.dedupe_key.as_deref().unwrap_or_default();
            let existing: String = sqlx::query_scalar("SELECT id FROM runs WHERE flow_id = ? AND dedupe_key = ?")
                .bind(&queued.flow_id)
                .bind(key)
                .fetch_one(&self.writer)
                .await
                .map_err(db(&operation))?;
            return self.existing(&existing, &operation).await.map(Enqueued::Duplicate);
        }
        self.queue_signal.notify_one();
        Ok(Enqueued::Created(queued.into_run(
            id,
            trigger_value,
            inputs_value,
            super::bind::timestamp("run created_at", created_at)?,
        )))
    }

    /// A run that must exist (read on the writer: it was just written).
    async fn existing(&self, run_id: &str, operation: &str) -> Result<Run, StateError> {
        let rows = sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?"))
            .bind(run_id)
            .fetch_all(&self.writer)
            .await
            .map_err(db(operation))?;
        self.decode_runs(rows, operation)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| StateError::RunNotFound {
                run_id: run_id.to_owned(),
            })
    }

    pub(super) async fn claim_run_impl(&self, claim: Claim) -> Result<Option<Run>, StateError> {
        let operation = "claiming a queued run";
        let now = now();
        let expires = super::bind::lease_expiry(now, claim.lease);
        let flows = match &claim.flow_ids {
            Some(flows) if flows.is_empty() => return Ok(None),
            // A JSON array, read by `json_each`: any number of flows in one parameter.
            Some(flows) => Some(serde_json::to_string(flows).map_err(|error| StateError::corrupt("flow ids", error))?),
            None => None,
        };
        let filter = if flows.is_some() {
            " AND flow_id IN (SELECT value FROM json_each(?))"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE runs SET status = 'running', lease_owner = ?, lease_expires_at = ?, \
             started_at = COALESCE(started_at, ?), available_at = NULL \
             WHERE id = (SELECT id FROM runs WHERE status = 'queued' \
             AND (available_at IS NULL OR available_at <= ?){filter} \
             ORDER BY created_at, id LIMIT 1) RETURNING {RUN_COLUMNS}"
        );
        let mut query = sqlx::query(&sql)
            .bind(&claim.lease_owner)
            .bind(expires)
            .bind(millis(now))
            .bind(millis(now));
        if let Some(flows) = flows {
            query = query.bind(flows);
        }
        let rows = query.fetch_all(&self.writer).await.map_err(db(operation))?;
        let claimed = self.decode_runs(rows, operation).await?.into_iter().next();
        if claimed.is_some() {
            // Pass the wake-up on: another idle worker looks for the next run (see wait_for_queued).
            self.queue_signal.notify_one();
        }
        Ok(claimed)
    }

    pub(super) async fn release_run_impl(
        &self,
        run_id: &str,
        lease_owner: &str,
        delay: Duration,
    ) -> Result<(), StateError> {
        let operation = format!("handing run {run_id} back to the queue");
        let now = now();
        let mut tx = self.begin_write(&operation).await?;
        let row = sqlx::query("SELECT status, lease_owner FROM runs WHERE id = ?")
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
        sqlx::query(
            "UPDATE runs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL, \
             available_at = ? WHERE id = ?",
        )
        .bind(super::bind::lease_expiry(now, delay))
        .bind(run_id)
        .execute(&mut *tx)
        .await
        .map_err(db(&operation))?;
        sqlx::query("DELETE FROM flow_locks WHERE run_id = ?")
            .bind(run_id)
            .execute(&mut *tx)
            .await
            .map_err(db(&operation))?;
        tx.commit().await.map_err(db(&operation))?;
        self.queue_signal.notify_one();
        Ok(())
    }

    pub(super) async fn requeue_expired_impl(&self) -> Result<Vec<Run>, StateError> {
        let operation = "queueing the runs of workers whose lease expired";
        let now = millis(now());
        let mut tx = self.begin_write(operation).await?;
        // The rows as they were (with the dead worker's name), then the update.
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE status = 'running' AND enqueued AND lease_expires_at <= ?"
        ))
        .bind(now)
        .fetch_all(&mut *tx)
        .await
        .map_err(db(operation))?;
        if rows.is_empty() {
            tx.commit().await.map_err(db(operation))?;
            return Ok(Vec::new());
        }
        sqlx::query(
            "DELETE FROM flow_locks WHERE run_id IN (SELECT id FROM runs \
             WHERE status = 'running' AND enqueued AND lease_expires_at <= ?)",
        )
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db(operation))?;
        sqlx::query(
            "UPDATE runs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL, available_at = NULL \
             WHERE status = 'running' AND enqueued AND lease_expires_at <= ?",
        )
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db(operation))?;
        tx.commit().await.map_err(db(operation))?;
        self.queue_signal.notify_one();
        self.decode_runs(rows, operation).await
    }

    pub(super) async fn queue_depth_impl(&self) -> Result<u64, StateError> {
        let depth: i64 = sqlx::query_scalar("SELECT count(*) FROM runs WHERE status = 'queued'")
            .fetch_one(&self.reader)
            .await
            .map_err(db("counting queued runs"))?;
        Ok(u64::try_from(depth).unwrap_or_default())
    }

    pub(super) async fn count_runs_impl(&self) -> Result<Vec<(RunStatus, u64)>, StateError> {
        let rows: Vec<(String, i64)> = sqlx::query_as("SELECT status, count(*) FROM runs GROUP BY status")
            .fetch_all(&self.reader)
            .await
            .map_err(db("counting runs by status"))?;
        crate::model::status_counts(rows)
    }

    pub(super) async fn wait_for_queued_impl(&self, timeout: Duration) {
        // One waiter is woken per signal (a signal with nobody waiting is kept for the next
        // wait): a burst does not wake every idle worker at once; each worker that claims a run
        // wakes the next one, so idle workers join one by one while there is work.
        let _ = tokio::time::timeout(timeout, self.queue_signal.notified()).await;
    }
}
