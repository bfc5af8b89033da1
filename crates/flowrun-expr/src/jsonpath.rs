//! JSONPath (RFC 9535) queries, compiled once.
//!
//! The parser and evaluator are the `serde_json_path` crate, which runs the whole JSONPath
//! compliance test suite in its CI (docs/expressions.md, "JSONPath"). A query returns the
//! RFC's node list as a list: `$.d.results[*]` on `{"d": {"results": [1, 2]}}` is `[1, 2]`,
//! and a path that selects nothing is `[]`.

use std::fmt;

use crate::error::{CompileError, EvalError};
use crate::{Value, from_json, to_json};

/// A compiled JSONPath query.
#[derive(Clone, PartialEq, Eq)]
pub struct JsonPath {
    source: Box<str>,
    compiled: serde_json_path::JsonPath,
}

impl fmt::Debug for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JsonPath").field(&self.source).finish()
    }
}

/// Compiles a JSONPath query such as `$.d.results[*]` or `$..[?@.price < 10]`. The error
/// says what is wrong and, when known, where (a byte range in `path`).
pub fn compile(path: &str) -> Result<JsonPath, CompileError> {
    match serde_json_path::JsonPath::parse(path) {
        Ok(compiled) => Ok(JsonPath {
            source: Box::from(path),
            compiled,
        }),
        Err(error) => {
            let start = error.position().min(path.len());
            let end = path[start..]
                .chars()
                .next()
                .map_or(start, |next| start + next.len_utf8());
            let help = if path.starts_with('$') {
                None
            } else {
                Some("a JSONPath starts with `$`, the root of the value: `$.name`, `$[0]`, `$..id`".to_owned())
            };
            Err(CompileError {
                message: format!("invalid JSONPath: {}", describe(error.message(), start == path.len())),
                range: Some(start..end),
                help,
            })
        }
    }
}

/// serde_json_path's message made readable: its generic "parser error" says nothing.
fn describe(message: &str, at_end: bool) -> String {
    let what = if at_end {
        "unexpected end of the path"
    } else {
        "unexpected text"
    };
    match message.strip_suffix("parser error") {
        Some("") => what.to_owned(),
        Some(context) => format!("{what} ({})", context.trim_end_matches([',', ' '])),
        None => message.to_owned(),
    }
}

impl JsonPath {
    /// The query as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The nodes `value` has at this path, as a list (empty when nothing matches). An
    /// undefined value inside `value` is an error naming its place.
    pub fn query(&self, value: &Value) -> Result<Value, EvalError> {
        let json = to_json(value)?;
        Ok(self.query_json(&json))
    }

    /// The nodes of a JSON value at this path, as a list.
    pub fn query_json(&self, json: &serde_json::Value) -> Value {
        self.compiled.query(json).iter().map(|node| from_json(node)).collect()
    }
}

/// The examples of RFC 9535 (section 1.5 and the selector examples of section 2), as a
/// table. The crate's own CI runs the whole compliance suite; these check our wrapping and
/// keep the RFC's examples in sight.
#[cfg(test)]
mod tests {
    use serde_json::{Value as Json, json};

    use super::compile;

    fn bookstore() -> Json {
        json!({ "store": {
            "book": [
                { "category": "reference", "author": "Nigel Rees", "title": "Sayings of the Century", "price": 8.95 },
                { "category": "fiction", "author": "Evelyn Waugh", "title": "Sword of Honour", "price": 12.99 },
                { "category": "fiction", "author": "Herman Melville", "title": "Moby Dick", "isbn": "0-553-21311-3", "price": 8.99 },
                { "category": "fiction", "author": "J. R. R. Tolkien", "title": "The Lord of the Rings", "isbn": "0-395-19395-8", "price": 22.99 }
            ],
            "bicycle": { "color": "red", "price": 399 }
        } })
    }

