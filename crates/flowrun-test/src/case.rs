//! One case, run: the flow on the engine with the case's mocks standing in for steps, HTTP
//! answered from the cassette (or refused), a fixed clock and ids, and a fresh state store;
//! what the run did is gathered into an [`Observed`] for the comparisons.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use flowrun_connect::module::Module;
use flowrun_connect::record::{Cassette, Redact, Replayer, Tape};
use flowrun_connect::registry::Registry;
use flowrun_connect::runtime::HttpRuntime;
use flowrun_engine::plan::Action;
use flowrun_engine::run::{Engine, EngineError, RunRequest};
use flowrun_expr::{Clock, Redactor, Runtime, Secret, UuidSource};
use flowrun_flow::catalog::ModuleKind;
use flowrun_flow::model::TestCase;
use flowrun_state::{SqliteStore, StateStore};
use indexmap::IndexMap;
use serde_json::{Map, Value as Json, json};
use tokio_util::sync::CancellationToken;

use crate::TestFileUnderTest;
use crate::mock::MockModule;

/// `now()` and `run.started_at` in a case that sets no `now` and replays no cassette.
pub const DEFAULT_NOW: &str = "2025-01-01T00:00:00Z";
/// `run.id` in a case that sets no `run_id`.
pub const DEFAULT_RUN_ID: &str = "test-run";

/// What a run did, as the expectations and snapshots see it.
#[derive(Debug, Clone)]
pub(crate) struct Observed {
    pub status: String,
    pub output: Option<Json>,
    pub error: Option<Json>,
    /// Every step that ran or was skipped, with its status.
    pub steps: IndexMap<String, String>,
    /// The parameters of each mocked step's calls, in item order.
    pub calls: IndexMap<String, Vec<Json>>,
    /// `{step, item_index, item_key, error}` of each incomplete execution, in step and item order.
    pub incomplete: Vec<Json>,
}

/// Why a case could not run at all (not a mismatch: the case itself cannot be carried out).
pub(crate) type CaseError = String;

/// Runs `case` of `file`, its state store in `scratch` (a folder of its own).
pub(crate) async fn run(
    registry: &Arc<Registry>,
    file: &TestFileUnderTest,
    case: &TestCase,
    scratch: &Path,
    time_limit: Duration,
) -> Result<Observed, CaseError> {
    let test_dir = file.path.parent().unwrap_or(Path::new(""));
    let cassette = case
        .replay
        .as_ref()
        .map(|replay| Cassette::load(&test_dir.join(replay)))
        .transpose()?;

    let secrets = fake_secrets(file, case);
    let redactor = Arc::new(Redactor::new(secrets.values()));
    let mocks = mocks(file, case, &redactor)?;
    cannot_call(registry, file, &mocks)?;

    let url = format!("sqlite://{}", scratch.join("state.db").display());
    let store = SqliteStore::open(&url)
        .await
        .map_err(|error| format!("the case's state store cannot be created: {error}"))?;
    let shared_store: Arc<dyn StateStore> = Arc::new(store.clone());

    let tape = match &cassette {
        Some(cassette) => Tape::Replay(Arc::new(Replayer::new(cassette.exchanges.clone(), redact(&redactor)))),
        None => Tape::Offline,
    };
    let mut engine = Engine::new(registry.clone(), Some(shared_store.clone()));
    engine.http = Arc::new(HttpRuntime::new(flowrun_engine::tokens::token_store(Some(&shared_store))).with_tape(tape));
    engine.options.lease_owner = "flowrun-test".to_owned();
    // A case's files (a `sql` connection's SQLite database) land in its scratch folder.
    engine.options.files_dir = Some(scratch.into());
    engine.options.step_modules = mocks
        .iter()
        .map(|(id, mock)| (id.clone(), mock.clone() as Arc<dyn Module>))
        .collect();

    let request = request(file, case, cassette.as_ref(), secrets)?;
    let run_id = request.run_id.clone().unwrap_or_default();
    let cancel = request.cancel.clone();
    let run = engine.run(file.flow.plan.clone(), request);
    let outcome = tokio::select! {
        outcome = run => outcome,
        () = tokio::time::sleep(time_limit) => {
            cancel.cancel();
            store.close().await;
            return Err(format!("the case did not end within {} s (--timeout)", time_limit.as_secs()));
        }
    };
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) => {
            store.close().await;
            return Err(explain(error));
        }
    };
    let incomplete = shared_store
        .list_incomplete(&run_id, None)
        .await
        .map_err(|error| format!("reading the incomplete executions: {error}"))?
        .into_iter()
        .map(|incomplete| {
            json!({
                "step": incomplete.step_id,
                "item_index": incomplete.item_index,
                "item_key": incomplete.item_key,
                "error": incomplete.error,
            })
        })
        .collect();
    store.close().await;

    Ok(Observed {
        status: outcome.status.to_string(),
        output: outcome.output,
        error: outcome.error,
        steps: outcome
            .steps
            .iter()
            .map(|(id, summary)| (id.clone(), summary.status.to_string()))
            .collect(),
        calls: mocks.iter().map(|(id, mock)| (id.clone(), mock.calls())).collect(),
        incomplete,
    })
}

