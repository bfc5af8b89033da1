//! What `flowrun run` prints when a run ends (flow-spec "Outputs"): the output JSON on stdout
//! for people, or one envelope for programs; why it failed on stderr.

use std::io::{self, Write};

use flowrun_engine::run::RunOutcome;
use flowrun_state::RunStatus;
use serde_json::{Value as Json, json};

use crate::cli::OutputFormat;
use crate::exit_code;

/// Prints the outcome and returns the exit code of its status.
pub fn print(outcome: &RunOutcome, format: OutputFormat) -> io::Result<u8> {
    match format {
        OutputFormat::Json => {
            let envelope = envelope(outcome);
            let mut stdout = io::stdout().lock();
            serde_json::to_writer(&mut stdout, &envelope).map_err(io::Error::other)?;
            writeln!(stdout)?;
        }
        OutputFormat::Human => human(outcome)?,
    }
    Ok(exit_code_of(outcome.status))
}

/// `{run_id, flow, status, output, error?, steps: {<id>: {status, error?, items?}}, incomplete}`.
pub fn envelope(outcome: &RunOutcome) -> Json {
    let mut envelope = json!({
        "run_id": outcome.run_id,
        "flow": outcome.flow,
        "status": outcome.status,
        "output": outcome.output,
        "steps": outcome.steps,
        "incomplete": outcome.incomplete,
    });
    if let Some(error) = &outcome.error {
        envelope["error"] = error.clone();
    }
    if let Some(not_sent) = &outcome.not_sent {
        envelope["not_sent"] = serde_json::to_value(not_sent).unwrap_or_default();
    }
    envelope
}

fn human(outcome: &RunOutcome) -> io::Result<()> {
    let mut stderr = io::stderr().lock();
    if let Some(not_sent) = &outcome.not_sent {
        writeln!(
            stderr,
            "dry run (reads): nothing was stored; {} write call{} not sent{}",
            not_sent.len(),
            if not_sent.len() == 1 { "" } else { "s" },
            if not_sent.is_empty() { "" } else { ":" }
        )?;
        for call in not_sent {
            let item = call
                .item_index
                .map(|index| format!(" item {index}"))
                .unwrap_or_default();
            writeln!(stderr, "  {}{item} ({}): {}", call.step, call.uses, call.with)?;
        }
    }
    match outcome.status {
        RunStatus::Success | RunStatus::Partial => {
            let output = outcome.output.clone().unwrap_or(Json::Null);
            let mut stdout = io::stdout().lock();
            serde_json::to_writer_pretty(&mut stdout, &output).map_err(io::Error::other)?;
            writeln!(stdout)?;
            if outcome.status == RunStatus::Partial {
                writeln!(
                    stderr,
                    "partial: {} incomplete execution{} stored; see `flowrun runs show {}`, replay with `flowrun runs retry {}`",
                    outcome.incomplete,
                    if outcome.incomplete == 1 { "" } else { "s" },
                    outcome.run_id,
                    outcome.run_id,
                )?;
            }
        }
        RunStatus::Cancelled => {
            writeln!(
                stderr,
                "cancelled: run {} was interrupted; no cursor moved",
                outcome.run_id
            )?;
        }
        _ => {
            writeln!(
                stderr,
                "error: run {} failed: {}",
                outcome.run_id,
                describe_error(outcome.error.as_ref())
            )?;
            writeln!(stderr, "  see `flowrun runs show {}` for every step", outcome.run_id)?;
        }
    }
    Ok(())
}

/// `step `x` (module, item 3 "order 12", HTTP 503, after 3 attempts): message`.
pub fn describe_error(error: Option<&Json>) -> String {
    let Some(error) = error else {
        return "no reason was recorded".to_owned();
    };
    let message = error["message"].as_str().unwrap_or("no message");
    let Some(step) = error["step"].as_str() else {
        return message.to_owned();
    };
    let mut about = Vec::new();
    if let Some(module) = error["module"].as_str() {
        about.push(module.to_owned());
    }
    if let Some(index) = error["item_index"].as_u64() {
        match error["item_key"].as_str() {
            Some(key) => about.push(format!("item {index} \"{key}\"")),
            None => about.push(format!("item {index}")),
        }
    }
    if let Some(status) = error["status"].as_u64() {
        about.push(format!("HTTP {status}"));
    }
    if let Some(attempts) = error["attempts"].as_u64().filter(|n| *n > 1) {
        about.push(format!("after {attempts} attempts"));
    }
    if about.is_empty() {
        format!("step `{step}`: {message}")
    } else {
        format!("step `{step}` ({}): {message}", about.join(", "))
    }
}

pub fn exit_code_of(status: RunStatus) -> u8 {
    match status {
        RunStatus::Success => exit_code::SUCCESS,
        RunStatus::Partial => exit_code::PARTIAL,
        RunStatus::Cancelled => exit_code::INTERRUPTED,
        _ => exit_code::FAILURE,
    }
}
