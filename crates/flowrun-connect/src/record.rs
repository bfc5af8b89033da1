//! Recording and replay of HTTP exchanges (`flowrun run --record DIR`, `--replay FILE`).
//!
//! A [`Recorder`] keeps every exchange of a run, redacted as it is taken: Authorization,
//! Cookie and API-key headers, the connection's secret query parameters, token request and
//! response bodies, and every secret the run knows (the redaction function comes from the
//! engine's `Redactor`). A [`Replayer`] answers requests from a cassette instead of the
//! network, matching method, URL and body (each recorded exchange is used once, in order);
//! token exchanges are never matched: a replayed client does not authenticate.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::client::{Request, Response};
use crate::module::{CallContext, ErrorKind, ModuleError};

/// Replaces secrets in a JSON value (the engine's redactor).
pub type Redact = Arc<dyn Fn(Json) -> Json + Send + Sync>;

/// Headers whose values are never recorded.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
];

/// Keys of token requests and responses whose values are never recorded.
const TOKEN_FIELDS: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "password",
    "code",
    "code_verifier",
    "assertion",
];

/// One request and its response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    /// The step that sent it, and the item for `for_each` steps.
    pub step: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<usize>,
    /// A token request of the OAuth2 layer: recorded for the record, never replayed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub token_exchange: bool,
    pub request: RecordedRequest,
    pub response: RecordedResponse,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub method: String,
    /// Secret query values as `***`.
    pub url: String,
    pub headers: indexmap::IndexMap<String, String>,
    /// JSON bodies as JSON, form bodies as an object, text as a string, multipart described.
    pub body: Json,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedResponse {
    pub status: u16,
    pub headers: indexmap::IndexMap<String, String>,
    /// UTF-8 text as a string (JSON is kept as its text, so it replays byte for byte);
    /// anything else base64 with `encoding: base64`.
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
}

/// What the HTTP layer does with exchanges.
#[derive(Clone, Default)]
pub enum Tape {
    /// Send requests; keep nothing.
    #[default]
    Off,
    Record(Arc<Recorder>),
    Replay(Arc<Replayer>),
    /// Send nothing: every request fails, naming the step and the request (`flowrun test`
    /// without a cassette: a test never reaches the network).
    Offline,
}

/// The exchanges of a run, redacted as they are taken.
pub struct Recorder {
    redact: Redact,
    exchanges: Mutex<Vec<Exchange>>,
    /// Tokens the run obtained: APIs may echo them (in a body, a header), so they are scrubbed
    /// from the whole cassette when it is taken.
    tokens: Mutex<Vec<String>>,
}

impl Recorder {
    pub fn new(redact: Redact) -> Recorder {
        Recorder {
            redact,
            exchanges: Mutex::new(Vec::new()),
            tokens: Mutex::new(Vec::new()),
        }
    }

    /// The exchanges so far, in the order their responses arrived, with every token the run
    /// obtained replaced by `***`.
    pub fn exchanges(&self) -> Vec<Exchange> {
        let exchanges = self.exchanges.lock().map(|list| list.clone()).unwrap_or_default();
        let tokens = self.tokens.lock().map(|tokens| tokens.clone()).unwrap_or_default();
        if tokens.is_empty() {
            return exchanges;
        }
        let Ok(mut text) = serde_json::to_string(&exchanges) else {
            return exchanges;
        };
        for token in &tokens {
            text = text.replace(token.as_str(), "***");
        }
        serde_json::from_str(&text).unwrap_or(exchanges)
    }

    pub(crate) fn record(
        &self,
        context: &CallContext,
        request: &Request,
        url: &str,
        response: &Response,
        duration_ms: u64,
    ) {
        let exchange = Exchange {
            step: context.step_id.clone(),
            item: context.item_index,
            token_exchange: false,
            request: recorded_request(request, url, &self.redact),
            response: recorded_response(response, &self.redact, None),
            duration_ms,
        };
        if let Ok(mut list) = self.exchanges.lock() {
            list.push(exchange);
        }
    }

    /// A token request: both bodies' secret fields hidden.
    pub(crate) fn record_token(&self, url: &str, response: &Response, duration_ms: u64) {
        let exchange = Exchange {
            step: String::new(),
            item: None,
            token_exchange: true,
            request: RecordedRequest {
                method: "POST".to_owned(),
                url: url.to_owned(),
                headers: indexmap::IndexMap::new(),
                body: Json::String("***".to_owned()),
            },
            response: recorded_response(response, &self.redact, Some(&self.tokens)),
            duration_ms,
        };
        if let Ok(mut list) = self.exchanges.lock() {
            list.push(exchange);
        }
    }
}

