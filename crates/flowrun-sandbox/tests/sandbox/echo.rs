//! `ANY /test/echo[/...]`.

use serde_json::{Value, json};

use super::{send_json, start};

#[tokio::test]
async fn echoes_json_with_query_and_headers() {
    let (sandbox, client) = start().await;
    let (status, echo) = send_json(
        client
            .put(format!("{}/echo/a/b?x=1&tag=a&tag=b&empty=", sandbox.test_api_url()))
            .header("X-Custom", "Value")
            .json(&json!({"name": "widget", "n": [1, 2]})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(echo["method"], "PUT");
    assert_eq!(echo["path"], "/test/echo/a/b");
    assert_eq!(echo["query"], json!({"x": "1", "tag": ["a", "b"], "empty": ""}));
    assert_eq!(echo["headers"]["x-custom"], "Value");
    assert_eq!(echo["content_type"], "application/json");
    assert_eq!(echo["body"], json!({"name": "widget", "n": [1, 2]}));
}

#[tokio::test]
async fn echoes_form_text_and_empty_bodies() {
    let (sandbox, client) = start().await;
    let url = format!("{}/echo", sandbox.test_api_url());
    let (_, echo) = send_json(client.post(&url).form(&[("a", "1"), ("b", "two words"), ("a", "3")])).await;
    assert_eq!(echo["path"], "/test/echo");
    assert_eq!(echo["body"], json!({"a": ["1", "3"], "b": "two words"}));

    let (_, echo) = send_json(client.post(&url).header("content-type", "text/plain").body("hello")).await;
    assert_eq!(echo["body"], "hello");
    assert_eq!(echo["content_type"], "text/plain");

    let (_, echo) = send_json(client.get(&url)).await;
    assert_eq!(echo["method"], "GET");
    assert_eq!(echo["body"], Value::Null);
    assert_eq!(echo["query"], json!({}));
}

#[tokio::test]
async fn echoes_multipart_parts() {
    let (sandbox, client) = start().await;
    let form = reqwest::multipart::Form::new().text("title", "report").part(
        "file",
        reqwest::multipart::Part::bytes(vec![0xff, 0x00, 0x10])
            .file_name("data.bin")
            .mime_str("application/octet-stream")
            .unwrap(),
    );
    let (_, echo) = send_json(client.post(format!("{}/echo", sandbox.test_api_url())).multipart(form)).await;
    let parts = echo["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0]["name"], "title");
    assert_eq!(parts[0]["text"], "report");
    assert_eq!(parts[0]["size"], 6);
    assert_eq!(parts[1]["name"], "file");
    assert_eq!(parts[1]["file_name"], "data.bin");
    assert_eq!(parts[1]["content_type"], "application/octet-stream");
    assert_eq!(parts[1]["size"], 3);
    assert!(parts[1].get("text").is_none());
}
