//! OAuth 2.0 (RFC 6749) with PKCE (RFC 7636) for the test API: the token endpoint with the
//! four grants flowrun supports, and the authorization-code consent flow.
//!
//! Strict where the RFCs say MUST (client authentication, single-use codes, redirect URI
//! match, rotating refresh tokens), because the point is to catch clients that only work
//! against lenient servers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use super::{CLIENT_ID, CLIENT_SECRET, PASSWORD, Params, REALM, SEED_REFRESH_TOKEN, USERNAME, html_escape};
use crate::state::SandboxState;
use crate::tokens::{ConsentRequest, Grant, IssuedTokens, pkce_matches};

/// Lifetime of access tokens, on the sandbox clock.
const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(3600);
/// Lifetime of authorization codes (RFC 6749 §4.1.2 recommends at most 10 minutes).
const CODE_TTL: Duration = Duration::from_secs(600);

/// Makes [`SEED_REFRESH_TOKEN`] valid.
pub(super) fn seed(state: &SandboxState) {
    state.tokens.seed_refresh_token(SEED_REFRESH_TOKEN, grant(None));
}

fn grant(scope: Option<String>) -> Grant {
    Grant {
        realm: REALM.to_owned(),
        client_id: CLIENT_ID.to_owned(),
        subject: USERNAME.to_owned(),
        scope,
    }
}

/// An RFC 6749 §5.2 error response.
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        let status = if error == "invalid_client" {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        };
        Self {
            status,
            error,
            description: description.into(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": self.error, "error_description": self.description});
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"flowrun-sandbox\""),
            );
        }
        response
    }
}

/// `POST /test/oauth/token`.
pub(super) async fn token(State(state): State<Arc<SandboxState>>, headers: HeaderMap, body: Bytes) -> Response {
    match issue(&state, &headers, &body) {
        Ok((grant_type, issued)) => {
            state.tokens.count_grant(grant_type);
            token_response(issued)
        }
        Err(err) => err.into_response(),
    }
}

fn issue(state: &SandboxState, headers: &HeaderMap, body: &[u8]) -> Result<(&'static str, IssuedTokens), OAuthError> {
    let form = parse_form(headers, body)?;
    authenticate_client(headers, &form)?;
    let scope = form.get("scope").cloned();
    let now = state.clock.now();
    let tokens = &state.tokens;
    let grant_type = form
        .get("grant_type")
        .ok_or_else(|| OAuthError::new("invalid_request", "missing grant_type"))?;
    match grant_type.as_str() {
        "password" => {
            let username = required(&form, "username")?;
            let password = required(&form, "password")?;
            if username != USERNAME || password != PASSWORD {
                return Err(OAuthError::new("invalid_grant", "wrong username or password"));
            }
            Ok(("password", tokens.issue(grant(scope), now, ACCESS_TOKEN_TTL, true)))
        }
        "client_credentials" => Ok((
            "client_credentials",
            tokens.issue(grant(scope), now, ACCESS_TOKEN_TTL, false),
        )),
        "refresh_token" => {
            let refresh = required(&form, "refresh_token")?;
            let previous = tokens
                .take_refresh_token(REALM, refresh)
                .ok_or_else(|| OAuthError::new("invalid_grant", "unknown or already used refresh token"))?;
            let scope = scope.or(previous.scope);
            Ok(("refresh_token", tokens.issue(grant(scope), now, ACCESS_TOKEN_TTL, true)))
        }
        "authorization_code" => {
            let code = required(&form, "code")?;
            let redirect_uri = required(&form, "redirect_uri")?;
            let code = tokens
                .take_code(REALM, code)
                .ok_or_else(|| OAuthError::new("invalid_grant", "unknown or already used authorization code"))?;
            if now >= code.expires_at {
                return Err(OAuthError::new("invalid_grant", "authorization code expired"));
            }
            let request = code.request;
            // Only one client exists and it authenticated above; a multi-client simulator
            // compares with the authenticated id here.
            if request.client_id != CLIENT_ID {
                return Err(OAuthError::new("invalid_grant", "code issued to another client"));
            }
            if request.redirect_uri != redirect_uri {
                return Err(OAuthError::new(
                    "invalid_grant",
                    "redirect_uri does not match the authorization request",
                ));
            }
            if let Some(challenge) = &request.code_challenge {
                let verifier = form
                    .get("code_verifier")
                    .ok_or_else(|| OAuthError::new("invalid_grant", "missing code_verifier (PKCE)"))?;
                if !pkce_matches(challenge, request.code_challenge_method.as_deref(), verifier) {
                    return Err(OAuthError::new(
                        "invalid_grant",
                        "code_verifier does not match the code_challenge",
                    ));
                }
            }
            let grant = Grant {
                subject: request.subject,
                ..grant(request.scope)
            };
            Ok(("authorization_code", tokens.issue(grant, now, ACCESS_TOKEN_TTL, true)))
        }
        other => Err(OAuthError::new(
            "unsupported_grant_type",
            format!("grant_type `{other}` is not supported"),
        )),
    }
}

