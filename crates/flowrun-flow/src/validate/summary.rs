//! What the checks across files need of one flow: a few names and spans, so a repository of
//! thousands of flows is checked without keeping every tree.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::model::Flow;
use crate::references::Reference;
use crate::yaml::{Node, Span};

use super::refs::template_refs;

/// One flow, as the checks across files see it.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowSummary {
    pub path: PathBuf,
    pub id: String,
    /// Where the id is written.
    pub id_span: Span,
    /// Steps naming a connection the flow does not define itself.
    pub outside_connections: Vec<OutsideConnection>,
    /// The secrets its templates read.
    pub secrets: BTreeSet<String>,
}

/// `connection: <name>` of a step, for a connection from the project file.
#[derive(Debug, Clone, PartialEq)]
pub struct OutsideConnection {
    pub step: String,
    pub connection: String,
    /// The span of the value.
    pub span: Span,
}

impl FlowSummary {
    /// `secrets`: the secrets the flow reads (found by the checks of meaning).
    pub fn new(path: &Path, flow: &Flow, tree: &Node, secrets: BTreeSet<String>) -> FlowSummary {
        let id_span = tree.get("flow").map_or(tree.span, |node| node.span);
        let step_nodes = tree.get("steps").and_then(Node::as_seq).unwrap_or_default();
        let outside_connections = flow
            .steps
            .iter()
            .zip(step_nodes)
            .filter_map(|(step, node)| {
                let connection = step.connection.as_ref()?;
                if flow.connections.contains_key(connection) {
                    return None;
                }
                let span = node.get("connection").map_or(node.span, |value| value.span);
                Some(OutsideConnection {
                    step: step.id.clone(),
                    connection: connection.clone(),
                    span,
                })
            })
            .collect();
        FlowSummary {
            path: path.to_path_buf(),
            id: flow.flow.clone(),
            id_span,
            outside_connections,
            secrets,
        }
    }
}

/// The secrets any template of a file reads (a project file's connections and profiles).
pub(crate) fn secrets_in(tree: &Node) -> BTreeSet<String> {
    secret_names(template_refs(tree).refs)
}

fn secret_names(found: Vec<super::refs::FoundRef>) -> BTreeSet<String> {
    found
        .into_iter()
        .filter_map(|found| match found.reference {
            Reference::Secret(name) => Some(name),
            _ => None,
        })
        .collect()
}
