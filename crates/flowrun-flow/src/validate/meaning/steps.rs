//! Each step: `uses` names a known module, `with` fits its schema, the connection resolves,
//! and keys that only make sense with `for_each` or on module steps are where they belong.

use std::collections::HashSet;

use crate::catalog::{Catalog, ModuleKind};
use crate::diagnostic::Diagnostic;
use crate::suggest::help_for_unknown;
use crate::yaml::{Node, Span};

use crate::validate::structure::{self, Target};

use super::*;

pub(super) fn check_step(
    site: &StepSite<'_>,
    connections: &Connections<'_>,
    catalog: &Catalog,
    used: &mut HashSet<String>,
    out: &mut Vec<Diagnostic>,
) {
    let (step, node) = (site.step, site.node);
    match (&step.uses, &step.transform) {
        (None, None) => out.push(
            Diagnostic::error(
                "missing-key",
                key_span(node, "id"),
                format!("step `{}` needs `uses` or `transform`", step.id),
            )
            .with_label("neither `uses` nor `transform`")
            .with_help("add `uses: <connector>.<module>` to call a connector, or `transform:` for a pipeline"),
        ),
        (Some(_), Some(_)) => out.push(
            Diagnostic::error(
                "conflicting-keys",
                key_span(node, "transform"),
                format!("step `{}` has both `uses` and `transform`", step.id),
            )
            .with_label("second kind of step")
            .with_help("a step either calls a module (`uses`) or transforms data (`transform`); split it in two steps"),
        ),
        (Some(uses), None) => check_module_step(site, uses, connections, catalog, used, out),
        (None, Some(_)) => {
            for key in ["with", "connection"] {
                if node.get(key).is_some() {
                    out.push(
                        Diagnostic::error(
                            "conflicting-keys",
                            key_span(node, key),
                            format!("`{key}` has no meaning on a transform step"),
                        )
                        .with_help(format!("remove `{key}`, or make the step call a module with `uses`")),
                    );
                }
            }
        }
    }
    if step.for_each.is_none() {
        for key in ["concurrency", "item_key"] {
            if node.get(key).is_some() {
                out.push(
                    Diagnostic::error(
                        "needs-for-each",
                        key_span(node, key),
                        format!("`{key}` without `for_each` in step `{}`", step.id),
                    )
                    .with_label("only for `for_each` steps")
                    .with_help(format!(
                        "add `for_each: \"{{{{ … }}}}\"` to run the step per item, or remove `{key}`"
                    )),
                );
            }
        }
    }
}

