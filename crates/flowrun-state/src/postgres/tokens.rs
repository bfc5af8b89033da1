//! OAuth2 token sets, per connection key.

use sqlx::Row;

use super::bind::{PgTime, timestamp_opt};
use super::{PostgresStore, db};
use crate::error::StateError;
use crate::model::TokenSet;

impl PostgresStore {
    pub(super) async fn token_impl(&self, connection_key: &str) -> Result<Option<TokenSet>, StateError> {
        let operation = format!("reading the tokens of connection `{connection_key}`");
        let row = sqlx::query(
            "SELECT access_token, refresh_token, token_type, expires_at, scopes \
             FROM oauth_tokens WHERE connection_key = $1",
        )
        .bind(connection_key)
        .fetch_optional(&self.pool)
        .await
        .map_err(db(&operation))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let expires_at: Option<PgTime> = row.try_get("expires_at").map_err(db(&operation))?;
        Ok(Some(TokenSet {
            access_token: row.try_get("access_token").map_err(db(&operation))?,
            refresh_token: row.try_get("refresh_token").map_err(db(&operation))?,
            token_type: row.try_get("token_type").map_err(db(&operation))?,
            expires_at: timestamp_opt(expires_at),
            scopes: row.try_get("scopes").map_err(db(&operation))?,
        }))
    }

    pub(super) async fn put_token_impl(&self, connection_key: &str, tokens: TokenSet) -> Result<(), StateError> {
        let operation = format!("storing the tokens of connection `{connection_key}`");
        sqlx::query(
            "INSERT INTO oauth_tokens (connection_key, access_token, refresh_token, token_type, \
             expires_at, scopes, updated_at) VALUES ($1, $2, $3, $4, $5, $6, now()) \
             ON CONFLICT (connection_key) DO UPDATE SET access_token = excluded.access_token, \
             refresh_token = excluded.refresh_token, token_type = excluded.token_type, \
             expires_at = excluded.expires_at, scopes = excluded.scopes, \
             updated_at = excluded.updated_at",
        )
        .bind(connection_key)
        .bind(&tokens.access_token)
        .bind(&tokens.refresh_token)
        .bind(&tokens.token_type)
        .bind(tokens.expires_at.map(PgTime))
        .bind(&tokens.scopes)
        .execute(&self.pool)
        .await
        .map_err(db(&operation))?;
        Ok(())
    }

    pub(super) async fn delete_token_impl(&self, connection_key: &str) -> Result<bool, StateError> {
        let operation = format!("deleting the tokens of connection `{connection_key}`");
        let deleted = sqlx::query("DELETE FROM oauth_tokens WHERE connection_key = $1")
            .bind(connection_key)
            .execute(&self.pool)
            .await
            .map_err(db(&operation))?;
        Ok(deleted.rows_affected() > 0)
    }
}
