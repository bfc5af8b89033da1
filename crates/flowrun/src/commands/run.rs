//! `flowrun run FILE` (and `flowrun FILE`): validates the flow, prepares its inputs,
//! connections and secrets, runs it on the engine against the state store, and prints the
//! outcome. `flowrun runs retry ID` takes a stored run up again the same way. Exit codes: 0
//! success, 1 failed, 2 invalid, 3 partial, 130 interrupted.

use std::io::{self, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flowrun_connect::record::Cassette;
use flowrun_connect::runtime::HttpRuntime;
use flowrun_engine::plan::{Plan, names_read};
use flowrun_engine::run::{Engine, EngineError, RunOutcome, RunRequest, preview};
use flowrun_expr::{Redactor, Runtime};
use flowrun_flow::model::Flow;
use indexmap::IndexMap;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::cli::{DiagnosticFormat, DryRun, ExecutionArgs, LogFormat, OutputFormat, RunArgs, RunsRetryArgs};
use crate::discover::{self, FileKind};
use crate::render::diagnostics::render;
use crate::run::cassette::Taping;
use crate::run::{dry_run, logging, output, progress::Progress};
use crate::{catalog, exit_code, prepare};

pub fn run(args: &RunArgs) -> io::Result<u8> {
    let flow = match load_flow(&args.file)? {
        Ok(flow) => flow,
        Err(code) => return Ok(code),
    };
    let cassette = match args.replay.as_deref().map(Cassette::load).transpose() {
        Ok(cassette) => cassette,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(exit_code::INVALID);
        }
    };
    let inputs = match (&cassette, args.inputs.is_empty()) {
        // A replay runs with the recorded inputs unless others are given.
        (Some(cassette), true) => cassette.inputs.clone(),
        _ => match prepare::parse_inputs(&flow, &args.inputs) {
            Ok(inputs) => Json::Object(inputs),
            Err(problems) => return invalid(&problems),
        },
    };
    let trigger = match (&cassette, &args.trigger) {
        (Some(cassette), None) => cassette.trigger.clone(),
        _ => match read_trigger(args.trigger.as_deref()) {
            Ok(trigger) => trigger,
            Err(problem) => return invalid(&[problem]),
        },
    };
    let overrides = prepare::Overrides {
        profile: args.profile.as_deref(),
        state: args.state.as_deref(),
        secrets_file: args.secrets.as_deref(),
    };
    let ready = match ready(&args.file, &flow, overrides, args.execution.log_format)? {
        Ok(ready) => ready,
        Err(code) => return Ok(code),
    };
    let mut request = ready.request(inputs.clone(), trigger.clone(), args.full);
    let redactor = Arc::new(Redactor::new(ready.secrets.values()));
    let taping = match (&args.record, &cassette) {
        (Some(dir), _) => Some(Taping::record(dir, &redactor)),
        (None, Some(cassette)) => match Taping::replay(cassette, &redactor) {
            Ok(taping) => Some(taping),
            Err(message) => {
                eprintln!("error: {message}");
                return Ok(exit_code::INVALID);
            }
        },
        (None, None) => None,
    };
    if let Some(taping) = &taping {
        request.runtime = taping.runtime();
    }
    if args.dry_run == Some(DryRun::Plan) {
        dry_run::print(&preview(&ready.plan, &request), args.execution.format)?;
        return Ok(exit_code::SUCCESS);
    }
    let settings = &args.execution;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let sandbox = if args.sandbox {
            match flowrun_sandbox::Sandbox::start(0, flowrun_sandbox::SandboxConfig::default()).await {
                Ok(sandbox) => {
                    request.env.insert(SANDBOX_ENV.to_owned(), sandbox.base_url());
                    Some(sandbox)
                }
                Err(error) => {
                    eprintln!("error: the sandbox cannot start: {error}");
                    return Ok(exit_code::FAILURE);
                }
            }
        } else {
            None
        };
        let only_reads = args.dry_run == Some(DryRun::Reads);
        let engine = if only_reads {
            reads_engine(&ready.state_url, settings).await
        } else if cassette.is_some() {
            // A replay stores nothing: the project's runs and cursors are not its business.
            let mut engine = Engine::new(Arc::new(catalog::registry()), None);
            engine.options.max_concurrency = settings.max_concurrency;
            Some(engine)
        } else {
            engine(&ready.state_url, settings).await
        };
        let Some(mut engine) = engine else {
            return Ok(exit_code::FAILURE);
        };
        engine.options.files_dir = Some(ready.files_dir.clone());
        if let Some(taping) = &taping {
            let tokens = flowrun_engine::tokens::token_store(engine.store.as_ref());
            engine.http = Arc::new(HttpRuntime::new(tokens).with_tape(taping.tape.clone()));
        }
        let (engine, progress) = with_progress(engine, settings, flow.steps.len());
        watch_interrupts(request.cancel.clone());
        let outcome = engine.run(ready.plan.clone(), request).await;
        if let (Some(taping), Ok(outcome)) = (&taping, &outcome) {
            match taping.finish(outcome, &inputs, trigger.as_ref(), &redactor) {
                Ok(Some(path)) => eprintln!("recorded the run's HTTP exchanges to {}", path.display()),
                Ok(None) => {}
                Err(error) => eprintln!("error: the cassette could not be written: {error}"),
            }
        }
        if let Some(sandbox) = sandbox {
            sandbox.shutdown().await;
        }
        finish(outcome, progress, settings.format)
    })
}

