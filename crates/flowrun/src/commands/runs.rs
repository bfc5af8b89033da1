//! `flowrun runs list|show`: the run history in the state store, read only. A store that does
//! not exist is reported, never created. (`runs retry` runs flows: it lives in `run.rs`.)

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use flowrun_state::{Incomplete, IncompleteStatus, Run, RunDetail, RunFilter, RunStatus, StateStore, StepRecord};
use serde_json::Value as Json;

use crate::cli::{OutputFormat, RunsArgs, RunsCommand, RunsListArgs, RunsShowArgs, StoreArgs};
use crate::{exit_code, prepare};

/// Items of one step listed under it in `runs show` (those that did not succeed); the rest are
/// counted.
const ITEMS_SHOWN: usize = 20;
/// Error messages in tables are cut to this many characters.
const ERROR_WIDTH: usize = 120;

pub fn run(args: &RunsArgs) -> io::Result<u8> {
    match &args.command {
        None => list(&args.list),
        Some(RunsCommand::List(list_args)) => list(list_args),
        Some(RunsCommand::Show(show_args)) => show(show_args),
        Some(RunsCommand::Retry(retry_args)) => super::run::retry(retry_args),
    }
}

fn list(args: &RunsListArgs) -> io::Result<u8> {
    let store = match locate(&args.store) {
        Ok(store) => store,
        Err(code) => return Ok(code),
    };
    if let Some(path) = store.missing_file() {
        eprintln!("no runs yet (state store {} does not exist)", path.display());
        return Ok(exit_code::SUCCESS);
    }
    let filter = RunFilter {
        flow_id: args.flow.clone(),
        status: args.status,
        limit: args.limit,
    };
    let runs = match block_on(async { store.open().await?.list_runs(&filter).await })? {
        Ok(runs) => runs,
        Err(error) => return store.failed(&error),
    };
    if runs.is_empty() {
        eprintln!("{}", no_runs_message(&filter, &store.url));
        return Ok(exit_code::SUCCESS);
    }
    let text = match args.format {
        OutputFormat::Human => runs_table(&runs, now_ms()),
        OutputFormat::Json => {
            let mut lines = String::new();
            for run in &runs {
                lines.push_str(&serde_json::to_string(run).map_err(io::Error::other)?);
                lines.push('\n');
            }
            lines
        }
    };
    io::stdout().lock().write_all(text.as_bytes())?;
    Ok(exit_code::SUCCESS)
}

fn show(args: &RunsShowArgs) -> io::Result<u8> {
    let store = match locate(&args.store) {
        Ok(store) => store,
        Err(code) => return Ok(code),
    };
    if let Some(path) = store.missing_file() {
        eprintln!(
            "error: no run {} (state store {} does not exist)",
            args.id,
            path.display()
        );
        return Ok(exit_code::FAILURE);
    }
    let detail = match block_on(async { store.open().await?.run_detail(&args.id).await })? {
        Ok(Some(detail)) => detail,
        Ok(None) => {
            eprintln!("error: no run {} in {}", args.id, store.url);
            return Ok(exit_code::FAILURE);
        }
        Err(error) => return store.failed(&error),
    };
    let text = match args.format {
        OutputFormat::Human => run_detail(&detail, now_ms()),
        OutputFormat::Json => serde_json::to_string_pretty(&detail).map_err(io::Error::other)? + "\n",
    };
    io::stdout().lock().write_all(text.as_bytes())?;
    Ok(exit_code::SUCCESS)
}

/// The state store `flowrun runs` reads.
struct Store {
    url: String,
    /// The SQLite file, for `sqlite://` URLs.
    file: Option<PathBuf>,
}

impl Store {
    /// The SQLite file, when it does not exist (opening would create it).
    fn missing_file(&self) -> Option<&Path> {
        self.file.as_deref().filter(|path| !path.exists())
    }

    async fn open(&self) -> Result<Arc<dyn StateStore>, flowrun_state::StateError> {
        flowrun_state::open(&self.url).await
    }

    fn failed(&self, error: &flowrun_state::StateError) -> io::Result<u8> {
        eprintln!("error: the state store {} cannot be read: {error}", self.url);
        Ok(exit_code::FAILURE)
    }
}

/// `--state`, else the project's store (from the current folder up, under `--profile`).
fn locate(args: &StoreArgs) -> Result<Store, u8> {
    // The empty folder is the current one, and keeps the paths shown relative to it.
    let url = prepare::state_url_for_folder(Path::new(""), args.profile.as_deref(), args.state.as_deref()).map_err(
        |error| {
            eprintln!("error: {error}");
            exit_code::INVALID
        },
    )?;
    let file = if url.starts_with("sqlite:") {
        Some(flowrun_state::sqlite_path(&url).map_err(|error| {
            eprintln!("error: {error}");
            exit_code::INVALID
        })?)
    } else {
        None
    };
    Ok(Store { url, file })
}

/// One short query: a runtime on this thread is enough.
fn block_on<T>(future: impl Future<Output = T>) -> io::Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    Ok(runtime.block_on(future))
}

