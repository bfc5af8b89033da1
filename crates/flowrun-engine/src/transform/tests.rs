use flowrun_expr::{Runtime, Scope, from_json, to_json};
use flowrun_flow::model::Transform;
use proptest::prelude::*;
use serde_json::{Value as Json, json};

use super::*;

fn transform(pipeline: Json) -> Transform {
    serde_json::from_value(json!({ "pipeline": pipeline })).expect("a valid transform")
}

fn scope() -> Scope {
    let mut scope = Scope::new(Runtime::default());
    scope.set(
        "steps",
        from_json(&json!({"prices": {"output": [
            {"sku": "A", "price": 10},
            {"sku": "B", "price": 20},
            {"sku": "A", "price": 11}
        ]}})),
    );
    scope
}

/// Runs `pipeline` on `input`: the output as JSON, or the error's text. The input is given
/// both ways a step's output reaches a pipeline (converted, and shared as a module's output
/// is), and both must give the same result.
#[track_caller]
fn run(input: &Json, pipeline: Json) -> Result<Json, String> {
    let compiled = compile(&transform(pipeline))
        .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))?;
    let run_on = |value| {
        let output = compiled.run_on(value, &scope()).map_err(|error| error.to_string())?;
        to_json(&output).map_err(|error| error.message)
    };
    let converted = run_on(from_json(input));
    let shared = run_on(flowrun_expr::from_shared_json(input.clone()));
    // Shared JSON keeps numbers as the API wrote them (`1.0`); equal by JSON's rules.
    let normalized = |result: &Result<Json, String>| {
        result
            .clone()
            .map(|json| to_json(&from_json(&json)).unwrap_or(Json::Null))
    };
    assert_eq!(
        normalized(&shared),
        normalized(&converted),
        "shared and converted input differ on {input}"
    );
    converted
}

/// Each case: input, pipeline, expected output.
#[track_caller]
fn check(cases: &[(Json, Json, Json)]) {
    for (input, pipeline, expected) in cases {
        match run(input, pipeline.clone()) {
            Ok(output) => assert_eq!(&output, expected, "pipeline {pipeline} on {input}"),
            Err(error) => panic!("pipeline {pipeline} on {input} failed: {error}"),
        }
    }
}

fn error_of(input: Json, pipeline: Json) -> String {
    match run(&input, pipeline) {
        Ok(output) => panic!("expected an error, got {output}"),
        Err(error) => error,
    }
}

#[test]
fn select() {
    check(&[
        (
            json!([{"Lines": [1, 2]}, {"Lines": [3]}]),
            json!([{"select": "$[*].Lines[*]"}]),
            json!([1, 2, 3]),
        ),
        (
            json!({"d": {"results": [{"a": 1}]}}),
            json!([{"select": "$.d.results"}]),
            json!([[{"a": 1}]]),
        ),
        (json!({"d": {}}), json!([{"select": "$.d.results[*]"}]), json!([])),
    ]);
}

#[test]
fn filter() {
    let input = json!([
        {"q": 1, "email": "a@x"},
        {"q": 0},
        {"q": 5, "nested": {"ok": true}},
        {"q": -1, "email": ""}
    ]);
    check(&[
        (
            input.clone(),
            json!([{"filter": "item.q > 0"}]),
            json!([{"q": 1, "email": "a@x"}, {"q": 5, "nested": {"ok": true}}]),
        ),
        // Undefined is false; so is an empty string.
        (
            input.clone(),
            json!([{"filter": "item.email"}]),
            json!([{"q": 1, "email": "a@x"}]),
        ),
        (
            input.clone(),
            json!([{"filter": "{{ item.q >= 1 and item.q < 5 }}"}]),
            json!([{"q": 1, "email": "a@x"}]),
        ),
        (
            input.clone(),
            json!([{"filter": "item.nested is defined and item.nested.ok"}]),
            json!([{"q": 5, "nested": {"ok": true}}]),
        ),
        (input.clone(), json!([{"filter": "index == 1"}]), json!([{"q": 0}])),
        (
            input.clone(),
            json!([{"filter": "not item.email"}]),
            json!([{"q": 0}, {"q": 5, "nested": {"ok": true}}, {"q": -1, "email": ""}]),
        ),
        (
            input,
            json!([{"filter": "item.email is defined and item.email | length > 2"}]),
            json!([{"q": 1, "email": "a@x"}]),
        ),
        (json!([1, 2, 3]), json!([{"filter": "item is odd"}]), json!([1, 3])),
    ]);
}

