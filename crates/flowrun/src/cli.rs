//! The command line, as clap types. Every command documents itself with examples.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "flowrun",
    version,
    about = "Declarative workflow and integration engine: flows in YAML, kept in git."
)]
#[command(
    after_help = "Examples:\n  flowrun validate flows/            check every flow under flows/\n  flowrun graph flows/x.yaml         show the steps' dependency graph\n  flowrun connectors onecrm          list a connector's modules and parameters\n  flowrun schema > schemas/flow.schema.json"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check flow files (and the project file) and report every problem as file:line:col.
    #[command(
        after_help = "Folders are searched for flows: `flowrun.yaml` is the project file, `*.test.yaml` are\nflow tests (skipped here), other YAML files are flows when they have a top-level `flow:` key.\nHidden folders, target/ and node_modules/ are skipped. A file named on the command line is a flow.\n\nExit status: 0 valid (warnings allowed), 2 invalid.\n\nExamples:\n  flowrun validate flows/\n  flowrun validate flows/orders.yaml --format github\n  flowrun validate --deny-warnings --format json"
    )]
    Validate(ValidateArgs),
    /// Print the JSON Schema of flow files (or of the project file), for editors.
    #[command(
        after_help = "Examples:\n  flowrun schema > schemas/flow.schema.json\n  flowrun schema project > schemas/project.schema.json\n\nA flow file opts in with its first line:\n  # yaml-language-server: $schema=../schemas/flow.schema.json"
    )]
    Schema(SchemaArgs),
    /// Print the dependency graph of a flow's steps.
    #[command(
        after_help = "Examples:\n  flowrun graph flows/x.yaml\n  flowrun graph flows/x.yaml --format dot | dot -Tsvg > x.svg"
    )]
    Graph(GraphArgs),
    /// List connectors, their modules, parameters and outputs.
    #[command(
        after_help = "Examples:\n  flowrun connectors\n  flowrun connectors onecrm\n  flowrun connectors exact_online --format json"
    )]
    Connectors(ConnectorsArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  flowrun completions bash > ~/.local/share/bash-completion/completions/flowrun\n  flowrun completions zsh > ~/.zfunc/_flowrun"
    )]
    Completions(CompletionsArgs),
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Flow files or folders to search; default: the current folder.
    pub paths: Vec<PathBuf>,
    /// How to print diagnostics: `human` on stderr, `json` (one object per line) or `github`
    /// (workflow annotations) on stdout.
    #[arg(long, value_enum, default_value_t = DiagnosticFormat::Human)]
    pub format: DiagnosticFormat,
    /// Treat warnings as errors (exit 2 when there are any).
    #[arg(long)]
    pub deny_warnings: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiagnosticFormat {
    Human,
    Json,
    Github,
}

#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// Which file's schema.
    #[arg(value_enum, default_value_t = SchemaKind::Flow)]
    pub kind: SchemaKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaKind {
    /// Flow files (`flows/*.yaml`), with every module's parameters.
    Flow,
    /// The project file (`flowrun.yaml`).
    Project,
}

#[derive(Debug, clap::Args)]
pub struct GraphArgs {
    /// The flow file.
    pub file: PathBuf,
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    pub format: GraphFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Mermaid,
    Dot,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct ConnectorsArgs {
    /// One connector to describe in full; default: all, briefly.
    pub name: Option<String>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    pub shell: clap_complete::Shell,
}
