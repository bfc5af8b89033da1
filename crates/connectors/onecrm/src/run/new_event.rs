//! The `onecrm.new_event` trigger under `flowrun serve`: a webhook subscription on
//! `/webhooks`, and each delivery turned into a run's `trigger` with the record re-fetched.
//!
//! UNSURE (apis/onecrm.md, "Webhooks"): the listing `GET /webhooks` and its shape, the
//! unsubscribe path `DELETE /webhooks/{id}`, and whether a delivery is the bare record or
//! wrapped; the simulator follows the same assumptions. 1CRM signs nothing: `flowrun serve`
//! puts an unguessable token in the callback URL, and a delivery is only a hint: the record is
//! read again by id (as `get_record` reads it) before a run starts.

use flowrun_connect::client::{Body, Request};
use flowrun_connect::http::Method;
use flowrun_connect::module::{CallContext, ErrorKind, ModuleError};
use flowrun_connect::schema::parse_params;
use flowrun_connect::trigger::{Subscription, Trigger, TriggerEvent, TriggerMode};
use serde_json::{Map, Value as Json, json};

use super::api::{Api, names_module, take_field};
use super::records::{fetch, id_text};
use crate::trigger::{EventType, NewEvent, NewEventParams};

const USES: &str = "onecrm.new_event";

pub(crate) struct NewEventTrigger;

fn parse(params: &Json) -> Result<NewEventParams, ModuleError> {
    parse_params(USES, params.clone())
}

/// The subscription `type` for the trigger's event type (`create`, `update`; 1CRM also knows
/// `create_update`, which one trigger never asks for).
fn subscription_type(event: EventType) -> &'static str {
    match event {
        EventType::Created => "create",
        EventType::Updated => "update",
    }
}

/// The condition 1CRM needs to fire at all (a webhook without a correct filter never fires):
/// "the record is not deleted", the known-good one of apis/onecrm.md, exactly as written there.
fn not_deleted() -> Json {
    json!({
        "glue": "or",
        "conditions": [
            {"field": "deleted", "filter": "is_false", "value": "0", "when": "current_value"}
        ],
    })
}

/// The subscriptions 1CRM holds, or `None` when it cannot list them (the listing is UNSURE:
/// an instance without it answers 404 or 405, and a new subscription is made every start).
async fn listed(api: &Api<'_>) -> Result<Option<Vec<Json>>, ModuleError> {
    let mut request = Request::get(api.url(&["webhooks"])?);
    request.ok_status.extend([404, 405]);
    let response = api.send(&request).await?;
    if matches!(response.status, 404 | 405) {
        return Ok(None);
    }
    let mut body = response.json()?;
    match take_field(&mut body, "records", "GET /webhooks")? {
        Json::Array(records) => Ok(Some(records)),
        Json::Null => Ok(Some(Vec::new())),
        other => Err(ModuleError::new(
            ErrorKind::Invalid,
            format!("GET /webhooks: `records` is not a list but {other}"),
        )),
    }
}

/// `DELETE /webhooks/{id}`; one already gone (404) is what was wanted.
async fn delete(api: &Api<'_>, id: &str) -> Result<(), ModuleError> {
    let mut request = Request::new(Method::Delete, api.url(&["webhooks", id])?);
    request.ok_status.push(404);
    api.send(&request).await.map(|_| ())
}

/// The record of a delivery and what the delivery says about itself. UNSURE whether 1CRM
/// wraps the record (apis/onecrm.md): both a bare record (`{"id", "name", ...}`, what the
/// simulator sends) and one under `record` or `data` (`{"type": "update", "model": "Account",
/// "record": {...}}`) are taken.
struct Delivery {
    record: Map<String, Json>,
    /// The event the delivery names, when it names one.
    event: Option<EventType>,
    /// The model the delivery names, when it names one.
    model: Option<String>,
}

impl Delivery {
    fn read(body: Json) -> Result<Delivery, ModuleError> {
        let Json::Object(mut body) = body else {
            return Err(ModuleError::new(
                ErrorKind::Invalid,
                format!(
                    "a 1CRM webhook delivery is not a JSON object but {}",
                    flowrun_connect::client::excerpt(body.to_string().as_bytes())
                ),
            ));
        };
        let wrapped = ["record", "data"]
            .into_iter()
            .find(|key| body.get(*key).is_some_and(Json::is_object));
        let Some(key) = wrapped else {
            // A bare record: its own fields say nothing of the event.
            return Ok(Delivery {
                record: body,
                event: None,
                model: None,
            });
        };
        let record = match body.remove(key) {
            Some(Json::Object(record)) => record,
            _ => Map::new(),
        };
        let text = |names: &[&str]| {
            names
                .iter()
                .find_map(|name| body.get(*name).and_then(Json::as_str))
                .map(str::to_owned)
        };
        let event = text(&["type", "event", "action"]).and_then(|name| match name.to_ascii_lowercase().as_str() {
            "create" | "created" | "insert" => Some(EventType::Created),
            "update" | "updated" => Some(EventType::Updated),
            // `create_update` or a name we do not know: trust the subscription's type.
            _ => None,
        });
        Ok(Delivery {
            record,
            event,
            model: text(&["model", "module"]),
        })
    }
}