#[test]
fn map() {
    let input = json!([{"Sku": "A", "Quantity": 2, "Tags": ["x"]}, {"Sku": "B", "Quantity": 0, "Tags": []}]);
    check(&[
        (
            input.clone(),
            json!([{"map": {"sku": "{{ item.Sku }}", "qty": "{{ item.Quantity }}", "n": "{{ index }}", "label": "{{ item.Sku }}-{{ item.Quantity }}", "fixed": 1, "tags": "{{ item.Tags }}"}}]),
            json!([
                {"sku": "A", "qty": 2, "n": 0, "label": "A-2", "fixed": 1, "tags": ["x"]},
                {"sku": "B", "qty": 0, "n": 1, "label": "B-0", "fixed": 1, "tags": []}
            ]),
        ),
        (
            input.clone(),
            json!([{"map": "{{ item.Quantity * 10 }}"}]),
            json!([20, 0]),
        ),
        (
            input.clone(),
            json!([{"map": ["{{ item.Sku }}", null]}]),
            json!([["A", null], ["B", null]]),
        ),
        (
            input.clone(),
            json!([{"map": {"email": "{{ item.email | default('none') }}"}}]),
            json!([{"email": "none"}, {"email": "none"}]),
        ),
        // What `map` makes works with every op and with minijinja's own filters and methods.
        (
            input.clone(),
            json!([
                {"map": {"sku": "{{ item.Sku }}", "qty": "{{ item.Quantity }}"}},
                {"filter": "item.sku in ['A', 'B'] and (item | length) == 2 and 'qty' in item and (item | items | list | length) == 2"},
                {"map": {"sku": "{{ item.sku }}", "qty": "{{ item.qty }}", "all": "{{ item }}"}},
                {"dedupe": "item.all"},
                {"set": {"n": "{{ item.qty + 1 }}"}},
                {"rename": {"sku": "code"}},
                {"remove": ["all"]},
                {"merge": {"with": [{"code": "A", "x": 1}], "on": "code"}}
            ]),
            json!([{"code": "A", "qty": 2, "n": 3, "x": 1}, {"code": "B", "qty": 0, "n": 1}]),
        ),
    ]);
}

#[test]
fn set_rename_remove() {
    let input = json!([{"a": 1, "b": 2, "c": 3}]);
    check(&[
        (
            input.clone(),
            json!([{"set": {"source": "conexiom", "a": "{{ item.a + 10 }}"}}]),
            json!([{"a": 11, "b": 2, "c": 3, "source": "conexiom"}]),
        ),
        (
            input.clone(),
            json!([{"rename": {"a": "x"}}]),
            json!([{"x": 1, "b": 2, "c": 3}]),
        ),
        // All renames at once: a swap works.
        (
            input.clone(),
            json!([{"rename": {"a": "b", "b": "a"}}]),
            json!([{"b": 1, "a": 2, "c": 3}]),
        ),
        // A renamed key replaces a key that had its new name.
        (
            input.clone(),
            json!([{"rename": {"a": "c"}}]),
            json!([{"c": 1, "b": 2}]),
        ),
        (input.clone(), json!([{"rename": {"missing": "x"}}]), input.clone()),
        (
            input.clone(),
            json!([{"remove": ["b", "missing"]}]),
            json!([{"a": 1, "c": 3}]),
        ),
    ]);
}

