//! The validator against a catalog written here: data in, `line:column code` out.

use std::path::Path;

use serde_json::json;

use crate::catalog::{Catalog, ConnectorSpec, ModuleKind, ModuleSpec};
use crate::model::Project;
use crate::{Context, validate_flow, validate_project};

fn module(name: &str, kind: ModuleKind, params: serde_json::Value) -> ModuleSpec {
    ModuleSpec {
        name: name.into(),
        kind,
        description: format!("{name} module"),
        params_schema: params,
        output_schema: json!({}),
        without_connection_schema: None,
    }
}

fn catalog() -> Catalog {
    let search = json!({
        "type": "object",
        "properties": { "module": { "type": "string" }, "limit": { "type": "integer" } },
        "required": ["module"],
        "additionalProperties": false,
    });
    let event = json!({
        "type": "object",
        "properties": { "connection": { "type": "string" }, "module": { "type": "string" } },
        "required": ["module"],
        "additionalProperties": false,
    });
    let crm = ConnectorSpec {
        name: "crm".into(),
        description: "A CRM.".into(),
        connection_schema: json!({
            "type": "object",
            "properties": { "domain": { "type": "string" } },
            "required": ["domain"],
            "additionalProperties": false,
        }),
        connection_optional: false,
        modules: vec![
            module("search", ModuleKind::Search, search),
            module("create", ModuleKind::Create, json!({ "type": "object" })),
            module("new_event", ModuleKind::Trigger, event),
        ],
    };
    let web = ConnectorSpec {
        name: "web".into(),
        description: "Any API.".into(),
        connection_schema: json!({ "type": "object" }),
        connection_optional: true,
        modules: vec![
            module("request", ModuleKind::ApiCall, json!({ "type": "object" })).without_connection(json!({
                "properties": { "url": { "type": "string", "pattern": "^https?://" } },
            })),
        ],
    };
    Catalog::new(vec![crm, web])
}

/// Validates `text` and compares `line:column code` of every diagnostic with `expect`.
#[track_caller]
fn check(text: &str, expect: &[&str]) {
    check_with_project(text, None, expect);
}

#[track_caller]
fn check_with_project(text: &str, project: Option<&Project>, expect: &[&str]) {
    let catalog = catalog();
    let project = project.map(|project| (Path::new("flowrun.yaml"), project));
    let report = validate_flow(
        Path::new("flow.yaml"),
        text.as_bytes(),
        Context {
            catalog: &catalog,
            project,
        },
    );
    let found: Vec<String> = report
        .diagnostics
        .iter()
        .map(|d| format!("{}:{} {}", d.span.start.line, d.span.start.column, d.code))
        .collect();
    let messages: Vec<&str> = report.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(found, expect, "messages: {messages:#?}");
}

const CONNECTIONS: &str = "connections:\n  main: { connector: crm, config: { domain: x } }\n";

#[test]
fn a_valid_flow_has_no_diagnostics() {
    let text = format!(
        "flow: ok\n{CONNECTIONS}steps:\n  - id: a\n    uses: crm.search\n    with: {{ module: Account, limit: \"{{{{ inputs.n }}}}\" }}\ninputs:\n  n: {{ type: integer, default: 5 }}\n"
    );
    check(&text, &[]);
}

#[test]
fn structure_problems_point_at_keys_and_values() {
    check("flow: Ok\nstpes: []\n", &["1:7 invalid-id", "2:1 unknown-key"]);
    check(
        "flow: ok\nsteps:\n  - id: a\n    uses: web.request\n    timeout: soon\n",
        &["5:14 invalid-duration"],
    );
}

#[test]
fn a_flow_s_description_is_still_checked_once_the_schema_s_descriptions_are_dropped() {
    // The compiled schema drops its `description` keywords; the flow's own `description`
    // property keeps its rule (a string).
    check(
        "flow: ok\ndescription: [1]\nsteps:\n  - id: a\n    uses: web.request\n",
        &["2:14 wrong-type"],
    );
    check(
        "flow: ok\ndescription: Loads orders.\nsteps:\n  - id: a\n    uses: web.request\n",
        &[],
    );
}