/// The variable `--sandbox` sets to the simulators' base URL.
const SANDBOX_ENV: &str = "FLOWRUN_SANDBOX_URL";

/// `flowrun runs retry ID [--item KEY]`: the run's flow (found under the current folder by
/// its id, or `--flow FILE`) is validated as it is now and the run taken up again.
pub fn retry(args: &RunsRetryArgs) -> io::Result<u8> {
    let state_url = match prepare::state_url_for_folder(
        Path::new("."),
        args.store.profile.as_deref(),
        args.store.state.as_deref(),
    ) {
        Ok(url) => url,
        Err(problem) => return invalid(&[problem]),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let flow_id = match runtime.block_on(stored_flow_id(&state_url, &args.id)) {
        Ok(flow_id) => flow_id,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(exit_code::FAILURE);
        }
    };
    let file = match &args.flow {
        Some(file) => file.clone(),
        None => match find_flow(&flow_id)? {
            Some(file) => file,
            None => {
                eprintln!(
                    "error: no flow file with `flow: {flow_id}` under the current folder; name it with --flow FILE"
                );
                return Ok(exit_code::INVALID);
            }
        },
    };
    let flow = match load_flow(&file)? {
        Ok(flow) => flow,
        Err(code) => return Ok(code),
    };
    let overrides = prepare::Overrides {
        profile: args.store.profile.as_deref(),
        state: Some(&state_url),
        secrets_file: args.secrets.as_deref(),
    };
    let ready = match ready(&file, &flow, overrides, args.execution.log_format)? {
        Ok(ready) => ready,
        Err(code) => return Ok(code),
    };
    // The stored run's inputs and trigger are used; these are placeholders.
    let request = ready.request(Json::Object(Default::default()), None, false);
    let settings = &args.execution;
    runtime.block_on(async {
        let Some(mut engine) = engine(&ready.state_url, settings).await else {
            return Ok(exit_code::FAILURE);
        };
        engine.options.files_dir = Some(ready.files_dir.clone());
        let (engine, progress) = with_progress(engine, settings, flow.steps.len());
        watch_interrupts(request.cancel.clone());
        let outcome = engine
            .replay(ready.plan.clone(), request, &args.id, args.item.as_deref())
            .await;
        finish(outcome, progress, settings.format)
    })
}

/// The flow of a file, validated; or the exit code after the diagnostics are shown.
fn load_flow(file: &Path) -> io::Result<Result<Flow, u8>> {
    if !file.is_file() {
        eprintln!("error: {}: no such file", file.display());
        return Ok(Err(exit_code::INVALID));
    }
    let catalog = catalog::builtin();
    let checked = super::validate::check(
        &[(file.to_path_buf(), FileKind::Flow)],
        catalog,
        super::validate::Keep::Reports,
    )?;
    let flow = checked.flows.into_iter().next().and_then(|(_, report)| report.flow);
    match (flow, checked.diagnostics.iter().any(|d| d.is_error())) {
        (Some(flow), false) => Ok(Ok(flow)),
        _ => {
            render(DiagnosticFormat::Human, &checked.diagnostics, checked.n_files)?;
            Ok(Err(exit_code::INVALID))
        }
    }
}