fn recorded_request(request: &Request, url: &str, redact: &Redact) -> RecordedRequest {
    let headers = request
        .headers
        .iter()
        .map(|(name, value)| {
            let lower = name.to_ascii_lowercase();
            let value = if SECRET_HEADERS.contains(&lower.as_str()) {
                "***".to_owned()
            } else {
                value.clone()
            };
            (lower, value)
        })
        .collect::<indexmap::IndexMap<_, _>>();
    let headers = match redact(serde_json::to_value(&headers).unwrap_or_default()) {
        Json::Object(map) => map
            .into_iter()
            .map(|(name, value)| (name, value.as_str().unwrap_or_default().to_owned()))
            .collect(),
        _ => indexmap::IndexMap::new(),
    };
    RecordedRequest {
        method: request.method.as_str().to_owned(),
        url: redact_text(url, redact),
        headers,
        body: redact(request.body.describe()),
    }
}

/// `tokens` is set for token responses: their token fields are hidden and collected there.
fn recorded_response(response: &Response, redact: &Redact, tokens: Option<&Mutex<Vec<String>>>) -> RecordedResponse {
    let mut headers = response.headers_json();
    for (name, value) in headers.iter_mut() {
        if SECRET_HEADERS.contains(&name.as_str()) {
            *value = "***".to_owned();
        } else {
            *value = redact_text(value, redact);
        }
    }
    let (body, encoding) = match std::str::from_utf8(&response.body) {
        Ok(text) if tokens.is_some() => match serde_json::from_str::<Json>(text) {
            Ok(mut json) => {
                hide_token_fields(&mut json, tokens);
                (json.to_string(), None)
            }
            Err(_) => ("***".to_owned(), None),
        },
        Ok(text) => (redact_text(text, redact), None),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(&response.body),
            Some("base64".to_owned()),
        ),
    };
    RecordedResponse {
        status: response.status,
        headers,
        body,
        encoding,
    }
}

/// Hides the token fields of a token response, keeping their values in `found`.
fn hide_token_fields(json: &mut Json, found: Option<&Mutex<Vec<String>>>) {
    if let Json::Object(map) = json {
        for (key, value) in map.iter_mut() {
            if TOKEN_FIELDS.contains(&key.as_str()) {
                if let (Some(found), Json::String(token)) = (found, &value)
                    && token.len() >= 8
                    && let Ok(mut found) = found.lock()
                {
                    found.push(token.clone());
                }
                *value = Json::String("***".to_owned());
            }
        }
    }
}

fn redact_text(text: &str, redact: &Redact) -> String {
    match redact(Json::String(text.to_owned())) {
        Json::String(text) => text,
        _ => text.to_owned(),
    }
}

/// Answers requests from a cassette.
pub struct Replayer {
    redact: Redact,
    exchanges: Vec<Exchange>,
    used: Mutex<Vec<bool>>,
}

impl Replayer {
    pub fn new(exchanges: Vec<Exchange>, redact: Redact) -> Replayer {
        let exchanges: Vec<Exchange> = exchanges.into_iter().filter(|e| !e.token_exchange).collect();
        let used = Mutex::new(vec![false; exchanges.len()]);
        Replayer {
            redact,
            exchanges,
            used,
        }
    }

    /// The first unused exchange with the same method, URL and body as `request` (compared
    /// redacted, as they were recorded), as a response.
    pub(crate) fn answer(&self, request: &Request, url: &str) -> Result<Response, ModuleError> {
        let method = request.method.as_str();
        let url = redact_text(url, &self.redact);
        let body = (self.redact)(request.body.describe());
        let mut used = self
            .used
            .lock()
            .map_err(|_| ModuleError::new(ErrorKind::Other, "replay state poisoned"))?;
        let found = self.exchanges.iter().enumerate().position(|(index, exchange)| {
            !used[index]
                && exchange.request.method == method
                && exchange.request.url == url
                && exchange.request.body == body
        });
        let Some(index) = found else {
            return Err(ModuleError::new(
                ErrorKind::Invalid,
                format!(
                    "{method} {url}: no recorded exchange matches this request (method, URL and body) in the cassette; \
                     record the run again with `--record` if the flow changed"
                ),
            ));
        };
        used[index] = true;
        let recorded = &self.exchanges[index].response;
        let body = match recorded.encoding.as_deref() {
            Some("base64") => base64::engine::general_purpose::STANDARD
                .decode(&recorded.body)
                .map_err(|error| {
                    ModuleError::new(ErrorKind::Invalid, format!("cassette body is not base64: {error}"))
                })?,
            _ => recorded.body.clone().into_bytes(),
        };
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &recorded.headers {
            if let (Ok(name), Ok(value)) = (
                reqwest::header::HeaderName::from_bytes(name.as_bytes()),
                reqwest::header::HeaderValue::from_str(value),
            ) {
                headers.append(name, value);
            }
        }
        Ok(Response {
            status: recorded.status,
            headers,
            body: body.into(),
            method: request.method,
            url,
        })
    }

