use flowrun_state::{FinishRun, ResumeRun, RunFilter, RunStatus, StateError};
use serde_json::json;

use crate::{Backend, LEASE, OWNER, SHORT_LEASE, TestStore, backends, create, new_run, outlive_short_lease, step};

fn finish(run_id: &str, status: RunStatus) -> FinishRun {
    FinishRun {
        run_id: run_id.to_owned(),
        lease_owner: OWNER.to_owned(),
        status,
        output: Some(json!({"written": 3})),
        error: None,
        cursors: Vec::new(),
    }
}

backends!(a_run_lives_from_creation_through_heartbeats_to_its_end);
async fn a_run_lives_from_creation_through_heartbeats_to_its_end(backend: Backend) {
    let test = TestStore::new(backend).await;
    let store = test.store.as_ref();
    let run = create(store, "orders").await;
    assert_eq!(run.status, RunStatus::Running);
    assert_eq!(uuid::Uuid::parse_str(&run.id).unwrap().get_version_num(), 7);
    assert_eq!(run.trigger, Some(json!({"event": "created", "id": 7})));
    assert_eq!(store.run(&run.id).await.unwrap().unwrap(), run);

    let expires = store.heartbeat(&run.id, OWNER, LEASE * 2).await.unwrap();
    assert!(expires > run.lease_expires_at.unwrap());
    assert_eq!(
        store.run(&run.id).await.unwrap().unwrap().lease_expires_at,
        Some(expires)
    );

    store
        .record_step(step(&run.id, "fetch", None, json!([1, 2, 3])))
        .await
        .unwrap();
    store.finish_run(finish(&run.id, RunStatus::Success)).await.unwrap();

    let detail = store.run_detail(&run.id).await.unwrap().unwrap();
    assert_eq!(detail.run.status, RunStatus::Success);
    assert_eq!(detail.run.output, Some(json!({"written": 3})));
    assert!(detail.run.ended_at.unwrap() >= detail.run.started_at.unwrap());
    assert_eq!(detail.run.lease_expires_at, None);
    assert_eq!(detail.steps.len(), 1);
    assert!(detail.incomplete.is_empty());
    assert_eq!(store.run_detail("no-such-run").await.unwrap(), None);
}

backends!(a_run_ends_once_with_a_final_status_by_its_owner);
async fn a_run_ends_once_with_a_final_status_by_its_owner(backend: Backend) {
    let test = TestStore::new(backend).await;
    let store = test.store.as_ref();
    let run = create(store, "orders").await;

    let error = store
        .finish_run(finish(&run.id, RunStatus::Abandoned))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            StateError::NotFinal {
                status: RunStatus::Abandoned
            }
        ),
        "{error}"
    );
    let mut stranger = finish(&run.id, RunStatus::Success);
    stranger.lease_owner = "other-host:2".to_owned();
    let error = store.finish_run(stranger).await.unwrap_err();
    assert!(
        matches!(&error, StateError::LeaseLost { holder, .. } if holder == OWNER),
        "{error}"
    );
    let error = store.heartbeat(&run.id, "other-host:2", LEASE).await.unwrap_err();
    assert!(matches!(error, StateError::LeaseLost { .. }), "{error}");

    let mut failed = finish(&run.id, RunStatus::Failed);
    failed.error = Some(json!({"step": "write", "message": "HTTP 500"}));
    failed.output = None;
    store.finish_run(failed).await.unwrap();
    let error = store.finish_run(finish(&run.id, RunStatus::Success)).await.unwrap_err();
    assert!(
        matches!(
            error,
            StateError::RunNotRunning {
                status: RunStatus::Failed,
                ..
            }
        ),
        "{error}"
    );
    let stored = store.run(&run.id).await.unwrap().unwrap();
    assert_eq!(stored.status, RunStatus::Failed);
    assert_eq!(stored.error, Some(json!({"step": "write", "message": "HTTP 500"})));
    let error = store
        .finish_run(finish("missing", RunStatus::Success))
        .await
        .unwrap_err();
    assert!(matches!(error, StateError::RunNotFound { .. }), "{error}");
}

