//! The `StateStore` trait: every operation the engine, the CLI and `serve` need.

use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;

use crate::error::StateError;
use crate::model::{
    Claim, Cursor, Enqueued, FinishRun, Incomplete, IncompleteStatus, NewIncomplete, NewRun, QueuedRun, ResumeRun, Run,
    RunDetail, RunFilter, RunStatus, StepRecord, TokenSet,
};

/// Durable state of runs, behind `Arc<dyn StateStore>`.
///
/// Every write is committed before its call returns: when `record_step` returns, the result
/// survives the process being killed, so the engine may start dependents. Implementations
/// may let concurrent calls share one commit, never return early.
///
/// Times are [`jiff::Timestamp`]s (UTC); implementations keep at least millisecond precision.
/// Leases are measured by the store's clock (`Timestamp::now()`).
#[async_trait]
pub trait StateStore: Send + Sync {
    // ---- Runs ----

    /// Creates a run as `running` with a lease (and the flow lock when `lock_flow`), in one
    /// transaction. Fails with [`StateError::FlowLocked`] when another run of the flow holds
    /// the lock under a live lease; a holder whose lease expired is marked `abandoned` and the
    /// lock passes to the new run.
    async fn create_run(&self, new_run: NewRun) -> Result<Run, StateError>;

    /// Takes a run up again under a new lease and sets it `running`: a run that ended
    /// (to replay its incomplete executions) or whose lease expired. Fails with
    /// [`StateError::RunBusy`] while its lease is live.
    async fn resume_run(&self, resume: ResumeRun) -> Result<Run, StateError>;

    /// Extends the lease of a running run to now + `lease`, and returns the new expiry.
    /// Fails with [`StateError::LeaseLost`] or [`StateError::RunNotRunning`] when the run was
    /// taken over or marked `abandoned` meanwhile: the caller must stop.
    async fn heartbeat(&self, run_id: &str, lease_owner: &str, lease: Duration) -> Result<Timestamp, StateError>;

    /// Marks every `running` run whose lease expired as `abandoned` (releasing its flow lock)
    /// and returns them. Runs that came through the queue are left alone: a serve worker
    /// takes them over ([`requeue_expired`](Self::requeue_expired)).
    async fn mark_abandoned(&self) -> Result<Vec<Run>, StateError>;

    /// Ends a run, in ONE transaction: sets the final status, output and error; when the status
    /// is success or partial, upserts the given cursors (a failed or cancelled run commits
    /// none); releases the run's flow lock. Fails with [`StateError::NotFinal`],
    /// [`StateError::RunNotRunning`] or [`StateError::LeaseLost`], and then changes nothing.
    async fn finish_run(&self, finish: FinishRun) -> Result<(), StateError>;

    /// One run, without its steps.
    async fn run(&self, run_id: &str) -> Result<Option<Run>, StateError>;

    /// Runs matching the filter, newest first.
    async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<Run>, StateError>;

    /// One run with its step records and incomplete executions.
    async fn run_detail(&self, run_id: &str) -> Result<Option<RunDetail>, StateError> {
        let Some(run) = self.run(run_id).await? else {
            return Ok(None);
        };
        let steps = self.step_records(run_id).await?;
        let incomplete = self.list_incomplete(run_id, None).await?;
        Ok(Some(RunDetail { run, steps, incomplete }))
    }

    // ---- Step results ----

    /// Records a step's or an item's result, replacing the one stored under the same
    /// (run, step, item index). Durable when it returns.
    async fn record_step(&self, record: StepRecord) -> Result<(), StateError>;

    /// A run's step records: steps in the order they were first recorded, each step's items
    /// by index (the whole-step record, `item_index: None`, first).
    async fn step_records(&self, run_id: &str) -> Result<Vec<StepRecord>, StateError>;

    // ---- Cursors ----

    /// The committed cursor of an incremental step, if any run committed one.
    async fn cursor(&self, flow_id: &str, step_id: &str) -> Result<Option<Cursor>, StateError>;

    /// Every committed cursor of a flow, by step id.
    async fn cursors(&self, flow_id: &str) -> Result<Vec<Cursor>, StateError>;

    // ---- Incomplete executions ----

    /// Stores a broken step or item as an open incomplete execution (failures = 1).
    async fn add_incomplete(&self, new: NewIncomplete) -> Result<Incomplete, StateError>;

