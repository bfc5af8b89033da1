//! The validator: a file's bytes in, the typed model and every diagnostic out.
//!
//! Three passes, each reporting everything it finds: the YAML tree (syntax, duplicate keys,
//! limits), the structure against the model's JSON Schema (unknown and missing keys, types,
//! ids), then the meaning (modules, connections, references, cycles, cron, time zones). The
//! typed model is deserialized only from a structurally valid tree.

mod cron;
mod graph;
mod meaning;
mod project_checks;
mod refs;
mod structure;
mod summary;
mod templates;
mod test_file;
#[cfg(test)]
mod test_file_tests;
#[cfg(test)]
mod tests;
mod yaml_diagnostics;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use jsonschema::Validator;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use graph::{EdgeKind, StepGraph};
pub use summary::{FlowSummary, OutsideConnection};
pub use test_file::{TestReport, check_test_against_flow, validate_test};

use crate::catalog::Catalog;
use crate::diagnostic::{Diagnostic, sort_and_dedupe};
use crate::model::{Flow, Project};
use crate::schema::{flow_schema, project_schema};
use crate::yaml::{self, Limits, Node, Pos, Span};
use yaml_diagnostics::yaml_diagnostic;

/// What the validator knows besides the file itself.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub catalog: &'a Catalog,
    /// The project file that applies to the flow, already validated, with its path.
    pub project: Option<(&'a Path, &'a Project)>,
}

/// The result of validating one flow file.
#[derive(Debug, Clone)]
pub struct FlowReport {
    /// The flow, when its structure is valid or could be repaired by leaving out what the
    /// schema rejected (diagnostics may remain: check `has_errors`).
    pub flow: Option<Flow>,
    /// The positioned tree, when the YAML parsed.
    pub tree: Option<Node>,
    /// The step dependency graph, when the flow deserialized.
    pub graph: Option<StepGraph>,
    /// What the checks across files need, when the flow deserialized.
    pub summary: Option<FlowSummary>,
    pub diagnostics: Vec<Diagnostic>,
}

