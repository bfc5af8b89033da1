//! Checks on the text of templates that need no template engine: delimiters that open and never
//! close, and `aggregate` expressions naming a function that does not exist.

use crate::diagnostic::Diagnostic;
use crate::suggest::help_for_unknown;
use crate::yaml::{Node, NodeValue};

/// The functions `aggregate` knows, and whether each takes an expression.
const AGGREGATES: [(&str, bool); 8] = [
    ("count", false),
    ("sum", true),
    ("min", true),
    ("max", true),
    ("avg", true),
    ("first", true),
    ("last", true),
    ("list", true),
];

pub(super) fn check(tree: &Node, out: &mut Vec<Diagnostic>) {
    for key in ["steps", "on_failure", "connections", "trigger", "output"] {
        if let Some(node) = tree.get(key) {
            node.walk(&mut |node| {
                if let NodeValue::String(text) = &node.value
                    && let Some(problem) = unclosed_delimiter(text)
                {
                    out.push(
                        Diagnostic::error("template-syntax", node.span, format!("template syntax: {problem}"))
                            .with_label("unclosed")
                            .with_help("close every `{{` with `}}` and every `{%` with `%}`"),
                    );
                }
            });
        }
    }
    for step in ["steps", "on_failure"]
        .iter()
        .filter_map(|key| tree.get(key)?.as_seq())
        .flatten()
    {
        let pipeline = step
            .get("transform")
            .and_then(|transform| transform.get("pipeline")?.as_seq());
        for op in pipeline.unwrap_or_default() {
            for (_, expression) in op.get("aggregate").and_then(Node::as_map).unwrap_or_default() {
                if let Some(text) = expression.as_str()
                    && let Err((message, help)) = aggregate_expression(text)
                {
                    out.push(
                        Diagnostic::error("invalid-aggregate", expression.span, message)
                            .with_label("not an aggregate")
                            .with_help_opt(help),
                    );
                }
            }
        }
    }
}

/// The first `{{` or `{%` that is never closed.
fn unclosed_delimiter(text: &str) -> Option<String> {
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open..];
        let close = if after.starts_with("{{") {
            "}}"
        } else if after.starts_with("{%") {
            "%}"
        } else {
            rest = &rest[open + 1..];
            continue;
        };
        match after[2..].find(close) {
            Some(end) => rest = &after[2 + end + 2..],
            None => return Some(format!("`{}` is never closed by `{close}`", &after[..2])),
        }
    }
    None
}

/// `count()`, or `sum(e)`, `min(e)`… with `e` an expression over `item`.
/// Err holds the message and the help.
fn aggregate_expression(text: &str) -> Result<(), (String, Option<String>)> {
    let body = text.trim().trim_start_matches("{{").trim_end_matches("}}").trim();
    let names = AGGREGATES.iter().map(|(name, _)| *name);
    let problem = |message: String, help: Option<String>| (message, help);
    let Some((name, argument)) = body.split_once('(').filter(|_| body.ends_with(')')) else {
        return Err(problem(
            format!("`{text}` is not an aggregate: write `count()` or `sum(item.qty)`"),
            Some(format!(
                "aggregates: {}",
                AGGREGATES.map(|(name, _)| format!("`{name}`")).join(", ")
            )),
        ));
    };
    let name = name.trim();
    let argument = argument[..argument.len() - 1].trim();
    match AGGREGATES.iter().find(|(known, _)| *known == name) {
        None => Err(problem(
            format!("unknown aggregate function `{name}`"),
            help_for_unknown(name, names, "aggregates"),
        )),
        Some((_, true)) if argument.is_empty() => Err(problem(
            format!("`{name}()` needs an expression over `item`, e.g. `{name}(item.qty)`"),
            None,
        )),
        Some((_, false)) if !argument.is_empty() => Err(problem(
            format!("`count()` takes no expression, found `{argument}`"),
            Some("write `count()`".into()),
        )),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters() {
        assert_eq!(unclosed_delimiter("a {{ b }} c {% if x %}y{% endif %}"), None);
        assert!(unclosed_delimiter("{{ steps.a.output }").is_some());
        assert!(unclosed_delimiter("x {% if").is_some());
        assert_eq!(unclosed_delimiter("{ not a template }"), None);
    }

    #[test]
    fn aggregates() {
        assert!(aggregate_expression("sum(item.qty)").is_ok());
        assert!(aggregate_expression("{{ count() }}").is_ok());
        let (_, help) = aggregate_expression("summ(item.qty)").unwrap_err();
        assert_eq!(help.as_deref(), Some("did you mean `sum`?"));
        assert!(aggregate_expression("count(item)").is_err());
        assert!(aggregate_expression("avg()").is_err());
        assert!(aggregate_expression("item.qty").is_err());
    }
}
