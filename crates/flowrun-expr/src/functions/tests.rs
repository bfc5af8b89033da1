//! Tests of flowrun's functions, filters and tests: one table row per behaviour (template,
//! expected JSON), error messages as snapshots, and the name lists checked against the
//! environment.

use serde_json::{Value as Json, json};

use super::{BUILTIN_FILTERS, BUILTIN_FUNCTIONS, BUILTIN_TESTS, FILTERS, FUNCTIONS, TESTS};
use crate::{Clock, Runtime, Scope, Secret, Template, UuidSource, from_json};

const NOW: &str = "2024-01-31T10:00:00Z";

fn scope() -> Scope {
    let mut scope = Scope::new(Runtime {
        clock: Clock::Fixed(NOW.parse().expect("a valid instant")),
        uuids: UuidSource::sequence(1),
    });
    scope
        .set(
            "inputs",
            from_json(&json!({
                "d": { "results": [{ "id": 1, "name": "A" }, { "id": 2, "name": "B" }] },
                "record": { "id": 7, "name": "Acme", "email": "", "tags": ["x", "y"], "address": { "city": "Delft" } },
                "rows": [1, null, "", "a", [2, 3], [[4]]],
                "numbers": [3, 1.5, 2],
                "words": ["pear", "apple", "fig"],
                "empty_list": [],
                "empty_map": {},
            })),
        )
        .set_secrets(
            [("TOKEN".to_owned(), Secret::new("s3cr3t-canary"))]
                .into_iter()
                .collect(),
        );
    scope
}

#[track_caller]
fn eval(source: &str) -> Result<Json, String> {
    let template = Template::compile(source).map_err(|error| format!("compile error: {}", error.message))?;
    template.eval_json(&scope()).map_err(|error| error.message)
}

