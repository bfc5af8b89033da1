//! The Exact Online simulator (`/exact`) over real sockets, driven as a client written for
//! the real API drives it: consent page, code exchange, refresh rotation, OData reads with
//! paging, bulk and sync, writes, rate limits and webhooks.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flowrun_sandbox::exact_credentials as creds;
use flowrun_sandbox::{ExactSettings, Fault, FaultRule, Sandbox};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{assert_html, send, start};

const REDIRECT: &str = "http://localhost:9999/callback";

/// The consent page's link with this id (`approve` or `deny`), absolute.
async fn consent_link(client: &reqwest::Client, sandbox: &Sandbox, query: &[(&str, &str)], id: &str) -> String {
    let page = send(
        client
            .get(format!("{}/api/oauth2/auth", sandbox.exact_url()))
            .query(query),
    )
    .await;
    assert_eq!(page.status(), 200);
    assert_html(&page);
    let html = page.text().await.unwrap();
    assert!(html.contains(creds::USERNAME), "{html}");
    let marker = format!("<a id=\"{id}\" href=\"");
    let start = html.find(&marker).unwrap() + marker.len();
    let href = &html[start..start + html[start..].find('"').unwrap()];
    format!("{}{href}", sandbox.base_url())
}

/// Follows the consent flow to the redirect; returns the raw `Location`.
async fn consent(client: &reqwest::Client, sandbox: &Sandbox, extra: &[(&str, &str)], id: &str) -> String {
    let mut query = vec![
        ("client_id", creds::CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("state", "st 1"),
        ("force_login", "0"),
    ];
    query.extend_from_slice(extra);
    let link = consent_link(client, sandbox, &query, id).await;
    let redirect = send(client.get(link)).await;
    assert_eq!(redirect.status(), 302);
    redirect.headers()["location"].to_str().unwrap().to_owned()
}

fn query_param(location: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// POSTs a form to the token endpoint with the client in the body.
async fn token_call(client: &reqwest::Client, sandbox: &Sandbox, form: &[(&str, &str)]) -> (u16, Value) {
    let mut form = form.to_vec();
    form.extend([("client_id", creds::CLIENT_ID), ("client_secret", creds::CLIENT_SECRET)]);
    let response = send(
        client
            .post(format!("{}/api/oauth2/token", sandbox.exact_url()))
            .form(&form),
    )
    .await;
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn exchange(client: &reqwest::Client, sandbox: &Sandbox, code: &str) -> (u16, Value) {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
    ];
    token_call(client, sandbox, &form).await
}

async fn refresh(client: &reqwest::Client, sandbox: &Sandbox, refresh_token: &str) -> (u16, Value) {
    token_call(
        client,
        sandbox,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)],
    )
    .await
}

/// A fresh token pair through the whole consent flow.
async fn login(client: &reqwest::Client, sandbox: &Sandbox) -> Value {
    let location = consent(client, sandbox, &[], "approve").await;
    let code = query_param(&location, "code").unwrap();
    let (status, body) = exchange(client, sandbox, &code).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A sandbox, a client and an access token.
async fn connect() -> (Sandbox, reqwest::Client, String) {
    let (sandbox, client) = start().await;
    let tokens = login(&client, &sandbox).await;
    let token = tokens["access_token"].as_str().unwrap().to_owned();
    (sandbox, client, token)
}

fn api(sandbox: &Sandbox, division: u64) -> String {
    format!("{}/api/v1/{division}", sandbox.exact_url())
}

/// GET with the token and `Accept: application/json`.
async fn get(client: &reqwest::Client, token: &str, url: &str) -> reqwest::Response {
    send(client.get(url).bearer_auth(token).header("accept", "application/json")).await
}

/// GET that must answer 200 JSON.
async fn ok(client: &reqwest::Client, token: &str, url: &str) -> Value {
    let response = get(client, token, url).await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{url}: {body}");
    body
}

/// Asserts an OData error; returns its message.
async fn odata_error(response: reqwest::Response, status: u16) -> String {
    assert_eq!(response.status().as_u16(), status);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "", "{body}");
    assert_eq!(body["error"]["message"]["lang"], "", "{body}");
    body["error"]["message"]["value"].as_str().unwrap().to_owned()
}

fn results(body: &Value) -> &Vec<Value> {
    body["d"]["results"].as_array().unwrap()
}

