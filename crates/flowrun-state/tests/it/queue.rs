//! The run queue of `flowrun serve`: enqueue (dedupe keys, the overlap rule), claims, hand-backs,
//! takeover of dead workers' runs, wake-ups, and the trigger state; on Postgres also several
//! stores (processes) claiming and enqueueing at once.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flowrun_state::{Claim, Enqueued, FinishRun, PayloadLimits, QueuedRun, Run, RunStatus, StateError, StateStore};
use serde_json::json;

use crate::{
    Backend, LEASE, OWNER, SHORT_LEASE, TestSchema, TestStore, backends, create, new_run, outlive_short_lease, step,
};

const WORKER: &str = "worker-host:7";

fn queued(flow_id: &str, dedupe_key: Option<&str>) -> QueuedRun {
    QueuedRun {
        flow_id: flow_id.to_owned(),
        flow_version: "sha256:abc".to_owned(),
        trigger: Some(json!({"event": "created", "id": 7})),
        inputs: Some(json!({"since": "2024-01-01"})),
        dedupe_key: dedupe_key.map(str::to_owned),
        skip_if_active: false,
    }
}

fn claim_as(lease_owner: &str, lease: Duration, flow_ids: Option<&[&str]>) -> Claim {
    Claim {
        lease_owner: lease_owner.to_owned(),
        lease,
        flow_ids: flow_ids.map(|flows| flows.iter().map(|flow| (*flow).to_owned()).collect()),
    }
}

fn any_flow() -> Claim {
    claim_as(WORKER, LEASE, None)
}

fn finished(run_id: &str, lease_owner: &str, status: RunStatus) -> FinishRun {
    FinishRun {
        run_id: run_id.to_owned(),
        lease_owner: lease_owner.to_owned(),
        status,
        output: None,
        error: None,
        cursors: Vec::new(),
    }
}

/// Enqueues a run that must be created.
async fn enqueue(store: &dyn StateStore, run: QueuedRun) -> Run {
    match store.enqueue_run(run).await.unwrap() {
        Enqueued::Created(run) => run,
        other => panic!("expected Created, got {other:?}"),
    }
}

async fn status(store: &dyn StateStore, run_id: &str) -> RunStatus {
    store.run(run_id).await.unwrap().unwrap().status
}

backends!(queued_runs_are_claimed_oldest_first_then_none);
async fn queued_runs_are_claimed_oldest_first_then_none(backend: Backend) {
    let test = TestStore::new(backend).await;
    let store = test.store.as_ref();
    assert_eq!(store.queue_depth().await.unwrap(), 0);
    let mut ids = Vec::new();
    for index in 0..3 {
        let run = enqueue(store, queued("orders", None)).await;
        assert_eq!(run.status, RunStatus::Queued, "run {index}");
        assert!(run.enqueued);
        assert_eq!(run.lease_owner, None);
        assert_eq!(run.lease_expires_at, None);
        assert_eq!(run.started_at, None);
        assert_eq!(run.dedupe_key, None);
        assert_eq!(run.trigger, Some(json!({"event": "created", "id": 7})));
        assert_eq!(store.run(&run.id).await.unwrap().unwrap(), run);
        ids.push(run.id);
    }
    assert_eq!(store.queue_depth().await.unwrap(), 3);

    for (index, id) in ids.iter().enumerate() {
        let claimed = store.claim_run(any_flow()).await.unwrap().unwrap();
        assert_eq!(&claimed.id, id, "claim {index} is not the oldest queued run");
        assert_eq!(claimed.status, RunStatus::Running);
        assert_eq!(claimed.lease_owner.as_deref(), Some(WORKER));
        assert!(claimed.enqueued);
        let started = claimed.started_at.unwrap();
        assert!(started >= claimed.created_at);
        assert!(claimed.lease_expires_at.unwrap() > started);
        assert_eq!(claimed.inputs, Some(json!({"since": "2024-01-01"})));
        assert_eq!(store.run(id).await.unwrap().unwrap(), claimed);
        assert_eq!(store.queue_depth().await.unwrap(), 2 - index as u64);
    }
    assert_eq!(store.claim_run(any_flow()).await.unwrap(), None);
    assert_eq!(store.queue_depth().await.unwrap(), 0);
    // The claimed runs live like any run: their owner heartbeats and ends them.
    store.heartbeat(&ids[0], WORKER, LEASE).await.unwrap();
    store
        .finish_run(finished(&ids[0], WORKER, RunStatus::Success))
        .await
        .unwrap();
    assert_eq!(status(store, &ids[0]).await, RunStatus::Success);
}

