//! `exact_online.publish`: create, update or delete one entity.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::subscribe::ENTITY_PATTERN;

/// `exact_online.publish`: `POST …/{entity}` (create), `PUT …/{entity}(guid'{id}')` (update,
/// only the properties given change) or `DELETE …/{entity}(guid'{id}')`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
#[schemars(extend("allOf" = [
    {
        "if": { "properties": { "action": { "enum": ["update", "delete"] } }, "required": ["action"] },
        "then": { "required": ["id"] }
    },
    {
        "if": { "properties": { "action": { "enum": ["create", "update"] } }, "required": ["action"] },
        "then": { "required": ["payload"] }
    }
]))]
pub struct PublishParams {
    /// What to do: `create`, `update` or `delete`.
    pub action: PublishAction,
    /// The entity below the division, e.g. `crm/Accounts` or `salesorder/SalesOrders`.
    #[schemars(regex(pattern = ENTITY_PATTERN))]
    pub entity: String,
    /// The entity's GUID (`ID`), without `guid'…'`; required for `update` and `delete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Further query parameters, sent as they are.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub query: IndexMap<String, Value>,
    /// The properties to send, by name, e.g. `{Name: Acme, Email: info@acme.example}`;
    /// required for `create` and `update`. Binary properties are base64 strings; a request
    /// body may be at most 10 MB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<IndexMap<String, Value>>,
}

/// The write `publish` performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PublishAction {
    /// Create the entity (POST).
    Create,
    /// Change the given properties (PUT).
    Update,
    /// Delete the entity (DELETE).
    Delete,
}

/// The output of `publish`: for `create`, the created entity with every property (unwrapped
/// from `d`); for `update` and `delete`, which answer 204 without a body, `{ID}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PublishOutput {
    /// The entity's GUID.
    #[serde(rename = "ID")]
    pub id: String,
    /// The created entity's other properties.
    #[serde(flatten)]
    pub properties: IndexMap<String, Value>,
}
