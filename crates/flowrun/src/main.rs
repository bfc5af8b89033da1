//! The `flowrun` binary: parses arguments, calls the libraries, renders what they return and
//! chooses the exit code. No product logic lives here.

mod catalog;
mod cli;
mod commands;
mod discover;
mod exit_code;
mod prepare;
mod render;
mod run;
mod test_files;

use std::io::Write;

/// mimalloc: see the workspace Cargo.toml for why.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse_from(with_run_shorthand(std::env::args_os().collect()));
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

/// `flowrun FILE …` is `flowrun run FILE …`: when the first argument is not a command or an
/// option but names a YAML file, `run` is put before it.
fn with_run_shorthand(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    use clap::CommandFactory;
    let Some(first) = args.get(1).and_then(|arg| arg.to_str()) else {
        return args;
    };
    let looks_like_flow = first.ends_with(".yaml") || first.ends_with(".yml");
    if !looks_like_flow || first.starts_with('-') {
        // Building the command tree to compare names costs a start-up some 0.2 ms.
        return args;
    }
    let is_command = cli::Cli::command()
        .get_subcommands()
        .any(|command| command.get_name() == first || command.get_all_aliases().any(|alias| alias == first))
        || first == "help";
    if !is_command {
        args.insert(1, "run".into());
    }
    args
}
