//! Flow test files (`*.test.yaml`): the structure against the test schema and the rules within
//! the file ([`validate_test`]), then the rules that need the flow under test
//! ([`check_test_against_flow`]): the steps it has, which of them a mock can replace, the
//! inputs it declares.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use jsonschema::Validator;
use serde_json::Value;

use crate::diagnostic::{Diagnostic, sort_and_dedupe};
use crate::model::{Flow, InputType, Mock, Step, TestCase, TestFile};
use crate::references::{Reference, expression_references, template_references};
use crate::schema::test_schema;
use crate::suggest::help_for_unknown;
use crate::yaml::{Key, Node, NodeValue, Span};

use super::meaning::{key_span, value_span};
use super::{compile, finish, parse_document};

/// The result of validating one flow test file.
#[derive(Debug, Clone)]
pub struct TestReport {
    /// The test file, when its structure is valid or could be repaired by leaving out what the
    /// schema rejected (diagnostics may remain: check `has_errors`).
    pub test: Option<TestFile>,
    /// The positioned tree, when the YAML parsed; [`check_test_against_flow`] points into it.
    pub tree: Option<Node>,
    pub diagnostics: Vec<Diagnostic>,
}

impl TestReport {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Validates one test file's bytes: YAML, structure, and the rules that need no flow (unique
/// case names, what a mock gives, `now`).
pub fn validate_test(path: &Path, bytes: &[u8]) -> TestReport {
    let mut report = TestReport {
        test: None,
        tree: None,
        diagnostics: Vec::new(),
    };
    let parsed = parse_document::<TestFile>(
        bytes,
        compiled_test_schema(),
        "a flow test file",
        &mut report.diagnostics,
    );
    if let Some((tree, test)) = parsed {
        reword_limits(&tree, &mut report.diagnostics);
        if let Some(test) = &test {
            check_file(test, &tree, &mut report.diagnostics);
        }
        report.test = test;
        report.tree = Some(tree);
    }
    finish(path, &mut report.diagnostics);
    report
}

/// The rules between a test file (its model and tree, from [`validate_test`]) and the flow it
/// tests: mocked and expected steps exist (mocks only on module steps), expected calls are of
/// mocked steps, inputs are declared and of their type, required inputs are given, a trigger
/// event has a trigger to go with. The diagnostics point into the test file but carry no
/// path (this function has none): the caller sets `file`.
pub fn check_test_against_flow(test: &TestFile, tree: &Node, flow: &Flow) -> Vec<Diagnostic> {
    let steps: Vec<&Step> = flow.steps.iter().chain(&flow.on_failure).collect();
    let mut out = Vec::new();
    for site in case_sites(test, tree) {
        check_mocked_steps(&site, flow, &steps, &mut out);
        check_expected_steps(&site, flow, &steps, &mut out);
        check_inputs(&site, flow, &mut out);
        check_trigger(&site, flow, &mut out);
    }
    sort_and_dedupe(&mut out);
    out
}

/// One case with its node.
struct CaseSite<'a> {
    case: &'a TestCase,
    node: &'a Node,
}

/// Pairs each case of the model with its node. A case the schema rejected whole (no `name`,
/// not a mapping) is left out of the model, and such a case has no usable name, so the model's
/// cases are the nodes with their names, in order.
fn case_sites<'a>(test: &'a TestFile, tree: &'a Node) -> Vec<CaseSite<'a>> {
    let mut nodes = tree.get("cases").and_then(Node::as_seq).unwrap_or_default().iter();
    test.cases
        .iter()
        .filter_map(|case| {
            let node = nodes.find(|node| node.get("name").and_then(Node::as_str) == Some(case.name.as_str()))?;
            Some(CaseSite { case, node })
        })
        .collect()
}

fn check_file(test: &TestFile, tree: &Node, out: &mut Vec<Diagnostic>) {
    let sites = case_sites(test, tree);
    check_case_names(&sites, out);
    for site in &sites {
        if let Some(now) = &site.case.now {
            check_now(now, site.node, out);
        }
        let Some(mock_node) = site.node.get("mock") else {
            continue;
        };
        for (step, mock) in &site.case.mock {
            if let Some((key, node)) = mock_node.entry(step) {
                check_mock(step, mock, key, node, out);
            }
        }
    }
}

