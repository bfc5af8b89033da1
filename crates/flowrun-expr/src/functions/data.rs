//! Lists and maps: `jsonpath`, `keys`, `values`, `pick`, `omit`, `get`, `compact`,
//! `flatten`, `coalesce`, `if_empty`, `merge`, `to_number`, `max`, `min`, `sum`, and the
//! `empty` test.

use std::cmp::Ordering;
use std::sync::LazyLock;

use indexmap::IndexMap;
use minijinja::value::{Rest, ValueKind};
use minijinja::{Environment, Error, State, Value};

use super::{BoundedCache, Kind, add_filter_and_function, expect_list, expect_map, expect_str, failure};
use crate::jsonpath::{self, JsonPath};

pub(super) fn register(env: &mut Environment<'static>) {
    add_filter_and_function(env, "jsonpath", query_jsonpath);
    add_filter_and_function(env, "keys", keys);
    add_filter_and_function(env, "values", values);
    add_filter_and_function(env, "pick", pick);
    add_filter_and_function(env, "omit", omit);
    add_filter_and_function(env, "get", get);
    add_filter_and_function(env, "compact", compact);
    add_filter_and_function(env, "flatten", flatten);
    add_filter_and_function(env, "coalesce", coalesce);
    add_filter_and_function(env, "if_empty", if_empty);
    add_filter_and_function(env, "merge", merge);
    add_filter_and_function(env, "to_number", to_number);
    env.add_function("max", max);
    env.add_function("min", min);
    env.add_function("sum", sum);
    env.add_test("empty", is_empty);
}

/// Compiled paths: `jsonpath()` runs once per item with the same few paths.
static JSONPATHS: LazyLock<BoundedCache<JsonPath>> = LazyLock::new(|| BoundedCache::new(256));

/// `jsonpath(value, "$.d.results[*]")`: the RFC 9535 node list, as a list.
fn query_jsonpath(state: &State<'_, '_>, value: &Value, path: &Value) -> Result<Value, Error> {
    let path = expect_str("jsonpath", "the path", path)?;
    let compiled = JSONPATHS.get_or_compile(path, jsonpath::compile).map_err(|error| {
        let at = error
            .range
            .map(|range| format!(" at character {} of the path", range.start + 1));
        let help = error.help.map(|help| format!("; {help}"));
        failure(
            "jsonpath",
            format_args!(
                "{}{}{}",
                error.message,
                at.unwrap_or_default(),
                help.unwrap_or_default()
            ),
        )
    })?;
    let json = crate::to_json(value).map_err(|error| failure("jsonpath", error.message))?;
    let nodes = compiled.query_json(&json);
    state.consume_fuel(nodes.len().map_or(0, |n| n as u64))?;
    Ok(nodes)
}

/// `keys(map)`: the keys, in order.
fn keys(map: &Value) -> Result<Value, Error> {
    Ok(expect_map("keys", "the value", map)?
        .into_iter()
        .map(|(key, _)| key)
        .collect())
}

/// `values(map)`: the values, in key order.
fn values(map: &Value) -> Result<Value, Error> {
    Ok(expect_map("values", "the value", map)?
        .into_iter()
        .map(|(_, value)| value)
        .collect())
}

/// The key names of `pick` and `omit`: strings, or lists of strings.
fn key_names(function: &str, names: &[Value]) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for name in names {
        if name.kind() == ValueKind::Seq {
            for inner in expect_list(function, "a key", name)? {
                out.push(expect_str(function, "a key", &inner)?.to_owned());
            }
        } else {
            out.push(expect_str(function, "a key", name)?.to_owned());
        }
    }
    Ok(out)
}

/// `pick(map, "a", "b")` or `pick(map, ["a", "b"])`: only those keys, in the order given
/// (missing keys are left out).
fn pick(map: &Value, names: Rest<Value>) -> Result<Value, Error> {
    let entries: IndexMap<String, Value> = expect_map("pick", "the value", map)?
        .into_iter()
        .map(|(key, value)| (key.to_string(), value))
        .collect();
    let names = key_names("pick", &names)?;
    Ok(Value::from_pairs(names.into_iter().filter_map(|name| {
        entries.get(&name).cloned().map(|value| (name, value))
    })))
}

