//! Exact Online's OAuth 2.0: the authorization-code consent page (`/api/oauth2/auth`, with
//! approve and deny links), and the token endpoint (`/api/oauth2/token`) with the
//! `authorization_code` and `refresh_token` grants.
//!
//! Access tokens, consent requests and codes live in the shared token store (realm
//! `exact`); refresh tokens are kept here, because Exact's rules for them are its own:
//! they rotate (a used one answers "Old refresh token used."), they expire after 30 days
//! unused with a dated message, and a refresh may be refused as too early.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::{CLIENT_ID, CLIENT_SECRET, PASSWORD, PREFIX, REALM, USERNAME, lock};
use crate::state::SandboxState;
use crate::tokens::{ConsentRequest, Grant, pkce_matches, random_token};

type Params = HashMap<String, String>;

/// A refresh token handed out.
pub struct RefreshEntry {
    subject: String,
    /// Sandbox time of issue (with the access token issued alongside).
    issued_at: Duration,
    /// Rotated away: a refresh used it.
    used: bool,
}

struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    basic: bool,
}

fn oauth_error(error: &'static str, description: impl Into<String>) -> OAuthError {
    OAuthError {
        status: StatusCode::BAD_REQUEST,
        error,
        description: description.into(),
        basic: false,
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "error_description": self.description});
        let mut response = (self.status, axum::Json(body)).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.basic {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
        }
        response
    }
}

/// `POST /api/oauth2/token`.
pub async fn token(State(state): State<Arc<SandboxState>>, headers: HeaderMap, body: Bytes) -> Response {
    match issue(&state, &headers, &body) {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

fn issue(state: &SandboxState, headers: &HeaderMap, body: &[u8]) -> Result<Response, OAuthError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(oauth_error(
            "invalid_request",
            "The body must be application/x-www-form-urlencoded.",
        ));
    }
    let form: Params = url::form_urlencoded::parse(body).into_owned().collect();
    authenticate_client(headers, &form)?;
    let now = state.clock.now();
    let settings = state.exact.settings();
    let required = |name: &str| {
        form.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| oauth_error("invalid_request", format!("Missing parameter: {name}")))
    };
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = required("code")?;
            let redirect_uri = required("redirect_uri")?;
            let code = state.tokens.take_code(REALM, code).ok_or_else(|| {
                oauth_error(
                    "invalid_grant",
                    "The authorization code is invalid or was already used.",
                )
            })?;
            if now >= code.expires_at {
                return Err(oauth_error("invalid_grant", "The authorization code has expired."));
            }
            if code.request.redirect_uri != *redirect_uri {
                return Err(oauth_error(
                    "invalid_grant",
                    "The redirect_uri does not match the authorization request.",
                ));
            }
            if let Some(challenge) = &code.request.code_challenge {
                let verifier = form.get("code_verifier").map_or("", String::as_str);
                if !pkce_matches(challenge, code.request.code_challenge_method.as_deref(), verifier) {
                    return Err(oauth_error(
                        "invalid_grant",
                        "The code_verifier does not match the code_challenge.",
                    ));
                }
            }
            state.tokens.count_grant("authorization_code");
            Ok(tokens(state, &settings, &code.request.subject, now))
        }
        Some("refresh_token") => {
            let presented = required("refresh_token")?;
            refresh(state, &settings, presented, now)
        }
        Some(other) => Err(oauth_error(
            "unsupported_grant_type",
            format!("The grant type '{other}' is not supported."),
        )),
        None => Err(oauth_error("invalid_request", "Missing parameter: grant_type")),
    }
}

