//! `flowrun test` against the engine it drives: 200 generated test files × 5 cases of one flow,
//! run whole by the harness (`Harness::run_all`), against the same 1,000 runs made the way
//! `flowrun run` makes one, in-process, with stand-in modules instead of the mocks. Target: the
//! harness adds no more than 20% over the engine (ratio harness / engine ≤ 1.2).
//!
//! Run: `cargo bench -p flowrun-test --bench suite`. Divan's `thrpt` column is cases per second;
//! after the benchmarks the medians, cases/s and the ratio are printed on stderr.
//!
//! - The flow (built once, validated and planned as `flowrun test` does): an `http.request`
//!   read, a transform filtering its output, a `for_each` `http.request` write over ~5 items
//!   (`concurrency: 2`, `on_error: break`) and an `output` template.
//! - The files (generated as text, validated with `validate_test` and checked against the flow
//!   like the binary does): each with 5 cases mocking both `http.request` steps with `output`
//!   or `outputs`, one with an `errors` entry expecting `status: partial`; expectations on the
//!   output, steps, calls and incomplete executions. Setup asserts that all 1,000 pass, and
//!   that the engine runs of the baseline end as the cases expect.
//! - `harness_1000_cases`: `Harness::new(registry, Options::default())`, then `run_all` drained.
//! - `engine_1000_runs`: per case, a fresh temporary folder with a `SqliteStore` opened in it,
//!   `Engine::new(registry, Some(store))` with stand-in modules (the mocks' outputs, recording
//!   nothing) in `options.step_modules`, `engine.run` with the case's inputs, secrets and fixed
//!   clock, the store closed and the folder removed; as many cases at once as the harness
//!   (`Options::default().cases_in_flight`, through `buffer_unordered`).
//!
//! Both run on one multi-thread tokio runtime (one worker per core) built once, with the
//! binary's allocator. Each iteration is all 1,000 cases.
//!
//! After the benchmarks (only under `cargo bench`, not with `--test` or `--list`), stderr gets
//! the medians, cases/s and the ratio harness / engine, with the process's CPU time per
//! iteration; then `FLOWRUN_BENCH_PAIRS` (default 10, 0 skips them) more iterations of each,
//! interleaved, whose median ratio is the one to hold against the target: divan runs one
//! benchmark after the other, so on a shared machine a change of load between them moves
//! the ratio of the two medians, while the two halves of a pair see the same load.
//!
//! `FLOWRUN_BENCH_PROFILE=harness:20` (or `engine:20`) runs that work so many times and nothing
//! else, for a profiler: `perf record -g` on the bench binary.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use divan::Bencher;
use divan::counter::ItemsCount;
use flowrun_connect::module::{CallContext, ErrorKind, Module, ModuleError};
use flowrun_connect::registry::Registry;
use flowrun_engine::plan::{Action, Plan, names_read};
use flowrun_engine::run::{Engine, RunOutcome, RunRequest};
use flowrun_expr::{Clock, Runtime, Secret, UuidSource};
use flowrun_flow::catalog::ModuleKind;
use flowrun_flow::model::{ExpectedStatus, MatchMode, Mock, TestCase};
use flowrun_flow::validate::{Context, check_test_against_flow, validate_flow, validate_test};
use flowrun_state::{SqliteStore, StateStore};
use flowrun_test::{DEFAULT_NOW, FileResult, FlowUnderTest, Harness, Options, Summary, TestFileUnderTest, report};
use futures_util::StreamExt;
use indexmap::IndexMap;
use serde_json::{Value as Json, json};
use tokio_util::sync::CancellationToken;

/// The binary's allocator (crates/flowrun/src/main.rs), for the harness and the baseline alike.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FILES: usize = 200;
const CASES_PER_FILE: usize = 5;
const CASES: usize = FILES * CASES_PER_FILE;
/// Each sample is one iteration of 1,000 cases; the machine is noisy, so many of them.
const SAMPLES: u32 = 20;
/// Interleaved iterations of both after the benchmarks (`FLOWRUN_BENCH_PAIRS` overrides; 0
/// skips them).
const PAIRS: usize = 10;

const FLOW: &str = r#"flow: orders-sync
inputs:
  min_total: { type: number, default: 10 }
connections:
  shop:
    connector: http
    config:
      base_url: https://shop.example.com/api
      auth: { kind: bearer, token: "{{ secrets.SHOP_TOKEN }}" }
