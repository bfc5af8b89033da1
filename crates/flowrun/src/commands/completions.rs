use std::io;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::exit_code;

pub fn run(args: &CompletionsArgs) -> io::Result<u8> {
    clap_complete::generate(args.shell, &mut Cli::command(), "flowrun", &mut io::stdout());
    Ok(exit_code::SUCCESS)
}
