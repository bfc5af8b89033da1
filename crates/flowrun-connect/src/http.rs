//! Request and response shapes shared by `http.request` and the connectors' `api_call`
//! modules: plain data, no client.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An HTTP method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    #[default]
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
}

/// What a raw HTTP call returns as its step output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct Response {
    /// The status code, e.g. `200`.
    pub status: u16,
    /// The response headers, names in lowercase; repeated headers are joined with `, `.
    pub headers: IndexMap<String, String>,
    /// The body: parsed when it is JSON, text otherwise, base64 with `response: bytes`; `null`
    /// when empty.
    pub body: Value,
}
