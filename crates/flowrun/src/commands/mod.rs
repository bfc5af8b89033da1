//! One module per subcommand; each returns the exit code.

mod auth;
mod completions;
mod connectors;
mod graph;
mod run;
mod runs;
mod sandbox;
mod schema;
mod serve;
mod test;
mod validate;

use std::io;

use crate::cli::{Cli, Command};

pub fn run(cli: Cli) -> io::Result<u8> {
    match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Validate(args) => validate::run(&args),
        Command::Schema(args) => schema::run(&args),
        Command::Graph(args) => graph::run(&args),
        Command::Connectors(args) => connectors::run(&args),
        Command::Completions(args) => completions::run(&args),
        Command::Runs(args) => runs::run(&args),
        Command::Auth(command) => auth::run(&command),
        Command::Sandbox(args) => sandbox::run(&args),
        Command::Test(args) => test::run(&args),
        Command::Serve(args) => serve::run(&args),
    }
}
