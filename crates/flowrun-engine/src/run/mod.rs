//! Running a plan: every step whose dependencies ended starts at once, each step's result is
//! committed to the state store before its dependents start, and the run ends with its status,
//! its output and (for success or partial) its new cursors in one transaction.
//!
//! Where to start: [`Engine::run`]. The scheduler is `schedule.rs`, one step (its condition,
//! items and error directive) `step.rs`, one module call with retries `attempt.rs`, writes to
//! the store `record.rs`, the template context `context.rs`.

mod attempt;
mod claimed;
mod context;
mod outcome;
mod preview;
mod record;
mod replay;
mod schedule;
mod step;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use flowrun_connect::module::Module;
use flowrun_connect::registry::Registry;
use flowrun_connect::runtime::HttpRuntime;
use flowrun_expr::{Redactor, Runtime, Scope, Secret, Value};
use flowrun_state::{FinishRun, IncompleteStatus, NewRun, RunStatus, StateError, StateStore, StepStatus};
use indexmap::IndexMap;
use serde_json::Value as Json;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::plan::{Action, Plan};

pub use outcome::{Event, NotSent, Observer, RunOutcome, StepSummary};
pub use preview::{Preview, StepPreview, preview};

use context::{RunNames, StepsView, run_scope};
use schedule::schedule;

/// Module calls in flight at once in one run, without `--max-concurrency`.
pub const DEFAULT_MAX_CONCURRENCY: usize = 16;
/// How long a run's lease lasts without a heartbeat; heartbeats come every third of it.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// What runs flows: the connectors, the state store and the run-wide limits.
#[derive(Clone)]
pub struct Engine {
    pub registry: Arc<Registry>,
    /// Where runs, step results, incomplete executions and cursors go; `None` keeps nothing
    /// (`--dry-run=reads`): no run is stored and no cursor moves.
    pub store: Option<Arc<dyn StateStore>>,
    pub options: EngineOptions,
    /// The HTTP clients, OAuth2 tokens and rate limits, shared by every run of the process.
    pub http: Arc<HttpRuntime>,
}

/// Run-wide settings.
#[derive(Clone)]
pub struct EngineOptions {
    /// Module calls in flight at once across the run.
    pub max_concurrency: usize,
    pub lease: Duration,
    /// Who holds the lease (`host:pid`).
    pub lease_owner: String,
    /// Told about each step as it starts and ends (the progress display).
    pub observer: Option<Observer>,
    /// `--dry-run=reads`: modules that only read are called, modules that write are not (their
    /// calls are listed in the outcome's `not_sent`, with output `null`); stored cursors are
    /// read, but nothing is written to the store: no run, no record, no cursor.
    pub only_reads: bool,
    /// Modules that stand in for the module of a step, by step id: `flowrun test`'s mocks.
    /// A step listed here is called through its stand-in whatever its `uses:` names (even a
    /// module this build cannot call).
    pub step_modules: HashMap<String, Arc<dyn Module>>,
    /// The folder relative file paths of module calls resolve against (see
    /// `CallContext::files_dir`): the project file's folder, else the flow file's. `None`: the
    /// working directory.
    pub files_dir: Option<Arc<std::path::Path>>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            lease: DEFAULT_LEASE,
            lease_owner: default_lease_owner(),
            observer: None,
            only_reads: false,
            step_modules: HashMap::new(),
            files_dir: None,
        }
    }
}

/// `host:pid`, for the lease.
pub fn default_lease_owner() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|host| !host.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}:{}", std::process::id())
}

/// One run's inputs.
pub struct RunRequest {
    /// The typed inputs (defaults applied), an object.
    pub inputs: Json,
    /// The event, for flows with a trigger.
    pub trigger: Option<Json>,
    /// The environment variables the flow reads (`env.X`).
    pub env: IndexMap<String, String>,
    /// The secrets the flow reads, resolved.
    pub secrets: IndexMap<String, Secret>,
    /// Ignore stored cursors (`--full`): every incremental step starts from `initial`.
    pub full: bool,
    /// A hash of the flow file, stored with the run.
    pub flow_version: String,
    /// Cancelled by Ctrl-C: the run stops the way a failure stops it, and ends `cancelled`.
    pub cancel: CancellationToken,
    /// The clock and id source of `now()` and `uuid()`; `run.started_at` is read from its clock.
    pub runtime: Runtime,
    /// The run's id (`run.id`); `None` lets the store choose one. `flowrun test` fixes it.
    pub run_id: Option<String>,
}

