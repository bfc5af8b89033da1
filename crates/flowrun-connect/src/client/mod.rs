//! The HTTP client every connector speaks through: one per connection, sharing the process's
//! connection pool.
//!
//! [`HttpClient::send`] applies, per request: the connection's rate limit, its auth (an OAuth2
//! token refreshed once more after a 401), the step's timeout (else the connection's), the
//! response size limit, and the step's retry policy with the waits the service asks for.

mod error;
mod request;
mod response;

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use url::Url;

pub use error::{api_message, excerpt, redact_url, redact_url_str, status_error, transport_error};
pub use request::{Body, Part, Request};
pub use response::{Response, ResponseFormat};

use crate::auth::{Authenticator, TokenManager};
use crate::config::{DEFAULT_MAX_RESPONSE_SIZE, DEFAULT_TIMEOUT, HttpConnectionConfig};
use crate::module::{CallContext, ErrorKind, ModuleError};
use crate::quota::{Quota, QuotaHeaders};
use crate::rate_limit::RateLimit;
use crate::record::Tape;
use crate::retry::MAX_RETRY_AFTER;

/// What a client is made from: the connection's `base_url` (for connectors that have one) and
/// its shared HTTP keys.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ClientSettings {
    pub base_url: Option<String>,
    pub http: HttpConnectionConfig,
    /// The budget headers the service sends, for connectors whose API announces them
    /// (`quota.rs`); not a key of the config.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota: Option<QuotaHeaders>,
}

/// A connection's client.
pub struct HttpClient {
    connection: Option<Arc<str>>,
    inner: reqwest::Client,
    base_url: Option<Url>,
    auth: Option<Authenticator>,
    rate_limit: Option<RateLimit>,
    quota: Option<Quota>,
    timeout: Duration,
    max_response_size: u64,
    tape: Tape,
    observer: Option<crate::runtime::HttpObserver>,
}

impl HttpClient {
    pub(crate) fn new(
        connection: Option<Arc<str>>,
        settings: &ClientSettings,
        inner: reqwest::Client,
        tokens: &Arc<dyn crate::auth::TokenStore>,
        tape: &Tape,
        observer: Option<crate::runtime::HttpObserver>,
    ) -> Result<HttpClient, ModuleError> {
        let name: Arc<str> = connection.clone().unwrap_or_else(|| "(none)".into());
        let base_url = settings
            .base_url
            .as_deref()
            .map(|base| {
                Url::parse(base).map_err(|error| {
                    ModuleError::new(
                        ErrorKind::Invalid,
                        format!("connection `{name}`: `base_url` `{base}` is not a URL ({error})"),
                    )
                })
            })
            .transpose()?;
        let auth = settings
            .http
            .auth
            .as_ref()
            .map(|auth| Authenticator::new(&name, auth, &inner, tokens, tape))
            .transpose()?;
        Ok(HttpClient {
            connection,
            inner,
            base_url,
            auth,
            rate_limit: settings.http.rate_limit.as_ref().map(RateLimit::new),
            quota: settings.quota.clone().map(|headers| Quota::new(&name, headers)),
            timeout: settings.http.timeout.map_or(DEFAULT_TIMEOUT, |t| t.as_std()),
            max_response_size: settings
                .http
                .max_response_size
                .map_or(DEFAULT_MAX_RESPONSE_SIZE, |s| s.0),
            tape: tape.clone(),
            observer,
        })
    }

    /// The connection's name, if the client has one.
    pub fn connection(&self) -> Option<&str> {
        self.connection.as_deref()
    }

    /// The OAuth2 tokens of the connection, when its auth is OAuth2.
    pub fn token_manager(&self) -> Option<&Arc<TokenManager>> {
        match &self.auth {
            Some(Authenticator::OAuth2(manager)) => Some(manager),
            _ => None,
        }
    }

