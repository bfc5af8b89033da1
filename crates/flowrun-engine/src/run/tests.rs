//! Engine tests with in-process modules that implement the real `Module` trait, on a real
//! SQLite state store in a temporary folder.

use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use flowrun_connect::module::{CallContext, Connector, ErrorKind, Module, ModuleError};
use flowrun_connect::registry::Registry;
use flowrun_expr::{Runtime, Secret};
use flowrun_flow::catalog::{Catalog, ConnectorSpec, ModuleKind, ModuleSpec};
use flowrun_flow::validate::{Context, validate_flow};
use flowrun_state::{RunFilter, RunStatus, StateError, StateStore, StepStatus};
use indexmap::IndexMap;
use serde_json::{Value as Json, json};
use tokio::sync::Barrier;

use super::{Engine, EngineError, RunOutcome, RunRequest};
use crate::plan::Plan;

/// What the test modules share: counters and the barrier of the rendezvous test.
#[derive(Default)]
struct Probe {
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    calls: AtomicUsize,
    /// Calls per key, for "fail N times then succeed".
    failures_by_key: Mutex<IndexMap<String, usize>>,
    barrier: Mutex<Option<Arc<Barrier>>>,
    seen: Mutex<Vec<Json>>,
}

struct TestModule {
    name: &'static str,
    probe: Arc<Probe>,
}

#[async_trait::async_trait]
impl Module for TestModule {
    fn name(&self) -> &str {
        self.name
    }

    fn kind(&self) -> ModuleKind {
        ModuleKind::Action
    }

    async fn call(&self, context: &CallContext, params: Json) -> Result<Json, ModuleError> {
        let probe = &self.probe;
        probe.calls.fetch_add(1, Ordering::SeqCst);
        probe.seen.lock().unwrap().push(params.clone());
        match self.name {
            // Returns its parameters (`read` is the same, as a module that only reads).
            "echo" | "read" => Ok(params),
            // Waits `ms`, counting calls in flight.
            "slow" => {
                let now = probe.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                probe.peak.fetch_max(now, Ordering::SeqCst);
                let wait = params["ms"].as_u64().unwrap_or(10);
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(wait)) => {}
                    () = context.cancel.cancelled() => {
                        probe.in_flight.fetch_sub(1, Ordering::SeqCst);
                        return Err(ModuleError::new(ErrorKind::Cancelled, "cancelled"));
                    }
                }
                probe.in_flight.fetch_sub(1, Ordering::SeqCst);
                Ok(json!({ "value": params["value"].clone() }))
            }
            // Waits at the shared barrier: only returns when another call waits there too.
            "meet" => {
                let barrier = probe.barrier.lock().unwrap().clone().expect("barrier set");
                tokio::time::timeout(Duration::from_secs(10), barrier.wait())
                    .await
                    .map_err(|_| ModuleError::new(ErrorKind::Other, "nobody came to the rendezvous"))?;
                Ok(json!("met"))
            }
            // Fails `times` times per `key` (with `kind`), then returns `{ok: key}`.
            "flaky" => {
                let key = params["key"].as_str().unwrap_or("k").to_owned();
                let times = params["times"].as_u64().unwrap_or(1) as usize;
                let mut failures = probe.failures_by_key.lock().unwrap();
                let count = failures.entry(key.clone()).or_default();
                if *count < times {
                    *count += 1;
                    let (kind, status) = match params["kind"].as_str().unwrap_or("5xx") {
                        "4xx" => (ErrorKind::Client, Some(400)),
                        "429" => (ErrorKind::RateLimited, Some(429)),
                        _ => (ErrorKind::Server, Some(503)),
                    };
                    let mut error = ModuleError::new(
                        kind,
                        format!("POST /things → {} (attempt {})", status.unwrap(), context.attempt),
                    );
                    if let Some(status) = status {
                        error = error.with_status(status);
                    }
                    return Err(error);
                }
                Ok(json!({ "ok": key }))
            }
            other => unreachable!("no test module {other}"),
        }
    }
}

struct TestConnector {
    probe: Arc<Probe>,
}

const MODULES: [&str; 5] = ["echo", "slow", "meet", "flaky", "read"];

impl Connector for TestConnector {
    fn name(&self) -> &str {
        "test"
    }