pub(super) fn check_module_step(
    site: &StepSite<'_>,
    uses: &str,
    connections: &Connections<'_>,
    catalog: &Catalog,
    used: &mut HashSet<String>,
    out: &mut Vec<Diagnostic>,
) {
    let (step, node) = (site.step, site.node);
    let uses_span = value_span(node, "uses");
    let Some((connector_name, module_name)) = uses.split_once('.') else {
        out.push(
            Diagnostic::error("invalid-uses", uses_span, format!("`{uses}` does not name a module"))
                .with_label("expected `<connector>.<module>`")
                .with_help_opt(help_for_unknown(
                    uses,
                    catalog.step_module_names().iter().map(String::as_str),
                    "write `<connector>.<module>`, e.g.",
                )),
        );
        return;
    };
    let Some(connector) = catalog.connector(connector_name) else {
        out.push(
            Diagnostic::error(
                "unknown-connector",
                uses_span,
                format!("unknown connector `{connector_name}`"),
            )
            .with_label("unknown connector")
            .with_help_opt(help_for_unknown(
                connector_name,
                catalog.connector_names(),
                "known connectors",
            )),
        );
        return;
    };
    let module = connector
        .module(module_name)
        .filter(|module| module.kind != ModuleKind::Trigger);
    let Some(module) = module else {
        let names = connector
            .modules
            .iter()
            .filter(|module| module.kind != ModuleKind::Trigger)
            .map(|module| module.name.as_str());
        out.push(
            Diagnostic::error(
                "unknown-module",
                uses_span,
                format!("connector `{connector_name}` has no module `{module_name}`"),
            )
            .with_label("unknown module")
            .with_help_opt(help_for_unknown(module_name, names, "its modules")),
        );
        return;
    };
    let key = format!("{connector_name}.{module_name}");
    if let Some(validator) = catalog.validator(&key) {
        let empty = Node {
            value: crate::yaml::NodeValue::Map(Vec::new()),
            span: Span::point(node.span.start),
        };
        let with_node = node.get("with").unwrap_or(&empty);
        let target = Target {
            node: with_node,
            schema: &module.params_schema,
            validator,
            templates_allowed: true,
            context: format!(" in `with` of step `{}` ({key})", step.id),
            // Without `with`, a missing parameter is reported at `uses`.
            root_key: Some(key_span(node, if node.get("with").is_some() { "with" } else { "uses" })),
        };
        out.extend(structure::check(&target));
    }
    match &step.connection {
        Some(name) => match connections.connector_of(name) {
            Some(of) if of == connector_name => {
                used.insert(name.clone());
            }
            Some(of) => out.push(
                Diagnostic::error("connection-mismatch", value_span(node, "connection"), format!("connection `{name}` is a `{of}` connection, but `{uses}` needs `{connector_name}`"))
                    .with_label("wrong connector")
                    .with_help_opt(name_choices(connections.of_connector(connector_name).collect(), connector_name)),
            ),
            None => out.push(
                Diagnostic::error("unknown-connection", value_span(node, "connection"), format!("unknown connection `{name}`"))
                    .with_label("not defined")
                    .with_help_opt(help_for_unknown(name, connections.of_connector(connector_name), "connections of this connector").or_else(|| {
                        Some(format!("define it under `connections:` in the flow or in flowrun.yaml with `connector: {connector_name}`"))
                    })),
            ),
        },
        None => {
            let candidates: Vec<&str> = connections.of_connector(connector_name).collect();
            match candidates.as_slice() {
                [only] => {
                    used.insert((*only).to_owned());
                }
                [] if connector.connection_optional => check_without_connection(site, &key, module, catalog, out),
                [] => out.push(
                    Diagnostic::error("missing-connection", key_span(node, "uses"), format!("step `{}` needs a `{connector_name}` connection, and none is defined", step.id))
                        .with_label("no connection for this connector")
                        .with_help(format!("add one under `connections:` (in the flow or in flowrun.yaml) with `connector: {connector_name}`")),
                ),
                several => out.push(
                    Diagnostic::error("ambiguous-connection", key_span(node, "uses"), format!("step `{}` must name its connection: {} `{connector_name}` connections exist", step.id, several.len()))
                        .with_label("which connection?")
                        .with_help(format!("add `connection: {}` (or one of {})", several[0], quoted_list(several))),
                ),
            }
        }
    }
}

/// A step of a connector whose connection is optional, run without one: its `with` must also
/// meet the module's rules for that case (`http.request` needs an absolute `url`).
fn check_without_connection(
    site: &StepSite<'_>,
    key: &str,
    module: &crate::catalog::ModuleSpec,
    catalog: &Catalog,
    out: &mut Vec<Diagnostic>,
) {
    let (Some(schema), Some(validator), Some(with_node)) = (
        &module.without_connection_schema,
        catalog.validator(&format!("{key} without connection")),
        site.node.get("with"),
    ) else {
        return;
    };
    let connector = key.split('.').next().unwrap_or(key);
    let target = Target {
        node: with_node,
        schema,
        validator,
        templates_allowed: true,
        context: format!(
            " in `with` of step `{}`: without a connection, {key} has nothing to resolve it against",
            site.step.id
        ),
        root_key: Some(key_span(site.node, "with")),
    };
    for diagnostic in structure::check(&target) {
        out.push(diagnostic.with_help(format!(
            "write the value in full (e.g. an absolute URL), or give the step a `{connector}` connection whose config completes it (e.g. `base_url`)"
        )));
    }
}
