//! The Conexiom REST API (sales-order automation, `Conexiom.API`) under `/conexiom`, as
//! `apis/conexiom.md` (shared docs) proposes it: the OAuth password grant, nine read-only
//! endpoints over one HubCo's SpokeCos, documents, files, alerts, buyers and addresses,
//! two delta filters by date, and an optional paged mode. See `docs/sandbox.md`
//! ("Conexiom") for the routes and every guess marked UNSURE.
//!
//! Almost every name is a guess (Conexiom publishes no reference); all of them live in
//! `contract.rs`, so that correcting the contract later touches one file.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{OriginalUri, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::state::{SandboxState, lock};

mod contract;
mod dates;
mod records;
mod routes;
mod seed;
mod store;
mod token;

pub use contract::API_ROOT;

/// Where the simulator is nested; the API root (the connector's `api_url`) is
/// `/conexiom/Conexiom.API`.
pub const PREFIX: &str = "/conexiom";

/// The one user (resource owner of the password grant) and the one OAuth client.
pub const USERNAME: &str = "extractor";
pub const PASSWORD: &str = "conexiom-extractor";
pub const CLIENT_ID: &str = "flowrun-extractor";
pub const CLIENT_SECRET: &str = "conexiom-client-secret";
/// The HubCo the user reads.
pub const HUBCO_ID: i64 = 17;
/// A HubCo that exists but is not the user's: its ids answer 403.
pub const OTHER_HUBCO_ID: i64 = 18;

/// The simulator's switches; every field has a default, so JSON may give any subset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConexiomSettings {
    /// Lifetime of access tokens (`expires_in`), in seconds of sandbox time. Default 1800.
    pub token_lifetime_secs: u64,
    /// The token endpoint's path under the API root. Default `/token`.
    pub token_path: String,
    /// Whether token answers carry a `refresh_token`. Default `true`.
    pub issue_refresh_tokens: bool,
    /// Lists answer `{"Items", "TotalCount", "Page", "PageSize"}` rather than a bare array.
    /// Default `false` (a request passing `page` gets the paged answer either way).
    pub paged: bool,
    /// `pageSize` when a paged request gives none. Default 100.
    pub page_size: usize,
    /// SpokeCos of HubCo 17. Default 8; a change regenerates the data.
    pub spokecos: usize,
    /// Documents of HubCo 17, spread over its SpokeCos. Default 400; a change regenerates
    /// the data.
    pub documents: usize,
}

// UNSURE (apis/conexiom.md): the token lifetime (the doc's example says 3600; a shorter one
// exercises re-authentication sooner) and path.
impl Default for ConexiomSettings {
    fn default() -> Self {
        Self {
            token_lifetime_secs: 1800,
            token_path: contract::TOKEN_PATH.to_owned(),
            issue_refresh_tokens: true,
            paged: false,
            page_size: 100,
            spokecos: 8,
            documents: 400,
        }
    }
}

/// What a full extraction of HubCo 17 reads: the number of records of each kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConexiomCounts {
    pub spokecos: usize,
    /// Every document, processed or not.
    pub documents: usize,
    pub processed_documents: usize,
    /// Lines of processed documents (an unprocessed document's data has none).
    pub document_lines: usize,
    /// Files of every document.
    pub files: usize,
    /// Files of processed documents: what a delta extraction (which never sees an unprocessed
    /// document) lands.
    pub processed_files: usize,
    pub alerts: usize,
    pub buyers: usize,
    pub addresses: usize,
}

/// The simulator's part of the sandbox state.
pub struct Conexiom {
    /// Settings and data under one lock: a change of the dataset size and the regeneration
    /// it causes can never interleave with a read.
    inner: Mutex<Inner>,
    /// Wall-clock Unix seconds at sandbox start: "now" for changes is this plus sandbox
    /// time, so advancing the clock moves change stamps too.
    started_unix: i64,
}

struct Inner {
    settings: ConexiomSettings,
    /// Generated on first use (most sandboxes never see a Conexiom request), and again
    /// after the dataset size changes or a reset.
    store: Option<store::Store>,
}

impl Default for Conexiom {
    fn default() -> Self {
        let started = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Self {
            inner: Mutex::new(Inner {
                settings: ConexiomSettings::default(),
                store: None,
            }),
            started_unix: i64::try_from(started).unwrap_or(0),
        }
    }
}

impl Conexiom {
    pub fn settings(&self) -> ConexiomSettings {
        lock(&self.inner).settings.clone()
    }

    /// Replaces the settings; a different dataset size drops the data (changes included),
    /// to be generated anew on next use.
    pub fn set_settings(&self, settings: ConexiomSettings) {
        let mut inner = lock(&self.inner);
        if (settings.spokecos, settings.documents) != (inner.settings.spokecos, inner.settings.documents) {
            inner.store = None;
        }
        inner.settings = settings;
    }

    /// Drops every change: the seed data is generated anew on next use.
    pub fn reset(&self) {
        lock(&self.inner).store = None;
    }

    /// Runs `f` on the data, generating it first when needed.
    fn with_store<R>(&self, f: impl FnOnce(&mut store::Store, &ConexiomSettings) -> R) -> R {
        let mut inner = lock(&self.inner);
        let Inner { settings, store } = &mut *inner;
        let store = store.get_or_insert_with(|| seed::generate(settings.spokecos, settings.documents));
        f(store, settings)
    }

    fn read<R>(&self, f: impl FnOnce(&store::Store, &ConexiomSettings) -> R) -> R {
        self.with_store(|store, settings| f(store, settings))
    }

