//! One step: its cursor and condition, its items, the error directive applied to what failed
//! after retries, its new cursor, and its results stored before it counts as ended.

use std::sync::Arc;
use std::time::{Duration, Instant};

use flowrun_connect::module::{CallContext, Connection, ErrorKind, ModuleError};
use flowrun_expr::{Scope, Value};
use flowrun_state::{Payload, StepStatus};
use futures_util::stream::{FuturesUnordered, StreamExt};
use indexmap::IndexMap;
use serde_json::{Value as Json, json};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::attempt::{CallSettings, call_with_retries, output_value};
use super::outcome::{Event, NotSent};
use super::record::{self, Outcome};
use super::{Shared, json_value};
use crate::plan::{Action, DependencyKind, ItemKey, PlannedCondition, PlannedOnError, PlannedStep};

/// Transform inputs up to this many items run on the step's own task; larger ones on the
/// blocking thread pool.
const INLINE_TRANSFORM_ITEMS: usize = 1_000;

/// Items of one `for_each` worker whose records may be committing while it calls the next.
const MAX_COMMITTING: usize = 64;

/// How a step ended, as the scheduler and the outcome see it.
#[derive(Debug, Clone)]
pub(crate) struct StepResult {
    pub status: StepStatus,
    /// False when dependents that read the output must be skipped (skipped, ignored, failed,
    /// cancelled, or broken as a whole).
    pub has_output: bool,
    pub output: Value,
    /// `{step, module, item_index?, item_key?, message, kind, status?, attempts}`, redacted.
    pub error: Option<Json>,
    pub attempts: u32,
    /// Incomplete executions stored.
    pub incomplete: usize,
    /// The cursor to commit with the run's end.
    pub new_cursor: Option<Json>,
    /// For `for_each` steps: items by status.
    pub items: Option<IndexMap<String, usize>>,
    pub duration: Duration,
    /// The rendered `with:` of a step without `for_each` (secrets as `***`), for its record.
    pub parameters_for_record: Option<Payload>,
}

impl StepResult {
    /// A step that did not run: skipped or cancelled.
    pub(crate) fn not_run(status: StepStatus, reason: Option<Json>) -> StepResult {
        StepResult {
            status,
            has_output: false,
            output: Value::from(()),
            error: reason,
            attempts: 0,
            incomplete: 0,
            new_cursor: None,
            items: None,
            duration: Duration::ZERO,
            parameters_for_record: None,
        }
    }
}

/// What went wrong in a step or an item, after retries.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub kind: ErrorKind,
    pub message: String,
    pub status: Option<u16>,
    pub details: Option<Json>,
    pub attempts: u32,
}

impl Failure {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
            status: None,
            details: None,
            attempts: 0,
        }
    }

    fn from_module(error: ModuleError, attempts: u32) -> Failure {
        Failure {
            kind: error.kind,
            message: error.message,
            status: error.status,
            details: error.details,
            attempts,
        }
    }

    /// The error as `steps.<id>.error`, run records and `--format json` show it.
    fn to_json(&self, step: &PlannedStep, item: Option<&(usize, Option<String>)>) -> Json {
        let mut error = json!({
            "step": step.id,
            "module": step.action.describe(),
            "message": self.message,
            "kind": self.kind.as_str(),
            "attempts": self.attempts,
        });
        if let Some((index, key)) = item {
            error["item_index"] = json!(index);
            if let Some(key) = key {
                error["item_key"] = json!(key);
            }
        }
        if let Some(status) = self.status {
            error["status"] = json!(status);
        }
        if let Some(details) = &self.details {
            error["details"] = details.clone();
        }
        error
    }
}

/// One call (or pipeline run) of a step: for the step, or for one item.
struct Attempt {
    result: Result<Value, Failure>,
    attempts: u32,
    /// The rendered `with:` as its record keeps it (secrets as `***`).
    parameters: Option<Payload>,
}

/// Runs the step at `index` to its end and stores its result.
pub(crate) async fn execute_step(
    shared: Arc<Shared>,
    index: usize,
    cancel: CancellationToken,
    failure: Option<Json>,
) -> StepResult {
    let span = tracing::error_span!("step", step = %shared.plan.steps[index].id);
    run_step(shared, index, cancel, failure).instrument(span).await
}

