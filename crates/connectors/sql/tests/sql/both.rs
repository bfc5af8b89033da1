//! Every module on both backends, with the same flows of calls.

use std::time::{Duration, Instant};

use flowrun_connect::module::ErrorKind;
use serde_json::{Value as Json, json};
use tokio_util::sync::CancellationToken;

use crate::{Backend, Db, assert_kind, call_with, on_both};

on_both!(
    query_and_execute,
    insert_rows,
    upsert_twice,
    duplicate_keys_in_one_call,
    absent_columns_are_kept,
    create_and_evolve,
    missing_table_or_column,
    batch_of_10000,
    bad_row_rolls_back,
    identifiers_are_refused,
    upsert_needs_a_unique_index,
    cancellation,
    timeout,
);

const ORDERS: &str = "CREATE TABLE orders (id BIGINT PRIMARY KEY, name TEXT, qty INTEGER, \
                      price DOUBLE PRECISION, active BOOLEAN, note TEXT)";

fn column(rows: &Json, name: &str) -> Vec<Json> {
    rows.as_array().unwrap().iter().map(|row| row[name].clone()).collect()
}

async fn query_and_execute(db: &Db) {
    assert_eq!(
        db.ok("execute", json!({ "sql": ORDERS })).await,
        json!({ "rows_affected": 0 })
    );
    let inserted = db
        .ok(
            "execute",
            json!({
                "sql": db.sql("INSERT INTO orders (id, name, qty, price, active) VALUES ({1}, {2}, {3}, {4}, {5}), ({6}, {7}, {8}, {9}, {10})"),
                "params": [1, "a", 5, 2.5, true, 2, "b", null, -1, false],
            }),
        )
        .await;
    assert_eq!(inserted, json!({ "rows_affected": 2 }));
    let rows = db
        .ok(
            "query",
            json!({ "sql": db.sql("SELECT name, id, price, active, note, qty FROM orders WHERE id >= {1} ORDER BY id"), "params": [1] }),
        )
        .await;
    assert_eq!(
        rows,
        json!([
            { "name": "a", "id": 1, "price": 2.5, "active": true, "note": null, "qty": 5 },
            { "name": "b", "id": 2, "price": -1.0, "active": false, "note": null, "qty": null },
        ])
    );
    let order: Vec<&String> = rows[0].as_object().unwrap().keys().collect();
    assert_eq!(
        order,
        ["name", "id", "price", "active", "note", "qty"],
        "column order is kept"
    );
    // A string where the column is an integer: Postgres reads it as its type, SQLite by affinity.
    let found = db
        .ok(
            "query",
            json!({ "sql": db.sql("SELECT id FROM orders WHERE id = {1}"), "params": ["2"] }),
        )
        .await;
    assert_eq!(found, json!([{ "id": 2 }]));
    let none = db
        .ok(
            "query",
            json!({ "sql": db.sql("SELECT id FROM orders WHERE id = {1}"), "params": [99] }),
        )
        .await;
    assert_eq!(none, json!([]));
    let updated = db
        .ok(
            "execute",
            json!({ "sql": db.sql("UPDATE orders SET qty = 7 WHERE active = {1}"), "params": [true] }),
        )
        .await;
    assert_eq!(updated, json!({ "rows_affected": 1 }));
    // Without params, several statements at once (a script).
    let script = db
        .ok(
            "execute",
            json!({ "sql": "UPDATE orders SET note = 'x' WHERE id = 1; DELETE FROM orders WHERE id = 2" }),
        )
        .await;
    assert_eq!(script, json!({ "rows_affected": 2 }));
    assert_eq!(
        db.rows("SELECT id, note, qty FROM orders").await,
        json!([{ "id": 1, "note": "x", "qty": 7 }])
    );
    // An empty result of a statement that returns no rows.
    let nothing = db
        .ok("query", json!({ "sql": "DELETE FROM orders WHERE id = 42" }))
        .await;
    assert_eq!(nothing, json!([]));
}