steps:
  - id: orders
    uses: http.request
    connection: shop
    with: { url: orders, query: { status: open } }
  - id: big
    transform:
      input: "{{ steps.orders.output.body }}"
      pipeline:
        - filter: "item.total >= inputs.min_total"
  - id: create
    uses: http.request
    connection: shop
    for_each: "{{ steps.big.output }}"
    item_key: "{{ item.id }}"
    concurrency: 2
    on_error: break
    with:
      method: POST
      url: invoices
      body: { order: "{{ item.id }}", total: "{{ item.total }}", signed: "{{ secrets.SHOP_TOKEN }}" }
output:
  created: "{{ steps.create.output | length }}"
  orders: "{{ steps.orders.output.body | length }}"
  at: "{{ now() }}"
"#;

/// The totals of the 7 orders every case reads; 5 of them reach the default `min_total`.
const TOTALS: [u32; 7] = [5, 12, 20, 3, 40, 15, 25];

fn main() {
    if let Ok(profile) = std::env::var("FLOWRUN_BENCH_PROFILE") {
        let (name, times) = profile.split_once(':').unwrap_or((&profile, "10"));
        let times: usize = times.parse().expect("FLOWRUN_BENCH_PROFILE=<harness|engine>:<count>");
        let work: fn(&Env) = match name {
            "harness" => run_harness,
            "engine" => run_engine,
            other => panic!("no work named `{other}`: harness or engine"),
        };
        let env = env();
        for _ in 0..times {
            let took = measure(env, work);
            eprintln!(
                "{name}: {CASES} cases in {:.0} ms ({:.0} cases/s), CPU {:.0} ms",
                ms(took.wall),
                per_second(took.wall),
                ms(took.cpu)
            );
        }
        return;
    }
    divan::main();
    summary();
}

/// What every benchmark shares, built once.
struct Env {
    runtime: tokio::runtime::Runtime,
    registry: Arc<Registry>,
    flow: Arc<FlowUnderTest>,
    files: Vec<TestFileUnderTest>,
    /// The same cases for the engine baseline, in file and case order.
    runs: Vec<EngineCase>,
    cases_in_flight: usize,
}

/// One case as `flowrun run` would be given it.
struct EngineCase {
    inputs: Json,
    secrets: IndexMap<String, Secret>,
    now: jiff::Timestamp,
    modules: HashMap<String, Arc<dyn Module>>,
    /// What the case expects, checked on every run.
    status: &'static str,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        // What `flowrun test` registers (crates/flowrun/src/catalog.rs).
        let mut registry = Registry::default();
        registry.register(flowrun_connector_core::connector());
        registry.register(flowrun_connector_http::connector());
        let catalog = registry.catalog();

        let flow_path = Path::new("bench/orders-sync.yaml");
        let report = validate_flow(
            flow_path,
            FLOW.as_bytes(),
            Context {
                catalog: &catalog,
                project: None,
            },
        );
        let errors: Vec<_> = report.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert!(errors.is_empty(), "the bench flow is invalid: {errors:#?}");
        let flow = report.flow.expect("a flow");
        let plan = Arc::new(Plan::new(&flow, &flow.connections, &catalog).expect("a plan"));
        let flow = Arc::new(FlowUnderTest {
            path: flow_path.to_path_buf(),
            names: names_read(&flow, &flow.connections),
            flow,
            plan,
            flow_version: "bench".to_owned(),
        });

        let files: Vec<TestFileUnderTest> = (0..FILES).map(|index| test_file(index, &flow)).collect();
        let runs = files
            .iter()
            .flat_map(|file| file.test.cases.iter().map(|case| engine_case(&flow, case)))
            .collect();
        let env = Env {
            runtime,
            registry: Arc::new(registry),
            flow,
            files,
            runs,
            cases_in_flight: Options::default().cases_in_flight,
        };
        check(&env);
        env
    })
}

/// The orders of test file `file`: ids unique to the file.
fn orders(file: usize) -> Vec<Json> {
    TOTALS
        .iter()
        .enumerate()
        .map(|(k, total)| json!({ "id": format!("o{file}-{k}"), "total": total }))
        .collect()
}

/// The `with:` the flow renders for each order that reaches `min_total`, secrets redacted.
fn creates(orders: &[Json], min_total: u64) -> Vec<Json> {
    orders
        .iter()
        .filter(|order| order["total"].as_u64().unwrap_or_default() >= min_total)
        .map(|order| {
            json!({
                "method": "POST",
                "url": "invoices",
                "body": { "order": order["id"], "total": order["total"], "signed": "***" },
            })
        })
        .collect()
}

