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
    insta::assert_snapshot!(deep.is_true(&scope().with_item(item, 0)).unwrap_err().message, @"cannot read `item.email1.domain`: `item.email1` is undefined (in `item.email1.domain`); test it first with `item.email1 is defined`");
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
fn a_secret_is_found_under_keys_with_slashes_and_tildes_and_in_lists() {
    let with = json!({ "a/b~c": ["plain", "{{ secrets.TOKEN }}"], "list": [{ "k": "{{ secrets.TOKEN }}" }] });
    let rendered = CompiledValue::compile(&with).unwrap().render(&scope()).unwrap();
    assert_eq!(rendered.secret_paths, ["/a~1b~0c/1", "/list/0/k"]);
    assert_eq!(
        rendered.redacted(),
        json!({ "a/b~c": ["plain", "***"], "list": [{ "k": "***" }] })
    );
}

#[test]
fn rendered_values_write_themselves_redacted_and_stay_whole() {
    let with = json!({ "a/b~c": ["{{ secrets.TOKEN }}-x", "plain"], "n": "{{ inputs.n }}", "note": "s3cr3t-canary" });
    let mut rendered = CompiledValue::compile(&with).unwrap().render(&scope()).unwrap();
    let before = rendered.value.clone();
    let redactor = crate::Redactor::new(&[Secret::new("s3cr3t-canary")]);
    let mut written = Vec::new();
    rendered.write_redacted(&redactor, &mut written).unwrap();
    assert_eq!(
        String::from_utf8(written).unwrap(),
        serde_json::to_string(&redactor.redact_json(&rendered.redacted())).unwrap()
    );
    assert_eq!(
        rendered.value, before,
        "the value goes to the module as it was rendered"
    );
    // The whole value from a secret.
    let mut whole = CompiledValue::compile(&json!("{{ secrets.TOKEN }}"))
        .unwrap()
        .render(&scope())
        .unwrap();
    let mut written = Vec::new();
    whole.write_redacted(&redactor, &mut written).unwrap();
    assert_eq!(written, b"\"***\"");
    assert_eq!(whole.value, json!("s3cr3t-canary"));
}

#[test]
fn maps_built_by_templates_convert_and_write_in_order_with_any_key() {
    let value = Template::compile("{{ {'z': 1, 2: 'two', 'a': {'b': [true, none]}} }}")
        .unwrap()
        .eval(&scope())
        .unwrap();
    let expected = json!({ "z": 1, "2": "two", "a": { "b": [true, null] } });
    assert_eq!(crate::to_json(&value).unwrap(), expected);
    let mut written = Vec::new();
    crate::write_json_redacted(&value, &crate::Redactor::new(&[]), &mut written).unwrap();
    assert_eq!(
        String::from_utf8(written).unwrap(),
        r#"{"z":1,"2":"two","a":{"b":[true,null]}}"#
    );
    // An undefined value inside is named by its path.
    let broken = Template::compile("{{ {'a': {'b': nothing}} }}")
        .unwrap()
        .eval(&scope())
        .unwrap();
    assert_eq!(
        crate::to_json(&broken).unwrap_err().message,
        "the value at `$.a.b` is undefined"
    );
}

#[test]
fn a_value_with_no_json_form_is_not_written_and_the_error_names_where() {
    let redactor = crate::Redactor::new(&[]);
    for source in ["{{ [1, {'a': [0, undefined_name]}] }}", "{{ {'f': range} }}"] {
        let value = Template::compile(source).unwrap().eval(&scope()).unwrap();
        let converted = crate::to_json(&value).unwrap_err().message;
        let written = crate::write_json_redacted(&value, &redactor, std::io::sink()).unwrap_err();
        assert_eq!(written.to_string(), converted, "{source}");
    }
}

