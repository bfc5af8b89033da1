//! A flow test file checked with everything around it: the flow it names (validated with the
//! project file that applies to it), the rules between the two, and the cassettes its cases
//! replay. `flowrun validate` and `flowrun test` both start here.

use std::io;
use std::path::{Component, Path, PathBuf};

use flowrun_flow::diagnostic::sort_and_dedupe;
use flowrun_flow::model::{Flow, TestFile};
use flowrun_flow::validate::{check_test_against_flow, validate_test};
use flowrun_flow::yaml::{Node, Span};
use flowrun_flow::{Context, Diagnostic, validate_flow, validate_project};

use crate::{catalog, discover};

/// One test file and the flow it tests, with every problem found in either.
#[derive(Debug, Clone)]
pub struct CheckedTest {
    pub path: PathBuf,
    /// The test file, when its structure is valid or could be repaired (see `diagnostics`).
    pub test: Option<TestFile>,
    /// Where `flow:` leads (relative to the test file's folder), when the test file says.
    pub flow_path: Option<PathBuf>,
    /// The flow, when its file exists and deserialized; it may still have errors (see
    /// `diagnostics`, which then hold them under the flow's path).
    pub flow: Option<Flow>,
    /// The test file's diagnostics, the flow's errors (and its project file's), sorted.
    pub diagnostics: Vec<Diagnostic>,
}

impl CheckedTest {
    /// True when the test cannot run as written: an error in the test file, its flow, or the
    /// flow's project file.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Reads and checks a test file, the flow it names and the cassettes it replays. An
/// unreadable test file (or flow, or project file) is an I/O error; everything else, a missing
/// flow or cassette included, is a diagnostic.
pub fn check(path: &Path) -> io::Result<CheckedTest> {
    let report = validate_test(path, &read(path)?);
    let mut checked = CheckedTest {
        path: path.to_path_buf(),
        test: None,
        flow_path: None,
        flow: None,
        diagnostics: report.diagnostics,
    };
    let Some(tree) = report.tree else {
        return Ok(checked);
    };
    let folder = path.parent().unwrap_or(Path::new(""));
    if let Some(test) = &report.test {
        let flow_path = normalized(&folder.join(&test.flow));
        if flow_path.is_file() {
            let flow = check_flow(&flow_path, &mut checked.diagnostics)?;
            if let Some(flow) = &flow {
                for mut diagnostic in check_test_against_flow(test, &tree, flow) {
                    diagnostic.file = path.to_path_buf();
                    checked.diagnostics.push(diagnostic);
                }
            }
            checked.flow = flow;
        } else {
            checked
                .diagnostics
                .push(missing_flow(path, value_span(&tree, "flow"), &flow_path));
        }
        checked.flow_path = Some(flow_path);
    }
    checked.diagnostics.extend(missing_cassettes(path, folder, &tree));
    checked.test = report.test;
    sort_and_dedupe(&mut checked.diagnostics);
    Ok(checked)
}

/// Validates the flow with the project file that applies to it, as `flowrun validate` does;
/// its errors (and those of its project file, which may be why a connection is missing) go
/// to `diagnostics`. Warnings are the flow's own business: `validate` shows them with the flow.
fn check_flow(flow_path: &Path, diagnostics: &mut Vec<Diagnostic>) -> io::Result<Option<Flow>> {
    let catalog = catalog::builtin();
    let project_path = discover::project_for(flow_path);
    let project_report = match &project_path {
        Some(project_path) => Some(validate_project(project_path, &read(project_path)?, catalog)),
        None => None,
    };
    let project = project_path
        .as_deref()
        .zip(project_report.as_ref().and_then(|report| report.project.as_ref()));
    let flow_report = validate_flow(flow_path, &read(flow_path)?, Context { catalog, project });
    let errors = project_report
        .iter()
        .flat_map(|report| &report.diagnostics)
        .chain(&flow_report.diagnostics)
        .filter(|diagnostic| diagnostic.is_error());
    diagnostics.extend(errors.cloned());
    Ok(flow_report.flow)
}

fn missing_flow(path: &Path, span: Span, flow_path: &Path) -> Diagnostic {
    let mut diagnostic = Diagnostic::error(
        "missing-file",
        span,
        format!(
            "the flow under test does not exist: no such file {}",
            flow_path.display()
        ),
    )
    .with_label("no such file")
    .with_help("`flow:` is relative to the test file's folder: `flow: orders-sync.yaml` for a flow beside it");
    diagnostic.file = path.to_path_buf();
    diagnostic
}

/// Every case's `replay:` that names no file (relative to the test file's folder). Read from
/// the tree, so a cassette is checked even when another part of its case was rejected.
fn missing_cassettes(path: &Path, folder: &Path, tree: &Node) -> Vec<Diagnostic> {
    let cases = tree.get("cases").and_then(Node::as_seq).unwrap_or_default();
    cases
        .iter()
        .filter_map(|case| case.get("replay"))
        .filter_map(|replay| Some((replay.as_str()?, replay.span)))
        .filter(|(cassette, _)| !cassette.is_empty() && !folder.join(cassette).is_file())
        .map(|(cassette, span)| {
            let mut diagnostic = Diagnostic::error(
                "missing-file",
                span,
                format!(
                    "the cassette does not exist: no such file {}",
                    normalized(&folder.join(cassette)).display()
                ),
            )
            .with_label("no such file")
            .with_help("`replay:` is relative to the test file's folder; `flowrun run FLOW --record DIR` writes a cassette into DIR");
            diagnostic.file = path.to_path_buf();
            diagnostic
        })
        .collect()
}

/// The span of a key's value, or of the whole node without the key.
fn value_span(node: &Node, key: &str) -> Span {
    node.get(key).map_or(node.span, |value| value.span)
}

/// `flows/../other/a.yaml` as `other/a.yaml`, and without `./`: the flow's diagnostics then
/// carry the path `validate` gives the same file when it finds it in a folder, and the two
/// reports of one problem are one.
fn normalized(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn read(path: &Path) -> io::Result<Vec<u8>> {
    std::fs::read(path).map_err(|error| io::Error::new(error.kind(), format!("{}: {error}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalized_lexically() {
        let cases = [
            ("flows/a.yaml", "flows/a.yaml"),
            ("./flows/./a.yaml", "flows/a.yaml"),
            ("flows/../other/a.yaml", "other/a.yaml"),
            ("../a.yaml", "../a.yaml"),
            ("/x/../a.yaml", "/a.yaml"),
            ("a.yaml", "a.yaml"),
        ];
        for (path, expected) in cases {
            assert_eq!(normalized(Path::new(path)), Path::new(expected), "{path}");
        }
    }
}
