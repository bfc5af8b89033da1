//! `flowrun runs retry`: a stored run taken up again. Its open incomplete executions are
//! replayed (with the flow as it is now and the secrets of this process), steps that had not
//! finished run (an abandoned, failed or cancelled run), finished steps and items are never
//! run again, and every step that depends on a replayed step runs again on the replayed
//! outputs only.
//!
//! Records stay under the original run: a replayed item replaces its broken record (same
//! step, same index); the items of a step that runs again after a replay are numbered after
//! the items it recorded before, so no earlier record is overwritten.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use flowrun_expr::Value;
use flowrun_state::{Incomplete, IncompleteStatus, Payload, ResumeRun, RunStatus, StepRecord, StepStatus};
use petgraph::Direction;
use petgraph::graph::NodeIndex;
use serde_json::Value as Json;

use super::step::StepResult;
use super::{Engine, EngineError, RunOutcome, RunRequest, json_value};
use crate::plan::Plan;

/// What a replay knows of the stored run, shared by its tasks.
#[derive(Debug, Default)]
pub(crate) struct ReplayState {
    /// Open incomplete executions to replay, by step index.
    pub incompletes: HashMap<usize, Vec<Incomplete>>,
    /// Where the items of a `for_each` step that runs again start (after its stored items).
    pub item_offsets: HashMap<usize, usize>,
    /// Items of an unfinished `for_each` step that already ended: reused, never run again.
    pub finished_items: HashMap<(usize, usize), (StepStatus, Value)>,
}

/// A stored run, read for a replay.
pub(crate) struct Loaded {
    pub state: Arc<ReplayState>,
    /// The result of every main step that is done and stays done, by plan index.
    pub done: Vec<Option<StepResult>>,
}

impl Engine {
    /// Takes the stored run `run_id` up again and drives it to a new end (see the module
    /// docs). `item` replays only the incomplete executions whose `item_key` (or item index)
    /// is `item`. The inputs and trigger are the stored run's; `request` gives the secrets,
    /// the environment and the cancellation.
    pub async fn replay(
        &self,
        plan: Arc<Plan>,
        mut request: RunRequest,
        run_id: &str,
        item: Option<&str>,
    ) -> Result<RunOutcome, EngineError> {
        let modules = self.modules(&plan)?;
        let Some(store) = &self.store else {
            return Err(EngineError::NoSuchRun {
                run_id: run_id.to_owned(),
            });
        };
        let Some(run) = store.run(run_id).await? else {
            return Err(EngineError::NoSuchRun {
                run_id: run_id.to_owned(),
            });
        };
        if run.flow_id != plan.flow_id {
            return Err(EngineError::OtherFlow {
                run_id: run_id.to_owned(),
                actual: run.flow_id,
                expected: plan.flow_id.clone(),
            });
        }
        let records = store.step_records(run_id).await?;
        let mut open = store.list_incomplete(run_id, Some(IncompleteStatus::Open)).await?;
        if let Some(wanted) = item {
            open.retain(|incomplete| {
                incomplete.item_key.as_deref() == Some(wanted)
                    || incomplete.item_index.is_some_and(|index| index.to_string() == wanted)
            });
        }
        let loaded = load(&plan, &records, open);
        let nothing_to_do =
            loaded.state.incompletes.is_empty() && loaded.done.iter().take(plan.n_main).all(Option::is_some);
        if nothing_to_do && matches!(run.status, RunStatus::Success | RunStatus::Partial) {
            return Err(EngineError::NothingToReplay {
                run_id: run_id.to_owned(),
                status: run.status,
                detail: match item {
                    Some(item) => format!(" for item `{item}` (no open incomplete execution has that key)"),
                    None => String::new(),
                },
            });
        }
        store
            .resume_run(ResumeRun {
                run_id: run_id.to_owned(),
                lease_owner: self.options.lease_owner.clone(),
                lease: self.options.lease,
                lock_flow: plan.has_incremental(),
            })
            .await?;
        request.inputs = run.inputs.unwrap_or(Json::Object(Default::default()));
        request.trigger = run.trigger;
        self.drive(plan, request, run_id.to_owned(), modules, Some(loaded))
            .await
    }
}

