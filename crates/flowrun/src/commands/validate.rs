//! `flowrun validate`: every flow, project and test file under the paths, all problems at once.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use flowrun_flow::catalog::Catalog;
use flowrun_flow::{
    Context, Diagnostic, FlowReport, FlowSummary, ProjectReport, Severity, unused_secrets, validate_flow,
    validate_project, validate_together,
};

use crate::cli::ValidateArgs;
use crate::discover::{self, FileKind};
use crate::render::diagnostics::render;
use crate::{catalog, exit_code, test_files};

pub fn run(args: &ValidateArgs) -> io::Result<u8> {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let files = match discover::files(&paths) {
        Ok(files) => files,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(exit_code::INVALID);
        }
    };
    let catalog = catalog::builtin();
    let checked = check(&files, catalog, Keep::Summaries)?;
    render(args.format, &checked.diagnostics, checked.n_files)?;
    let failed = checked
        .diagnostics
        .iter()
        .any(|diagnostic| diagnostic.severity == Severity::Error || args.deny_warnings);
    Ok(if failed { exit_code::INVALID } else { exit_code::SUCCESS })
}

/// How much of each flow's report to keep: a repository is checked with summaries only, so
/// memory does not grow with every tree; `graph` keeps the whole report of its one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    Summaries,
    Reports,
}

/// Every result of one `validate` (or `graph`) invocation.
pub struct Checked {
    /// The flows' full reports, with `Keep::Reports` only.
    pub flows: Vec<(PathBuf, FlowReport)>,
    pub diagnostics: Vec<Diagnostic>,
    pub n_files: usize,
}

/// Validates the files, each flow with the project file that applies to it, then the checks
/// across files: per project, and flow ids across everything checked. Test files are checked
/// with the flow they name (`test_files::check`); the flow's errors they repeat are reported
/// once when the flow is checked here too.
pub fn check(files: &[(PathBuf, FileKind)], catalog: &Catalog, keep: Keep) -> io::Result<Checked> {
    let named_projects: Vec<&PathBuf> = files
        .iter()
        .filter(|(_, kind)| *kind == FileKind::Project)
        .map(|(path, _)| path)
        .collect();
    let flow_files: Vec<(&PathBuf, Option<PathBuf>)> = files
        .iter()
        .filter(|(_, kind)| *kind == FileKind::Flow)
        .map(|(path, _)| (path, discover::project_for(path)))
        .collect();
    let tests: Vec<&PathBuf> = files
        .iter()
        .filter(|(_, kind)| *kind == FileKind::Test)
        .map(|(path, _)| path)
        .collect();

    let mut projects: BTreeMap<PathBuf, ProjectReport> = BTreeMap::new();
    let project_paths = named_projects
        .iter()
        .map(|path| (*path).clone())
        .chain(flow_files.iter().filter_map(|(_, p)| p.clone()));
    for path in project_paths {
        if let std::collections::btree_map::Entry::Vacant(entry) = projects.entry(path) {
            let report = validate_project(entry.key(), &read(entry.key())?, catalog);
            entry.insert(report);
        }
    }
    let mut diagnostics: Vec<Diagnostic> = projects
        .values()
        .flat_map(|report| report.diagnostics.clone())
        .collect();

    let mut flows = Vec::new();
    let validate_one = |(path, project_path): &(&PathBuf, Option<PathBuf>)| -> io::Result<FlowReport> {
        let project = project_path
            .as_ref()
            .and_then(|project_path| Some((project_path.as_path(), projects.get(project_path)?.project.as_ref()?)));
        let mut report = validate_flow(path, &read(path)?, Context { catalog, project });
        if keep == Keep::Summaries {
            // Drop the tree and model now: only diagnostics and the summary outlive a file.
            (report.tree, report.flow, report.graph) = (None, None, None);
        }
        Ok(report)
    };
    let mut summaries: BTreeMap<Option<&PathBuf>, Vec<FlowSummary>> = BTreeMap::new();
    for ((path, project_path), report) in flow_files.iter().zip(in_parallel(&flow_files, validate_one)) {
        let mut report = report?;
        diagnostics.append(&mut report.diagnostics);
        if let Some(summary) = report.summary.take() {
            summaries.entry(project_path.as_ref()).or_default().push(summary);
        }
        if keep == Keep::Reports {
            flows.push(((*path).clone(), report));
        }
    }

    for (project_path, group) in &summaries {
        let Some(project_path) = project_path else { continue };
        let Some(project_report) = projects.get(*project_path) else {
            continue;
        };
        let Some(project) = project_report.project.as_ref() else {
            continue;
        };
        diagnostics.extend(
            validate_together(group, Some(project))
                .into_iter()
                .filter(|d| d.code != "duplicate-flow-id"),
        );
        // Unused secrets only make sense when the whole project is being checked.
        if named_projects.contains(project_path) {
            diagnostics.extend(secrets_nothing_reads(project_path, project_report, group)?);
        }
    }
    let everything: Vec<FlowSummary> = summaries.into_values().flatten().collect();
    diagnostics.extend(validate_together(&everything, None));
    for test in in_parallel(&tests, |path| test_files::check(path)) {
        diagnostics.append(&mut test?.diagnostics);
    }
    flowrun_flow::diagnostic::sort_and_dedupe(&mut diagnostics);
    let n_files = flow_files.len() + projects.len() + tests.len();
    Ok(Checked {
        flows,
        diagnostics,
        n_files,
    })
}

/// The names in the project's secrets file (values never leave this function) that no flow reads.
fn secrets_nothing_reads(
    project_path: &Path,
    project: &ProjectReport,
    flows: &[FlowSummary],
) -> io::Result<Vec<Diagnostic>> {
    let Some(secrets_file) = project
        .project
        .as_ref()
        .and_then(|project| project.secrets_file.as_ref())
    else {
        return Ok(Vec::new());
    };
    let path = project_path.parent().unwrap_or(Path::new("")).join(secrets_file);
    let Ok(bytes) = std::fs::read(&path) else {
        return Ok(Vec::new());
    };
    let names = flowrun_flow::dotenv::names(&String::from_utf8_lossy(&bytes));
    Ok(unused_secrets(&path, &names, project, flows))
}

/// `work` over every item, on as many threads as the machine has cores, results in item order.
/// Each file is independent and validation is CPU-bound, so a repository checks in parallel.
fn in_parallel<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len().max(1));
    if threads == 1 {
        return items.iter().map(work).collect();
    }
    let chunk_size = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk_size)
            .map(|chunk| scope.spawn(|| chunk.iter().map(&work).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}

fn read(path: &Path) -> io::Result<Vec<u8>> {
    std::fs::read(path).map_err(|error| io::Error::new(error.kind(), format!("{}: {error}", path.display())))
}
