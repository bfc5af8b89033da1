//! OAuth2 token sets, per connection key.

use sqlx::Row;

use super::bind::{millis, timestamp_opt};
use super::{SqliteStore, db, now};
use crate::error::StateError;
use crate::model::TokenSet;

impl SqliteStore {
    pub(super) async fn token_impl(&self, connection_key: &str) -> Result<Option<TokenSet>, StateError> {
        let operation = format!("reading the tokens of connection `{connection_key}`");
        let row = sqlx::query(
            "SELECT access_token, refresh_token, token_type, expires_at, scopes_json \
             FROM oauth_tokens WHERE connection_key = ?",
        )
        .bind(connection_key)
        .fetch_optional(&self.reader)
        .await
        .map_err(db(&operation))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let scopes: String = row.try_get("scopes_json").map_err(db(&operation))?;
        let expires_at: Option<i64> = row.try_get("expires_at").map_err(db(&operation))?;
        Ok(Some(TokenSet {
            access_token: row.try_get("access_token").map_err(db(&operation))?,
            refresh_token: row.try_get("refresh_token").map_err(db(&operation))?,
            token_type: row.try_get("token_type").map_err(db(&operation))?,
            expires_at: timestamp_opt("token expires_at", expires_at)?,
            scopes: serde_json::from_str(&scopes).map_err(|error| StateError::corrupt("token scopes", error))?,
        }))
    }

    pub(super) async fn put_token_impl(&self, connection_key: &str, tokens: TokenSet) -> Result<(), StateError> {
        let operation = format!("storing the tokens of connection `{connection_key}`");
        let scopes =
            serde_json::to_string(&tokens.scopes).map_err(|error| StateError::corrupt("token scopes", error))?;
        sqlx::query(
            "INSERT INTO oauth_tokens (connection_key, access_token, refresh_token, token_type, \
             expires_at, scopes_json, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (connection_key) DO UPDATE SET access_token = excluded.access_token, \
             refresh_token = excluded.refresh_token, token_type = excluded.token_type, \
             expires_at = excluded.expires_at, scopes_json = excluded.scopes_json, \
             updated_at = excluded.updated_at",
        )
        .bind(connection_key)
        .bind(&tokens.access_token)
        .bind(&tokens.refresh_token)
        .bind(&tokens.token_type)
        .bind(tokens.expires_at.map(millis))
        .bind(scopes)
        .bind(millis(now()))
        .execute(&self.writer)
        .await
        .map_err(db(&operation))?;
        Ok(())
    }

    pub(super) async fn delete_token_impl(&self, connection_key: &str) -> Result<bool, StateError> {
        let operation = format!("deleting the tokens of connection `{connection_key}`");
        let deleted = sqlx::query("DELETE FROM oauth_tokens WHERE connection_key = ?")
            .bind(connection_key)
            .execute(&self.writer)
            .await
            .map_err(db(&operation))?;
        Ok(deleted.rows_affected() > 0)
    }
}
