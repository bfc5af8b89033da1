//! The run queue of `flowrun serve` on Postgres, shared by every worker process.
//!
//! - A claim is one statement: `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1)`.
//!   Two claimers never lock the same row, and neither waits for the other: each skips the rows
//!   the other holds.
//! - Deduplication is the unique index on `(flow_id, dedupe_key)`: `INSERT … ON CONFLICT DO
//!   NOTHING`, then the row that won is read back.
//! - The overlap rule (`skip_if_active`) looks for an active run and inserts under a
//!   transaction-scoped advisory lock of the flow, so two processes enqueueing ticks of one flow
//!   at once cannot both see "no active run" and both insert.
//! - Wake-ups of idle workers, in this process and in others: `wake.rs`.

use std::time::Duration;

use sqlx::Row;
use sqlx::postgres::PgRow;

use super::bind::{PgTime, lease_expiry_sql, lease_interval, payload_ref};
use super::runs::{RUN_COLUMNS, end, ownership_error};
use super::wake::CHANNEL;
use super::{PostgresStore, db, retrying};
use crate::error::StateError;
use crate::model::{Claim, Enqueued, QueuedRun, Run, RunStatus};
use crate::payload::{self, OverLimit};

/// The first key of the advisory locks that serialize `skip_if_active` enqueues per flow (the
/// second is a hash of the flow id). Two-key advisory locks do not share their key space with
/// the one-key locks sqlx takes while migrating.
const OVERLAP_LOCK_CLASS: i32 = 0x666c_6f77; // "flow"

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
                // Held until commit: the overlap rule's check and insert are one step for every
                // process (module docs).
                sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
                    .bind(OVERLAP_LOCK_CLASS)
                    .bind(&queued.flow_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db(&operation))?;
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
            Outcome::Created(row) => {
                // Other processes were notified at the commit (`notify`).
                self.queue_signal.wake_local();
                Ok(Enqueued::Created(self.one(row, &operation).await?))
            }
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
        self.queue_signal.after_enqueue(&self.pool);
        Ok(Enqueued::Created(queued.into_run(
            id,
            trigger_value,
            inputs_value,
            created_at.0,
        )))
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
                self.queue_signal.wake_local();
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
        .await?;
        // Other processes were notified at the commit.
        self.queue_signal.wake_local();
        Ok(())
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
        if !rows.is_empty() {
            self.queue_signal.wake_local();
        }
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
        self.queue_signal.wait(&self.pool, timeout).await;
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
