//! Test files against a flow written here: each rule's diagnostics rendered with their source
//! line, reviewed as insta snapshots.

use std::fmt::Write;
use std::path::Path;

use crate::Diagnostic;
use crate::model::{Flow, MockErrorKind};
use crate::validate::{check_test_against_flow, validate_test};
use crate::yaml::{self, Limits};

const FLOW: &str = r#"flow: orders
inputs:
  since: { type: string, required: true }
  limit: { type: integer, default: 10 }
  ratio: { type: number }
  full: { type: boolean }
steps:
  - id: fetch
    uses: crm.search
    with: { module: Orders }
  - id: shape
    transform:
      input: "{{ steps.fetch.output }}"
      pipeline: [ { filter: item.open } ]
  - id: create
    for_each: "{{ steps.shape.output }}"
    uses: crm.create
    with: { x: "{{ item }}" }
on_failure:
  - id: alert
    uses: web.request
output: "{{ steps.create.output }}"
"#;

fn flow(text: &str) -> Flow {
    let (tree, errors) = yaml::parse(text, Limits::default());
    assert!(errors.is_empty(), "{errors:?}");
    serde_json::from_value(tree.map(|tree| tree.to_json()).unwrap_or_default())
        .unwrap_or_else(|error| panic!("{error}"))
}

/// Every diagnostic of `text` as a test file, and of `text` against [`FLOW`] when it has a
/// model: `severity[code] line:col: message`, the source line underlined with the label, the
/// help and the related places.
fn diagnose(text: &str) -> String {
    diagnose_against(text, FLOW)
}

fn diagnose_against(text: &str, flow_text: &str) -> String {
    let report = validate_test(Path::new("orders.test.yaml"), text.as_bytes());
    let mut diagnostics = report.diagnostics.clone();
    if let (Some(test), Some(tree)) = (&report.test, &report.tree) {
        diagnostics.extend(check_test_against_flow(test, tree, &flow(flow_text)));
    }
    render(text, &diagnostics)
}