    fn spec(&self) -> ConnectorSpec {
        ConnectorSpec {
            name: "test".to_owned(),
            description: "Test modules.".to_owned(),
            connection_schema: json!({ "type": "object" }),
            connection_optional: true,
            modules: MODULES
                .iter()
                .map(|name| ModuleSpec {
                    name: (*name).to_owned(),
                    kind: if *name == "read" {
                        ModuleKind::Get
                    } else {
                        ModuleKind::Action
                    },
                    description: "A test module.".to_owned(),
                    params_schema: json!({ "type": "object" }),
                    output_schema: json!({}),
                    without_connection_schema: None,
                })
                .collect(),
        }
    }

    fn module(&self, name: &str) -> Option<Arc<dyn Module>> {
        let name = MODULES.into_iter().find(|known| *known == name)?;
        Some(Arc::new(TestModule {
            name,
            probe: self.probe.clone(),
        }))
    }
}

struct Harness {
    probe: Arc<Probe>,
    registry: Arc<Registry>,
    catalog: Catalog,
    store: Arc<dyn StateStore>,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn new() -> Harness {
        let probe = Arc::new(Probe::default());
        let mut registry = Registry::default();
        registry.register(Arc::new(TestConnector { probe: probe.clone() }));
        let catalog = registry.catalog();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("state.db").display());
        let store = flowrun_state::open(&url).await.unwrap();
        Harness {
            probe,
            registry: Arc::new(registry),
            catalog,
            store,
            _dir: dir,
        }
    }

    fn plan(&self, yaml: &str) -> Arc<Plan> {
        let report = validate_flow(
            Path::new("flow.yaml"),
            yaml.as_bytes(),
            Context {
                catalog: &self.catalog,
                project: None,
            },
        );
        let errors: Vec<_> = report.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert!(errors.is_empty(), "the test flow is invalid: {errors:#?}");
        let flow = report.flow.expect("a flow");
        Arc::new(Plan::new(&flow, &flow.connections, &self.catalog).expect("a plan"))
    }

    fn engine(&self) -> Engine {
        Engine::new(self.registry.clone(), Some(self.store.clone()))
    }

    async fn run(&self, yaml: &str) -> RunOutcome {
        self.run_with(yaml, request()).await.expect("the run is recorded")
    }

    async fn run_with(&self, yaml: &str, request: RunRequest) -> Result<RunOutcome, EngineError> {
        self.engine().run(self.plan(yaml), request).await
    }
}

fn request() -> RunRequest {
    RunRequest::new(json!({}), "test")
}

