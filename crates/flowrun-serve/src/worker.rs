//! The workers: each claims the oldest queued run of a served flow, runs it under a lease it
//! renews (the engine's heartbeat), and claims the next. A reaper puts the runs of workers
//! that died (their lease expired) back in the queue, where any worker takes them over; the
//! engine then keeps every step and item they had committed.
//!
//! On shutdown workers stop claiming; a run still going when the shutdown timeout ends is
//! handed back to the queue (its committed work kept) for another worker or the next start.

use std::sync::Arc;
use std::time::Duration;

use flowrun_engine::run::{EngineError, RunRequest};
use flowrun_expr::Runtime;
use flowrun_state::{Claim, Run, StateError};

use crate::service::Service;

/// How long an idle worker waits for a wake-up before it looks at the queue again.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// How long a run of a locked flow (incremental: one run at a time) waits before it is
/// offered again.
const LOCKED_DELAY: Duration = Duration::from_secs(1);

/// Runs `service.options.workers` workers and the reaper until shutdown; returns when every
/// worker stopped. With no workers (an ingest-only process) it returns at once.
pub async fn run_workers(service: Arc<Service>) {
    let mut tasks = tokio::task::JoinSet::new();
    if service.options.workers == 0 {
        // An ingest-only process: it queues what triggers bring; other processes run it.
        tracing::info!("no workers: runs queued here are run by other flowrun serve processes");
        return;
    }
    for index in 0..service.options.workers {
        tasks.spawn(worker(service.clone(), index));
    }
    tasks.spawn(reaper(service.clone()));
    while tasks.join_next().await.is_some() {}
}

async fn worker(service: Arc<Service>, index: usize) {
    let owner = format!("{}:w{index}", service.options.owner);
    let mut engine = service.engine.clone();
    engine.options.lease_owner = owner.clone();
    engine.options.lease = service.options.lease;
    loop {
        if service.shutdown.is_cancelled() {
            return;
        }
        let flows = service.flows();
        if flows.is_empty() {
            wait(&service, IDLE_POLL).await;
            continue;
        }
        let claim = Claim {
            lease_owner: owner.clone(),
            lease: service.options.lease,
            flow_ids: Some(flows.ids()),
        };
        match service.store.claim_run(claim).await {
            Ok(Some(run)) => execute(&service, &engine, run).await,
            Ok(None) => wait(&service, IDLE_POLL).await,
            Err(error) => {
                tracing::error!(%error, worker = %owner, "the queue could not be read; trying again");
                wait(&service, IDLE_POLL).await;
            }
        }
    }
}

/// Waits for a wake-up of the queue, the timeout, or the shutdown.
async fn wait(service: &Service, timeout: Duration) {
    tokio::select! {
        () = service.store.wait_for_queued(timeout) => {}
        () = service.shutdown.cancelled() => {}
    }
}

async fn execute(service: &Service, engine: &flowrun_engine::run::Engine, run: Run) {
    let owner = engine.options.lease_owner.clone();
    let Some(entry) = service.flows().get(&run.flow_id).cloned() else {
        // The flow was unloaded between the claim and now: let another worker (or a later
        // reload) have it.
        hand_back(
            service,
            &run,
            &owner,
            Duration::from_secs(5),
            "its flow is no longer served",
        )
        .await;
        return;
    };
    let flow = &entry.flow;
    let request = RunRequest {
        inputs: flow.inputs.clone(),
        trigger: run.trigger.clone(),
        env: flow.env.clone(),
        secrets: flow.secrets.clone(),
        full: false,
        flow_version: run.flow_version.clone(),
        cancel: tokio_util::sync::CancellationToken::new(),
        runtime: Runtime::default(),
        run_id: Some(run.id.clone()),
    };
    let mut engine = engine.clone();
    engine.options.files_dir = Some(flow.files_dir.clone());
    tracing::info!(flow = %run.flow_id, run_id = %run.id, worker = %owner, "run claimed");
    let outcome = tokio::select! {
        outcome = engine.execute_claimed(flow.plan.clone(), request, &run) => outcome,
        () = service.hand_back.cancelled() => {
            hand_back(service, &run, &owner, Duration::ZERO, "the shutdown timeout ran out").await;
            service.metrics.run_interrupted(&run.flow_id, "handed_back");
            return;
        }
    };
    match outcome {
        Ok(outcome) => {
            tracing::info!(flow = %run.flow_id, run_id = %run.id, status = %outcome.status, "run ended");
            service.metrics.run_ended(&run.flow_id, &outcome);
        }
        Err(EngineError::Store(StateError::FlowLocked { holder_run_id, .. })) => {
            tracing::info!(flow = %run.flow_id, run_id = %run.id, holder = %holder_run_id, "the flow runs once at a time; the run waits for its turn");
            hand_back(service, &run, &owner, LOCKED_DELAY, "its flow is running").await;
        }
        Err(EngineError::Store(error @ (StateError::LeaseLost { .. } | StateError::RunNotRunning { .. }))) => {
            // Another worker took the run over (this one stalled past its lease): it is theirs.
            tracing::warn!(flow = %run.flow_id, run_id = %run.id, %error, "the run was taken over by another worker");
            service.metrics.run_interrupted(&run.flow_id, "taken_over");
        }
        Err(error) => {
            tracing::error!(flow = %run.flow_id, run_id = %run.id, %error, "the run could not be executed");
            service.metrics.run_interrupted(&run.flow_id, "error");
            hand_back(
                service,
                &run,
                &owner,
                Duration::from_secs(30),
                "it could not be executed",
            )
            .await;
        }
    }
}

async fn hand_back(service: &Service, run: &Run, owner: &str, delay: Duration, why: &str) {
    match service.store.release_run(&run.id, owner, delay).await {
        Ok(()) => tracing::info!(flow = %run.flow_id, run_id = %run.id, why, "run handed back to the queue"),
        Err(error) => {
            tracing::warn!(flow = %run.flow_id, run_id = %run.id, %error, "the run could not be handed back; its lease will expire and another worker takes it over")
        }
    }
}

/// Every third of a lease: the runs of dead workers go back to the queue.
async fn reaper(service: Arc<Service>) {
    let every = (service.options.lease / 3).max(Duration::from_millis(200));
    loop {
        match service.store.requeue_expired().await {
            Ok(runs) => {
                for run in runs {
                    tracing::warn!(
                        flow = %run.flow_id,
                        run_id = %run.id,
                        previous_worker = run.lease_owner.as_deref().unwrap_or("?"),
                        "a worker stopped renewing its lease: the run is queued again, to continue where it was"
                    );
                }
            }
            Err(error) => tracing::error!(%error, "could not look for runs of dead workers"),
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = service.shutdown.cancelled() => return,
        }
    }
}
