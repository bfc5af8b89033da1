//! The first load of `flows/conexiom-extract.yaml` (the README's example) reading 5,000
//! documents of the sandbox's Conexiom simulator into a fresh SQLite file: documents per second,
//! and the share of the time spent in HTTP, in SQL and in the engine. Target: the engine's share
//! under 10%.
//!
//! Run: `cargo bench -p flowrun-connector-conexiom --bench extract`.
//!
//! Each iteration runs the flow file as it is, by `Engine::run` with a real SQLite state store
//! (every step and item recorded, as `flowrun run` does), its `extract_db` connection landing in
//! a new temporary folder (`files_dir`), against one simulator of 25 SpokeCos and 5,000
//! documents (about 95% processed, each with its data and files: some 10,000 requests, a run):
//!
//! - `first_load_5k`: the run as users run it. Divan's `thrpt` is documents per second.
//! - `engine_only_5k`: the same run, every module step answered at once by a stand-in that
//!   returns what the real module returned for the same step and item (recorded once in the
//!   setup, and copied for each run before its timer starts: handing an output over costs the
//!   stand-in nothing, as parsing it is the real module's work). A stand-in checks parameters
//!   of up to 1 KiB against the recorded ones and leaves longer ones (an upsert's rows) unread:
//!   reading them is the real module's work too. What is left is the engine's own work:
//!   planning, rendering every `with:` and `for_each`, the transforms, scheduling, the state
//!   store's writes, cursors.
//!
//! After Divan (only under `cargo bench`), a summary runs both in interleaved rounds
//! (`FLOWRUN_BENCH_ROUNDS`, default 5) and prints their medians, documents per second, and the
//! **engine's share**: the median engine-only time over the median real time. The real rounds
//! also time every module call (a wrapper around each module): the summed busy time of the
//! `conexiom` calls (HTTP) and of the `sql` calls, with their shares of all module time. Calls
//! run concurrently (`concurrency: 8`), so busy time adds up to more than the wall time; the
//! engine's share is the wall-time one. The in-process simulator answers in well under a
//! millisecond, so the real runs are repeated with `FLOWRUN_BENCH_LATENCY_MS` (default 20) added
//! to every Conexiom request, as an API over a network takes; both shares are printed. Last,
//! each step's time in the last engine-only round: where the engine's own time goes.
//!
//! The simulator runs in this process, on the same tokio runtime: its work is part of the HTTP
//! time, as a remote server's latency would be.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The binary's allocator (crates/flowrun/src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use divan::Bencher;
use divan::counter::ItemsCount;
use flowrun_connect::module::{CallContext, Module, ModuleError};
use flowrun_connect::registry::Registry;
use flowrun_engine::plan::Plan;
use flowrun_engine::run::{Engine, RunOutcome, RunRequest};
use flowrun_expr::Secret;
use flowrun_flow::catalog::ModuleKind;
use flowrun_flow::validate::{Context, validate_flow};
use flowrun_sandbox::{ConexiomSettings, Sandbox, SandboxConfig, conexiom_credentials as creds};
use flowrun_state::{RunStatus, StateStore};
use indexmap::IndexMap;
use serde_json::{Value as Json, json};

const DOCUMENTS: usize = 5_000;
const SPOKECOS: usize = 25;

fn main() {
    divan::main();
    let args: Vec<String> = std::env::args().collect();
    let benching =
        args.iter().any(|arg| arg == "--bench") && !args.iter().any(|arg| arg == "--test" || arg == "--list");
    if benching {
        summary();
    }
}

/// What every run shares.
struct Env {
    runtime: tokio::runtime::Runtime,
    sandbox: Sandbox,
    registry: Arc<Registry>,
    plan: Arc<Plan>,
    /// The module steps: id and `uses`.
    module_steps: Vec<(String, String)>,
    /// What the modules of the first (untimed) run returned, by step and parameters.
    recorded: Arc<Recorded>,
    /// The flow's output a full first load gives.
    expected: Json,
    /// Documents landed by a first load.
    documents: usize,
}

/// Each call's output by step and item, with the parameters' text when it is short.
type Recorded = Mutex<HashMap<CallKey, (Option<String>, Json)>>;

