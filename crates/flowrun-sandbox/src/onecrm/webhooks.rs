//! Webhooks: `POST /webhooks` subscribes a URL to creates and/or updates of a model, with a
//! filter; every matching write POSTs the record (the shape of `GET /data/{Model}/{id}`'s
//! `record`) to the URL, in the background as 1CRM does. Deliveries are recorded, so that a
//! test can wait for them ([`crate::Control::wait_for_onecrm_webhook_deliveries`]).

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::sync::Notify;

use super::models::{MODELS, Model};
use super::routes::{model_for, not_found};
use super::store::new_id;
use super::{ApiError, User, error, json_body};
use crate::state::{SandboxState, lock};

/// How long one delivery may take before it is recorded as failed.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// The write that fires a webhook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Create,
    Update,
}

impl Event {
    fn name(self) -> &'static str {
        match self {
            Event::Create => "create",
            Event::Update => "update",
        }
    }
}

/// A subscription, as `GET /webhooks` lists it.
#[derive(Clone, Debug, Serialize)]
struct Subscription {
    id: String,
    model: String,
    #[serde(rename = "type")]
    kind: String,
    url: String,
    filters: Value,
}

/// One POST the simulator made to a subscribed URL.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WebhookDelivery {
    pub webhook_id: String,
    pub url: String,
    pub model: String,
    /// `create` or `update`.
    pub event: String,
    pub record_id: String,
    /// The JSON body sent: the record's fields.
    pub payload: Value,
    /// The receiver's status, or `None` when the request failed (`error` says why).
    pub status: Option<u16>,
    pub error: Option<String>,
}

#[derive(Default)]
pub struct Webhooks {
    subscriptions: Mutex<Vec<Subscription>>,
    deliveries: Mutex<Vec<WebhookDelivery>>,
    delivered: Notify,
    client: OnceLock<reqwest::Client>,
}

impl Webhooks {
    /// Every delivery so far, in the order they finished.
    pub fn deliveries(&self) -> Vec<WebhookDelivery> {
        lock(&self.deliveries).clone()
    }

    /// Waits until at least `count` deliveries finished or `timeout` passed; returns them
    /// all either way.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<WebhookDelivery> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.delivered.notified();
            tokio::pin!(notified);
            // Registered before the check: a delivery between check and wait still wakes us.
            notified.as_mut().enable();
            let deliveries = self.deliveries();
            if deliveries.len() >= count {
                return deliveries;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.deliveries();
            }
        }
    }

    fn client(&self) -> reqwest::Client {
        self.client
            .get_or_init(|| {
                reqwest::Client::builder()
                    .timeout(DELIVERY_TIMEOUT)
                    .build()
                    .unwrap_or_default()
            })
            .clone()
    }

    fn record(&self, delivery: WebhookDelivery) {
        lock(&self.deliveries).push(delivery);
        self.delivered.notify_waiters();
    }
}

/// `POST /webhooks` `{model, type, url, filters}` → `{"id"}`.
// UNSURE (apis/onecrm.md): the reply shape `{"id": ...}`.
pub async fn subscribe(
    State(state): State<Arc<SandboxState>>,
    Extension(user): Extension<&'static User>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body(&body)?;
    let Some(model) = body.get("model").and_then(Value::as_str) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "Missing `model` (a model name such as Account)",
        ));
    };
    let (_, def) = model_for(user, model)?;
    let kind = body.get("type").and_then(Value::as_str).unwrap_or("");
    if !matches!(kind, "create" | "update" | "create_update") {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "`type` must be create, update or create_update",
        ));
    }
    let url = body.get("url").and_then(Value::as_str).unwrap_or("");
    if !url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
        return Err(error(StatusCode::BAD_REQUEST, "`url` must be an absolute http(s) URL"));
    }
    let filters = body.get("filters").cloned().unwrap_or(Value::Null);
    if !filters.is_null()
        && let Err(why) = check_filters(def, &filters)
    {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!("Invalid webhook filters: {why}"),
        ));
    }
    let id = new_id(&mut fastrand::Rng::new());
    lock(&state.onecrm.webhooks.subscriptions).push(Subscription {
        id: id.clone(),
        model: def.name.to_owned(),
        kind: kind.to_owned(),
        url: url.to_owned(),
        filters,
    });
    Ok(Json(json!({"id": id})).into_response())
}