impl RunRequest {
    /// A request with these inputs and nothing else: no trigger, env or secrets, stored
    /// cursors used, the real clock and ids, a fresh cancellation token, the store's run id.
    pub fn new(inputs: Json, flow_version: impl Into<String>) -> RunRequest {
        RunRequest {
            inputs,
            trigger: None,
            env: IndexMap::new(),
            secrets: IndexMap::new(),
            full: false,
            flow_version: flow_version.into(),
            cancel: CancellationToken::new(),
            runtime: Runtime::default(),
            run_id: None,
        }
    }
}

/// Why a run could not start or end in the store.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A step uses a module no registered connector provides.
    #[error("step `{step}` uses `{uses}`, which this build of flowrun cannot run: {reason}")]
    MissingModule { step: String, uses: String, reason: String },
    /// `runs retry` of a run the store does not have.
    #[error("there is no run {run_id} in the state store")]
    NoSuchRun { run_id: String },
    /// `runs retry` of a run of another flow than the plan's.
    #[error("run {run_id} is a run of flow `{actual}`, not `{expected}`")]
    OtherFlow {
        run_id: String,
        actual: String,
        expected: String,
    },
    /// `runs retry` of a run with nothing left to do.
    #[error("run {run_id} ended `{status}` with nothing left to replay{detail}")]
    NothingToReplay {
        run_id: String,
        status: RunStatus,
        detail: String,
    },
    #[error(transparent)]
    Store(#[from] StateError),
}

/// What every task of a run shares.
pub(crate) struct Shared {
    pub plan: Arc<Plan>,
    pub run_id: String,
    pub steps: Arc<StepsView>,
    pub scope: Scope,
    pub modules: HashMap<usize, Arc<dyn Module>>,
    pub connections: HashMap<String, Result<Arc<Json>, String>>,
    pub cursors: HashMap<String, Json>,
    pub store: Option<Arc<dyn StateStore>>,
    pub limiter: Semaphore,
    pub http: Arc<HttpRuntime>,
    pub redactor: Redactor,
    pub observer: Option<Observer>,
    /// Set when the run replays a stored run (`runs retry`).
    pub replay: Option<Arc<replay::ReplayState>>,
    /// Set under `--dry-run=reads`: the writes not sent.
    pub not_sent: Option<std::sync::Mutex<Vec<NotSent>>>,
    pub files_dir: Option<Arc<std::path::Path>>,
}

impl Shared {
    /// Tells the observer, if there is one. The event is made only then: an item's event
    /// would otherwise copy the step's id for nobody.
    pub(crate) fn observe(&self, event: impl FnOnce() -> Event) {
        if let Some(observer) = &self.observer {
            observer(event());
        }
    }
}

impl Engine {
    pub fn new(registry: Arc<Registry>, store: Option<Arc<dyn StateStore>>) -> Engine {
        let http = Arc::new(HttpRuntime::new(crate::tokens::token_store(store.as_ref())));
        Engine {
            registry,
            store,
            options: EngineOptions::default(),
            http,
        }
    }

    /// Runs the plan once.
    ///
    /// Errors are only what stops a run from being recorded (a missing module, the flow lock
    /// held by another run, a store that fails): a run whose steps fail returns `Ok` with
    /// status `failed`.
    pub async fn run(&self, plan: Arc<Plan>, request: RunRequest) -> Result<RunOutcome, EngineError> {
        let modules = self.modules(&plan)?;
        let run_id = match self.writable_store() {
            Some(store) => {
                store
                    .create_run(NewRun {
                        id: request.run_id.clone(),
                        flow_id: plan.flow_id.clone(),
                        flow_version: request.flow_version.clone(),
                        trigger: request.trigger.clone(),
                        inputs: Some(request.inputs.clone()),
                        lease_owner: self.options.lease_owner.clone(),
                        lease: self.options.lease,
                        lock_flow: plan.has_incremental(),
                    })
                    .await?
                    .id
            }
            None => request
                .run_id
                .clone()
                .unwrap_or_else(|| format!("local-{}", uuid::Uuid::new_v4())),
        };
        self.drive(plan, request, run_id, modules, None).await
    }

