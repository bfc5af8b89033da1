//! `onecrm.search_records` paging 10,000 records of the sandbox's 1CRM simulator, against a
//! hand-written tokio + reqwest loop reading the same pages from the same server, in the same
//! run. Target: the module at ≥ 80% of the loop's records per second.
//!
//! Run: `cargo bench -p flowrun-connector-onecrm --bench search`. Divan's `thrpt` column is
//! records per second.
//!
//! The simulator seeds 3,000 contacts; the setup creates the rest (`POST /data/Contact`, the
//! only way in: neither the simulator nor the control API loads records in bulk) so that
//! `Contact` holds exactly 10,000. Every iteration reads all of them, 100 a page (the
//! connector's `PAGE_SIZE`), with the same `fields[]`:
//!
//! - `search_records_10k`: the module found through a `Registry` and called with a
//!   `CallContext` of a `onecrm` connection, as the engine calls it (and as the connector's
//!   tests do), `limit: 10000`. The context is kept across iterations, so its client (and its
//!   connection pool) is reused like the engine's.
//! - `search_records_flow_10k`: the same in a one-step flow run whole by `Engine::run` (plan
//!   already made, no state store): adds rendering the connection and `with:`, the conversion
//!   of the 10,000-record output to a template value and back.
//! - `reqwest_loop_10k` (the baseline): Basic auth, `GET /data/Contact?fields[]=…&offset=N&
//!   limit=100` until `offset ≥ total_results`, each page parsed as a `serde_json::Value`, its
//!   records moved into one `Vec`.
//! - `parts::*`: what the module does to the records outside the requests: `output_json_macro`
//!   (its `json!({ "records": records, … })`, a deep copy of the 10,000 records and a drop),
//!   against `output_moved` (the `Vec` moved into the output object).
//!
//! Divan runs each benchmark's samples one after another, so noise on a busy machine lands on
//! one side. After Divan (only under `cargo bench`, not with `--test` or `--list`), a summary
//! runs the three in interleaved rounds (`FLOWRUN_BENCH_ROUNDS`, default 20, order rotating),
//! and prints per run: median, quartiles, min and max, records per second at the median, and
//! the throughput ratio to the loop (of the medians, and the median of the per-round ratios).
//! A second table does the same with the CPU time of the whole process (client and simulator,
//! every thread), less sensitive to waiting for a busy machine. `FLOWRUN_BENCH_ROUNDS=0` skips
//! the summary.
//!
//! The simulator answers each page by filtering every row of the model, so on 10,000 records it
//! takes about half of each run's time, the same on both sides: the ratio understates the
//! client-side difference.
//!
//! Every iteration checks its result (the record count, `total_results`, the first and last
//! ids); the setup checks once that the module and the loop read the same 10,000 records, in
//! 100 requests each.
//!
//! `FLOWRUN_BENCH_PROFILE=search_records_10k:50` (any name of the table in `runs`, and a count)
//! runs that work so many times and nothing else, for a profiler: `perf record` on the bench
//! binary.
//!
//! One sandbox serves every benchmark, on the same multi-thread tokio runtime (one worker per
//! core) as the clients.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// The binary's allocator (crates/flowrun/src/main.rs), for flowrun and the baseline alike.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use divan::Bencher;
use divan::counter::ItemsCount;
use flowrun_connect::module::{CallContext, Module};
use flowrun_connect::registry::Registry;
use flowrun_engine::plan::Plan;
use flowrun_engine::run::{Engine, RunRequest};
use flowrun_flow::validate::{Context, validate_flow};
use flowrun_sandbox::onecrm_credentials::{ADMIN_PASSWORD, ADMIN_USERNAME};
use flowrun_sandbox::{Sandbox, SandboxConfig};
use flowrun_state::RunStatus;
use futures_util::StreamExt;
use serde_json::{Value as Json, json};