fn token_response(issued: IssuedTokens) -> Response {
    let mut body = Map::new();
    body.insert("access_token".into(), issued.access_token.into());
    body.insert("token_type".into(), "Bearer".into());
    body.insert("expires_in".into(), issued.expires_in.into());
    if let Some(refresh) = issued.refresh_token {
        body.insert("refresh_token".into(), refresh.into());
    }
    if let Some(scope) = issued.scope {
        body.insert("scope".into(), scope.into());
    }
    (
        [(header::CACHE_CONTROL, "no-store"), (header::PRAGMA, "no-cache")],
        Json(Value::Object(body)),
    )
        .into_response()
}

/// The form body; RFC 6749 §3.2 wants `application/x-www-form-urlencoded` and each
/// parameter at most once.
fn parse_form(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return Err(OAuthError::new(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let mut form = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        if form.insert(name.to_string(), value.into_owned()).is_some() {
            return Err(OAuthError::new(
                "invalid_request",
                format!("parameter `{name}` given more than once"),
            ));
        }
    }
    Ok(form)
}

fn required<'a>(form: &'a HashMap<String, String>, name: &str) -> Result<&'a str, OAuthError> {
    form.get(name)
        .map(String::as_str)
        .ok_or_else(|| OAuthError::new("invalid_request", format!("missing {name}")))
}

