//! What a template reads, found without evaluating it: `steps.a.output`, `inputs.x`,
//! `secrets.X`, `env.Y`, `item`, `cursor`…
//!
//! A small scanner over the expression text (string literals skipped). It is exact for the
//! paths flows write (`steps.a.output.x`, `steps['a']`, `inputs.since`); the expressions crate
//! may replace it with minijinja's own analysis of the parsed template.

use std::ops::Range;

/// One name a template reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reference {
    /// `steps.<id>` and the attribute read after it (`output`, `status`, `error`), if any.
    Step {
        id: String,
        field: Option<String>,
    },
    Input(String),
    Secret(String),
    Env(String),
    /// `item`, `index`, `cursor`, `output`, `error`, `trigger`, `run`, `flow`.
    Context(&'static str),
}

const CONTEXT_NAMES: [&str; 8] = ["item", "index", "cursor", "output", "error", "trigger", "run", "flow"];

/// Byte range of a reference in the text it was found in (`steps.a.output`).
pub type Located = (Reference, Range<usize>);

/// The references of a template string: only the `{{ … }}` and `{% … %}` parts are read.
pub fn template_references(text: &str) -> Vec<Reference> {
    located_template_references(text)
        .into_iter()
        .map(|(reference, _)| reference)
        .collect()
}

/// As [`template_references`], with where each reference is written.
pub fn located_template_references(text: &str) -> Vec<Located> {
    let mut references = Vec::new();
    let mut offset = 0;
    while let Some(open) = text[offset..].find('{').map(|at| at + offset) {
        let after = &text[open..];
        let close = if after.starts_with("{{") {
            "}}"
        } else if after.starts_with("{%") {
            "%}"
        } else {
            offset = open + 1;
            continue;
        };
        let body_start = open + 2;
        let end = text[body_start..].find(close).map_or(text.len(), |at| at + body_start);
        scan_expression(&text[body_start..end], body_start, &mut references);
        offset = (end + close.len()).min(text.len());
    }
    references
}

/// The references of a bare expression (`if`, `filter`, `dedupe`…); `{{ }}` around it is allowed.
pub fn expression_references(text: &str) -> Vec<Reference> {
    located_expression_references(text)
        .into_iter()
        .map(|(reference, _)| reference)
        .collect()
}

/// As [`expression_references`], with where each reference is written.
pub fn located_expression_references(text: &str) -> Vec<Located> {
    let mut references = Vec::new();
    scan_expression(text, 0, &mut references);
    references
}

/// Scans one expression; `base` is its byte offset in the text the ranges refer to.
fn scan_expression(expression: &str, base: usize, out: &mut Vec<Located>) {
    let bytes = expression.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if byte == b'\'' || byte == b'"' {
            at = skip_string(bytes, at);
            continue;
        }
        if is_ident_start(byte) && (at == 0 || !is_ident_char(bytes[at - 1]) && bytes[at - 1] != b'.') {
            let end = ident_end(bytes, at);
            let name = &expression[at..end];
            let (reference, next) = root_reference(expression, name, end);
            out.extend(reference.map(|reference| (reference, base + at..base + next)));
            at = next;
            continue;
        }
        at += 1;
    }
}

fn root_reference(expression: &str, name: &str, end: usize) -> (Option<Reference>, usize) {
    let make: fn(String) -> Reference = match name {
        "steps" => |id| Reference::Step { id, field: None },
        "inputs" => Reference::Input,
        "secrets" => Reference::Secret,
        "env" => Reference::Env,
        _ => {
            let context = CONTEXT_NAMES
                .iter()
                .find(|known| **known == name)
                .map(|known| Reference::Context(known));
            return (context, end);
        }
    };
    let Some((member, after_member)) = member_at(expression, end) else {
        return (None, end);
    };
    let mut reference = make(member);
    if let Reference::Step { field, .. } = &mut reference
        && let Some((name, after_field)) = member_at(expression, after_member)
    {
        *field = Some(name);
        return (Some(reference), after_field);
    }
    (Some(reference), after_member)
}

/// `.name` or `['name']` / `["name"]` at `at`, with the position after it.
fn member_at(expression: &str, at: usize) -> Option<(String, usize)> {
    let bytes = expression.as_bytes();
    let at = skip_spaces(bytes, at);
    match bytes.get(at)? {
        b'.' => {
            let start = skip_spaces(bytes, at + 1);
            let end = ident_end(bytes, start);
            (end > start).then(|| (expression[start..end].to_owned(), end))
        }
        b'[' => {
            let start = skip_spaces(bytes, at + 1);
            let quote = *bytes.get(start)?;
            if quote != b'\'' && quote != b'"' {
                return None;
            }
            let close = expression[start + 1..].find(quote as char)? + start + 1;
            let end = skip_spaces(bytes, close + 1);
            (bytes.get(end) == Some(&b']')).then(|| (expression[start + 1..close].to_owned(), end + 1))
        }
        _ => None,
    }
}

fn skip_string(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let mut at = start + 1;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            byte if byte == quote => return at + 1,
            _ => at += 1,
        }
    }
    bytes.len()
}

fn skip_spaces(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
        at += 1;
    }
    at
}

fn ident_end(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).copied().is_some_and(is_ident_char) {
        at += 1;
    }
    at
}

fn is_ident_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_'
}

fn is_ident_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(id: &str, field: Option<&str>) -> Reference {
        Reference::Step {
            id: id.into(),
            field: field.map(Into::into),
        }
    }

    #[test]
    fn finds_paths_in_templates() {
        let found = template_references(
            "{{ steps.accounts.output.records | length }} of {{ inputs['since'] }} {% if item.x %}{{ secrets.KEY }}{% endif %}",
        );
        assert_eq!(
            found,
            vec![
                step("accounts", Some("output")),
                Reference::Input("since".into()),
                Reference::Context("item"),
                Reference::Secret("KEY".into())
            ]
        );
    }

    #[test]
    fn ignores_text_outside_delimiters_and_inside_string_literals() {
        assert!(template_references("steps.a.output {{ 'steps.b.output' }}").is_empty());
        assert_eq!(
            template_references("{{ steps[\"b\"].status }}"),
            vec![step("b", Some("status"))]
        );
    }

    #[test]
    fn bare_expressions_and_attributes_of_other_names() {
        assert_eq!(
            expression_references("item.email1 and env.HOME"),
            vec![Reference::Context("item"), Reference::Env("HOME".into())]
        );
        assert!(expression_references("x.steps.a").is_empty());
        assert_eq!(expression_references("steps.a"), vec![step("a", None)]);
    }

    #[test]
    fn ranges_cover_the_reference_as_written() {
        let text = "x {{ steps.fecth.output.id }} {{ inputs['n'] }}";
        let ranges: Vec<&str> = located_template_references(text)
            .into_iter()
            .map(|(_, range)| &text[range])
            .collect();
        assert_eq!(ranges, ["steps.fecth.output", "inputs['n']"]);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,120}") {
            let _ = template_references(&text);
            let _ = expression_references(&text);
        }
    }
}
