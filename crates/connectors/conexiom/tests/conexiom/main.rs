//! The `conexiom` modules against the sandbox's Conexiom simulator over real sockets: a sandbox
//! per test, modules found through a `Registry` and called with a `CallContext` as the engine
//! does.

#![allow(clippy::unwrap_used)]

mod auth;
mod delta;
mod errors;
mod reads;

use std::sync::Arc;
use std::time::Duration;

use flowrun_connect::module::{CallContext, ModuleError};
use flowrun_connect::registry::Registry;
use flowrun_connect::retry::RetryPolicy;
use flowrun_connect::runtime::HttpRuntime;
use flowrun_sandbox::conexiom_credentials as creds;
use flowrun_sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value as Json, json};

/// A sandbox of the test's own.
async fn sandbox() -> Sandbox {
    Sandbox::start(0, SandboxConfig::default()).await.unwrap()
}

/// The connection config of the simulator's demo user, reading HubCo 17.
fn connection(sandbox: &Sandbox) -> Json {
    json!({
        "api_url": sandbox.conexiom_url(),
        "hubco_id": creds::HUBCO_ID,
        "username": creds::USERNAME,
        "password": creds::PASSWORD,
        "client_id": creds::CLIENT_ID,
        "client_secret": creds::CLIENT_SECRET,
    })
}

/// A call context of connection `conexiom` with quick retries, on its own runtime.
fn context(config: Json) -> CallContext {
    context_on(Arc::new(HttpRuntime::default()), config)
}

/// [`context`] on a given runtime: calls on one runtime share its clients and tokens, as the
/// calls of one run do.
fn context_on(runtime: Arc<HttpRuntime>, config: Json) -> CallContext {
    let mut context = CallContext::new("run-1", "call");
    context.http = runtime;
    context.retry = Arc::new(RetryPolicy {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(100),
        ..RetryPolicy::default()
    });
    context.with_connection("conexiom", config)
}

/// Calls `uses` (`conexiom.<module>`) the way the engine finds it: through the registry.
async fn call(context: &CallContext, uses: &str, params: Json) -> Result<Json, ModuleError> {
    let mut registry = Registry::default();
    registry.register(flowrun_connector_conexiom::connector());
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

/// [`ok`] of a list module: its records.
async fn list(context: &CallContext, uses: &str, params: Json) -> Vec<Json> {
    match ok(context, uses, params).await {
        Json::Array(records) => records,
        other => panic!("{uses}: not a list: {other}"),
    }
}

/// Output `output` fits the catalog's output schema of `module`.
fn assert_output(module: &str, output: &Json) {
    flowrun_connect::testing::assert_output(&flowrun_connector_conexiom::spec(), module, output.clone());
}

/// Fails when a secret shows in a message.
fn assert_no_secret(text: &str, secret: &str) {
    assert!(!text.contains(secret), "`{secret}` leaked into: {text}");
}

/// The requests the simulator saw whose path starts with `prefix` (`GET /conexiom/…`).
fn requests_under(sandbox: &Sandbox, prefix: &str) -> u64 {
    let stats = sandbox.control().stats();
    stats["requests"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(key, _)| key.starts_with(prefix))
        .map(|(_, count)| count.as_u64().unwrap())
        .sum()
}

/// `GET` + the path of `segments` below the simulator's API root, as the request counters key it.
fn api_path(sandbox: &Sandbox, rest: &str) -> String {
    let root = sandbox.conexiom_url();
    let path = root.split_once("://").unwrap().1.split_once('/').unwrap().1;
    format!("/{path}/{rest}")
}
