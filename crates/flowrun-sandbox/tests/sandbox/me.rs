//! `GET /test/me` with every authentication form.

use serde_json::{Value, json};

use super::start;

#[tokio::test]
async fn every_auth_form_is_accepted_and_reported() {
    let (sandbox, client) = start().await;
    let me = format!("{}/me", sandbox.test_api_url());
    let check = |request: reqwest::RequestBuilder, scheme: &'static str| async move {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{scheme}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({"user": "alice", "auth": scheme}));
    };
    check(client.get(&me).basic_auth("alice", Some("wonderland")), "basic").await;
    check(client.get(&me).bearer_auth("static-token"), "bearer").await;
    check(client.get(&me).header("X-Api-Key", "test-key"), "api_key").await;
    check(client.get(format!("{me}?api_key=test-key")), "api_key").await;
}

#[tokio::test]
async fn missing_or_wrong_credentials_get_401() {
    let (sandbox, client) = start().await;
    let me = format!("{}/me", sandbox.test_api_url());
    let requests = [
        client.get(&me),
        client.get(&me).basic_auth("alice", Some("nope")),
        client.get(&me).bearer_auth("not-a-token"),
        client.get(&me).header("X-Api-Key", "wrong"),
        client.get(format!("{me}?api_key=wrong")),
    ];
    for request in requests {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        assert!(response.headers().contains_key("www-authenticate"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");
        assert!(body["error"]["message"].is_string());
    }
}
