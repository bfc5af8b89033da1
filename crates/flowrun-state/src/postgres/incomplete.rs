//! Incomplete executions: steps or items broken off under `on_error: break`.

use serde_json::Value;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::bind::{
    PgTime, item_index_from_sql, item_index_to_sql, payload_bytes, payload_len, timestamp_opt, u32_from_sql,
};
use super::{PostgresStore, db};
use crate::error::StateError;
use crate::model::{Incomplete, IncompleteStatus, NewIncomplete};
use crate::payload::{self, OverLimit, PayloadLimits};

const INCOMPLETE_COLUMNS: &str = "id, run_id, step_id, item_index, item_key, inputs_json, \
     error_json, status, failures, created_at, resolved_at";

/// An incomplete-execution row as read, payloads still encoded.
struct IncompleteRow {
    id: String,
    run_id: String,
    step_id: String,
    item_index: i64,
    item_key: Option<String>,
    inputs: Vec<u8>,
    error: Option<Vec<u8>>,
    status: String,
    failures: i64,
    created_at: PgTime,
    resolved_at: Option<PgTime>,
}

impl IncompleteRow {
    fn read(row: &PgRow) -> Result<IncompleteRow, sqlx::Error> {
        Ok(IncompleteRow {
            id: row.try_get("id")?,
            run_id: row.try_get("run_id")?,
            step_id: row.try_get("step_id")?,
            item_index: row.try_get("item_index")?,
            item_key: row.try_get("item_key")?,
            inputs: row.try_get("inputs_json")?,
            error: row.try_get("error_json")?,
            status: row.try_get("status")?,
            failures: row.try_get("failures")?,
            created_at: row.try_get("created_at")?,
            resolved_at: row.try_get("resolved_at")?,
        })
    }

    fn payload_bytes(&self) -> usize {
        self.inputs.len() + payload_len(&self.error)
    }

    fn decode(self, limits: PayloadLimits) -> Result<Incomplete, StateError> {
        Ok(Incomplete {
            item_index: item_index_from_sql(self.item_index)?,
            inputs: payload::decode("incomplete inputs", &self.inputs, limits)?,
            error: self
                .error
                .map(|bytes| payload::decode("incomplete error", &bytes, limits))
                .transpose()?,
            status: self
                .status
                .parse()
                .map_err(|error| StateError::corrupt("incomplete status", error))?,
            failures: u32_from_sql("incomplete failures", self.failures)?,
            created_at: self.created_at.0,
            resolved_at: timestamp_opt(self.resolved_at),
            id: self.id,
            run_id: self.run_id,
            step_id: self.step_id,
            item_key: self.item_key,
        })
    }
}

impl PostgresStore {
    async fn decode_incomplete(&self, rows: Vec<PgRow>, operation: &str) -> Result<Vec<Incomplete>, StateError> {
        let rows = rows
            .iter()
            .map(IncompleteRow::read)
            .collect::<Result<Vec<_>, _>>()
            .map_err(db(operation))?;
        let bytes = rows.iter().map(IncompleteRow::payload_bytes).sum();
        payload::decode_rows(rows, bytes, IncompleteRow::decode, self.limits).await
    }

    pub(super) async fn add_incomplete_impl(&self, new: NewIncomplete) -> Result<Incomplete, StateError> {
        let operation = format!(
            "storing an incomplete execution of step `{}` of run {}",
            new.step_id, new.run_id
        );
        let id = uuid::Uuid::now_v7().to_string();
        let item_index = item_index_to_sql(new.item_index)?;
        let (inputs, inputs_value) = payload::encode_keep(
            self.limits,
            new.inputs,
            OverLimit::Refuse("the inputs of an incomplete execution"),
        )
        .await?;
        let (error, error_value) = payload::encode_opt_keep(self.limits, new.error, OverLimit::Truncate).await?;
        let created_at: PgTime = sqlx::query_scalar(
            "INSERT INTO incomplete_executions (id, run_id, step_id, item_index, item_key, \
             inputs_json, error_json, status, failures, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', 1, now()) RETURNING created_at",
        )
        .bind(&id)
        .bind(&new.run_id)
        .bind(&new.step_id)
        .bind(item_index)
        .bind(&new.item_key)
        .bind(payload_bytes(Some(inputs)))
        .bind(payload_bytes(error))
        .fetch_one(&self.pool)
        .await
        .map_err(db(&operation))?;
        Ok(Incomplete {
            id,
            run_id: new.run_id,
            step_id: new.step_id,
            item_index: new.item_index,
            item_key: new.item_key,
            inputs: inputs_value,
            error: error_value,
            status: IncompleteStatus::Open,
            failures: 1,
            created_at: created_at.0,
            resolved_at: None,
        })
    }

    pub(super) async fn list_incomplete_impl(
        &self,
        run_id: &str,
        status: Option<IncompleteStatus>,
    ) -> Result<Vec<Incomplete>, StateError> {
        let operation = format!("listing the incomplete executions of run {run_id}");
        let rows = sqlx::query(&format!(
            "SELECT {INCOMPLETE_COLUMNS} FROM incomplete_executions \
             WHERE run_id = $1 AND ($2::text IS NULL OR status = $2) ORDER BY created_at, id"
        ))
        .bind(run_id)
        .bind(status.map(IncompleteStatus::as_str))
        .fetch_all(&self.pool)
        .await
        .map_err(db(&operation))?;
        self.decode_incomplete(rows, &operation).await
    }

    pub(super) async fn resolve_incomplete_impl(&self, id: &str) -> Result<Incomplete, StateError> {
        let operation = format!("resolving incomplete execution {id}");
        let rows = sqlx::query(&format!(
            "UPDATE incomplete_executions SET status = 'resolved', \
             resolved_at = COALESCE(resolved_at, now()) WHERE id = $1 RETURNING {INCOMPLETE_COLUMNS}"
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(db(&operation))?;
        self.one_incomplete(id, rows, &operation).await
    }

    pub(super) async fn fail_incomplete_impl(&self, id: &str, error: Option<Value>) -> Result<Incomplete, StateError> {
        let operation = format!("noting a failed replay of incomplete execution {id}");
        let error = payload::encode_opt(self.limits, error, OverLimit::Truncate).await?;
        let rows = sqlx::query(&format!(
            "UPDATE incomplete_executions SET failures = failures + 1, error_json = $2 \
             WHERE id = $1 RETURNING {INCOMPLETE_COLUMNS}"
        ))
        .bind(id)
        .bind(payload_bytes(error))
        .fetch_all(&self.pool)
        .await
        .map_err(db(&operation))?;
        self.one_incomplete(id, rows, &operation).await
    }

    async fn one_incomplete(&self, id: &str, rows: Vec<PgRow>, operation: &str) -> Result<Incomplete, StateError> {
        self.decode_incomplete(rows, operation)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| StateError::IncompleteNotFound { id: id.to_owned() })
    }
}
