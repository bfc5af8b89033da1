//! The `exact_online` modules against the sandbox's Exact Online simulator over real sockets:
//! a sandbox per test, the consent driven by the test (the approve link followed with an HTTP
//! client, no browser), modules found through a `Registry` and called with a `CallContext` as
//! the engine does.

#![allow(clippy::unwrap_used)]

mod auth;
mod limits;
mod reads;
mod trigger;
mod writes;

use std::sync::Arc;
use std::time::Duration;

use flowrun_connect::auth::consent::Consent;
use flowrun_connect::module::{CallContext, ModuleError};
use flowrun_connect::registry::Registry;
use flowrun_connect::retry::RetryPolicy;
use flowrun_connect::runtime::HttpRuntime;
use flowrun_sandbox::exact_credentials as creds;
use flowrun_sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value as Json, json};

/// The loopback address the simulator sends the browser back to. Nothing listens there: the
/// test reads the code from the redirect's `Location`.
const REDIRECT_URI: &str = "http://127.0.0.1:8765/callback";

/// A sandbox of the test's own.
async fn sandbox() -> Sandbox {
    Sandbox::start(0, SandboxConfig::default()).await.unwrap()
}

/// The connection config of the simulator's app.
fn connection(sandbox: &Sandbox) -> Json {
    json!({
        "base_uri": sandbox.exact_url(),
        "client_id": creds::CLIENT_ID,
        "client_secret": creds::CLIENT_SECRET,
        "redirect_uri": REDIRECT_URI,
    })
}

/// A call context of connection `exact` with quick retries, on `runtime`: calls on one runtime
/// share its clients, tokens and rate-limit budget, as the calls of one process do.
fn context_on(runtime: Arc<HttpRuntime>, config: Json) -> CallContext {
    let mut context = CallContext::new("run-1", "call");
    context.http = runtime;
    context.retry = Arc::new(RetryPolicy {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(100),
        ..RetryPolicy::default()
    });
    context.with_connection("exact", config)
}

/// A runtime whose connection `exact` has consented, and its context.
async fn logged_in(sandbox: &Sandbox) -> CallContext {
    let runtime = Arc::new(HttpRuntime::default());
    login(&runtime, connection(sandbox)).await;
    context_on(runtime, connection(sandbox))
}

/// `flowrun auth login exact`, with the browser played by an HTTP client: the consent page,
/// its Approve link, the redirect's code exchanged and stored.
async fn login(runtime: &HttpRuntime, config: Json) {
    let query = consent(runtime, &config, true).await;
    let (consent, manager) = query.1;
    consent.finish(&manager, &query.0).await.unwrap();
}

type Pending = (Consent, Arc<flowrun_connect::auth::TokenManager>);

/// Opens the consent URL, follows Approve (or Deny) and returns the redirect's query with the
/// consent to finish.
async fn consent(runtime: &HttpRuntime, config: &Json, approve: bool) -> (Vec<(String, String)>, Pending) {
    let settings = flowrun_connector_exact_online::connector()
        .client_settings(config)
        .unwrap()
        .unwrap();
    let client = runtime.client(Some("exact".into()), &settings).unwrap();
    let manager = client.token_manager().unwrap().clone();
    let consent = Consent::begin(&manager, REDIRECT_URI).unwrap();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = browser.get(consent.url.clone()).send().await.unwrap();
    assert_eq!(page.status(), 200, "the consent page");
    let page = page.text().await.unwrap();
    let link = link_in(&page, if approve { "Approve" } else { "Deny" });
    let link = consent.url.join(&link).unwrap();
    let redirect = browser.get(link).send().await.unwrap();
    assert!(redirect.status().is_redirection(), "{}", redirect.status());
    let location = redirect.headers()["location"].to_str().unwrap();
    let location = url::Url::parse(location).unwrap();
    assert!(location.as_str().starts_with(REDIRECT_URI), "{location}");
    let query = location
        .query_pairs()
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect();
    (query, (consent, manager))
}

/// The `href` of the link whose text is `text` in a consent page.
fn link_in(page: &str, text: &str) -> String {
    let at = page
        .find(&format!(">{text}<"))
        .unwrap_or_else(|| panic!("no `{text}` link in the consent page: {page}"));
    let start = page[..at].rfind("href=\"").unwrap() + "href=\"".len();
    let end = start + page[start..].find('"').unwrap();
    page[start..end].replace("&amp;", "&")
}

/// Calls `uses` (`exact_online.<module>`) the way the engine finds it: through the registry.
async fn call(context: &CallContext, uses: &str, params: Json) -> Result<Json, ModuleError> {
    let mut registry = Registry::default();
    registry.register(flowrun_connector_exact_online::connector());
    let module = registry.module(uses).unwrap_or_else(|| panic!("no module {uses}"));
    module.call(context, params).await
}

/// [`call`] that must succeed.
async fn ok(context: &CallContext, uses: &str, params: Json) -> Json {
    match call(context, uses, params.clone()).await {
        Ok(output) => output,
        Err(error) => panic!("{uses} {params}: {}", error.message),
    }
}

/// [`ok`] of `subscribe`: its rows.
async fn rows(context: &CallContext, params: Json) -> Vec<Json> {
    match ok(context, "exact_online.subscribe", params).await {
        Json::Array(rows) => rows,
        other => panic!("not a list: {other}"),
    }
}

/// Output `output` fits the catalog's output schema of `module`.
fn assert_output(module: &str, output: &Json) {
    flowrun_connect::testing::assert_output(&flowrun_connector_exact_online::spec(), module, output.clone());
}