#[test]
fn modules_connections_and_parameters() {
    let text = format!(
        "flow: m\n{CONNECTIONS}steps:\n  - id: a\n    uses: crm.serch\n  - id: b\n    uses: crm.search\n    with: {{ modul: x }}\n  - id: c\n    uses: nope.x\n  - id: d\n    uses: crm.search\n    connection: other\n    with: {{ module: x }}\n"
    );
    check(
        &text,
        &[
            "6:11 unknown-module",
            "9:13 unknown-key",
            "11:11 unknown-connector",
            "14:17 unknown-connection",
        ],
    );
}

#[test]
fn connection_omitted_needs_exactly_one() {
    let two = "connections:\n  a: { connector: crm, config: { domain: x } }\n  b: { connector: crm, config: { domain: y } }\n";
    check(
        &format!("flow: c\n{two}steps:\n  - id: s\n    uses: crm.search\n    with: {{ module: x }}\n"),
        &["7:5 ambiguous-connection"],
    );
    check(
        "flow: c\nsteps:\n  - id: s\n    uses: crm.search\n    with: { module: x }\n",
        &["4:5 missing-connection"],
    );
    check("flow: c\nsteps:\n  - id: s\n    uses: web.request\n", &[]);
}

#[test]
fn connection_config_is_checked_against_the_connector() {
    check(
        "flow: c\nconnections:\n  main: { connector: crm, config: { domian: x } }\nsteps:\n  - id: s\n    uses: crm.search\n    with: { module: x }\n",
        &["3:37 unknown-key"],
    );
}

#[test]
fn cycles_name_every_step() {
    let text = "flow: g\nsteps:\n  - id: a\n    uses: web.request\n    needs: [c]\n  - id: b\n    uses: web.request\n    with: { x: \"{{ steps.a.output }}\" }\n  - id: c\n    uses: web.request\n    needs: [b]\n";
    let catalog = catalog();
    let report = validate_flow(
        Path::new("f.yaml"),
        text.as_bytes(),
        Context {
            catalog: &catalog,
            project: None,
        },
    );
    assert_eq!(report.diagnostics.len(), 1, "{:#?}", report.diagnostics);
    assert_eq!(report.diagnostics[0].message, "dependency cycle: a -> b -> c -> a");
    assert_eq!(report.diagnostics[0].related.len(), 2);
}

#[test]
fn references_and_context_names() {
    let text = "flow: r\ninputs:\n  since: { type: string }\nsteps:\n  - id: b\n    uses: web.request\n  - id: a\n    uses: web.request\n    with: { x: \"{{ inputs.sinse }} {{ item }} {{ steps.zz.output }} {{ steps.b.outptu }}\" }\n";
    check(
        text,
        &[
            "9:20 unknown-input",
            "9:39 undefined-variable",
            "9:50 unknown-step",
            "9:72 invalid-reference",
        ],
    );
}

/// A flow with one step `b` and a step `a` whose `with.x` (line 8, the string from column 11)
/// is `value`.
fn with_x(value: &str) -> String {
    format!(
        "flow: t\nsteps:\n  - id: b\n    uses: web.request\n  - id: a\n    uses: web.request\n    with:\n      x: \"{value}\"\n"
    )
}

/// The first diagnostic of a flow: `line:column-end_column code message | help`.
#[track_caller]
fn first(text: &str) -> String {
    first_of("", text)
}

/// The first diagnostic with `code` (any code when empty).
#[track_caller]
fn first_of(code: &str, text: &str) -> String {
    let catalog = catalog();
    let report = validate_flow(
        Path::new("flow.yaml"),
        text.as_bytes(),
        Context {
            catalog: &catalog,
            project: None,
        },
    );
    let Some(d) = report.diagnostics.iter().find(|d| code.is_empty() || d.code == code) else {
        return String::new();
    };
    format!(
        "{}:{}-{} {} {} | {}",
        d.span.start.line,
        d.span.start.column,
        d.span.end.column,
        d.code,
        d.message,
        d.help.as_deref().unwrap_or("")
    )
}