async fn run_step(shared: Arc<Shared>, index: usize, cancel: CancellationToken, failure: Option<Json>) -> StepResult {
    let step = &shared.plan.steps[index];
    let clock = Instant::now();
    let started_at = jiff::Timestamp::now();

    let mut scope = shared.scope.clone();
    if let Some(error) = &failure {
        scope = scope.child([("error", json_value(error))]);
    }
    if let Some(incompletes) = shared.replay.as_ref().and_then(|r| r.incompletes.get(&index)) {
        let mut result = replay_step(&shared, step, &scope, incompletes, &cancel).await;
        result.duration = clock.elapsed();
        return end_step(&shared, step, result, started_at).await;
    }
    let prepared = prepare(&shared, step, scope);
    let mut result = match prepared {
        Err(failure) => failed_before_calling(&shared, step, &shared.scope, failure).await,
        Ok(None) => {
            tracing::info!("skipped: its `if` is false");
            StepResult::not_run(StepStatus::Skipped, None)
        }
        Ok(Some(scope)) => {
            let mut result = match &step.for_each {
                None => single(&shared, step, &scope, &cancel).await,
                Some(_) => for_each(&shared, step, &scope, &cancel).await,
            };
            new_cursor(step, &scope, &mut result);
            result
        }
    };
    result.duration = clock.elapsed();
    end_step(&shared, step, result, started_at).await
}

/// Stores a step's result (durable before dependents start), logs and reports its end.
async fn end_step(
    shared: &Shared,
    step: &PlannedStep,
    mut result: StepResult,
    started_at: jiff::Timestamp,
) -> StepResult {
    // Without a store nothing is recorded. A `for_each` step's items are recorded one by one.
    let output =
        (step.for_each.is_none() && result.has_output && shared.store.is_some()).then(|| result.output.clone());
    let stored = record::record(
        shared,
        Outcome {
            step_id: step.id.clone(),
            item_index: None,
            item_key: None,
            status: result.status,
            attempts: result.attempts,
            parameters: result.parameters_for_record.take(),
            output,
            error: result.error.clone(),
            started_at: Some(started_at),
            duration: Some(result.duration),
        },
    )
    .await;
    if let Err(problem) = stored {
        fail_after(&mut result, step, problem);
    }
    log_end(&result);
    shared.observe(|| Event::StepEnded {
        step: step.id.clone(),
        status: result.status,
    });
    result
}

/// A step that failed before any call (its cursor, `if` or `for_each` could not be
/// evaluated), after its error directive.
async fn failed_before_calling(shared: &Shared, step: &PlannedStep, scope: &Scope, failure: Failure) -> StepResult {
    let (status, output, has_output, incomplete, error) =
        directive(shared, step, scope, failure, None, json!({})).await;
    StepResult {
        status,
        has_output,
        output,
        error: Some(error),
        attempts: 0,
        incomplete,
        new_cursor: None,
        items: None,
        duration: Duration::ZERO,
        parameters_for_record: None,
    }
}

/// The step's scope with `cursor`, or `None` when its `if` is false.
fn prepare(shared: &Shared, step: &PlannedStep, mut scope: Scope) -> Result<Option<Scope>, Failure> {
    if let Some(incremental) = &step.incremental {
        let cursor = match shared.cursors.get(&step.id) {
            Some(stored) => json_value(stored),
            None => incremental
                .initial
                .eval(&scope)
                .map_err(|e| Failure::new(ErrorKind::Invalid, format!("incremental.initial: {}", e.message)))?,
        };
        scope = scope.child([("cursor", cursor)]);
    }
    match &step.condition {
        None | Some(PlannedCondition::Literal(true)) => Ok(Some(scope)),
        Some(PlannedCondition::Literal(false)) => Ok(None),
        Some(PlannedCondition::Expression(condition)) => match condition.is_true(&scope) {
            Ok(true) => Ok(Some(scope)),
            Ok(false) => Ok(None),
            Err(e) => Err(Failure::new(ErrorKind::Invalid, format!("if: {}", e.message))),
        },
    }
}