backends!(a_claim_takes_only_runs_of_its_flows);
async fn a_claim_takes_only_runs_of_its_flows(backend: Backend) {
    let test = TestStore::new(backend).await;
    let store = test.store.as_ref();
    let orders = enqueue(store, queued("orders", None)).await;
    let invoices = enqueue(store, queued("invoices", None)).await;
    let reports = enqueue(store, queued("reports", None)).await;

    // No flows: nothing, and nothing changes.
    assert_eq!(store.claim_run(claim_as(WORKER, LEASE, Some(&[]))).await.unwrap(), None);
    assert_eq!(store.queue_depth().await.unwrap(), 3);
    // A flow without queued runs: nothing.
    assert_eq!(
        store
            .claim_run(claim_as(WORKER, LEASE, Some(&["missing"])))
            .await
            .unwrap(),
        None
    );

    let claimed = store
        .claim_run(claim_as(WORKER, LEASE, Some(&["invoices"])))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, invoices.id);
    assert_eq!(
        store
            .claim_run(claim_as(WORKER, LEASE, Some(&["invoices"])))
            .await
            .unwrap(),
        None
    );
    // The older run of another flow was left in the queue.
    assert_eq!(status(store, &orders.id).await, RunStatus::Queued);
    assert_eq!(status(store, &reports.id).await, RunStatus::Queued);

    let claimed = store
        .claim_run(claim_as(WORKER, LEASE, Some(&["reports", "missing"])))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, reports.id);
    assert_eq!(status(store, &orders.id).await, RunStatus::Queued);
    assert_eq!(store.queue_depth().await.unwrap(), 1);
    // Any flow: the one left.
    assert_eq!(store.claim_run(any_flow()).await.unwrap().unwrap().id, orders.id);
}

