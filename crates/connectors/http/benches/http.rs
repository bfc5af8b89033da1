//! The HTTP layer end to end: flows of one `http.request` step run whole through
//! `Engine::run` (plan already made, no state store) against the sandbox's test API, each
//! against a hand-written tokio + reqwest loop doing the same requests to the same server, in
//! the same run. Target: flowrun at ≥ 80% of the loop's throughput.
//!
//! Run: `cargo bench -p flowrun-connector-http --bench http`. Divan's `thrpt` column is
//! requests per second for `echo_*` and records per second for `pages_*`.
//!
//! - `echo_for_each_10k`: `for_each` over `range(10000)`, `concurrency: 32`, each item POSTing
//!   `{"n": item}` to `/test/echo` (absolute URL, no connection); the engine's
//!   `max_concurrency` is 32. Baselines, 32 tokio tasks sharing one reqwest client and sending
//!   the same 10,000 POSTs:
//!   - `echo_reqwest_collect_10k` does the flow's job: each JSON response parsed and kept, in
//!     item order, until all are in (a `for_each` step's output is the list of its items'
//!     outputs, which the flow's `output:` reads), then freed on tokio's blocking pool as the
//!     engine frees a run's outputs. This is the baseline of the 80% target, like
//!     `pages_reqwest_loop_100k`, which keeps every record too.
//!   - `echo_reqwest_loop_10k` parses each response and drops it at once: the least work any
//!     client can do, the floor under every other figure.
//!   - `echo_reqwest_buffered_10k` is the dropping loop from one task with `buffered(32)` (no
//!     spawning: everything but hyper's connection tasks polled on the bench thread).
//! - `pages_100k`: `paginate: {kind: page, …}` over `/test/pages/page` with `per_page=1000`
//!   and `total=100000`: 101 requests (the last page is empty), 100,000 records in the step
//!   output. Baseline `pages_reqwest_loop_100k`: the same pages fetched one after another,
//!   each parsed and its `data` items moved into one `Vec`, stopping at the empty page.
//!
//! Where the difference goes:
//!
//! - `module::*`: the `http.request` module called directly as the engine calls it
//!   (`call_output`: a JSON body checked, not parsed) with the parameters the flows render (no
//!   engine): `echo_call_10k` from 32 tasks like the loop, `pages_call_100k` once.
//!   Flow minus module is the engine's share; module minus loop is the HTTP layer's.
//! - `parts::*`: what is done to a 100,000-record output after the module returns it:
//!   `from_json` (the engine's conversion to a template value), `to_json` (back, as the engine
//!   does for a step's record), `clone` (a deep copy, as `serde_json::to_value` of the output
//!   or the page clones in `paginate.rs` cost).
//!
//! Every iteration checks its result (item count, and a sample of the values), so a broken
//! bench cannot pass silently.
//!
//! Peak memory: after the benchmarks (only under `cargo bench`, not with `--test` or `--list`),
//! each flow and each loop runs once in a process of its own (this binary again), which prints
//! its peak RSS (`VmHWM` of `/proc/self/status`) before and after the run; the difference is
//! what the run added over the runtime, the sandbox and the plans. `FLOWRUN_BENCH_MEMORY=0`
//! skips it.
//!
//! `FLOWRUN_BENCH_PROFILE=pages_100k:20` (any name of the table in `runs`, and a count) runs
//! that work so many times and nothing else, for a profiler: `perf record` on the bench binary.
//!
//! One sandbox serves every benchmark, on the same multi-thread tokio runtime (one worker per
//! core) as the clients.

#![allow(clippy::unwrap_used)]

use std::path::Path;

/// The binary's allocator (crates/flowrun/src/main.rs), for flowrun and the baselines alike.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use divan::Bencher;
use divan::counter::ItemsCount;
use flowrun_connect::module::{CallContext, Module, ModuleOutput};
use flowrun_connect::registry::Registry;
use flowrun_engine::plan::Plan;
use flowrun_engine::run::{Engine, RunRequest};
use flowrun_flow::validate::{Context, validate_flow};
use flowrun_sandbox::{Sandbox, SandboxConfig};
use flowrun_state::RunStatus;
use futures_util::StreamExt;
use serde_json::{Value as Json, json};

