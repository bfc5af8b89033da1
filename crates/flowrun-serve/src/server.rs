//! The HTTP side of `flowrun serve`:
//!
//! - `POST /hooks/<path>`: a webhook delivery. Checked (signature or bearer secret, body size,
//!   rate limit), deduplicated, queued durably, then answered: 202 `{run_id}` (`respond:
//!   async`), or the run's output once it ends (`respond: sync`). A repeated delivery gets the
//!   first run's id and starts nothing.
//! - `POST /triggers/<flow>/<token>`: a connector trigger's delivery (1CRM's New Event); the
//!   token in the URL is the only proof of origin 1CRM gives, compared in constant time.
//! - `GET /healthz`, `GET /metrics`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use flowrun_engine::run::trigger_scope;
use flowrun_state::{Enqueued, QueuedRun, RunStatus};
use jiff::Timestamp;
use serde_json::{Value as Json, json};

use crate::flows::Entry;
use crate::service::Service;
use crate::webhook::Refusal;

pub fn router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/hooks/{*path}", post(webhook))
        .route("/triggers/{flow}/{token}", post(crate::triggers::delivery))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        // Bodies are limited per webhook by the gate (413 with the limit named); axum's own
        // limit stays above it so the gate sees the size.
        .layer(axum::extract::DefaultBodyLimit::max(
            service.options.max_body.saturating_add(1),
        ))
        .layer(axum::middleware::map_response(close_after_unread_body))
        .with_state(service)
}

/// A body over the limit is refused before it is read to the end, so the connection cannot
/// carry another request: hyper closes it after the answer. Saying so in `Connection: close`
/// keeps a client from putting it back in its pool and sending its next request into a
/// closing socket (reqwest then fails with "IncompleteMessage").
async fn close_after_unread_body(mut response: Response) -> Response {
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        response
            .headers_mut()
            .insert(header::CONNECTION, header::HeaderValue::from_static("close"));
    }
    response
}

/// A JSON answer, counted in the metrics.
pub(crate) fn answer(service: &Service, status: StatusCode, body: Json) -> Response {
    service.metrics.count_response(status.as_u16());
    (status, axum::Json(body)).into_response()
}

async fn webhook(
    State(service): State<Arc<Service>>,
    Path(path): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let flows = service.flows();
    let Some(entry) = flows.by_webhook_path(&path).cloned() else {
        return answer(
            &service,
            StatusCode::NOT_FOUND,
            json!({"error": format!("no flow listens on /hooks/{path}")}),
        );
    };
    let Some(route) = &entry.webhook else {
        return answer(&service, StatusCode::NOT_FOUND, json!({"error": "no such webhook"}));
    };
    let header_text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Err(refusal) = route.gate.check(header_text, &body, Timestamp::now()) {
        tracing::warn!(flow = %entry.flow.id, path = %path, reason = %refusal, "webhook request refused");
        service.metrics.count_trigger("webhook", "refused");
        let status = match refusal {
            Refusal::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Refusal::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        };
        return answer(&service, status, json!({"error": refusal.to_string()}));
    }
    if let Some(limiter) = &route.rate_limit
        && let Err(not_until) = limiter.check()
    {
        let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
        service.metrics.count_trigger("webhook", "rate_limited");
        let mut response = answer(
            &service,
            StatusCode::TOO_MANY_REQUESTS,
            json!({"error": "too many requests for this webhook; try again later"}),
        );
        if let Ok(value) = header::HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }

    let mut trigger = json!({
        "body": parse_body(&headers, &body),
        "headers": headers
            .iter()
            .filter_map(|(name, value)| {
                // Credentials are checked above and never stored with the run.
                let value = if CREDENTIAL_HEADERS.contains(&name.as_str()) {
                    "***"
                } else {
                    value.to_str().ok()?
                };
                Some((name.as_str().to_owned(), Json::from(value)))
            })
            .collect::<serde_json::Map<_, _>>(),
        "query": query,
    });
    // A secret the sender put anywhere else (a query token, the body) is not stored either.
    entry.redactor.redact_json_in_place(&mut trigger);
    let dedupe_key = match dedupe_key(&entry, &trigger) {
        Ok(key) => key,
        Err(message) => {
            service.metrics.count_trigger("webhook", "refused");
            return answer(&service, StatusCode::BAD_REQUEST, json!({"error": message}));
        }
    };
    let run = QueuedRun {
        flow_id: entry.flow.id.clone(),
        flow_version: entry.flow.flow_version.clone(),
        trigger: Some(trigger),
        inputs: Some(entry.flow.inputs.clone()),
        dedupe_key,
        skip_if_active: false,
    };
    let queued = match service.enqueue(run, "webhook").await {
        Ok(queued) => queued,
        Err(error) => {
            tracing::error!(flow = %entry.flow.id, %error, "the webhook's run could not be queued");
            return answer(
                &service,
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "the run could not be queued; send it again"}),
            );
        }
    };
    let (run, duplicate) = match queued {
        Enqueued::Created(run) => (run, false),
        Enqueued::Duplicate(run) => (run, true),
        Enqueued::Skipped { active_run_id } => {
            return answer(
                &service,
                StatusCode::CONFLICT,
                json!({"error": "the flow is busy", "run_id": active_run_id}),
            );
        }
    };
    if route.config.respond == Some(flowrun_flow::model::Respond::Sync) {
        return respond_sync(&service, &run.id, duplicate).await;
    }
    let status = if duplicate {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    answer(&service, status, json!({"run_id": run.id, "duplicate": duplicate}))
}

