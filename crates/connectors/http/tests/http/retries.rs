//! Retries per request: 429 with Retry-After, 5xx bursts, broken connections, the safe-write
//! rule, timeouts, rate limits.

use std::sync::Arc;
use std::time::{Duration, Instant};

use flowrun_connect::module::ErrorKind;
use flowrun_connect::runtime::HttpRuntime;
use flowrun_sandbox::{Fault, FaultRule};
use serde_json::json;

use super::{call, context, request, sandbox};

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out() {
    let sandbox = sandbox().await;
    let control = sandbox.control();
    control.add_fault(
        FaultRule::new(
            "/test/echo",
            Fault::Status {
                status: 429,
                retry_after: Some("1".into()),
                body: None,
            },
        )
        .times(1),
    );
    let started = Instant::now();
    let out = call(
        None,
        json!({ "method": "POST", "url": format!("{}/echo", sandbox.test_api_url()), "body": {} }),
    )
    .await
    .unwrap();
    assert_eq!(out["status"], 200);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(
        control.request_count("POST", "/test/echo"),
        2,
        "a POST is retried after a 429"
    );
}

#[tokio::test]
async fn a_500_burst_is_retried_then_succeeds_or_fails_clearly() {
    let sandbox = sandbox().await;
    let control = sandbox.control();
    let url = format!("{}/echo", sandbox.test_api_url());
    control.add_fault(FaultRule::new("/test/echo", Fault::status(500)).times(2));
    let out = call(None, json!({ "url": url })).await.unwrap();
    assert_eq!(out["status"], 200);
    assert_eq!(control.request_count("GET", "/test/echo"), 3);

    control.add_fault(FaultRule::new("/test/echo", Fault::status(503)).times(5));
    let error = call(None, json!({ "url": url })).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Server);
    assert_eq!(error.status, Some(503));
    assert!(
        error
            .message
            .starts_with(&format!("GET {url} → 503 Service Unavailable")),
        "{}",
        error.message
    );
    assert!(error.message.ends_with("(after 3 attempts)"), "{}", error.message);
}

#[tokio::test]
async fn a_post_is_not_repeated_after_a_5xx_unless_the_step_says_so() {
    let sandbox = sandbox().await;
    let control = sandbox.control();
    let url = format!("{}/echo", sandbox.test_api_url());
    control.add_fault(FaultRule::new("/test/echo", Fault::status(500)).times(1));
    let error = call(None, json!({ "method": "POST", "url": url, "body": {} }))
        .await
        .unwrap_err();
    assert_eq!(error.status, Some(500));
    assert_eq!(
        control.request_count("POST", "/test/echo"),
        1,
        "the first POST may have written"
    );

    control.add_fault(FaultRule::new("/test/echo", Fault::status(500)).times(1));
    let runtime = Arc::new(HttpRuntime::default());
    let mut context = context(&runtime, None);
    let mut policy = (*context.retry).clone();
    policy.listed = true;
    context.retry = Arc::new(policy);
    request(&context, json!({ "method": "POST", "url": url, "body": {} }))
        .await
        .unwrap();
    assert_eq!(control.request_count("POST", "/test/echo"), 3);
}

#[tokio::test]
async fn dropped_and_truncated_responses_are_retried_for_reads() {
    let sandbox = sandbox().await;
    let control = sandbox.control();
    let url = format!("{}/pages/page", sandbox.test_api_url());
    control.add_fault(FaultRule::new("/test/pages/page", Fault::Drop).times(1));
    control.add_fault(FaultRule::new("/test/pages/page", Fault::Truncate).times(1));
    let out = call(None, json!({ "url": url })).await.unwrap();
    assert_eq!(out["body"]["data"].as_array().unwrap().len(), 10);

    control.add_fault(FaultRule::new("/test/pages/page", Fault::Drop));
    let error = call(None, json!({ "url": url })).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Server);
    assert!(error.message.contains("the connection broke"), "{}", error.message);
}

#[tokio::test]
async fn the_steps_timeout_limits_each_request() {
    let sandbox = sandbox().await;
    let runtime = Arc::new(HttpRuntime::default());
    let mut context = context(&runtime, None);
    context.timeout = Some(Duration::from_millis(200));
    let mut policy = (*context.retry).clone();
    policy.attempts = 1;
    context.retry = Arc::new(policy);
    let error = request(
        &context,
        json!({ "url": format!("{}/slow?ms=3000", sandbox.test_api_url()) }),
    )
    .await
    .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Timeout);
    assert!(
        error.message.contains("no complete response within 200ms"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn a_rate_limit_spaces_requests_across_calls() {
    let sandbox = sandbox().await;
    let runtime = Arc::new(HttpRuntime::default());
    let config = json!({ "base_url": sandbox.test_api_url(), "rate_limit": { "requests": 2, "per": "1s" } });
    let context = context(&runtime, Some(config));
    let started = Instant::now();
    for _ in 0..4 {
        request(&context, json!({ "url": "echo" })).await.unwrap();
    }
    // Two at once, then one every 500 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "took {:?}",
        started.elapsed()
    );
}