#[test]
fn sort() {
    let input = json!([
        {"id": 1, "k": 3},
        {"id": 2, "k": null},
        {"id": 3, "k": 1},
        {"id": 4, "k": 3},
        {"id": 5, "k": 2.5}
    ]);
    let ids = |ids: &[usize]| -> Json { ids.iter().map(|id| input[id - 1].clone()).collect() };
    check(&[
        (input.clone(), json!([{"sort": "item.k"}]), ids(&[3, 5, 1, 4, 2])),
        (
            input.clone(),
            json!([{"sort": {"by": "item.k", "order": "asc"}}]),
            ids(&[3, 5, 1, 4, 2]),
        ),
        // Stable, and nulls last in descending order too.
        (
            input.clone(),
            json!([{"sort": {"by": "item.k", "order": "desc"}}]),
            ids(&[1, 4, 5, 3, 2]),
        ),
        (
            input.clone(),
            json!([{"sort": {"by": ["item.k", "item.id"], "order": "desc"}}]),
            ids(&[4, 1, 5, 3, 2]),
        ),
        // Mixed types: numbers < strings < booleans < lists < objects < null.
        (
            json!([null, {"a": 1}, [1], true, "b", "a", 10, 2, false]),
            json!([{"sort": "item"}]),
            json!([2, 10, "a", "b", false, true, [1], {"a": 1}, null]),
        ),
        (
            json!([null, {"a": 1}, [1], true, "b", 2]),
            json!([{"sort": {"by": "item", "order": "desc"}}]),
            json!([{"a": 1}, [1], true, "b", 2, null]),
        ),
        (
            json!(["b", "B", "a", "é"]),
            json!([{"sort": "item"}]),
            json!(["B", "a", "b", "é"]),
        ),
    ]);
}

#[test]
fn dedupe() {
    check(&[
        (
            json!([{"k": 1, "n": 1}, {"k": 2, "n": 2}, {"k": 1, "n": 3}]),
            json!([{"dedupe": "item.k"}]),
            json!([{"k": 1, "n": 1}, {"k": 2, "n": 2}]),
        ),
        // JSON equality: 1 and 1.0 are one key, true and 1 are two, null is a key.
        (
            json!([1, 1.0, true, "1", null, null]),
            json!([{"dedupe": "item"}]),
            json!([1, true, "1", null]),
        ),
        (
            json!([{"a": 1, "b": 2}, {"b": 2, "a": 1}, [1, 2], [1, 2]]),
            json!([{"dedupe": "item"}]),
            json!([{"a": 1, "b": 2}, [1, 2]]),
        ),
    ]);
}

#[test]
fn group_by_and_aggregate() {
    let input = json!([
        {"sku": "A", "qty": 2, "price": 1.5},
        {"sku": "B", "qty": 1, "price": null},
        {"sku": "A", "qty": 3, "price": 2}
    ]);
    check(&[
        (
            input.clone(),
            json!([{"group_by": "item.sku"}]),
            json!([
                {"key": "A", "items": [{"sku": "A", "qty": 2, "price": 1.5}, {"sku": "A", "qty": 3, "price": 2}]},
                {"key": "B", "items": [{"sku": "B", "qty": 1, "price": null}]}
            ]),
        ),
        (
            input.clone(),
            json!([{"group_by": "item.sku"}, {"aggregate": {
                "lines": "count()", "total": "sum(item.qty)", "min": "min(item.qty)", "max": "{{ max(item.qty) }}",
                "avg": "avg(item.price)", "first": "first(item.qty)", "last": "last(item.qty)", "all": "list(item.price)"
            }}]),
            json!([
                {"key": "A", "lines": 2, "total": 5, "min": 2, "max": 3, "avg": 1.75, "first": 2, "last": 3, "all": [1.5, 2]},
                {"key": "B", "lines": 1, "total": 1, "min": 1, "max": 1, "avg": null, "first": 1, "last": 1, "all": [null]}
            ]),
        ),
        // A flat list gives one object.
        (
            input.clone(),
            json!([{"aggregate": {"lines": "count()", "total": "sum(item.qty)", "prices": "sum(item.price)"}}]),
            json!({"lines": 3, "total": 6, "prices": 3.5}),
        ),
        // An empty list: count 0, sum 0, list [], null for the others.
        (
            json!([]),
            json!([{"aggregate": {"c": "count()", "s": "sum(item.q)", "l": "list(item.q)", "a": "avg(item.q)", "mi": "min(item.q)", "ma": "max(item.q)", "f": "first(item.q)", "la": "last(item.q)"}}]),
            json!({"c": 0, "s": 0, "l": [], "a": null, "mi": null, "ma": null, "f": null, "la": null}),
        ),
        // After group_by, no groups stay no groups.
        (
            json!([]),
            json!([{"group_by": "item.k"}, {"aggregate": {"c": "count()"}}]),
            json!([]),
        ),
        // Groups are kept through sort, and recognised when they come from another step.
        (
            input.clone(),
            json!([{"group_by": "item.sku"}, {"sort": {"by": "item.key", "order": "desc"}}, {"aggregate": {"c": "count()"}}]),
            json!([{"key": "B", "c": 1}, {"key": "A", "c": 2}]),
        ),
        (
            json!([{"key": 1, "items": [1, 2]}]),
            json!([{"aggregate": {"s": "sum(item)"}}]),
            json!([{"key": 1, "s": 3}]),
        ),
        (
            json!([1, 2, 3]),
            json!([{"group_by": "item % 2"}]),
            json!([{"key": 1, "items": [1, 3]}, {"key": 0, "items": [2]}]),
        ),
    ]);
}

