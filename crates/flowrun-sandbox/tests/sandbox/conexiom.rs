//! The Conexiom simulator (`/conexiom/Conexiom.API`) over real sockets.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use flowrun_sandbox::conexiom_credentials as creds;
use flowrun_sandbox::{ConexiomCounts, ConexiomSettings, Fault, FaultRule, Sandbox};
use serde_json::{Value, json};

use super::{send, send_json, start};

const UNAUTHORIZED: &str = "Authorization has been denied for this request.";

/// Password grant with the client in the body; status and JSON body.
async fn grant(client: &reqwest::Client, api: &str, form: &[(&str, &str)]) -> (u16, Value) {
    send_json(client.post(format!("{api}/token")).form(form)).await
}

/// A fresh access token of the demo user.
async fn token(client: &reqwest::Client, api: &str) -> String {
    let (status, body) = grant(
        client,
        api,
        &[
            ("grant_type", "password"),
            ("username", creds::USERNAME),
            ("password", creds::PASSWORD),
            ("client_id", creds::CLIENT_ID),
            ("client_secret", creds::CLIENT_SECRET),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// The API root and a token for it.
async fn connect(sandbox: &Sandbox, client: &reqwest::Client) -> (String, String) {
    let api = sandbox.conexiom_url();
    let token = token(client, &api).await;
    (api, token)
}

/// GET `{api}{path}` with a bearer token; status and JSON body.
async fn get(client: &reqwest::Client, token: &str, url: &str) -> (u16, Value) {
    send_json(client.get(url).bearer_auth(token)).await
}

/// GET that must succeed; the JSON body.
async fn ok(client: &reqwest::Client, token: &str, url: &str) -> Value {
    let (status, body) = get(client, token, url).await;
    assert_eq!(status, 200, "{url}: {body}");
    body
}

/// A bare JSON array answer.
async fn list(client: &reqwest::Client, token: &str, url: &str) -> Vec<Value> {
    match ok(client, token, url).await {
        Value::Array(items) => items,
        other => panic!("{url}: expected an array, got {other}"),
    }
}

/// Asserts an error status with `{"Message": ...}`; returns the message.
fn assert_message(response: &(u16, Value), status: u16) -> String {
    assert_eq!(response.0, status, "{}", response.1);
    response.1["Message"].as_str().expect("Message").to_owned()
}

fn keys(value: &Value) -> Vec<&str> {
    value.as_object().unwrap().keys().map(String::as_str).collect()
}

fn id(value: &Value, key: &str) -> i64 {
    value[key].as_i64().unwrap_or_else(|| panic!("{key} in {value}"))
}

/// `yyyy-MM-ddTHH:mm:ss`, no zone.
fn assert_date(value: &Value) {
    let text = value.as_str().unwrap_or_else(|| panic!("a date, got {value}"));
    let bytes = text.as_bytes();
    assert!(
        bytes.len() == 19 && bytes[4] == b'-' && bytes[10] == b'T' && bytes[16] == b':',
        "{text}"
    );
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.005
}

#[tokio::test]
async fn conexiom_token_endpoint() {
    let (sandbox, client) = start().await;
    let api = sandbox.conexiom_url();
    assert_eq!(api, format!("{}/conexiom/Conexiom.API", sandbox.base_url()));
    let control = sandbox.control();
    let user = [
        ("grant_type", "password"),
        ("username", creds::USERNAME),
        ("password", creds::PASSWORD),
    ];

    // The client in the body.
    let mut form = user.to_vec();
    form.extend([("client_id", creds::CLIENT_ID), ("client_secret", creds::CLIENT_SECRET)]);
    let (status, body) = grant(&client, &api, &form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        keys(&body),
        ["access_token", "token_type", "expires_in", "refresh_token"]
    );
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 1800);

    // The client as HTTP Basic.
    let (status, basic) = send_json(
        client
            .post(format!("{api}/token"))
            .basic_auth(creds::CLIENT_ID, Some(creds::CLIENT_SECRET))
            .form(&user),
    )
    .await;
    assert_eq!(status, 200, "{basic}");
    assert_eq!(control.token_grants("password"), 2);

    // The three errors of the doc, all 400.
    let mut wrong = form.clone();
    wrong[2] = ("password", "nope");
    assert_eq!(
        grant(&client, &api, &wrong).await,
        (
            400,
            json!({"error": "invalid_grant", "error_description": "The user name or password is incorrect."})
        )
    );
    let mut wrong = form.clone();
    wrong[4] = ("client_secret", "nope");
    assert_eq!(
        grant(&client, &api, &wrong).await,
        (400, json!({"error": "invalid_client"}))
    );
    assert_eq!(
        grant(&client, &api, &user).await,
        (400, json!({"error": "invalid_client"}))
    );
    let (status, body) = send_json(
        client
            .post(format!("{api}/token"))
            .basic_auth(creds::CLIENT_ID, Some("nope"))
            .form(&user),
    )
    .await;
    assert_eq!((status, body), (400, json!({"error": "invalid_client"})));
    let mut other = form.clone();
    other[0] = ("grant_type", "client_credentials");
    assert_eq!(
        grant(&client, &api, &other).await,
        (400, json!({"error": "unsupported_grant_type"}))
    );
    let (status, body) = send_json(
        client
            .post(format!("{api}/token"))
            .json(&json!({"grant_type": "password"})),
    )
    .await;
    assert_eq!((status, &body["error"]), (400, &json!("invalid_request")));
    let wrong_method = send_json(client.get(format!("{api}/token"))).await;
    assert_message(&wrong_method, 405);

    // Refresh: the token is used up and a new one comes back (rotation).
    let refresh = basic["refresh_token"].as_str().unwrap();
    let refresh_form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh),
        ("client_id", creds::CLIENT_ID),
        ("client_secret", creds::CLIENT_SECRET),
    ];
    let (status, refreshed) = grant(&client, &api, &refresh_form).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_ne!(refreshed["refresh_token"], basic["refresh_token"]);
    let token = refreshed["access_token"].as_str().unwrap();
    assert_eq!(
        get(&client, token, &format!("{api}/api/hubcos/17/spokecos")).await.0,
        200
    );
    assert_eq!(
        grant(&client, &api, &refresh_form).await,
        (400, json!({"error": "invalid_grant"}))
    );
    assert_eq!(control.token_grants("refresh_token"), 1);

    // Settings: token path, lifetime, refresh tokens.
    control.set_conexiom_settings(ConexiomSettings {
        token_path: "/oauth/token".into(),
        token_lifetime_secs: 60,
        issue_refresh_tokens: false,
        ..ConexiomSettings::default()
    });
    assert_message(&grant(&client, &api, &form).await, 404);
    let (status, body) = send_json(client.post(format!("{api}/OAuth/Token")).form(&form)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(keys(&body), ["access_token", "token_type", "expires_in"]);
    assert_eq!(body["expires_in"], 60);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn conexiom_bearer_auth_expiry_and_revocation() {
    let (sandbox, client) = start().await;
    let control = sandbox.control();
    let (api, token) = connect(&sandbox, &client).await;
    let url = format!("{api}/api/hubcos/17/spokecos");

    let response = send(client.get(&url)).await;
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"Message": UNAUTHORIZED})
    );
    for bad in [
        client.get(&url).bearer_auth("not-a-token"),
        client.get(&url).basic_auth(creds::USERNAME, Some(creds::PASSWORD)),
        client.get(&url).header("Authorization", format!("Token {token}")),
    ] {
        assert_eq!(assert_message(&send_json(bad).await, 401), UNAUTHORIZED);
    }
    // A token of another simulator is unknown here.
    let (_, test_token) = super::token(
        &client,
        &sandbox.test_api_url(),
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "wonderland"),
        ],
    )
    .await;
    let other = test_token["access_token"].as_str().unwrap();
    assert_message(&get(&client, other, &url).await, 401);

    assert_eq!(get(&client, &token, &url).await.0, 200);
    control.advance_clock(Duration::from_secs(1799));
    assert_eq!(get(&client, &token, &url).await.0, 200);
    control.advance_clock(Duration::from_secs(2));
    assert_eq!(assert_message(&get(&client, &token, &url).await, 401), UNAUTHORIZED);

    let fresh = self::token(&client, &api).await;
    assert_eq!(get(&client, &fresh, &url).await.0, 200);
    control.revoke_access_tokens();
    assert_message(&get(&client, &fresh, &url).await, 401);
    let fresh = self::token(&client, &api).await;
    assert_eq!(get(&client, &fresh, &url).await.0, 200);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn conexiom_hubco_scoping_404s_and_405s() {
    let (sandbox, client) = start().await;
    let (api, token) = connect(&sandbox, &client).await;
    let control = sandbox.control();

    // HubCo 18 exists, with records right after HubCo 17's ids; the user may not read any.
    let spokecos = control.conexiom_spokeco_ids();
    let documents = control.conexiom_document_ids();
    let other_spokeco = spokecos.last().unwrap() + 1;
    let other_document = documents.last().unwrap() + 1;
    let alerts = list(&client, &token, &format!("{api}/api/hubcos/17/alerts")).await;
    let other_alert = alerts.iter().map(|a| id(a, "AlertId")).max().unwrap() + 1;
    for path in [
        format!("/api/hubcos/{}/alerts", creds::OTHER_HUBCO_ID),
        format!("/api/hubcos/{}/spokecos", creds::OTHER_HUBCO_ID),
        format!("/api/spokecos/{other_spokeco}"),
        format!("/api/spokecos/{other_spokeco}/documents"),
        format!("/api/spokecos/{other_spokeco}/buyers"),
        format!("/api/spokecos/{other_spokeco}/addresses"),
        format!("/api/documents/{other_document}"),
        format!("/api/documents/{other_document}/files"),
        format!("/api/alerts/{other_alert}"),
    ] {
        let message = assert_message(&get(&client, &token, &format!("{api}{path}")).await, 403);
        assert!(message.contains("HubCo 18"), "{path}: {message}");
    }

    for path in [
        "/api/hubcos/99/alerts",
        "/api/hubcos/abc/spokecos",
        "/api/spokecos/1/documents",
        "/api/spokecos/99999",
        "/api/spokecos/0/buyers",
        "/api/spokecos/-5/addresses",
        "/api/documents/1",
        "/api/documents/x-y/files",
        "/api/alerts/1",
        "/api/alerts/99999999",
        "/api/nothing/here",
        "/nowhere",
    ] {
        assert_message(&get(&client, &token, &format!("{api}{path}")).await, 404);
    }
    let outside = send_json(client.get(format!("{}/conexiom/elsewhere", sandbox.base_url()))).await;
    assert_message(&outside, 404);
    let posted = send_json(
        client
            .post(format!("{api}/api/documents/{}", documents[0]))
            .bearer_auth(&token),
    )
    .await;
    assert!(assert_message(&posted, 405).contains("POST"));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn conexiom_every_endpoint_has_the_documented_shape() {
    let (sandbox, client) = start().await;
    let (api, token) = connect(&sandbox, &client).await;

    let spokecos = list(&client, &token, &format!("{api}/api/hubcos/17/spokecos")).await;
    assert_eq!(spokecos.len(), 8);
    let spokeco = &spokecos[0];
    assert_eq!(
        keys(spokeco),
        [
            "SpokeCoId",
            "HubCoId",
            "Name",
            "ErpCustomerNumber",
            "IsActive",
            "CreatedOn",
            "LastModifiedOn"
        ]
    );
    assert_eq!(spokeco["HubCoId"], 17);
    assert_date(&spokeco["CreatedOn"]);
    assert!(spokeco["LastModifiedOn"].as_str().unwrap().starts_with("2024-"));
    let names: HashSet<&str> = spokecos.iter().map(|s| s["Name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 8, "distinct names");
    let spokeco_id = id(spokeco, "SpokeCoId");
    let one = ok(&client, &token, &format!("{api}/api/spokecos/{spokeco_id}")).await;
    assert_eq!(&one, spokeco);

    let buyers = list(&client, &token, &format!("{api}/api/spokecos/{spokeco_id}/buyers")).await;
    assert!((2..=4).contains(&buyers.len()));
    assert_eq!(keys(&buyers[0]), ["BuyerId", "SpokeCoId", "Name", "Email", "Phone"]);
    assert!(buyers[0]["Email"].as_str().unwrap().contains('@'));
    let addresses = list(&client, &token, &format!("{api}/api/spokecos/{spokeco_id}/addresses")).await;
    assert!((2..=4).contains(&addresses.len()));
    assert_eq!(
        keys(&addresses[0]),
        [
            "AddressId",
            "SpokeCoId",
            "AddressType",
            "Code",
            "Name",
            "Line1",
            "Line2",
            "City",
            "State",
            "PostalCode",
            "Country"
        ]
    );
    let types: BTreeSet<&str> = addresses.iter().map(|a| a["AddressType"].as_str().unwrap()).collect();
    assert_eq!(types, BTreeSet::from(["BillTo", "ShipTo"]));

    let documents = list(&client, &token, &format!("{api}/api/spokecos/{spokeco_id}/documents")).await;
    assert!(!documents.is_empty());
    let ids: Vec<i64> = documents.iter().map(|d| id(d, "DocumentId")).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ascending ids");
    let document = documents.iter().find(|d| !d["ProcessedOn"].is_null()).unwrap();
    assert_eq!(
        keys(document),
        [
            "DocumentId",
            "SpokeCoId",
            "HubCoId",
            "DocumentType",
            "DocumentNumber",
            "Status",
            "SenderEmail",
            "ReceivedOn",
            "ProcessedOn",
            "HasAlerts"
        ]
    );
    assert_eq!(document["Status"], "Processed");
    assert_eq!(document["SpokeCoId"], spokeco_id);
    assert_date(&document["ReceivedOn"]);
    assert_date(&document["ProcessedOn"]);
    assert!(document["ReceivedOn"].as_str().unwrap() < document["ProcessedOn"].as_str().unwrap());
    let document_id = id(document, "DocumentId");

    let data = ok(&client, &token, &format!("{api}/api/documents/{document_id}")).await;
    assert_eq!(
        keys(&data),
        [
            "DocumentId",
            "PONumber",
            "PODate",
            "Currency",
            "BuyerId",
            "ShipToAddressId",
            "BillToAddressId",
            "TotalAmount",
            "Lines"
        ]
    );
    assert_eq!(data["PONumber"], document["DocumentNumber"]);
    assert!(data["PODate"].as_str().unwrap().ends_with("T00:00:00"));
    assert!(buyers.iter().any(|b| b["BuyerId"] == data["BuyerId"]));
    assert!(buyers.iter().any(|b| b["Email"] == document["SenderEmail"]));
    let address_type = |address_id: &Value| {
        addresses
            .iter()
            .find(|a| &a["AddressId"] == address_id)
            .map(|a| a["AddressType"].as_str().unwrap().to_owned())
    };
    assert_eq!(address_type(&data["ShipToAddressId"]).as_deref(), Some("ShipTo"));
    assert_eq!(address_type(&data["BillToAddressId"]).as_deref(), Some("BillTo"));
    let lines = data["Lines"].as_array().unwrap();
    assert!((1..=8).contains(&lines.len()));
    assert_eq!(
        keys(&lines[0]),
        [
            "LineNumber",
            "CustomerPartNumber",
            "SupplierPartNumber",
            "Description",
            "Quantity",
            "UnitOfMeasure",
            "UnitPrice",
            "ExtendedPrice",
            "RequestedDate"
        ]
    );
    let mut total = 0.0;
    for (n, line) in lines.iter().enumerate() {
        assert_eq!(line["LineNumber"], n + 1);
        let quantity = line["Quantity"].as_f64().unwrap();
        let price = line["UnitPrice"].as_f64().unwrap();
        let extended = line["ExtendedPrice"].as_f64().unwrap();
        assert!(close(quantity * price, extended), "{line}");
        total += extended;
        assert_date(&line["RequestedDate"]);
    }
    assert!(close(total, data["TotalAmount"].as_f64().unwrap()), "{data}");

    let files = list(&client, &token, &format!("{api}/api/documents/{document_id}/files")).await;
    assert!((1..=3).contains(&files.len()));
    assert_eq!(
        keys(&files[0]),
        [
            "FileId",
            "DocumentId",
            "FileName",
            "ContentType",
            "FileType",
            "SizeBytes",
            "CreatedOn"
        ]
    );
    assert_eq!(files[0]["FileType"], "Original");
    assert_eq!(files.last().unwrap()["FileType"], "Output");
    assert_eq!(files[0]["DocumentId"], document_id);

    let alerts = list(&client, &token, &format!("{api}/api/hubcos/17/alerts")).await;
    assert!(!alerts.is_empty());
    let alert = &alerts[0];
    let alert_keys = [
        "AlertId",
        "HubCoId",
        "SpokeCoId",
        "DocumentId",
        "AlertType",
        "Severity",
        "Status",
        "Message",
        "CreatedOn",
        "ResolvedOn",
    ];
    assert_eq!(keys(alert), alert_keys);
    assert!(
        alerts
            .iter()
            .any(|a| a["Status"] == "Open" && a["ResolvedOn"].is_null())
    );
    assert!(
        alerts
            .iter()
            .any(|a| a["Status"] == "Resolved" && a["ResolvedOn"].is_string())
    );
    let detail = ok(&client, &token, &format!("{api}/api/alerts/{}", id(alert, "AlertId"))).await;
    assert_eq!(keys(&detail)[..10], alert_keys);
    for key in ["RuleName", "Details", "LineNumber", "DocumentNumber", "ResolvedBy"] {
        assert!(detail.get(key).is_some(), "{key} in {detail}");
    }
    for key in alert_keys {
        assert_eq!(detail[key], alert[key], "{key}");
    }
    // The alert's document says so.
    let alert_spokeco = id(alert, "SpokeCoId");
    let its_documents = list(
        &client,
        &token,
        &format!("{api}/api/spokecos/{alert_spokeco}/documents"),
    )
    .await;
    let its_document = its_documents
        .iter()
        .find(|d| d["DocumentId"] == alert["DocumentId"])
        .unwrap();
    assert_eq!(its_document["HasAlerts"], true);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn conexiom_delta_filters_and_unprocessed_documents() {
    let (sandbox, client) = start().await;
    let (api, token) = connect(&sandbox, &client).await;

    // SpokeCos: inclusive, names case-insensitive, every date form.
    let spokecos = list(&client, &token, &format!("{api}/api/hubcos/17/spokecos")).await;
    let mut modified: Vec<&str> = spokecos.iter().map(|s| s["LastModifiedOn"].as_str().unwrap()).collect();
    modified.sort_unstable();
    let middle = modified[4];
    let expected = modified.iter().filter(|m| **m >= middle).count();
    for name in ["lastModifiedFromDate", "LASTMODIFIEDFROMDATE", "LastModifiedFromDate"] {
        let url = format!("{api}/api/hubcos/17/spokecos?{name}={middle}");
        let found = list(&client, &token, &url).await;
        assert_eq!(found.len(), expected, "{name}");
        assert!(found.iter().all(|s| s["LastModifiedOn"].as_str().unwrap() >= middle));
    }
    let day = &middle[..10];
    for form in [
        day.to_owned(),
        format!("{middle}.000"),
        format!("{middle}Z"),
        format!("{middle}%2B00:00"),
    ] {
        let url = format!("{api}/api/hubcos/17/spokecos?lastModifiedFromDate={form}");
        let found = list(&client, &token, &url).await;
        assert!(found.len() >= expected, "{form}");
    }
    // A second later excludes the one modified at `middle`.
    let later = format!("{middle}.5");
    let found = list(
        &client,
        &token,
        &format!("{api}/api/hubcos/17/spokecos?lastModifiedFromDate={later}"),
    )
    .await;
    assert_eq!(found.len(), expected - 1);
    assert_eq!(
        list(
            &client,
            &token,
            &format!("{api}/api/hubcos/17/spokecos?lastModifiedFromDate=")
        )
        .await
        .len(),
        8,
        "an empty value is no filter"
    );
    let junk = get(
        &client,
        &token,
        &format!("{api}/api/hubcos/17/spokecos?lastmodifiedfromdate=soon"),
    )
    .await;
    assert_eq!(
        junk,
        (
            400,
            json!({"Message": "The request is invalid.",
                   "ModelState": {"lastModifiedFromDate": ["The value 'soon' is not valid for lastModifiedFromDate."]}})
        )
    );

    // Documents: every SpokeCo together has unprocessed ones; they show without a filter
    // and never with one.
    let mut unprocessed = 0;
    for spokeco in &spokecos {
        let spokeco_id = id(spokeco, "SpokeCoId");
        let url = format!("{api}/api/spokecos/{spokeco_id}/documents");
        let all = list(&client, &token, &url).await;
        let processed: Vec<&Value> = all.iter().filter(|d| !d["ProcessedOn"].is_null()).collect();
        for document in all.iter().filter(|d| d["ProcessedOn"].is_null()) {
            unprocessed += 1;
            assert_eq!(document["Status"], "Received");
            let data = ok(
                &client,
                &token,
                &format!("{api}/api/documents/{}", document["DocumentId"]),
            )
            .await;
            assert_eq!(
                data,
                json!({"DocumentId": document["DocumentId"], "PONumber": null, "PODate": null, "Currency": null,
                       "BuyerId": null, "ShipToAddressId": null, "BillToAddressId": null, "TotalAmount": null,
                       "Lines": []})
            );
        }
        let Some(pivot) = processed.get(processed.len() / 2) else {
            continue;
        };
        let from = pivot["ProcessedOn"].as_str().unwrap();
        let expected: Vec<&Value> = processed
            .iter()
            .copied()
            .filter(|d| d["ProcessedOn"].as_str().unwrap() >= from)
            .collect();
        for name in ["ProcessedOnFromDate", "processedOnFromDate", "processedonfromdate"] {
            let found = list(&client, &token, &format!("{url}?{name}={from}")).await;
            assert_eq!(found.iter().collect::<Vec<_>>(), expected, "{name}");
        }
        let everything = list(&client, &token, &format!("{url}?ProcessedOnFromDate=2000-01-01")).await;
        assert_eq!(everything.len(), processed.len(), "unprocessed never match a filter");
        let junk = get(&client, &token, &format!("{url}?ProcessedOnFromDate=2024-02-30")).await;
        assert_eq!(junk.0, 400);
        assert!(junk.1["ModelState"]["ProcessedOnFromDate"].is_array(), "{}", junk.1);
    }
    assert!(unprocessed > 0);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn conexiom_paged_mode() {
    let (sandbox, client) = start().await;
    let (api, token) = connect(&sandbox, &client).await;
    let control = sandbox.control();
    let spokeco = control.conexiom_spokeco_ids()[0];
    let url = format!("{api}/api/spokecos/{spokeco}/documents");
    let all = list(&client, &token, &url).await;
    assert!(all.len() > 5);

    let first = ok(&client, &token, &format!("{url}?page=1&pageSize=3")).await;
    assert_eq!(keys(&first), ["Items", "TotalCount", "Page", "PageSize"]);
    assert_eq!(first["TotalCount"], all.len());
    assert_eq!((first["Page"].as_u64(), first["PageSize"].as_u64()), (Some(1), Some(3)));
    assert_eq!(first["Items"].as_array().unwrap()[..], all[..3]);
    let second = ok(&client, &token, &format!("{url}?PAGE=2&PageSize=3")).await;
    assert_eq!(second["Items"].as_array().unwrap()[..], all[3..6]);
    let beyond = ok(&client, &token, &format!("{url}?page=1000")).await;
    assert_eq!(beyond["Items"], json!([]));
    assert_eq!(beyond["PageSize"], 100);
    let capped = ok(&client, &token, &format!("{url}?page=1&pageSize=5000")).await;
    assert_eq!(capped["PageSize"], 1000);
    // pageSize alone does not switch the mode.
    assert_eq!(
        list(&client, &token, &format!("{url}?pageSize=2")).await.len(),
        all.len()
    );
    for bad in ["page=0", "page=x", "page=1&pageSize=0", "page=-1"] {
        let (status, body) = get(&client, &token, &format!("{url}?{bad}")).await;
        assert_eq!(
            (status, &body["Message"]),
            (400, &json!("The request is invalid.")),
            "{bad}"
        );
    }

    // Paged by setting (here over HTTP): every list is wrapped.
    let settings = format!("{}/_sandbox/conexiom/settings", sandbox.base_url());
    let (status, body) = send_json(client.post(&settings).json(&json!({"paged": true, "page_size": 4}))).await;
    assert_eq!(status, 200, "{body}");
    assert!(control.conexiom_settings().paged);
    let paged = ok(&client, &token, &url).await;
    assert_eq!(paged["Items"].as_array().unwrap()[..], all[..4]);
    for path in [
        "/api/hubcos/17/alerts".to_owned(),
        "/api/hubcos/17/spokecos".to_owned(),
        format!("/api/spokecos/{spokeco}/buyers"),
        format!("/api/spokecos/{spokeco}/addresses"),
        format!("/api/documents/{}/files", all[0]["DocumentId"]),
    ] {
        let body = ok(&client, &token, &format!("{api}{path}")).await;
        assert!(
            body["Items"].is_array() && body["TotalCount"].is_u64(),
            "{path}: {body}"
        );
    }
    // Single records are never wrapped.
    let one = ok(&client, &token, &format!("{api}/api/spokecos/{spokeco}")).await;
    assert_eq!(one["SpokeCoId"], spokeco);
    sandbox.shutdown().await;
}

/// Every list of a full extraction: what `conexiom_counts` promises.
async fn extract(client: &reqwest::Client, token: &str, api: &str) -> ConexiomCounts {
    let mut counts = ConexiomCounts {
        alerts: list(client, token, &format!("{api}/api/hubcos/17/alerts")).await.len(),
        ..ConexiomCounts::default()
    };
    for spokeco in list(client, token, &format!("{api}/api/hubcos/17/spokecos")).await {
        counts.spokecos += 1;
        let spokeco = id(&spokeco, "SpokeCoId");
        counts.buyers += list(client, token, &format!("{api}/api/spokecos/{spokeco}/buyers"))
            .await
            .len();
        counts.addresses += list(client, token, &format!("{api}/api/spokecos/{spokeco}/addresses"))
            .await
            .len();
        for document in list(client, token, &format!("{api}/api/spokecos/{spokeco}/documents")).await {
            counts.documents += 1;
            let document = id(&document, "DocumentId");
            let data = ok(client, token, &format!("{api}/api/documents/{document}")).await;
            let lines = data["Lines"].as_array().unwrap().len();
            if lines > 0 {
                counts.processed_documents += 1;
                counts.document_lines += lines;
            }
            let files = list(client, token, &format!("{api}/api/documents/{document}/files"))
                .await
                .len();
            counts.files += files;
            if lines > 0 {
                counts.processed_files += files;
            }
        }
    }
    counts
}

#[tokio::test]
async fn conexiom_counts_match_a_full_extraction() {
    let (sandbox, client) = start().await;
    let (api, token) = connect(&sandbox, &client).await;
    let control = sandbox.control();
    let counts = control.conexiom_counts();
    assert_eq!((counts.spokecos, counts.documents), (8, 400));
    assert!(counts.processed_documents < counts.documents && counts.processed_documents > 340);
    assert!(counts.alerts > 10 && counts.alerts < 80, "{counts:?}");
    assert_eq!(control.conexiom_document_ids().len(), 400);

    // A smaller dataset keeps the walk short; a change of size regenerates.
    control.set_conexiom_settings(ConexiomSettings {
        spokecos: 3,
        documents: 60,
        ..ConexiomSettings::default()
    });
    let counts = control.conexiom_counts();
    assert_eq!((counts.spokecos, counts.documents), (3, 60));
    assert_eq!(extract(&client, &token, &api).await, counts);
    control.conexiom_process_pending();
    control.conexiom_add_document(control.conexiom_spokeco_ids()[1]);
    let changed = control.conexiom_counts();
    assert_eq!(changed.documents, 61);
    assert_eq!(changed.processed_documents, 61);
    assert_eq!(extract(&client, &token, &api).await, changed);

    // The benchmark's size.
    control.set_conexiom_settings(ConexiomSettings {
        documents: 5000,
        ..ConexiomSettings::default()
    });
    assert_eq!(control.conexiom_counts().documents, 5000);
    assert_eq!(control.conexiom_document_ids().len(), 5000);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn conexiom_change_hooks_show_in_delta_reads() {
    let (sandbox, client) = start().await;
    let (api, token) = connect(&sandbox, &client).await;
    let control = sandbox.control();
    let before = control.conexiom_counts();
    let spokecos = control.conexiom_spokeco_ids();

    // Re-processing: a delta read of each SpokeCo from the stamp returns exactly those.
    let ids = control.conexiom_document_ids();
    let picked = [ids[10], ids[200], ids[201]];
    let from = control.conexiom_next_change_date();
    assert!(from.as_str() > "2025", "{from}");
    let old_data = ok(&client, &token, &format!("{api}/api/documents/{}", picked[0])).await;
    assert_eq!(
        control.conexiom_reprocess_documents(&[picked[2], picked[0], picked[1], 1]),
        picked
    );
    let mut seen = Vec::new();
    for spokeco in &spokecos {
        let url = format!("{api}/api/spokecos/{spokeco}/documents?ProcessedOnFromDate={from}");
        for document in list(&client, &token, &url).await {
            assert!(document["ProcessedOn"].as_str().unwrap() >= from.as_str());
            assert_eq!(document["Status"], "Processed");
            seen.push(id(&document, "DocumentId"));
        }
    }
    seen.sort_unstable();
    assert_eq!(seen, picked);
    let new_data = ok(&client, &token, &format!("{api}/api/documents/{}", picked[0])).await;
    let quantity = |data: &Value| data["Lines"][0]["Quantity"].as_f64().unwrap();
    assert_eq!(quantity(&new_data), quantity(&old_data) + 1.0);
    let price = new_data["Lines"][0]["UnitPrice"].as_f64().unwrap();
    let total = |data: &Value| data["TotalAmount"].as_f64().unwrap();
    assert!(close(total(&new_data), total(&old_data) + price));

    // Each change is stamped after the previous one.
    let second = control.conexiom_next_change_date();
    assert!(second > from, "{second} after {from}");

    // Late processing: the pending documents, and only they, come after `second`.
    let counts = control.conexiom_counts();
    // Every HubCo's pending documents are processed; only HubCo 17's can be read.
    let pending: Vec<i64> = control
        .conexiom_process_pending()
        .into_iter()
        .filter(|document| ids.contains(document))
        .collect();
    assert_eq!(pending.len(), counts.documents - counts.processed_documents);
    assert!(!pending.is_empty());
    assert!(control.conexiom_process_pending().is_empty());
    let mut late = Vec::new();
    for spokeco in &spokecos {
        let url = format!("{api}/api/spokecos/{spokeco}/documents?ProcessedOnFromDate={second}");
        late.extend(list(&client, &token, &url).await.iter().map(|d| id(d, "DocumentId")));
    }
    late.sort_unstable();
    assert_eq!(late, pending);
    let data = ok(&client, &token, &format!("{api}/api/documents/{}", pending[0])).await;
    assert!(!data["Lines"].as_array().unwrap().is_empty());
    let files = list(&client, &token, &format!("{api}/api/documents/{}/files", pending[0])).await;
    assert_eq!(files.last().unwrap()["FileType"], "Output");

    // A new document.
    let third = control.conexiom_next_change_date();
    let added = control.conexiom_add_document(spokecos[3]);
    assert!(added > *ids.last().unwrap());
    let url = format!(
        "{api}/api/spokecos/{}/documents?ProcessedOnFromDate={third}",
        spokecos[3]
    );
    let found = list(&client, &token, &url).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["DocumentId"], added);
    assert_eq!(found[0]["HasAlerts"], false);
    let data = ok(&client, &token, &format!("{api}/api/documents/{added}")).await;
    assert!(!data["Lines"].as_array().unwrap().is_empty());
    assert!(
        list(&client, &token, &format!("{api}/api/documents/{added}/files"))
            .await
            .len()
            >= 2
    );
    assert_eq!(control.conexiom_document_ids().last(), Some(&added));

    // A touched SpokeCo.
    let fourth = control.conexiom_next_change_date();
    let old = ok(&client, &token, &format!("{api}/api/spokecos/{}", spokecos[5])).await;
    assert!(control.conexiom_touch_spokeco(spokecos[5]));
    assert!(!control.conexiom_touch_spokeco(1));
    let changed = list(
        &client,
        &token,
        &format!("{api}/api/hubcos/17/spokecos?lastModifiedFromDate={fourth}"),
    )
    .await;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["SpokeCoId"], spokecos[5]);
    assert_ne!(changed[0]["Name"], old["Name"]);
    assert!(
        changed[0]["Name"]
            .as_str()
            .unwrap()
            .starts_with(old["Name"].as_str().unwrap())
    );

    // The clock moves the stamps.
    control.advance_clock(Duration::from_secs(86_400));
    let tomorrow = control.conexiom_next_change_date();
    assert!(tomorrow[..10] > fourth[..10], "{tomorrow} vs {fourth}");

    // Reset: the seed again (with a new token: the day passed expired the old one).
    let token = self::token(&client, &api).await;
    control.conexiom_reset();
    assert_eq!(control.conexiom_counts(), before);
    let reset = ok(&client, &token, &format!("{api}/api/documents/{}", picked[0])).await;
    assert_eq!(reset, old_data);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn conexiom_two_sandboxes_serve_the_same_data() {
    let (one, client) = start().await;
    let two = Sandbox::start(0, flowrun_sandbox::SandboxConfig::default())
        .await
        .unwrap();
    let (api_one, token_one) = connect(&one, &client).await;
    let (api_two, token_two) = connect(&two, &client).await;
    let spokeco = one.control().conexiom_spokeco_ids()[2];
    one.control().conexiom_add_document(spokeco);
    two.control().conexiom_add_document(spokeco);
    let document = one.control().conexiom_document_ids()[123];
    let added = *one.control().conexiom_document_ids().last().unwrap();
    for path in [
        "/api/hubcos/17/alerts".to_owned(),
        "/api/hubcos/17/spokecos".to_owned(),
        format!("/api/spokecos/{spokeco}/buyers"),
        format!("/api/spokecos/{spokeco}/addresses"),
        format!("/api/documents/{document}"),
        format!("/api/documents/{document}/files"),
    ] {
        let a = ok(&client, &token_one, &format!("{api_one}{path}")).await;
        let b = ok(&client, &token_two, &format!("{api_two}{path}")).await;
        assert_eq!(a, b, "{path}");
    }
    // The added documents differ only in their dates (each sandbox's now).
    let path = format!("/api/spokecos/{spokeco}/documents");
    let mut a = list(&client, &token_one, &format!("{api_one}{path}")).await;
    let mut b = list(&client, &token_two, &format!("{api_two}{path}")).await;
    let (last_a, last_b) = (a.pop().unwrap(), b.pop().unwrap());
    assert_eq!(a, b);
    assert_eq!(last_a["DocumentId"], added);
    assert_eq!(last_a["DocumentNumber"], last_b["DocumentNumber"]);
    let a = ok(&client, &token_one, &format!("{api_one}/api/documents/{added}")).await;
    let b = ok(&client, &token_two, &format!("{api_two}/api/documents/{added}")).await;
    let parts = |data: &Value| -> Vec<(Value, Value, Value)> {
        let lines = data["Lines"].as_array().unwrap();
        lines
            .iter()
            .map(|l| {
                (
                    l["SupplierPartNumber"].clone(),
                    l["Quantity"].clone(),
                    l["UnitPrice"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(parts(&a), parts(&b));
    assert_eq!(a["TotalAmount"], b["TotalAmount"]);
    assert_eq!(one.control().conexiom_counts(), two.control().conexiom_counts());
    one.shutdown().await;
    two.shutdown().await;
}

#[tokio::test]
async fn conexiom_http_control_api() {
    let (sandbox, client) = start().await;
    let (api, token) = connect(&sandbox, &client).await;
    let control = sandbox.control();
    let base = format!("{}/_sandbox/conexiom", sandbox.base_url());

    let (status, settings) = super::get_json(&client, &format!("{base}/settings")).await;
    assert_eq!(status, 200);
    assert_eq!(
        settings,
        json!({"token_lifetime_secs": 1800, "token_path": "/token", "issue_refresh_tokens": true,
               "paged": false, "page_size": 100, "spokecos": 8, "documents": 400})
    );
    let (status, changed) = send_json(
        client
            .post(format!("{base}/settings"))
            .json(&json!({"token_lifetime_secs": 5})),
    )
    .await;
    assert_eq!((status, &changed["token_lifetime_secs"]), (200, &json!(5)));
    assert_eq!(changed["documents"], 400, "other keys keep their values");
    assert_eq!(control.conexiom_settings().token_lifetime_secs, 5);
    for bad in [
        json!({"nope": 1}),
        json!({"page_size": 0}),
        json!({"token_path": "token"}),
        json!({"paged": "yes"}),
    ] {
        assert_eq!(
            send(client.post(format!("{base}/settings")).json(&bad)).await.status(),
            400,
            "{bad}"
        );
    }

    let (status, counts) = super::get_json(&client, &format!("{base}/counts")).await;
    assert_eq!(status, 200);
    assert_eq!(counts, serde_json::to_value(control.conexiom_counts()).unwrap());
    for key in [
        "spokecos",
        "documents",
        "processed_documents",
        "document_lines",
        "files",
        "alerts",
        "buyers",
        "addresses",
    ] {
        assert!(counts[key].is_u64(), "{key}");
    }
    let (_, ids) = super::get_json(&client, &format!("{base}/ids")).await;
    assert_eq!(ids["spokecos"], json!(control.conexiom_spokeco_ids()));
    assert_eq!(ids["documents"], json!(control.conexiom_document_ids()));
    let spokeco = ids["spokecos"][0].as_i64().unwrap();
    let its_documents = list(&client, &token, &format!("{api}/api/spokecos/{spokeco}/documents")).await;
    let first_document = id(&its_documents[0], "DocumentId");

    let (_, from) = super::get_json(&client, &format!("{base}/next-change-date")).await;
    let from = from["date"].as_str().unwrap().to_owned();
    let (status, reprocessed) = send_json(
        client
            .post(format!("{base}/documents/reprocess"))
            .json(&json!({"ids": [first_document, 5]})),
    )
    .await;
    assert_eq!((status, reprocessed), (200, json!({"ids": [first_document]})));
    let (status, pending) = send_json(client.post(format!("{base}/documents/process-pending"))).await;
    assert_eq!(status, 200);
    assert!(!pending["ids"].as_array().unwrap().is_empty());
    let (status, added) = send_json(client.post(format!("{base}/spokecos/{spokeco}/documents"))).await;
    assert_eq!(status, 200);
    let added = added["id"].as_i64().unwrap();
    assert_eq!(
        send(client.post(format!("{base}/spokecos/1/documents"))).await.status(),
        404
    );
    assert_eq!(
        send(client.post(format!("{base}/spokecos/{spokeco}/touch")))
            .await
            .status(),
        204
    );
    assert_eq!(
        send(client.post(format!("{base}/spokecos/abc/touch"))).await.status(),
        404
    );

    // All of it shows in delta reads (the token was issued before the lifetime changed).
    let url = format!("{api}/api/spokecos/{spokeco}/documents?ProcessedOnFromDate={from}");
    let found: Vec<i64> = list(&client, &token, &url)
        .await
        .iter()
        .map(|d| id(d, "DocumentId"))
        .collect();
    assert!(found.contains(&first_document) && found.contains(&added), "{found:?}");
    let touched = list(
        &client,
        &token,
        &format!("{api}/api/hubcos/17/spokecos?lastModifiedFromDate={from}"),
    )
    .await;
    assert_eq!(touched.len(), 1);

    assert_eq!(send(client.post(format!("{base}/reset"))).await.status(), 204);
    assert_eq!(control.conexiom_document_ids().len(), 400);
    assert!(list(&client, &token, &url).await.is_empty());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn conexiom_faults_and_request_counts() {
    let (sandbox, client) = start().await;
    let (api, token) = connect(&sandbox, &client).await;
    let control = sandbox.control();
    let path = "/conexiom/Conexiom.API/api/hubcos/17/alerts";
    control.add_fault(
        FaultRule::new(
            path,
            Fault::Status {
                status: 429,
                retry_after: Some("2".into()),
                body: None,
            },
        )
        .method("GET")
        .times(1),
    );
    let url = format!("{}{path}", sandbox.base_url());
    let response = send(client.get(&url).bearer_auth(&token)).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "2");
    assert_eq!(get(&client, &token, &url).await.0, 200);
    assert_eq!(control.request_count("GET", path), 2);
    assert_eq!(control.request_count("POST", "/conexiom/Conexiom.API/token"), 1);

    // A token endpoint outage.
    control.add_fault(FaultRule::new("/conexiom/Conexiom.API/token", Fault::status(503)).times(1));
    let form = [
        ("grant_type", "password"),
        ("username", creds::USERNAME),
        ("password", creds::PASSWORD),
        ("client_id", creds::CLIENT_ID),
        ("client_secret", creds::CLIENT_SECRET),
    ];
    assert_eq!(grant(&client, &api, &form).await.0, 503);
    assert_eq!(grant(&client, &api, &form).await.0, 200);
    sandbox.shutdown().await;
}
