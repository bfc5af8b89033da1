//! `flowrun run --dry-run`: the plan and each step's parameters, as far as they render before
//! anything runs. Nothing is called, nothing is stored.

use std::io::{self, Write};

use flowrun_engine::plan::DependencyKind;
use flowrun_engine::run::{Preview, StepPreview};

use crate::cli::OutputFormat;

pub fn print(preview: &Preview, format: OutputFormat) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    if format == OutputFormat::Json {
        serde_json::to_writer_pretty(&mut stdout, preview).map_err(io::Error::other)?;
        return writeln!(stdout);
    }
    writeln!(
        stdout,
        "dry run of flow `{}`: nothing is called, nothing is stored; values shown as templates are known only when the run gets there\n",
        preview.flow
    )?;
    for (number, level) in preview.levels.iter().enumerate() {
        writeln!(
            stdout,
            "level {} ({})",
            number + 1,
            if level.len() == 1 {
                "1 step".to_owned()
            } else {
                format!("{} steps at once", level.len())
            }
        )?;
        for step in level {
            print_step(&mut stdout, step)?;
        }
    }
    if !preview.on_failure.is_empty() {
        writeln!(stdout, "on failure")?;
        for step in &preview.on_failure {
            print_step(&mut stdout, step)?;
        }
    }
    Ok(())
}

fn print_step(out: &mut impl Write, step: &StepPreview) -> io::Result<()> {
    let mut about = vec![step.uses.clone()];
    if let Some(connection) = &step.connection {
        about.push(format!("connection {connection}"));
    }
    if step.uses != "transform" {
        about.push(if step.writes {
            "writes".to_owned()
        } else {
            "reads".to_owned()
        });
    }
    writeln!(out, "  {}  ({})", step.id, about.join(", "))?;
    if !step.waits_for.is_empty() {
        let waits: Vec<String> = step
            .waits_for
            .iter()
            .map(|(id, kind)| match kind {
                DependencyKind::Output => id.clone(),
                DependencyKind::Status => format!("{id} (status)"),
                DependencyKind::Needs => format!("{id} (needs)"),
            })
            .collect();
        writeln!(out, "    after: {}", waits.join(", "))?;
    }
    if let Some(for_each) = &step.for_each {
        writeln!(out, "    for each: {for_each}")?;
    }
    if let Some(with) = &step.with {
        writeln!(out, "    with: {with}")?;
    }
    let mut policy = vec![
        format!("attempts {}", step.retry_attempts),
        format!("on_error {}", step.on_error),
    ];
    if let Some(timeout) = step.timeout_ms {
        policy.push(format!("timeout {timeout}ms"));
    }
    writeln!(out, "    {}", policy.join(", "))
}