/// Test file `file`, generated as text and validated as `flowrun test` validates one.
fn test_file(file: usize, flow: &Arc<FlowUnderTest>) -> TestFileUnderTest {
    let orders = orders(file);
    let read = json!({ "output": { "status": 200, "body": orders } });
    let read_call = json!([{ "url": "orders", "query": { "status": "open" } }]);
    let all_success = json!({
        "orders": { "status": "success" },
        "big": { "status": "success" },
        "create": { "status": "success" },
    });
    let default_creates = creates(&orders, 10);
    // `now()` gives RFC 3339 with milliseconds.
    let at = "2025-01-01T00:00:00.000Z";
    let cases = json!([
        {
            "name": "creates an invoice per big order",
            "mock": { "orders": read, "create": { "output": { "status": 201, "body": { "ok": true } } } },
            "expect": {
                "output": { "created": 5, "orders": 7, "at": at },
                "steps": all_success,
                "calls": { "orders": read_call, "create": default_creates },
                "incomplete": [],
            },
        },
        {
            "name": "each item gets its own answer",
            "mock": {
                "orders": read,
                "create": {
                    "outputs": (0..5).map(|k| json!({ "status": 201, "body": { "id": format!("i{file}-{k}") } })).collect::<Vec<_>>(),
                },
            },
            "expect": {
                "output": { "created": 5, "orders": 7, "at": at },
                "steps": all_success,
                "calls": { "create": default_creates },
            },
        },
        {
            "name": "a failed item is stored as incomplete and the run is partial",
            "mock": {
                "orders": read,
                "create": {
                    "output": { "status": 201, "body": {} },
                    "errors": { "2": { "status": 500, "message": "Internal error" } },
                },
            },
            "expect": {
                "status": "partial",
                "output": { "created": 4, "orders": 7, "at": at },
                "steps": { "orders": { "status": "success" }, "create": { "status": "broken" } },
                "calls": { "create": default_creates },
                "incomplete": [{ "step": "create", "item_index": 2, "item_key": format!("o{file}-4") }],
            },
        },
        {
            "name": "min_total comes from the inputs",
            "inputs": { "min_total": 15 },
            "mock": { "orders": read, "create": { "output": { "status": 201, "body": {} } } },
            "expect": {
                "output": { "created": 4, "orders": 7, "at": at },
                "steps": all_success,
                "calls": { "orders": read_call, "create": creates(&orders, 15) },
            },
        },
        {
            "name": "a fixed clock, compared as a subset",
            "now": "2030-06-01T12:00:00Z",
            "mock": { "orders": read, "create": { "output": { "status": 201, "body": {} } } },
            "expect": {
                "match": "subset",
                "output": { "at": "2030-06-01T12:00:00.000Z" },
                "steps": { "create": { "status": "success" } },
                "calls": { "create": default_creates },
            },
        },
    ]);
    let text = serde_json::to_string_pretty(&json!({ "flow": "orders-sync.yaml", "cases": cases })).expect("JSON text");
    let path = PathBuf::from(format!("bench/orders-{file:03}.test.yaml"));
    let report = validate_test(&path, text.as_bytes());
    assert!(
        !report.has_errors(),
        "test file {file} is invalid: {:#?}",
        report.diagnostics
    );
    let (test, tree) = (report.test.expect("a test file"), report.tree.expect("a tree"));
    let against = check_test_against_flow(&test, &tree, &flow.flow);
    assert!(
        !against.iter().any(|d| d.is_error()),
        "test file {file} does not fit the flow: {against:#?}"
    );
    assert_eq!(test.cases.len(), CASES_PER_FILE);
    TestFileUnderTest {
        path,
        test,
        flow: flow.clone(),
    }
}

