//! How a connection's requests authenticate: the `auth` of its config made ready to apply.
//!
//! Fixed credentials (basic, bearer, API key) become a header or a query parameter once;
//! OAuth2 asks its [`TokenManager`] for a token on every request.

pub mod consent;
pub mod oauth2;
pub mod store;

use std::sync::Arc;

use base64::Engine as _;
use reqwest::header::{HeaderName, HeaderValue};

use crate::config::{ApiKeyLocation, Auth};
use crate::module::{ErrorKind, ModuleError};
pub use oauth2::{OAuth2Settings, TokenManager};
pub use store::{MemoryTokenStore, TokenStore, TokenStoreError, Tokens};

/// A connection's `auth`, ready to apply to requests.
pub enum Authenticator {
    /// Basic, bearer, or an API key in a header.
    Header {
        name: HeaderName,
        value: HeaderValue,
    },
    /// An API key in the query.
    Query {
        name: String,
        value: String,
    },
    OAuth2(Arc<TokenManager>),
}

impl Authenticator {
    pub fn new(
        connection: &Arc<str>,
        auth: &Auth,
        http: &reqwest::Client,
        tokens: &Arc<dyn TokenStore>,
        tape: &crate::record::Tape,
    ) -> Result<Authenticator, ModuleError> {
        let invalid = |what: &str| {
            ModuleError::new(
                ErrorKind::Invalid,
                format!("connection `{connection}`: {what} cannot be sent in an HTTP header"),
            )
        };
        Ok(match auth {
            Auth::Basic { username, password } => {
                let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
                Authenticator::Header {
                    name: reqwest::header::AUTHORIZATION,
                    value: sensitive(&format!("Basic {encoded}"))
                        .ok_or_else(|| invalid("the user name or password"))?,
                }
            }
            Auth::Bearer { token } => Authenticator::Header {
                name: reqwest::header::AUTHORIZATION,
                value: sensitive(&format!("Bearer {token}")).ok_or_else(|| invalid("the bearer token"))?,
            },
            Auth::ApiKey {
                name,
                value,
                location: ApiKeyLocation::Header,
            } => Authenticator::Header {
                name: HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                    ModuleError::new(
                        ErrorKind::Invalid,
                        format!("connection `{connection}`: `{name}` is not a valid header name"),
                    )
                })?,
                value: sensitive(value).ok_or_else(|| invalid("the API key"))?,
            },
            Auth::ApiKey {
                name,
                value,
                location: ApiKeyLocation::Query,
            } => Authenticator::Query {
                name: name.clone(),
                value: value.clone(),
            },
            Auth::OAuth2 {
                grant,
                token_url,
                authorize_url,
                client_id,
                client_secret,
                username,
                password,
                refresh_token,
                scopes,
                redirect_uri,
                client_auth,
                refresh_before,
            } => Authenticator::OAuth2(Arc::new(TokenManager::new(
                connection.clone(),
                OAuth2Settings {
                    grant: *grant,
                    token_url: token_url.clone(),
                    authorize_url: authorize_url.clone(),
                    client_id: client_id.clone(),
                    client_secret: client_secret.clone(),
                    username: username.clone(),
                    password: password.clone(),
                    refresh_token: refresh_token.clone(),
                    scopes: scopes.clone().unwrap_or_default(),
                    redirect_uri: redirect_uri.clone(),
                    client_auth: client_auth.unwrap_or_default(),
                    refresh_margin: refresh_before.map_or(oauth2::REFRESH_MARGIN, |before| before.as_std()),
                },
                http.clone(),
                tokens.clone(),
                match tape {
                    crate::record::Tape::Record(recorder) => Some(recorder.clone()),
                    _ => None,
                },
            ))),
        })
    }

    /// The query parameter that carries a secret, to redact from URLs shown to people.
    pub fn secret_query_name(&self) -> Option<&str> {
        match self {
            Authenticator::Query { name, .. } => Some(name),
            _ => None,
        }
    }
}

/// A header value marked sensitive (hyper never logs it); `None` when it has bytes a header
/// cannot carry.
fn sensitive(value: &str) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(value).ok()?;
    value.set_sensitive(true);
    Some(value)
}
