//! The command line, as clap types. Every command documents itself with examples.

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Parser, Subcommand, ValueEnum};
use flowrun_state::RunStatus;

#[derive(Debug, Parser)]
#[command(
    name = "flowrun",
    version,
    about = "Declarative workflow and integration engine: flows in YAML, kept in git."
)]
#[command(
    after_help = "Examples:\n  flowrun validate flows/            check every flow under flows/\n  flowrun test flows/                run the flows' tests offline\n  flowrun graph flows/x.yaml         show the steps' dependency graph\n  flowrun connectors onecrm          list a connector's modules and parameters\n  flowrun runs show RUN_ID           a run's steps and incomplete executions\n  flowrun auth login exact           consent once in the browser; runs keep the tokens\n  flowrun sandbox --port 0           the API simulators on localhost, to try flows against\n  flowrun schema > schemas/flow.schema.json"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a flow once and print its output (`flowrun FILE` is the same).
    #[command(
        after_help = "Exit status: 0 success, 1 the run failed, 2 invalid flow, input, secret or usage,
3 partial (incomplete executions stored), 130 interrupted (Ctrl-C).

The output JSON goes to stdout; progress, logs and errors to stderr. Logs show warnings and
errors (retries, failed steps); FLOWRUN_LOG=info (or debug) shows more.

Examples:
  flowrun run flows/orders.yaml
  flowrun flows/orders.yaml --input since=2024-01-01T00:00:00Z
  flowrun run flows/hook.yaml --trigger event.json --format json
  flowrun run flows/sync.yaml --profile prod --secrets .env.prod
  flowrun run --dry-run flows/sync.yaml
  flowrun run flows/sync.yaml --full        ignore stored cursors once"
    )]
    Run(RunArgs),
    /// Check flow files, test files and the project file; report every problem as file:line:col.
    #[command(
        after_help = "Folders are searched for flows: `flowrun.yaml` is the project file, `*.test.yaml` are\nflow tests (checked with the flow they name), other YAML files are flows when they have a\ntop-level `flow:` key. Hidden folders, target/ and node_modules/ are skipped. A file named on\nthe command line is a flow, unless it is named `flowrun.yaml` or `*.test.yaml`.\n\nExit status: 0 valid (warnings allowed), 2 invalid.\n\nExamples:\n  flowrun validate flows/\n  flowrun validate flows/orders.yaml --format github\n  flowrun validate --deny-warnings --format json"
    )]
    Validate(ValidateArgs),
    /// Print the JSON Schema of flow files (or of the project file, or of test files), for editors.
    #[command(
        after_help = "Examples:\n  flowrun schema > schemas/flow.schema.json\n  flowrun schema project > schemas/project.schema.json\n  flowrun schema test > schemas/flow-test.schema.json\n\nA flow file opts in with its first line:\n  # yaml-language-server: $schema=../schemas/flow.schema.json"
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
    /// Run history: list runs, or show one run with its steps and incomplete executions.
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "`flowrun runs` alone is `flowrun runs list`. The state store is the project's (`state` in\nflowrun.yaml, found from the current folder up, or a profile's with --profile), else\nsqlite://.flowrun/state.db next to the project file (or in the current folder); --state URL\nnames another. A store that does not exist is not created.\n\nExamples:\n  flowrun runs\n  flowrun runs list --flow orders_sync --status failed --limit 10\n  flowrun runs show 01923f4e-8c2a-7b31-9d4e-5f6a7b8c9d0e\n  flowrun runs show 01923f4e-8c2a-7b31-9d4e-5f6a7b8c9d0e --format json | jq .steps\n  flowrun runs list --profile prod --format json"
    )]
    Runs(RunsArgs),
    /// OAuth2 consent of a connection: `flowrun auth login CONNECTION`.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Serve the API simulators on localhost; print their URLs and demo credentials.
    #[command(
        after_help = "Serves every simulator on 127.0.0.1:PORT until Ctrl-C (or SIGTERM), then stops cleanly (exit 0).
The first line of stdout is `flowrun sandbox listening on http://127.0.0.1:PORT`; with
--format json, stdout is one JSON object with each simulator's base URL and demo credentials.
docs/sandbox.md lists the endpoints, the credentials and the control API.

Exit status: 0 stopped by Ctrl-C or SIGTERM, 2 the port cannot be used (taken: try --port 0).

Examples:
  flowrun sandbox
  flowrun sandbox --port 0                 a free port, printed on the first line
  flowrun sandbox --port 9000 --format json"
    )]
    Sandbox(SandboxArgs),
    /// Run a folder of flows unattended: schedules, webhooks and connector triggers.
    #[command(
        after_help = "Loads and validates every flow under DIR (default: the current folder); an invalid flow is
