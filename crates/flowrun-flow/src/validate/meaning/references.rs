//! Template references: steps, inputs and context names that exist where they are read, and
//! the dependency graph they make with `needs`.

use std::collections::BTreeSet;

use crate::diagnostic::Diagnostic;
use crate::model::Flow;
use crate::references::Reference;
use crate::suggest::help_for_unknown;
use crate::yaml::{Node, Span};

use crate::references::CONTEXT_NAMES;
use crate::validate::graph::{EdgeKind, StepGraph};
use crate::validate::refs::{Found, FoundRef, step_refs, template_refs};

use super::*;

/// Every reference of a flow, found once and shared by the checks that read them.
pub(super) struct FlowRefs {
    /// Per step site, in the order of `sites`.
    by_site: Vec<Vec<FoundRef>>,
    /// In the flow `output` and the trigger.
    top_level: Vec<FoundRef>,
    /// In connection configs (only `env` and `secrets` mean something there).
    connections: Vec<FoundRef>,
}

impl FlowRefs {
    /// Reads every template of the flow once; the mistakes in them (syntax, unknown filters,
    /// JSONPath, aggregates) go to `out`.
    pub(super) fn new(tree: &Node, sites: &[StepSite<'_>], out: &mut Vec<Diagnostic>) -> FlowRefs {
        let mut of = |key| {
            let found = tree.get(key).map(template_refs).unwrap_or_default();
            out.extend(found.problems);
            found.refs
        };
        let mut top_level = of("output");
        top_level.extend(of("trigger"));
        let connections = of("connections");
        let by_site = sites
            .iter()
            .map(|site| {
                let mut found = Found::default();
                step_refs(site.node, &mut found);
                out.extend(found.problems);
                found.refs
            })
            .collect();
        FlowRefs {
            by_site,
            top_level,
            connections,
        }
    }

    pub(super) fn all(&self) -> impl Iterator<Item = &Reference> {
        self.by_site
            .iter()
            .flatten()
            .chain(&self.top_level)
            .chain(&self.connections)
            .map(|found| &found.reference)
    }

    /// The names of the secrets the flow reads.
    pub(super) fn secrets(&self) -> BTreeSet<String> {
        self.all()
            .filter_map(|reference| match reference {
                Reference::Secret(name) => Some(name.clone()),
                _ => None,
            })
            .collect()
    }
}

/// Checks every template reference and builds the dependency graph.
pub(super) fn check_references(
    flow: &Flow,
    tree: &Node,
    sites: &[StepSite<'_>],
    refs: &FlowRefs,
    out: &mut Vec<Diagnostic>,
) -> StepGraph {
    let main_ids: Vec<&str> = flow.steps.iter().map(|step| step.id.as_str()).collect();
    let declared_inputs: Vec<&str> = tree
        .get("inputs")
        .and_then(Node::as_map)
        .unwrap_or_default()
        .iter()
        .map(|(key, _)| key.name.as_str())
        .collect();
    let all_ids: Vec<&str> = sites.iter().map(|site| site.step.id.as_str()).collect();
    let mut graph = StepGraph::new(&all_ids);
    let index_of = |id: &str| all_ids.iter().position(|known| *known == id);

    for (index, site) in sites.iter().enumerate() {
        let visible: &[&str] = if site.on_failure { &all_ids } else { &main_ids };
        for need in &site.step.needs {
            let span = site
                .node
                .get("needs")
                .and_then(|needs| needs.as_seq()?.iter().find(|node| node.as_str() == Some(need)))
                .map_or(site.node.span, |node| node.span);
            match index_of(need).filter(|_| visible.contains(&need.as_str())) {
                Some(dependency) => graph.add_edge(dependency, index, EdgeKind::Needs),
                None => out.push(unknown_step(need, span, visible)),
            }
        }
        for found in &refs.by_site[index] {
            check_name_ref(found, out);
            check_context_ref(found, site, out);
            if let Reference::Step { id, field } = &found.reference {
                match index_of(id).filter(|_| visible.contains(&id.as_str())) {
                    Some(dependency) => graph.add_edge(dependency, index, EdgeKind::Reference),
                    None => out.push(unknown_step(id, found.span, visible)),
                }
                check_step_field(id, field.as_deref(), found.span, out);
            }
            if let Reference::Input(name) = &found.reference {
                check_input_ref(&declared_inputs, name, found.span, out);
            }
        }
    }
    for found in &refs.connections {
        check_name_ref(found, out);
    }
    for found in &refs.top_level {
        check_name_ref(found, out);
        match &found.reference {
            Reference::Step { id, field } => {
                if !main_ids.contains(&id.as_str()) {
                    out.push(unknown_step(id, found.span, &main_ids));
                }
                check_step_field(id, field.as_deref(), found.span, out);
            }
            Reference::Input(name) => check_input_ref(&declared_inputs, name, found.span, out),
            Reference::Context(name @ ("item" | "index")) => out.push(context_error(
                name,
                found.span,
                "it is only defined in a `for_each` step's parameters and in pipeline operations",
            )),
            _ => {}
        }
    }
    graph
}

/// Names no template may read: a root the context does not have (`input.x`, `foo`), and
/// `secrets`, `env` or `steps` read whole.
pub(super) fn check_name_ref(found: &FoundRef, out: &mut Vec<Diagnostic>) {
    let (message, label, help) = match &found.reference {
        Reference::Unknown(name) => (
            format!("unknown name `{name}`"),
            "not in the template context",
            help_for_unknown(name, CONTEXT_NAMES, "a template reads"),
        ),
        Reference::Context("secrets") => (
            "`secrets` cannot be read whole: read one secret as `secrets.NAME`".to_owned(),
            "every secret",
            Some("name each secret a template reads, so it is checked before the run and redacted from every output".into()),
        ),
        Reference::Context("env") => (
            "`env` cannot be read whole: read one variable as `env.NAME`".to_owned(),
            "the whole environment",
            Some("name each environment variable a template reads, e.g. `{{ env.API_BASE }}`".into()),
        ),
        Reference::Context("steps") => (
            "`steps` cannot be read whole: read one step as `steps.<id>.output`".to_owned(),
            "which step?",
            Some("a step waits for the steps its templates name; write the step id as written (`steps.fetch.output`), not computed".into()),
        ),
        _ => return,
    };
    let code = match found.reference {
        Reference::Unknown(_) => "undefined-variable",
        _ => "invalid-reference",
    };
    out.push(
        Diagnostic::error(code, found.span, message)
            .with_label(label)
            .with_help_opt(help),
    );
}

pub(super) fn check_context_ref(found: &FoundRef, site: &StepSite<'_>, out: &mut Vec<Diagnostic>) {
    match found.reference {
        Reference::Context(name @ ("item" | "index")) if !found.item_bound => {
            let why = if site.node.get("for_each").is_some() {
                "in a `for_each` step it is defined in `with` and `item_key`, not in `for_each` or `if`"
            } else {
                "the step has no `for_each`"
            };
            out.push(context_error(name, found.span, why));
        }
        Reference::Context("cursor") if site.node.get("incremental").is_none() => {
            out.push(context_error(
                "cursor",
                found.span,
                "the step has no `incremental` block",
            ));
        }
        Reference::Context("error") if !site.on_failure => {
            out.push(context_error(
                "error",
                found.span,
                "`error` is defined only in `on_failure` steps (use `steps.<id>.error` for one step's error)",
            ));
        }
        _ => {}
    }
}

pub(super) fn context_error(name: &str, span: Span, why: &str) -> Diagnostic {
    Diagnostic::error(
        "undefined-variable",
        span,
        format!("`{name}` is not defined here: {why}"),
    )
    .with_label(format!("`{name}` undefined"))
    .with_help(match name {
        "item" | "index" => "add `for_each: \"{{ <list> }}\"` to the step to run it per item, or read the list through `steps.<id>.output`",
        "cursor" => "add `incremental: { cursor: \"{{ … }}\", initial: <value> }` to the step",
        _ => "read one step's failure as `steps.<id>.error`, or move this step under `on_failure:`",
    })
}

pub(super) fn check_step_field(id: &str, field: Option<&str>, span: Span, out: &mut Vec<Diagnostic>) {
    const FIELDS: [&str; 3] = ["output", "status", "error"];
    if let Some(field) = field.filter(|field| !FIELDS.contains(field)) {
        out.push(
            Diagnostic::error(
                "invalid-reference",
                span,
                format!("`steps.{id}.{field}` does not exist: a step has `output`, `status` and `error`"),
            )
            .with_label("unknown field")
            .with_help_opt(help_for_unknown(field, FIELDS, "use one of")),
        );
    }
}

/// `declared` comes from the file, not the model: an input with a mistake in its block is
/// still declared.
pub(super) fn check_input_ref(declared: &[&str], name: &str, span: Span, out: &mut Vec<Diagnostic>) {
    if !declared.contains(&name) {
        out.push(
            Diagnostic::error("unknown-input", span, format!("unknown input `{name}`"))
                .with_label("not declared")
                .with_help_opt(
                    help_for_unknown(name, declared.iter().copied(), "declared inputs")
                        .or_else(|| Some(format!("declare it: `inputs: {{ {name}: {{ type: string }} }}`"))),
                ),
        );
    }
}

pub(super) fn unknown_step(id: &str, span: Span, visible: &[&str]) -> Diagnostic {
    Diagnostic::error("unknown-step", span, format!("unknown step `{id}`"))
        .with_label("no step with this id")
        .with_help_opt(help_for_unknown(id, visible.iter().copied(), "steps"))
}

pub(super) fn cycle_diagnostic(cycle: &[usize], sites: &[StepSite<'_>]) -> Diagnostic {
    let ids: Vec<&str> = cycle.iter().map(|&index| sites[index].step.id.as_str()).collect();
    let first = &sites[cycle[0]];
    let mut diagnostic = Diagnostic::error(
        "dependency-cycle",
        value_span(first.node, "id"),
        format!("dependency cycle: {}", ids.join(" -> ")),
    )
    .with_label("the cycle starts here")
    .with_help("a step cannot wait for itself; remove one `needs` entry or template reference in the cycle");
    for &index in &cycle[1..cycle.len() - 1] {
        let site = &sites[index];
        diagnostic = diagnostic.with_related(
            format!(
                "`{}` (line {}) is part of the cycle",
                site.step.id, site.node.span.start.line
            ),
            value_span(site.node, "id"),
        );
    }
    diagnostic
}
