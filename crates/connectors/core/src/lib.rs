//! The built-in `core` connector: steps that call no API.
//!
//! - `core.sleep` waits (between two API calls, or to give an end-to-end test a step that
//!   takes time) and stops at once when the run is cancelled;
//! - `core.fail` fails the step with a chosen message, error kind and status, when a condition
//!   holds: a clear stop for bad data, and a way to exercise `retry` and `on_error`;
//! - `core.log` writes one line to the run's log;
//! - `core.value` returns its `value` unchanged, to name a computed value once.
//!
//! Unlike the other connector crates, this one is a runtime as well as a description:
//! [`connector`] is what the binary registers in its `Registry`, and [`spec`] is the catalog
//! entry the validator reads. The connector takes no connection. It knows nothing of the
//! engine: each module is a plain [`Module`](flowrun_connect::module::Module) called with
//! rendered parameters and a `CallContext`.

mod fail;
mod log;
mod sleep;
mod value;

use std::sync::Arc;

use flowrun_connect::module::{Connector, Module, ModuleError};
use flowrun_connect::schema::{NoParams, input_schema, module};
use flowrun_flow::catalog::{ConnectorSpec, ModuleKind};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

pub use fail::{FailKind, FailOutput, FailParams};
pub use log::{LogLevel, LogOutput, LogParams};
pub use sleep::{SleepOutput, SleepParams};
pub use value::ValueParams;

/// The name in `uses: core.<module>`.
pub const NAME: &str = "core";

/// The catalog entry of the `core` connector.
pub fn spec() -> ConnectorSpec {
    ConnectorSpec {
        name: NAME.to_owned(),
        description: "Built-in steps that call no API: wait, fail on purpose, write a log line, \
                      name a value. They need no connection."
            .to_owned(),
        connection_schema: input_schema::<NoParams>(),
        connection_optional: true,
        modules: vec![
            module::<SleepParams, SleepOutput>(
                sleep::NAME,
                ModuleKind::Action,
                "Waits for `duration`, then returns `{slept_ms}`. A run that stops (a failure \
                 elsewhere, Ctrl-C, the step's timeout) ends the wait at once.",
            ),
            module::<FailParams, FailOutput>(
                fail::NAME,
                ModuleKind::Action,
                "Fails the step with `message` when `when` is true (the default), as an error of \
                 `kind` with an optional HTTP `status`, so `retry` and `on_error` treat it like \
                 a real failure; returns `{failed: false}` otherwise.",
            ),
            module::<LogParams, LogOutput>(
                log::NAME,
                ModuleKind::Action,
                "Writes `message` (and `data`, when given) to the run's log at `level`, with the \
                 step and item, and returns `{message, level}`.",
            ),
            value::spec(),
        ],
    }
}

/// The runtime of the `core` connector, for the binary's `Registry`.
pub fn connector() -> Arc<dyn Connector> {
    Arc::new(CoreConnector)
}

struct CoreConnector;

impl Connector for CoreConnector {
    fn name(&self) -> &str {
        NAME
    }

    fn spec(&self) -> ConnectorSpec {
        spec()
    }

    fn module(&self, name: &str) -> Option<Arc<dyn Module>> {
        match name {
            sleep::NAME => Some(Arc::new(sleep::Sleep)),
            fail::NAME => Some(Arc::new(fail::Fail)),
            log::NAME => Some(Arc::new(log::Log)),
            value::NAME => Some(Arc::new(value::Value)),
            _ => None,
        }
    }
}

/// The rendered `with:` block of `core.<module>` as its typed parameters.
fn parse_params<P: DeserializeOwned + JsonSchema>(module: &str, params: Json) -> Result<P, ModuleError> {
    flowrun_connect::schema::parse_params(&format!("{NAME}.{module}"), params)
}

/// An [`ErrorKind::Invalid`] error about the `with:` block of `core.<module>`.
fn invalid(module: &str, why: &str) -> ModuleError {
    flowrun_connect::schema::invalid_params(&format!("{NAME}.{module}"), why)
}

#[cfg(test)]
mod tests;
