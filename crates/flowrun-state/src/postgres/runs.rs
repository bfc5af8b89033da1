//! Runs, their leases, flow locks and cursors.

use std::time::Duration;

use jiff::Timestamp;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, Row, Transaction};

use super::bind::{PgTime, lease_expiry_sql, lease_interval, payload_len, payload_ref, timestamp_opt};
use super::{PostgresStore, db, retrying};
use crate::error::StateError;
use crate::model::{Cursor, FinishRun, NewRun, ResumeRun, Run, RunFilter, RunStatus};
use crate::payload::{self, Encoded, OverLimit, PayloadLimits};

pub(super) const RUN_COLUMNS: &str = "id, flow_id, flow_version, trigger_json, inputs_json, status, \
     error_json, output_json, created_at, started_at, ended_at, lease_owner, lease_expires_at, \
     dedupe_key, enqueued";

/// How often `lock_flow_row` tries again when the lock row vanished between its insert and its
/// select (its holder ended meanwhile). Each retry means another transaction committed.
const LOCK_ROW_TRIES: u32 = 16;

/// A run row as read, payloads still encoded.
pub(super) struct RunRow {
    id: String,
    flow_id: String,
    flow_version: String,
    trigger: Option<Vec<u8>>,
    inputs: Option<Vec<u8>>,
    status: String,
    error: Option<Vec<u8>>,
    output: Option<Vec<u8>>,
    created_at: PgTime,
    started_at: Option<PgTime>,
    ended_at: Option<PgTime>,
    lease_owner: Option<String>,
    dedupe_key: Option<String>,
    enqueued: bool,
    lease_expires_at: Option<PgTime>,
}

impl RunRow {
    pub(super) fn read(row: &PgRow) -> Result<RunRow, sqlx::Error> {
        Ok(RunRow {
            id: row.try_get("id")?,
            flow_id: row.try_get("flow_id")?,
            flow_version: row.try_get("flow_version")?,
            trigger: row.try_get("trigger_json")?,
            inputs: row.try_get("inputs_json")?,
            status: row.try_get("status")?,
            error: row.try_get("error_json")?,
            output: row.try_get("output_json")?,
            created_at: row.try_get("created_at")?,
            started_at: row.try_get("started_at")?,
            ended_at: row.try_get("ended_at")?,
            lease_owner: row.try_get("lease_owner")?,
            lease_expires_at: row.try_get("lease_expires_at")?,
            dedupe_key: row.try_get("dedupe_key")?,
            enqueued: row.try_get("enqueued")?,
        })
    }

    fn payload_bytes(&self) -> usize {
        payload_len(&self.trigger) + payload_len(&self.inputs) + payload_len(&self.error) + payload_len(&self.output)
    }

    fn decode(self, limits: PayloadLimits) -> Result<Run, StateError> {
        let value =
            |what: &str, bytes: Option<Vec<u8>>| bytes.map(|bytes| payload::decode(what, &bytes, limits)).transpose();
        Ok(Run {
            trigger: value("run trigger", self.trigger)?,
            inputs: value("run inputs", self.inputs)?,
            status: self
                .status
                .parse()
                .map_err(|error| StateError::corrupt("run status", error))?,
            error: value("run error", self.error)?,
            output: value("run output", self.output)?,
            created_at: self.created_at.0,
            started_at: timestamp_opt(self.started_at),
            ended_at: timestamp_opt(self.ended_at),
            lease_expires_at: timestamp_opt(self.lease_expires_at),
            lease_owner: self.lease_owner,
            dedupe_key: self.dedupe_key,
            enqueued: self.enqueued,
            id: self.id,
            flow_id: self.flow_id,
            flow_version: self.flow_version,
        })
    }
}

/// A run to create, its payloads encoded once for every try of its transaction.
struct PreparedRun {
    id: String,
    new_run: NewRun,
    trigger: Option<Encoded>,
    inputs: Option<Encoded>,
}

/// A run's end, encoded once for every try of its transaction.
struct PreparedFinish {
    run_id: String,
    lease_owner: String,
    status: RunStatus,
    output: Option<Encoded>,
    error: Option<Encoded>,
    /// By step id, so two ends of one flow upsert cursor rows in one order.
    cursors: Vec<(String, Encoded)>,
}