/// Decides, from the stored records, which steps are done, which replay incomplete
/// executions, and which run again.
pub(super) fn load(plan: &Plan, records: &[StepRecord], open: Vec<Incomplete>) -> Loaded {
    let index_of = |id: &str| plan.main_steps().iter().position(|step| step.id == id);
    let mut incompletes: HashMap<usize, Vec<Incomplete>> = HashMap::new();
    for incomplete in open {
        if let Some(index) = index_of(&incomplete.step_id) {
            incompletes.entry(index).or_default().push(incomplete);
        }
    }
    let mut whole: HashMap<usize, &StepRecord> = HashMap::new();
    let mut items: HashMap<usize, Vec<&StepRecord>> = HashMap::new();
    for record in records {
        let Some(index) = index_of(&record.step_id) else {
            continue;
        };
        match record.item_index {
            None => {
                whole.insert(index, record);
            }
            Some(_) => items.entry(index).or_default().push(record),
        }
    }

    // Every step downstream of a replayed one runs again, on the replayed outputs.
    let mut downstream: HashSet<usize> = HashSet::new();
    let mut frontier: Vec<usize> = incompletes.keys().copied().collect();
    while let Some(index) = frontier.pop() {
        for dependent in plan
            .graph
            .neighbors_directed(NodeIndex::new(index), Direction::Outgoing)
        {
            let dependent = dependent.index();
            if dependent < plan.n_main && downstream.insert(dependent) {
                frontier.push(dependent);
            }
        }
    }

    let mut state = ReplayState::default();
    let mut done = vec![None; plan.n_main];
    for (index, step) in plan.main_steps().iter().enumerate() {
        let step_items = items.get(&index).map(Vec::as_slice).unwrap_or_default();
        if incompletes.contains_key(&index) {
            continue;
        }
        if downstream.contains(&index) {
            let next = step_items
                .iter()
                .filter_map(|r| r.item_index)
                .max()
                .map_or(0, |i| i as usize + 1);
            state.item_offsets.insert(index, next);
            continue;
        }
        let finished = whole.get(&index).filter(|record| {
            matches!(
                record.status,
                StepStatus::Success
                    | StepStatus::Skipped
                    | StepStatus::Ignored
                    | StepStatus::Resumed
                    | StepStatus::Broken
            )
        });
        match finished {
            Some(record) => done[index] = Some(stored_result(record, step.for_each.is_some(), step_items)),
            None => {
                for record in step_items {
                    let Some(item_index) = record.item_index else { continue };
                    if matches!(
                        record.status,
                        StepStatus::Success | StepStatus::Resumed | StepStatus::Ignored
                    ) {
                        let output = record
                            .output
                            .as_ref()
                            .and_then(Payload::as_value)
                            .map_or(Value::from(()), json_value);
                        state
                            .finished_items
                            .insert((index, item_index as usize), (record.status, output));
                    }
                }
            }
        }
    }
    state.incompletes = incompletes;
    Loaded {
        state: Arc::new(state),
        done,
    }
}

/// A finished step as its records tell it; a `for_each` step's output is its items' outputs
/// in index order (broken items left out, ignored ones `null`), as the run saw it.
fn stored_result(record: &StepRecord, for_each: bool, items: &[&StepRecord]) -> StepResult {
    let output = if for_each {
        let mut sorted: Vec<&&StepRecord> = items.iter().collect();
        sorted.sort_by_key(|r| r.item_index);
        Value::from(
            sorted
                .into_iter()
                .filter(|r| {
                    matches!(
                        r.status,
                        StepStatus::Success | StepStatus::Resumed | StepStatus::Ignored
                    )
                })
                .map(|r| {
                    r.output
                        .as_ref()
                        .and_then(Payload::as_value)
                        .map_or(Value::from(()), json_value)
                })
                .collect::<Vec<_>>(),
        )
    } else {
        record
            .output
            .as_ref()
            .and_then(Payload::as_value)
            .map_or(Value::from(()), json_value)
    };
    let has_output = match record.status {
        StepStatus::Success | StepStatus::Resumed => true,
        StepStatus::Broken => for_each,
        _ => false,
    };
    let mut result = StepResult::not_run(record.status, record.error.clone());
    result.has_output = has_output;
    result.output = if has_output { output } else { Value::from(()) };
    result.attempts = record.attempts;
    result
}