#[test]
fn chunk_flatten_limit_skip() {
    check(&[
        (
            json!([1, 2, 3, 4, 5]),
            json!([{"chunk": 2}]),
            json!([[1, 2], [3, 4], [5]]),
        ),
        (json!([]), json!([{"chunk": 2}]), json!([])),
        (json!([[1, 2], 3, [[4]], []]), json!(["flatten"]), json!([1, 2, 3, [4]])),
        (json!([1, 2, 3]), json!([{"limit": 2}]), json!([1, 2])),
        (json!([1, 2, 3]), json!([{"limit": 5}]), json!([1, 2, 3])),
        (json!([1, 2, 3]), json!([{"limit": 0}]), json!([])),
        (json!([1, 2, 3]), json!([{"skip": 2}]), json!([3])),
        (json!([1, 2, 3]), json!([{"skip": 7}]), json!([])),
        (json!([1, 2, 3, 4]), json!([{"skip": 1}, {"limit": 2}]), json!([2, 3])),
    ]);
}

#[test]
fn merge() {
    let input = json!([{"sku": "A", "price": 0}, {"sku": "C"}, {"no_sku": 1}, {"sku": "B"}]);
    check(&[
        (
            input.clone(),
            json!([{"merge": {"with": "{{ steps.prices.output }}", "on": "sku"}}]),
            json!([{"sku": "A", "price": 0}, {"sku": "C"}, {"no_sku": 1}, {"sku": "B", "price": 20}]),
        ),
        (
            input.clone(),
            json!([{"merge": {"with": "{{ steps.prices.output }}", "on": "sku", "how": "inner"}}]),
            json!([{"sku": "A", "price": 0}, {"sku": "B", "price": 20}]),
        ),
        (
            input,
            json!([{"merge": {"with": "{{ steps.prices.output }}", "on": "sku", "as": "prices"}}]),
            json!([
                {"sku": "A", "price": 0, "prices": [{"sku": "A", "price": 10}, {"sku": "A", "price": 11}]},
                {"sku": "C", "prices": []},
                {"no_sku": 1, "prices": []},
                {"sku": "B", "prices": [{"sku": "B", "price": 20}]}
            ]),
        ),
        // Keys match by JSON equality; null matches nothing.
        (
            json!([{"id": 1}, {"id": null}]),
            json!([{"merge": {"with": [{"id": 1.0, "x": "one"}, {"id": null, "x": "null"}], "on": "id"}}]),
            json!([{"id": 1, "x": "one"}, {"id": null}]),
        ),
    ]);
}

