//! `flowrun serve` as a user runs it: the real binary on a folder of flows, over real sockets,
//! on a SQLite file or the machine's Postgres; several processes sharing one Postgres store;
//! a worker killed with SIGKILL mid-run; 1CRM's New Event through the sandbox's simulator.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flowrun_state::{RunFilter, RunStatus, StateStore};
use serde_json::{Value as Json, json};

use crate::util::{Killed, command, signal, write};

/// A secret no output may show.
const CANARY: &str = "canary-hook-key-5b0e9d";

/// A running `flowrun serve`, its stdout and stderr drained into memory as it writes them.
struct Server {
    child: Killed,
    base: String,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    fn start(dir: &Path, args: &[&str]) -> Server {
        Server::start_with(dir, args, &[])
    }

    fn start_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut all = vec!["serve"];
        all.extend_from_slice(args);
        let mut child = Killed(command(dir, &all, env).spawn().expect("flowrun serve starts"));
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.0.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 8192];
            while let Ok(read) = err.read(&mut buffer) {
                if read == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buffer[..read]));
            }
        });
        let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
        let first = match lines.next() {
            Some(Ok(line)) => line,
            _ => panic!("flowrun serve printed nothing; stderr:\n{}", stderr.lock().unwrap()),
        };
        let base = first
            .strip_prefix("flowrun serve listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .to_owned();
        std::thread::spawn(move || for _ in lines {});
        Server { child, base, stderr }
    }

    fn logs(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGTERM, then the exit (within `limit`).
    async fn stop(mut self, limit: Duration) -> (i32, String) {
        signal(&self.child, "-TERM");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.0.try_wait().unwrap() {
                break status;
            }
            assert!(started.elapsed() < limit, "flowrun serve did not stop within {limit:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        // The drain thread ends with the pipe.
        tokio::time::sleep(Duration::from_millis(100)).await;
        (status.code().unwrap_or(-1), self.logs())
    }
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("state.db").display())
}

