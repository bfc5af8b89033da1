//! Every auth kind, and OAuth2 tokens: single-flight refresh, rotation, 401 → refresh.

use std::sync::Arc;

use flowrun_connect::auth::{MemoryTokenStore, TokenStore};
use flowrun_connect::runtime::HttpRuntime;
use flowrun_sandbox::Sandbox;
use serde_json::{Value as Json, json};

use super::{assert_no_secret, call, context, request, sandbox};

fn connection(sandbox: &Sandbox, auth: Json) -> Json {
    json!({ "base_url": sandbox.test_api_url(), "auth": auth })
}

fn oauth2(sandbox: &Sandbox, grant: &str) -> Json {
    let mut auth = json!({
        "kind": "oauth2", "grant": grant,
        "token_url": format!("{}/oauth/token", sandbox.test_api_url()),
        "client_id": "flowrun-test", "client_secret": "test-secret",
    });
    match grant {
        "password" => {
            auth["username"] = json!("alice");
            auth["password"] = json!("wonderland");
        }
        "refresh_token" => auth["refresh_token"] = json!("seed-refresh-token"),
        _ => {}
    }
    auth
}

async fn me(connection: Json) -> Result<Json, flowrun_connect::module::ModuleError> {
    call(Some(connection), json!({ "url": "me" }))
        .await
        .map(|out| out["body"].clone())
}

#[tokio::test]
async fn every_auth_kind_reaches_the_api() {
    let sandbox = sandbox().await;
    let cases = [
        (
            json!({ "kind": "basic", "username": "alice", "password": "wonderland" }),
            "basic",
        ),
        (json!({ "kind": "bearer", "token": "static-token" }), "bearer"),
        (
            json!({ "kind": "api_key", "name": "X-Api-Key", "value": "test-key" }),
            "api_key",
        ),
        (
            json!({ "kind": "api_key", "name": "api_key", "value": "test-key", "in": "query" }),
            "api_key",
        ),
        (oauth2(&sandbox, "password"), "oauth2"),
        (oauth2(&sandbox, "client_credentials"), "oauth2"),
        (oauth2(&sandbox, "refresh_token"), "oauth2"),
    ];
    for (auth, kind) in cases {
        let body = me(connection(&sandbox, auth.clone()))
            .await
            .unwrap_or_else(|e| panic!("{auth}: {e}"));
        assert_eq!(body["auth"], kind, "{auth}");
    }
}

#[tokio::test]
async fn wrong_credentials_fail_with_the_apis_message_and_no_secret() {
    let sandbox = sandbox().await;
    let error = me(connection(
        &sandbox,
        json!({ "kind": "api_key", "name": "api_key", "value": "canary-key-123", "in": "query" }),
    ))
    .await
    .unwrap_err();
    assert_eq!(error.status, Some(401));
    assert!(error.message.contains("→ 401 Unauthorized"), "{}", error.message);
    assert!(error.message.contains("api_key=***"), "{}", error.message);
    assert_no_secret(&error.message, &["canary-key-123"]);
    assert_no_secret(&error.details.unwrap().to_string(), &["canary-key-123"]);

    let mut auth = oauth2(&sandbox, "password");
    auth["password"] = json!("canary-password-456");
    let error = me(connection(&sandbox, auth)).await.unwrap_err();
    assert!(
        error.message.contains("refused the password grant"),
        "{}",
        error.message
    );
    assert!(error.message.contains("invalid_grant"), "{}", error.message);
    assert_no_secret(&error.message, &["canary-password-456", "test-secret"]);
}

#[tokio::test]
async fn sixteen_concurrent_calls_after_expiry_share_one_refresh() {
    let sandbox = sandbox().await;
    let runtime = Arc::new(HttpRuntime::default());
    let config = connection(&sandbox, oauth2(&sandbox, "password"));
    let context = context(&runtime, Some(config));
    request(&context, json!({ "url": "me" })).await.unwrap();
    let control = sandbox.control();
    assert_eq!(control.token_grants("password"), 1);
    // The token expires at the API (its clock moves an hour): every call gets a 401 first.
    control.advance_clock(std::time::Duration::from_secs(3700));
    let calls = (0..16).map(|_| request(&context, json!({ "url": "me" })));
    for result in futures_util::future::join_all(calls).await {
        assert_eq!(result.unwrap()["body"]["auth"], "oauth2");
    }
    assert_eq!(
        control.token_grants("refresh_token"),
        1,
        "one refresh for sixteen calls"
    );
    assert_eq!(control.token_grants("password"), 1);
}