const ECHO_ITEMS: usize = 10_000;
const CONCURRENCY: usize = 32;
const RECORDS: usize = 100_000;
const PER_PAGE: usize = 1000;
/// 100 full pages and the empty one that ends the read.
const PAGES: usize = RECORDS / PER_PAGE + 1;
const SAMPLES: u32 = 10;

/// A child of `memory()`: the name of the run it measures.
const CHILD: &str = "FLOWRUN_BENCH_MEMORY_CHILD";

fn main() {
    if let Ok(name) = std::env::var(CHILD) {
        child(&name);
        return;
    }
    if let Ok(profile) = std::env::var("FLOWRUN_BENCH_PROFILE") {
        let (name, times) = profile.split_once(':').unwrap_or((&profile, "10"));
        let run = find(name);
        let times: usize = times.parse().expect("FLOWRUN_BENCH_PROFILE=<name>:<count>");
        let env = env();
        for _ in 0..times {
            run(env);
        }
        return;
    }
    divan::main();
    let args: Vec<String> = std::env::args().collect();
    let benching =
        args.iter().any(|arg| arg == "--bench") && !args.iter().any(|arg| arg == "--test" || arg == "--list");
    if benching && std::env::var("FLOWRUN_BENCH_MEMORY").as_deref() != Ok("0") {
        memory();
    }
}

/// What every benchmark shares: the runtime, the sandbox, the engine and the plans.
struct Env {
    runtime: tokio::runtime::Runtime,
    _sandbox: Sandbox,
    api: String,
    engine: Engine,
    echo_plan: Arc<Plan>,
    pages_plan: Arc<Plan>,
    /// The baselines' client, its pool kept warm across iterations like the engine's.
    client: reqwest::Client,
    /// `http.request` itself, and a context to call it outside a run (its own HTTP runtime).
    module: Arc<dyn Module>,
    context: Arc<CallContext>,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let sandbox = runtime
            .block_on(Sandbox::start(0, SandboxConfig::default()))
            .expect("the sandbox starts");
        let api = sandbox.test_api_url();
        let mut registry = Registry::default();
        registry.register(flowrun_connector_core::connector());
        registry.register(flowrun_connector_http::connector());
        let catalog = registry.catalog();
        let plan = |yaml: &str| {
            let report = validate_flow(
                Path::new("bench.yaml"),
                yaml.as_bytes(),
                Context {
                    catalog: &catalog,
                    project: None,
                },
            );
            let errors: Vec<_> = report.diagnostics.iter().filter(|d| d.is_error()).collect();
            assert!(errors.is_empty(), "the bench flow is invalid: {errors:#?}");
            let flow = report.flow.expect("a flow");
            Arc::new(Plan::new(&flow, &flow.connections, &catalog).expect("a plan"))
        };
        let echo_plan = plan(&format!(
            r#"flow: echo
steps:
  - id: echo
    uses: http.request
    for_each: "{{{{ range({ECHO_ITEMS}) | list }}}}"
    concurrency: {CONCURRENCY}
    with:
      method: POST
      url: "{api}/echo"
      body: {{ n: "{{{{ item }}}}" }}
output:
  count: "{{{{ steps.echo.output | length }}}}"
  last: "{{{{ steps.echo.output[-1].body.body.n }}}}"
"#
        ));
        let pages_plan = plan(&format!(
            r#"flow: pages
steps:
  - id: pages
    uses: http.request
    with:
      url: "{api}/pages/page"
      query: {{ per_page: {PER_PAGE}, total: {RECORDS} }}
      paginate: {{ kind: page, param: page, items: "$.data", max_pages: 200 }}
output:
  count: "{{{{ steps.pages.output.body | length }}}}"
  pages: "{{{{ steps.pages.output.pages }}}}"
  last: "{{{{ steps.pages.output.body[-1].id }}}}"
"#
        ));
        let module = registry
            .module("http.request")
            .expect("the http connector is registered");
        let mut engine = Engine::new(Arc::new(registry), None);
        engine.options.max_concurrency = CONCURRENCY;
        let client = reqwest::Client::builder().build().expect("a reqwest client");
        Env {
            runtime,
            _sandbox: sandbox,
            api,
            engine,
            echo_plan,
            pages_plan,
            client,
            module,
            context: Arc::new(CallContext::new("bench", "module")),
        }
    })
}