async fn insert_rows(db: &Db) {
    db.execute(ORDERS).await;
    let inserted = db
        .ok(
            "insert",
            json!({ "table": "orders", "rows": [
                { "id": 1, "name": "a", "qty": 1 },
                { "id": 2, "name": "'); DROP TABLE orders; --", "active": true },
            ] }),
        )
        .await;
    assert_eq!(inserted, json!({ "rows_affected": 2 }));
    // One object is one row.
    let one = db.ok("insert", json!({ "table": "orders", "rows": { "id": 3 } })).await;
    assert_eq!(one, json!({ "rows_affected": 1 }));
    let rows = db.rows("SELECT id, name, qty, active FROM orders ORDER BY id").await;
    assert_eq!(
        rows,
        json!([
            { "id": 1, "name": "a", "qty": 1, "active": null },
            { "id": 2, "name": "'); DROP TABLE orders; --", "qty": null, "active": true },
            { "id": 3, "name": null, "qty": null, "active": null },
        ])
    );
    let duplicate = db
        .err("insert", json!({ "table": "orders", "rows": [{ "id": 1 }] }))
        .await;
    assert_kind(&duplicate, ErrorKind::Invalid, &["sql.insert into `orders`"]);
    assert!(duplicate.details.is_some(), "the database's code is in the details");
    assert_eq!(
        db.ok("insert", json!({ "table": "orders", "rows": [] })).await,
        json!({ "rows_affected": 0 })
    );
}

async fn upsert_twice(db: &Db) {
    db.execute(ORDERS).await;
    let first = db
        .ok(
            "upsert",
            json!({ "table": "orders", "key": ["id"], "rows": [
                { "id": 1, "name": "a", "qty": 1 },
                { "id": 2, "name": "b", "qty": 2 },
                { "id": 3, "name": "c", "qty": 3 },
            ] }),
        )
        .await;
    assert_eq!(first, json!({ "rows_affected": 3 }));
    let second = db
        .ok(
            "upsert",
            json!({ "table": "orders", "key": ["id"], "rows": [
                { "id": 2, "name": "B", "qty": 20 },
                { "id": 3, "name": "C", "qty": 30 },
                { "id": 4, "name": "d", "qty": 4 },
            ] }),
        )
        .await;
    assert_eq!(second, json!({ "rows_affected": 3 }));
    assert_eq!(db.count("orders").await, 4);
    let rows = db.rows("SELECT id, name, qty FROM orders ORDER BY id").await;
    assert_eq!(column(&rows, "name"), [json!("a"), json!("B"), json!("C"), json!("d")]);
    assert_eq!(column(&rows, "qty"), [json!(1), json!(20), json!(30), json!(4)]);
    // Every column a key: DO NOTHING, and nothing changes.
    let keys_only = db
        .ok(
            "upsert",
            json!({ "table": "orders", "key": ["id"], "rows": [{ "id": 1 }, { "id": 5 }] }),
        )
        .await;
    assert_eq!(keys_only, json!({ "rows_affected": 1 }));
    assert_eq!(db.count("orders").await, 5);
}

async fn duplicate_keys_in_one_call(db: &Db) {
    db.execute(ORDERS).await;
    let output = db
        .ok(
            "upsert",
            json!({ "table": "orders", "key": ["id"], "rows": [
                { "id": 1, "name": "first", "qty": 1 },
                { "id": 2, "name": "two" },
                { "id": 1, "name": "last" },
                { "id": 1, "note": "n" },
            ] }),
        )
        .await;
    assert_eq!(output, json!({ "rows_affected": 2 }));
    let rows = db.rows("SELECT id, name, qty, note FROM orders ORDER BY id").await;
    assert_eq!(
        rows,
        json!([
            { "id": 1, "name": "last", "qty": 1, "note": "n" },
            { "id": 2, "name": "two", "qty": null, "note": null },
        ])
    );
}

