//! `onecrm.api_call`: any endpoint of `api.php` with the connection's authentication.

pub use flowrun_connect::client::ResponseFormat;
use flowrun_connect::http::Method;
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `onecrm.api_call`: one request to an endpoint the other modules do not cover (links,
/// audit, reports, calendar, file downloads, ...). Outputs `{status, headers, body}`; a status
/// outside 2xx fails the step with 1CRM's message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct ApiCallParams {
    /// The path below `api.php`, e.g. `/data/Account/{{ item.id }}/contacts` or `/audit/Account`.
    /// A leading `/` is also relative to `api.php`. A full URL is refused: the connection's
    /// credentials go only to its own instance.
    pub path: String,
    /// The HTTP method. Default `GET`.
    #[serde(default)]
    pub method: Method,
    /// Extra request headers.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, String>,
    /// Query parameters. A list value repeats the parameter PHP-style (`fields[]=a&fields[]=b`);
    /// an object becomes a PHP-style map (`filters[name]=value`); booleans are sent as `1`/`0`
    /// and `null` leaves the parameter out.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub query: IndexMap<String, Value>,
    /// The request body, sent as JSON, e.g. `{data: {name: Acme}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// How to read the response body: `auto` (default), `json`, `text` or `bytes` (base64).
    /// `auto` parses a JSON response, keeps UTF-8 text as text and gives other bytes as base64;
    /// `json` must parse; `bytes` suits `files/download/{Model}/{id}`.
    #[serde(default)]
    pub response: ResponseFormat,
}