/// `flowrun test --filter` and the report name cases: two with one name cannot be told apart.
fn check_case_names(sites: &[CaseSite<'_>], out: &mut Vec<Diagnostic>) {
    let mut first_seen: HashMap<&str, Span> = HashMap::new();
    for site in sites {
        let name = site.case.name.as_str();
        let span = value_span(site.node, "name");
        match first_seen.get(name) {
            Some(first) => out.push(
                Diagnostic::error("duplicate-case-name", span, format!("duplicate case name `{name}`"))
                    .with_label("used again here")
                    .with_help(format!(
                        "case names are unique in a test file (first used on line {}); rename one",
                        first.start.line
                    ))
                    .with_related("first used here", *first),
            ),
            None => {
                first_seen.insert(name, span);
            }
        }
    }
}

fn check_now(now: &str, case: &Node, out: &mut Vec<Diagnostic>) {
    if let Err(error) = now.parse::<jiff::Timestamp>() {
        out.push(
            Diagnostic::error(
                "invalid-value",
                value_span(case, "now"),
                format!("`now` is not an RFC 3339 instant: {error}"),
            )
            .with_label("not an instant")
            .with_help(
                "write a date, a time and an offset, e.g. `2025-01-01T09:30:00Z` or `2025-01-01T10:30:00+01:00`",
            ),
        );
    }
}

/// A mock gives one kind of result; `errors` only picks calls of `output` or `outputs`.
fn check_mock(step: &str, mock: &Mock, key: &Key, node: &Node, out: &mut Vec<Diagnostic>) {
    // The file as well as the model: a value the schema rejected is not in the model, but it
    // was written, and its own diagnostic says what is wrong with it.
    let written = |name: &str| {
        node.get(name)
            .is_some_and(|value| name == "output" || !matches!(value.value, NodeValue::Null))
    };
    let given: Vec<&str> = [
        ("output", mock.output.is_some()),
        ("outputs", mock.outputs.is_some()),
        ("error", mock.error.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, in_model)| (in_model || written(name)).then_some(name))
    .collect();
    let has_errors = !mock.errors.is_empty() || written("errors");
    match given.as_slice() {
        [] => out.push(
            Diagnostic::error(
                "missing-key",
                key.span,
                format!("the mock of step `{step}` gives no output and no error"),
            )
            .with_label("nothing to return")
            .with_help(if !has_errors {
                "add `output: <value>` (every call), `outputs: [ … ]` (one per call) or `error: { message: … }` (every call fails)"
            } else {
                "`errors` picks calls of `output` or `outputs` that fail instead: add one of them, or use `error:` to make every call fail"
            }),
        ),
        [_] => {}
        [first, others @ ..] => {
            for other in others {
                out.push(
                    Diagnostic::error(
                        "conflicting-keys",
                        key_span(node, other),
                        format!("the mock of step `{step}` gives both `{first}` and `{other}`"),
                    )
                    .with_label("second result")
                    .with_help("give one: `output` (every call), `outputs` (one per call) or `error` (every call fails); `errors` makes single calls fail"),
                );
            }
        }
    }
    if given == ["error"] && has_errors {
        out.push(
            Diagnostic::error(
                "conflicting-keys",
                key_span(node, "errors"),
                format!("the mock of step `{step}` has `errors` and `error`: every call already fails"),
            )
            .with_label("`error` already fails every call")
            .with_help("remove `errors`, or replace `error` with `output` or `outputs` and keep the calls that fail in `errors`"),
        );
    }
    check_error_indexes(step, mock, node, out);
}

fn check_error_indexes(step: &str, mock: &Mock, node: &Node, out: &mut Vec<Diagnostic>) {
    let Some(errors_node) = node.get("errors") else { return };
    for index in mock.errors.keys() {
        let span = key_span(errors_node, index);
        match call_index(index) {
            None => out.push(
                Diagnostic::error(
                    "invalid-value",
                    span,
                    format!("`{index}` in `errors` of the mock of step `{step}` is not a call number"),
                )
                .with_label("not a call number")
                .with_help(
                    "key each failing call by its item index (or call number), from 0: `errors: { 0: { message: … } }`",
                ),
            ),
            Some(number) => {
                let Some(outputs) = mock.outputs.as_ref().filter(|outputs| number >= outputs.len()) else {
                    continue;
                };
                let has = match outputs.len() {
                    0 => "`outputs` is empty".to_owned(),
                    1 => "`outputs` gives call 0 only".to_owned(),
                    n => format!("`outputs` gives calls 0 to {}", n - 1),
                };
                out.push(
                    Diagnostic::error(
                        "invalid-value",
                        span,
                        format!("call {number} in `errors` of the mock of step `{step}` is beyond `outputs`: {has}"),
                    )
                    .with_label("no such call in `outputs`")
                    .with_help(format!(
                        "`errors` makes calls of `outputs` fail instead: number them from 0, or give call {number} an entry in `outputs` (any value: it fails)"
                    )),
                );
            }
        }
    }
}

/// An `errors` key: a call number in digits, without a sign or leading zeros.
fn call_index(key: &str) -> Option<usize> {
    let digits = !key.is_empty() && key.bytes().all(|byte| byte.is_ascii_digit());
    let canonical = digits && (key == "0" || !key.starts_with('0'));
    canonical.then(|| key.parse().ok()).flatten()
}

fn unknown_step(id: &str, span: Span, flow: &Flow, steps: &[&Step]) -> Diagnostic {
    Diagnostic::error("unknown-step", span, format!("flow `{}` has no step `{id}`", flow.flow))
        .with_label("no step with this id")
        .with_help_opt(help_for_unknown(
            id,
            steps.iter().map(|step| step.id.as_str()),
            "its steps",
        ))
}

fn is_transform(step: &Step) -> bool {
    step.uses.is_none() && step.transform.is_some()
}

fn check_mocked_steps(site: &CaseSite<'_>, flow: &Flow, steps: &[&Step], out: &mut Vec<Diagnostic>) {
    let Some(mock_node) = site.node.get("mock") else { return };
    for id in site.case.mock.keys() {
        let span = key_span(mock_node, id);
        match steps.iter().find(|step| step.id == *id) {
            None => out.push(unknown_step(id, span, flow, steps)),
            Some(step) if is_transform(step) => {
                let read = steps_read_by(step, steps);
                let help = if read.is_empty() {
                    "a transform runs as written; mock the steps it reads, or remove this mock".to_owned()
                } else {
                    format!(
                        "a transform runs as written; mock the steps it reads: {}",
                        quoted(&read)
                    )
                };
                out.push(
                    Diagnostic::error(
                        "unmockable-step",
                        span,
                        format!("step `{id}` is a transform: it cannot be mocked"),
                    )
                    .with_label("a transform step")
                    .with_help(help),
                );
            }
            Some(_) => {}
        }
    }
}

fn check_expected_steps(site: &CaseSite<'_>, flow: &Flow, steps: &[&Step], out: &mut Vec<Diagnostic>) {
    let (Some(expect), Some(expect_node)) = (&site.case.expect, site.node.get("expect")) else {
        return;
    };
    if let Some(steps_node) = expect_node.get("steps") {
        for id in expect.steps.keys() {
            if !steps.iter().any(|step| step.id == *id) {
                out.push(unknown_step(id, key_span(steps_node, id), flow, steps));
            }
        }
    }
    let Some(calls_node) = expect_node.get("calls") else {
        return;
    };
    // The file, not the model: a mock with a mistake in it still mocks its step.
    let mocked =
        |id: &str| site.case.mock.contains_key(id) || site.node.get("mock").is_some_and(|mock| mock.get(id).is_some());
    for id in expect.calls.keys() {
        let span = key_span(calls_node, id);
        match steps.iter().find(|step| step.id == *id) {
            None => out.push(unknown_step(id, span, flow, steps)),
            Some(step) if is_transform(step) => out.push(
                Diagnostic::error(
                    "unmocked-calls",
                    span,
                    format!("step `{id}` is a transform: it calls no module, so it has no calls"),
                )
                .with_label("a transform step")
                .with_help("calls are recorded for mocked module steps only; check a transform's result through `expect.output` or the calls of a step that reads it"),
            ),
            Some(_) if !mocked(id) => {
                let add = if site.node.get("mock").is_some() {
                    format!("add `{id}: {{ output: … }}` under the case's `mock`")
                } else {
                    format!("add `mock: {{ {id}: {{ output: … }} }}` to the case")
                };
                out.push(
                    Diagnostic::error(
                        "unmocked-calls",
                        span,
                        format!(
                            "calls of step `{id}` are expected, but case `{}` does not mock it",
                            site.case.name
                        ),
                    )
                    .with_label("not mocked")
                    .with_help(format!("calls are recorded for mocked steps only: {add}")),
                );
            }
            Some(_) => {}
        }
    }
}

fn check_inputs(site: &CaseSite<'_>, flow: &Flow, out: &mut Vec<Diagnostic>) {
    let inputs_node = site.node.get("inputs");
    if let Some(inputs_node) = inputs_node {
        for (name, value) in &site.case.inputs {
            let Some((key, node)) = inputs_node.entry(name) else {
                continue;
            };
            match flow.inputs.get(name) {
                None => out.push(
                    Diagnostic::error(
                        "unknown-input",
                        key.span,
                        format!("flow `{}` declares no input `{name}`", flow.flow),
                    )
                    .with_label("not declared")
                    .with_help_opt(
                        help_for_unknown(name, flow.inputs.keys().map(String::as_str), "declared inputs").or_else(
                            || {
                                Some(
                                    "the flow declares no inputs: remove `inputs`, or declare them in the flow"
                                        .to_owned(),
                                )
                            },
                        ),
                    ),
                ),
                Some(spec) if !spec.kind.accepts(value) => {
                    let expected = type_phrase(spec.kind);
                    // An empty value is reported at its key, as the structure check does.
                    let span = if matches!(node.value, NodeValue::Null) {
                        key.span
                    } else {
                        node.span
                    };
                    out.push(
                        Diagnostic::error(
                            "wrong-type",
                            span,
                            format!("input `{name}` must be {expected}, found {}", node.type_name()),
                        )
                        .with_label(format!("expected {expected}"))
                        .with_help(input_help(spec.kind)),
                    );
                }
                Some(_) => {}
            }
        }
    }
    // A replay without inputs runs with the recorded ones, as `flowrun run --replay` does.
    if site.case.replay.is_some() && site.case.inputs.is_empty() && inputs_node.is_none() {
        return;
    }
    let given =
        |name: &str| site.case.inputs.contains_key(name) || inputs_node.is_some_and(|node| node.get(name).is_some());
    for (name, spec) in &flow.inputs {
        if !spec.required || spec.default.is_some() || given(name) {
            continue;
        }
        let (span, help) = match site.node.entry("inputs") {
            Some((key, _)) => (key.span, format!("add `{name}: …` under `inputs`")),
            None => (
                first_key_span(site.node),
                format!("add `inputs: {{ {name}: … }}` to the case"),
            ),
        };
        out.push(
            Diagnostic::error(
                "missing-key",
                span,
                format!(
                    "case `{}` does not give input `{name}`, which the flow requires",
                    site.case.name
                ),
            )
            .with_label(format!("`{name}` is required here"))
            .with_help(format!("{help}: the flow declares it `required` without a `default`")),
        );
    }
}

/// The schema's own words for an empty `cases`, an empty string or a status out of range
/// ("`cases`: [] has less than 1 item") replaced by what is wrong and what to write instead.
fn reword_limits(tree: &Node, diagnostics: &mut [Diagnostic]) {
    type Place<'a> = (Span, String, &'a str, &'a str);
    let mut places: Vec<Place<'_>> = Vec::new();
    if let Some(flow) = tree.get("flow") {
        places.push((
            flow.span,
            "`flow` is empty: name the flow under test".to_owned(),
            "no file",
            "write the flow file's path, relative to this file: `flow: orders-sync.yaml`",
        ));
    }
    let cases = tree.get("cases");
    if let Some(cases) = cases {
        places.push((
            cases.span,
            "`cases` is empty: a test file needs at least one case".to_owned(),
            "no cases",
            "add a case: `- name: <what it checks>`, with its `inputs`, `mock` and `expect`",
        ));
    }
    for case in cases.and_then(Node::as_seq).unwrap_or_default() {
        if let Some(name) = case.get("name") {
            places.push((
                name.span,
                "the case's `name` is empty".to_owned(),
                "no name",
                "name the case after what it checks, e.g. `name: skips accounts without e-mail`",
            ));
        }
        for (key, mock) in case.get("mock").and_then(Node::as_map).unwrap_or_default() {
            let every_call = mock.get("error").into_iter();
            let some_calls = mock
                .get("errors")
                .and_then(Node::as_map)
                .unwrap_or_default()
                .iter()
                .map(|(_, error)| error);
            for error in every_call.chain(some_calls) {
                if let Some(message) = error.get("message") {
                    places.push((
                        message.span,
                        format!("an error's `message` in the mock of step `{}` is empty", key.name),
                        "no message",
                        "say how the call fails, e.g. `message: service unavailable`",
                    ));
                }
                if let Some(status) = error.get("status") {
                    places.push((
                        status.span,
                        format!("`status` in the mock of step `{}` is not an HTTP status", key.name),
                        "from 100 to 599",
                        "write an HTTP status from 100 to 599, e.g. `503`",
                    ));
                }
            }
        }
    }
    for diagnostic in diagnostics
        .iter_mut()
        .filter(|diagnostic| diagnostic.code == "invalid-value" && diagnostic.help.is_none())
    {
        if let Some((_, message, label, help)) = places.iter().find(|(span, ..)| *span == diagnostic.span) {
            diagnostic.message.clone_from(message);
            diagnostic.label = Some((*label).to_owned());
            diagnostic.help = Some((*help).to_owned());
        }
    }
}

/// A case is reported at its first key (usually `- name:`), as a missing key is.
fn first_key_span(node: &Node) -> Span {
    match node.as_map().and_then(|entries| entries.first()) {
        Some((key, _)) => key.span,
        None => Span::point(node.span.start),
    }
}

fn check_trigger(site: &CaseSite<'_>, flow: &Flow, out: &mut Vec<Diagnostic>) {
    if site.case.trigger.is_none() || flow.trigger.is_some() {
        return;
    }
    out.push(
        Diagnostic::warning(
            "unused-trigger",
            key_span(site.node, "trigger"),
            format!(
                "case `{}` gives a `trigger` event, but flow `{}` has no trigger",
                site.case.name, flow.flow
            ),
        )
        .with_label("a trigger event for a manual flow")
        .with_help("remove `trigger`, or give the flow its `trigger:` (a schedule, a webhook or a connector event)"),
    );
}

fn type_phrase(kind: InputType) -> &'static str {
    match kind {
        InputType::String => "a string",
        InputType::Integer => "an integer",
        InputType::Number => "a number",
        InputType::Boolean => "a boolean",
        InputType::Object => "a mapping",
        InputType::Array => "a list",
    }
}

