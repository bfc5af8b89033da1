//! The `onecrm.new_event` trigger: a record was created or updated.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `trigger: { onecrm.new_event: {...} }`. `flowrun serve` subscribes a 1CRM webhook
/// (`POST /webhooks`, filtered to records that are not deleted) and starts a run per event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct NewEventParams {
    /// The name of a `onecrm` connection; may be omitted when exactly one exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// The module (model) to watch, singular: `Account`, `Contact`, ...
    pub module: String,
    /// Which events start a run: `created` or `updated`.
    #[serde(rename = "type")]
    pub event_type: EventType,
}

/// Which record events a trigger reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// A record was created.
    Created,
    /// A record was updated.
    Updated,
}

/// The `trigger` of a run started by `new_event`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub struct NewEvent {
    /// The module of the record.
    pub module: String,
    /// What happened to it.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// The record's id.
    pub id: String,
    /// The record as 1CRM delivered it with the event (the fields of `get_record`). UNSURE:
    /// whether 1CRM wraps or signs the payload; treat it as a hint and use `get_record` when
    /// the full, current record matters.
    pub record: IndexMap<String, Value>,
}