#[track_caller]
fn check_table(table: &[(&str, Json)]) {
    let mut failures = Vec::new();
    for (source, expected) in table {
        match eval(source) {
            Ok(actual) if actual == *expected => {}
            Ok(actual) => failures.push(format!("{source}\n  expected {expected}\n  got      {actual}")),
            Err(error) => failures.push(format!("{source}\n  expected {expected}\n  error    {error}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        table.len(),
        failures.join("\n")
    );
}

#[track_caller]
fn error(source: &str) -> String {
    match eval(source) {
        Ok(value) => panic!("`{source}` gave {value}, expected an error"),
        Err(message) => message,
    }
}

#[test]
fn data_functions() {
    check_table(&[
        // jsonpath: the node list, as a list.
        (r#"{{ jsonpath(inputs, "$.d.results[*].id") }}"#, json!([1, 2])),
        (
            r#"{{ inputs | jsonpath("$.d.results[?@.name == 'B']") }}"#,
            json!([{ "id": 2, "name": "B" }]),
        ),
        (r#"{{ jsonpath(inputs, "$.nothing") }}"#, json!([])),
        (r#"{{ jsonpath(inputs.record, "$..city") }}"#, json!(["Delft"])),
        // keys, values
        ("{{ keys(inputs.record.address) }}", json!(["city"])),
        (
            "{{ inputs.record | keys }}",
            json!(["id", "name", "email", "tags", "address"]),
        ),
        ("{{ inputs.record.address | values }}", json!(["Delft"])),
        // pick, omit
        (
            r#"{{ pick(inputs.record, "name", "id") }}"#,
            json!({ "name": "Acme", "id": 7 }),
        ),
        (r#"{{ inputs.record | pick(["id", "missing"]) }}"#, json!({ "id": 7 })),
        (
            r#"{{ inputs.record | omit("tags", "address", "email") }}"#,
            json!({ "id": 7, "name": "Acme" }),
        ),
        (
            r#"{{ omit(inputs.record, ["tags", "address"]) | keys }}"#,
            json!(["id", "name", "email"]),
        ),
        // get
        (r#"{{ get(inputs, "d.results.1.name") }}"#, json!("B")),
        (r#"{{ inputs | get("d.results.-1.id") }}"#, json!(2)),
        (r#"{{ get(inputs, "d.results.5.name", "none") }}"#, json!("none")),
        (r#"{{ get(inputs, "record.missing.deeper") }}"#, Json::Null),
        (r#"{{ get(inputs, ["record", "address", "city"]) }}"#, json!("Delft")),
        (r#"{{ get(inputs.numbers, 0) }}"#, json!(3)),
        // compact, flatten
        ("{{ inputs.rows | compact }}", json!([1, "a", [2, 3], [[4]]])),
        ("{{ compact([none, 0, false, '']) }}", json!([0, false])),
        ("{{ inputs.rows | flatten }}", json!([1, null, "", "a", 2, 3, [4]])),
        ("{{ flatten([[1], [], 2]) }}", json!([1, 2])),
        // coalesce, if_empty, the empty test
        (
            r#"{{ coalesce(inputs.record.email, inputs.record.missing, none, "fallback") }}"#,
            json!("fallback"),
        ),
        (
            "{{ inputs.record.email | coalesce(inputs.record.name) }}",
            json!("Acme"),
        ),
        ("{{ coalesce(none, '') }}", Json::Null),
        ("{{ coalesce(0, 1) }}", json!(0)),
        (r#"{{ if_empty(inputs.record.email, "n/a") }}"#, json!("n/a")),
        (r#"{{ inputs.record.missing | if_empty("n/a") }}"#, json!("n/a")),
        (r#"{{ inputs.empty_list | if_empty([0]) }}"#, json!([0])),
        (r#"{{ inputs.record.name | if_empty("n/a") }}"#, json!("Acme")),
        ("{{ 0 | if_empty(1) }}", json!(0)),
        (
            "{{ [inputs.record.email is empty, inputs.record.missing is empty, none is empty, inputs.empty_list is empty, inputs.empty_map is empty, 0 is empty, 'a' is empty, false is empty] }}",
            json!([true, true, true, true, true, false, false, false]),
        ),
        ("{{ inputs.record.name is not empty }}", json!(true)),
        // merge
        (
            r#"{{ merge(inputs.record.address, {"zip": "2611", "city": "Den Haag"}) }}"#,
            json!({ "city": "Den Haag", "zip": "2611" }),
        ),
        (
            r#"{{ {"a": 1} | merge({"b": 2}, none, {"a": 3}) }}"#,
            json!({ "a": 3, "b": 2 }),
        ),
        // to_number
        (r#"{{ to_number(" 42 ") }}"#, json!(42)),
        (r#"{{ "3.5" | to_number }}"#, json!(3.5)),
        // A float with no fraction leaves as a JSON integer (convert.rs).
        (r#"{{ "-1e3" | to_number }}"#, json!(-1000)),
        (r#"{{ "2.50" | to_number }}"#, json!(2.5)),
        (r#"{{ "1.234,5" | to_number(",") }}"#, json!(1234.5)),
        ("{{ 7 | to_number }}", json!(7)),
        (r#"{{ "" | to_number }}"#, Json::Null),
        ("{{ none | to_number }}", Json::Null),
        // max, min, sum as functions (their filters are minijinja's)
        ("{{ max(inputs.numbers) }}", json!(3)),
        ("{{ max(1, 5, 2) }}", json!(5)),
        ("{{ max(inputs.words) }}", json!("pear")),
        ("{{ max([]) }}", Json::Null),
        ("{{ max([none, 2]) }}", json!(2)),
        ("{{ min(inputs.numbers) }}", json!(1.5)),
        ("{{ min(4, 2.5) }}", json!(2.5)),
        ("{{ min(inputs.words) }}", json!("apple")),
        ("{{ sum(inputs.numbers) }}", json!(6.5)),
        ("{{ sum([1, 2, none, 3]) }}", json!(6)),
        ("{{ sum(1, 2) }}", json!(3)),
        ("{{ sum([]) }}", json!(0)),
        ("{{ inputs.numbers | max }}", json!(3)),
        ("{{ inputs.numbers | sum }}", json!(6.5)),
    ]);
}

#[test]
fn date_functions() {
    check_table(&[
        ("{{ now() }}", json!("2024-01-31T10:00:00.000Z")),
        (
            r#"{{ now("Europe/Amsterdam") }}"#,
            json!("2024-01-31T11:00:00.000+01:00"),
        ),
        (
            r#"{{ now(tz="America/New_York") }}"#,
            json!("2024-01-31T05:00:00.000-05:00"),
        ),
        (r#"{{ now("+05:30") }}"#, json!("2024-01-31T15:30:00.000+05:30")),
        // date: strftime codes; the value's own offset unless tz is given.
        (
            r#"{{ date("2024-01-31T10:00:00Z", "%Y-%m-%d %H:%M") }}"#,
            json!("2024-01-31 10:00"),
        ),
        (
            r#"{{ "2024-01-31T10:00:00+02:00" | date("%H:%M %:z") }}"#,
            json!("10:00 +02:00"),
        ),
        (
            r#"{{ "2024-01-31T10:00:00Z" | date("%H:%M", "Europe/Amsterdam") }}"#,
            json!("11:00"),
        ),
        (
            r#"{{ "2024-07-01T10:00:00Z" | date("%H:%M %Z", tz="Europe/Amsterdam") }}"#,
            json!("12:00 CEST"),
        ),
        (r#"{{ "2024-01-31" | date("%d/%m/%Y") }}"#, json!("31/01/2024")),
        (
            r#"{{ "2024-01-31 08:30:00" | date("%A %-d %B %Y, %I:%M %p") }}"#,
            json!("Wednesday 31 January 2024, 08:30 AM"),
        ),
        (
            "{{ 1706695200 | date('%Y-%m-%dT%H:%M:%S') }}",
            json!("2024-01-31T10:00:00"),
        ),
        ("{{ now() | date('%Y%m%d') }}", json!("20240131")),
        // parse_date: RFC 3339 UTC with milliseconds.
        (r#"{{ parse_date("2024-01-31") }}"#, json!("2024-01-31T00:00:00.000Z")),
        (
            r#"{{ parse_date("2024-01-31 10:00:00") }}"#,
            json!("2024-01-31T10:00:00.000Z"),
        ),
        (
            r#"{{ parse_date("2024-01-31T10:00:00.5+01:00") }}"#,
            json!("2024-01-31T09:00:00.500Z"),
        ),
        (
            r#"{{ "2024-01-31T10:00" | parse_date(tz="Europe/Amsterdam") }}"#,
            json!("2024-01-31T09:00:00.000Z"),
        ),
        (
            r#"{{ "31/01/2024" | parse_date("%d/%m/%Y") }}"#,
            json!("2024-01-31T00:00:00.000Z"),
        ),
        (
            r#"{{ "31/01/2024 10:00" | parse_date("%d/%m/%Y %H:%M", "Europe/Amsterdam") }}"#,
            json!("2024-01-31T09:00:00.000Z"),
        ),
        (
            r#"{{ "Jan 31, 2024 10:00 +0200" | parse_date("%b %d, %Y %H:%M %z") }}"#,
            json!("2024-01-31T08:00:00.000Z"),
        ),
        ("{{ 1706695200 | parse_date }}", json!("2024-01-31T10:00:00.000Z")),
        // date_add
        (
            r#"{{ date_add("2024-01-31T10:00:00Z", "1d") }}"#,
            json!("2024-02-01T10:00:00.000Z"),
        ),
        (
            r#"{{ "2024-01-31T10:00:00Z" | date_add("-2h30m") }}"#,
            json!("2024-01-31T07:30:00.000Z"),
        ),
        (
            r#"{{ "2024-01-31" | date_add("1 month") }}"#,
            json!("2024-02-29T00:00:00.000Z"),
        ),
        (
            r#"{{ "2024-01-31" | date_add("P1DT2H") }}"#,
            json!("2024-02-01T02:00:00.000Z"),
        ),
        ("{{ now() | date_add(90) }}", json!("2024-01-31T10:01:30.000Z")),
        (
            r#"{{ "2024-03-30T12:00:00Z" | date_add("1d", tz="Europe/Amsterdam") }}"#,
            json!("2024-03-31T11:00:00.000Z"),
        ),
        // timestamp, from_timestamp
        ("{{ timestamp(now()) }}", json!(1_706_695_200)),
        (
            r#"{{ "2024-01-31T10:00:00.250Z" | timestamp("ms") }}"#,
            json!(1_706_695_200_250_i64),
        ),
        (r#"{{ "2024-01-31" | timestamp(tz="+01:00") }}"#, json!(1_706_655_600)),
        ("{{ from_timestamp(1706695200) }}", json!("2024-01-31T10:00:00.000Z")),
        (
            "{{ 1706695200250 | from_timestamp('ms') }}",
            json!("2024-01-31T10:00:00.250Z"),
        ),
        ("{{ 1706695200.5 | from_timestamp }}", json!("2024-01-31T10:00:00.500Z")),
    ]);
}

#[test]
fn encoding_and_hashing_functions() {
    check_table(&[
        // to_json: compact, keys in order.
        ("{{ to_json(inputs.record.address) }}", json!(r#"{"city":"Delft"}"#)),
        (
            r#"{{ {"b": 1, "a": [1, "x", none, true]} | to_json }}"#,
            json!(r#"{"b":1,"a":[1,"x",null,true]}"#),
        ),
        ("{{ 'é' | to_json }}", json!(r#""é""#)),
        // from_json
        (
            r#"{{ from_json('{"a": [1, 2.5, null]}') }}"#,
            json!({ "a": [1, 2.5, null] }),
        ),
        (r#"{{ ('{"a": 1}' | from_json).a }}"#, json!(1)),
        (
            "{{ inputs.record | to_json | from_json == inputs.record }}",
            json!(true),
        ),
        // base64
        ("{{ b64encode('user:pass') }}", json!("dXNlcjpwYXNz")),
        ("{{ 'héllo' | b64encode }}", json!("aMOpbGxv")),
        ("{{ 'dXNlcjpwYXNz' | b64decode }}", json!("user:pass")),
        ("{{ b64decode('aMOpbGxv') }}", json!("héllo")),
        ("{{ 'Pz8_' | b64decode }}", json!("???")),
        ("{{ ' aGk ' | b64decode }}", json!("hi")),
        // url
        ("{{ url_encode('a b/c?d=é&e') }}", json!("a%20b%2Fc%3Fd%3D%C3%A9%26e")),
        (
            r#"{{ {"q": "a b", "n": 2, "ok": true} | url_encode }}"#,
            json!("q=a%20b&n=2&ok=true"),
        ),
        ("{{ 'a%20b+c%2Fd%C3%A9' | url_decode }}", json!("a b c/dé")),
        // digests
        (
            "{{ sha256('abc') }}",
            json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ),
        (
            "{{ '' | sha256 }}",
            json!("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ),
        ("{{ 'abc' | sha1 }}", json!("a9993e364706816aba3e25717850c26c9cd0d89d")),
        ("{{ md5('abc') }}", json!("900150983cd24fb0d6963f7d28e17f72")),
        // RFC 4231 test case 2.
        (
            "{{ hmac_sha256('what do ya want for nothing?', 'Jefe') }}",
            json!("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        ),
        (
            "{{ 'what do ya want for nothing?' | hmac_sha256('Jefe') }}",
            json!("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        ),
        (
            "{{ 'what do ya want for nothing?' | hmac_sha256('Jefe', 'base64') }}",
            json!("W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="),
        ),
        // uuid: the test runtime's sequence.
        ("{{ uuid() }}", json!("00000000-0000-4001-8000-000000000000")),
        ("{{ [uuid(), uuid()] | unique | length }}", json!(2)),
    ]);
}

#[test]
fn text_functions() {
    check_table(&[
        (
            r##"{{ regex_replace("Order PO-123, PO-45", "PO-(\\d+)", "#$1") }}"##,
            json!("Order #123, #45"),
        ),
        (r#"{{ "a  b   c" | regex_replace("\\s+", " ") }}"#, json!("a b c")),
        (r#"{{ "tel: 06-1234" | regex_replace("[^0-9]", "") }}"#, json!("061234")),
        (r#"{{ regex_search("Order PO-123", "PO-\\d+") }}"#, json!("PO-123")),
        (r#"{{ "Order PO-123" | regex_search("PO-(\\d+)") }}"#, json!("123")),
        (r#"{{ "Order" | regex_search("\\d") }}"#, Json::Null),
        (
            r#"{{ "a1 b22 c333" | regex_findall("\\d+") }}"#,
            json!(["1", "22", "333"]),
        ),
        (r#"{{ regex_findall("k=1; j=2", "(\\w)=\\d") }}"#, json!(["k", "j"])),
        (
            r#"{{ ["PO-1" is regex_match("^PO-\\d+$"), "x PO-1" is regex_match("^PO-"), inputs.record.missing is regex_match("x"), 42 is regex_match("^4")] }}"#,
            json!([true, false, false, true]),
        ),
        (r#"{{ "(?i)acme" | regex_search("(?i)ACME") }}"#, json!("acme")),
        ("{{ slugify('Crème Brûlée à 5€!') }}", json!("creme-brulee-a-5")),
        ("{{ '  Hello,  World  ' | slugify }}", json!("hello-world")),
        ("{{ \"Don't Stop\" | slugify('_') }}", json!("dont_stop")),
        ("{{ 'Straße Øresund' | slugify }}", json!("strasse-oresund")),
        (
            "{{ '<p>Fish &amp; chips<br>for &lt;2&gt;</p><script>alert(1)</script><!-- note --><b>now</b>' | strip_html }}",
            json!("Fish & chips\nfor <2>\nnow"),
        ),
        (
            "{{ strip_html('a < b &#233;&#x41;&nbsp;&unknown;') }}",
            json!("a < b éA &unknown;"),
        ),
    ]);
}

#[test]
fn errors_name_the_function_and_the_kind_never_the_value() {
    insta::assert_snapshot!(error("{{ b64decode('%%%') }}"), @"invalid operation: b64decode: input is not valid base64 (at `b64decode('%%%')` in `b64decode('%%%')`)");
    insta::assert_snapshot!(error("{{ from_json('{\"a\": ') }}"), @r#"invalid operation: from_json: input is not valid JSON (unexpected end of input at line 1, column 6) (at `from_json('{"a": ')` in `from_json('{"a": ')`)"#);
    insta::assert_snapshot!(error("{{ from_json('nope') }}"), @"invalid operation: from_json: input is not valid JSON (syntax error at line 1, column 2) (at `from_json('nope')` in `from_json('nope')`)");
    insta::assert_snapshot!(error("{{ b64encode(inputs.record) }}"), @"invalid operation: b64encode: the value must be a string, got a map (at `b64encode(inputs.record)` in `b64encode(inputs.record)`)");
    insta::assert_snapshot!(error("{{ inputs.record.missing | sha256 }}"), @"invalid operation: sha256: the value must be a string, got undefined (at `sha256` in `inputs.record.missing | sha256`)");
    insta::assert_snapshot!(error("{{ jsonpath(inputs, 'd.results') }}"), @"invalid operation: jsonpath: invalid JSONPath: unexpected text at character 1 of the path; a JSONPath starts with `$`, the root of the value: `$.name`, `$[0]`, `$..id` (at `jsonpath(inputs, 'd.results')` in `jsonpath(inputs, 'd.results')`)");
    insta::assert_snapshot!(error("{{ jsonpath(inputs, '$[?') }}"), @"invalid operation: jsonpath: invalid JSONPath: unexpected end of the path (in long-hand segment) at character 4 of the path (at `jsonpath(inputs, '$[?')` in `jsonpath(inputs, '$[?')`)");
    insta::assert_snapshot!(error("{{ keys(inputs.rows) }}"), @"invalid operation: keys: the value must be a map, got a list (at `keys(inputs.rows)` in `keys(inputs.rows)`)");
    insta::assert_snapshot!(error("{{ to_number('12abc') }}"), @"invalid operation: to_number: the string is not a number (at `to_number('12abc')` in `to_number('12abc')`)");
    insta::assert_snapshot!(error("{{ to_number('inf') }}"), @"invalid operation: to_number: the string is not a number (at `to_number('inf')` in `to_number('inf')`)");
    insta::assert_snapshot!(error("{{ max(1, 'a') }}"), @"invalid operation: max: cannot compare a number with a string (at `max(1, 'a')` in `max(1, 'a')`)");
    insta::assert_snapshot!(error("{{ sum(['1', 2]) }}"), @"invalid operation: sum: element 0 is a string, not a number (at `sum(['1', 2])` in `sum(['1', 2])`)");
    insta::assert_snapshot!(error("{{ date('31/01/2024', '%Y') }}"), @"invalid operation: date: the value is not an RFC 3339 date-time or a date (YYYY-MM-DD); use parse_date(value, format) for other layouts (at `date('31/01/2024', '%Y')` in `date('31/01/2024', '%Y')`)");
    insta::assert_snapshot!(error("{{ date(now(), '%Y-%') }}"), @"invalid operation: date: cannot format with this format: strftime formatting failed: invalid format string, expected byte after `%`, but found end of format string (at `date(now(), '%Y-%')` in `date(now(), '%Y-%')`)");
    insta::assert_snapshot!(error("{{ now('Mars/Olympus') }}"), @r#"invalid operation: now: unknown time zone (use an IANA name such as "Europe/Amsterdam", "UTC" or an offset such as "+02:00") (at `now('Mars/Olympus')` in `now('Mars/Olympus')`)"#);
    insta::assert_snapshot!(error("{{ parse_date('2024-31-01', '%Y-%m-%d') }}"), @"invalid operation: parse_date: the value does not match the format (at `parse_date('2024-31-01', '%Y-%m-%d')` in `parse_date('2024-31-01', '%Y-%m-%d')`)");
    insta::assert_snapshot!(error("{{ parse_date('10:00', '%H:%M') }}"), @"invalid operation: parse_date: the format must give at least a year, a month and a day (at `parse_date('10:00', '%H:%M')` in `parse_date('10:00', '%H:%M')`)");
    insta::assert_snapshot!(error("{{ date_add(now(), 'tomorrow') }}"), @r#"invalid operation: date_add: the amount is not a duration such as "1d", "-2h30m", "3 months" or "P1D" (at `date_add(now(), 'tomorrow')` in `date_add(now(), 'tomorrow')`)"#);
    insta::assert_snapshot!(error("{{ now(zone='UTC') }}"), @"too many arguments: unknown keyword argument 'zone' (at `now(zone='UTC')` in `now(zone='UTC')`)");
    insta::assert_snapshot!(error("{{ regex_replace('a', '(', '') }}"), @"invalid operation: regex_replace: the pattern is not a valid regular expression (regex crate syntax: no look-around or back-references) (at `regex_replace('a', '(', '')` in `regex_replace('a', '(', '')`)");
    insta::assert_snapshot!(error("{{ url_decode('%FF') }}"), @"invalid operation: url_decode: the decoded bytes are not UTF-8 text (at `url_decode('%FF')` in `url_decode('%FF')`)");
    insta::assert_snapshot!(error("{{ to_json(inputs.record.missing) }}"), @"invalid operation: to_json: the value at `$` is undefined (at `to_json(inputs.record.missing)` in `to_json(inputs.record.missing)`)");
    insta::assert_snapshot!(error("{{ hmac_sha256('m', 'k', 'hex2') }}"), @r#"invalid operation: hmac_sha256: the encoding must be "hex" or "base64" (at `hmac_sha256('m', 'k', 'hex2')` in `hmac_sha256('m', 'k', 'hex2')`)"#);
}

#[test]
fn a_secret_in_a_bad_argument_stays_out_of_the_error() {
    for source in [
        "{{ secrets.TOKEN | b64decode }}",
        "{{ secrets.TOKEN | from_json }}",
        "{{ secrets.TOKEN | to_number }}",
        "{{ secrets.TOKEN | parse_date }}",
        "{{ parse_date(secrets.TOKEN, '%Y') }}",
        "{{ date_add(now(), secrets.TOKEN) }}",
        "{{ now(secrets.TOKEN) }}",
        "{{ regex_search('x', secrets.TOKEN ~ '(') }}",
        "{{ jsonpath(inputs, secrets.TOKEN) }}",
        "{{ from_json('{\"k\": \"' ~ secrets.TOKEN ~ '\" x') }}",
    ] {
        let message = error(source);
        assert!(!message.contains("s3cr3t"), "{source}: {message}");
    }
}

#[test]
fn work_on_large_input_is_charged_fuel() {
    // 16 MB of text: hashing it once is allowed, a thousand times is not.
    let scope = {
        let mut scope = scope();
        scope.set("big", crate::Value::from("x".repeat(16 << 20)));
        scope
    };
    let once = Template::compile("{{ big | sha256 | length }}").unwrap();
    assert_eq!(once.eval_json(&scope).unwrap(), json!(64));
    let many = Template::compile("{% for _ in range(1000) %}{{ big | sha256 }}{% endfor %}").unwrap();
    let message = many.eval_json(&scope).unwrap_err().message;
    assert!(message.contains("ran out of fuel"), "{message}");
}

#[test]
fn every_listed_name_is_callable_and_every_callable_name_is_listed() {
    let env = crate::environment();
    let mut state = env.empty_state();
    let probe = crate::Value::from("x");
    for name in BUILTIN_FILTERS.iter().chain(FILTERS) {
        if let Err(error) = state.apply_filter(name, std::slice::from_ref(&probe)) {
            assert_ne!(error.kind(), minijinja::ErrorKind::UnknownFilter, "filter `{name}`");
        }
    }
    for name in BUILTIN_TESTS.iter().chain(TESTS) {
        if let Err(error) = state.perform_test(name, std::slice::from_ref(&probe)) {
            assert_ne!(error.kind(), minijinja::ErrorKind::UnknownTest, "test `{name}`");
        }
    }
    let globals: Vec<&str> = env.globals().map(|(name, _)| name).collect();
    for name in BUILTIN_FUNCTIONS.iter().chain(FUNCTIONS) {
        assert!(globals.contains(name), "function `{name}` is not a global");
    }
    for name in &globals {
        assert!(
            BUILTIN_FUNCTIONS.contains(name) || FUNCTIONS.contains(name),
            "global `{name}` is not listed"
        );
    }
    // Every filter of flowrun's is also a function (one main value, first).
    for name in FILTERS {
        assert!(FUNCTIONS.contains(name), "filter `{name}` has no function");
    }
    // Unknown names really are unknown (the probe above can tell).
    assert_eq!(
        state
            .apply_filter("no_such_filter", std::slice::from_ref(&probe))
            .unwrap_err()
            .kind(),
        minijinja::ErrorKind::UnknownFilter
    );
    assert_eq!(
        state.perform_test("no_such_test", &[probe]).unwrap_err().kind(),
        minijinja::ErrorKind::UnknownTest
    );
}

#[test]
fn unknown_names_near_flowruns_get_a_suggestion() {
    let error = Template::compile("{{ x | b64_encode }}").unwrap_err();
    assert_eq!(error.help.as_deref(), Some("did you mean `b64encode`?"));
    let error = Template::compile("{{ x is regex_matches('a') }}").unwrap_err();
    assert_eq!(error.help.as_deref(), Some("did you mean `regex_match`?"));
}
