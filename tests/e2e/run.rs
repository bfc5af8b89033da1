//! `flowrun run`: the real binary running flows of `core` and transform steps against a real
//! SQLite state file — outputs, exit codes, error messages, cursors, Ctrl-C, dry runs, the
//! flow lock, kill -9 at random points, and a canary secret searched for in every output.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use crate::util::{Run, write};

/// `flowrun ARGS` in `dir` with extra environment variables.
fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Child {
    crate::util::command(dir, args, env)
        .spawn()
        .expect("the flowrun binary starts")
}

fn finish(child: Child) -> Run {
    let output = child.wait_with_output().expect("the flowrun binary runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Waits while a child process works. These tests are synchronous: no tokio worker blocks.
#[allow(
    clippy::disallowed_methods,
    reason = "a plain test thread waiting for a child process"
)]
fn pause(duration: Duration) {
    std::thread::sleep(duration);
}

fn flowrun(dir: &Path, args: &[&str]) -> Run {
    finish(start(dir, args, &[]))
}

fn json_of(run: &Run) -> Json {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|error| panic!("stdout is not JSON ({error}):\n{}", run.transcript()))
}

/// The run id in `--format json` output, replaced for snapshots.
fn normalize(text: &str, run_id: &str) -> String {
    text.replace(run_id, "<run-id>")
}

const ORDERS: &str = r#"flow: orders
inputs:
  min: { type: integer, default: 10 }
steps:
  - id: read
    uses: core.value
    with:
      value:
        - { id: 1, total: 5, customer: ann }
        - { id: 2, total: 25, customer: bob }
        - { id: 3, total: 40, customer: ann }
  - id: big
    transform:
      input: "{{ steps.read.output }}"
      pipeline:
        - filter: "item.total >= inputs.min"
        - group_by: "item.customer"
        - aggregate: { orders: "count()", total: "sum(item.total)" }
  - id: note
    uses: core.log
    for_each: "{{ steps.big.output }}"
    with: { message: "{{ item.key }} ordered {{ item.total }}" }
output:
  customers: "{{ steps.big.output }}"
  logged: "{{ steps.note.output | length }}"
"#;

#[test]
fn a_flow_runs_and_prints_its_output() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "orders.yaml", ORDERS);
    let run = flowrun(dir.path(), &["run", "orders.yaml"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(
        json_of(&run),
        json!({
            "customers": [{ "key": "bob", "orders": 1, "total": 25 }, { "key": "ann", "orders": 1, "total": 40 }],
            "logged": 2,
        })
    );
    assert!(
        dir.path().join(".flowrun/state.db").is_file(),
        "the default state store is next to the flow"
    );

    // `flowrun FILE` is `flowrun run FILE`; inputs are typed.
    let run = flowrun(dir.path(), &["orders.yaml", "--input", "min=1"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(
        json_of(&run)["customers"][0],
        json!({ "key": "ann", "orders": 2, "total": 45 })
    );
}

#[test]
fn the_json_envelope_has_every_step() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "orders.yaml", ORDERS);
    let run = flowrun(dir.path(), &["run", "orders.yaml", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let envelope = json_of(&run);
    let run_id = envelope["run_id"].as_str().unwrap().to_owned();
    insta::assert_snapshot!("run_json_envelope", normalize(&run.stdout, &run_id));
}

const FAILING: &str = r#"flow: failing
steps:
  - id: check
    uses: core.fail
    with: { message: "order 7 has no customer", kind: client, status: 422 }
  - id: after
    uses: core.value
    with: { value: "{{ steps.check.output }}" }
on_failure:
  - id: tell
    uses: core.log
    with: { message: "failed at {{ error.step }}: {{ error.message }}", level: error }
"#;

#[test]
fn a_failed_run_prints_why_on_stderr_and_nothing_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "failing.yaml", FAILING);
    let run = flowrun(dir.path(), &["run", "failing.yaml"]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert_eq!(run.stdout, "");
    let run_id = run
        .stderr
        .lines()
        .find_map(|line| line.strip_prefix("error: run ")?.split_whitespace().next())
        .unwrap()
        .to_owned();
    insta::assert_snapshot!("run_failed_human", normalize(&run.transcript(), &run_id));

    let run = flowrun(dir.path(), &["run", "failing.yaml", "--format", "json"]);
    assert_eq!(run.code, 1);
    let envelope = json_of(&run);
    assert_eq!(envelope["status"], "failed");
    assert_eq!(envelope["output"], Json::Null);
    assert_eq!(envelope["error"]["step"], "check");
    assert_eq!(envelope["error"]["status"], 422);
    assert_eq!(envelope["steps"]["after"]["status"], "cancelled");
    assert_eq!(envelope["steps"]["tell"]["status"], "success");
}

const PARTIAL: &str = r#"flow: partial
steps:
  - id: detail
    uses: core.fail
    for_each: ["a", "b", "c"]
    item_key: "{{ 'order ' ~ item }}"
    with: { message: "cannot read {{ item }}", when: "{{ item == 'b' }}" }
    on_error: break
output: "{{ steps.detail.output | length }}"
"#;

#[test]
fn a_broken_item_makes_the_run_partial_with_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "partial.yaml", PARTIAL);
    let run = flowrun(dir.path(), &["run", "partial.yaml"]);
    assert_eq!(run.code, 3, "{}", run.transcript());
    assert_eq!(json_of(&run), json!(2));
    assert!(
        run.stderr.contains("partial: 1 incomplete execution stored"),
        "{}",
        run.stderr
    );
    let run = flowrun(dir.path(), &["run", "partial.yaml", "--format", "json"]);
    let envelope = json_of(&run);
    assert_eq!(
        (envelope["status"].as_str(), envelope["incomplete"].as_u64()),
        (Some("partial"), Some(1))
    );
    assert_eq!(
        envelope["steps"]["detail"]["items"],
        json!({ "success": 2, "broken": 1 })
    );
}

