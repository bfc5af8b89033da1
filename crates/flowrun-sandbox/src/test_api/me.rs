//! `GET /test/me`: one resource behind every authentication scheme flowrun supports, which
//! reports the scheme it accepted so a test can tell them apart.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::{API_KEY, PASSWORD, Params, REALM, STATIC_TOKEN, USERNAME};
use crate::state::SandboxState;
use crate::tokens::TokenProblem;

/// Why a request was refused, and which challenge tells the client what to send.
struct Refusal {
    message: &'static str,
    challenge: &'static str,
}

impl Refusal {
    const MISSING: Refusal = Refusal {
        message: "authentication required",
        challenge: "Bearer realm=\"flowrun-sandbox\"",
    };
}

pub(super) async fn me(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    match authenticate(&state, &headers, &params) {
        Ok(scheme) => Json(json!({"user": USERNAME, "auth": scheme})).into_response(),
        Err(refusal) => {
            let body = json!({"error": {"code": "unauthorized", "message": refusal.message}});
            let mut response = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(refusal.challenge));
            response
        }
    }
}

/// The scheme that authenticated the request: the `Authorization` header first, then the
/// API key (header, then query). A wrong credential is refused even when another one is
/// right, as real APIs do: a client sending a stale token must notice.
fn authenticate(state: &SandboxState, headers: &HeaderMap, params: &Params) -> Result<&'static str, Refusal> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().unwrap_or("");
        let (scheme, credentials) = value.split_once(' ').unwrap_or((value, ""));
        let credentials = credentials.trim();
        if scheme.eq_ignore_ascii_case("basic") {
            return basic(credentials);
        }
        if scheme.eq_ignore_ascii_case("bearer") {
            return bearer(state, credentials);
        }
        return Err(Refusal {
            message: "unsupported authorization scheme",
            challenge: "Bearer realm=\"flowrun-sandbox\"",
        });
    }
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| params.get("api_key").map(String::as_str));
    match key {
        Some(API_KEY) => Ok("api_key"),
        Some(_) => Err(Refusal {
            message: "invalid API key",
            challenge: "Bearer realm=\"flowrun-sandbox\"",
        }),
        None => Err(Refusal::MISSING),
    }
}

fn basic(credentials: &str) -> Result<&'static str, Refusal> {
    let decoded = STANDARD
        .decode(credentials)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    match decoded.as_deref().and_then(|d| d.split_once(':')) {
        Some((USERNAME, PASSWORD)) => Ok("basic"),
        _ => Err(Refusal {
            message: "wrong username or password",
            challenge: "Basic realm=\"flowrun-sandbox\"",
        }),
    }
}

fn bearer(state: &SandboxState, token: &str) -> Result<&'static str, Refusal> {
    if token == STATIC_TOKEN {
        return Ok("bearer");
    }
    match state.tokens.check_access(REALM, token, state.clock.now()) {
        Ok(_) => Ok("oauth2"),
        Err(TokenProblem::Expired) => Err(Refusal {
            message: "access token expired",
            challenge: "Bearer realm=\"flowrun-sandbox\", error=\"invalid_token\", error_description=\"access token expired\"",
        }),
        Err(TokenProblem::Revoked) => Err(Refusal {
            message: "access token revoked",
            challenge: "Bearer realm=\"flowrun-sandbox\", error=\"invalid_token\", error_description=\"access token revoked\"",
        }),
        Err(TokenProblem::Unknown) => Err(Refusal {
            message: "invalid access token",
            challenge: "Bearer realm=\"flowrun-sandbox\", error=\"invalid_token\"",
        }),
    }
}