backends!(a_dedupe_key_makes_one_run_per_flow);
async fn a_dedupe_key_makes_one_run_per_flow(backend: Backend) {
    let test = TestStore::new(backend).await;
    let store = test.store.as_ref();
    let first = enqueue(store, queued("orders", Some("delivery-1"))).await;
    assert_eq!(first.dedupe_key.as_deref(), Some("delivery-1"));

    let mut again = queued("orders", Some("delivery-1"));
    again.trigger = Some(json!({"event": "created", "id": 8}));
    match store.enqueue_run(again.clone()).await.unwrap() {
        Enqueued::Duplicate(run) => assert_eq!(run, first),
        other => panic!("expected Duplicate, got {other:?}"),
    }
    assert_eq!(store.queue_depth().await.unwrap(), 1);

    // Claimed and ended: still a duplicate, returned as it is now.
    let claimed = store.claim_run(any_flow()).await.unwrap().unwrap();
    assert_eq!(claimed.id, first.id);
    store
        .finish_run(finished(&first.id, WORKER, RunStatus::Success))
        .await
        .unwrap();
    match store.enqueue_run(again).await.unwrap() {
        Enqueued::Duplicate(run) => {
            assert_eq!(run.id, first.id);
            assert_eq!(run.status, RunStatus::Success);
            assert_eq!(run.trigger, Some(json!({"event": "created", "id": 7})));
        }
        other => panic!("expected Duplicate, got {other:?}"),
    }
    assert_eq!(store.queue_depth().await.unwrap(), 0);

    // The same key on another flow, and another key on the flow, are new runs.
    let other_flow = enqueue(store, queued("invoices", Some("delivery-1"))).await;
    assert_ne!(other_flow.id, first.id);
    let other_key = enqueue(store, queued("orders", Some("delivery-2"))).await;
    assert_ne!(other_key.id, first.id);
    // Without a key, every enqueue is a run.
    let plain = [
        enqueue(store, queued("orders", None)).await,
        enqueue(store, queued("orders", None)).await,
    ];
    assert_ne!(plain[0].id, plain[1].id);
    assert_eq!(store.queue_depth().await.unwrap(), 4);
    let orders = store
        .list_runs(&flowrun_state::RunFilter {
            flow_id: Some("orders".to_owned()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(orders.len(), 4);
}

backends!(skip_if_active_skips_while_the_flow_has_a_queued_or_running_run);
async fn skip_if_active_skips_while_the_flow_has_a_queued_or_running_run(backend: Backend) {
    let test = TestStore::new(backend).await;
    let store = test.store.as_ref();
    let tick = || QueuedRun {
        skip_if_active: true,
        ..queued("orders", None)
    };
    let first = enqueue(store, tick()).await;
    // Queued.
    assert_eq!(
        store.enqueue_run(tick()).await.unwrap(),
        Enqueued::Skipped {
            active_run_id: first.id.clone()
        }
    );
    assert_eq!(store.queue_depth().await.unwrap(), 1);
    // Running.
    assert_eq!(store.claim_run(any_flow()).await.unwrap().unwrap().id, first.id);
    assert_eq!(
        store.enqueue_run(tick()).await.unwrap(),
        Enqueued::Skipped {
            active_run_id: first.id.clone()
        }
    );
    // Other flows, and enqueues that do not ask, are not held back.
    enqueue(
        store,
        QueuedRun {
            skip_if_active: true,
            ..queued("invoices", None)
        },
    )
    .await;
    let plain = enqueue(store, queued("orders", None)).await;
    assert_eq!(store.queue_depth().await.unwrap(), 2);
    assert_eq!(
        store.enqueue_run(tick()).await.unwrap(),
        Enqueued::Skipped {
            active_run_id: first.id.clone()
        }
    );

    // Once both ended, the flow takes a new run.
    store
        .finish_run(finished(&first.id, WORKER, RunStatus::Failed))
        .await
        .unwrap();
    assert_eq!(
        store.enqueue_run(tick()).await.unwrap(),
        Enqueued::Skipped {
            active_run_id: plain.id.clone()
        }
    );
    let plain_claimed = store
        .claim_run(claim_as(WORKER, LEASE, Some(&["orders"])))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(plain_claimed.id, plain.id);
    store
        .finish_run(finished(&plain.id, WORKER, RunStatus::Success))
        .await
        .unwrap();
    let next = enqueue(store, tick()).await;
    assert_ne!(next.id, first.id);
    assert_ne!(next.id, plain.id);
    assert_eq!(next.status, RunStatus::Queued);

    // A running run that did not come through the queue counts too.
    let direct = create(store, "reports").await;
    assert_eq!(
        store
            .enqueue_run(QueuedRun {
                skip_if_active: true,
                ..queued("reports", None)
            })
            .await
            .unwrap(),
        Enqueued::Skipped {
            active_run_id: direct.id
        }
    );
}

backends!(a_released_run_is_claimable_again_after_its_delay);
async fn a_released_run_is_claimable_again_after_its_delay(backend: Backend) {
    let test = TestStore::new(backend).await;
    let store = test.store.as_ref();
    let run = enqueue(store, queued("orders", None)).await;
    let claimed = store.claim_run(any_flow()).await.unwrap().unwrap();
    assert_eq!(claimed.id, run.id);
    store.acquire_flow_lock("orders", &run.id).await.unwrap();
    assert_eq!(store.flow_lock_holder("orders").await.unwrap(), Some(run.id.clone()));

    // Only the owner hands it back; a refusal changes nothing.
    let error = store
        .release_run(&run.id, "stranger:9", Duration::ZERO)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, StateError::LeaseLost { holder, .. } if holder == WORKER),
        "{error}"
    );
    assert_eq!(status(store, &run.id).await, RunStatus::Running);
    assert_eq!(store.flow_lock_holder("orders").await.unwrap(), Some(run.id.clone()));
    let error = store
        .release_run("no-such-run", WORKER, Duration::ZERO)
        .await
        .unwrap_err();
    assert!(matches!(error, StateError::RunNotFound { .. }), "{error}");

    store
        .release_run(&run.id, WORKER, Duration::from_millis(300))
        .await
        .unwrap();
    let released = Instant::now();
    assert_eq!(store.flow_lock_holder("orders").await.unwrap(), None);
    let stored = store.run(&run.id).await.unwrap().unwrap();
    assert_eq!(stored.status, RunStatus::Queued);
    assert_eq!(stored.lease_owner, None);
    assert_eq!(stored.lease_expires_at, None);
    assert_eq!(store.queue_depth().await.unwrap(), 1);
    // Not claimable at once (the delay is 300 ms).
    assert_eq!(store.claim_run(any_flow()).await.unwrap(), None);
    // Handing back a queued run is refused.
    let error = store.release_run(&run.id, WORKER, Duration::ZERO).await.unwrap_err();
    assert!(
        matches!(
            error,
            StateError::RunNotRunning {
                status: RunStatus::Queued,
                ..
            }
        ),
        "{error}"
    );

    // Claimable after the delay.
    let again = loop {
        if let Some(run) = store.claim_run(claim_as("other-worker:2", LEASE, None)).await.unwrap() {
            break run;
        }
        assert!(
            released.elapsed() < Duration::from_secs(5),
            "a run released with a 300 ms delay is not claimable after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(again.id, run.id);
    assert_eq!(again.status, RunStatus::Running);
    assert_eq!(again.lease_owner.as_deref(), Some("other-worker:2"));
    assert_eq!(again.started_at, claimed.started_at);
    // The first owner lost it.
    let error = store.heartbeat(&run.id, WORKER, LEASE).await.unwrap_err();
    assert!(matches!(error, StateError::LeaseLost { .. }), "{error}");

    // Without a delay, claimable at once.
    store
        .release_run(&run.id, "other-worker:2", Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(store.claim_run(any_flow()).await.unwrap().unwrap().id, run.id);
}

backends!(a_dead_workers_run_is_requeued_not_abandoned);
async fn a_dead_workers_run_is_requeued_not_abandoned(backend: Backend) {
    let test = TestStore::new(backend).await;
    let store = test.store.as_ref();
    let run = enqueue(store, queued("orders", None)).await;
    let claimed = store
        .claim_run(claim_as("dead-worker:1", SHORT_LEASE, None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, run.id);
    store.acquire_flow_lock("orders", &run.id).await.unwrap();
    store
        .record_step(step(&run.id, "fetch", None, json!([1, 2, 3])))
        .await
        .unwrap();
    let mut direct = new_run("invoices");
    direct.lease = SHORT_LEASE;
    let direct = store.create_run(direct).await.unwrap();
    // Live leases: nothing to do.
    assert!(store.requeue_expired().await.unwrap().is_empty());
    assert!(store.mark_abandoned().await.unwrap().is_empty());

    outlive_short_lease().await;
    // The sweep of `flowrun run` leaves the queued run alone.
    let abandoned = store.mark_abandoned().await.unwrap();
    assert_eq!(abandoned.iter().map(|run| &run.id).collect::<Vec<_>>(), [&direct.id]);
    let untouched = store.run(&run.id).await.unwrap().unwrap();
    assert_eq!(untouched, claimed);
    assert_eq!(test.count("flow_locks").await, 1);

    let requeued = store.requeue_expired().await.unwrap();
    assert_eq!(requeued.iter().map(|run| &run.id).collect::<Vec<_>>(), [&run.id]);
    assert_eq!(requeued[0].lease_owner.as_deref(), Some("dead-worker:1"));
    assert_eq!(test.count("flow_locks").await, 0);
    let stored = store.run(&run.id).await.unwrap().unwrap();
    assert_eq!(stored.status, RunStatus::Queued);
    assert_eq!(stored.lease_owner, None);
    assert_eq!(stored.ended_at, None);
    assert_eq!(status(store, &direct.id).await, RunStatus::Abandoned);
    assert_eq!(store.queue_depth().await.unwrap(), 1);
    assert!(store.requeue_expired().await.unwrap().is_empty());

    let taken = store
        .claim_run(claim_as("new-worker:2", LEASE, None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.id, run.id);
    assert_eq!(taken.lease_owner.as_deref(), Some("new-worker:2"));
    let steps = store.step_records(&run.id).await.unwrap();
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].step_id, "fetch");
    assert_eq!(steps[0].output, Some(json!([1, 2, 3]).into()));
    // The dead worker, if it wakes up, learns it lost the run.
    let error = store.heartbeat(&run.id, "dead-worker:1", LEASE).await.unwrap_err();
    assert!(
        matches!(&error, StateError::LeaseLost { holder, .. } if holder == "new-worker:2"),
        "{error}"
    );

    // An expired run that did not come through the queue is not requeued.
    let mut direct = new_run("invoices");
    direct.lease = SHORT_LEASE;
    let direct = store.create_run(direct).await.unwrap();
    outlive_short_lease().await;
    assert!(store.requeue_expired().await.unwrap().is_empty());
    assert_eq!(status(store, &direct.id).await, RunStatus::Running);
    let abandoned = store.mark_abandoned().await.unwrap();
    assert_eq!(abandoned.iter().map(|run| &run.id).collect::<Vec<_>>(), [&direct.id]);
    assert_eq!(status(store, &run.id).await, RunStatus::Running);
}

backends!(a_queued_run_losing_its_expired_flow_lock_goes_back_to_the_queue);
async fn a_queued_run_losing_its_expired_flow_lock_goes_back_to_the_queue(backend: Backend) {
    let test = TestStore::new(backend).await;
    let store = test.store.as_ref();
    let run = enqueue(store, queued("orders", None)).await;
    store
        .claim_run(claim_as("dead-worker:1", SHORT_LEASE, None))
        .await
        .unwrap()
        .unwrap();
    store.acquire_flow_lock("orders", &run.id).await.unwrap();
    outlive_short_lease().await;
    let mut locking = new_run("orders");
    locking.lock_flow = true;
    let taker = store.create_run(locking).await.unwrap();
    assert_eq!(store.flow_lock_holder("orders").await.unwrap(), Some(taker.id));
    let stored = store.run(&run.id).await.unwrap().unwrap();
    assert_eq!(stored.status, RunStatus::Queued);
    assert_eq!(stored.lease_owner, None);
    assert_eq!(stored.ended_at, None);
    assert_eq!(store.claim_run(any_flow()).await.unwrap().unwrap().id, run.id);
}

/// A heartbeat in flight while a sweep requeues expired runs: the sweep skips the run (the
/// heartbeat holds it), and must then leave its flow lock too, since the run lives on.
#[tokio::test]
async fn a_postgres_requeue_leaves_the_lock_of_a_run_a_heartbeat_holds() {
    let test = TestStore::new(Backend::Postgres).await;
    let store = test.store.as_ref();
    let run = enqueue(store, queued("orders", None)).await;
    store
        .claim_run(claim_as(WORKER, SHORT_LEASE, None))
        .await
        .unwrap()
        .unwrap();
    store.acquire_flow_lock("orders", &run.id).await.unwrap();
    outlive_short_lease().await;

    // The heartbeat's UPDATE, not committed yet.
    let mut heartbeat = test.postgres_connection().await;
    sqlx::raw_sql("BEGIN").execute(&mut heartbeat).await.unwrap();
    sqlx::query("UPDATE runs SET lease_expires_at = now() + interval '1 hour' WHERE id = $1")
        .bind(&run.id)
        .execute(&mut heartbeat)
        .await
        .unwrap();
    let requeued = store.requeue_expired().await.unwrap();
    assert!(requeued.is_empty(), "{requeued:?}");
    sqlx::raw_sql("COMMIT").execute(&mut heartbeat).await.unwrap();

    let stored = store.run(&run.id).await.unwrap().unwrap();
    assert_eq!(stored.status, RunStatus::Running);
    assert_eq!(stored.lease_owner.as_deref(), Some(WORKER));
    assert_eq!(
        store.flow_lock_holder("orders").await.unwrap(),
        Some(run.id.clone()),
        "the run lives on under its lease but lost its flow lock"
    );
}

/// Waits on `waiter` while `enqueuer` enqueues, again every 300 ms (the first enqueue may come
/// before the wait listens), and returns how long the wait took; its timeout is 10 s.
async fn wait_woken_by(waiter: Arc<dyn StateStore>, enqueuer: &dyn StateStore) -> Duration {
    let mut wait = tokio::spawn(async move {
        let start = Instant::now();
        waiter.wait_for_queued(Duration::from_secs(10)).await;
        start.elapsed()
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    for _ in 0..10 {
        enqueue(enqueuer, queued("orders", None)).await;
        if let Ok(waited) = tokio::time::timeout(Duration::from_millis(300), &mut wait).await {
            return waited.unwrap();
        }
    }
    wait.await.unwrap()
}

backends!(wait_for_queued_returns_on_an_enqueue_or_after_its_timeout);
async fn wait_for_queued_returns_on_an_enqueue_or_after_its_timeout(backend: Backend) {
    let test = TestStore::new(backend).await;
    let start = Instant::now();
    test.store.wait_for_queued(Duration::from_millis(200)).await;
    assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());

    let waited = wait_woken_by(Arc::clone(&test.store), test.store.as_ref()).await;
    assert!(
        waited < Duration::from_secs(5),
        "an enqueue did not wake the wait ({waited:?} of its 10 s)"
    );
}

/// An enqueue in one process wakes the waiting workers of another (LISTEN/NOTIFY).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_enqueue_on_one_postgres_store_wakes_a_wait_on_another() {
    let schema = TestSchema::new().await;
    let waiter: Arc<dyn StateStore> = Arc::new(schema.open(PayloadLimits::default()).await);
    let enqueuer = schema.open(PayloadLimits::default()).await;
    let waited = wait_woken_by(waiter, &enqueuer).await;
    assert!(
        waited < Duration::from_secs(5),
        "an enqueue on another store did not wake the wait ({waited:?} of its 10 s)"
    );
}

backends!(trigger_state_is_kept_per_flow_and_key);
async fn trigger_state_is_kept_per_flow_and_key(backend: Backend) {
    let test = TestStore::new(backend).await;
    let store = test.store.as_ref();
    assert_eq!(store.trigger_state("orders", "token").await.unwrap(), None);

    store
        .put_trigger_state("orders", "token", json!({"token": "abc"}))
        .await
        .unwrap();
    assert_eq!(
        store.trigger_state("orders", "token").await.unwrap(),
        Some(json!({"token": "abc"}))
    );
    store
        .put_trigger_state("orders", "token", json!({"token": "def"}))
        .await
        .unwrap();
    assert_eq!(
        store.trigger_state("orders", "token").await.unwrap(),
        Some(json!({"token": "def"}))
    );
    assert_eq!(store.trigger_state("invoices", "token").await.unwrap(), None);
    assert_eq!(store.trigger_state("orders", "cursor").await.unwrap(), None);

    // Insert: stores when absent, keeps (and returns) what is there otherwise.
    assert_eq!(
        store.insert_trigger_state("orders", "cursor", json!(41)).await.unwrap(),
        json!(41)
    );
    assert_eq!(store.trigger_state("orders", "cursor").await.unwrap(), Some(json!(41)));
    assert_eq!(
        store.insert_trigger_state("orders", "cursor", json!(42)).await.unwrap(),
        json!(41)
    );
    assert_eq!(store.trigger_state("orders", "cursor").await.unwrap(), Some(json!(41)));
    assert_eq!(
        store
            .insert_trigger_state("orders", "token", json!("new"))
            .await
            .unwrap(),
        json!({"token": "def"})
    );

    assert!(store.delete_trigger_state("orders", "token").await.unwrap());
    assert!(!store.delete_trigger_state("orders", "token").await.unwrap());
    assert_eq!(store.trigger_state("orders", "token").await.unwrap(), None);
    assert_eq!(store.trigger_state("orders", "cursor").await.unwrap(), Some(json!(41)));
    // Another process sees the same values.
    let other = test.reopen().await;
    assert_eq!(other.trigger_state("orders", "cursor").await.unwrap(), Some(json!(41)));
}

/// `count_runs` as a map, statuses without runs left out.
async fn by_status(store: &dyn StateStore) -> HashMap<RunStatus, u64> {
    store
        .count_runs()
        .await
        .unwrap()
        .into_iter()
        .filter(|(_, count)| *count > 0)
        .collect()
}

backends!(count_runs_counts_each_status);
async fn count_runs_counts_each_status(backend: Backend) {
    let test = TestStore::new(backend).await;
    let store = test.store.as_ref();
    assert_eq!(by_status(store).await, HashMap::new());

    for _ in 0..3 {
        enqueue(store, queued("orders", None)).await;
    }
    enqueue(store, queued("invoices", None)).await;
    let claimed = store.claim_run(any_flow()).await.unwrap().unwrap();
    let direct = create(store, "reports").await;
    assert_eq!(
        by_status(store).await,
        HashMap::from([(RunStatus::Queued, 3), (RunStatus::Running, 2)])
    );

    store
        .finish_run(finished(&claimed.id, WORKER, RunStatus::Success))
        .await
        .unwrap();
    store
        .finish_run(finished(&direct.id, OWNER, RunStatus::Failed))
        .await
        .unwrap();
    store.claim_run(any_flow()).await.unwrap().unwrap();
    assert_eq!(
        by_status(store).await,
        HashMap::from([
            (RunStatus::Queued, 2),
            (RunStatus::Running, 1),
            (RunStatus::Success, 1),
            (RunStatus::Failed, 1),
        ])
    );
}

/// Three processes with four claim loops each empty a queue of 300 runs: every run is claimed
/// exactly once, by the worker that ends up holding it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_stores_claiming_at_once_take_every_run_exactly_once() {
    let schema = TestSchema::new().await;
    let mut stores = Vec::new();
    for _ in 0..3 {
        stores.push(Arc::new(schema.open(PayloadLimits::default()).await));
    }
    let mut expected = Vec::new();
    for index in 0..300 {
        let flow = format!("flow-{}", index % 5);
        expected.push(enqueue(stores[index % 3].as_ref(), queued(&flow, None)).await.id);
    }
    assert_eq!(stores[0].queue_depth().await.unwrap(), 300);

    let mut loops = Vec::new();
    for (store_index, store) in stores.iter().enumerate() {
        for worker in 0..4 {
            let store = Arc::clone(store);
            let owner = format!("worker-{store_index}-{worker}");
            loops.push(tokio::spawn(async move {
                let mut claimed = Vec::new();
                while let Some(run) = store.claim_run(claim_as(&owner, LEASE, None)).await.unwrap() {
                    assert_eq!(run.lease_owner.as_deref(), Some(owner.as_str()));
                    assert_eq!(run.status, RunStatus::Running);
                    claimed.push((run.id, owner.clone()));
                }
                claimed
            }));
        }
    }
    let mut claimed = Vec::new();
    for claim_loop in loops {
        claimed.extend(claim_loop.await.unwrap());
    }

    let mut seen = HashSet::new();
    for (run_id, _) in &claimed {
        assert!(seen.insert(run_id.clone()), "run {run_id} was claimed twice");
    }
    let mut claimed_ids: Vec<&String> = claimed.iter().map(|(id, _)| id).collect();
    claimed_ids.sort();
    let mut expected_ids: Vec<&String> = expected.iter().collect();
    expected_ids.sort();
    assert_eq!(claimed_ids, expected_ids);
    assert_eq!(stores[1].queue_depth().await.unwrap(), 0);
    // Each run is held by the worker that got it (no claim overwrote another).
    for (run_id, owner) in claimed.iter().step_by(7) {
        let stored = stores[2].run(run_id).await.unwrap().unwrap();
        assert_eq!(stored.lease_owner.as_ref(), Some(owner), "run {run_id}");
    }
}

/// Two processes enqueue one delivery at once, many times over: one run, the others learn
/// its id.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_stores_enqueueing_one_key_at_once_make_one_run() {
    let schema = TestSchema::new().await;
    let stores = [
        Arc::new(schema.open(PayloadLimits::default()).await),
        Arc::new(schema.open(PayloadLimits::default()).await),
    ];
    for round in 0..3 {
        let key = format!("delivery-{round}");
        let tasks: Vec<_> = (0..20)
            .map(|attempt| {
                let store = Arc::clone(&stores[attempt % 2]);
                let key = key.clone();
                tokio::spawn(async move { store.enqueue_run(queued("orders", Some(&key))).await })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap().unwrap());
        }
        let created: Vec<&Run> = outcomes
            .iter()
            .filter_map(|outcome| match outcome {
                Enqueued::Created(run) => Some(run),
                _ => None,
            })
            .collect();
        assert_eq!(created.len(), 1, "round {round}: {outcomes:?}");
        for outcome in &outcomes {
            match outcome {
                Enqueued::Created(_) => {}
                Enqueued::Duplicate(run) => assert_eq!(run.id, created[0].id, "round {round}"),
                other => panic!("round {round}: expected Created or Duplicate, got {other:?}"),
            }
        }
        assert_eq!(stores[0].queue_depth().await.unwrap(), round + 1);
    }
    let runs = stores[1]
        .list_runs(&flowrun_state::RunFilter {
            flow_id: Some("orders".to_owned()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(runs.len(), 3);
}

// A wake-up that comes while nobody waits is kept for the next wait (a worker busy claiming
// when a run is enqueued does not sleep through it).
backends!(a_wake_up_between_two_waits_is_not_lost);
async fn a_wake_up_between_two_waits_is_not_lost(backend: Backend) {
    let test = TestStore::new(backend).await;
    // Listening (Postgres) starts with the first wait.
    test.store.wait_for_queued(Duration::from_millis(50)).await;
    enqueue(test.store.as_ref(), queued("orders", None)).await;
    let start = Instant::now();
    test.store.wait_for_queued(Duration::from_secs(10)).await;
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "an enqueue before the wait did not wake it ({:?} of its 10 s)",
        start.elapsed()
    );
}

/// Enqueues in a quick burst on one store, whose `NOTIFY`s are throttled: the other store is
/// woken for the last of them too, not only for the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_enqueues_wakes_another_postgres_store_after_its_last_commit() {
    let schema = TestSchema::new().await;
    let waiter: Arc<dyn StateStore> = Arc::new(schema.open(PayloadLimits::default()).await);
    let enqueuer = schema.open(PayloadLimits::default()).await;
    // Listening, and no wake-up left over.
    wait_woken_by(Arc::clone(&waiter), &enqueuer).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    waiter.wait_for_queued(Duration::from_millis(300)).await;

    let first_wait = {
        let waiter = Arc::clone(&waiter);
        tokio::spawn(async move { waiter.wait_for_queued(Duration::from_secs(10)).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    tokio::join!(
        enqueue(&enqueuer, queued("orders", None)),
        enqueue(&enqueuer, queued("orders", None)),
        enqueue(&enqueuer, queued("orders", None)),
    );
    first_wait.await.unwrap();
    // The later enqueues came within the throttle's window: a NOTIFY follows their commits (or
    // it arrived before this wait, and the wake-up was kept).
    let start = Instant::now();
    waiter.wait_for_queued(Duration::from_secs(10)).await;
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "the last enqueue of a burst did not wake the other store ({:?} of its 10 s)",
        start.elapsed()
    );
}

/// Two processes enqueue schedule ticks of one flow at once under the overlap rule: one run is
/// created, every other enqueue is skipped in its favour.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_stores_enqueueing_ticks_at_once_keep_one_active_run() {
    let schema = TestSchema::new().await;
    let stores = [
        Arc::new(schema.open(PayloadLimits::default()).await),
        Arc::new(schema.open(PayloadLimits::default()).await),
    ];
    let tasks: Vec<_> = (0..20)
        .map(|attempt| {
            let store = Arc::clone(&stores[attempt % 2]);
            tokio::spawn(async move {
                store
                    .enqueue_run(QueuedRun {
                        skip_if_active: true,
                        ..queued("orders", None)
                    })
                    .await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap().unwrap());
    }
    let created: Vec<&Run> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            Enqueued::Created(run) => Some(run),
            _ => None,
        })
        .collect();
    assert_eq!(created.len(), 1, "{outcomes:?}");
    for outcome in &outcomes {
        match outcome {
            Enqueued::Created(_) => {}
            Enqueued::Skipped { active_run_id } => assert_eq!(active_run_id, &created[0].id),
            other => panic!("expected Created or Skipped, got {other:?}"),
        }
    }
    assert_eq!(stores[0].queue_depth().await.unwrap(), 1);
}

// Callers that give up while enqueueing (a webhook whose client hung up) never fail the
// enqueues of others (SQLite writes the enqueues that arrive together in one transaction).
backends!(enqueues_given_up_do_not_fail_the_others, multi_thread);
async fn enqueues_given_up_do_not_fail_the_others(backend: Backend) {
    let test = TestStore::new(backend).await;
    for round in 0..5 {
        let tasks: Vec<_> = (0..40)
            .map(|index| {
                let store = Arc::clone(&test.store);
                let key = format!("delivery-{round}-{index}");
                tokio::spawn(async move { store.enqueue_run(queued("orders", Some(&key))).await })
            })
            .collect();
        let mut kept = Vec::new();
        for (index, task) in tasks.into_iter().enumerate() {
            if index % 3 == 0 {
                // Spread over the writes, so some callers give up while leading a batch.
                tokio::time::sleep(Duration::from_micros(300)).await;
                task.abort();
            } else {
                kept.push(task);
            }
        }
        for task in kept {
            match task.await.unwrap() {
                Ok(Enqueued::Created(_)) => {}
                other => panic!("round {round}: expected Created, got {other:?}"),
            }
        }
    }
}
