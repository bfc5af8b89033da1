//! `sql.upsert` of 10,000 rows of 10 columns into a SQLite file, against a hand-written sqlx loop
//! doing the same multi-row upserts in one transaction, on the same file, in the same run.
//!
//! Run: `cargo bench -p flowrun-connector-sql --bench upsert`. Divan's `thrpt` column is rows
//! per second.
//!
//! - `module_10k`: the module found through a `Registry` and called with a `CallContext` as the
//!   engine calls it (its pool kept across iterations, like the engine's). Its input is a fresh
//!   copy of the rows, made outside the timing: the engine hands a module its rendered `with:`.
//! - `sqlx_loop_10k` (the baseline): one pooled connection, `BEGIN IMMEDIATE`, statements of
//!   1,000 rows (`INSERT … VALUES (?, …), … ON CONFLICT (id) DO UPDATE SET …`, each value taken
//!   from the same JSON rows and bound by its type), `COMMIT`. What the module does besides:
//!   checking names, merging rows by key, grouping them by columns, reading the table's columns,
//!   the progress handler that enforces the timeout and cancellation.
//! - `rows_per_statement::*`: the loop with statements of 100, 1,000 and 3,276 rows (the most
//!   SQLite's 32,766 parameters allow at 10 columns), to choose the module's batch size.
//!
//! Every iteration upserts all 10,000 rows with a new `version`, so every row is updated, and
//! checks that the table holds 10,000 rows of that version.
//!
//! After Divan (only under `cargo bench`), a summary runs the module and the loop in interleaved
//! rounds (`FLOWRUN_BENCH_ROUNDS`, default 20, order alternating) and prints the median, the
//! quartiles and the module's rows per second as a share of the loop's. `FLOWRUN_BENCH_ROUNDS=0`
//! skips it.

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// The binary's allocator (crates/flowrun/src/main.rs), for flowrun and the baseline alike.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use divan::Bencher;
use divan::counter::ItemsCount;
use flowrun_connect::module::{CallContext, Module};
use flowrun_connect::registry::Registry;
use serde_json::{Value as Json, json};
use sqlx::sqlite::{SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Arguments, Executor};

const ROWS: usize = 10_000;
const SAMPLES: u32 = 10;
const COLUMNS: [&str; 10] = [
    "id", "name", "version", "score", "active", "city", "code", "qty", "price", "note",
];

fn main() {
    divan::main();
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    summary();
}

struct Env {
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
    module: Arc<dyn Module>,
    context: CallContext,
    pool: SqlitePool,
    /// The rows of version 0; each run sets its own version.
    rows: Vec<Json>,
    version: AtomicI64,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut registry = Registry::default();
        registry.register(flowrun_connector_sql::connector());
        let module = registry.module("sql.upsert").unwrap();
        let mut context = CallContext::new("bench", "upsert");
        context.files_dir = Some(Arc::from(dir.path()));
        let context = context.with_connection("db", json!({ "url": "sqlite://bench.db" }));
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("bench.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let pool = runtime
            .block_on(SqlitePoolOptions::new().max_connections(1).connect_with(options))
            .unwrap();
        runtime
            .block_on(pool.execute(
                "CREATE TABLE bench (id INTEGER PRIMARY KEY, name TEXT, version INTEGER, score REAL, \
                 active BOOLEAN, city TEXT, code TEXT, qty INTEGER, price REAL, note TEXT)",
            ))
            .unwrap();
        let rows = (0..ROWS as i64)
            .map(|n| {
                json!({
                    "id": n, "name": format!("customer {n}"), "version": 0, "score": n as f64 / 8.0,
                    "active": n % 3 == 0, "city": "Utrecht", "code": format!("C-{n:06}"), "qty": n % 97,
                    "price": 19.95, "note": if n % 10 == 0 { Json::Null } else { json!("regular") },
                })
            })
            .collect();
        Env {
            runtime,
            _dir: dir,
            module,
            context,
            pool,
            rows,
            version: AtomicI64::new(0),
        }
    })
}

/// The rows with a new version, and that version.
fn rows(env: &Env) -> (Json, i64) {
    let version = env.version.fetch_add(1, Ordering::Relaxed) + 1;
    let rows = env
        .rows
        .iter()
        .map(|row| {
            let mut row = row.clone();
            row["version"] = json!(version);
            row
        })
        .collect();
    (Json::Array(rows), version)
}

fn check(env: &Env, version: i64) {
    let (count,): (i64,) = env
        .runtime
        .block_on(
            sqlx::query_as("SELECT count(*) FROM bench WHERE version = ?")
                .bind(version)
                .fetch_one(&env.pool),
        )
        .unwrap();
    assert_eq!(count, ROWS as i64, "version {version}");
}

fn module_upsert(env: &Env, rows: Json) {
    // Moved in: `json!` would serialize (deep-copy) the 10,000 rows inside the timing.
    let mut params = serde_json::Map::new();
    params.insert("table".to_owned(), json!("bench"));
    params.insert("key".to_owned(), json!(["id"]));
    params.insert("rows".to_owned(), rows);
    let params = Json::Object(params);
    let output = env
        .runtime
        .block_on(env.module.call(&env.context, params))
        .unwrap_or_else(|error| panic!("sql.upsert failed: {}", error.message));
    assert_eq!(output, json!({ "rows_affected": ROWS }));
}

