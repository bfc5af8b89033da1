//! JSON data in and out of template values.
//!
//! Data enters once (a step's output becomes a [`Value`] when it is stored in the scope) and
//! leaves once (a rendered parameter, a pipeline's result). Maps keep their key order.

use minijinja::value::ValueKind;
use serde_json::Value as Json;

use crate::Value;
use crate::error::EvalError;

/// A JSON value as a template value (maps keep their order; strings are shared, not copied
/// again when the value is cloned).
pub fn from_json(json: &Json) -> Value {
    match json {
        Json::Null => Value::from(()),
        Json::Bool(flag) => Value::from(*flag),
        Json::Number(number) => {
            if let Some(int) = number.as_i64() {
                Value::from(int)
            } else if let Some(uint) = number.as_u64() {
                Value::from(uint)
            } else {
                Value::from(number.as_f64().unwrap_or(f64::NAN))
            }
        }
        Json::String(text) => Value::from(text.as_str()),
        Json::Array(items) => items.iter().map(from_json).collect(),
        Json::Object(map) => Value::from_pairs(map.iter().map(|(key, value)| (key.as_str(), from_json(value)))),
    }
}

/// A template value as JSON. An undefined value anywhere in it is an error naming its path
/// (`$.records[2].email`), never a silent `null`.
pub fn to_json(value: &Value) -> Result<Json, EvalError> {
    let mut path = String::from("$");
    convert(value, &mut path)
}

fn convert(value: &Value, path: &mut String) -> Result<Json, EvalError> {
    // Shared JSON (a module's output, or part of it) is JSON already.
    if let Some(node) = value.downcast_object_ref::<crate::shared::JsonNode>() {
        return Ok(node.json().clone());
    }
    Ok(match value.kind() {
        ValueKind::Undefined => return Err(EvalError::new(undefined_at(path))),
        ValueKind::None => Json::Null,
        ValueKind::Bool => Json::Bool(value.is_true()),
        ValueKind::Number => number(value),
        ValueKind::String => Json::String(value.as_str().unwrap_or_default().to_owned()),
        ValueKind::Bytes => Json::String(String::from_utf8_lossy(value.as_bytes().unwrap_or_default()).into_owned()),
        ValueKind::Seq | ValueKind::Iterable => {
            let items = value
                .try_iter()
                .map_err(|error| EvalError::new(unreadable("list", path, error)))?;
            let mut out = Vec::with_capacity(value.len().unwrap_or(0));
            for (index, item) in items.enumerate() {
                let mark = path.len();
                push_index(path, index);
                out.push(convert(&item, path)?);
                path.truncate(mark);
            }
            Json::Array(out)
        }
        ValueKind::Map if let Some(entries) = value.downcast_object_ref::<indexmap::IndexMap<Value, Value>>() => {
            // A map a template or a transform built: its entries in order, each value where
            // it is (no lookup by key).
            let mut out = serde_json::Map::with_capacity(entries.len());
            for (key, item) in entries {
                let name = key_name(key);
                let mark = path.len();
                push_key(path, &name);
                let converted = convert(item, path)?;
                path.truncate(mark);
                out.insert(name, converted);
            }
            Json::Object(out)
        }
        ValueKind::Map => {
            let keys = value
                .try_iter()
                .map_err(|error| EvalError::new(unreadable("map", path, error)))?;
            let mut out = serde_json::Map::with_capacity(value.len().unwrap_or(0));
            for key in keys {
                let item = value.get_item(&key).unwrap_or_default();
                let name = key_name(&key);
                let mark = path.len();
                push_key(path, &name);
                let converted = convert(&item, path)?;
                path.truncate(mark);
                out.insert(name, converted);
            }
            Json::Object(out)
        }
        // Functions, macros and other opaque values have no JSON form.
        ValueKind::Plain | ValueKind::Invalid | _ => return Err(EvalError::new(no_json_form(path, value))),
    })
}

pub(crate) fn undefined_at(path: &str) -> String {
    format!("the value at `{path}` is undefined")
}

/// `what` is `list` or `map`.
pub(crate) fn unreadable(what: &str, path: &str, error: minijinja::Error) -> String {
    format!("cannot read the {what} at `{path}`: {error}")
}

pub(crate) fn no_json_form(path: &str, value: &Value) -> String {
    format!("the value at `{path}` ({}) has no JSON form", value.kind())
}

/// A map key as a JSON object's key: a string as it is, anything else written out.
pub(crate) fn key_name(key: &Value) -> String {
    match key.as_str() {
        Some(name) => name.to_owned(),
        None => key.to_string(),
    }
}

pub(crate) fn push_index(path: &mut String, index: usize) {
    use std::fmt::Write as _;
    let _ = write!(path, "[{index}]");
}

pub(crate) fn number(value: &Value) -> Json {
    if let Some(int) = value.as_i64() {
        return Json::from(int);
    }
    if let Ok(uint) = u64::try_from(value.clone()) {
        return Json::from(uint);
    }
    match f64::try_from(value.clone()) {
        // JSON has no NaN or infinity: those become null, as JSON.stringify does.
        Ok(float) => serde_json::Number::from_f64(float).map_or(Json::Null, Json::Number),
        Err(_) => Json::Null,
    }
}

pub(crate) fn push_key(path: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        path.push('.');
        path.push_str(key);
    } else {
        path.push_str(&format!("[{}]", Json::String(key.to_owned())));
    }
}
