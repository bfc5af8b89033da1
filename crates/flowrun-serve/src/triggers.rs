//! Connector triggers (`onecrm.new_event`, `exact_online.modified`) under `flowrun serve`.
//!
//! - **Instant**: each flow gets a callback URL `<public-url>/triggers/<flow>/<token>`, whose
//!   token is random, made once and kept in the store (every worker and every restart use the
//!   same URL, so subscribing again is idempotent). The connector subscribes it at start and
//!   after each reload, and unsubscribes it at clean shutdown. A delivery without the right
//!   token gets 401; a good one is handed to the connector, which re-fetches the record, and
//!   one run is queued per event (keyed by the event, so a repeated delivery starts nothing).
//! - **Polling**: one task per flow asks the connector for the events after the stored cursor
//!   every interval, queues a run per event (keyed, so two workers polling at once or
//!   overlapping windows start one run per event), then stores the new cursor: the cursor
//!   never moves past an event that is not durably queued.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use flowrun_connect::module::CallContext;
use flowrun_connect::trigger::{Trigger, TriggerEvent, TriggerMode};
use flowrun_engine::run::trigger_scope;
use flowrun_flow::model::ConnectorTrigger;
use flowrun_state::{Enqueued, QueuedRun};
use serde_json::{Value as Json, json};
use subtle::ConstantTimeEq;
use tokio::task::JoinHandle;

use crate::flows::Entry;
use crate::server::answer;
use crate::service::Service;

const TOKEN_KEY: &str = "callback_token";
const SUBSCRIPTION_KEY: &str = "subscription";
const CURSOR_KEY: &str = "cursor";

/// A flow's connector trigger, ready to call.
struct Bound {
    trigger: Arc<dyn Trigger>,
    params: Json,
    context: CallContext,
}

/// The trigger of a flow with a connector trigger, with its connection rendered.
fn bind(service: &Service, entry: &Entry) -> Option<Result<Bound, String>> {
    let Some(flowrun_flow::model::Trigger::Connector(ConnectorTrigger { uses, params })) = &entry.flow.trigger else {
        return None;
    };
    Some(bind_connector(service, entry, uses, params))
}

fn bind_connector(
    service: &Service,
    entry: &Entry,
    uses: &str,
    params: &indexmap::IndexMap<String, Json>,
) -> Result<Bound, String> {
    let trigger = service
        .engine
        .registry
        .trigger(uses)
        .ok_or_else(|| format!("the trigger `{uses}` cannot run in this build of flowrun"))?;
    let params = Json::Object(params.clone().into_iter().collect());
    let connector = uses.split_once('.').map_or(uses, |(connector, _)| connector);
    let plan = &entry.flow.plan;
    let named = params.get("connection").and_then(Json::as_str);
    let connection = match named {
        Some(name) => plan.connections.get_key_value(name),
        None => {
            let mut of_connector = plan
                .connections
                .iter()
                .filter(|(_, connection)| connection.connector == connector);
            match (of_connector.next(), of_connector.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            }
        }
    };
    let (name, connection) = connection.ok_or_else(|| match named {
        Some(name) => format!("the trigger names connection `{name}`, which the flow does not have"),
        None => format!("the trigger needs `connection:`: the flow has no single `{connector}` connection"),
    })?;
    let scope = trigger_scope(&entry.flow.id, &entry.flow.env, &entry.flow.secrets, None);
    let config = connection
        .config
        .render(&scope)
        .map_err(|error| format!("connection `{name}`: {}", error.message))?
        .value;
    let mut context = CallContext::new("trigger", "trigger").with_connection(name, config);
    context.http = service.engine.http.clone();
    context.files_dir = Some(entry.flow.files_dir.clone());
    Ok(Bound {
        trigger,
        params,
        context,
    })
}