#[tokio::test]
async fn rotated_refresh_tokens_are_stored_and_used() {
    let sandbox = sandbox().await;
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::default());
    let runtime = Arc::new(HttpRuntime::new(store.clone()));
    let config = connection(&sandbox, oauth2(&sandbox, "refresh_token"));
    let context = context(&runtime, Some(config.clone()));
    request(&context, json!({ "url": "me" })).await.unwrap();
    let first = store.load("api").await.unwrap().unwrap();
    let rotated = first.refresh_token.clone().unwrap();
    assert_ne!(rotated, "seed-refresh-token", "the provider rotated the seed");

    // 401 → refresh with the rotated token (the seed is dead now) → success.
    sandbox.control().revoke_access_tokens();
    assert_eq!(
        request(&context, json!({ "url": "me" })).await.unwrap()["body"]["auth"],
        "oauth2"
    );
    let second = store.load("api").await.unwrap().unwrap();
    assert_ne!(second.refresh_token.unwrap(), rotated, "rotated again, and stored");
    assert_eq!(sandbox.control().token_grants("refresh_token"), 2);

    // A process that starts over from the dead seed is told what to do.
    let error = me(config).await.unwrap_err();
    assert!(
        error.message.contains("refresh token is no longer valid"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn authorization_code_without_tokens_says_to_log_in() {
    let sandbox = sandbox().await;
    let mut auth = oauth2(&sandbox, "authorization_code");
    auth["authorize_url"] = json!(format!("{}/oauth/authorize", sandbox.test_api_url()));
    let error = me(connection(&sandbox, auth)).await.unwrap_err();
    assert!(error.message.contains("flowrun auth login api"), "{}", error.message);
}

#[tokio::test]
async fn a_token_about_to_expire_is_refreshed_before_it_is_sent() {
    let sandbox = sandbox().await;
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::default());
    let config = connection(&sandbox, oauth2(&sandbox, "password"));
    let first = Arc::new(HttpRuntime::new(store.clone()));
    request(&context(&first, Some(config.clone())), json!({ "url": "me" }))
        .await
        .unwrap();
    // The stored token has 30 seconds left: less than the minute flowrun keeps in hand.
    let mut tokens = store.load("api").await.unwrap().unwrap();
    tokens.expires_at = Some(jiff::Timestamp::now() + jiff::SignedDuration::from_secs(30));
    store.save("api", &tokens).await.unwrap();

    let second = Arc::new(HttpRuntime::new(store.clone()));
    request(&context(&second, Some(config)), json!({ "url": "me" }))
        .await
        .unwrap();
    let control = sandbox.control();
    assert_eq!(control.token_grants("refresh_token"), 1, "refreshed ahead of expiry");
    assert_eq!(
        control.request_count("GET", "/test/me"),
        2,
        "no request went out with the old token"
    );
    assert_ne!(
        store.load("api").await.unwrap().unwrap().access_token,
        tokens.access_token
    );
}

#[tokio::test]
async fn client_credentials_go_as_basic_or_in_the_body() {
    let sandbox = sandbox().await;
    // The sandbox refuses a request that carries them both ways at once, so each success
    // means exactly one place was used.
    for client_auth in [None, Some("basic"), Some("body")] {
        let mut auth = oauth2(&sandbox, "password");
        if let Some(client_auth) = client_auth {
            auth["client_auth"] = json!(client_auth);
        }
        let body = me(connection(&sandbox, auth.clone())).await.unwrap();
        assert_eq!(body["auth"], "oauth2", "client_auth {client_auth:?}");

        auth["client_secret"] = json!("wrong-secret");
        let error = me(connection(&sandbox, auth)).await.unwrap_err();
        assert!(
            error.message.contains("invalid_client"),
            "{client_auth:?}: {}",
            error.message
        );
    }
}
