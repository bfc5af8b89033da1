//! The meaning of a structurally valid flow: modules, connections, references, the graph,
//! schedules, and the warnings about things nothing uses. One file per concern; this one
//! runs them in order and holds what they share.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::diagnostic::Diagnostic;
use crate::model::{CursorScope, Flow, Step};
use crate::yaml::{Node, Span};

use super::Context;
use super::graph::StepGraph;

mod connections;
mod references;
mod steps;
mod trigger;
mod warnings;

pub(super) use connections::check_connection;
use connections::*;
use references::*;
use steps::*;
use trigger::*;
use warnings::*;

/// One step with its node and where it sits.
pub(super) struct StepSite<'a> {
    step: &'a Step,
    node: &'a Node,
    on_failure: bool,
}

/// What the checks of meaning leave for the rest of the validator.
pub(super) struct Meaning {
    pub graph: StepGraph,
    /// The secrets the flow reads.
    pub secrets: BTreeSet<String>,
}

pub(super) fn check(flow: &Flow, tree: &Node, context: Context<'_>, out: &mut Vec<Diagnostic>) -> Meaning {
    let sites = step_sites(flow, tree);
    let connections = available_connections(flow, context);
    let mut used_connections: HashSet<String> = HashSet::new();

    check_step_ids(&sites, out);
    check_connection_blocks(flow, tree, context.catalog, out);
    for site in &sites {
        check_step(site, &connections, context.catalog, &mut used_connections, out);
    }
    if let Some(trigger) = &flow.trigger {
        check_trigger(trigger, tree, &connections, context.catalog, &mut used_connections, out);
    }
    check_inputs(flow, tree, out);
    check_state(tree, flow, out);
    let refs = FlowRefs::new(tree, &sites, out);
    let graph = check_references(flow, tree, &sites, &refs, out);
    for cycle in graph.cycles() {
        out.push(cycle_diagnostic(&cycle, &sites));
    }
    // An error often makes something look unused (a typo'd connection, an unknown module):
    // the warnings wait until the errors are fixed.
    if !out.iter().any(Diagnostic::is_error) {
        warn_unused(flow, tree, &sites, &refs, &used_connections, out);
    }
    Meaning {
        graph,
        secrets: refs.secrets(),
    }
}

pub(super) fn step_sites<'a>(flow: &'a Flow, tree: &'a Node) -> Vec<StepSite<'a>> {
    let nodes = |key| tree.get(key).and_then(Node::as_seq).unwrap_or_default();
    let main = flow.steps.iter().zip(nodes("steps")).map(|(step, node)| StepSite {
        step,
        node,
        on_failure: false,
    });
    let on_failure = flow
        .on_failure
        .iter()
        .zip(nodes("on_failure"))
        .map(|(step, node)| StepSite {
            step,
            node,
            on_failure: true,
        });
    main.chain(on_failure).collect()
}

/// The span of a key, or of the whole node when the key is absent.
pub(super) fn key_span(node: &Node, key: &str) -> Span {
    node.entry(key).map_or(node.span, |(key, _)| key.span)
}

pub(super) fn value_span(node: &Node, key: &str) -> Span {
    node.get(key).map_or(node.span, |value| value.span)
}

pub(super) fn check_step_ids(sites: &[StepSite<'_>], out: &mut Vec<Diagnostic>) {
    let mut first_seen: HashMap<&str, Span> = HashMap::new();
    for site in sites {
        let span = value_span(site.node, "id");
        match first_seen.get(site.step.id.as_str()) {
            Some(first) => out.push(
                Diagnostic::error(
                    "duplicate-step-id",
                    span,
                    format!("duplicate step id `{}`", site.step.id),
                )
                .with_label("used again here")
                .with_help(format!(
                    "step ids are unique in a flow (first used on line {}); rename one",
                    first.start.line
                ))
                .with_related("first used here", *first),
            ),
            None => {
                first_seen.insert(&site.step.id, span);
            }
        }
    }
}

pub(super) fn check_inputs(flow: &Flow, tree: &Node, out: &mut Vec<Diagnostic>) {
    let Some(inputs_node) = tree.get("inputs") else { return };
    for (name, input) in &flow.inputs {
        let Some(node) = inputs_node.get(name) else { continue };
        if let Some(default) = &input.default
            && !input.kind.accepts(default)
        {
            out.push(
                Diagnostic::error(
                    "input-default-type",
                    value_span(node, "default"),
                    format!(
                        "the default of input `{name}` is not of its type `{}`",
                        input.kind.as_str()
                    ),
                )
                .with_label(format!("not {}", input.kind.as_str()))
                .with_help(format!(
                    "give a literal {} default, or change `type`",
                    input.kind.as_str()
                )),
            );
        }
    }
}

pub(super) fn check_state(tree: &Node, flow: &Flow, out: &mut Vec<Diagnostic>) {
    let Some(state) = &flow.state else { return };
    if state.cursor_scope == Some(CursorScope::Flow) {
        let span = tree
            .get("state")
            .map_or(tree.span, |node| value_span(node, "cursor_scope"));
        out.push(
            Diagnostic::error(
                "reserved",
                span,
                "`cursor_scope: flow` is reserved for a later version of the flow format",
            )
            .with_label("reserved")
            .with_help("use `cursor_scope: step` (the default): each incremental step keeps its own cursor"),
        );
    }
}