#[test]
fn the_spec_example() {
    let input = json!([
        {"Lines": [{"Sku": "A", "Quantity": 2, "internal": 1}, {"Sku": "B", "Quantity": 0, "internal": 1}]},
        {"Lines": [{"Sku": "A", "Quantity": 3, "internal": 1}, {"Sku": "B", "Quantity": 1, "internal": 1}]}
    ]);
    let pipeline = json!([
        {"select": "$[*].Lines[*]"},
        {"filter": "item.Quantity > 0"},
        {"map": {"sku": "{{ item.Sku }}", "qty": "{{ item.Quantity }}", "internal": "{{ item.internal }}"}},
        {"set": {"source": "conexiom"}},
        {"rename": {"sku": "item_code"}},
        {"remove": ["internal"]},
        {"sort": {"by": "item.item_code", "order": "asc"}},
        {"group_by": "item.item_code"},
        {"aggregate": {"total": "sum(item.qty)", "lines": "count()"}},
        {"chunk": 100},
        "flatten",
        {"merge": {"with": "{{ steps.prices.output }}", "on": "key"}}
    ]);
    check(&[(
        input,
        pipeline,
        json!([{"key": "A", "total": 5, "lines": 2}, {"key": "B", "total": 1, "lines": 1}]),
    )]);
}

#[test]
fn input_and_trigger() {
    let mut scope = scope();
    scope.set("trigger", from_json(&json!([3, 1, 2])));
    let sorted = compile(&transform(json!([{"sort": "item"}]))).expect("compiles");
    assert_eq!(
        to_json(&sorted.run(&scope).expect("runs")).expect("json"),
        json!([1, 2, 3])
    );
    let with_input: Transform = serde_json::from_value(json!({
        "input": "{{ steps.prices.output }}",
        "pipeline": [{"dedupe": "item.sku"}, {"map": "{{ item.sku }}"}]
    }))
    .expect("a valid transform");
    let compiled = compile(&with_input).expect("compiles");
    assert_eq!(
        to_json(&compiled.run(&scope).expect("runs")).expect("json"),
        json!(["A", "B"])
    );
    let no_trigger = sorted.run(&Scope::new(Runtime::default())).expect_err("no trigger");
    insta::assert_snapshot!(no_trigger, @"transform input: the pipeline has no `input` and there is no `trigger` to read");
}

