//! What a failed request says: the API's message, HTML where JSON was expected, size limits.

use std::time::{Duration, Instant};

use flowrun_connect::module::ErrorKind;
use serde_json::json;

use super::{call, sandbox};

#[tokio::test]
async fn a_4xx_names_the_request_status_and_the_apis_message() {
    let sandbox = sandbox().await;
    let url = format!("{}/status/404?message=No%20such%20order", sandbox.test_api_url());
    let error = call(None, json!({ "url": url })).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Client);
    assert_eq!(
        error.message,
        format!(
            "GET {}/status/404?message=No+such+order → 404 Not Found: No such order \
             (body: {{\"error\":{{\"message\":\"No such order\"}}}})",
            sandbox.test_api_url()
        )
    );
    assert_eq!(error.details.unwrap()["body"]["error"]["message"], "No such order");
    // Listed statuses are a success.
    let out = call(None, json!({ "url": url, "ok_status": [404] })).await.unwrap();
    assert_eq!(out["status"], 404);
}

#[tokio::test]
async fn html_where_json_was_expected_shows_the_first_bytes() {
    let sandbox = sandbox().await;
    let error = call(
        None,
        json!({ "url": format!("{}/html", sandbox.test_api_url()), "response": "json" }),
    )
    .await
    .unwrap_err();
    assert!(
        error.message.contains("expected JSON, got text/html"),
        "{}",
        error.message
    );
    assert!(error.message.contains("the body starts: <!"), "{}", error.message);
}

#[tokio::test]
async fn a_huge_body_fails_fast_without_reading_it() {
    let sandbox = sandbox().await;
    let config = json!({ "base_url": sandbox.test_api_url(), "max_response_size": "1MB" });
    let started = Instant::now();
    let error = call(Some(config.clone()), json!({ "url": "bytes?size=1000000000" }))
        .await
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Invalid);
    assert!(
        error
            .message
            .contains("the response is 1000000000 bytes, more than `max_response_size` allows (1000000 bytes)"),
        "{}",
        error.message
    );
    // Without a Content-Length the body is read up to the limit, then dropped.
    let error = call(Some(config), json!({ "url": "bytes?size=1000000000&chunked=1" }))
        .await
        .unwrap_err();
    assert!(error.message.contains("more than 1000000"), "{}", error.message);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "1 GB was not read: {:?}",
        started.elapsed()
    );
}
