//! Where each template of a flow reads from, with the span of the string that holds it.

use crate::references::{Reference, expression_references, template_references};
use crate::yaml::{Node, NodeValue, Span};

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
            "item_key" => collect(value, Mode::Expression, has_for_each, &mut found),
            "for_each" => collect(value, Mode::Template, false, &mut found),
            "if" => collect(value, Mode::Expression, false, &mut found),
            "incremental" => {
                if let Some(cursor) = value.get("cursor") {
                    collect(cursor, Mode::Template, false, &mut found);
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
                Mode::Template => template_references(text),
                Mode::Expression => expression_references(text),
            };
            found.extend(references.into_iter().map(|reference| FoundRef {
                reference,
                span: node.span,
                item_bound,
            }));
        }
    });
}