impl PostgresStore {
    pub(super) async fn decode_runs(&self, rows: Vec<PgRow>, operation: &str) -> Result<Vec<Run>, StateError> {
        let rows = rows
            .iter()
            .map(RunRow::read)
            .collect::<Result<Vec<_>, _>>()
            .map_err(db(operation))?;
        let bytes = rows.iter().map(RunRow::payload_bytes).sum();
        payload::decode_rows(rows, bytes, RunRow::decode, self.limits).await
    }

    pub(super) async fn create_run_impl(&self, mut new_run: NewRun) -> Result<Run, StateError> {
        let id = new_run.id.clone().unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        let (trigger, trigger_value) =
            payload::encode_opt_keep(self.limits, new_run.trigger.take(), OverLimit::Truncate).await?;
        let (inputs, inputs_value) =
            payload::encode_opt_keep(self.limits, new_run.inputs.take(), OverLimit::Truncate).await?;
        let prepared = PreparedRun {
            id,
            new_run,
            trigger,
            inputs,
        };
        let (created_at, expires) = retrying(|| self.create_run_once(&prepared)).await?;
        let PreparedRun { id, new_run, .. } = prepared;
        Ok(Run {
            id,
            flow_id: new_run.flow_id,
            flow_version: new_run.flow_version,
            trigger: trigger_value,
            inputs: inputs_value,
            status: RunStatus::Running,
            error: None,
            output: None,
            created_at,
            started_at: Some(created_at),
            ended_at: None,
            lease_owner: Some(new_run.lease_owner),
            lease_expires_at: Some(expires),
            dedupe_key: None,
            enqueued: false,
        })
    }

    /// Inserts the run, then takes the flow lock: refused, the transaction rolls back and the
    /// run was never there. Returns the server's creation time and lease expiry.
    async fn create_run_once(&self, prepared: &PreparedRun) -> Result<(Timestamp, Timestamp), StateError> {
        let operation = format!("creating a run of flow `{}`", prepared.new_run.flow_id);
        let mut tx = self.begin(&operation).await?;
        let result = create_run_in(&mut tx, prepared, &operation).await;
        end(tx, result, &operation).await
    }

    pub(super) async fn resume_run_impl(&self, resume: ResumeRun) -> Result<Run, StateError> {
        let operation = format!("resuming run {}", resume.run_id);
        let row = retrying(|| self.resume_run_once(&resume, &operation)).await?;
        self.decode_runs(vec![row], &operation)
            .await?
            .into_iter()
            .next()
            .ok_or(StateError::RunNotFound { run_id: resume.run_id })
    }

    async fn resume_run_once(&self, resume: &ResumeRun, operation: &str) -> Result<PgRow, StateError> {
        let mut tx = self.begin(operation).await?;
        let result = resume_run_in(&mut tx, resume, operation).await;
        end(tx, result, operation).await
    }

    pub(super) async fn heartbeat_impl(
        &self,
        run_id: &str,
        lease_owner: &str,
        lease: Duration,
    ) -> Result<Timestamp, StateError> {
        let operation = format!("extending the lease of run {run_id}");
        // One statement: it waits for a transaction holding the run (a takeover), then
        // re-checks the owner and status on what that transaction committed.
        let expires: Option<PgTime> = sqlx::query_scalar(&format!(
            "UPDATE runs SET lease_expires_at = {} \
             WHERE id = $1 AND status = 'running' AND lease_owner = $2 RETURNING lease_expires_at",
            lease_expiry_sql(3)
        ))
        .bind(run_id)
        .bind(lease_owner)
        .bind(lease_interval(lease))
        .fetch_optional(&self.pool)
        .await
        .map_err(db(&operation))?;
        match expires {
            Some(expires) => Ok(expires.0),
            None => Err(self.not_owned(run_id, lease_owner, &operation).await),
        }
    }

