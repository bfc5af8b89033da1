use flowrun_connect::schema::{instance_problems, spec_problems};
use flowrun_connect::testing::{assert_accepts, assert_rejects};
use serde_json::json;

use crate::spec;

#[test]
fn spec_is_well_formed() {
    assert_eq!(spec_problems(&spec()), Vec::<String>::new());
}

#[test]
fn connection_config() {
    let schema = spec().connection_schema;
    for config in [
        json!({ "url": "sqlite://data/app.db" }),
        json!({ "url": "sqlite::memory:", "timeout": "5s" }),
        json!({ "url": "postgres://app:{{ secrets.DB_PASSWORD }}@db/app", "max_connections": 8 }),
    ] {
        assert_eq!(instance_problems(&schema, &config), Vec::<String>::new(), "{config}");
    }
    for config in [
        json!({ "url": "mysql://db/app" }),
        json!({ "url": "sqlite://x.db", "auth": { "kind": "bearer", "token": "t" } }),
        json!({}),
    ] {
        assert!(!instance_problems(&schema, &config).is_empty(), "accepted {config}");
    }
}

#[test]
fn modules() {
    assert_accepts(
        &spec(),
        "query",
        json!({ "sql": "select id, email from customers where updated_at > $1",
                "params": ["{{ cursor }}"] }),
    );
    assert_accepts(&spec(), "query", json!({ "sql": "select count(*) as n from orders" }));
    assert_accepts(
        &spec(),
        "execute",
        json!({ "sql": "delete from staging where run_id = ?", "params": ["{{ run.id }}"] }),
    );
    assert_accepts(
        &spec(),
        "insert",
        json!({ "table": "orders", "rows": [{ "id": 1, "sku": "AB-12", "qty": 500 }] }),
    );
    assert_accepts(
        &spec(),
        "insert",
        json!({ "table": "sales.orders", "rows": "{{ steps.clean.output }}" }),
    );
    assert_accepts(&spec(), "insert", json!({ "table": "orders", "rows": { "id": 1 } }));
    assert_accepts(
        &spec(),
        "upsert",
        json!({ "table": "customers", "rows": "{{ item }}", "key": ["crm_id"] }),
    );

    assert_rejects(&spec(), "query", json!({ "params": [1] }));
    assert_rejects(&spec(), "query", json!({ "sql": "select 1", "params": { "a": 1 } }));
    assert_rejects(
        &spec(),
        "insert",
        json!({ "table": "orders; drop table x", "rows": [] }),
    );
    assert_rejects(&spec(), "insert", json!({ "table": "orders", "rows": [1, 2] }));
    assert_rejects(&spec(), "upsert", json!({ "table": "orders", "rows": [], "key": [] }));
    assert_rejects(&spec(), "upsert", json!({ "table": "orders", "rows": [] }));
    assert_rejects(
        &spec(),
        "upsert",
        json!({ "table": "orders", "rows": [], "key": ["a b"] }),
    );
}

#[test]
fn outputs() {
    let spec = spec();
    let output = |name: &str| spec.module(name).expect("module exists").output_schema.clone();
    let rows = json!([{ "id": 1, "email": "a@x.com", "tags": ["a"], "deleted_at": null }]);
    assert_eq!(instance_problems(&output("query"), &rows), Vec::<String>::new());
    assert_eq!(
        instance_problems(&output("upsert"), &json!({ "rows_affected": 3 })),
        Vec::<String>::new()
    );
}