/// Headers whose values are credentials: replaced by `***` in the stored `trigger`.
const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

/// The body as JSON when it is JSON (or empty: null), else as text.
fn parse_body(headers: &HeaderMap, body: &[u8]) -> Json {
    if body.is_empty() {
        return Json::Null;
    }
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if form && let Ok(pairs) = serde_urlencoded_pairs(body) {
        return pairs;
    }
    serde_json::from_slice(body).unwrap_or_else(|_| Json::from(String::from_utf8_lossy(body).into_owned()))
}

/// A form body as an object of its fields (the last of repeated names wins).
fn serde_urlencoded_pairs(body: &[u8]) -> Result<Json, ()> {
    let text = std::str::from_utf8(body).map_err(|_| ())?;
    let pairs: Vec<(String, String)> =
        axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&format!("/?{text}").parse().map_err(|_| ())?)
            .map_err(|_| ())?
            .0;
    Ok(Json::Object(
        pairs
            .into_iter()
            .map(|(name, value)| (name, Json::from(value)))
            .collect(),
    ))
}

/// `webhook.dedupe` rendered with the request as `trigger`: `hook:<value>`, or none when the
/// value is empty (a delivery without an id is not deduplicated).
fn dedupe_key(entry: &Entry, trigger: &Json) -> Result<Option<String>, String> {
    let Some(template) = entry.webhook.as_ref().and_then(|route| route.dedupe.as_ref()) else {
        return Ok(None);
    };
    let scope = trigger_scope(&entry.flow.id, &entry.flow.env, &entry.flow.secrets, Some(trigger));
    match template.eval_or_undefined(&scope) {
        Ok(value) if value.is_undefined() || value.is_none() => Ok(None),
        Ok(value) => {
            let text = value.to_string();
            Ok((!text.is_empty()).then(|| format!("hook:{text}")))
        }
        Err(error) => Err(format!("webhook.dedupe: {}", error.message)),
    }
}

/// `respond: sync`: waits for the run's end and answers with its output (200), its error
/// (500), or 202 with the run id when it takes longer than the sync timeout.
async fn respond_sync(service: &Service, run_id: &str, duplicate: bool) -> Response {
    let deadline = Instant::now() + service.options.sync_timeout;
    let mut pause = Duration::from_millis(5);
    loop {
        match service.store.run(run_id).await {
            Ok(Some(run)) if run.status.is_final() || run.status == RunStatus::Abandoned => {
                let status = match run.status {
                    RunStatus::Success | RunStatus::Partial => StatusCode::OK,
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                };
                return answer(
                    service,
                    status,
                    json!({
                        "run_id": run.id,
                        "status": run.status,
                        "output": run.output,
                        "error": run.error,
                        "duplicate": duplicate,
                    }),
                );
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(run_id, %error, "respond: sync: the run could not be read"),
        }
        if Instant::now() >= deadline {
            return answer(
                service,
                StatusCode::ACCEPTED,
                json!({"run_id": run_id, "duplicate": duplicate, "note": "the run has not ended yet"}),
            );
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

async fn healthz(State(service): State<Arc<Service>>) -> Response {
    match service.store.queue_depth().await {
        Ok(depth) => answer(
            &service,
            StatusCode::OK,
            json!({"status": "ok", "flows": service.flows().len(), "queue_depth": depth}),
        ),
        Err(error) => answer(
            &service,
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "unavailable", "error": error.to_string()}),
        ),
    }
}

async fn metrics(State(service): State<Arc<Service>>) -> Response {
    let text = service.metrics.render(service.store.as_ref()).await;
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
