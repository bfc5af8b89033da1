//! Things nothing uses: inputs, connections, transform outputs.

use std::collections::HashSet;

use crate::diagnostic::Diagnostic;
use crate::model::Flow;
use crate::references::Reference;
use crate::yaml::Node;

use super::*;

pub(super) fn warn_unused(
    flow: &Flow,
    tree: &Node,
    sites: &[StepSite<'_>],
    refs: &FlowRefs,
    used_connections: &HashSet<String>,
    out: &mut Vec<Diagnostic>,
) {
    let all_refs: Vec<&Reference> = refs.all().collect();
    // `{{ inputs }}` or `inputs[name]` reads every input.
    let reads_all_inputs = all_refs
        .iter()
        .any(|reference| matches!(reference, Reference::Context("inputs")));
    if let Some(inputs_node) = tree.get("inputs").filter(|_| !reads_all_inputs) {
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
