use flowrun_state::{SqliteStore, StateError, StateStore};

use crate::{SqliteTest, create, url_in};

#[tokio::test]
async fn a_fresh_file_gets_the_schema_and_a_reopened_one_keeps_its_data() {
    let test = SqliteTest::new().await;
    assert!(test.path().exists());
    let run = create(&test.store, "orders").await;
    test.store.close().await;

    // Opening again applies no migration twice and finds the run.
    let again = test.reopen().await;
    assert_eq!(again.run(&run.id).await.unwrap().unwrap(), run);
    let third = test.reopen().await;
    assert_eq!(third.list_runs(&Default::default()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_journal_is_wal() {
    let test = SqliteTest::new().await;
    create(&test.store, "orders").await;
    let wal = test.path().with_file_name("state.db-wal");
    assert!(wal.exists(), "expected {}", wal.display());
}

#[cfg(unix)]
#[tokio::test]
async fn the_file_and_its_journal_are_private_to_the_owner() {
    use std::os::unix::fs::PermissionsExt;

    let test = SqliteTest::new().await;
    create(&test.store, "orders").await;
    for name in ["state.db", "state.db-wal", "state.db-shm"] {
        let path = test.path().with_file_name(name);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name}: {mode:o}");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn an_existing_file_readable_by_others_is_narrowed_to_the_owner() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/state.db");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let _store = SqliteStore::open(&url_in(&dir)).await.unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[tokio::test]
async fn bad_urls_are_refused_with_the_reason() {
    for (url, reason) in [
        ("mysql://localhost/x", "unsupported scheme"),
        ("sqlite://", "the path is empty"),
        ("sqlite://:memory:", "must be a file path"),
        ("sqlite://state.db?mode=rwc", "query parameters"),
    ] {
        let error = flowrun_state::open(url).await.err().unwrap();
        assert!(
            matches!(&error, StateError::InvalidUrl { .. }) && error.to_string().contains(reason),
            "{url}: {error}"
        );
    }
}

#[tokio::test]
async fn relative_urls_resolve_against_the_project_folder() {
    let base = std::path::Path::new("/srv/project");
    assert_eq!(
        flowrun_state::resolve_sqlite_url(flowrun_state::DEFAULT_URL, base).unwrap(),
        "sqlite:///srv/project/.flowrun/state.db"
    );
    assert_eq!(
        flowrun_state::resolve_sqlite_url("sqlite:///var/state.db", base).unwrap(),
        "sqlite:///var/state.db"
    );
}

#[tokio::test]
async fn the_store_is_usable_as_a_shared_trait_object() {
    let dir = tempfile::tempdir().unwrap();
    let store = flowrun_state::open(&url_in(&dir)).await.unwrap();
    let run = create(store.as_ref(), "orders").await;
    let shared = std::sync::Arc::clone(&store);
    let found = tokio::spawn(async move { shared.run(&run.id).await.unwrap() })
        .await
        .unwrap();
    assert!(found.is_some());
}

/// Migration 3 rebuilds `step_executions` without AUTOINCREMENT: a store written by an
/// earlier version keeps every row and id, reads its steps in the same order, and new rows
/// come after the old ones.
#[tokio::test]
async fn a_store_of_schema_version_2_is_upgraded_with_its_step_results() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

    let dir = tempfile::tempdir().unwrap();
    let url = url_in(&dir);
    let path = dir.path().join("state/state.db");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let all = sqlx::migrate::Migrator::new(migrations.as_path()).await.unwrap();
    let first_two = sqlx::migrate::Migrator {
        migrations: all.migrations.iter().filter(|m| m.version <= 2).cloned().collect(),
        ..sqlx::migrate::Migrator::DEFAULT
    };
    assert_eq!(first_two.migrations.len(), 2);
    let pool = SqlitePoolOptions::new()
        .connect_with(SqliteConnectOptions::new().filename(&path).create_if_missing(true))
        .await
        .unwrap();
    first_two.run(&pool).await.unwrap();
    sqlx::raw_sql(
        "INSERT INTO runs (id, flow_id, flow_version, status, created_at) VALUES ('r1', 'old', 'v', 'success', 1);
         INSERT INTO step_executions (run_id, step_id, item_index, status, attempts, output_json)
         VALUES ('r1', 'zeta', -1, 'success', 1, '[1]'), ('r1', 'alpha', -1, 'success', 1, '[2]'),
                ('r1', 'each', 1, 'success', 1, '\"b\"'), ('r1', 'each', 0, 'success', 1, '\"a\"');",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let store = SqliteStore::open(&url).await.unwrap();
    let read = |records: Vec<flowrun_state::StepRecord>| {
        records
            .into_iter()
            .map(|record| {
                (
                    record.step_id,
                    record.item_index,
                    record.output.unwrap().to_value().unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    let before = vec![
        ("zeta".to_owned(), None, serde_json::json!([1])),
        ("alpha".to_owned(), None, serde_json::json!([2])),
        ("each".to_owned(), Some(0), serde_json::json!("a")),
        ("each".to_owned(), Some(1), serde_json::json!("b")),
    ];
    assert_eq!(read(store.step_records("r1").await.unwrap()), before);
    store
        .record_step(crate::step("r1", "omega", None, serde_json::json!({"new": true})))
        .await
        .unwrap();
    let mut after = before;
    after.push(("omega".to_owned(), None, serde_json::json!({"new": true})));
    assert_eq!(read(store.step_records("r1").await.unwrap()), after);
    store.close().await;

    let schema: String = {
        let pool = SqlitePoolOptions::new()
            .connect_with(SqliteConnectOptions::new().filename(&path))
            .await
            .unwrap();
        let (sql,): (String,) =
            sqlx::query_as("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'step_executions'")
                .fetch_one(&pool)
                .await
                .unwrap();
        pool.close().await;
        sql
    };
    assert!(!schema.contains("AUTOINCREMENT"), "{schema}");
}
