//! `flowrun test` through the real binary: a passing suite, each kind of mismatch with its
//! report (snapshots), a call neither mocked nor recorded, a cassette recorded against the
//! sandbox and replayed offline, snapshots and `--update`, JUnit read back, fixed clock and ids,
//! and a canary secret that shows nowhere.

use std::path::Path;

use flowrun_sandbox::{Sandbox, SandboxConfig};

use crate::util::{Run, flowrun, write};

/// A flow with the usual shape: read over HTTP, filter, write per item (`break` on failure).
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
    with: { url: orders }
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
    concurrency: 4
    on_error: break
    with:
      method: POST
      url: invoices
      body: { order: "{{ item.id }}", total: "{{ item.total }}", signed: "{{ secrets.SHOP_TOKEN }}" }
output:
  created: "{{ steps.create.output | length }}"
  run: "{{ run.id }}"
  at: "{{ now() }}"
  uuid: "{{ uuid() }}"
"#;

const ORDERS: &str = r#"{ status: 200, body: [ { id: o1, total: 5 }, { id: o2, total: 20 }, { id: o3, total: 30 } ] }"#;

/// The report with durations and the total time replaced, so it can be compared.
fn report(run: &Run) -> String {
    let text = run.transcript();
    let mut out = String::new();
    for line in text.lines() {
        let line = match line.rfind("  ") {
            Some(at) if line.trim_end().ends_with(" ms") => format!("{}  [ms]", &line[..at]),
            _ => line.to_owned(),
        };
        let line = match line.find(" in ") {
            Some(at) if line.ends_with(" s") && line.contains("passed") => format!("{} in [s]", &line[..at]),
            _ => line,
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn suite(dir: &Path, test: &str) {
    write(dir, "orders.yaml", FLOW);
    write(dir, "orders.test.yaml", test);
}

#[test]
fn a_passing_suite_reports_each_case_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    suite(
        dir.path(),
        &format!(
            r#"flow: orders.yaml
cases:
  - name: creates an invoice per big order
    mock:
      orders: {{ output: {ORDERS} }}
      create: {{ outputs: [ {{ status: 201, body: {{ id: i2 }} }}, {{ status: 201, body: {{ id: i3 }} }} ] }}
    expect:
      output: {{ created: 2, run: test-run, at: "2025-01-01T00:00:00.000Z" }}
      match: subset
      steps: {{ big: {{ status: success }}, create: {{ status: success }} }}
      calls:
        create:
          - {{ method: POST, url: invoices, body: {{ order: o2, total: 20, signed: "***" }} }}
          - {{ method: POST, url: invoices, body: {{ order: o3, total: 30, signed: "***" }} }}
      incomplete: []
  - name: a failed item is stored as incomplete and the run is partial
    inputs: {{ min_total: 1 }}
    mock:
      orders: {{ output: {ORDERS} }}
      create:
        output: {{ status: 201, body: {{}} }}
        errors: {{ "1": {{ status: 500, message: "Internal error" }} }}
    expect:
      status: partial
      output: {{ created: 2 }}
      match: subset
      steps: {{ create: {{ status: broken }} }}
      incomplete: [ {{ step: create, item_index: 1, item_key: o2 }} ]
  - name: a failed read fails the run
    now: "2030-06-01T12:00:00Z"
    mock:
      orders: {{ error: {{ status: 503, message: "Service Unavailable" }} }}
    expect:
      status: failed
      error: {{ step: orders, status: 503 }}
      steps: {{ orders: {{ status: failed }}, create: {{ status: cancelled }} }}
"#
        ),
    );
    let run = flowrun(dir.path(), &["test"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    insta::assert_snapshot!(report(&run));
}

#[test]
fn each_kind_of_mismatch_is_reported_path_by_path_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    suite(
        dir.path(),
        &format!(
            r#"flow: orders.yaml
cases:
  - name: wrong output, steps and calls
    mock:
      orders: {{ output: {ORDERS} }}
      create: {{ output: {{ status: 201 }} }}
    expect:
      output: {{ created: 3, run: test-run, at: "2025-01-01T00:00:00Z", uuid: x, extra: true }}
      steps: {{ big: {{ status: skipped }} }}
      calls:
        create:
          - {{ method: POST, url: invoices, body: {{ order: o1, total: 20, signed: "***" }} }}
  - name: wrong status shows the run's error
    mock:
      orders: {{ error: {{ status: 401, message: "Unauthorized: bad token" }} }}
    expect:
      output: {{ created: 0 }}
  - name: wrong incomplete executions
    inputs: {{ min_total: 1 }}
    mock:
      orders: {{ output: {ORDERS} }}
      create: {{ output: {{}}, errors: {{ "0": {{ message: boom }} }} }}
    expect:
      status: partial
      incomplete: [ {{ step: create, item_key: o3 }} ]
"#
        ),
    );
    let run = flowrun(dir.path(), &["test"]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    insta::assert_snapshot!(report(&run));
}

#[test]
fn a_call_neither_mocked_nor_recorded_fails_naming_the_step_and_the_request() {
    let dir = tempfile::tempdir().unwrap();
    suite(
        dir.path(),
        "flow: orders.yaml\ncases:\n  - name: forgot a mock\n    mock: { create: { output: {} } }\n",
    );
    let run = flowrun(dir.path(), &["test"]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stdout.contains(
            "the run's error: step `orders`: GET https://shop.example.com/api/orders is neither mocked nor recorded"
        ),
        "{}",
        run.transcript()
    );
    assert!(run.stdout.contains("0 passed, 1 failed"), "{}", run.transcript());
}

#[test]
fn a_recorded_cassette_replays_in_a_test_case() {
    const RECORDED: &str = r#"flow: sandbox-echo
connections:
  api:
    connector: http
    config:
      base_url: "{{ env.SANDBOX_API }}"
      auth: { kind: basic, username: alice, password: "{{ secrets.PASSWORD }}" }
steps:
  - id: items
    uses: http.request
    connection: api
    with:
      url: pages/cursor
      query: { limit: 100 }
      paginate: { kind: cursor, next: "$.meta.next_cursor", param: cursor, items: "$.data" }
  - id: post
    uses: http.request
    connection: api
    with:
      method: POST
      url: echo
      body: { count: "{{ steps.items.output.body | length }}", at: "{{ now() }}", id: "{{ uuid() }}" }
output:
  count: "{{ steps.items.output.body | length }}"
  echoed: "{{ steps.post.output.body.body }}"
"#;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sandbox = runtime.block_on(Sandbox::start(0, SandboxConfig::default())).unwrap();
    let api = sandbox.test_api_url();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "echo.yaml", RECORDED);
    let recorded = crate::util::command(
        dir.path(),
        &["run", "echo.yaml", "--record", "cassettes", "--format", "json"],
        &[("SANDBOX_API", api.as_str()), ("PASSWORD", "wonderland")],
    )
    .output()
    .unwrap();
    assert!(
        recorded.status.success(),
        "{}",
        String::from_utf8_lossy(&recorded.stderr)
    );
    runtime.block_on(sandbox.shutdown());
    let cassette = std::fs::read_dir(dir.path().join("cassettes"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name();
    let cassette = cassette.to_string_lossy();

    write(
        dir.path(),
        "echo.test.yaml",
        format!(
            r#"flow: echo.yaml
cases:
  - name: replays the recorded exchanges
    replay: cassettes/{cassette}
    env: {{ SANDBOX_API: "{api}" }}
    expect:
      output: {{ count: 250 }}
      match: subset
  - name: a changed request is not in the cassette
    replay: cassettes/{cassette}
    env: {{ SANDBOX_API: "{api}/v2" }}
"#
        ),
    );
    let run = flowrun(dir.path(), &["test", "--filter", "replays"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(run.stdout.contains("1 passed, 0 failed"), "{}", run.transcript());
    let changed = flowrun(dir.path(), &["test", "--filter", "changed"]);
    assert_eq!(changed.code, 1, "{}", changed.transcript());
    assert!(
        changed.stdout.contains("no recorded exchange matches this request"),
        "{}",
        changed.transcript()
    );
    assert!(
        changed.stdout.contains("0 passed, 1 failed"),
        "{}",
        changed.transcript()
    );
}

#[test]
fn snapshots_are_written_by_update_and_then_compared() {
    let dir = tempfile::tempdir().unwrap();
    let test = format!(
        "flow: orders.yaml\ncases:\n  - name: snapshot of a run\n    snapshot: true\n    mock:\n      orders: {{ output: {ORDERS} }}\n      create: {{ output: {{ status: 201 }} }}\n"
    );
    suite(dir.path(), &test);
    let snap = dir.path().join("orders.test.snap");

    let missing = flowrun(dir.path(), &["test"]);
    assert_eq!(missing.code, 1, "{}", missing.transcript());
    assert!(
        missing.stdout.contains("`flowrun test --update` writes it"),
        "{}",
        missing.transcript()
    );
    assert!(!snap.exists());

    let update = flowrun(dir.path(), &["test", "--update"]);
    assert_eq!(update.code, 0, "{}", update.transcript());
    assert!(
        update.stdout.contains("snapshots written to orders.test.snap"),
        "{}",
        update.transcript()
    );
    insta::assert_snapshot!(std::fs::read_to_string(&snap).unwrap());

    let again = flowrun(dir.path(), &["test"]);
    assert_eq!(again.code, 0, "{}", again.transcript());
    let unchanged = flowrun(dir.path(), &["test", "--update"]);
    assert!(
        !unchanged.stdout.contains("snapshots written"),
        "{}",
        unchanged.transcript()
    );

    // The flow changes what it sends: the snapshot shows where.
    write(
        dir.path(),
        "orders.yaml",
        FLOW.replace("url: invoices", "url: invoices/v2"),
    );
    let changed = flowrun(dir.path(), &["test"]);
    assert_eq!(changed.code, 1, "{}", changed.transcript());
    insta::assert_snapshot!(report(&changed));
}

#[test]
fn junit_output_reads_back_with_every_case() {
    let dir = tempfile::tempdir().unwrap();
    suite(
        dir.path(),
        &format!(
            r#"flow: orders.yaml
cases:
  - name: passes
    mock: {{ orders: {{ output: {ORDERS} }}, create: {{ output: {{}} }} }}
  - name: fails
    mock: {{ orders: {{ output: {ORDERS} }}, create: {{ output: {{}} }} }}
    expect: {{ output: {{ created: 7 }}, match: subset }}
"#
        ),
    );
    let run = flowrun(dir.path(), &["test", "--format", "junit"]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(run.stderr.contains("1 passed, 1 failed"), "{}", run.transcript());
    let xml = roxmltree::Document::parse(&run.stdout).unwrap_or_else(|error| panic!("{error}: {}", run.stdout));
    let suites = xml.root_element();
    assert_eq!(suites.tag_name().name(), "testsuites");
    assert_eq!(suites.attribute("tests"), Some("2"));
    assert_eq!(suites.attribute("failures"), Some("1"));
    let suite = suites.children().find(|node| node.has_tag_name("testsuite")).unwrap();
    assert_eq!(suite.attribute("name"), Some("orders.test.yaml"));
    let cases: Vec<_> = suite.children().filter(|node| node.has_tag_name("testcase")).collect();
    assert_eq!(
        cases
            .iter()
            .map(|case| case.attribute("name").unwrap())
            .collect::<Vec<_>>(),
        ["passes", "fails"]
    );
    assert!(
        cases
            .iter()
            .all(|case| case.attribute("classname") == Some("orders-sync"))
    );
    let failure = cases[1].children().find(|node| node.has_tag_name("failure")).unwrap();
    assert_eq!(
        failure.attribute("message"),
        Some("$.output.created: expected 7, got 2")
    );
}

#[test]
fn clock_ids_and_run_id_are_fixed_and_can_be_set() {
    let dir = tempfile::tempdir().unwrap();
    let case = |name: &str, extra: &str| {
        format!(
            "  - name: {name}\n{extra}    snapshot: true\n    mock: {{ orders: {{ output: {ORDERS} }}, create: {{ output: {{}} }} }}\n"
        )
    };
    suite(
        dir.path(),
        &format!(
            "flow: orders.yaml\ncases:\n{}{}",
            case("defaults", ""),
            case(
                "chosen",
                "    now: \"2030-01-02T03:04:05Z\"\n    uuid_seed: 7\n    run_id: nightly-1\n"
            )
        ),
    );
    let first = flowrun(dir.path(), &["test", "--update"]);
    assert_eq!(first.code, 0, "{}", first.transcript());
    let snapshots: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("orders.test.snap")).unwrap()).unwrap();
    let defaults = &snapshots["defaults"]["output"];
    assert_eq!(defaults["at"], "2025-01-01T00:00:00.000Z");
    assert_eq!(defaults["run"], "test-run");
    let chosen = &snapshots["chosen"]["output"];
    assert_eq!(chosen["at"], "2030-01-02T03:04:05.000Z");
    assert_eq!(chosen["run"], "nightly-1");
    assert_ne!(chosen["uuid"], defaults["uuid"]);
    // The same ids on every run: the snapshots hold.
    let second = flowrun(dir.path(), &["test"]);
    assert_eq!(second.code, 0, "{}", second.transcript());
}

#[test]
fn a_canary_secret_shows_nowhere() {
    const CANARY: &str = "canary-7f3a9c-secret";
    let dir = tempfile::tempdir().unwrap();
    suite(
        dir.path(),
        &format!(
            r#"flow: orders.yaml
cases:
  - name: leaks nothing
    secrets: {{ SHOP_TOKEN: {CANARY} }}
    snapshot: true
    mock: {{ orders: {{ output: {ORDERS} }}, create: {{ output: {{ echoed: "{CANARY}" }} }} }}
    expect:
      output: {{ created: 1 }}
  - name: leaks nothing when it fails
    secrets: {{ SHOP_TOKEN: {CANARY} }}
    mock: {{ orders: {{ error: {{ message: "token {CANARY} refused", status: 401 }} }} }}
"#
        ),
    );
    let update = flowrun(dir.path(), &["test", "--update"]);
    let human = flowrun(dir.path(), &["test"]);
    let junit = flowrun(dir.path(), &["test", "--format", "junit"]);
    let snapshot = std::fs::read_to_string(dir.path().join("orders.test.snap")).unwrap();
    assert!(snapshot.contains("***"), "{snapshot}");
    for (what, text) in [
        ("--update", update.transcript()),
        ("human", human.transcript()),
        ("junit", junit.transcript()),
        ("snapshot", snapshot),
    ] {
        assert!(!text.contains(CANARY), "{what} shows the secret:\n{text}");
    }
    assert_eq!(human.code, 1, "{}", human.transcript());
}

#[test]
fn an_invalid_test_file_exits_2_and_the_others_still_run() {
    let dir = tempfile::tempdir().unwrap();
    suite(
        dir.path(),
        &format!(
            "flow: orders.yaml\ncases:\n  - name: fine\n    mock: {{ orders: {{ output: {ORDERS} }}, create: {{ output: {{}} }} }}\n"
        ),
    );
    write(
        dir.path(),
        "broken.test.yaml",
        "flow: orders.yaml\ncases:\n  - name: typo\n    mock: { ordrs: { output: 1 } }\n",
    );
    let run = flowrun(dir.path(), &["test"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(run.stderr.contains("broken.test.yaml:4:"), "{}", run.transcript());
    assert!(run.stdout.contains("1 passed, 0 failed"), "{}", run.transcript());
}
