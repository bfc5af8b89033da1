//! Runs, their leases, flow locks and cursors.

use std::time::Duration;

use jiff::Timestamp;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

use super::bind::{lease_expiry, millis, payload_len, timestamp, timestamp_opt};
use super::{SqliteStore, db, now};
use crate::error::StateError;
use crate::model::{Cursor, FinishRun, NewRun, ResumeRun, Run, RunFilter, RunStatus};
use crate::payload::{self, OverLimit, PayloadLimits};

pub(super) const RUN_COLUMNS: &str = "id, flow_id, flow_version, trigger_json, inputs_json, status, \
     error_json, output_json, created_at, started_at, ended_at, lease_owner, lease_expires_at, \
     dedupe_key, enqueued";

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
    created_at: i64,
    started_at: Option<i64>,
    ended_at: Option<i64>,
    lease_owner: Option<String>,
    dedupe_key: Option<String>,
    enqueued: bool,
    lease_expires_at: Option<i64>,
}

impl RunRow {
    pub(super) fn read(row: &SqliteRow) -> Result<RunRow, sqlx::Error> {
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
            created_at: timestamp("run created_at", self.created_at)?,
            started_at: timestamp_opt("run started_at", self.started_at)?,
            ended_at: timestamp_opt("run ended_at", self.ended_at)?,
            lease_expires_at: timestamp_opt("run lease", self.lease_expires_at)?,
            lease_owner: self.lease_owner,
            dedupe_key: self.dedupe_key,
            enqueued: self.enqueued,
            id: self.id,
            flow_id: self.flow_id,
            flow_version: self.flow_version,
        })
    }
}

impl SqliteStore {
    pub(super) async fn decode_runs(&self, rows: Vec<SqliteRow>, operation: &str) -> Result<Vec<Run>, StateError> {
        let rows = rows
            .iter()
            .map(RunRow::read)
            .collect::<Result<Vec<_>, _>>()
            .map_err(db(operation))?;
        let bytes = rows.iter().map(RunRow::payload_bytes).sum();
        payload::decode_rows(rows, bytes, RunRow::decode, self.limits).await
    }