#[async_trait::async_trait]
impl Trigger for NewEventTrigger {
    fn name(&self) -> &str {
        "new_event"
    }

    fn mode(&self, _params: &Json) -> TriggerMode {
        TriggerMode::Instant
    }

    /// An existing subscription of this URL, model and type is kept. The callback URL is this
    /// trigger's own (it carries its token), so other subscriptions of it are stale (the flow
    /// changed `module` or `type`, or a crash left a duplicate) and are removed.
    async fn subscribe(
        &self,
        context: &CallContext,
        params: &Json,
        callback_url: &str,
    ) -> Result<Subscription, ModuleError> {
        let params = parse(params)?;
        let api = Api::new(context, USES)?;
        let module = api.required("module", &params.module)?;
        let kind = subscription_type(params.event_type);
        let mut kept: Option<String> = None;
        for subscription in listed(&api).await?.unwrap_or_default() {
            let field = |name: &str| subscription.get(name).and_then(Json::as_str);
            if field("url") != Some(callback_url) {
                continue;
            }
            let Some(id) = subscription.get("id").cloned() else {
                continue;
            };
            let id = id_text(id, "GET /webhooks: a subscription's `id`")?;
            if kept.is_none() && field("model") == Some(module) && field("type") == Some(kind) {
                kept = Some(id);
            } else {
                delete(&api, &id).await?;
            }
        }
        if let Some(id) = kept {
            return Ok(Subscription { id, existing: true });
        }
        let body = json!({
            "model": module,
            "type": kind,
            "url": callback_url,
            "filters": not_deleted(),
        });
        let request = Request::new(Method::Post, api.url(&["webhooks"])?).body(Body::Json(body));
        let mut answer = api.json(&request).await?;
        let id = take_field(&mut answer, "id", "POST /webhooks")?;
        Ok(Subscription {
            id: id_text(id, "POST /webhooks: the subscription's `id`")?,
            existing: false,
        })
    }

    async fn unsubscribe(
        &self,
        context: &CallContext,
        _params: &Json,
        subscription_id: &str,
    ) -> Result<(), ModuleError> {
        let api = Api::new(context, USES)?;
        delete(&api, subscription_id).await
    }

    async fn event(
        &self,
        context: &CallContext,
        params: &Json,
        body: Json,
    ) -> Result<Option<TriggerEvent>, ModuleError> {
        let params = parse(params)?;
        let delivery = Delivery::read(body)?;
        // A delivery that names its event or model is filtered by them; a bare record is
        // trusted to be what the subscription asked for.
        if delivery.event.is_some_and(|event| event != params.event_type) {
            return Ok(None);
        }
        if delivery
            .model
            .as_deref()
            .is_some_and(|model| !model.eq_ignore_ascii_case(&params.module))
        {
            return Ok(None);
        }
        let id = match delivery.record.get("id") {
            Some(Json::String(id)) if !id.trim().is_empty() => id.clone(),
            Some(Json::Number(id)) => id.to_string(),
            _ => {
                return Err(ModuleError::new(
                    ErrorKind::Invalid,
                    format!(
                        "{USES}: a 1CRM webhook delivery without a record `id` (fields: {})",
                        delivery.record.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        };
        let api = Api::new(context, USES)?;
        let record = match fetch(&api, &params.module, &id, &[]).await {
            Ok(record) => record,
            // Deleted since (or never visible to the connection's user): no run. An unknown
            // module stays an error.
            Err(error) if error.status == Some(404) && !names_module(&error) => return Ok(None),
            Err(error) => return Err(error),
        };
        let Json::Object(record) = record else {
            return Err(ModuleError::new(
                ErrorKind::Invalid,
                format!(
                    "GET /data/{}/{id}: the record is not an object but {record}",
                    params.module
                ),
            ));
        };
        let modified = [&record, &delivery.record]
            .into_iter()
            .find_map(|fields| fields.get("date_modified").and_then(Json::as_str))
            .unwrap_or_default()
            .to_owned();
        let event = NewEvent {
            module: params.module,
            event_type: params.event_type,
            id: id.clone(),
            record: record.into_iter().collect(),
        };
        let event = serde_json::to_value(event).map_err(|error| {
            ModuleError::new(
                ErrorKind::Invalid,
                format!("{USES}: the event cannot be written: {error}"),
            )
        })?;
        Ok(Some(TriggerEvent {
            key: format!("{id}:{modified}"),
            event,
        }))
    }
}
