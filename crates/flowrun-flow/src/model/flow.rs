//! A flow file (`flows/*.yaml`), version 1 of flow-spec.md.
//!
//! Every struct denies unknown fields: the validator reports unknown keys with positions
//! first, and serde is the backstop. Doc comments become the schema's descriptions, which
//! editors show on hover.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::duration::Duration;
use super::pipeline::Transform;
use super::trigger::Trigger;

/// The id rules, shared by the schema and the validator's messages.
pub const FLOW_ID_PATTERN: &str = "^[a-z0-9][a-z0-9_-]*$";
pub const STEP_ID_PATTERN: &str = "^[a-z][a-z0-9_]*$";

/// A flow: a trigger, connections and the steps that run when it fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
#[schemars(title = "flowrun flow file")]
pub struct Flow {
    /// The flow's id, unique in a repository: lowercase letters, digits, `-` and `_`.
    #[schemars(regex(pattern = FLOW_ID_PATTERN))]
    pub flow: String,
    /// One paragraph on what the flow does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Typed inputs for manual runs: `flowrun run x.yaml --input since=2024-01-01`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub inputs: IndexMap<String, InputSpec>,
    /// Named connections; more may come from the project file `flowrun.yaml`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub connections: IndexMap<String, Connection>,
    /// What starts the flow besides `flowrun run`; absent means manual runs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Trigger>,
    /// The steps, in reading order; the dependency graph decides the order they run in.
    #[schemars(length(min = 1))]
    pub steps: Vec<Step>,
    /// Steps that run when the run fails, with `error` in their context.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_failure: Vec<Step>,
    /// The run's result (a template), printed by `flowrun run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// Options for the state kept between runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<StateOptions>,
}

/// A typed input of a manual run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct InputSpec {
    /// The input's type; values given on the command line are converted to it.
    #[serde(rename = "type")]
    pub kind: InputType,
    /// The value when none is given; a literal (not a template) of the input's type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// A run without this input fails to start (exit 2). Default: false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    /// What the input means, shown by `--help` of the flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The JSON type of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InputType {
    String,
    Integer,
    Number,
    Boolean,
    Object,
    Array,
}

impl InputType {
    pub fn as_str(self) -> &'static str {
        match self {
            InputType::String => "string",
            InputType::Integer => "integer",
            InputType::Number => "number",
            InputType::Boolean => "boolean",
            InputType::Object => "object",
            InputType::Array => "array",
        }
    }

    /// True when a literal JSON value has this type (an integer is also a number).
    pub fn accepts(self, value: &Value) -> bool {
        match self {
            InputType::String => value.is_string(),
            InputType::Integer => value.is_i64() || value.is_u64(),
            InputType::Number => value.is_number(),
            InputType::Boolean => value.is_boolean(),
            InputType::Object => value.is_object(),
            InputType::Array => value.is_array(),
        }
    }
}

/// A connection: which connector, and its configuration (checked against the connector's schema).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct Connection {
    /// The connector's name, e.g. `onecrm`, `exact_online`, `http`.
    pub connector: String,
    /// The connector's settings; strings may be templates over `env` and `secrets`.
    #[serde(default)]
    pub config: IndexMap<String, Value>,
}

/// Options for the state kept between runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct StateOptions {
    /// Where cursors are kept: per step (the default). `flow` is reserved for a later version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor_scope: Option<CursorScope>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CursorScope {
    Flow,
    Step,
}

/// One step: a connector module (`uses`) or a built-in transform pipeline (`transform`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct Step {
    /// Unique in the flow: a lowercase letter, then lowercase letters, digits and `_`.
    #[schemars(regex(pattern = STEP_ID_PATTERN))]
    pub id: String,
    /// The module to call: `<connector>.<module>`, e.g. `onecrm.search_records`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uses: Option<String>,
    /// Instead of `uses`: a built-in pipeline that reshapes data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<Transform>,
    /// The connection to use; may be omitted when exactly one connection of the connector exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// The module's parameters, checked against its schema; strings may be templates.
    #[serde(default, rename = "with", skip_serializing_if = "Option::is_none")]
    pub params: Option<IndexMap<String, Value>>,
    /// Extra dependencies: steps that must finish first (a step that needs a skipped step still runs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<String>,
    /// A condition; when false the step is `skipped`, and so are steps that use its output.
    #[serde(default, rename = "if", skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition>,
    /// A list expression: the step runs once per element with `item` and `index` bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "for_each_schema")]
    pub for_each: Option<Value>,
    /// For `for_each`: an expression naming each item in logs and incomplete executions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_key: Option<String>,
    /// For `for_each`: how many items run at once (default 1, which keeps their order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub concurrency: Option<u32>,
    /// Read only what changed since the last successful run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental: Option<Incremental>,
    /// Retries of a failed attempt, before `on_error` applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    /// Time limit per attempt: `500ms`, `30s`, `5m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// What happens when the step (or one item) still fails after its retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_error: Option<OnError>,
}

