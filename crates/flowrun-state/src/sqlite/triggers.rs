//! Trigger state on SQLite: a small key-value store per flow for connector triggers (a webhook
//! subscription's token, a polling trigger's cursor). Writes go through the single writer.

use serde_json::Value;

use super::bind::millis;
use super::{SqliteStore, db, now};
use crate::error::StateError;
use crate::payload::{self, OverLimit};

impl SqliteStore {
    pub(super) async fn trigger_state_impl(&self, flow_id: &str, key: &str) -> Result<Option<Value>, StateError> {
        let operation = format!("reading trigger state `{key}` of flow `{flow_id}`");
        let value: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT value_json FROM trigger_state WHERE flow_id = ? AND key = ?")
                .bind(flow_id)
                .bind(key)
                .fetch_optional(&self.reader)
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
            "INSERT INTO trigger_state (flow_id, key, value_json, updated_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (flow_id, key) DO UPDATE SET value_json = excluded.value_json, \
             updated_at = excluded.updated_at",
        )
        .bind(flow_id)
        .bind(key)
        .bind(value)
        .bind(millis(now()))
        .execute(&self.writer)
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
        let mut tx = self.begin_write(&operation).await?;
        sqlx::query(
            "INSERT INTO trigger_state (flow_id, key, value_json, updated_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (flow_id, key) DO NOTHING",
        )
        .bind(flow_id)
        .bind(key)
        .bind(encoded)
        .bind(millis(now()))
        .execute(&mut *tx)
        .await
        .map_err(db(&operation))?;
        let stored: Vec<u8> = sqlx::query_scalar("SELECT value_json FROM trigger_state WHERE flow_id = ? AND key = ?")
            .bind(flow_id)
            .bind(key)
            .fetch_one(&mut *tx)
            .await
            .map_err(db(&operation))?;
        tx.commit().await.map_err(db(&operation))?;
        payload::decode("trigger state", &stored, self.limits)
    }

    pub(super) async fn delete_trigger_state_impl(&self, flow_id: &str, key: &str) -> Result<bool, StateError> {
        let operation = format!("deleting trigger state `{key}` of flow `{flow_id}`");
        let deleted = sqlx::query("DELETE FROM trigger_state WHERE flow_id = ? AND key = ?")
            .bind(flow_id)
            .bind(key)
            .execute(&self.writer)
            .await
            .map_err(db(&operation))?;
        Ok(deleted.rows_affected() > 0)
    }
}
