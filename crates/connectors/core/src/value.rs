//! `core.value`: returns its parameter, so a computed value gets a name (`steps.<id>.output`).

use flowrun_connect::module::{CallContext, Module, ModuleError};
use flowrun_connect::schema::module;
use flowrun_flow::catalog::{ModuleKind, ModuleSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::parse_params;

pub(crate) const NAME: &str = "value";

/// The `with:` block of `core.value`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct ValueParams {
    /// Any value (a template keeps its type: a list stays a list); it becomes the output.
    pub value: Json,
}

/// The catalog entry: the output is whatever `value` was.
pub(crate) fn spec() -> ModuleSpec {
    let mut spec = module::<ValueParams, Json>(
        NAME,
        // It reads nothing outside the run, and so runs under `--dry-run=reads`.
        ModuleKind::Get,
        "Returns `value` unchanged, as the step's output: a computed value named once and \
         read as `steps.<id>.output` by the steps after it.",
    );
    spec.output_schema = serde_json::json!({ "description": "The `value` parameter, unchanged." });
    spec
}

pub(crate) struct Value;

#[async_trait::async_trait]
impl Module for Value {
    fn name(&self) -> &str {
        NAME
    }

    fn kind(&self) -> ModuleKind {
        ModuleKind::Get
    }

    async fn call(&self, _context: &CallContext, params: Json) -> Result<Json, ModuleError> {
        let params: ValueParams = parse_params(NAME, params)?;
        Ok(params.value)
    }
}
