//! What starts a flow: a schedule, a webhook, or a connector's trigger.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::duration::Duration;

/// The pattern of a connector trigger's key, e.g. `onecrm.new_event`.
pub const CONNECTOR_TRIGGER_PATTERN: &str = "^[a-z][a-z0-9_]*\\.[a-z][a-z0-9_]*$";

/// Exactly one of `schedule`, `webhook` or a connector trigger such as `onecrm.new_event`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "IndexMap<String, Value>", into = "IndexMap<String, Value>")]
pub enum Trigger {
    Schedule(Schedule),
    Webhook(Webhook),
    Connector(ConnectorTrigger),
}

/// A connector's trigger: `uses` is the key (`onecrm.new_event`), `params` its block, which
/// may name a `connection`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorTrigger {
    pub uses: String,
    pub params: IndexMap<String, Value>,
}

impl ConnectorTrigger {
    /// The connection the trigger names, if any.
    pub fn connection(&self) -> Option<&str> {
        self.params.get("connection").and_then(Value::as_str)
    }
}

impl TryFrom<IndexMap<String, Value>> for Trigger {
    type Error = String;

    fn try_from(map: IndexMap<String, Value>) -> Result<Self, Self::Error> {
        let mut entries = map.into_iter();
        let (Some((key, value)), None) = (entries.next(), entries.next()) else {
            return Err("a trigger has exactly one key: `schedule`, `webhook` or a connector trigger".into());
        };
        let trigger = match key.as_str() {
            "schedule" => serde_json::from_value(value).map(Trigger::Schedule),
            "webhook" => serde_json::from_value(value).map(Trigger::Webhook),
            _ => serde_json::from_value(value).map(|params| Trigger::Connector(ConnectorTrigger { uses: key, params })),
        };
        trigger.map_err(|error| error.to_string())
    }
}

impl From<Trigger> for IndexMap<String, Value> {
    fn from(trigger: Trigger) -> Self {
        let (key, value) = match trigger {
            Trigger::Schedule(schedule) => ("schedule".to_owned(), serde_json::to_value(schedule)),
            Trigger::Webhook(webhook) => ("webhook".to_owned(), serde_json::to_value(webhook)),
            Trigger::Connector(connector) => (connector.uses, serde_json::to_value(connector.params)),
        };
        IndexMap::from([(key, value.unwrap_or(Value::Null))])
    }
}

impl JsonSchema for Trigger {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Trigger".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let schedule = generator.subschema_for::<Schedule>();
        let webhook = generator.subschema_for::<Webhook>();
        schemars::json_schema!({
            "description": "What starts the flow: exactly one of `schedule`, `webhook`, or a connector trigger such as `onecrm.new_event`.",
            "type": "object",
            "properties": { "schedule": schedule, "webhook": webhook },
            "patternProperties": {
                CONNECTOR_TRIGGER_PATTERN: {
                    "description": "A connector's trigger; its parameters are checked against the connector's schema.",
                    "type": "object",
                    "properties": { "connection": { "type": "string", "description": "The connection to use." } },
                },
            },
            "additionalProperties": false,
            "minProperties": 1,
            "maxProperties": 1,
        })
    }
}

/// Start runs on a cron schedule (`flowrun serve`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct Schedule {
    /// Five fields (minute first) or six (seconds first): `0 */15 * * * *`.
    pub cron: String,
    /// An IANA time zone such as `Europe/Amsterdam`. Default: UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// After downtime: `none` (default) skips missed ticks, `last` runs the last one once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catch_up: Option<CatchUp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    None,
    Last,
}

/// Start a run on `POST /hooks/<path>` (`flowrun serve`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct Webhook {
    /// The path under `/hooks/`.
    pub path: String,
    /// The HMAC key when `signature` is set; otherwise requests must send `Authorization: Bearer <secret>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Verify an HMAC signature of the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
    /// `async` (default) answers 202 once the run is queued; `sync` answers with the output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub respond: Option<Respond>,
    /// An expression naming a delivery; a repeated delivery starts nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedupe: Option<String>,
    /// At most `requests` per `per`; more get 429.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
}

/// How a webhook request is signed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct Signature {
    /// The header that carries the signature.
    pub header: String,
    /// The signature algorithm.
    pub algorithm: SignatureAlgorithm,
    /// The header that carries the signing time, when the sender signs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_header: Option<String>,
    /// How old a request may be. Default: 5m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SignatureAlgorithm {
    #[serde(rename = "hmac-sha256")]
    HmacSha256,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Respond {
    Async,
    Sync,
}

/// A request budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct RateLimit {
    /// Requests allowed in each window.
    #[schemars(range(min = 1))]
    pub requests: u32,
    /// The window: `1s`, `1m`.
    pub per: Duration,
}
