//! The generic test API under `/test`: every authentication scheme, pagination style and
//! failure shape that flowrun's HTTP layer supports, on one small fake service, so that
//! the layer can be tested without any product API. See `docs/sandbox.md` for the endpoint
//! list.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};

use crate::state::SandboxState;

mod echo;
mod me;
mod misc;
mod oauth;
mod pages;

/// Where the test API is nested.
pub const PREFIX: &str = "/test";
/// Token realm of the test API (see [`crate::tokens`]).
const REALM: &str = "test";

/// The one OAuth client the test API knows.
pub const CLIENT_ID: &str = "flowrun-test";
pub const CLIENT_SECRET: &str = "test-secret";
/// The one user: resource owner of the `password` grant and of `Basic` auth on `/test/me`.
pub const USERNAME: &str = "alice";
pub const PASSWORD: &str = "wonderland";
/// A fixed bearer token (`auth: bearer` rather than `oauth2`).
pub const STATIC_TOKEN: &str = "static-token";
/// The API key, as `X-Api-Key` header or `api_key` query parameter.
pub const API_KEY: &str = "test-key";
/// A refresh token valid from the start, for tests that begin with a stored refresh token.
pub const SEED_REFRESH_TOKEN: &str = "seed-refresh-token";

/// The test API's routes; paths are relative to [`PREFIX`].
pub fn router(state: Arc<SandboxState>) -> Router {
    oauth::seed(&state);
    Router::new()
        .route("/oauth/token", post(oauth::token))
        .route("/oauth/authorize", get(oauth::authorize))
        .route("/oauth/approve", get(oauth::approve))
        .route("/oauth/deny", get(oauth::deny))
        .route("/me", get(me::me))
        .route("/echo", any(echo::echo))
        .route("/echo/{*rest}", any(echo::echo))
        .route("/pages/page", get(pages::page))
        .route("/pages/offset", get(pages::offset))
        .route("/pages/cursor", get(pages::cursor))
        .route("/pages/next", get(pages::next))
        .route("/pages/link", get(pages::link))
        .route("/pages/loop", get(pages::looping))
        .route("/bytes", get(misc::bytes))
        .route("/html", get(misc::html))
        .route("/status/{code}", any(misc::status))
        .route("/gzip", get(misc::gzip))
        .route("/slow", get(misc::slow))
        .with_state(state)
}

/// Query parameters by name (the last value wins for repeated names).
type Params = HashMap<String, String>;

/// `http://HOST` of the request, for absolute next links: built from the `Host` header the
/// client sent (so links work behind a port mapping), else from the listening address.
fn origin(headers: &HeaderMap, state: &SandboxState) -> String {
    match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(host) if !host.is_empty() => format!("http://{host}"),
        _ => state.base_url(),
    }
}

/// A request the test API refuses with 400 and `{"error":{"message": ...}}`.
struct BadRequest(String);

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        crate::error_json(StatusCode::BAD_REQUEST, &self.0)
    }
}

/// An unsigned integer query parameter, `default` when absent; 400 when not a number.
fn number(params: &Params, name: &str, default: u64) -> Result<u64, BadRequest> {
    match params.get(name) {
        None => Ok(default),
        Some(value) => value.trim().parse().map_err(|_| {
            BadRequest(format!(
                "query parameter `{name}` must be a non-negative integer, got `{value}`"
            ))
        }),
    }
}

/// Escapes text for HTML element content and attribute values.
fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