/// `GET /webhooks`: every subscription, in the list envelope.
// UNSURE (apis/onecrm.md): whether listing exists and its shape; `{records, total_results}`.
pub async fn list(State(state): State<Arc<SandboxState>>) -> Json<Value> {
    let subscriptions = lock(&state.onecrm.webhooks.subscriptions).clone();
    Json(json!({"total_results": subscriptions.len(), "records": subscriptions}))
}

/// `DELETE /webhooks/{id}` → `{"result": true}`; 404 for an unknown id.
// UNSURE (apis/onecrm.md): the unsubscribe path and reply.
pub async fn unsubscribe(State(state): State<Arc<SandboxState>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let mut subscriptions = lock(&state.onecrm.webhooks.subscriptions);
    let before = subscriptions.len();
    subscriptions.retain(|s| s.id != id);
    if subscriptions.len() == before {
        return Err(not_found());
    }
    Ok(Json(json!({"result": true})).into_response())
}

/// Posts the record to every subscription it matches: in the background, or before
/// returning when the `synchronous_webhooks` setting is on.
pub async fn fire(
    state: &Arc<SandboxState>,
    model: usize,
    event: Event,
    record: Map<String, Value>,
    previous: Option<Map<String, Value>>,
) {
    let model_name = MODELS[model].name;
    let matching: Vec<Subscription> = lock(&state.onecrm.webhooks.subscriptions)
        .iter()
        .filter(|s| s.model == model_name)
        .filter(|s| s.kind == "create_update" || s.kind == event.name())
        .filter(|s| matches(&s.filters, &record, previous.as_ref()))
        .cloned()
        .collect();
    if matching.is_empty() {
        return;
    }
    let payload = Value::Object(record);
    let record_id = payload.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
    let mut tasks = Vec::new();
    for subscription in matching {
        let state = state.clone();
        let payload = payload.clone();
        let record_id = record_id.clone();
        tasks.push(tokio::spawn(async move {
            let webhooks = &state.onecrm.webhooks;
            let sent = webhooks.client().post(&subscription.url).json(&payload).send().await;
            let (status, error) = match sent {
                Ok(response) => (Some(response.status().as_u16()), None),
                Err(err) => (None, Some(err.to_string())),
            };
            webhooks.record(WebhookDelivery {
                webhook_id: subscription.id,
                url: subscription.url,
                model: subscription.model,
                event: event.name().to_owned(),
                record_id,
                payload,
                status,
                error,
            });
        }));
    }
    if state.onecrm.settings().synchronous_webhooks {
        for task in tasks {
            let _ = task.await;
        }
    }
}

/// Operators of a condition.
// UNSURE (apis/onecrm.md): the full operator list is in the 1CRM Developer Guide; these
// are the common ones, `changed` compares the previous and the current value.
const OPERATORS: &[&str] = &[
    "eq",
    "not_eq",
    "is_true",
    "is_false",
    "empty",
    "not_empty",
    "contains",
    "starts_with",
    "gt",
    "lt",
    "changed",
];

