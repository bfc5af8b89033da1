//! `flowrun validate` on flow test files (`*.test.yaml`): found in folders, checked with the
//! flow they name, their problems reported as file:line:col like a flow's.

use crate::util::{flowrun, validate_both, write};

const FLOW: &str = r#"flow: orders
inputs:
  since: { type: string, required: true }
  limit: { type: integer, default: 10 }
steps:
  - id: fetch
    uses: http.request
    with: { url: "https://api.example.com/orders?since={{ inputs.since }}&limit={{ inputs.limit }}" }
  - id: open
    transform:
      input: "{{ steps.fetch.output.body }}"
      pipeline: [ { filter: item.open } ]
  - id: note
    for_each: "{{ steps.open.output }}"
    uses: core.log
    with: { message: "order {{ item.id }}" }
output: "{{ steps.note.output }}"
"#;

const VALID_TEST: &str = r#"flow: orders.yaml
cases:
  - name: logs open orders
    inputs: { since: "2024-01-01" }
    now: "2025-01-01T00:00:00Z"
    mock:
      fetch: { output: { status: 200, body: [ { id: 1, open: true }, { id: 2, open: false } ] } }
      note: { outputs: [ { message: order 1, level: info } ] }
    expect:
      status: success
      steps: { open: { status: success } }
      calls: { note: [ { message: order 1 } ] }
      match: subset
  - name: a failing fetch
    inputs: { since: "2024-01-01", limit: 2 }
    mock:
      fetch: { error: { message: unavailable, status: 503 } }
    expect: { status: failed, error: { step: fetch } }
  - name: replays recorded traffic
    replay: cassettes/orders.json
    snapshot: true
"#;

/// Every kind of mistake, one or two per case.
const BROKEN_TEST: &str = r#"flow: orders.yaml
cases:
  - name: typos
    inputs: { since: 2024, limti: 3 }
    mock:
      fetc: { output: [] }
      open: { output: [] }
    expect:
      calls: { note: [] }
    mocks: {}
  - name: typos
    now: tomorrow
    mock:
      note: { outputs: [ a ], errors: { 3: { message: boom } } }
    replay: cassettes/missing.json
"#;

/// A folder with the flow, its valid test, a cassette, and a project file.
fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "flows/orders.yaml", FLOW);
    write(dir.path(), "flows/orders.test.yaml", VALID_TEST);
    write(dir.path(), "flows/cassettes/orders.json", "{}");
    dir
}

#[test]
fn a_valid_test_file_beside_its_flow_passes() {
    let dir = repository();
    let run = flowrun(dir.path(), &["validate", "."]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(run.stderr, "2 files checked: no problems\n", "{}", run.transcript());
    // Named on the command line, a test file is checked as one (not as a flow).
    let named = flowrun(dir.path(), &["validate", "flows/orders.test.yaml"]);
    assert_eq!(named.code, 0, "{}", named.transcript());
    assert_eq!(named.stderr, "1 file checked: no problems\n", "{}", named.transcript());
}

#[test]
fn a_broken_test_file_is_reported_by_position() {
    let dir = repository();
    write(dir.path(), "flows/broken.test.yaml", BROKEN_TEST);
    let (code, text) = validate_both(dir.path(), "flows");
    assert_eq!(code, 2, "{text}");
    insta::assert_snapshot!(text);
}

/// A flow that is missing, or invalid: the test file says which, and the flow's own errors are
/// shown under the flow's path, once even when the flow is checked too.
#[test]
fn the_flow_under_test_is_missing_or_invalid() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ghost.test.yaml", "flow: ghost.yaml\ncases:\n  - name: a\n");
    write(
        dir.path(),
        "bad.yaml",
        "flow: bad\nsteps:\n  - id: a\n    uses: core.nope\n",
    );
    write(
        dir.path(),
        "bad.test.yaml",
        "flow: bad.yaml\ncases:\n  - name: a\n    mock: { a: { output: 1 } }\n",
    );
    let (code, text) = validate_both(dir.path(), ".");
    assert_eq!(code, 2, "{text}");
    assert_eq!(
        text.matches("[unknown-module]").count(),
        1,
        "the flow's error is shown once:\n{text}"
    );
    let named = flowrun(dir.path(), &["validate", "bad.test.yaml"]);
    assert_eq!(named.code, 2, "{}", named.transcript());
    assert!(named.stderr.contains("bad.yaml:4:11"), "{}", named.transcript());
    insta::assert_snapshot!(text);
}