/// One timed piece of work.
type Run = fn(&Env);

/// Every run the benchmarks time, by name, for the memory children and the profile mode.
fn runs() -> [(&'static str, Run); 7] {
    [
        ("echo_for_each_10k", flow_echo),
        ("echo_reqwest_collect_10k", reqwest_echo_collect),
        ("echo_reqwest_loop_10k", reqwest_echo),
        ("echo_call_10k", module_echo),
        ("pages_100k", flow_pages),
        ("pages_reqwest_loop_100k", |env| drop(reqwest_pages(env))),
        ("pages_call_100k", |env| drop(module_pages(env))),
    ]
}

fn find(name: &str) -> Run {
    runs()
        .into_iter()
        .find(|(known, _)| *known == name)
        .map(|(_, run)| run)
        .unwrap_or_else(|| panic!("no run named `{name}`"))
}

fn request() -> RunRequest {
    RunRequest::new(json!({}), "bench")
}

/// Runs a plan and returns the flow's output, which must be a success.
fn run_flow(env: &Env, plan: &Arc<Plan>) -> Json {
    let outcome = env
        .runtime
        .block_on(env.engine.run(plan.clone(), request()))
        .expect("the run starts and ends");
    assert_eq!(outcome.status, RunStatus::Success, "{:#?}", outcome.error);
    outcome.output.expect("a successful run has an output")
}

fn flow_echo(env: &Env) {
    let output = run_flow(env, &env.echo_plan);
    assert_eq!(output, json!({ "count": ECHO_ITEMS, "last": ECHO_ITEMS - 1 }));
}

fn flow_pages(env: &Env) {
    let output = run_flow(env, &env.pages_plan);
    assert_eq!(output, json!({ "count": RECORDS, "pages": PAGES, "last": RECORDS }));
}

/// `work(n)` for n in 0..10,000, from 32 tasks taking the next n from a shared counter.
fn on_32_tasks<F, Fut>(env: &Env, work: F)
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let done = env.runtime.block_on(async {
        let workers: Vec<_> = (0..CONCURRENCY)
            .map(|_| {
                let (work, next) = (work.clone(), next.clone());
                tokio::spawn(async move {
                    let mut done = 0;
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= ECHO_ITEMS {
                            return done;
                        }
                        work(n).await;
                        done += 1;
                    }
                })
            })
            .collect();
        let mut done = 0;
        for worker in workers {
            done += worker.await.unwrap();
        }
        done
    });
    assert_eq!(done, ECHO_ITEMS);
}

/// One POST of the baselines: `{"n": n}` sent, the JSON answer parsed, checked and returned.
async fn post_echo(client: &reqwest::Client, url: &str, n: usize) -> Json {
    let body = serde_json::to_vec(&json!({ "n": n })).unwrap();
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let bytes = response.bytes().await.unwrap();
    let echoed: Json = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(echoed["body"]["n"], n, "{echoed}");
    echoed
}

/// The echo baseline doing the flow's job: 32 tasks sharing one client, every answer kept in
/// its item's place; the list is checked like the flow's output, then freed in the background.
fn reqwest_echo_collect(env: &Env) {
    let (client, url): (_, Arc<str>) = (env.client.clone(), format!("{}/echo", env.api).into());
    let slots: Arc<Vec<OnceLock<Json>>> = Arc::new((0..ECHO_ITEMS).map(|_| OnceLock::new()).collect());
    let filled = slots.clone();
    on_32_tasks(env, move |n| {
        let (client, url, slots) = (client.clone(), url.clone(), filled.clone());
        async move {
            let echoed = post_echo(&client, &url, n).await;
            slots[n].set(echoed).expect("each item is answered once");
        }
    });
    let outputs: Vec<Json> = Arc::into_inner(slots)
        .expect("every task has ended")
        .into_iter()
        .map(|slot| slot.into_inner().expect("every item was answered"))
        .collect();
    assert_eq!(outputs.len(), ECHO_ITEMS);
    assert_eq!(outputs[ECHO_ITEMS - 1]["body"]["n"], ECHO_ITEMS - 1);
    env.runtime.spawn_blocking(move || drop(outputs));
}

