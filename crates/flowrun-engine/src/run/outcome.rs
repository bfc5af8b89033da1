//! What a run returns to its caller, and the events a progress display follows.

use std::sync::Arc;
use std::time::Duration;

use flowrun_state::{CursorUpdate, RunStatus, StepStatus};
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value as Json;

use super::Shared;
use super::step::StepResult;

/// The end of a run, as `flowrun run` prints it. Secrets are redacted everywhere in it.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    pub run_id: String,
    pub flow: String,
    pub status: RunStatus,
    /// The flow's `output` (or `{<step>: <status>}`); `None` unless success or partial.
    pub output: Option<Json>,
    /// Why the run failed: `{step, module, item_index?, item_key?, message, kind, status?, attempts}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Json>,
    /// Every step, main steps first, in file order.
    pub steps: IndexMap<String, StepSummary>,
    /// How many incomplete executions the run stored.
    pub incomplete: usize,
    /// The cursors committed with the run's end (none unless success or partial).
    #[serde(skip)]
    pub cursors: Vec<CursorUpdate>,
    /// Under `--dry-run=reads`: every call of a module that writes, with the parameters it
    /// would have been sent (secrets as `***`), in the order the calls came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_sent: Option<Vec<NotSent>>,
}

/// A write that a `--dry-run=reads` run did not send.
#[derive(Debug, Clone, Serialize)]
pub struct NotSent {
    pub step: String,
    pub uses: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_index: Option<usize>,
    /// The rendered `with:`, secrets as `***`.
    pub with: Json,
}

/// One step of a run's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct StepSummary {
    pub status: StepStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Json>,
    /// Attempts made (for a `for_each` step, over all items).
    #[serde(skip)]
    pub attempts: u32,
    /// For a `for_each` step: how many items ended in each status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<IndexMap<String, usize>>,
    #[serde(skip)]
    pub duration: Duration,
}

/// What a progress display is told.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A step started; `items` is the length of its `for_each` list.
    StepStarted { step: String, items: Option<usize> },
    /// One item of a `for_each` step ended.
    ItemEnded {
        step: String,
        index: usize,
        status: StepStatus,
    },
    /// A step ended.
    StepEnded { step: String, status: StepStatus },
}

/// Receives events; called from the run's tasks, so it must be quick.
pub type Observer = Arc<dyn Fn(Event) + Send + Sync>;

pub(super) fn build(
    shared: &Shared,
    results: &[Option<StepResult>],
    status: RunStatus,
    output: Option<Json>,
    error: Option<Json>,
) -> RunOutcome {
    let mut steps = IndexMap::new();
    let mut cursors = Vec::new();
    let mut incomplete = 0;
    for (step, result) in shared.plan.steps.iter().zip(results) {
        let Some(result) = result else {
            // on_failure steps of a run that did not fail never ran.
            continue;
        };
        incomplete += result.incomplete;
        if let Some(cursor) = &result.new_cursor {
            cursors.push(CursorUpdate {
                step_id: step.id.clone(),
                value: cursor.clone(),
            });
        }
        steps.insert(
            step.id.clone(),
            StepSummary {
                status: result.status,
                error: result.error.clone(),
                attempts: result.attempts,
                items: result.items.clone(),
                duration: result.duration,
            },
        );
    }
    if !status.commits_cursors() {
        cursors.clear();
    }
    RunOutcome {
        run_id: shared.run_id.clone(),
        flow: shared.plan.flow_id.clone(),
        status,
        output,
        error,
        steps,
        incomplete,
        cursors,
        not_sent: shared
            .not_sent
            .as_ref()
            .map(|list| list.lock().map(|list| list.clone()).unwrap_or_default()),
    }
}
