//! Step and item results.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::bind::{
    duration_from_sql, duration_to_sql, item_index_from_sql, item_index_to_sql, millis, payload_len, timestamp_opt,
    u32_from_sql,
};
use super::{SqliteStore, db};
use crate::error::StateError;
use crate::model::StepRecord;
use crate::payload::{self, OverLimit, PayloadLimits};

/// A step row as read, payloads still encoded.
struct StepRow {
    run_id: String,
    step_id: String,
    item_index: i64,
    item_key: Option<String>,
    status: String,
    attempts: i64,
    parameters: Option<Vec<u8>>,
    output: Option<Vec<u8>>,
    error: Option<Vec<u8>>,
    started_at: Option<i64>,
    ended_at: Option<i64>,
    duration_us: Option<i64>,
}

impl StepRow {
    fn read(row: &SqliteRow) -> Result<StepRow, sqlx::Error> {
        Ok(StepRow {
            run_id: row.try_get("run_id")?,
            step_id: row.try_get("step_id")?,
            item_index: row.try_get("item_index")?,
            item_key: row.try_get("item_key")?,
            status: row.try_get("status")?,
            attempts: row.try_get("attempts")?,
            parameters: row.try_get("parameters_json")?,
            output: row.try_get("output_json")?,
            error: row.try_get("error_json")?,
            started_at: row.try_get("started_at")?,
            ended_at: row.try_get("ended_at")?,
            duration_us: row.try_get("duration_us")?,
        })
    }

    fn payload_bytes(&self) -> usize {
        payload_len(&self.parameters) + payload_len(&self.output) + payload_len(&self.error)
    }

    fn decode(self, limits: PayloadLimits) -> Result<StepRecord, StateError> {
        let value =
            |what: &str, bytes: Option<Vec<u8>>| bytes.map(|bytes| payload::decode(what, &bytes, limits)).transpose();
        Ok(StepRecord {
            item_index: item_index_from_sql(self.item_index)?,
            status: self
                .status
                .parse()
                .map_err(|error| StateError::corrupt("step status", error))?,
            attempts: u32_from_sql("step attempts", self.attempts)?,
            parameters: value("step parameters", self.parameters)?.map(crate::Payload::Value),
            output: value("step output", self.output)?.map(crate::Payload::Value),
            error: value("step error", self.error)?,
            started_at: timestamp_opt("step started_at", self.started_at)?,
            ended_at: timestamp_opt("step ended_at", self.ended_at)?,
            duration: duration_from_sql(self.duration_us)?,
            run_id: self.run_id,
            step_id: self.step_id,
            item_key: self.item_key,
        })
    }
}

impl SqliteStore {
    pub(super) async fn record_step_impl(&self, record: StepRecord) -> Result<(), StateError> {
        let operation = match record.item_index {
            None => format!("recording step `{}` of run {}", record.step_id, record.run_id),
            Some(index) => format!(
                "recording item {index} of step `{}` of run {}",
                record.step_id, record.run_id
            ),
        };
        let item_index = item_index_to_sql(record.item_index)?;
        let parameters = payload::encode_opt(self.limits, record.parameters, OverLimit::Truncate).await?;
        let output = payload::encode_opt(self.limits, record.output, OverLimit::Truncate).await?;
        let error = payload::encode_opt(self.limits, record.error, OverLimit::Truncate).await?;
        self.steps
            .write(super::batch::StepRow {
                run_id: record.run_id,
                step_id: record.step_id,
                item_index,
                item_key: record.item_key,
                status: record.status.as_str(),
                attempts: i64::from(record.attempts),
                parameters,
                output,
                error,
                started_at: record.started_at.map(millis),
                ended_at: record.ended_at.map(millis),
                duration_us: duration_to_sql(record.duration),
                operation,
            })
            .await
    }

    pub(super) async fn step_records_impl(&self, run_id: &str) -> Result<Vec<StepRecord>, StateError> {
        let operation = format!("reading the steps of run {run_id}");
        let rows = sqlx::query(
            "SELECT run_id, step_id, item_index, item_key, status, attempts, parameters_json, \
             output_json, error_json, started_at, ended_at, duration_us \
             FROM step_executions WHERE run_id = ? \
             ORDER BY MIN(id) OVER (PARTITION BY step_id), item_index",
        )
        .bind(run_id)
        .fetch_all(&self.reader)
        .await
        .map_err(db(&operation))?;
        let rows = rows
            .iter()
            .map(StepRow::read)
            .collect::<Result<Vec<_>, _>>()
            .map_err(db(&operation))?;
        let bytes = rows.iter().map(StepRow::payload_bytes).sum();
        payload::decode_rows(rows, bytes, StepRow::decode, self.limits).await
    }
}