    /// Why a run is not running under this owner.
    async fn not_owned(&self, run_id: &str, lease_owner: &str, operation: &str) -> StateError {
        let row = sqlx::query("SELECT status, lease_owner FROM runs WHERE id = $1")
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await;
        match row {
            Err(error) => db(operation)(error),
            Ok(None) => StateError::RunNotFound {
                run_id: run_id.to_owned(),
            },
            Ok(Some(row)) => ownership_error(&row, run_id, lease_owner, operation)
                .unwrap_or_else(|| StateError::corrupt("run lease", "owned but not updated")),
        }
    }

    pub(super) async fn mark_abandoned_impl(&self) -> Result<Vec<Run>, StateError> {
        let operation = "marking runs with expired leases abandoned";
        let rows = retrying(|| self.mark_abandoned_once(operation)).await?;
        let mut runs = self.decode_runs(rows, operation).await?;
        runs.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(runs)
    }

    async fn mark_abandoned_once(&self, operation: &str) -> Result<Vec<PgRow>, StateError> {
        let mut tx = self.begin(operation).await?;
        let result = mark_abandoned_in(&mut tx, operation).await;
        end(tx, result, operation).await
    }

    pub(super) async fn finish_run_impl(&self, finish: FinishRun) -> Result<(), StateError> {
        if !finish.status.is_final() {
            return Err(StateError::NotFinal { status: finish.status });
        }
        let operation = format!("ending run {} as {}", finish.run_id, finish.status);
        let output = payload::encode_opt(self.limits, finish.output, OverLimit::Truncate).await?;
        let error = payload::encode_opt(self.limits, finish.error, OverLimit::Truncate).await?;
        let mut cursors = Vec::new();
        if finish.status.commits_cursors() {
            for cursor in finish.cursors {
                let value = payload::encode(self.limits, cursor.value, OverLimit::Refuse("a cursor")).await?;
                cursors.push((cursor.step_id, value));
            }
        }
        // Stable: of two updates of one step, the later still wins.
        cursors.sort_by(|a, b| a.0.cmp(&b.0));
        let prepared = PreparedFinish {
            run_id: finish.run_id,
            lease_owner: finish.lease_owner,
            status: finish.status,
            output,
            error,
            cursors,
        };
        retrying(|| self.finish_run_once(&prepared, &operation)).await
    }

    async fn finish_run_once(&self, finish: &PreparedFinish, operation: &str) -> Result<(), StateError> {
        let mut tx = self.begin(operation).await?;
        let result = finish_run_in(&mut tx, finish, operation).await;
        end(tx, result, operation).await
    }

    pub(super) async fn run_impl(&self, run_id: &str) -> Result<Option<Run>, StateError> {
        let operation = format!("reading run {run_id}");
        let rows = sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"))
            .bind(run_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db(&operation))?;
        Ok(self.decode_runs(rows, &operation).await?.into_iter().next())
    }

    pub(super) async fn list_runs_impl(&self, filter: &RunFilter) -> Result<Vec<Run>, StateError> {
        let operation = "listing runs";
        let mut builder = sqlx::QueryBuilder::<Postgres>::new(format!("SELECT {RUN_COLUMNS} FROM runs WHERE true"));
        if let Some(flow_id) = &filter.flow_id {
            builder.push(" AND flow_id = ").push_bind(flow_id);
        }
        if let Some(status) = filter.status {
            builder.push(" AND status = ").push_bind(status.as_str());
        }
        builder
            .push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(i64::from(filter.limit));
        let rows = builder.build().fetch_all(&self.pool).await.map_err(db(operation))?;
        self.decode_runs(rows, operation).await
    }

    pub(super) async fn cursors_impl(&self, flow_id: &str, step_id: Option<&str>) -> Result<Vec<Cursor>, StateError> {
        let operation = format!("reading the cursors of flow `{flow_id}`");
        let rows = sqlx::query(
            "SELECT flow_id, step_id, value_json, run_id, committed_at FROM cursors \
             WHERE flow_id = $1 AND ($2::text IS NULL OR step_id = $2) ORDER BY step_id",
        )
        .bind(flow_id)
        .bind(step_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db(&operation))?;
        rows.iter()
            .map(|row| {
                let value: Vec<u8> = row.try_get("value_json").map_err(db(&operation))?;
                let committed_at: PgTime = row.try_get("committed_at").map_err(db(&operation))?;
                Ok(Cursor {
                    flow_id: row.try_get("flow_id").map_err(db(&operation))?,
                    step_id: row.try_get("step_id").map_err(db(&operation))?,
                    value: payload::decode("cursor", &value, self.limits)?,
                    run_id: row.try_get("run_id").map_err(db(&operation))?,
                    committed_at: committed_at.0,
                })
            })
            .collect()
    }