fn statuses(outcome: &RunOutcome) -> Vec<(String, StepStatus)> {
    outcome
        .steps
        .iter()
        .map(|(id, step)| (id.clone(), step.status))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn independent_steps_run_at_the_same_time() {
    let harness = Harness::new().await;
    *harness.probe.barrier.lock().unwrap() = Some(Arc::new(Barrier::new(2)));
    let outcome = harness
        .run(
            "flow: t\nsteps:\n  - id: a\n    uses: test.meet\n    with: {}\n  - id: b\n    uses: test.meet\n    with: {}\n",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Success, "{outcome:#?}");
    assert_eq!(outcome.output, Some(json!({ "a": "success", "b": "success" })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn for_each_keeps_at_most_concurrency_items_in_flight_and_the_input_order() {
    let harness = Harness::new().await;
    let outcome = harness
        .run(
            r#"flow: t
steps:
  - id: each
    uses: test.slow
    for_each: [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8, 7, 6, 5, 4]
    concurrency: 4
    with: { ms: "{{ item * 5 + 10 }}", value: "{{ item }}" }
output: "{{ steps.each.output | map(attribute='value') | list }}"
"#,
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Success, "{outcome:#?}");
    assert_eq!(harness.probe.peak.load(Ordering::SeqCst), 4);
    assert_eq!(
        outcome.output,
        Some(json!([9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8, 7, 6, 5, 4]))
    );
    let records = harness.store.step_records(&outcome.run_id).await.unwrap();
    assert_eq!(records.iter().filter(|r| r.item_index.is_some()).count(), 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_concurrency_bounds_module_calls_across_steps() {
    let harness = Harness::new().await;
    let mut engine = harness.engine();
    engine.options.max_concurrency = 3;
    let plan = harness.plan(
        "flow: t\nsteps:\n  - id: a\n    uses: test.slow\n    for_each: [1, 2, 3, 4, 5, 6]\n    concurrency: 6\n    with: { ms: 30 }\n  - id: b\n    uses: test.slow\n    for_each: [1, 2, 3, 4]\n    concurrency: 4\n    with: { ms: 30 }\n",
    );
    let outcome = engine.run(plan, request()).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Success);
    assert_eq!(harness.probe.peak.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn retries_until_success_then_gives_up_after_its_attempts() {
    let harness = Harness::new().await;
    let flow = |attempts: u32| {
        format!(
            "flow: t\nsteps:\n  - id: a\n    uses: test.flaky\n    with: {{ key: k{attempts}, times: 2 }}\n    retry: {{ attempts: {attempts}, backoff: fixed, initial: 1ms, on: [5xx] }}\n"
        )
    };
    let outcome = harness.run(&flow(3)).await;
    assert_eq!(outcome.status, RunStatus::Success);
    assert_eq!(outcome.steps["a"].attempts, 3);

    let outcome = harness.run(&flow(2)).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.clone().unwrap();
    assert_eq!(error["step"], "a");
    assert_eq!(error["module"], "test.flaky");
    assert_eq!(error["status"], 503);
    assert_eq!(error["attempts"], 2);
    assert_eq!(error["message"], "POST /things → 503 (attempt 2)");
    assert_eq!(outcome.output, None);
}

#[tokio::test]
async fn retry_on_filters_the_kinds_it_retries() {
    let harness = Harness::new().await;
    let outcome = harness
        .run("flow: t\nsteps:\n  - id: a\n    uses: test.flaky\n    with: { key: c, times: 1, kind: 4xx }\n    retry: { attempts: 3, initial: 1ms }\n")
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(outcome.steps["a"].attempts, 1, "a 4xx is not retried by default");

    let outcome = harness
        .run("flow: t\nsteps:\n  - id: a\n    uses: test.flaky\n    with: { key: d, times: 1, kind: 4xx }\n    retry: { attempts: 3, initial: 1ms, on: [4xx] }\n")
        .await;
    assert_eq!(outcome.status, RunStatus::Success);
    assert_eq!(outcome.steps["a"].attempts, 2);
}

#[tokio::test]
async fn timeout_is_per_attempt_and_retryable() {
    let harness = Harness::new().await;
    let outcome = harness
        .run("flow: t\nsteps:\n  - id: a\n    uses: test.slow\n    with: { ms: 5000 }\n    timeout: 20ms\n    retry: { attempts: 2, initial: 1ms, on: [timeout] }\n")
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.unwrap();
    assert_eq!(error["kind"], "timeout");
    assert_eq!(error["attempts"], 2);
    assert_eq!(
        error["message"],
        "the attempt took longer than the step's timeout (20ms)"
    );
}

#[tokio::test]
async fn ignore_skips_output_readers_but_not_status_readers() {
    let harness = Harness::new().await;
    let outcome = harness
        .run(
            r#"flow: t
steps:
  - id: a
    uses: test.flaky
    with: { key: i, times: 9, kind: 4xx }
    on_error: ignore
  - id: reads_output
    uses: test.echo
    with: { x: "{{ steps.a.output }}" }
  - id: reads_status
    uses: test.echo
    with: { x: "{{ steps.a.status }}" }
  - id: after_skipped
    uses: test.echo
    with: { x: "{{ steps.reads_output.output }}" }
  - id: needs_only
    uses: test.echo
    needs: [reads_output]
    with: {}
output:
  a: "{{ steps.a.output }}"
  status: "{{ steps.reads_status.output.x }}"
  skipped: "{{ steps.after_skipped.output }}"
"#,
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Success, "{outcome:#?}");
    assert_eq!(
        statuses(&outcome),
        [
            ("a".to_owned(), StepStatus::Ignored),
            ("reads_output".to_owned(), StepStatus::Skipped),
            ("reads_status".to_owned(), StepStatus::Success),
            ("after_skipped".to_owned(), StepStatus::Skipped),
            ("needs_only".to_owned(), StepStatus::Success),
        ]
    );
    assert_eq!(
        outcome.output,
        Some(json!({ "a": null, "status": "ignored", "skipped": null }))
    );
}

#[tokio::test]
async fn if_false_skips_and_resume_goes_on_with_its_value() {
    let harness = Harness::new().await;
    let outcome = harness
        .run(
            r#"flow: t
inputs:
  go: { type: boolean, default: false }
steps:
  - id: maybe
    if: "inputs.go"
    uses: test.echo
    with: {}
  - id: after
    uses: test.echo
    with: { x: "{{ steps.maybe.output }}" }
  - id: r
    uses: test.flaky
    with: { key: r, times: 9, kind: 4xx }
    on_error: { resume: { ok: fallback } }
  - id: uses_r
    uses: test.echo
    with: { got: "{{ steps.r.output.ok }}" }
output: "{{ steps.uses_r.output.got }}"
"#,
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Success);
    assert_eq!(outcome.steps["maybe"].status, StepStatus::Skipped);
    assert_eq!(outcome.steps["after"].status, StepStatus::Skipped);
    assert_eq!(outcome.steps["r"].status, StepStatus::Resumed);
    assert_eq!(outcome.output, Some(json!("fallback")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_on_an_item_stores_it_and_the_run_ends_partial() {
    let harness = Harness::new().await;
    let outcome = harness
        .run(
            r#"flow: t
steps:
  - id: detail
    uses: test.flaky
    for_each: ["a", "b", "c"]
    item_key: "{{ 'order ' ~ item }}"
    with: { key: "{{ item }}", times: "{{ 9 if item == 'b' else 0 }}", kind: 4xx }
    on_error: break
  - id: write
    uses: test.echo
    for_each: "{{ steps.detail.output }}"
    with: { wrote: "{{ item.ok }}" }
output: "{{ steps.write.output | map(attribute='wrote') | list }}"
"#,
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Partial, "{outcome:#?}");
    assert_eq!(outcome.incomplete, 1);
    assert_eq!(outcome.steps["detail"].status, StepStatus::Broken);
    assert_eq!(outcome.output, Some(json!(["a", "c"])));
    let incomplete = harness.store.list_incomplete(&outcome.run_id, None).await.unwrap();
    assert_eq!(incomplete.len(), 1);
    assert_eq!(incomplete[0].item_index, Some(1));
    assert_eq!(incomplete[0].item_key.as_deref(), Some("order b"));
    assert_eq!(incomplete[0].inputs["item"], "b");
    assert_eq!(incomplete[0].error.as_ref().unwrap()["status"], 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_cancels_running_steps_and_runs_on_failure_with_the_error() {
    let harness = Harness::new().await;
    let outcome = harness
        .run(
            r#"flow: t
steps:
  - id: slow
    uses: test.slow
    with: { ms: 10000 }
  - id: bad
    uses: test.flaky
    with: { key: f, times: 9, kind: 4xx }
  - id: after_bad
    uses: test.echo
    with: { x: "{{ steps.bad.output }}" }
on_failure:
  - id: notify
    uses: test.echo
    with: { failed_step: "{{ error.step }}", message: "{{ error.message }}" }
"#,
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        statuses(&outcome),
        [
            ("slow".to_owned(), StepStatus::Cancelled),
            ("bad".to_owned(), StepStatus::Failed),
            ("after_bad".to_owned(), StepStatus::Cancelled),
            ("notify".to_owned(), StepStatus::Success),
        ]
    );
    let seen = harness.probe.seen.lock().unwrap().clone();
    assert!(
        seen.contains(&json!({ "failed_step": "bad", "message": "POST /things → 400 (attempt 1)" })),
        "{seen:?}"
    );
    let run = harness.store.run(&outcome.run_id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_from_outside_ends_the_run_cancelled() {
    let harness = Harness::new().await;
    let request = request();
    let cancel = request.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        cancel.cancel();
    });
    let outcome = harness
        .run_with("flow: t\nsteps:\n  - id: a\n    uses: test.slow\n    with: { ms: 10000 }\n  - id: b\n    uses: test.echo\n    with: { x: \"{{ steps.a.output }}\" }\n", request)
        .await
        .unwrap();
    assert_eq!(outcome.status, RunStatus::Cancelled);
    assert_eq!(outcome.steps["a"].status, StepStatus::Cancelled);
    assert_eq!(outcome.steps["b"].status, StepStatus::Cancelled);
    let run = harness.store.run(&outcome.run_id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Cancelled);
}

const INCREMENTAL: &str = r#"flow: t
inputs:
  fail: { type: boolean, default: false }
steps:
  - id: read
    uses: test.echo
    with: { since: "{{ cursor }}", rows: [{ at: 5 }, { at: 9 }] }
    incremental: { cursor: "{{ output.rows | map(attribute='at') | max }}", initial: 0 }
  - id: land
    if: "inputs.fail"
    uses: test.flaky
    with: { key: land, times: 1, kind: 4xx }
output: "{{ steps.read.output.since }}"
"#;

#[tokio::test]
async fn cursors_move_only_with_a_run_that_ends_well() {
    let harness = Harness::new().await;
    let mut failing = request();
    failing.inputs = json!({ "fail": true });
    let outcome = harness.run_with(INCREMENTAL, failing).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(harness.store.cursor("t", "read").await.unwrap(), None);

    let outcome = harness.run(INCREMENTAL).await;
    assert_eq!(outcome.output, Some(json!(0)), "the first run reads from `initial`");
    assert_eq!(
        harness.store.cursor("t", "read").await.unwrap().unwrap().value,
        json!(9)
    );

    let outcome = harness.run(INCREMENTAL).await;
    assert_eq!(
        outcome.output,
        Some(json!(9)),
        "the next run reads from the committed cursor"
    );

    let mut full = request();
    full.full = true;
    let outcome = harness.run_with(INCREMENTAL, full).await.unwrap();
    assert_eq!(outcome.output, Some(json!(0)), "--full ignores the stored cursor");
}

#[tokio::test]
async fn an_empty_read_keeps_the_stored_cursor() {
    const READS: &str = r#"flow: t
inputs:
  rows: { type: array, default: [] }
steps:
  - id: read
    uses: test.echo
    with: { since: "{{ cursor }}", rows: "{{ inputs.rows }}" }
    incremental: { cursor: "{{ output.rows | map(attribute='at') | max }}", initial: 0 }
output: "{{ steps.read.output.since }}"
"#;
    let harness = Harness::new().await;
    let mut some = request();
    some.inputs = json!({ "rows": [{ "at": 4 }, { "at": 7 }] });
    let outcome = harness.run_with(READS, some).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Success);
    // `max` of no rows is undefined: the run succeeds and the window stays where it was.
    let mut none = request();
    none.inputs = json!({ "rows": [] });
    let outcome = harness.run_with(READS, none).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    assert_eq!(outcome.output, Some(json!(7)));
    assert_eq!(
        harness.store.cursor("t", "read").await.unwrap().unwrap().value,
        json!(7)
    );
}

#[tokio::test]
async fn a_second_run_of_an_incremental_flow_is_refused_while_one_runs() {
    let harness = Harness::new().await;
    let plan = harness.plan(INCREMENTAL);
    let store = harness.store.clone();
    let held = store
        .create_run(flowrun_state::NewRun {
            id: None,
            flow_id: "t".to_owned(),
            flow_version: "v".to_owned(),
            trigger: None,
            inputs: None,
            lease_owner: "other:1".to_owned(),
            lease: Duration::from_secs(60),
            lock_flow: true,
        })
        .await
        .unwrap();
    let refused = harness.engine().run(plan, request()).await;
    match refused {
        Err(EngineError::Store(StateError::FlowLocked { holder_run_id, .. })) => assert_eq!(holder_run_id, held.id),
        other => panic!("expected FlowLocked, got {other:?}"),
    }
}

#[tokio::test]
async fn secrets_never_reach_the_outcome_or_the_store() {
    const CANARY: &str = "canary-Zq8vX3-secret";
    let harness = Harness::new().await;
    let mut request = request();
    request.secrets.insert("TOKEN".to_owned(), Secret::new(CANARY));
    let outcome = harness
        .run_with(
            r#"flow: t
steps:
  - id: call
    uses: test.echo
    with: { auth: "Bearer {{ secrets.TOKEN }}", plain: "{{ secrets.TOKEN | b64encode }}" }
  - id: fail
    uses: test.flaky
    with: { key: "{{ secrets.TOKEN }}", times: 9, kind: 4xx }
    on_error: break
output: { echoed: "{{ steps.call.output.auth }}" }
"#,
            request,
        )
        .await
        .unwrap();
    assert_eq!(outcome.status, RunStatus::Partial);
    let seen = harness.probe.seen.lock().unwrap().clone();
    assert_eq!(
        seen[0]["auth"],
        format!("Bearer {CANARY}"),
        "the module gets the real value"
    );
    let printed = serde_json::to_string(&outcome).unwrap();
    assert!(!printed.contains(CANARY), "{printed}");
    assert!(printed.contains("Bearer ***"), "{printed}");
    let detail = harness.store.run_detail(&outcome.run_id).await.unwrap().unwrap();
    let stored = serde_json::to_string(&detail).unwrap();
    assert!(!stored.contains(CANARY), "{stored}");
    let encoded = flowrun_expr::Expression::compile(&format!("'{CANARY}' | b64encode"))
        .unwrap()
        .eval(&flowrun_expr::Scope::new(Runtime::default()))
        .unwrap();
    assert!(!stored.contains(encoded.as_str().unwrap()), "{stored}");
    let runs = harness.store.list_runs(&RunFilter::default()).await.unwrap();
    assert!(!serde_json::to_string(&runs).unwrap().contains(CANARY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transform_steps_feed_later_steps_typed_values() {
    let harness = Harness::new().await;
    let outcome = harness
        .run(
            r#"flow: t
steps:
  - id: read
    uses: test.echo
    with: { rows: [{ n: a, q: 2 }, { n: b, q: 0 }, { n: c, q: 5 }] }
  - id: keep
    transform:
      input: "{{ steps.read.output.rows }}"
      pipeline:
        - filter: "item.q > 0"
        - map: { name: "{{ item.n }}", double: "{{ item.q * 2 }}" }
  - id: write
    uses: test.echo
    for_each: "{{ steps.keep.output }}"
    with: { row: "{{ item }}" }
output: "{{ steps.write.output | map(attribute='row') | list }}"
"#,
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Success, "{outcome:#?}");
    assert_eq!(
        outcome.output,
        Some(json!([{ "name": "a", "double": 4 }, { "name": "c", "double": 10 }]))
    );
}

#[tokio::test]
async fn a_module_no_connector_provides_stops_the_run_before_it_starts() {
    let harness = Harness::new().await;
    let mut catalog_connectors = harness.catalog.connectors().cloned().collect::<Vec<_>>();
    catalog_connectors.push(ConnectorSpec {
        name: "ghost".to_owned(),
        description: "Described only.".to_owned(),
        connection_schema: json!({ "type": "object" }),
        connection_optional: true,
        modules: vec![ModuleSpec {
            name: "read".to_owned(),
            kind: ModuleKind::Get,
            description: "Reads.".to_owned(),
            params_schema: json!({ "type": "object" }),
            output_schema: json!({}),
            without_connection_schema: None,
        }],
    });
    let catalog = Catalog::new(catalog_connectors);
    let report = validate_flow(
        Path::new("flow.yaml"),
        b"flow: t\nsteps:\n  - id: a\n    uses: ghost.read\n    with: {}\n",
        Context {
            catalog: &catalog,
            project: None,
        },
    );
    let flow = report.flow.unwrap();
    let plan = Arc::new(Plan::new(&flow, &flow.connections, &catalog).unwrap());
    let error = harness.engine().run(plan, request()).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "step `a` uses `ghost.read`, which this build of flowrun cannot run: the connector `ghost` cannot make calls yet (only its description is built)"
    );
    assert!(harness.store.list_runs(&RunFilter::default()).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_preview_renders_what_it_can_and_never_shows_a_secret() {
    const CANARY: &str = "canary-preview-7Hq2";
    let harness = Harness::new().await;
    let plan = harness.plan(
        r#"flow: t
inputs:
  who: { type: string, default: ada }
steps:
  - id: read
    uses: test.echo
    with: { name: "{{ inputs.who }}", auth: "Bearer {{ secrets.TOKEN }}" }
  - id: write
    uses: test.echo
    with: { got: "{{ steps.read.output.name }}", fixed: 1 }
"#,
    );
    let mut request = request();
    request.inputs = json!({ "who": "ada" });
    request.secrets.insert("TOKEN".to_owned(), Secret::new(CANARY));
    let preview = super::preview(&plan, &request);
    let shown = serde_json::to_value(&preview).unwrap();
    assert!(!shown.to_string().contains(CANARY));
    assert_eq!(shown["levels"][0][0]["with"], json!({ "name": "ada", "auth": "***" }));
    assert_eq!(
        shown["levels"][1][0]["with"],
        json!({ "got": "{{ steps.read.output.name }}", "fixed": 1 })
    );
    assert_eq!(shown["levels"][1][0]["waits_for"], json!([["read", "output"]]));
    assert_eq!(harness.probe.calls.load(Ordering::SeqCst), 0, "a preview calls nothing");
    assert!(harness.store.list_runs(&RunFilter::default()).await.unwrap().is_empty());
}

const REPLAYED: &str = r#"flow: t
steps:
  - id: detail
    uses: test.flaky
    for_each: ["a", "b", "c"]
    item_key: "{{ 'order ' ~ item }}"
    with: { key: "{{ item }}", times: "{{ 1 if item == 'b' else 0 }}", kind: 4xx, auth: "Bearer {{ secrets.T }}" }
    retry: { attempts: 1 }
    on_error: break
  - id: write
    uses: test.echo
    for_each: "{{ steps.detail.output }}"
    with: { wrote: "{{ item.ok }}" }
  - id: unrelated
    uses: test.echo
    with: { once: true }
output: "{{ steps.write.output | map(attribute='wrote') | list }}"
"#;

#[tokio::test]
async fn a_replay_lands_the_broken_item_and_runs_only_what_depends_on_it() {
    const SECRET: &str = "replay-secret-Xk3";
    let harness = Harness::new().await;
    let with_secret = || {
        let mut request = request();
        request.secrets.insert("T".to_owned(), Secret::new(SECRET));
        request
    };
    let first = harness.run_with(REPLAYED, with_secret()).await.unwrap();
    assert_eq!((first.status, first.incomplete), (RunStatus::Partial, 1));
    assert_eq!(first.output, Some(json!(["a", "c"])));
    let calls_before = harness.probe.calls.load(Ordering::SeqCst);

    let replayed = harness
        .engine()
        .replay(harness.plan(REPLAYED), with_secret(), &first.run_id, None)
        .await
        .unwrap();
    assert_eq!(replayed.run_id, first.run_id);
    assert_eq!(
        (replayed.status, replayed.incomplete),
        (RunStatus::Success, 0),
        "{replayed:#?}"
    );
    assert_eq!(
        replayed.output,
        Some(json!(["b"])),
        "downstream steps see the replayed items only"
    );
    assert_eq!(
        harness.probe.calls.load(Ordering::SeqCst) - calls_before,
        2,
        "one call for the replayed item, one for its write; nothing else ran again"
    );
    let seen = harness.probe.seen.lock().unwrap().clone();
    assert_eq!(
        seen[seen.len() - 2]["auth"],
        format!("Bearer {SECRET}"),
        "rendered again with the secret"
    );

    let records = harness.store.step_records(&first.run_id).await.unwrap();
    let items = |step: &str| -> Vec<(Option<u64>, StepStatus)> {
        records
            .iter()
            .filter(|r| r.step_id == step && r.item_index.is_some())
            .map(|r| (r.item_index, r.status))
            .collect()
    };
    assert_eq!(
        items("detail"),
        [
            (Some(0), StepStatus::Success),
            (Some(1), StepStatus::Success),
            (Some(2), StepStatus::Success)
        ]
    );
    assert_eq!(
        items("write"),
        [
            (Some(0), StepStatus::Success),
            (Some(1), StepStatus::Success),
            (Some(2), StepStatus::Success)
        ],
        "the replay's write is recorded after the first run's"
    );
    let incomplete = harness.store.list_incomplete(&first.run_id, None).await.unwrap();
    assert_eq!(incomplete[0].status, flowrun_state::IncompleteStatus::Resolved);
    assert_eq!(
        harness.store.run(&first.run_id).await.unwrap().unwrap().status,
        RunStatus::Success
    );

    let again = harness
        .engine()
        .replay(harness.plan(REPLAYED), with_secret(), &first.run_id, None)
        .await;
    assert!(matches!(again, Err(EngineError::NothingToReplay { .. })), "{again:?}");
}

#[tokio::test]
async fn a_replay_can_pick_one_item_and_a_failed_replay_stays_open() {
    let harness = Harness::new().await;
    let flow = REPLAYED.replace(
        "times: \"{{ 1 if item == 'b' else 0 }}\"",
        "times: \"{{ 0 if item == 'a' else 3 }}\"",
    );
    let mut request_t = request();
    request_t.secrets.insert("T".to_owned(), Secret::new("x"));
    let first = harness.run_with(&flow, request_t).await.unwrap();
    assert_eq!(first.incomplete, 2);
    let replay = |item: Option<&'static str>| {
        let mut request = request();
        request.secrets.insert("T".to_owned(), Secret::new("x"));
        let (engine, plan, run_id) = (harness.engine(), harness.plan(&flow), first.run_id.clone());
        async move { engine.replay(plan, request, &run_id, item).await }
    };
    let missing = replay(Some("order z")).await;
    assert!(
        matches!(missing, Err(EngineError::NothingToReplay { .. })),
        "{missing:?}"
    );

    let one = replay(Some("order b")).await.unwrap();
    assert_eq!(
        (one.status, one.incomplete),
        (RunStatus::Partial, 2),
        "b failed again (its 2nd of 3 failures), c was not tried"
    );
    let open = harness.store.list_incomplete(&first.run_id, None).await.unwrap();
    let b = open.iter().find(|i| i.item_key.as_deref() == Some("order b")).unwrap();
    assert_eq!(b.failures, 2);
    let c = open.iter().find(|i| i.item_key.as_deref() == Some("order c")).unwrap();
    assert_eq!(c.failures, 1);
}

#[tokio::test]
async fn a_failed_run_is_retried_without_running_finished_steps_again() {
    let harness = Harness::new().await;
    let flow = "flow: t\nsteps:\n  - id: a\n    uses: test.echo\n    with: { n: 1 }\n  - id: b\n    uses: test.flaky\n    with: { key: once, times: 1, kind: 4xx, n: \"{{ steps.a.output.n }}\" }\n    retry: { attempts: 1 }\noutput: \"{{ steps.b.output.ok }}\"\n";
    let first = harness.run(flow).await;
    assert_eq!(first.status, RunStatus::Failed);
    let calls = harness.probe.calls.load(Ordering::SeqCst);
    let retried = harness
        .engine()
        .replay(harness.plan(flow), request(), &first.run_id, None)
        .await
        .unwrap();
    assert_eq!(retried.status, RunStatus::Success, "{retried:#?}");
    assert_eq!(retried.output, Some(json!("once")));
    assert_eq!(
        harness.probe.calls.load(Ordering::SeqCst) - calls,
        1,
        "only b ran again"
    );
}

#[tokio::test]
async fn dry_run_reads_calls_reads_shows_writes_and_stores_nothing() {
    const SECRET: &str = "dry-reads-secret-P0";
    let harness = Harness::new().await;
    let flow = r#"flow: t
steps:
  - id: read
    uses: test.read
    with: { n: "{{ cursor + 1 }}" }
    incremental: { cursor: "{{ output.n }}", initial: 0 }
  - id: write
    uses: test.echo
    for_each: [1, 2]
    with: { got: "{{ steps.read.output.n + item }}", auth: "{{ secrets.T }}" }
output: "{{ steps.read.output.n }}"
"#;
    let mut engine = harness.engine();
    engine.options.only_reads = true;
    let mut request = request();
    request.secrets.insert("T".to_owned(), Secret::new(SECRET));
    let outcome = engine.run(harness.plan(flow), request).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Success, "{outcome:#?}");
    assert_eq!(outcome.output, Some(json!(1)), "the read ran, with the data it read");
    assert_eq!(
        harness.probe.calls.load(Ordering::SeqCst),
        1,
        "only the read was called"
    );
    let not_sent = serde_json::to_value(&outcome.not_sent).unwrap();
    assert_eq!(
        not_sent,
        json!([
            { "step": "write", "uses": "test.echo", "item_index": 0, "with": { "got": 2, "auth": "***" } },
            { "step": "write", "uses": "test.echo", "item_index": 1, "with": { "got": 3, "auth": "***" } },
        ])
    );
    assert!(
        harness.store.list_runs(&RunFilter::default()).await.unwrap().is_empty(),
        "no run is stored"
    );
    assert_eq!(
        harness.store.cursor("t", "read").await.unwrap(),
        None,
        "no cursor is committed"
    );
}
