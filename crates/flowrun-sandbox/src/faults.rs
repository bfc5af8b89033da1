//! Fault injection: rules that make matching requests slow, fail, or break the connection.
//!
//! The faults are the failures a real API shows over a network (throttling with
//! `Retry-After`, 5xx, resets, cut-off bodies), so that retry, error and resume paths of
//! flowrun can be tested against real sockets rather than mocked clients. They are applied
//! by [`middleware`], which sits in front of every API router and never in front of the
//! `/_sandbox` control API (a test must always be able to clear its faults).

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, BoxStream, StreamExt};
use serde::{Deserialize, Serialize};

use crate::state::{SandboxState, lock};

/// Which requests a fault applies to, and how often.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    /// The exact request path (no query), or a prefix when it ends with `*`
    /// (`/test/pages/*`, or `*` for every path).
    pub path: String,
    /// Only requests with this method (case-insensitive); `None` for any method.
    #[serde(default)]
    pub method: Option<String>,
    /// What happens to a matching request.
    pub fault: Fault,
    /// `None`: every matching request, until the faults are cleared; `Some(n)`: the next
    /// `n` matching requests, then the rule is gone.
    #[serde(default)]
    pub times: Option<u32>,
}

impl FaultRule {
    /// A rule for every request to `path` (any method, forever).
    pub fn new(path: impl Into<String>, fault: Fault) -> Self {
        Self {
            path: path.into(),
            method: None,
            fault,
            times: None,
        }
    }

    /// Restricts the rule to one method.
    #[must_use]
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into());
        self
    }

    /// Applies the rule to the next `n` matching requests only.
    #[must_use]
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Whether a request with this method and path matches the rule.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        let path_matches = match self.path.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => path == self.path,
        };
        path_matches && self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
    }
}

/// What a fault does to a matching request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "FaultWire", into = "FaultWire")]
pub enum Fault {
    /// Waits, then serves the request normally.
    Latency(Duration),
    /// Answers with this status instead of serving the request: JSON body
    /// `{"error":{"message":...}}` unless `body` is given, and a `Retry-After` header when
    /// `retry_after` is given (seconds or an HTTP date, sent as is).
    Status {
        status: u16,
        retry_after: Option<String>,
        body: Option<String>,
    },
    /// Closes the connection without sending a single byte of response: the client sees a
    /// broken connection, not a status.
    Drop,
    /// Sends the real status and a `Content-Length` of the full body, then half of the body,
    /// then breaks the connection: the client sees an incomplete body.
    Truncate,
}

impl Fault {
    /// A [`Fault::Status`] with the default body and no `Retry-After`.
    pub fn status(status: u16) -> Self {
        Self::Status {
            status,
            retry_after: None,
            body: None,
        }
    }
}

/// The JSON form of a [`Fault`] in the control API: `{"kind": "latency", "ms": 200}`, ...
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum FaultWire {
    Latency {
        ms: u64,
    },
    Status {
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<StringOrNumber>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
    },
    Drop,
    Truncate,
}

/// `Retry-After` given as `"120"`, `120` or an HTTP date: a number is what people type.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum StringOrNumber {
    String(String),
    Number(u64),
}

impl TryFrom<FaultWire> for Fault {
    type Error = String;

    fn try_from(wire: FaultWire) -> Result<Self, String> {
        Ok(match wire {
            FaultWire::Latency { ms } => Fault::Latency(Duration::from_millis(ms)),
            FaultWire::Status {
                status,
                retry_after,
                body,
            } => {
                if StatusCode::from_u16(status).is_err() || status < 200 {
                    return Err(format!("status {status} is not a final HTTP status"));
                }
                Fault::Status {
                    status,
                    retry_after: retry_after.map(|value| match value {
                        StringOrNumber::String(s) => s,
                        StringOrNumber::Number(n) => n.to_string(),
                    }),
                    body,
                }
            }
            FaultWire::Drop => Fault::Drop,
            FaultWire::Truncate => Fault::Truncate,
        })
    }
}

impl From<Fault> for FaultWire {
    fn from(fault: Fault) -> Self {
        match fault {
            Fault::Latency(d) => FaultWire::Latency {
                ms: u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            },
            Fault::Status {
                status,
                retry_after,
                body,
            } => FaultWire::Status {
                status,
                retry_after: retry_after.map(StringOrNumber::String),
                body,
            },
            Fault::Drop => FaultWire::Drop,
            Fault::Truncate => FaultWire::Truncate,
        }
    }
}

