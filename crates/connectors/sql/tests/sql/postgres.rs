//! Postgres only: typed columns and parameters, decoding against Postgres's own text, the
//! schema-qualified and concurrent writes, and connection errors that never show a password.

use std::time::{Duration, Instant};

use flowrun_connect::module::ErrorKind;
use serde_json::{Value as Json, json};

use crate::{Db, assert_kind, call_with, context, postgres_url, registry};

const TYPED: &str = "CREATE TYPE mood AS ENUM ('happy', 'sad'); \
    CREATE TABLE typed (id INT PRIMARY KEY, at TIMESTAMP, at_tz TIMESTAMPTZ, day DATE, clock TIME, \
        amount NUMERIC(12, 2), big NUMERIC, flag BOOLEAN, data JSONB, raw JSON, uid UUID, bytes BYTEA, \
        tags TEXT[], nums INT[], span INTERVAL, addr INET, feeling mood, short VARCHAR(3), real_value REAL)";

fn typed_row() -> Json {
    json!({
        "id": 1, "at": "2024-05-01T10:00:00.25", "at_tz": "2024-05-01T12:00:00+02:00", "day": "2024-05-01",
        "clock": "10:30:00", "amount": 12.5, "big": "123456789012345678901234567890.123", "flag": true,
        "data": { "a": [1, 2], "b": null }, "raw": [1, "x"], "uid": "0f8e1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
        "bytes": "AP8=", "tags": ["a", "b \"c\""], "nums": [1, 2], "span": "1 day 02:00:00",
        "addr": "10.0.0.1/8", "feeling": "happy", "short": "abc", "real_value": 0.1,
    })
}

#[tokio::test]
async fn typed_columns_round_trip() {
    let db = Db::postgres().await;
    db.execute(TYPED).await;
    let written = db
        .ok(
            "upsert",
            json!({ "table": "typed", "key": ["id"], "rows": [typed_row()] }),
        )
        .await;
    assert_eq!(written, json!({ "rows_affected": 1 }));
    // Upserting the same again changes nothing and adds nothing.
    db.ok(
        "upsert",
        json!({ "table": "typed", "key": ["id"], "rows": [typed_row()] }),
    )
    .await;
    let rows = db.rows("SELECT * FROM typed").await;
    assert_eq!(
        rows,
        json!([{
            "id": 1, "at": "2024-05-01T10:00:00.25", "at_tz": "2024-05-01T10:00:00Z", "day": "2024-05-01",
            "clock": "10:30:00", "amount": 12.5, "big": "123456789012345678901234567890.123", "flag": true,
            "data": { "a": [1, 2], "b": null }, "raw": [1, "x"], "uid": "0f8e1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
            "bytes": "AP8=", "tags": ["a", "b \"c\""], "nums": [1, 2], "span": "P1DT2H", "addr": "10.0.0.1/8",
            "feeling": "happy", "short": "abc", "real_value": 0.1,
        }])
    );
    // A value too long for varchar(3) is refused, not cut.
    let long = db
        .err(
            "upsert",
            json!({ "table": "typed", "key": ["id"], "rows": [{ "id": 2, "short": "abcd" }] }),
        )
        .await;
    assert_kind(&long, ErrorKind::Invalid, &["value too long", "22001"]);
    let bad_date = db
        .err(
            "insert",
            json!({ "table": "typed", "rows": [{ "id": 3, "at": "not a date" }] }),
        )
        .await;
    assert_kind(
        &bad_date,
        ErrorKind::Invalid,
        &["invalid input syntax for type timestamp", "\"not a date\""],
    );
    // Schema-qualified.
    let schema = db.schema.clone().unwrap();
    db.ok(
        "upsert",
        json!({ "table": format!("{schema}.typed"), "key": ["id"], "rows": [{ "id": 1, "flag": false }] }),
    )
    .await;
    assert_eq!(
        db.rows("SELECT flag, amount FROM typed").await,
        json!([{ "flag": false, "amount": 12.5 }])
    );
}

