use std::sync::Arc;

use flowrun_state::{StateError, StateStore, StepStatus, truncation_marker};
use serde_json::{Value, json};

use crate::{Backend, TestStore, backends, create, small_limits, step};

backends!(results_upsert_and_read_back_by_step_then_item);
async fn results_upsert_and_read_back_by_step_then_item(backend: Backend) {
    let test = TestStore::new(backend).await;
    let store = test.store.as_ref();
    let run = create(store, "orders").await;
    let record = |step_id: &str, item: Option<u64>| step(&run.id, step_id, item, json!({"n": item}));

    // The engine records as things finish: items out of order, a step started then done.
    let mut started = record("write", None);
    started.status = StepStatus::Running;
    started.output = None;
    started.ended_at = None;
    store.record_step(record("fetch", None)).await.unwrap();
    store.record_step(started).await.unwrap();
    for index in [2, 0, 1] {
        store.record_step(record("write", Some(index))).await.unwrap();
    }
    let mut retried = record("write", Some(0));
    retried.attempts = 3;
    retried.status = StepStatus::Broken;
    retried.error = Some(json!({"kind": "5xx", "message": "HTTP 503"}));
    store.record_step(retried.clone()).await.unwrap();
    store.record_step(record("write", None)).await.unwrap();

    let records = store.step_records(&run.id).await.unwrap();
    let keys: Vec<_> = records
        .iter()
        .map(|record| (record.step_id.as_str(), record.item_index))
        .collect();
    assert_eq!(
        keys,
        [
            ("fetch", None),
            ("write", None),
            ("write", Some(0)),
            ("write", Some(1)),
            ("write", Some(2))
        ]
    );
    assert_eq!(records[1].status, StepStatus::Success);
    assert_eq!(records[2], retried);
    assert_eq!(records[3], record("write", Some(1)));
    assert_eq!(records[3].item_key.as_deref(), Some("order-1"));
    assert_eq!(records[3].duration, Some(std::time::Duration::from_micros(250_123)));
    assert!(store.step_records("no-such-run").await.unwrap().is_empty());
}

backends!(a_result_for_an_unknown_run_is_refused);
async fn a_result_for_an_unknown_run_is_refused(backend: Backend) {
    let test = TestStore::new(backend).await;
    let error = test
        .store
        .record_step(step("no-such-run", "fetch", None, json!(1)))
        .await
        .unwrap_err();
    assert!(matches!(error, StateError::Backend { .. }), "{error}");
    assert!(
        error.to_string().contains("recording step `fetch` of run no-such-run"),
        "{error}"
    );
}

backends!(large_outputs_are_compressed_and_huge_ones_truncated_visibly);
/// Large outputs are stored compressed (smaller than their JSON) and read back whole;
/// outputs over the hard limit are stored and read back as the marker.
async fn large_outputs_are_compressed_and_huge_ones_truncated_visibly(backend: Backend) {
    let test = TestStore::with_limits(backend, small_limits()).await;
    let store = test.store.as_ref();
    let run = create(store, "orders").await;
    let large: Value = json!(
        (0..400)
            .map(|i| json!({"id": i, "name": "customer"}))
            .collect::<Vec<_>>()
    );
    let large_bytes = serde_json::to_vec(&large).unwrap().len();
    assert!(large_bytes > 1024 && large_bytes < 64 * 1024);
    let huge = json!({"blob": "y".repeat(100 * 1024)});
    let huge_bytes = serde_json::to_vec(&huge).unwrap().len() as u64;

    store
        .record_step(step(&run.id, "small", None, json!([1])))
        .await
        .unwrap();
    store
        .record_step(step(&run.id, "large", None, large.clone()))
        .await
        .unwrap();
    store.record_step(step(&run.id, "huge", None, huge)).await.unwrap();

    let records = store.step_records(&run.id).await.unwrap();
    assert_eq!(records[0].output, Some(json!([1]).into()));
    assert_eq!(records[1].output, Some(large.into()));
    assert_eq!(records[2].output, Some(truncation_marker(huge_bytes).into()));
    assert_eq!(
        records[2].output,
        Some(json!({"$truncated": true, "original_bytes": huge_bytes}).into())
    );

    // Stored: plain JSON text for small values, smaller zstd bytes for large ones (SQLite: a
    // BLOB; Postgres: `bytea` starting with zstd's magic number, which JSON text never does).
    let stored = stored_outputs(&test).await;
    assert_eq!(stored[0].1, "text");
    assert_eq!(stored[1].1, "zstd");
    assert!((stored[1].2 as usize) < large_bytes / 4, "{stored:?}");
    assert_eq!(stored[2].1, "text");
}

