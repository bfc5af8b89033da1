//! Errors of requests, worded for the person reading a failed run: the request (query secrets
//! redacted), the status, the API's own message when its body says one, and a short excerpt.

use std::time::Duration;

use serde_json::Value as Json;
use url::Url;

use super::response::Response;
use crate::module::{ErrorKind, ModuleError};

/// Query parameters whose values are never shown, whatever the connection's auth says.
const SECRET_QUERY_NAMES: &[&str] = &[
    "access_token",
    "api_key",
    "apikey",
    "api-key",
    "client_secret",
    "code",
    "key",
    "password",
    "refresh_token",
    "secret",
    "sig",
    "signature",
    "token",
];

/// How much of a body an error shows.
const EXCERPT_CHARS: usize = 200;

/// `url` for people: values of secret-looking query parameters (and of `extra`, the
/// connection's API-key parameter) replaced by `***`, user info removed.
pub fn redact_url(url: &Url, extra: Option<&str>) -> String {
    if url.query().is_none() && url.username().is_empty() && url.password().is_none() {
        return url.as_str().to_owned();
    }
    let mut shown = url.clone();
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    if shown.query().is_some() {
        let pairs: Vec<(String, String)> = shown
            .query_pairs()
            .map(|(name, value)| {
                let secret = SECRET_QUERY_NAMES.iter().any(|s| name.eq_ignore_ascii_case(s))
                    || extra.is_some_and(|extra| name.eq_ignore_ascii_case(extra));
                let value = if secret { "***".to_owned() } else { value.into_owned() };
                (name.into_owned(), value)
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    shown.to_string()
}

/// [`redact_url`] of a URL given as text; text that is not a URL is shown without its query.
pub fn redact_url_str(url: &str) -> String {
    match Url::parse(url) {
        Ok(url) => redact_url(&url, None),
        Err(_) => url.split('?').next().unwrap_or_default().to_owned(),
    }
}

/// A failure before a complete response: no connection, a timeout, a connection that broke.
/// `what` is the request as shown (`GET https://…`).
pub fn transport_error(what: &dyn std::fmt::Display, error: reqwest::Error, timeout: Option<Duration>) -> ModuleError {
    let error = error.without_url();
    let causes = causes(&error);
    if error.is_timeout() {
        let limit = timeout
            .map(|t| format!(" within {}", crate::client::show_duration(t)))
            .unwrap_or_default();
        ModuleError::new(
            ErrorKind::Timeout,
            format!("{what}: no complete response{limit} ({causes})"),
        )
    } else if error.is_connect() {
        ModuleError::new(ErrorKind::Connect, format!("{what}: could not connect ({causes})"))
    } else if error.is_builder() {
        ModuleError::new(
            ErrorKind::Invalid,
            format!("{what}: the request cannot be built ({causes})"),
        )
    } else {
        // The service may have acted on the request before the connection broke: retried like
        // a 5xx (only when safe to repeat, unless `retry.on` says so).
        ModuleError::new(
            ErrorKind::Server,
            format!("{what}: the connection broke before the response was complete ({causes})"),
        )
    }
}

/// The error's message and its sources', joined: hyper's reasons are in the sources.
fn causes(error: &dyn std::error::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// The error of a response whose status is not a success.
pub fn status_error(response: &Response) -> ModuleError {
    let status = response.status;
    let kind = match status {
        429 => ErrorKind::RateLimited,
        500..=599 => ErrorKind::Server,
        _ => ErrorKind::Client,
    };
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|r| format!(" {r}"))
        .unwrap_or_default();
    let parsed: Option<Json> = serde_json::from_slice(&response.body).ok();
    let api_message = parsed.as_ref().and_then(api_message);
    let excerpt = excerpt(&response.body);
    let mut message = format!("{} {} → {status}{reason}", response.method.as_str(), response.url);
    if let Some(api_message) = &api_message {
        message.push_str(&format!(": {api_message}"));
    }
    if !excerpt.is_empty() && api_message.as_deref() != Some(excerpt.as_str()) {
        message.push_str(&format!(" (body: {excerpt})"));
    }
    let mut error = ModuleError::new(kind, message)
        .with_status(status)
        .with_details(serde_json::json!({
            "status": status,
            "body": parsed.unwrap_or(Json::String(excerpt)),
        }));
    if let Some(wait) = response.requested_wait() {
        error = error.with_retry_after(wait);
    }
    error
}

/// The message an API put in its error body, in the shapes APIs use: `{"error": {"message"}}`,
/// OAuth's `error_description`, `{"message"}`, `{"errors": [{"message"}]}`, OData's
/// `{"error": {"message": {"value"}}}`, RFC 9457's `detail`/`title`, `{"error": "text"}`.
pub fn api_message(body: &Json) -> Option<String> {
    let text = |value: Option<&Json>| value.and_then(Json::as_str).map(str::to_owned);
    let error = body.get("error");
    text(error.and_then(|e| e.get("message")))
        .or_else(|| text(error.and_then(|e| e.get("message")).and_then(|m| m.get("value"))))
        .or_else(|| text(body.get("error_description")))
        .or_else(|| text(body.get("message")))
        .or_else(|| text(body.get("errors").and_then(|e| e.get(0)).and_then(|e| e.get("message"))))
        .or_else(|| text(body.get("detail")))
        .or_else(|| text(body.get("title")))
        .or_else(|| text(error))
}

/// The first characters of a body, whitespace collapsed; binary bodies are described.
pub fn excerpt(body: &[u8]) -> String {
    if body.is_empty() {
        return String::new();
    }
    let head = &body[..body.len().min(EXCERPT_CHARS * 4)];
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        Err(error) if error.valid_up_to() > 0 => std::str::from_utf8(&head[..error.valid_up_to()]).unwrap_or_default(),
        Err(_) => return format!("<{} bytes of binary data>", body.len()),
    };
    let collapsed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut shown: String = collapsed.chars().take(EXCERPT_CHARS).collect();
    if collapsed.chars().count() > EXCERPT_CHARS || head.len() < body.len() {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Any bytes give an excerpt of at most 200 characters and an ellipsis.
        #[test]
        fn any_body_has_a_short_excerpt(body in proptest::collection::vec(proptest::num::u8::ANY, 0..2000)) {
            proptest::prop_assert!(excerpt(&body).chars().count() <= EXCERPT_CHARS + 1);
        }

        /// A secret query value never shows, whatever else the URL holds.
        #[test]
        fn secret_query_values_never_show(value in "[A-Za-z0-9]{12,20}", other in "[a-z]{1,8}") {
            let url = Url::parse(&format!("https://u:pw@api.test/x?{other}=1&api_key={value}&token={value}"))
                .unwrap_or_else(|_| unreachable!());
            let shown = redact_url(&url, None);
            proptest::prop_assert!(!shown.contains(&value), "{}", shown);
            proptest::prop_assert!(!shown.contains("pw@"), "{}", shown);
        }
    }

    #[test]
    fn api_messages_are_found_in_every_usual_shape() {
        let cases = [
            (serde_json::json!({"error": {"message": "a"}}), "a"),
            (
                serde_json::json!({"error": {"message": {"lang": "en", "value": "b"}}}),
                "b",
            ),
            (
                serde_json::json!({"error": "invalid_grant", "error_description": "c"}),
                "c",
            ),
            (serde_json::json!({"message": "d"}), "d"),
            (serde_json::json!({"errors": [{"message": "e"}]}), "e"),
            (
                serde_json::json!({"type": "about:blank", "title": "T", "detail": "f"}),
                "f",
            ),
            (serde_json::json!({"error": "g"}), "g"),
        ];
        for (body, expected) in cases {
            assert_eq!(api_message(&body).as_deref(), Some(expected), "{body}");
        }
        assert_eq!(api_message(&serde_json::json!([1])), None);
    }
}
