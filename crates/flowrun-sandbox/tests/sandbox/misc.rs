//! Streamed bytes, HTML, arbitrary statuses, gzip and slow responses.

use std::io::Read as _;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{assert_html, get_json, send, start};

#[tokio::test]
async fn bytes_stream_with_or_without_length() {
    let (sandbox, client) = start().await;
    let api = sandbox.test_api_url();
    // A gigabyte, of which only the start is read: the sandbox must not build it in memory.
    let mut response = client.get(format!("{api}/bytes?size=1073741824")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-length"], "1073741824");
    assert_eq!(response.headers()["content-type"], "application/octet-stream");
    let mut read = Vec::new();
    while read.len() < 300_000 {
        read.extend_from_slice(&response.chunk().await.unwrap().unwrap());
    }
    assert!(read.iter().enumerate().all(|(i, b)| *b == (i % 256) as u8));
    drop(response);

    let response = send(client.get(format!("{api}/bytes?size=100000&chunked=1"))).await;
    assert!(response.headers().get("content-length").is_none());
    assert_eq!(response.headers()["transfer-encoding"], "chunked");
    let body = response.bytes().await.unwrap();
    assert_eq!(body.len(), 100_000);
    assert_eq!(body[99_999], (99_999 % 256) as u8);
}

#[tokio::test]
async fn html_and_status_endpoints() {
    let (sandbox, client) = start().await;
    let api = sandbox.test_api_url();
    let response = client.get(format!("{api}/html")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_html(&response);
    assert!(response.text().await.unwrap().contains("<form"));

    let response = send(client.post(format!("{api}/status/429?retry_after=7&message=slow%20down"))).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["message"], "slow down");
    let (status, body) = get_json(&client, &format!("{api}/status/502")).await;
    assert_eq!(status, 502);
    assert_eq!(body["error"]["message"], "status 502");
    let response = client.delete(format!("{api}/status/204")).send().await.unwrap();
    assert_eq!(response.status(), 204);
    let (status, _) = get_json(&client, &format!("{api}/status/abc")).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn gzip_only_when_accepted() {
    let (sandbox, _) = start().await;
    let url = format!("{}/gzip", sandbox.test_api_url());
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let response = send(raw.get(&url).header("accept-encoding", "gzip, deflate")).await;
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let compressed = response.bytes().await.unwrap();
    let mut plain = String::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_string(&mut plain)
        .unwrap();
    let body: Value = serde_json::from_str(&plain).unwrap();
    assert_eq!(body["compressed"], true);
    assert_eq!(body["items"].as_array().unwrap().len(), 100);

    let response = raw.get(&url).send().await.unwrap();
    assert!(response.headers().get("content-encoding").is_none());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["compressed"], false);
    let response = send(raw.get(&url).header("accept-encoding", "gzip;q=0")).await;
    assert!(response.headers().get("content-encoding").is_none());

    // reqwest's own gzip support decompresses transparently.
    let body: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    assert_eq!(body["compressed"], true);
}

#[tokio::test]
async fn slow_waits() {
    let (sandbox, client) = start().await;
    let started = Instant::now();
    let (status, body) = get_json(&client, &format!("{}/slow?ms=150", sandbox.test_api_url())).await;
    assert_eq!(status, 200);
    assert_eq!(body["slept_ms"], 150);
    assert!(started.elapsed() >= Duration::from_millis(150));
}
