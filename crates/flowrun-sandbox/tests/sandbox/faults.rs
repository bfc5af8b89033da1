//! Fault rules over real sockets, and request counting.

use std::time::{Duration, Instant};

use flowrun_sandbox::{Fault, FaultRule};

use super::{send, start};

#[tokio::test]
async fn latency_delays_then_serves() {
    let (sandbox, client) = start().await;
    let url = format!("{}/echo", sandbox.test_api_url());
    sandbox
        .control()
        .add_fault(FaultRule::new("/test/echo", Fault::Latency(Duration::from_millis(300))).times(1));
    let started = Instant::now();
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let started = Instant::now();
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    assert!(started.elapsed() < Duration::from_millis(300));
}

#[tokio::test]
async fn status_faults_with_retry_after_and_times() {
    let (sandbox, client) = start().await;
    let control = sandbox.control();
    let url = format!("{}/me?api_key=test-key", sandbox.test_api_url());
    control.add_fault(
        FaultRule::new(
            "/test/me",
            Fault::Status {
                status: 429,
                retry_after: Some("2".into()),
                body: None,
            },
        )
        .method("GET")
        .times(2),
    );
    for _ in 0..2 {
        let response = client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "2");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(body["error"]["message"].is_string());
    }
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    assert!(control.faults().is_empty());
    // Counted before faults apply; the query is not part of the path.
    assert_eq!(control.request_count("GET", "/test/me"), 3);
    assert_eq!(control.request_count("get", "/test/me"), 3);
    assert_eq!(control.request_count("POST", "/test/me"), 0);

    // A custom body, a prefix rule, and a method filter that does not match.
    control.add_fault(FaultRule::new(
        "/test/pages/*",
        Fault::Status {
            status: 503,
            retry_after: None,
            body: Some("upstream down".into()),
        },
    ));
    control.add_fault(FaultRule::new("/test/echo", Fault::status(500)).method("POST"));
    let response = send(client.get(format!("{}/pages/offset", sandbox.test_api_url()))).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.text().await.unwrap(), "upstream down");
    let echo = format!("{}/echo", sandbox.test_api_url());
    assert_eq!(client.get(&echo).send().await.unwrap().status(), 200);
    assert_eq!(client.post(&echo).send().await.unwrap().status(), 500);
    control.clear_faults();
    assert_eq!(client.post(&echo).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn drop_breaks_the_connection_without_a_status() {
    let (sandbox, client) = start().await;
    let url = format!("{}/echo", sandbox.test_api_url());
    // Warm the connection pool, so the drop hits a reused connection too.
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    sandbox
        .control()
        .add_fault(FaultRule::new("/test/echo", Fault::Drop).times(1));
    let err = client.get(&url).send().await.unwrap_err();
    assert!(err.status().is_none(), "{err:?}");
    assert!(err.is_request() || err.is_connect(), "{err:?}");
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    assert_eq!(sandbox.control().request_count("GET", "/test/echo"), 3);
}

#[tokio::test]
async fn truncate_sends_the_status_then_half_the_body() {
    let (sandbox, client) = start().await;
    let api = sandbox.test_api_url();
    sandbox
        .control()
        .add_fault(FaultRule::new("/test/pages/page", Fault::Truncate).times(1));
    let response = send(client.get(format!("{api}/pages/page?per_page=100"))).await;
    assert_eq!(response.status(), 200);
    let full: u64 = response.headers()["content-length"].to_str().unwrap().parse().unwrap();
    assert!(full > 1000);
    let err = response.bytes().await.unwrap_err();
    assert!(err.is_body() || err.is_decode(), "{err:?}");

    // A large streamed body is truncated without buffering it.
    sandbox
        .control()
        .add_fault(FaultRule::new("/test/bytes", Fault::Truncate).times(1));
    let mut response = client.get(format!("{api}/bytes?size=1000000")).send().await.unwrap();
    assert_eq!(response.headers()["content-length"], "1000000");
    let mut received = 0;
    let err = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received += chunk.len(),
            Ok(None) => panic!("body ended normally"),
            Err(err) => break err,
        }
    };
    assert!(err.is_body() || err.is_decode(), "{err:?}");
    assert_eq!(received, 500_000);
}
