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
    let config = json!({
        "base_uri": "https://start.exactonline.nl",
        "client_id": "{{ env.EXACT_CLIENT_ID }}",
        "client_secret": "{{ secrets.EXACT_CLIENT_SECRET }}",
        "redirect_uri": "https://flows.example.com/oauth/callback",
    });
    assert_eq!(instance_problems(&schema, &config), Vec::<String>::new());
    let mut with_division = config.clone();
    with_division["division"] = json!(123456);
    with_division["rate_limit"] = json!({ "requests": 60, "per": "1m" });
    assert_eq!(instance_problems(&schema, &with_division), Vec::<String>::new());

    let mut refresh_token = config.clone();
    refresh_token["refresh_token"] = json!("Gcp7!IAAAAB");
    assert!(!instance_problems(&schema, &refresh_token).is_empty());
    let mut missing = config;
    missing.as_object_mut().unwrap().remove("client_secret");
    assert!(!instance_problems(&schema, &missing).is_empty());

    // The connection of flow-spec.md's example.
    let example = json!({
        "base_uri": "https://start.exactonline.nl",
        "client_id": "{{ env.EXACT_CLIENT_ID }}",
        "client_secret": "{{ secrets.EXACT_CLIENT_SECRET }}",
    });
    assert_eq!(instance_problems(&schema, &example), Vec::<String>::new());
}

#[test]
fn subscribe() {
    check("subscribe", json!({ "entity": "crm/Accounts" }));
    check(
        "subscribe",
        json!({ "entity": "salesorder/SalesOrders", "select": ["OrderID", "OrderNumber", "Modified"],
                "filter": "Modified ge datetime'{{ cursor }}'", "order_by": "Modified",
                "expand": ["SalesOrderLines"], "limit": 500,
                "parameters": { "$inlinecount": "allpages" } }),
    );
    check(
        "subscribe",
        json!({ "entity": "sync/crm/Accounts", "select": ["ID", "Timestamp"],
                "filter": "Timestamp gt {{ cursor }}L", "paginate": false }),
    );
    check_invalid("subscribe", json!({ "select": ["ID"] }));
    check_invalid("subscribe", json!({ "entity": "/api/v1/123/crm/Accounts" }));
    check_invalid("subscribe", json!({ "entity": "Accounts" }));
    check_invalid("subscribe", json!({ "entity": "crm/Accounts", "top": 10 }));
    check_invalid("subscribe", json!({ "entity": "crm/Accounts", "limit": 0 }));
}

#[test]
fn publish() {
    check(
        "publish",
        json!({ "action": "create", "entity": "crm/Accounts", "payload": "{{ item }}" }),
    );
    check(
        "publish",
        json!({ "action": "create", "entity": "crm/Accounts",
                "payload": { "Name": "Acme", "Email": "info@acme.example" } }),
    );
    check(
        "publish",
        json!({ "action": "update", "entity": "crm/Accounts", "id": "{{ item.ID }}",
                "payload": { "Email": "{{ item.Email | lower }}" } }),
    );
    check(
        "publish",
        json!({ "action": "delete", "entity": "crm/Contacts",
                "id": "12345678-aaaa-bbbb-cccc-ddddeeeeffff", "query": { "force": true } }),
    );
    check_invalid("publish", json!({ "entity": "crm/Accounts", "payload": {} }));
    check_invalid(
        "publish",
        json!({ "action": "upsert", "entity": "crm/Accounts", "payload": {} }),
    );
    check_invalid("publish", json!({ "action": "create", "entity": "crm/Accounts" }));
    check_invalid(
        "publish",
        json!({ "action": "update", "entity": "crm/Accounts", "payload": {} }),
    );
    check_invalid("publish", json!({ "action": "delete", "entity": "crm/Accounts" }));
}

#[test]
fn outputs() {
    let spec = spec();
    let output = |name: &str| spec.module(name).expect("module exists").output_schema.clone();
    let rows = json!([{ "__metadata": { "uri": "https://start.exactonline.nl/api/v1/1/crm/Accounts(guid'x')",
                                        "type": "Exact.Web.Api.Models.Account" },
                        "ID": "12345678-aaaa-bbbb-cccc-ddddeeeeffff", "Code": "              1024",
                        "Modified": "/Date(1546300800000)/" }]);
    assert_eq!(instance_problems(&output("subscribe"), &rows), Vec::<String>::new());
    let created = json!({ "ID": "guid-1", "Name": "Acme" });
    assert_eq!(instance_problems(&output("publish"), &created), Vec::<String>::new());
    assert!(!instance_problems(&output("publish"), &json!({ "Name": "Acme" })).is_empty());
}
