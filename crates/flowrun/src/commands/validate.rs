//! `flowrun validate`: every flow and project file under the paths, all problems at once.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use flowrun_flow::catalog::Catalog;
use flowrun_flow::validate::ValidatedFlow;
use flowrun_flow::{
    Context, Diagnostic, FlowReport, ProjectReport, Severity, validate_flow, validate_project, validate_together,
};

use crate::cli::ValidateArgs;
use crate::discover::{self, FileKind};
use crate::render::diagnostics::{Sources, render};
use crate::{catalog, exit_code};

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
    let checked = check(&files, &catalog)?;
    render(args.format, &checked.diagnostics, &checked.sources, checked.n_files)?;
    let failed = checked
        .diagnostics
        .iter()
        .any(|diagnostic| diagnostic.severity == Severity::Error || args.deny_warnings);
    Ok(if failed { exit_code::INVALID } else { exit_code::SUCCESS })
}

/// Every report of one `validate` (or `graph`) invocation.
pub struct Checked {
    pub flows: Vec<(PathBuf, FlowReport)>,
    pub diagnostics: Vec<Diagnostic>,
    pub sources: Sources,
    pub n_files: usize,
}

/// Validates the files, each flow with the project file that applies to it.
pub fn check(files: &[(PathBuf, FileKind)], catalog: &Catalog) -> io::Result<Checked> {
    let mut sources = Sources::default();
    let mut projects: BTreeMap<PathBuf, ProjectReport> = BTreeMap::new();
    let mut flows = Vec::new();
    let mut project_of_flow: Vec<Option<PathBuf>> = Vec::new();

    let mut project_paths: Vec<PathBuf> = files
        .iter()
        .filter(|(_, kind)| *kind == FileKind::Project)
        .map(|(path, _)| path.clone())
        .collect();
    for (path, kind) in files {
        if *kind == FileKind::Flow {
            let project = discover::project_for(path);
            project_paths.extend(project.clone());
            project_of_flow.push(project);
        }
    }
    for path in project_paths {
        if projects.contains_key(&path) {
            continue;
        }
        let bytes = read(&path)?;
        let report = validate_project(&path, &bytes, catalog);
        sources.insert(&path, bytes);
        projects.insert(path, report);
    }
    for ((path, _), project_path) in files
        .iter()
        .filter(|(_, kind)| *kind == FileKind::Flow)
        .zip(&project_of_flow)
    {
        let bytes = read(path)?;
        let project = project_path.as_ref().and_then(|project_path| {
            let report = projects.get(project_path)?;
            Some((project_path.as_path(), report.project.as_ref()?))
        });
        let report = validate_flow(path, &bytes, Context { catalog, project });
        sources.insert(path, bytes);
        flows.push((path.clone(), report));
    }

    let mut diagnostics: Vec<Diagnostic> = projects
        .values()
        .flat_map(|report| report.diagnostics.iter().cloned())
        .collect();
    diagnostics.extend(flows.iter().flat_map(|(_, report)| report.diagnostics.iter().cloned()));
    let together: Vec<ValidatedFlow<'_>> = flows
        .iter()
        .filter_map(|(path, report)| {
            Some(ValidatedFlow {
                path,
                flow: report.flow.as_ref()?,
                tree: report.tree.as_ref()?,
            })
        })
        .collect();
    // Cross-file checks, grouped by the project that applies.
    let mut by_project: BTreeMap<Option<&PathBuf>, Vec<ValidatedFlow<'_>>> = BTreeMap::new();
    for flow in &together {
        let index = flows.iter().position(|(path, _)| path == flow.path).unwrap_or_default();
        by_project
            .entry(project_of_flow[index].as_ref())
            .or_default()
            .push(*flow);
    }
    for (project_path, group) in &by_project {
        let project = project_path.and_then(|path| Some((path.as_path(), projects.get(path)?.project.as_ref()?)));
        let mut found = validate_together(group, project);
        found.retain(|diagnostic| diagnostic.code != "duplicate-flow-id");
        diagnostics.extend(found);
    }
    diagnostics.extend(validate_together(&together, None));
    flowrun_flow::diagnostic::sort_and_dedupe(&mut diagnostics);
    let n_files = flows.len() + projects.len();
    Ok(Checked {
        flows,
        diagnostics,
        sources,
        n_files,
    })
}

fn read(path: &Path) -> io::Result<Vec<u8>> {
    std::fs::read(path).map_err(|error| io::Error::new(error.kind(), format!("{}: {error}", path.display())))
}
