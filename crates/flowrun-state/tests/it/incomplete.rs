use flowrun_state::{IncompleteStatus, NewIncomplete, StateError};
use serde_json::json;

use crate::{Backend, TestStore, backends, create, small_limits};

fn broken(run_id: &str, index: u64) -> NewIncomplete {
    NewIncomplete {
        run_id: run_id.to_owned(),
        step_id: "detail".to_owned(),
        item_index: Some(index),
        item_key: Some(format!("order-{index}")),
        inputs: json!({
            "item": {"OrderNumber": index},
            "index": index,
            "steps": {"read": {"output": [{"OrderNumber": index}]}},
        }),
        error: Some(json!({"kind": "5xx", "message": "HTTP 502"})),
    }
}

backends!(incomplete_executions_are_stored_listed_failed_again_and_resolved);
async fn incomplete_executions_are_stored_listed_failed_again_and_resolved(backend: Backend) {
    let test = TestStore::new(backend).await;
    let store = test.store.as_ref();
    let run = create(store, "orders").await;
    let other = create(store, "orders").await;
    let first = store.add_incomplete(broken(&run.id, 3)).await.unwrap();
    let second = store.add_incomplete(broken(&run.id, 7)).await.unwrap();
    store.add_incomplete(broken(&other.id, 1)).await.unwrap();
    assert_eq!(first.status, IncompleteStatus::Open);
    assert_eq!(first.failures, 1);
    assert_eq!(uuid::Uuid::parse_str(&first.id).unwrap().get_version_num(), 7);

    let listed = store.list_incomplete(&run.id, None).await.unwrap();
    assert_eq!(listed, [first.clone(), second.clone()]);
    assert_eq!(listed[0].inputs["steps"]["read"]["output"][0]["OrderNumber"], json!(3));

    let failed = store
        .fail_incomplete(&first.id, Some(json!({"kind": "timeout"})))
        .await
        .unwrap();
    assert_eq!(failed.failures, 2);
    assert_eq!(failed.error, Some(json!({"kind": "timeout"})));
    assert_eq!(failed.status, IncompleteStatus::Open);

    let resolved = store.resolve_incomplete(&second.id).await.unwrap();
    assert_eq!(resolved.status, IncompleteStatus::Resolved);
    let resolved_at = resolved.resolved_at.unwrap();
    assert_eq!(
        store.resolve_incomplete(&second.id).await.unwrap().resolved_at,
        Some(resolved_at)
    );

    let open = store
        .list_incomplete(&run.id, Some(IncompleteStatus::Open))
        .await
        .unwrap();
    assert_eq!(open.iter().map(|i| &i.id).collect::<Vec<_>>(), [&first.id]);
    let done = store
        .list_incomplete(&run.id, Some(IncompleteStatus::Resolved))
        .await
        .unwrap();
    assert_eq!(done.iter().map(|i| &i.id).collect::<Vec<_>>(), [&second.id]);
    let detail = store.run_detail(&run.id).await.unwrap().unwrap();
    assert_eq!(detail.incomplete.len(), 2);

    assert!(matches!(
        store.resolve_incomplete("nope").await.unwrap_err(),
        StateError::IncompleteNotFound { .. }
    ));
    assert!(matches!(
        store.fail_incomplete("nope", None).await.unwrap_err(),
        StateError::IncompleteNotFound { .. }
    ));
}

backends!(inputs_are_kept_whole_compressed_or_refused);
async fn inputs_are_kept_whole_compressed_or_refused(backend: Backend) {
    let test = TestStore::with_limits(backend, small_limits()).await;
    let store = test.store.as_ref();
    let run = create(store, "orders").await;
    let mut large = broken(&run.id, 1);
    large.inputs = json!({"item": (0..500).collect::<Vec<_>>(), "index": 1});
    let stored = store.add_incomplete(large.clone()).await.unwrap();
    assert_eq!(store.list_incomplete(&run.id, None).await.unwrap(), [stored]);
    assert_eq!(
        store.list_incomplete(&run.id, None).await.unwrap()[0].inputs,
        large.inputs
    );

    let mut huge = broken(&run.id, 2);
    huge.inputs = json!({"item": "z".repeat(100 * 1024)});
    assert!(matches!(
        store.add_incomplete(huge).await.unwrap_err(),
        StateError::TooLarge { .. }
    ));
    assert_eq!(store.list_incomplete(&run.id, None).await.unwrap().len(), 1);
}
