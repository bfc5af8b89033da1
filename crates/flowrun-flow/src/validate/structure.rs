//! Structural checks: a subtree against a JSON Schema, each error turned into a diagnostic at
//! the exact key or value, with the wording and fix a person needs.

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

use crate::diagnostic::Diagnostic;
use crate::model::duration::DURATION_PATTERN;
use crate::model::{FLOW_ID_PATTERN, STEP_ID_PATTERN};
use crate::suggest::help_for_unknown;
use crate::yaml::{Node, NodeValue, Span};

/// What is being checked, for messages: "in `with` of step `create`".
pub(crate) struct Target<'a> {
    pub node: &'a Node,
    pub schema: &'a Value,
    pub validator: &'a Validator,
    /// Values that are templates (`"{{ … }}"`) are only known at run time: skip their errors.
    pub templates_allowed: bool,
    /// Appended to messages, e.g. " in `with` of `onecrm.search_records`".
    pub context: String,
    /// The key that holds `node` (`with`, `config`), where a key missing from it is reported.
    pub root_key: Option<Span>,
}

pub(crate) fn check(target: &Target<'_>) -> Vec<Diagnostic> {
    check_instance(target, &target.node.to_json())
}

/// As [`check`], with `target.node` already turned into JSON (the caller reuses it).
pub(crate) fn check_instance(target: &Target<'_>, instance: &Value) -> Vec<Diagnostic> {
    let errors: Vec<ValidationError<'_>> = target.validator.iter_errors(instance).collect();
    // A value of the wrong type also fails its `enum` or `pattern`: say only the first.
    let wrong_type: Vec<&str> = errors
        .iter()
        .filter(|error| matches!(error.kind(), ValidationErrorKind::Type { .. }))
        .map(|error| error.instance_path().as_str())
        .collect();
    let mut diagnostics = Vec::new();
    for error in &errors {
        let is_type = matches!(error.kind(), ValidationErrorKind::Type { .. });
        if !is_type && wrong_type.contains(&error.instance_path().as_str()) {
            continue;
        }
        report(target, error, &mut diagnostics);
    }
    diagnostics
}

fn report(target: &Target<'_>, error: &ValidationError<'_>, out: &mut Vec<Diagnostic>) {
    let pointer = error.instance_path().as_str();
    let Some((key, node)) = target.node.pointer(pointer) else {
        return;
    };
    if target.templates_allowed && is_under_template(target.node, pointer) {
        return;
    }
    let context = &target.context;
    // Where a value-level problem points: at the value, or at its key when the value is empty.
    let value_span = if matches!(node.value, NodeValue::Null) {
        key.map_or(node.span, |key| key.span)
    } else {
        node.span
    };
    let key_name = key.map(|key| key.name.as_str());
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed = allowed_properties(target.schema, error.schema_path().as_str());
            for name in unexpected {
                let span = node.entry(name).map_or(node.span, |(key, _)| key.span);
                out.push(unknown_key(name, span, &allowed, context));
            }
        }
        ValidationErrorKind::Required { property } => {
            let property = property.as_str().unwrap_or_default();
            // `stpes:` for `steps:` is one mistake: the unknown key's "did you mean" says it all.
            let misspelt =
                node.as_map().unwrap_or_default().iter().any(|(key, _)| {
                    key.name != property && crate::suggest::did_you_mean(&key.name, [property]).is_some()
                });
            if misspelt {
                return;
            }
            let parent_key = key
                .map(|key| key.span)
                .or(if pointer.is_empty() { target.root_key } else { None });
            let span = missing_key_span(parent_key, node);
            let whose = key_name.map(|name| format!(" in `{name}`")).unwrap_or_default();
            out.push(
                Diagnostic::error(
                    "missing-key",
                    span,
                    format!("missing required key `{property}`{whose}{context}"),
                )
                .with_label(format!("`{property}` is required here"))
                .with_help(format!("add `{property}: …`")),
            );
        }
        ValidationErrorKind::Type { kind } => {
            let expected = type_names(kind);
            let message = match (&node.value, key_name) {
                (NodeValue::Null, Some(name)) => format!("`{name}` has no value: expected {expected}{context}"),
                (_, Some(name)) => format!("`{name}` must be {expected}, found {}{context}", node.type_name()),
                _ => format!("expected {expected}, found {}{context}", node.type_name()),
            };
            out.push(
                Diagnostic::error("wrong-type", value_span, message)
                    .with_label(format!("expected {expected}"))
                    .with_help_opt(type_help(key_name, &expected)),
            );
        }
        ValidationErrorKind::Enum { options } => {
            let options: Vec<String> = options.as_array().into_iter().flatten().map(plain_literal).collect();
            let found = plain_literal(&node.to_json());
            let help = allowed_values_help(&found, &options, key_name);
            out.push(
                Diagnostic::error(
                    "invalid-value",
                    value_span,
                    format!("`{found}` is not an allowed value{context}"),
                )
                .with_label("not allowed here")
                .with_help_opt(help),
            );
        }
        ValidationErrorKind::Constant { expected_value } => {
            out.push(Diagnostic::error(
                "invalid-value",
                value_span,
                format!("expected {}{context}", display_literal(expected_value)),
            ));
        }
        ValidationErrorKind::Minimum { limit } => {
            let what = key_name
                .map(|name| format!("`{name}`"))
                .unwrap_or_else(|| "the value".to_owned());
            out.push(
                Diagnostic::error(
                    "invalid-value",
                    value_span,
                    format!("{what} must be at least {limit}, found {}{context}", node.to_json()),
                )
                .with_label(format!("at least {limit}"))
                .with_help(format!("use {limit} or more")),
            );
        }
        ValidationErrorKind::Pattern { pattern } => {
            out.push(pattern_error(pattern, node, value_span, key_name, context))
        }
        ValidationErrorKind::OneOfNotValid { context: branches } | ValidationErrorKind::AnyOf { context: branches } => {
            report_alternatives(target, pointer, node, value_span, branches, out);
        }
        ValidationErrorKind::MinProperties { .. } | ValidationErrorKind::MaxProperties { .. }
            if key_name == Some("trigger") =>
        {
            out.push(
                Diagnostic::error(
                    "invalid-value",
                    value_span,
                    "a trigger has exactly one key: `schedule`, `webhook` or a connector trigger",
                )
                .with_help("keep one trigger per flow; make a second flow for a second trigger"),
            );
        }
        _ => {
            let what = key_name.map(|name| format!("`{name}`: ")).unwrap_or_default();
            out.push(Diagnostic::error(
                "invalid-value",
                value_span,
                format!("{what}{error}{context}"),
            ));
        }
    }
}

