//! `onecrm.api_call`: any endpoint of `api.php` with the connection's authentication.

use flowrun_connect::http::Method;
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `onecrm.api_call`: one request to an endpoint the other modules do not cover (links,
/// audit, reports, calendar, ...). Outputs `{status, headers, body}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct ApiCallParams {
    /// The path below `api.php`, e.g. `/data/Account/{{ item.id }}/contacts` or `/audit/Account`.
    pub path: String,
    /// The HTTP method. Default `GET`.
    #[serde(default)]
    pub method: Method,
    /// Extra request headers.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, String>,
    /// Query parameters. A list value repeats the parameter PHP-style (`fields[]=a&fields[]=b`);
    /// an object becomes a PHP-style map (`filters[name]=value`).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub query: IndexMap<String, Value>,
    /// The JSON request body, e.g. `{data: {name: Acme}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}