fn no_runs_message(filter: &RunFilter, url: &str) -> String {
    let mut message = String::from("no runs");
    if let Some(flow) = &filter.flow_id {
        let _ = write!(message, " of flow `{flow}`");
    }
    if let Some(status) = filter.status {
        let _ = write!(message, " with status {status}");
    }
    let _ = write!(message, " in {url}");
    message
}

// ---- Rendering ----

/// Milliseconds since the Unix epoch, to tell a running run whose lease expired.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
}

fn runs_table(runs: &[Run], now_ms: i64) -> String {
    let mut table = Table::new(&["RUN", "FLOW", "STATUS", "STARTED (UTC)", "DURATION", "TRIGGER"]);
    table.right_align(4);
    for run in runs {
        table.row(vec![
            run.id.clone(),
            run.flow_id.clone(),
            run_status(run, now_ms),
            time(run.started_at.unwrap_or(run.created_at)),
            run_duration(run).map_or_else(|| "-".to_owned(), format_duration),
            trigger(run).to_owned(),
        ]);
    }
    table.render()
}

fn run_detail(detail: &RunDetail, now_ms: i64) -> String {
    let run = &detail.run;
    let mut out = format!("run {}\n", run.id);
    let mut field = |name: &str, value: String| {
        let _ = writeln!(out, "  {name:<9} {value}");
    };
    field("flow", format!("{} (version {})", run.flow_id, run.flow_version));
    field("status", run_status(run, now_ms));
    field(
        "started",
        format!("{} UTC", time(run.started_at.unwrap_or(run.created_at))),
    );
    if let Some(ended) = run.ended_at {
        let took = run_duration(run).map(|took| format!(" ({})", format_duration(took)));
        field("ended", format!("{} UTC{}", time(ended), took.unwrap_or_default()));
    }
    field("trigger", trigger(run).to_owned());
    if let Some(inputs) = run.inputs.as_ref().filter(|inputs| !is_empty(inputs)) {
        field("inputs", inputs.to_string());
    }
    if let Some(error) = &run.error {
        field("error", error_text(error, true));
    }
    out.push('\n');
    out.push_str(&steps_section(&detail.steps));
    if !detail.incomplete.is_empty() {
        out.push('\n');
        out.push_str(&incomplete_section(&detail.incomplete));
    }
    out
}