    #[track_caller]
    fn check(document: &Json, table: &[(&str, Json)]) {
        let value = crate::from_json(document);
        let mut failures = Vec::new();
        for (path, expected) in table {
            let compiled = compile(path).unwrap_or_else(|error| panic!("{path}: {}", error.message));
            let actual = crate::to_json(&compiled.query(&value).unwrap()).unwrap();
            if actual != *expected {
                failures.push(format!("{path}\n  expected {expected}\n  got      {actual}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn rfc_9535_section_1_5_bookstore() {
        let store = bookstore();
        let books = store["store"]["book"].clone();
        check(
            &store,
            &[
                (
                    "$.store.book[*].author",
                    json!(["Nigel Rees", "Evelyn Waugh", "Herman Melville", "J. R. R. Tolkien"]),
                ),
                (
                    "$..author",
                    json!(["Nigel Rees", "Evelyn Waugh", "Herman Melville", "J. R. R. Tolkien"]),
                ),
                ("$.store.*", json!([books, store["store"]["bicycle"]])),
                ("$.store..price", json!([8.95, 12.99, 8.99, 22.99, 399])),
                ("$..book[2]", json!([books[2]])),
                ("$..book[2].author", json!(["Herman Melville"])),
                ("$..book[2].publisher", json!([])),
                ("$..book[-1]", json!([books[3]])),
                ("$..book[0,1]", json!([books[0], books[1]])),
                ("$..book[:2]", json!([books[0], books[1]])),
                ("$..book[?@.isbn]", json!([books[2], books[3]])),
                ("$..book[?@.price<10]", json!([books[0], books[2]])),
            ],
        );
        // `$..*` has no fixed order: count its nodes (store, book, bicycle, 4 books with
        // 4 or 5 members each, the bicycle's 2).
        let all = compile("$..*").unwrap().query(&crate::from_json(&store)).unwrap();
        assert_eq!(all.len(), Some(1 + 2 + 4 + 18 + 2));
    }

    #[test]
    fn rfc_9535_section_2_selectors() {
        // 2.3.1.3 name selector
        check(
            &json!({ "o": { "j j": { "k.k": 3 } }, "'": { "@": 2 } }),
            &[
                ("$.o['j j']", json!([{ "k.k": 3 }])),
                ("$.o['j j']['k.k']", json!([3])),
                (r#"$.o["j j"]["k.k"]"#, json!([3])),
                (r#"$["'"]["@"]"#, json!([2])),
            ],
        );
        // 2.3.2.3 wildcard selector
        check(
            &json!({ "o": { "j": 1, "k": 2 }, "a": [5, 3] }),
            &[
                ("$[*]", json!([{ "j": 1, "k": 2 }, [5, 3]])),
                ("$.o[*]", json!([1, 2])),
                ("$.o[*, *]", json!([1, 2, 1, 2])),
                ("$.a[*]", json!([5, 3])),
            ],
        );
        // 2.3.3.3 index selector
        check(&json!(["a", "b"]), &[("$[1]", json!(["b"])), ("$[-2]", json!(["a"]))]);
        // 2.3.4.3 array slice selector
        check(
            &json!(["a", "b", "c", "d", "e", "f", "g"]),
            &[
                ("$[1:3]", json!(["b", "c"])),
                ("$[5:]", json!(["f", "g"])),
                ("$[1:5:2]", json!(["b", "d"])),
                ("$[5:1:-2]", json!(["f", "d"])),
                ("$[::-1]", json!(["g", "f", "e", "d", "c", "b", "a"])),
            ],
        );
        // 2.3.5.3 filter selector
        let filter_document = json!({
            "a": [3, 5, 1, 2, 4, 6, { "b": "j" }, { "b": "k" }, { "b": {} }, { "b": "kilo" }],
            "o": { "p": 1, "q": 2, "r": 3, "s": 5, "t": { "u": 6 } },
            "e": "f"
        });
        let a = filter_document["a"].clone();
        check(
            &filter_document,
            &[
                ("$.a[?@.b == 'kilo']", json!([{ "b": "kilo" }])),
                ("$.a[?(@.b == 'kilo')]", json!([{ "b": "kilo" }])),
                ("$.a[?@>3.5]", json!([5, 4, 6])),
                (
                    "$.a[?@.b]",
                    json!([{ "b": "j" }, { "b": "k" }, { "b": {} }, { "b": "kilo" }]),
                ),
                ("$[?@.*]", json!([a, filter_document["o"]])),
                ("$[?@[?@.b]]", json!([a])),
                ("$.o[?@<3, ?@<3]", json!([1, 2, 1, 2])),
                (r#"$.a[?@<2 || @.b == "k"]"#, json!([1, { "b": "k" }])),
                (r#"$.a[?match(@.b, "[jk]")]"#, json!([{ "b": "j" }, { "b": "k" }])),
                (
                    r#"$.a[?search(@.b, "[jk]")]"#,
                    json!([{ "b": "j" }, { "b": "k" }, { "b": "kilo" }]),
                ),
                ("$.o[?@>1 && @<4]", json!([2, 3])),
                ("$.o[?@.u || @.x]", json!([{ "u": 6 }])),
                ("$.a[?@.b == $.x]", json!([3, 5, 1, 2, 4, 6])),
                ("$.a[?@ == @]", a.clone()),
            ],
        );
        // 2.4 function extensions
        check(
            &json!([{ "a": "xy" }, { "a": "x" }, { "a": [1, 2, 3] }, { "a": {} }]),
            &[
                ("$[?length(@.a) >= 2]", json!([{ "a": "xy" }, { "a": [1, 2, 3] }])),
                ("$[?count(@.*) == 1].a", json!(["xy", "x", [1, 2, 3], {}])),
                ("$[?value(@.a) == 'x']", json!([{ "a": "x" }])),
            ],
        );
        // 2.5.2.3 descendant segment (the examples with a fixed order)
        check(
            &json!({ "o": { "j": 1, "k": 2 }, "a": [5, 3, [{ "j": 4 }, { "k": 6 }]] }),
            &[("$..j", json!([1, 4])), ("$..[0]", json!([5, { "j": 4 }]))],
        );
        // 2.6.1 semantics of null
        check(
            &json!({ "a": null, "b": [null], "c": [{}], "null": 1 }),
            &[
                ("$.a", json!([null])),
                ("$.a[0]", json!([])),
                ("$.a.d", json!([])),
                ("$.b[0]", json!([null])),
                ("$.b[*]", json!([null])),
                ("$.b[?@]", json!([null])),
                ("$.b[?@==null]", json!([null])),
                ("$.c[?@.d==null]", json!([])),
                ("$.null", json!([1])),
            ],
        );
    }

    #[test]
    fn invalid_paths_are_compile_errors_with_a_place() {
        for path in [
            " $",
            "$ ",
            "$.1",
            "$[",
            "$..",
            "$[0 2]",
            "$[?length(@.*) < 3]",
            "$[?count(1) == 1]",
            "$[?match(@.a, 'x') == true]",
            "d.results",
        ] {
            let error = compile(path).expect_err(path);
            assert!(error.range.is_some(), "{path}: no range");
        }
        insta::assert_snapshot!(compile("d.results").unwrap_err().help.unwrap(), @"a JSONPath starts with `$`, the root of the value: `$.name`, `$[0]`, `$..id`");
        let error = compile("$.a[").unwrap_err();
        assert_eq!(error.range, Some(3..4));
        insta::assert_snapshot!(error.message, @"invalid JSONPath: unexpected text");
    }

    #[test]
    fn an_undefined_value_inside_the_data_is_an_error() {
        let value = crate::Value::from_pairs([("a", crate::Value::UNDEFINED)]);
        let message = compile("$.a").unwrap().query(&value).unwrap_err().message;
        assert_eq!(message, "the value at `$.a` is undefined");
    }
}