/// Client authentication (RFC 6749 §2.3.1): HTTP Basic with form-urlencoded id and
/// secret, or `client_id`/`client_secret` in the body, never both.
fn authenticate_client(headers: &HeaderMap, form: &HashMap<String, String>) -> Result<(), OAuthError> {
    let (id, secret) = match headers.get(header::AUTHORIZATION) {
        Some(value) => {
            if form.contains_key("client_secret") {
                return Err(OAuthError::new(
                    "invalid_request",
                    "client authenticated both by Authorization header and client_secret",
                ));
            }
            basic_credentials(value).ok_or_else(|| OAuthError::new("invalid_client", "malformed Basic credentials"))?
        }
        None => match (form.get("client_id"), form.get("client_secret")) {
            (Some(id), Some(secret)) => (id.clone(), secret.clone()),
            _ => {
                return Err(OAuthError::new("invalid_client", "client authentication required"));
            }
        },
    };
    if id == CLIENT_ID && secret == CLIENT_SECRET {
        Ok(())
    } else {
        Err(OAuthError::new("invalid_client", "unknown client or wrong secret"))
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` → (id, secret).
fn basic_credentials(value: &HeaderValue) -> Option<(String, String)> {
    let value = value.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id)?, form_decode(secret)?))
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space).
fn form_decode(text: &str) -> Option<String> {
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// `GET /test/oauth/authorize`: checks the request and shows the consent page.
pub(super) async fn authorize(State(state): State<Arc<SandboxState>>, Query(params): Query<Params>) -> Response {
    let client_id = params.get("client_id").map(String::as_str).unwrap_or("");
    if client_id != CLIENT_ID {
        return error_page(&format!("Unknown client `{client_id}`."));
    }
    // Without a valid redirect URI the error cannot be sent back to the client (§4.1.2.1).
    let Some(redirect_uri) = params.get("redirect_uri").filter(|uri| url::Url::parse(uri).is_ok()) else {
        return error_page("Missing or invalid redirect_uri.");
    };
    let state_param = params.get("state").cloned();
    let refuse = |error: &str| {
        let mut pairs = vec![("error", error)];
        if let Some(s) = &state_param {
            pairs.push(("state", s.as_str()));
        }
        redirect(redirect_uri, &pairs)
    };
    if params.get("response_type").map(String::as_str) != Some("code") {
        return refuse("unsupported_response_type");
    }
    let challenge = params.get("code_challenge").cloned();
    let method = params.get("code_challenge_method").cloned();
    let method_ok = matches!(
        (&challenge, method.as_deref()),
        (None, None) | (Some(_), None | Some("S256" | "plain"))
    );
    if !method_ok {
        return refuse("invalid_request");
    }
    let scope = params.get("scope").cloned();
    let id = state.tokens.begin_consent(ConsentRequest {
        realm: REALM.to_owned(),
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.clone(),
        state: state_param.clone(),
        scope: scope.clone(),
        code_challenge: challenge,
        code_challenge_method: method,
        subject: USERNAME.to_owned(),
    });
    let scope_line = scope
        .map(|s| format!("<p>Requested scope: <code>{}</code></p>", html_escape(&s)))
        .unwrap_or_default();
    Html(format!(
        "<!doctype html>\n<html><head><title>Authorize {client}</title></head><body>\n\
         <h1>Authorize {client}</h1>\n<p>Signed in as {USERNAME}.</p>\n{scope_line}\n\
         <a id=\"approve\" href=\"/test/oauth/approve?request={id}\">Approve</a>\n\
         <a id=\"deny\" href=\"/test/oauth/deny?request={id}\">Deny</a>\n</body></html>\n",
        client = html_escape(client_id),
    ))
    .into_response()
}

/// `GET /test/oauth/approve?request=ID`: redirects back with a code.
pub(super) async fn approve(State(state): State<Arc<SandboxState>>, Query(params): Query<Params>) -> Response {
    let Some(request) = pending(&state, &params) else {
        return error_page("Unknown or already answered authorization request.");
    };
    let redirect_uri = request.redirect_uri.clone();
    let state_param = request.state.clone();
    let code = state.tokens.issue_code(request, state.clock.now(), CODE_TTL);
    let mut pairs = vec![("code", code.as_str())];
    if let Some(s) = &state_param {
        pairs.push(("state", s.as_str()));
    }
    redirect(&redirect_uri, &pairs)
}

/// `GET /test/oauth/deny?request=ID`: redirects back with `error=access_denied`.
pub(super) async fn deny(State(state): State<Arc<SandboxState>>, Query(params): Query<Params>) -> Response {
    let Some(request) = pending(&state, &params) else {
        return error_page("Unknown or already answered authorization request.");
    };
    let mut pairs = vec![("error", "access_denied")];
    if let Some(s) = &request.state {
        pairs.push(("state", s.as_str()));
    }
    redirect(&request.redirect_uri, &pairs)
}

fn pending(state: &SandboxState, params: &Params) -> Option<ConsentRequest> {
    state.tokens.take_consent(REALM, params.get("request")?)
}

/// 302 back to the client, or an error page when `uri` is not a URL.
fn redirect(uri: &str, pairs: &[(&str, &str)]) -> Response {
    crate::tokens::redirect_back(uri, pairs).unwrap_or_else(|| error_page("Invalid redirect_uri."))
}

fn error_page(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<!doctype html>\n<html><head><title>Authorization error</title></head><body>\n\
             <h1>Authorization error</h1>\n<p>{}</p>\n</body></html>\n",
            html_escape(message)
        )),
    )
        .into_response()
}
