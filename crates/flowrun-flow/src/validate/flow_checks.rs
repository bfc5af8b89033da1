//! The meaning of a structurally valid flow: modules, connections, references, the graph,
//! schedules, and the warnings about things nothing uses.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::catalog::{Catalog, ModuleKind};
use crate::diagnostic::Diagnostic;
use crate::model::{CursorScope, Flow, Step, Trigger};
use crate::references::Reference;
use crate::suggest::help_for_unknown;
use crate::yaml::{Node, Span};

use super::Context;
use super::graph::{EdgeKind, StepGraph};
use super::refs::{FoundRef, step_refs, template_refs};
use super::structure::{self, Target};

/// One step with its node and where it sits.
struct StepSite<'a> {
    step: &'a Step,
    node: &'a Node,
    on_failure: bool,
}

/// The connections a flow may use: its own, then the project's (and its profiles').
struct Connections<'a> {
    by_name: Vec<(&'a str, &'a str)>,
}

impl Connections<'_> {
    fn connector_of(&self, name: &str) -> Option<&str> {
        self.by_name
            .iter()
            .find(|(connection, _)| *connection == name)
            .map(|(_, connector)| *connector)
    }

    fn of_connector<'s>(&'s self, connector: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.by_name
            .iter()
            .filter(move |(_, of)| *of == connector)
            .map(|(name, _)| *name)
    }
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
    super::templates::check(tree, out);
    check_state(tree, flow, out);
    let refs = FlowRefs::new(tree, &sites);
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