    /// How many recorded exchanges no request asked for.
    pub fn unused(&self) -> usize {
        self.used
            .lock()
            .map(|used| used.iter().filter(|u| !**u).count())
            .unwrap_or(0)
    }
}

/// What `flowrun run --record DIR` writes: everything a replay needs to run the flow again
/// offline and get the same result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cassette {
    /// The cassette format; 1 today.
    pub version: u32,
    pub flow: String,
    pub run_id: String,
    /// The run's inputs and trigger, secrets as `***`.
    pub inputs: Json,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Json>,
    /// What `now()` returned during the run (a recorded run reads the clock once, at its start).
    pub now: String,
    /// The seed of the run's `uuid()` sequence.
    pub uuid_seed: u64,
    /// How the run ended, and its output.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Json>,
    pub exchanges: Vec<Exchange>,
}

/// The version [`Cassette::version`] is written with and read at.
pub const CASSETTE_VERSION: u32 = 1;

impl Cassette {
    /// Reads a cassette file (`flowrun run --replay`, a test case's `replay:`), or says why it
    /// cannot be used.
    pub fn load(file: &std::path::Path) -> Result<Cassette, String> {
        let text = std::fs::read_to_string(file).map_err(|error| format!("{}: {error}", file.display()))?;
        let cassette: Cassette = serde_json::from_str(&text)
            .map_err(|error| format!("{}: not a flowrun cassette ({error})", file.display()))?;
        if cassette.version != CASSETTE_VERSION {
            return Err(format!(
                "{}: cassette version {} is not the version this flowrun reads ({CASSETTE_VERSION}); record it again",
                file.display(),
                cassette.version
            ));
        }
        Ok(cassette)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::client::Body;
    use crate::http::Method;

    fn redact() -> Redact {
        Arc::new(|value: Json| {
            let text = value.to_string().replace("s3cret-canary", "***");
            serde_json::from_str(&text).unwrap()
        })
    }

    fn response(body: &str) -> Response {
        Response {
            status: 200,
            headers: reqwest::header::HeaderMap::new(),
            body: bytes::Bytes::from(body.to_owned()),
            method: Method::Post,
            url: "https://api.test/x".into(),
        }
    }

    #[test]
    fn recordings_hold_no_secret_and_no_token() {
        let recorder = Recorder::new(redact());
        let context = CallContext::new("run", "send");
        recorder.record_token(
            "https://api.test/token",
            &response(r#"{"access_token":"tok-123456789","refresh_token":"ref-123456789","expires_in":60}"#),
            3,
        );
        let request = Request::new(
            Method::Post,
            url::Url::parse("https://api.test/echo?q=s3cret-canary").unwrap(),
        )
        .header("Authorization", "Basic abc")
        .header("X-Trace", "s3cret-canary")
        .body(Body::Json(serde_json::json!({ "password": "s3cret-canary" })));
        recorder.record(
            &context,
            &request,
            "https://api.test/echo?q=s3cret-canary",
            &response(r#"{"seen":"Bearer tok-123456789","echo":"s3cret-canary"}"#),
            5,
        );
        let text = serde_json::to_string(&recorder.exchanges()).unwrap();
        for secret in ["s3cret-canary", "tok-123456789", "ref-123456789", "Basic abc"] {
            assert!(!text.contains(secret), "`{secret}` in {text}");
        }
        assert!(text.contains(r#""expires_in\":60"#), "{text}");
    }

    #[test]
    fn a_replay_answers_each_recorded_request_once_in_order() {
        let recorder = Recorder::new(redact());
        let context = CallContext::new("run", "get");
        let request = Request::get(url::Url::parse("https://api.test/items?page=1").unwrap());
        recorder.record(&context, &request, request.url.as_str(), &response("[1]"), 1);
        recorder.record(&context, &request, request.url.as_str(), &response("[2]"), 1);
        let replayer = Replayer::new(recorder.exchanges(), redact());
        assert_eq!(
            &replayer.answer(&request, request.url.as_str()).unwrap().body[..],
            b"[1]"
        );
        assert_eq!(
            &replayer.answer(&request, request.url.as_str()).unwrap().body[..],
            b"[2]"
        );
        let error = replayer.answer(&request, request.url.as_str()).unwrap_err();
        assert!(
            error.message.contains("no recorded exchange matches"),
            "{}",
            error.message
        );
        let other = Request::get(url::Url::parse("https://api.test/items?page=2").unwrap());
        assert!(replayer.answer(&other, other.url.as_str()).is_err());
        assert_eq!(replayer.unused(), 0);
    }
}
