//! Metadata: modules, fields, the connection's user; `api_call` to the same routes.

use serde_json::json;

use super::{SALES, admin, assert_output, connection, context, ok, sandbox};

#[tokio::test]
async fn modules_fields_and_the_user() {
    let sandbox = sandbox().await;
    let crm = admin(&sandbox);
    let modules = ok(&crm, "onecrm.list_modules", json!({})).await;
    assert_output("list_modules", &modules);
    let text = modules.to_string();
    for model in ["Account", "Contact", "Note", "Invoice"] {
        assert!(text.contains(&format!("\"{model}\"")), "{model} missing from {text}");
    }

    let fields = ok(&crm, "onecrm.list_fields", json!({ "module": "Account" })).await;
    assert_output("list_fields", &fields);
    assert_eq!(
        fields["fields"]["name"]["type"], "varchar",
        "{}",
        fields["fields"]["name"]
    );
    assert!(fields["filters"].is_object());

    let me = ok(&crm, "onecrm.get_my_info", json!({})).await;
    assert_output("get_my_info", &me);
    assert!(me["id"].as_str().unwrap().starts_with("Users:"), "{me}");
    let sales = ok(&context(connection(&sandbox, SALES)), "onecrm.get_my_info", json!(null)).await;
    assert_ne!(sales["id"], me["id"]);
}

#[tokio::test]
async fn api_call_reaches_any_route_with_the_connections_auth() {
    let sandbox = sandbox().await;
    let crm = admin(&sandbox);
    let out = ok(&crm, "onecrm.api_call", json!({ "path": "meta/modules" })).await;
    assert_output("api_call", &out);
    assert_eq!(out["status"], 200);
    assert!(out["headers"]["content-type"].as_str().unwrap().contains("json"));
    assert!(out["body"]["list"].is_array(), "{out}");
    // Same as list_modules, leading slash or not.
    let listed = ok(&crm, "onecrm.list_modules", json!({})).await;
    let again = ok(
        &crm,
        "onecrm.api_call",
        json!({ "path": "/meta/modules", "method": "GET" }),
    )
    .await;
    assert_eq!(
        again["body"]["list"].as_array().unwrap().len(),
        listed.as_array().unwrap().len()
    );

    // A write and PHP-style query parameters.
    let created = ok(
        &crm,
        "onecrm.api_call",
        json!({ "method": "POST", "path": "data/Account", "body": { "data": { "name": "Raw Call BV" } } }),
    )
    .await;
    let id = created["body"]["id"].as_str().unwrap().to_owned();
    let read = ok(
        &crm,
        "onecrm.api_call",
        json!({ "path": format!("data/Account/{id}"), "query": { "fields": ["name"] } }),
    )
    .await;
    assert_eq!(read["body"]["record"]["name"], "Raw Call BV");
    let listed = ok(
        &crm,
        "onecrm.api_call",
        json!({ "path": "data/Account", "query": { "filter_text": "Raw Call", "fields": ["name"], "limit": 5 } }),
    )
    .await;
    assert_eq!(listed["body"]["total_results"], 1, "{listed}");
}