impl FlowReport {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// The result of validating a project file.
#[derive(Debug, Clone)]
pub struct ProjectReport {
    pub project: Option<Project>,
    pub tree: Option<Node>,
    /// The secrets the project file's own templates read (its connections and profiles).
    pub secrets: BTreeSet<String>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Validates one flow file's bytes.
pub fn validate_flow(path: &Path, bytes: &[u8], context: Context<'_>) -> FlowReport {
    let mut report = FlowReport {
        flow: None,
        tree: None,
        graph: None,
        summary: None,
        diagnostics: Vec::new(),
    };
    let parsed = parse_document::<Flow>(bytes, compiled_flow_schema(), "a flow file", &mut report.diagnostics);
    if let Some((tree, flow)) = parsed {
        if let Some(flow) = &flow {
            let meaning = meaning::check(flow, &tree, context, &mut report.diagnostics);
            report.summary = Some(FlowSummary::new(path, flow, &tree, meaning.secrets));
            report.graph = Some(meaning.graph);
        }
        report.flow = flow;
        report.tree = Some(tree);
    }
    finish(path, &mut report.diagnostics);
    report
}

/// Validates a project file (`flowrun.yaml`).
pub fn validate_project(path: &Path, bytes: &[u8], catalog: &Catalog) -> ProjectReport {
    let mut report = ProjectReport {
        project: None,
        tree: None,
        secrets: BTreeSet::new(),
        diagnostics: Vec::new(),
    };
    let parsed = parse_document::<Project>(
        bytes,
        compiled_project_schema(),
        "a project file",
        &mut report.diagnostics,
    );
    if let Some((tree, project)) = parsed {
        if let Some(project) = &project {
            project_checks::check(project, &tree, catalog, &mut report.diagnostics);
        }
        report.project = project;
        report.secrets = summary::secrets_in(&tree);
        report.tree = Some(tree);
    }
    finish(path, &mut report.diagnostics);
    report
}

/// Checks across files validated together: flow ids are unique, and every profile of the
/// project provides the connections each flow needs.
pub fn validate_together(flows: &[FlowSummary], project: Option<&Project>) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for (index, flow) in flows.iter().enumerate() {
        if let Some(first) = flows[..index].iter().find(|earlier| earlier.id == flow.id) {
            let mut diagnostic = Diagnostic::error(
                "duplicate-flow-id",
                flow.id_span,
                format!("flow id `{}` is used by another flow", flow.id),
            )
            .with_label("second use")
            // The first use is in another file, so it goes in the help, not in a label.
            .with_help(format!(
                "flow ids are unique in a repository; {}:{}:{} already uses it: rename one",
                first.path.display(),
                first.id_span.start.line,
                first.id_span.start.column
            ));
            diagnostic.file = flow.path.clone();
            diagnostics.push(diagnostic);
        }
        if let Some(project) = project {
            for mut diagnostic in project_checks::missing_profile_connections(flow, project) {
                diagnostic.file = flow.path.clone();
                diagnostics.push(diagnostic);
            }
        }
    }
    sort_and_dedupe(&mut diagnostics);
    diagnostics
}

/// Secrets in the project's secrets file that no flow reads. Only meaningful when `flows` are
/// all the flows of the project. `names` come from [`crate::dotenv::names`]; the diagnostics
/// hide the file's lines, which hold secret values.
pub fn unused_secrets(
    secrets_file: &Path,
    names: &[(String, Span)],
    project: &ProjectReport,
    flows: &[FlowSummary],
) -> Vec<Diagnostic> {
    names
        .iter()
        .filter(|(name, _)| !project.secrets.contains(name) && !flows.iter().any(|flow| flow.secrets.contains(name)))
        .map(|(name, span)| {
            let mut diagnostic = Diagnostic::warning("unused-secret", *span, format!("secret `{name}` is never used"))
                .with_help(format!(
                    "read it as `{{{{ secrets.{name} }}}}` in a flow, or remove it from the secrets file"
                ));
            diagnostic.file = secrets_file.to_path_buf();
            diagnostic.source_hidden = true;
            diagnostic
        })
        .collect()
}

fn finish(path: &Path, diagnostics: &mut Vec<Diagnostic>) {
    for diagnostic in diagnostics.iter_mut() {
        diagnostic.file = PathBuf::from(path);
    }
    sort_and_dedupe(diagnostics);
}

/// Parse, check the structure, and deserialize. Returns the tree (if the YAML parsed) and the
/// typed value (if the structure is valid).
fn parse_document<T: DeserializeOwned>(
    bytes: &[u8],
    schema: &(Value, Validator),
    what: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<(Node, Option<T>)> {
    let text = match yaml::decode(bytes) {
        Ok(text) => text,
        Err(error) => {
            diagnostics.push(yaml_diagnostic(&error, ""));
            return None;
        }
    };
    let (tree, yaml_errors) = yaml::parse(text, Limits::default());
    diagnostics.extend(yaml_errors.iter().map(|error| yaml_diagnostic(error, text)));
    let Some(tree) = tree else {
        if yaml_errors.is_empty() {
            diagnostics.push(
                Diagnostic::error(
                    "empty-file",
                    Span::point(Pos {
                        line: 1,
                        column: 1,
                        offset: 0,
                    }),
                    format!("the file is empty: expected {what}"),
                )
                .with_help(empty_help(what)),
            );
        }
        return None;
    };
    let (schema, validator) = schema;
    let target = structure::Target {
        node: &tree,
        schema,
        validator,
        templates_allowed: false,
        context: String::new(),
        root_key: None,
    };
    // One JSON copy of the tree serves the schema check, then serde (or the repair).
    let json = tree.to_json();
    let structural = structure::check_instance(&target, &json);
    let valid = structural.is_empty();
    diagnostics.extend(structural);
    let value = if valid {
        serde_json::from_value::<T>(json).map_err(|error| error.to_string())
    } else {
        repaired(json, validator)
    };
    match value {
        Ok(value) => Some((tree, Some(value))),
        Err(error) if valid => {
            // The schema accepted what serde refused: say so at the top rather than hide it.
            diagnostics.push(Diagnostic::error("invalid-value", Span::point(tree.span.start), error));
            Some((tree, None))
        }
        Err(_) => Some((tree, None)),
    }
}

/// The model without the parts the schema rejected, so the semantic checks still run and a
/// file's problems are reported in one pass. Steps are never dropped (diagnostics pair each
/// step with its node by position); when a step itself is unusable there is no model.
fn repaired<T: DeserializeOwned>(mut json: Value, validator: &Validator) -> Result<T, String> {
    for _ in 0..4 {
        let mut removals: Vec<String> = Vec::new();
        for error in validator.iter_errors(&json) {
            structure::rejected_pointers(&error, &mut removals);
        }
        if removals.is_empty() {
            break;
        }
        // Deepest and highest indexes first, so earlier removals do not shift later ones.
        removals.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| b.cmp(a)));
        removals.dedup();
        for pointer in &removals {
            remove_pointer(&mut json, pointer)?;
        }
    }
    serde_json::from_value(json).map_err(|error| error.to_string())
}

