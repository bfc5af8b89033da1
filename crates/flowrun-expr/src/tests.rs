//! Tests of compiling and evaluating templates.

use serde_json::{Value as Json, json};

use crate::analysis::{Reference, analyse_template};
use crate::{CompiledValue, Expression, Runtime, Scope, Secret, Template, from_json};

fn scope() -> Scope {
    let mut scope = Scope::new(Runtime::default());
    scope
        .set("inputs", from_json(&json!({ "since": "2024-01-01", "n": 3 })))
        .set(
            "steps",
            from_json(&json!({ "accounts": { "output": { "records": [{ "name": "A", "email1": "A@X.COM" }, { "name": "B" }] }, "status": "success" } })),
        )
        .set_secrets([("TOKEN".to_owned(), Secret::new("s3cr3t-canary"))].into_iter().collect());
    scope
}

#[track_caller]
fn eval(source: &str) -> Json {
    Template::compile(source).unwrap().eval_json(&scope()).unwrap()
}

#[track_caller]
fn eval_error(source: &str) -> String {
    Template::compile(source)
        .unwrap()
        .eval_json(&scope())
        .unwrap_err()
        .message
}

#[test]
fn a_lone_expression_keeps_its_type() {
    assert_eq!(eval("{{ inputs.n }}"), json!(3));
    assert_eq!(eval("{{ steps.accounts.output.records | length }}"), json!(2));
    assert_eq!(
        eval("{{ steps.accounts.output.records[0] }}"),
        json!({ "name": "A", "email1": "A@X.COM" })
    );
    assert_eq!(eval("{{ [1, 2] }}"), json!([1, 2]));
    assert_eq!(eval("{{ none }}"), Json::Null);
    assert_eq!(eval("{{- inputs.n -}}"), json!(3));
}

#[test]
fn anything_else_is_a_string() {
    assert_eq!(eval("n={{ inputs.n }}"), json!("n=3"));
    assert_eq!(eval("{{ inputs.n }}{{ inputs.n }}"), json!("33"));
    assert_eq!(eval(" {{ inputs.n }}"), json!(" 3"));
    assert_eq!(eval("plain text"), json!("plain text"));
    assert_eq!(eval("{% if inputs.n > 2 %}big{% else %}small{% endif %}"), json!("big"));
}

#[test]
fn undefined_data_is_an_error_when_returned_or_printed() {
    insta::assert_snapshot!(eval_error("{{ steps.accounts.output.records[1].email1 }}"), @"`steps.accounts.output.records[1].email1` is undefined: the data has no such value (use `steps.accounts.output.records[1].email1 | default(...)` for a fallback, or `steps.accounts.output.records[1].email1 is defined` to test)");
    insta::assert_snapshot!(eval_error("mail: {{ steps.accounts.output.records[1].email1 }}"), @"`steps.accounts.output.records[1].email1` is undefined (in `mail: {{ steps.accounts.output.records[1].email1 }}`)");
    assert_eq!(
        eval("{{ steps.accounts.output.records[1].email1 | default('none') }}"),
        json!("none")
    );
}

#[test]
fn undefined_is_false_in_a_test_but_a_lookup_on_it_fails() {
    let records = from_json(&json!([{ "name": "A", "email1": "a@x" }, { "name": "B" }]));
    let filter = Expression::compile("item.email1").unwrap();
    let kept: Vec<bool> = records
        .try_iter()
        .unwrap()
        .enumerate()
        .map(|(index, item)| filter.is_true(&scope().with_item(item, index)).unwrap())
        .collect();
    assert_eq!(kept, [true, false]);
    let deep = Expression::compile("{{ item.email1.domain }}").unwrap();
    let item = from_json(&json!({ "name": "B" }));
    insta::assert_snapshot!(deep.is_true(&scope().with_item(item, 0)).unwrap_err().message, @"cannot read `.email1.domain`: what comes before it is undefined (in `item.email1.domain`); test it first with `is defined`");
}

#[test]
fn rendered_values_mark_what_was_built_from_a_secret() {
    let with = json!({ "headers": { "Authorization": "Bearer {{ secrets.TOKEN }}" }, "n": "{{ inputs.n }}" });
    let rendered = CompiledValue::compile(&with).unwrap().render(&scope()).unwrap();
    assert_eq!(
        rendered.value["headers"]["Authorization"],
        json!("Bearer s3cr3t-canary")
    );
    assert_eq!(
        rendered.redacted(),
        json!({ "headers": { "Authorization": "***" }, "n": 3 })
    );
}

#[test]
fn the_context_and_the_secrets_cannot_be_dumped() {
    insta::assert_snapshot!(eval_error("{{ secrets }}"), @"the value at `$` (plain object) has no JSON form (in `{{ secrets }}`)");
    assert_eq!(eval("x{{ secrets }}"), json!("x***"));
    assert!(Template::compile("{{ debug() }}").is_err());
}

#[test]
fn analysis_finds_references_with_their_ranges() {
    let source =
        "{{ steps.accounts.output.records | length }} {% for r in inputs.rows %}{{ r.x }}{{ secrets.K }}{% endfor %}";
    let analysis = analyse_template(source).unwrap();
    let found: Vec<(Reference, &str)> = analysis
        .references
        .iter()
        .map(|found| (found.value.clone(), &source[found.range.clone()]))
        .collect();
    assert_eq!(
        found,
        vec![
            (
                Reference::Step {
                    id: "accounts".into(),
                    field: Some("output".into())
                },
                "steps.accounts.output"
            ),
            (Reference::Input("rows".into()), "inputs.rows"),
            (Reference::Secret("K".into()), "secrets.K"),
        ]
    );
}

#[test]
fn unknown_filters_are_compile_errors_with_a_suggestion() {
    let error = Template::compile("{{ name | lowr }}").unwrap_err();
    assert_eq!(error.message, "unknown filter `lowr`");
    assert_eq!(error.help.as_deref(), Some("did you mean `lower`?"));
}
