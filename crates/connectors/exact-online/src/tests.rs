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
    assert_accepts(&spec(), "subscribe", json!({ "entity": "crm/Accounts" }));
    assert_accepts(
        &spec(),
        "subscribe",
        json!({ "entity": "salesorder/SalesOrders", "select": ["OrderID", "OrderNumber", "Modified"],
                "filter": "Modified ge datetime'{{ cursor }}'", "order_by": "Modified",
                "expand": ["SalesOrderLines"], "limit": 500,
                "parameters": { "$inlinecount": "allpages" } }),
    );
    assert_accepts(
        &spec(),
        "subscribe",
        json!({ "entity": "sync/crm/Accounts", "select": ["ID", "Timestamp"],
                "filter": "Timestamp gt {{ cursor }}L", "paginate": false }),
    );
    assert_rejects(&spec(), "subscribe", json!({ "select": ["ID"] }));
    assert_accepts(
        &spec(),
        "subscribe",
        json!({ "entity": "salesorder/SalesOrders({order})/SalesOrderLines", "path": { "order": "{{ item.OrderID }}" } }),
    );
    assert_rejects(&spec(), "subscribe", json!({ "entity": "crm/../Accounts" }));
    assert_rejects(&spec(), "subscribe", json!({ "entity": "/api/v1/123/crm/Accounts" }));
    assert_rejects(&spec(), "subscribe", json!({ "entity": "Accounts" }));
    assert_rejects(&spec(), "subscribe", json!({ "entity": "crm/Accounts", "top": 10 }));
    assert_rejects(&spec(), "subscribe", json!({ "entity": "crm/Accounts", "limit": 0 }));
}

#[test]
fn publish() {
    assert_accepts(
        &spec(),
        "publish",
        json!({ "action": "create", "entity": "crm/Accounts", "payload": "{{ item }}" }),
    );
    assert_accepts(
        &spec(),
        "publish",
        json!({ "action": "create", "entity": "crm/Accounts",
                "payload": { "Name": "Acme", "Email": "info@acme.example" } }),
    );
    assert_accepts(
        &spec(),
        "publish",
        json!({ "action": "update", "entity": "crm/Accounts", "id": "{{ item.ID }}",
                "payload": { "Email": "{{ item.Email | lower }}" } }),
    );
    assert_accepts(
        &spec(),
        "publish",
        json!({ "action": "delete", "entity": "crm/Contacts",
                "id": "12345678-aaaa-bbbb-cccc-ddddeeeeffff", "query": { "force": true } }),
    );
    assert_rejects(&spec(), "publish", json!({ "entity": "crm/Accounts", "payload": {} }));
    assert_rejects(
        &spec(),
        "publish",
        json!({ "action": "upsert", "entity": "crm/Accounts", "payload": {} }),
    );
    assert_rejects(
        &spec(),
        "publish",
        json!({ "action": "create", "entity": "crm/Accounts" }),
    );
    assert_rejects(
        &spec(),
        "publish",
        json!({ "action": "update", "entity": "crm/Accounts", "payload": {} }),
    );
    assert_rejects(
        &spec(),
        "publish",
        json!({ "action": "delete", "entity": "crm/Accounts" }),
    );
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

#[test]
fn every_catalog_module_has_a_runtime_of_its_kind() {
    let connector = crate::connector();
    for module in spec().modules {
        if module.kind == flowrun_flow::catalog::ModuleKind::Trigger {
            // A trigger is run by `flowrun serve`, never as a step.
            assert!(connector.module(&module.name).is_none(), "{} is a trigger", module.name);
            assert!(
                connector.trigger(&module.name).is_some(),
                "no trigger `{}`",
                module.name
            );
            continue;
        }
        let runtime = connector
            .module(&module.name)
            .unwrap_or_else(|| panic!("no runtime for `{}`", module.name));
        assert_eq!(runtime.kind(), module.kind, "{}", module.name);
        assert_eq!(runtime.name(), module.name);
    }
    assert!(connector.module("nope").is_none());
}

#[test]
fn me_and_api_call() {
    assert_accepts(&spec(), "me", json!({}));
    assert_rejects(&spec(), "me", json!({ "division": 1 }));
    assert_accepts(
        &spec(),
        "api_call",
        json!({ "path": "crm/Accounts/$count", "query": { "$filter": "Status eq 'C'" } }),
    );
    assert_accepts(&spec(), "api_call", json!({ "path": "/api/v1/current/Me" }));
    assert_accepts(
        &spec(),
        "api_call",
        json!({ "method": "PUT", "path": "crm/Accounts(guid'3f2504e0-4f89-11d3-9a0c-0305e82c3301')", "body": { "Name": "X" } }),
    );
    assert_rejects(&spec(), "api_call", json!({ "path": "https://evil.example/api" }));
    assert_rejects(
        &spec(),
        "api_call",
        json!({ "method": "PATCH", "path": "crm/Accounts" }),
    );
}

#[test]
fn modified_trigger_params_and_event() {
    assert_accepts(&spec(), "modified", json!({ "entity": "crm/Accounts" }));
    assert_accepts(
        &spec(),
        "modified",
        json!({ "connection": "exact", "entity": "salesorder/SalesOrders", "select": ["ID", "OrderNumber"],
                "filter": "Status eq 12", "interval": "5m", "since": "2024-05-01T00:00:00Z" }),
    );
    assert_rejects(&spec(), "modified", json!({}));
    assert_rejects(&spec(), "modified", json!({ "entity": "/crm/Accounts" }));
    assert_rejects(
        &spec(),
        "modified",
        json!({ "entity": "crm/Accounts", "order_by": "Name" }),
    );
    assert_rejects(
        &spec(),
        "modified",
        json!({ "entity": "crm/Accounts", "interval": "soon" }),
    );
    let event = json!({ "entity": "crm/Accounts", "id": "12345678-aaaa-bbbb-cccc-ddddeeeeffff",
                        "record": { "ID": "12345678-aaaa-bbbb-cccc-ddddeeeeffff", "Name": "Acme",
                                    "Modified": "2024-05-01T10:00:00.123Z" } });
    let output = spec().module("modified").expect("module exists").output_schema.clone();
    assert_eq!(instance_problems(&output, &event), Vec::<String>::new());
    assert!(!instance_problems(&output, &json!({ "entity": "crm/Accounts" })).is_empty());
}

#[test]
fn modified_trigger_mode() {
    use flowrun_connect::trigger::TriggerMode;
    use std::time::Duration;
    let trigger = crate::connector().trigger("modified").unwrap();
    let interval = |params| match trigger.mode(&params) {
        TriggerMode::Polling { interval } => interval,
        TriggerMode::Instant => panic!("instant"),
    };
    assert_eq!(interval(json!({ "entity": "crm/Accounts" })), Duration::from_secs(60));
    assert_eq!(
        interval(json!({ "entity": "crm/Accounts", "interval": "5m" })),
        Duration::from_secs(300)
    );
    // Below Exact's rate limits' floor: raised to 10 seconds.
    assert_eq!(
        interval(json!({ "entity": "crm/Accounts", "interval": "1s" })),
        Duration::from_secs(10)
    );
    assert!(crate::connector().trigger("nope").is_none());
}