    /// An absolute `http(s)` URL as it is; anything else is a path relative to `base_url`
    /// (a leading `/` too: `/orders` under `https://api.example.com/v2` is `…/v2/orders`).
    pub fn url(&self, url_or_path: &str) -> Result<Url, ModuleError> {
        if let Ok(url) = Url::parse(url_or_path)
            && matches!(url.scheme(), "http" | "https")
        {
            return Ok(url);
        }
        let Some(base) = &self.base_url else {
            return Err(ModuleError::new(
                ErrorKind::Invalid,
                format!(
                    "`{url_or_path}` is not an absolute http(s) URL, and there is no connection `base_url` to resolve it against"
                ),
            ));
        };
        let joined = format!(
            "{}/{}",
            base.as_str().trim_end_matches('/'),
            url_or_path.trim_start_matches('/')
        );
        Url::parse(&joined).map_err(|error| {
            ModuleError::new(
                ErrorKind::Invalid,
                format!("`{url_or_path}` under `{base}` is not a URL ({error})"),
            )
        })
    }

    /// A URL as errors and logs show it.
    pub fn shown_url(&self, url: &Url) -> String {
        redact_url(url, self.auth.as_ref().and_then(Authenticator::secret_query_name))
    }

    /// Sends `request` until it succeeds, fails in a way the step's retry policy does not
    /// retry, runs out of attempts, or the run is cancelled. A status outside 2xx and the
    /// request's `ok_status` is an error.
    pub async fn send(&self, context: &CallContext, request: &Request) -> Result<Response, ModuleError> {
        let policy = &context.retry;
        let safe_to_repeat = request.method.is_idempotent();
        let mut attempt = 1;
        let mut refreshed_after_401 = false;
        loop {
            // Held until the answer is in (and its headers observed in `send_once`).
            let reservation = match &self.quota {
                Some(quota) if matches!(self.tape, Tape::Off | Tape::Record(_)) => Some(
                    // A spent window is not retried: nothing changes before its reset.
                    quota
                        .reserve(&context.step_id, &context.cancel)
                        .await
                        .map_err(|error| self.with_attempts(error, attempt))?,
                ),
                _ => None,
            };
            let (result, token) = self.send_once(context, request).await;
            if let Some(observer) = &self.observer {
                let status = match &result {
                    Ok(response) => response.status.to_string(),
                    Err(error) => error.kind.as_str().to_owned(),
                };
                observer(self.connection.as_deref().unwrap_or("(none)"), &status);
            }
            let error = match result {
                Ok(response)
                    if (200..300).contains(&response.status) || request.ok_status.contains(&response.status) =>
                {
                    return Ok(response);
                }
                Ok(response) => {
                    if response.status == 401
                        && !refreshed_after_401
                        && let (Some(manager), Some(token)) = (self.token_manager(), token)
                    {
                        // Once per request, and not counted as an attempt: the token may have
                        // been revoked or expired early.
                        refreshed_after_401 = true;
                        tracing::info!(
                            step = %context.step_id,
                            connection = self.connection.as_deref().unwrap_or_default(),
                            "401 Unauthorized: refreshing the OAuth2 token and sending again",
                        );
                        manager.invalidate(&token).await;
                        continue;
                    }
                    let mut error = status_error(&response);
                    if response.status == 429
                        && let Some(quota) = &self.quota
                    {
                        // The service's own count says how long: the minute's reset, not the
                        // day's (both are `*-Reset` headers).
                        match quota.after_refusal() {
                            Some(Ok(wait)) => error.retry_after = Some(wait),
                            Some(Err(spent)) => return Err(self.with_attempts(spent, attempt)),
                            None => {}
                        }
                    }
                    error
                }
                Err(error) => error,
            };
            if matches!(error.kind, ErrorKind::Cancelled | ErrorKind::Invalid)
                || !policy.retries(error.kind, attempt, safe_to_repeat)
            {
                return Err(self.with_attempts(error, attempt));
            }
            let wait = match error.retry_after {
                Some(asked) if asked > MAX_RETRY_AFTER => {
                    let mut error = error;
                    error.message.push_str(&format!(
                        "; the service asks to wait {}, longer than flowrun waits ({})",
                        show_duration(asked),
                        show_duration(MAX_RETRY_AFTER)
                    ));
                    return Err(self.with_attempts(error, attempt));
                }
                Some(asked) => asked,
                None => policy.jittered_delay(attempt),
            };
            drop(reservation);
            tracing::warn!(
                step = %context.step_id,
                item = ?context.item_index,
                attempt,
                of = policy.attempts,
                wait_ms = wait.as_millis() as u64,
                kind = error.kind.as_str(),
                error = %error.message,
                "request failed; retrying",
            );
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = context.cancel.cancelled() => return Err(cancelled()),
            }
            attempt += 1;
        }
    }

    fn with_attempts(&self, mut error: ModuleError, attempts: u32) -> ModuleError {
        if attempts > 1 {
            error.message.push_str(&format!(" (after {attempts} attempts)"));
        }
        error
    }

    /// One attempt: the response, and the OAuth2 token it carried (to invalidate on a 401).
    async fn send_once(
        &self,
        context: &CallContext,
        request: &Request,
    ) -> (Result<Response, ModuleError>, Option<String>) {
        let mut url = request.url.clone();
        if let Some(Authenticator::Query { name, value }) = &self.auth
            && !url.query_pairs().any(|(n, _)| n == name.as_str())
        {
            url.query_pairs_mut().append_pair(name, value);
        }
        let shown = self.shown_url(&url);
        let what = RequestLine {
            method: request.method.as_str(),
            url: &shown,
        };
        match &self.tape {
            Tape::Replay(replayer) => return (replayer.answer(request, &shown), None),
            Tape::Offline => return (Err(offline(context, &what)), None),
            Tape::Off | Tape::Record(_) => {}
        }
        if let Some(limit) = &self.rate_limit {
            tokio::select! {
                () = limit.wait() => {}
                () = context.cancel.cancelled() => return (Err(cancelled()), None),
            }
        }
        let timeout = context.timeout.unwrap_or(self.timeout);
        let mut builder = self.inner.request(request.method.to_reqwest(), url).timeout(timeout);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let mut token = None;
        match &self.auth {
            Some(Authenticator::Header { name, value }) if !request.has_header(name.as_str()) => {
                builder = builder.header(name.clone(), value.clone());
            }
            Some(Authenticator::OAuth2(manager)) if !request.has_header("authorization") => {
                let access = tokio::select! {
                    access = manager.access_token() => access,
                    () = context.cancel.cancelled() => Err(cancelled()),
                };
                match access {
                    Ok(access) => {
                        match HeaderValue::from_str(&format!("Bearer {access}")) {
                            Ok(mut value) => {
                                value.set_sensitive(true);
                                builder = builder.header(AUTHORIZATION, value);
                            }
                            Err(_) => {
                                return (
                                    Err(ModuleError::new(
                                        ErrorKind::Invalid,
                                        "the token endpoint returned an access token that cannot be sent in a header",
                                    )),
                                    None,
                                );
                            }
                        }
                        token = Some(access);
                    }
                    Err(error) => return (Err(error), None),
                }
            }
            _ => {}
        }
        builder = match &request.body {
            Body::Empty => builder,
            Body::Json(value) => {
                let bytes = serde_json::to_vec(value).unwrap_or_default();
                if !request.has_header("content-type") {
                    builder = builder.header(CONTENT_TYPE, "application/json");
                }
                builder.body(bytes)
            }
            Body::Form(fields) => builder.form(fields),
            Body::Raw { bytes, content_type } => {
                if !request.has_header("content-type") {
                    builder = builder.header(CONTENT_TYPE, content_type.as_str());
                }
                builder.body(bytes.clone())
            }
            Body::Multipart(parts) => match multipart(parts) {
                Ok(form) => builder.multipart(form),
                Err(error) => return (Err(error), None),
            },
        };
        let built = match builder.build() {
            Ok(built) => built,
            Err(error) => return (Err(transport_error(&what, error, None)), None),
        };
        let started = std::time::Instant::now();
        // The request and its body under one wait on the cancellation (each wait registers
        // with the token, and this runs for every request).
        let exchange = async {
            let mut response = self
                .inner
                .execute(built)
                .await
                .map_err(|error| transport_error(&what, error, Some(timeout)))?;
            let status = response.status().as_u16();
            let headers = std::mem::take(response.headers_mut());
            if let Some(quota) = &self.quota {
                quota.observe(&headers);
            }
            let body = read_body(response, self.max_response_size, &what).await;
            Ok((status, headers, body))
        };
        let (status, headers, body) = tokio::select! {
            exchange = exchange => match exchange {
                Ok(exchange) => exchange,
                Err(error) => return (Err(error), token),
            },
            () = context.cancel.cancelled() => return (Err(cancelled()), token),
        };
        tracing::debug!(
            step = %context.step_id,
            request = %what,
            status,
            ms = started.elapsed().as_millis() as u64,
            "http",
        );
        let result = body.map(|body| Response {
            status,
            headers,
            body,
            method: request.method,
            url: shown,
        });
        if let (Tape::Record(recorder), Ok(response)) = (&self.tape, &result) {
            recorder.record(
                context,
                request,
                &response.url,
                response,
                started.elapsed().as_millis() as u64,
            );
        }
        (result, token)
    }
}