/// The run `flowrun run` would make of `case`: the same inputs (the flow's defaults filled
/// in), secrets, clock, and modules answering what the mocks answer.
fn engine_case(flow: &FlowUnderTest, case: &TestCase) -> EngineCase {
    let mut inputs: serde_json::Map<String, Json> = case.inputs.clone().into_iter().collect();
    for (name, spec) in &flow.flow.inputs {
        if let (false, Some(default)) = (inputs.contains_key(name), &spec.default) {
            inputs.insert(name.clone(), default.clone());
        }
    }
    let secrets = flow
        .names
        .secrets
        .iter()
        .map(|name| (name.clone(), Secret::new(format!("fake-{name}"))))
        .collect();
    let modules = case
        .mock
        .iter()
        .map(|(step_id, mock)| {
            let step = flow
                .plan
                .steps
                .iter()
                .find(|step| step.id == *step_id)
                .expect("a mocked step");
            let Action::Module { kind, .. } = &step.action else {
                panic!("step `{step_id}` is not a module step");
            };
            let module = Stub::new(kind.unwrap_or(ModuleKind::Action), mock);
            (step_id.clone(), Arc::new(module) as Arc<dyn Module>)
        })
        .collect();
    EngineCase {
        inputs: Json::Object(inputs),
        secrets,
        now: case.now.as_deref().unwrap_or(DEFAULT_NOW).parse().expect("an instant"),
        modules,
        status: case
            .expect
            .as_ref()
            .and_then(|expect| expect.status)
            .unwrap_or(ExpectedStatus::Success)
            .as_str(),
    }
}

/// A stand-in module for the baseline: answers what the mock gives, records nothing.
struct Stub {
    kind: ModuleKind,
    output: Option<Json>,
    outputs: Option<Vec<Json>>,
    errors: HashMap<usize, (u16, String)>,
}

impl Stub {
    fn new(kind: ModuleKind, mock: &Mock) -> Stub {
        Stub {
            kind,
            output: mock.output.clone(),
            outputs: mock.outputs.clone(),
            errors: mock
                .errors
                .iter()
                .map(|(index, error)| {
                    let index = index.parse().expect("an item index");
                    (index, (error.status.unwrap_or(500), error.message.clone()))
                })
                .collect(),
        }
    }
}

#[async_trait::async_trait]
impl Module for Stub {
    fn name(&self) -> &str {
        "stub"
    }

    fn kind(&self) -> ModuleKind {
        self.kind
    }

    async fn call(&self, context: &CallContext, _params: Json) -> Result<Json, ModuleError> {
        // Each stubbed step without `for_each` is called once.
        let index = context.item_index.unwrap_or(0);
        if let Some((status, message)) = self.errors.get(&index) {
            return Err(ModuleError::new(ErrorKind::Server, message.clone()).with_status(*status));
        }
        match (&self.outputs, &self.output) {
            (Some(outputs), _) => Ok(outputs[index].clone()),
            (None, output) => Ok(output.clone().unwrap_or(Json::Null)),
        }
    }

    fn retries_itself(&self) -> bool {
        true
    }
}

/// Setup's checks: every case passes in the harness, and every engine run ends as its case
/// expects (status, and output: exact, or the keys of a `match: subset` case).
fn check(env: &Env) {
    let harness = Harness::new(env.registry.clone(), Options::default()).expect("the harness's scratch folder");
    let results: Vec<FileResult> = env.runtime.block_on(harness.run_all(&env.files).collect());
    let mut summary = Summary::default();
    for file in &results {
        summary.add(file);
    }
    let failed: String = results
        .iter()
        .filter(|file| !file.cases.iter().all(|case| case.outcome.passed()))
        .take(2)
        .map(report::file_text)
        .collect();
    assert_eq!(
        summary,
        Summary {
            passed: CASES,
            failed: 0
        },
        "not every case passes:\n{failed}"
    );
    let outcomes = env.runtime.block_on(
        futures_util::stream::iter(&env.runs)
            .map(|case| engine_run(env, case))
            .buffered(env.cases_in_flight)
            .collect::<Vec<_>>(),
    );
    let cases = env.files.iter().flat_map(|file| &file.test.cases);
    for ((outcome, run), case) in outcomes.iter().zip(&env.runs).zip(cases) {
        assert_eq!(
            outcome.status.to_string(),
            run.status,
            "case `{}`: {:#?}",
            case.name,
            outcome.error
        );
        let expect = case.expect.as_ref().expect("every case has expectations");
        let (Some(expected), Some(actual)) = (&expect.output, &outcome.output) else {
            panic!("case `{}`: no output", case.name);
        };
        match expect.match_mode.unwrap_or_default() {
            MatchMode::Exact => assert_eq!(actual, expected, "case `{}`", case.name),
            MatchMode::Subset => {
                for (key, value) in expected.as_object().expect("an object") {
                    assert_eq!(&actual[key], value, "case `{}`: output.{key}", case.name);
                }
            }
        }
    }
    assert_eq!(outcomes.len(), CASES);
}