async fn single(shared: &Arc<Shared>, step: &PlannedStep, scope: &Scope, cancel: &CancellationToken) -> StepResult {
    shared.observe(|| Event::StepStarted {
        step: step.id.clone(),
        items: None,
    });
    let attempt = attempt(shared, step, scope, None, cancel).await;
    let (status, output, has_output, incomplete, error) = match attempt.result {
        Ok(output) => (StepStatus::Success, output, true, 0, None),
        Err(failure) => {
            let failure = Failure {
                attempts: attempt.attempts,
                ..failure
            };
            let inputs = incomplete_inputs(shared, step, scope, None);
            let (status, output, has_output, incomplete, error) =
                directive(shared, step, scope, failure, None, inputs).await;
            (status, output, has_output, incomplete, Some(error))
        }
    };
    StepResult {
        status,
        has_output,
        output,
        error,
        attempts: attempt.attempts,
        incomplete,
        new_cursor: None,
        items: None,
        duration: Duration::ZERO,
        parameters_for_record: attempt.parameters,
    }
}

/// One item's end, as the step collects it.
struct ItemEnd {
    index: usize,
    status: StepStatus,
    output: Value,
    error: Option<Json>,
    attempts: u32,
    incomplete: usize,
}

async fn for_each(shared: &Arc<Shared>, step: &PlannedStep, scope: &Scope, cancel: &CancellationToken) -> StepResult {
    let list = step
        .for_each
        .as_ref()
        .map(|list| list.eval(scope))
        .transpose()
        .map_err(|e| format!("for_each: {}", e.message))
        .and_then(|list| items_of(list.unwrap_or_default()));
    let items = match list {
        Ok(items) => items,
        Err(message) => {
            return failed_before_calling(shared, step, scope, Failure::new(ErrorKind::Invalid, message)).await;
        }
    };
    shared.observe(|| Event::StepStarted {
        step: step.id.clone(),
        items: Some(items.len()),
    });

    let item_cancel = cancel.child_token();
    let count = items.len();
    // In a replay, items already done are reused, and new items are recorded after the
    // step's earlier ones.
    let offset = shared
        .replay
        .as_deref()
        .and_then(|r| r.item_offsets.get(&step.index))
        .copied()
        .unwrap_or(0);
    // `concurrency` workers take the items from one queue: an item costs no task of its own
    // (a 10,000-item step of HTTP calls spent more CPU waking per-item tasks than calling),
    // and the items' CPU work (rendering `with:`, reading responses) still spreads over the
    // runtime's threads. The first failure stops the workers taking more.
    let queue = Arc::new(std::sync::Mutex::new(items.into_iter().enumerate()));
    let first_failure: Arc<std::sync::Mutex<Option<Json>>> = Arc::default();
    let mut workers = JoinSet::new();
    for _ in 0..step.concurrency.min(count) {
        let (shared, scope, queue) = (shared.clone(), scope.clone(), queue.clone());
        let (first_failure, token, step_index) = (first_failure.clone(), item_cancel.clone(), step.index);
        // The worker's items wait on a token of its own, cancelled with the step's: every
        // wait on a token takes that token's lock, and 32 workers each waiting several times
        // per item on one shared token spent more time queueing for its lock than waiting.
        let worker_cancel = token.child_token();
        workers.spawn(async move {
            let mut ends = Vec::new();
            // Items whose call ended and whose record is being committed: the worker takes
            // its next item meanwhile, so `concurrency` bounds calls in flight, not commits,
            // and a slow commit does not idle the worker. An item still counts as done only
            // once committed: its `ItemEnd` comes from the commit.
            let mut committing = FuturesUnordered::new();
            let stop_on_failure = |end: &ItemEnd| {
                if end.status == StepStatus::Failed
                    && let Ok(mut first) = first_failure.lock()
                    && first.is_none()
                {
                    *first = end.error.clone();
                    token.cancel();
                }
            };
            while !worker_cancel.is_cancelled() {
                let Some((position, item)) = queue.lock().ok().and_then(|mut queue| queue.next()) else {
                    break;
                };
                if let Some((status, output)) = shared
                    .replay
                    .as_deref()
                    .and_then(|r| r.finished_items.get(&(step_index, position)))
                {
                    ends.push(ItemEnd {
                        index: position,
                        status: *status,
                        output: output.clone(),
                        error: None,
                        attempts: 0,
                        incomplete: 0,
                    });
                    continue;
                }
                let record_index = offset + position;
                let span = tracing::error_span!("item", index = record_index);
                let call = call_item(
                    &shared,
                    step_index,
                    scope.with_item(item, position),
                    (position, record_index),
                    &worker_cancel,
                )
                .instrument(span.clone());
                tokio::pin!(call);
                let called = loop {
                    tokio::select! {
                        biased;
                        called = &mut call => break called,
                        Some(end) = committing.next(), if !committing.is_empty() => {
                            stop_on_failure(&end);
                            ends.push(end);
                        }
                    }
                };
                stop_on_failure(&called.end);
                let commit = commit_item(&shared, step_index, called).instrument(span);
                if shared.store.is_none() {
                    // Nothing is stored, so the commit ends at once: no need to set it aside.
                    let end = commit.await;
                    stop_on_failure(&end);
                    ends.push(end);
                    continue;
                }
                committing.push(commit);
                while committing.len() > MAX_COMMITTING {
                    if let Some(end) = committing.next().await {
                        stop_on_failure(&end);
                        ends.push(end);
                    }
                }
            }
            while let Some(end) = committing.next().await {
                stop_on_failure(&end);
                ends.push(end);
            }
            ends
        });
    }
    let mut ends: Vec<Option<ItemEnd>> = (0..count).map(|_| None).collect();
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(finished) => {
                for end in finished {
                    if let Some(slot) = ends.get_mut(end.index) {
                        *slot = Some(end);
                    }
                }
            }
            Err(panic) => {
                if let Ok(mut first) = first_failure.lock()
                    && first.is_none()
                {
                    *first = Some(
                        json!({"step": step.id, "message": format!("internal error: an item ended abnormally ({panic})")}),
                    );
                }
                item_cancel.cancel();
            }
        }
    }
    let failed = first_failure.lock().ok().and_then(|mut first| first.take());

    let mut counts: IndexMap<String, usize> = IndexMap::new();
    let (mut attempts, mut incomplete, mut any_cancelled, mut any_broken) = (0, 0, false, false);
    let mut outputs = Vec::with_capacity(ends.len());
    for end in ends.into_iter().flatten() {
        *counts.entry(end.status.as_str().to_owned()).or_default() += 1;
        attempts += end.attempts;
        incomplete += end.incomplete;
        match end.status {
            StepStatus::Broken => any_broken = true,
            StepStatus::Cancelled => any_cancelled = true,
            _ => outputs.push(end.output),
        }
    }
    let (status, has_output, error) = if failed.is_some() {
        (StepStatus::Failed, false, failed)
    } else if any_cancelled {
        (StepStatus::Cancelled, false, None)
    } else if any_broken {
        (StepStatus::Broken, true, None)
    } else {
        (StepStatus::Success, true, None)
    };
    StepResult {
        status,
        has_output,
        output: if has_output {
            Value::from(outputs)
        } else {
            Value::from(())
        },
        error,
        attempts,
        incomplete,
        new_cursor: None,
        items: Some(counts),
        duration: Duration::ZERO,
        parameters_for_record: None,
    }
}