    pub(super) async fn create_run_impl(&self, new_run: NewRun) -> Result<Run, StateError> {
        let id = new_run.id.clone().unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        let (trigger, trigger_value) =
            payload::encode_opt_keep(self.limits, new_run.trigger, OverLimit::Truncate).await?;
        let (inputs, inputs_value) = payload::encode_opt_keep(self.limits, new_run.inputs, OverLimit::Truncate).await?;
        let now = now();
        let expires = lease_expiry(now, new_run.lease);
        let operation = format!("creating a run of flow `{}`", new_run.flow_id);

        let mut tx = self.begin_write(&operation).await?;
        if new_run.lock_flow {
            check_flow_lock(&mut tx, &new_run.flow_id, &id, now, &operation).await?;
        }
        sqlx::query(
            "INSERT INTO runs (id, flow_id, flow_version, trigger_json, inputs_json, status, \
             created_at, started_at, lease_owner, lease_expires_at) \
             VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(&new_run.flow_id)
        .bind(&new_run.flow_version)
        .bind(trigger)
        .bind(inputs)
        .bind(millis(now))
        .bind(millis(now))
        .bind(&new_run.lease_owner)
        .bind(expires)
        .execute(&mut *tx)
        .await
        .map_err(db(&operation))?;
        if new_run.lock_flow {
            take_flow_lock(&mut tx, &new_run.flow_id, &id, now, &operation).await?;
        }
        tx.commit().await.map_err(db(&operation))?;

        Ok(Run {
            id,
            flow_id: new_run.flow_id,
            flow_version: new_run.flow_version,
            trigger: trigger_value,
            inputs: inputs_value,
            status: RunStatus::Running,
            error: None,
            output: None,
            created_at: timestamp("run created_at", millis(now))?,
            started_at: Some(timestamp("run started_at", millis(now))?),
            ended_at: None,
            lease_owner: Some(new_run.lease_owner),
            lease_expires_at: Some(timestamp("run lease", expires)?),
            dedupe_key: None,
            enqueued: false,
        })
    }

    pub(super) async fn resume_run_impl(&self, resume: ResumeRun) -> Result<Run, StateError> {
        let operation = format!("resuming run {}", resume.run_id);
        let now = now();
        let mut tx = self.begin_write(&operation).await?;
        let row = sqlx::query("SELECT flow_id, status, lease_expires_at FROM runs WHERE id = ?")
            .bind(&resume.run_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db(&operation))?;
        let Some(row) = row else {
            return Err(StateError::RunNotFound { run_id: resume.run_id });
        };
        let flow_id: String = row.try_get("flow_id").map_err(db(&operation))?;
        let status: String = row.try_get("status").map_err(db(&operation))?;
        let lease_expires_at: Option<i64> = row.try_get("lease_expires_at").map_err(db(&operation))?;
        if status == RunStatus::Running.as_str() && lease_expires_at.is_some_and(|expires| expires > millis(now)) {
            return Err(StateError::RunBusy { run_id: resume.run_id });
        }
        if resume.lock_flow {
            check_flow_lock(&mut tx, &flow_id, &resume.run_id, now, &operation).await?;
        }
        sqlx::query(
            "UPDATE runs SET status = 'running', ended_at = NULL, \
             started_at = COALESCE(started_at, ?), lease_owner = ?, lease_expires_at = ? \
             WHERE id = ?",
        )
        .bind(millis(now))
        .bind(&resume.lease_owner)
        .bind(lease_expiry(now, resume.lease))
        .bind(&resume.run_id)
        .execute(&mut *tx)
        .await
        .map_err(db(&operation))?;
        if resume.lock_flow {
            take_flow_lock(&mut tx, &flow_id, &resume.run_id, now, &operation).await?;
        }
        tx.commit().await.map_err(db(&operation))?;
        self.run_impl(&resume.run_id)
            .await?
            .ok_or(StateError::RunNotFound { run_id: resume.run_id })
    }

    pub(super) async fn heartbeat_impl(
        &self,
        run_id: &str,
        lease_owner: &str,
        lease: Duration,
    ) -> Result<Timestamp, StateError> {
        let operation = format!("extending the lease of run {run_id}");
        let expires = lease_expiry(now(), lease);
        let updated = sqlx::query(
            "UPDATE runs SET lease_expires_at = ? \
             WHERE id = ? AND status = 'running' AND lease_owner = ?",
        )
        .bind(expires)
        .bind(run_id)
        .bind(lease_owner)
        .execute(&self.writer)
        .await
        .map_err(db(&operation))?;
        if updated.rows_affected() == 0 {
            return Err(self.not_owned(run_id, lease_owner, &operation).await);
        }
        timestamp("run lease", expires)
    }

    /// Why a run is not running under this owner.
    async fn not_owned(&self, run_id: &str, lease_owner: &str, operation: &str) -> StateError {
        let row = sqlx::query("SELECT status, lease_owner FROM runs WHERE id = ?")
            .bind(run_id)
            .fetch_optional(&self.writer)
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
        let now = millis(now());
        // Mostly there is nothing to mark: a read says so without a write transaction, which
        // would be a short run's first write (and, on a new file, the WAL's creation).
        // On the writer's connection, so a `flowrun run` opens no reader for it.
        let anything = sqlx::query_scalar::<_, bool>(&format!(
            "SELECT EXISTS (SELECT 1 FROM runs WHERE {ABANDONED}) \
             OR EXISTS (SELECT 1 FROM flow_locks WHERE {DEAD_LOCK})"
        ))
        .bind(now)
        .fetch_one(&self.writer)
        .await
        .map_err(db(operation))?;
        if !anything {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write(operation).await?;
        let rows = sqlx::query(&format!(
            "UPDATE runs SET status = 'abandoned', ended_at = ? WHERE {ABANDONED} RETURNING {RUN_COLUMNS}"
        ))
        .bind(now)
        .bind(now)
        .fetch_all(&mut *tx)
        .await
        .map_err(db(operation))?;
        release_dead_locks(&mut tx, operation).await?;
        tx.commit().await.map_err(db(operation))?;
        let mut runs = self.decode_runs(rows, operation).await?;
        runs.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(runs)
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
        let now = millis(now());

        let mut tx = self.begin_write(&operation).await?;
        let row = sqlx::query("SELECT flow_id, status, lease_owner FROM runs WHERE id = ?")
            .bind(&finish.run_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db(&operation))?;
        let Some(row) = row else {
            return Err(StateError::RunNotFound { run_id: finish.run_id });
        };
        if let Some(error) = ownership_error(&row, &finish.run_id, &finish.lease_owner, &operation) {
            return Err(error);
        }
        let flow_id: String = row.try_get("flow_id").map_err(db(&operation))?;
        sqlx::query(
            "UPDATE runs SET status = ?, output_json = ?, error_json = ?, ended_at = ?, \
             lease_expires_at = NULL WHERE id = ?",
        )
        .bind(finish.status.as_str())
        .bind(output)
        .bind(error)
        .bind(now)
        .bind(&finish.run_id)
        .execute(&mut *tx)
        .await
        .map_err(db(&operation))?;
        for (step_id, value) in cursors {
            sqlx::query(
                "INSERT INTO cursors (flow_id, step_id, value_json, run_id, committed_at) \
                 VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (flow_id, step_id) DO UPDATE SET value_json = excluded.value_json, \
                 run_id = excluded.run_id, committed_at = excluded.committed_at",
            )
            .bind(&flow_id)
            .bind(&step_id)
            .bind(value)
            .bind(&finish.run_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db(&operation))?;
        }
        sqlx::query("DELETE FROM flow_locks WHERE run_id = ?")
            .bind(&finish.run_id)
            .execute(&mut *tx)
            .await
            .map_err(db(&operation))?;
        tx.commit().await.map_err(db(&operation))
    }

    pub(super) async fn run_impl(&self, run_id: &str) -> Result<Option<Run>, StateError> {
        let operation = format!("reading run {run_id}");
        let rows = sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?"))
            .bind(run_id)
            .fetch_all(&self.reader)
            .await
            .map_err(db(&operation))?;
        Ok(self.decode_runs(rows, &operation).await?.into_iter().next())
    }

    pub(super) async fn list_runs_impl(&self, filter: &RunFilter) -> Result<Vec<Run>, StateError> {
        let operation = "listing runs";
        let mut sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE 1 = 1");
        if filter.flow_id.is_some() {
            sql.push_str(" AND flow_id = ?");
        }
        if filter.status.is_some() {
            sql.push_str(" AND status = ?");
        }
        sql.push_str(" ORDER BY created_at DESC, id DESC LIMIT ?");
        let mut query = sqlx::query(&sql);
        if let Some(flow_id) = &filter.flow_id {
            query = query.bind(flow_id);
        }
        if let Some(status) = filter.status {
            query = query.bind(status.as_str());
        }
        let rows = query
            .bind(i64::from(filter.limit))
            .fetch_all(&self.reader)
            .await
            .map_err(db(operation))?;
        self.decode_runs(rows, operation).await
    }

    pub(super) async fn cursors_impl(&self, flow_id: &str, step_id: Option<&str>) -> Result<Vec<Cursor>, StateError> {
        let operation = format!("reading the cursors of flow `{flow_id}`");
        let mut sql = String::from(
            "SELECT flow_id, step_id, value_json, run_id, committed_at FROM cursors \
             WHERE flow_id = ?",
        );
        if step_id.is_some() {
            sql.push_str(" AND step_id = ?");
        }
        sql.push_str(" ORDER BY step_id");
        let mut query = sqlx::query(&sql).bind(flow_id);
        if let Some(step_id) = step_id {
            query = query.bind(step_id);
        }
        let rows = query.fetch_all(&self.reader).await.map_err(db(&operation))?;
        rows.iter()
            .map(|row| {
                let value: Vec<u8> = row.try_get("value_json").map_err(db(&operation))?;
                let committed_at: i64 = row.try_get("committed_at").map_err(db(&operation))?;
                Ok(Cursor {
                    flow_id: row.try_get("flow_id").map_err(db(&operation))?,
                    step_id: row.try_get("step_id").map_err(db(&operation))?,
                    value: payload::decode("cursor", &value, self.limits)?,
                    run_id: row.try_get("run_id").map_err(db(&operation))?,
                    committed_at: timestamp("cursor committed_at", committed_at)?,
                })
            })
            .collect()
    }

    pub(super) async fn acquire_flow_lock_impl(&self, flow_id: &str, run_id: &str) -> Result<(), StateError> {
        let operation = format!("locking flow `{flow_id}` for run {run_id}");
        let now = now();
        let mut tx = self.begin_write(&operation).await?;
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM runs WHERE id = ?")
            .bind(run_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db(&operation))?;
        match status.as_deref().map(str::parse::<RunStatus>) {
            None => {
                return Err(StateError::RunNotFound {
                    run_id: run_id.to_owned(),
                });
            }
            Some(Ok(RunStatus::Running)) => {}
            Some(Ok(status)) => {
                return Err(StateError::RunNotRunning {
                    run_id: run_id.to_owned(),
                    status,
                });
            }
            Some(Err(error)) => return Err(StateError::corrupt("run status", error)),
        }
        check_flow_lock(&mut tx, flow_id, run_id, now, &operation).await?;
        take_flow_lock(&mut tx, flow_id, run_id, now, &operation).await?;
        tx.commit().await.map_err(db(&operation))
    }

    pub(super) async fn release_flow_lock_impl(&self, flow_id: &str, run_id: &str) -> Result<bool, StateError> {
        let operation = format!("unlocking flow `{flow_id}` for run {run_id}");
        let deleted = sqlx::query("DELETE FROM flow_locks WHERE flow_id = ? AND run_id = ?")
            .bind(flow_id)
            .bind(run_id)
            .execute(&self.writer)
            .await
            .map_err(db(&operation))?;
        Ok(deleted.rows_affected() > 0)
    }

    pub(super) async fn flow_lock_holder_impl(&self, flow_id: &str) -> Result<Option<String>, StateError> {
        let operation = format!("reading the lock of flow `{flow_id}`");
        sqlx::query_scalar(
            "SELECT l.run_id FROM flow_locks l JOIN runs r ON r.id = l.run_id \
             WHERE l.flow_id = ? AND r.status = 'running' AND r.lease_expires_at > ?",
        )
        .bind(flow_id)
        .bind(millis(now()))
        .fetch_optional(&self.reader)
        .await
        .map_err(db(&operation))
    }

    pub(super) async fn begin_write(&self, operation: &str) -> Result<Transaction<'static, Sqlite>, StateError> {
        self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(db(operation))
    }
}

/// The error for a run row (`status`, `lease_owner`) that `lease_owner` may not write to.
pub(super) fn ownership_error(row: &SqliteRow, run_id: &str, lease_owner: &str, operation: &str) -> Option<StateError> {
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

/// Refuses when another run holds the flow's lock under a live lease. A holder whose lease
/// expired is marked `abandoned` (only an expired lease makes a run abandoned).
async fn check_flow_lock(
    tx: &mut Transaction<'static, Sqlite>,
    flow_id: &str,
    run_id: &str,
    now: Timestamp,
    operation: &str,
) -> Result<(), StateError> {
    let row = sqlx::query(
        "SELECT l.run_id, r.status, r.lease_expires_at FROM flow_locks l \
         LEFT JOIN runs r ON r.id = l.run_id WHERE l.flow_id = ?",
    )
    .bind(flow_id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db(operation))?;
    let Some(row) = row else {
        return Ok(());
    };
    let holder: String = row.try_get("run_id").map_err(db(operation))?;
    if holder == run_id {
        return Ok(());
    }
    let status: Option<String> = row.try_get("status").map_err(db(operation))?;
    let lease_expires_at: Option<i64> = row.try_get("lease_expires_at").map_err(db(operation))?;
    if status.as_deref() != Some(RunStatus::Running.as_str()) {
        return Ok(());
    }
    if lease_expires_at.is_some_and(|expires| expires > millis(now)) {
        return Err(StateError::FlowLocked {
            flow_id: flow_id.to_owned(),
            holder_run_id: holder,
        });
    }
    // A queued run's holder goes back to the queue (a worker takes it over), others are dead.
    sqlx::query(
        "UPDATE runs SET status = CASE WHEN enqueued THEN 'queued' ELSE 'abandoned' END, \
         ended_at = CASE WHEN enqueued THEN NULL ELSE ? END, \
         lease_owner = CASE WHEN enqueued THEN NULL ELSE lease_owner END, \
         lease_expires_at = CASE WHEN enqueued THEN NULL ELSE lease_expires_at END \
         WHERE id = ? AND status = 'running'",
    )
    .bind(millis(now))
    .bind(&holder)
    .execute(&mut **tx)
    .await
    .map_err(db(operation))?;
    Ok(())
}

/// Gives the flow's lock to the run (after `check_flow_lock` allowed it).
async fn take_flow_lock(
    tx: &mut Transaction<'static, Sqlite>,
    flow_id: &str,
    run_id: &str,
    now: Timestamp,
    operation: &str,
) -> Result<(), StateError> {
    sqlx::query(
        "INSERT INTO flow_locks (flow_id, run_id, acquired_at) VALUES (?, ?, ?) \
         ON CONFLICT (flow_id) DO UPDATE SET run_id = excluded.run_id, \
         acquired_at = excluded.acquired_at WHERE flow_locks.run_id != excluded.run_id",
    )
    .bind(flow_id)
    .bind(run_id)
    .bind(millis(now))
    .execute(&mut **tx)
    .await
    .map_err(db(operation))?;
    Ok(())
}

/// Drops the locks of runs that are no longer running.
/// Runs `mark_abandoned` marks: running (not queued) past their lease; binds the time once.
/// The read that looks for them first and the update share it, so they cannot disagree.
const ABANDONED: &str = "status = 'running' AND NOT enqueued AND lease_expires_at <= ?";

/// Flow locks whose run no longer runs.
const DEAD_LOCK: &str = "run_id IN (SELECT id FROM runs WHERE status != 'running')";

async fn release_dead_locks(tx: &mut Transaction<'static, Sqlite>, operation: &str) -> Result<(), StateError> {
    sqlx::query(&format!("DELETE FROM flow_locks WHERE {DEAD_LOCK}"))
        .execute(&mut **tx)
        .await
        .map_err(db(operation))?;
    Ok(())
}
