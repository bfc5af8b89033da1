//! `flowrun graph FILE`: the steps and what each waits for, as Mermaid, Graphviz or JSON.

use std::io::{self, Write};

use flowrun_flow::model::{Flow, Step};
use flowrun_flow::validate::{EdgeKind, StepGraph};

use crate::cli::{GraphArgs, GraphFormat};
use crate::discover::FileKind;
use crate::render::diagnostics::render;
use crate::{catalog, exit_code};

pub fn run(args: &GraphArgs) -> io::Result<u8> {
    if !args.file.is_file() {
        eprintln!("error: {}: no such file", args.file.display());
        return Ok(exit_code::INVALID);
    }
    let catalog = catalog::builtin();
    let checked = super::validate::check(
        &[(args.file.clone(), FileKind::Flow)],
        catalog,
        super::validate::Keep::Reports,
    )?;
    let errors = checked.diagnostics.iter().any(|diagnostic| diagnostic.is_error());
    let report = checked.flows.first().map(|(_, report)| report);
    let (Some(flow), Some(graph), false) = (
        report.and_then(|r| r.flow.as_ref()),
        report.and_then(|r| r.graph.as_ref()),
        errors,
    ) else {
        render(
            crate::cli::DiagnosticFormat::Human,
            &checked.diagnostics,
            checked.n_files,
        )?;
        return Ok(exit_code::INVALID);
    };
    let text = match args.format {
        GraphFormat::Mermaid => mermaid(flow, graph),
        GraphFormat::Dot => dot(flow, graph),
        GraphFormat::Json => serde_json::to_string_pretty(&json(flow, graph)).map_err(io::Error::other)? + "\n",
    };
    io::stdout().lock().write_all(text.as_bytes())?;
    Ok(exit_code::SUCCESS)
}

fn all_steps(flow: &Flow) -> Vec<(&Step, bool)> {
    flow.steps
        .iter()
        .map(|step| (step, false))
        .chain(flow.on_failure.iter().map(|step| (step, true)))
        .collect()
}

/// What a step does, in a few words: its module, or `transform`, and `for_each`.
fn step_summary(step: &Step) -> String {
    let what = step.uses.clone().unwrap_or_else(|| "transform".to_owned());
    if step.for_each.is_some() {
        format!("{what} (for each)")
    } else {
        what
    }
}

pub fn mermaid(flow: &Flow, graph: &StepGraph) -> String {
    let mut out = format!("---\ntitle: {}\n---\nflowchart TD\n", flow.flow);
    for (step, on_failure) in all_steps(flow) {
        let shape = if on_failure { ("[/", "/]") } else { ("[", "]") };
        out.push_str(&format!(
            "    {}{}\"{}<br/><small>{}</small>\"{}\n",
            step.id,
            shape.0,
            step.id,
            step_summary(step),
            shape.1
        ));
    }
    let ids: Vec<&str> = all_steps(flow).iter().map(|(step, _)| step.id.as_str()).collect();
    for (from, to, kind) in graph.edges() {
        let arrow = if kind == EdgeKind::Needs { "-.->" } else { "-->" };
        out.push_str(&format!("    {} {arrow} {}\n", ids[from], ids[to]));
    }
    out
}

pub fn dot(flow: &Flow, graph: &StepGraph) -> String {
    let mut out = format!("digraph \"{}\" {{\n    rankdir=TB;\n    node [shape=box];\n", flow.flow);
    for (step, on_failure) in all_steps(flow) {
        let style = if on_failure { ", style=dashed" } else { "" };
        out.push_str(&format!(
            "    \"{}\" [label=\"{}\\n{}\"{style}];\n",
            step.id,
            step.id,
            step_summary(step)
        ));
    }
    let ids: Vec<&str> = all_steps(flow).iter().map(|(step, _)| step.id.as_str()).collect();
    for (from, to, kind) in graph.edges() {
        let style = if kind == EdgeKind::Needs {
            " [style=dashed, label=\"needs\"]"
        } else {
            ""
        };
        out.push_str(&format!("    \"{}\" -> \"{}\"{style};\n", ids[from], ids[to]));
    }
    out.push_str("}\n");
    out
}

pub fn json(flow: &Flow, graph: &StepGraph) -> serde_json::Value {
    let steps = all_steps(flow);
    let nodes: Vec<serde_json::Value> = steps
        .iter()
        .map(|(step, on_failure)| {
            serde_json::json!({
                "id": step.id,
                "uses": step.uses,
                "transform": step.transform.is_some(),
                "for_each": step.for_each.is_some(),
                "on_failure": on_failure,
            })
        })
        .collect();
    let edges: Vec<serde_json::Value> = graph
        .edges()
        .into_iter()
        .map(|(from, to, kind)| serde_json::json!({ "from": steps[from].0.id, "to": steps[to].0.id, "kind": kind }))
        .collect();
    serde_json::json!({ "flow": flow.flow, "steps": nodes, "edges": edges })
}