#[test]
fn bad_inputs_and_missing_secrets_exit_2_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "orders.yaml", ORDERS);
    let run = flowrun(dir.path(), &["run", "orders.yaml", "--input", "min=ten"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(run.stderr.contains("min"), "{}", run.stderr);
    let run = flowrun(dir.path(), &["run", "orders.yaml", "--input", "mni=1"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    write(
        dir.path(),
        "secret.yaml",
        "flow: secret\nsteps:\n  - id: a\n    uses: core.value\n    with: { value: \"{{ secrets.NOT_SET_ANYWHERE }}\" }\n",
    );
    let run = flowrun(dir.path(), &["run", "secret.yaml"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(run.stderr.contains("NOT_SET_ANYWHERE"), "{}", run.stderr);
    assert!(
        !dir.path().join(".flowrun/state.db").exists(),
        "nothing ran, nothing was stored"
    );
}

const CURSOR: &str = r#"flow: cursor
inputs:
  fail: { type: boolean, default: false }
steps:
  - id: read
    uses: core.value
    with: { value: { since: "{{ cursor }}", next: "{{ cursor + 1 }}" } }
    incremental: { cursor: "{{ output.next }}", initial: 0 }
  - id: land
    uses: core.fail
    with: { message: "the database is down", when: "{{ inputs.fail }}" }
output: "{{ steps.read.output.since }}"
"#;

#[test]
fn cursors_move_only_when_a_run_ends_well() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "cursor.yaml", CURSOR);
    assert_eq!(json_of(&flowrun(dir.path(), &["run", "cursor.yaml"])), json!(0));
    assert_eq!(json_of(&flowrun(dir.path(), &["run", "cursor.yaml"])), json!(1));
    assert_eq!(
        flowrun(dir.path(), &["run", "cursor.yaml", "--input", "fail=true"]).code,
        1
    );
    assert_eq!(
        json_of(&flowrun(dir.path(), &["run", "cursor.yaml"])),
        json!(2),
        "the failed run moved nothing"
    );
    assert_eq!(
        json_of(&flowrun(dir.path(), &["run", "cursor.yaml", "--full"])),
        json!(0)
    );
}

const SLOW: &str = r#"flow: slow
steps:
  - id: wait
    uses: core.sleep
    with: { duration: 30s }
  - id: after
    uses: core.value
    with: { value: "{{ steps.wait.output }}" }
"#;

#[test]
fn ctrl_c_cancels_the_run_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "slow.yaml", SLOW);
    let child = start(dir.path(), &["run", "slow.yaml", "--format", "json"], &[]);
    pause(Duration::from_millis(700));
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let started = Instant::now();
    let run = finish(child);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the run stopped when asked"
    );
    assert_eq!(run.code, 130, "{}", run.transcript());
    let envelope = json_of(&run);
    assert_eq!(envelope["status"], "cancelled");
    assert_eq!(envelope["steps"]["wait"]["status"], "cancelled");
    assert_eq!(envelope["steps"]["after"]["status"], "cancelled");
}

