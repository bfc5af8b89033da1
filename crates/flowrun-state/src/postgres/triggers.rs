//! Trigger state on Postgres: a small key-value store per flow that connector triggers share
//! across processes (a webhook subscription's token, a polling trigger's cursor).

use serde_json::Value;

use super::bind::payload_ref;
use super::{PostgresStore, db};
use crate::error::StateError;
use crate::payload::{self, OverLimit};

impl PostgresStore {
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
