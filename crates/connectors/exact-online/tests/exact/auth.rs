//! The authorization-code grant: consent, tokens shared by concurrent calls, 10-minute tokens
//! refreshed in their last 30 seconds, rotating refresh tokens, clear errors.

use std::time::Duration;

use flowrun_connect::auth::{MemoryTokenStore, TokenStore};
use flowrun_connect::runtime::HttpRuntime;

use super::*;

#[tokio::test]
async fn the_consent_grants_tokens_and_the_division_is_the_users_current_one() {
    let sandbox = sandbox().await;
    let context = logged_in(&sandbox).await;
    let control = sandbox.control();
    assert_eq!(control.token_grants("authorization_code"), 1);
    let me = ok(&context, "exact_online.me", json!({})).await;
    assert_output("me", &me);
    assert_eq!(me["CurrentDivision"], json!(creds::DIVISION));
    // Data calls go to that division, found once.
    let accounts = rows(&context, json!({ "entity": "crm/Accounts", "limit": 5 })).await;
    assert_eq!(accounts.len(), 5);
    assert!(
        accounts[0]["__metadata"]["uri"]
            .as_str()
            .unwrap()
            .contains(&format!("/api/v1/{}/crm/Accounts", creds::DIVISION)),
        "{}",
        accounts[0]
    );
    assert_eq!(control.token_grants("refresh_token"), 0, "no refresh of a fresh token");
}

#[tokio::test]
async fn a_denied_consent_stores_nothing_and_a_run_says_to_log_in() {
    let sandbox = sandbox().await;
    let runtime = Arc::new(HttpRuntime::default());
    let config = connection(&sandbox);
    let (query, (consent, manager)) = super::consent(&runtime, &config, false).await;
    let error = consent.finish(&manager, &query).await.unwrap_err();
    assert!(error.message.contains("access_denied"), "{}", error.message);

    let context = context_on(runtime, config);
    let error = call(&context, "exact_online.me", json!({})).await.unwrap_err();
    assert!(
        error
            .message
            .contains("has no tokens yet: run `flowrun auth login exact` once"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn an_expired_token_mid_run_is_refreshed_once_for_concurrent_calls() {
    let sandbox = sandbox().await;
    let context = logged_in(&sandbox).await;
    let control = sandbox.control();
    rows(&context, json!({ "entity": "crm/Accounts", "limit": 1 })).await;
    // Ten minutes pass on the simulator: every access token issued so far is dead there, and
    // the client's copy is within its last 30 seconds too only by the simulator's clock; the
    // 401 makes the client refresh, once for the eight calls that meet it.
    control.advance_clock(Duration::from_secs(601));
    let calls = (0..8).map(|_| {
        call(
            &context,
            "exact_online.subscribe",
            json!({ "entity": "crm/Contacts", "limit": 2 }),
        )
    });
    for result in futures_util::future::join_all(calls).await {
        assert_eq!(result.unwrap().as_array().unwrap().len(), 2);
    }
    assert_eq!(control.token_grants("refresh_token"), 1, "exactly one refresh");
}

#[tokio::test]
async fn a_reused_refresh_token_is_refused_with_what_to_do() {
    let sandbox = sandbox().await;
    let control = sandbox.control();
    // Two processes with a copy of the same tokens: the first to refresh rotates the refresh
    // token, the second's copy is then an old one.
    let first_store = Arc::new(MemoryTokenStore::default());
    let first = Arc::new(HttpRuntime::new(first_store.clone()));
    login(&first, connection(&sandbox)).await;
    let copied = first_store.load("exact").await.unwrap().unwrap();
    let second_store = Arc::new(MemoryTokenStore::default());
    second_store.save("exact", &copied).await.unwrap();
    let second = Arc::new(HttpRuntime::new(second_store.clone()));

    control.advance_clock(Duration::from_secs(601));
    let first_context = context_on(first, connection(&sandbox));
    rows(&first_context, json!({ "entity": "crm/Accounts", "limit": 1 })).await;
    let rotated = first_store.load("exact").await.unwrap().unwrap();
    assert_ne!(rotated.refresh_token, copied.refresh_token, "the refresh token rotates");

    let second_context = context_on(second, connection(&sandbox));
    let error = call(
        &second_context,
        "exact_online.subscribe",
        json!({ "entity": "crm/Accounts", "limit": 1 }),
    )
    .await
    .unwrap_err();
    assert!(error.message.contains("invalid_grant"), "{}", error.message);
    assert!(
        error
            .message
            .contains("run `flowrun auth login exact` to consent again"),
        "{}",
        error.message
    );
    for secret in [creds::CLIENT_SECRET, copied.refresh_token.as_deref().unwrap()] {
        assert!(!error.message.contains(secret), "a secret in: {}", error.message);
    }
}

#[tokio::test]
async fn a_token_is_not_refreshed_before_its_last_30_seconds() {
    let sandbox = sandbox().await;
    let mut settings = sandbox.control().exact_settings();
    // The real API's rule, enforced: a refresh within 570 s of the last token is an error.
    settings.strict_early_refresh = true;
    sandbox.control().set_exact_settings(settings);
    let context = logged_in(&sandbox).await;
    rows(&context, json!({ "entity": "crm/Accounts", "limit": 1 })).await;
    assert_eq!(sandbox.control().token_grants("refresh_token"), 0);
    assert_eq!(sandbox.control().exact_counts().early_refreshes, 0);
}
