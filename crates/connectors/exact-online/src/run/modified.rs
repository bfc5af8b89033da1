//! `exact_online.modified`: every `interval`, the rows of an entity modified since the cursor.
//!
//! The window is `Modified ge <cursor>`, not `gt`: rows saved in the millisecond the cursor
//! names (several rows often share one `Modified`, apis/exact-online.md "Delta by Modified")
//! would otherwise be lost. The rows at the cursor come back on the next poll; their events
//! are keyed `<ID>:<Modified>`, and `flowrun serve` starts one run per key, so a repeat starts
//! nothing while a later change of the same row (a new `Modified`) does.

use std::sync::Arc;
use std::time::Duration;

use flowrun_connect::module::{CallContext, ErrorKind, ModuleError};
use flowrun_connect::schema::parse_params;
use flowrun_connect::trigger::{Polled, Trigger, TriggerEvent, TriggerMode};
use jiff::Timestamp;
use serde_json::Value as Json;

use super::api::{Api, Divisions};
use super::subscribe::subscribe;
use crate::SubscribeParams;
use crate::modified::{ModifiedEvent, ModifiedParams};

const USES: &str = "exact_online.modified";
const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
const MIN_INTERVAL: Duration = Duration::from_secs(5);

pub(crate) struct ModifiedTrigger {
    pub divisions: Arc<Divisions>,
}

fn params(params: &Json) -> Result<ModifiedParams, ModuleError> {
    parse_params(USES, params.clone())
}

/// An instant as an Exact `datetime'…'` literal: UTC wall-clock time with milliseconds.
fn odata_datetime(at: Timestamp) -> String {
    at.to_zoned(jiff::tz::TimeZone::UTC)
        .datetime()
        .strftime("%Y-%m-%dT%H:%M:%S%.3f")
        .to_string()
}

#[async_trait::async_trait]
impl Trigger for ModifiedTrigger {
    fn name(&self) -> &str {
        "modified"
    }

    fn mode(&self, params: &Json) -> TriggerMode {
        let interval = params
            .get("interval")
            .cloned()
            .and_then(|value| serde_json::from_value::<flowrun_flow::Duration>(value).ok())
            .map_or(DEFAULT_INTERVAL, flowrun_flow::Duration::as_std);
        TriggerMode::Polling {
            interval: interval.max(MIN_INTERVAL),
        }
    }

    async fn poll(&self, context: &CallContext, params: &Json, cursor: Option<Json>) -> Result<Polled, ModuleError> {
        let params = self::params(params)?;
        let from = match cursor.as_ref().and_then(Json::as_str).or(params.since.as_deref()) {
            Some(text) => text.parse::<Timestamp>().map_err(|error| {
                ModuleError::new(
                    ErrorKind::Invalid,
                    format!("{USES}: `{text}` is not an RFC 3339 instant ({error})"),
                )
            })?,
            None => {
                // The first poll: from now on, never the whole history.
                return Ok(Polled {
                    events: Vec::new(),
                    cursor: Some(Json::from(Timestamp::now().to_string())),
                });
            }
        };
        let window = format!("Modified ge datetime'{}'", odata_datetime(from));
        let filter = match &params.filter {
            Some(extra) => format!("({window}) and ({extra})"),
            None => window,
        };
        let mut select = params.select.clone();
        for needed in ["ID", "Modified"] {
            if !select.is_empty() && !select.iter().any(|name| name == needed) {
                select.push(needed.to_owned());
            }
        }
        let read = SubscribeParams {
            entity: params.entity.clone(),
            select,
            filter: Some(filter),
            order_by: Some("Modified".to_owned()),
            expand: Vec::new(),
            limit: None,
            parameters: Default::default(),
            path: Default::default(),
            paginate: true,
        };
        let api = Api::new(context, USES, &self.divisions).await?;
        let rows = subscribe(&api, read).await?;
        let mut latest = from;
        let mut events = Vec::new();
        for row in rows.as_array().into_iter().flatten() {
            let Some(record) = row.as_object() else { continue };
            let id = record.get("ID").and_then(Json::as_str).unwrap_or_default().to_owned();
            let modified = record
                .get("Modified")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_owned();
            if let Ok(at) = modified.parse::<Timestamp>() {
                latest = latest.max(at);
            }
            let event = ModifiedEvent {
                entity: params.entity.clone(),
                id: id.clone(),
                record: record.clone().into_iter().collect(),
            };
            let event = serde_json::to_value(event)
                .map_err(|error| ModuleError::new(ErrorKind::Invalid, format!("{USES}: {error}")))?;
            events.push(TriggerEvent {
                key: format!("{id}:{modified}"),
                event,
            });
        }
        Ok(Polled {
            events,
            cursor: Some(Json::from(latest.to_string())),
        })
    }
}