/// The case's secrets: the fake values it gives, and `fake-<NAME>` for every other secret the
/// flow reads. Real secrets (the environment, secrets files) are never read by a test.
fn fake_secrets(file: &TestFileUnderTest, case: &TestCase) -> IndexMap<String, Secret> {
    let mut secrets: IndexMap<String, Secret> = case
        .secrets
        .iter()
        .map(|(name, value)| (name.clone(), Secret::new(value.as_str())))
        .collect();
    for name in &file.flow.names.secrets {
        if !secrets.contains_key(name) {
            secrets.insert(name.clone(), Secret::new(format!("fake-{name}")));
        }
    }
    secrets
}

/// A stand-in module for each mocked step, of the kind its real module is.
fn mocks(
    file: &TestFileUnderTest,
    case: &TestCase,
    redactor: &Arc<Redactor>,
) -> Result<IndexMap<String, Arc<MockModule>>, CaseError> {
    let plan = &file.flow.plan;
    case.mock
        .iter()
        .map(|(step_id, mock)| {
            let step = plan
                .steps
                .iter()
                .find(|step| step.id == *step_id)
                .ok_or_else(|| format!("`mock: {step_id}`: the flow has no step `{step_id}`"))?;
            let Action::Module { kind, .. } = &step.action else {
                return Err(format!(
                    "`mock: {step_id}`: step `{step_id}` is a transform, which runs as written; mock the steps it reads"
                ));
            };
            let kind = kind.unwrap_or(ModuleKind::Action);
            let module = MockModule::new(step_id, kind, mock.clone(), redactor.clone());
            Ok((step_id.clone(), Arc::new(module)))
        })
        .collect()
}

/// The run's request: inputs (the case's, else the cassette's, with the flow's defaults),
/// trigger, env, secrets, and the fixed clock, ids and run id.
fn request(
    file: &TestFileUnderTest,
    case: &TestCase,
    cassette: Option<&Cassette>,
    secrets: IndexMap<String, Secret>,
) -> Result<RunRequest, CaseError> {
    let mut inputs: Map<String, Json> = match (case.inputs.is_empty(), cassette) {
        (true, Some(cassette)) => cassette.inputs.as_object().cloned().unwrap_or_default(),
        _ => case
            .inputs
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect(),
    };
    for (name, spec) in &file.flow.flow.inputs {
        if let (false, Some(default)) = (inputs.contains_key(name), &spec.default) {
            inputs.insert(name.clone(), default.clone());
        }
    }
    let trigger = case
        .trigger
        .clone()
        .or_else(|| cassette.and_then(|cassette| cassette.trigger.clone()));
    let now_text = case
        .now
        .as_deref()
        .or(cassette.map(|cassette| cassette.now.as_str()))
        .unwrap_or(DEFAULT_NOW);
    let now: jiff::Timestamp = now_text
        .parse()
        .map_err(|error| format!("`now: {now_text}` is not an RFC 3339 instant: {error}"))?;
    let seed = case
        .uuid_seed
        .or(cassette.map(|cassette| cassette.uuid_seed))
        .unwrap_or(0);
    // Like secrets, an `env.X` the case does not give is a fake value, so a connection config
    // that reads it still renders for the steps the case mocks.
    let env = file
        .flow
        .names
        .env
        .iter()
        .map(|name| {
            let value = case.env.get(name).cloned().unwrap_or_else(|| format!("fake-{name}"));
            (name.clone(), value)
        })
        .collect();
    Ok(RunRequest {
        inputs: Json::Object(inputs),
        trigger,
        env,
        secrets,
        full: false,
        flow_version: file.flow.flow_version.clone(),
        cancel: CancellationToken::new(),
        runtime: Runtime {
            clock: Clock::Fixed(now),
            uuids: UuidSource::sequence(seed),
        },
        run_id: Some(
            case.run_id
                .clone()
                .or_else(|| cassette.map(|cassette| cassette.run_id.clone()))
                .unwrap_or_else(|| DEFAULT_RUN_ID.to_owned()),
        ),
    })
}

/// Every step that is not mocked and whose module this build cannot call, named at once.
fn cannot_call(
    registry: &Registry,
    file: &TestFileUnderTest,
    mocks: &IndexMap<String, Arc<MockModule>>,
) -> Result<(), CaseError> {
    let missing: Vec<String> = file
        .flow
        .plan
        .steps
        .iter()
        .filter(|step| !mocks.contains_key(&step.id))
        .filter_map(|step| match &step.action {
            Action::Module { uses, .. } if registry.module(uses).is_none() => Some(format!("`{}` ({uses})", step.id)),
            _ => None,
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "this build of flowrun cannot call the module of step {}: mock {} in the case (`mock: {{ <step>: {{ output: … }} }}`)",
        missing.join(", "),
        if missing.len() == 1 { "it" } else { "them" }
    ))
}

/// An engine error, with what to do about it in a test.
fn explain(error: EngineError) -> CaseError {
    match error {
        EngineError::MissingModule { step, uses, reason } => format!(
            "step `{step}` uses `{uses}`, which this build of flowrun cannot call ({reason}); \
             mock it in the case: `mock: {{ {step}: {{ output: … }} }}`"
        ),
        other => other.to_string(),
    }
}

fn redact(redactor: &Arc<Redactor>) -> Redact {
    let redactor = redactor.clone();
    Arc::new(move |value: Json| redactor.redact_json(&value))
}
