//! Which strings of a flow are templates and which are bare expressions, each read once
//! (`templates.rs`): what it reads, with the span of the string that holds it, and the
//! mistakes in it as diagnostics.

use std::ops::Range;

use flowrun_expr::analysis::has_template_syntax;

use super::templates::{Checked, Mode, check_aggregate, check_jsonpath, check_string};
use crate::diagnostic::Diagnostic;
use crate::references::Reference;
use crate::yaml::{Node, NodeValue, Pos, Span};

/// A reference found in the flow file.
#[derive(Debug, Clone)]
pub(crate) struct FoundRef {
    pub reference: Reference,
    pub span: Span,
    /// True where `item` and `index` are bound (a `for_each` step's parameters, pipeline ops).
    pub item_bound: bool,
}

/// What reading the templates of part of a file found.
#[derive(Debug, Default)]
pub(crate) struct Found {
    pub refs: Vec<FoundRef>,
    /// Syntax errors, unknown filters, tests and functions, bad JSONPath and aggregates.
    pub problems: Vec<Diagnostic>,
}

impl Found {
    /// Every string under `node` as a template.
    fn templates(&mut self, node: &Node, item_bound: bool) {
        self.walk(node, item_bound, &|text| check_string(text, Mode::Template));
    }

    /// Every string under `node` as a bare expression.
    fn expressions(&mut self, node: &Node, item_bound: bool) {
        self.walk(node, item_bound, &|text| check_string(text, Mode::Expression));
    }

    fn walk(&mut self, node: &Node, item_bound: bool, check: &dyn Fn(&str) -> Checked) {
        node.walk(&mut |node| {
            if let NodeValue::String(text) = &node.value {
                self.add(node, text, check(text), item_bound);
            }
        });
    }

    fn add(&mut self, node: &Node, text: &str, checked: Checked, item_bound: bool) {
        self.refs.extend(checked.references.into_iter().map(|found| FoundRef {
            reference: found.value,
            span: span_within(node, text, found.range),
            item_bound,
        }));
        self.problems.extend(checked.problems.into_iter().map(|problem| {
            let span = problem.range.map_or(node.span, |range| span_within(node, text, range));
            Diagnostic::error(problem.code, span, problem.message)
                .with_label(problem.label)
                .with_help_opt(problem.help)
        }));
    }
}

/// Every reference in one step's mapping, and the mistakes in its templates.
pub(crate) fn step_refs(step: &Node, found: &mut Found) {
    let has_for_each = step.get("for_each").is_some();
    for (key, value) in step.as_map().unwrap_or_default() {
        match key.name.as_str() {
            "with" => found.templates(value, has_for_each),
            // An expression naming each item; `{{ … }}` around it, or text around templates
            // (`order {{ item.id }}`), are both accepted. Bound even without `for_each`: that
            // mistake is reported once, as `needs-for-each`.
            "item_key" => match value.as_str() {
                Some(text) if has_template_syntax(text) => found.templates(value, true),
                _ => found.expressions(value, true),
            },
            "for_each" => found.templates(value, false),
            "if" => found.expressions(value, false),
            // `initial` is rendered once, when no cursor is stored yet, so inputs can seed it.
            "incremental" => {
                for key in ["cursor", "initial"] {
                    if let Some(node) = value.get(key) {
                        found.templates(node, false);
                    }
                }
            }
            "transform" => transform_refs(value, found),
            _ => {}
        }
    }
}

fn transform_refs(transform: &Node, found: &mut Found) {
    if let Some(input) = transform.get("input") {
        found.templates(input, false);
    }
    for op in transform.get("pipeline").and_then(Node::as_seq).unwrap_or_default() {
        for (name, body) in op.as_map().unwrap_or_default() {
            match name.name.as_str() {
                "filter" | "dedupe" | "group_by" => found.expressions(body, true),
                // `sort: "item.x"`, `sort: [item.a, item.b]` or `{by, order}`.
                "sort" => match body.get("by") {
                    Some(by) => found.expressions(by, true),
                    None if body.as_map().is_none() => found.expressions(body, true),
                    None => {}
                },
                "aggregate" => {
                    for (_, expression) in body.as_map().unwrap_or_default() {
                        if let NodeValue::String(text) = &expression.value {
                            found.add(expression, text, check_aggregate(text), true);
                        }
                    }
                }
                "map" | "set" => found.templates(body, true),
                "merge" => {
                    if let Some(with) = body.get("with") {
                        found.templates(with, false);
                    }
                }
                "select" => {
                    if let NodeValue::String(path) = &body.value {
                        let checked = Checked {
                            references: Vec::new(),
                            problems: check_jsonpath(path).into_iter().collect(),
                        };
                        found.add(body, path, checked, true);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Every reference in the templates of any node (the flow `output`, connection configs…).
pub(crate) fn template_refs(node: &Node) -> Found {
    let mut found = Found::default();
    found.templates(node, false);
    found
}

/// The span of `range` of a string's value: exact when the string sits on one line as written
/// (plain, or quoted without escapes), else the whole string.
pub(crate) fn span_within(node: &Node, text: &str, range: Range<usize>) -> Span {
    let span = node.span;
    let n_chars = text.chars().count();
    let width = span.end.offset.saturating_sub(span.start.offset);
    let opening = match width {
        _ if span.start.line != span.end.line => return span,
        width if width == n_chars => 0,
        width if width == n_chars + 2 => 1,
        _ => return span,
    };
    let (Some(before), Some(inside)) = (text.get(..range.start), text.get(range)) else {
        return span;
    };
    let before = before.chars().count();
    let length = inside.chars().count();
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