#[test]
fn dry_run_shows_the_plan_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "dry.yaml",
        r#"flow: dry
steps:
  - id: first
    uses: core.log
    with: { message: "token {{ secrets.API_TOKEN }} for {{ env.WHO }}" }
  - id: second
    uses: core.fail
    with: { message: "{{ steps.first.output.message }}" }
"#,
    );
    let child = start(
        dir.path(),
        &["run", "--dry-run", "dry.yaml"],
        &[("API_TOKEN", "canary-dry-RUN-8812"), ("WHO", "ops")],
    );
    let run = finish(child);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(!run.stdout.contains("canary-dry-RUN-8812") && !run.stderr.contains("canary-dry-RUN-8812"));
    insta::assert_snapshot!("run_dry_run", run.transcript());
    assert!(
        !dir.path().join(".flowrun/state.db").exists(),
        "a dry run stores nothing"
    );
}

#[test]
fn a_second_run_of_an_incremental_flow_waits_its_turn() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "locked.yaml",
        "flow: locked\nsteps:\n  - id: wait\n    uses: core.sleep\n    with: { duration: 3s }\n    incremental: { cursor: \"{{ output.slept_ms }}\", initial: 0 }\n",
    );
    let first = start(dir.path(), &["run", "locked.yaml"], &[]);
    pause(Duration::from_millis(800));
    let second = flowrun(dir.path(), &["run", "locked.yaml"]);
    assert_eq!(second.code, 1, "{}", second.transcript());
    assert!(
        second.stderr.contains("flow `locked` is already running"),
        "{}",
        second.stderr
    );
    let first = finish(first);
    assert_eq!(first.code, 0, "{}", first.transcript());
}

const CANARY: &str = "canary-Wq7-4xZpL9-secret";

#[test]
fn a_canary_secret_never_appears_in_any_output() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ".env", format!("FILE_TOKEN={CANARY}-file\n"));
    write(
        dir.path(),
        "leaky.yaml",
        r#"flow: leaky
steps:
  - id: echo
    uses: core.value
    with:
      value:
        header: "Bearer {{ secrets.API_TOKEN }}"
        b64: "{{ secrets.API_TOKEN | b64encode }}"
        url: "https://x.test/?t={{ secrets.API_TOKEN | url_encode }}"
        file: "{{ secrets.FILE_TOKEN }}"
  - id: say
    uses: core.log
    with: { message: "the token is {{ steps.echo.output.header }}", level: warn }
  - id: fails
    uses: core.fail
    for_each: [1, 2]
    with: { message: "rejected {{ secrets.API_TOKEN }} for item {{ item }}", when: "{{ item == 2 }}" }
    on_error: break
output: "{{ steps.echo.output }}"
"#,
    );
    let mut texts = Vec::new();
    for format in [
        ["--format", "human", "--log-format", "text"],
        ["--format", "json", "--log-format", "json"],
    ] {
        let mut args = vec!["run", "leaky.yaml", "--secrets", ".env"];
        args.extend(format);
        let run = finish(start(
            dir.path(),
            &args,
            &[("API_TOKEN", CANARY), ("FLOWRUN_LOG", "debug")],
        ));
        assert_eq!(run.code, 3, "{}", run.transcript());
        assert!(run.stdout.contains("Bearer ***"), "{}", run.stdout);
        texts.push(run.stdout);
        texts.push(run.stderr);
    }
    let dry = finish(start(
        dir.path(),
        &["run", "--dry-run", "leaky.yaml", "--secrets", ".env"],
        &[("API_TOKEN", CANARY)],
    ));
    texts.push(dry.stdout);
    texts.push(dry.stderr);
    let state = dir.path().join(".flowrun");
    for entry in std::fs::read_dir(&state).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        texts.push(String::from_utf8_lossy(&bytes).into_owned());
    }
    let forms = [
        CANARY.to_owned(),
        format!("{CANARY}-file"),
        base64_of(CANARY),
        CANARY.replace('-', "%2D"),
    ];
    for text in &texts {
        for form in &forms {
            assert!(
                !text.contains(form.as_str()),
                "a secret form `{form}` leaked into:\n{text}"
            );
        }
    }
}