fn harness_summary(env: &Env) -> Summary {
    let harness = Harness::new(env.registry.clone(), Options::default()).expect("the harness's scratch folder");
    env.runtime.block_on(async {
        let mut summary = Summary::default();
        let mut results = std::pin::pin!(harness.run_all(&env.files));
        while let Some(file) = results.next().await {
            summary.add(&file);
        }
        summary
    })
}

/// One iteration of `harness_1000_cases`.
fn run_harness(env: &Env) {
    let summary = harness_summary(env);
    assert_eq!(summary.passed, CASES, "{summary:?}");
}

/// What `flowrun run` does for one case, in-process: a fresh store in a fresh folder.
async fn engine_run(env: &Env, case: &EngineCase) -> RunOutcome {
    let dir = tempfile::Builder::new()
        .prefix("flowrun-bench-")
        .tempdir()
        .expect("a temporary folder");
    let url = format!("sqlite://{}", dir.path().join("state.db").display());
    let store = SqliteStore::open(&url).await.expect("a state store");
    let shared: Arc<dyn StateStore> = Arc::new(store.clone());
    let mut engine = Engine::new(env.registry.clone(), Some(shared));
    engine.options.step_modules = case.modules.clone();
    let request = RunRequest {
        inputs: case.inputs.clone(),
        trigger: None,
        env: IndexMap::new(),
        secrets: case.secrets.clone(),
        full: false,
        flow_version: env.flow.flow_version.clone(),
        cancel: CancellationToken::new(),
        runtime: Runtime {
            clock: Clock::Fixed(case.now),
            uuids: UuidSource::sequence(0),
        },
        run_id: None,
    };
    let outcome = engine
        .run(env.flow.plan.clone(), request)
        .await
        .expect("the run is recorded");
    // Closed as `flowrun run` leaves it and as the harness does: the pools closed, then every
    // handle dropped, which closes the step writer's own connection (`close` leaves it open);
    // the last connection to close checkpoints the WAL. Only then is the folder removed:
    // removed first, SQLite would see the file gone and skip that checkpoint.
    store.close().await;
    drop(engine);
    drop(store);
    dir.close().expect("the temporary folder is removed");
    outcome
}

/// One iteration of `engine_1000_runs`.
fn run_engine(env: &Env) {
    let ended_as_expected = env.runtime.block_on(
        futures_util::stream::iter(&env.runs)
            .map(|case| async move { engine_run(env, case).await.status.to_string() == case.status })
            .buffer_unordered(env.cases_in_flight)
            .filter(|ok| std::future::ready(*ok))
            .count(),
    );
    assert_eq!(ended_as_expected, CASES);
}

/// One iteration's wall-clock time and the process's CPU time (every thread: the runtime's
/// workers, the SQLite connections' threads, the blocking pool) over it.
#[derive(Debug, Clone, Copy)]
struct Took {
    wall: Duration,
    cpu: Duration,
}

/// The CPU time the process has used: `utime + stime` of `/proc/self/stat`, in clock ticks of
/// 10 ms (`CLK_TCK` is 100 on Linux); zero elsewhere.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which may hold spaces) in parentheses; utime and
    // stime are fields 14 and 15 of the line, 12 and 13 of these.
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .map(|field| field.parse().unwrap_or(0))
                .collect()
        })
        .unwrap_or_default();
    match (fields.get(11), fields.get(12)) {
        (Some(user), Some(system)) => Duration::from_millis((user + system) * 10),
        _ => Duration::ZERO,
    }
}

fn measure(env: &Env, work: fn(&Env)) -> Took {
    let (started, cpu) = (Instant::now(), cpu_time());
    work(env);
    Took {
        wall: started.elapsed(),
        cpu: cpu_time().saturating_sub(cpu),
    }
}

/// Every timed iteration of the divan benchmarks, by name, for the summary.
static TIMES: Mutex<Vec<(&str, Took)>> = Mutex::new(Vec::new());

fn timed(name: &'static str, work: fn(&Env)) -> impl FnMut() {
    let env = env();
    move || {
        let took = measure(env, work);
        TIMES.lock().expect("the times").push((name, took));
    }
}

#[divan::bench(sample_count = SAMPLES, sample_size = 1)]
fn harness_1000_cases(bencher: Bencher) {
    bencher
        .counter(ItemsCount::new(CASES))
        .bench_local(timed("harness", run_harness));
}

