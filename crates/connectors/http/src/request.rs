//! `http.request`: its parameters and output.

pub use flowrun_connect::client::ResponseFormat;
use flowrun_connect::http::Method;
use flowrun_connect::paginate::Pagination;
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `with:` block of `http.request`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct RequestParams {
    /// The HTTP method. Default `GET`.
    #[serde(default)]
    pub method: Method,
    /// An absolute URL, or one relative to the connection's `base_url`.
    pub url: String,
    /// Request headers. Authentication comes from the connection; a header set here wins.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, String>,
    /// Query parameters, added to any already in `url`. A list value repeats the parameter.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub query: IndexMap<String, Value>,
    /// The request body. A string is sent as it is (`text/plain` unless `headers` names a
    /// `Content-Type`); any other value is sent as JSON (`application/json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Form fields, sent as `application/x-www-form-urlencoded`; with `files`, the text parts
    /// of a `multipart/form-data` body. Not together with `body`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub form: IndexMap<String, Value>,
    /// Files, sent as the parts of a `multipart/form-data` body (with `form`'s fields). Not
    /// together with `body`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FilePart>,
    /// How to read the response body: `auto` (default: parsed when the response is JSON, text
    /// otherwise), `json` (must parse), `text`, or `bytes` (base64).
    #[serde(default)]
    pub response: ResponseFormat,
    /// Statuses outside 2xx that still count as success, e.g. `[404]` to probe for a record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ok_status: Vec<u16>,
    /// Follow the API's pages and return every item. Without it, one request is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paginate: Option<Pagination>,
}

/// One file of a multipart body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct FilePart {
    /// The form field name, e.g. `file`.
    pub field: String,
    /// The file name sent, e.g. `invoice.pdf`.
    pub file_name: String,
    /// The content, as text or base64 (see `encoding`), e.g. a previous step's download.
    pub content: String,
    /// How `content` is written: `text` (default) or `base64`.
    #[serde(default)]
    pub encoding: ContentEncoding,
    /// The part's MIME type. Default `application/octet-stream`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

/// How a file's `content` is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContentEncoding {
    #[default]
    Text,
    Base64,
}

/// The output of `http.request`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct RequestOutput {
    /// The status code (of the last page when paginating).
    pub status: u16,
    /// The response headers (of the last page when paginating), names in lowercase; repeated
    /// headers are joined with `, `.
    pub headers: IndexMap<String, String>,
    /// The body: parsed when JSON, text otherwise, base64 with `response: bytes`, `null` when
    /// empty. With `paginate`, the list of every page's items.
    pub body: Value,
    /// How many pages were fetched; present only with `paginate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<u32>,
}