/// `{"glue": "and"|"or", "conditions": [{"field", "filter", "value", "when"}]}`.
fn check_filters(def: &Model, filters: &Value) -> Result<(), String> {
    let Some(filters) = filters.as_object() else {
        return Err("`filters` must be an object with `glue` and `conditions`".into());
    };
    match filters.get("glue").map(Value::as_str) {
        None | Some(Some("and" | "or")) => {}
        _ => return Err("`glue` must be \"and\" or \"or\"".into()),
    }
    let Some(conditions) = filters.get("conditions").and_then(Value::as_array) else {
        return Err("`conditions` must be a list".into());
    };
    for condition in conditions {
        let field = condition.get("field").and_then(Value::as_str).unwrap_or("");
        if def.field(field).is_none() {
            return Err(format!("unknown field `{field}` of {}", def.name));
        }
        let operator = condition.get("filter").and_then(Value::as_str).unwrap_or("");
        if !OPERATORS.contains(&operator) {
            return Err(format!("unknown filter `{operator}`; known: {}", OPERATORS.join(", ")));
        }
        // UNSURE (apis/onecrm.md): `when` values besides current_value.
        match condition.get("when").map(Value::as_str) {
            None | Some(Some("current_value" | "previous_value")) => {}
            _ => return Err("`when` must be current_value or previous_value".into()),
        }
    }
    Ok(())
}

/// Whether a write matches a subscription's filters. No filters, or no conditions, never
/// match: as apis/onecrm.md reports, a webhook without a correct filter never fires.
fn matches(filters: &Value, current: &Map<String, Value>, previous: Option<&Map<String, Value>>) -> bool {
    let Some(conditions) = filters.get("conditions").and_then(Value::as_array) else {
        return false;
    };
    if conditions.is_empty() {
        return false;
    }
    let mut results = conditions.iter().map(|c| condition(c, current, previous));
    if filters.get("glue").and_then(Value::as_str) == Some("or") {
        results.any(|r| r)
    } else {
        results.all(|r| r)
    }
}

fn condition(c: &Value, current: &Map<String, Value>, previous: Option<&Map<String, Value>>) -> bool {
    let field = c.get("field").and_then(Value::as_str).unwrap_or("");
    let source = match c.get("when").and_then(Value::as_str) {
        Some("previous_value") => previous,
        _ => Some(current),
    };
    let actual = source.and_then(|m| m.get(field)).and_then(Value::as_str);
    let expected = match c.get("value") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => if *b { "1" } else { "0" }.to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let text = actual.unwrap_or("");
    let numbers = || text.trim().parse::<f64>().ok().zip(expected.trim().parse::<f64>().ok());
    match c.get("filter").and_then(Value::as_str).unwrap_or("") {
        "eq" => text == expected,
        "not_eq" => text != expected,
        "is_true" => text == "1",
        "is_false" => matches!(text, "" | "0"),
        "empty" => text.is_empty(),
        "not_empty" => !text.is_empty(),
        "contains" => text.to_lowercase().contains(&expected.to_lowercase()),
        "starts_with" => text.to_lowercase().starts_with(&expected.to_lowercase()),
        "gt" => numbers().map_or(text > expected.as_str(), |(a, b)| a > b),
        "lt" => numbers().map_or(text < expected.as_str(), |(a, b)| a < b),
        "changed" => previous.and_then(|p| p.get(field)) != current.get(field),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_match_like_1crm() {
        let record = json!({"id": "x", "deleted": "0", "name": "Acme", "balance": "12.00"});
        let record = record.as_object().unwrap_or_else(|| unreachable!());
        let not_deleted = json!({"glue": "or", "conditions": [
            {"field": "deleted", "filter": "is_false", "value": "0", "when": "current_value"}]});
        assert!(matches(&not_deleted, record, None));
        assert!(!matches(&Value::Null, record, None));
        assert!(!matches(&json!({"glue": "and", "conditions": []}), record, None));
        let both = json!({"glue": "and", "conditions": [
            {"field": "name", "filter": "eq", "value": "Acme"},
            {"field": "balance", "filter": "gt", "value": 5}]});
        assert!(matches(&both, record, None));
        let (_, account) = super::super::models::find("Account").unwrap_or_else(|| unreachable!());
        assert!(check_filters(account, &not_deleted).is_ok());
        assert!(check_filters(account, &json!({"conditions": [{"field": "nope", "filter": "eq"}]})).is_err());
    }
}