reported and not served, the others are. Changed files are reloaded without a restart.
Every trigger queues its run durably in the state store before it is acknowledged; workers (in
this process, and in every other `flowrun serve` sharing a Postgres store) claim and run them.
A worker that dies is taken over once its lease expires; nothing finished is run again.

Routes: POST /hooks/<path> (webhook triggers), POST /triggers/<flow>/<token> (connector
callbacks), GET /healthz, GET /metrics (Prometheus). The first line of stdout is
`flowrun serve listening on http://ADDR`; logs are JSON lines on stderr (--log-format text for
people). SIGTERM or Ctrl-C: stop taking work, let running runs finish for --shutdown-timeout,
then hand them back to the queue. docs/serve.md describes it all.

Exit status: 0 stopped by a signal, 1 the store cannot be opened or the address is taken,
2 no such folder or an invalid project file.

Examples:
  flowrun serve flows/
  flowrun serve flows/ --listen 0.0.0.0:8080 --public-url https://hooks.example.com
  flowrun serve flows/ --state postgres://flowrun@db:5432/flowrun --workers 8"
    )]
    Serve(ServeArgs),
    /// Run flow tests (`*.test.yaml`) offline: step mocks, recorded HTTP, expected results.
    #[command(
        after_help = "Each test file names its flow (`flow:`, relative to the test file); each case runs the flow
on a fresh temporary state store with a fixed clock and ids, its mocked steps answered from the
case, other HTTP answered from its cassette (`replay:`) or refused: a test never reaches the
network and never reads real secrets. docs/testing.md describes the file.

Exit status: 0 every case passed, 1 a case failed, 2 an invalid test file or flow (file:line:col).

Examples:
  flowrun test                              every *.test.yaml under the current folder
  flowrun test flows/ --filter 'e-mail'
  flowrun test flows/orders.test.yaml --update     rewrite the snapshots (review the diff)
  flowrun test --format junit > junit.xml"
    )]
    Test(TestArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  flowrun completions bash > ~/.local/share/bash-completion/completions/flowrun\n  flowrun completions zsh > ~/.zfunc/_flowrun"
    )]
    Completions(CompletionsArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The flow file.
    pub file: PathBuf,
    /// An input, typed per the flow's `inputs` (objects and arrays as JSON, or @file.json).
    #[arg(long = "input", short = 'i', value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,
    /// The trigger event, as JSON: a file, or `-` for stdin.
    #[arg(long, value_name = "FILE|-")]
    pub trigger: Option<PathBuf>,
    /// A dotenv file of secrets, read before the environment (default: the project's
    /// `secrets_file`).
    #[arg(long, value_name = "FILE")]
    pub secrets: Option<PathBuf>,
    /// A profile of the project file: its connections and state overlay the project's.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// The state store URL (default: the project's `state`, else sqlite://.flowrun/state.db
    /// next to the project file or the flow).
    #[arg(long, value_name = "URL")]
    pub state: Option<String>,
    /// Ignore stored cursors: incremental steps start from `initial`.
    #[arg(long)]
    pub full: bool,
    /// `--dry-run` (= `plan`): print the steps by level with their parameters rendered as far
    /// as they can be (secrets as ***); calls nothing. `--dry-run=reads`: also run the modules
    /// that only read, so later steps render with real data, and list the writes that would
    /// be sent. Neither stores a run or moves a cursor.
    #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "plan", value_name = "WHAT")]
    pub dry_run: Option<DryRun>,
    /// Write every HTTP exchange of the run, redacted, to DIR/<flow>-<run>.json (a cassette),
    /// with the inputs, `now()` and `uuid()` values needed to replay it. During a recorded run
    /// `now()` is the run's start throughout.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["replay", "dry_run"])]
    pub record: Option<PathBuf>,
    /// Run offline against a cassette written by --record: requests are answered from it (a
    /// request it does not hold fails its step), the cassette's inputs, trigger, `now()` and
    /// `uuid()` values are used, and nothing is stored: no run, no cursor.
    #[arg(long, value_name = "FILE", conflicts_with = "dry_run")]
    pub replay: Option<PathBuf>,
    /// Start the built-in API simulators (what `flowrun sandbox` serves) on a free local port
    /// for this run; the flow reads their base URL as `env.FLOWRUN_SANDBOX_URL`.
    #[arg(long)]
    pub sandbox: bool,
    #[command(flatten)]
    pub execution: ExecutionArgs,
}