/// Records read per iteration: every contact once the setup has added the missing ones.
const RECORDS: usize = 10_000;
/// The connector's page size (`PAGE_SIZE` in src/run/records.rs).
const PAGE_SIZE: usize = 100;
/// Requests per read: `total_results` is a multiple of the page size, so no short page.
const PAGES: usize = RECORDS / PAGE_SIZE;
const MODEL: &str = "Contact";
/// The columns asked for (the simulator adds `id`).
const FIELDS: [&str; 5] = [
    "first_name",
    "last_name",
    "email1",
    "phone_work",
    "primary_address_city",
];
const SAMPLES: u32 = 20;
/// Contacts created at once in the setup.
const CREATE_CONCURRENCY: usize = 16;

fn main() {
    if let Ok(profile) = std::env::var("FLOWRUN_BENCH_PROFILE") {
        let (name, times) = profile.split_once(':').unwrap_or((&profile, "10"));
        let run = find(name);
        let times: usize = times.parse().expect("FLOWRUN_BENCH_PROFILE=<name>:<count>");
        let env = env();
        let (cpu_before, started) = (cpu_ns(), Instant::now());
        for _ in 0..times {
            run(env);
        }
        let each = started.elapsed() / times as u32;
        let cpu = match (cpu_before, cpu_ns()) {
            (Some(before), Some(after)) => format!(", CPU {:.1} ms each", (after - before) as f64 / 1e6 / times as f64),
            _ => String::new(),
        };
        eprintln!("{name}: {times} runs, {each:?} each{cpu}");
        return;
    }
    divan::main();
    let args: Vec<String> = std::env::args().collect();
    let benching =
        args.iter().any(|arg| arg == "--bench") && !args.iter().any(|arg| arg == "--test" || arg == "--list");
    if benching {
        summary();
    }
}

/// What every benchmark shares: the runtime, the sandbox, the module, the engine and the plan.
struct Env {
    runtime: tokio::runtime::Runtime,
    sandbox: Sandbox,
    /// `…/onecrm/api.php`.
    api: String,
    /// `onecrm.search_records`, and the context of a `onecrm` connection to call it with
    /// (kept, so its client is made once, as in the engine).
    module: Arc<dyn Module>,
    context: CallContext,
    engine: Engine,
    plan: Arc<Plan>,
    /// The baseline's client, its pool kept warm across iterations like the connector's.
    client: reqwest::Client,
    /// The ids of the first and last records in the order the simulator lists them.
    first_id: String,
    last_id: String,
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
        let api = format!("{}/api.php", sandbox.onecrm_url());
        let client = reqwest::Client::builder().build().expect("a reqwest client");
        let started = Instant::now();
        let created = runtime.block_on(fill(&client, &api));
        eprintln!(
            "setup: {created} contacts created in {:.1?} ({MODEL} now holds {RECORDS})",
            started.elapsed()
        );

        let mut registry = Registry::default();
        registry.register(flowrun_connector_onecrm::connector());
        let module = registry
            .module("onecrm.search_records")
            .expect("the onecrm connector is registered");
        let context = CallContext::new("bench", "search").with_connection("crm", connection(&api));
        let catalog = registry.catalog();
        let yaml = format!(
            r#"flow: search
connections:
  crm:
    connector: onecrm
    config:
      domain: crm.example.test
      base_url: "{api}"
      username: {ADMIN_USERNAME}
      password: {ADMIN_PASSWORD}
steps:
  - id: search
    uses: onecrm.search_records
    connection: crm
    with:
      module: {MODEL}
      fields: {FIELDS:?}
      limit: {RECORDS}
output:
  count: "{{{{ steps.search.output.records | length }}}}"
  total: "{{{{ steps.search.output.total_results }}}}"
  first: "{{{{ steps.search.output.records[0].id }}}}"
  last: "{{{{ steps.search.output.records[-1].id }}}}"
"#
        );
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
        let plan = Arc::new(Plan::new(&flow, &flow.connections, &catalog).expect("a plan"));
        let engine = Engine::new(Arc::new(registry), None);