/// Keeps the connector triggers in step with the flows: subscribes instant ones, runs a poller
/// per polling one; on shutdown stops pollers and unsubscribes.
pub async fn run_triggers(service: Arc<Service>) {
    let mut pollers: HashMap<String, (String, JoinHandle<()>)> = HashMap::new();
    let mut subscribed: HashMap<String, (String, String)> = HashMap::new();
    loop {
        let changed = service.flows_changed.notified();
        sync(&service, &mut pollers, &mut subscribed).await;
        tokio::select! {
            () = changed => {}
            () = service.shutdown.cancelled() => break,
        }
    }
    for (_, (_, poller)) in pollers.drain() {
        poller.abort();
    }
    let flows = service.flows();
    for (flow_id, (_, subscription_id)) in subscribed {
        let Some(entry) = flows.get(&flow_id) else { continue };
        let Some(Ok(bound)) = bind(&service, entry) else {
            continue;
        };
        match bound
            .trigger
            .unsubscribe(&bound.context, &bound.params, &subscription_id)
            .await
        {
            Ok(()) => {
                tracing::info!(flow = %flow_id, subscription = %subscription_id, "trigger subscription removed");
                if let Err(error) = service.store.delete_trigger_state(&flow_id, SUBSCRIPTION_KEY).await {
                    tracing::warn!(flow = %flow_id, %error, "the removed subscription could not be forgotten");
                }
            }
            Err(error) => tracing::warn!(flow = %flow_id, %error, "the trigger subscription could not be removed"),
        }
    }
}

async fn sync(
    service: &Arc<Service>,
    pollers: &mut HashMap<String, (String, JoinHandle<()>)>,
    subscribed: &mut HashMap<String, (String, String)>,
) {
    let flows = service.flows();
    let mut seen = Vec::new();
    for entry in flows.entries() {
        let Some(bound) = bind(service, entry) else { continue };
        let id = entry.flow.id.clone();
        seen.push(id.clone());
        let bound = match bound {
            Ok(bound) => bound,
            Err(problem) => {
                tracing::error!(flow = %id, problem = %problem, "the flow's trigger cannot start");
                continue;
            }
        };
        let fingerprint = format!("{}:{}", entry.flow.flow_version, bound.params);
        match bound.trigger.mode(&bound.params) {
            TriggerMode::Instant => {
                if subscribed.get(&id).is_some_and(|(known, _)| *known == fingerprint) {
                    continue;
                }
                match subscribe(service, &id, &bound).await {
                    Ok(subscription_id) => {
                        subscribed.insert(id, (fingerprint, subscription_id));
                    }
                    Err(problem) => {
                        tracing::error!(flow = %id, problem = %problem, "the trigger could not subscribe; no events will start runs")
                    }
                }
            }
            TriggerMode::Polling { interval } => {
                if pollers.get(&id).is_some_and(|(known, _)| *known == fingerprint) {
                    continue;
                }
                if let Some((_, old)) = pollers.remove(&id) {
                    old.abort();
                }
                let task = tokio::spawn(poll_loop(service.clone(), id.clone(), bound, interval));
                pollers.insert(id, (fingerprint, task));
            }
        }
    }
    pollers.retain(|id, (_, task)| {
        let keep = seen.contains(id);
        if !keep {
            task.abort();
        }
        keep
    });
    subscribed.retain(|id, _| seen.contains(id));
}

/// The flow's callback URL (its token made once, shared through the store), subscribed.
async fn subscribe(service: &Service, flow_id: &str, bound: &Bound) -> Result<String, String> {
    let token = callback_token(service, flow_id).await?;
    let url = format!("{}/triggers/{flow_id}/{token}", service.public_url());
    let subscription = bound
        .trigger
        .subscribe(&bound.context, &bound.params, &url)
        .await
        .map_err(|error| error.to_string())?;
    if let Err(error) = service
        .store
        .put_trigger_state(flow_id, SUBSCRIPTION_KEY, json!({"id": subscription.id}))
        .await
    {
        tracing::warn!(flow = %flow_id, %error, "the subscription could not be noted in the store");
    }
    tracing::info!(
        flow = %flow_id,
        subscription = %subscription.id,
        kept = subscription.existing,
        callback = %format!("{}/triggers/{flow_id}/***", service.public_url()),
        "trigger subscribed"
    );
    Ok(subscription.id)
}

async fn callback_token(service: &Service, flow_id: &str) -> Result<String, String> {
    let fresh = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let stored = service
        .store
        .insert_trigger_state(flow_id, TOKEN_KEY, Json::from(fresh))
        .await
        .map_err(|error| format!("the callback token could not be stored: {error}"))?;
    stored
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "the stored callback token is not text".to_owned())
}

