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
/// Exact allows 60 requests a minute per app and division, shared with every flow's steps:
/// no trigger asks more often than this.
const MIN_INTERVAL: Duration = Duration::from_secs(10);

pub(crate) struct ModifiedTrigger {
    pub divisions: Arc<Divisions>,
}

fn params(params: &Json) -> Result<ModifiedParams, ModuleError> {
    parse_params(USES, params.clone())
}

/// An instant as an Exact `datetime'…'` literal: UTC wall-clock time with milliseconds and no
/// zone (Exact reads a zone-less literal as UTC, as it writes `/Date(ms)/` in UTC).
fn odata_datetime(at: Timestamp) -> String {
    at.to_zoned(jiff::tz::TimeZone::UTC)
        .datetime()
        .strftime("%Y-%m-%dT%H:%M:%S%.3f")
        .to_string()
}

/// An instant of a cursor or of `since`: RFC 3339 (`2024-05-01T10:00:00.123Z`, what this
/// trigger stores), or Exact's zone-less literal form (`2024-05-01T10:00:00.123`), read as UTC.
fn instant(text: &str) -> Option<Timestamp> {
    text.parse::<Timestamp>().ok().or_else(|| {
        let civil = text.parse::<jiff::civil::DateTime>().ok()?;
        jiff::tz::Offset::UTC.to_timestamp(civil).ok()
    })
}

/// An instant as the cursor stores it: RFC 3339 UTC with milliseconds, the form of the rows'
/// `Modified` in the events.
fn cursor_text(at: Timestamp) -> String {
    format!("{at:.3}")
}

/// Where a poll starts: the stored cursor, else `since`; `None` for a first poll from now.
fn start(cursor: Option<&Json>, since: Option<&str>) -> Result<Option<Timestamp>, ModuleError> {
    let (text, what) = match (cursor, since) {
        (Some(Json::String(text)), _) => (text.as_str(), "the stored cursor"),
        (Some(other), _) => {
            return Err(ModuleError::new(
                ErrorKind::Invalid,
                format!("{USES}: the stored cursor {other} is not an instant (a string)"),
            ));
        }
        (None, Some(since)) => (since, "`since`"),
        (None, None) => return Ok(None),
    };
    instant(text).map(Some).ok_or_else(|| {
        ModuleError::new(
            ErrorKind::Invalid,
            format!("{USES}: {what} `{text}` is not an RFC 3339 instant, e.g. `2024-05-01T00:00:00Z`"),
        )
    })
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
        let Some(from) = start(cursor.as_ref(), params.since.as_deref())? else {
            // The first poll: from now on, never the whole history.
            return Ok(Polled {
                events: Vec::new(),
                cursor: Some(Json::from(cursor_text(Timestamp::now()))),
            });
        };
        // `ge`, not `gt`: see the module's comment.
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
            let Some(record) = row.as_object() else {
                return Err(ModuleError::new(
                    ErrorKind::Invalid,
                    format!(
                        "{USES}: `{}` answered a row that is not an object: {row}",
                        params.entity
                    ),
                ));
            };
            let (Some(id), Some(modified)) = (
                record.get("ID").and_then(Json::as_str),
                record.get("Modified").and_then(Json::as_str),
            ) else {
                return Err(ModuleError::new(
                    ErrorKind::Invalid,
                    format!(
                        "{USES}: a row of `{}` without a string `ID` and `Modified`; the trigger needs both \
                         (an entity keyed otherwise cannot be watched)",
                        params.entity
                    ),
                ));
            };
            let Some(at) = instant(modified) else {
                return Err(ModuleError::new(
                    ErrorKind::Invalid,
                    format!(
                        "{USES}: row `{id}` of `{}` has `Modified` `{modified}`, not a date",
                        params.entity
                    ),
                ));
            };
            latest = latest.max(at);
            let key = format!("{id}:{modified}");
            let event = ModifiedEvent {
                entity: params.entity.clone(),
                id: id.to_owned(),
                record: record.clone().into_iter().collect(),
            };
            let event = serde_json::to_value(event)
                .map_err(|error| ModuleError::new(ErrorKind::Invalid, format!("{USES}: {error}")))?;
            events.push(TriggerEvent { key, event });
        }
        Ok(Polled {
            events,
            cursor: Some(Json::from(cursor_text(latest))),
        })
    }
}