/// `omit(map, "a", "b")` or `omit(map, ["a", "b"])`: every key but those, in order.
fn omit(map: &Value, names: Rest<Value>) -> Result<Value, Error> {
    let names = key_names("omit", &names)?;
    let entries = expect_map("omit", "the value", map)?;
    Ok(Value::from_pairs(entries.into_iter().filter(|(key, _)| {
        !names.iter().any(|name| key.as_str() == Some(name.as_str()))
    })))
}

/// `get(value, "a.b.0.c", default)`: the value at a dotted path (numbers index lists,
/// negative from the end), or `default` (none) when any step is missing. The path may also
/// be a list of keys, for keys that contain dots.
fn get(value: &Value, path: &Value, default: Option<Value>) -> Result<Value, Error> {
    let steps: Vec<Value> = if path.kind() == ValueKind::Seq {
        expect_list("get", "the path", path)?
    } else if path.is_number() {
        vec![path.clone()]
    } else {
        let text = expect_str("get", "the path", path)?;
        if text.is_empty() {
            Vec::new()
        } else {
            text.split('.').map(Value::from).collect()
        }
    };
    let missing = || default.clone().unwrap_or(Value::from(()));
    let mut current = value.clone();
    for step in &steps {
        let next = match current.kind() {
            ValueKind::Map => item_of(&current, step).or_else(|| {
                // A number step also names a map key written as digits.
                step.is_number()
                    .then(|| item_of(&current, &Value::from(step.to_string())))
                    .flatten()
            }),
            // minijinja counts a negative index from the end.
            ValueKind::Seq => index_of(step).and_then(|index| item_of(&current, &Value::from(index))),
            _ => None,
        };
        match next {
            Some(next) if !next.is_undefined() => current = next,
            _ => return Ok(missing()),
        }
    }
    if current.is_undefined() {
        return Ok(missing());
    }
    Ok(current)
}

fn item_of(container: &Value, key: &Value) -> Option<Value> {
    container.get_item(key).ok().filter(|item| !item.is_undefined())
}

fn index_of(step: &Value) -> Option<i64> {
    match step.as_str() {
        Some(text) => text.parse().ok(),
        None => step.as_i64(),
    }
}

/// True for undefined, none, `""`, `[]` and `{}`: what `is empty`, `if_empty` and `compact`
/// treat as nothing. `0` and `false` are values.
fn is_empty(value: &Value) -> bool {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => true,
        ValueKind::String | ValueKind::Bytes | ValueKind::Seq | ValueKind::Map => value.len() == Some(0),
        _ => false,
    }
}

/// `compact(list)`: the list without none, undefined and `""` elements.
fn compact(list: &Value) -> Result<Value, Error> {
    Ok(expect_list("compact", "the value", list)?
        .into_iter()
        .filter(|item| !(item.is_undefined() || item.is_none() || item.as_str() == Some("")))
        .collect())
}

/// `flatten(list)`: lists inside the list are spliced in, one level; other elements stay.
fn flatten(state: &State<'_, '_>, list: &Value) -> Result<Value, Error> {
    let mut out = Vec::new();
    for item in expect_list("flatten", "the value", list)? {
        if item.kind() == ValueKind::Seq {
            let inner = expect_list("flatten", "an element", &item)?;
            state.consume_fuel(inner.len() as u64)?;
            out.extend(inner);
        } else {
            out.push(item);
        }
    }
    Ok(Value::from(out))
}

/// `coalesce(a, b, …)`: the first argument that is defined, not none and not `""`; none
/// when there is none.
fn coalesce(candidates: Rest<Value>) -> Value {
    candidates
        .iter()
        .find(|value| !(value.is_undefined() || value.is_none() || value.as_str() == Some("")))
        .cloned()
        .unwrap_or(Value::from(()))
}

/// `if_empty(value, fallback)`: `fallback` when the value is empty (see [`is_empty`]).
fn if_empty(value: &Value, fallback: &Value) -> Value {
    if is_empty(value) {
        fallback.clone()
    } else {
        value.clone()
    }
}

/// `merge(a, b, …)`: one map with the keys of all; a later map's value wins, a key keeps
/// the place where it first appears. None arguments are skipped.
fn merge(maps: Rest<Value>) -> Result<Value, Error> {
    let mut out: IndexMap<Value, Value> = IndexMap::with_capacity(maps.first().and_then(Value::len).unwrap_or(0) + 1);
    for (position, map) in maps.iter().enumerate() {
        if map.is_none() {
            continue;
        }
        let what = if position == 0 { "the value" } else { "each argument" };
        for (key, value) in expect_map("merge", what, map)? {
            out.insert(key, value);
        }
    }
    // The map itself is the value's object: `from_pairs` would hash every key again.
    Ok(Value::from_object(out))
}

