//! The trigger: cron and time zone of a schedule, a webhook's signature and path, a
//! connector trigger's module, parameters and connection.

use std::collections::HashSet;

use crate::catalog::{Catalog, ModuleKind};
use crate::diagnostic::Diagnostic;
use crate::model::Trigger;
use crate::suggest::help_for_unknown;
use crate::yaml::{Node, Span};

use crate::validate::structure::{self, Target};

use super::*;

pub(super) fn check_trigger(
    trigger: &Trigger,
    tree: &Node,
    connections: &Connections<'_>,
    catalog: &Catalog,
    used: &mut HashSet<String>,
    out: &mut Vec<Diagnostic>,
) {
    let Some(trigger_node) = tree.get("trigger") else {
        return;
    };
    match trigger {
        Trigger::Schedule(schedule) => {
            let Some(node) = trigger_node.get("schedule") else {
                return;
            };
            if let Err(error) = crate::validate::cron::check(&schedule.cron) {
                out.push(
                    Diagnostic::error(
                        "invalid-cron",
                        value_span(node, "cron"),
                        format!("`{}` is not a valid cron expression: {error}", schedule.cron),
                    )
                    .with_label("invalid cron")
                    .with_help(
                        "use 5 fields (minute hour day month weekday) or 6 with seconds first, e.g. `0 */15 * * * *`",
                    ),
                );
            }
            if let Some(zone) = &schedule.timezone
                && jiff::tz::TimeZone::get(zone).is_err()
            {
                out.push(
                    Diagnostic::error(
                        "invalid-timezone",
                        value_span(node, "timezone"),
                        format!("unknown time zone `{zone}`"),
                    )
                    .with_label("not an IANA time zone")
                    .with_help("use an IANA name such as `Europe/Amsterdam`, `America/New_York` or `UTC`"),
                );
            }
        }
        Trigger::Webhook(webhook) => {
            let Some(node) = trigger_node.get("webhook") else {
                return;
            };
            if webhook.signature.is_some() && webhook.secret.is_none() {
                out.push(
                    Diagnostic::error(
                        "signature-without-secret",
                        key_span(node, "signature"),
                        "a webhook `signature` needs a `secret` (the HMAC key)",
                    )
                    .with_label("no key to check it with")
                    .with_help("add `secret: \"{{ secrets.WEBHOOK_SECRET }}\"` to the webhook"),
                );
            }
            if webhook.path.trim_matches('/').is_empty() || webhook.path.contains(char::is_whitespace) {
                out.push(
                    Diagnostic::error(
                        "invalid-value",
                        value_span(node, "path"),
                        format!("`{}` is not a usable webhook path", webhook.path),
                    )
                    .with_help("use a path such as `orders/new`; the webhook listens on POST /hooks/<path>"),
                );
            }
        }
        Trigger::Connector(connector_trigger) => {
            let Some((key, node)) = trigger_node.as_map().and_then(|entries| entries.first()) else {
                return;
            };
            let uses = &connector_trigger.uses;
            let (connector_name, module_name) = uses.split_once('.').unwrap_or((uses, ""));
            let triggers = |connector: &crate::catalog::ConnectorSpec| {
                connector
                    .modules
                    .iter()
                    .filter(|module| module.kind == ModuleKind::Trigger)
                    .map(|module| format!("{}.{}", connector.name, module.name))
                    .collect::<Vec<_>>()
            };
            let module = catalog
                .connector(connector_name)
                .and_then(|connector| connector.module(module_name))
                .filter(|module| module.kind == ModuleKind::Trigger);
            let Some(module) = module else {
                let mut candidates = vec!["schedule".to_owned(), "webhook".to_owned()];
                candidates.extend(catalog.connectors().flat_map(triggers));
                out.push(
                    Diagnostic::error("unknown-trigger", key.span, format!("unknown trigger `{uses}`"))
                        .with_label("unknown trigger")
                        .with_help_opt(help_for_unknown(
                            uses,
                            candidates.iter().map(String::as_str),
                            "known triggers",
                        )),
                );
                return;
            };
            if let Some(validator) = catalog.validator(uses) {
                let target = Target {
                    node,
                    schema: &module.params_schema,
                    validator,
                    templates_allowed: true,
                    context: format!(" in trigger `{uses}`"),
                    root_key: Some(key.span),
                };
                out.extend(structure::check(&target));
            }
            resolve_trigger_connection(
                connector_trigger.connection(),
                node,
                key.span,
                connector_name,
                connections,
                used,
                out,
            );
        }
    }
}

pub(super) fn resolve_trigger_connection(
    connection: Option<&str>,
    node: &Node,
    trigger_span: Span,
    connector_name: &str,
    connections: &Connections<'_>,
    used: &mut HashSet<String>,
    out: &mut Vec<Diagnostic>,
) {
    let candidates: Vec<&str> = connections.of_connector(connector_name).collect();
    match connection {
        Some(name) if candidates.contains(&name) => {
            used.insert(name.to_owned());
        }
        Some(name) => out.push(
            Diagnostic::error(
                "unknown-connection",
                value_span(node, "connection"),
                format!("no `{connector_name}` connection named `{name}`"),
            )
            .with_label("not defined")
            .with_help_opt(name_choices(candidates, connector_name)),
        ),
        None => match candidates.as_slice() {
            [only] => {
                used.insert((*only).to_owned());
            }
            [] => out.push(
                Diagnostic::error(
                    "missing-connection",
                    trigger_span,
                    format!("the trigger needs a `{connector_name}` connection, and none is defined"),
                )
                .with_help(format!(
                    "add one under `connections:` with `connector: {connector_name}`"
                )),
            ),
            several => out.push(
                Diagnostic::error(
                    "ambiguous-connection",
                    trigger_span,
                    format!(
                        "the trigger must name its connection: {} `{connector_name}` connections exist",
                        several.len()
                    ),
                )
                .with_help(format!(
                    "add `connection: {}` (or one of {})",
                    several[0],
                    quoted_list(several)
                )),
            ),
        },
    }
}
