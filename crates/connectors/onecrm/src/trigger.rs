//! The `onecrm.new_event` trigger: a record was created or updated.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `trigger: { onecrm.new_event: {...} }`. `flowrun serve` subscribes a 1CRM webhook
/// (`POST /webhooks`, filtered to records that are not deleted; kept across restarts) and
/// starts a run per event, keyed by the record's id and `date_modified`.
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
    /// The record as `get_record` reads it (every field), read again by id when the event
    /// arrives: 1CRM signs nothing, so the delivery itself is only a hint. A record deleted
    /// before that starts no run.
    pub record: IndexMap<String, Value>,
}