/// `to_number(value, decimal=".")`: a number from a string (`" 42 "` → 42, `"3.5"` → 3.5,
/// `"1.234,5"` with `","` → 1234.5); numbers stay; none and `""` give none.
fn to_number(value: &Value, decimal: Option<&str>) -> Result<Value, Error> {
    if value.is_number() {
        return Ok(value.clone());
    }
    if value.is_none() {
        return Ok(Value::from(()));
    }
    let text = expect_str("to_number", "the value", value)?.trim();
    if text.is_empty() {
        return Ok(Value::from(()));
    }
    let normalized: String = match decimal {
        None | Some(".") => text.to_owned(),
        Some(",") => text
            .chars()
            .filter(|c| !matches!(c, '.' | ' ' | '\u{a0}' | '\''))
            .map(|c| if c == ',' { '.' } else { c })
            .collect(),
        Some(_) => return Err(failure("to_number", "the decimal separator must be \".\" or \",\"")),
    };
    if let Ok(int) = normalized.parse::<i64>() {
        return Ok(Value::from(int));
    }
    match normalized.parse::<f64>() {
        // Rust also reads "inf" and "NaN": JSON has no such numbers.
        Ok(float) if float.is_finite() => Ok(Value::from(float)),
        _ => Err(failure("to_number", "the string is not a number")),
    }
}

/// The values `max`, `min` and `sum` work on: the items of a lone list argument, or the
/// arguments themselves; none and undefined are skipped.
fn operands(function: &str, args: &[Value]) -> Result<Vec<Value>, Error> {
    let items = match args {
        [] => return Err(failure(function, "needs a list or at least one value")),
        [list] if matches!(list.kind(), ValueKind::Seq | ValueKind::Iterable) => {
            expect_list(function, "the list", list)?
        }
        _ => args.to_vec(),
    };
    Ok(items
        .into_iter()
        .filter(|item| !(item.is_none() || item.is_undefined()))
        .collect())
}

/// The greatest (or least) of numbers or of strings; mixing them is an error.
fn extreme(function: &str, args: &[Value], wanted: Ordering) -> Result<Value, Error> {
    let items = operands(function, args)?;
    let mut best: Option<Value> = None;
    for item in items {
        let comparable = item.is_number() || item.as_str().is_some();
        if !comparable {
            return Err(failure(
                function,
                format_args!("can compare numbers or strings, got {}", Kind(&item)),
            ));
        }
        if let Some(current) = &best {
            if current.is_number() != item.is_number() {
                return Err(failure(function, "cannot compare a number with a string"));
            }
            if item.cmp(current) == wanted {
                best = Some(item);
            }
        } else {
            best = Some(item);
        }
    }
    Ok(best.unwrap_or(Value::from(())))
}

/// `max(list)` or `max(a, b, …)`: the greatest number or string; none for no values.
fn max(args: Rest<Value>) -> Result<Value, Error> {
    extreme("max", &args, Ordering::Greater)
}

/// `min(list)` or `min(a, b, …)`: the least number or string; none for no values.
fn min(args: Rest<Value>) -> Result<Value, Error> {
    extreme("min", &args, Ordering::Less)
}

/// `sum(list)` or `sum(a, b, …)`: the total of numbers (an integer while every value is
/// one); 0 for no values.
fn sum(args: Rest<Value>) -> Result<Value, Error> {
    let mut int_total: Option<i64> = Some(0);
    let mut float_total = 0.0_f64;
    for (position, item) in operands("sum", &args)?.into_iter().enumerate() {
        if !item.is_number() {
            return Err(failure(
                "sum",
                format_args!("element {position} is {}, not a number", Kind(&item)),
            ));
        }
        let as_float = f64::try_from(item.clone()).unwrap_or(f64::NAN);
        float_total += as_float;
        int_total = match (int_total, item.is_integer().then(|| item.as_i64()).flatten()) {
            (Some(total), Some(int)) => total.checked_add(int),
            _ => None,
        };
    }
    Ok(match int_total {
        Some(total) => Value::from(total),
        None => Value::from(float_total),
    })
}
