use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flowrun_connect::module::{CallContext, ErrorKind, Module, ModuleError};
use flowrun_connect::schema::{instance_problems, spec_problems};
use flowrun_connect::testing::{assert_accepts, assert_output, assert_rejects};
use flowrun_flow::catalog::ModuleKind;
use serde_json::{Value as Json, json};

use crate::{connector, spec};

fn context() -> CallContext {
    CallContext::new("run-1", "check")
}

fn module(name: &str) -> Arc<dyn Module> {
    connector().module(name).expect("core has this module")
}

async fn call(name: &str, params: Json) -> Result<Json, ModuleError> {
    module(name).call(&context(), params).await
}

/// The error of a call that must fail as `Invalid`, naming `key` in its message.
#[track_caller]
fn assert_invalid(result: Result<Json, ModuleError>, key: &str) {
    let error = result.expect_err("bad parameters fail");
    assert_eq!(error.kind, ErrorKind::Invalid, "{error}");
    assert!(error.message.contains(&format!("`{key}`")), "{error}");
}

#[test]
fn spec_is_well_formed() {
    let spec = spec();
    assert_eq!(spec_problems(&spec), Vec::<String>::new());
    assert_eq!(spec.name, "core");
    assert!(spec.connection_optional);
    assert_eq!(
        instance_problems(&spec.connection_schema, &json!({})),
        Vec::<String>::new()
    );
    assert!(!instance_problems(&spec.connection_schema, &json!({ "base_url": "x" })).is_empty());
}

#[test]
fn the_runtime_matches_the_catalog() {
    let connector = connector();
    assert_eq!(connector.name(), "core");
    let spec = connector.spec();
    let names: Vec<&str> = spec.modules.iter().map(|module| module.name.as_str()).collect();
    assert_eq!(names, ["sleep", "fail", "log", "value"]);
    for module_spec in &spec.modules {
        let module = module(&module_spec.name);
        assert_eq!(module.name(), module_spec.name);
        assert_eq!(module.kind(), module_spec.kind, "{}", module_spec.name);
    }
    assert_eq!(module("value").kind(), ModuleKind::Get);
    assert!(connector.module("wait").is_none());
}

#[test]
fn schemas_accept_good_blocks() {
    let spec = spec();
    assert_accepts(&spec, "sleep", json!({ "duration": "500ms" }));
    assert_accepts(&spec, "sleep", json!({ "duration": "{{ inputs.pause }}" }));
    assert_rejects(&spec, "sleep", json!({}));
    assert_rejects(&spec, "sleep", json!({ "duration": "2 seconds" }));
    assert_rejects(&spec, "sleep", json!({ "duration": 2 }));

    assert_accepts(&spec, "fail", json!({ "message": "no lines" }));
    assert_accepts(
        &spec,
        "fail",
        json!({ "message": "order {{ item.id }}: negative amount", "when": "{{ item.amount < 0 }}",
                "kind": "server", "status": 503 }),
    );
    assert_accepts(
        &spec,
        "fail",
        json!({ "message": "x", "when": false, "kind": "rate_limited" }),
    );
    assert_rejects(&spec, "fail", json!({ "when": true }));
    assert_rejects(&spec, "fail", json!({ "message": "x", "kind": "fatal" }));
    assert_rejects(&spec, "fail", json!({ "message": "x", "status": 42 }));
    assert_rejects(&spec, "fail", json!({ "message": "x", "when": "yes" }));

    assert_accepts(&spec, "log", json!({ "message": "starting" }));
    assert_accepts(
        &spec,
        "log",
        json!({ "message": "{{ steps.orders.output | length }} orders", "level": "warn",
                "data": { "ids": [1, 2] } }),
    );
    assert_rejects(&spec, "log", json!({ "message": "x", "level": "debug" }));
    assert_rejects(&spec, "log", json!({ "level": "info" }));

    assert_accepts(&spec, "value", json!({ "value": { "total": "{{ inputs.total }}" } }));
    assert_accepts(&spec, "value", json!({ "value": null }));
    assert_rejects(&spec, "value", json!({}));
}

#[test]
fn outputs_fit_their_schemas() {
    let spec = spec();
    assert_output(&spec, "sleep", json!({ "slept_ms": 500 }));
    assert_output(&spec, "fail", json!({ "failed": false }));
    assert_output(&spec, "log", json!({ "message": "m", "level": "error" }));
    assert_output(&spec, "value", json!([1, "two", null]));
}

#[tokio::test]
async fn sleep_waits_and_says_how_long() {
    let started = Instant::now();
    let output = call("sleep", json!({ "duration": "20ms" })).await.unwrap();
    assert_eq!(output, json!({ "slept_ms": 20 }));
    assert!(started.elapsed() >= Duration::from_millis(20));
    assert_output(&spec(), "sleep", output);
}