    pub(super) async fn acquire_flow_lock_impl(&self, flow_id: &str, run_id: &str) -> Result<(), StateError> {
        let operation = format!("locking flow `{flow_id}` for run {run_id}");
        retrying(|| self.acquire_flow_lock_once(flow_id, run_id, &operation)).await
    }

    async fn acquire_flow_lock_once(&self, flow_id: &str, run_id: &str, operation: &str) -> Result<(), StateError> {
        let mut tx = self.begin(operation).await?;
        let result = acquire_flow_lock_in(&mut tx, flow_id, run_id, operation).await;
        end(tx, result, operation).await
    }

    pub(super) async fn release_flow_lock_impl(&self, flow_id: &str, run_id: &str) -> Result<bool, StateError> {
        let operation = format!("unlocking flow `{flow_id}` for run {run_id}");
        let deleted = sqlx::query("DELETE FROM flow_locks WHERE flow_id = $1 AND run_id = $2")
            .bind(flow_id)
            .bind(run_id)
            .execute(&self.pool)
            .await
            .map_err(db(&operation))?;
        Ok(deleted.rows_affected() > 0)
    }

    pub(super) async fn flow_lock_holder_impl(&self, flow_id: &str) -> Result<Option<String>, StateError> {
        let operation = format!("reading the lock of flow `{flow_id}`");
        sqlx::query_scalar(
            "SELECT l.run_id FROM flow_locks l JOIN runs r ON r.id = l.run_id \
             WHERE l.flow_id = $1 AND r.status = 'running' AND r.lease_expires_at > now()",
        )
        .bind(flow_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db(&operation))
    }

    /// A READ COMMITTED transaction (see "Concurrency" in mod.rs).
    pub(super) async fn begin(&self, operation: &str) -> Result<Transaction<'static, Postgres>, StateError> {
        self.pool
            .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await
            .map_err(db(operation))
    }
}

/// The error for a run row (`status`, `lease_owner`) that `lease_owner` may not write to.
pub(super) fn ownership_error(row: &PgRow, run_id: &str, lease_owner: &str, operation: &str) -> Option<StateError> {
    let status: String = match row.try_get("status") {
        Ok(status) => status,
        Err(error) => return Some(db(operation)(error)),
    };
    let holder: Option<String> = match row.try_get("lease_owner") {
        Ok(holder) => holder,
        Err(error) => return Some(db(operation)(error)),
    };
    match status.parse::<RunStatus>() {
        Err(error) => Some(StateError::corrupt("run status", error)),
        Ok(RunStatus::Running) if holder.as_deref() == Some(lease_owner) => None,
        Ok(RunStatus::Running) => Some(StateError::LeaseLost {
            run_id: run_id.to_owned(),
            owner: lease_owner.to_owned(),
            holder: holder.unwrap_or_default(),
        }),
        Ok(status) => Some(StateError::RunNotRunning {
            run_id: run_id.to_owned(),
            status,
        }),
    }
}

/// Fails unless the run exists and is `running`; `lock` holds its row until the transaction
/// ends.
async fn check_running(tx: &mut PgConnection, run_id: &str, lock: bool, operation: &str) -> Result<(), StateError> {
    let sql = if lock {
        "SELECT status FROM runs WHERE id = $1 FOR NO KEY UPDATE"
    } else {
        "SELECT status FROM runs WHERE id = $1"
    };
    let status: Option<String> = sqlx::query_scalar(sql)
        .bind(run_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db(operation))?;
    match status.as_deref().map(str::parse::<RunStatus>) {
        None => Err(StateError::RunNotFound {
            run_id: run_id.to_owned(),
        }),
        Some(Ok(RunStatus::Running)) => Ok(()),
        Some(Ok(status)) => Err(StateError::RunNotRunning {
            run_id: run_id.to_owned(),
            status,
        }),
        Some(Err(error)) => Err(StateError::corrupt("run status", error)),
    }
}

