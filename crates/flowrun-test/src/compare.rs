//! Expected values against actual ones, difference by difference, each named by its path
//! (`$.output.items[2].email`).

use flowrun_flow::model::{Expect, ExpectedStatus, MatchMode};
use serde_json::{Map, Value as Json};

use crate::case::Observed;

/// One difference between what a case expects (or its snapshot holds) and what the run did.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// Where: `$.output.created`, `$.steps.create.status`, `$.calls.create[0].payload`.
    pub path: String,
    /// `None`: the run has a value where nothing was expected (an extra key).
    pub expected: Option<Json>,
    /// `None`: the run has nothing there (a missing key, a missing list item).
    pub actual: Option<Json>,
    /// Context that helps, e.g. the run's error when the status differs.
    pub note: Option<String>,
    /// Whether the expected value comes from the stored snapshot.
    pub from_snapshot: bool,
}

/// Every difference between `expect` and the run. Without `expect.status`, the run must end
/// `success`.
pub(crate) fn expectations(expect: Option<&Expect>, observed: &Observed) -> Vec<Mismatch> {
    let default = Expect::default();
    let expect = expect.unwrap_or(&default);
    let mode = expect.match_mode.unwrap_or_default();
    let mut out = Vec::new();

    let status = expect.status.unwrap_or(ExpectedStatus::Success).as_str();
    if observed.status != status {
        out.push(Mismatch {
            path: "$.status".to_owned(),
            expected: Some(Json::from(status)),
            actual: Some(Json::from(observed.status.as_str())),
            note: observed.error.as_ref().map(describe_error),
            from_snapshot: false,
        });
    }
    if let Some(expected) = &expect.output {
        let actual = observed.output.clone().unwrap_or(Json::Null);
        values("$.output", expected, &actual, mode, &mut out);
    }
    if let Some(expected) = &expect.error {
        let actual = observed.error.clone().unwrap_or(Json::Null);
        values("$.error", expected, &actual, MatchMode::Subset, &mut out);
    }
    for (step, expected) in &expect.steps {
        let actual = observed.steps.get(step);
        if actual.map(String::as_str) != Some(expected.status.as_str()) {
            out.push(Mismatch {
                path: format!("{}.status", child("$.steps", step)),
                expected: Some(Json::from(expected.status.as_str())),
                actual: actual.map(|status| Json::from(status.as_str())),
                note: actual
                    .is_none()
                    .then(|| "the step did not run (it is an on_failure step of a run that did not fail)".to_owned()),
                from_snapshot: false,
            });
        }
    }
    for (step, expected) in &expect.calls {
        let actual = observed.calls.get(step).cloned().unwrap_or_default();
        let path = child("$.calls", step);
        values(
            &path,
            &Json::Array(expected.clone()),
            &Json::Array(actual),
            mode,
            &mut out,
        );
    }
    if let Some(expected) = &expect.incomplete {
        values(
            "$.incomplete",
            &Json::Array(expected.clone()),
            &Json::Array(observed.incomplete.clone()),
            MatchMode::Subset,
            &mut out,
        );
    }
    out
}

/// Compares `expected` with `actual` at `path`, adding every difference to `out`. `subset`
/// lets objects have keys that are not expected; lists must have the expected length either
/// way. Numbers are equal when their values are (`1` and `1.0`).
pub(crate) fn values(path: &str, expected: &Json, actual: &Json, mode: MatchMode, out: &mut Vec<Mismatch>) {
    match (expected, actual) {
        (Json::Object(expected), Json::Object(actual)) => objects(path, expected, actual, mode, out),
        (Json::Array(expected), Json::Array(actual)) => {
            for (index, (expected, actual)) in expected.iter().zip(actual).enumerate() {
                values(&format!("{path}[{index}]"), expected, actual, mode, out);
            }
            if expected.len() > actual.len() {
                for (index, expected) in expected.iter().enumerate().skip(actual.len()) {
                    out.push(mismatch(format!("{path}[{index}]"), Some(expected), None));
                }
            } else {
                for (index, actual) in actual.iter().enumerate().skip(expected.len()) {
                    out.push(mismatch(format!("{path}[{index}]"), None, Some(actual)));
                }
            }
        }
        (Json::Number(expected_number), Json::Number(actual_number)) => {
            if expected_number != actual_number && expected_number.as_f64() != actual_number.as_f64() {
                out.push(mismatch(path.to_owned(), Some(expected), Some(actual)));
            }
        }
        _ if expected == actual => {}
        _ => out.push(mismatch(path.to_owned(), Some(expected), Some(actual))),
    }
}

