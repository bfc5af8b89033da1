//! The `flowrun` binary: parses arguments, calls the libraries, renders what they return and
//! chooses the exit code. No product logic lives here.

mod catalog;
mod cli;
mod commands;
mod discover;
mod exit_code;
#[allow(dead_code, unused_imports, reason = "`flowrun run` (commands/run.rs) will call it")]
mod prepare;
mod render;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            // A closed pipe (`flowrun schema | head`) is not an error worth a message.
            if error.kind() == std::io::ErrorKind::BrokenPipe {
                return ExitCode::from(exit_code::SUCCESS);
            }
            let _ = writeln!(std::io::stderr(), "error: {error}");
            ExitCode::from(exit_code::FAILURE)
        }
    }
}