/// The flow's lock row, held by this transaction.
enum LockRow {
    /// There was none: this transaction inserted it for the run.
    Inserted,
    /// There was one, now locked; the run it names.
    Held(String),
}

/// Locks the flow's lock row, inserting it for `run_id` when there is none. A concurrent
/// inserter waits on the key until this transaction ends; a concurrent taker waits on the row.
async fn lock_flow_row(
    tx: &mut PgConnection,
    flow_id: &str,
    run_id: &str,
    operation: &str,
) -> Result<LockRow, StateError> {
    for _ in 0..LOCK_ROW_TRIES {
        let inserted: Option<String> = sqlx::query_scalar(
            "INSERT INTO flow_locks (flow_id, run_id, acquired_at) VALUES ($1, $2, now()) \
             ON CONFLICT (flow_id) DO NOTHING RETURNING run_id",
        )
        .bind(flow_id)
        .bind(run_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db(operation))?;
        if inserted.is_some() {
            return Ok(LockRow::Inserted);
        }
        let holder: Option<String> = sqlx::query_scalar("SELECT run_id FROM flow_locks WHERE flow_id = $1 FOR UPDATE")
            .bind(flow_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db(operation))?;
        if let Some(holder) = holder {
            return Ok(LockRow::Held(holder));
        }
        // Deleted between the two statements (its run ended): insert again.
    }
    Err(StateError::backend_message(
        operation,
        format!("the lock of flow `{flow_id}` changed hands {LOCK_ROW_TRIES} times while being taken"),
    ))
}

/// Gives the locked row to the run unless another run holds it under a live lease. A holder
/// whose lease expired is marked `abandoned` (only an expired lease makes a run abandoned);
/// its row is locked first, so a heartbeat racing the takeover either lands before (and the
/// lease is live) or finds the run abandoned.
async fn claim_flow_lock(
    tx: &mut PgConnection,
    flow_id: &str,
    run_id: &str,
    lock: LockRow,
    operation: &str,
) -> Result<(), StateError> {
    let holder = match lock {
        LockRow::Inserted => return Ok(()),
        LockRow::Held(holder) if holder == run_id => return Ok(()),
        LockRow::Held(holder) => holder,
    };
    let row = sqlx::query(
        "SELECT status, COALESCE(lease_expires_at > now(), false) AS live \
         FROM runs WHERE id = $1 FOR NO KEY UPDATE",
    )
    .bind(&holder)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db(operation))?;
    if let Some(row) = row {
        let status: String = row.try_get("status").map_err(db(operation))?;
        let live: bool = row.try_get("live").map_err(db(operation))?;
        if status == RunStatus::Running.as_str() {
            if live {
                return Err(StateError::FlowLocked {
                    flow_id: flow_id.to_owned(),
                    holder_run_id: holder,
                });
            }
            // A queued run's holder goes back to the queue (a worker takes it over).
            sqlx::query(
                "UPDATE runs SET status = CASE WHEN enqueued THEN 'queued' ELSE 'abandoned' END, \
                 ended_at = CASE WHEN enqueued THEN NULL ELSE now() END, \
                 lease_owner = CASE WHEN enqueued THEN NULL ELSE lease_owner END, \
                 lease_expires_at = CASE WHEN enqueued THEN NULL ELSE lease_expires_at END \
                 WHERE id = $1",
            )
            .bind(&holder)
            .execute(&mut *tx)
            .await
            .map_err(db(operation))?;
        }
    }
    sqlx::query("UPDATE flow_locks SET run_id = $2, acquired_at = now() WHERE flow_id = $1")
        .bind(flow_id)
        .bind(run_id)
        .execute(&mut *tx)
        .await
        .map_err(db(operation))?;
    Ok(())
}