fn objects(
    path: &str,
    expected: &Map<String, Json>,
    actual: &Map<String, Json>,
    mode: MatchMode,
    out: &mut Vec<Mismatch>,
) {
    for (key, expected) in expected {
        let child = child(path, key);
        match actual.get(key) {
            Some(actual) => values(&child, expected, actual, mode, out),
            None => out.push(mismatch(child, Some(expected), None)),
        }
    }
    if mode == MatchMode::Exact {
        for (key, actual) in actual {
            if !expected.contains_key(key) {
                out.push(mismatch(child(path, key), None, Some(actual)));
            }
        }
    }
}

fn mismatch(path: String, expected: Option<&Json>, actual: Option<&Json>) -> Mismatch {
    Mismatch {
        path,
        expected: expected.cloned(),
        actual: actual.cloned(),
        note: None,
        from_snapshot: false,
    }
}

/// The path of `key` under `parent`: `parent.name`, or `parent["two words"]` when the key is
/// not a plain name.
pub(crate) fn child(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        format!("{parent}.{key}")
    } else {
        format!("{parent}[{}]", Json::from(key))
    }
}

/// The run's error in a line: `step `create`: HTTP 500 …`.
fn describe_error(error: &Json) -> String {
    let message = error.get("message").and_then(Json::as_str).unwrap_or("no message");
    match error.get("step").and_then(Json::as_str) {
        Some(step) => format!("the run's error: step `{step}`: {message}"),
        None => format!("the run's error: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn diff(expected: Json, actual: Json, mode: MatchMode) -> Vec<String> {
        let mut out = Vec::new();
        values("$", &expected, &actual, mode, &mut out);
        out.into_iter()
            .map(|m| format!("{} {:?} {:?}", m.path, m.expected, m.actual))
            .collect()
    }

    #[test]
    fn equal_values_have_no_difference() {
        assert!(
            diff(
                json!({"a": [1, {"b": null}]}),
                json!({"a": [1.0, {"b": null}]}),
                MatchMode::Exact
            )
            .is_empty()
        );
    }

    #[test]
    fn exact_reports_extra_keys_and_subset_does_not() {
        assert_eq!(
            diff(json!({"a": 1}), json!({"a": 1, "b": 2}), MatchMode::Exact),
            vec!["$.b None Some(Number(2))"]
        );
        assert!(diff(json!({"a": 1}), json!({"a": 1, "b": 2}), MatchMode::Subset).is_empty());
    }

    #[test]
    fn lists_keep_their_length_in_subset_mode() {
        assert_eq!(
            diff(
                json!([{"a": 1}, {"a": 2}]),
                json!([{"a": 1, "x": 0}]),
                MatchMode::Subset
            ),
            vec!["$[1] Some(Object {\"a\": Number(2)}) None"]
        );
        assert_eq!(
            diff(json!([]), json!([true]), MatchMode::Subset),
            vec!["$[0] None Some(Bool(true))"]
        );
    }

    #[test]
    fn paths_name_nested_values_and_odd_keys() {
        assert_eq!(
            diff(
                json!({"items": [{"two words": "x"}]}),
                json!({"items": [{"two words": "y"}]}),
                MatchMode::Exact
            ),
            vec!["$.items[0][\"two words\"] Some(String(\"x\")) Some(String(\"y\"))"]
        );
        assert_eq!(
            diff(json!({"a": 1}), json!({}), MatchMode::Subset),
            vec!["$.a Some(Number(1)) None"]
        );
    }

    #[test]
    fn types_differ() {
        assert_eq!(
            diff(json!("1"), json!(1), MatchMode::Exact),
            vec!["$ Some(String(\"1\")) Some(Number(1))"]
        );
    }
}
