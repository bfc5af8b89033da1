//! SQLite only: paths against `files_dir`, URL forms, the in-memory database, storage classes.

use std::sync::Arc;

use flowrun_connect::module::ErrorKind;
use serde_json::json;

use crate::{Db, assert_kind, call_with, context, registry};

#[tokio::test]
async fn relative_paths_resolve_in_the_files_dir() {
    let db = Db::sqlite().await;
    db.execute("CREATE TABLE t (x INTEGER)").await;
    assert!(
        db.dir.path().join("data/test.db").is_file(),
        "the file and its folder are made"
    );
    // Nested folders, and `sqlite:` without `//`.
    let registry = registry();
    for (url, path) in [("sqlite://a/b/c.db", "a/b/c.db"), ("sqlite:plain.db", "plain.db")] {
        let context = context(&db.dir, json!({ "url": url }));
        call_with(&registry, &context, "execute", json!({ "sql": "CREATE TABLE t (x)" }))
            .await
            .unwrap();
        assert!(db.dir.path().join(path).is_file(), "{url}");
    }
    // An absolute path ignores the folder.
    let elsewhere = tempfile::tempdir().unwrap();
    let absolute = elsewhere.path().join("abs.db");
    let context = context(&db.dir, json!({ "url": format!("sqlite://{}", absolute.display()) }));
    call_with(&registry, &context, "execute", json!({ "sql": "CREATE TABLE t (x)" }))
        .await
        .unwrap();
    assert!(absolute.is_file());
}

#[tokio::test]
async fn each_files_dir_has_its_own_database() {
    // `flowrun test` runs each case in a scratch folder with the same connection and URL.
    let registry = registry();
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let config = json!({ "url": "sqlite://state.db" });
    let first = context(&one, config.clone());
    let second = context(&two, config);
    call_with(
        &registry,
        &first,
        "execute",
        json!({ "sql": "CREATE TABLE only_here (x)" }),
    )
    .await
    .unwrap();
    let missing = call_with(&registry, &second, "query", json!({ "sql": "SELECT * FROM only_here" }))
        .await
        .unwrap_err();
    assert_kind(&missing, ErrorKind::Client, &["no such table: only_here"]);
}

#[tokio::test]
async fn files_are_in_wal_mode() {
    let db = Db::sqlite().await;
    assert_eq!(db.rows("PRAGMA journal_mode").await, json!([{ "journal_mode": "wal" }]));
    assert_eq!(db.rows("PRAGMA foreign_keys").await, json!([{ "foreign_keys": 1 }]));
}