#[test]
fn compile_errors() {
    let errors = compile(&transform(json!([
        {"filter": "item.q >"},
        {"map": {"a": {"b": "{{ item. }}"}}},
        {"aggregate": {"t": "total(item.q)", "c": "count(item)", "s": "sum()", "x": "sum(item.q"}},
        {"select": "Lines[*]"},
        {"sort": {"by": ["item.a", "item.b +"]}},
        {"chunk": 0},
        {"merge": {"with": "{{ steps. }}", "on": "k"}}
    ])))
    .expect_err("does not compile");
    let text = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
    insta::assert_snapshot!(text, @"
    pipeline op 1 (filter): unexpected end of input, expected expression
    pipeline op 2 (map) at `a.b`: unexpected end of variable block, expected identifier or integer
    pipeline op 3 (aggregate) at `t`: unknown aggregate function `total` (an aggregate is one of count(), sum(e), min(e), max(e), avg(e), first(e), last(e) or list(e), with `e` an expression over `item`)
    pipeline op 3 (aggregate) at `c`: `count()` takes no argument (an aggregate is one of count(), sum(e), min(e), max(e), avg(e), first(e), last(e) or list(e), with `e` an expression over `item`)
    pipeline op 3 (aggregate) at `s`: `sum(e)` needs an expression (an aggregate is one of count(), sum(e), min(e), max(e), avg(e), first(e), last(e) or list(e), with `e` an expression over `item`)
    pipeline op 3 (aggregate) at `x`: `sum(item.q` is not an aggregate call (an aggregate is one of count(), sum(e), min(e), max(e), avg(e), first(e), last(e) or list(e), with `e` an expression over `item`)
    pipeline op 4 (select): invalid JSONPath: unexpected text (a JSONPath starts with `$`, the root of the value: `$.name`, `$[0]`, `$..id`)
    pipeline op 5 (sort) at `by.1`: unexpected end of input, expected expression
    pipeline op 6 (chunk): a chunk size must be at least 1
    pipeline op 7 (merge) at `with`: unexpected end of variable block, expected identifier or integer
    ");
}

#[test]
fn shape_errors() {
    insta::assert_snapshot!(error_of(json!({"a": 1}), json!([{"group_by": "item.a"}])), @"pipeline op 1 (group_by): expected a list, got an object");
    insta::assert_snapshot!(error_of(json!([{"a": 1}, "x"]), json!([{"set": {"b": 2}}])), @"pipeline op 1 (set): item 1: expected an object, got a string");
    insta::assert_snapshot!(error_of(json!([1]), json!([{"rename": {"a": "b"}}])), @"pipeline op 1 (rename): item 0: expected an object, got a number");
    insta::assert_snapshot!(error_of(json!([null]), json!([{"remove": ["a"]}])), @"pipeline op 1 (remove): item 0: expected an object, got null");
    insta::assert_snapshot!(error_of(json!("text"), json!(["flatten"])), @"pipeline op 1 (flatten): expected a list, got a string");
    insta::assert_snapshot!(error_of(json!(null), json!([{"chunk": 2}])), @"pipeline op 1 (chunk): expected a list, got null");
    insta::assert_snapshot!(error_of(json!(true), json!([{"filter": "item"}])), @"pipeline op 1 (filter): expected a list, got a boolean");
    insta::assert_snapshot!(error_of(json!([{"k": 1}]), json!([{"merge": {"with": "{{ steps.prices }}", "on": "k"}}])), @"pipeline op 1 (merge): `with`: expected a list, got an object");
    insta::assert_snapshot!(error_of(json!([{"k": 1}]), json!([{"merge": {"with": [1], "on": "k"}}])), @"pipeline op 1 (merge): `with` item 0: expected an object, got a number");
    insta::assert_snapshot!(error_of(json!([{"q": "2"}]), json!([{"aggregate": {"t": "sum(item.q)"}}])), @"pipeline op 1 (aggregate): item 0: `sum(item.q)`: expected a number, got a string");
}

#[test]
fn undefined_errors() {
    insta::assert_snapshot!(error_of(json!([{"a": 1}, {"b": 1}]), json!([{"sort": "item.a"}])), @"pipeline op 1 (sort): item 1: `item.a` is undefined: the data has no such value (use `item.a | default(...)` for a fallback, or `item.a is defined` to test)");
    insta::assert_snapshot!(error_of(json!([{"a": 1}, {"b": 1}]), json!([{"dedupe": "item.a"}])), @"pipeline op 1 (dedupe): item 1: `item.a` is undefined: the data has no such value (use `item.a | default(...)` for a fallback, or `item.a is defined` to test)");
    insta::assert_snapshot!(error_of(json!([{"a": 1}, {"b": 1}]), json!([{"group_by": "item.a"}])), @"pipeline op 1 (group_by): item 1: `item.a` is undefined: the data has no such value (use `item.a | default(...)` for a fallback, or `item.a is defined` to test)");
    insta::assert_snapshot!(error_of(json!([{"a": {"b": true}}, {"c": 1}]), json!([{"filter": "item.a.b"}])), @"pipeline op 1 (filter): item 1: cannot read `item.a.b`: `item.a` is undefined (in `item.a.b`); test it first with `item.a is defined`");
    insta::assert_snapshot!(error_of(json!([{"a": 1}, {"b": 1}]), json!([{"map": {"x": "{{ item.a }}"}}])), @"pipeline op 1 (map): item 1: `item.a` is undefined: the data has no such value (use `item.a | default(...)` for a fallback, or `item.a is defined` to test)");
    insta::assert_snapshot!(error_of(json!([{"a": 1}, {"b": 1}]), json!([{"aggregate": {"x": "list(item.a)"}}])), @"pipeline op 1 (aggregate): item 1: `item.a` is undefined: the data has no such value (use `item.a | default(...)` for a fallback, or `item.a is defined` to test)");
}

#[test]
fn errors_name_the_line() {
    let mut compiled = compile(&transform(json!([{"limit": 1}, {"group_by": "item"}]))).expect("compiles");
    compiled.set_op_lines(vec![11, 12]);
    let error = compiled
        .run_on(from_json(&json!({"a": 1})), &scope())
        .expect_err("not a list");
    insta::assert_snapshot!(error, @"pipeline op 1 (limit, line 11): expected a list, got an object");
}

/// The fast path gives what minijinja gives, errors included.
#[test]
fn fast_path_agrees_with_minijinja() {
    let items = json!([
        {"a": 1, "b": "x", "c": null, "d": {"e": 2}, "t": true, "s": "  Mixed Case ", "n": -4},
        {"a": 2.5, "b": "ÄÖ straße", "n": 9_223_372_036_854_775_807_i64, "s": ["list"]},
        {"b": "y", "a": 18_446_744_073_709_551_615_u64, "n": 0.1, "d": {"e": "2"}},
        {"a": -9_223_372_036_854_775_807_i64, "n": 9_223_372_036_854_775_807_i64, "b": 1e300},
        3,
        "s",
        null,
        [1]
    ]);
    let expressions = [
        "item.a",
        "item.a > 1",
        "item['a'] == 2.5",
        "item.b != 'x'",
        "item.c is none",
        "item.d.e >= 2",
        "item.a and item.b",
        "item.a or item.b",
        "not item.a",
        "item.a is defined",
        "item.z is undefined",
        "item.a < 'a'",
        "index > 1 and item.a",
        "item.c == none",
        "item.d.e",
        "item.a + item.n",
        "item.a - item.n",
        "item.a * item.n",
        "item.n * item.n * item.n",
        "item.a * 2",
        "item.a + 0.5",
        "item.b * 2",
        "item.t + 1",
        "item.b + item.b",
        "item.c + 1",
        "item.z * 2",
        "item.d.e * 3",
        "item.b ~ '|' ~ item.a",
        "item.a ~ item.c ~ item.t",
        "item.n ~ ''",
        "item.d ~ 'x'",
        "item.z ~ 'x'",
        "item.s | lower",
        "item.s | upper",
        "item.s | trim",
        "item.b | lower",
        "item.b | upper",
        "item.a | lower",
        "item.z | lower",
        "item.s | trim | lower ~ '@' ~ item.b",
        "(item.a * item.n) | default(0)",
        "item.z | default('none')",
        "item.c | default('was null')",
        "item.z | default",
        "item.z | d(1.5)",
        "item.d.z | default(-1) + 1",
    ];
    for source in expressions {
        // Every expression of the table has a fast form: the comparison below tests it.
        assert!(fast::Fast::compile(source).is_some(), "`{source}` has no fast form");
        let compiled = item::ItemExpr::compile(source).expect("compiles");
        let slow = flowrun_expr::Expression::compile(source).expect("compiles");
        for (index, item) in items.as_array().expect("a list").iter().enumerate() {
            let (item, scope) = (from_json(item), scope());
            let fast = compiled.eval(&mut item::ItemCx::new(&scope, &item, index));
            let full = slow.eval(&scope.with_item(item.clone(), index));
            let show = |result: Result<Value, flowrun_expr::EvalError>| match result {
                Ok(value) if value.is_undefined() => "undefined".to_owned(),
                Ok(value) => format!("{value:?}"),
                Err(error) => format!("error: {error}"),
            };
            assert_eq!(show(fast), show(full), "`{source}` on item {index}");
        }
    }
}

fn scalar() -> impl Strategy<Value = Json> {
    prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::from),
        (-5i64..5).prop_map(Json::from),
        (-5i64..5).prop_map(|n| Json::from(n as f64 / 2.0)),
        "[ab]{0,2}".prop_map(Json::from),
    ]
}