fn step_sites<'a>(flow: &'a Flow, tree: &'a Node) -> Vec<StepSite<'a>> {
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

fn available_connections<'a>(flow: &'a Flow, context: Context<'a>) -> Connections<'a> {
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

/// The span of a key, or of the whole node when the key is absent.
fn key_span(node: &Node, key: &str) -> Span {
    node.entry(key).map_or(node.span, |(key, _)| key.span)
}

fn value_span(node: &Node, key: &str) -> Span {
    node.get(key).map_or(node.span, |value| value.span)
}

fn check_step_ids(sites: &[StepSite<'_>], out: &mut Vec<Diagnostic>) {
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

fn check_connection_blocks(flow: &Flow, tree: &Node, catalog: &Catalog, out: &mut Vec<Diagnostic>) {
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
pub(super) fn check_connection(name: &str, connector: &str, node: &Node, catalog: &Catalog, out: &mut Vec<Diagnostic>) {
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

fn check_step(
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

fn check_module_step(
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
                    all_module_names(catalog).iter().map(String::as_str),
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
                [] if connector.connection_optional => {}
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

fn check_trigger(
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
            if let Err(error) = super::cron::check(&schedule.cron) {
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
            let all_triggers: Vec<String> = catalog.connectors.iter().flat_map(triggers).collect();
            let module = catalog
                .connector(connector_name)
                .and_then(|connector| connector.module(module_name))
                .filter(|module| module.kind == ModuleKind::Trigger);
            let Some(module) = module else {
                let mut candidates = vec!["schedule".to_owned(), "webhook".to_owned()];
                candidates.extend(all_triggers);
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

fn resolve_trigger_connection(
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

fn check_inputs(flow: &Flow, tree: &Node, out: &mut Vec<Diagnostic>) {
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

fn check_state(tree: &Node, flow: &Flow, out: &mut Vec<Diagnostic>) {
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

/// Checks every template reference and builds the dependency graph.
/// Every reference of a flow, found once and shared by the checks that read them.
struct FlowRefs {
    /// Per step site, in the order of `sites`.
    by_site: Vec<Vec<FoundRef>>,
    /// In the flow `output` and the trigger.
    top_level: Vec<FoundRef>,
    /// In connection configs (only `env` and `secrets` mean something there).
    connections: Vec<FoundRef>,
}

impl FlowRefs {
    fn new(tree: &Node, sites: &[StepSite<'_>]) -> FlowRefs {
        let of = |key| tree.get(key).map(template_refs).unwrap_or_default();
        let mut top_level = of("output");
        top_level.extend(of("trigger"));
        FlowRefs {
            by_site: sites.iter().map(|site| step_refs(site.node)).collect(),
            top_level,
            connections: of("connections"),
        }
    }

    fn all(&self) -> impl Iterator<Item = &Reference> {
        self.by_site
            .iter()
            .flatten()
            .chain(&self.top_level)
            .chain(&self.connections)
            .map(|found| &found.reference)
    }

    /// The names of the secrets the flow reads.
    fn secrets(&self) -> BTreeSet<String> {
        self.all()
            .filter_map(|reference| match reference {
                Reference::Secret(name) => Some(name.clone()),
                _ => None,
            })
            .collect()
    }
}

fn check_references(
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
    for found in &refs.top_level {
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

fn check_context_ref(found: &FoundRef, site: &StepSite<'_>, out: &mut Vec<Diagnostic>) {
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

fn context_error(name: &str, span: Span, why: &str) -> Diagnostic {
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

fn check_step_field(id: &str, field: Option<&str>, span: Span, out: &mut Vec<Diagnostic>) {
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
fn check_input_ref(declared: &[&str], name: &str, span: Span, out: &mut Vec<Diagnostic>) {
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

fn unknown_step(id: &str, span: Span, visible: &[&str]) -> Diagnostic {
    Diagnostic::error("unknown-step", span, format!("unknown step `{id}`"))
        .with_label("no step with this id")
        .with_help_opt(help_for_unknown(id, visible.iter().copied(), "steps"))
}

fn cycle_diagnostic(cycle: &[usize], sites: &[StepSite<'_>]) -> Diagnostic {
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

fn warn_unused(
    flow: &Flow,
    tree: &Node,
    sites: &[StepSite<'_>],
    refs: &FlowRefs,
    used_connections: &HashSet<String>,
    out: &mut Vec<Diagnostic>,
) {
    let all_refs: Vec<&Reference> = refs.all().collect();
    if let Some(inputs_node) = tree.get("inputs") {
        for name in flow.inputs.keys() {
            if !all_refs
                .iter()
                .any(|reference| matches!(reference, Reference::Input(input) if input == name))
            {
                out.push(
                    Diagnostic::warning(
                        "unused-input",
                        key_span(inputs_node, name),
                        format!("input `{name}` is never used"),
                    )
                    .with_label("unused")
                    .with_help(format!("use it as `{{{{ inputs.{name} }}}}` or remove it")),
                );
            }
        }
    }
    if let Some(connections_node) = tree.get("connections") {
        for name in flow.connections.keys() {
            if !used_connections.contains(name) {
                out.push(
                    Diagnostic::warning(
                        "unused-connection",
                        key_span(connections_node, name),
                        format!("connection `{name}` is never used"),
                    )
                    .with_label("unused")
                    .with_help("remove it, or name it in a step's `connection:`"),
                );
            }
        }
    }
    for site in sites.iter().filter(|site| site.step.transform.is_some()) {
        let id = &site.step.id;
        let read = all_refs.iter().any(|reference| matches!(reference, Reference::Step { id: other, field } if other == id && field.as_deref() != Some("status")));
        if !read {
            out.push(
                Diagnostic::warning(
                    "unused-output",
                    value_span(site.node, "id"),
                    format!("the output of transform step `{id}` is never read"),
                )
                .with_label("output unused")
                .with_help(format!(
                    "read it as `{{{{ steps.{id}.output }}}}` in a later step or the flow `output`, or remove the step"
                )),
            );
        }
    }
}

fn all_module_names(catalog: &Catalog) -> Vec<String> {
    catalog
        .connectors
        .iter()
        .flat_map(|connector| {
            connector
                .modules
                .iter()
                .map(move |module| format!("{}.{}", connector.name, module.name))
        })
        .collect()
}

fn name_choices(candidates: Vec<&str>, connector: &str) -> Option<String> {
    if candidates.is_empty() {
        Some(format!("define a connection with `connector: {connector}`"))
    } else {
        Some(format!("`{connector}` connections: {}", quoted_list(&candidates)))
    }
}

fn quoted_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
