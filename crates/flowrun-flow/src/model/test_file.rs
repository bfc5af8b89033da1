//! A flow test file (`<name>.test.yaml`): the cases `flowrun test` runs offline against one flow.
//! The contract is "Flow tests" in flow-spec.md; the rules the spec leaves open are in
//! docs/testing.md.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::flow::RetryOn;

/// A file of test cases for one flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
#[schemars(title = "flowrun flow test file")]
pub struct TestFile {
    /// The flow under test, relative to this file (e.g. `orders-sync.yaml`).
    #[schemars(length(min = 1))]
    pub flow: String,
    /// The cases, run in parallel; each starts from a fresh state store.
    #[schemars(length(min = 1))]
    pub cases: Vec<TestCase>,
}

/// One run of the flow, with what it is given and what it must do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct TestCase {
    /// What the case checks, unique in the file; `flowrun test --filter` matches it.
    #[schemars(length(min = 1))]
    pub name: String,
    /// The flow's inputs, typed as the flow declares them (defaults apply to the others).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub inputs: IndexMap<String, Value>,
    /// The trigger event (a webhook's body with `headers` and `query`, a connector's event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Value>,
    /// `env.X` values; the process environment is never read by a test.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub env: IndexMap<String, String>,
    /// Fake `secrets.X` values; a secret not given here is `fake-<NAME>`. Real secrets (the
    /// environment, secrets files) are never read by a test.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub secrets: IndexMap<String, String>,
    /// What `now()` returns and `run.started_at` is (RFC 3339). Default: the cassette's
    /// recorded instant, else `2025-01-01T00:00:00Z`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<String>,
    /// The seed of the `uuid()` sequence. Default: the cassette's, else 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid_seed: Option<u64>,
    /// `run.id`. Default: `test-run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Steps that are not called: their outputs (or errors) are given here, by step id.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub mock: IndexMap<String, Mock>,
    /// A cassette written by `flowrun run --record`, relative to this file: HTTP requests of
    /// steps that are not mocked are answered from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<String>,
    /// What the run must do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
    /// Compare the run's status, output and calls with the snapshot stored beside the test
    /// file (`<name>.test.snap`); `flowrun test --update` writes it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub snapshot: bool,
}

/// What a mocked step returns instead of calling its connector. Give one of `output`,
/// `outputs` or `error`; `errors` picks calls of `outputs` (or `output`) that fail instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct Mock {
    /// The output of every call (every item of a `for_each` step).
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// One output per item of a `for_each` step (by item index), or per call in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Vec<Value>>,
    /// Every call fails with this error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<MockError>,
    /// Calls that fail, by item index (or call number, from 0): `{ "1": { status: 500, message: … } }`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(with = "IndexMap<String, MockError>")]
    pub errors: IndexMap<String, MockError>,
}

/// An error a mocked step fails with, as a connector would report it after its retries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct MockError {
    /// The error message.
    #[schemars(length(min = 1))]
    pub message: String,
    /// The HTTP status, if the error is an HTTP response (sets `kind`: 429, 4xx or 5xx).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 100, max = 599))]
    pub status: Option<u16>,
    /// The error kind `retry.on` and `error.kind` see. Default: from `status`, else `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<MockErrorKind>,
}

/// The kinds of error a mock may give (those of a module call). `429` may be written with or
/// without quotes, as in `retry.on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Value")]
pub enum MockErrorKind {
    #[serde(rename = "timeout")]
    Timeout,
    #[serde(rename = "connect")]
    Connect,
    #[serde(rename = "429")]
    RateLimited,
    #[serde(rename = "5xx")]
    Server,
    #[serde(rename = "4xx")]
    Client,
    #[serde(rename = "invalid")]
    Invalid,
    #[serde(rename = "other")]
    Other,
}

impl TryFrom<Value> for MockErrorKind {
    type Error = String;

