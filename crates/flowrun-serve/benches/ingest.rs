//! Webhook ingestion and worker throughput of `flowrun serve`, over loopback sockets.
//!
//! Each `ingest` iteration sends a burst of [`BURST`] concurrent `POST`s and waits for every
//! answer. `flowrun` (an ingest-only server, `--workers 0`) answers 202 only once its run is
//! committed to the state store; the baseline is a bare axum handler doing the same single
//! insert into the same `runs` table of a store of its own (SQLite WAL with
//! `synchronous=NORMAL`, or a schema of the machine's Postgres), on the same runtime. The
//! ratio of the two times is the share of bare throughput `flowrun serve` keeps (target: at
//! least 70%).
//!
//! `workers` enqueues [`RUNS`] runs of a one-step flow and times until every run ended, with
//! one and with three servers (worker processes' worth of workers, each with its own pool) on
//! one Postgres schema.
//!
//! `cargo bench -p flowrun-serve --bench ingest` (Postgres: FLOWRUN_TEST_POSTGRES_URL, default
//! postgres://postgres@127.0.0.1:5432/test; each run makes a schema of its own and drops it).

#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use flowrun_connect::registry::Registry;
use flowrun_engine::plan::Plan;
use flowrun_engine::run::Engine;
use flowrun_serve::flows::{FlowSource, Loaded, ServedFlow};
use flowrun_serve::{ServeOptions, Service};
use flowrun_state::{QueuedRun, RunStatus, StateStore};
use tokio::runtime::Runtime;

/// Concurrent requests per iteration.
const BURST: usize = 200;
/// Runs per `workers` iteration.
const RUNS: usize = 300;

fn main() {
    divan::main();
}

static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
});

static DIR: LazyLock<tempfile::TempDir> = LazyLock::new(|| tempfile::tempdir().unwrap());

fn postgres_base() -> String {
    std::env::var("FLOWRUN_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// The Postgres schema of this bench run, `flowrun_bench_<pid>`, made fresh (one of an earlier
/// run with the same pid is dropped first). It is left behind for inspection; `DROP SCHEMA`
/// removes it.
static SCHEMA: LazyLock<String> = LazyLock::new(|| {
    let schema = format!("flowrun_bench_{}", std::process::id());
    let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}");
    // A thread and a runtime of its own: this may be first read inside `RUNTIME.block_on`.
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            use sqlx::Connection;
            let mut admin = sqlx::PgConnection::connect(&postgres_base()).await.unwrap();
            sqlx::raw_sql(&sql).execute(&mut admin).await.unwrap();
        });
    })
    .join()
    .unwrap();
    schema
});

fn postgres_url() -> String {
    format!("{}?options[search_path]={}", postgres_base(), *SCHEMA)
}

const FLOW: &str = "flow: hook\ntrigger:\n  webhook: { path: hook }\nsteps:\n  - id: echo\n    uses: core.value\n    with: { value: \"{{ trigger.body.n }}\" }\n";

struct OneFlow;

impl FlowSource for OneFlow {
    fn load(&self) -> Loaded {
        let registry = registry();
        let catalog = registry.catalog();
        let report = flowrun_flow::validate_flow(
            Path::new("hook.yaml"),
            FLOW.as_bytes(),
            flowrun_flow::Context {
                catalog: &catalog,
                project: None,
            },
        );
        let flow = report.flow.unwrap();
        let plan = Plan::new(&flow, &Default::default(), &catalog).unwrap();
        Loaded {
            flows: vec![ServedFlow {
                id: flow.flow.clone(),
                file: PathBuf::from("hook.yaml"),
                plan: Arc::new(plan),
                trigger: flow.trigger.clone(),
                env: Default::default(),
                secrets: Default::default(),
                flow_version: "bench".to_owned(),
                files_dir: Arc::from(DIR.path()),
                inputs: serde_json::json!({}),
            }],
            problems: Vec::new(),
        }
    }

    fn root(&self) -> &Path {
        DIR.path()
    }
}

fn registry() -> Registry {
    let mut registry = Registry::default();
    registry.register(flowrun_connector_core::connector());
    registry
}

/// A `flowrun serve` on `store` with `workers` workers; 0 is an ingest-only process, which the
/// ingestion benches measure (the baseline runs nothing either).
async fn start_serve(store: Arc<dyn StateStore>, workers: usize) -> (SocketAddr, Arc<Service>) {
    let engine = Engine::new(Arc::new(registry()), Some(store.clone()));
    let mut options = ServeOptions::new("127.0.0.1:0".parse().unwrap(), format!("bench:{workers}"));
    options.workers = workers;
    options.watch = false;
    let service = Service::new(store, engine, Arc::new(OneFlow), options);
    let (ready, address) = tokio::sync::oneshot::channel();
    let serving = service.clone();
    tokio::spawn(async move {
        let _ = flowrun_serve::serve(serving, std::future::pending(), move |addr| {
            let _ = ready.send(addr);
        })
        .await;
    });
    (address.await.unwrap(), service)
}

