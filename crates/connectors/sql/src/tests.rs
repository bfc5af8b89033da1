use flowrun_connect::schema::{instance_problems, spec_problems};
use serde_json::{Value, json};

use crate::spec;

/// `with` is accepted by the module's schema, and rejected once it carries an unknown key.
#[track_caller]
fn check(module: &str, with: Value) {
    let spec = spec();
    let schema = &spec.module(module).expect("module exists").params_schema;
    assert_eq!(
        instance_problems(schema, &with),
        Vec::<String>::new(),
        "{module}: {with}"
    );
    let mut with_typo = with;
    with_typo["unknown_key"] = json!(1);
    assert!(
        !instance_problems(schema, &with_typo).is_empty(),
        "{module} accepts unknown keys"
    );
}

#[track_caller]
fn check_invalid(module: &str, with: Value) {
    let spec = spec();
    let schema = &spec.module(module).expect("module exists").params_schema;
    assert!(!instance_problems(schema, &with).is_empty(), "{module} accepts {with}");
}

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
    check(
        "query",
        json!({ "sql": "select id, email from customers where updated_at > $1",
                "params": ["{{ cursor }}"] }),
    );
    check("query", json!({ "sql": "select count(*) as n from orders" }));
    check(
        "execute",
        json!({ "sql": "delete from staging where run_id = ?", "params": ["{{ run.id }}"] }),
    );
    check(
        "insert",
        json!({ "table": "orders", "rows": [{ "id": 1, "sku": "AB-12", "qty": 500 }] }),
    );
    check(
        "insert",
        json!({ "table": "sales.orders", "rows": "{{ steps.clean.output }}" }),
    );
    check("insert", json!({ "table": "orders", "rows": { "id": 1 } }));
    check(
        "upsert",
        json!({ "table": "customers", "rows": "{{ item }}", "key": ["crm_id"] }),
    );

    check_invalid("query", json!({ "params": [1] }));
    check_invalid("query", json!({ "sql": "select 1", "params": { "a": 1 } }));
    check_invalid("insert", json!({ "table": "orders; drop table x", "rows": [] }));
    check_invalid("insert", json!({ "table": "orders", "rows": [1, 2] }));
    check_invalid("upsert", json!({ "table": "orders", "rows": [], "key": [] }));
    check_invalid("upsert", json!({ "table": "orders", "rows": [] }));
    check_invalid("upsert", json!({ "table": "orders", "rows": [], "key": ["a b"] }));
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