#[tokio::test]
async fn parameters_take_the_type_postgres_infers() {
    let db = Db::postgres().await;
    db.execute(TYPED).await;
    db.ok("insert", json!({ "table": "typed", "rows": [typed_row()] }))
        .await;
    let cases = [
        ("SELECT id FROM typed WHERE at > $1", json!(["2024-01-01T00:00:00Z"])),
        ("SELECT id FROM typed WHERE at_tz = $1", json!(["2024-05-01T10:00:00Z"])),
        (
            "SELECT id FROM typed WHERE day BETWEEN $1 AND $2",
            json!(["2024-05-01", "2024-05-02"]),
        ),
        ("SELECT id FROM typed WHERE amount = $1", json!([12.5])),
        ("SELECT id FROM typed WHERE big > $1", json!([1])),
        ("SELECT id FROM typed WHERE id = ANY($1)", json!([[1, 2]])),
        ("SELECT id FROM typed WHERE tags && $1", json!([["a"]])),
        ("SELECT id FROM typed WHERE data @> $1", json!([{ "a": [1] }])),
        ("SELECT id FROM typed WHERE data @> $1", json!([r#"{"b": null}"#])),
        ("SELECT id FROM typed WHERE feeling = $1", json!(["happy"])),
        (
            "SELECT id FROM typed WHERE uid = $1",
            json!(["0f8e1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"]),
        ),
        ("SELECT id FROM typed WHERE bytes = $1", json!(["AP8="])),
        ("SELECT id FROM typed WHERE span = $1", json!(["P1DT2H"])),
        ("SELECT id FROM typed WHERE addr <<= $1", json!(["10.0.0.0/8"])),
        (
            "SELECT id FROM typed WHERE flag = $1 AND real_value > $2",
            json!([true, 0]),
        ),
        ("SELECT id FROM typed WHERE id = $1", json!(["1"])),
        ("SELECT id FROM typed WHERE $1::text IS NULL", json!([null])),
    ];
    for (sql, params) in cases {
        let rows = db.ok("query", json!({ "sql": sql, "params": params })).await;
        assert_eq!(rows, json!([{ "id": 1 }]), "{sql} {params}");
    }
    let computed = db
        .ok("query", json!({ "sql": "SELECT $1::int + 1 AS n, $2 AS echoed, $3::jsonb AS j", "params": [41, { "a": 1 }, [true]] }))
        .await;
    assert_eq!(computed, json!([{ "n": 42, "echoed": r#"{"a":1}"#, "j": [true] }]));
    let bad = db
        .err(
            "query",
            json!({ "sql": "SELECT id FROM typed WHERE at > $1", "params": ["not a date"] }),
        )
        .await;
    assert_kind(
        &bad,
        ErrorKind::Invalid,
        &["`params[0]` as timestamp without time zone", "invalid input syntax"],
    );
    let counted = db
        .err(
            "query",
            json!({ "sql": "SELECT id FROM typed WHERE id = $1", "params": [1, 2] }),
        )
        .await;
    assert_kind(
        &counted,
        ErrorKind::Invalid,
        &["has 1 placeholder(s) but `params` has 2 value(s)"],
    );
    let bytea = db
        .err(
            "query",
            json!({ "sql": "SELECT id FROM typed WHERE bytes = $1", "params": ["%%%"] }),
        )
        .await;
    assert_kind(&bytea, ErrorKind::Invalid, &["`params[0]` ($1, bytea)", "base64"]);
}

#[tokio::test]
async fn values_decode_as_postgres_writes_them() {
    let db = Db::postgres().await;
    // Numerics: a number when it prints back the same, else Postgres's own text.
    let numerics = db
        .rows(
            "SELECT x, x::text AS text FROM (VALUES (0::numeric), (1.5), (-0.001), (123456789.123456789), \
             (1e20), (1e-20), (99999999999999999999999), (0.10), (-42), (1e-400), (9.999999999999999)) v(x)",
        )
        .await;
    for row in numerics.as_array().unwrap() {
        let text = row["text"].as_str().unwrap();
        match &row["x"] {
            Json::String(decoded) => assert_eq!(decoded, text),
            Json::Number(number) => assert_eq!(number.as_f64().unwrap(), text.parse::<f64>().unwrap(), "{text}"),
            other => panic!("{other}"),
        }
    }
    // Timestamps and dates against Postgres's own JSON (ISO 8601), over two centuries.
    let dates = db
        .rows(
            "SELECT t, to_json(t) #>> '{}' AS iso, t::date AS d, to_json(t::date) #>> '{}' AS iso_date \
             FROM generate_series('1900-01-01'::timestamp, '2100-01-01', '1234567 seconds 123456 microseconds') t",
        )
        .await;
    assert!(dates.as_array().unwrap().len() > 5_000);
    for row in dates.as_array().unwrap() {
        assert_eq!(row["t"], row["iso"]);
        assert_eq!(row["d"], row["iso_date"]);
    }
    let special = db
        .rows(
            "SELECT 'infinity'::timestamp AS a, '-infinity'::date AS b, 'NaN'::numeric AS c, \
             'Infinity'::float8 AS d, '0044-03-15 BC'::date AS e, '2024-05-01 10:00:00+02'::timestamptz AS f, \
             '12:00:00-03:30'::timetz AS g, ARRAY[[1, 2], [3, 4]] AS h, ARRAY[]::int[] AS i, \
             '{\"k\": \"v\"}'::json AS j, 'x'::\"char\" AS k, 'abc'::name AS l, 1::oid AS m, \
             '08:00:2b:01:02:03'::macaddr AS n, '::1'::inet AS o, NULL::int AS p, \
             gen_random_uuid() IS NOT NULL AS q, ARRAY['2024-01-01'::date, NULL] AS r",
        )
        .await;
    assert_eq!(
        special,
        json!([{
            "a": "infinity", "b": "-infinity", "c": "NaN", "d": "Infinity", "e": "-0043-03-15",
            "f": "2024-05-01T08:00:00Z", "g": "12:00:00-03:30", "h": [[1, 2], [3, 4]], "i": [],
            "j": { "k": "v" }, "k": "x", "l": "abc", "m": 1, "n": "08:00:2b:01:02:03", "o": "::1", "p": null,
            "q": true, "r": ["2024-01-01", null],
        }])
    );
    let money = db.err("query", json!({ "sql": "SELECT 1::money AS price" })).await;
    assert_kind(
        &money,
        ErrorKind::Invalid,
        &["column `price`", "type `money`", "cast the column"],
    );
    let cast = db.rows("SELECT 1::money::numeric AS price").await;
    assert_eq!(cast, json!([{ "price": 1.0 }]));
}

#[tokio::test]
async fn a_failed_create_leaves_no_table() {
    let db = Db::postgres().await;
    // Postgres text cannot hold NUL: the third statement fails after the table was created.
    let mut rows: Vec<Json> = (0..2_500).map(|n| json!({ "id": n, "name": "x" })).collect();
    rows.push(json!({ "id": 9_999, "name": "nul \u{0} inside" }));
    let error = db
        .err(
            "upsert",
            json!({ "table": "fresh", "key": ["id"], "create": true, "rows": rows }),
        )
        .await;
    assert_kind(&error, ErrorKind::Invalid, &["sql.upsert into `fresh`"]);
    let tables = db.rows("SELECT to_regclass('fresh') IS NULL AS gone").await;
    assert_eq!(tables, json!([{ "gone": true }]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_create_one_table() {
    let db = std::sync::Arc::new(Db::postgres().await);
    let mut handles = Vec::new();
    for worker in 0..6 {
        let db = db.clone();
        handles.push(tokio::spawn(async move {
            let row = json!({ "id": worker, "name": format!("w{worker}"), format!("only_{}", worker % 3): worker });
            db.call(
                "upsert",
                json!({ "table": "shared", "key": ["id"], "create": true, "rows": [row] }),
            )
            .await
        }));
    }
    for handle in handles {
        handle.await.unwrap().unwrap();
    }
    assert_eq!(db.count("shared").await, 6);
    let columns = db
        .rows("SELECT count(*) AS n FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'shared'")
        .await;
    assert_eq!(columns, json!([{ "n": 5 }]));
}

const SECRET: &str = "S3cretPassw0rd";

#[track_caller]
fn assert_hidden(message: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!message.contains(secret), "`{secret}` leaked into: {message}");
    }
}

#[tokio::test]
async fn passwords_never_show() {
    let registry = registry();
    let dir = tempfile::tempdir().unwrap();
    let params = json!({ "sql": "SELECT 1" });
    // Nothing listens on port 1: refused, a `connect` error the engine may retry, at once
    // (not after the 30 s default timeout).
    let refused = context(
        &dir,
        json!({ "url": format!("postgres://postgres:{SECRET}@127.0.0.1:1/test") }),
    );
    let started = Instant::now();
    let error = call_with(&registry, &refused, "query", params.clone())
        .await
        .unwrap_err();
    assert_kind(
        &error,
        ErrorKind::Connect,
        &["cannot connect to postgres://postgres:***@127.0.0.1:1/test", "refused"],
    );
    assert_hidden(&error.message, &[SECRET]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    // The server answers, the database does not exist: not worth retrying.
    let host = postgres_url()
        .split('@')
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let unknown = context(
        &dir,
        json!({ "url": format!("postgres://postgres:{SECRET}@{host}/flowrun_no_such_db") }),
    );
    let error = call_with(&registry, &unknown, "query", params.clone())
        .await
        .unwrap_err();
    assert_kind(
        &error,
        ErrorKind::Client,
        &["flowrun_no_such_db", "3D000", "postgres://postgres:***@"],
    );
    assert_hidden(&error.message, &[SECRET]);
    // Percent-encoded passwords, in both forms; a URL that does not parse; a password option.
    for url in [
        "postgres://postgres:p%40ss%2Fw0rd@127.0.0.1:1/test".to_owned(),
        format!("postgres://postgres:{SECRET}@127.0.0.1:notaport/test"),
        format!("postgres://postgres@127.0.0.1:1/test?password={SECRET}"),
    ] {
        let context = context(&dir, json!({ "url": url, "timeout": "1s" }));
        let error = call_with(&registry, &context, "query", params.clone())
            .await
            .unwrap_err();
        assert_hidden(&error.message, &[SECRET, "p%40ss%2Fw0rd", "p@ss/w0rd"]);
        assert!(error.message.contains("***"), "{}", error.message);
    }
    // A config error of a connection with a password.
    let wrong = context(
        &dir,
        json!({ "url": format!("postgres://postgres:{SECRET}@db/x"), "timeout": 5 }),
    );
    let error = call_with(&registry, &wrong, "query", params).await.unwrap_err();
    assert_kind(&error, ErrorKind::Invalid, &["connection `db`"]);
    assert_hidden(&error.message, &[SECRET]);
}
