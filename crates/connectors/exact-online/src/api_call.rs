//! `exact_online.api_call`: any request to the REST API, with the connection's tokens, rate
//! limits and division.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The grammar of an `api_call` path: below the division (`crm/Accounts/$count`), or from the
/// API root when it starts with `/api/` (`/api/v1/current/Me`). No scheme, host or `..`: the
/// token goes to the connection's `base_uri` only.
pub const API_PATH_PATTERN: &str = r"^(/api/)?[A-Za-z0-9_$()'=,.:\-]+(/[A-Za-z0-9_$()'=,.:\-]+)*$";

/// `exact_online.api_call`: one request below `{base_uri}/api/v1/{division}/` (or below
/// `{base_uri}` for a path starting with `/api/`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct ApiCallParams {
    /// The HTTP method. Default `GET`.
    #[serde(default)]
    pub method: ApiMethod,
    /// The path below the division, e.g. `read/financial/ReceivablesList` or
    /// `crm/Accounts(guid'…')`, or from the root, e.g. `/api/v1/current/Me`.
    #[schemars(regex(pattern = API_PATH_PATTERN))]
    pub path: String,
    /// Query parameters, e.g. `{$select: "ID,Name", $filter: "Status eq 'C'"}`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub query: IndexMap<String, Value>,
    /// The JSON body of a `POST` or `PUT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

/// The methods of the REST API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ApiMethod {
    #[default]
    Get,
    Post,
    Put,
    Delete,
}

/// The answer of `api_call`: the status, and the body unwrapped from its `d` / `d.results`
/// envelope with `/Date(…)/` dates as RFC 3339 (`null` for an empty body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ApiCallOutput {
    /// The HTTP status, e.g. 200, 201 or 204.
    pub status: u16,
    /// The unwrapped body.
    pub body: Value,
    /// `d.__next` of a list that has more pages (api_call reads one page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}
