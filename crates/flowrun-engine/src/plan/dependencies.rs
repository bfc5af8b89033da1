//! What a step waits for, read from its templates without evaluating them (the same rules as
//! the validator's: which strings are templates and which are bare expressions).

use flowrun_flow::model::{Condition, PipelineOp, Step};
use flowrun_flow::references::{Reference, expression_references, template_references};
use serde_json::Value as Json;

/// Why a step waits for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DependencyKind {
    /// It reads the other step's `output` (or the step whole): when that step has no output
    /// (skipped, ignored, broken), this one is skipped too.
    Output,
    /// It reads only the other step's `status` or `error`: it runs whatever happened there.
    Status,
    /// Listed in `needs`: order only.
    Needs,
}

/// A step's references to other steps, by id, each with the strongest reason found
/// (`Output` over `Status` over `Needs`).
pub(crate) fn step_dependencies(step: &Step) -> Vec<(String, DependencyKind)> {
    let mut found: Vec<(String, DependencyKind)> = Vec::new();
    let mut add = |reference: Reference| {
        if let Reference::Step { id, field } = reference {
            let kind = match field.as_deref() {
                Some("status" | "error") => DependencyKind::Status,
                _ => DependencyKind::Output,
            };
            add_dependency(&mut found, id, kind);
        }
    };
    for reference in references_of(step) {
        add(reference);
    }
    for need in &step.needs {
        add_dependency(&mut found, need.clone(), DependencyKind::Needs);
    }
    found
}

fn add_dependency(found: &mut Vec<(String, DependencyKind)>, id: String, kind: DependencyKind) {
    match found.iter_mut().find(|(known, _)| *known == id) {
        Some((_, existing)) => *existing = (*existing).min(kind),
        None => found.push((id, kind)),
    }
}

/// Every reference in the templates and expressions of a step.
fn references_of(step: &Step) -> Vec<Reference> {
    let mut out = Vec::new();
    if let Some(params) = &step.params {
        for value in params.values() {
            templates(value, &mut out);
        }
    }
    if let Some(for_each) = &step.for_each {
        templates(for_each, &mut out);
    }
    if let Some(item_key) = &step.item_key {
        out.extend(either(item_key));
    }
    if let Some(Condition::Expression(condition)) = &step.condition {
        out.extend(expression_references(condition));
    }
    if let Some(incremental) = &step.incremental {
        out.extend(template_references(&incremental.cursor));
        templates(&incremental.initial, &mut out);
    }
    if let Some(transform) = &step.transform {
        if let Some(input) = &transform.input {
            templates(input, &mut out);
        }
        for op in &transform.pipeline {
            pipeline_op_references(op, &mut out);
        }
    }
    if let Some(flowrun_flow::model::OnError::Resume(value)) = &step.on_error {
        templates(value, &mut out);
    }
    out
}

fn pipeline_op_references(op: &PipelineOp, out: &mut Vec<Reference>) {
    // Ops are serialized back to their YAML shape: every string of an op that holds an
    // expression is read as one, every template as a template.
    let Ok(Json::Object(body)) = serde_json::to_value(op) else {
        return;
    };
    for (name, value) in body {
        match name.as_str() {
            "filter" | "dedupe" | "group_by" | "sort" | "aggregate" => expressions(&value, out),
            "map" | "set" => templates(&value, out),
            "merge" => {
                if let Some(with) = value.get("with") {
                    templates(with, out);
                }
            }
            _ => {}
        }
    }
}

/// `item_key` may be an expression or a template with text around it.
fn either(text: &str) -> Vec<Reference> {
    if flowrun_expr::analysis::has_template_syntax(text) {
        template_references(text)
    } else {
        expression_references(text)
    }
}

fn templates(value: &Json, out: &mut Vec<Reference>) {
    walk_strings(value, &mut |text| out.extend(template_references(text)));
}

fn expressions(value: &Json, out: &mut Vec<Reference>) {
    walk_strings(value, &mut |text| out.extend(expression_references(text)));
}

fn walk_strings(value: &Json, visit: &mut dyn FnMut(&str)) {
    match value {
        Json::String(text) => visit(text),
        Json::Array(items) => items.iter().for_each(|item| walk_strings(item, visit)),
        Json::Object(map) => map.values().for_each(|item| walk_strings(item, visit)),
        _ => {}
    }
}