#[test]
fn template_syntax_points_inside_the_string() {
    // `      x: "` puts the string's first character at column 11.
    check(&with_x("{{ run.id + }}"), &["8:23 template-syntax"]);
    assert_eq!(
        first(&with_x("id {{ run.id")),
        "8:14-16 template-syntax template syntax: `{{` is never closed by `}}` | close every `{{` with `}}`, every `{%` with `%}` and every `{#` with `#}`"
    );
    assert!(first(&with_x("{% iff run.id %}{% endif %}")).ends_with("| did you mean `if`?"));
    // A template that does not parse reports only that: no unknown step, no unknown name.
    check(&with_x("{{ steps.zz.output }} {{ foo }"), &["8:33 template-syntax"]);
    // Bare expressions: `if`, pipeline ops, `sort.by` lists.
    check(
        "flow: t\nsteps:\n  - id: a\n    uses: web.request\n    if: \"run.id ==\"\n",
        &["5:17 template-syntax"],
    );
    check(
        "flow: t\nsteps:\n  - id: a\n    transform:\n      pipeline: [ { sort: { by: [item.a, \"item.b item.c\"], order: asc } } ]\noutput: \"{{ steps.a.output }}\"\n",
        &["5:50 template-syntax"],
    );
}

#[test]
fn unknown_filters_tests_and_names() {
    assert_eq!(
        first(&with_x("{{ run.id | lenght }}")),
        "8:23-29 unknown-filter unknown filter `lenght` | did you mean `length`?"
    );
    check(&with_x("{{ run.id is strin }}"), &["8:24 unknown-test"]);
    check(&with_x("{{ nwo() }}"), &["8:14 unknown-function"]);
    assert_eq!(
        first(&with_x("{{ input.n }}")),
        "8:14-19 undefined-variable unknown name `input` | did you mean `inputs`?"
    );
    // Names a template binds itself are not context names; `steps['b']` is `steps.b`.
    check(
        &with_x("{% for r in steps['b'].output %}{{ r.x }}{% endfor %}{% set n = 1 %}{{ n }}"),
        &[],
    );
    check(&with_x("{{ secrets }}"), &["8:14 invalid-reference"]);
    check(&with_x("{{ env['HOME'] }} {{ env }}"), &["8:32 invalid-reference"]);
}

#[test]
fn jsonpath_and_aggregate_expressions() {
    let pipeline = |ops: &str| {
        format!(
            "flow: t\nsteps:\n  - id: a\n    transform:\n      pipeline:\n        {ops}\noutput: \"{{{{ steps.a.output }}}}\"\n"
        )
    };
    // `        - select: "` puts the path at column 20.
    assert_eq!(
        first(&pipeline("- select: \"$.d.results[\"")),
        "6:31-32 invalid-jsonpath invalid JSONPath: unexpected text | JSONPath (RFC 9535): `$.d.results[*]`, `$[*].Lines[*]`, `$..id`, `$[?@.qty > 0]`"
    );
    check(&pipeline("- select: \"d.results\""), &["6:20 invalid-jsonpath"]);
    // `[` of `'$.a['` in `{{ jsonpath(item, '$.a[') }}` at column 22 + 22.
    assert!(
        first_of(
            "invalid-jsonpath",
            &pipeline("- map: { x: \"{{ jsonpath(item, '$.a[') }}\" }")
        )
        .starts_with("6:44-45 ")
    );
    check(
        &pipeline("- aggregate: { t: \"sum(item.qty +)\" }"),
        &["6:41 template-syntax"],
    );
    check(
        &pipeline("- aggregate: { t: \"max(itme.qty)\" }"),
        &["6:32 undefined-variable"],
    );
    check(
        &pipeline("- aggregate: { t: \"mux(item.qty)\" }"),
        &["6:27 invalid-aggregate"],
    );
}