/// The active rules, in the order they were added: the first matching rule wins.
#[derive(Default)]
pub struct FaultStore {
    rules: Mutex<Vec<FaultRule>>,
}

impl FaultStore {
    /// Adds a rule after the existing ones.
    pub fn add(&self, rule: FaultRule) {
        if rule.times != Some(0) {
            lock(&self.rules).push(rule);
        }
    }

    /// Removes every rule.
    pub fn clear(&self) {
        lock(&self.rules).clear();
    }

    /// The rules still active.
    pub fn rules(&self) -> Vec<FaultRule> {
        lock(&self.rules).clone()
    }

    /// The fault for this request, if a rule matches; uses up one of the rule's `times`.
    pub fn take(&self, method: &str, path: &str) -> Option<Fault> {
        let mut rules = lock(&self.rules);
        if rules.is_empty() {
            return None;
        }
        let index = rules.iter().position(|r| r.matches(method, path))?;
        let rule = &mut rules[index];
        let fault = rule.fault.clone();
        if let Some(left) = rule.times.as_mut() {
            *left = left.saturating_sub(1);
            if *left == 0 {
                rules.remove(index);
            }
        }
        Some(fault)
    }
}

/// Largest body [`Fault::Truncate`] buffers when the response does not announce its length.
const TRUNCATE_BUFFER_LIMIT: usize = 256 * 1024 * 1024;

/// How long [`Fault::Truncate`] waits after the half body before breaking the connection.
const FLUSH_PAUSE: Duration = Duration::from_millis(20);

/// Counts the request, then applies the first matching fault rule.
pub async fn middleware(State(state): State<Arc<SandboxState>>, request: Request, next: Next) -> Response {
    let method = request.method().as_str();
    let path = request.uri().path();
    state.stats.record(method, path);
    let Some(fault) = state.faults.take(method, path) else {
        return next.run(request).await;
    };
    match fault {
        Fault::Latency(wait) => {
            tokio::time::sleep(wait).await;
            next.run(request).await
        }
        Fault::Status {
            status,
            retry_after,
            body,
        } => {
            let shape = if path.starts_with(crate::onecrm::PREFIX) {
                ErrorShape::OneCrm
            } else if path.starts_with(crate::exact::PREFIX) {
                ErrorShape::OData
            } else if path.starts_with(crate::conexiom::PREFIX) {
                ErrorShape::AspNet
            } else {
                ErrorShape::Generic
            };
            status_response(status, retry_after.as_deref(), body, shape)
        }
        Fault::Drop => dropped_connection(),
        Fault::Truncate => truncate(next.run(request).await).await,
    }
}

/// Whose error body an injected status imitates.
#[derive(Clone, Copy)]
enum ErrorShape {
    Generic,
    OneCrm,
    /// Exact Online: `{"error":{"code":"","message":{"lang":"","value":…}}}`.
    OData,
    /// Conexiom (ASP.NET Web API): `{"Message": …}`.
    AspNet,
}

/// The injected status; its default body has the error shape of the simulator it replaces
/// (1CRM: `{"message": ...}`, Exact: OData, Conexiom: `{"Message": ...}`), so that clients
/// parse it as they would a real one.
fn status_response(status: u16, retry_after: Option<&str>, body: Option<String>, shape: ErrorShape) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match body {
        Some(body) => {
            let content_type = if serde_json::from_str::<serde_json::Value>(&body).is_ok() {
                "application/json"
            } else {
                "text/plain; charset=utf-8"
            };
            (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
        }
        None if matches!(shape, ErrorShape::OneCrm) => {
            crate::onecrm::error(status, format!("injected fault: status {}", status.as_u16())).into_response()
        }
        None if matches!(shape, ErrorShape::AspNet) => {
            crate::conexiom::error(status, format!("injected fault: status {}", status.as_u16())).into_response()
        }
        None if matches!(shape, ErrorShape::OData) => {
            let message = format!("injected fault: status {}", status.as_u16());
            let body = serde_json::json!({"error": {"code": "", "message": {"lang": "", "value": message}}});
            (status, axum::Json(body)).into_response()
        }
        None => crate::error_json(status, &format!("injected fault: status {}", status.as_u16())),
    };
    if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(v).ok()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn injected(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, format!("injected fault: {what}"))
}