/// A step condition: a bare expression (`{{ }}` optional) or a literal boolean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Condition {
    Literal(bool),
    Expression(String),
}

/// Delta reads: the cursor saved after a successful run and offered to the next one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct Incremental {
    /// A template over the step's `output` giving the value to store, e.g. `"{{ output | map(attribute='modified') | max }}"`.
    pub cursor: String,
    /// The cursor's value before the first successful run.
    pub initial: Value,
}

/// Retry policy of a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct Retry {
    /// Attempts in all, the first included.
    #[schemars(range(min = 1))]
    pub attempts: u32,
    /// How the wait between attempts grows. Default: exponential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
    /// The first wait. Default: 1s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial: Option<Duration>,
    /// The longest wait. Default: 1m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Duration>,
    /// Which failures are retried. Default: timeout, connect, 429, 5xx (writes: see flow-spec).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on: Vec<RetryOn>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Backoff {
    Fixed,
    Exponential,
}

/// A kind of failure that may be retried. `429` may be written with or without quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Value")]
pub enum RetryOn {
    #[serde(rename = "timeout")]
    Timeout,
    #[serde(rename = "connect")]
    Connect,
    #[serde(rename = "429")]
    TooManyRequests,
    #[serde(rename = "5xx")]
    ServerError,
    #[serde(rename = "4xx")]
    ClientError,
}

impl TryFrom<Value> for RetryOn {
    type Error = String;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        match value
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| value.to_string())
            .as_str()
        {
            "timeout" => Ok(RetryOn::Timeout),
            "connect" => Ok(RetryOn::Connect),
            "429" => Ok(RetryOn::TooManyRequests),
            "5xx" => Ok(RetryOn::ServerError),
            "4xx" => Ok(RetryOn::ClientError),
            other => Err(format!(
                "`{other}` is not a retryable failure: use timeout, connect, 429, 5xx or 4xx"
            )),
        }
    }
}

impl JsonSchema for RetryOn {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RetryOn".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A failure to retry: `timeout`, `connect` (no connection made), `429` (rate limited), `5xx` or `4xx` responses.",
            "enum": ["timeout", "connect", "429", 429, "5xx", "4xx"],
        })
    }
}

/// What happens after retries are spent: `fail`, `ignore`, `break`, or `{ resume: <value> }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// The run fails; steps not yet started are cancelled; `on_failure` steps run.
    Fail,
    /// The step (or item) yields no output, is marked `ignored`, and the run goes on.
    Ignore,
    /// The step (or item) is stored as an incomplete execution; the run ends `partial`.
    Break,
    /// As if the step had returned this value.
    Resume(Value),
}

/// Written by hand so that a misspelt word gets "not one of fail, ignore, break".
impl JsonSchema for OnError {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "OnError".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "After retries: `fail` (default) fails the run; `ignore` yields no output and goes on; `break` stores the step or item as an incomplete execution and the run ends `partial`; `{ resume: <value> }` goes on as if the step returned the value.",
            "oneOf": [
                { "type": "string", "enum": ["fail", "ignore", "break"] },
                {
                    "type": "object",
                    "properties": { "resume": { "description": "The output to go on with." } },
                    "required": ["resume"],
                    "additionalProperties": false,
                },
            ],
        })
    }
}

/// `for_each` is a template giving a list, or a literal list.
fn for_each_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "A list expression (`\"{{ steps.a.output }}\"`) or a literal list: the step runs once per element with `item` and `index` bound.",
        "type": ["string", "array"],
    })
}