fn render(text: &str, diagnostics: &[Diagnostic]) -> String {
    if diagnostics.is_empty() {
        return "no diagnostics\n".to_owned();
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    for d in diagnostics {
        let (start, end) = (d.span.start, d.span.end);
        let _ = writeln!(
            out,
            "{}[{}] {}:{}: {}",
            d.severity.as_str(),
            d.code,
            start.line,
            start.column,
            d.message
        );
        if let Some(line) = start.line.checked_sub(1).and_then(|index| lines.get(index)) {
            let width = if end.line == start.line {
                end.column.saturating_sub(start.column).max(1)
            } else {
                line.chars().count().saturating_sub(start.column - 1).max(1)
            };
            let _ = writeln!(out, "  | {line}");
            let _ = writeln!(
                out,
                "  | {}{} {}",
                " ".repeat(start.column - 1),
                "^".repeat(width),
                d.label.as_deref().unwrap_or("")
            );
        }
        if let Some(help) = &d.help {
            let _ = writeln!(out, "  help: {help}");
        }
        for related in &d.related {
            let _ = writeln!(
                out,
                "  related {}:{}: {}",
                related.span.start.line, related.span.start.column, related.message
            );
        }
    }
    out
}

#[test]
fn the_test_schema_compiles() {
    let _ = super::test_file::validate_test(Path::new("x.test.yaml"), b"flow: x.yaml\ncases: [ { name: a } ]\n");
    let schema = crate::schema::test_schema();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert!(jsonschema::draft7::new(&schema).is_ok());
}

#[test]
fn a_valid_test_file_has_no_diagnostics() {
    let text = r#"flow: orders.yaml
cases:
  - name: creates open orders
    inputs: { since: "2024-01-01", ratio: 2, full: false }
    now: "2025-03-01T10:00:00+01:00"
    mock:
      fetch: { output: { records: [ { id: 1, open: true } ] } }
      create:
        outputs: [ { ID: a }, { ID: b } ]
        errors: { 1: { message: conflict, status: 409 } }
      alert: { output: null }
    expect:
      status: partial
      output: null
      steps: { shape: { status: success }, alert: { status: skipped } }
      calls: { create: [ { x: { id: 1, open: true } } ] }
    snapshot: true
  - name: a failing search
    inputs: { since: "2024-01-01" }
    mock:
      fetch: { error: { message: down, kind: 429 } }
    expect: { status: failed, error: { step: fetch } }
"#;
    assert_eq!(diagnose(text), "no diagnostics\n");
    let test = validate_test(Path::new("t.test.yaml"), text.as_bytes()).test.unwrap();
    // `output: null` is a null output, not a missing one.
    assert_eq!(test.cases[0].mock["alert"].output, Some(serde_json::Value::Null));
    assert_eq!(
        test.cases[0].expect.as_ref().unwrap().output,
        Some(serde_json::Value::Null)
    );
    // `429` unquoted is the rate-limit kind, as in `retry.on`.
    assert_eq!(
        test.cases[1].mock["fetch"].error.as_ref().unwrap().kind,
        Some(MockErrorKind::RateLimited)
    );
    assert!(test.cases[0].snapshot && test.cases[0].expect.is_some());
}

#[test]
fn structure_errors_point_at_keys_and_values() {
    let text = r#"flow: orders.yaml
cases:
  - name: typos
    inputs: { since: x }
    mocks: { fetch: { output: [] } }
    expect: { status: done, steps: { fetch: { status: succes } } }
  - name: a bad error kind
    inputs: { since: x }
    mock:
      fetch: { error: { message: "", kind: 503, status: 99 } }
  - inputs: { since: x }
  - name: ""
    inputs: { since: x }
    mock:
      create: { outputs: [1], errors: { 0: { message: gone, status: 600 } } }
"#;
    insta::assert_snapshot!(diagnose(text));
}

#[test]
fn an_empty_or_bare_file() {
    insta::assert_snapshot!(format!(
        "{}---\n{}---\n{}---\n{}",
        diagnose(""),
        diagnose("flow: orders.yaml\n"),
        diagnose("flow: orders.yaml\ncases: []\n"),
        diagnose("flow: \"\"\ncases: [ { name: a, inputs: { since: x } } ]\n")
    ));
}

#[test]
fn case_names_are_unique() {
    let text = "flow: orders.yaml\ncases:\n  - name: same\n    inputs: { since: x }\n  - name: other\n    inputs: { since: x }\n  - name: same\n    inputs: { since: x }\n";
    insta::assert_snapshot!(diagnose(text));
}

#[test]
fn a_mock_gives_one_kind_of_result() {
    let text = r#"flow: orders.yaml
cases:
  - name: mocks
    inputs: { since: x }
    mock:
      fetch: {}
      create: { output: 1, outputs: [1], error: { message: no } }
      alert: { errors: { 0: { message: no } } }
  - name: more mocks
    inputs: { since: x }
    mock:
      fetch: { error: { message: down }, errors: { 0: { message: no } } }
      create:
        outputs: [ a, b ]
        errors: { 2: { message: x }, "01": { message: x }, first: { message: x }, 1: { message: ok } }
      alert:
        output: sent
        errors: { 7: { message: any call of `output` may fail } }
"#;
    insta::assert_snapshot!(diagnose(text));
}

#[test]
fn now_is_an_rfc_3339_instant() {
    let text = "flow: orders.yaml\ncases:\n  - name: a date only\n    inputs: { since: x }\n    now: 2025-01-01\n  - name: no offset\n    inputs: { since: x }\n    now: \"2025-01-01T10:00:00\"\n  - name: fine\n    inputs: { since: x }\n    now: \"2025-01-01T10:00:00Z\"\n";
    insta::assert_snapshot!(diagnose(text));
}

#[test]
fn mocked_and_expected_steps_are_steps_of_the_flow() {
    let text = r#"flow: orders.yaml
cases:
  - name: steps
    inputs: { since: x }
    mock:
      fetc: { output: [] }
      shape: { output: [] }
      zzz: { output: 1 }
      create: { output: { ID: a } }
    expect:
      steps: { creat: { status: success }, alert: { status: skipped } }
      calls:
        fetch: []
        shape: []
        create: []
        nope: []
  - name: no mocks
    inputs: { since: x }
    expect: { calls: { create: [] } }
"#;
    insta::assert_snapshot!(diagnose(text));
}

#[test]
fn inputs_are_declared_and_typed() {
    let text = r#"flow: orders.yaml
cases:
  - name: types
    inputs:
      since: 2024
      limit: 2.5
      ratio: 3
      full: "yes"
      sinse: x
      empty:
  - name: no since
    inputs: { limit: 3 }
  - name: no inputs at all
  - name: a replay brings its inputs
    replay: cassettes/orders.json
"#;
    insta::assert_snapshot!(diagnose(text));
}

#[test]
fn inputs_of_a_flow_without_inputs() {
    let flow = "flow: bare\nsteps:\n  - id: a\n    uses: web.request\n";
    let text = "flow: bare.yaml\ncases:\n  - name: extra\n    inputs: { since: x }\n";
    insta::assert_snapshot!(diagnose_against(text, flow));
}

#[test]
fn a_trigger_event_for_a_flow_without_trigger_is_a_warning() {
    let text =
        "flow: orders.yaml\ncases:\n  - name: hook\n    inputs: { since: x }\n    trigger: { body: { id: 1 } }\n";
    insta::assert_snapshot!(diagnose(text));
    let with_trigger = FLOW.replacen("steps:\n", "trigger:\n  webhook: { path: orders }\nsteps:\n", 1);
    assert_eq!(diagnose_against(text, &with_trigger), "no diagnostics\n");
}

#[test]
fn a_case_the_schema_rejects_does_not_shift_the_others() {
    // The second case (no name) leaves the model; the third still points at its own lines.
    let text = "flow: orders.yaml\ncases:\n  - name: first\n    inputs: { since: x }\n  - inputs: { since: x }\n  - name: third\n    inputs: { since: x }\n    mock: { nope: { output: 1 } }\n";
    insta::assert_snapshot!(diagnose(text));
}

const SEED: &str = "flow: orders.yaml\ncases:\n  - name: a\n    inputs: { since: x, limit: 3 }\n    now: \"2025-01-01T00:00:00Z\"\n    mock:\n      fetch: { outputs: [1, 2], errors: { 1: { message: m, status: 500, kind: 5xx } } }\n      shape: { output: [] }\n    expect: { status: success, steps: { fetch: { status: success } }, calls: { fetch: [ {} ] }, output: [] }\n    trigger: { x: 1 }\n    snapshot: true\n  - name: a\n    replay: c.json\n";

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// No input makes the test validator panic: random edits of a test file reach every check.
    #[test]
    fn never_panics_on_edited_test_files(edits in proptest::collection::vec((0usize..1000, proptest::prelude::any::<u8>()), 1..6)) {
        let mut bytes = SEED.as_bytes().to_vec();
        for (at, byte) in edits {
            let at = at % (bytes.len() + 1);
            match byte % 3 {
                0 => bytes.insert(at, b"{}[]:-'\"&*!|>#\n x0"[usize::from(byte) % 18]),
                1 if at < bytes.len() => { bytes.remove(at); }
                _ => bytes.insert(at, byte),
            }
        }
        let report = validate_test(Path::new("t.test.yaml"), &bytes);
        if let (Some(test), Some(tree)) = (&report.test, &report.tree) {
            let _ = check_test_against_flow(test, tree, &flow(FLOW));
        }
    }

    #[test]
    fn never_panics_on_any_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        let _ = validate_test(Path::new("t.test.yaml"), &bytes);
    }

    #[test]
    fn never_panics_on_yaml_like_text(text in "[a-z0-9:{}\\[\\],&*!|>'\" \\n#-]{0,200}") {
        let text = format!("flow: orders.yaml\ncases:\n  - name: a\n    {text}");
        let report = validate_test(Path::new("t.test.yaml"), text.as_bytes());
        if let (Some(test), Some(tree)) = (&report.test, &report.tree) {
            let _ = check_test_against_flow(test, tree, &flow(FLOW));
        }
    }
}

#[test]
fn the_fuzz_seed_is_nearly_valid() {
    // The seed reaches every check: a duplicate name and a trigger for a manual flow.
    let found = validate_test(Path::new("t.test.yaml"), SEED.as_bytes());
    let codes: Vec<&str> = found.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["duplicate-case-name"]);
    let (test, tree) = (found.test.unwrap(), found.tree.unwrap());
    let codes: Vec<&str> = check_test_against_flow(&test, &tree, &flow(FLOW))
        .iter()
        .map(|d| d.code)
        .collect();
    assert_eq!(codes, ["unmockable-step", "unused-trigger"]);
}
