//! Webhooks: `webhooks/WebhookSubscriptions` (POST, GET, DELETE) per division, and on every
//! create, update or delete of a subscribed topic a POST of
//! `{"Content":{…},"HashCode":"…"}` to the callback, where `HashCode` is the upper-case hex
//! HMAC-SHA256 of the exact `Content` text, keyed with the app's webhook secret.
//!
//! Deliveries run in the background as Exact's do (or inside the write, when a test asks
//! for it) and are recorded so that a test can inspect them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use super::limits::wall_ms;
use super::model::{Val, iso};
use super::read::record_uri;
use super::reply::{Reply, Result, bad_request, error, not_found};
use super::routes::Request;
use super::store::{Change, guid};
use super::{CLIENT_ID, USER_ID, WEBHOOK_SECRET, lock};
use crate::state::SandboxState;

const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// The topics a subscription may name (the doc's list).
const TOPICS: &[&str] = &[
    "Accounts",
    "Contacts",
    "Items",
    "SalesOrders",
    "SalesInvoices",
    "GoodsDeliveries",
    "PurchaseOrders",
    "FinancialTransactions",
    "StockPositions",
    "Documents",
    "Quotations",
];

pub struct Subscription {
    id: String,
    division: u64,
    callback: String,
    topic: String,
    description: Option<String>,
    created_ms: i64,
}

/// One notification the simulator POSTed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    pub url: String,
    pub topic: String,
    /// `Create`, `Update` or `Delete`.
    pub action: String,
    pub key: String,
    /// The exact body sent: `{"Content":…,"HashCode":…}`.
    pub body: String,
    /// The receiver's status, or `None` when the request failed (`error` says why).
    pub status: Option<u16>,
    pub error: Option<String>,
}

#[derive(Default)]
struct Shared {
    list: Mutex<Vec<WebhookDelivery>>,
    delivered: Notify,
    client: OnceLock<reqwest::Client>,
}

/// Recorded deliveries and the synchronous-delivery switch.
#[derive(Default)]
pub struct Deliveries {
    shared: Arc<Shared>,
    sync: AtomicBool,
}

impl Deliveries {
    pub fn set_sync(&self, sync: bool) {
        self.sync.store(sync, Ordering::Relaxed);
    }

    pub fn list(&self) -> Vec<WebhookDelivery> {
        lock(&self.shared.list).clone()
    }

    pub fn clear(&self) {
        lock(&self.shared.list).clear();
    }

    /// Waits until at least `count` deliveries finished or `timeout` passed.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<WebhookDelivery> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.delivered.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let list = self.list();
            if list.len() >= count {
                return list;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.list();
            }
        }
    }
}

impl Shared {
    async fn deliver(&self, mut delivery: WebhookDelivery) {
        let client = self.client.get_or_init(|| {
            reqwest::Client::builder()
                .timeout(DELIVERY_TIMEOUT)
                .build()
                .unwrap_or_default()
        });
        let sent = client
            .post(&delivery.url)
            .header("content-type", "application/json")
            .body(delivery.body.clone())
            .send()
            .await;
        match sent {
            Ok(response) => delivery.status = Some(response.status().as_u16()),
            Err(err) => delivery.error = Some(err.to_string()),
        }
        lock(&self.list).push(delivery);
        self.delivered.notify_waiters();
    }
}

/// POSTs a notification for each change to each matching subscription.
pub async fn notify(state: &SandboxState, division: u64, changes: &[Change], api: &str) {
    let deliveries: Vec<WebhookDelivery> = {
        let inner = lock(&state.exact.inner);
        changes
            .iter()
            .flat_map(|change| {
                inner
                    .subscriptions
                    .iter()
                    .filter(move |s| s.division == division && s.topic.eq_ignore_ascii_case(change.entity.name()))
                    .map(move |s| envelope(s, division, change, api))
            })
            .collect()
    };
    let hooks = &state.exact.webhooks;
    for delivery in deliveries {
        if hooks.sync.load(Ordering::Relaxed) {
            hooks.shared.deliver(delivery).await;
        } else {
            let shared = hooks.shared.clone();
            tokio::spawn(async move { shared.deliver(delivery).await });
        }
    }
}

