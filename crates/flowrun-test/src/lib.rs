//! Flow tests: `flowrun test` runs each case of a `*.test.yaml` offline and compares what the
//! run did with what the case expects.
//!
//! Where to start: [`Harness::run_all`] takes validated test files ([`TestFileUnderTest`],
//! prepared by the binary: the flow validated, its connections merged with the project file,
//! its plan compiled once) and yields one [`FileResult`] per file, in order, while files and
//! cases run concurrently. A case (`case.rs`) runs the real engine on a fresh SQLite store in a
//! scratch folder, with mocked steps answered by stand-in modules (`mock.rs`), HTTP answered
//! from a cassette or refused, and a fixed clock, uuid sequence and run id. `compare.rs` turns
//! expectations into [`Mismatch`]es named by path, `snapshot.rs` keeps `snapshot: true` cases'
//! results beside the test file, and `report.rs` prints the result for people or as JUnit XML.
//! The rules are in docs/testing.md.

mod case;
mod compare;
mod mock;
pub mod report;
mod snapshot;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use flowrun_connect::registry::Registry;
use flowrun_engine::plan::{NamesRead, Plan};
use flowrun_flow::model::{Flow, TestCase, TestFile};
use futures_util::stream::{self, Stream, StreamExt};
use tokio::sync::Semaphore;

pub use case::{DEFAULT_NOW, DEFAULT_RUN_ID};
pub use compare::Mismatch;
pub use snapshot::snapshot_path;

/// A flow ready to be run by tests: validated, its connections merged, its plan compiled.
pub struct FlowUnderTest {
    pub path: PathBuf,
    pub flow: Flow,
    pub plan: Arc<Plan>,
    /// The `env.X` and `secrets.X` names the flow and its connections read.
    pub names: NamesRead,
    /// Stored with each run, as `flowrun run` does.
    pub flow_version: String,
}

/// A validated test file and the flow it tests (shared by the test files of one flow).
pub struct TestFileUnderTest {
    pub path: PathBuf,
    pub test: TestFile,
    pub flow: Arc<FlowUnderTest>,
}

/// How a suite runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Only cases whose name (or test file path) contains this text run.
    pub filter: Option<String>,
    /// Rewrite the snapshots of `snapshot: true` cases instead of comparing with them.
    pub update: bool,
    /// Cases running at once, across files.
    pub cases_in_flight: usize,
    /// A case that runs longer fails (a step waiting forever does not hang CI).
    pub time_limit: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            filter: None,
            update: false,
            cases_in_flight: std::thread::available_parallelism().map_or(2, |n| n.get() * 2),
            time_limit: Duration::from_secs(60),
        }
    }
}

/// The results of one test file, in case order (cases the filter left out are not listed).
#[derive(Debug, Clone)]
pub struct FileResult {
    pub path: PathBuf,
    pub flow_id: String,
    pub cases: Vec<CaseResult>,
    /// With `--update`: the snapshot file, when it was written.
    pub snapshot_written: Option<PathBuf>,
    /// Why the snapshot file could not be written.
    pub snapshot_error: Option<String>,
}

/// One case's result.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub name: String,
    pub duration: Duration,
    pub outcome: CaseOutcome,
}

/// How a case ended.
#[derive(Debug, Clone, PartialEq)]
pub enum CaseOutcome {
    Passed,
    /// The run did not do what the case expects (or what its snapshot holds).
    Failed(Vec<Mismatch>),
    /// The case could not be carried out: an unreadable cassette, a step this build cannot
    /// call and no mock, a time limit reached.
    Error(String),
}

impl CaseOutcome {
    pub fn passed(&self) -> bool {
        matches!(self, CaseOutcome::Passed)
    }
}

/// Runs test files; holds the scratch folder every case's state store is created in (removed
/// when the harness is dropped).
pub struct Harness {
    registry: Arc<Registry>,
    options: Options,
    scratch: tempfile::TempDir,
    cases_in_flight: Semaphore,
    next_case: AtomicUsize,
}

impl Harness {
    pub fn new(registry: Arc<Registry>, options: Options) -> io::Result<Harness> {
        let scratch = tempfile::Builder::new().prefix("flowrun-test-").tempdir()?;
        Ok(Harness {
            registry,
            cases_in_flight: Semaphore::new(options.cases_in_flight.max(1)),
            options,
            scratch,
            next_case: AtomicUsize::new(0),
        })
    }

    /// Every file's result, in the order of `files`, as soon as it and the files before it
    /// are done; files and their cases run concurrently.
    pub fn run_all<'a>(&'a self, files: &'a [TestFileUnderTest]) -> impl Stream<Item = FileResult> + 'a {
        let files_at_once = self.options.cases_in_flight.max(1);
        stream::iter(files)
            .map(|file| self.run_file(file))
            .buffered(files_at_once)
    }