/// Waits until `check` holds, polling; fails after `limit` with `what`.
async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return;
        }
        assert!(started.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the run has `status`; fails after `limit` with `what`.
async fn run_reaches(store: &dyn StateStore, run_id: &str, status: RunStatus, limit: Duration, what: &str) {
    let started = Instant::now();
    loop {
        if store.run(run_id).await.unwrap().is_some_and(|run| run.status == status) {
            return;
        }
        assert!(started.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn runs_of(store: &dyn StateStore, flow: &str) -> Vec<flowrun_state::Run> {
    store
        .list_runs(&RunFilter {
            flow_id: Some(flow.to_owned()),
            status: None,
            limit: 10_000,
        })
        .await
        .unwrap()
}

const SIGNED_FLOW: &str = r#"flow: signed_orders
trigger:
  webhook:
    path: shop/orders
    secret: "{{ secrets.HOOK_KEY }}"
    signature: { header: X-Signature, algorithm: hmac-sha256, timestamp_header: X-Timestamp, tolerance: 5m }
    dedupe: "{{ trigger.headers['x-delivery-id'] }}"
steps:
  - id: number
    uses: core.value
    with: { value: "{{ trigger.body.number }}" }
output:
  number: "{{ steps.number.output }}"
"#;

const SYNC_FLOW: &str = r#"flow: quote
trigger:
  webhook: { path: quote, respond: sync, secret: "{{ secrets.HOOK_KEY }}" }
steps:
  - id: double
    uses: core.value
    with: { value: "{{ trigger.body.n * 2 }}" }
output:
  doubled: "{{ steps.double.output }}"
"#;

const TICK_FLOW: &str = r#"flow: every_second
trigger:
  schedule: { cron: "* * * * * *" }
steps:
  - id: at
    uses: core.value
    with: { value: "{{ trigger.scheduled_at }}" }
"#;

fn signed(client: &reqwest::Client, url: &str, body: &str, delivery: &str, age: i64) -> reqwest::RequestBuilder {
    let stamp = (jiff::Timestamp::now().as_second() - age).to_string();
    let signature = flowrun_serve::webhook::sign(CANARY.as_bytes(), Some(&stamp), body.as_bytes());
    client
        .post(url)
        .header("content-type", "application/json")
        .header("x-timestamp", stamp)
        .header("x-signature", format!("sha256={signature}"))
        .header("x-delivery-id", delivery)
        .body(body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_signed_refused_deduplicated_and_sync_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "flows/signed.yaml", SIGNED_FLOW);
    write(dir.path(), "flows/quote.yaml", SYNC_FLOW);
    write(
        dir.path(),
        "flows/broken.yaml",
        "flow: broken\nsteps:\n  - id: x\n    uses: core.nope\n",
    );
    write(
        dir.path(),
        "flows/limited.yaml",
        "flow: limited\ntrigger:\n  webhook: { path: limited, rate_limit: { requests: 2, per: 1m } }\nsteps:\n  - id: x\n    uses: core.value\n    with: { value: 1 }\n",
    );
    write(dir.path(), "secrets.env", format!("HOOK_KEY={CANARY}\n"));
    let state = sqlite_url(dir.path());
    let server = Server::start(
        dir.path(),
        &[
            "flows",
            "--listen",
            "127.0.0.1:0",
            "--state",
            &state,
            "--secrets",
            "secrets.env",
        ],
    );
    let client = reqwest::Client::new();
    let hook = format!("{}/hooks/shop/orders", server.base);

    // A good signature: 202 with the run id, once the run is queued.
    let body = r#"{"number": 1001}"#;
    let answer = signed(&client, &hook, body, "d-1", 0).send().await.unwrap();
    assert_eq!(answer.status(), 202);
    let first: Json = answer.json().await.unwrap();
    let run_id = first["run_id"].as_str().unwrap().to_owned();

    // The same delivery again: nothing new, the first run's id.
    let again = signed(&client, &hook, body, "d-1", 0).send().await.unwrap();
    assert_eq!(again.status(), 200);
    let again: Json = again.json().await.unwrap();
    assert_eq!(again["run_id"], run_id.as_str());
    assert_eq!(again["duplicate"], true);

    // A wrong signature, a replayed (old) timestamp, no signature, an oversized body: refused.
    let wrong = client
        .post(&hook)
        .header("x-timestamp", jiff::Timestamp::now().as_second().to_string())
        .header("x-signature", "sha256=".to_owned() + &"0".repeat(64))
        .header("x-delivery-id", "d-2")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let replayed = signed(&client, &hook, body, "d-3", 3600).send().await.unwrap();
    assert_eq!(replayed.status(), 401);
    let replayed: Json = replayed.json().await.unwrap();
    assert!(replayed["error"].as_str().unwrap().contains("tolerance"), "{replayed}");
    let unsigned = client.post(&hook).body(body).send().await.unwrap();
    assert_eq!(unsigned.status(), 401);
    let huge = format!(r#"{{"number": 1, "pad": "{}"}}"#, "x".repeat(2 * 1024 * 1024));
    let oversized = signed(&client, &hook, &huge, "d-4", 0).send().await.unwrap();
    assert_eq!(oversized.status(), 413);
    // The rest of that body was never read: the server closes the connection and says so,
    // so the client does not send its next request into it.
    assert_eq!(oversized.headers()["connection"], "close");
    let unknown = client.post(format!("{}/hooks/nope", server.base)).send().await.unwrap();
    assert_eq!(unknown.status(), 404);

    // respond: sync answers with the output; a wrong bearer secret gets 401.
    let quote = format!("{}/hooks/quote", server.base);
    let answer = client
        .post(&quote)
        .bearer_auth(CANARY)
        .json(&json!({"n": 21}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let answer: Json = answer.json().await.unwrap();
    assert_eq!(answer["output"], json!({"doubled": 42}), "{answer}");
    let refused = client
        .post(&quote)
        .bearer_auth("nope")
        .json(&json!({"n": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    // Over the webhook's rate limit: 429 with Retry-After, nothing queued.
    let limited = format!("{}/hooks/limited", server.base);
    for _ in 0..2 {
        assert_eq!(client.post(&limited).send().await.unwrap().status(), 202);
    }
    let refused = client.post(&limited).send().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));

    // The queued run ran; only the accepted requests made runs.
    let store = flowrun_state::open(&state).await.unwrap();
    run_reaches(
        store.as_ref(),
        &run_id,
        RunStatus::Success,
        Duration::from_secs(20),
        "the webhook's run succeeds",
    )
    .await;
    let run = store.run(&run_id).await.unwrap().unwrap();
    assert_eq!(run.output, Some(json!({"number": 1001})));
    assert_eq!(run.trigger.as_ref().unwrap()["body"], json!({"number": 1001}));
    assert_eq!(runs_of(store.as_ref(), "signed_orders").await.len(), 1);
    assert_eq!(runs_of(store.as_ref(), "quote").await.len(), 1);

    // Health and metrics.
    let health: Json = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["flows"], 3);
    let metrics = client
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"flowrun_trigger_events_total{source="webhook",outcome="rate_limited"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("flowrun_queue_depth 0"), "{metrics}");
    assert!(
        metrics.contains(r#"flowrun_webhook_responses_total{code="401"} 4"#),
        "{metrics}"
    );
    assert!(metrics.contains("flowrun_step_duration_seconds_bucket"), "{metrics}");

    let (code, logs) = server.stop(Duration::from_secs(20)).await;
    assert_eq!(code, 0, "{logs}");
    // The broken flow was reported, with its position; the others were served.
    assert!(logs.contains("broken.yaml:4:"), "{logs}");
    assert!(logs.contains("a flow is not served"), "{logs}");
    // JSON lines, and the secret nowhere: not in the logs, not in the state store.
    for line in logs.lines() {
        serde_json::from_str::<Json>(line).unwrap_or_else(|error| panic!("not a JSON log line ({error}): {line}"));
    }
    assert!(!logs.contains(CANARY), "{logs}");
    drop(store);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        // The -wal and -shm files may go away as the last connection closes.
        if path.to_string_lossy().contains("state.db")
            && let Ok(bytes) = std::fs::read(&path)
        {
            assert!(
                !bytes.windows(CANARY.len()).any(|window| window == CANARY.as_bytes()),
                "{} holds the secret",
                path.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_runs_each_tick_once_and_a_changed_folder_is_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "flows/tick.yaml", TICK_FLOW);
    let state = sqlite_url(dir.path());
    let server = Server::start(dir.path(), &["flows", "--listen", "127.0.0.1:0", "--state", &state]);
    let store = flowrun_state::open(&state).await.unwrap();
    eventually(Duration::from_secs(20), "three ticks ran", || {
        let store = store.clone();
        async move {
            runs_of(store.as_ref(), "every_second")
                .await
                .iter()
                .filter(|run| run.status == RunStatus::Success)
                .count()
                >= 3
        }
    })
    .await;
    let runs = runs_of(store.as_ref(), "every_second").await;
    let mut ticks: Vec<String> = runs
        .iter()
        .map(|run| {
            run.trigger.as_ref().unwrap()["scheduled_at"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let count = ticks.len();
    ticks.sort();
    ticks.dedup();
    assert_eq!(ticks.len(), count, "a tick ran twice: {ticks:?}");

    // A new flow file is picked up without a restart.
    write(
        dir.path(),
        "flows/quote.yaml",
        SYNC_FLOW.replace("secret: \"{{ secrets.HOOK_KEY }}\"", "secret: plain-key"),
    );
    let client = reqwest::Client::new();
    let url = format!("{}/hooks/quote", server.base);
    let started = Instant::now();
    let answer = loop {
        let answer = client
            .post(&url)
            .bearer_auth("plain-key")
            .json(&json!({"n": 2}))
            .send()
            .await
            .unwrap();
        if answer.status() != 404 || started.elapsed() > Duration::from_secs(20) {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(answer.status(), 200, "{}", server.logs());
    let (code, logs) = server.stop(Duration::from_secs(20)).await;
    assert_eq!(code, 0, "{logs}");
    assert!(logs.contains("flow files changed: reloading"), "{logs}");
}

/// A fresh Postgres schema of the machine's server, with the store's tables: its URL.
async fn postgres_schema() -> String {
    let schema = format!("flowrun_e2e_{}", uuid_suffix());
    let base = flowrun_test_postgres::url();
    let options = flowrun_state::PostgresOptions {
        schema: Some(schema.clone()),
        ..flowrun_state::PostgresOptions::default()
    };
    let store = flowrun_state::PostgresStore::open_with(&base, options).await.unwrap();
    drop(store);
    format!("{base}?options[search_path]={schema}")
}

fn uuid_suffix() -> String {
    format!("{}_{}", std::process::id(), fastrand::u64(..))
}

/// A flow whose every run creates one 1CRM contact in the sandbox: a side effect to count.
const CONTACT_FLOW: &str = r#"flow: contact_per_delivery
trigger:
  webhook: { path: contacts }
connections:
  crm:
    connector: onecrm
    config:
      domain: 127.0.0.1
      base_url: "{{ env.SANDBOX_URL }}/onecrm/api.php"
      username: admin
      password: "{{ secrets.ONECRM_PASSWORD }}"
steps:
  - id: create
    uses: onecrm.create_record
    with:
      module: Contact
      data: { last_name: "n-{{ trigger.body.n }}" }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_on_postgres_run_500_queued_runs_exactly_once() {
    workers_on_postgres_run_500_queued_runs_exactly_once(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_postgres_run_500_queued_runs_exactly_once() {
    workers_on_postgres_run_500_queued_runs_exactly_once(2).await;
}

/// `count` `flowrun serve` processes on one Postgres schema, 500 webhooks spread over them.
async fn workers_on_postgres_run_500_queued_runs_exactly_once(count: usize) {
    let sandbox = flowrun_sandbox::Sandbox::start(0, flowrun_sandbox::SandboxConfig::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "flows/contacts.yaml", CONTACT_FLOW);
    write(dir.path(), "flows/tick.yaml", TICK_FLOW);
    write(dir.path(), "secrets.env", "ONECRM_PASSWORD=onecrm-admin\n");
    let state = postgres_schema().await;
    let sandbox_url = sandbox.base_url();
    let env = [("SANDBOX_URL", sandbox_url.as_str())];
    let args = [
        "flows",
        "--listen",
        "127.0.0.1:0",
        "--state",
        &state,
        "--secrets",
        "secrets.env",
        "--workers",
        "4",
    ];
    let servers: Vec<Server> = (0..count)
        .map(|_| Server::start_with(dir.path(), &args, &env))
        .collect();

    // 500 deliveries, spread over the servers as a load balancer would.
    let client = reqwest::Client::new();
    let mut sent = tokio::task::JoinSet::new();
    for n in 0..500 {
        let url = format!("{}/hooks/contacts", servers[n % count].base);
        let client = client.clone();
        sent.spawn(async move {
            let answer = client.post(url).json(&json!({"n": n})).send().await.unwrap();
            assert_eq!(answer.status(), 202);
        });
    }
    while let Some(done) = sent.join_next().await {
        done.unwrap();
    }

    let store = flowrun_state::open(&state).await.unwrap();
    eventually(Duration::from_secs(120), "500 runs succeed", || {
        let store = store.clone();
        async move {
            runs_of(store.as_ref(), "contact_per_delivery")
                .await
                .iter()
                .filter(|run| run.status == RunStatus::Success)
                .count()
                == 500
        }
    })
    .await;
    let runs = runs_of(store.as_ref(), "contact_per_delivery").await;
    assert_eq!(runs.len(), 500);
    // Each run's side effect happened once: 500 contacts created, no more.
    let creates = sandbox.control().request_count("POST", "/onecrm/api.php/data/Contact");
    assert_eq!(creates, 500);
    // The work was shared.
    let mut owners: Vec<String> = runs
        .iter()
        .filter_map(|run| {
            run.lease_owner
                .as_deref()
                .map(|owner| owner.rsplit_once(":w").map_or(owner, |(process, _)| process).to_owned())
        })
        .collect();
    owners.sort();
    owners.dedup();
    assert!(owners.len() >= 2, "one process did everything: {owners:?}");
    // The schedule ran each second's tick once, though every server queues every tick (the
    // 500 runs may take less than the three seconds it needs for three ticks: wait for them).
    eventually(Duration::from_secs(20), "three ticks ran", || {
        let store = store.clone();
        async move { runs_of(store.as_ref(), "every_second").await.len() >= 3 }
    })
    .await;
    let ticks = runs_of(store.as_ref(), "every_second").await;
    let mut at: Vec<&str> = ticks
        .iter()
        .map(|run| run.trigger.as_ref().unwrap()["scheduled_at"].as_str().unwrap())
        .collect();
    let count = at.len();
    at.sort();
    at.dedup();
    assert_eq!(at.len(), count, "a tick ran twice");
    // Module HTTP calls are counted per connection.
    let metrics = client
        .get(format!("{}/metrics", servers[0].base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"flowrun_http_requests_total{connection="crm",status="200"}"#),
        "{metrics}"
    );
    for server in servers {
        let (code, logs) = server.stop(Duration::from_secs(30)).await;
        assert_eq!(code, 0, "{logs}");
    }
    sandbox.shutdown().await;
}

/// Six slow items, then six contacts: a worker killed during the slow items leaves a run to
/// take over.
const SLOW_FLOW: &str = r#"flow: slow_then_contacts
trigger:
  webhook: { path: slow }
connections:
  crm:
    connector: onecrm
    config:
      domain: 127.0.0.1
      base_url: "{{ env.SANDBOX_URL }}/onecrm/api.php"
      username: admin
      password: "{{ secrets.ONECRM_PASSWORD }}"
steps:
  - id: slow
    for_each: "{{ [1, 2, 3, 4, 5, 6] }}"
    concurrency: 1
    uses: core.sleep
    with: { duration: 600ms }
  - id: create
    needs: [slow]
    for_each: "{{ [1, 2, 3, 4, 5, 6] }}"
    uses: onecrm.create_record
    with:
      module: Contact
      data: { last_name: "item-{{ item }}" }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_s_run_is_taken_over_without_losing_or_doubling_work() {
    let sandbox = flowrun_sandbox::Sandbox::start(0, flowrun_sandbox::SandboxConfig::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "flows/slow.yaml", SLOW_FLOW);
    write(dir.path(), "secrets.env", "ONECRM_PASSWORD=onecrm-admin\n");
    let state = postgres_schema().await;
    let sandbox_url = sandbox.base_url();
    let env = [("SANDBOX_URL", sandbox_url.as_str())];
    let args = [
        "flows",
        "--listen",
        "127.0.0.1:0",
        "--state",
        &state,
        "--secrets",
        "secrets.env",
        "--lease",
        "2s",
    ];
    let first = Server::start_with(dir.path(), &args, &env);
    let answer = reqwest::Client::new()
        .post(format!("{}/hooks/slow", first.base))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    let run_id = answer.json::<Json>().await.unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Two slow items committed: SIGKILL, no chance to hand anything back.
    let store = flowrun_state::open(&state).await.unwrap();
    eventually(Duration::from_secs(20), "two items of `slow` are committed", || {
        let store = store.clone();
        let run_id = run_id.clone();
        async move { finished_items(store.as_ref(), &run_id, "slow").await.len() >= 2 }
    })
    .await;
    let mut first = first;
    first.child.0.kill().unwrap();
    first.child.0.wait().unwrap();
    let before = finished_items(store.as_ref(), &run_id, "slow").await;

    // Another worker takes the run over once the lease expires, and finishes it.
    let second = Server::start_with(dir.path(), &args, &env);
    run_reaches(
        store.as_ref(),
        &run_id,
        RunStatus::Success,
        Duration::from_secs(60),
        "the run is taken over and succeeds",
    )
    .await;
    let after = finished_items(store.as_ref(), &run_id, "slow").await;
    // What the killed worker committed was kept, not run again (same end times); the rest ran.
    for (index, ended_at) in &before {
        assert_eq!(after.get(index), Some(ended_at), "item {index} of `slow` ran again");
    }
    assert_eq!(after.len(), 6);
    let run = store.run(&run_id).await.unwrap().unwrap();
    assert_ne!(run.lease_owner, None);
    // Each contact once: the side effects after the takeover were not doubled.
    assert_eq!(
        sandbox.control().request_count("POST", "/onecrm/api.php/data/Contact"),
        6
    );
    let (code, logs) = second.stop(Duration::from_secs(30)).await;
    assert_eq!(code, 0, "{logs}");
    assert!(
        logs.contains("taking over a run") || logs.contains("is queued again"),
        "{logs}"
    );
    sandbox.shutdown().await;
}

/// The items of a step that ended successfully: index → end time.
async fn finished_items(store: &dyn StateStore, run_id: &str, step: &str) -> std::collections::BTreeMap<u64, String> {
    store
        .step_records(run_id)
        .await
        .unwrap()
        .into_iter()
        .filter(|record| record.step_id == step && record.status == flowrun_state::StepStatus::Success)
        .filter_map(|record| Some((record.item_index?, record.ended_at?.to_string())))
        .collect()
}

const NEW_EVENT_FLOW: &str = r#"flow: new_contacts
trigger:
  onecrm.new_event: { connection: crm, module: Contact, type: created }
connections:
  crm:
    connector: onecrm
    config:
      domain: 127.0.0.1
      base_url: "{{ env.SANDBOX_URL }}/onecrm/api.php"
      username: admin
      password: "{{ secrets.ONECRM_PASSWORD }}"
steps:
  - id: name
    uses: core.value
    with: { value: "{{ trigger.record.last_name }}" }
output:
  last_name: "{{ steps.name.output }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1crm_new_event_starts_a_run_with_the_record() {
    let sandbox = flowrun_sandbox::Sandbox::start(0, flowrun_sandbox::SandboxConfig::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "flows/new.yaml", NEW_EVENT_FLOW);
    write(dir.path(), "secrets.env", "ONECRM_PASSWORD=onecrm-admin\n");
    let state = sqlite_url(dir.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let public = format!("http://{listen}");
    let sandbox_url = sandbox.base_url();
    let server = Server::start_with(
        dir.path(),
        &[
            "flows",
            "--listen",
            &listen,
            "--public-url",
            &public,
            "--state",
            &state,
            "--secrets",
            "secrets.env",
        ],
        &[("SANDBOX_URL", sandbox_url.as_str())],
    );
    let client = reqwest::Client::new();
    let webhooks = format!("{}/api.php/webhooks", sandbox.onecrm_url());
    let subscribed = || async {
        let listing: Json = client
            .get(&webhooks)
            .basic_auth("admin", Some("onecrm-admin"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        listing["records"].as_array().cloned().unwrap_or_default()
    };
    eventually(Duration::from_secs(20), "the trigger subscribed", || async {
        !subscribed().await.is_empty()
    })
    .await;
    let subscriptions = subscribed().await;
    assert_eq!(subscriptions.len(), 1, "{subscriptions:?}");
    let url = subscriptions[0]["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("{public}/triggers/new_contacts/")), "{url}");

    // A call without the token starts nothing.
    let forged = client
        .post(format!("{public}/triggers/new_contacts/not-the-token"))
        .json(&json!({"id": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);

    // A contact created in 1CRM: one run, with the record as its trigger.
    let created: Json = client
        .post(format!("{}/api.php/data/Contact", sandbox.onecrm_url()))
        .basic_auth("admin", Some("onecrm-admin"))
        .json(&json!({"data": {"first_name": "Ada", "last_name": "Lovelace"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let store = flowrun_state::open(&state).await.unwrap();
    eventually(Duration::from_secs(20), "the event's run succeeds", || {
        let store = store.clone();
        async move {
            runs_of(store.as_ref(), "new_contacts")
                .await
                .iter()
                .any(|run| run.status == RunStatus::Success)
        }
    })
    .await;
    let runs = runs_of(store.as_ref(), "new_contacts").await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].trigger.as_ref().unwrap()["id"], id.as_str());
    assert_eq!(runs[0].output, Some(json!({"last_name": "Lovelace"})));

    // A clean stop removes the subscription.
    let (code, logs) = server.stop(Duration::from_secs(30)).await;
    assert_eq!(code, 0, "{logs}");
    assert!(subscribed().await.is_empty(), "{logs}");
    sandbox.shutdown().await;
}

const SLOW_HOOK_FLOW: &str = r#"flow: slow_hook
trigger:
  webhook: { path: slow }
steps:
  - id: wait
    uses: core.sleep
    with: { duration: 3s }
output:
  done: true
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_hands_a_running_run_back_and_the_next_start_finishes_it() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "flows/slow.yaml", SLOW_HOOK_FLOW);
    let state = sqlite_url(dir.path());
    let args = [
        "flows",
        "--listen",
        "127.0.0.1:0",
        "--state",
        &state,
        "--shutdown-timeout",
        "300ms",
    ];
    let server = Server::start(dir.path(), &args);
    let answer = reqwest::Client::new()
        .post(format!("{}/hooks/slow", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    let run_id = answer.json::<Json>().await.unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let store = flowrun_state::open(&state).await.unwrap();
    run_reaches(
        store.as_ref(),
        &run_id,
        RunStatus::Running,
        Duration::from_secs(10),
        "the run is claimed",
    )
    .await;

    // SIGTERM: the run cannot end within 300 ms, so it goes back to the queue; exit 0.
    let (code, logs) = server.stop(Duration::from_secs(10)).await;
    assert_eq!(code, 0, "{logs}");
    assert!(logs.contains("run handed back to the queue"), "{logs}");
    let run = store.run(&run_id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Queued, "{logs}");

    // The next start takes it and finishes it.
    let again = Server::start(dir.path(), &args);
    run_reaches(
        store.as_ref(),
        &run_id,
        RunStatus::Success,
        Duration::from_secs(20),
        "the handed-back run succeeds",
    )
    .await;
    assert_eq!(runs_of(store.as_ref(), "slow_hook").await.len(), 1);
    let (code, logs) = again.stop(Duration::from_secs(10)).await;
    assert_eq!(code, 0, "{logs}");
}