/// A call of a run: its step, and its item for a `for_each` step. The run is deterministic
/// (the same answers make the same lists, in the same order), so this names the same call in
/// every run.
type CallKey = (String, Option<usize>);

/// Parameters up to this long are recorded and checked by the stand-ins; longer ones (the
/// rows of an upsert) are not read by them at all.
const CHECKED_PARAMS_BYTES: usize = 1024;

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let sandbox = runtime.block_on(Sandbox::start(0, SandboxConfig::default())).unwrap();
        let control = sandbox.control();
        control.set_conexiom_settings(ConexiomSettings {
            spokecos: SPOKECOS,
            documents: DOCUMENTS,
            ..ConexiomSettings::default()
        });
        let counts = control.conexiom_counts();

        let mut registry = Registry::default();
        registry.register(flowrun_connector_core::connector());
        registry.register(flowrun_connector_sql::connector());
        registry.register(flowrun_connector_conexiom::connector());
        let catalog = registry.catalog();
        let file = flows_dir().join("conexiom-extract.yaml");
        let report = validate_flow(
            &file,
            &std::fs::read(&file).unwrap(),
            Context {
                catalog: &catalog,
                project: None,
            },
        );
        let errors: Vec<_> = report.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert!(errors.is_empty(), "the example flow is invalid: {errors:#?}");
        let flow = report.flow.unwrap();
        let plan = Arc::new(Plan::new(&flow, &flow.connections, &catalog).unwrap());
        let module_steps = flow
            .steps
            .iter()
            .filter_map(|step| Some((step.id.clone(), step.uses.clone()?)))
            .collect();

        let mut env = Env {
            runtime,
            sandbox,
            registry: Arc::new(registry),
            plan,
            module_steps,
            recorded: Arc::new(Mutex::new(HashMap::new())),
            expected: Json::Null,
            documents: counts.processed_documents,
        };
        // Once, untimed: a full first load, its module outputs recorded for the stand-ins.
        let started = Instant::now();
        let (outcome, _) = env.runtime.block_on(first_load(&env, Mode::Record, None));
        eprintln!(
            "setup: {} documents ({} processed), first load {:.1?}",
            counts.documents,
            counts.processed_documents,
            started.elapsed()
        );
        let output = outcome.output.unwrap();
        assert_eq!(output["documents"], json!(counts.processed_documents), "{output}");
        assert_eq!(output["document_lines"], json!(counts.document_lines), "{output}");
        env.expected = output;
        env
    })
}

fn flows_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../flows")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The real modules, their outputs recorded.
    Record,
    /// The real modules, each call timed.
    Timed,
    /// The real modules as they are.
    Plain,
    /// Stand-ins answering what was recorded, from copies made before the run (untimed).
    EngineOnly,
}

/// One engine-only run's answers: a copy of every recorded output, made before the run is
/// timed, so a stand-in hands its output over (moved out, as a real module hands over what it
/// parsed) and copying it is not counted as the engine's work.
fn answers(env: &Env) -> Arc<Recorded> {
    Arc::new(Mutex::new(env.recorded.lock().unwrap().clone()))
}

/// Busy time of the module calls, by connector, in nanoseconds.
#[derive(Default)]
struct Busy {
    by_connector: Mutex<HashMap<String, Arc<AtomicU64>>>,
}

impl Busy {
    fn counter(&self, connector: &str) -> Arc<AtomicU64> {
        self.by_connector
            .lock()
            .unwrap()
            .entry(connector.to_owned())
            .or_default()
            .clone()
    }

    fn seconds(&self, connector: &str) -> f64 {
        self.counter(connector).load(Ordering::Relaxed) as f64 / 1e9
    }
}

