//! The `/_sandbox` HTTP control API.

use serde_json::{Value, json};

use super::{get_json, me_with, send, send_json, start, token};

/// Posts a fault rule to `POST /_sandbox/faults`.
async fn add_fault(client: &reqwest::Client, base: &str, rule: &Value) -> reqwest::Response {
    send(client.post(format!("{base}/_sandbox/faults")).json(rule)).await
}

#[tokio::test]
async fn http_control_api_mirrors_control() {
    let (sandbox, client) = start().await;
    let base = sandbox.base_url();
    let api = sandbox.test_api_url();

    let added = add_fault(
        &client,
        &base,
        &json!({
            "path": "/test/me",
            "method": "GET",
            "fault": {"kind": "status", "status": 503, "retry_after": 1},
            "times": 1
        }),
    )
    .await;
    assert!(added.status().is_success());
    let response = client.get(format!("{api}/me?api_key=test-key")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(
        send(client.get(format!("{api}/me?api_key=test-key"))).await.status(),
        200
    );

    for fault in [
        json!({"kind": "latency", "ms": 1}),
        json!({"kind": "drop"}),
        json!({"kind": "truncate"}),
    ] {
        let response = add_fault(&client, &base, &json!({"path": "/test/echo", "fault": fault})).await;
        assert!(response.status().is_success());
    }
    let (_, rules) = get_json(&client, &format!("{base}/_sandbox/faults")).await;
    assert_eq!(rules.as_array().unwrap().len(), 3);
    let bad = add_fault(&client, &base, &json!({"path": "/x", "fault": {"kind": "explode"}})).await;
    assert!(bad.status().is_client_error());
    let cleared = client.delete(format!("{base}/_sandbox/faults")).send().await.unwrap();
    assert!(cleared.status().is_success());
    assert!(sandbox.control().faults().is_empty());

    // Clock and revocation.
    let client_credentials = [("grant_type", "client_credentials")];
    let (_, body) = token(&client, &api, &client_credentials).await;
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(me_with(&client, &api, access).await.0, 200);
    let (_, clock) = send_json(
        client
            .post(format!("{base}/_sandbox/clock"))
            .json(&json!({"advance_secs": 7200})),
    )
    .await;
    assert!(clock["clock_secs"].as_f64().unwrap() >= 7200.0);
    assert_eq!(me_with(&client, &api, access).await.0, 401);

    let (_, body) = token(&client, &api, &client_credentials).await;
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(me_with(&client, &api, access).await.0, 200);
    let revoked = send(client.post(format!("{base}/_sandbox/revoke-access-tokens"))).await;
    assert!(revoked.status().is_success());
    assert_eq!(me_with(&client, &api, access).await.0, 401);

    // Stats: requests by "METHOD path" (control requests are not counted) and grants.
    let (_, stats) = get_json(&client, &format!("{base}/_sandbox/stats")).await;
    assert_eq!(stats["requests"]["GET /test/me"], 6);
    assert_eq!(stats["requests"]["POST /test/oauth/token"], 2);
    assert!(stats["requests"].get("GET /_sandbox/stats").is_none());
    assert_eq!(stats["token_grants"]["client_credentials"], 2);
}
