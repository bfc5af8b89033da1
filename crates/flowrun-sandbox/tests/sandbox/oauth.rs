//! `POST /test/oauth/token` grants and the authorization-code consent flow.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{CLIENT_ID, CLIENT_SECRET, assert_html, me_with, send, start, token};

/// GETs the authorization endpoint (the consent page) with the given query.
async fn authorize(client: &reqwest::Client, api: &str, query: &[(&str, &str)]) -> reqwest::Response {
    send(client.get(format!("{api}/oauth/authorize")).query(query)).await
}

/// Posts a client-credentials grant with the given Basic client credentials.
async fn client_credentials_as(client: &reqwest::Client, api: &str, id: &str, secret: &str) -> reqwest::Response {
    send(
        client
            .post(format!("{api}/oauth/token"))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await
}

/// Exchanges a refresh token at the token endpoint.
async fn refresh_grant(client: &reqwest::Client, api: &str, refresh_token: &str) -> (u16, Value) {
    token(
        client,
        api,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)],
    )
    .await
}

#[tokio::test]
async fn password_grant_issues_usable_tokens() {
    let (sandbox, client) = start().await;
    let api = sandbox.test_api_url();
    let (status, body) = token(
        &client,
        &api,
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "wonderland"),
            ("scope", "read write"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "read write");
    assert!(body["refresh_token"].is_string());
    let (status, me) = me_with(&client, &api, body["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(me, serde_json::json!({"user": "alice", "auth": "oauth2"}));
    assert_eq!(sandbox.control().token_grants("password"), 1);

    let (status, body) = token(
        &client,
        &api,
        &[("grant_type", "password"), ("username", "alice"), ("password", "nope")],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(sandbox.control().token_grants("password"), 1);
}

#[tokio::test]
async fn client_credentials_in_the_body_and_client_errors() {
    let (sandbox, client) = start().await;
    let api = sandbox.test_api_url();
    let response = send(client.post(format!("{api}/oauth/token")).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]))
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert!(body["access_token"].is_string());
    assert!(body.get("refresh_token").is_none());
    assert!(body.get("scope").is_none());
    assert_eq!(sandbox.control().token_grants("client_credentials"), 1);

    // Wrong secret: 401 invalid_client with a challenge.
    let response = client_credentials_as(&client, &api, CLIENT_ID, "wrong").await;
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");

    // Basic credentials are form-urlencoded before base64 (RFC 6749 §2.3.1).
    let response = client_credentials_as(&client, &api, "flowrun%2Dtest", "test%2Dsecret").await;
    assert_eq!(response.status(), 200);

    let (status, body) = token(&client, &api, &[("grant_type", "magic")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unsupported_grant_type")));
    let (status, body) = token(&client, &api, &[("scope", "x")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
}

#[tokio::test]
async fn refresh_tokens_rotate() {
    let (sandbox, client) = start().await;
    let api = sandbox.test_api_url();
    let (status, first) = refresh_grant(&client, &api, "seed-refresh-token").await;
    assert_eq!(status, 200, "{first}");
    let rotated = first["refresh_token"].as_str().unwrap();
    assert_ne!(rotated, "seed-refresh-token");

    // The used refresh token is gone.
    let (status, body) = refresh_grant(&client, &api, "seed-refresh-token").await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));

    let (status, second) = refresh_grant(&client, &api, rotated).await;
    assert_eq!(status, 200);
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_ne!(second["access_token"], first["access_token"]);
    let (status, _) = me_with(&client, &api, second["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(sandbox.control().token_grants("refresh_token"), 2);
}

#[tokio::test]
async fn clock_advance_expires_and_revocation_invalidates_access_tokens() {
    let (sandbox, client) = start().await;
    let api = sandbox.test_api_url();
    let control = sandbox.control();
    let (_, body) = refresh_grant(&client, &api, "seed-refresh-token").await;
    let access = body["access_token"].as_str().unwrap();
    control.advance_clock(Duration::from_secs(3599));
    assert_eq!(me_with(&client, &api, access).await.0, 200);
    control.advance_clock(Duration::from_secs(2));
    let response = send(client.get(format!("{api}/me")).bearer_auth(access)).await;
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "unauthorized");
    assert!(error["error"]["message"].as_str().unwrap().contains("expired"));

    // Refresh tokens survive expiry and revocation.
    let refresh = body["refresh_token"].as_str().unwrap();
    let (status, body) = refresh_grant(&client, &api, refresh).await;
    assert_eq!(status, 200);
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(me_with(&client, &api, access).await.0, 200);
    control.revoke_access_tokens();
    assert_eq!(me_with(&client, &api, access).await.0, 401);
    let refresh = body["refresh_token"].as_str().unwrap();
    let (status, body) = refresh_grant(&client, &api, refresh).await;
    assert_eq!(status, 200);
    assert_eq!(
        me_with(&client, &api, body["access_token"].as_str().unwrap()).await.0,
        200
    );
}

/// Runs authorize and approve; returns the redirect's query pairs.
async fn consent(
    client: &reqwest::Client,
    sandbox: &flowrun_sandbox::Sandbox,
    query: &[(&str, &str)],
    answer: &str,
) -> Vec<(String, String)> {
    let api = sandbox.test_api_url();
    let page = authorize(client, &api, query).await;
    assert_eq!(page.status(), 200);
    assert_html(&page);
    let html = page.text().await.unwrap();
    let marker = format!("<a id=\"{answer}\" href=\"");
    let start = html.find(&marker).unwrap() + marker.len();
    let href = &html[start..start + html[start..].find('"').unwrap()];
    assert!(href.starts_with(&format!("/test/oauth/{answer}?request=")));
    let redirect = send(client.get(format!("{}{href}", sandbox.base_url()))).await;
    assert_eq!(redirect.status(), 302);
    let location = redirect.headers()["location"].to_str().unwrap();
    assert!(location.starts_with("http://localhost:9999/callback?"), "{location}");
    let url = reqwest::Url::parse(location).unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

const REDIRECT: &str = "http://localhost:9999/callback";
const VERIFIER: &str = "a-verifier-of-at-least-43-characters-0123456789";

#[tokio::test]
async fn authorization_code_with_pkce() {
    let (sandbox, client) = start().await;
    let api = sandbox.test_api_url();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()));
    let query = [
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("state", "xyz 1"),
        ("scope", "crm"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let pairs = consent(&client, &sandbox, &query, "approve").await;
    assert_eq!(param(&pairs, "state"), Some("xyz 1"));
    let code = param(&pairs, "code").unwrap().to_owned();

    // A wrong verifier fails, and uses up the code.
    let exchange = |code: String, verifier: &'static str, redirect: &'static str| {
        let client = client.clone();
        let api = api.clone();
        async move {
            token(
                &client,
                &api,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", redirect),
                    ("code_verifier", verifier),
                ],
            )
            .await
        }
    };
    let (status, body) = exchange(code.clone(), "wrong-verifier", REDIRECT).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    let (status, body) = exchange(code, VERIFIER, REDIRECT).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));

    // A fresh code with the right verifier works, once.
    let pairs = consent(&client, &sandbox, &query, "approve").await;
    let code = param(&pairs, "code").unwrap().to_owned();
    let (status, body) = exchange(code.clone(), VERIFIER, REDIRECT).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "crm");
    assert!(body["refresh_token"].is_string());
    assert_eq!(
        me_with(&client, &api, body["access_token"].as_str().unwrap()).await.0,
        200
    );
    let (status, _) = exchange(code, VERIFIER, REDIRECT).await;
    assert_eq!(status, 400);
    assert_eq!(sandbox.control().token_grants("authorization_code"), 1);

    // The redirect URI must match the one of the authorization request.
    let pairs = consent(&client, &sandbox, &query, "approve").await;
    let code = param(&pairs, "code").unwrap().to_owned();
    let (status, body) = exchange(code, VERIFIER, "http://localhost:9999/other").await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn deny_and_unknown_client() {
    let (sandbox, client) = start().await;
    let query = [
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("state", "s1"),
    ];
    let pairs = consent(&client, &sandbox, &query, "deny").await;
    assert_eq!(param(&pairs, "error"), Some("access_denied"));
    assert_eq!(param(&pairs, "state"), Some("s1"));
    assert_eq!(param(&pairs, "code"), None);

    let response = authorize(
        &client,
        &sandbox.test_api_url(),
        &[
            ("response_type", "code"),
            ("client_id", "intruder"),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(response.status(), 400);
    assert_html(&response);
}