/// A body kept as text is written as it came when no secret is in it, and redacted like any
/// value when one is, in any escaped form.
#[test]
fn raw_json_is_written_as_it_came_unless_a_secret_is_in_it() {
    let redactor = crate::Redactor::new(&[Secret::new("hunter2hunter2")]);
    let write = |text: &str| {
        let value = crate::from_raw_json(serde_json::from_str(text).unwrap());
        let mut written = Vec::new();
        crate::write_json_redacted(&value, &redactor, &mut written).unwrap();
        String::from_utf8(written).unwrap()
    };
    assert_eq!(write(r#"{ "a": 1,  "b": ["x"] }"#), r#"{ "a": 1,  "b": ["x"] }"#);
    assert_eq!(
        write(r#"{"token": "hunter2hunter2", "n": 1}"#),
        r#"{"token":"***","n":1}"#
    );
    assert_eq!(write(r#"{"token": "hunter\u0032hunter2"}"#), r#"{"token":"***"}"#);
    assert_eq!(write(r#"{"hunter2hunter2": true}"#), r#"{"***":true}"#);
    assert_eq!(write(r#"[1, "hunter2hunter2x"]"#), r#"[1,"***x"]"#);
    // A scalar is built at once, and written as any value is.
    assert_eq!(write(" 12 "), "12");
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

const CANARY: &str = "s3cr3t-canary";

/// Every form of the canary an output could carry.
fn canary_forms() -> Vec<String> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    vec![
        CANARY.to_owned(),
        STANDARD.encode(CANARY),
        URL_SAFE_NO_PAD.encode(CANARY),
        percent_encoding::utf8_percent_encode(CANARY, percent_encoding::NON_ALPHANUMERIC).to_string(),
    ]
}

#[test]
fn errors_about_a_secret_never_show_its_value() {
    let misuses = [
        "{{ secrets.TOKEN | int }}",
        "{{ secrets.TOKEN + 1 }}",
        "{{ secrets.TOKEN.nope.deeper }}",
        "{{ secrets.TOKEN[5:2] | float }}",
        "{{ secrets.TOKEN is divisibleby(3) }}",
        "{{ (secrets.TOKEN ~ 'x') | abs }}",
        "{{ range(secrets.TOKEN) }}",
        "x {{ secrets.TOKEN | join(1, 2, 3) }}",
        "{{ secrets.TOKEN * 100000000 }}",
        "{% for c in secrets.TOKEN %}{{ c.x.y }}{% endfor %}",
    ];
    for source in misuses {
        let Ok(template) = Template::compile(source) else {
            continue;
        };
        if let Err(error) = template.eval_json(&scope()) {
            for form in canary_forms() {
                assert!(!error.message.contains(&form), "{source} leaked: {}", error.message);
            }
        }
    }
}

#[test]
fn the_redactor_removes_every_form_of_every_secret() {
    let secrets = [Secret::new(CANARY), Secret::new("another secret/with+signs")];
    let redactor = crate::Redactor::new(&secrets);
    for form in canary_forms() {
        let text = format!("prefix {form} suffix");
        assert_eq!(redactor.redact(&text), "prefix *** suffix", "{form}");
    }
    let json = json!({ "auth": format!("Bearer {CANARY}"), CANARY: [ "another%20secret%2Fwith%2Bsigns" ], "n": 1 });
    assert_eq!(
        redactor.redact_json(&json),
        json!({ "auth": "Bearer ***", "***": [ "***" ], "n": 1 })
    );
    let mut in_place = json!({ "a": 1, "b": [{ "c": format!("x {CANARY}") }], CANARY: { "k": "plain" }, "z": true });
    redactor.redact_json_in_place(&mut in_place);
    assert_eq!(
        in_place,
        json!({ "a": 1, "b": [{ "c": "x ***" }], "***": { "k": "plain" }, "z": true })
    );
    assert_eq!(
        in_place.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["a", "b", "***", "z"],
        "keys keep their order"
    );
    let short = crate::Redactor::new(&[Secret::new("ab")]);
    assert!(
        short.is_empty(),
        "a two-character secret would redact every `ab` in every log"
    );
}

#[test]
fn secrets_print_as_stars_everywhere() {
    let secret = Secret::new(CANARY);
    assert_eq!(format!("{secret} {secret:?}"), "*** ***");
    assert_eq!(serde_json::to_string(&secret).unwrap(), "\"***\"");
    assert!(!format!("{:?}", scope()).contains(CANARY));
}

/// Any JSON value of a few levels, its strings and keys drawn from `text`.
fn json_with(text: &'static str) -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        text.prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::vec((text, inner), 0..4)
                .prop_map(|entries| serde_json::Value::Object(entries.into_iter().collect())),
        ]
    })
}

proptest::proptest! {
    #[test]
    fn redacted_text_never_holds_a_secret(
        secret in "[ -~]{4,24}",
        before in "\\PC{0,40}",
        after in "\\PC{0,40}",
    ) {
        let redactor = crate::Redactor::new(&[Secret::new(secret.as_str())]);
        let text = format!("{before}{secret}{after}");
        let redacted = redactor.redact(&text);
        proptest::prop_assert!(!redacted.contains(secret.as_str()));
    }

    #[test]
    fn values_written_redacted_are_the_redacted_json_written_out(
        secret in "[ -~]{4,12}",
        json in json_with("[ -~]{4,12}"),
    ) {
        let redactor = crate::Redactor::new(&[Secret::new(secret.as_str())]);
        // The secret in keys and values too, not only where chance puts it.
        let json = json!({ "s": format!("x{secret}y"), secret.clone(): [json.clone()], "j": json });
        let expected = serde_json::to_string(&redactor.redact_json(&json)).unwrap();
        // A value built by templates, a module's output read where it lies, and a list of
        // both (as a transform's output is).
        // A response body kept as text: holding the secret, and (the generated part alone)
        // most often not, so written as it came.
        let built = from_json(&json);
        let shared = crate::from_shared_json(json.clone());
        let mixed = crate::Value::from(vec![built.clone(), shared.clone()]);
        // Converted back, each is the JSON it came from.
        proptest::prop_assert_eq!(crate::to_json(&built).unwrap(), json.clone());
        proptest::prop_assert_eq!(crate::to_json(&mixed).unwrap(), json!([json.clone(), json.clone()]));
        let raw = |json: &serde_json::Value| crate::from_raw_json(serde_json::value::to_raw_value(json).unwrap());
        let (with_secret, plain) = (raw(&json), raw(&json["j"]));
        let plain_expected = serde_json::to_string(&redactor.redact_json(&json["j"])).unwrap();
        for (value, expected) in [
            (&built, expected.clone()),
            (&shared, expected.clone()),
            (&mixed, format!("[{expected},{expected}]")),
            (&with_secret, expected.clone()),
            (&plain, plain_expected),
        ] {
            let mut written = Vec::new();
            crate::write_json_redacted(value, &redactor, &mut written).unwrap();
            proptest::prop_assert_eq!(String::from_utf8(written).unwrap(), expected.as_str());
            // Searched once (when the secret has no character JSON escapes), after what the
            // writer held before.
            let mut searched = b"[1,".to_vec();
            crate::write_json_redacted_searched(value, &redactor, &mut searched).unwrap();
            proptest::prop_assert_eq!(String::from_utf8(searched).unwrap(), format!("[1,{expected}"));
        }
    }

    #[test]
    fn rendered_values_written_redacted_are_their_redacted_copies_written_out(
        json in json_with("[a-d/~\"]{1,5}"),
        marked in proptest::collection::vec(proptest::collection::vec("[a-d/~\"]{1,5}|[0-3]", 0..3), 0..4),
        secret in "[a-d/~\"]{4}",
        with_secret in proptest::bool::ANY,
    ) {
        // The secret sometimes where it must be found, sometimes only where chance puts it;
        // with a quote in it, it cannot be searched for in JSON text.
        let json = if with_secret { json!({ "s": format!("x{secret}"), "j": json }) } else { json };
        // Secret paths anywhere: nested in each other, missing, repeated.
        let secret_paths = marked
            .iter()
            .map(|path| path.iter().map(|part| format!("/{}", part.replace('~', "~0").replace('/', "~1"))).collect())
            .collect();
        let mut rendered = crate::Rendered { value: json.clone(), secret_paths };
        let redactor = crate::Redactor::new(&[Secret::new(secret.as_str())]);
        let expected = serde_json::to_string(&redactor.redact_json(&rendered.redacted())).unwrap();
        let mut written = Vec::new();
        rendered.write_redacted(&redactor, &mut written).unwrap();
        proptest::prop_assert_eq!(String::from_utf8(written).unwrap(), expected);
        proptest::prop_assert_eq!(rendered.value, json);
    }

    #[test]
    fn compiling_and_analysing_any_text_never_panics(text in "\\PC{0,80}") {
        let _ = Template::compile(&text);
        let _ = Expression::compile(&text);
    }
}

#[test]
fn hostile_templates_stop_cleanly() {
    let loops = "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";
    let error = Template::compile(loops).unwrap().eval_json(&scope()).unwrap_err();
    assert!(error.message.contains("ran out of fuel"), "{}", error.message);
    let big = Template::compile("{{ 'x' * 1000000000 }}").unwrap().eval_json(&scope());
    assert!(big.is_err(), "a gigabyte string must not be built");
    let nested = format!("{{{{ {}1{} }}}}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(
        Template::compile(&nested).is_err(),
        "10,000 nested parentheses are refused, not a stack overflow"
    );
    let nested_lists = format!("{{{{ {}1{} }}}}", "[".repeat(5_000), "]".repeat(5_000));
    assert!(Template::compile(&nested_lists).is_err());
}

#[test]
fn plain_paths_give_what_the_template_vm_gives() {
    let item = from_json(&json!({ "a": { "b": [10, 20, { "c": null }] }, "s": "text", "n": null, "Order No": 7 }));
    let scope = scope().with_item(item, 0);
    let paths = [
        "item.a.b[1]",
        "item.a.b[-1]",
        "item.a.b[2].c",
        "item['Order No']",
        "item.missing",
        "item.missing.deeper",
        "item.n.x",
        "item.s[0]",
        "item.a.b[9]",
        "item.a['b'][0]",
        "index",
        "inputs.since",
        "nothing_here",
        "nothing_here.x",
    ];
    for path in paths {
        let fast = Expression::compile(path).unwrap().eval(&scope);
        let vm = crate::environment()
            .compile_expression(path)
            .unwrap()
            .eval(scope.to_value());
        match (fast, vm) {
            (Ok(fast), Ok(vm)) => {
                assert_eq!(fast.is_undefined(), vm.is_undefined(), "{path}");
                assert_eq!(fast.to_string(), vm.to_string(), "{path}");
            }
            (Err(_), Err(_)) => {}
            (fast, vm) => panic!("{path}: fast path gave {fast:?}, the VM {vm:?}"),
        }
    }
}

#[test]
fn an_undefined_value_given_to_a_filter_names_the_filter_and_the_expression() {
    insta::assert_snapshot!(eval_error("{{ inputs.missing | length }}"), @"`length` was given an undefined value (in `inputs.missing | length`); give a fallback with `default(...)` or test with `is defined`");
}
