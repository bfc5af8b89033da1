//! What `flowrun test` prints: a line per case with ✓ or ✗ and its duration, each difference
//! of a failed case path by path, and a summary; or JUnit XML for CI systems.
//!
//! Styles are ANSI escapes from `anstyle`; the binary writes through `anstream`, which drops
//! them when stdout is not a terminal (or `NO_COLOR` is set).

use std::fmt::Write as _;
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use serde_json::Value as Json;

use crate::{CaseOutcome, FileResult, Mismatch, Summary};

const PASSED: Style = AnsiColor::Green.on_default();
const FAILED: Style = AnsiColor::Red.on_default().bold();
const DIM: Style = Style::new().dimmed();
const PATH: Style = Style::new().bold();

/// The longest value shown in a difference; longer ones are cut with `…`.
const VALUE_WIDTH: usize = 160;

/// The lines of one test file's results.
pub fn file_text(file: &FileResult) -> String {
    let mut text = String::new();
    if file.cases.is_empty() && file.snapshot_written.is_none() && file.snapshot_error.is_none() {
        return text;
    }
    let _ = writeln!(
        text,
        "{PATH}{}{PATH:#} {DIM}(flow {}){DIM:#}",
        file.path.display(),
        file.flow_id
    );
    for case in &file.cases {
        let took = format!("{DIM}{}{DIM:#}", milliseconds(case.duration));
        match &case.outcome {
            CaseOutcome::Passed => {
                let _ = writeln!(text, "  {PASSED}✓{PASSED:#} {}  {took}", case.name);
            }
            CaseOutcome::Failed(mismatches) => {
                let _ = writeln!(text, "  {FAILED}✗{FAILED:#} {}  {took}", case.name);
                for mismatch in mismatches {
                    let _ = writeln!(text, "      {}", difference(mismatch));
                    if let Some(note) = &mismatch.note {
                        let _ = writeln!(text, "        {DIM}{note}{DIM:#}");
                    }
                }
            }
            CaseOutcome::Error(message) => {
                let _ = writeln!(text, "  {FAILED}✗{FAILED:#} {}  {took}", case.name);
                let _ = writeln!(text, "      {FAILED}error:{FAILED:#} {message}");
            }
        }
    }
    if let Some(path) = &file.snapshot_written {
        let _ = writeln!(text, "  {DIM}snapshots written to {}{DIM:#}", path.display());
    }
    if let Some(error) = &file.snapshot_error {
        let _ = writeln!(
            text,
            "  {FAILED}error:{FAILED:#} the snapshots cannot be written: {error}"
        );
    }
    text
}

/// The last line: `12 passed, 1 failed in 0.42 s`.
pub fn summary_text(summary: Summary, took: Duration) -> String {
    let failed = if summary.failed > 0 {
        format!("{FAILED}{} failed{FAILED:#}", summary.failed)
    } else {
        format!("{} failed", summary.failed)
    };
    format!(
        "{PASSED}{} passed{PASSED:#}, {failed} {DIM}in {:.2} s{DIM:#}\n",
        summary.passed,
        took.as_secs_f64()
    )
}

/// One difference: `$.output.created: expected 1, got 2`.
pub fn difference(mismatch: &Mismatch) -> String {
    let path = &mismatch.path;
    let expected_word = if mismatch.from_snapshot {
        "the snapshot has"
    } else {
        "expected"
    };
    match (&mismatch.expected, &mismatch.actual) {
        (Some(expected), Some(actual)) => format!("{path}: {expected_word} {}, got {}", show(expected), show(actual)),
        (Some(expected), None) => format!("{path}: {expected_word} {}, got nothing", show(expected)),
        (None, Some(actual)) => format!("{path}: unexpected {}", show(actual)),
        (None, None) => format!("{path}: no snapshot"),
    }
}

fn show(value: &Json) -> String {
    let text = value.to_string();
    if text.chars().count() <= VALUE_WIDTH {
        return text;
    }
    let cut: String = text.chars().take(VALUE_WIDTH).collect();
    format!("{cut}…")
}

fn milliseconds(duration: Duration) -> String {
    format!("{} ms", duration.as_millis())
}

/// JUnit XML: a test suite per test file, a test case per case (class name: the flow id), each
/// failure with its first difference as the message and all of them as the text.
pub fn junit(files: &[FileResult], took: Duration) -> Result<String, String> {
    let mut report = Report::new("flowrun test");
    report.set_time(took);
    for file in files {
        let mut suite = TestSuite::new(file.path.display().to_string());
        for case in &file.cases {
            let status = match &case.outcome {
                CaseOutcome::Passed => TestCaseStatus::success(),
                CaseOutcome::Failed(mismatches) => {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    let lines: Vec<String> = mismatches.iter().map(difference).collect();
                    status.set_message(lines.first().cloned().unwrap_or_default());
                    status.set_type("mismatch");
                    status.set_description(lines.join("\n"));
                    status
                }
                CaseOutcome::Error(message) => {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                    status.set_message(message.clone());
                    status.set_type("error");
                    status
                }
            };
            let mut test_case = TestCase::new(case.name.clone(), status);
            test_case.set_classname(file.flow_id.clone());
            test_case.set_time(case.duration);
            suite.add_test_case(test_case);
        }
        report.add_test_suite(suite);
    }
    report.to_string().map_err(|error| error.to_string())
}