/// The echo floor: 32 tasks sharing one client, every answer dropped once checked.
fn reqwest_echo(env: &Env) {
    let (client, url): (_, Arc<str>) = (env.client.clone(), format!("{}/echo", env.api).into());
    on_32_tasks(env, move |n| {
        let (client, url) = (client.clone(), url.clone());
        async move { drop(post_echo(&client, &url, n).await) }
    });
}

/// The echo baseline from one task: `buffered(32)`.
fn reqwest_echo_buffered(env: &Env) {
    let url = format!("{}/echo", env.api);
    let done = env.runtime.block_on(
        futures_util::stream::iter(0..ECHO_ITEMS)
            .map(|n| post_echo(&env.client, &url, n))
            .buffered(CONCURRENCY)
            .count(),
    );
    assert_eq!(done, ECHO_ITEMS);
}

/// The module alone, from 32 tasks, with the parameters the echo flow renders.
fn module_echo(env: &Env) {
    let (module, context, url) = (env.module.clone(), env.context.clone(), format!("{}/echo", env.api));
    on_32_tasks(env, move |n| {
        let (module, context) = (module.clone(), context.clone());
        let params = json!({ "method": "POST", "url": url, "body": { "n": n } });
        async move {
            // As the engine calls it: a JSON body comes back checked, not parsed.
            let output = module.call_output(&context, params).await.unwrap();
            let ModuleOutput::WithRawJson { raw, .. } = output else {
                panic!("a JSON body is kept as text: {output:?}");
            };
            assert!(raw.get().contains(&format!(r#""n":{n}}}"#)), "{}", raw.get());
        }
    });
}

/// The pages baseline: every page in turn, its items collected, until the empty page.
fn reqwest_pages(env: &Env) -> Vec<Json> {
    let url = format!("{}/pages/page", env.api);
    let (items, pages) = env.runtime.block_on(async {
        let mut items = Vec::new();
        let mut page = 1;
        loop {
            let response = env
                .client
                .get(&url)
                .query(&[("per_page", PER_PAGE), ("total", RECORDS), ("page", page)])
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success(), "{}", response.status());
            let bytes = response.bytes().await.unwrap();
            let mut body: Json = serde_json::from_slice(&bytes).unwrap();
            let Json::Array(data) = body["data"].take() else {
                panic!("no `data` list in page {page}");
            };
            if data.is_empty() {
                return (items, page);
            }
            items.extend(data);
            page += 1;
        }
    });
    assert_eq!((items.len(), pages), (RECORDS, PAGES));
    assert_eq!(items[RECORDS - 1]["id"], RECORDS);
    items
}

/// The module alone, with the parameters the pages flow renders; returns its output.
fn module_pages(env: &Env) -> Json {
    let params = json!({
        "url": format!("{}/pages/page", env.api),
        "query": { "per_page": PER_PAGE, "total": RECORDS },
        "paginate": { "kind": "page", "param": "page", "items": "$.data", "max_pages": 200 },
    });
    let output = env.runtime.block_on(env.module.call(&env.context, params)).unwrap();
    assert_eq!(output["pages"], PAGES);
    assert_eq!(output["body"].as_array().map(Vec::len), Some(RECORDS));
    output
}

#[divan::bench(sample_count = SAMPLES, sample_size = 1)]
fn echo_for_each_10k(bencher: Bencher) {
    let env = env();
    bencher
        .counter(ItemsCount::new(ECHO_ITEMS))
        .bench_local(|| flow_echo(env));
}

#[divan::bench(sample_count = SAMPLES, sample_size = 1)]
fn echo_reqwest_collect_10k(bencher: Bencher) {
    let env = env();
    bencher
        .counter(ItemsCount::new(ECHO_ITEMS))
        .bench_local(|| reqwest_echo_collect(env));
}

#[divan::bench(sample_count = SAMPLES, sample_size = 1)]
fn echo_reqwest_loop_10k(bencher: Bencher) {
    let env = env();
    bencher
        .counter(ItemsCount::new(ECHO_ITEMS))
        .bench_local(|| reqwest_echo(env));
}

#[divan::bench(sample_count = SAMPLES, sample_size = 1)]
fn echo_reqwest_buffered_10k(bencher: Bencher) {
    let env = env();
    bencher
        .counter(ItemsCount::new(ECHO_ITEMS))
        .bench_local(|| reqwest_echo_buffered(env));
}

#[divan::bench(sample_count = SAMPLES, sample_size = 1)]
fn pages_100k(bencher: Bencher) {
    let env = env();
    bencher
        .counter(ItemsCount::new(RECORDS))
        .bench_local(|| flow_pages(env));
}

#[divan::bench(sample_count = SAMPLES, sample_size = 1)]
fn pages_reqwest_loop_100k(bencher: Bencher) {
    let env = env();
    bencher
        .counter(ItemsCount::new(RECORDS))
        .bench_local(|| reqwest_pages(env));
}

/// The `http.request` module without the engine.
mod module {
    use super::*;

    #[divan::bench(sample_count = SAMPLES, sample_size = 1)]
    fn echo_call_10k(bencher: Bencher) {
        let env = env();
        bencher
            .counter(ItemsCount::new(ECHO_ITEMS))
            .bench_local(|| module_echo(env));
    }

    #[divan::bench(sample_count = SAMPLES, sample_size = 1)]
    fn pages_call_100k(bencher: Bencher) {
        let env = env();
        bencher
            .counter(ItemsCount::new(RECORDS))
            .bench_local(|| module_pages(env));
    }
}

/// What happens to the 100,000-record output of `pages_100k` outside the requests.
mod parts {
    use super::*;

    fn output() -> &'static Json {
        static OUTPUT: OnceLock<Json> = OnceLock::new();
        OUTPUT.get_or_init(|| module_pages(env()))
    }

    #[divan::bench(sample_count = SAMPLES)]
    fn from_json(bencher: Bencher) {
        let output = output();
        bencher
            .counter(ItemsCount::new(RECORDS))
            .bench_local(|| flowrun_expr::from_json(output));
    }

    #[divan::bench(sample_count = SAMPLES)]
    fn to_json(bencher: Bencher) {
        let value = flowrun_expr::from_json(output());
        bencher
            .counter(ItemsCount::new(RECORDS))
            .bench_local(|| flowrun_expr::to_json(&value).unwrap());
    }

    #[divan::bench(sample_count = SAMPLES)]
    fn clone(bencher: Bencher) {
        let output = output();
        bencher.counter(ItemsCount::new(RECORDS)).bench_local(|| output.clone());
    }
}

/// A line of `/proc/self/status` in KiB (`VmHWM`, `VmRSS`); `None` off Linux.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// In a child process: the setup, then one run; prints `<peak before> <peak after> <ms>`.
fn child(name: &str) {
    let run = find(name);
    let env = env();
    let before = status_kib("VmHWM:").unwrap_or_default();
    let started = Instant::now();
    run(env);
    let elapsed = started.elapsed();
    let after = status_kib("VmHWM:").unwrap_or_default();
    println!("{before} {after} {:.1}", elapsed.as_secs_f64() * 1000.0);
}

/// Each flow and loop once in a process of its own, with the peak RSS it reached.
fn memory() {
    let Ok(exe) = std::env::current_exe() else {
        eprintln!("peak memory not measured: no path to this binary");
        return;
    };
    println!("\npeak RSS, one run in a fresh process each (VmHWM after the setup → after the run):");
    for (name, _) in runs() {
        let output = Command::new(&exe).env(CHILD, name).output();
        let line = match &output {
            Ok(output) if output.status.success() => String::from_utf8_lossy(&output.stdout).trim().to_owned(),
            Ok(output) => format!("failed: {}", String::from_utf8_lossy(&output.stderr).trim()),
            Err(error) => format!("failed: {error}"),
        };
        let numbers: Vec<f64> = line.split_whitespace().filter_map(|n| n.parse().ok()).collect();
        match numbers.as_slice() {
            [before, after, ms] => println!(
                "  {name:<24} {:>6.1} MiB → {:>6.1} MiB  (+{:>5.1} MiB; the run took {ms:.0} ms, cold)",
                mib(*before as u64),
                mib(*after as u64),
                mib((*after - *before).max(0.0) as u64),
            ),
            _ => println!("  {name:<24} {line}"),
        }
    }
}
