//! `core.sleep`: waits, and stops waiting when the run is cancelled.

use flowrun_connect::module::{CallContext, ErrorKind, Module, ModuleError};
use flowrun_flow::Duration;
use flowrun_flow::catalog::ModuleKind;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::parse_params;

pub(crate) const NAME: &str = "sleep";

/// The `with:` block of `core.sleep`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct SleepParams {
    /// How long to wait, e.g. `500ms`, `2s`, `5m`.
    pub duration: Duration,
}

/// The output of `core.sleep`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct SleepOutput {
    /// The wait, in milliseconds: the `duration` asked for (a wait cut short fails instead).
    pub slept_ms: u64,
}

pub(crate) struct Sleep;

#[async_trait::async_trait]
impl Module for Sleep {
    fn name(&self) -> &str {
        NAME
    }

    fn kind(&self) -> ModuleKind {
        ModuleKind::Action
    }

    async fn call(&self, context: &CallContext, params: Json) -> Result<Json, ModuleError> {
        let params: SleepParams = parse_params(NAME, params)?;
        let duration = params.duration.as_std();
        tokio::select! {
            // A run already stopping does not start the wait.
            biased;
            () = context.cancel.cancelled() => {
                return Err(ModuleError::new(
                    ErrorKind::Cancelled,
                    format!("cancelled during a sleep of {}: the run is stopping", params.duration),
                ));
            }
            () = tokio::time::sleep(duration) => {}
        }
        let output = SleepOutput {
            slept_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
        };
        Ok(serde_json::json!(output))
    }
}