/// The branch of a failed `oneOf`/`anyOf` the user most likely meant: of the branches whose
/// type matches and whose required keys are all there, the one with the fewest errors.
fn likely_branch<'e>(
    pointer: &str,
    compatible: &[&'e Vec<ValidationError<'static>>],
) -> Option<&'e Vec<ValidationError<'static>>> {
    let lacks_required = |errors: &&Vec<ValidationError<'static>>| {
        errors.iter().any(|error| {
            error.instance_path().as_str() == pointer && matches!(error.kind(), ValidationErrorKind::Required { .. })
        })
    };
    // One branch of the right type (an optional block: `anyOf [Block, null]`) is the one meant.
    if let [only] = compatible {
        return Some(only);
    }
    compatible
        .iter()
        .copied()
        .filter(|errors| !lacks_required(errors))
        .min_by_key(|errors| errors.len())
}

/// Where the values an error rejects sit, looking inside `oneOf`/`anyOf` for the branch the
/// user meant (so that one bad key does not condemn the whole block around it).
pub(crate) fn rejected_pointers(error: &ValidationError<'_>, out: &mut Vec<String>) {
    let pointer = error.instance_path().as_str();
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            out.extend(
                unexpected
                    .iter()
                    .map(|key| format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"))),
            );
        }
        // A malformed id is still a string: keep it so the step keeps its identity.
        ValidationErrorKind::Pattern { pattern } if pattern == FLOW_ID_PATTERN || pattern == STEP_ID_PATTERN => {}
        ValidationErrorKind::OneOfNotValid { context: branches } | ValidationErrorKind::AnyOf { context: branches } => {
            let compatible: Vec<&Vec<ValidationError<'static>>> = branches
                .iter()
                .filter(|errors| {
                    !errors.iter().any(|error| {
                        error.instance_path().as_str() == pointer
                            && matches!(error.kind(), ValidationErrorKind::Type { .. })
                    })
                })
                .collect();
            match likely_branch(pointer, &compatible) {
                Some(best) => best.iter().for_each(|error| rejected_pointers(error, out)),
                None => out.push(pointer.to_owned()),
            }
        }
        _ => out.push(pointer.to_owned()),
    }
}