/// A response whose body fails before its first byte: hyper then closes the connection
/// with the status line and headers still unsent in its buffer, so the client sees the
/// connection close before any response (what a crashed upstream or a reset looks like).
fn dropped_connection() -> Response {
    let body = stream::iter([Err::<Bytes, io::Error>(injected("drop"))]);
    Response::new(Body::from_stream(body))
}

/// The real response with its full `Content-Length`, but only the first half of the body
/// before the connection breaks. Bodies of known length are passed through, not buffered,
/// so that a large streamed body can be truncated too.
async fn truncate(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let announced = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .or_else(|| body.size_hint().exact());
    let (full_len, data): (u64, BoxStream<'static, io::Result<Bytes>>) = match announced {
        Some(len) => (
            len,
            body.into_data_stream().map(|r| r.map_err(io::Error::other)).boxed(),
        ),
        None => match axum::body::to_bytes(body, TRUNCATE_BUFFER_LIMIT).await {
            Ok(bytes) => (bytes.len() as u64, stream::iter([Ok(bytes)]).boxed()),
            Err(err) => return crate::error_json(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()),
        },
    };
    parts.headers.remove(header::TRANSFER_ENCODING);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(full_len));
    let half = stream::unfold((data, full_len / 2, false), |(mut data, left, done)| async move {
        if done {
            return None;
        }
        if left == 0 {
            // Pending for a moment lets hyper flush what it buffered (headers and the half
            // body); an error in the same poll would discard it unsent.
            tokio::time::sleep(FLUSH_PAUSE).await;
            return Some((Err(injected("truncate")), (data, 0, true)));
        }
        match data.next().await {
            Some(Ok(mut chunk)) => {
                let keep = usize::try_from(left).unwrap_or(usize::MAX).min(chunk.len());
                chunk.truncate(keep);
                Some((Ok(chunk), (data, left - keep as u64, false)))
            }
            Some(Err(err)) => Some((Err(err), (data, 0, true))),
            None => Some((Err(injected("truncate")), (data, 0, true))),
        }
    });
    Response::from_parts(parts, Body::from_stream(half))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_exact_paths_prefixes_and_methods() {
        let exact = FaultRule::new("/test/me", Fault::Drop);
        assert!(exact.matches("GET", "/test/me"));
        assert!(!exact.matches("GET", "/test/me/x"));
        let prefix = FaultRule::new("/test/pages/*", Fault::Drop).method("post");
        assert!(prefix.matches("POST", "/test/pages/page"));
        assert!(!prefix.matches("GET", "/test/pages/page"));
        assert!(FaultRule::new("*", Fault::Drop).matches("PUT", "/anything"));
    }

    #[test]
    fn times_limits_how_often_a_rule_applies() {
        let store = FaultStore::default();
        store.add(FaultRule::new("/a", Fault::status(503)).times(2));
        store.add(FaultRule::new("/a", Fault::Truncate));
        assert_eq!(store.take("GET", "/a"), Some(Fault::status(503)));
        assert_eq!(store.take("GET", "/a"), Some(Fault::status(503)));
        assert_eq!(store.take("GET", "/a"), Some(Fault::Truncate));
        assert_eq!(store.take("GET", "/b"), None);
        store.clear();
        assert_eq!(store.take("GET", "/a"), None);
    }

    #[test]
    fn rules_round_trip_through_json() {
        let rule: FaultRule =
            serde_json::from_str(r#"{"path":"/x","fault":{"kind":"status","status":429,"retry_after":2},"times":1}"#)
                .expect("valid rule");
        assert_eq!(
            rule.fault,
            Fault::Status {
                status: 429,
                retry_after: Some("2".into()),
                body: None
            }
        );
        let latency: Fault = serde_json::from_str(r#"{"kind":"latency","ms":150}"#).expect("valid fault");
        assert_eq!(latency, Fault::Latency(Duration::from_millis(150)));
        let json = serde_json::to_value(&latency).expect("serializable");
        assert_eq!(json, serde_json::json!({"kind": "latency", "ms": 150}));
        assert!(serde_json::from_str::<Fault>(r#"{"kind":"status","status":42}"#).is_err());
    }
}
