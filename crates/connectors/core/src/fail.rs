//! `core.fail`: fails the step on purpose, as a failure of a chosen kind.

use flowrun_connect::module::{CallContext, ErrorKind, Module, ModuleError};
use flowrun_flow::catalog::ModuleKind;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::{invalid, parse_params};

pub(crate) const NAME: &str = "fail";

/// The `with:` block of `core.fail`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct FailParams {
    /// The error of the step, as people read it, e.g. `order {{ item.id }} has no lines`.
    pub message: String,
    /// Whether to fail; default true. A condition such as `"{{ item.amount < 0 }}"` fails only
    /// the items it holds for.
    #[serde(default = "default_when")]
    #[schemars(default = "default_when")]
    pub when: bool,
    /// What kind of failure it is, for `retry.on`: `client` (4xx), `server` (5xx), `timeout`,
    /// `connect`, `rate_limited` (429) or `other` (the default; no `retry.on` matches it).
    #[serde(default)]
    pub kind: FailKind,
    /// An HTTP status to report with the error, e.g. `503`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 100, max = 599))]
    pub status: Option<u16>,
}

fn default_when() -> bool {
    true
}

/// The kind of failure `core.fail` reports, as `retry.on` sees it: `client` (4xx: retrying will
/// not help), `server` (5xx), `timeout`, `connect` (the service could not be reached),
/// `rate_limited` (429) or `other` (anything else; no `retry.on` matches it).
// No doc comment per variant: schemars would make each a `oneOf` branch, and a wrong value
// would be reported as "not valid under any of the schemas" instead of "not one of".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailKind {
    Client,
    Server,
    Timeout,
    Connect,
    RateLimited,
    #[default]
    Other,
}

impl FailKind {
    pub fn error_kind(self) -> ErrorKind {
        match self {
            FailKind::Client => ErrorKind::Client,
            FailKind::Server => ErrorKind::Server,
            FailKind::Timeout => ErrorKind::Timeout,
            FailKind::Connect => ErrorKind::Connect,
            FailKind::RateLimited => ErrorKind::RateLimited,
            FailKind::Other => ErrorKind::Other,
        }
    }
}

/// The output of `core.fail` when `when` is false.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct FailOutput {
    /// Always false: a step that failed has no output.
    pub failed: bool,
}

pub(crate) struct Fail;

#[async_trait::async_trait]
impl Module for Fail {
    fn name(&self) -> &str {
        NAME
    }

    fn kind(&self) -> ModuleKind {
        ModuleKind::Action
    }

    async fn call(&self, _context: &CallContext, params: Json) -> Result<Json, ModuleError> {
        let params: FailParams = parse_params(NAME, params)?;
        // serde takes any u16; the schema's range is checked here too, since a rendered
        // template reaches the module unchecked.
        if let Some(status) = params.status.filter(|status| !(100..=599).contains(status)) {
            return Err(invalid(
                NAME,
                &format!("`status`: {status} is not an HTTP status (100 to 599)"),
            ));
        }
        if !params.when {
            return Ok(serde_json::json!(FailOutput { failed: false }));
        }
        let error = ModuleError::new(params.kind.error_kind(), params.message);
        Err(match params.status {
            Some(status) => error.with_status(status),
            None => error,
        })
    }
}