/// When every branch is a fixed value (an enum whose values carry descriptions becomes a
/// `oneOf` of `const`s), all the values allowed; None when a branch fails for another reason.
fn allowed_values_only(pointer: &str, compatible: &[&Vec<ValidationError<'static>>]) -> Option<Vec<String>> {
    let mut allowed = Vec::new();
    for error in compatible.iter().copied().flatten() {
        if error.instance_path().as_str() != pointer {
            return None;
        }
        match error.kind() {
            ValidationErrorKind::Constant { expected_value } => allowed.push(plain_literal(expected_value)),
            ValidationErrorKind::Enum { options } => {
                allowed.extend(options.as_array().into_iter().flatten().map(plain_literal));
            }
            _ => return None,
        }
    }
    (!allowed.is_empty()).then_some(allowed)
}

/// `oneOf`/`anyOf` failed: pick the branch the user most likely meant and report its errors,
/// instead of "not valid under any of the schemas".
fn report_alternatives(
    target: &Target<'_>,
    pointer: &str,
    node: &Node,
    value_span: Span,
    branches: &[Vec<ValidationError<'static>>],
    out: &mut Vec<Diagnostic>,
) {
    let is_type_mismatch = |error: &ValidationError<'_>| {
        error.instance_path().as_str() == pointer && matches!(error.kind(), ValidationErrorKind::Type { .. })
    };
    let compatible: Vec<&Vec<ValidationError<'static>>> = branches
        .iter()
        .filter(|errors| !errors.iter().any(is_type_mismatch))
        .collect();
    if compatible.is_empty() {
        let mut expected: Vec<String> = Vec::new();
        for error in branches.iter().flatten() {
            if let (true, ValidationErrorKind::Type { kind }) = (is_type_mismatch(error), error.kind()) {
                let names = type_names(kind);
                if !expected.contains(&names) {
                    expected.push(names);
                }
            }
        }
        let expected = join_or(&expected);
        out.push(
            Diagnostic::error(
                "wrong-type",
                value_span,
                format!("expected {expected}, found {}{}", node.type_name(), target.context),
            )
            .with_label(format!("expected {expected}")),
        );
        return;
    }
    if let Some(allowed) = allowed_values_only(pointer, &compatible) {
        let found = plain_literal(&node.to_json());
        let key_name = target
            .node
            .pointer(pointer)
            .and_then(|(key, _)| key)
            .map(|key| key.name.as_str());
        let help = allowed_values_help(&found, &allowed, key_name);
        out.push(
            Diagnostic::error(
                "invalid-value",
                value_span,
                format!("`{found}` is not an allowed value{}", target.context),
            )
            .with_label("not allowed here")
            .with_help_opt(help),
        );
        return;
    }
    if let Some(best) = likely_branch(pointer, &compatible) {
        for error in best.iter() {
            report(target, error, out);
        }
        return;
    }
    // Every branch misses its own required key: the user wrote none of the keys that choose a
    // branch (an unknown pipeline operation, `on_error: { resme: … }`).
    let mut choices: Vec<String> = Vec::new();
    for error in compatible.iter().copied().flatten() {
        if let ValidationErrorKind::Required { property } = error.kind()
            && let Some(name) = property
                .as_str()
                .filter(|name| !choices.iter().any(|choice| choice == name))
        {
            choices.push(name.to_owned());
        }
    }
    let entries = node.as_map().unwrap_or_default();
    if entries.is_empty() {
        let choices: Vec<String> = choices.iter().map(|name| format!("`{name}`")).collect();
        out.push(Diagnostic::error(
            "missing-key",
            value_span,
            format!("expected one of the keys {}{}", choices.join(", "), target.context),
        ));
        return;
    }
    for (key, _) in entries.iter().filter(|(key, _)| !choices.contains(&key.name)) {
        out.push(unknown_key(&key.name, key.span, &choices, &target.context));
    }
}

/// "did you mean" or the allowed values; `on_error` also has a form that is not a word.
fn allowed_values_help(found: &str, allowed: &[String], key_name: Option<&str>) -> Option<String> {
    let help = help_for_unknown(found, allowed.iter().map(String::as_str), "allowed values")?;
    Some(if key_name == Some("on_error") {
        format!("{help}, or `{{ resume: <value> }}`")
    } else {
        help
    })
}

/// How to write a value of the expected type, for the keys people most often get wrong.
fn type_help(key_name: Option<&str>, expected: &str) -> Option<String> {
    Some(match (key_name?, expected) {
        ("steps" | "on_failure", _) => "write a list of steps, each starting with `- id: …`".to_owned(),
        ("flow", _) => "write the id as one word: `flow: orders-to-crm`".to_owned(),
        ("for_each", _) => "write a template giving a list, e.g. `for_each: \"{{ steps.fetch.output }}\"`".to_owned(),
        (_, "an integer") => "write a whole number without quotes, e.g. `4`".to_owned(),
        (_, "a list") => "write a list: `[a, b]` or one `- item` per line".to_owned(),
        (_, "a mapping") => "write `key: value` pairs, indented under the key".to_owned(),
        _ => return None,
    })
}

fn unknown_key(name: &str, span: Span, allowed: &[String], context: &str) -> Diagnostic {
    let help = help_for_unknown(name, allowed.iter().map(String::as_str), "allowed keys");
    Diagnostic::error("unknown-key", span, format!("unknown key `{name}`{context}"))
        .with_label("unknown key")
        .with_help_opt(help)
}

/// A missing key is reported at the mapping that lacks it: at the key that holds the mapping
/// when there is one, else at the mapping's first line.
fn missing_key_span(parent_key: Option<Span>, node: &Node) -> Span {
    if let Some(span) = parent_key {
        return span;
    }
    match node.as_map().and_then(|entries| entries.first()) {
        Some((first_key, _)) => first_key.span,
        None => Span::point(node.span.start),
    }
}

fn pattern_error(pattern: &str, node: &Node, span: Span, key_name: Option<&str>, context: &str) -> Diagnostic {
    let value = node.as_str().unwrap_or_default();
    match pattern {
        FLOW_ID_PATTERN => Diagnostic::error("invalid-id", span, format!("`{value}` is not a valid flow id"))
            .with_label("invalid id")
            .with_help(format!(
                "use lowercase letters, digits, `-` and `_`, e.g. `{}`",
                suggest_id(value, true)
            )),
        STEP_ID_PATTERN => Diagnostic::error("invalid-id", span, format!("`{value}` is not a valid step id"))
            .with_label("invalid id")
            .with_help(format!(
                "start with a lowercase letter, then use lowercase letters, digits and `_`, e.g. `{}`",
                suggest_id(value, false)
            )),
        DURATION_PATTERN => Diagnostic::error(
            "invalid-duration",
            span,
            format!("`{value}` is not a duration{context}"),
        )
        .with_label("not a duration")
        .with_help("write a whole number and a unit: `500ms`, `30s`, `5m`, `2h`, `1d`"),
        _ => {
            let what = key_name.map(|name| format!("`{name}`: ")).unwrap_or_default();
            let diagnostic = Diagnostic::error(
                "invalid-value",
                span,
                format!("{what}`{value}` does not match the pattern `{pattern}`{context}"),
            );
            // A host name typed as a URL (1CRM's `domain`): say what to write instead.
            match value.split_once("://") {
                Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") => {
                    diagnostic.with_label("a URL, not a host name").with_help(format!(
                        "write it without the scheme: `{}` (`https://` is added)",
                        rest.trim_end_matches('/')
                    ))
                }
                _ => diagnostic,
            }
        }
    }
}

