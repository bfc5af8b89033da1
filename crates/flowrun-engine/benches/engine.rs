//! Engine overhead per step: a 1,000-step chain of trivial transform steps and a 1,000-wide
//! fan-out, each run whole through `Engine::run` (plan already made) with the SQLite state
//! store writing every step's result, against a baseline that calls the same step function
//! (the compiled pipeline) directly in a loop, in the same run. Target: ≤ 50 µs per step
//! including the state-store write.
//!
//! Run: `cargo bench -p flowrun-engine --bench engine`. Divan's `thrpt` column is steps per
//! second; µs per step = 1,000,000 / thrpt. `*_no_store` runs the same flow without a store, to
//! show what the writes cost.

use std::sync::Arc;

use divan::Bencher;
use divan::counter::ItemsCount;
use flowrun_connect::registry::Registry;
use flowrun_engine::plan::Plan;
use flowrun_engine::run::{Engine, RunRequest};
use flowrun_engine::transform;
use flowrun_expr::{Runtime, Scope};
use flowrun_flow::catalog::Catalog;
use flowrun_flow::model::Flow;
use indexmap::IndexMap;
use serde_json::{Value as Json, json};

const STEPS: usize = 1000;

fn main() {
    divan::main();
}

fn step(id: &str, input: Json) -> Json {
    json!({ "id": id, "transform": { "input": input, "pipeline": [{ "limit": 2 }] } })
}

/// `s0` reads a literal list; each next step reads the one before.
fn chain() -> Flow {
    let mut steps = vec![step("s0", json!([1, 2, 3]))];
    for index in 1..STEPS {
        steps.push(step(
            &format!("s{index}"),
            json!(format!("{{{{ steps.s{}.output }}}}", index - 1)),
        ));
    }
    serde_json::from_value(json!({ "flow": "chain", "steps": steps })).expect("a flow")
}

/// `s0`, then 999 steps that all read it.
fn fan_out() -> Flow {
    let mut steps = vec![step("s0", json!([1, 2, 3]))];
    for index in 1..STEPS {
        steps.push(step(&format!("s{index}"), json!("{{ steps.s0.output }}")));
    }
    serde_json::from_value(json!({ "flow": "fanout", "steps": steps })).expect("a flow")
}

fn request() -> RunRequest {
    RunRequest::new(json!({}), "bench")
}

struct Setup {
    runtime: tokio::runtime::Runtime,
    engine: Engine,
    _dir: Option<tempfile::TempDir>,
}

fn setup(with_store: bool) -> Setup {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (store, dir) = if with_store {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let url = format!("sqlite://{}", dir.path().join("state.db").display());
        (
            Some(runtime.block_on(flowrun_state::open(&url)).expect("a state store")),
            Some(dir),
        )
    } else {
        (None, None)
    };
    let engine = Engine::new(Arc::new(Registry::default()), store);
    Setup {
        runtime,
        engine,
        _dir: dir,
    }
}

fn run_flow(bencher: Bencher, flow: Flow, with_store: bool) {
    let setup = setup(with_store);
    let plan = Arc::new(Plan::new(&flow, &IndexMap::new(), &Catalog::default()).expect("a plan"));
    bencher.counter(ItemsCount::new(STEPS)).bench_local(|| {
        let outcome = setup
            .runtime
            .block_on(setup.engine.run(plan.clone(), request()))
            .expect("the run is recorded");
        assert_eq!(outcome.status, flowrun_state::RunStatus::Success);
    });
}

/// The baseline: the step function (the compiled pipeline of one step) called 1,000 times.
#[divan::bench]
fn direct_loop(bencher: Bencher) {
    let flow = chain();
    let pipeline = transform::compile(flow.steps[0].transform.as_ref().expect("a transform step")).expect("a pipeline");
    let scope = Scope::new(Runtime::default());
    bencher.counter(ItemsCount::new(STEPS)).bench_local(|| {
        for _ in 0..STEPS {
            divan::black_box(pipeline.run(&scope).expect("the step runs"));
        }
    });
}

#[divan::bench(sample_count = 10)]
fn chain_with_store(bencher: Bencher) {
    run_flow(bencher, chain(), true);
}

#[divan::bench(sample_count = 10)]
fn fan_out_with_store(bencher: Bencher) {
    run_flow(bencher, fan_out(), true);
}

#[divan::bench(sample_count = 10)]
fn chain_no_store(bencher: Bencher) {
    run_flow(bencher, chain(), false);
}

#[divan::bench(sample_count = 10)]
fn fan_out_no_store(bencher: Bencher) {
    run_flow(bencher, fan_out(), false);
}
