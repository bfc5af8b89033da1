//! Answers of the REST API: the OData error body, and content negotiation (JSON only with
//! `Accept: application/json`, else Atom/XML as Exact's default, so that a client that
//! forgets the header fails loudly instead of half working).

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error answer: `{"error":{"code":"","message":{"lang":"","value":…}}}`.
#[derive(Debug)]
pub struct ODataError {
    pub status: StatusCode,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, ODataError>;

pub fn bad_request(message: impl Into<String>) -> ODataError {
    error(StatusCode::BAD_REQUEST, message)
}

pub fn not_found(message: impl Into<String>) -> ODataError {
    error(StatusCode::NOT_FOUND, message)
}

pub fn error(status: StatusCode, message: impl Into<String>) -> ODataError {
    ODataError {
        status,
        message: message.into(),
    }
}

/// What a handler answers, before negotiation.
#[derive(Debug)]
pub enum Reply {
    /// A JSON body (`{"d": …}`) with this status.
    Json(StatusCode, Value),
    /// 204, empty.
    NoContent,
    /// `text/plain` (`$count`).
    Text(String),
}

/// Whether the client asked for JSON.
pub fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("application/json"))
}

/// Renders a result; `json` is whether the client may get JSON.
pub fn render(result: Result<Reply>, json: bool) -> Response {
    match result {
        Ok(Reply::Json(status, body)) if json => (status, axum::Json(body)).into_response(),
        Ok(Reply::Json(status, body)) => (status, atom_headers(), atom_stub(&body)).into_response(),
        Ok(Reply::NoContent) => StatusCode::NO_CONTENT.into_response(),
        Ok(Reply::Text(text)) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            )],
            text,
        )
            .into_response(),
        Err(err) => render_error(&err, json),
    }
}

pub fn render_error(err: &ODataError, json: bool) -> Response {
    if json {
        let body = json!({"error": {"code": "", "message": {"lang": "", "value": err.message}}});
        return (err.status, axum::Json(body)).into_response();
    }
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<error xmlns=\"http://schemas.microsoft.com/ado/2007/08/dataservices/metadata\">\
         <code></code><message xml:lang=\"\">{}</message></error>\n",
        xml_escape(&err.message)
    );
    (
        err.status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml; charset=utf-8"),
        )],
        xml,
    )
        .into_response()
}

fn atom_headers() -> [(header::HeaderName, HeaderValue); 1] {
    [(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/atom+xml; charset=utf-8"),
    )]
}

/// A minimal Atom feed (or entry) with the ids of the records; no properties, on purpose.
fn atom_stub(body: &Value) -> String {
    let d = &body["d"];
    let uri = |v: &Value| v["__metadata"]["uri"].as_str().unwrap_or("").to_owned();
    let entries: Vec<String> = match d.get("results").and_then(Value::as_array) {
        Some(rows) => rows.iter().map(uri).collect(),
        None => vec![uri(d)],
    };
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" \
         xmlns:d=\"http://schemas.microsoft.com/ado/2007/08/dataservices\" \
         xmlns:m=\"http://schemas.microsoft.com/ado/2007/08/dataservices/metadata\">\n\
         <title type=\"text\">This simulator answers JSON only with Accept: application/json</title>\n",
    );
    for id in entries {
        xml.push_str(&format!(
            "<entry><id>{}</id><content type=\"application/xml\"/></entry>\n",
            xml_escape(&id)
        ));
    }
    xml.push_str("</feed>\n");
    xml
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// 401 for a missing, unknown, expired or revoked token: a short text, not JSON.
// UNSURE (apis/exact-online.md): the body of a 401; clients must not need JSON here.
pub fn unauthorized() -> Response {
    let mut response = Response::new(Body::from(
        "401 - Unauthorized: Access is denied due to invalid credentials.",
    ));
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}
