//! `exact_online.me`: who the connection acts as, and the division it works in.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The user of `GET /api/v1/current/Me`, unwrapped from `d.results[0]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Me {
    /// The user's current division: the one a connection without `division` works in.
    pub current_division: u64,
    /// The user's GUID.
    #[serde(rename = "UserID")]
    pub user_id: String,
    /// The login name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// The user's full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    /// The user's e-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Every other property Exact sends.
    #[serde(flatten)]
    pub properties: IndexMap<String, Value>,
}
