//! The sandbox over real sockets: each test starts its own sandbox on an ephemeral port and
//! talks to it with reqwest, as flowrun's HTTP layer will.
//!
//! One test binary (modules below) rather than one per file: linking is the slow part.
#![allow(clippy::unwrap_used)]

use flowrun_sandbox::{Sandbox, SandboxConfig};
use serde_json::Value;

mod conexiom;
mod control;
mod echo;
mod exact;
mod faults;
mod me;
mod misc;
mod oauth;
mod onecrm;
mod pages;

/// A sandbox with the default configuration and a client that does not follow redirects
/// (the consent flow inspects them).
async fn start() -> (Sandbox, reqwest::Client) {
    let sandbox = Sandbox::start(0, SandboxConfig::default()).await.unwrap();
    (sandbox, client())
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The test API's OAuth client.
const CLIENT_ID: &str = "flowrun-test";
const CLIENT_SECRET: &str = "test-secret";

/// Sends a request that must get a response (of any status).
async fn send(request: reqwest::RequestBuilder) -> reqwest::Response {
    request.send().await.unwrap()
}

/// Sends a request and returns status and JSON body.
async fn send_json(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = send(request).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// GETs a URL and returns status and JSON body.
async fn get_json(client: &reqwest::Client, url: &str) -> (u16, Value) {
    send_json(client.get(url)).await
}

/// Posts a form to the token endpoint with Basic client authentication; returns status and
/// JSON body.
async fn token(client: &reqwest::Client, api: &str, form: &[(&str, &str)]) -> (u16, Value) {
    send_json(
        client
            .post(format!("{api}/oauth/token"))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(form),
    )
    .await
}

/// GETs `{api}/me` with a bearer token; returns status and JSON body.
async fn me_with(client: &reqwest::Client, api: &str, access_token: &str) -> (u16, Value) {
    send_json(client.get(format!("{api}/me")).bearer_auth(access_token)).await
}

/// Asserts that a response is HTML.
fn assert_html(response: &reqwest::Response) {
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

#[tokio::test]
async fn urls_and_shutdown() {
    let (sandbox, client) = start().await;
    let base = sandbox.base_url();
    assert!(base.starts_with("http://127.0.0.1:"));
    assert!(!base.ends_with('/'));
    assert_eq!(sandbox.test_api_url(), format!("{base}/test"));
    let (status, _) = get_json(&client, &format!("{base}/test/me?api_key=test-key")).await;
    assert_eq!(status, 200);
    sandbox.shutdown().await;
    let fresh = reqwest::Client::new();
    assert!(fresh.get(format!("{base}/test/me")).send().await.is_err());
}