/// One first load into a new folder; the outcome and the module busy times.
async fn first_load(env: &Env, mode: Mode, answers: Option<Arc<Recorded>>) -> (RunOutcome, Busy) {
    let dir = tempfile::tempdir().unwrap();
    let state_url = format!("sqlite://{}", dir.path().join("state.db").display());
    let store: Arc<dyn StateStore> = flowrun_state::open(&state_url).await.unwrap();
    let mut engine = Engine::new(env.registry.clone(), Some(store));
    engine.options.files_dir = Some(dir.path().into());
    let busy = Busy::default();
    if mode != Mode::Plain {
        for (step, uses) in &env.module_steps {
            let real = env.registry.module(uses).unwrap();
            let connector = uses.split('.').next().unwrap();
            let module: Arc<dyn Module> = match mode {
                Mode::EngineOnly => Arc::new(StandIn {
                    real,
                    answers: answers.clone().expect("an engine-only run has its answers"),
                }),
                _ => Arc::new(Timed {
                    real,
                    busy: busy.counter(connector),
                    recorded: (mode == Mode::Record).then(|| env.recorded.clone()),
                }),
            };
            engine.options.step_modules.insert(step.clone(), module);
        }
    }
    let mut request = RunRequest::new(json!({}), "bench");
    request
        .env
        .insert("FLOWRUN_SANDBOX_URL".to_owned(), env.sandbox.base_url());
    request.secrets = IndexMap::from([
        ("CONEXIOM_SANDBOX_PASSWORD".to_owned(), Secret::new(creds::PASSWORD)),
        (
            "CONEXIOM_SANDBOX_CLIENT_SECRET".to_owned(),
            Secret::new(creds::CLIENT_SECRET),
        ),
    ]);
    let outcome = engine.run(env.plan.clone(), request).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    if !env.expected.is_null() {
        assert_eq!(outcome.output.as_ref(), Some(&env.expected));
    }
    (outcome, busy)
}

/// The key a call's output is recorded under.
fn key(context: &CallContext) -> CallKey {
    (context.step_id.clone(), context.item_index)
}

/// The real module, timed (and its outputs recorded).
struct Timed {
    real: Arc<dyn Module>,
    busy: Arc<AtomicU64>,
    recorded: Option<Arc<Recorded>>,
}

#[async_trait::async_trait]
impl Module for Timed {
    fn name(&self) -> &str {
        self.real.name()
    }

    fn kind(&self) -> ModuleKind {
        self.real.kind()
    }

    async fn call(&self, context: &CallContext, params: Json) -> Result<Json, ModuleError> {
        let key = self.recorded.as_ref().map(|_| {
            let text = params.to_string();
            (key(context), (text.len() <= CHECKED_PARAMS_BYTES).then_some(text))
        });
        let started = Instant::now();
        let output = self.real.call(context, params).await;
        let took = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.busy.fetch_add(took, Ordering::Relaxed);
        if let (Some(recorded), Some((key, text)), Ok(output)) = (&self.recorded, key, &output) {
            let earlier = recorded.lock().unwrap().insert(key.clone(), (text, output.clone()));
            assert!(earlier.is_none(), "step `{}` item {:?} was called twice", key.0, key.1);
        }
        output
    }

    fn retries_itself(&self) -> bool {
        self.real.retries_itself()
    }
}

/// What the real module returned for the same step and parameters, at once (each step calls
/// with the same parameters once a run).
struct StandIn {
    real: Arc<dyn Module>,
    answers: Arc<Recorded>,
}

#[async_trait::async_trait]
impl Module for StandIn {
    fn name(&self) -> &str {
        self.real.name()
    }

    fn kind(&self) -> ModuleKind {
        self.real.kind()
    }

    async fn call(&self, context: &CallContext, params: Json) -> Result<Json, ModuleError> {
        let key = key(context);
        let answer = self.answers.lock().unwrap().remove(&key);
        let Some((text, output)) = answer else {
            panic!(
                "no recorded output (or a second call) for step `{}` item {:?}",
                key.0, key.1
            );
        };
        // Short parameters are checked: the same call as recorded. Long ones are left
        // unread, as reading them is the real module's work, not the engine's.
        if let Some(text) = text {
            assert_eq!(
                params.to_string(),
                text,
                "step `{}` item {:?}: other parameters",
                key.0,
                key.1
            );
        }
        Ok(output)
    }

