//! `subscribe`: every page through `__next`, OData options, deltas by `Modified` and by the
//! sync API's `Timestamp`; `api_call` for the rest.

use std::collections::HashSet;

use super::*;

/// Lifts the minutely limit: these tests read many pages and are not about waiting.
fn unthrottled(sandbox: &Sandbox) {
    let control = sandbox.control();
    let mut settings = control.exact_settings();
    settings.minutely_limit = 100_000;
    settings.daily_limit = 1_000_000;
    control.set_exact_settings(settings);
}

#[tokio::test]
async fn ten_thousand_accounts_are_read_page_by_page_each_once() {
    let sandbox = sandbox().await;
    unthrottled(&sandbox);
    let control = sandbox.control();
    let seeded = control.exact_account_ids().len();
    control.exact_generate_accounts(10_000 - seeded);
    let context = logged_in(&sandbox).await;

    let accounts = rows(
        &context,
        json!({ "entity": "crm/Accounts", "select": ["ID", "Code", "Name", "Modified"] }),
    )
    .await;
    assert_eq!(accounts.len(), 10_000);
    let ids: HashSet<&str> = accounts.iter().map(|row| row["ID"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 10_000, "no row twice");
    assert_output("subscribe", &Json::Array(accounts[..3].to_vec()));
    // Dates arrive as RFC 3339.
    let modified = accounts[0]["Modified"].as_str().unwrap();
    assert!(modified.ends_with('Z') && modified.contains('T'), "{modified}");

    // The bulk endpoint: 1000 a page, `select` required.
    let bulk = rows(&context, json!({ "entity": "bulk/crm/Accounts", "select": ["ID"] })).await;
    assert_eq!(bulk.len(), 10_000);
    let error = call(
        &context,
        "exact_online.subscribe",
        json!({ "entity": "bulk/crm/Accounts" }),
    )
    .await
    .unwrap_err();
    assert!(error.message.contains("requires `select`"), "{}", error.message);

    // `limit` stops paging: 130 rows are three pages, not 167.
    let limited = rows(
        &context,
        json!({ "entity": "crm/Accounts", "select": ["ID"], "limit": 130 }),
    )
    .await;
    assert_eq!(limited.len(), 130);
    let ids = |rows: &[Json]| rows.iter().map(|row| row["ID"].clone()).collect::<Vec<_>>();
    assert_eq!(ids(&limited), ids(&accounts[..130]), "the same order as the full read");
}

#[tokio::test]
async fn a_delta_by_modified_and_by_timestamp_reads_exactly_the_changed_accounts() {
    let sandbox = sandbox().await;
    unthrottled(&sandbox);
    let control = sandbox.control();
    let context = logged_in(&sandbox).await;

    let synced = rows(
        &context,
        json!({ "entity": "sync/crm/Accounts", "select": ["ID", "Name", "Timestamp"], "filter": "Timestamp gt 1L" }),
    )
    .await;
    assert_eq!(synced.len(), control.exact_account_ids().len());
    let cursor = synced
        .iter()
        .map(|row| row["Timestamp"].as_i64().unwrap())
        .max()
        .unwrap();
    let newest = rows(
        &context,
        json!({ "entity": "crm/Accounts", "select": ["ID", "Modified"], "order_by": "Modified desc", "limit": 1 }),
    )
    .await;
    let since = newest[0]["Modified"].as_str().unwrap().trim_end_matches('Z').to_owned();
    let since = since.split('.').next().unwrap().to_owned();

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let touched: Vec<String> = control
        .exact_account_ids()
        .into_iter()
        .skip(7)
        .step_by(50)
        .take(3)
        .collect();
    control.exact_touch_accounts(&touched);

    let by_modified = rows(
        &context,
        json!({ "entity": "crm/Accounts", "select": ["ID", "Modified"], "filter": format!("Modified gt datetime'{since}'") }),
    )
    .await;
    let mut got: Vec<&str> = by_modified.iter().map(|row| row["ID"].as_str().unwrap()).collect();
    let mut want: Vec<&str> = touched.iter().map(String::as_str).collect();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);

    let by_timestamp = rows(
        &context,
        json!({ "entity": "sync/crm/Accounts", "select": ["ID", "Timestamp"], "filter": format!("Timestamp gt {cursor}L") }),
    )
    .await;
    let mut got: Vec<&str> = by_timestamp.iter().map(|row| row["ID"].as_str().unwrap()).collect();
    got.sort_unstable();
    assert_eq!(got, want);
}

