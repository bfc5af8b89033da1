//! What failed calls say: credentials, unknown modules, rejected values, access rights, and
//! mistakes caught before a request.

use flowrun_connect::module::ErrorKind;
use serde_json::json;

use super::{ADMIN, SALES, admin, assert_no_secret, call, connection, context, sandbox};

#[tokio::test]
async fn bad_credentials_name_the_connection_and_hide_the_password() {
    let sandbox = sandbox().await;
    let password = "Wr0ng-Passw0rd-4711";
    let crm = context(connection(&sandbox, (ADMIN.0, password)));
    for (uses, params) in [
        ("onecrm.get_my_info", json!({})),
        ("onecrm.search_records", json!({ "module": "Account" })),
    ] {
        let error = call(&crm, uses, params).await.unwrap_err();
        assert_eq!(error.status, Some(401));
        assert_eq!(error.kind, ErrorKind::Client);
        assert!(
            error
                .message
                .starts_with("connection `crm`: 1CRM refused the credentials of user `admin`"),
            "{}",
            error.message
        );
        assert_no_secret(&error.message, password);
        assert_no_secret(&error.details.unwrap_or_default().to_string(), password);
    }
}

#[tokio::test]
async fn an_unknown_module_is_named() {
    let sandbox = sandbox().await;
    let crm = admin(&sandbox);
    for (uses, params) in [
        ("onecrm.search_records", json!({ "module": "Acount" })),
        ("onecrm.get_record", json!({ "module": "Acount", "id": "x" })),
        ("onecrm.list_fields", json!({ "module": "Acount" })),
        (
            "onecrm.create_record",
            json!({ "module": "Acount", "data": { "name": "x" } }),
        ),
    ] {
        let error = call(&crm, uses, params).await.unwrap_err();
        assert_eq!(error.status, Some(404), "{uses}: {}", error.message);
        assert!(
            error.message.starts_with("1CRM has no module `Acount`"),
            "{uses}: {}",
            error.message
        );
        assert!(
            error.message.contains("Model Acount not found"),
            "{uses}: {}",
            error.message
        );
    }
}

#[tokio::test]
async fn a_rejected_value_carries_1crms_message() {
    let sandbox = sandbox().await;
    let crm = admin(&sandbox);
    let error = call(
        &crm,
        "onecrm.create_record",
        json!({ "module": "Account", "data": { "name": "Typed", "employees": "many" } }),
    )
    .await
    .unwrap_err();
    assert_eq!(error.status, Some(422), "{}", error.message);
    assert_eq!(error.kind, ErrorKind::Client);
    assert!(error.message.contains("employees"), "{}", error.message);
    let body = &error.details.as_ref().unwrap()["body"];
    let message = body["message"].as_str().unwrap();
    assert!(error.message.contains(message), "{}", error.message);

    // A required field left out.
    let error = call(
        &crm,
        "onecrm.create_record",
        json!({ "module": "Contact", "data": { "first_name": "No" } }),
    )
    .await
    .unwrap_err();
    assert!(matches!(error.status, Some(400 | 422)), "{}", error.message);
    assert!(error.message.contains("last_name"), "{}", error.message);
}

#[tokio::test]
async fn a_user_without_access_gets_a_403_that_says_so() {
    let sandbox = sandbox().await;
    let sales = context(connection(&sandbox, SALES));
    let error = call(&sales, "onecrm.search_records", json!({ "module": "Invoice" }))
        .await
        .unwrap_err();
    assert_eq!(error.status, Some(403), "{}", error.message);
    assert!(
        error
            .message
            .starts_with("connection `crm`: 1CRM forbids this to the connection's user"),
        "{}",
        error.message
    );
    assert_no_secret(&error.message, SALES.1);
    // The same user reads what it may.
    let accounts = call(
        &sales,
        "onecrm.search_records",
        json!({ "module": "Account", "limit": 1 }),
    )
    .await;
    assert!(accounts.is_ok(), "{accounts:?}");
}

#[tokio::test]
async fn mistakes_are_caught_before_a_request() {
    let sandbox = sandbox().await;
    let crm = admin(&sandbox);
    let cases = [
        (
            "onecrm.get_record",
            json!({ "module": "Account", "id": "" }),
            "`id` must not be empty",
        ),
        (
            "onecrm.search_records",
            json!({ "module": "Account", "limit": "ten" }),
            "`limit`",
        ),
        (
            "onecrm.upload_file",
            json!({ "file_name": "a.bin", "content": "not base64!" }),
            "not base64",
        ),
        (
            "onecrm.upload_file",
            json!({ "file_name": "a.bin" }),
            "exactly one of `content` and `path`",
        ),
        (
            "onecrm.api_call",
            json!({ "path": "https://elsewhere.example/steal" }),
            "must be relative",
        ),
        (
            "onecrm.api_call",
            json!({ "path": "data/Account", "query": { "x": [{}] } }),
            "strings, numbers or booleans",
        ),
    ];
    for (uses, params, expected) in cases {
        let error = call(&crm, uses, params.clone()).await.unwrap_err();
        assert_eq!(error.kind, ErrorKind::Invalid, "{uses} {params}: {}", error.message);
        assert!(error.message.contains(expected), "{uses} {params}: {}", error.message);
    }
    // An id holding a slash stays one path segment: it names no other route.
    let error = call(
        &crm,
        "onecrm.get_record",
        json!({ "module": "Account", "id": "../../me" }),
    )
    .await
    .unwrap_err();
    assert_eq!(error.status, Some(404), "{}", error.message);

    // A scheme in `domain` (rendered from a template, so validation could not see it).
    let mut config = connection(&sandbox, ADMIN);
    config.as_object_mut().unwrap().remove("base_url");
    config["domain"] = json!("https://crm.example.com");
    let error = call(&context(config), "onecrm.get_my_info", json!({}))
        .await
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Invalid);
    assert!(
        error
            .message
            .contains("connection `crm`: `domain` is the host without a scheme")
            && error.message.contains("write `crm.example.com`"),
        "{}",
        error.message
    );
    // No username nor auth.
    let config = json!({ "domain": "crm.example.com" });
    let error = call(&context(config), "onecrm.get_my_info", json!({}))
        .await
        .unwrap_err();
    assert!(
        error.message.contains("set `username` and `password`"),
        "{}",
        error.message
    );
    // No connection at all.
    let bare = flowrun_connect::module::CallContext::new("run", "step");
    let error = call(&bare, "onecrm.get_my_info", json!({})).await.unwrap_err();
    assert!(
        error.message.contains("needs a `onecrm` connection"),
        "{}",
        error.message
    );
}
