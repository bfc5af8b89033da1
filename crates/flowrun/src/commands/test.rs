//! `flowrun test [PATH…]`: finds the test files, validates each with its flow (any error: the
//! diagnostics and exit 2, the other files still run), prepares each flow once (connections
//! from the project file, plan), runs the cases with `flowrun-test`, and prints the report.
//! Exit codes: 0 every case passed, 1 a case failed, 2 an invalid test file or flow.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use flowrun_engine::plan::{Plan, names_read};
use flowrun_flow::diagnostic::Diagnostic;
use flowrun_flow::model::Flow;
use flowrun_test::{FileResult, FlowUnderTest, Harness, Options, Summary, TestFileUnderTest, report};
use futures_util::StreamExt;

use crate::cli::{DiagnosticFormat, TestArgs, TestFormat};
use crate::render::diagnostics::render;
use crate::{catalog, discover, exit_code, prepare, test_files};

pub fn run(args: &TestArgs) -> io::Result<u8> {
    let started = Instant::now();
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let found = discover::test_files(&paths)?;
    if found.is_empty() {
        eprintln!(
            "error: no test files (*.test.yaml) under {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(exit_code::INVALID);
    }

    let (files, diagnostics, n_invalid) = load(&found)?;
    if !diagnostics.is_empty() {
        render(DiagnosticFormat::Human, &diagnostics, found.len())?;
    }

    let options = Options {
        filter: args.filter.clone(),
        update: args.update,
        cases_in_flight: args.jobs.unwrap_or_else(|| Options::default().cases_in_flight),
        time_limit: args.timeout.as_std(),
    };
    let harness = Harness::new(Arc::new(catalog::registry()), options)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let results: Vec<FileResult> = runtime.block_on(async {
        let mut out = anstream::stdout();
        let mut results = Vec::new();
        let mut stream = std::pin::pin!(harness.run_all(&files));
        while let Some(result) = stream.next().await {
            if args.format == TestFormat::Human {
                write!(out, "{}", report::file_text(&result))?;
                out.flush()?;
            }
            results.push(result);
        }
        io::Result::Ok(results)
    })?;

    let mut summary = Summary::default();
    for result in &results {
        summary.add(result);
    }
    let took = started.elapsed();
    match args.format {
        TestFormat::Human => {
            let mut out = anstream::stdout();
            if !results.iter().all(|result| result.cases.is_empty()) {
                writeln!(out)?;
            }
            write!(out, "{}", report::summary_text(summary, took))?;
        }
        TestFormat::Junit => {
            let xml = report::junit(&results, took).map_err(io::Error::other)?;
            println!("{xml}");
            write!(anstream::stderr(), "{}", report::summary_text(summary, took))?;
        }
    }
    if summary.passed + summary.failed == 0 && args.filter.is_some() {
        eprintln!(
            "note: no case matches --filter {:?}",
            args.filter.as_deref().unwrap_or_default()
        );
    }
    let snapshot_failed = results.iter().any(|result| result.snapshot_error.is_some());
    Ok(if n_invalid > 0 {
        exit_code::INVALID
    } else if summary.failed > 0 || snapshot_failed {
        exit_code::FAILURE
    } else {
        exit_code::SUCCESS
    })
}

/// Every test file validated with its flow; the valid ones prepared to run (each flow once).
/// Returns them, the diagnostics to show, and how many files are invalid.
fn load(found: &[PathBuf]) -> io::Result<(Vec<TestFileUnderTest>, Vec<Diagnostic>, usize)> {
    let mut flows: HashMap<PathBuf, Option<Arc<FlowUnderTest>>> = HashMap::new();
    let mut files = Vec::new();
    let mut diagnostics = Vec::new();
    let mut n_invalid = 0;
    for path in found {
        let checked = test_files::check(path)?;
        let has_errors = checked.has_errors();
        let path = checked.path;
        diagnostics.extend(checked.diagnostics);
        let (Some(test), Some(flow_path), Some(flow), false) =
            (checked.test, checked.flow_path, checked.flow, has_errors)
        else {
            n_invalid += 1;
            continue;
        };
        let prepared = match flows.get(&flow_path) {
            Some(prepared) => prepared.clone(),
            None => {
                let prepared = prepare_flow(&flow_path, flow)?.map(Arc::new);
                flows.insert(flow_path.clone(), prepared.clone());
                prepared
            }
        };
        let Some(flow) = prepared else {
            n_invalid += 1;
            continue;
        };
        files.push(TestFileUnderTest { path, test, flow });
    }
    Ok((files, diagnostics, n_invalid))
}

/// The flow with the project's connections (no profile: tests use the project's own
/// definitions), the names it reads, and its plan; `None` after saying why it cannot run.
fn prepare_flow(path: &Path, flow: Flow) -> io::Result<Option<FlowUnderTest>> {
    let prepared = match prepare::prepare(path, &flow, prepare::Overrides::default()) {
        Ok(prepared) => prepared,
        Err(problem) => {
            eprintln!("error: {}: {problem}", path.display());
            return Ok(None);
        }
    };
    let names = names_read(&flow, &prepared.connections);
    let plan = match Plan::new(&flow, &prepared.connections, catalog::builtin()) {
        Ok(plan) => Arc::new(plan),
        Err(problems) => {
            for problem in problems {
                eprintln!("error: {}: {problem}", path.display());
            }
            return Ok(None);
        }
    };
    Ok(Some(FlowUnderTest {
        path: path.to_path_buf(),
        flow_version: super::run::flow_version(path)?,
        flow,
        plan,
        names,
    }))
}
