//! Steering a running sandbox: [`Control`] in-process, and the same operations over HTTP
//! under `/_sandbox/` for a sandbox started by another process (`flowrun sandbox`).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

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
