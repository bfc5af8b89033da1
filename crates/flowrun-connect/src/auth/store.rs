//! Where OAuth2 tokens are kept between requests, steps and runs.
//!
//! The engine hands the HTTP layer its state store behind [`TokenStore`]; tests and one-off
//! calls use [`MemoryTokenStore`]. The key is the connection's name.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use jiff::Timestamp;

/// One connection's tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Usually `Bearer`.
    pub token_type: Option<String>,
    /// When the access token stops working; `None` when the provider did not say.
    pub expires_at: Option<Timestamp>,
    pub scopes: Vec<String>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &"***")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "***"))
            .field("token_type", &self.token_type)
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// Why the token store failed; the message never holds a token.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct TokenStoreError(pub String);

/// Durable token storage. A rotated refresh token is saved before the access token that came
/// with it is used, so a crash never loses the only valid refresh token.
#[async_trait::async_trait]
pub trait TokenStore: Send + Sync {
    async fn load(&self, connection: &str) -> Result<Option<Tokens>, TokenStoreError>;
    async fn save(&self, connection: &str, tokens: &Tokens) -> Result<(), TokenStoreError>;
}

/// Tokens kept in memory for the life of the process.
#[derive(Default)]
pub struct MemoryTokenStore {
    tokens: Mutex<HashMap<String, Tokens>>,
}

#[async_trait::async_trait]
impl TokenStore for MemoryTokenStore {
    async fn load(&self, connection: &str) -> Result<Option<Tokens>, TokenStoreError> {
        let tokens = self
            .tokens
            .lock()
            .map_err(|_| TokenStoreError("token cache poisoned".into()))?;
        Ok(tokens.get(connection).cloned())
    }

    async fn save(&self, connection: &str, tokens: &Tokens) -> Result<(), TokenStoreError> {
        let mut stored = self
            .tokens
            .lock()
            .map_err(|_| TokenStoreError("token cache poisoned".into()))?;
        stored.insert(connection.to_owned(), tokens.clone());
        Ok(())
    }
}
