//! OAuth2 tokens of the HTTP layer kept in the state store, so a refresh token obtained by
//! `flowrun auth login` or rotated by a refresh outlives the process.

use std::sync::Arc;

use flowrun_connect::auth::{MemoryTokenStore, TokenStore, TokenStoreError, Tokens};
use flowrun_state::{StateStore, TokenSet};

/// The state store's tokens, or tokens in memory when runs keep no state (`--dry-run=reads`).
pub fn token_store(store: Option<&Arc<dyn StateStore>>) -> Arc<dyn TokenStore> {
    match store {
        Some(store) => Arc::new(StateTokens(store.clone())),
        None => Arc::new(MemoryTokenStore::default()),
    }
}

/// [`TokenStore`] over a [`StateStore`], keyed by connection name.
pub struct StateTokens(pub Arc<dyn StateStore>);

#[async_trait::async_trait]
impl TokenStore for StateTokens {
    async fn load(&self, connection: &str) -> Result<Option<Tokens>, TokenStoreError> {
        let stored = self
            .0
            .token(connection)
            .await
            .map_err(|error| TokenStoreError(error.to_string()))?;
        Ok(stored.map(|set| Tokens {
            access_token: set.access_token,
            refresh_token: set.refresh_token,
            token_type: set.token_type,
            expires_at: set.expires_at,
            scopes: set.scopes,
        }))
    }

    async fn save(&self, connection: &str, tokens: &Tokens) -> Result<(), TokenStoreError> {
        let set = TokenSet {
            access_token: tokens.access_token.clone(),
            refresh_token: tokens.refresh_token.clone(),
            token_type: tokens.token_type.clone(),
            expires_at: tokens.expires_at,
            scopes: tokens.scopes.clone(),
        };
        self.0
            .put_token(connection, set)
            .await
            .map_err(|error| TokenStoreError(error.to_string()))
    }
}
