//! The environment variables and secrets a run needs: only those the flow (and the
//! connections it uses) read are taken from the process, so a template cannot read any other.

use std::collections::BTreeSet;

use flowrun_flow::model::{Connection, Flow};
use flowrun_flow::references::{Reference, expression_references, template_references};
use indexmap::IndexMap;
use serde_json::Value as Json;

/// Names read through `env.X` and `secrets.X`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamesRead {
    pub env: BTreeSet<String>,
    pub secrets: BTreeSet<String>,
}

/// Every `env.X` and `secrets.X` in the flow and in `connections` (the merged connections of
/// the run). Every string is read both as a template and as a bare expression, so `if:` and
/// pipeline expressions count; a plain string that happens to look like `env.X` only adds a
/// name to look up, never a value to show.
pub fn names_read(flow: &Flow, connections: &IndexMap<String, Connection>) -> NamesRead {
    let flow = serde_json::to_value(flow).unwrap_or_default();
    let connections = serde_json::to_value(connections).unwrap_or_default();
    names_in([&flow, &connections])
}

/// Every `env.X` and `secrets.X` in these values (e.g. one connection's config, for
/// `flowrun auth login`), read as [`names_read`] reads a flow.
pub fn names_in<'a>(values: impl IntoIterator<Item = &'a Json>) -> NamesRead {
    let mut names = NamesRead::default();
    let mut visit = |text: &str| {
        for reference in template_references(text).into_iter().chain(expression_references(text)) {
            match reference {
                Reference::Env(name) => {
                    names.env.insert(name);
                }
                Reference::Secret(name) => {
                    names.secrets.insert(name);
                }
                _ => {}
            }
        }
    };
    for value in values {
        walk(value, &mut visit);
    }
    names
}

fn walk(value: &Json, visit: &mut dyn FnMut(&str)) {
    match value {
        Json::String(text) => visit(text),
        Json::Array(items) => items.iter().for_each(|item| walk(item, visit)),
        Json::Object(map) => map.values().for_each(|item| walk(item, visit)),
        _ => {}
    }
}