/// How a run (`run`, `runs retry`) is executed and reported.
#[derive(Debug, Clone, clap::Args)]
pub struct ExecutionArgs {
    /// How to print the result: the output JSON (`human`) or one envelope with every step
    /// (`json`).
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
    /// How to write logs on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Module calls in flight at once across the run.
    #[arg(long, value_name = "N", default_value_t = flowrun_engine::run::DEFAULT_MAX_CONCURRENCY, value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    pub max_concurrency: usize,
    /// How long the run's lease lasts without a heartbeat (default 30s); a run whose process
    /// died is `abandoned` once it expires.
    #[arg(long, value_name = "DURATION", hide = true)]
    pub lease: Option<flowrun_flow::Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DryRun {
    /// The plan and the parameters known before anything runs.
    Plan,
    /// Run the reads, show the writes.
    Reads,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
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
pub struct TestArgs {
    /// Test files or folders to search for `*.test.yaml`; default: the current folder.
    pub paths: Vec<PathBuf>,
    /// Run only the cases whose name (or test file path) contains this text.
    #[arg(long, value_name = "PATTERN")]
    pub filter: Option<String>,
    /// Rewrite the snapshots of `snapshot: true` cases with what the runs did.
    #[arg(long)]
    pub update: bool,
    /// `human` (a line per case, differences path by path) or `junit` (JUnit XML on stdout,
    /// the summary on stderr).
    #[arg(long, value_enum, default_value_t = TestFormat::Human)]
    pub format: TestFormat,
    /// A case that runs longer fails.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub timeout: flowrun_flow::Duration,
    /// Cases running at once (default: twice the number of cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    pub jobs: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TestFormat {
    Human,
    Junit,
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
    /// Flow test files (`*.test.yaml`).
    Test,
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

#[derive(Debug, clap::Args)]
pub struct RunsArgs {
    #[command(subcommand)]
    pub command: Option<RunsCommand>,
    /// Without a subcommand: the options of `list`.
    #[command(flatten)]
    pub list: RunsListArgs,
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// List runs, newest first: id, flow, status, start, duration, trigger.
    #[command(
        after_help = "With --format json: one run per line (JSON Lines), as stored, newest first.\n\nExamples:\n  flowrun runs list\n  flowrun runs list --flow orders_sync --status partial\n  flowrun runs list --state sqlite:///var/lib/flowrun/state.db --limit 200 --format json"
    )]
    List(RunsListArgs),
    /// Show one run: its steps with status, attempts, duration, items and errors, and its
    /// incomplete executions.
    #[command(
        after_help = "Exit status: 0 shown, 1 no such run (or the store cannot be read), 2 usage.\nWith --format json: the run, its step records and incomplete executions as one JSON object.\n\nExamples:\n  flowrun runs show 01923f4e-8c2a-7b31-9d4e-5f6a7b8c9d0e\n  flowrun runs show 01923f4e-8c2a-7b31-9d4e-5f6a7b8c9d0e --format json"
    )]
    Show(RunsShowArgs),
    /// Replay a run's incomplete executions (or resume a run that did not finish), with the
    /// flow as it is now and this process's secrets.
    #[command(
        after_help = "Open incomplete executions (stored by `on_error: break`) are replayed with the item, index and
cursor they were stored with; each is marked resolved when it succeeds. Steps that depend on a
replayed step run again on the replayed outputs only. Steps and items that finished are never
run again; steps that had not finished (an abandoned, failed or cancelled run) run now.
The flow file is found under the current folder by the run's flow id (or give --flow).

Exit status: 0 everything resolved, 1 failed, 2 invalid, 3 items remain open.