#[tokio::test]
async fn read_only_mode() {
    let db = Db::sqlite().await;
    db.execute("CREATE TABLE t (x INTEGER)").await;
    db.ok("insert", json!({ "table": "t", "rows": [{ "x": 1 }] })).await;
    let read_only = db.with(json!({ "url": "sqlite://data/test.db?mode=ro" }));
    let rows = call_with(&db.registry, &read_only, "query", json!({ "sql": "SELECT x FROM t" }))
        .await
        .unwrap();
    assert_eq!(rows, json!([{ "x": 1 }]));
    let refused = call_with(
        &db.registry,
        &read_only,
        "insert",
        json!({ "table": "t", "rows": [{ "x": 2 }] }),
    )
    .await
    .unwrap_err();
    assert_kind(&refused, ErrorKind::Client, &["readonly"]);
    let unknown = db.with(json!({ "url": "sqlite://data/test.db?cache=shared" }));
    let error = call_with(&db.registry, &unknown, "query", json!({ "sql": "SELECT 1" }))
        .await
        .unwrap_err();
    assert_kind(
        &error,
        ErrorKind::Invalid,
        &["unknown SQLite URL option `cache=shared`"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_database_per_connection() {
    let registry = registry();
    let dir = tempfile::tempdir().unwrap();
    let memory = context(&dir, json!({ "url": "sqlite::memory:" }));
    call_with(&registry, &memory, "execute", json!({ "sql": "CREATE TABLE t (x)" }))
        .await
        .unwrap();
    call_with(
        &registry,
        &memory,
        "insert",
        json!({ "table": "t", "rows": [{ "x": 1 }, { "x": 2 }] }),
    )
    .await
    .unwrap();
    // Later calls of the connection see the same database, also many at once.
    let registry = Arc::new(registry);
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (registry, memory) = (registry.clone(), memory.clone());
            tokio::spawn(async move {
                call_with(
                    &registry,
                    &memory,
                    "query",
                    json!({ "sql": "SELECT count(*) AS n FROM t" }),
                )
                .await
            })
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.await.unwrap().unwrap(), json!([{ "n": 2 }]));
    }
    // Another connection has another database.
    let other = memory
        .clone()
        .with_connection("other", json!({ "url": "sqlite::memory:" }));
    let missing = call_with(&registry, &other, "query", json!({ "sql": "SELECT * FROM t" }))
        .await
        .unwrap_err();
    assert_kind(&missing, ErrorKind::Client, &["no such table: t"]);
    assert!(!dir.path().join(":memory:").exists());
}

#[tokio::test]
async fn values_by_storage_class() {
    let db = Db::sqlite().await;
    db.execute("CREATE TABLE v (i INTEGER, r REAL, t TEXT, b BLOB, flag BOOLEAN, any_value)")
        .await;
    db.ok(
        "execute",
        json!({
            "sql": "INSERT INTO v VALUES (?1, ?2, ?3, X'00FF', ?4, ?5), (?6, 9e999, NULL, NULL, 2, ?7)",
            "params": [i64::MIN, 0.5, "tekst", true, { "a": [1] }, u64::MAX, [1, "x"]],
        }),
    )
    .await;
    let rows = db
        .rows("SELECT i, r, t, b, flag, any_value FROM v ORDER BY rowid")
        .await;
    assert_eq!(
        rows,
        json!([
            { "i": i64::MIN, "r": 0.5, "t": "tekst", "b": "AP8=", "flag": true, "any_value": r#"{"a":[1]}"# },
            // An integer beyond 64 bits is stored as REAL, as SQLite stores such a literal.
            { "i": u64::MAX as f64, "r": "Infinity", "t": null, "b": null, "flag": 2, "any_value": r#"[1,"x"]"# },
        ])
    );
}

#[tokio::test]
async fn connection_errors() {
    let db = Db::sqlite().await;
    // The parent "folder" is a file.
    std::fs::write(db.dir.path().join("file"), b"x").unwrap();
    let blocked = db.with(json!({ "url": "sqlite://file/x.db" }));
    let error = call_with(&db.registry, &blocked, "query", json!({ "sql": "SELECT 1" }))
        .await
        .unwrap_err();
    assert_kind(
        &error,
        ErrorKind::Invalid,
        &["connection `db`", "cannot create the folder"],
    );
    let empty = db.with(json!({ "url": "sqlite://" }));
    let error = call_with(&db.registry, &empty, "query", json!({ "sql": "SELECT 1" }))
        .await
        .unwrap_err();
    assert_kind(&error, ErrorKind::Invalid, &["names no file"]);
    let mysql = db.with(json!({ "url": "mysql://db/app" }));
    let error = call_with(&db.registry, &mysql, "query", json!({ "sql": "SELECT 1" }))
        .await
        .unwrap_err();
    assert_kind(&error, ErrorKind::Invalid, &["none of `sqlite://PATH`"]);
    let mut no_connection = db.context.clone();
    no_connection.connection = None;
    let error = call_with(&db.registry, &no_connection, "query", json!({ "sql": "SELECT 1" }))
        .await
        .unwrap_err();
    assert_kind(&error, ErrorKind::Invalid, &["needs a connection"]);
    let syntax = db.err("query", json!({ "sql": "SELEC 1" })).await;
    assert_kind(&syntax, ErrorKind::Client, &["sql.query `SELEC 1`: ", "syntax error"]);
    for params in [json!([1]), json!([1, 2, 3])] {
        let mismatch = db
            .err(
                "query",
                json!({ "sql": "SELECT ?1 AS a, ?2 AS b", "params": params.clone() }),
            )
            .await;
        let message = format!(
            "has 2 placeholder(s) but `params` has {} value(s)",
            params.as_array().unwrap().len()
        );
        assert_kind(&mismatch, ErrorKind::Invalid, &[&message]);
    }
}

#[tokio::test]
async fn with_blocks_are_checked() {
    let db = Db::sqlite().await;
    let cases = [
        (
            "insert",
            json!({ "table": "t", "rows": [{ "a": 1 }, 2] }),
            "`rows[1]`: a number is not an object",
        ),
        (
            "insert",
            json!({ "table": "t", "rows": "{{ not rendered }}" }),
            "`rows`: a string is neither a list",
        ),
        ("insert", json!({ "table": "t" }), "missing field `rows`"),
        (
            "insert",
            json!({ "table": "t", "rows": [], "colour": 1 }),
            "unknown field `colour`",
        ),
        (
            "upsert",
            json!({ "table": "t", "rows": [{ "a": 1 }], "key": [] }),
            "`key` names no column",
        ),
        (
            "upsert",
            json!({ "table": "t", "rows": [{ "a": 1 }], "key": "a" }),
            "`key`",
        ),
        ("query", json!({ "sql": "SELECT 1", "params": { "a": 1 } }), "`params`"),
        ("query", json!({ "params": [] }), "missing field `sql`"),
    ];
    for (module, params, why) in cases {
        let error = db.err(module, params).await;
        assert_kind(
            &error,
            ErrorKind::Invalid,
            &[&format!("invalid `with` of sql.{module}"), why],
        );
    }
    assert!(
        !db.dir.path().join("data").exists(),
        "a wrong `with:` block opens no database"
    );
}