    /// Unix seconds now: wall clock at start plus sandbox time.
    fn now_unix(&self, clock: Duration) -> i64 {
        self.started_unix + i64::try_from(clock.as_secs()).unwrap_or(0)
    }

    pub fn reprocess_documents(&self, clock: Duration, ids: &[i64]) -> Vec<i64> {
        let now = self.now_unix(clock);
        self.with_store(|store, _| store.reprocess(ids, now))
    }

    pub fn add_document(&self, clock: Duration, spokeco_id: i64) -> Option<i64> {
        let now = self.now_unix(clock);
        self.with_store(|store, _| store.add_document(spokeco_id, now))
    }

    pub fn process_pending(&self, clock: Duration) -> Vec<i64> {
        let now = self.now_unix(clock);
        self.with_store(|store, _| store.process_pending(now))
    }

    pub fn touch_spokeco(&self, clock: Duration, id: i64) -> bool {
        let now = self.now_unix(clock);
        self.with_store(|store, _| store.touch_spokeco(id, now))
    }

    pub fn counts(&self) -> ConexiomCounts {
        self.read(|store, _| store.counts(HUBCO_ID))
    }

    pub fn document_ids(&self) -> Vec<i64> {
        self.read(|store, _| store.document_ids(HUBCO_ID))
    }

    pub fn spokeco_ids(&self) -> Vec<i64> {
        self.read(|store, _| store.spokeco_ids(HUBCO_ID))
    }

    /// The earliest stamp the next change gets, as the API writes dates.
    pub fn next_change_date(&self, clock: Duration) -> String {
        let now = self.now_unix(clock);
        dates::format(self.read(|store, _| store.next_stamp(now)))
    }
}

/// The simulator's routes, relative to [`PREFIX`].
pub fn router(state: Arc<SandboxState>) -> Router {
    use contract::paths;
    let api = Router::new()
        .route(paths::ALERTS, get(routes::alerts))
        .route(paths::ALERT, get(routes::alert))
        .route(paths::SPOKECOS, get(routes::spokecos))
        .route(paths::DOCUMENTS, get(routes::documents))
        .route(paths::DOCUMENT, get(routes::document))
        .route(paths::FILES, get(routes::files))
        .route(paths::BUYERS, get(routes::buyers))
        .route(paths::ADDRESSES, get(routes::addresses))
        .route(paths::SPOKECO, get(routes::spokeco))
        .method_not_allowed_fallback(method_not_allowed)
        // Only on the routes above: the token endpoint (the fallback) needs no token.
        .route_layer(from_fn_with_state(state.clone(), authenticate))
        .fallback(token_or_not_found)
        .with_state(state);
    Router::new()
        .nest(contract::API_ROOT, api)
        .fallback(|OriginalUri(uri): OriginalUri| async move { no_resource(&uri) })
}

/// 401 unless the request carries a valid bearer token of this simulator.
async fn authenticate(State(state): State<Arc<SandboxState>>, request: Request, next: Next) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let valid = token.is_some_and(|token| {
        state
            .tokens
            .check_access(contract::REALM, token, state.clock.now())
            .is_ok()
    });
    if !valid {
        let mut response = error(StatusCode::UNAUTHORIZED, contract::errors::UNAUTHORIZED).into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    next.run(request).await
}

/// The token endpoint, whose path is a setting (so not a fixed route), or a 404.
async fn token_or_not_found(
    State(state): State<Arc<SandboxState>>,
    method: Method,
    uri: Uri,
    OriginalUri(original): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let settings = state.conexiom.settings();
    let token_path = settings.token_path.trim_start_matches('/');
    // OWIN compares the token path case-insensitively.
    if !uri.path().trim_start_matches('/').eq_ignore_ascii_case(token_path) {
        return no_resource(&original);
    }
    if method != Method::POST {
        return method_refused(&method);
    }
    token::token(&state, &headers, &body)
}

async fn method_not_allowed(method: Method) -> Response {
    method_refused(&method)
}

fn method_refused(method: &Method) -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("The requested resource does not support http method '{method}'."),
    )
    .into_response()
}

/// ASP.NET Web API's 404 for a path no route matches.
fn no_resource(uri: &Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!(
            "No HTTP resource was found that matches the request URI '{}'.",
            uri.path()
        ),
    )
    .into_response()
}

/// An error answer in ASP.NET Web API's shape: `{"Message": ...}` (and `ModelState` for an
/// invalid request). A small type rather than a `Response`, so that `Result`s carrying it
/// stay small.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    body: Value,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// `{"Message": message}`.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> ApiError {
    let mut body = Map::new();
    body.insert(contract::errors::MESSAGE.to_owned(), Value::String(message.into()));
    ApiError {
        status,
        body: Value::Object(body),
    }
}

/// 400 for a query parameter whose value does not bind:
/// `{"Message": "The request is invalid.", "ModelState": {name: ["The value '…' is not valid for name."]}}`.
fn invalid_value(name: &str, value: &str) -> ApiError {
    let mut model_state = Map::new();
    model_state.insert(
        name.to_owned(),
        json!([format!("The value '{value}' is not valid for {name}.")]),
    );
    let mut body = Map::new();
    body.insert(
        contract::errors::MESSAGE.to_owned(),
        contract::errors::INVALID_REQUEST.into(),
    );
    body.insert(contract::errors::MODEL_STATE.to_owned(), Value::Object(model_state));
    ApiError {
        status: StatusCode::BAD_REQUEST,
        body: Value::Object(body),
    }
}