fn input_help(kind: InputType) -> &'static str {
    match kind {
        InputType::String => {
            "quote the value, e.g. `\"2024\"`: YAML reads numbers, `true` and `null` unquoted as other types"
        }
        InputType::Integer => "write a whole number without quotes, e.g. `4`",
        InputType::Number => "write a number without quotes, e.g. `2.5`",
        InputType::Boolean => "write `true` or `false` without quotes",
        InputType::Object => "write `key: value` pairs, indented under the input's name",
        InputType::Array => "write a list: `[a, b]` or one `- item` per line",
    }
}

/// The other steps a transform step reads (in `input`, `merge.with`, `if`, its operations),
/// for the help of a mock that cannot replace it.
fn steps_read_by(step: &Step, steps: &[&Step]) -> Vec<String> {
    let mut read: Vec<String> = Vec::new();
    let json = serde_json::to_value(step).unwrap_or(Value::Null);
    each_string(&json, &mut |text| {
        let references = if text.contains("{{") || text.contains("{%") {
            template_references(text)
        } else {
            expression_references(text)
        };
        for reference in references {
            if let Reference::Step { id, .. } = reference
                && id != step.id
                && steps.iter().any(|other| other.id == id)
                && !read.contains(&id)
            {
                read.push(id);
            }
        }
    });
    read
}

/// Every string of a value. The value comes from a YAML tree, so it is at most 64 levels deep.
fn each_string(value: &Value, visit: &mut dyn FnMut(&str)) {
    match value {
        Value::String(text) => visit(text),
        Value::Array(items) => items.iter().for_each(|item| each_string(item, visit)),
        Value::Object(entries) => entries.values().for_each(|item| each_string(item, visit)),
        _ => {}
    }
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn compiled_test_schema() -> &'static (Value, Validator) {
    static SCHEMA: OnceLock<(Value, Validator)> = OnceLock::new();
    SCHEMA.get_or_init(|| compile(test_schema()))
}
