//! The token endpoint: the OAuth 2.0 password grant with a confidential client, as an
//! ASP.NET OWIN authorization server answers it (PROPOSED in `apis/conexiom.md`), plus the
//! refresh grant.
//!
//! Lenient where the doc is unsure (client credentials in the body or as HTTP Basic), and
//! with OWIN's error bodies, which differ from RFC 6749 in one respect: a wrong client is a
//! 400, not a 401.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::contract::{REALM, token};
use super::{CLIENT_ID, CLIENT_SECRET, PASSWORD, USERNAME};
use crate::state::SandboxState;
use crate::tokens::Grant;

/// A refused token request: 400 with `{"error": ...}` (and a description for some).
struct TokenError {
    error: &'static str,
    description: Option<String>,
}

impl TokenError {
    fn new(error: &'static str) -> Self {
        Self {
            error,
            description: None,
        }
    }

    fn described(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            description: Some(description.into()),
        }
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let body = match self.description {
            Some(description) => json!({"error": self.error, "error_description": description}),
            None => json!({"error": self.error}),
        };
        (StatusCode::BAD_REQUEST, no_cache(), Json(body)).into_response()
    }
}

/// OWIN's caching headers on every token answer.
fn no_cache() -> [(header::HeaderName, HeaderValue); 2] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}

/// `POST {api}/token` (or the configured path).
pub(super) fn token(state: &SandboxState, headers: &HeaderMap, body: &[u8]) -> Response {
    match issue(state, headers, body) {
        Ok((grant_type, body)) => {
            state.tokens.count_grant(grant_type);
            (no_cache(), Json(body)).into_response()
        }
        Err(err) => err.into_response(),
    }
}

fn issue(state: &SandboxState, headers: &HeaderMap, body: &[u8]) -> Result<(&'static str, Value), TokenError> {
    let form = parse_form(headers, body)?;
    authenticate_client(headers, &form)?;
    let settings = state.conexiom.settings();
    let grant = Grant {
        realm: REALM.to_owned(),
        client_id: CLIENT_ID.to_owned(),
        subject: USERNAME.to_owned(),
        scope: None,
    };
    let grant_type = match form.get("grant_type").map(String::as_str) {
        Some("password") => {
            let username = form.get("username").map(String::as_str);
            let password = form.get("password").map(String::as_str);
            if username != Some(USERNAME) || password != Some(PASSWORD) {
                return Err(TokenError::described("invalid_grant", token::INVALID_GRANT_DESCRIPTION));
            }
            "password"
        }
        // UNSURE (apis/conexiom.md): whether refresh tokens exist at all. A refresh token is
        // used up by its use and the answer carries a new one (rotation); the real server
        // may well keep it valid.
        Some("refresh_token") => {
            let refresh = form.get("refresh_token").map(String::as_str).unwrap_or("");
            if state.tokens.take_refresh_token(REALM, refresh).is_none() {
                return Err(TokenError::new("invalid_grant"));
            }
            "refresh_token"
        }
        _ => return Err(TokenError::new("unsupported_grant_type")),
    };
    let ttl = Duration::from_secs(settings.token_lifetime_secs);
    let issued = state
        .tokens
        .issue(grant, state.clock.now(), ttl, settings.issue_refresh_tokens);
    let mut body = Map::new();
    body.insert("access_token".into(), issued.access_token.into());
    body.insert("token_type".into(), token::TOKEN_TYPE.into());
    body.insert("expires_in".into(), issued.expires_in.into());
    if let Some(refresh) = issued.refresh_token {
        body.insert("refresh_token".into(), refresh.into());
    }
    Ok((grant_type, Value::Object(body)))
}

/// The form body. A body of another type is refused with `invalid_request`, the one error
/// beyond the three the doc lists: a client sending JSON should learn why.
fn parse_form(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, TokenError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return Err(TokenError::described(
            "invalid_request",
            "The request body must be application/x-www-form-urlencoded.",
        ));
    }
    let mut form = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        // The first value of a repeated parameter counts.
        form.entry(name.into_owned()).or_insert_with(|| value.into_owned());
    }
    Ok(form)
}

/// The client: `Authorization: Basic` when the request has one, else `client_id` and
/// `client_secret` in the body.
// UNSURE (apis/conexiom.md): where the real server wants them; both are accepted.
fn authenticate_client(headers: &HeaderMap, form: &HashMap<String, String>) -> Result<(), TokenError> {
    let (id, secret) = match headers.get(header::AUTHORIZATION) {
        Some(value) => basic_credentials(value).ok_or_else(|| TokenError::new("invalid_client"))?,
        None => match (form.get("client_id"), form.get("client_secret")) {
            (Some(id), Some(secret)) => (id.clone(), secret.clone()),
            _ => return Err(TokenError::new("invalid_client")),
        },
    };
    if id == CLIENT_ID && secret == CLIENT_SECRET {
        Ok(())
    } else {
        Err(TokenError::new("invalid_client"))
    }
}

/// `Basic base64(id ":" secret)` → (id, secret); ids and secrets may also be form-encoded
/// (RFC 6749 §2.3.1), which changes nothing for the simulator's plain ones.
fn basic_credentials(value: &HeaderValue) -> Option<(String, String)> {
    let value = value.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(&text.replace('+', " "))
            .decode_utf8()
            .ok()
            .map(|s| s.into_owned())
    };
    Some((decode(id)?, decode(secret)?))
}
