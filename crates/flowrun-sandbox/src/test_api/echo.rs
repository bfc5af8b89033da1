//! `ANY /test/echo[/...]`: answers with what it received, so a test can assert on exactly
//! what flowrun sent (method, path, query, headers, body, multipart parts).
//!
//! Also the target of the HTTP throughput benchmark: no logging and no work beyond
//! building the echo itself.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, OriginalUri, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

/// Largest body echoed; the echo is for requests a test builds, not for bulk uploads.
pub(super) const MAX_BODY: usize = 64 * 1024 * 1024;

pub(super) async fn echo(OriginalUri(uri): OriginalUri, request: Request) -> Response {
    let method = request.method().as_str().to_owned();
    let headers = request.headers();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let media_type = content_type
        .as_deref()
        .map(|ct| ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    let mut echo = Map::new();
    echo.insert("method".into(), method.into());
    echo.insert("path".into(), uri.path().into());
    echo.insert(
        "query".into(),
        Value::Object(pairs(uri.query().unwrap_or("").as_bytes())),
    );
    echo.insert("headers".into(), Value::Object(header_map(headers)));
    echo.insert("content_type".into(), content_type.into());
    if media_type == "multipart/form-data" {
        let parts = match Multipart::from_request(request, &()).await {
            Ok(multipart) => read_parts(multipart).await,
            Err(rejection) => return rejection.into_response(),
        };
        match parts {
            Ok(parts) => {
                echo.insert("body".into(), Value::Null);
                echo.insert("parts".into(), Value::Array(parts));
            }
            Err(message) => return crate::error_json(StatusCode::BAD_REQUEST, &message),
        }
    } else {
        let body = match axum::body::to_bytes(request.into_body(), MAX_BODY).await {
            Ok(body) => body,
            Err(err) => return crate::error_json(StatusCode::PAYLOAD_TOO_LARGE, &err.to_string()),
        };
        echo.insert("body".into(), body_value(&media_type, &body));
    }
    Json(Value::Object(echo)).into_response()
}

/// A JSON body parsed, a form body as fields, other text as a string; bytes that are not
/// UTF-8 as `{"base64": ...}`; an empty body as `null`.
fn body_value(media_type: &str, body: &Bytes) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    let json = media_type == "application/json" || media_type.ends_with("+json");
    if json && let Ok(value) = serde_json::from_slice(body) {
        return value;
    }
    if media_type == "application/x-www-form-urlencoded" {
        return Value::Object(pairs(body));
    }
    match std::str::from_utf8(body) {
        Ok(text) => text.into(),
        Err(_) => serde_json::json!({"base64": STANDARD.encode(body)}),
    }
}

/// Form-urlencoded pairs as an object; a name given more than once maps to the list of
/// its values, in order.
fn pairs(encoded: &[u8]) -> Map<String, Value> {
    let mut map = Map::new();
    for (name, value) in url::form_urlencoded::parse(encoded) {
        let value = Value::String(value.into_owned());
        match map.get_mut(name.as_ref()) {
            None => {
                map.insert(name.into_owned(), value);
            }
            Some(Value::Array(values)) => values.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
        }
    }
    map
}

/// Headers by (already lowercase) name; repeated headers joined with `, `.
fn header_map(headers: &HeaderMap) -> Map<String, Value> {
    let mut map = Map::new();
    for name in headers.keys() {
        let values: Vec<&str> = headers.get_all(name).iter().map(|v| v.to_str().unwrap_or("")).collect();
        map.insert(name.as_str().to_owned(), values.join(", ").into());
    }
    map
}

async fn read_parts(mut multipart: Multipart) -> Result<Vec<Value>, String> {
    let mut parts = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(|e| e.to_string())? {
        let name = field.name().map(str::to_owned);
        let file_name = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(str::to_owned);
        let data = field.bytes().await.map_err(|e| e.to_string())?;
        let mut part = Map::new();
        part.insert("name".into(), name.into());
        part.insert("file_name".into(), file_name.into());
        part.insert("content_type".into(), content_type.into());
        part.insert("size".into(), data.len().into());
        if let Ok(text) = std::str::from_utf8(&data) {
            part.insert("text".into(), text.into());
        }
        parts.push(Value::Object(part));
    }
    Ok(parts)
}