    /// Executes a created (or resumed) run to its end: every main step not already done
    /// (`replay` says which are), then `on_failure` if a step failed, the output, and the
    /// end in the store.
    async fn drive(
        &self,
        plan: Arc<Plan>,
        request: RunRequest,
        run_id: String,
        modules: HashMap<usize, Arc<dyn Module>>,
        replay: Option<replay::Loaded>,
    ) -> Result<RunOutcome, EngineError> {
        let started_at = request.runtime.clock.now();
        // Error-level spans: the context of every log line, whatever level is shown.
        let span = tracing::error_span!("run", run_id = %run_id, flow = %plan.flow_id);
        async move {
            tracing::info!(replay = replay.is_some(), "run started");

            let cancel = request.cancel.child_token();
            let heartbeat = self.start_heartbeat(&run_id, &cancel);
            // Only `incremental` steps read a cursor; a run without one does not ask the
            // store (on SQLite, that spares opening a read connection).
            let cursors = match (&self.store, request.full) {
                (Some(store), false) if plan.has_incremental() => store
                    .cursors(&plan.flow_id)
                    .await?
                    .into_iter()
                    .map(|cursor| (cursor.step_id, cursor.value))
                    .collect(),
                _ => HashMap::new(),
            };

            let steps = Arc::new(StepsView::new(plan.steps.iter().map(|s| s.id.clone()).collect()));
            let scope = run_scope(
                RunNames {
                    run_id: &run_id,
                    started_at,
                    flow_id: &plan.flow_id,
                    inputs: &request.inputs,
                    trigger: request.trigger.as_ref(),
                    env: &request.env,
                    secrets: &request.secrets,
                },
                &steps,
                request.runtime,
            );
            let connections = render_connections(&plan, &scope);
            let shared = Arc::new(Shared {
                plan: plan.clone(),
                run_id: run_id.clone(),
                steps,
                scope,
                modules,
                connections,
                cursors,
                store: self.writable_store().cloned(),
                limiter: Semaphore::new(self.options.max_concurrency.max(1)),
                http: self.http.clone(),
                redactor: Redactor::new(request.secrets.values()),
                observer: self.options.observer.clone(),
                replay: replay.as_ref().map(|loaded| loaded.state.clone()),
                not_sent: self.options.only_reads.then(Default::default),
                files_dir: self.options.files_dir.clone(),
            });

            let done = replay.map(|loaded| loaded.done).unwrap_or_default();
            for (index, result) in done.iter().enumerate() {
                if let Some(result) = result {
                    shared.steps.set(index, result.status, result.output.clone(), None);
                }
            }
            let main: Vec<usize> = (0..plan.n_main)
                .filter(|index| done.get(*index).is_none_or(Option::is_none))
                .collect();
            let mut results = schedule(&shared, &main, &cancel, None).await;
            for (slot, result) in results.iter_mut().zip(done) {
                if slot.is_none() {
                    *slot = result;
                }
            }
            let still_open = match (&self.store, &shared.replay) {
                (Some(store), Some(_)) => store
                    .list_incomplete(&run_id, Some(IncompleteStatus::Open))
                    .await?
                    .len(),
                _ => results.iter().flatten().map(|result| result.incomplete).sum(),
            };
            let failure = results
                .iter()
                .flatten()
                .find(|result| result.status == StepStatus::Failed)
                .cloned();
            let status = if failure.is_some() {
                RunStatus::Failed
            } else if request.cancel.is_cancelled() {
                RunStatus::Cancelled
            } else if still_open > 0 {
                RunStatus::Partial
            } else {
                RunStatus::Success
            };

            let mut error = failure.as_ref().and_then(|result| result.error.clone());
            if status == RunStatus::Failed && plan.n_main < plan.steps.len() {
                let on_failure: Vec<usize> = (plan.n_main..plan.steps.len()).collect();
                let failure_cancel = request.cancel.child_token();
                let handled = schedule(&shared, &on_failure, &failure_cancel, error.clone()).await;
                for (slot, result) in results.iter_mut().zip(handled).skip(plan.n_main) {
                    *slot = result;
                }
            }
            if status == RunStatus::Cancelled {
                error = Some(serde_json::json!({"message": "the run was cancelled (interrupted)"}));
            }

            let (status, output, error) = self.output(&shared, status, error);
            let mut outcome = outcome::build(&shared, &results, status, output, error);
            outcome.incomplete = still_open;
            if let Some(store) = self.writable_store() {
                let finished = store
                    .finish_run(FinishRun {
                        run_id: run_id.clone(),
                        lease_owner: self.options.lease_owner.clone(),
                        status,
                        output: outcome.output.clone(),
                        error: outcome.error.clone(),
                        cursors: outcome.cursors.clone(),
                    })
                    .await;
                if let Err(problem) = finished {
                    heartbeat.abort();
                    return Err(problem.into());
                }
            } else {
                outcome.cursors.clear();
            }
            heartbeat.abort();
            tracing::info!(status = %status, "run ended");
            // The steps' outputs can be large (a `for_each` of 10,000 responses): they are
            // freed on a blocking thread, so the caller has the outcome without waiting for
            // the frees.
            let leftovers = (shared, results);
            tokio::task::spawn_blocking(move || drop(leftovers));
            Ok(outcome)
        }
        .instrument(span)
        .await
    }

