//! `http.request`: its parameters and output.

use flowrun_connect::http::Method;
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

/// How the response body becomes the output's `body`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Parsed as JSON when the response says it is JSON, text otherwise.
    #[default]
    Auto,
    /// Parsed as JSON; a body that is not JSON fails the step.
    Json,
    /// Kept as text.
    Text,
    /// Kept as bytes, base64-encoded.
    Bytes,
}

/// How to find the next page. Every kind stops at the first empty page, at `max_pages`, and
/// when the next page is not given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Pagination {
    /// The next page's URL is the `Link: <…>; rel="next"` response header (RFC 8288).
    LinkHeader {
        /// JSONPath of the items in each page's body, e.g. `$.data`; default: the body is the list.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        items: Option<String>,
        /// The most pages to fetch. Default 100.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_pages: Option<u32>,
    },
    /// The next page's URL is a field of the body, e.g. `$.next` or `$.links.next`.
    NextUrl {
        /// JSONPath of the next page's URL (absolute or relative to the request URL).
        next: String,
        /// JSONPath of the items in each page's body; default: the body is the list.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        items: Option<String>,
        /// The most pages to fetch. Default 100.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_pages: Option<u32>,
    },
    /// An opaque cursor from the body is sent back as a query parameter.
    Cursor {
        /// JSONPath of the cursor in the body, e.g. `$.meta.next_cursor`.
        next: String,
        /// The query parameter that carries it, e.g. `cursor`.
        param: String,
        /// JSONPath of the items in each page's body; default: the body is the list.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        items: Option<String>,
        /// The most pages to fetch. Default 100.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_pages: Option<u32>,
    },
    /// Offset and limit query parameters; a page with fewer than `page_size` items is the last.
    Offset {
        /// The offset parameter, e.g. `offset`; starts at 0 and grows by the items received.
        param: String,
        /// The page-size parameter, e.g. `limit`.
        limit_param: String,
        /// Items per page.
        #[schemars(range(min = 1))]
        page_size: u32,
        /// JSONPath of the items in each page's body; default: the body is the list.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        items: Option<String>,
        /// The most pages to fetch. Default 100.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_pages: Option<u32>,
    },
    /// A page-number query parameter, counting up from `start`.
    Page {
        /// The page parameter, e.g. `page`.
        param: String,
        /// The first page's number. Default 1.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        start: Option<u32>,
        /// JSONPath of the items in each page's body; default: the body is the list.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        items: Option<String>,
        /// The most pages to fetch. Default 100.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_pages: Option<u32>,
    },
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
