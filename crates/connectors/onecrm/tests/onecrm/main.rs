//! The `onecrm` modules against the sandbox's 1CRM simulator over real sockets: a sandbox per
//! test, modules found through a `Registry` and called with a `CallContext` as the engine does.

#![allow(clippy::unwrap_used)]

mod errors;
mod files;
mod meta;
mod records;
mod trigger;

use std::sync::Arc;
use std::time::Duration;

use flowrun_connect::module::{CallContext, ModuleError};
use flowrun_connect::registry::Registry;
use flowrun_connect::retry::RetryPolicy;
use flowrun_connect::runtime::HttpRuntime;
use flowrun_sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value as Json, json};

/// The simulator's demo users.
const ADMIN: (&str, &str) = (
    flowrun_sandbox::onecrm_credentials::ADMIN_USERNAME,
    flowrun_sandbox::onecrm_credentials::ADMIN_PASSWORD,
);
const SALES: (&str, &str) = (
    flowrun_sandbox::onecrm_credentials::SALES_USERNAME,
    flowrun_sandbox::onecrm_credentials::SALES_PASSWORD,
);

/// A sandbox of the test's own.
async fn sandbox() -> Sandbox {
    Sandbox::start(0, SandboxConfig::default()).await.unwrap()
}

/// The connection config of `user` on the sandbox's 1CRM.
fn connection(sandbox: &Sandbox, (username, password): (&str, &str)) -> Json {
    json!({
        "domain": "crm.example.test",
        "username": username,
        "password": password,
        "base_url": format!("{}/api.php", sandbox.onecrm_url()),
    })
}

/// A call context of connection `crm` with quick retries, on its own runtime.
fn context(config: Json) -> CallContext {
    let mut context = CallContext::new("run-1", "call");
    context.http = Arc::new(HttpRuntime::default());
    context.retry = Arc::new(RetryPolicy {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(100),
        ..RetryPolicy::default()
    });
    context.with_connection("crm", config)
}

/// The admin's context on this sandbox.
fn admin(sandbox: &Sandbox) -> CallContext {
    context(connection(sandbox, ADMIN))
}

/// Calls `uses` (`onecrm.<module>`) the way the engine finds it: through the registry.
async fn call(context: &CallContext, uses: &str, params: Json) -> Result<Json, ModuleError> {
    let mut registry = Registry::default();
    registry.register(flowrun_connector_onecrm::connector());
    let module = registry.module(uses).unwrap_or_else(|| panic!("no module {uses}"));
    module.call(context, params).await
}

/// [`call`] that must succeed.
async fn ok(context: &CallContext, uses: &str, params: Json) -> Json {
    match call(context, uses, params.clone()).await {
        Ok(output) => output,
        Err(error) => panic!("{uses} {params}: {}", error.message),
    }
}

/// Fails when a secret shows in a message.
fn assert_no_secret(text: &str, secret: &str) {
    assert!(!text.contains(secret), "`{secret}` leaked into: {text}");
}

/// Output `output` fits the catalog's output schema of `module`.
fn assert_output(module: &str, output: &Json) {
    flowrun_connect::testing::assert_output(&flowrun_connector_onecrm::spec(), module, output.clone());
}