/// `POST /triggers/<flow>/<token>`.
pub(crate) async fn delivery(
    State(service): State<Arc<Service>>,
    Path((flow_id, token)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let unauthorized = |service: &Service| {
        service.metrics.count_trigger("connector", "refused");
        answer(
            service,
            StatusCode::UNAUTHORIZED,
            json!({"error": "unknown trigger URL"}),
        )
    };
    let flows = service.flows();
    let Some(entry) = flows.get(&flow_id).cloned() else {
        return unauthorized(&service);
    };
    let expected = match service.store.trigger_state(&flow_id, TOKEN_KEY).await {
        Ok(Some(Json::String(expected))) => expected,
        Ok(_) => return unauthorized(&service),
        Err(error) => {
            tracing::error!(flow = %flow_id, %error, "the callback token could not be read");
            return answer(&service, StatusCode::SERVICE_UNAVAILABLE, json!({"error": "try again"}));
        }
    };
    if !bool::from(expected.as_bytes().ct_eq(token.as_bytes())) {
        tracing::warn!(flow = %flow_id, "a trigger delivery with a wrong token was refused");
        return unauthorized(&service);
    }
    if body.len() > service.options.max_body {
        return answer(
            &service,
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({"error": "body too large"}),
        );
    }
    let Ok(body) = serde_json::from_slice::<Json>(&body) else {
        return answer(
            &service,
            StatusCode::BAD_REQUEST,
            json!({"error": "the body is not JSON"}),
        );
    };
    let bound = match bind(&service, &entry) {
        Some(Ok(bound)) => bound,
        Some(Err(problem)) => {
            return answer(&service, StatusCode::SERVICE_UNAVAILABLE, json!({"error": problem}));
        }
        None => return unauthorized(&service),
    };
    let event = match bound.trigger.event(&bound.context, &bound.params, body).await {
        Ok(Some(event)) => event,
        Ok(None) => {
            service.metrics.count_trigger("connector", "ignored");
            return answer(&service, StatusCode::OK, json!({"ignored": true}));
        }
        Err(error) => {
            tracing::error!(flow = %flow_id, %error, "a trigger delivery could not be read");
            // 503: a service that retries deliveries sends it again.
            return answer(
                &service,
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "the event could not be read; send it again"}),
            );
        }
    };
    match queue_event(&service, &entry, event).await {
        Ok(Enqueued::Created(run) | Enqueued::Duplicate(run)) => {
            answer(&service, StatusCode::ACCEPTED, json!({"run_id": run.id}))
        }
        Ok(Enqueued::Skipped { active_run_id }) => {
            answer(&service, StatusCode::CONFLICT, json!({"run_id": active_run_id}))
        }
        Err(error) => {
            tracing::error!(flow = %flow_id, %error, "the event's run could not be queued");
            answer(
                &service,
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "send it again"}),
            )
        }
    }
}

async fn queue_event(
    service: &Service,
    entry: &Entry,
    event: TriggerEvent,
) -> Result<Enqueued, flowrun_state::StateError> {
    let run = QueuedRun {
        flow_id: entry.flow.id.clone(),
        flow_version: entry.flow.flow_version.clone(),
        trigger: Some(event.event),
        inputs: Some(entry.flow.inputs.clone()),
        dedupe_key: Some(format!("event:{}", event.key)),
        skip_if_active: false,
    };
    service.enqueue(run, "connector").await
}

async fn poll_loop(service: Arc<Service>, flow_id: String, bound: Bound, interval: Duration) {
    tracing::info!(flow = %flow_id, every = ?interval, "polling trigger started");
    loop {
        if let Err(problem) = poll_once(&service, &flow_id, &bound).await {
            tracing::error!(flow = %flow_id, problem = %problem, "the trigger's poll failed; trying again next interval");
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = service.shutdown.cancelled() => return,
        }
    }
}

async fn poll_once(service: &Service, flow_id: &str, bound: &Bound) -> Result<(), String> {
    let cursor = service
        .store
        .trigger_state(flow_id, CURSOR_KEY)
        .await
        .map_err(|error| error.to_string())?;
    let polled = bound
        .trigger
        .poll(&bound.context, &bound.params, cursor)
        .await
        .map_err(|error| error.to_string())?;
    let Some(entry) = service.flows().get(flow_id).cloned() else {
        return Ok(());
    };
    for event in polled.events {
        queue_event(service, &entry, event)
            .await
            .map_err(|error| format!("an event could not be queued (the cursor stays): {error}"))?;
    }
    if let Some(cursor) = polled.cursor {
        service
            .store
            .put_trigger_state(flow_id, CURSOR_KEY, cursor)
            .await
            .map_err(|error| error.to_string())?;
    }
    Ok(())
}
