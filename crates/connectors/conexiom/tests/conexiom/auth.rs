//! The password grant: one token shared, a new one when it expires or is refused, clear errors
//! that never show a credential.

use std::time::Duration;

use flowrun_connect::runtime::HttpRuntime;
use serde_json::json;

use super::*;

#[tokio::test]
async fn an_expired_token_mid_walk_is_replaced_and_the_call_goes_on() {
    let sandbox = sandbox().await;
    let runtime = Arc::new(HttpRuntime::default());
    let context = context_on(runtime, connection(&sandbox));
    let control = sandbox.control();
    let spokecos = list(&context, "conexiom.spokecos", json!({})).await;
    assert_eq!(control.token_grants("password"), 1);
    // The API's clock passes the token's lifetime: the next call gets a 401 first.
    control.advance_clock(Duration::from_secs(
        control.conexiom_settings().token_lifetime_secs + 60,
    ));
    let buyers = list(
        &context,
        "conexiom.buyers",
        json!({ "spokeco_id": spokecos[0]["SpokeCoId"] }),
    )
    .await;
    assert!(!buyers.is_empty());
    let renewed = control.token_grants("password") + control.token_grants("refresh_token");
    assert_eq!(renewed, 2, "one new token, by refresh or by the grant again");

    // Revoked tokens: the same, and concurrent calls share one renewal.
    control.revoke_access_tokens();
    let calls = spokecos.iter().map(|spokeco| {
        call(
            &context,
            "conexiom.addresses",
            json!({ "spokeco_id": spokeco["SpokeCoId"] }),
        )
    });
    for result in futures_util::future::join_all(calls).await {
        result.unwrap();
    }
    let renewed = control.token_grants("password") + control.token_grants("refresh_token");
    assert_eq!(renewed, 3);
}

#[tokio::test]
async fn client_credentials_go_in_the_body_or_as_basic() {
    let sandbox = sandbox().await;
    for client_auth in [json!(null), json!("body"), json!("basic")] {
        let mut config = connection(&sandbox);
        if !client_auth.is_null() {
            config["client_auth"] = client_auth.clone();
        }
        let alerts = list(&context(config), "conexiom.alerts", json!({})).await;
        assert!(!alerts.is_empty(), "{client_auth}");
    }
}

#[tokio::test]
async fn wrong_credentials_say_so_without_showing_them() {
    let sandbox = sandbox().await;
    let mut config = connection(&sandbox);
    config["password"] = json!("canary-password-7731");
    let error = call(&context(config), "conexiom.alerts", json!({})).await.unwrap_err();
    assert!(error.message.contains("invalid_grant"), "{}", error.message);
    assert!(error.message.contains("connection `conexiom`"), "{}", error.message);
    assert_no_secret(&error.message, "canary-password-7731");
    assert_no_secret(&format!("{:?}", error.details), "canary-password-7731");

    let mut config = connection(&sandbox);
    config["client_secret"] = json!("canary-secret-8842");
    let error = call(&context(config), "conexiom.alerts", json!({})).await.unwrap_err();
    assert!(error.message.contains("invalid_client"), "{}", error.message);
    assert_no_secret(&error.message, "canary-secret-8842");
    assert_no_secret(&error.message, creds::PASSWORD);
}

#[tokio::test]
async fn a_token_path_of_its_own() {
    let sandbox = sandbox().await;
    let control = sandbox.control();
    let mut settings = control.conexiom_settings();
    settings.token_path = "/oauth/token".to_owned();
    control.set_conexiom_settings(settings);
    let error = call(&context(connection(&sandbox)), "conexiom.alerts", json!({}))
        .await
        .unwrap_err();
    assert!(error.message.contains("token"), "{}", error.message);
    let mut config = connection(&sandbox);
    config["token_url"] = json!(format!("{}/oauth/token", sandbox.conexiom_url()));
    assert!(!list(&context(config), "conexiom.alerts", json!({})).await.is_empty());
}