        let mut env = Env {
            runtime,
            sandbox,
            api,
            module,
            context,
            engine,
            plan,
            client,
            first_id: String::new(),
            last_id: String::new(),
        };
        // Once, untimed: the loop's read is the reference; the module must read the same, in
        // as many requests.
        let path = format!("{}/data/{MODEL}", env.api.trim_start_matches(&env.sandbox.base_url()));
        let requests = |env: &Env| env.sandbox.control().request_count("GET", &path);
        let before = requests(&env);
        let records = loop_records(&env);
        let by_loop = requests(&env) - before;
        assert_eq!(records.len(), RECORDS);
        env.first_id = records[0]["id"].as_str().unwrap().to_owned();
        env.last_id = records[RECORDS - 1]["id"].as_str().unwrap().to_owned();
        let before = requests(&env);
        let output = module_output(&env);
        let by_module = requests(&env) - before;
        assert_eq!(
            output["records"].as_array().unwrap(),
            &records,
            "module and loop differ"
        );
        assert_eq!((by_loop, by_module), (PAGES as u64, PAGES as u64), "requests per read");
        env
    })
}

/// The connection config of the admin on this simulator.
fn connection(api: &str) -> Json {
    json!({
        "domain": "crm.example.test",
        "base_url": api,
        "username": ADMIN_USERNAME,
        "password": ADMIN_PASSWORD,
    })
}

