//! The 1CRM simulator (`/onecrm/api.php`) over real sockets.

use std::collections::HashSet;
use std::time::Duration;

use flowrun_sandbox::{Fault, FaultRule, OneCrmEdition, OneCrmSettings, Sandbox};
use serde_json::{Value, json};

use super::{send, send_json, start};

const ADMIN: (&str, &str) = ("admin", "onecrm-admin");
const SALES: (&str, &str) = ("sales", "onecrm-sales");

/// The API base the connector uses: `onecrm_url() + "/api.php"`.
fn api(sandbox: &Sandbox) -> String {
    format!("{}/api.php", sandbox.onecrm_url())
}

/// GET as a user; status and JSON body.
async fn get_as(client: &reqwest::Client, user: (&str, &str), url: &str) -> (u16, Value) {
    send_json(client.get(url).basic_auth(user.0, Some(user.1))).await
}

async fn get(client: &reqwest::Client, url: &str) -> (u16, Value) {
    get_as(client, ADMIN, url).await
}

/// A request with a JSON body, as admin.
async fn write(client: &reqwest::Client, method: reqwest::Method, url: &str, body: Value) -> (u16, Value) {
    send_json(
        client
            .request(method, url)
            .basic_auth(ADMIN.0, Some(ADMIN.1))
            .json(&body),
    )
    .await
}

/// Asserts an error status with a 1CRM error body (`message` always).
fn assert_error(response: &(u16, Value), status: u16) -> String {
    assert_eq!(response.0, status, "{}", response.1);
    response.1["message"].as_str().expect("message").to_owned()
}