/// `create_run` inside its transaction: the run first, then its flow lock.
async fn create_run_in(
    tx: &mut PgConnection,
    prepared: &PreparedRun,
    operation: &str,
) -> Result<(Timestamp, Timestamp), StateError> {
    let new_run = &prepared.new_run;
    let row = sqlx::query(&format!(
        "INSERT INTO runs (id, flow_id, flow_version, trigger_json, inputs_json, status, \
         created_at, started_at, lease_owner, lease_expires_at) \
         VALUES ($1, $2, $3, $4, $5, 'running', now(), now(), $6, {}) \
         RETURNING created_at, lease_expires_at",
        lease_expiry_sql(7)
    ))
    .bind(&prepared.id)
    .bind(&new_run.flow_id)
    .bind(&new_run.flow_version)
    .bind(payload_ref(prepared.trigger.as_ref()))
    .bind(payload_ref(prepared.inputs.as_ref()))
    .bind(&new_run.lease_owner)
    .bind(lease_interval(new_run.lease))
    .fetch_one(&mut *tx)
    .await
    .map_err(db(operation))?;
    let created_at: PgTime = row.try_get("created_at").map_err(db(operation))?;
    let expires: PgTime = row.try_get("lease_expires_at").map_err(db(operation))?;
    if new_run.lock_flow {
        let lock = lock_flow_row(&mut *tx, &new_run.flow_id, &prepared.id, operation).await?;
        claim_flow_lock(&mut *tx, &new_run.flow_id, &prepared.id, lock, operation).await?;
    }
    Ok((created_at.0, expires.0))
}

/// `resume_run` inside its transaction: the flow lock's row, then the run's (lock order).
async fn resume_run_in(tx: &mut PgConnection, resume: &ResumeRun, operation: &str) -> Result<PgRow, StateError> {
    let not_found = || StateError::RunNotFound {
        run_id: resume.run_id.clone(),
    };
    // The flow lock's row first (lock order, mod.rs): its flow is read unlocked, as a
    // run's flow never changes.
    let mut lock = None;
    if resume.lock_flow {
        let flow_id: Option<String> = sqlx::query_scalar("SELECT flow_id FROM runs WHERE id = $1")
            .bind(&resume.run_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db(operation))?;
        let flow_id = flow_id.ok_or_else(not_found)?;
        let row = lock_flow_row(&mut *tx, &flow_id, &resume.run_id, operation).await?;
        lock = Some((flow_id, row));
    }
    let row = sqlx::query(
        "SELECT status, COALESCE(lease_expires_at > now(), false) AS live \
         FROM runs WHERE id = $1 FOR NO KEY UPDATE",
    )
    .bind(&resume.run_id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db(operation))?
    .ok_or_else(not_found)?;
    let status: String = row.try_get("status").map_err(db(operation))?;
    let live: bool = row.try_get("live").map_err(db(operation))?;
    if status == RunStatus::Running.as_str() && live {
        return Err(StateError::RunBusy {
            run_id: resume.run_id.clone(),
        });
    }
    if let Some((flow_id, row)) = lock {
        claim_flow_lock(&mut *tx, &flow_id, &resume.run_id, row, operation).await?;
    }
    let row = sqlx::query(&format!(
        "UPDATE runs SET status = 'running', ended_at = NULL, \
         started_at = COALESCE(started_at, now()), lease_owner = $2, lease_expires_at = {} \
         WHERE id = $1 RETURNING {RUN_COLUMNS}",
        lease_expiry_sql(3)
    ))
    .bind(&resume.run_id)
    .bind(&resume.lease_owner)
    .bind(lease_interval(resume.lease))
    .fetch_one(&mut *tx)
    .await
    .map_err(db(operation))?;
    Ok(row)
}