/// Everything a run needs that does not depend on its inputs.
struct Ready {
    plan: Arc<Plan>,
    state_url: String,
    env: IndexMap<String, String>,
    secrets: IndexMap<String, flowrun_expr::Secret>,
    flow_version: String,
    files_dir: Arc<Path>,
}

impl Ready {
    fn request(&self, inputs: Json, trigger: Option<Json>, full: bool) -> RunRequest {
        RunRequest {
            inputs,
            trigger,
            env: self.env.clone(),
            secrets: self.secrets.clone(),
            full,
            flow_version: self.flow_version.clone(),
            cancel: CancellationToken::new(),
            runtime: Runtime::default(),
            run_id: None,
        }
    }
}

/// Connections, the state URL, the env and secrets the flow reads, logging, and the plan.
fn ready(
    file: &Path,
    flow: &Flow,
    overrides: prepare::Overrides<'_>,
    log_format: LogFormat,
) -> io::Result<Result<Ready, u8>> {
    let prepared = match prepare::prepare(file, flow, overrides) {
        Ok(prepared) => prepared,
        Err(problem) => return invalid(&[problem]).map(Err),
    };
    let names = names_read(flow, &prepared.connections);
    let secrets = match prepare::secrets(&names.secrets, prepared.secrets_file.as_deref()) {
        Ok(secrets) => secrets,
        Err(problems) => return invalid(&problems).map(Err),
    };
    let env = names
        .env
        .iter()
        .filter_map(|name| Some((name.clone(), std::env::var(name).ok()?)))
        .collect();
    logging::init(log_format, Arc::new(Redactor::new(secrets.values())));
    let plan = match Plan::new(flow, &prepared.connections, catalog::builtin()) {
        Ok(plan) => Arc::new(plan),
        Err(problems) => return invalid(&problems).map(Err),
    };
    Ok(Ok(Ready {
        plan,
        state_url: prepared.state_url,
        env,
        secrets,
        flow_version: flow_version(file)?,
        files_dir: prepared.files_dir.into(),
    }))
}

/// The engine on the opened store (runs found dead are marked `abandoned` first), or `None`
/// after saying why the store cannot be opened.
async fn engine(state_url: &str, settings: &ExecutionArgs) -> Option<Engine> {
    let store = match flowrun_state::open(state_url).await {
        Ok(store) => store,
        Err(error) => {
            eprintln!("error: the state store {state_url} cannot be opened: {error}");
            return None;
        }
    };
    match store.mark_abandoned().await {
        Ok(abandoned) => {
            for run in abandoned {
                eprintln!(
                    "note: run {} of flow `{}` was left running by a process that died; it is now `abandoned` (`flowrun runs retry {}` resumes it)",
                    run.id, run.flow_id, run.id
                );
            }
        }
        Err(error) => eprintln!("warning: could not look for abandoned runs: {error}"),
    }
    let mut engine = Engine::new(Arc::new(catalog::registry()), Some(store));
    engine.options.max_concurrency = settings.max_concurrency;
    if let Some(lease) = settings.lease {
        engine.options.lease = lease.as_std();
    }
    Some(engine)
}

/// The engine of `--dry-run=reads`: it reads stored cursors when the store exists, and
/// writes nothing (no store is created, no run is marked abandoned).
async fn reads_engine(state_url: &str, settings: &ExecutionArgs) -> Option<Engine> {
    let exists = flowrun_state::sqlite_path(state_url).is_ok_and(|path| path.exists());
    let store = if exists {
        match flowrun_state::open(state_url).await {
            Ok(store) => Some(store),
            Err(error) => {
                eprintln!("error: the state store {state_url} cannot be opened: {error}");
                return None;
            }
        }
    } else {
        None
    };
    let mut engine = Engine::new(Arc::new(catalog::registry()), store);
    engine.options.only_reads = true;
    engine.options.max_concurrency = settings.max_concurrency;
    Some(engine)
}

