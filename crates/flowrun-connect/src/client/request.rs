//! A request as connectors describe it: plain data, so it can be sent again on a retry,
//! recorded, and shown (redacted) in errors.

use bytes::Bytes;
use serde_json::Value as Json;
use url::Url;

use crate::http::Method;

/// One HTTP request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub url: Url,
    /// Header names as written; a header set here wins over the connection's auth header.
    pub headers: Vec<(String, String)>,
    pub body: Body,
    /// Statuses outside 2xx that count as success (e.g. 404 when probing for a record).
    pub ok_status: Vec<u16>,
}

impl Request {
    pub fn new(method: Method, url: Url) -> Request {
        Request {
            method,
            url,
            headers: Vec::new(),
            body: Body::Empty,
            ok_status: Vec::new(),
        }
    }

    pub fn get(url: Url) -> Request {
        Request::new(Method::Get, url)
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn body(mut self, body: Body) -> Request {
        self.body = body;
        self
    }

    /// Adds query parameters after those already in the URL.
    pub fn query<'a>(mut self, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Request {
        self.url.query_pairs_mut().extend_pairs(pairs);
        if self.url.query() == Some("") {
            self.url.set_query(None);
        }
        self
    }

    /// Whether a header of this name (any case) is set on the request.
    pub fn has_header(&self, name: &str) -> bool {
        self.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    }
}

/// A request body.
#[derive(Debug, Clone, Default)]
pub enum Body {
    #[default]
    Empty,
    /// Sent as `application/json`.
    Json(Json),
    /// Sent as `application/x-www-form-urlencoded`.
    Form(Vec<(String, String)>),
    /// Sent as it is, with this content type.
    Raw { bytes: Bytes, content_type: String },
    /// Sent as `multipart/form-data`.
    Multipart(Vec<Part>),
}

/// One part of a multipart body.
#[derive(Debug, Clone)]
pub struct Part {
    pub name: String,
    /// Set for file parts.
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub bytes: Bytes,
}

impl Body {
    /// Bytes and content type as sent, for recordings and dry runs; multipart is described,
    /// not encoded (its boundary is random).
    pub fn describe(&self) -> Json {
        match self {
            Body::Empty => Json::Null,
            Body::Json(value) => value.clone(),
            Body::Form(fields) => Json::Object(
                fields
                    .iter()
                    .map(|(name, value)| (name.clone(), Json::String(value.clone())))
                    .collect(),
            ),
            Body::Raw { bytes, .. } => match std::str::from_utf8(bytes) {
                Ok(text) => Json::String(text.to_owned()),
                Err(_) => Json::String(format!("<{} bytes>", bytes.len())),
            },
            Body::Multipart(parts) => Json::Array(
                parts
                    .iter()
                    .map(|part| {
                        serde_json::json!({
                            "name": part.name,
                            "file_name": part.file_name,
                            "content_type": part.content_type,
                            "size": part.bytes.len(),
                        })
                    })
                    .collect(),
            ),
        }
    }
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
        }
    }

    /// Methods whose repetition has the effect of one request (RFC 9110 §9.2.2): a timeout or
    /// 5xx after one of them may be retried without `retry.on` saying so.
    pub fn is_idempotent(self) -> bool {
        !matches!(self, Method::Post | Method::Patch)
    }

    pub(crate) fn to_reqwest(self) -> reqwest::Method {
        match self {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
            Method::Head => reqwest::Method::HEAD,
        }
    }
}