    /// The store to write to: none under `--dry-run=reads`.
    fn writable_store(&self) -> Option<&Arc<dyn StateStore>> {
        self.store.as_ref().filter(|_| !self.options.only_reads)
    }

    /// The module of every module step, or why one is missing.
    fn modules(&self, plan: &Plan) -> Result<HashMap<usize, Arc<dyn Module>>, EngineError> {
        let mut modules = HashMap::new();
        for step in &plan.steps {
            if let Action::Module { uses, .. } = &step.action {
                if let Some(stand_in) = self.options.step_modules.get(&step.id) {
                    modules.insert(step.index, stand_in.clone());
                    continue;
                }
                let module = self.registry.module(uses).ok_or_else(|| {
                    let connector = uses.split_once('.').map_or(uses.as_str(), |(c, _)| c);
                    EngineError::MissingModule {
                        step: step.id.clone(),
                        uses: uses.clone(),
                        reason: if self.registry.connector(connector).is_some() {
                            format!("the connector `{connector}` has no module of that name")
                        } else {
                            format!("the connector `{connector}` cannot make calls yet (only its description is built)")
                        },
                    }
                })?;
                modules.insert(step.index, module);
            }
        }
        Ok(modules)
    }

    /// Extends the run's lease every third of its length; a lost lease stops the run.
    fn start_heartbeat(&self, run_id: &str, cancel: &CancellationToken) -> tokio::task::JoinHandle<()> {
        let Some(store) = self.writable_store().cloned() else {
            return tokio::spawn(async {});
        };
        let (run_id, owner, lease, cancel) = (
            run_id.to_owned(),
            self.options.lease_owner.clone(),
            self.options.lease,
            cancel.clone(),
        );
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                if let Err(error) = store.heartbeat(&run_id, &owner, lease).await {
                    tracing::error!(%error, "the run's lease could not be extended; stopping the run");
                    cancel.cancel();
                    return;
                }
            }
        })
    }

    /// The flow's `output` (success and partial runs), or `{<step>: <status>}` without one.
    /// An output that cannot be rendered fails the run.
    fn output(
        &self,
        shared: &Shared,
        status: RunStatus,
        error: Option<Json>,
    ) -> (RunStatus, Option<Json>, Option<Json>) {
        if !matches!(status, RunStatus::Success | RunStatus::Partial) {
            return (status, None, error);
        }
        let Some(template) = &shared.plan.output else {
            let statuses = shared
                .plan
                .main_steps()
                .iter()
                .map(|step| {
                    let status = shared
                        .steps
                        .status(step.index)
                        .map_or(Json::Null, |status| Json::from(status.as_str()));
                    (step.id.clone(), status)
                })
                .collect();
            return (status, Some(Json::Object(statuses)), error);
        };
        match template.render(&shared.scope) {
            Ok(rendered) => (status, Some(shared.redactor.redact_json(&rendered.redacted())), error),
            Err(problem) => (
                RunStatus::Failed,
                None,
                Some(serde_json::json!({
                    "step": "output",
                    "message": format!("the flow's output: {}", shared.redactor.redact(&problem.message)),
                })),
            ),
        }
    }
}

/// Renders each connection's config once per run. A config that does not render fails only
/// the steps that use it.
fn render_connections(plan: &Plan, scope: &Scope) -> HashMap<String, Result<Arc<Json>, String>> {
    plan.connections
        .iter()
        .map(|(name, connection)| {
            let rendered = connection
                .config
                .render(scope)
                .map(|rendered| Arc::new(rendered.value))
                .map_err(|error| format!("connection `{name}`: {}", error.message));
            (name.clone(), rendered)
        })
        .collect()
}

/// The names a template outside a run reads (a trigger's connection, a webhook's `secret` and
/// `dedupe`): `env`, `secrets`, `flow.id`, and `trigger` when there is one. `run` and `steps`
/// are not there: no run exists yet.
pub fn trigger_scope(
    flow_id: &str,
    env: &IndexMap<String, String>,
    secrets: &IndexMap<String, Secret>,
    trigger: Option<&Json>,
) -> Scope {
    let mut scope = Scope::new(Runtime::default());
    scope
        .set("trigger", trigger.map_or(Value::from(()), flowrun_expr::from_json))
        .set(
            "env",
            Value::from_pairs(
                env.iter()
                    .map(|(name, value)| (name.as_str(), Value::from(value.as_str()))),
            ),
        )
        .set("flow", Value::from_pairs([("id", Value::from(flow_id))]))
        .set_secrets(secrets.clone());
    scope
}

/// The template value of a step's output (JSON from modules).
pub(crate) fn json_value(json: &Json) -> Value {
    flowrun_expr::from_json(json)
}
