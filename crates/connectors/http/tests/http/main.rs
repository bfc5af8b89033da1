//! `http.request` and the HTTP layer under it, against the sandbox over real sockets.

#![allow(clippy::unwrap_used)]

mod auth;
mod errors;
mod pages;
mod retries;

use std::sync::Arc;
use std::time::Duration;

use flowrun_connect::module::{CallContext, ModuleError};
use flowrun_connect::retry::RetryPolicy;
use flowrun_connect::runtime::HttpRuntime;
use flowrun_sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value as Json, json};

/// A sandbox of the test's own.
async fn sandbox() -> Sandbox {
    Sandbox::start(0, SandboxConfig::default()).await.unwrap()
}

/// A call context with quick retries (10 ms, then 20 ms…) so tests do not wait seconds.
fn context(runtime: &Arc<HttpRuntime>, connection: Option<Json>) -> CallContext {
    let mut context = CallContext::new("run-1", "call");
    context.http = runtime.clone();
    context.retry = Arc::new(RetryPolicy {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(100),
        ..RetryPolicy::default()
    });
    match connection {
        Some(config) => context.with_connection("api", config),
        None => context,
    }
}

async fn request(context: &CallContext, params: Json) -> Result<Json, ModuleError> {
    let module = flowrun_connector_http::connector().module("request").unwrap();
    module.call(context, params).await
}

/// One request on a fresh runtime.
async fn call(connection: Option<Json>, params: Json) -> Result<Json, ModuleError> {
    let runtime = Arc::new(HttpRuntime::default());
    request(&context(&runtime, connection), params).await
}

/// Fails when a secret shows in a message.
fn assert_no_secret(text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!text.contains(secret), "`{secret}` leaked into: {text}");
    }
}

#[tokio::test]
async fn echo_sends_query_headers_json_form_and_files() {
    let sandbox = sandbox().await;
    let base = json!({ "base_url": format!("{}/test", sandbox.base_url()) });
    let out = call(
        Some(base.clone()),
        json!({ "method": "POST", "url": "/echo/orders?x=1", "query": { "tag": ["a", "b"], "n": 2, "skip": null },
                "headers": { "X-Trace": "t1" }, "body": { "id": 7 } }),
    )
    .await
    .unwrap();
    assert_eq!(out["status"], 200);
    serde_json::from_value::<flowrun_connector_http::RequestOutput>(out.clone()).unwrap();
    let echoed = &out["body"];
    assert_eq!(echoed["method"], "POST");
    assert_eq!(echoed["path"], "/test/echo/orders");
    assert_eq!(echoed["query"], json!({ "x": "1", "tag": ["a", "b"], "n": "2" }));
    assert_eq!(echoed["headers"]["x-trace"], "t1");
    assert!(
        echoed["headers"]["user-agent"]
            .as_str()
            .unwrap()
            .starts_with("flowrun/")
    );
    assert_eq!(echoed["body"], json!({ "id": 7 }));

    let out = call(
        Some(base.clone()),
        json!({ "method": "POST", "url": "echo", "form": { "a": "1", "b": true } }),
    )
    .await
    .unwrap();
    assert_eq!(out["body"]["body"], json!({ "a": "1", "b": "true" }));

    let out = call(
        Some(base.clone()),
        json!({ "method": "POST", "url": "echo", "form": { "note": "hi" },
                "files": [{ "field": "file", "file_name": "a.bin", "content": "AAEC", "encoding": "base64",
                            "content_type": "application/pdf" }] }),
    )
    .await
    .unwrap();
    let parts = out["body"]["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert_eq!(parts[1]["file_name"], "a.bin");
    assert_eq!(parts[1]["size"], 3);
    assert_eq!(parts[1]["content_type"], "application/pdf");

    let out = call(
        Some(base),
        json!({ "method": "PUT", "url": "echo", "body": "plain words" }),
    )
    .await
    .unwrap();
    assert_eq!(out["body"]["body"], "plain words");
    assert!(out["body"]["content_type"].as_str().unwrap().starts_with("text/plain"));
}

#[tokio::test]
async fn response_formats() {
    let sandbox = sandbox().await;
    let url = format!("{}/test/html", sandbox.base_url());
    let out = call(None, json!({ "url": url })).await.unwrap();
    assert!(
        out["body"].as_str().unwrap().contains("<html"),
        "auto keeps text as text"
    );
    let out = call(
        None,
        json!({ "url": format!("{}/test/bytes?size=4", sandbox.base_url()), "response": "bytes" }),
    )
    .await
    .unwrap();
    assert_eq!(
        out["body"].as_str().unwrap().len(),
        8,
        "4 bytes are 8 base64 characters"
    );
    let out = call(None, json!({ "url": format!("{}/test/gzip", sandbox.base_url()) }))
        .await
        .unwrap();
    assert_eq!(out["body"]["compressed"], true, "gzip is asked for and decoded");
}

#[tokio::test]
async fn a_relative_url_without_a_connection_is_a_clear_error() {
    let error = call(None, json!({ "url": "orders" })).await.unwrap_err();
    assert!(error.message.contains("no connection `base_url`"), "{}", error.message);
}