#[tokio::test]
async fn onecrm_auth_edition_and_switches() {
    let (sandbox, client) = start().await;
    let api = api(&sandbox);
    assert_eq!(sandbox.onecrm_url(), format!("{}/onecrm", sandbox.base_url()));

    let (status, version) = super::get_json(&client, &format!("{api}/version")).await;
    assert_eq!(status, 200);
    assert_eq!(version["authenticated"], false);
    assert_eq!(get(&client, &format!("{api}/version")).await.1["authenticated"], true);
    assert_eq!(super::get_json(&client, &format!("{api}/public_key")).await.0, 200);

    assert_error(&super::get_json(&client, &format!("{api}/me")).await, 401);
    assert_error(&get_as(&client, ("admin", "nope"), &format!("{api}/me")).await, 401);
    assert_error(&send_json(client.get(format!("{api}/me")).bearer_auth("x")).await, 401);
    let (status, me) = get(&client, &format!("{api}/me")).await;
    assert_eq!(status, 200);
    assert_eq!(me["id"], "Users:1");
    for key in ["name", "first_name", "last_name", "role", "groups", "email", "timezone"] {
        assert!(me.get(key).is_some(), "{key}");
    }
    // A sub-folder install serves the same API.
    let sub = format!("{}/1crm/api.php/me", sandbox.onecrm_url());
    assert_eq!(get(&client, &sub).await.0, 200);

    // ACL: the sales user has no Invoice module.
    assert_eq!(get_as(&client, SALES, &format!("{api}/me")).await.1["id"], "Users:2");
    assert_eq!(get_as(&client, SALES, &format!("{api}/data/Account")).await.0, 200);
    let denied = get_as(&client, SALES, &format!("{api}/data/Invoice")).await;
    assert!(assert_error(&denied, 403).contains("Invoice"));
    assert_error(
        &get_as(&client, SALES, &format!("{api}/meta/fields/Invoice")).await,
        403,
    );

    // Admin switches, from Rust and over the HTTP control API.
    let control = sandbox.control();
    control.set_onecrm_settings(OneCrmSettings {
        api_enabled: false,
        ..OneCrmSettings::default()
    });
    assert_error(&get(&client, &format!("{api}/me")).await, 403);
    assert_error(&super::get_json(&client, &format!("{api}/version")).await, 403);
    control.set_onecrm_settings(OneCrmSettings::default());
    let settings = format!("{}/_sandbox/onecrm/settings", sandbox.base_url());
    let (status, body) = send_json(client.post(&settings).json(&json!({"edition": "startup"}))).await;
    assert_eq!(status, 200);
    assert_eq!(body["edition"], "startup");
    assert_eq!(control.onecrm_settings().edition, OneCrmEdition::Startup);
    assert_error(&get(&client, &format!("{api}/data/Account")).await, 403);
    let (status, _) = send_json(
        client
            .post(&settings)
            .json(&json!({"edition": "enterprise", "basic_auth_enabled": false})),
    )
    .await;
    assert_eq!(status, 200);
    assert_error(&get(&client, &format!("{api}/me")).await, 401);
    assert_eq!(
        send(client.post(&settings).json(&json!({"nope": 1}))).await.status(),
        400
    );
    control.set_onecrm_settings(OneCrmSettings::default());
    assert_eq!(get(&client, &format!("{api}/me")).await.0, 200);

    assert_error(&get(&client, &format!("{api}/no/such/route")).await, 404);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn onecrm_lists_with_fields_filters_order_and_limits() {
    let (sandbox, client) = start().await;
    let api = api(&sandbox);

    let (status, page) = get(&client, &format!("{api}/data/Account")).await;
    assert_eq!(status, 200);
    assert_eq!(page["total_results"], 1500);
    let records = page["records"].as_array().unwrap();
    assert_eq!(records.len(), 20, "default limit");
    let keys: Vec<&String> = records[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "name", "_display"]);
    assert_eq!(records[0]["id"].as_str().unwrap().len(), 36);

    let (_, page) = get(
        &client,
        &format!(
            "{api}/data/Account?fields[]=name&fields%5B%5D=billing_address_city&fields[]=balance&limit=5&offset=3"
        ),
    )
    .await;
    let record = page["records"][0].as_object().unwrap();
    assert_eq!(
        record.keys().collect::<Vec<_>>(),
        ["id", "name", "billing_address_city", "balance"]
    );
    assert!(
        record["balance"].as_str().unwrap().contains('.'),
        "decimals are strings"
    );
    assert_eq!(page["records"].as_array().unwrap().len(), 5);

    let (_, city) = get(
        &client,
        &format!("{api}/data/Account?filters[address_city]=San%20Jose&fields[]=billing_address_city&limit=200"),
    )
    .await;
    let total = city["total_results"].as_u64().unwrap();
    assert!(total > 0 && total < 1500, "{total}");
    assert!(
        city["records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["billing_address_city"] == "San Jose")
    );

    let (_, text) = get(&client, &format!("{api}/data/Account?filter_text=acme&limit=200")).await;
    let total = text["total_results"].as_u64().unwrap();
    assert!(total > 0 && total < 1500);
    assert!(
        text["records"].as_array().unwrap().iter().all(|r| r["name"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .starts_with("acme"))
    );
    let (_, same) = get(&client, &format!("{api}/data/Account?filters[filter_text]=ACME")).await;
    assert_eq!(same["total_results"], total);

    let (_, ordered) = get(&client, &format!("{api}/data/Account?order=name%20desc&limit=50")).await;
    let names: Vec<String> = ordered["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_lowercase())
        .collect();
    assert!(names.windows(2).all(|w| w[0] >= w[1]), "{names:?}");
    let (_, by_balance) = get(
        &client,
        &format!("{api}/data/Account?order=balance&fields[]=balance&limit=100"),
    )
    .await;
    let balances: Vec<f64> = by_balance["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["balance"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(balances.windows(2).all(|w| w[0] <= w[1]));

    let unknown = get(&client, &format!("{api}/data/Account?filters[colour]=red")).await;
    let message = assert_error(&unknown, 400);
    assert!(
        message.contains("colour") && message.contains("address_city"),
        "{message}"
    );
    assert_error(&get(&client, &format!("{api}/data/Account?order=nope")).await, 400);
    assert_error(&get(&client, &format!("{api}/data/Account?limit=abc")).await, 400);
    let (_, big) = get(&client, &format!("{api}/data/Account?limit=1000")).await;
    assert_eq!(big["records"].as_array().unwrap().len(), 200, "limit is capped at 200");
    let unknown = get(&client, &format!("{api}/data/Acount")).await;
    assert_eq!(assert_error(&unknown, 404), "Model Acount not found");

    // Paging through every account: offset += records received until total_results.
    let mut ids = HashSet::new();
    let mut offset = 0;
    loop {
        let (status, page) = get(
            &client,
            &format!("{api}/data/Account?offset={offset}&limit=200&order=date_entered"),
        )
        .await;
        assert_eq!(status, 200);
        let records = page["records"].as_array().unwrap();
        if records.is_empty() {
            break;
        }
        offset += records.len();
        ids.extend(records.iter().map(|r| r["id"].as_str().unwrap().to_owned()));
        if offset >= page["total_results"].as_u64().unwrap() as usize {
            break;
        }
    }
    assert_eq!(ids.len(), 1500);

    // Owner filter and a model-specific filter of another model.
    let (_, mine) = get(
        &client,
        &format!("{api}/data/Contact?filters[filter_owner]=mine&limit=1"),
    )
    .await;
    let (_, not_mine) = get(
        &client,
        &format!("{api}/data/Contact?filters[filter_owner]=not_mine&limit=1"),
    )
    .await;
    assert_eq!(
        mine["total_results"].as_u64().unwrap() + not_mine["total_results"].as_u64().unwrap(),
        3000
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn onecrm_record_lifecycle_upsert_and_method_override() {
    let (sandbox, client) = start().await;
    let api = api(&sandbox);
    let control = sandbox.control();
    use reqwest::Method;

    let (status, created) = write(
        &client,
        Method::POST,
        &format!("{api}/data/Account"),
        json!({"data": {"name": "Flowrun Test GmbH", "account_type": "Customer", "balance": 12.5,
                        "is_supplier": true, "billing_address_city": "Amsterdam", "no_such_field": "x"}}),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 36);
    let (status, got) = get(&client, &format!("{api}/data/Account/{id}")).await;
    assert_eq!(status, 200);
    let record = &got["record"];
    assert_eq!(record["name"], "Flowrun Test GmbH");
    assert_eq!(record["balance"], "12.50");
    assert_eq!(record["is_supplier"], "1");
    assert_eq!(record["deleted"], "0");
    assert_eq!(record["assigned_user_id"], "1");
    assert_eq!(record["assigned_user"], "Administrator");
    assert!(record.get("no_such_field").is_none());
    assert!(record["industry"].is_null());
    let entered = record["date_entered"].as_str().unwrap().to_owned();
    assert_eq!(entered.len(), 19);
    assert_eq!(record["date_modified"], entered);

    control.advance_clock(Duration::from_secs(5));
    let (status, patched) = write(
        &client,
        Method::PATCH,
        &format!("{api}/data/Account/{id}"),
        json!({"data": {"industry": "Energy"}}),
    )
    .await;
    assert_eq!((status, patched), (200, json!({"result": true})));
    let record = get(
        &client,
        &format!("{api}/data/Account/{id}?fields[]=industry&fields[]=date_modified"),
    )
    .await
    .1["record"]
        .clone();
    assert_eq!(record["industry"], "Energy");
    assert!(record["date_modified"].as_str().unwrap() > entered.as_str());
    assert!(record.get("name").is_none(), "fields[] restricts a single record too");

    // PUT behaves like PATCH; a POST with the override header too.
    let (status, _) = write(
        &client,
        Method::PUT,
        &format!("{api}/data/Account/{id}"),
        json!({"data": {"phone_office": "+31 20 123"}}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = send_json(
        client
            .post(format!("{api}/data/Account/{id}"))
            .basic_auth(ADMIN.0, Some(ADMIN.1))
            .header("X-HTTP-Method-Override", "PATCH")
            .json(&json!({"data": {"website": "https://flowrun.example"}})),
    )
    .await;
    assert_eq!(status, 200);
    let record = get(&client, &format!("{api}/data/Account/{id}")).await.1["record"].clone();
    assert_eq!(record["phone_office"], "+31 20 123");
    assert_eq!(record["website"], "https://flowrun.example");
    assert_eq!(record["name"], "Flowrun Test GmbH");

    // Upsert: unknown id without create → 404; with create → created under that id.
    let fresh = "0badc0de-0000-4000-8000-000000000001";
    let missing = write(
        &client,
        Method::PATCH,
        &format!("{api}/data/Account/{fresh}"),
        json!({"data": {"name": "X"}}),
    )
    .await;
    assert_eq!(assert_error(&missing, 404), "Not found");
    let (status, _) = write(
        &client,
        Method::PATCH,
        &format!("{api}/data/Account/{fresh}"),
        json!({"data": {"name": "Upserted"}, "create": true}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        get(&client, &format!("{api}/data/Account/{fresh}")).await.1["record"]["name"],
        "Upserted"
    );
    assert_eq!(
        get(&client, &format!("{api}/data/Account?limit=1")).await.1["total_results"],
        1502
    );

    // Delete, through the override header; then 404 everywhere.
    let (status, deleted) = send_json(
        client
            .post(format!("{api}/data/Account/{fresh}"))
            .basic_auth(ADMIN.0, Some(ADMIN.1))
            .header("X-HTTP-Method-Override", "DELETE"),
    )
    .await;
    assert_eq!((status, deleted), (200, json!({"result": true})));
    assert_error(&get(&client, &format!("{api}/data/Account/{fresh}")).await, 404);
    let (status, _) = send_json(
        client
            .delete(format!("{api}/data/Account/{id}"))
            .basic_auth(ADMIN.0, Some(ADMIN.1)),
    )
    .await;
    assert_eq!(status, 200);
    assert_error(&get(&client, &format!("{api}/data/Account/{id}")).await, 404);
    assert_error(
        &send_json(
            client
                .delete(format!("{api}/data/Account/{id}"))
                .basic_auth(ADMIN.0, Some(ADMIN.1)),
        )
        .await,
        404,
    );
    assert_eq!(
        get(&client, &format!("{api}/data/Account?limit=1")).await.1["total_results"],
        1500
    );
    assert_error(&get(&client, &format!("{api}/data/Account/nope")).await, 404);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn onecrm_validation_errors() {
    let (sandbox, client) = start().await;
    let api = api(&sandbox);
    use reqwest::Method;
    let url = format!("{api}/data/Opportunity");

    let missing = write(&client, Method::POST, &url, json!({"data": {"name": "Deal"}})).await;
    let message = assert_error(&missing, 400);
    for field in ["account_id", "amount", "date_closed", "sales_stage"] {
        assert!(message.contains(field), "{message}");
    }
    let account = get(&client, &format!("{api}/data/Account?limit=1")).await.1["records"][0]["id"].clone();
    let valid = json!({"name": "Deal", "account_id": account, "amount": "1000.00",
                       "date_closed": "2025-06-30", "sales_stage": "Prospecting"});
    let mut bad_enum = valid.clone();
    bad_enum["sales_stage"] = json!("Dreaming");
    let invalid = write(&client, Method::POST, &url, json!({"data": bad_enum})).await;
    assert!(assert_error(&invalid, 422).contains("sales_stage"));
    assert_eq!(invalid.1["error"], "invalid_value");
    let mut bad_amount = valid.clone();
    bad_amount["amount"] = json!("a lot");
    assert_error(
        &write(&client, Method::POST, &url, json!({"data": bad_amount})).await,
        422,
    );
    let mut bad_date = valid.clone();
    bad_date["date_closed"] = json!("30/06/2025");
    assert_error(
        &write(&client, Method::POST, &url, json!({"data": bad_date})).await,
        422,
    );
    let mut bad_ref = valid.clone();
    bad_ref["account_id"] = json!("no-such-account");
    assert_error(&write(&client, Method::POST, &url, json!({"data": bad_ref})).await, 422);

    let (status, created) = write(&client, Method::POST, &url, json!({"data": valid})).await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().unwrap();
    let record = get(&client, &format!("{url}/{id}")).await.1["record"].clone();
    assert_eq!(record["account_id"], account);
    assert!(record["account"].is_string(), "the ref field shows the account's name");
    // Blanking a required field on update is refused too.
    let blank = write(
        &client,
        Method::PATCH,
        &format!("{url}/{id}"),
        json!({"data": {"name": ""}}),
    )
    .await;
    assert!(assert_error(&blank, 400).contains("name"));

    let bad_json = send_json(
        client
            .post(&url)
            .basic_auth(ADMIN.0, Some(ADMIN.1))
            .header("content-type", "application/json")
            .body("{not json"),
    )
    .await;
    assert_error(&bad_json, 400);
    assert_error(
        &write(&client, Method::POST, &url, json!({"name": "no data"})).await,
        400,
    );
    assert_error(&write(&client, Method::POST, &url, json!([1, 2])).await, 400);
    assert_error(
        &write(&client, Method::POST, &format!("{api}/data/Nope"), json!({"data": {}})).await,
        404,
    );
    let not_allowed = send_json(client.delete(&url).basic_auth(ADMIN.0, Some(ADMIN.1))).await;
    assert_error(&not_allowed, 405);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn onecrm_meta_endpoints() {
    let (sandbox, client) = start().await;
    let api = api(&sandbox);

    let (status, modules) = get(&client, &format!("{api}/meta/modules")).await;
    assert_eq!(status, 200);
    let list = modules["list"].as_array().unwrap();
    assert!(list.contains(&json!({"name": "Account", "label": "Accounts"})));
    assert!(list.iter().any(|m| m["name"] == "Case"));
    assert!(list.iter().any(|m| m["name"] == "Invoice"));
    let sales = get_as(&client, SALES, &format!("{api}/meta/modules")).await.1;
    assert!(!sales["list"].as_array().unwrap().iter().any(|m| m["name"] == "Invoice"));

    let (status, meta) = get(&client, &format!("{api}/meta/fields/Account")).await;
    assert_eq!(status, 200);
    assert_eq!(meta["fields"]["name"]["type"], "varchar");
    assert_eq!(meta["fields"]["name"]["required"], true);
    assert_eq!(meta["fields"]["account_type"]["type"], "enum");
    assert_eq!(meta["fields"]["account_type"]["options"]["Customer"], "Customer");
    assert_eq!(meta["fields"]["balance"]["type"], "currency");
    assert_eq!(meta["fields"]["is_supplier"]["type"], "bool");
    assert_eq!(meta["fields"]["date_modified"]["type"], "datetime");
    assert_eq!(meta["fields"]["email1"]["type"], "email");
    assert_eq!(meta["fields"]["phone_office"]["type"], "phone");
    for name in ["filter_text", "filter_owner", "address_city"] {
        assert!(meta["filters"].get(name).is_some(), "{name}");
    }
    // Every declared filter is accepted by /data.
    for name in meta["filters"].as_object().unwrap().keys() {
        let (status, body) = get(&client, &format!("{api}/data/Account?filters[{name}]=x&limit=1")).await;
        assert_eq!(status, 200, "{name}: {body}");
    }
    let contact = get(&client, &format!("{api}/meta/fields/Contact")).await.1;
    assert_eq!(contact["fields"]["primary_account"]["type"], "ref");
    assert_eq!(contact["fields"]["primary_account"]["bean_name"], "Account");
    assert_eq!(contact["fields"]["primary_account"]["id_name"], "primary_account_id");
    assert!(contact["filters"].get("primary_account").is_some());
    let note = get(&client, &format!("{api}/meta/fields/Note")).await.1;
    assert_eq!(note["fields"]["filename"]["type"], "file_ref");
    assert_eq!(get(&client, &format!("{api}/meta/fields/Case")).await.0, 200);
    assert_eq!(
        assert_error(&get(&client, &format!("{api}/meta/fields/Acount")).await, 404),
        "Model Acount not found"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn onecrm_related_lists_and_links() {
    let (sandbox, client) = start().await;
    let api = api(&sandbox);
    use reqwest::Method;

    let contact = get(
        &client,
        &format!("{api}/data/Contact?fields[]=primary_account_id&filters[last_name]=smith&limit=50"),
    )
    .await
    .1;
    let account = contact["records"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|r| r["primary_account_id"].as_str())
        .unwrap()
        .to_owned();
    let (status, related) = get(
        &client,
        &format!("{api}/data/Account/{account}/contacts?fields[]=primary_account_id&limit=200"),
    )
    .await;
    assert_eq!(status, 200);
    let (_, filtered) = get(
        &client,
        &format!("{api}/data/Contact?filters[primary_account]={account}&limit=1"),
    )
    .await;
    assert_eq!(related["total_results"], filtered["total_results"]);
    assert!(
        related["records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["primary_account_id"] == account)
    );
    let (status, notes) = get(&client, &format!("{api}/data/Account/{account}/notes")).await;
    assert_eq!(status, 200);
    assert!(notes["total_results"].is_u64());

    let (_, created) = write(
        &client,
        Method::POST,
        &format!("{api}/data/Contact"),
        json!({"data": {"last_name": "Linked"}}),
    )
    .await;
    let contact_id = created["id"].as_str().unwrap().to_owned();
    let before = related["total_results"].as_u64().unwrap();
    let (status, _) = write(
        &client,
        Method::POST,
        &format!("{api}/data/Account/{account}/contacts"),
        json!({"records": [contact_id]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        get(&client, &format!("{api}/data/Account/{account}/contacts")).await.1["total_results"],
        before + 1
    );
    let (status, _) = send_json(
        client
            .delete(format!("{api}/data/Account/{account}/contacts/{contact_id}"))
            .basic_auth(ADMIN.0, Some(ADMIN.1)),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        get(&client, &format!("{api}/data/Account/{account}/contacts")).await.1["total_results"],
        before
    );
    assert_error(
        &get(&client, &format!("{api}/data/Account/{account}/colours")).await,
        404,
    );
    assert_error(&get(&client, &format!("{api}/data/Account/nope/contacts")).await, 404);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn onecrm_upload_attach_and_download_byte_exact() {
    let (sandbox, client) = start().await;
    let api = api(&sandbox);
    use reqwest::Method;
    let bytes: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();

    let (status, upload) = send_json(
        client
            .post(format!("{api}/files/upload"))
            .basic_auth(ADMIN.0, Some(ADMIN.1))
            .header("content-type", "application/pdf")
            .header("X-OneCrm-Filename", "report 2024.pdf")
            .body(bytes.clone()),
    )
    .await;
    assert_eq!(status, 200, "{upload}");
    let upload_id = upload["id"].as_str().unwrap().to_owned();
    assert!(upload_id.starts_with("INCOMING~"));

    let (status, note) = write(
        &client,
        Method::POST,
        &format!("{api}/data/Note"),
        json!({"data": {"name": "With attachment", "filename": upload_id}}),
    )
    .await;
    assert_eq!(status, 200, "{note}");
    let note_id = note["id"].as_str().unwrap();
    let record = get(&client, &format!("{api}/data/Note/{note_id}")).await.1["record"].clone();
    assert_eq!(record["filename"], "report 2024.pdf");
    assert_eq!(record["file_mime_type"], "application/pdf");

    let (status, info) = get(&client, &format!("{api}/files/info/Note/{note_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(info["name"], "report 2024.pdf");
    assert_eq!(info["size"], 70_000);
    assert_eq!(info["mimetype"], "application/pdf");
    assert!(info["modified"].as_u64().unwrap() > 1_600_000_000);
    let response = send(
        client
            .get(format!("{api}/files/download/Note/{note_id}"))
            .basic_auth(ADMIN.0, Some(ADMIN.1)),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    assert_eq!(response.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // The upload is used up; unknown ids are refused; a file on update works too.
    let reused = write(
        &client,
        Method::POST,
        &format!("{api}/data/Note"),
        json!({"data": {"name": "Again", "filename": upload_id}}),
    )
    .await;
    assert_error(&reused, 400);
    let unknown = write(
        &client,
        Method::POST,
        &format!("{api}/data/Note"),
        json!({"data": {"name": "X", "filename": "INCOMING~nope"}}),
    )
    .await;
    assert_error(&unknown, 400);
    let (_, doc) = write(
        &client,
        Method::POST,
        &format!("{api}/data/Document"),
        json!({"data": {"document_name": "Price list"}}),
    )
    .await;
    let doc_id = doc["id"].as_str().unwrap();
    assert_error(&get(&client, &format!("{api}/files/info/Document/{doc_id}")).await, 404);
    let (_, upload) = send_json(
        client
            .post(format!("{api}/files/upload"))
            .basic_auth(ADMIN.0, Some(ADMIN.1))
            .header("content-type", "text/plain")
            .header("X-OneCrm-Filename", "prices.txt")
            .body("a,b\n1,2\n"),
    )
    .await;
    let (status, _) = write(
        &client,
        Method::PATCH,
        &format!("{api}/data/Document/{doc_id}"),
        json!({"data": {"revision_filename": upload["id"]}}),
    )
    .await;
    assert_eq!(status, 200);
    let response = send(
        client
            .get(format!("{api}/files/download/Document/{doc_id}"))
            .basic_auth(ADMIN.0, Some(ADMIN.1)),
    )
    .await;
    assert_eq!(response.headers()["content-type"], "text/plain");
    assert_eq!(response.text().await.unwrap(), "a,b\n1,2\n");
    let no_name = send_json(
        client
            .post(format!("{api}/files/upload"))
            .basic_auth(ADMIN.0, Some(ADMIN.1))
            .body("x"),
    )
    .await;
    assert_error(&no_name, 400);
    sandbox.shutdown().await;
}

/// A local receiver that records every webhook POST body.
async fn receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<Value>) {
    use axum::routing::post;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hook",
        post(move |axum::Json(body): axum::Json<Value>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}

#[tokio::test]
async fn onecrm_webhooks_are_delivered() {
    let (sandbox, client) = start().await;
    let api = api(&sandbox);
    let control = sandbox.control();
    use reqwest::Method;
    let (hook_url, mut received) = receiver().await;

    let not_deleted = json!({"glue": "or", "conditions": [
        {"field": "deleted", "filter": "is_false", "value": "0", "when": "current_value"}]});
    let (status, sub) = write(
        &client,
        Method::POST,
        &format!("{api}/webhooks"),
        json!({"model": "Account", "type": "create_update", "url": hook_url, "filters": not_deleted}),
    )
    .await;
    assert_eq!(status, 200, "{sub}");
    let hook_id = sub["id"].as_str().unwrap().to_owned();
    // Without filters a webhook never fires (as apis/onecrm.md reports of the real one).
    write(
        &client,
        Method::POST,
        &format!("{api}/webhooks"),
        json!({"model": "Account", "type": "create", "url": hook_url}),
    )
    .await;
    // Only creates of Contacts: not fired by the account writes below.
    write(
        &client,
        Method::POST,
        &format!("{api}/webhooks"),
        json!({"model": "Contact", "type": "create", "url": hook_url, "filters": not_deleted}),
    )
    .await;
    assert_error(
        &write(
            &client,
            Method::POST,
            &format!("{api}/webhooks"),
            json!({"model": "Account", "type": "sometimes", "url": hook_url}),
        )
        .await,
        400,
    );
    assert_error(&write(&client, Method::POST, &format!("{api}/webhooks"), json!({"model": "Account", "type": "create", "url": hook_url, "filters": {"conditions": [{"field": "nope", "filter": "eq"}]}})).await, 400);
    assert_eq!(get(&client, &format!("{api}/webhooks")).await.1["total_results"], 3);

    let (_, created) = write(
        &client,
        Method::POST,
        &format!("{api}/data/Account"),
        json!({"data": {"name": "Hooked Ltd."}}),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    write(
        &client,
        Method::PATCH,
        &format!("{api}/data/Account/{id}"),
        json!({"data": {"industry": "Retail"}}),
    )
    .await;

    let deliveries = control
        .wait_for_onecrm_webhook_deliveries(2, Duration::from_secs(10))
        .await;
    assert_eq!(deliveries.len(), 2, "{deliveries:?}");
    let events: HashSet<&str> = deliveries.iter().map(|d| d.event.as_str()).collect();
    assert_eq!(events, HashSet::from(["create", "update"]));
    assert!(
        deliveries
            .iter()
            .all(|d| d.status == Some(200) && d.webhook_id == hook_id && d.record_id == id)
    );
    let first = received.recv().await.unwrap();
    let second = received.recv().await.unwrap();
    let record = get(&client, &format!("{api}/data/Account/{id}")).await.1["record"].clone();
    let update = if first["industry"] == "Retail" { &first } else { &second };
    assert_eq!(update, &record, "the payload is the record as GET shows it");
    let (status, deliveries_json) = super::get_json(
        &client,
        &format!("{}/_sandbox/onecrm/webhook-deliveries", sandbox.base_url()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(deliveries_json.as_array().unwrap().len(), 2);

    // Unsubscribed: no more deliveries (synchronous mode makes "none" checkable at once).
    let (status, removed) = send_json(
        client
            .delete(format!("{api}/webhooks/{hook_id}"))
            .basic_auth(ADMIN.0, Some(ADMIN.1)),
    )
    .await;
    assert_eq!((status, removed), (200, json!({"result": true})));
    assert_error(
        &send_json(
            client
                .delete(format!("{api}/webhooks/{hook_id}"))
                .basic_auth(ADMIN.0, Some(ADMIN.1)),
        )
        .await,
        404,
    );
    control.set_onecrm_settings(OneCrmSettings {
        synchronous_webhooks: true,
        ..OneCrmSettings::default()
    });
    write(
        &client,
        Method::PATCH,
        &format!("{api}/data/Account/{id}"),
        json!({"data": {"industry": "Energy"}}),
    )
    .await;
    assert_eq!(control.onecrm_webhook_deliveries().len(), 2);
    write(
        &client,
        Method::POST,
        &format!("{api}/data/Contact"),
        json!({"data": {"last_name": "Hooked"}}),
    )
    .await;
    let deliveries = control.onecrm_webhook_deliveries();
    assert_eq!(deliveries.len(), 3, "delivered before the create answered");
    assert_eq!(deliveries[2].model, "Contact");
    assert_eq!(deliveries[2].payload["last_name"], "Hooked");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn onecrm_faults_apply_with_1crm_error_bodies() {
    let (sandbox, client) = start().await;
    let api = api(&sandbox);
    sandbox
        .control()
        .add_fault(FaultRule::new("/onecrm/api.php/data/*", Fault::status(503)).times(1));
    let failed = get(&client, &format!("{api}/data/Account")).await;
    assert!(assert_error(&failed, 503).contains("503"));
    assert_eq!(get(&client, &format!("{api}/data/Account")).await.0, 200);
    assert_eq!(
        sandbox.control().request_count("GET", "/onecrm/api.php/data/Account"),
        2
    );
    sandbox.shutdown().await;
}