    fn retries_itself(&self) -> bool {
        self.real.retries_itself()
    }
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn first_load_5k(bencher: Bencher) {
    let env = env();
    bencher
        .counter(ItemsCount::new(env.documents))
        .bench(|| env.runtime.block_on(first_load(env, Mode::Plain, None)));
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn engine_only_5k(bencher: Bencher) {
    let env = env();
    bencher
        .counter(ItemsCount::new(env.documents))
        .with_inputs(|| answers(env))
        .bench_values(|answers| env.runtime.block_on(first_load(env, Mode::EngineOnly, Some(answers))));
}

/// Interleaved rounds of a timed real load and an engine-only load, then real loads with
/// network latency: an in-process simulator answers in a fraction of a millisecond, which no
/// API over a network does, so the engine's share is also given at `FLOWRUN_BENCH_LATENCY_MS`
/// (default 20 ms, a nearby cloud API) added to every Conexiom request by the sandbox's
/// latency fault.
fn summary() {
    let env = env();
    let number = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(default)
    };
    let rounds = number("FLOWRUN_BENCH_ROUNDS", 5) as usize;
    let latency = Duration::from_millis(number("FLOWRUN_BENCH_LATENCY_MS", 20));
    if rounds == 0 {
        return;
    }
    // The steps of the last engine-only round, for their durations.
    let steps = std::cell::RefCell::new(IndexMap::new());
    let time = |mode| {
        let answers = (mode == Mode::EngineOnly).then(|| answers(env));
        let started = Instant::now();
        let (outcome, busy) = env.runtime.block_on(first_load(env, mode, answers));
        if mode == Mode::EngineOnly {
            *steps.borrow_mut() = outcome.steps;
        }
        (started.elapsed(), busy)
    };
    let (mut real, mut engine_only) = (Vec::new(), Vec::new());
    let (mut http, mut sql) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // The order alternates, so a slow moment of the machine does not land on one side only.
        let ((real_time, busy), (engine_time, _)) = if round % 2 == 0 {
            let real = time(Mode::Timed);
            (real, time(Mode::EngineOnly))
        } else {
            let engine = time(Mode::EngineOnly);
            (time(Mode::Timed), engine)
        };
        real.push(real_time);
        engine_only.push(engine_time);
        http.push(busy.seconds("conexiom"));
        sql.push(busy.seconds("sql"));
    }
    let control = env.sandbox.control();
    control.add_fault(flowrun_sandbox::FaultRule::new(
        "/conexiom/*",
        flowrun_sandbox::Fault::Latency(latency),
    ));
    let (mut distant, mut distant_http, mut distant_sql) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (took, busy) = time(Mode::Timed);
        distant.push(took);
        distant_http.push(busy.seconds("conexiom"));
        distant_sql.push(busy.seconds("sql"));
    }
    control.clear_faults();

    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let median_f = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let (real, engine_only, distant) = (median(&mut real), median(&mut engine_only), median(&mut distant));
    let docs = env.documents as f64;
    println!(
        "\nfirst load of {} processed documents, {rounds} rounds each (medians):",
        env.documents
    );
    let share = |of: Duration| 100.0 * engine_only.as_secs_f64() / of.as_secs_f64();
    let busy = |http: f64, sql: f64| {
        format!(
            "module busy time: HTTP (conexiom) {http:.3} s = {:.0}%, SQL (sql) {sql:.3} s = {:.0}%",
            100.0 * http / (http + sql),
            100.0 * sql / (http + sql)
        )
    };
    println!(
        "  engine only           {:>8.3} s   (every module answered at once by a stand-in)",
        engine_only.as_secs_f64()
    );
    println!(
        "  real, in-process API  {:>8.3} s   {:>6.0} documents/s   engine share {:.1}%   {}",
        real.as_secs_f64(),
        docs / real.as_secs_f64(),
        share(real),
        busy(median_f(&mut http), median_f(&mut sql))
    );
    println!(
        "  real, {:>3} ms a call   {:>8.3} s   {:>6.0} documents/s   engine share {:.1}% (target < 10%)   {}",
        latency.as_millis(),
        distant.as_secs_f64(),
        docs / distant.as_secs_f64(),
        share(distant),
        busy(median_f(&mut distant_http), median_f(&mut distant_sql))
    );
    // Steps run concurrently, so these add up to more than the run: they show which steps
    // hold up the ones after them.
    let steps: Vec<String> = steps
        .borrow()
        .iter()
        .map(|(id, step)| format!("{id} {}", step.duration.as_millis()))
        .collect();
    println!(
        "  engine only, each step's time in ms (last round): {}",
        steps.join(", ")
    );
}
