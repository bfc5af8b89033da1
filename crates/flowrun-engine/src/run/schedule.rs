//! The scheduler: starts every step whose dependencies ended, as soon as they ended, and
//! decides for each whether it runs, is skipped, or is cancelled.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use flowrun_state::StepStatus;
use futures_util::FutureExt;
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde_json::{Value as Json, json};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::Shared;
use super::outcome::Event;
use super::record::{self, Outcome};
use super::step::{StepResult, execute_step};
use crate::plan::DependencyKind;

/// Runs the steps at `indexes` (main steps, or `on_failure` steps with `failure` as their
/// `error`) and returns a result per plan index (`None` outside `indexes`).
///
/// The first step that fails (under `on_error: fail`) cancels `cancel`: running steps stop
/// and end `cancelled`, steps not started yet are `cancelled` without running.
pub(super) async fn schedule(
    shared: &Arc<Shared>,
    indexes: &[usize],
    cancel: &CancellationToken,
    failure: Option<Json>,
) -> Vec<Option<StepResult>> {
    let plan = &shared.plan;
    let n = plan.steps.len();
    let mut in_set = vec![false; n];
    for &index in indexes {
        in_set[index] = true;
    }
    let mut waiting = vec![0usize; n];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &index in indexes {
        for (dependency, _) in &plan.steps[index].dependencies {
            if in_set[*dependency] {
                waiting[index] += 1;
                dependents[*dependency].push(index);
            }
        }
    }
    let ready: VecDeque<usize> = indexes.iter().copied().filter(|&i| waiting[i] == 0).collect();
    let mut tracker = Tracker {
        results: vec![None; n],
        dependents,
        waiting,
        ready,
    };
    // Steps run as futures of this task, not as tasks of their own: a chain of quick steps then
    // never waits for a wake-up on another thread between two steps (that handoff cost more
    // than the step). Module calls are async; large transforms go to the blocking pool.
    let mut running = FuturesUnordered::new();

    loop {
        while let Some(index) = tracker.ready.pop_front() {
            let step = &plan.steps[index];
            let not_run = if cancel.is_cancelled() {
                Some(StepResult::not_run(StepStatus::Cancelled, None))
            } else {
                skip_reason(shared, index).map(|reason| {
                    tracing::info!(step = %step.id, reason = %reason, "skipped");
                    StepResult::not_run(StepStatus::Skipped, Some(json!({ "step": step.id, "message": reason })))
                })
            };
            // Everything that awaits (even recording a skip) goes through `running`: awaiting
            // here while step futures wait unpolled could deadlock on the store's connection.
            let future = match not_run {
                Some(result) => not_run_future(shared.clone(), index, result).boxed(),
                None => execute_step(shared.clone(), index, cancel.clone(), failure.clone()).boxed(),
            };
            running.push(async move { (index, AssertUnwindSafe(future).catch_unwind().await) }.in_current_span());
        }
        let Some((index, ended)) = running.next().await else {
            break;
        };
        let result = match ended {
            Ok(result) => result,
            Err(panic) => {
                let reason = panic
                    .downcast_ref::<&str>()
                    .map(|text| (*text).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let message = format!("internal error: the step panicked ({reason})");
                tracing::error!(step = %plan.steps[index].id, %message);
                let mut result = StepResult::not_run(StepStatus::Failed, None);
                result.error = Some(json!({ "step": plan.steps[index].id, "message": message }));
                result
            }
        };
        if result.status == StepStatus::Failed && !cancel.is_cancelled() {
            tracing::info!(step = %plan.steps[index].id, "a step failed: stopping the run");
            cancel.cancel();
        }
        tracker.end(shared, index, result);
    }
    tracker.results
}

/// Records a step that does not run (skipped or cancelled) and reports its end.
async fn not_run_future(shared: Arc<Shared>, index: usize, result: StepResult) -> StepResult {
    let step = &shared.plan.steps[index];
    let stored = record::record(
        &shared,
        Outcome {
            step_id: step.id.clone(),
            item_index: None,
            item_key: None,
            status: result.status,
            attempts: 0,
            parameters: None,
            output: None,
            error: result.error.clone(),
            started_at: None,
            duration: None,
        },
    )
    .await;
    if let Err(problem) = stored {
        tracing::error!(step = %step.id, error = %problem, "could not store that the step did not run");
    }
    shared.observe(|| Event::StepEnded {
        step: step.id.clone(),
        status: result.status,
    });
    result
}

/// Which steps have ended and which wait for how many others.
struct Tracker {
    results: Vec<Option<StepResult>>,
    dependents: Vec<Vec<usize>>,
    waiting: Vec<usize>,
    ready: VecDeque<usize>,
}

impl Tracker {
    /// Publishes a step's end to `steps` and readies the dependents it was the last wait of.
    fn end(&mut self, shared: &Shared, index: usize, result: StepResult) {
        let output = if result.has_output {
            result.output.clone()
        } else {
            flowrun_expr::Value::from(())
        };
        let error = result.error.as_ref().map(flowrun_expr::from_json);
        shared.steps.set(index, result.status, output, error);
        self.results[index] = Some(result);
        for &dependent in &self.dependents[index] {
            self.waiting[dependent] -= 1;
            if self.waiting[dependent] == 0 {
                self.ready.push_back(dependent);
            }
        }
    }
}

/// Why a step whose dependencies ended must not run: it reads the output of a step that has
/// none (skipped, ignored, broken as a whole, failed or cancelled).
fn skip_reason(shared: &Shared, index: usize) -> Option<String> {
    let step = &shared.plan.steps[index];
    step.dependencies.iter().find_map(|(dependency, kind)| {
        if *kind != DependencyKind::Output {
            return None;
        }
        let status = shared.steps.status(*dependency)?;
        let has_output = matches!(status, StepStatus::Success | StepStatus::Resumed)
            || (status == StepStatus::Broken && shared.steps.output(*dependency).is_some_and(|o| !o.is_none()));
        (!has_output).then(|| {
            format!(
                "it reads the output of step `{}`, which has none ({status})",
                shared.plan.steps[*dependency].id
            )
        })
    })
}