fn base64_of(text: &str) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(TABLE[(n >> (18 - 6 * i)) as usize & 63] as char);
        }
    }
    // Without padding: a prefix of every padded or unpadded form.
    out
}

/// The flow the kill test runs: an incremental read whose cursor counts completed runs, then
/// items that take time.
const KILLED: &str = r#"flow: killed
steps:
  - id: read
    uses: core.value
    with: { value: { since: "{{ cursor }}", next: "{{ cursor + 1 }}" } }
    incremental: { cursor: "{{ output.next }}", initial: 0 }
  - id: work
    uses: core.sleep
    for_each: [1, 2, 3, 4, 5, 6]
    concurrency: 2
    with: { duration: 40ms }
    needs: [read]
output: "{{ steps.read.output.since }}"
"#;

/// How many runs the folder's state store holds, and the newest one's status.
fn runs_so_far(dir: &Path) -> (usize, Option<String>) {
    let path = dir.join(".flowrun/state.db");
    if !path.exists() {
        return (0, None);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = flowrun_state::open(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        let filter = flowrun_state::RunFilter {
            limit: 10_000,
            ..Default::default()
        };
        let runs = store.list_runs(&filter).await.unwrap();
        (runs.len(), runs.first().map(|run| run.status.to_string()))
    })
}

/// kill -9 at 20 points chosen from a logged seed: the cursor never moves for a killed run,
/// and the next run (after the killed run's lease expired) completes and moves it by one.
#[test]
fn kill_9_at_any_point_leaves_the_cursor_and_the_next_run_completes() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "killed.yaml", KILLED);
    let seed: u64 = std::env::var("FLOWRUN_KILL_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("kill test seed: {seed} (FLOWRUN_KILL_SEED={seed} repeats it)");
    let mut rng = seed;
    let mut completed = 0u64;
    for point in 0..20 {
        // xorshift: a reproducible sequence from the seed.
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let delay = Duration::from_millis(rng % 450);
        let (runs_before, _) = runs_so_far(dir.path());
        let mut child = start(dir.path(), &["run", "killed.yaml", "--lease", "1s"], &[]);
        pause(delay);
        let _ = child.kill();
        let _ = finish(child);
        // The run may have ended (and committed) just before the kill: the store says.
        let (runs_after, newest) = runs_so_far(dir.path());
        if runs_after > runs_before && newest.as_deref() == Some("success") {
            completed += 1;
        } else {
            // Let the killed run's lease expire, so the next run may take the flow's lock.
            pause(Duration::from_millis(1100));
        }
        let next = flowrun(dir.path(), &["run", "killed.yaml", "--lease", "1s"]);
        assert_eq!(
            next.code,
            0,
            "point {point} after {delay:?} (seed {seed}): {}",
            next.transcript()
        );
        assert_eq!(
            json_of(&next),
            json!(completed),
            "point {point} after {delay:?} (seed {seed}): the killed run moved the cursor"
        );
        completed += 1;
    }
}

const REPLAY: &str = r#"flow: replay
steps:
  - id: read
    uses: core.value
    with: { value: ["a", "b", "c"] }
  - id: detail
    uses: core.fail
    for_each: "{{ steps.read.output }}"
    item_key: "{{ 'order ' ~ item }}"
    with:
      message: "the API refused Bearer {{ secrets.T }} for {{ item }}"
      when: "{{ item == 'b' and env.API_UP is not defined }}"
      kind: server
      status: 503
    retry: { attempts: 1 }
    on_error: break
  - id: write
    uses: core.value
    for_each: "{{ steps.detail.output }}"
    with: { value: "landed {{ index }}" }
output: "{{ steps.write.output }}"
"#;