/// Every row of a collection, following `__next`; also the number of pages.
async fn all_pages(client: &reqwest::Client, token: &str, url: &str, page_size: usize) -> (Vec<Value>, usize) {
    let mut rows = Vec::new();
    let mut next = Some(url.to_owned());
    let mut pages = 0;
    while let Some(url) = next {
        let body = ok(client, token, &url).await;
        let page = results(&body);
        assert!(page.len() <= page_size, "{} rows", page.len());
        rows.extend(page.iter().cloned());
        pages += 1;
        next = body["d"]["__next"].as_str().map(str::to_owned);
        if let Some(next) = &next {
            assert!(next.starts_with("http://127.0.0.1:"), "{next}");
            assert!(next.contains("$skiptoken="), "{next}");
            assert_eq!(page.len(), page_size, "only full pages have a next link");
        }
    }
    (rows, pages)
}

fn date_ms(value: &Value) -> i64 {
    let text = value.as_str().unwrap_or_else(|| panic!("a date, got {value}"));
    text.strip_prefix("/Date(")
        .and_then(|t| t.strip_suffix(")/"))
        .unwrap()
        .parse()
        .unwrap()
}

/// `/Date(ms)/` → `2024-01-01T00:00:00.123` for a `datetime'…'` literal.
fn datetime_literal(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

fn header_u64(response: &reqwest::Response, name: &str) -> u64 {
    response.headers()[name].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn exact_consent_flow_and_code_exchange() {
    let (sandbox, client) = start().await;
    assert_eq!(sandbox.exact_url(), format!("{}/exact", sandbox.base_url()));
    let location = consent(&client, &sandbox, &[("scope", "crm/accounts")], "approve").await;
    assert!(location.starts_with(&format!("{REDIRECT}?")), "{location}");
    // The code carries a `!`, sent encoded.
    assert!(location.contains("%21"), "{location}");
    assert_eq!(query_param(&location, "state").as_deref(), Some("st 1"));
    let code = query_param(&location, "code").unwrap();
    assert!(code.contains('!'), "{code}");

    let (status, body) = exchange(&client, &sandbox, &code).await;
    assert_eq!(status, 200, "{body}");
    let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["access_token", "token_type", "expires_in", "refresh_token"]);
    assert_eq!(body["expires_in"], json!("600"));
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(sandbox.control().token_grants("authorization_code"), 1);

    // Codes are single-use.
    let (status, body) = exchange(&client, &sandbox, &code).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));

    // Deny.
    let location = consent(&client, &sandbox, &[], "deny").await;
    assert_eq!(query_param(&location, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&location, "state").as_deref(), Some("st 1"));
    assert_eq!(query_param(&location, "code"), None);

    // An unknown app gets an error page, never a redirect.
    let page = send(client.get(format!("{}/api/oauth2/auth", sandbox.exact_url())).query(&[
        ("client_id", "00000000-0000-0000-0000-000000000000"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
    ]))
    .await;
    assert_eq!(page.status(), 400);
    assert!(page.headers().get("location").is_none());

    // The redirect URI must match; a wrong client secret is refused.
    let code = query_param(&consent(&client, &sandbox, &[], "approve").await, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://localhost:9999/other"),
    ];
    let (status, body) = token_call(&client, &sandbox, &form).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    let response = send(client.post(format!("{}/api/oauth2/token", sandbox.exact_url())).form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", "x"),
        ("client_id", creds::CLIENT_ID),
        ("client_secret", "wrong"),
    ]))
    .await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_client");

    // Codes expire after three minutes of sandbox time.
    let code = query_param(&consent(&client, &sandbox, &[], "approve").await, "code").unwrap();
    sandbox.control().advance_clock(Duration::from_secs(181));
    let (status, body) = exchange(&client, &sandbox, &code).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn exact_pkce_and_basic_client_auth() {
    let (sandbox, client) = start().await;
    let verifier = "a-verifier-of-at-least-43-characters-0123456789";
    let challenge = base64_url(&Sha256::digest(verifier.as_bytes()));
    let pkce = [
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let code = query_param(&consent(&client, &sandbox, &pkce, "approve").await, "code").unwrap();
    let (status, body) = exchange(&client, &sandbox, &code).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    let code = query_param(&consent(&client, &sandbox, &pkce, "approve").await, "code").unwrap();
    let response = send(
        client
            .post(format!("{}/api/oauth2/token", sandbox.exact_url()))
            .basic_auth(creds::CLIENT_ID, Some(creds::CLIENT_SECRET))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier),
            ]),
    )
    .await;
    assert_eq!(response.status(), 200);
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn exact_refresh_rotation_expiry_and_401() {
    let (sandbox, client) = start().await;
    let control = sandbox.control();
    let first = login(&client, &sandbox).await;
    let me = format!("{}/api/v1/current/Me", sandbox.exact_url());

    let (status, second) = refresh(&client, &sandbox, first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{second}");
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_eq!(second["expires_in"], "600");
    // The rotated-away token is refused.
    let (status, body) = refresh(&client, &sandbox, first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "Old refresh token used."})
    );
    let counts = control.exact_counts();
    assert_eq!((counts.token_refreshes, counts.refused_refresh_tokens), (1, 1));

    // Access tokens expire after 600 s of sandbox time: 401 without a JSON body.
    let access = second["access_token"].as_str().unwrap();
    assert_eq!(get(&client, access, &me).await.status(), 200);
    control.advance_clock(Duration::from_secs(601));
    let response = get(&client, access, &me).await;
    assert_eq!(response.status(), 401);
    assert!(serde_json::from_str::<Value>(&response.text().await.unwrap()).is_err());
    let response = get(
        &client,
        access,
        &format!("{}/crm/Accounts", api(&sandbox, creds::DIVISION)),
    )
    .await;
    assert_eq!(response.status(), 401);

    // The current refresh token still works; one unused for 30 days does not.
    let (status, third) = refresh(&client, &sandbox, second["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(
        get(&client, third["access_token"].as_str().unwrap(), &me)
            .await
            .status(),
        200
    );
    control.advance_clock(Duration::from_secs(30 * 86_400 + 1));
    let (status, body) = refresh(&client, &sandbox, third["refresh_token"].as_str().unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.starts_with("The refresh token expired at ") && description.contains(" and it is now "),
        "{description}"
    );

    // Strict mode refuses a refresh before 570 s.
    control.set_exact_settings(ExactSettings {
        strict_early_refresh: true,
        ..ExactSettings::default()
    });
    let fresh = login(&client, &sandbox).await;
    let (status, body) = refresh(&client, &sandbox, fresh["refresh_token"].as_str().unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
    assert_eq!(control.exact_counts().early_refreshes, 1);
    control.advance_clock(Duration::from_secs(571));
    let (status, _) = refresh(&client, &sandbox, fresh["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn exact_accept_header_me_and_divisions() {
    let (sandbox, client, token) = connect().await;
    let control = sandbox.control();
    let accounts = format!("{}/crm/Accounts", api(&sandbox, creds::DIVISION));

    // Without `Accept: application/json`: Atom, not JSON.
    let response = send(client.get(&accounts).bearer_auth(&token)).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/atom+xml")
    );
    assert!(serde_json::from_str::<Value>(&response.text().await.unwrap()).is_err());

    let counted = control.exact_counts().requests[&creds::DIVISION];
    assert_eq!(counted, 1);
    let me_url = format!("{}/api/v1/current/Me", sandbox.exact_url());
    let response = get(&client, &token, &me_url).await;
    assert!(response.headers().get("x-ratelimit-minutely-remaining").is_none());
    let me: Value = response.json().await.unwrap();
    let me = &results(&me)[0];
    assert_eq!(me["CurrentDivision"], creds::DIVISION);
    assert_eq!(me["UserName"], creds::USERNAME);
    assert!(
        me["__metadata"]["uri"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    let body = ok(&client, &token, &format!("{me_url}?$select=CurrentDivision")).await;
    let keys: Vec<&str> = results(&body)[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["__metadata", "CurrentDivision"]);
    // Me is not counted.
    assert_eq!(control.exact_counts().requests[&creds::DIVISION], counted);

    let divisions = ok(
        &client,
        &token,
        &format!("{}/system/Divisions", api(&sandbox, creds::DIVISION)),
    )
    .await;
    let codes: Vec<u64> = results(&divisions)
        .iter()
        .map(|d| d["Code"].as_u64().unwrap())
        .collect();
    assert_eq!(codes, [creds::DIVISION, creds::OTHER_DIVISION]);

    // A division that is not the user's: 403 with the OData body and rate-limit headers.
    for division in [creds::FORBIDDEN_DIVISION, 1] {
        let response = get(&client, &token, &format!("{}/crm/Accounts", api(&sandbox, division))).await;
        assert!(response.headers().contains_key("x-ratelimit-remaining"));
        odata_error(response, 403).await;
    }
    // Unknown service or entity: 404.
    let response = get(
        &client,
        &token,
        &format!("{}/crm/Nothing", api(&sandbox, creds::DIVISION)),
    )
    .await;
    assert!(odata_error(response, 404).await.contains("Nothing"));
    let counts = control.exact_counts();
    assert_eq!(counts.requests[&creds::DIVISION], 3);
    assert_eq!(counts.requests[&creds::FORBIDDEN_DIVISION], 1);

    // An injected fault answers in the OData error shape.
    control.add_fault(FaultRule::new("/exact/api/v1/*", Fault::status(503)).times(1));
    let response = get(
        &client,
        &token,
        &format!("{}/crm/Accounts", api(&sandbox, creds::DIVISION)),
    )
    .await;
    assert!(odata_error(response, 503).await.contains("injected"));

    // The other division has its own, smaller data.
    let other = ok(
        &client,
        &token,
        &format!("{}/crm/Accounts/$count", api(&sandbox, creds::OTHER_DIVISION)),
    )
    .await;
    assert_eq!(other, json!(50));
}

#[tokio::test]
async fn exact_paging_sees_every_account_once() {
    let (sandbox, client, token) = connect().await;
    let control = sandbox.control();
    let added = control.exact_generate_accounts(1000);
    assert_eq!(added.len(), 1000);
    let ids: HashSet<String> = control.exact_account_ids().into_iter().collect();
    assert_eq!(ids.len(), 1250);
    assert_eq!(control.exact_counts().accounts, 1250);
    let base = api(&sandbox, creds::DIVISION);

    let (rows, pages) = all_pages(&client, &token, &format!("{base}/crm/Accounts?$select=ID,Code"), 60).await;
    assert_eq!(pages, 21);
    let seen: Vec<String> = rows.iter().map(|r| r["ID"].as_str().unwrap().to_owned()).collect();
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), ids);
    assert_eq!(seen.len(), ids.len(), "no account twice");

    // Ordered by name, across pages.
    let (rows, _) = all_pages(
        &client,
        &token,
        &format!("{base}/crm/Accounts?$select=ID,Name&$orderby=Name desc"),
        60,
    )
    .await;
    assert_eq!(rows.len(), 1250);
    let names: Vec<String> = rows
        .iter()
        .map(|r| r["Name"].as_str().unwrap().to_lowercase())
        .collect();
    assert!(names.windows(2).all(|w| w[0] >= w[1]));
    assert_eq!(
        rows.iter()
            .map(|r| r["ID"].as_str().unwrap())
            .collect::<HashSet<_>>()
            .len(),
        1250
    );

    // Bulk: 1000 rows a page.
    let (rows, pages) = all_pages(&client, &token, &format!("{base}/bulk/crm/Accounts?$select=ID"), 1000).await;
    assert_eq!((rows.len(), pages), (1250, 2));

    // `$top` below the page size: that many, no next link.
    let body = ok(
        &client,
        &token,
        &format!("{base}/crm/Accounts?$top=5&$inlinecount=allpages"),
    )
    .await;
    assert_eq!(results(&body).len(), 5);
    assert!(body["d"].get("__next").is_none());
    assert_eq!(body["d"]["__count"], "1250");
}

#[tokio::test]
async fn exact_query_options() {
    let (sandbox, client, token) = connect().await;
    let base = api(&sandbox, creds::DIVISION);
    let accounts = format!("{base}/crm/Accounts");

    let body = ok(&client, &token, &format!("{accounts}?$top=1")).await;
    let account = results(&body)[0].clone();
    let id = account["ID"].as_str().unwrap();
    assert_eq!(id.len(), 36);
    let code = account["Code"].as_str().unwrap();
    assert_eq!(code.len(), 18);
    assert!(code.starts_with(' '));
    assert_eq!(account["__metadata"]["type"], "Exact.Web.Api.Models.Account");
    let uri = account["__metadata"]["uri"].as_str().unwrap();
    assert_eq!(uri, format!("{accounts}(guid'{id}')"));
    assert!(date_ms(&account["Modified"]) >= date_ms(&account["Created"]));
    assert!(account.get("Timestamp").is_none());

    // Single record, `$select`.
    let single = ok(&client, &token, uri).await;
    assert_eq!(single["d"]["ID"], id);
    let single = ok(&client, &token, &format!("{uri}?$select=Name,City")).await;
    let keys: Vec<&str> = single["d"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["__metadata", "Name", "City"]);
    let missing = get(
        &client,
        &token,
        &format!("{accounts}(guid'00000000-0000-0000-0000-000000000000')"),
    )
    .await;
    odata_error(missing, 404).await;
    let bad = get(&client, &token, &format!("{accounts}?$select=Name,Nope")).await;
    assert!(odata_error(bad, 400).await.contains("Nope"));

    // `$filter`.
    let filter = |f: &str| format!("{accounts}?$filter={}", f.replace(' ', "%20"));
    let body = ok(&client, &token, &filter(&format!("ID eq guid'{id}'"))).await;
    assert_eq!(results(&body).len(), 1);
    let trimmed = code.trim();
    let body = ok(&client, &token, &filter(&format!("trim(Code) eq '{trimmed}'"))).await;
    assert_eq!(results(&body)[0]["ID"], id);
    let body = ok(&client, &token, &filter(&format!("Code eq '{trimmed}'"))).await;
    assert!(results(&body).is_empty(), "an unpadded Code matches nothing");
    let word = account["Name"].as_str().unwrap().split(' ').next().unwrap().to_owned();
    let body = ok(
        &client,
        &token,
        &format!(
            "{}&$inlinecount=allpages&$select=Name",
            filter(&format!("substringof('{word}', Name)"))
        ),
    )
    .await;
    assert!(
        results(&body)
            .iter()
            .all(|r| r["Name"].as_str().unwrap().contains(&word))
    );
    let matched: usize = body["d"]["__count"].as_str().unwrap().parse().unwrap();
    let count = get(
        &client,
        &token,
        &format!("{accounts}/$count?$filter=substringof('{word}',Name)"),
    )
    .await;
    assert!(
        count.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(count.text().await.unwrap(), matched.to_string());
    let body = ok(
        &client,
        &token,
        &filter("Status eq 'C' and (IsSupplier eq true or Email eq null)"),
    )
    .await;
    assert!(
        results(&body)
            .iter()
            .all(|r| r["Status"] == "C" && (r["IsSupplier"] == true || r["Email"].is_null()))
    );
    for bad in [
        "Name eq",
        "Nope eq 1",
        "Name eq 5",
        "Timestamp gt 1L",
        "Modified ge datetime'2024-01-01'",
    ] {
        let response = get(&client, &token, &filter(bad)).await;
        odata_error(response, 400).await;
    }

    // `$orderby` and `$top`.
    let body = ok(
        &client,
        &token,
        &format!("{accounts}?$orderby=Code desc&$top=3&$select=Code"),
    )
    .await;
    let codes: Vec<&str> = results(&body).iter().map(|r| r["Code"].as_str().unwrap()).collect();
    assert_eq!(
        codes,
        [
            format!("{:>18}", 1249),
            format!("{:>18}", 1248),
            format!("{:>18}", 1247)
        ]
    );

    // Delta by `Modified`: exactly the accounts touched.
    let ids = sandbox.control().exact_account_ids();
    let touched = vec![ids[3].clone(), ids[70].clone()];
    sandbox.control().exact_touch_accounts(&touched);
    let modified = date_ms(&sandbox.control().exact_find("crm/Accounts", &touched[0]).unwrap()["Modified"]);
    let body = ok(
        &client,
        &token,
        &filter(&format!("Modified ge datetime'{}'", datetime_literal(modified))),
    )
    .await;
    let found: HashSet<&str> = results(&body).iter().map(|r| r["ID"].as_str().unwrap()).collect();
    assert_eq!(found, touched.iter().map(String::as_str).collect());

    // Sales orders: lines deferred, or expanded.
    let orders = format!("{base}/salesorder/SalesOrders");
    let body = ok(&client, &token, &format!("{orders}?$top=2")).await;
    let order = &results(&body)[0];
    let deferred = order["SalesOrderLines"]["__deferred"]["uri"].as_str().unwrap();
    let lines = ok(&client, &token, deferred).await;
    assert!(!results(&lines).is_empty());
    let body = ok(&client, &token, &format!("{orders}?$top=2&$expand=SalesOrderLines")).await;
    for order in results(&body) {
        let lines = order["SalesOrderLines"]["results"].as_array().unwrap();
        assert!((1..=5).contains(&lines.len()));
        let sum: f64 = lines.iter().map(|l| l["AmountDC"].as_f64().unwrap()).sum();
        assert!((sum - order["AmountDC"].as_f64().unwrap()).abs() < 0.01);
        assert!(lines.iter().all(|l| l["OrderID"] == order["OrderID"]));
    }
}

#[tokio::test]
async fn exact_bulk_and_sync() {
    let (sandbox, client, token) = connect().await;
    let control = sandbox.control();
    let base = api(&sandbox, creds::DIVISION);
    for path in ["bulk/crm/Accounts", "sync/crm/Accounts", "sync/Deleted"] {
        let response = get(&client, &token, &format!("{base}/{path}")).await;
        assert!(odata_error(response, 400).await.contains("$select"), "{path}");
    }
    let sync = format!("{base}/sync/crm/Accounts?$select=ID,Name,Timestamp");
    let (rows, _) = all_pages(&client, &token, &sync, 1000).await;
    assert_eq!(rows.len(), 250);
    let stamps: Vec<i64> = rows
        .iter()
        .map(|r| r["Timestamp"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "ordered by Timestamp");
    let high = *stamps.last().unwrap();

    let ids = control.exact_account_ids();
    let touched = vec![ids[10].clone(), ids[20].clone(), ids[30].clone()];
    control.exact_touch_accounts(&touched);
    let delta = ok(&client, &token, &format!("{sync}&$filter=Timestamp gt {high}L")).await;
    let found: HashSet<&str> = results(&delta).iter().map(|r| r["ID"].as_str().unwrap()).collect();
    assert_eq!(found, touched.iter().map(String::as_str).collect());
    let row = control.exact_find("sync/crm/Accounts", &touched[0]).unwrap();
    assert!(row["Timestamp"].as_str().unwrap().parse::<i64>().unwrap() > high);

    let lines = ok(
        &client,
        &token,
        &format!("{base}/sync/salesorder/SalesOrderLines?$select=ID,OrderID,Timestamp"),
    )
    .await;
    assert_eq!(results(&lines).len(), control.exact_counts().sales_order_lines);
}

async fn post(client: &reqwest::Client, token: &str, url: &str, body: &Value, full: bool) -> reqwest::Response {
    let mut request = client
        .post(url)
        .bearer_auth(token)
        .header("accept", "application/json")
        .json(body);
    if full {
        request = request.header("prefer", "return=representation");
    }
    send(request).await
}

#[tokio::test]
async fn exact_writes_round_trip() {
    let (sandbox, client, token) = connect().await;
    let control = sandbox.control();
    let base = api(&sandbox, creds::DIVISION);
    let accounts = format!("{base}/crm/Accounts");

    let created = post(
        &client,
        &token,
        &accounts,
        &json!({"Name": "Nieuw B.V.", "Code": "9001", "City": "Delft"}),
        true,
    )
    .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let account = &created["d"];
    let id = account["ID"].as_str().unwrap().to_owned();
    assert_eq!(account["Code"], format!("{:>18}", "9001"));
    assert_eq!(account["Status"], "C");
    assert!(date_ms(&account["Created"]) > 0);
    assert_eq!(control.exact_counts().accounts, 251);

    // Without `Prefer`: sparse.
    let sparse = post(&client, &token, &accounts, &json!({"Name": "Schaars B.V."}), false).await;
    assert_eq!(sparse.status(), 201);
    let sparse: Value = sparse.json().await.unwrap();
    assert!(sparse["d"]["ID"].is_string());
    assert_eq!(sparse["d"]["Name"], "Schaars B.V.");
    assert!(sparse["d"]["Status"].is_null() && sparse["d"]["Created"].is_null());

    // Validation names the field.
    let cases = [
        (json!({"City": "Delft"}), "Mandatory: Name"),
        (json!({"Name": "Dubbel", "Code": "9001"}), "Duplicate: Code"),
        (json!({"Name": "X", "Email": "not-an-address"}), "Invalid: Email"),
        (json!({"Name": "X", "Colour": "red"}), "Colour"),
    ];
    for (body, message) in cases {
        let response = post(&client, &token, &accounts, &body, false).await;
        assert!(odata_error(response, 400).await.contains(message), "{message}");
    }
    let malformed = send(
        client
            .post(&accounts)
            .bearer_auth(&token)
            .header("accept", "application/json")
            .header("content-type", "application/json")
            .body("{\"Name\":"),
    )
    .await;
    odata_error(malformed, 400).await;
    let contact = post(
        &client,
        &token,
        &format!("{base}/crm/Contacts"),
        &json!({"FirstName": "Piet"}),
        false,
    )
    .await;
    assert_eq!(odata_error(contact, 400).await, "Mandatory: LastName");
    let contact = post(
        &client,
        &token,
        &format!("{base}/crm/Contacts"),
        &json!({"LastName": "Jansen", "Account": id}),
        true,
    )
    .await;
    assert_eq!(contact.status(), 201);
    assert_eq!(contact.json::<Value>().await.unwrap()["d"]["AccountName"], "Nieuw B.V.");

    // Update: 204, partial; Modified and Timestamp move.
    let uri = format!("{accounts}(guid'{id}')");
    let before = control.exact_find("sync/crm/Accounts", &id).unwrap();
    let response = send(
        client
            .put(&uri)
            .bearer_auth(&token)
            .header("accept", "application/json")
            .json(&json!({"City": "Gouda"})),
    )
    .await;
    assert_eq!(response.status(), 204);
    assert!(response.text().await.unwrap().is_empty());
    let after = ok(&client, &token, &uri).await;
    assert_eq!(
        (after["d"]["City"].as_str(), after["d"]["Name"].as_str()),
        (Some("Gouda"), Some("Nieuw B.V."))
    );
    let synced = control.exact_find("sync/crm/Accounts", &id).unwrap();
    let ts = |row: &Value| row["Timestamp"].as_str().unwrap().parse::<i64>().unwrap();
    assert!(ts(&synced) > ts(&before));
    let response = send(
        client
            .put(format!("{accounts}(guid'00000000-0000-0000-0000-000000000000')"))
            .bearer_auth(&token)
            .json(&json!({"City": "X"})),
    )
    .await;
    assert_eq!(response.status(), 404);

    // Delete: 204, gone, and a sync/Deleted row.
    let response = send(client.delete(&uri).bearer_auth(&token)).await;
    assert_eq!(response.status(), 204);
    odata_error(get(&client, &token, &uri).await, 404).await;
    let deleted = ok(
        &client,
        &token,
        &format!(
            "{base}/sync/Deleted?$select=EntityKey,EntityType,Timestamp,DeletedDate&$filter=Timestamp gt {}L",
            ts(&synced)
        ),
    )
    .await;
    let rows = results(&deleted);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["EntityKey"], id);
    assert_eq!(control.exact_counts().deleted, 1);

    // The 10 MB body limit.
    let huge = format!("{{\"Name\":\"{}\"}}", "x".repeat(10 * 1024 * 1024));
    let response = send(
        client
            .post(&accounts)
            .bearer_auth(&token)
            .header("accept", "application/json")
            .header("content-type", "application/json")
            .body(huge),
    )
    .await;
    // The rest of that body was never read: the connection closes, and the answer says so.
    assert_eq!(response.headers()["connection"], "close");
    odata_error(response, 413).await;

    // A sales order with lines.
    let items = ok(
        &client,
        &token,
        &format!("{base}/logistics/Items?$top=2&$select=ID,StandardSalesPrice"),
    )
    .await;
    let (item, price) = (
        results(&items)[0]["ID"].clone(),
        results(&items)[0]["StandardSalesPrice"].as_f64().unwrap(),
    );
    let customer = control.exact_account_ids()[0].clone();
    let orders = format!("{base}/salesorder/SalesOrders");
    let order = post(
        &client,
        &token,
        &orders,
        &json!({"OrderedBy": customer, "SalesOrderLines": [{"Item": item, "Quantity": 3}]}),
        true,
    )
    .await;
    assert_eq!(order.status(), 201);
    let order: Value = order.json().await.unwrap();
    assert!((order["d"]["AmountDC"].as_f64().unwrap() - 3.0 * price).abs() < 0.01);
    assert_eq!(order["d"]["OrderNumber"], 151);
    let order = post(&client, &token, &orders, &json!({"OrderedBy": customer}), false).await;
    assert_eq!(odata_error(order, 400).await, "Mandatory: SalesOrderLines");
}

#[tokio::test]
async fn exact_rate_limits() {
    let (sandbox, client, token) = connect().await;
    let control = sandbox.control();
    let accounts = format!("{}/crm/Accounts?$top=1", api(&sandbox, creds::DIVISION));

    let before = now_ms();
    let response = get(&client, &token, &accounts).await;
    assert_eq!(header_u64(&response, "x-ratelimit-limit"), 5000);
    assert_eq!(header_u64(&response, "x-ratelimit-remaining"), 4999);
    assert_eq!(header_u64(&response, "x-ratelimit-minutely-limit"), 60);
    let minutely_reset = header_u64(&response, "x-ratelimit-minutely-reset");
    assert!(
        minutely_reset > before && minutely_reset <= now_ms() + 60_000,
        "{minutely_reset}"
    );
    let daily_reset = header_u64(&response, "x-ratelimit-reset");
    assert_eq!(daily_reset % 86_400_000, 0, "the next UTC midnight");
    assert!(daily_reset > before && daily_reset <= before + 86_400_000);
    // Errors carry the headers too.
    let response = get(&client, &token, &format!("{}/crm/Nope", api(&sandbox, creds::DIVISION))).await;
    assert_eq!(header_u64(&response, "x-ratelimit-remaining"), 4998);

    // A small minutely budget: 429 with the OData body, then through after the reset.
    control.set_exact_settings(ExactSettings {
        minutely_limit: 3,
        minute_window_ms: 2000,
        ..ExactSettings::default()
    });
    let mut refused = None;
    for _ in 0..20 {
        let response = get(&client, &token, &accounts).await;
        if response.status() == 429 {
            refused = Some(response);
            break;
        }
        assert_eq!(response.status(), 200);
    }
    let refused = refused.expect("a 429 within 20 calls");
    assert_eq!(header_u64(&refused, "x-ratelimit-minutely-remaining"), 0);
    assert!(refused.headers().get("retry-after").is_none());
    let reset = header_u64(&refused, "x-ratelimit-minutely-reset");
    odata_error(refused, 429).await;
    assert!(control.exact_counts().rate_limited >= 1);
    // Another division has its own budget; Me is not limited.
    let other = format!("{}/crm/Accounts?$top=1", api(&sandbox, creds::OTHER_DIVISION));
    assert_eq!(get(&client, &token, &other).await.status(), 200);
    let me = format!("{}/api/v1/current/Me", sandbox.exact_url());
    assert_eq!(get(&client, &token, &me).await.status(), 200);
    let wait = reset.saturating_sub(now_ms()) + 20;
    tokio::time::sleep(Duration::from_millis(wait)).await;
    assert!(now_ms() >= reset);
    assert_eq!(get(&client, &token, &accounts).await.status(), 200);

    // `Retry-After` when asked for; the daily budget.
    control.set_exact_settings(ExactSettings {
        minutely_limit: 0,
        retry_after: true,
        ..ExactSettings::default()
    });
    let response = get(&client, &token, &accounts).await;
    assert_eq!(response.status(), 429);
    assert!(header_u64(&response, "retry-after") <= 60);
    control.exact_reset();
    control.set_exact_settings(ExactSettings {
        daily_limit: 2,
        ..ExactSettings::default()
    });
    for _ in 0..2 {
        assert_eq!(get(&client, &token, &accounts).await.status(), 200);
    }
    let response = get(&client, &token, &accounts).await;
    assert_eq!(header_u64(&response, "x-ratelimit-remaining"), 0);
    assert!(odata_error(response, 429).await.contains("daily"));
}

fn hmac_hex(key: &[u8], message: &[u8]) -> String {
    let mut block = [0u8; 64];
    block[..key.len()].copy_from_slice(key);
    let pad = |b: u8| block.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    let outer = Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize();
    outer.iter().map(|b| format!("{b:02X}")).collect()
}

#[tokio::test]
async fn exact_webhooks() {
    let (sandbox, client, token) = connect().await;
    let control = sandbox.control();
    control.exact_deliver_webhooks_sync(true);
    let base = api(&sandbox, creds::DIVISION);
    let subscriptions = format!("{base}/webhooks/WebhookSubscriptions");
    let callback = format!("{}/echo/exact-hook", sandbox.test_api_url());
    let created = post(
        &client,
        &token,
        &subscriptions,
        &json!({"CallbackURL": callback, "Topic": "Accounts"}),
        false,
    )
    .await;
    assert_eq!(created.status(), 201);
    let subscription: Value = created.json().await.unwrap();
    let subscription_id = subscription["d"]["ID"].as_str().unwrap().to_owned();
    let bad = post(
        &client,
        &token,
        &subscriptions,
        &json!({"CallbackURL": callback, "Topic": "Nope"}),
        false,
    )
    .await;
    assert_eq!(odata_error(bad, 400).await, "Invalid: Topic");

    let account = post(
        &client,
        &token,
        &format!("{base}/crm/Accounts"),
        &json!({"Name": "Haak B.V."}),
        false,
    )
    .await;
    let id = account.json::<Value>().await.unwrap()["d"]["ID"]
        .as_str()
        .unwrap()
        .to_owned();
    let uri = format!("{base}/crm/Accounts(guid'{id}')");
    send(client.put(&uri).bearer_auth(&token).json(&json!({"City": "Ede"}))).await;
    send(client.delete(&uri).bearer_auth(&token)).await;
    let deliveries = control.exact_webhook_deliveries();
    let actions: Vec<&str> = deliveries.iter().map(|d| d.action.as_str()).collect();
    assert_eq!(actions, ["Create", "Update", "Delete"]);
    for delivery in &deliveries {
        assert_eq!(delivery.status, Some(200), "{delivery:?}");
        let content = delivery
            .body
            .strip_prefix("{\"Content\":")
            .and_then(|rest| rest.rsplit_once(",\"HashCode\":\""))
            .map(|(content, _)| content)
            .unwrap();
        let envelope: Value = serde_json::from_str(&delivery.body).unwrap();
        assert_eq!(
            envelope["HashCode"],
            hmac_hex(creds::WEBHOOK_SECRET.as_bytes(), content.as_bytes())
        );
        let content: Value = serde_json::from_str(content).unwrap();
        assert_eq!(content["Key"], id);
        assert_eq!(content["Division"], creds::DIVISION);
        assert_eq!(content["ExactOnlineEndpoint"], uri);
    }

    let list = ok(&client, &token, &subscriptions).await;
    assert_eq!(results(&list).len(), 1);
    let response = send(
        client
            .delete(format!("{subscriptions}(guid'{subscription_id}')"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(response.status(), 204);
    assert!(results(&ok(&client, &token, &subscriptions).await).is_empty());
}