#[test]
fn for_each_only_keys_and_triggers() {
    let text = "flow: t\ntrigger:\n  schedule: { cron: \"61 * * * *\", timezone: Mars/Base }\nsteps:\n  - id: a\n    uses: web.request\n    concurrency: 2\n    item_key: \"{{ item.id }}\"\n";
    check(
        text,
        &[
            "3:21 invalid-cron",
            "3:45 invalid-timezone",
            "7:5 needs-for-each",
            "8:5 needs-for-each",
        ],
    );
    check(
        "flow: t\ntrigger:\n  webhook: { path: in, signature: { header: X-Sig, algorithm: hmac-sha256 } }\nsteps:\n  - id: a\n    uses: web.request\n",
        &["3:24 signature-without-secret"],
    );
    check(
        "flow: t\ntrigger:\n  crm.new_evnt: { module: Account }\nsteps:\n  - id: a\n    uses: web.request\n",
        &["3:3 unknown-trigger"],
    );
}

#[test]
fn inputs_state_and_unquoted_templates() {
    check(
        "flow: i\ninputs:\n  n: { type: integer, default: \"5\" }\nstate: { cursor_scope: flow }\nsteps:\n  - id: a\n    uses: web.request\n    with: { n: \"{{ inputs.n }}\" }\n",
        &["3:32 input-default-type", "4:24 reserved"],
    );
    check(
        "flow: u\nsteps:\n  - id: a\n    uses: web.request\n    with:\n      x: {{ run.id }}\n",
        &["6:10 unquoted-template"],
    );
}

#[test]
fn project_connections_and_profiles() {
    let catalog = catalog();
    let project_text = "connections:\n  main: { connector: crm, config: { domain: x } }\nprofiles:\n  prod:\n    connections:\n      extra: { connector: crm, config: { domain: p } }\n";
    let project_report = validate_project(Path::new("flowrun.yaml"), project_text.as_bytes(), &catalog);
    assert!(
        project_report.diagnostics.is_empty(),
        "{:#?}",
        project_report.diagnostics
    );
    let project = project_report.project.unwrap();
    let text = "flow: p\nsteps:\n  - id: a\n    uses: crm.search\n    connection: extra\n    with: { module: x }\n";
    check_with_project(text, Some(&project), &[]);
    let report = validate_flow(
        Path::new("p.yaml"),
        text.as_bytes(),
        Context {
            catalog: &catalog,
            project: Some((Path::new("flowrun.yaml"), &project)),
        },
    );
    let summary = report.summary.unwrap();
    let together = crate::validate_together(std::slice::from_ref(&summary), Some(&project));
    assert_eq!(
        together.iter().map(|d| d.code).collect::<Vec<_>>(),
        ["profile-missing-connection"]
    );
    let bad = validate_project(
        Path::new("flowrun.yaml"),
        b"state: mysql://x\nprofiles:\n  dev:\n    connections:\n      ghost: { config: { a: 1 } }\n",
        &catalog,
    );
    let codes: Vec<_> = bad.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["invalid-value", "missing-key"]);
}

#[test]
fn every_problem_of_a_file_at_once_sorted_by_position() {
    let text = "flow: A\nsteps:\n  - id: B\n    uses: web.request\n    timeout: 1x\n    on_error: resme\n  - id: B\n    uses: crm.nope\n";
    check(
        text,
        &[
            "1:7 invalid-id",
            "3:9 invalid-id",
            "5:14 invalid-duration",
            "6:15 invalid-value",
            "7:9 duplicate-step-id",
            "7:9 invalid-id",
            "8:11 unknown-module",
        ],
    );
}

const EXAMPLE: &str = "flow: p\nconnections:\n  main: { connector: crm, config: { domain: x } }\ninputs:\n  n: { type: integer, default: 5 }\ntrigger:\n  schedule: { cron: \"0 * * * *\", timezone: UTC }\nsteps:\n  - id: a\n    uses: crm.search\n    with: { module: Account, limit: \"{{ inputs.n }}\" }\n    retry: { attempts: 3, on: [429, 5xx] }\n  - id: b\n    for_each: \"{{ steps.a.output }}\"\n    uses: web.request\n    with: { x: \"{{ item }}\" }\n    on_error: { resume: 1 }\n  - id: c\n    transform:\n      input: \"{{ steps.b.output }}\"\n      pipeline: [ { filter: item.x }, flatten, { sort: { by: [item.a], order: desc } } ]\noutput: \"{{ steps.c.output }}\"\n";