/// read → detail (breaks on item b) → write; `runs retry` lands b, rendering the broken
/// step again with the secret, and writes only the replayed item.
#[test]
fn runs_retry_lands_the_broken_item() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "replay.yaml", REPLAY);
    let secret = [("T", "retry-canary-Pq9")];
    let first = finish(start(dir.path(), &["run", "replay.yaml", "--format", "json"], &secret));
    assert_eq!(first.code, 3, "{}", first.transcript());
    let envelope = json_of(&first);
    assert_eq!(envelope["output"], json!(["landed 0", "landed 1"]));
    let run_id = envelope["run_id"].as_str().unwrap().to_owned();

    let still_down = finish(start(dir.path(), &["runs", "retry", &run_id], &secret));
    assert_eq!(still_down.code, 3, "the API still refuses: {}", still_down.transcript());

    let up = [("T", "retry-canary-Pq9"), ("API_UP", "1")];
    let retried = finish(start(
        dir.path(),
        &["runs", "retry", &run_id, "--item", "order b", "--format", "json"],
        &up,
    ));
    assert_eq!(retried.code, 0, "{}", retried.transcript());
    let envelope = json_of(&retried);
    assert_eq!(
        (envelope["run_id"].as_str(), envelope["status"].as_str()),
        (Some(run_id.as_str()), Some("success"))
    );
    assert_eq!(
        envelope["output"],
        json!(["landed 0"]),
        "write ran for the replayed item only"
    );
    assert!(!retried.stdout.contains("retry-canary-Pq9") && !retried.stderr.contains("retry-canary-Pq9"));

    let show = flowrun(dir.path(), &["runs", "show", &run_id, "--format", "json"]);
    let detail: Json = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(detail["incomplete"][0]["status"], "resolved");
    assert_eq!(detail["incomplete"][0]["failures"], 2);
    assert_eq!(detail["run"]["status"], "success");

    let again = finish(start(dir.path(), &["runs", "retry", &run_id], &up));
    assert_eq!(again.code, 0, "{}", again.transcript());
    assert!(again.stderr.contains("nothing left to replay"), "{}", again.stderr);
}

/// Every pipeline op, through the real binary: a document set reshaped into order lines,
/// priced, grouped, totalled and batched.
#[test]
fn every_pipeline_op_runs_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "ops.yaml",
        r#"flow: ops
steps:
  - id: docs
    uses: core.value
    with:
      value:
        - { id: d1, Lines: [{ Sku: A, Quantity: 2, internal: x }, { Sku: B, Quantity: 0, internal: x }] }
        - { id: d2, Lines: [{ Sku: A, Quantity: 3, internal: x }, { Sku: C, Quantity: 1, internal: x }] }
        - { id: d3, Lines: [{ Sku: C, Quantity: 1, internal: x }] }
  - id: prices
    uses: core.value
    with: { value: [{ item_code: A, price: 10 }, { item_code: C, price: 5 }] }
  - id: lines
    transform:
      input: "{{ steps.docs.output }}"
      pipeline:
        - select: "$[*].Lines[*]"
        - filter: "item.Quantity > 0"
        - map: { sku: "{{ item.Sku }}", qty: "{{ item.Quantity }}", internal: "{{ item.internal }}" }
        - set: { source: conexiom }
        - rename: { sku: item_code }
        - remove: [internal]
        - sort: { by: "item.item_code", order: desc }
        - merge: { with: "{{ steps.prices.output }}", on: item_code }
  - id: totals
    transform:
      input: "{{ steps.lines.output }}"
      pipeline:
        - group_by: "item.item_code"
        - aggregate: { total: "sum(item.qty)", lines: "count()", value: "sum(item.qty * item.price)" }
  - id: batches
    transform:
      input: "{{ steps.lines.output }}"
      pipeline:
        - dedupe: "item.item_code"
        - chunk: 1
        - skip: 1
        - limit: 1
        - flatten
output:
  lines: "{{ steps.lines.output }}"
  totals: "{{ steps.totals.output }}"
  batches: "{{ steps.batches.output }}"