fn refresh(
    state: &SandboxState,
    settings: &super::ExactSettings,
    presented: &str,
    now: Duration,
) -> Result<Response, OAuthError> {
    let exact = &state.exact;
    let mut inner = lock(&exact.inner);
    let Some(entry) = inner.refresh.get(presented) else {
        inner.counts.refused_refresh_tokens += 1;
        return Err(oauth_error("invalid_grant", "Invalid refresh token."));
    };
    if entry.used {
        inner.counts.refused_refresh_tokens += 1;
        return Err(oauth_error("invalid_grant", "Old refresh token used."));
    }
    let lifetime = Duration::from_secs(settings.refresh_token_lifetime_days.saturating_mul(86_400));
    if now >= entry.issued_at + lifetime {
        let expired_at = super::model::iso(exact.now_ms(entry.issued_at + lifetime) / 1000 * 1000);
        let it_is = super::model::iso(exact.now_ms(now) / 1000 * 1000);
        inner.counts.refused_refresh_tokens += 1;
        return Err(oauth_error(
            "invalid_request",
            format!("The refresh token expired at {expired_at}Z and it is now {it_is}Z."),
        ));
    }
    let early = Duration::from_secs(settings.token_lifetime_secs.saturating_sub(30));
    if settings.strict_early_refresh && now < entry.issued_at + early {
        inner.counts.early_refreshes += 1;
        return Err(oauth_error(
            "invalid_request",
            format!(
                "The access token may be refreshed only in the last 30 seconds of its lifetime ({} s after issue).",
                early.as_secs()
            ),
        ));
    }
    let subject = entry.subject.clone();
    if let Some(entry) = inner.refresh.get_mut(presented) {
        entry.used = true;
    }
    inner.counts.token_refreshes += 1;
    drop(inner);
    state.tokens.count_grant("refresh_token");
    Ok(tokens(state, settings, &subject, now))
}

/// A new access token and refresh token: `expires_in` is a string, as Exact sends it.
fn tokens(state: &SandboxState, settings: &super::ExactSettings, subject: &str, now: Duration) -> Response {
    let grant = Grant {
        realm: REALM.to_owned(),
        client_id: CLIENT_ID.to_owned(),
        subject: subject.to_owned(),
        scope: None,
    };
    let ttl = Duration::from_secs(settings.token_lifetime_secs);
    let issued = state.tokens.issue(grant, now, ttl, false);
    // Real refresh tokens carry a `!`; a client that does not encode it breaks here too.
    let refresh = format!("Gcp7!{}", random_token(60));
    lock(&state.exact.inner).refresh.insert(
        refresh.clone(),
        RefreshEntry {
            subject: subject.to_owned(),
            issued_at: now,
            used: false,
        },
    );
    let body = json!({
        "access_token": issued.access_token,
        "token_type": "bearer",
        "expires_in": settings.token_lifetime_secs.to_string(),
        "refresh_token": refresh,
    });
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response()
}

/// The client as `client_id`/`client_secret` in the body, or HTTP Basic.
fn authenticate_client(headers: &HeaderMap, form: &Params) -> Result<(), OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, encoded)| STANDARD.decode(encoded.trim()).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| {
            text.split_once(':')
                .map(|(id, secret)| (id.to_owned(), secret.to_owned()))
        });
    let from_basic = basic.is_some();
    let (id, secret) = match basic {
        Some(pair) => pair,
        None => (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned().unwrap_or_default(),
        ),
    };
    if id.eq_ignore_ascii_case(CLIENT_ID) && secret == CLIENT_SECRET {
        return Ok(());
    }
    Err(OAuthError {
        status: if from_basic {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        },
        error: "invalid_client",
        description: "The client id or client secret is invalid.".into(),
        basic: from_basic,
    })
}