/// `mark_abandoned` inside its transaction.
async fn mark_abandoned_in(tx: &mut PgConnection, operation: &str) -> Result<Vec<PgRow>, StateError> {
    // The locks of dead holders first, in flow order (lock order, mod.rs).
    let flows: Vec<String> = sqlx::query_scalar(
        "SELECT l.flow_id FROM flow_locks l JOIN runs r ON r.id = l.run_id \
         WHERE r.status = 'running' AND NOT r.enqueued AND r.lease_expires_at <= now() \
         ORDER BY l.flow_id FOR UPDATE OF l",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db(operation))?;
    // A concurrent sweep that took a run first makes this one skip it: the UPDATE
    // re-checks `status` on the committed row.
    let rows = sqlx::query(&format!(
        "UPDATE runs SET status = 'abandoned', ended_at = now() \
         WHERE status = 'running' AND NOT enqueued AND lease_expires_at <= now() RETURNING {RUN_COLUMNS}"
    ))
    .fetch_all(&mut *tx)
    .await
    .map_err(db(operation))?;
    // Only the locks held here; a lock whose run died after the first statement stays as
    // a row that no longer counts (its run is not running) until the next taker replaces it.
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
    Ok(rows)
}

/// `finish_run` inside its transaction: status, output, cursors and the lock's release.
async fn finish_run_in(tx: &mut PgConnection, finish: &PreparedFinish, operation: &str) -> Result<(), StateError> {
    // The lock first (lock order, mod.rs); a refusal below rolls its release back.
    sqlx::query("DELETE FROM flow_locks WHERE run_id = $1")
        .bind(&finish.run_id)
        .execute(&mut *tx)
        .await
        .map_err(db(operation))?;
    let row = sqlx::query("SELECT flow_id, status, lease_owner FROM runs WHERE id = $1 FOR NO KEY UPDATE")
        .bind(&finish.run_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db(operation))?;
    let Some(row) = row else {
        return Err(StateError::RunNotFound {
            run_id: finish.run_id.clone(),
        });
    };
    if let Some(error) = ownership_error(&row, &finish.run_id, &finish.lease_owner, operation) {
        return Err(error);
    }
    let flow_id: String = row.try_get("flow_id").map_err(db(operation))?;
    sqlx::query(
        "UPDATE runs SET status = $2, output_json = $3, error_json = $4, ended_at = now(), \
         lease_expires_at = NULL WHERE id = $1",
    )
    .bind(&finish.run_id)
    .bind(finish.status.as_str())
    .bind(payload_ref(finish.output.as_ref()))
    .bind(payload_ref(finish.error.as_ref()))
    .execute(&mut *tx)
    .await
    .map_err(db(operation))?;
    for (step_id, value) in &finish.cursors {
        sqlx::query(
            "INSERT INTO cursors (flow_id, step_id, value_json, run_id, committed_at) \
             VALUES ($1, $2, $3, $4, now()) \
             ON CONFLICT (flow_id, step_id) DO UPDATE SET value_json = excluded.value_json, \
             run_id = excluded.run_id, committed_at = excluded.committed_at",
        )
        .bind(&flow_id)
        .bind(step_id)
        .bind(payload_ref(Some(value)))
        .bind(&finish.run_id)
        .execute(&mut *tx)
        .await
        .map_err(db(operation))?;
    }
    Ok(())
}

/// `acquire_flow_lock` inside its transaction.
async fn acquire_flow_lock_in(
    tx: &mut PgConnection,
    flow_id: &str,
    run_id: &str,
    operation: &str,
) -> Result<(), StateError> {
    // Checked before the lock row is written (which references the run), and again on
    // the locked run row below: it may have ended in between.
    check_running(&mut *tx, run_id, false, operation).await?;
    let lock = lock_flow_row(&mut *tx, flow_id, run_id, operation).await?;
    check_running(&mut *tx, run_id, true, operation).await?;
    claim_flow_lock(&mut *tx, flow_id, run_id, lock, operation).await?;
    Ok(())
}

/// Commits on success; on failure rolls back at once. (A dropped transaction would only queue
/// its rollback for the connection's next use, holding its row locks until then.)
pub(super) async fn end<T>(
    tx: Transaction<'static, Postgres>,
    result: Result<T, StateError>,
    operation: &str,
) -> Result<T, StateError> {
    match result {
        Ok(value) => {
            tx.commit().await.map_err(db(operation))?;
            Ok(value)
        }
        Err(error) => {
            // A failed rollback leaves the connection broken; sqlx then closes it.
            let _ = tx.rollback().await;
            Err(error)
        }
    }
}