fn records() -> impl Strategy<Value = Vec<Json>> {
    proptest::collection::vec(scalar(), 0..40).prop_map(|keys| {
        keys.into_iter()
            .enumerate()
            .map(|(position, key)| json!({"k": key, "pos": position}))
            .collect()
    })
}

fn number() -> impl Strategy<Value = Json> {
    prop_oneof![
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        (-1000i64..1000).prop_map(Json::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |n| n.is_finite())
            .prop_map(Json::from),
        Just(Json::Null),
        Just(Json::from(true)),
        "[a-zA-Z ]{0,3}".prop_map(Json::from),
    ]
}

proptest! {
    /// `+ - * ~` on any two numbers (and a few other scalars): the fast path's result is
    /// minijinja's, overflow and errors included.
    #[test]
    fn fast_arithmetic_agrees_with_minijinja(left in number(), right in number(), op in 0usize..4) {
        let source = ["item.l + item.r", "item.l - item.r", "item.l * item.r", "item.l ~ item.r"][op];
        let (compiled, slow) = (
            item::ItemExpr::compile(source).expect("compiles"),
            flowrun_expr::Expression::compile(source).expect("compiles"),
        );
        let (item, scope) = (from_json(&json!({"l": left, "r": right})), scope());
        let show = |result: Result<Value, flowrun_expr::EvalError>| match result {
            Ok(value) => format!("{value:?} {:?}", value.kind()),
            Err(error) => format!("error: {error}"),
        };
        prop_assert_eq!(
            show(compiled.eval(&mut item::ItemCx::new(&scope, &item, 0))),
            show(slow.eval(&scope.with_item(item.clone(), 0)))
        );
    }

    #[test]
    fn sort_is_stable_with_nulls_last(items in records(), descending in any::<bool>()) {
        let order = if descending { "desc" } else { "asc" };
        let output = run(&Json::from(items.clone()), json!([{"sort": {"by": "item.k", "order": order}}]))
            .expect("sorts");
        let output = output.as_array().expect("a list");
        prop_assert_eq!(output.len(), items.len());
        let nulls = output.iter().skip_while(|item| !item["k"].is_null()).collect::<Vec<_>>();
        prop_assert!(nulls.iter().all(|item| item["k"].is_null()), "nulls last: {output:?}");
        for pair in output.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let order = order::sort_order(&from_json(&a["k"]), &from_json(&b["k"]), descending);
            prop_assert!(order != std::cmp::Ordering::Greater, "sorted: {output:?}");
            if order == std::cmp::Ordering::Equal {
                prop_assert!(a["pos"].as_u64() < b["pos"].as_u64(), "stable: {output:?}");
            }
        }
    }

    /// A fused run (per-item ops, then `group_by` and `aggregate` folded per group) gives
    /// what the same ops give one after the other: a `sort` on a constant key (which keeps the
    /// order) splits the run without changing the data.
    #[test]
    fn fused_runs_give_what_op_by_op_gives(items in records(), limit in 0u64..45, skip in 0u64..5) {
        let fused = json!([
            {"skip": skip},
            {"filter": "item.pos is defined"},
            {"set": {"at": "{{ index }}"}},
            {"dedupe": "item.pos"},
            {"limit": limit},
            {"group_by": "item.k"},
            {"aggregate": {
                "count": "count()", "sum": "sum(item.pos)", "avg": "avg(item.at)",
                "min": "min(item.pos)", "max": "max(item.pos)",
                "first": "first(item.at)", "last": "last(item.pos)", "list": "list(item.pos)"
            }}
        ]);
        let split = |at: usize| {
            let mut ops = fused.as_array().expect("a list").clone();
            ops.insert(at, json!({"sort": "0"}));
            Json::from(ops)
        };
        let input = Json::from(items);
        let expected = run(&input, fused.clone());
        for at in 1..=6 {
            prop_assert_eq!(&run(&input, split(at)), &expected, "split before op {}", at);
        }
    }

    #[test]
    fn dedupe_is_idempotent(items in records()) {
        let once = run(&Json::from(items), json!([{"dedupe": "item.k"}])).expect("dedupes");
        let twice = run(&once, json!([{"dedupe": "item.k"}])).expect("dedupes");
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn chunk_then_flatten_is_the_input(items in proptest::collection::vec(scalar(), 0..40), size in 1u32..7) {
        let input = Json::from(items);
        let output = run(&input, json!([{"chunk": size}, "flatten"])).expect("runs");
        // Compared as the engine sees the input (`1.0` reads as the number 1).
        prop_assert_eq!(output, to_json(&from_json(&input)).expect("json"));
    }
}
