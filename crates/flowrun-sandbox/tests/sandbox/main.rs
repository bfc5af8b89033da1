//! The sandbox over real sockets: each test starts its own sandbox on an ephemeral port and
//! talks to it with reqwest, as flowrun's HTTP layer will.
//!
//! One test binary (modules below) rather than one per file: linking is the slow part.
#![allow(clippy::unwrap_used)]

use flowrun_sandbox::{Sandbox, SandboxConfig};
use serde_json::Value;

mod control;
mod echo;
mod faults;
mod me;
mod misc;
mod oauth;
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

/// GETs a URL and returns status and JSON body.
async fn get_json(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let response = client.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
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
