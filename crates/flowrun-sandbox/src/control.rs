//! Steering a running sandbox: [`Control`] in-process, and the same operations over HTTP
//! under `/_sandbox/` for a sandbox started by another process (`flowrun sandbox`).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::conexiom::{ConexiomCounts, ConexiomSettings};
use crate::exact::{ExactCounts, ExactSettings, WebhookDelivery as ExactWebhookDelivery};
use crate::faults::FaultRule;
use crate::onecrm::{OneCrmSettings, WebhookDelivery as OneCrmWebhookDelivery};
use crate::state::SandboxState;

/// A cheap, cloneable handle on a sandbox's shared state.
#[derive(Clone)]
pub struct Control {
    state: Arc<SandboxState>,
}

impl Control {
    pub(crate) fn new(state: Arc<SandboxState>) -> Self {
        Self { state }
    }

    /// Moves the sandbox clock forward: tokens and codes expire without waiting.
    pub fn advance_clock(&self, by: Duration) {
        self.state.clock.advance(by);
    }

    /// Sandbox time since the sandbox started (real time plus every advance).
    pub fn now(&self) -> Duration {
        self.state.clock.now()
    }

    /// Adds a fault rule after the existing ones (the first matching rule applies).
    pub fn add_fault(&self, rule: FaultRule) {
        self.state.faults.add(rule);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.state.faults.clear();
    }

    /// The fault rules still active (rules with `times` disappear once used up).
    pub fn faults(&self) -> Vec<FaultRule> {
        self.state.faults.rules()
    }

    /// Requests seen with this method and exact path (without query), counted before
    /// faults apply, so a request that was dropped or delayed counts too.
    pub fn request_count(&self, method: &str, path: &str) -> u64 {
        self.state.stats.count(method, path)
    }

    /// Successful token endpoint responses for this `grant_type` (`password`,
    /// `client_credentials`, `refresh_token`, `authorization_code`), over all simulators.
    pub fn token_grants(&self, grant: &str) -> u64 {
        self.state.tokens.grant_count(grant)
    }

    /// Invalidates every access token issued so far (the next use gets a 401); refresh
    /// tokens stay valid, so a client can recover by refreshing.
    pub fn revoke_access_tokens(&self) {
        self.state.tokens.revoke_access_tokens();
    }

    /// The 1CRM simulator's admin settings (API enabled, edition, Basic auth, synchronous
    /// webhooks).
    pub fn onecrm_settings(&self) -> OneCrmSettings {
        self.state.onecrm.settings()
    }

    /// Replaces the 1CRM simulator's admin settings; they apply to the next request.
    pub fn set_onecrm_settings(&self, settings: OneCrmSettings) {
        self.state.onecrm.set_settings(settings);
    }

    /// Every webhook POST the 1CRM simulator made so far, in the order they finished.
    pub fn onecrm_webhook_deliveries(&self) -> Vec<OneCrmWebhookDelivery> {
        self.state.onecrm.webhooks.deliveries()
    }