/// The baseline: one insert of the request into `bare_runs`, then 202.
#[derive(Clone)]
enum Bare {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

async fn bare_handler(State(bare): State<Bare>, body: Bytes) -> StatusCode {
    let id = uuid::Uuid::now_v7().to_string();
    let inserted = match &bare {
        Bare::Sqlite(pool) => {
            sqlx::query("INSERT INTO bare_runs (id, body, status, created_at) VALUES (?, ?, 'queued', ?)")
                .bind(&id)
                .bind(body.as_ref())
                .bind(jiff::Timestamp::now().as_millisecond())
                .execute(pool)
                .await
                .is_ok()
        }
        Bare::Postgres(pool) => {
            sqlx::query("INSERT INTO bare_runs (id, body, status, created_at) VALUES ($1, $2, 'queued', now())")
                .bind(&id)
                .bind(body.as_ref())
                .execute(pool)
                .await
                .is_ok()
        }
    };
    if inserted {
        StatusCode::ACCEPTED
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

async fn start_bare(bare: Bare) -> SocketAddr {
    let app = Router::new().route("/hooks/hook", post(bare_handler)).with_state(bare);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn bare_sqlite() -> SocketAddr {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
    let options = SqliteConnectOptions::new()
        .filename(DIR.path().join("bare.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal);
    // One writer, as the store has.
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS bare_runs (id TEXT PRIMARY KEY, body BLOB, status TEXT, created_at INTEGER)",
    )
    .execute(&pool)
    .await
    .unwrap();
    start_bare(Bare::Sqlite(pool)).await
}

async fn bare_postgres() -> SocketAddr {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .connect(&postgres_url())
        .await
        .unwrap();
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS bare_runs (id text PRIMARY KEY, body bytea, status text, created_at timestamptz)",
    )
    .execute(&pool)
    .await
    .unwrap();
    start_bare(Bare::Postgres(pool)).await
}

static CLIENT: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder()
        .pool_max_idle_per_host(BURST)
        .build()
        .unwrap()
});

/// `BURST` concurrent POSTs to `addr`; every answer must be 202.
async fn burst(addr: SocketAddr) {
    let url = format!("http://{addr}/hooks/hook");
    let mut sent = tokio::task::JoinSet::new();
    for n in 0..BURST {
        let request = CLIENT.post(url.clone()).body(format!("{{\"n\": {n}}}"));
        sent.spawn(async move { request.send().await.map(|answer| answer.status().as_u16()) });
    }
    while let Some(answer) = sent.join_next().await {
        assert_eq!(answer.unwrap().unwrap(), 202);
    }
}

mod ingest {
    use super::*;

    static BARE_SQLITE: LazyLock<SocketAddr> = LazyLock::new(|| RUNTIME.block_on(bare_sqlite()));
    static BARE_POSTGRES: LazyLock<SocketAddr> = LazyLock::new(|| RUNTIME.block_on(bare_postgres()));
    static SERVE_SQLITE: LazyLock<SocketAddr> = LazyLock::new(|| {
        RUNTIME.block_on(async {
            let url = format!("sqlite://{}", DIR.path().join("state.db").display());
            let store = flowrun_state::open(&url).await.unwrap();
            start_serve(store, 0).await.0
        })
    });
    static SERVE_POSTGRES: LazyLock<SocketAddr> = LazyLock::new(|| {
        RUNTIME.block_on(async {
            let store = flowrun_state::open(&postgres_url()).await.unwrap();
            start_serve(store, 0).await.0
        })
    });

    #[divan::bench(sample_count = 20)]
    fn bare_axum_sqlite(bencher: divan::Bencher) {
        let addr = *BARE_SQLITE;
        bencher.bench_local(|| RUNTIME.block_on(burst(addr)));
    }

    #[divan::bench(sample_count = 20)]
    fn flowrun_sqlite(bencher: divan::Bencher) {
        let addr = *SERVE_SQLITE;
        bencher.bench_local(|| RUNTIME.block_on(burst(addr)));
    }

    #[divan::bench(sample_count = 20)]
    fn bare_axum_postgres(bencher: divan::Bencher) {
        let addr = *BARE_POSTGRES;
        bencher.bench_local(|| RUNTIME.block_on(burst(addr)));
    }

    #[divan::bench(sample_count = 20)]
    fn flowrun_postgres(bencher: divan::Bencher) {
        let addr = *SERVE_POSTGRES;
        bencher.bench_local(|| RUNTIME.block_on(burst(addr)));
    }
}

mod workers {
    use super::*;

    /// `servers` servers of 4 workers on one fresh schema; `RUNS` runs queued, then timed
    /// until every one ended.
    fn drain(bencher: divan::Bencher, servers: usize) {
        let url = postgres_url();
        let stores: Vec<Arc<dyn StateStore>> = RUNTIME.block_on(async {
            let mut stores = Vec::new();
            for _ in 0..servers {
                stores.push(flowrun_state::open(&url).await.unwrap());
            }
            for store in &stores {
                start_serve(store.clone(), 4).await;
            }
            stores
        });
        let store = stores[0].clone();
        bencher.bench_local(|| {
            RUNTIME.block_on(async {
                for n in 0..RUNS {
                    store
                        .enqueue_run(QueuedRun {
                            flow_id: "hook".to_owned(),
                            flow_version: "bench".to_owned(),
                            trigger: Some(serde_json::json!({"body": {"n": n}})),
                            inputs: Some(serde_json::json!({})),
                            dedupe_key: None,
                            skip_if_active: false,
                        })
                        .await
                        .unwrap();
                }
                loop {
                    let busy = store
                        .count_runs()
                        .await
                        .unwrap()
                        .iter()
                        .filter(|(status, _)| matches!(status, RunStatus::Queued | RunStatus::Running))
                        .map(|(_, count)| *count)
                        .sum::<u64>();
                    if busy == 0 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            });
        });
    }

    #[divan::bench(sample_count = 5)]
    fn one_server(bencher: divan::Bencher) {
        drain(bencher, 1);
    }

    #[divan::bench(sample_count = 5)]
    fn three_servers(bencher: divan::Bencher) {
        drain(bencher, 3);
    }
}