fn envelope(subscription: &Subscription, division: u64, change: &Change, api: &str) -> WebhookDelivery {
    let content = json!({
        "Topic": subscription.topic,
        "ClientId": CLIENT_ID,
        "Division": division,
        "Action": change.action,
        "Key": change.key,
        "ExactOnlineEndpoint": record_uri(api, change.entity, &change.key),
        "EventCreatedOn": format!("{}Z", iso(i64::try_from(wall_ms()).unwrap_or(0))),
    })
    .to_string();
    let hash = hmac_sha256(WEBHOOK_SECRET.as_bytes(), content.as_bytes())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<String>();
    WebhookDelivery {
        url: subscription.callback.clone(),
        topic: subscription.topic.clone(),
        action: change.action.to_owned(),
        key: change.key.clone(),
        // Built as text so that `Content` is byte for byte what was hashed.
        body: format!("{{\"Content\":{content},\"HashCode\":\"{hash}\"}}"),
        status: None,
        error: None,
    }
}

/// HMAC-SHA256 (RFC 2104) over `sha2`, the one digest crate the sandbox already uses.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

fn subscription_json(s: &Subscription, api: &str) -> Value {
    json!({
        "__metadata": {
            "uri": format!("{api}/webhooks/WebhookSubscriptions(guid'{}')", s.id),
            "type": "Exact.Web.Api.Models.Webhooks.WebhookSubscription",
        },
        "ID": s.id,
        "CallbackURL": s.callback,
        "ClientID": CLIENT_ID,
        "Created": super::model::json_value(super::model::Kind::Date, &Val::Date(s.created_ms)),
        "Creator": USER_ID,
        "Description": s.description,
        "Division": s.division,
        "Topic": s.topic,
        "UserID": USER_ID,
    })
}

/// `webhooks/WebhookSubscriptions[(guid'…')]`.
pub fn handle(state: &SandboxState, key: Option<String>, request: &Request<'_>) -> Result<Reply> {
    let api = &request.ctx.api;
    let division = request.division;
    let missing = || not_found("Resource not found for the segment 'WebhookSubscriptions'.");
    match (request.method, key) {
        (&Method::GET, None) => {
            let inner = lock(&state.exact.inner);
            let results: Vec<Value> = inner
                .subscriptions
                .iter()
                .filter(|s| s.division == division)
                .map(|s| subscription_json(s, api))
                .collect();
            Ok(Reply::Json(StatusCode::OK, json!({"d": {"results": results}})))
        }
        (&Method::GET, Some(id)) => {
            let inner = lock(&state.exact.inner);
            let s = inner
                .subscriptions
                .iter()
                .find(|s| s.division == division && s.id == id)
                .ok_or_else(missing)?;
            Ok(Reply::Json(StatusCode::OK, json!({"d": subscription_json(s, api)})))
        }
        (&Method::DELETE, Some(id)) => {
            let mut inner = lock(&state.exact.inner);
            let before = inner.subscriptions.len();
            inner.subscriptions.retain(|s| !(s.division == division && s.id == id));
            if inner.subscriptions.len() == before {
                return Err(missing());
            }
            Ok(Reply::NoContent)
        }
        (&Method::POST, None) => {
            let body = request.json_body()?;
            let text = |name: &str| {
                body.get(name)
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
            };
            let callback = text("CallbackURL").ok_or_else(|| bad_request("Mandatory: CallbackURL"))?;
            // UNSURE (apis/exact-online.md): Exact wants HTTPS on the redirect URI's domain;
            // the simulator takes any http(s) URL, so tests can receive on localhost.
            if !url::Url::parse(callback).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
                return Err(bad_request("Invalid: CallbackURL"));
            }
            let topic = text("Topic").ok_or_else(|| bad_request("Mandatory: Topic"))?;
            let topic = TOPICS
                .iter()
                .find(|t| t.eq_ignore_ascii_case(topic))
                .ok_or_else(|| bad_request("Invalid: Topic"))?;
            let mut inner = lock(&state.exact.inner);
            if inner
                .subscriptions
                .iter()
                .any(|s| s.division == division && s.callback == callback && s.topic == *topic)
            {
                return Err(bad_request("Duplicate: Topic"));
            }
            let subscription = Subscription {
                id: guid(&mut fastrand::Rng::new()),
                division,
                callback: callback.to_owned(),
                topic: (*topic).to_owned(),
                description: text("Description").map(str::to_owned),
                created_ms: state.exact.now_ms(state.clock.now()),
            };
            let body = subscription_json(&subscription, api);
            inner.subscriptions.push(subscription);
            Ok(Reply::Json(StatusCode::CREATED, json!({"d": body})))
        }
        _ => Err(error(
            StatusCode::METHOD_NOT_ALLOWED,
            "The requested method is not allowed on this resource.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::hmac_sha256;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
}