"#,
    );
    let run = flowrun(dir.path(), &["run", "ops.yaml"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(
        json_of(&run),
        json!({
            "lines": [
                { "item_code": "C", "qty": 1, "source": "conexiom", "price": 5 },
                { "item_code": "C", "qty": 1, "source": "conexiom", "price": 5 },
                { "item_code": "A", "qty": 2, "source": "conexiom", "price": 10 },
                { "item_code": "A", "qty": 3, "source": "conexiom", "price": 10 },
            ],
            "totals": [
                { "key": "C", "total": 2, "lines": 2, "value": 10 },
                { "key": "A", "total": 5, "lines": 2, "value": 50 },
            ],
            "batches": [{ "item_code": "A", "qty": 2, "source": "conexiom", "price": 10 }],
        })
    );
}

/// A run killed in the middle of a `for_each` is `abandoned` once its lease expires, and
/// `runs retry` finishes it without running the items that had finished.
#[test]
fn runs_retry_resumes_a_killed_run_without_redoing_finished_items() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "long.yaml",
        "flow: long\nsteps:\n  - id: each\n    uses: core.sleep\n    for_each: [1, 2, 3, 4, 5, 6, 7, 8]\n    with: { duration: 250ms }\noutput: \"{{ steps.each.output | length }}\"\n",
    );
    let mut child = start(dir.path(), &["run", "long.yaml", "--lease", "1s"], &[]);
    // Wait until some items are stored, then kill the process.
    let started = Instant::now();
    let run_id = loop {
        assert!(started.elapsed() < Duration::from_secs(30), "no items were recorded");
        pause(Duration::from_millis(100));
        if let Some((run_id, done)) = items_done(dir.path())
            && done >= 2
        {
            break run_id;
        }
    };
    child.kill().unwrap();
    let _ = finish(child);
    let before = item_times(dir.path(), &run_id);
    assert!(before.len() >= 2 && before.len() < 8, "{before:?}");
    pause(Duration::from_millis(1200));

    let retried = flowrun(dir.path(), &["runs", "retry", &run_id, "--format", "json"]);
    assert_eq!(retried.code, 0, "{}", retried.transcript());
    assert!(retried.stderr.contains("is now `abandoned`"), "{}", retried.stderr);
    let envelope = json_of(&retried);
    assert_eq!(
        (envelope["status"].as_str(), envelope["output"].as_u64()),
        (Some("success"), Some(8))
    );
    let after = item_times(dir.path(), &run_id);
    assert_eq!(after.len(), 8);
    for (index, started_at) in &before {
        assert_eq!(after.get(index), Some(started_at), "item {index} ran again");
    }
}

/// The newest run's id and how many of its items succeeded.
fn items_done(dir: &Path) -> Option<(String, usize)> {
    let path = dir.join(".flowrun/state.db");
    if !path.exists() {
        return None;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = flowrun_state::open(&format!("sqlite://{}", path.display()))
            .await
            .ok()?;
        let run = store
            .list_runs(&flowrun_state::RunFilter::default())
            .await
            .ok()?
            .into_iter()
            .next()?;
        let records = store.step_records(&run.id).await.ok()?;
        let done = records
            .iter()
            .filter(|r| r.item_index.is_some() && r.status == flowrun_state::StepStatus::Success)
            .count();
        Some((run.id, done))
    })
}

/// Each succeeded item's start time, by index.
fn item_times(dir: &Path, run_id: &str) -> std::collections::BTreeMap<u64, String> {
    let path = dir.join(".flowrun/state.db");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = flowrun_state::open(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        store
            .step_records(run_id)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.status == flowrun_state::StepStatus::Success)
            .filter_map(|r| Some((r.item_index?, format!("{:?}", r.started_at))))
            .collect()
    })
}

#[test]
fn dry_run_reads_runs_the_reads_and_lists_the_writes() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "reads.yaml",
        r#"flow: reads
steps:
  - id: read
    uses: core.value
    with: { value: [{ id: 7 }, { id: 9 }] }
  - id: send
    uses: core.log
    for_each: "{{ steps.read.output }}"
    with: { message: "create {{ item.id }} with {{ secrets.API_TOKEN }}" }
  - id: count
    transform:
      input: "{{ steps.read.output }}"
      pipeline: [{ aggregate: { n: "count()" } }]
output: "{{ steps.count.output }}"
"#,
    );
    let run = finish(start(
        dir.path(),
        &["run", "--dry-run=reads", "reads.yaml"],
        &[("API_TOKEN", "canary-reads-55Lk")],
    ));
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(
        json_of(&run),
        json!({ "n": 2 }),
        "later steps rendered with the data the read returned"
    );
    assert!(run.stderr.contains("2 write calls not sent"), "{}", run.stderr);
    assert!(
        run.stderr.contains(r#"send item 1 (core.log): {"message":"***"}"#),
        "{}",
        run.stderr
    );
    assert!(!run.stdout.contains("canary-reads-55Lk") && !run.stderr.contains("canary-reads-55Lk"));
    assert!(!dir.path().join(".flowrun").exists(), "a dry run creates no store");

    let json = finish(start(
        dir.path(),
        &["run", "--dry-run=reads", "--format", "json", "reads.yaml"],
        &[("API_TOKEN", "x")],
    ));
    let envelope = json_of(&json);
    assert_eq!(envelope["not_sent"].as_array().map(Vec::len), Some(2));
    assert_eq!(envelope["not_sent"][0]["step"], "send");
}