#[tokio::test]
async fn odata_options_and_api_call() {
    let sandbox = sandbox().await;
    unthrottled(&sandbox);
    let context = logged_in(&sandbox).await;
    let customers = rows(
        &context,
        json!({ "entity": "crm/Accounts", "select": ["ID", "Name", "Status"], "filter": "Status eq 'C'", "order_by": "Name" }),
    )
    .await;
    assert!(!customers.is_empty());
    assert!(customers.iter().all(|row| row["Status"] == "C"));
    let names: Vec<&str> = customers.iter().map(|row| row["Name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    // Exact orders text as its database does: without regard to case.
    sorted.sort_by_key(|name| name.to_lowercase());
    assert_eq!(names, sorted);

    let count = ok(
        &context,
        "exact_online.api_call",
        json!({ "path": "crm/Accounts/$count", "query": { "$filter": "Status eq 'C'" } }),
    )
    .await;
    assert_eq!(count["status"], 200);
    assert_eq!(count["body"], json!(customers.len()));

    let page = ok(
        &context,
        "exact_online.api_call",
        json!({ "path": "crm/Accounts", "query": { "$select": "ID" } }),
    )
    .await;
    assert_eq!(page["body"].as_array().unwrap().len(), 60, "one page of 60");
    assert!(page["next"].as_str().unwrap().contains("$skiptoken"), "{page}");

    let me = ok(
        &context,
        "exact_online.api_call",
        json!({ "path": "/api/v1/current/Me" }),
    )
    .await;
    // `current/Me` answers a list of one, as the API does; `exact_online.me` unwraps it.
    assert_eq!(me["body"][0]["CurrentDivision"], json!(creds::DIVISION));

    let error = call(
        &context,
        "exact_online.subscribe",
        json!({ "entity": "crm/Accounts", "filter": "Nope eq 1" }),
    )
    .await
    .unwrap_err();
    assert_eq!(error.status, Some(400));
    assert!(
        error.message.contains("Exact Online refused to read `crm/Accounts`"),
        "{}",
        error.message
    );

    // A key in the path: one account, as a list of one.
    let first = &customers[0];
    let one = rows(
        &context,
        json!({ "entity": "crm/Accounts({id})", "path": { "id": first["ID"] }, "select": ["ID", "Name"] }),
    )
    .await;
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["ID"], first["ID"]);

    let lines = rows(
        &context,
        json!({ "entity": "salesorder/SalesOrders", "expand": ["SalesOrderLines"], "limit": 2 }),
    )
    .await;
    let line = &lines[0]["SalesOrderLines"]["results"][0];
    assert!(line["ID"].is_string(), "{}", lines[0]);
}

#[tokio::test]
async fn another_division_is_read_when_the_connection_names_it() {
    let sandbox = sandbox().await;
    let runtime = Arc::new(HttpRuntime::default());
    let mut config = connection(&sandbox);
    login(&runtime, config.clone()).await;
    config["division"] = json!(creds::FORBIDDEN_DIVISION);
    let context = context_on(runtime, config);
    let error = call(
        &context,
        "exact_online.subscribe",
        json!({ "entity": "crm/Accounts", "limit": 1 }),
    )
    .await
    .unwrap_err();
    assert_eq!(error.status, Some(403));
    assert!(
        error.message.contains(&format!(
            "no access to read `crm/Accounts` in division {}",
            creds::FORBIDDEN_DIVISION
        )),
        "{}",
        error.message
    );
}
