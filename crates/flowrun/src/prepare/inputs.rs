//! `--input NAME=VALUE`: each value converted to the type the flow declares for it, defaults
//! applied, and every problem reported at once.

use std::path::PathBuf;

use flowrun_flow::model::{Flow, InputType};
use flowrun_flow::suggest::help_for_unknown;
use serde_json::{Map, Number, Value as Json};

/// Why the inputs given on the command line cannot start a run (exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// An `--input` without `=`.
    #[error("`--input {given}`: expected NAME=VALUE (e.g. --input since=2024-01-01)")]
    Malformed { given: String },
    /// A name the flow does not declare; `help` is a did-you-mean or the declared names.
    #[error("unknown input `{name}`{}", help.as_ref().map(|help| format!("; {help}")).unwrap_or_default())]
    Unknown { name: String, help: Option<String> },
    /// The same name given twice: which value is meant is not guessed.
    #[error("input `{name}` is given more than once")]
    Repeated { name: String },
    /// A value that is not of the declared type.
    #[error(
        "input `{name}` must be {}, not `{given}`{}; e.g. --input {name}={}",
        article(*kind),
        reason.as_ref().map(|reason| format!(" ({reason})")).unwrap_or_default(),
        example(*kind)
    )]
    WrongType {
        name: String,
        kind: InputType,
        /// The value as given, shortened when long.
        given: String,
        /// What the JSON parser said, for objects and arrays.
        reason: Option<String>,
    },
    /// `NAME=@FILE` for an object or array input, and the file cannot be read.
    #[error("input `{name}`: cannot read {}: {reason}", path.display())]
    File {
        name: String,
        path: PathBuf,
        reason: String,
    },
    /// A required input without a default that was not given.
    #[error("missing required input `{name}` ({}); pass --input {name}={}", kind.as_str(), example(*kind))]
    Missing { name: String, kind: InputType },
}

/// The run's inputs from `--input NAME=VALUE` arguments, in the order the flow declares them.
///
/// - A `string` input takes the text as it is (`--input note=` is the empty string).
/// - `integer`, `number` and `boolean` are parsed (`true`/`false`; numbers must be finite).
/// - `object` and `array` are parsed as JSON; `NAME=@path.json` reads the JSON from a file.
/// - An input not given takes its `default`; one without a default is left out (templates see
///   it as undefined), unless it is `required`, which is an error.
///
/// Every problem is reported, in the order of the arguments, then missing inputs in the order
/// of the flow.
pub fn parse_inputs(flow: &Flow, given: &[String]) -> Result<Map<String, Json>, Vec<InputError>> {
    let mut errors = Vec::new();
    let mut values: Map<String, Json> = Map::new();
    let mut seen: Vec<&str> = Vec::new();
    for argument in given {
        let Some((name, text)) = argument.split_once('=') else {
            errors.push(InputError::Malformed {
                given: shorten(argument),
            });
            continue;
        };
        let name = name.trim();
        if seen.contains(&name) {
            if !errors
                .iter()
                .any(|error| matches!(error, InputError::Repeated { name: repeated } if repeated == name))
            {
                errors.push(InputError::Repeated { name: name.to_owned() });
            }
            continue;
        }
        seen.push(name);
        let Some(spec) = flow.inputs.get(name) else {
            let help = help_for_unknown(name, flow.inputs.keys().map(String::as_str), "the flow's inputs")
                .or_else(|| Some("the flow declares no inputs".to_owned()));
            errors.push(InputError::Unknown {
                name: name.to_owned(),
                help,
            });
            continue;
        };
        match convert(name, spec.kind, text) {
            Ok(value) => {
                values.insert(name.to_owned(), value);
            }
            Err(error) => errors.push(error),
        }
    }

    let mut inputs = Map::new();
    for (name, spec) in &flow.inputs {
        if let Some(value) = values.remove(name) {
            inputs.insert(name.clone(), value);
        } else if let Some(default) = &spec.default {
            inputs.insert(name.clone(), default.clone());
        } else if spec.required && !seen.contains(&name.as_str()) {
            errors.push(InputError::Missing {
                name: name.clone(),
                kind: spec.kind,
            });
        }
    }
    if errors.is_empty() { Ok(inputs) } else { Err(errors) }
}

/// One value, converted to its declared type.
fn convert(name: &str, kind: InputType, text: &str) -> Result<Json, InputError> {
    let wrong = |reason: Option<String>| InputError::WrongType {
        name: name.to_owned(),
        kind,
        given: shorten(text),
        reason,
    };
    match kind {
        InputType::String => Ok(Json::String(text.to_owned())),
        InputType::Integer => parse_integer(text.trim()).ok_or_else(|| wrong(None)),
        InputType::Number => parse_number(text.trim()).ok_or_else(|| wrong(None)),
        InputType::Boolean => match text.trim() {
            "true" => Ok(Json::Bool(true)),
            "false" => Ok(Json::Bool(false)),
            _ => Err(wrong(None)),
        },
        InputType::Object | InputType::Array => {
            let (json_text, from_file) = match text.strip_prefix('@') {
                Some(path) => {
                    let path = PathBuf::from(path);
                    let read = std::fs::read_to_string(&path).map_err(|error| InputError::File {
                        name: name.to_owned(),
                        path: path.clone(),
                        reason: error.to_string(),
                    })?;
                    (read, true)
                }
                None => (text.to_owned(), false),
            };
            let value: Json = serde_json::from_str(&json_text).map_err(|error| {
                let reason = if from_file {
                    format!("the file is not JSON: {error}")
                } else {
                    format!("not JSON: {error}")
                };
                wrong(Some(reason))
            })?;
            if kind.accepts(&value) {
                Ok(value)
            } else {
                Err(wrong(Some(format!("JSON {}", json_kind(&value)))))
            }
        }
    }
}

fn parse_integer(text: &str) -> Option<Json> {
    let text = text.strip_prefix('+').unwrap_or(text);
    if let Ok(integer) = text.parse::<i64>() {
        return Some(Json::from(integer));
    }
    text.parse::<u64>().ok().map(Json::from)
}

/// A finite number; an integer stays an integer (`3`, not `3.0`).
fn parse_number(text: &str) -> Option<Json> {
    if let Some(integer) = parse_integer(text) {
        return Some(integer);
    }
    // Rust also reads `inf`, `NaN` and `infinity`, which JSON has no number for.
    if !text.bytes().any(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let number: f64 = text.parse().ok()?;
    Number::from_f64(number).map(Json::Number)
}

fn json_kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

fn article(kind: InputType) -> &'static str {
    match kind {
        InputType::String => "a string",
        InputType::Integer => "an integer",
        InputType::Number => "a number",
        InputType::Boolean => "a boolean (`true` or `false`)",
        InputType::Object => "a JSON object",
        InputType::Array => "a JSON array",
    }
}

fn example(kind: InputType) -> &'static str {
    match kind {
        InputType::String => "text",
        InputType::Integer => "10",
        InputType::Number => "2.5",
        InputType::Boolean => "true",
        InputType::Object => r#"'{"key": "value"}' (or =@file.json)"#,
        InputType::Array => "'[1, 2]' (or =@file.json)",
    }
}

/// A value as shown in an error: at most 60 characters.
fn shorten(text: &str) -> String {
    const MAX: usize = 60;
    if text.chars().count() <= MAX {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(MAX).collect();
    short.push('…');
    short
}
