//! Where each template of a flow reads from, with the span of the string that holds it.

use std::ops::Range;

use crate::references::{Reference, located_expression_references, located_template_references};
use crate::yaml::{Node, NodeValue, Pos, Span};

/// A reference found in the flow file.
#[derive(Debug, Clone)]
pub(crate) struct FoundRef {
    pub reference: Reference,
    pub span: Span,
    /// True where `item` and `index` are bound (a `for_each` step's parameters, pipeline ops).
    pub item_bound: bool,
}

#[derive(Clone, Copy)]
enum Mode {
    /// Only `{{ … }}` and `{% … %}` are read.
    Template,
    /// The whole string is an expression (`if`, `filter`…).
    Expression,
}

/// Every reference in one step's mapping.
pub(crate) fn step_refs(step: &Node) -> Vec<FoundRef> {
    let mut found = Vec::new();
    let has_for_each = step.get("for_each").is_some();
    for (key, value) in step.as_map().unwrap_or_default() {
        match key.name.as_str() {
            "with" => collect(value, Mode::Template, has_for_each, &mut found),
            // Bound even without `for_each`: that mistake is reported once, as `needs-for-each`.
            "item_key" => collect(value, Mode::Expression, true, &mut found),
            "for_each" => collect(value, Mode::Template, false, &mut found),
            "if" => collect(value, Mode::Expression, false, &mut found),
            // `initial` is rendered once, when no cursor is stored yet, so inputs can seed it.
            "incremental" => {
                for key in ["cursor", "initial"] {
                    if let Some(node) = value.get(key) {
                        collect(node, Mode::Template, false, &mut found);
                    }
                }
            }
            "transform" => transform_refs(value, &mut found),
            _ => {}
        }
    }
    found
}

fn transform_refs(transform: &Node, found: &mut Vec<FoundRef>) {
    if let Some(input) = transform.get("input") {
        collect(input, Mode::Template, false, found);
    }
    for op in transform.get("pipeline").and_then(Node::as_seq).unwrap_or_default() {
        for (name, body) in op.as_map().unwrap_or_default() {
            match name.name.as_str() {
                "filter" | "dedupe" | "group_by" => collect(body, Mode::Expression, true, found),
                "sort" => match body.get("by") {
                    Some(by) => collect(by, Mode::Expression, true, found),
                    None => collect(body, Mode::Expression, true, found),
                },
                "aggregate" => collect(body, Mode::Expression, true, found),
                "map" | "set" => collect(body, Mode::Template, true, found),
                "merge" => {
                    if let Some(with) = body.get("with") {
                        collect(with, Mode::Template, false, found);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Every reference in the templates of any node (the flow `output`, connection configs…).
pub(crate) fn template_refs(node: &Node) -> Vec<FoundRef> {
    let mut found = Vec::new();
    collect(node, Mode::Template, false, &mut found);
    found
}

fn collect(node: &Node, mode: Mode, item_bound: bool, found: &mut Vec<FoundRef>) {
    node.walk(&mut |node| {
        if let NodeValue::String(text) = &node.value {
            let references = match mode {
                Mode::Template => located_template_references(text),
                Mode::Expression => located_expression_references(text),
            };
            found.extend(references.into_iter().map(|(reference, range)| FoundRef {
                reference,
                span: span_within(node, text, range),
                item_bound,
            }));
        }
    });
}

/// The span of `range` of a string's value: exact when the string sits on one line as written
/// (plain, or quoted without escapes), else the whole string.
fn span_within(node: &Node, text: &str, range: Range<usize>) -> Span {
    let span = node.span;
    let n_chars = text.chars().count();
    let width = span.end.offset.saturating_sub(span.start.offset);
    let opening = match width {
        _ if span.start.line != span.end.line => return span,
        width if width == n_chars => 0,
        width if width == n_chars + 2 => 1,
        _ => return span,
    };
    let before = text[..range.start].chars().count();
    let length = text[range].chars().count();
    let at = |chars: usize| Pos {
        column: span.start.column + opening + chars,
        offset: span.start.offset + opening + chars,
        ..span.start
    };
    Span {
        start: at(before),
        end: at(before + length),
    }
}
