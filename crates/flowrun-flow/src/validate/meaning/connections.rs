//! Connections: which a flow may use, their configs against the connector, and the names
//! used in help lines.

use crate::catalog::Catalog;
use crate::diagnostic::Diagnostic;
use crate::model::Flow;
use crate::suggest::help_for_unknown;
use crate::yaml::Node;

use crate::validate::Context;
use crate::validate::structure::{self, Target};

use super::*;

/// The connections a flow may use: its own, then the project's (and its profiles').
pub(super) struct Connections<'a> {
    by_name: Vec<(&'a str, &'a str)>,
}

impl Connections<'_> {
    pub(super) fn connector_of(&self, name: &str) -> Option<&str> {
        self.by_name
            .iter()
            .find(|(connection, _)| *connection == name)
            .map(|(_, connector)| *connector)
    }

    pub(super) fn of_connector<'s>(&'s self, connector: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.by_name
            .iter()
            .filter(move |(_, of)| *of == connector)
            .map(|(name, _)| *name)
    }
}

pub(super) fn available_connections<'a>(flow: &'a Flow, context: Context<'a>) -> Connections<'a> {
    let mut by_name: Vec<(&str, &str)> = flow
        .connections
        .iter()
        .map(|(name, connection)| (name.as_str(), connection.connector.as_str()))
        .collect();
    if let Some((_, project)) = context.project {
        let project_connections = project
            .connections
            .iter()
            .map(|(name, connection)| (name.as_str(), connection.connector.as_str()));
        let profile_connections = project.profiles.values().flat_map(|profile| {
            profile
                .connections
                .iter()
                .filter_map(|(name, overlay)| Some((name.as_str(), overlay.connector.as_deref()?)))
        });
        for (name, connector) in project_connections.chain(profile_connections) {
            if !by_name.iter().any(|(existing, _)| *existing == name) {
                by_name.push((name, connector));
            }
        }
    }
    Connections { by_name }
}

pub(super) fn check_connection_blocks(flow: &Flow, tree: &Node, catalog: &Catalog, out: &mut Vec<Diagnostic>) {
    let Some(connections_node) = tree.get("connections") else {
        return;
    };
    for (name, connection) in &flow.connections {
        let Some(node) = connections_node.get(name) else {
            continue;
        };
        check_connection(name, &connection.connector, node, catalog, out);
    }
}

/// A connection block (of a flow or the project): a known connector and a config its schema accepts.
pub(crate) fn check_connection(name: &str, connector: &str, node: &Node, catalog: &Catalog, out: &mut Vec<Diagnostic>) {
    let Some(spec) = catalog.connector(connector) else {
        out.push(
            Diagnostic::error(
                "unknown-connector",
                value_span(node, "connector"),
                format!("unknown connector `{connector}` in connection `{name}`"),
            )
            .with_label("unknown connector")
            .with_help_opt(help_for_unknown(
                connector,
                catalog.connector_names(),
                "known connectors",
            )),
        );
        return;
    };
    let (Some(config), Some(validator)) = (node.get("config"), catalog.validator(&spec.name)) else {
        return;
    };
    let target = Target {
        node: config,
        schema: &spec.connection_schema,
        validator,
        templates_allowed: true,
        context: format!(" in the config of connection `{name}` ({connector})"),
        root_key: node.entry("config").map(|(key, _)| key.span),
    };
    out.extend(structure::check(&target));
}

pub(super) fn name_choices(candidates: Vec<&str>, connector: &str) -> Option<String> {
    if candidates.is_empty() {
        Some(format!("define a connection with `connector: {connector}`"))
    } else {
        Some(format!("`{connector}` connections: {}", quoted_list(&candidates)))
    }
}

pub(super) fn quoted_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
