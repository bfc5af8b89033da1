//! The project file: its connections, state store URL, secrets file and profiles.

use crate::catalog::Catalog;
use crate::diagnostic::Diagnostic;
use crate::model::Project;
use crate::yaml::Node;

use super::meaning::check_connection;
use super::summary::FlowSummary;

pub(super) fn check(project: &Project, tree: &Node, catalog: &Catalog, out: &mut Vec<Diagnostic>) {
    if let Some(connections) = tree.get("connections") {
        for (name, connection) in &project.connections {
            if let Some(node) = connections.get(name) {
                check_connection(name, &connection.connector, node, catalog, out);
            }
        }
    }
    if let (Some(state), Some(node)) = (&project.state, tree.get("state")) {
        check_state_url(state, node, out);
    }
    let Some(profiles) = tree.get("profiles") else { return };
    for (profile_name, profile) in &project.profiles {
        let Some(profile_node) = profiles.get(profile_name) else {
            continue;
        };
        if let (Some(state), Some(node)) = (&profile.state, profile_node.get("state")) {
            check_state_url(state, node, out);
        }
        let Some(connections) = profile_node.get("connections") else {
            continue;
        };
        for (name, overlay) in &profile.connections {
            let Some(node) = connections.get(name) else { continue };
            let base = project.connections.get(name);
            match (&overlay.connector, base) {
                (None, None) => out.push(
                    Diagnostic::error("missing-key", connections.entry(name).map_or(node.span, |(key, _)| key.span), format!("profile `{profile_name}` overlays connection `{name}`, which the project does not define"))
                        .with_label("nothing to overlay")
                        .with_help(format!("add `connector:` to define it in this profile, or define `{name}` under the project's `connections:`")),
                ),
                (Some(connector), Some(base)) if *connector != base.connector => out.push(
                    Diagnostic::error("connection-mismatch", node.get("connector").map_or(node.span, |value| value.span), format!("profile `{profile_name}` changes the connector of `{name}` from `{}` to `{connector}`", base.connector))
                        .with_help("a profile changes a connection's settings, not its connector; use another connection name"),
                ),
                (Some(connector), None) => check_connection(name, connector, node, catalog, out),
                _ => {}
            }
        }
    }
}

fn check_state_url(url: &str, node: &Node, out: &mut Vec<Diagnostic>) {
    let known = ["sqlite:", "postgres://", "postgresql://"];
    if !url.contains("{{") && !known.iter().any(|scheme| url.starts_with(scheme)) {
        out.push(
            Diagnostic::error("invalid-value", node.span, format!("`{url}` is not a state store URL"))
                .with_label("unknown scheme")
                .with_help(
                    "use `sqlite://.flowrun/state.db` (embedded) or `postgres://user@host/db` (several workers)",
                ),
        );
    }
}

/// A flow that names a connection only some profiles define cannot run under the others.
pub(super) fn missing_profile_connections(flow: &FlowSummary, project: &Project) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for outside in &flow.outside_connections {
        let name = &outside.connection;
        if project.connections.contains_key(name) {
            continue;
        }
        let defined_in: Vec<&str> = project
            .profiles
            .iter()
            .filter(|(_, profile)| {
                profile
                    .connections
                    .get(name)
                    .is_some_and(|overlay| overlay.connector.is_some())
            })
            .map(|(profile, _)| profile.as_str())
            .collect();
        if defined_in.is_empty() {
            continue; // Reported as an unknown connection by the flow's own checks.
        }
        let lacking: Vec<String> = std::iter::once("(no profile)".to_owned())
            .chain(
                project
                    .profiles
                    .keys()
                    .filter(|profile| !defined_in.contains(&profile.as_str()))
                    .map(|profile| format!("`{profile}`")),
            )
            .collect();
        let span = outside.span;
        out.push(
            Diagnostic::error(
                "profile-missing-connection",
                span,
                format!(
                    "connection `{name}` of step `{}` exists only in profile {}; runs under {} lack it",
                    outside.step,
                    defined_in
                        .iter()
                        .map(|p| format!("`{p}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    lacking.join(", ")
                ),
            )
            .with_label("not in every profile")
            .with_help(format!(
                "define `{name}` under the project's `connections:` (profiles then overlay it), or in every profile"
            )),
        );
    }
    out
}
