use flowrun_state::{CursorUpdate, FinishRun, RunStatus, StateError, StateStore};
use serde_json::{Value, json};

use crate::{Backend, OWNER, SHORT_LEASE, TestStore, backends, create, new_run, outlive_short_lease};

fn finish_with_cursor(run_id: &str, status: RunStatus, cursor: Value) -> FinishRun {
    FinishRun {
        run_id: run_id.to_owned(),
        lease_owner: OWNER.to_owned(),
        status,
        output: None,
        error: None,
        cursors: vec![
            CursorUpdate {
                step_id: "read".to_owned(),
                value: cursor,
            },
            CursorUpdate {
                step_id: "other".to_owned(),
                value: json!(1),
            },
        ],
    }
}

async fn cursor_value(store: &dyn StateStore, step_id: &str) -> Option<Value> {
    store
        .cursor("orders", step_id)
        .await
        .unwrap()
        .map(|cursor| cursor.value)
}

backends!(success_and_partial_commit_their_cursors);
async fn success_and_partial_commit_their_cursors(backend: Backend) {
    let test = TestStore::new(backend).await;
    let store = test.store.as_ref();
    assert_eq!(cursor_value(store, "read").await, None);

    let first = create(store, "orders").await;
    store
        .finish_run(finish_with_cursor(&first.id, RunStatus::Success, json!("2024-01-01")))
        .await
        .unwrap();
    let cursor = store.cursor("orders", "read").await.unwrap().unwrap();
    assert_eq!(cursor.value, json!("2024-01-01"));
    assert_eq!(cursor.run_id, first.id);

    let second = create(store, "orders").await;
    store
        .finish_run(finish_with_cursor(&second.id, RunStatus::Partial, json!({"since": 42})))
        .await
        .unwrap();
    assert_eq!(cursor_value(store, "read").await, Some(json!({"since": 42})));
    let all = store.cursors("orders").await.unwrap();
    assert_eq!(
        all.iter().map(|cursor| cursor.step_id.as_str()).collect::<Vec<_>>(),
        ["other", "read"]
    );
    assert!(all.iter().all(|cursor| cursor.run_id == second.id));
    assert!(store.cursors("another-flow").await.unwrap().is_empty());
}

backends!(failed_and_cancelled_runs_commit_no_cursor);
async fn failed_and_cancelled_runs_commit_no_cursor(backend: Backend) {
    let test = TestStore::new(backend).await;
    let store = test.store.as_ref();
    let first = create(store, "orders").await;
    store
        .finish_run(finish_with_cursor(&first.id, RunStatus::Success, json!(10)))
        .await
        .unwrap();
    for status in [RunStatus::Failed, RunStatus::Cancelled] {
        let run = create(store, "orders").await;
        store
            .finish_run(finish_with_cursor(&run.id, status, json!(99)))
            .await
            .unwrap();
        assert_eq!(store.run(&run.id).await.unwrap().unwrap().status, status);
        assert_eq!(cursor_value(store, "read").await, Some(json!(10)), "{status}");
    }
}

backends!(a_killed_run_commits_no_cursor_and_is_found_abandoned);
async fn a_killed_run_commits_no_cursor_and_is_found_abandoned(backend: Backend) {
    let test = TestStore::new(backend).await;
    let store = test.store.as_ref();
    let first = create(store, "orders").await;
    store
        .finish_run(finish_with_cursor(&first.id, RunStatus::Success, json!(10)))
        .await
        .unwrap();
    let mut short = new_run("orders");
    short.lease = SHORT_LEASE;
    let killed = store.create_run(short).await.unwrap();
    // The process dies here: no finish_run. Another process opens the file.
    drop(test.store.clone());
    outlive_short_lease().await;
    let next = test.reopen().await;
    let abandoned = next.mark_abandoned().await.unwrap();
    assert_eq!(abandoned.iter().map(|run| &run.id).collect::<Vec<_>>(), [&killed.id]);
    assert_eq!(cursor_value(next.as_ref(), "read").await, Some(json!(10)));
}

backends!(the_status_and_the_cursors_commit_together_or_not_at_all);
/// A failure inside the ending transaction, after the status was written and before the
/// cursors were: nothing of it is visible, from this store or from another opened on the database.
async fn the_status_and_the_cursors_commit_together_or_not_at_all(backend: Backend) {
    let test = TestStore::new(backend).await;
    let store = test.store.as_ref();
    let first = create(store, "orders").await;
    store
        .finish_run(finish_with_cursor(&first.id, RunStatus::Success, json!(10)))
        .await
        .unwrap();
    let run = create(store, "orders").await;

    test.execute(
        "CREATE TRIGGER crash_before_cursor BEFORE UPDATE ON cursors \
         BEGIN SELECT RAISE(ABORT, 'simulated crash'); END",
        "CREATE FUNCTION crash() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'simulated crash'; END $$; \
         CREATE TRIGGER crash_before_cursor BEFORE UPDATE ON cursors \
         FOR EACH ROW EXECUTE FUNCTION crash();",
    )
    .await;
    let error = store
        .finish_run(finish_with_cursor(&run.id, RunStatus::Success, json!(20)))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("simulated crash"), "{error:?}");

    let other = test.reopen().await;
    for view in [store, other.as_ref()] {
        let stored = view.run(&run.id).await.unwrap().unwrap();
        assert_eq!(stored.status, RunStatus::Running);
        assert_eq!(stored.ended_at, None);
        assert_eq!(cursor_value(view, "read").await, Some(json!(10)));
        assert_eq!(cursor_value(view, "other").await, Some(json!(1)));
    }

    // Once the cause is gone, the same end commits both.
    test.execute(
        "DROP TRIGGER crash_before_cursor",
        "DROP TRIGGER crash_before_cursor ON cursors",
    )
    .await;
    store
        .finish_run(finish_with_cursor(&run.id, RunStatus::Success, json!(20)))
        .await
        .unwrap();
    let other = test.reopen().await;
    assert_eq!(other.run(&run.id).await.unwrap().unwrap().status, RunStatus::Success);
    assert_eq!(cursor_value(other.as_ref(), "read").await, Some(json!(20)));
}

backends!(a_cursor_too_large_to_keep_whole_fails_the_end_and_changes_nothing);
async fn a_cursor_too_large_to_keep_whole_fails_the_end_and_changes_nothing(backend: Backend) {
    let test = TestStore::with_limits(backend, crate::small_limits()).await;
    let store = test.store.as_ref();
    let run = create(store, "orders").await;
    let huge = json!("x".repeat(100 * 1024));
    let error = store
        .finish_run(finish_with_cursor(&run.id, RunStatus::Success, huge))
        .await
        .unwrap_err();
    assert!(matches!(error, StateError::TooLarge { .. }), "{error}");
    assert_eq!(store.run(&run.id).await.unwrap().unwrap().status, RunStatus::Running);
    assert_eq!(cursor_value(store, "read").await, None);
}
