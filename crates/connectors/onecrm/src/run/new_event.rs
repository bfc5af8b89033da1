//! The `onecrm.new_event` trigger under `flowrun serve`: a webhook subscription on
//! `/webhooks`, and each delivery turned into a run's `trigger` with the record re-fetched.
//!
//! UNSURE (apis/onecrm.md, "Webhooks"): the listing `GET /webhooks` and its shape, the
//! unsubscribe path `DELETE /webhooks/{id}`, and whether a delivery is the bare record or
//! wrapped; the simulator follows the same assumptions. 1CRM signs nothing: `flowrun serve`
//! puts an unguessable token in the callback URL, and a delivery is only a hint: the record is
//! read again by id before a run starts.

use flowrun_connect::client::{Body, Request};
use flowrun_connect::http::Method;
use flowrun_connect::module::{CallContext, ErrorKind, ModuleError};
use flowrun_connect::schema::parse_params;
use flowrun_connect::trigger::{Subscription, Trigger, TriggerEvent, TriggerMode};
use serde_json::{Value as Json, json};

use super::api::{Api, take_field};
use crate::trigger::{EventType, NewEvent, NewEventParams};

const USES: &str = "onecrm.new_event";

pub(crate) struct NewEventTrigger;

impl NewEventTrigger {
    fn params(params: &Json) -> Result<NewEventParams, ModuleError> {
        parse_params(USES, params.clone())
    }
}

/// The subscription `type` for the trigger's event type.
fn subscription_type(event: EventType) -> &'static str {
    match event {
        EventType::Created => "create",
        EventType::Updated => "update",
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

    async fn subscribe(
        &self,
        context: &CallContext,
        params: &Json,
        callback_url: &str,
    ) -> Result<Subscription, ModuleError> {
        let params = Self::params(params)?;
        let api = Api::new(context, USES)?;
        let kind = subscription_type(params.event_type);
        let listing = api.json(&Request::get(api.url(&["webhooks"])?)).await?;
        let existing = listing
            .get("records")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .find(|subscription| {
                subscription.get("url").and_then(Json::as_str) == Some(callback_url)
                    && subscription.get("model").and_then(Json::as_str) == Some(params.module.as_str())
                    && subscription.get("type").and_then(Json::as_str) == Some(kind)
            });
        if let Some(id) = existing
            .and_then(|subscription| subscription.get("id"))
            .and_then(Json::as_str)
        {
            return Ok(Subscription {
                id: id.to_owned(),
                existing: true,
            });
        }
        // A webhook without a filter never fires (apis/onecrm.md): "not deleted" is the
        // known-good condition.
        let body = json!({
            "model": params.module,
            "type": kind,
            "url": callback_url,
            "filters": {
                "glue": "and",
                "conditions": [{"field": "deleted", "filter": "is_false", "value": "0", "when": "current_value"}],
            },
        });
        let request = Request::new(Method::Post, api.url(&["webhooks"])?).body(Body::Json(body));
        let mut answer = api.json(&request).await?;
        match take_field(&mut answer, "id", "POST /webhooks")? {
            Json::String(id) => Ok(Subscription { id, existing: false }),
            Json::Number(id) => Ok(Subscription {
                id: id.to_string(),
                existing: false,
            }),
            other => Err(ModuleError::new(
                ErrorKind::Invalid,
                format!("POST /webhooks: the subscription's `id` is not a string but {other}"),
            )),
        }
    }

    async fn unsubscribe(
        &self,
        context: &CallContext,
        _params: &Json,
        subscription_id: &str,
    ) -> Result<(), ModuleError> {
        let api = Api::new(context, USES)?;
        let mut request = Request::new(Method::Delete, api.url(&["webhooks", subscription_id])?);
        // Already gone is what was wanted.
        request.ok_status.push(404);
        api.send(&request).await.map(|_| ())
    }

    async fn event(
        &self,
        context: &CallContext,
        params: &Json,
        body: Json,
    ) -> Result<Option<TriggerEvent>, ModuleError> {
        let params = Self::params(params)?;
        // UNSURE whether 1CRM wraps the record; both forms are taken.
        let delivered = match body.get("record").or_else(|| body.get("data")) {
            Some(inner) if inner.is_object() => inner.clone(),
            _ => body,
        };
        let Some(id) = delivered.get("id").and_then(Json::as_str).map(str::to_owned) else {
            return Err(ModuleError::new(
                ErrorKind::Invalid,
                "a 1CRM webhook delivery without a record `id`",
            ));
        };
        let api = Api::new(context, USES)?;
        let mut request = Request::get(api.url(&["data", &params.module, &id])?);
        request.ok_status.push(404);
        let response = api.send(&request).await?;
        if response.status == 404 {
            // Deleted since: no run for a record that is gone.
            return Ok(None);
        }
        let mut fetched = response.json()?;
        let record = take_field(&mut fetched, "record", "GET /data/{Model}/{id}")?;
        let Json::Object(record) = record else {
            return Err(ModuleError::new(
                ErrorKind::Invalid,
                "GET /data/{Model}/{id}: the record is not an object",
            ));
        };
        let modified = record
            .get("date_modified")
            .or_else(|| delivered.get("date_modified"))
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned();
        let event = NewEvent {
            module: params.module,
            event_type: params.event_type,
            id: id.clone(),
            record: record.into_iter().collect(),
        };
        let event = serde_json::to_value(event)
            .map_err(|error| ModuleError::new(ErrorKind::Invalid, format!("the event cannot be written: {error}")))?;
        Ok(Some(TriggerEvent {
            key: format!("{id}:{modified}"),
            event,
        }))
    }
}