/// One row per step (its whole-step record, or what its items say when there is none yet),
/// then the items of the step that did not succeed.
fn steps_section(records: &[StepRecord]) -> String {
    if records.is_empty() {
        return "no step has been recorded\n".to_owned();
    }
    let mut step_ids: Vec<&str> = Vec::new();
    for record in records {
        if !step_ids.contains(&record.step_id.as_str()) {
            step_ids.push(&record.step_id);
        }
    }
    let mut table = Table::new(&["STEP", "STATUS", "ATTEMPTS", "DURATION", "ITEMS", "ERROR"]);
    table.right_align(2);
    table.right_align(3);
    for step_id in step_ids {
        let whole = records
            .iter()
            .find(|record| record.step_id == step_id && record.item_index.is_none());
        let items: Vec<&StepRecord> = records
            .iter()
            .filter(|record| record.step_id == step_id && record.item_index.is_some())
            .collect();
        table.row(vec![
            step_id.to_owned(),
            whole.map_or_else(|| "(items only)".to_owned(), |record| record.status.to_string()),
            whole.map_or_else(|| "-".to_owned(), |record| record.attempts.to_string()),
            whole
                .and_then(|record| record.duration)
                .map_or_else(|| "-".to_owned(), format_duration),
            item_counts(&items),
            whole
                .and_then(|record| record.error.as_ref())
                .map_or_else(String::new, |error| error_text(error, false)),
        ]);
        let unsuccessful: Vec<&&StepRecord> = items
            .iter()
            .filter(|item| item.status != flowrun_state::StepStatus::Success)
            .collect();
        for item in unsuccessful.iter().take(ITEMS_SHOWN) {
            table.row(vec![
                format!("  {}", item_label(item.item_index, item.item_key.as_deref())),
                item.status.to_string(),
                item.attempts.to_string(),
                item.duration.map_or_else(|| "-".to_owned(), format_duration),
                String::new(),
                item.error
                    .as_ref()
                    .map_or_else(String::new, |error| error_text(error, false)),
            ]);
        }
        if unsuccessful.len() > ITEMS_SHOWN {
            table.row(vec![
                format!(
                    "  … {} more (--format json lists them)",
                    unsuccessful.len() - ITEMS_SHOWN
                ),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
    }
    format!("steps\n{}", indent(&table.render()))
}

/// `3: 2 success, 1 broken`, statuses in the order of the status type.
fn item_counts(items: &[&StepRecord]) -> String {
    if items.is_empty() {
        return "-".to_owned();
    }
    let counts: Vec<String> = flowrun_state::StepStatus::ALL
        .iter()
        .filter_map(|status| {
            let count = items.iter().filter(|item| item.status == *status).count();
            (count > 0).then(|| format!("{count} {status}"))
        })
        .collect();
    format!("{}: {}", items.len(), counts.join(", "))
}

fn incomplete_section(incomplete: &[Incomplete]) -> String {
    let open = incomplete
        .iter()
        .filter(|execution| execution.status == IncompleteStatus::Open)
        .count();
    let mut table = Table::new(&["ID", "STEP", "ITEM", "STATUS", "FAILURES", "LAST ERROR"]);
    table.right_align(4);
    for execution in incomplete {
        table.row(vec![
            execution.id.clone(),
            execution.step_id.clone(),
            match execution.item_index {
                Some(_) => item_label(execution.item_index, execution.item_key.as_deref()),
                None => "(whole step)".to_owned(),
            },
            execution.status.to_string(),
            execution.failures.to_string(),
            execution
                .error
                .as_ref()
                .map_or_else(String::new, |error| error_text(error, false)),
        ]);
    }
    format!(
        "incomplete executions: {open} open, {} resolved\n{}",
        incomplete.len() - open,
        indent(&table.render())
    )
}

/// `#2 order-1234`: the item's index, and its key when the step has `item_key`.
fn item_label(index: Option<u64>, key: Option<&str>) -> String {
    let index = index.map_or_else(|| "-".to_owned(), |index| format!("#{index}"));
    match key {
        Some(key) => format!("{index} {key}"),
        None => index,
    }
}

/// The status, and whether a `running` run's process looks dead (its lease expired; the next
/// `flowrun run` or `serve` marks it `abandoned`).
fn run_status(run: &Run, now_ms: i64) -> String {
    let expired = run.status == RunStatus::Running
        && run
            .lease_expires_at
            .is_some_and(|expires| expires.as_millisecond() < now_ms);
    if expired {
        format!("{} (lease expired)", run.status)
    } else {
        run.status.to_string()
    }
}

fn run_duration(run: &Run) -> Option<Duration> {
    let started = run.started_at.unwrap_or(run.created_at);
    let took = run.ended_at?.as_millisecond() - started.as_millisecond();
    Some(Duration::from_millis(u64::try_from(took).unwrap_or(0)))
}

/// What started the run: `manual` (`flowrun run`), or `event` (a trigger's event is stored).
fn trigger(run: &Run) -> &'static str {
    if run.trigger.is_some() { "event" } else { "manual" }
}

fn time(timestamp: jiff::Timestamp) -> String {
    timestamp.strftime("%Y-%m-%d %H:%M:%S").to_string()
}

/// `850ms`, `12.5s`, `3m07s`, `2h05m`.
fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    let seconds = duration.as_secs();
    if millis < 1_000 {
        format!("{millis}ms")
    } else if seconds < 60 {
        format!("{:.1}s", duration.as_secs_f64())
    } else if seconds < 3_600 {
        format!("{}m{:02}s", seconds / 60, seconds % 60)
    } else {
        format!("{}h{:02}m", seconds / 3_600, seconds % 3_600 / 60)
    }
}

/// An error as the engine stored it: its `message` (with its step, for the run's error),
/// else the JSON; on one line, cut to [`ERROR_WIDTH`] in tables.
fn error_text(error: &Json, with_step: bool) -> String {
    let message = match error {
        Json::String(text) => text.clone(),
        Json::Object(map) => match map.get("message").and_then(Json::as_str) {
            Some(message) => match map.get("step").and_then(Json::as_str).filter(|_| with_step) {
                Some(step) => format!("step `{step}`: {message}"),
                None => message.to_owned(),
            },
            None => error.to_string(),
        },
        other => other.to_string(),
    };
    let one_line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if with_step || one_line.chars().count() <= ERROR_WIDTH {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(ERROR_WIDTH - 1).collect();
    cut.push('…');
    cut
}

fn is_empty(value: &Json) -> bool {
    match value {
        Json::Null => true,
        Json::Object(map) => map.is_empty(),
        _ => false,
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("  {line}\n")).collect()
}

/// Columns padded to their widest cell; the last column is not padded.
struct Table {
    rows: Vec<Vec<String>>,
    right: Vec<usize>,
}

impl Table {
    fn new(headers: &[&str]) -> Table {
        Table {
            rows: vec![headers.iter().map(|header| (*header).to_owned()).collect()],
            right: Vec::new(),
        }
    }

    fn right_align(&mut self, column: usize) {
        self.right.push(column);
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn render(&self) -> String {
        let n_columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..n_columns)
            .map(|column| {
                self.rows
                    .iter()
                    .filter_map(|row| row.get(column))
                    .map(|cell| cell.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (column, cell) in row.iter().enumerate() {
                let width = widths[column];
                if column + 1 == row.len() && !self.right.contains(&column) {
                    line.push_str(cell);
                } else if self.right.contains(&column) {
                    let _ = write!(line, "{cell:>width$}  ");
                } else {
                    let _ = write!(line, "{cell:<width$}  ");
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}