/// `GET /api/oauth2/auth`: the consent page (the user is signed in already).
pub async fn authorize(State(state): State<Arc<SandboxState>>, Query(params): Query<Params>) -> Response {
    let client_id = params.get("client_id").map_or("", String::as_str);
    if !client_id.eq_ignore_ascii_case(CLIENT_ID) {
        return error_page(&format!("The client id '{client_id}' is not a registered app."));
    }
    let Some(redirect_uri) = params.get("redirect_uri").filter(|u| url::Url::parse(u).is_ok()) else {
        return error_page("Missing or invalid redirect_uri.");
    };
    let state_param = params.get("state").cloned();
    if params.get("response_type").map(String::as_str) != Some("code") {
        let mut pairs = vec![("error", "unsupported_response_type")];
        if let Some(s) = &state_param {
            pairs.push(("state", s));
        }
        return redirect(redirect_uri, &pairs);
    }
    // UNSURE (apis/exact-online.md): `scope` is accepted and shown, not enforced (scope is
    // governed by the app registration).
    let scope = params.get("scope").cloned();
    let id = state.tokens.begin_consent(ConsentRequest {
        realm: REALM.to_owned(),
        client_id: CLIENT_ID.to_owned(),
        redirect_uri: redirect_uri.clone(),
        state: state_param,
        scope: scope.clone(),
        code_challenge: params.get("code_challenge").cloned(),
        code_challenge_method: params.get("code_challenge_method").cloned(),
        subject: USERNAME.to_owned(),
    });
    let scope_line = scope
        .map(|s| format!("<p>Requested scope: <code>{}</code></p>\n", escape(&s)))
        .unwrap_or_default();
    Html(format!(
        "<!doctype html>\n<html><head><title>Exact Online - Grant access</title></head><body>\n\
         <h1>Grant access to flowrun sandbox app</h1>\n\
         <p>The app <code>{CLIENT_ID}</code> asks for access to your Exact Online administrations.</p>\n\
         <p>Signed in as {USERNAME} (password <code>{PASSWORD}</code>).</p>\n{scope_line}\
         <a id=\"approve\" href=\"{PREFIX}/api/oauth2/approve?request={id}\">Approve</a>\n\
         <a id=\"deny\" href=\"{PREFIX}/api/oauth2/deny?request={id}\">Deny</a>\n</body></html>\n"
    ))
    .into_response()
}

/// `GET /api/oauth2/approve?request=ID`: back to the app with a code containing `!`.
pub async fn approve(State(state): State<Arc<SandboxState>>, Query(params): Query<Params>) -> Response {
    let Some(request) = params
        .get("request")
        .and_then(|id| state.tokens.take_consent(REALM, id))
    else {
        return error_page("Unknown or already answered authorization request.");
    };
    let ttl = Duration::from_secs(state.exact.settings().code_lifetime_secs);
    let code = format!("stampNL001!{}", random_token(40));
    let (redirect_uri, state_param) = (request.redirect_uri.clone(), request.state.clone());
    state.tokens.insert_code(code.clone(), request, state.clock.now(), ttl);
    let mut pairs = vec![("code", code.as_str())];
    if let Some(s) = &state_param {
        pairs.push(("state", s));
    }
    redirect(&redirect_uri, &pairs)
}

/// `GET /api/oauth2/deny?request=ID`: back to the app with `error=access_denied`.
pub async fn deny(State(state): State<Arc<SandboxState>>, Query(params): Query<Params>) -> Response {
    let Some(request) = params
        .get("request")
        .and_then(|id| state.tokens.take_consent(REALM, id))
    else {
        return error_page("Unknown or already answered authorization request.");
    };
    let mut pairs = vec![("error", "access_denied")];
    if let Some(s) = &request.state {
        pairs.push(("state", s));
    }
    redirect(&request.redirect_uri, &pairs)
}

/// 302 back to the client, or an error page when `uri` is not a URL.
fn redirect(uri: &str, pairs: &[(&str, &str)]) -> Response {
    crate::tokens::redirect_back(uri, pairs).unwrap_or_else(|| error_page("Invalid redirect_uri."))
}

fn error_page(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<!doctype html>\n<html><head><title>Exact Online - Error</title></head><body>\n\
             <h1>Error</h1>\n<p>{}</p>\n</body></html>\n",
            escape(message)
        )),
    )
        .into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
