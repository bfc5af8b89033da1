use flowrun_state::{FinishRun, NewRun, ResumeRun, RunStatus, StateError};

use crate::{Backend, LEASE, OWNER, SHORT_LEASE, TestStore, backends, new_run, outlive_short_lease};

fn locking(flow_id: &str, lease: std::time::Duration) -> NewRun {
    NewRun {
        id: None,
        lock_flow: true,
        lease,
        ..new_run(flow_id)
    }
}

fn ended(run_id: &str, status: RunStatus) -> FinishRun {
    FinishRun {
        run_id: run_id.to_owned(),
        lease_owner: OWNER.to_owned(),
        status,
        output: None,
        error: None,
        cursors: Vec::new(),
    }
}

backends!(a_second_run_of_a_locked_flow_is_refused_with_the_holder);
async fn a_second_run_of_a_locked_flow_is_refused_with_the_holder(backend: Backend) {
    let test = TestStore::new(backend).await;
    let store = test.store.as_ref();
    let holder = store.create_run(locking("orders", LEASE)).await.unwrap();
    assert_eq!(store.flow_lock_holder("orders").await.unwrap(), Some(holder.id.clone()));

    let runs_before = store.list_runs(&Default::default()).await.unwrap().len();
    let error = store.create_run(locking("orders", LEASE)).await.unwrap_err();
    match &error {
        StateError::FlowLocked { flow_id, holder_run_id } => {
            assert_eq!(flow_id, "orders");
            assert_eq!(holder_run_id, &holder.id);
        }
        other => panic!("expected FlowLocked, got {other}"),
    }
    assert_eq!(
        error.to_string(),
        format!("flow `orders` is already running as run {}", holder.id)
    );
    // The refused run was not created.
    assert_eq!(store.list_runs(&Default::default()).await.unwrap().len(), runs_before);
    // Other flows, and runs that take no lock, are not held back.
    store.create_run(locking("invoices", LEASE)).await.unwrap();
    store.create_run(new_run("orders")).await.unwrap();
    // Another process sees the same lock.
    let other = test.reopen().await;
    assert!(matches!(
        other.create_run(locking("orders", LEASE)).await.unwrap_err(),
        StateError::FlowLocked { .. }
    ));

    // Ending the holder, whatever the status, frees the flow.
    store.finish_run(ended(&holder.id, RunStatus::Failed)).await.unwrap();
    assert_eq!(store.flow_lock_holder("orders").await.unwrap(), None);
    store.create_run(locking("orders", LEASE)).await.unwrap();
}

backends!(a_lock_is_taken_over_only_after_its_lease_expired);
async fn a_lock_is_taken_over_only_after_its_lease_expired(backend: Backend) {
    let test = TestStore::new(backend).await;
    let store = test.store.as_ref();
    let holder = store.create_run(locking("orders", SHORT_LEASE)).await.unwrap();
    // A heartbeat keeps it.
    store.heartbeat(&holder.id, OWNER, SHORT_LEASE).await.unwrap();
    assert!(matches!(
        store.create_run(locking("orders", LEASE)).await.unwrap_err(),
        StateError::FlowLocked { .. }
    ));

    outlive_short_lease().await;
    assert_eq!(store.flow_lock_holder("orders").await.unwrap(), None);
    let taker = store.create_run(locking("orders", LEASE)).await.unwrap();
    assert_eq!(store.flow_lock_holder("orders").await.unwrap(), Some(taker.id.clone()));
    // The old holder is abandoned: it can neither heartbeat nor end.
    let old = store.run(&holder.id).await.unwrap().unwrap();
    assert_eq!(old.status, RunStatus::Abandoned);
    assert!(matches!(
        store.heartbeat(&holder.id, OWNER, LEASE).await.unwrap_err(),
        StateError::RunNotRunning { .. }
    ));
}

backends!(abandoning_a_run_frees_its_flow);
async fn abandoning_a_run_frees_its_flow(backend: Backend) {
    let test = TestStore::new(backend).await;
    let store = test.store.as_ref();
    let holder = store.create_run(locking("orders", SHORT_LEASE)).await.unwrap();
    outlive_short_lease().await;
    assert_eq!(store.mark_abandoned().await.unwrap()[0].id, holder.id);
    let row_count = test.count("flow_locks").await;
    assert_eq!(row_count, 0);
}

backends!(acquire_and_release_for_a_resumed_run);
async fn acquire_and_release_for_a_resumed_run(backend: Backend) {
    let test = TestStore::new(backend).await;
    let store = test.store.as_ref();
    let first = store.create_run(locking("orders", SHORT_LEASE)).await.unwrap();
    store.finish_run(ended(&first.id, RunStatus::Partial)).await.unwrap();
    let second = store.create_run(locking("orders", LEASE)).await.unwrap();

    // `runs retry first` while second runs: resuming with the lock is refused, unchanged.
    let resume = ResumeRun {
        run_id: first.id.clone(),
        lease_owner: OWNER.to_owned(),
        lease: LEASE,
        lock_flow: true,
    };
    assert!(matches!(
        store.resume_run(resume.clone()).await.unwrap_err(),
        StateError::FlowLocked { .. }
    ));
    assert_eq!(store.run(&first.id).await.unwrap().unwrap().status, RunStatus::Partial);

    assert!(store.release_flow_lock("orders", &second.id).await.unwrap());
    assert!(!store.release_flow_lock("orders", &second.id).await.unwrap());
    store.resume_run(resume).await.unwrap();
    assert_eq!(store.flow_lock_holder("orders").await.unwrap(), Some(first.id.clone()));
    // Taking a lock one holds again is fine; taking a held one is not.
    store.acquire_flow_lock("orders", &first.id).await.unwrap();
    assert!(matches!(
        store.acquire_flow_lock("orders", &second.id).await.unwrap_err(),
        StateError::FlowLocked { .. }
    ));
    store.finish_run(ended(&first.id, RunStatus::Success)).await.unwrap();
    store.acquire_flow_lock("orders", &second.id).await.unwrap();
    // Only a running run may take a lock.
    assert!(matches!(
        store.acquire_flow_lock("orders", &first.id).await.unwrap_err(),
        StateError::RunNotRunning { .. }
    ));
}