/// (step, "text" or "zstd", stored bytes) of each step row, in the order written.
async fn stored_outputs(test: &TestStore) -> Vec<(String, String, i64)> {
    match test.backend {
        Backend::Sqlite => sqlx::query_as(
            "SELECT step_id, CASE typeof(output_json) WHEN 'blob' THEN 'zstd' ELSE typeof(output_json) END, \
             length(CAST(output_json AS BLOB)) FROM step_executions ORDER BY id",
        )
        .fetch_all(&mut test.sqlite_connection().await)
        .await
        .unwrap(),
        Backend::Postgres => sqlx::query_as(
            "SELECT step_id, CASE WHEN substring(output_json FROM 1 FOR 4) = '\\x28b52ffd'::bytea \
             THEN 'zstd' ELSE 'text' END, length(output_json)::int8 FROM step_executions ORDER BY id",
        )
        .fetch_all(&mut test.postgres_connection().await)
        .await
        .unwrap(),
    }
}

backends!(concurrent_writers_all_land);
async fn concurrent_writers_all_land(backend: Backend) {
    let test = TestStore::new(backend).await;
    let store: Arc<dyn StateStore> = Arc::clone(&test.store);
    let run = create(store.as_ref(), "orders").await;
    let mut tasks = Vec::new();
    for task in 0..8u64 {
        let store = Arc::clone(&store);
        let run_id = run.id.clone();
        tasks.push(tokio::spawn(async move {
            for item in 0..25u64 {
                let index = task * 25 + item;
                let record = step(&run_id, &format!("step_{task}"), Some(item), json!({"i": index}));
                store.record_step(record).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let records = test.reopen().await.step_records(&run.id).await.unwrap();
    assert_eq!(records.len(), 200);
    for record in &records {
        let task: u64 = record.step_id["step_".len()..].parse().unwrap();
        let index = task * 25 + record.item_index.unwrap();
        assert_eq!(record.output, Some(json!({"i": index}).into()));
    }
}

backends!(
    concurrent_results_are_all_committed_and_a_bad_one_fails_alone,
    multi_thread
);
/// Results that finish together share commits; each caller still hears of its own record, and
/// one bad record fails alone.
async fn concurrent_results_are_all_committed_and_a_bad_one_fails_alone(backend: Backend) {
    let test = TestStore::new(backend).await;
    let store = test.store.clone();
    let run = create(store.as_ref(), "fanout").await;
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..300u64 {
        let (store, run_id) = (store.clone(), run.id.clone());
        tasks.spawn(async move {
            let run_id = if index == 150 { "no-such-run".to_owned() } else { run_id };
            (
                index,
                store
                    .record_step(step(&run_id, "each", Some(index), json!({"n": index})))
                    .await,
            )
        });
    }
    let mut failed = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (index, result) = joined.unwrap();
        if result.is_err() {
            failed.push(index);
        }
    }
    assert_eq!(failed, [150]);
    let records = store.step_records(&run.id).await.unwrap();
    assert_eq!(records.len(), 299);
    assert!(records.iter().all(|record| record.item_index != Some(150)));
}