/// Creates contacts until `Contact` holds [`RECORDS`]; returns how many it created.
async fn fill(client: &reqwest::Client, api: &str) -> usize {
    let url = format!("{api}/data/{MODEL}");
    let count: Json = client
        .get(&url)
        .basic_auth(ADMIN_USERNAME, Some(ADMIN_PASSWORD))
        .query(&[("limit", "1")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let seeded = count["total_results"].as_u64().expect("a count") as usize;
    assert!(seeded <= RECORDS, "{seeded} contacts seeded, more than {RECORDS}");
    let missing = RECORDS - seeded;
    let created = futures_util::stream::iter(0..missing)
        .map(|n| {
            let data = json!({ "data": {
                "first_name": "Bench",
                "last_name": format!("Contact {n:05}"),
                "email1": format!("bench.{n}@example.test"),
                "phone_work": format!("+31 20 555 {n:04}"),
                "primary_address_city": "Utrecht",
            }});
            let request = client
                .post(&url)
                .basic_auth(ADMIN_USERNAME, Some(ADMIN_PASSWORD))
                .json(&data);
            async move {
                let response = request.send().await.unwrap();
                assert!(response.status().is_success(), "{}", response.status());
            }
        })
        .buffer_unordered(CREATE_CONCURRENCY)
        .count()
        .await;
    assert_eq!(created, missing);
    created
}

/// One timed piece of work.
type Run = fn(&Env);

/// Every run the benchmarks time, by name, for the summary and the profile mode.
fn runs() -> [(&'static str, Run); 3] {
    [
        ("reqwest_loop_10k", reqwest_loop),
        ("search_records_10k", search_records),
        ("search_records_flow_10k", search_records_flow),
    ]
}

fn find(name: &str) -> Run {
    runs()
        .into_iter()
        .find(|(known, _)| *known == name)
        .map(|(_, run)| run)
        .unwrap_or_else(|| panic!("no run named `{name}`"))
}

/// The baseline's read: every page in turn until `offset ≥ total_results`.
async fn read_pages(client: &reqwest::Client, url: &str) -> Vec<Json> {
    let fields: Vec<(&str, &str)> = FIELDS.iter().map(|field| ("fields[]", *field)).collect();
    let mut records = Vec::new();
    let mut offset = 0;
    let mut pages = 0;
    loop {
        let response = client
            .get(url)
            .basic_auth(ADMIN_USERNAME, Some(ADMIN_PASSWORD))
            .query(&fields)
            .query(&[("offset", offset), ("limit", PAGE_SIZE)])
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        let bytes = response.bytes().await.unwrap();
        let mut body: Json = serde_json::from_slice(&bytes).unwrap();
        let total = body["total_results"].as_u64().expect("`total_results`") as usize;
        let Json::Array(page) = body["records"].take() else {
            panic!("no `records` list at offset {offset}");
        };
        pages += 1;
        if page.is_empty() {
            break;
        }
        offset += page.len();
        records.extend(page);
        if offset >= total {
            break;
        }
    }
    assert_eq!(pages, PAGES);
    records
}

fn loop_records(env: &Env) -> Vec<Json> {
    let url = format!("{}/data/{MODEL}", env.api);
    env.runtime.block_on(read_pages(&env.client, &url))
}

fn reqwest_loop(env: &Env) {
    let records = loop_records(env);
    assert_eq!(records.len(), RECORDS);
    assert_eq!(records[0]["id"], env.first_id.as_str());
    assert_eq!(records[RECORDS - 1]["id"], env.last_id.as_str());
}

/// The module called as the engine calls it; returns its output.
fn module_output(env: &Env) -> Json {
    let params = json!({ "module": MODEL, "fields": FIELDS, "limit": RECORDS });
    env.runtime
        .block_on(env.module.call(&env.context, params))
        .unwrap_or_else(|error| panic!("search_records failed: {}", error.message))
}

fn search_records(env: &Env) {
    let output = module_output(env);
    let records = output["records"].as_array().unwrap();
    assert_eq!(records.len(), RECORDS);
    assert_eq!(output["total_results"], RECORDS);
    assert_eq!(records[0]["id"], env.first_id.as_str());
    assert_eq!(records[RECORDS - 1]["id"], env.last_id.as_str());
}

fn request() -> RunRequest {
    RunRequest::new(json!({}), "bench")
}

fn search_records_flow(env: &Env) {
    let outcome = env
        .runtime
        .block_on(env.engine.run(env.plan.clone(), request()))
        .expect("the run starts and ends");
    assert_eq!(outcome.status, RunStatus::Success, "{:#?}", outcome.error);
    let output = outcome.output.expect("a successful run has an output");
    assert_eq!(
        output,
        json!({ "count": RECORDS, "total": RECORDS, "first": env.first_id, "last": env.last_id })
    );
}

#[divan::bench(sample_count = SAMPLES, sample_size = 1)]
fn reqwest_loop_10k(bencher: Bencher) {
    let env = env();
    bencher
        .counter(ItemsCount::new(RECORDS))
        .bench_local(|| reqwest_loop(env));
}

#[divan::bench(sample_count = SAMPLES, sample_size = 1)]
fn search_records_10k(bencher: Bencher) {
    let env = env();
    bencher
        .counter(ItemsCount::new(RECORDS))
        .bench_local(|| search_records(env));
}

#[divan::bench(sample_count = SAMPLES, sample_size = 1)]
fn search_records_flow_10k(bencher: Bencher) {
    let env = env();
    bencher
        .counter(ItemsCount::new(RECORDS))
        .bench_local(|| search_records_flow(env));
}

/// What `search_records` does to the 10,000 records outside the requests, alone.
mod parts {
    use super::*;

    /// The records of one read, as the loop collects them.
    fn records() -> &'static Vec<Json> {
        static RECORDS_READ: OnceLock<Vec<Json>> = OnceLock::new();
        RECORDS_READ.get_or_init(|| loop_records(env()))
    }

    /// The module's last line, `json!({ "records": records, … })`: `json!` serializes what it
    /// is given, so the 10,000 records are copied whole (`serde_json::to_value`); timed with
    /// the drop of one of the two copies, as the module drops its `Vec` afterwards.
    #[divan::bench(sample_count = SAMPLES)]
    fn output_json_macro(bencher: Bencher) {
        let records = records();
        bencher
            .counter(ItemsCount::new(RECORDS))
            .bench_local(|| drop(json!({ "records": records, "total_results": RECORDS })));
    }

    /// The same output with the `Vec` moved in: what the module could do instead.
    #[divan::bench(sample_count = SAMPLES)]
    fn output_moved(bencher: Bencher) {
        let records = records();
        bencher
            .counter(ItemsCount::new(RECORDS))
            .with_inputs(|| records.clone())
            .bench_local_values(|records| {
                let mut output = serde_json::Map::new();
                output.insert("records".to_owned(), Json::Array(records));
                output.insert("total_results".to_owned(), Json::from(RECORDS));
                Json::Object(output)
            });
    }
}

/// The value at quantile `q` of sorted `values` (nearest rank).
fn quantile(values: &[f64], q: f64) -> f64 {
    let rank = ((values.len() - 1) as f64 * q).round() as usize;
    values[rank]
}

fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    values
}

/// The CPU time every thread of the process has used so far, in ns (`/proc/self/task/*/
/// schedstat`): the client's and the simulator's work, whatever else the machine runs. `None`
/// off Linux. Threads that ended take their time with them; the runtime keeps its workers.
fn cpu_ns() -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// One table of the summary: for each run, its spread, records per second at the median, and
/// its throughput over the loop's (ratio of the medians; the per-round ratios' median and
/// quartiles).
fn table(what: &str, runs: &[(&str, Run)], samples: &[Vec<f64>]) {
    println!(
        "  {what:<24} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10} {:>7} {:>24}",
        "min", "p25", "median", "p75", "max", "records/s", "ratio", "per-round ratio (p25–p75)"
    );
    let baseline = &samples[0];
    let loop_median = quantile(&sorted(baseline.clone()), 0.5);
    for ((name, _), values) in runs.iter().zip(samples) {
        let per_round = sorted(baseline.iter().zip(values).map(|(base, value)| base / value).collect());
        let values = sorted(values.clone());
        let median = quantile(&values, 0.5);
        println!(
            "  {name:<24} {:>8.1} {:>8.1} {median:>8.1} {:>8.1} {:>8.1} {:>10.0} {:>7.3} {:>10.3} ({:.3}–{:.3})",
            values[0],
            quantile(&values, 0.25),
            quantile(&values, 0.75),
            values[values.len() - 1],
            RECORDS as f64 / (median / 1000.0),
            loop_median / median,
            quantile(&per_round, 0.5),
            quantile(&per_round, 0.25),
            quantile(&per_round, 0.75),
        );
    }
}

/// The three runs in interleaved rounds, order rotating, then the wall-clock and CPU tables.
fn summary() {
    let rounds: usize = std::env::var("FLOWRUN_BENCH_ROUNDS")
        .ok()
        .and_then(|rounds| rounds.parse().ok())
        .unwrap_or(20);
    if rounds == 0 {
        return;
    }
    let env = env();
    let runs = runs();
    // One warm-up each, untimed.
    for (_, run) in runs {
        run(env);
    }
    let mut wall: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); runs.len()];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); runs.len()];
    for round in 0..rounds {
        for turn in 0..runs.len() {
            let index = (round + turn) % runs.len();
            let (cpu_before, started) = (cpu_ns(), Instant::now());
            (runs[index].1)(env);
            let elapsed = started.elapsed();
            wall[index].push(elapsed.as_secs_f64() * 1000.0);
            if let (Some(before), Some(after)) = (cpu_before, cpu_ns()) {
                cpu[index].push(after.saturating_sub(before) as f64 / 1e6);
            }
        }
    }
    println!(
        "\nsummary: {rounds} interleaved rounds, {RECORDS} records a run ({PAGES} pages of {PAGE_SIZE}); ratio = \
         records/s of the run / records/s of reqwest_loop_10k (target ≥ 0.8)"
    );
    table("wall clock (ms)", &runs, &wall);
    if cpu.iter().all(|values| values.len() == rounds) {
        println!("  CPU time of the process, client and simulator (ms; records/s of CPU time):");
        table("CPU (ms)", &runs, &cpu);
    }
}