#[tokio::test]
async fn sleep_stops_when_the_run_is_cancelled() {
    let context = context();
    let cancel = context.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        cancel.cancel();
    });
    let started = Instant::now();
    let error = module("sleep")
        .call(&context, json!({ "duration": "10s" }))
        .await
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Cancelled, "{error}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[tokio::test]
async fn sleep_does_not_start_in_a_cancelled_run() {
    let context = context();
    context.cancel.cancel();
    let error = module("sleep")
        .call(&context, json!({ "duration": "0ms" }))
        .await
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Cancelled);
}

#[tokio::test]
async fn sleep_rejects_a_bad_duration() {
    assert_invalid(call("sleep", json!({ "duration": "2 seconds" })).await, "duration");
    assert_invalid(call("sleep", json!({ "duration": 2 })).await, "duration");
    assert_invalid(call("sleep", json!({})).await, "duration");
    assert_invalid(call("sleep", json!({ "duration": "1s", "for": "1s" })).await, "for");
}

#[tokio::test]
async fn fail_fails_with_the_message_kind_and_status() {
    let error = call("fail", json!({ "message": "order 7 has no lines" }))
        .await
        .unwrap_err();
    assert_eq!(error, ModuleError::new(ErrorKind::Other, "order 7 has no lines"));

    let kinds = [
        ("client", ErrorKind::Client),
        ("server", ErrorKind::Server),
        ("timeout", ErrorKind::Timeout),
        ("connect", ErrorKind::Connect),
        ("rate_limited", ErrorKind::RateLimited),
        ("other", ErrorKind::Other),
    ];
    for (kind, expected) in kinds {
        let error = call("fail", json!({ "message": "m", "when": true, "kind": kind }))
            .await
            .unwrap_err();
        assert_eq!(error.kind, expected, "{kind}");
        assert_eq!(error.status, None);
    }

    let error = call("fail", json!({ "message": "down", "kind": "server", "status": 503 }))
        .await
        .unwrap_err();
    assert_eq!(error, ModuleError::new(ErrorKind::Server, "down").with_status(503));
}

#[tokio::test]
async fn fail_passes_when_its_condition_is_false() {
    let output = call("fail", json!({ "message": "m", "when": false, "status": 500 }))
        .await
        .unwrap();
    assert_eq!(output, json!({ "failed": false }));
    assert_output(&spec(), "fail", output);
}

#[tokio::test]
async fn fail_rejects_bad_parameters_by_key() {
    assert_invalid(call("fail", json!({ "message": "m", "when": "yes" })).await, "when");
    let error = call("fail", json!({ "message": "m", "kind": "fatal" }))
        .await
        .unwrap_err();
    assert!(
        error
            .message
            .starts_with(r#"invalid `with` of core.fail: `kind`: "fatal" is not one of "client""#),
        "{error}"
    );
    assert_eq!(error.kind, ErrorKind::Invalid);
    assert_invalid(call("fail", json!({ "message": "m", "status": 42 })).await, "status");
    assert_invalid(call("fail", json!({ "message": "m", "status": 70000 })).await, "status");
    assert_invalid(call("fail", json!({ "when": true })).await, "message");
    assert_invalid(call("fail", json!({ "message": "m", "reason": "x" })).await, "reason");
    // Not a failure of the kind asked for: the block itself is wrong, even with `when: false`.
    assert_invalid(call("fail", json!({ "message": 1, "when": false })).await, "message");
}

/// Everything written through `tracing` while the guard lives.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn log_writes_its_line_and_returns_it() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut context = context();
    context.item_index = Some(3);
    let output = module("log")
        .call(
            &context,
            json!({ "message": "order 1234 skipped", "level": "warn", "data": { "id": 1234 } }),
        )
        .await
        .unwrap();
    assert_eq!(output, json!({ "message": "order 1234 skipped", "level": "warn" }));
    assert_output(&spec(), "log", output);

    let output = call("log", json!({ "message": "plain" })).await.unwrap();
    assert_eq!(output, json!({ "message": "plain", "level": "info" }));

    let text = captured.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains("WARN"), "{text}");
    assert!(lines[0].contains("order 1234 skipped"), "{text}");
    assert!(lines[0].contains("step=\"check\""), "{text}");
    assert!(lines[0].contains("item=3"), "{text}");
    assert!(lines[0].contains(r#"data="{\"id\":1234}""#), "{text}");
    assert!(lines[1].contains("INFO") && lines[1].contains("plain"), "{text}");
    assert!(!lines[1].contains("item="), "{text}");
}

#[tokio::test]
async fn log_rejects_bad_parameters_by_key() {
    assert_invalid(call("log", json!({ "message": "m", "level": "debug" })).await, "level");
    assert_invalid(call("log", json!({ "level": "info" })).await, "message");
}

#[tokio::test]
async fn value_returns_its_value_unchanged() {
    for value in [
        json!({ "total": 12.5, "ids": [1, 2] }),
        json!([]),
        json!("text"),
        json!(null),
    ] {
        let output = call("value", json!({ "value": value })).await.unwrap();
        assert_eq!(output, value);
    }
    assert_invalid(call("value", json!({})).await, "value");
    assert_invalid(call("value", json!({ "value": 1, "name": "x" })).await, "name");
}