    /// The kinds `retry.on` names are read as `retry.on` reads them (`429` with or without
    /// quotes); `invalid` and `other` are the two a retry never matches.
    fn try_from(value: Value) -> Result<Self, Self::Error> {
        if let Ok(kind) = RetryOn::try_from(value.clone()) {
            return Ok(match kind {
                RetryOn::Timeout => MockErrorKind::Timeout,
                RetryOn::Connect => MockErrorKind::Connect,
                RetryOn::TooManyRequests => MockErrorKind::RateLimited,
                RetryOn::ServerError => MockErrorKind::Server,
                RetryOn::ClientError => MockErrorKind::Client,
            });
        }
        match value.as_str() {
            Some("invalid") => Ok(MockErrorKind::Invalid),
            Some("other") => Ok(MockErrorKind::Other),
            _ => Err(format!(
                "`{}` is not an error kind: use timeout, connect, 429, 5xx, 4xx, invalid or other",
                value.as_str().map_or_else(|| value.to_string(), str::to_owned)
            )),
        }
    }
}

/// Written by hand: `try_from` hides the values from the derived schema.
impl JsonSchema for MockErrorKind {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "MockErrorKind".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "The kind of failure: `timeout`, `connect` (no connection made), `429` (rate limited), `5xx` or `4xx` responses, `invalid` (parameters or a response that do not fit the module) or `other`.",
            "enum": ["timeout", "connect", "429", 429, "5xx", "4xx", "invalid", "other"],
        })
    }
}

/// `output: null` is an output (a step that returns null), not a mock or expectation without
/// one: a key that is present is kept, whatever its value.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// What a case checks. Every key is optional; a case without `expect` (and without
/// `snapshot`) checks only that the run ends `success`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct Expect {
    /// How the run ends. Default: `success`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ExpectedStatus>,
    /// The flow's output.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// How `output` and `calls` are compared: `exact` (default) or `subset` (objects may have
    /// more keys than expected; lists still have the expected length).
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub match_mode: Option<MatchMode>,
    /// The run's error (of a failed run), compared as a subset: name the fields that matter,
    /// e.g. `{ step: create, status: 500 }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// Steps' statuses, by step id.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub steps: IndexMap<String, ExpectedStep>,
    /// What mocked steps were called with (their rendered `with:`, secrets as `***`), by step
    /// id, one entry per call in item order.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub calls: IndexMap<String, Vec<Value>>,
    /// The incomplete executions `break` stored, in step and item order; each entry is
    /// compared as a subset of `{step, item_index, item_key, error}`. `[]` expects none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<Vec<Value>>,
}

/// A run's end, as `expect.status` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedStatus {
    Success,
    Partial,
    Failed,
    Cancelled,
}

impl ExpectedStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExpectedStatus::Success => "success",
            ExpectedStatus::Partial => "partial",
            ExpectedStatus::Failed => "failed",
            ExpectedStatus::Cancelled => "cancelled",
        }
    }
}

/// How expected values are compared with actual ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchMode {
    #[default]
    Exact,
    Subset,
}

/// What one step must have done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct ExpectedStep {
    /// `success`, `failed`, `skipped`, `ignored`, `resumed`, `broken` or `cancelled`, as
    /// `flowrun runs show` prints it.
    pub status: ExpectedStepStatus,
}

/// A step's status, as run records name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedStepStatus {
    Success,
    Failed,
    Skipped,
    Ignored,
    Resumed,
    Broken,
    Cancelled,
}

impl ExpectedStepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExpectedStepStatus::Success => "success",
            ExpectedStepStatus::Failed => "failed",
            ExpectedStepStatus::Skipped => "skipped",
            ExpectedStepStatus::Ignored => "ignored",
            ExpectedStepStatus::Resumed => "resumed",
            ExpectedStepStatus::Broken => "broken",
            ExpectedStepStatus::Cancelled => "cancelled",
        }
    }
}