backends!(runs_are_listed_newest_first_by_flow_and_status);
async fn runs_are_listed_newest_first_by_flow_and_status(backend: Backend) {
    let test = TestStore::new(backend).await;
    let store = test.store.as_ref();
    let mut ids = Vec::new();
    for flow in ["a", "b", "a", "a"] {
        ids.push(create(store, flow).await.id);
    }
    store.finish_run(finish(&ids[2], RunStatus::Failed)).await.unwrap();

    let all = store.list_runs(&RunFilter::default()).await.unwrap();
    let listed: Vec<_> = all.iter().map(|run| run.id.clone()).collect();
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(listed, newest_first);

    let of_a = store
        .list_runs(&RunFilter {
            flow_id: Some("a".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        of_a.iter().map(|run| &run.id).collect::<Vec<_>>(),
        [&ids[3], &ids[2], &ids[0]]
    );
    let failed = store
        .list_runs(&RunFilter {
            status: Some(RunStatus::Failed),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].id, ids[2]);
    let running_a = store
        .list_runs(&RunFilter {
            flow_id: Some("a".into()),
            status: Some(RunStatus::Running),
            limit: 1,
        })
        .await
        .unwrap();
    assert_eq!(running_a.iter().map(|run| &run.id).collect::<Vec<_>>(), [&ids[3]]);
}

backends!(only_runs_whose_lease_expired_are_marked_abandoned);
async fn only_runs_whose_lease_expired_are_marked_abandoned(backend: Backend) {
    let test = TestStore::new(backend).await;
    let store = test.store.as_ref();
    let live = create(store, "orders").await;
    let mut short = new_run("orders");
    short.lease = SHORT_LEASE;
    let dying = store.create_run(short.clone()).await.unwrap();
    let ended = store.create_run(short).await.unwrap();
    store.finish_run(finish(&ended.id, RunStatus::Success)).await.unwrap();

    assert!(store.mark_abandoned().await.unwrap().is_empty());
    outlive_short_lease().await;
    let abandoned = store.mark_abandoned().await.unwrap();
    assert_eq!(abandoned.iter().map(|run| &run.id).collect::<Vec<_>>(), [&dying.id]);
    assert_eq!(abandoned[0].status, RunStatus::Abandoned);
    assert!(abandoned[0].ended_at.is_some());
    assert!(store.mark_abandoned().await.unwrap().is_empty());

    let status = |id: String| async move { store.run(&id).await.unwrap().unwrap().status };
    assert_eq!(status(live.id.clone()).await, RunStatus::Running);
    assert_eq!(status(ended.id.clone()).await, RunStatus::Success);

    // The dead run's process, if it wakes up, learns it lost the run.
    let error = store.heartbeat(&dying.id, OWNER, LEASE).await.unwrap_err();
    assert!(
        matches!(
            error,
            StateError::RunNotRunning {
                status: RunStatus::Abandoned,
                ..
            }
        ),
        "{error}"
    );
    let error = store
        .finish_run(finish(&dying.id, RunStatus::Success))
        .await
        .unwrap_err();
    assert!(matches!(error, StateError::RunNotRunning { .. }), "{error}");
}

backends!(an_abandoned_or_ended_run_resumes_but_a_live_one_does_not);
async fn an_abandoned_or_ended_run_resumes_but_a_live_one_does_not(backend: Backend) {
    let test = TestStore::new(backend).await;
    let store = test.store.as_ref();
    let mut short = new_run("orders");
    short.lease = SHORT_LEASE;
    let run = store.create_run(short).await.unwrap();
    store
        .record_step(step(&run.id, "fetch", None, json!([1])))
        .await
        .unwrap();
    let resume = ResumeRun {
        run_id: run.id.clone(),
        lease_owner: "retry-host:9".to_owned(),
        lease: LEASE,
        lock_flow: false,
    };
    let error = store.resume_run(resume.clone()).await.unwrap_err();
    assert!(matches!(error, StateError::RunBusy { .. }), "{error}");

    outlive_short_lease().await;
    assert_eq!(store.mark_abandoned().await.unwrap().len(), 1);
    let resumed = store.resume_run(resume.clone()).await.unwrap();
    assert_eq!(resumed.status, RunStatus::Running);
    assert_eq!(resumed.lease_owner.as_deref(), Some("retry-host:9"));
    assert_eq!(resumed.ended_at, None);
    assert_eq!(resumed.started_at, run.started_at);
    // What finished before is still there to skip.
    assert_eq!(store.step_records(&run.id).await.unwrap().len(), 1);

    let mut done = finish(&run.id, RunStatus::Partial);
    done.lease_owner = "retry-host:9".to_owned();
    store.finish_run(done).await.unwrap();
    let again = store.resume_run(resume).await.unwrap();
    assert_eq!(again.status, RunStatus::Running);
    let missing = ResumeRun {
        run_id: "nope".into(),
        ..resume_for(&run.id)
    };
    assert!(matches!(
        store.resume_run(missing).await.unwrap_err(),
        StateError::RunNotFound { .. }
    ));
}

fn resume_for(run_id: &str) -> ResumeRun {
    ResumeRun {
        run_id: run_id.to_owned(),
        lease_owner: OWNER.to_owned(),
        lease: LEASE,
        lock_flow: false,
    }
}