fn remove_pointer(json: &mut Value, pointer: &str) -> Result<(), String> {
    let unusable = || format!("cannot check the meaning of `{pointer}`");
    let (parent, last) = pointer.rsplit_once('/').ok_or_else(unusable)?;
    let is_step = matches!(parent, "/steps" | "/on_failure");
    let last = last.replace("~1", "/").replace("~0", "~");
    match json.pointer_mut(parent) {
        Some(Value::Object(object)) => {
            object.shift_remove(&last);
            Ok(())
        }
        Some(Value::Array(items)) if !is_step => {
            let index: usize = last.parse().map_err(|_| unusable())?;
            if index < items.len() {
                items.remove(index);
            }
            Ok(())
        }
        _ => Err(unusable()),
    }
}

fn empty_help(what: &str) -> String {
    match what {
        "a flow file" => "a flow needs at least `flow: <id>` and `steps:`; see flows/ for examples".to_owned(),
        "a flow test file" => "a test file needs `flow: <file>` (the flow under test) and `cases:`".to_owned(),
        _ => "a project file holds `connections`, `state`, `secrets_file` or `profiles`".to_owned(),
    }
}

fn compiled_flow_schema() -> &'static (Value, Validator) {
    static SCHEMA: OnceLock<(Value, Validator)> = OnceLock::new();
    SCHEMA.get_or_init(|| compile(flow_schema()))
}

fn compiled_project_schema() -> &'static (Value, Validator) {
    static SCHEMA: OnceLock<(Value, Validator)> = OnceLock::new();
    SCHEMA.get_or_init(|| compile(project_schema()))
}

fn compile(mut schema: Value) -> (Value, Validator) {
    without_descriptions(&mut schema);
    let validator = jsonschema::draft7::new(&schema).expect("the model's own schema compiles (a unit test checks it)");
    (schema, validator)
}

/// Drops the `description` keywords (the docs editors show, from the model's doc comments):
/// they assert nothing, and they are most of the schema's text, which jsonschema otherwise
/// checks against the meta-schema and walks at every start. A property named `description`
/// (a flow's own) holds a schema, not a string, and stays.
fn without_descriptions(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            if object.get("description").is_some_and(Value::is_string) {
                object.shift_remove("description");
            }
            object.values_mut().for_each(without_descriptions);
        }
        Value::Array(items) => items.iter_mut().for_each(without_descriptions),
        _ => {}
    }
}