#[divan::bench(sample_count = SAMPLES, sample_size = 1)]
fn engine_1000_runs(bencher: Bencher) {
    bencher
        .counter(ItemsCount::new(CASES))
        .bench_local(timed("engine", run_engine));
}

fn per_second(each: Duration) -> f64 {
    CASES as f64 / each.as_secs_f64()
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn median<T: PartialOrd + Copy>(mut values: Vec<T>) -> Option<T> {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values.get(values.len() / 2).copied()
}

fn times_of(name: &str) -> Vec<Took> {
    TIMES
        .lock()
        .expect("the times")
        .iter()
        .filter(|(of, _)| *of == name)
        .map(|(_, took)| *took)
        .collect()
}

/// After both benchmarks (under `cargo bench` only): their medians, cases/s and the ratio;
/// then `PAIRS` more iterations of each, interleaved (harness then engine, engine then
/// harness, …), so that both see the same load on a shared machine: the median of the
/// pairs' ratios is the figure to hold against the target.
fn summary() {
    let args: Vec<String> = std::env::args().collect();
    let benching =
        args.iter().any(|arg| arg == "--bench") && !args.iter().any(|arg| arg == "--test" || arg == "--list");
    let (harness, engine) = (times_of("harness"), times_of("engine"));
    if !benching || harness.is_empty() || engine.is_empty() {
        return;
    }
    let env = env();
    let wall = |times: &[Took]| median(times.iter().map(|took| took.wall).collect()).unwrap_or_default();
    let cpu = |times: &[Took]| median(times.iter().map(|took| took.cpu).collect()).unwrap_or_default();
    let (harness_wall, engine_wall) = (wall(&harness), wall(&engine));
    eprintln!(
        "\n{CASES} cases ({FILES} files × {CASES_PER_FILE}), {} in flight; medians of {} and {} samples:",
        env.cases_in_flight,
        harness.len(),
        engine.len()
    );
    for (name, wall, cpu) in [
        ("harness_1000_cases", harness_wall, cpu(&harness)),
        ("engine_1000_runs", engine_wall, cpu(&engine)),
    ] {
        eprintln!(
            "  {name:<19} {:>8.0} ms  {:>6.0} cases/s   CPU {:>8.0} ms",
            ms(wall),
            per_second(wall),
            ms(cpu)
        );
    }
    eprintln!(
        "  harness / engine: {:.3} (CPU {:.3})",
        harness_wall.as_secs_f64() / engine_wall.as_secs_f64(),
        cpu(&harness).as_secs_f64() / cpu(&engine).as_secs_f64()
    );

    let pairs: usize = std::env::var("FLOWRUN_BENCH_PAIRS")
        .ok()
        .and_then(|pairs| pairs.parse().ok())
        .unwrap_or(PAIRS);
    if pairs == 0 {
        return;
    }
    let mut ratios = Vec::new();
    let mut cpu_ratios = Vec::new();
    let (mut harness, mut engine) = (Vec::new(), Vec::new());
    for pair in 0..pairs {
        let (h, e) = if pair % 2 == 0 {
            let h = measure(env, run_harness);
            (h, measure(env, run_engine))
        } else {
            let e = measure(env, run_engine);
            (measure(env, run_harness), e)
        };
        ratios.push(h.wall.as_secs_f64() / e.wall.as_secs_f64());
        cpu_ratios.push(h.cpu.as_secs_f64() / e.cpu.as_secs_f64().max(f64::MIN_POSITIVE));
        harness.push(h);
        engine.push(e);
    }
    let ratio = median(ratios.clone()).unwrap_or_default();
    let lowest = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let highest = ratios.iter().copied().fold(0.0, f64::max);
    eprintln!(
        "interleaved, {pairs} pairs: harness {:.0} ms ({:.0} cases/s, CPU {:.0} ms), engine {:.0} ms ({:.0} cases/s, CPU {:.0} ms)",
        ms(wall(&harness)),
        per_second(wall(&harness)),
        ms(cpu(&harness)),
        ms(wall(&engine)),
        per_second(wall(&engine)),
        ms(cpu(&engine)),
    );
    eprintln!(
        "  harness / engine, median of the pairs: {ratio:.3} (pairs {lowest:.3} … {highest:.3}; CPU {:.3}); target ≤ 1.2: {}",
        median(cpu_ratios).unwrap_or_default(),
        if ratio <= 1.2 { "met" } else { "NOT met" },
    );
}