    /// A run's incomplete executions, oldest first, optionally of one status.
    async fn list_incomplete(
        &self,
        run_id: &str,
        status: Option<IncompleteStatus>,
    ) -> Result<Vec<Incomplete>, StateError>;

    /// Marks an incomplete execution resolved (its replay succeeded). Resolving twice keeps
    /// the first time.
    async fn resolve_incomplete(&self, id: &str) -> Result<Incomplete, StateError>;

    /// Notes a failed replay: the execution stays open with the new error, failures + 1.
    async fn fail_incomplete(&self, id: &str, error: Option<serde_json::Value>) -> Result<Incomplete, StateError>;

    // ---- OAuth2 tokens ----

    /// The token set stored for a connection.
    async fn token(&self, connection_key: &str) -> Result<Option<TokenSet>, StateError>;

    /// Stores (replaces) a connection's token set.
    async fn put_token(&self, connection_key: &str, tokens: TokenSet) -> Result<(), StateError>;

    /// Deletes a connection's token set; returns whether there was one.
    async fn delete_token(&self, connection_key: &str) -> Result<bool, StateError>;

    // ---- Flow locks ----

    /// Gives the flow lock to a running run (as [`NewRun::lock_flow`] does at creation).
    /// Taking a lock the run already holds succeeds.
    async fn acquire_flow_lock(&self, flow_id: &str, run_id: &str) -> Result<(), StateError>;

    /// Releases the flow lock if this run holds it; returns whether it did.
    /// (`finish_run` and `mark_abandoned` release it themselves.)
    async fn release_flow_lock(&self, flow_id: &str, run_id: &str) -> Result<bool, StateError>;

    /// The run holding the flow lock under a live lease, if any.
    async fn flow_lock_holder(&self, flow_id: &str) -> Result<Option<String>, StateError>;

    // ---- The queue (`flowrun serve`) ----

    /// Queues a run (see [`QueuedRun`] for the dedupe key and the overlap rule), committed
    /// when it returns, and wakes the waiters of [`wait_for_queued`](Self::wait_for_queued).
    async fn enqueue_run(&self, run: QueuedRun) -> Result<Enqueued, StateError>;

    /// Takes the oldest claimable queued run (of `claim.flow_ids`), atomically: sets it
    /// `running` under the claim's lease. Claimers in many processes never get the same run
    /// and never wait for each other. A run taken over from a dead worker may have step
    /// records already.
    async fn claim_run(&self, claim: Claim) -> Result<Option<Run>, StateError>;

    /// Hands a running run back to the queue, claimable again after `delay`; releases its flow
    /// lock. Fails with [`StateError::LeaseLost`] or [`StateError::RunNotRunning`] when the
    /// caller does not hold it.
    async fn release_run(&self, run_id: &str, lease_owner: &str, delay: Duration) -> Result<(), StateError>;

    /// Puts every queued-then-claimed (`enqueued`) run whose lease expired back in the queue,
    /// releasing its flow lock, and returns them: the runs of workers that died.
    async fn requeue_expired(&self) -> Result<Vec<Run>, StateError>;

    /// Queued runs not claimed yet.
    async fn queue_depth(&self) -> Result<u64, StateError>;

    /// How many runs are stored in each status (statuses without runs may be missing).
    async fn count_runs(&self) -> Result<Vec<(RunStatus, u64)>, StateError>;

    /// Returns when a run may have become claimable (an enqueue, a hand-back, a requeue: in
    /// this process, or on Postgres in any process), or after `timeout`. A hint: callers poll
    /// too.
    async fn wait_for_queued(&self, timeout: Duration);

    // ---- Trigger state (`flowrun serve`'s connector triggers) ----

    /// A value a flow's trigger keeps (a callback token, a polling cursor).
    async fn trigger_state(&self, flow_id: &str, key: &str) -> Result<Option<serde_json::Value>, StateError>;

    /// Stores (replaces) a trigger value.
    async fn put_trigger_state(&self, flow_id: &str, key: &str, value: serde_json::Value) -> Result<(), StateError>;

    /// Stores `value` unless one is there; returns the value stored now, so processes racing
    /// to make one agree on the first.
    async fn insert_trigger_state(
        &self,
        flow_id: &str,
        key: &str,
        value: serde_json::Value,
    ) -> Result<serde_json::Value, StateError>;

    /// Deletes a trigger value; returns whether there was one.
    async fn delete_trigger_state(&self, flow_id: &str, key: &str) -> Result<bool, StateError>;
}