#[test]
fn the_fuzz_seed_is_valid() {
    check(EXAMPLE, &[]);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// No input makes the validator panic: random edits of a valid flow reach every check.
    #[test]
    fn never_panics_on_edited_flows(edits in proptest::collection::vec((0usize..2000, proptest::prelude::any::<u8>()), 1..6)) {
        let mut bytes = EXAMPLE.as_bytes().to_vec();
        for (at, byte) in edits {
            let at = at % (bytes.len() + 1);
            match byte % 3 {
                0 => bytes.insert(at, b"{}[]:-'\"&*!|>#\n x0"[usize::from(byte) % 18]),
                1 if at < bytes.len() => { bytes.remove(at); }
                _ => bytes.insert(at, byte),
            }
        }
        let catalog = catalog();
        let _ = validate_flow(Path::new("f.yaml"), &bytes, Context { catalog: &catalog, project: None });
    }

    #[test]
    fn never_panics_on_any_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        let catalog = catalog();
        let _ = validate_flow(Path::new("f.yaml"), &bytes, Context { catalog: &catalog, project: None });
        let _ = validate_project(Path::new("flowrun.yaml"), &bytes, &catalog);
    }
}

#[test]
fn secrets_nothing_reads_are_warned_about_without_their_values() {
    let catalog = catalog();
    let text = "flow: s\nconnections:\n  main: { connector: crm, config: { domain: \"{{ secrets.DOMAIN }}\" } }\nsteps:\n  - id: a\n    uses: crm.search\n    with: { module: \"{{ secrets.MODULE }}\" }\n";
    let report = validate_flow(
        Path::new("s.yaml"),
        text.as_bytes(),
        Context {
            catalog: &catalog,
            project: None,
        },
    );
    let summary = report.summary.unwrap();
    let names = crate::dotenv::names("DOMAIN=crm.example.com\nMODULE=Account\nSPARE=canary-value-123\n");
    let found = crate::unused_secrets(
        Path::new(".env"),
        &names,
        &validate_project(Path::new("flowrun.yaml"), b"{}", &catalog),
        &[summary],
    );
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].code, found[0].span.start.line, found[0].source_hidden),
        ("unused-secret", 3, true)
    );
    assert!(!format!("{found:?}").contains("canary-value-123"));
}

#[test]
fn duplicate_flow_ids_across_files() {
    let catalog = catalog();
    let text = b"flow: same\nsteps:\n  - id: a\n    uses: web.request\n";
    let summaries: Vec<_> = ["a.yaml", "b.yaml"]
        .iter()
        .map(|name| {
            validate_flow(
                Path::new(name),
                text,
                Context {
                    catalog: &catalog,
                    project: None,
                },
            )
            .summary
            .unwrap()
        })
        .collect();
    let found = crate::validate_together(&summaries, None);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].file, Path::new("b.yaml"));
    assert_eq!(
        found[0].help.as_deref(),
        Some("flow ids are unique in a repository; a.yaml:1:7 already uses it: rename one")
    );
}

#[test]
fn rules_for_steps_without_a_connection() {
    let step =
        |url: &str| format!("flow: w\nsteps:\n  - id: a\n    uses: web.request\n    with: {{ url: \"{url}\" }}\n");
    check(&step("https://example.com/x"), &[]);
    check(&step("{{ env.BASE }}/x"), &[]);
    check(&step("/x"), &["5:18 invalid-value"]);
    let with_connection = "flow: w\nconnections:\n  api: { connector: web, config: {} }\nsteps:\n  - id: a\n    uses: web.request\n    with: { url: /x }\n";
    check(with_connection, &[]);
}
