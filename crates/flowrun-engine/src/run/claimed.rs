//! Runs a worker of `flowrun serve` claimed from the queue: the store already set the run
//! `running` under this engine's lease owner. A run claimed for the first time runs from the
//! start; a run taken over from a worker that died continues where that worker's last
//! committed record left it, as `runs retry` does: finished steps and items are not run again.

use std::sync::Arc;

use flowrun_state::{IncompleteStatus, Run};
use serde_json::Value as Json;

use super::replay::load;
use super::{Engine, EngineError, RunOutcome, RunRequest};
use crate::plan::Plan;

impl Engine {
    /// Executes a claimed run to its end. The inputs and trigger are the stored run's;
    /// `request` gives the secrets, the environment and the cancellation. Flows with
    /// incremental steps take the flow lock first: [`StateError::FlowLocked`] comes back when
    /// another run of the flow holds it, and the caller hands the run back to the queue.
    ///
    /// [`StateError::FlowLocked`]: flowrun_state::StateError::FlowLocked
    pub async fn execute_claimed(
        &self,
        plan: Arc<Plan>,
        mut request: RunRequest,
        run: &Run,
    ) -> Result<RunOutcome, EngineError> {
        let modules = self.modules(&plan)?;
        let Some(store) = &self.store else {
            return Err(EngineError::NoSuchRun { run_id: run.id.clone() });
        };
        if run.flow_id != plan.flow_id {
            return Err(EngineError::OtherFlow {
                run_id: run.id.clone(),
                actual: run.flow_id.clone(),
                expected: plan.flow_id.clone(),
            });
        }
        if plan.has_incremental() {
            store.acquire_flow_lock(&plan.flow_id, &run.id).await?;
        }
        request.inputs = run.inputs.clone().unwrap_or(Json::Object(Default::default()));
        request.trigger = run.trigger.clone();
        let records = store.step_records(&run.id).await?;
        let open = store.list_incomplete(&run.id, Some(IncompleteStatus::Open)).await?;
        let replay = if records.is_empty() && open.is_empty() {
            None
        } else {
            tracing::info!(run_id = %run.id, records = records.len(), "taking over a run: its committed steps and items are kept");
            Some(load(&plan, &records, open))
        };
        self.drive(plan, request, run.id.clone(), modules, replay).await
    }
}