Examples:
  flowrun runs retry 01923f4e-8c2a-7b31-9d4e-5f6a7b8c9d0e
  flowrun runs retry 01923f4e-8c2a-7b31-9d4e-5f6a7b8c9d0e --item \"order 1234\"\n  flowrun runs retry 01923f4e-8c2a-7b31-9d4e-5f6a7b8c9d0e --flow flows/orders.yaml --secrets .env"
    )]
    Retry(RunsRetryArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct RunsRetryArgs {
    /// The run's id.
    pub id: String,
    /// Replay only the incomplete execution with this item key (or item index).
    #[arg(long, value_name = "KEY")]
    pub item: Option<String>,
    /// The flow file of the run (default: the flow under the current folder with the run's
    /// flow id).
    #[arg(long, value_name = "FILE")]
    pub flow: Option<PathBuf>,
    /// A dotenv file of secrets, read before the environment.
    #[arg(long, value_name = "FILE")]
    pub secrets: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub execution: ExecutionArgs,
}

/// Which state store `flowrun runs` reads.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// The state store URL, e.g. sqlite://.flowrun/state.db (relative to the current folder);
    /// default: the project file's `state`.
    #[arg(long, value_name = "URL")]
    pub state: Option<String>,
    /// Read the `state` of this profile of the project file.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RunsListArgs {
    /// Only runs of this flow (its `flow:` id).
    #[arg(long, value_name = "FLOW_ID")]
    pub flow: Option<String>,
    /// Only runs with this status.
    #[arg(long, value_parser = run_status_parser())]
    pub status: Option<RunStatus>,
    /// At most this many runs.
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    #[command(flatten)]
    pub store: StoreArgs,
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RunsShowArgs {
    /// The run's id, as `flowrun runs list` and `flowrun run --format json` print it.
    pub id: String,
    #[command(flatten)]
    pub store: StoreArgs,
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
}

/// `--status`: one of the run statuses, listed in `--help` and completions.
fn run_status_parser() -> impl TypedValueParser<Value = RunStatus> {
    PossibleValuesParser::new(RunStatus::ALL.iter().map(|status| status.as_str()))
        .try_map(|text| text.parse::<RunStatus>())
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Run the OAuth2 authorization-code consent of a connection in the browser once, and keep
    /// its tokens in the state store for later runs.
    #[command(
        after_help = "The connection is one of the project file's (`flowrun.yaml`, found from the current folder up,
with --profile's overlay); its `auth` must be `kind: oauth2` with `grant: authorization_code`.
flowrun listens on the connection's `redirect_uri` (a loopback URL: http://127.0.0.1:PORT/PATH
or http://localhost:PORT/PATH), or, without one, on http://127.0.0.1:<free port>/callback;
prints the consent URL (and opens it unless --no-browser), waits for the browser to come back,
exchanges the code (PKCE) and stores the tokens. Runs then use them, refreshing the access
token with the refresh token as it expires. No token is ever printed.

Exit status: 0 logged in, 1 consent refused or failed (nothing stored), 2 unknown connection,
connection without authorization_code, bad redirect_uri, missing secret, 130 interrupted.

Examples:
  flowrun auth login exact
  flowrun auth login exact --profile prod --secrets .env.prod
  flowrun auth login shop --no-browser --timeout 10m"
    )]
    Login(AuthLoginArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct AuthLoginArgs {
    /// The connection's name, as under `connections:` in flowrun.yaml.
    pub connection: String,
    /// Only print the consent URL; do not try to open a browser.
    #[arg(long)]
    pub no_browser: bool,
    /// How long to wait for the browser to come back with the consent.
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    pub timeout: flowrun_flow::Duration,
    /// A dotenv file of secrets, read before the environment (default: the project's
    /// `secrets_file`).
    #[arg(long, value_name = "FILE")]
    pub secrets: Option<PathBuf>,
    /// A profile of the project file: its connections and state overlay the project's.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// The state store URL the tokens are kept in (default: the project's `state`, else
    /// sqlite://.flowrun/state.db next to the project file).
    #[arg(long, value_name = "URL")]
    pub state: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// The port on 127.0.0.1; `0` picks a free one.
    #[arg(long, value_name = "PORT", default_value_t = DEFAULT_SANDBOX_PORT)]
    pub port: u16,
    /// How to print the URLs and credentials: lines for people (`human`) or one JSON object.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
}

/// The port `flowrun sandbox` listens on by default.
pub const DEFAULT_SANDBOX_PORT: u16 = 8787;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The folder of the flows; default: the current folder.
    pub dir: Option<PathBuf>,
    /// The address to listen on; port 0 picks a free one (printed on the first line).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Runs executed at once by this process; 0 makes an ingest-only process (it queues what
    /// triggers bring; processes with workers on the same Postgres store run it).
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).map(|n| n as usize))]
    pub workers: usize,
    /// The state store (`sqlite://…` or `postgres://…`); default: the project's.
    #[arg(long, value_name = "URL")]
    pub state: Option<String>,
    /// The base URL services call back (connector triggers such as 1CRM's New Event), as they
    /// reach this server: e.g. https://hooks.example.com. Default: the listen address.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// A profile of the project file.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// A dotenv file of secrets, read instead of the project's `secrets_file`.
    #[arg(long, value_name = "FILE")]
    pub secrets: Option<PathBuf>,
    /// How to write logs on stderr: JSON lines (default) or text.
    #[arg(long, value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
    /// Module calls in flight at once in one run.
    #[arg(long, value_name = "N", default_value_t = flowrun_engine::run::DEFAULT_MAX_CONCURRENCY, value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    pub max_concurrency: usize,
    /// How long a run's lease lasts without a heartbeat (default 30s): a run of a worker that
    /// died is taken over this long after its last heartbeat.
    #[arg(long, value_name = "DURATION")]
    pub lease: Option<flowrun_flow::Duration>,
    /// On SIGTERM: how long running runs may take to finish before they are handed back to
    /// the queue (default 30s).
    #[arg(long, value_name = "DURATION")]
    pub shutdown_timeout: Option<flowrun_flow::Duration>,
    /// Do not watch the folder for changed flows.
    #[arg(long)]
    pub no_watch: bool,
}