/// A request as errors and logs show it: `POST https://…`, its secret query values redacted.
/// Written out only when shown: most requests end well and are never shown.
struct RequestLine<'a> {
    method: &'a str,
    url: &'a str,
}

impl std::fmt::Display for RequestLine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.url)
    }
}

/// Reads a body up to `limit` bytes (after decompression): a larger one fails as soon as it is
/// known to be larger, without reading the rest.
pub(crate) async fn read_body(
    mut response: reqwest::Response,
    limit: u64,
    what: &(dyn std::fmt::Display + Sync),
) -> Result<Bytes, ModuleError> {
    let too_large = |size: String| {
        ModuleError::new(
            ErrorKind::Invalid,
            format!(
                "{what}: the response is {size} bytes, more than `max_response_size` allows ({limit} bytes); \
                 raise it in the connection if such responses are expected"
            ),
        )
    };
    if let Some(length) = response.content_length()
        && length > limit
    {
        return Err(too_large(length.to_string()));
    }
    if response.content_length().is_some() {
        // Its length is known and within the limit: read in one piece, without a copy.
        return response
            .bytes()
            .await
            .map_err(|error| transport_error(what, error, None));
    }
    let initial = response.content_length().unwrap_or(8 * 1024).min(limit).min(1 << 20);
    let mut body = BytesMut::with_capacity(initial as usize);
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| transport_error(what, error, None))?
    {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(too_large(format!("more than {limit}")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn multipart(parts: &[Part]) -> Result<reqwest::multipart::Form, ModuleError> {
    let mut form = reqwest::multipart::Form::new();
    for part in parts {
        let mut built = reqwest::multipart::Part::bytes(part.bytes.to_vec());
        if let Some(file_name) = &part.file_name {
            built = built.file_name(file_name.clone());
        }
        if let Some(content_type) = &part.content_type {
            built = built.mime_str(content_type).map_err(|_| {
                ModuleError::new(
                    ErrorKind::Invalid,
                    format!("part `{}`: `{content_type}` is not a MIME type", part.name),
                )
            })?;
        }
        form = form.part(part.name.clone(), built);
    }
    Ok(form)
}

fn cancelled() -> ModuleError {
    ModuleError::new(ErrorKind::Cancelled, "cancelled: the run is stopping")
}

/// A duration the way flow files write it (`30s`, `500ms`).
pub fn show_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis >= 1000 && millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}

/// The error of a request under [`Tape::Offline`].
fn offline(context: &CallContext, what: &dyn std::fmt::Display) -> ModuleError {
    ModuleError::new(
        ErrorKind::Invalid,
        format!(
            "{what} is neither mocked nor recorded, and a test does not reach the network: \
             mock {} (`mock: {{ {}: {{ output: … }} }}`) or replay a cassette recorded with `flowrun run --record` (`replay: …`)",
            context.location(),
            context.step_id
        ),
    )
}