async fn absent_columns_are_kept(db: &Db) {
    db.execute(ORDERS).await;
    db.ok(
        "insert",
        json!({ "table": "orders", "rows": [{ "id": 1, "name": "a", "qty": 5, "note": "keep" }] }),
    )
    .await;
    db.ok(
        "upsert",
        json!({ "table": "orders", "key": ["id"], "rows": [{ "id": 1, "qty": 6 }, { "id": 2, "name": "x" }] }),
    )
    .await;
    let rows = db.rows("SELECT id, name, qty, note FROM orders ORDER BY id").await;
    assert_eq!(
        rows,
        json!([
            { "id": 1, "name": "a", "qty": 6, "note": "keep" },
            { "id": 2, "name": "x", "qty": null, "note": null },
        ])
    );
    // An explicit null is written.
    db.ok(
        "upsert",
        json!({ "table": "orders", "key": ["id"], "rows": [{ "id": 1, "note": null }] }),
    )
    .await;
    assert_eq!(
        db.rows("SELECT note FROM orders WHERE id = 1").await,
        json!([{ "note": null }])
    );
}

async fn create_and_evolve(db: &Db) {
    let created = db
        .ok(
            "upsert",
            json!({ "table": "events", "key": ["id"], "create": true, "rows": [
                { "id": 1, "kind": "a", "amount": 1.5, "count": 3, "ok": true, "meta": { "x": 1 }, "tags": ["a"], "missing": null },
                { "id": 2, "kind": "b", "amount": 2, "count": 4, "ok": false, "meta": null, "tags": [], "missing": null },
            ] }),
        )
        .await;
    assert_eq!(created, json!({ "rows_affected": 2 }));
    let evolved = db
        .ok(
            "upsert",
            json!({ "table": "events", "key": ["id"], "create": true, "rows": [
                { "id": 2, "kind": "B", "extra": "new", "later": 7 },
                { "id": 3, "kind": "c" },
            ] }),
        )
        .await;
    assert_eq!(evolved, json!({ "rows_affected": 2 }));
    let types = match db.backend {
        Backend::Postgres => {
            db.rows(
                "SELECT column_name AS name, data_type AS type FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = 'events' ORDER BY ordinal_position",
            )
            .await
        }
        Backend::Sqlite => db.rows("SELECT name, type FROM pragma_table_info('events')").await,
    };
    let types: Vec<String> = types
        .as_array()
        .unwrap()
        .iter()
        .map(|row| format!("{} {}", row["name"].as_str().unwrap(), row["type"].as_str().unwrap()))
        .collect();
    let expected = match db.backend {
        Backend::Postgres => [
            "id bigint",
            "kind text",
            "amount double precision",
            "count bigint",
            "ok boolean",
            "meta jsonb",
            "tags jsonb",
            "missing text",
            "extra text",
            "later bigint",
        ],
        Backend::Sqlite => [
            "id INTEGER",
            "kind TEXT",
            "amount REAL",
            "count INTEGER",
            "ok BOOLEAN",
            "meta TEXT",
            "tags TEXT",
            "missing TEXT",
            "extra TEXT",
            "later INTEGER",
        ],
    };
    assert_eq!(types, expected);
    let rows = db
        .rows("SELECT id, kind, amount, ok, meta, tags, extra, later FROM events ORDER BY id")
        .await;
    let meta = match db.backend {
        Backend::Postgres => json!({ "x": 1 }),
        Backend::Sqlite => json!(r#"{"x":1}"#),
    };
    let tags = match db.backend {
        Backend::Postgres => json!(["a"]),
        Backend::Sqlite => json!(r#"["a"]"#),
    };
    assert_eq!(
        rows[0],
        json!({ "id": 1, "kind": "a", "amount": 1.5, "ok": true, "meta": meta, "tags": tags, "extra": null, "later": null })
    );
    assert_eq!(rows[1]["kind"], "B");
    assert_eq!(rows[1]["extra"], "new");
    assert_eq!(
        rows[1]["amount"],
        json!(2.0),
        "an earlier value the row did not carry stays"
    );
    assert_eq!(
        rows[2],
        json!({ "id": 3, "kind": "c", "amount": null, "ok": null, "meta": null, "tags": null, "extra": null, "later": null })
    );
    // The primary key is the upsert's key: the same ids again add no row.
    db.ok(
        "upsert",
        json!({ "table": "events", "key": ["id"], "rows": [{ "id": 1 }, { "id": 2 }, { "id": 3 }] }),
    )
    .await;
    assert_eq!(db.count("events").await, 3);
    // `insert` creates a table without a key.
    let log = db
        .ok(
            "insert",
            json!({ "table": "log", "create": true, "rows": [{ "msg": "a" }, { "msg": "a" }] }),
        )
        .await;
    assert_eq!(log, json!({ "rows_affected": 2 }));
    assert_eq!(db.count("log").await, 2);
}

async fn missing_table_or_column(db: &Db) {
    let missing = db
        .err("insert", json!({ "table": "nope", "rows": [{ "id": 1 }] }))
        .await;
    assert_kind(
        &missing,
        ErrorKind::Client,
        &[
            "sql.insert into `nope`",
            "table `nope` does not exist: set `create: true`",
        ],
    );
    db.execute(ORDERS).await;
    let unknown = db
        .err(
            "upsert",
            json!({ "table": "orders", "key": ["id"], "rows": [{ "id": 1, "bogus": 2, "extra": 3 }] }),
        )
        .await;
    assert_kind(
        &unknown,
        ErrorKind::Client,
        &["table `orders` has no column `bogus`, `extra`: set `create: true`"],
    );
    assert_eq!(db.count("orders").await, 0);
}

async fn batch_of_10000(db: &Db) {
    let rows = |version: i64| -> Json {
        (0..10_000i64)
            .map(|n| {
                json!({
                    "id": n, "name": format!("row {n}"), "version": version, "score": n as f64 / 4.0,
                    "even": n % 2 == 0, "group_id": n % 7, "code": format!("C{:05}", n), "note": null,
                    "city": "Utrecht", "qty": n * 3,
                })
            })
            .collect()
    };
    let started = Instant::now();
    let first = db
        .ok(
            "upsert",
            json!({ "table": "bulk", "key": ["id"], "create": true, "rows": rows(1) }),
        )
        .await;
    let first_took = started.elapsed();
    assert_eq!(first, json!({ "rows_affected": 10_000 }));
    let started = Instant::now();
    let second = db
        .ok("upsert", json!({ "table": "bulk", "key": ["id"], "rows": rows(2) }))
        .await;
    eprintln!(
        "{:?}: 10,000 rows created in {first_took:.1?}, upserted again in {:.1?}",
        db.backend,
        started.elapsed()
    );
    assert_eq!(second, json!({ "rows_affected": 10_000 }));
    assert_eq!(db.count("bulk").await, 10_000);
    let sample = db
        .rows("SELECT id, name, version, score, even, qty FROM bulk WHERE id = 9999")
        .await;
    assert_eq!(
        sample,
        json!([{ "id": 9999, "name": "row 9999", "version": 2, "score": 2499.75, "even": false, "qty": 29997 }])
    );
    let versions = db.rows("SELECT count(*) AS n FROM bulk WHERE version = 2").await;
    assert_eq!(versions[0]["n"], 10_000);
}

async fn bad_row_rolls_back(db: &Db) {
    db.execute(ORDERS).await;
    // 3,000 rows, three statements; the last statement holds a duplicate of an earlier id.
    let mut rows: Vec<Json> = (0..2_999)
        .map(|n| json!({ "id": n, "name": format!("n{n}") }))
        .collect();
    rows.push(json!({ "id": 10, "name": "again" }));
    let failed = db.err("insert", json!({ "table": "orders", "rows": rows })).await;
    assert_kind(&failed, ErrorKind::Invalid, &["sql.insert into `orders`"]);
    assert_eq!(db.count("orders").await, 0, "no row of the failed call is written");
    // The connection is fine afterwards.
    db.ok("insert", json!({ "table": "orders", "rows": [{ "id": 1 }] }))
        .await;
    assert_eq!(db.count("orders").await, 1);
}

async fn identifiers_are_refused(db: &Db) {
    db.execute(ORDERS).await;
    let cases = [
        (
            "insert",
            json!({ "table": "orders; DROP TABLE orders", "rows": [{ "id": 1 }] }),
            "is not a table name",
        ),
        (
            "insert",
            json!({ "table": "a.b.c", "rows": [{ "id": 1 }] }),
            "is not a table name",
        ),
        (
            "insert",
            json!({ "table": "orders\"--", "rows": [{ "id": 1 }] }),
            "is not a table name",
        ),
        (
            "insert",
            json!({ "table": "orders", "rows": [{ "id) VALUES (1); DROP TABLE orders; --": 1 }] }),
            "is not a column name",
        ),
        (
            "insert",
            json!({ "table": "orders", "rows": [{ "orders.id": 1 }] }),
            "is not a column name",
        ),
        (
            "upsert",
            json!({ "table": "orders", "key": ["id\" = 1; --"], "rows": [{ "id": 1 }] }),
            "is not a column name",
        ),
    ];
    for (module, params, why) in cases {
        let error = db.err(module, params.clone()).await;
        assert_kind(&error, ErrorKind::Invalid, &[why]);
        assert!(
            error.message.starts_with(&format!("invalid `with` of sql.{module}")),
            "{}",
            error.message
        );
    }
    assert_eq!(db.count("orders").await, 0, "the table is still there, and empty");
}

async fn upsert_needs_a_unique_index(db: &Db) {
    db.execute("CREATE TABLE plain (id BIGINT, v TEXT)").await;
    let error = db
        .err(
            "upsert",
            json!({ "table": "plain", "key": ["id"], "rows": [{ "id": 1, "v": "a" }] }),
        )
        .await;
    assert_kind(
        &error,
        ErrorKind::Client,
        &[
            "sql.upsert into `plain`",
            "needs a primary key or unique index",
            "ON plain (id)",
        ],
    );
}

async fn cancellation(db: &Db) {
    let endless = match db.backend {
        Backend::Sqlite => {
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) AS n FROM c"
        }
        Backend::Postgres => "SELECT pg_sleep(60)",
    };
    let mut context = db.context.clone();
    context.cancel = CancellationToken::new();
    let cancel = context.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel.cancel();
    });
    let started = Instant::now();
    let error = call_with(&db.registry, &context, "query", json!({ "sql": endless }))
        .await
        .unwrap_err();
    assert_kind(&error, ErrorKind::Cancelled, &["cancelled"]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    // The database answers the next call at once.
    let started = Instant::now();
    assert_eq!(db.rows("SELECT 1 AS one").await, json!([{ "one": 1 }]));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    // A cancelled write leaves nothing behind.
    db.execute(ORDERS).await;
    let mut context = db.context.clone();
    context.cancel = CancellationToken::new();
    context.cancel.cancel();
    let error = call_with(
        &db.registry,
        &context,
        "insert",
        json!({ "table": "orders", "rows": [{ "id": 1 }] }),
    )
    .await
    .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Cancelled, "{}", error.message);
    assert_eq!(db.count("orders").await, 0);
}

async fn timeout(db: &Db) {
    let slow = match db.backend {
        Backend::Sqlite => {
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) AS n FROM c"
        }
        Backend::Postgres => "SELECT pg_sleep(60)",
    };
    let context = db.with(json!({ "timeout": "300ms" }));
    let started = Instant::now();
    let error = call_with(&db.registry, &context, "query", json!({ "sql": slow }))
        .await
        .unwrap_err();
    assert_kind(
        &error,
        ErrorKind::Timeout,
        &["took longer than the connection's timeout (300ms"],
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let again = call_with(&db.registry, &context, "query", json!({ "sql": "SELECT 2 AS two" }))
        .await
        .unwrap();
    assert_eq!(again, json!([{ "two": 2 }]));
}