/// The progress line, on a terminal only and only for people.
fn with_progress(mut engine: Engine, settings: &ExecutionArgs, steps: usize) -> (Engine, Option<Progress>) {
    let show =
        settings.format == OutputFormat::Human && settings.log_format == LogFormat::Text && io::stderr().is_terminal();
    let progress = show.then(|| {
        let (progress, observer) = Progress::start(steps);
        engine.options.observer = Some(observer);
        progress
    });
    (engine, progress)
}

fn finish(
    outcome: Result<RunOutcome, EngineError>,
    progress: Option<Progress>,
    format: OutputFormat,
) -> io::Result<u8> {
    if let Some(progress) = progress {
        progress.finish();
    }
    match outcome {
        Ok(outcome) => output::print(&outcome, format),
        Err(EngineError::Store(flowrun_state::StateError::FlowLocked { flow_id, holder_run_id })) => {
            eprintln!(
                "error: flow `{flow_id}` is already running (run {holder_run_id}); a flow with incremental steps runs once at a time. Wait for it, or see `flowrun runs show {holder_run_id}`"
            );
            Ok(exit_code::FAILURE)
        }
        Err(EngineError::NothingToReplay { run_id, status, detail }) => {
            eprintln!("run {run_id} ended `{status}` with nothing left to replay{detail}");
            Ok(if detail.is_empty() {
                exit_code::SUCCESS
            } else {
                exit_code::INVALID
            })
        }
        Err(error) => {
            eprintln!("error: {error}");
            Ok(exit_code::FAILURE)
        }
    }
}

/// The flow id of a stored run.
async fn stored_flow_id(state_url: &str, run_id: &str) -> Result<String, String> {
    if let Ok(path) = flowrun_state::sqlite_path(state_url)
        && !path.exists()
    {
        return Err(format!(
            "no run {run_id}: the state store {} does not exist",
            path.display()
        ));
    }
    let store = flowrun_state::open(state_url)
        .await
        .map_err(|error| format!("the state store {state_url} cannot be opened: {error}"))?;
    match store.run(run_id).await {
        Ok(Some(run)) => Ok(run.flow_id),
        Ok(None) => Err(format!("no run {run_id} in {state_url}")),
        Err(error) => Err(format!("cannot read run {run_id}: {error}")),
    }
}

/// The flow file under the current folder whose `flow:` is `flow_id`.
fn find_flow(flow_id: &str) -> io::Result<Option<PathBuf>> {
    let catalog = catalog::builtin();
    for (path, kind) in discover::files(&[PathBuf::from(".")])? {
        if kind != FileKind::Flow {
            continue;
        }
        let bytes = std::fs::read(&path)?;
        let report = flowrun_flow::validate_flow(&path, &bytes, flowrun_flow::Context { catalog, project: None });
        if report.flow.is_some_and(|flow| flow.flow == flow_id) {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// The first Ctrl-C cancels the run (it ends `cancelled`, exit 130); a second one exits at
/// once.
fn watch_interrupts(cancel: CancellationToken) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        eprintln!("\ninterrupted: stopping the run (press Ctrl-C again to exit at once)");
        cancel.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(i32::from(exit_code::INTERRUPTED));
        }
    });
}

/// `--trigger FILE` or `--trigger -` (stdin): the event as JSON.
fn read_trigger(path: Option<&Path>) -> Result<Option<Json>, String> {
    let Some(path) = path else { return Ok(None) };
    let (text, name) = if path == Path::new("-") {
        let mut text = String::new();
        io::stdin()
            .read_to_string(&mut text)
            .map_err(|error| format!("--trigger -: cannot read stdin: {error}"))?;
        (text, "stdin".to_owned())
    } else {
        let text = std::fs::read_to_string(path).map_err(|error| format!("--trigger {}: {error}", path.display()))?;
        (text, path.display().to_string())
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|error| format!("--trigger {name}: not JSON: {error} (the trigger event is a JSON document)"))
}

/// A hash of the flow file, stored with each run: which version of the flow ran.
pub(super) fn flow_version(path: &Path) -> io::Result<String> {
    let bytes = std::fs::read(path)?;
    let digest = Sha256::digest(&bytes);
    Ok(digest.iter().take(8).map(|byte| format!("{byte:02x}")).collect())
}

fn invalid(problems: &[impl std::fmt::Display]) -> io::Result<u8> {
    for problem in problems {
        eprintln!("error: {problem}");
    }
    Ok(exit_code::INVALID)
}
