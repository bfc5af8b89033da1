//! A response read whole (within the connection's size limit).

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::error::excerpt;
use crate::http::Method;
use crate::module::{ErrorKind, ModuleError};

/// How a response body becomes a step output's `body` (the `response` parameter of
/// `http.request` and of every connector's `api_call`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Parsed as JSON when the response says it is JSON; text when UTF-8, else base64.
    #[default]
    Auto,
    /// Parsed as JSON; a body that is not JSON fails the step.
    Json,
    /// Kept as text; a body that is not UTF-8 fails the step.
    Text,
    /// Kept as bytes, base64-encoded.
    Bytes,
}

/// A response with its body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The request it answers, for messages.
    pub method: Method,
    /// The request URL, query secrets redacted.
    pub url: String,
}

impl Response {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Whether the response says its body is JSON (`application/json`, `…+json`).
    pub fn is_json(&self) -> bool {
        self.header("content-type").is_some_and(|content_type| {
            let essence = content_type.split(';').next().unwrap_or_default().trim();
            essence.eq_ignore_ascii_case("application/json") || essence.to_ascii_lowercase().ends_with("+json")
        })
    }

    /// The body parsed as JSON (`null` when empty). HTML, or anything else that does not
    /// parse, is an error that shows what came instead.
    pub fn json(&self) -> Result<Json, ModuleError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Json::Null);
        }
        serde_json::from_slice(&self.body).map_err(|error| self.not_json(&error))
    }

    /// The body checked to be JSON, as its text: [`Response::json`] without building the
    /// value, for outputs that parse it when first read. `None` when it is to be parsed now
    /// with [`Response::json`]: an empty body, or one that may not parse into a value though
    /// it is valid JSON text (`1e400`, lists nested 200 deep), so that such a body fails the
    /// step when it arrives, as a parsed one does, never later when read.
    pub fn raw_json(&self) -> Result<Option<Box<serde_json::value::RawValue>>, ModuleError> {
        if self.body.iter().all(u8::is_ascii_whitespace) || may_not_parse_into_a_value(&self.body) {
            return Ok(None);
        }
        serde_json::from_slice(&self.body)
            .map(Some)
            .map_err(|error| self.not_json(&error))
    }

    fn not_json(&self, error: &serde_json::Error) -> ModuleError {
        let content_type = self.header("content-type").unwrap_or("no content type");
        ModuleError::new(
            ErrorKind::Invalid,
            format!(
                "{} {} → {}: expected JSON, got {content_type} ({error}); the body starts: {}",
                self.method.as_str(),
                self.url,
                self.status,
                excerpt(&self.body)
            ),
        )
        .with_status(self.status)
    }

    /// Whether `format` reads this response's body as JSON.
    pub fn reads_as_json(&self, format: ResponseFormat) -> bool {
        match format {
            ResponseFormat::Json => true,
            ResponseFormat::Auto => self.is_json(),
            ResponseFormat::Text | ResponseFormat::Bytes => false,
        }
    }

    /// The body as text; bytes that are not UTF-8 are an error.
    pub fn text(&self) -> Result<&str, ModuleError> {
        std::str::from_utf8(&self.body).map_err(|error| {
            ModuleError::new(
                ErrorKind::Invalid,
                format!(
                    "{} {}: the body is not UTF-8 text ({error}); use `response: bytes`",
                    self.method.as_str(),
                    self.url
                ),
            )
        })
    }

    /// The body as a step output shows it, in `format` (`null` when empty).
    pub fn body_as(&self, format: ResponseFormat) -> Result<Json, ModuleError> {
        if self.body.is_empty() {
            return Ok(Json::Null);
        }
        let base64 = || Json::String(base64::engine::general_purpose::STANDARD.encode(&self.body));
        Ok(match format {
            ResponseFormat::Json => self.json()?,
            ResponseFormat::Text => Json::String(self.text()?.to_owned()),
            ResponseFormat::Bytes => base64(),
            ResponseFormat::Auto if self.is_json() => self.json()?,
            ResponseFormat::Auto => match std::str::from_utf8(&self.body) {
                Ok(text) => Json::String(text.to_owned()),
                Err(_) => base64(),
            },
        })
    }

    /// How long the response asks the client to wait (`Retry-After`, rate-limit reset).
    pub fn requested_wait(&self) -> Option<Duration> {
        crate::retry::requested_wait(|name| self.header(name).map(str::to_owned), SystemTime::now())
    }

    /// Headers as the step output shows them: names lowercase, repeated headers joined with
    /// `, ` (`set-cookie` too: cookies are redacted).
    pub fn headers_json(&self) -> indexmap::IndexMap<String, String> {
        let mut shown = indexmap::IndexMap::with_capacity(self.headers.keys_len());
        shown.extend(self.shown_headers());
        shown
    }

    /// [`Response::headers_json`] as a JSON object, for a step output's `headers`.
    pub fn headers_object(&self) -> serde_json::Map<String, Json> {
        let mut shown = serde_json::Map::with_capacity(self.headers.keys_len());
        shown.extend(self.shown_headers().map(|(name, value)| (name, Json::String(value))));
        shown
    }

    fn shown_headers(&self) -> impl Iterator<Item = (String, String)> + '_ {
        // A header map yields the values of one name one after another.
        let mut headers = self.headers.iter().peekable();
        std::iter::from_fn(move || {
            let (name, value) = headers.next()?;
            let mut joined = shown_value(name, value).into_owned();
            while let Some((_, more)) = headers.next_if(|(next, _)| *next == name) {
                joined.push_str(", ");
                joined.push_str(&shown_value(name, more));
            }
            Some((name.as_str().to_owned(), joined))
        })
    }
}

/// A header's value as a step output shows it: cookies redacted.
fn shown_value<'a>(name: &HeaderName, value: &'a HeaderValue) -> std::borrow::Cow<'a, str> {
    if name == reqwest::header::SET_COOKIE {
        "***".into()
    } else {
        String::from_utf8_lossy(value.as_bytes())
    }
}

/// Whether this JSON text may fail to parse into a value though it is valid text: serde_json
/// checks a number's range (`1e400`) and the nesting depth (128) only when it builds the
/// value. True for a number with an exponent or more than 300 digits in a row, or lists and
/// objects nested more than 100 deep, outside strings; ordinary data passes.
fn may_not_parse_into_a_value(text: &[u8]) -> bool {
    let (mut in_string, mut escaped, mut digits, mut depth) = (false, false, 0usize, 0usize);
    for &byte in text {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'e' | b'E' => return true,
            b'[' | b'{' => {
                depth += 1;
                if depth > 100 {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'0'..=b'9' => {
                digits += 1;
                if digits > 300 {
                    return true;
                }
                continue;
            }
            _ => {}
        }
        digits = 0;
    }
    false
}