/// The baseline: one transaction, statements of `per_statement` rows.
fn sqlx_loop(env: &Env, rows: &Json, per_statement: usize) {
    let rows = rows.as_array().unwrap();
    env.runtime.block_on(async {
        let mut connection = env.pool.acquire().await.unwrap();
        connection.execute("BEGIN IMMEDIATE").await.unwrap();
        let mut affected = 0;
        for chunk in rows.chunks(per_statement) {
            let row_placeholders = format!("({})", vec!["?"; COLUMNS.len()].join(", "));
            let sql = format!(
                "INSERT INTO bench ({}) VALUES {} ON CONFLICT (id) DO UPDATE SET {}",
                COLUMNS.join(", "),
                vec![row_placeholders; chunk.len()].join(", "),
                COLUMNS[1..]
                    .iter()
                    .map(|column| format!("{column} = excluded.{column}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let mut arguments = SqliteArguments::default();
            for row in chunk {
                for column in COLUMNS {
                    match &row[column] {
                        Json::Null => arguments.add(Option::<i64>::None).unwrap(),
                        Json::Bool(value) => arguments.add(*value).unwrap(),
                        Json::Number(number) => match number.as_i64() {
                            Some(integer) => arguments.add(integer).unwrap(),
                            None => arguments.add(number.as_f64().unwrap()).unwrap(),
                        },
                        Json::String(text) => arguments.add(text.as_str()).unwrap(),
                        other => arguments.add(other.to_string()).unwrap(),
                    }
                }
            }
            affected += sqlx::query_with(&sql, arguments)
                .execute(&mut *connection)
                .await
                .unwrap()
                .rows_affected();
        }
        connection.execute("COMMIT").await.unwrap();
        assert_eq!(affected, ROWS as u64);
    });
}

#[divan::bench(sample_count = SAMPLES, sample_size = 1)]
fn module_10k(bencher: Bencher) {
    let env = env();
    bencher
        .counter(ItemsCount::new(ROWS))
        .with_inputs(|| rows(env))
        .bench_local_values(|(rows, version)| {
            module_upsert(env, rows);
            version
        });
    check(env, env.version.load(Ordering::Relaxed));
}

#[divan::bench(sample_count = SAMPLES, sample_size = 1)]
fn sqlx_loop_10k(bencher: Bencher) {
    let env = env();
    bencher
        .counter(ItemsCount::new(ROWS))
        .with_inputs(|| rows(env))
        .bench_local_refs(|(rows, _)| sqlx_loop(env, rows, 1_000));
    check(env, env.version.load(Ordering::Relaxed));
}

mod rows_per_statement {
    use super::*;

    #[divan::bench(sample_count = SAMPLES, sample_size = 1, args = [100, 1_000, 3_276])]
    fn sqlx_loop(bencher: Bencher, per_statement: usize) {
        let env = env();
        bencher
            .counter(ItemsCount::new(ROWS))
            .with_inputs(|| rows(env))
            .bench_local_refs(|(rows, _)| super::sqlx_loop(env, rows, per_statement));
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// The module and the loop in interleaved rounds; the module's throughput over the loop's.
fn summary() {
    let rounds: usize = std::env::var("FLOWRUN_BENCH_ROUNDS")
        .ok()
        .and_then(|rounds| rounds.parse().ok())
        .unwrap_or(20);
    if rounds == 0 {
        return;
    }
    let env = env();
    let mut module_ms = Vec::with_capacity(rounds);
    let mut loop_ms = Vec::with_capacity(rounds);
    for round in 0..rounds {
        for turn in 0..2 {
            let (rows, version) = rows(env);
            let started = Instant::now();
            if (round + turn) % 2 == 0 {
                module_upsert(env, rows);
                module_ms.push(started.elapsed().as_secs_f64() * 1000.0);
            } else {
                sqlx_loop(env, &rows, 1_000);
                loop_ms.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            check(env, version);
        }
    }
    module_ms.sort_by(f64::total_cmp);
    loop_ms.sort_by(f64::total_cmp);
    println!(
        "\nsummary: {rounds} interleaved rounds, {ROWS} rows of {} columns upserted a run",
        COLUMNS.len()
    );
    println!(
        "  {:<14} {:>8} {:>8} {:>8} {:>10}",
        "run", "p25 ms", "median", "p75 ms", "rows/s"
    );
    for (name, values) in [("sqlx_loop_10k", &loop_ms), ("module_10k", &module_ms)] {
        let median = quantile(values, 0.5);
        println!(
            "  {name:<14} {:>8.1} {median:>8.1} {:>8.1} {:>10.0}",
            quantile(values, 0.25),
            quantile(values, 0.75),
            ROWS as f64 / (median / 1000.0)
        );
    }
    println!(
        "  ratio (module rows/s ÷ loop rows/s, of the medians): {:.3}",
        quantile(&loop_ms, 0.5) / quantile(&module_ms, 0.5)
    );
}
