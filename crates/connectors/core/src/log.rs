//! `core.log`: one line in the run's log.

use flowrun_connect::module::{CallContext, Module, ModuleError};
use flowrun_flow::catalog::ModuleKind;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::parse_params;

pub(crate) const NAME: &str = "log";

/// The `with:` block of `core.log`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct LogParams {
    /// The line to write, e.g. `{{ steps.orders.output | length }} orders to send`.
    pub message: String,
    /// How important the line is; default `info`. Text logs show `warn` and `error` unless
    /// `FLOWRUN_LOG` asks for more.
    #[serde(default)]
    pub level: LogLevel,
    /// Any value to write beside the message, as compact JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Json>,
}

/// The level of a `core.log` line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    #[default]
    Info,
    Warn,
    Error,
}

/// The output of `core.log`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct LogOutput {
    /// The line written.
    pub message: String,
    /// Its level.
    pub level: LogLevel,
}

pub(crate) struct Log;

#[async_trait::async_trait]
impl Module for Log {
    fn name(&self) -> &str {
        NAME
    }

    fn kind(&self) -> ModuleKind {
        ModuleKind::Action
    }

    async fn call(&self, context: &CallContext, params: Json) -> Result<Json, ModuleError> {
        let params: LogParams = parse_params(NAME, params)?;
        let data = params.data.as_ref().map(Json::to_string);
        let (step, item, data, message) = (
            context.step_id.as_str(),
            context.item_index,
            data.as_deref(),
            params.message.as_str(),
        );
        match params.level {
            LogLevel::Info => tracing::info!(step, item, data, "{message}"),
            LogLevel::Warn => tracing::warn!(step, item, data, "{message}"),
            LogLevel::Error => tracing::error!(step, item, data, "{message}"),
        }
        let output = LogOutput {
            message: params.message,
            level: params.level,
        };
        Ok(serde_json::json!(output))
    }
}
