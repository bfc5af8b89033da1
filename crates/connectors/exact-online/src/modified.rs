//! `trigger: { exact_online.modified: {...} }`: a polling trigger for `flowrun serve`. Exact
//! Online has webhooks for few topics, and they carry only a key; every entity has `Modified`,
//! so the trigger asks every `interval` for the rows modified since the last one it saw.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::subscribe::ENTITY_PATTERN;

/// The parameters of `exact_online.modified`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct ModifiedParams {
    /// The name of an `exact_online` connection; may be omitted when exactly one exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// The entity to watch, as `subscribe` names it: `crm/Accounts`, `salesorder/SalesOrders`…
    #[schemars(regex(pattern = ENTITY_PATTERN))]
    pub entity: String,
    /// The properties of each row (`$select`); `ID` and `Modified` are always read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub select: Vec<String>,
    /// A further OData filter, AND-ed with the `Modified` window, e.g. `Status eq 12`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// How often to ask (default `1m`; at least `10s`, a shorter one is raised to it): each
    /// poll is one request per page, out of Exact's 60 a minute per app and division.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<flowrun_flow::Duration>,
    /// Where the first poll starts (RFC 3339, e.g. `2024-05-01T00:00:00Z`): rows modified at
    /// or after it start runs. Default: the moment `flowrun serve` first polls, which starts no
    /// run: rows modified before it never do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

/// The `trigger` of a run started by `modified`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub struct ModifiedEvent {
    /// The entity, as the trigger names it.
    pub entity: String,
    /// The row's `ID`.
    pub id: String,
    /// The row as read (the `select`ed properties, with `ID` and `Modified`), dates in RFC
    /// 3339 UTC as `subscribe` gives them.
    pub record: IndexMap<String, Value>,
}