/// A valid id close to what the user wrote.
fn suggest_id(value: &str, allow_dash: bool) -> String {
    let mut id: String = value
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || (allow_dash && c == '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !id.starts_with(|c: char| c.is_ascii_lowercase() || (allow_dash && c.is_ascii_digit())) {
        id.insert_str(0, if allow_dash { "flow-" } else { "step_" });
    }
    id
}

/// The keys a mapping may have, read from the schema next to the failing keyword.
fn allowed_properties(schema: &Value, keyword_path: &str) -> Vec<String> {
    let parent = keyword_path.rsplit_once('/').map_or("", |(parent, _)| parent);
    schema
        .pointer(parent)
        .and_then(|object| object.get("properties"))
        .and_then(Value::as_object)
        .map(|properties| properties.keys().cloned().collect())
        .unwrap_or_default()
}

/// True when the value at `pointer`, or a value above it, is a template string.
fn is_under_template(root: &Node, pointer: &str) -> bool {
    let mut path = String::new();
    let is_template = |node: &Node| node.as_str().is_some_and(|text| text.contains("{{"));
    if is_template(root) {
        return true;
    }
    for segment in pointer.split('/').skip(1) {
        path.push('/');
        path.push_str(segment);
        if root.pointer(&path).is_some_and(|(_, node)| is_template(node)) {
            return true;
        }
    }
    false
}

fn type_names(kind: &TypeKind) -> String {
    let name = |json_type: &jsonschema::JsonType| match json_type.to_string().as_str() {
        "array" => "a list",
        "object" => "a mapping",
        "string" => "a string",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "a boolean",
        _ => "null",
    };
    match kind {
        TypeKind::Single(json_type) => name(json_type).to_owned(),
        // "or null" only restates that the key is optional: leave it out.
        TypeKind::Multiple(types) => join_or(
            &types
                .iter()
                .map(|json_type| name(&json_type).to_owned())
                .filter(|name| name != "null")
                .collect::<Vec<_>>(),
        ),
    }
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn display_literal(value: &Value) -> String {
    format!("`{}`", plain_literal(value))
}

fn plain_literal(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