    /// Waits until at least `count` 1CRM webhook deliveries finished, or `timeout` passed;
    /// returns every delivery so far either way.
    pub async fn wait_for_onecrm_webhook_deliveries(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Vec<OneCrmWebhookDelivery> {
        self.state.onecrm.webhooks.wait_for(count, timeout).await
    }

    /// The Conexiom simulator's settings (token lifetime and path, refresh tokens, paged
    /// lists, dataset size).
    pub fn conexiom_settings(&self) -> ConexiomSettings {
        self.state.conexiom.settings()
    }

    /// Replaces the Conexiom simulator's settings; they apply to the next request. A new
    /// `spokecos` or `documents` regenerates the data (changes made so far are lost).
    pub fn set_conexiom_settings(&self, settings: ConexiomSettings) {
        self.state.conexiom.set_settings(settings);
    }

    /// Re-processes these Conexiom documents (unknown ids are skipped): `ProcessedOn`
    /// becomes now and the first line's `Quantity` grows by one (`TotalAmount` follows);
    /// an unprocessed document is processed. Returns the ids changed, ascending.
    pub fn conexiom_reprocess_documents(&self, ids: &[i64]) -> Vec<i64> {
        self.state.conexiom.reprocess_documents(self.state.clock.now(), ids)
    }

    /// Adds a processed Conexiom document (with lines and files) to this SpokeCo, stamped
    /// now; returns its id.
    ///
    /// # Panics
    ///
    /// When the SpokeCo does not exist: a mistake in the test, not a case to handle
    /// (`POST /_sandbox/conexiom/spokecos/{id}/documents` answers 404 instead).
    pub fn conexiom_add_document(&self, spokeco_id: i64) -> i64 {
        self.state
            .conexiom
            .add_document(self.state.clock.now(), spokeco_id)
            .unwrap_or_else(|| panic!("no Conexiom SpokeCo {spokeco_id}"))
    }

    /// Processes every unprocessed Conexiom document now (late processing); returns their
    /// ids, ascending.
    pub fn conexiom_process_pending(&self) -> Vec<i64> {
        self.state.conexiom.process_pending(self.state.clock.now())
    }

    /// Changes a Conexiom SpokeCo: `LastModifiedOn` becomes now and its `Name` gets a
    /// ` (rev N)` suffix. `false` when the SpokeCo does not exist.
    pub fn conexiom_touch_spokeco(&self, spokeco_id: i64) -> bool {
        self.state.conexiom.touch_spokeco(self.state.clock.now(), spokeco_id)
    }

    /// How many records of each kind HubCo 17 has now: what a full extraction should land.
    pub fn conexiom_counts(&self) -> ConexiomCounts {
        self.state.conexiom.counts()
    }

    /// The document ids of HubCo 17, ascending.
    pub fn conexiom_document_ids(&self) -> Vec<i64> {
        self.state.conexiom.document_ids()
    }

    /// The SpokeCo ids of HubCo 17, ascending.
    pub fn conexiom_spokeco_ids(&self) -> Vec<i64> {
        self.state.conexiom.spokeco_ids()
    }

    /// The earliest date (`2025-06-01T09:30:00`) the next Conexiom change will be stamped
    /// with: a delta read from it returns exactly what changes after this call.
    pub fn conexiom_next_change_date(&self) -> String {
        self.state.conexiom.next_change_date(self.state.clock.now())
    }

    /// Drops every Conexiom change: the seed data is served again (settings stay).
    pub fn conexiom_reset(&self) {
        self.state.conexiom.reset();
    }

    /// The Exact Online simulator's settings (token lifetimes, rate limits, page sizes,
    /// seed sizes).
    pub fn exact_settings(&self) -> ExactSettings {
        self.state.exact.settings()
    }

    /// Replaces the Exact Online settings; they apply to the next request. New seed sizes
    /// regenerate the data (changes made so far are lost).
    pub fn set_exact_settings(&self, settings: ExactSettings) {
        self.state.exact.set_settings(settings);
    }

    /// Fresh Exact Online seed data, rate-limit budgets, counters, webhook subscriptions and
    /// deliveries; settings and tokens stay.
    pub fn exact_reset(&self) {
        self.state.exact.reset();
    }

    /// Rows per entity in the current division, and the simulator's counters.
    pub fn exact_counts(&self) -> ExactCounts {
        self.state.exact.counts()
    }

    /// Adds `n` accounts to the current division (stamped now); returns their IDs.
    pub fn exact_generate_accounts(&self, n: usize) -> Vec<String> {
        self.state.exact.generate_accounts(self.state.clock.now(), n)
    }

    /// Changes these accounts now (one new `Modified` for all, each a new `Timestamp`), so
    /// that a delta read by `Modified` or `Timestamp` returns exactly them. Unknown ids are
    /// skipped.
    pub fn exact_touch_accounts(&self, ids: &[String]) {
        self.state.exact.touch_accounts(self.state.clock.now(), ids);
    }

    /// The account IDs of the current division, in key order.
    pub fn exact_account_ids(&self) -> Vec<String> {
        self.state.exact.account_ids()
    }

    /// One row of the current division as the API shows it: `exact_find("crm/Accounts", id)`
    /// (`"sync/crm/Accounts"` for the sync view with `Timestamp`, `"sync/Deleted"` for a
    /// deletion by its own ID).
    pub fn exact_find(&self, entity: &str, id: &str) -> Option<Value> {
        self.state.exact.find(&self.state.base_url(), entity, id)
    }

    /// Whether Exact webhook notifications are delivered inside the write that causes them
    /// (so they are done when the write answers) rather than in the background.
    pub fn exact_deliver_webhooks_sync(&self, sync: bool) {
        self.state.exact.webhooks.set_sync(sync);
    }

    /// Every Exact webhook notification sent so far, in the order they finished.
    pub fn exact_webhook_deliveries(&self) -> Vec<ExactWebhookDelivery> {
        self.state.exact.webhooks.list()
    }

    /// Waits until at least `count` Exact webhook deliveries finished, or `timeout` passed.
    pub async fn wait_for_exact_webhook_deliveries(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Vec<ExactWebhookDelivery> {
        self.state.exact.webhooks.wait_for(count, timeout).await
    }

    /// Every counter as the JSON of `GET /_sandbox/stats`.
    pub fn stats(&self) -> Value {
        let requests: Map<String, Value> = self
            .state
            .stats
            .snapshot()
            .into_iter()
            .map(|(k, v)| (k, Value::from(v)))
            .collect();
        let grants: Map<String, Value> = self
            .state
            .tokens
            .grant_counts()
            .into_iter()
            .map(|(k, v)| (k, Value::from(v)))
            .collect();
        json!({
            "requests": requests,
            "token_grants": grants,
            "clock_secs": self.now().as_secs_f64(),
        })
    }
}

/// The control API, nested under `/_sandbox`; faults never apply to it.
pub fn router(state: Arc<SandboxState>) -> Router {
    Router::new()
        .route("/faults", post(add_fault).delete(clear_faults).get(list_faults))
        .route("/clock", post(advance_clock))
        .route("/stats", get(stats))
        .route("/revoke-access-tokens", post(revoke))
        .route("/onecrm/settings", get(onecrm_settings).post(set_onecrm_settings))
        .route("/onecrm/webhook-deliveries", get(onecrm_deliveries))
        .route("/conexiom/settings", get(conexiom_settings).post(set_conexiom_settings))
        .route("/conexiom/reset", post(conexiom_reset))
        .route("/conexiom/counts", get(conexiom_counts))
        .route("/conexiom/ids", get(conexiom_ids))
        .route("/conexiom/next-change-date", get(conexiom_next_change_date))
        .route("/conexiom/documents/reprocess", post(conexiom_reprocess))
        .route("/conexiom/documents/process-pending", post(conexiom_process_pending))
        .route("/conexiom/spokecos/{id}/documents", post(conexiom_add_document))
        .route("/conexiom/spokecos/{id}/touch", post(conexiom_touch))
        .route("/exact/settings", get(exact_settings).post(set_exact_settings))
        .route("/exact/reset", post(exact_reset))
        .route("/exact/counts", get(exact_counts))
        .route("/exact/accounts", get(exact_account_ids))
        .route("/exact/accounts/generate", post(exact_generate))
        .route("/exact/accounts/touch", post(exact_touch))
        .route("/exact/find", get(exact_find))
        .route("/exact/webhooks-sync", post(exact_webhooks_sync))
        .route("/exact/webhook-deliveries", get(exact_deliveries))
        .with_state(Control::new(state))
}

async fn add_fault(State(control): State<Control>, Json(rule): Json<FaultRule>) -> StatusCode {
    control.add_fault(rule);
    StatusCode::NO_CONTENT
}

async fn clear_faults(State(control): State<Control>) -> StatusCode {
    control.clear_faults();
    StatusCode::NO_CONTENT
}

async fn list_faults(State(control): State<Control>) -> Json<Vec<FaultRule>> {
    Json(control.faults())
}

#[derive(Deserialize)]
struct Advance {
    advance_secs: f64,
}

async fn advance_clock(State(control): State<Control>, Json(advance): Json<Advance>) -> Response {
    match Duration::try_from_secs_f64(advance.advance_secs) {
        Ok(by) => {
            control.advance_clock(by);
            Json(json!({"clock_secs": control.now().as_secs_f64()})).into_response()
        }
        Err(_) => crate::error_json(
            StatusCode::BAD_REQUEST,
            "advance_secs must be a non-negative number of seconds",
        ),
    }
}

async fn stats(State(control): State<Control>) -> Json<Value> {
    Json(control.stats())
}

async fn revoke(State(control): State<Control>) -> StatusCode {
    control.revoke_access_tokens();
    StatusCode::NO_CONTENT
}

async fn onecrm_settings(State(control): State<Control>) -> Json<OneCrmSettings> {
    Json(control.onecrm_settings())
}

/// Merges the given keys into the current settings: `{"api_enabled": false}` changes only
/// that switch.
async fn set_onecrm_settings(State(control): State<Control>, Json(changes): Json<Map<String, Value>>) -> Response {
    let mut settings = match serde_json::to_value(control.onecrm_settings()) {
        Ok(Value::Object(settings)) => settings,
        _ => Map::new(),
    };
    settings.extend(changes);
    match serde_json::from_value::<OneCrmSettings>(Value::Object(settings)) {
        Ok(settings) => {
            control.set_onecrm_settings(settings.clone());
            Json(settings).into_response()
        }
        Err(err) => crate::error_json(StatusCode::BAD_REQUEST, &format!("invalid 1CRM settings: {err}")),
    }
}

async fn onecrm_deliveries(State(control): State<Control>) -> Json<Vec<OneCrmWebhookDelivery>> {
    Json(control.onecrm_webhook_deliveries())
}

async fn conexiom_settings(State(control): State<Control>) -> Json<ConexiomSettings> {
    Json(control.conexiom_settings())
}

/// Merges the given keys into the current settings: `{"paged": true}` changes only that
/// switch.
async fn set_conexiom_settings(State(control): State<Control>, Json(changes): Json<Map<String, Value>>) -> Response {
    let mut settings = match serde_json::to_value(control.conexiom_settings()) {
        Ok(Value::Object(settings)) => settings,
        _ => Map::new(),
    };
    settings.extend(changes);
    let settings = match serde_json::from_value::<ConexiomSettings>(Value::Object(settings)) {
        Ok(settings) => settings,
        Err(err) => {
            return crate::error_json(StatusCode::BAD_REQUEST, &format!("invalid Conexiom settings: {err}"));
        }
    };
    if !settings.token_path.starts_with('/') || settings.token_path.len() < 2 {
        return crate::error_json(
            StatusCode::BAD_REQUEST,
            "token_path must be a path under the API root, such as \"/token\"",
        );
    }
    if !(1..=1000).contains(&settings.page_size) {
        return crate::error_json(StatusCode::BAD_REQUEST, "page_size must be between 1 and 1000");
    }
    control.set_conexiom_settings(settings.clone());
    Json(settings).into_response()
}

async fn conexiom_reset(State(control): State<Control>) -> StatusCode {
    control.conexiom_reset();
    StatusCode::NO_CONTENT
}

async fn conexiom_counts(State(control): State<Control>) -> Json<ConexiomCounts> {
    Json(control.conexiom_counts())
}

async fn conexiom_ids(State(control): State<Control>) -> Json<Value> {
    Json(json!({
        "spokecos": control.conexiom_spokeco_ids(),
        "documents": control.conexiom_document_ids(),
    }))
}

async fn conexiom_next_change_date(State(control): State<Control>) -> Json<Value> {
    Json(json!({"date": control.conexiom_next_change_date()}))
}

#[derive(Deserialize)]
struct DocumentIds {
    ids: Vec<i64>,
}

async fn conexiom_reprocess(State(control): State<Control>, Json(body): Json<DocumentIds>) -> Json<Value> {
    Json(json!({"ids": control.conexiom_reprocess_documents(&body.ids)}))
}

async fn conexiom_process_pending(State(control): State<Control>) -> Json<Value> {
    Json(json!({"ids": control.conexiom_process_pending()}))
}

async fn conexiom_add_document(State(control): State<Control>, Path(id): Path<String>) -> Response {
    let added = id
        .parse()
        .ok()
        .and_then(|id| control.state.conexiom.add_document(control.state.clock.now(), id));
    match added {
        Some(document) => Json(json!({"id": document})).into_response(),
        None => crate::error_json(StatusCode::NOT_FOUND, &format!("no Conexiom SpokeCo {id}")),
    }
}

async fn conexiom_touch(State(control): State<Control>, Path(id): Path<String>) -> Response {
    match id.parse() {
        Ok(spokeco) if control.conexiom_touch_spokeco(spokeco) => StatusCode::NO_CONTENT.into_response(),
        _ => crate::error_json(StatusCode::NOT_FOUND, &format!("no Conexiom SpokeCo {id}")),
    }
}

async fn exact_settings(State(control): State<Control>) -> Json<ExactSettings> {
    Json(control.exact_settings())
}

/// Merges the given keys into the current settings: `{"minutely_limit": 5}` changes only
/// that limit.
async fn set_exact_settings(State(control): State<Control>, Json(changes): Json<Map<String, Value>>) -> Response {
    let mut settings = match serde_json::to_value(control.exact_settings()) {
        Ok(Value::Object(settings)) => settings,
        _ => Map::new(),
    };
    settings.extend(changes);
    let settings = match serde_json::from_value::<ExactSettings>(Value::Object(settings)) {
        Ok(settings) => settings,
        Err(err) => {
            return crate::error_json(StatusCode::BAD_REQUEST, &format!("invalid Exact settings: {err}"));
        }
    };
    if settings.page_size == 0 || settings.bulk_page_size == 0 || settings.minute_window_ms == 0 {
        return crate::error_json(
            StatusCode::BAD_REQUEST,
            "page_size, bulk_page_size and minute_window_ms must be at least 1",
        );
    }
    control.set_exact_settings(settings.clone());
    Json(settings).into_response()
}

async fn exact_reset(State(control): State<Control>) -> StatusCode {
    control.exact_reset();
    StatusCode::NO_CONTENT
}

async fn exact_counts(State(control): State<Control>) -> Json<ExactCounts> {
    Json(control.exact_counts())
}

async fn exact_account_ids(State(control): State<Control>) -> Json<Value> {
    Json(json!({"ids": control.exact_account_ids()}))
}

#[derive(Deserialize)]
struct Generate {
    n: usize,
}

async fn exact_generate(State(control): State<Control>, Json(body): Json<Generate>) -> Json<Value> {
    Json(json!({"ids": control.exact_generate_accounts(body.n)}))
}

#[derive(Deserialize)]
struct Ids {
    ids: Vec<String>,
}

async fn exact_touch(State(control): State<Control>, Json(body): Json<Ids>) -> StatusCode {
    control.exact_touch_accounts(&body.ids);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Find {
    entity: String,
    id: String,
}

async fn exact_find(
    State(control): State<Control>,
    axum::extract::Query(find): axum::extract::Query<Find>,
) -> Response {
    match control.exact_find(&find.entity, &find.id) {
        Some(row) => Json(row).into_response(),
        None => crate::error_json(StatusCode::NOT_FOUND, &format!("no {} {}", find.entity, find.id)),
    }
}

#[derive(Deserialize)]
struct Sync {
    sync: bool,
}

async fn exact_webhooks_sync(State(control): State<Control>, Json(body): Json<Sync>) -> StatusCode {
    control.exact_deliver_webhooks_sync(body.sync);
    StatusCode::NO_CONTENT
}

async fn exact_deliveries(State(control): State<Control>) -> Json<Vec<ExactWebhookDelivery>> {
    Json(control.exact_webhook_deliveries())
}