    /// The cases of one file that the filter selects, run concurrently.
    pub async fn run_file(&self, file: &TestFileUnderTest) -> FileResult {
        let selected: Vec<&TestCase> = file
            .test
            .cases
            .iter()
            .filter(|case| self.selects(&file.path, case))
            .collect();
        let snapshot_file = snapshot_path(&file.path);
        let stored = selected
            .iter()
            .any(|case| case.snapshot)
            .then(|| snapshot::Snapshots::load(&snapshot_file));
        let runs = selected.iter().map(|case| self.run_case(file, case, stored.as_ref()));
        let results: Vec<(CaseResult, Option<serde_json::Value>)> = futures_util::future::join_all(runs).await;

        let mut file_result = FileResult {
            path: file.path.clone(),
            flow_id: file.flow.flow.flow.clone(),
            cases: Vec::new(),
            snapshot_written: None,
            snapshot_error: None,
        };
        if self.options.update
            && let Some(Ok(stored)) = &stored
        {
            let mut updated = snapshot::Snapshots::default();
            for case in file.test.cases.iter().filter(|case| case.snapshot) {
                let new = selected
                    .iter()
                    .zip(&results)
                    .find(|(selected, _)| selected.name == case.name)
                    .and_then(|(_, (_, snapshot))| snapshot.clone());
                if let Some(value) = new.or_else(|| stored.0.get(&case.name).cloned()) {
                    updated.0.insert(case.name.clone(), value);
                }
            }
            match updated.store(&snapshot_file) {
                Ok(true) => file_result.snapshot_written = Some(snapshot_file),
                Ok(false) => {}
                Err(error) => file_result.snapshot_error = Some(format!("{}: {error}", snapshot_file.display())),
            }
        }
        file_result.cases = results.into_iter().map(|(result, _)| result).collect();
        file_result
    }

    fn selects(&self, path: &Path, case: &TestCase) -> bool {
        self.options
            .filter
            .as_deref()
            .is_none_or(|pattern| case.name.contains(pattern) || path.to_string_lossy().contains(pattern))
    }

    /// One case; also returns its new snapshot (with `--update`, for `snapshot: true` cases
    /// that ran).
    async fn run_case(
        &self,
        file: &TestFileUnderTest,
        case: &TestCase,
        stored: Option<&Result<snapshot::Snapshots, String>>,
    ) -> (CaseResult, Option<serde_json::Value>) {
        let _permit = self.cases_in_flight.acquire().await;
        let started = Instant::now();
        let scratch = self
            .scratch
            .path()
            .join(self.next_case.fetch_add(1, Ordering::Relaxed).to_string());
        let observed = match std::fs::create_dir_all(&scratch) {
            Ok(()) => case::run(&self.registry, file, case, &scratch, self.options.time_limit).await,
            Err(error) => Err(format!("the case's scratch folder cannot be created: {error}")),
        };
        // The store's files are not needed once the case has been judged.
        let _ = std::fs::remove_dir_all(&scratch);
        let duration = started.elapsed();
        let result = |outcome| CaseResult {
            name: case.name.clone(),
            duration,
            outcome,
        };
        let observed = match observed {
            Ok(observed) => observed,
            Err(message) => return (result(CaseOutcome::Error(message)), None),
        };
        let mut mismatches = compare::expectations(case.expect.as_ref(), &observed);
        let mut new_snapshot = None;
        if case.snapshot {
            let actual = snapshot::of(&observed);
            match stored {
                Some(Err(message)) => return (result(CaseOutcome::Error(message.clone())), None),
                _ if self.options.update => new_snapshot = Some(actual),
                Some(Ok(stored)) => match stored.0.get(&case.name) {
                    Some(expected) => mismatches.extend(snapshot::compare(expected, &actual)),
                    None => mismatches.push(Mismatch {
                        path: "$".to_owned(),
                        expected: None,
                        actual: None,
                        note: Some(format!(
                            "no snapshot of this case in {} yet: `flowrun test --update` writes it (review it before you commit it)",
                            snapshot_path(&file.path).display()
                        )),
                        from_snapshot: true,
                    }),
                },
                None => {}
            }
        }
        let outcome = if mismatches.is_empty() {
            CaseOutcome::Passed
        } else {
            CaseOutcome::Failed(mismatches)
        };
        (result(outcome), new_snapshot)
    }
}

/// Counts over a suite.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
}

impl Summary {
    pub fn add(&mut self, file: &FileResult) {
        for case in &file.cases {
            if case.outcome.passed() {
                self.passed += 1;
            } else {
                self.failed += 1;
            }
        }
    }
}
