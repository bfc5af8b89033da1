//! The `/_sandbox` HTTP control API.

use serde_json::{Value, json};

use super::start;

#[tokio::test]
async fn http_control_api_mirrors_control() {
    let (sandbox, client) = start().await;
    let base = sandbox.base_url();
    let api = sandbox.test_api_url();

    let added = client
        .post(format!("{base}/_sandbox/faults"))
        .json(&json!({
            "path": "/test/me",
            "method": "GET",
            "fault": {"kind": "status", "status": 503, "retry_after": 1},
            "times": 1
        }))
        .send()
        .await
        .unwrap();
    assert!(added.status().is_success());
    let response = client.get(format!("{api}/me?api_key=test-key")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(
        client
            .get(format!("{api}/me?api_key=test-key"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    for fault in [
        json!({"kind": "latency", "ms": 1}),
        json!({"kind": "drop"}),
        json!({"kind": "truncate"}),
    ] {
        let response = client
            .post(format!("{base}/_sandbox/faults"))
            .json(&json!({"path": "/test/echo", "fault": fault}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
    let rules: Value = client
        .get(format!("{base}/_sandbox/faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rules.as_array().unwrap().len(), 3);
    let bad = client
        .post(format!("{base}/_sandbox/faults"))
        .json(&json!({"path": "/x", "fault": {"kind": "explode"}}))
        .send()
        .await
        .unwrap();
    assert!(bad.status().is_client_error());
    let cleared = client.delete(format!("{base}/_sandbox/faults")).send().await.unwrap();
    assert!(cleared.status().is_success());
    assert!(sandbox.control().faults().is_empty());

    // Clock and revocation.
    let token: Value = client
        .post(format!("{api}/oauth/token"))
        .basic_auth("flowrun-test", Some("test-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = token["access_token"].as_str().unwrap();
    let me = |client: reqwest::Client, url: String, access: String| async move {
        client
            .get(url)
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    let me_url = format!("{api}/me");
    assert_eq!(me(client.clone(), me_url.clone(), access.into()).await, 200);
    let clock: Value = client
        .post(format!("{base}/_sandbox/clock"))
        .json(&json!({"advance_secs": 7200}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(clock["clock_secs"].as_f64().unwrap() >= 7200.0);
    assert_eq!(me(client.clone(), me_url.clone(), access.into()).await, 401);

    let token: Value = client
        .post(format!("{api}/oauth/token"))
        .basic_auth("flowrun-test", Some("test-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = token["access_token"].as_str().unwrap();
    assert_eq!(me(client.clone(), me_url.clone(), access.into()).await, 200);
    let revoked = client
        .post(format!("{base}/_sandbox/revoke-access-tokens"))
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success());
    assert_eq!(me(client.clone(), me_url.clone(), access.into()).await, 401);

    // Stats: requests by "METHOD path" (control requests are not counted) and grants.
    let stats: Value = client
        .get(format!("{base}/_sandbox/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["requests"]["GET /test/me"], 6);
    assert_eq!(stats["requests"]["POST /test/oauth/token"], 2);
    assert!(stats["requests"].get("GET /_sandbox/stats").is_none());
    assert_eq!(stats["token_grants"]["client_credentials"], 2);
}