/// The elements of a `for_each` value: a list (null is an empty list).
fn items_of(list: Value) -> Result<Vec<Value>, String> {
    use minijinja::value::ValueKind;
    match list.kind() {
        ValueKind::None => Ok(Vec::new()),
        ValueKind::Seq | ValueKind::Iterable => list
            .try_iter()
            .map(Iterator::collect)
            .map_err(|e| format!("for_each: cannot read the list: {e}")),
        kind => Err(format!(
            "for_each needs a list, but the value is {} ({kind:?}); write a template that gives a list, e.g. `{{{{ steps.a.output.records }}}}`",
            describe(&list)
        )),
    }
}

fn describe(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

/// Runs one item; `index` is (its position in the list, the index its record is kept under).
/// An item whose call (and error directive) ended, with the record to commit.
struct CalledItem {
    end: ItemEnd,
    outcome: Outcome,
}

/// The item's call with retries, and the error directive when it failed.
async fn call_item(
    shared: &Arc<Shared>,
    step_index: usize,
    scope: Scope,
    (position, index): (usize, usize),
    cancel: &CancellationToken,
) -> CalledItem {
    let step = &shared.plan.steps[step_index];
    let clock = Instant::now();
    let started_at = jiff::Timestamp::now();
    let key = item_key(step, &scope);
    let item = (index, key.clone());
    let attempt = attempt(shared, step, &scope, Some(index), cancel).await;
    let (status, output, incomplete, error) = match attempt.result {
        Ok(output) => (StepStatus::Success, output, 0, None),
        Err(failure) => {
            let failure = Failure {
                attempts: attempt.attempts,
                ..failure
            };
            let inputs = incomplete_inputs(shared, step, &scope, Some(index));
            let (status, output, _, incomplete, error) =
                directive(shared, step, &scope, failure, Some(item.clone()), inputs).await;
            (status, output, incomplete, Some(error))
        }
    };
    let stored_output = match status {
        StepStatus::Success | StepStatus::Resumed if shared.store.is_some() => Some(output.clone()),
        _ => None,
    };
    CalledItem {
        outcome: Outcome {
            step_id: step.id.clone(),
            item_index: Some(index),
            item_key: key,
            status,
            attempts: attempt.attempts,
            parameters: attempt.parameters,
            output: stored_output,
            error: error.clone(),
            started_at: Some(started_at),
            duration: Some(clock.elapsed()),
        },
        end: ItemEnd {
            index: position,
            status,
            output,
            error,
            attempts: attempt.attempts,
            incomplete,
        },
    }
}

/// Commits the item's record; the item ends only then (failed, when it cannot be stored).
async fn commit_item(shared: &Arc<Shared>, step_index: usize, called: CalledItem) -> ItemEnd {
    let step = &shared.plan.steps[step_index];
    let CalledItem { mut end, outcome } = called;
    let index = outcome.item_index.unwrap_or(end.index);
    if let Err(problem) = record::record(shared, outcome).await {
        end.status = StepStatus::Failed;
        end.error = Some(json!({"step": step.id, "item_index": index, "message": problem}));
    }
    shared.observe(|| Event::ItemEnded {
        step: step.id.clone(),
        index,
        status: end.status,
    });
    end
}

/// The item's `item_key`, or `None` (with a warning) when it cannot be evaluated.
fn item_key(step: &PlannedStep, scope: &Scope) -> Option<String> {
    let value = match step.item_key.as_ref()? {
        ItemKey::Expression(expression) => expression.eval_defined(scope),
        ItemKey::Template(template) => template.eval(scope),
    };
    match value {
        Ok(value) => Some(value.as_str().map_or_else(|| value.to_string(), str::to_owned)),
        Err(error) => {
            tracing::warn!(error = %error.message, "item_key could not be evaluated");
            None
        }
    }
}

/// Calls the step's module (with retries) or runs its pipeline.
async fn attempt(
    shared: &Arc<Shared>,
    step: &PlannedStep,
    scope: &Scope,
    item_index: Option<usize>,
    cancel: &CancellationToken,
) -> Attempt {
    match &step.action {
        Action::Module {
            params,
            connection,
            kind,
            uses,
        } => {
            let mut rendered = match params.render(scope) {
                Ok(rendered) => rendered,
                Err(e) => {
                    return Attempt {
                        result: Err(Failure::new(ErrorKind::Invalid, format!("with: {}", e.message))),
                        attempts: 0,
                        parameters: None,
                    };
                }
            };
            // For the step's record only: not written when nothing is recorded.
            let parameters = shared
                .store
                .is_some()
                .then(|| record::parameters(shared, &mut rendered));
            if let Some(not_sent) = &shared.not_sent
                && !kind.is_some_and(|kind| kind.is_read_only())
            {
                // `--dry-run=reads`: a write is shown, never sent.
                let redacted = shared.redactor.redact_json(&rendered.redacted());
                if let Ok(mut list) = not_sent.lock() {
                    list.push(NotSent {
                        step: step.id.clone(),
                        uses: uses.clone(),
                        item_index,
                        with: redacted,
                    });
                }
                return Attempt {
                    result: Ok(Value::from(())),
                    attempts: 0,
                    parameters,
                };
            }
            let connection = match connection.as_ref().map(|name| (name, shared.connections.get(name))) {
                None => None,
                Some((name, Some(Ok(config)))) => Some(Connection {
                    name: name.as_str().into(),
                    config: config.clone(),
                }),
                Some((_, Some(Err(message)))) => {
                    return Attempt {
                        result: Err(Failure::new(ErrorKind::Invalid, message.clone())),
                        attempts: 0,
                        parameters,
                    };
                }
                Some((name, None)) => {
                    return Attempt {
                        result: Err(Failure::new(
                            ErrorKind::Invalid,
                            format!("the connection `{name}` is not defined in the flow or the project file"),
                        )),
                        attempts: 0,
                        parameters,
                    };
                }
            };
            let module = &shared.modules[&step.index];
            let context = CallContext {
                run_id: shared.run_id.clone(),
                step_id: step.id.clone(),
                item_index,
                attempt: 1,
                connection,
                cancel: cancel.clone(),
                retry: step.retry.clone(),
                timeout: step.timeout,
                http: shared.http.clone(),
                files_dir: shared.files_dir.clone(),
            };
            let attempted = call_with_retries(
                module,
                rendered.value,
                context,
                CallSettings {
                    policy: &step.retry,
                    safe_to_repeat: kind.is_some_and(|kind| kind.is_read_only()),
                    timeout: step.timeout,
                    limiter: &shared.limiter,
                },
            )
            .await;
            Attempt {
                result: attempted
                    .result
                    .map(output_value)
                    .map_err(|error| Failure::from_module(error, attempted.attempts)),
                attempts: attempted.attempts,
                parameters,
            }
        }
        Action::Transform(pipeline) => {
            let result = match pipeline.input_value(scope) {
                Err(error) => Err(error.to_string()),
                // A small input is cheaper to transform here than to hand to another thread.
                Ok(input) if input.len().is_some_and(|n| n <= INLINE_TRANSFORM_ITEMS) => {
                    pipeline.run_on(input, scope).map_err(|error| error.to_string())
                }
                Ok(input) => {
                    // Large pipelines are CPU work: off the async workers, so other steps
                    // keep running.
                    let (shared, scope, index) = (shared.clone(), scope.clone(), step.index);
                    tokio::task::spawn_blocking(move || {
                        let Action::Transform(pipeline) = &shared.plan.steps[index].action else {
                            unreachable!("a transform step's action is a pipeline");
                        };
                        pipeline.run_on(input, &scope).map_err(|error| error.to_string())
                    })
                    .await
                    .unwrap_or_else(|panic| Err(format!("internal error: the pipeline ended abnormally ({panic})")))
                }
            };
            Attempt {
                result: result.map_err(|message| Failure {
                    attempts: 1,
                    ..Failure::new(ErrorKind::Invalid, message)
                }),
                attempts: 1,
                parameters: None,
            }
        }
    }
}

/// Applies the step's `on_error` to a failure: (status, output, has output, incomplete
/// executions stored, error).
async fn directive(
    shared: &Shared,
    step: &PlannedStep,
    scope: &Scope,
    failure: Failure,
    item: Option<(usize, Option<String>)>,
    inputs: Json,
) -> (StepStatus, Value, bool, usize, Json) {
    let error = shared.redactor.redact_json(&failure.to_json(step, item.as_ref()));
    let null = Value::from(());
    if failure.kind == ErrorKind::Cancelled {
        return (StepStatus::Cancelled, null, false, 0, error);
    }
    let at = match &item {
        Some((index, Some(key))) => format!(" (item {index}, {key})"),
        Some((index, None)) => format!(" (item {index})"),
        None => String::new(),
    };
    let message = shared.redactor.redact(&failure.message).into_owned();
    match &step.on_error {
        PlannedOnError::Fail => {
            tracing::error!(error = %message, "step failed{at}");
            (StepStatus::Failed, null, false, 0, error)
        }
        PlannedOnError::Ignore => {
            tracing::warn!(error = %message, "failed{at}; ignored (on_error: ignore)");
            (StepStatus::Ignored, null, false, 0, error)
        }
        PlannedOnError::Resume(value) => match value.eval(scope) {
            Ok(value) => {
                tracing::warn!(error = %message, "failed{at}; resumed with its `resume` value");
                (StepStatus::Resumed, value, true, 0, error)
            }
            Err(problem) => {
                let mut error = error;
                error["message"] = json!(format!(
                    "{} (and on_error.resume could not be rendered: {})",
                    error["message"].as_str().unwrap_or_default(),
                    problem.message
                ));
                (StepStatus::Failed, null, false, 0, error)
            }
        },
        PlannedOnError::Break => match record::incomplete(shared, &step.id, item, inputs, &error).await {
            Ok(()) => {
                tracing::warn!(error = %message, "failed{at}; stored as an incomplete execution (on_error: break)");
                (StepStatus::Broken, null, false, 1, error)
            }
            Err(problem) => {
                let mut error = error;
                error["message"] = json!(format!("{} ({problem})", error["message"].as_str().unwrap_or_default()));
                (StepStatus::Failed, null, false, 0, error)
            }
        },
    }
}

/// What a replay needs to render the step or item again: `item`, `index`, `cursor` and the
/// outputs of the steps it reads. Never rendered text (which could hold secrets).
fn incomplete_inputs(shared: &Shared, step: &PlannedStep, scope: &Scope, index: Option<usize>) -> Json {
    let mut inputs = serde_json::Map::new();
    if let Some(index) = index {
        inputs.insert("index".into(), json!(index));
        if let Some(item) = scope.get("item").and_then(|item| flowrun_expr::to_json(&item).ok()) {
            inputs.insert("item".into(), item);
        }
    }
    if let Some(cursor) = scope
        .get("cursor")
        .and_then(|cursor| flowrun_expr::to_json(&cursor).ok())
    {
        inputs.insert("cursor".into(), cursor);
    }
    let mut steps = serde_json::Map::new();
    for (dependency, kind) in &step.dependencies {
        if *kind != DependencyKind::Output {
            continue;
        }
        if let Some(output) = shared
            .steps
            .output(*dependency)
            .and_then(|o| flowrun_expr::to_json(&o).ok())
        {
            steps.insert(shared.plan.steps[*dependency].id.clone(), json!({ "output": output }));
        }
    }
    inputs.insert("steps".into(), Json::Object(steps));
    Json::Object(inputs)
}

/// Evaluates `incremental.cursor` over the output of a step that succeeded (or broke some
/// items: those are stored to replay, so the window may move). An undefined or null cursor
/// keeps the stored one (an empty read moves nothing).
fn new_cursor(step: &PlannedStep, scope: &Scope, result: &mut StepResult) {
    let Some(incremental) = &step.incremental else { return };
    if !matches!(result.status, StepStatus::Success | StepStatus::Broken) || !result.has_output {
        return;
    }
    let cursor_scope = scope.child([("output", result.output.clone())]);
    match incremental.cursor.eval_or_undefined(&cursor_scope) {
        Ok(value) if value.is_undefined() || value.is_none() => {}
        Ok(value) => match flowrun_expr::to_json(&value) {
            Ok(cursor) => result.new_cursor = Some(cursor),
            Err(problem) => fail_after(result, step, format!("incremental.cursor: {}", problem.message)),
        },
        Err(problem) => fail_after(result, step, format!("incremental.cursor: {}", problem.message)),
    }
}

/// Turns a finished step into a failed one (its cursor or result could not be kept).
fn fail_after(result: &mut StepResult, step: &PlannedStep, message: String) {
    tracing::error!(error = %message, "step failed");
    result.status = StepStatus::Failed;
    result.has_output = false;
    result.new_cursor = None;
    result.error = Some(json!({
        "step": step.id,
        "module": step.action.describe(),
        "message": message,
        "kind": ErrorKind::Invalid.as_str(),
        "attempts": result.attempts,
    }));
}

fn log_end(result: &StepResult) {
    tracing::info!(
        status = %result.status,
        attempts = result.attempts,
        duration_ms = result.duration.as_millis() as u64,
        "step ended",
    );
}

/// Replays a step's open incomplete executions (`runs retry`), one after another: each with
/// the `item`, `index` and `cursor` it was stored with, rendered again with this process's
/// secrets. A success resolves it and replaces its broken record; a failure counts one more
/// failure and leaves it open. The step's output is the replayed outputs only.
async fn replay_step(
    shared: &Arc<Shared>,
    step: &PlannedStep,
    scope: &Scope,
    incompletes: &[flowrun_state::Incomplete],
    cancel: &CancellationToken,
) -> StepResult {
    shared.observe(|| Event::StepStarted {
        step: step.id.clone(),
        items: step.for_each.as_ref().map(|_| incompletes.len()),
    });
    let (mut outputs, mut still_open, mut attempts) = (Vec::new(), 0, 0);
    let mut counts: IndexMap<String, usize> = IndexMap::new();
    let mut last_error = None;
    for incomplete in incompletes {
        if cancel.is_cancelled() {
            still_open += 1;
            continue;
        }
        let mut item_scope = scope.clone();
        if let Some(cursor) = incomplete.inputs.get("cursor") {
            item_scope = item_scope.child([("cursor", json_value(cursor))]);
        }
        let item_index = incomplete.item_index.map(|index| index as usize);
        if let Some(index) = item_index {
            let item = incomplete.inputs.get("item").map_or(Value::from(()), json_value);
            item_scope = item_scope.with_item(item, index);
        }
        let clock = Instant::now();
        let started_at = jiff::Timestamp::now();
        let attempt = attempt(shared, step, &item_scope, item_index, cancel).await;
        attempts += attempt.attempts;
        let item = item_index.map(|index| (index, incomplete.item_key.clone()));
        let (status, output, error) = match attempt.result {
            Ok(output) => {
                if let Some(store) = &shared.store
                    && let Err(problem) = store.resolve_incomplete(&incomplete.id).await
                {
                    tracing::error!(error = %problem, "the replayed execution could not be marked resolved");
                }
                tracing::info!(item = ?item_index, "replayed: resolved");
                (StepStatus::Success, Some(output), None)
            }
            Err(failure) => {
                let failure = Failure {
                    attempts: attempt.attempts,
                    ..failure
                };
                let error = shared.redactor.redact_json(&failure.to_json(step, item.as_ref()));
                if let Some(store) = &shared.store
                    && let Err(problem) = store.fail_incomplete(&incomplete.id, Some(error.clone())).await
                {
                    tracing::error!(error = %problem, "the failed replay could not be recorded");
                }
                tracing::warn!(item = ?item_index, error = %shared.redactor.redact(&failure.message), "replay failed; the execution stays open");
                still_open += 1;
                (StepStatus::Broken, None, Some(error))
            }
        };
        *counts.entry(status.as_str().to_owned()).or_default() += 1;
        if item_index.is_some() {
            let stored = record::record(
                shared,
                Outcome {
                    step_id: step.id.clone(),
                    item_index,
                    item_key: incomplete.item_key.clone(),
                    status,
                    attempts: attempt.attempts,
                    parameters: attempt.parameters.clone(),
                    output: output.clone(),
                    error: error.clone(),
                    started_at: Some(started_at),
                    duration: Some(clock.elapsed()),
                },
            )
            .await;
            if let Err(problem) = stored {
                tracing::error!(error = %problem, "the replayed item's result could not be stored");
            }
        }
        last_error = error.or(last_error);
        outputs.extend(output);
    }
    let for_each = step.for_each.is_some();
    let status = if still_open == 0 {
        StepStatus::Success
    } else {
        StepStatus::Broken
    };
    let (has_output, output) = match (for_each, outputs.pop()) {
        (true, last) => {
            outputs.extend(last);
            (true, Value::from(outputs))
        }
        (false, Some(output)) => (true, output),
        (false, None) => (false, Value::from(())),
    };
    StepResult {
        status,
        has_output,
        output,
        error: if still_open == 0 { None } else { last_error },
        attempts,
        incomplete: still_open,
        new_cursor: None,
        items: for_each.then_some(counts),
        duration: Duration::ZERO,
        parameters_for_record: None,
    }
}
