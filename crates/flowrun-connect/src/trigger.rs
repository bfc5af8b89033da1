//! Connector triggers: what starts a flow from an event in another system (`flowrun serve`).
//!
//! A trigger comes in one of two forms, per connector:
//! - **instant**: the service calls us. At start `flowrun serve` asks the trigger to
//!   [`subscribe`](Trigger::subscribe) a callback URL (which carries an unguessable token, since
//!   a service such as 1CRM signs nothing), turns each delivery into a run's `trigger` with
//!   [`event`](Trigger::event) (re-fetching the record: a delivery is only a hint), and
//!   [`unsubscribe`](Trigger::unsubscribe)s at clean shutdown;
//! - **polling**: we ask the service. Every interval `flowrun serve` calls
//!   [`poll`](Trigger::poll) with the stored cursor and queues one run per event, each keyed by
//!   [`TriggerEvent::key`] so an event seen twice (overlapping windows, two workers polling at
//!   once) starts one run.
//!
//! Triggers reach their APIs through the same HTTP layer as modules: the [`CallContext`]
//! carries the trigger's connection, the process's HTTP runtime and a cancellation token.

use std::time::Duration;

use serde_json::Value as Json;

use crate::module::{CallContext, ErrorKind, ModuleError};

/// How a trigger learns of events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerMode {
    /// The service calls a URL of ours (a webhook subscription).
    Instant,
    /// We ask the service every `interval` (the trigger's `interval` parameter may change it).
    Polling { interval: Duration },
}

/// One event: the run's `trigger`, and what identifies the event among all others of the flow.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerEvent {
    /// Unique per event (e.g. the record's id and its modification time): an event whose key
    /// already started a run starts nothing.
    pub key: String,
    /// The run's `trigger`.
    pub event: Json,
}

/// What a poll found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Polled {
    /// The events since the cursor, oldest first.
    pub events: Vec<TriggerEvent>,
    /// The cursor to poll from next time; `None` keeps the one given.
    pub cursor: Option<Json>,
}

/// A subscription the service holds for us (instant triggers).
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    /// The service's id of the subscription, kept to remove it.
    pub id: String,
    /// Whether it already existed (a restart found its own subscription and kept it).
    pub existing: bool,
}

/// A connector trigger such as `onecrm.new_event`. `params` is the trigger's block in the flow
/// (validated against the catalog's schema).
#[async_trait::async_trait]
pub trait Trigger: Send + Sync {
    /// The name after the dot in the trigger's key.
    fn name(&self) -> &str;

    /// Instant or polling, for these parameters.
    fn mode(&self, params: &Json) -> TriggerMode;

    /// Instant triggers: makes sure the service calls `callback_url` for the events `params`
    /// describe: an existing subscription to exactly that URL is kept (re-registering is
    /// idempotent), otherwise one is created.
    async fn subscribe(
        &self,
        context: &CallContext,
        _params: &Json,
        _callback_url: &str,
    ) -> Result<Subscription, ModuleError> {
        Err(unsupported(self.name(), "subscribe", context))
    }

    /// Instant triggers: removes a subscription. One already gone is not an error.
    async fn unsubscribe(
        &self,
        context: &CallContext,
        _params: &Json,
        _subscription_id: &str,
    ) -> Result<(), ModuleError> {
        Err(unsupported(self.name(), "unsubscribe", context))
    }

    /// Instant triggers: the run a delivery starts, or `None` when the delivery is not one of
    /// the events `params` ask for (another type, a record since deleted).
    async fn event(
        &self,
        context: &CallContext,
        _params: &Json,
        _body: Json,
    ) -> Result<Option<TriggerEvent>, ModuleError> {
        Err(unsupported(self.name(), "event", context))
    }

    /// Polling triggers: the events after `cursor` (`None`: the first poll, which starts from
    /// now or from the trigger's `since` parameter, never from the beginning of time).
    async fn poll(&self, context: &CallContext, _params: &Json, _cursor: Option<Json>) -> Result<Polled, ModuleError> {
        Err(unsupported(self.name(), "poll", context))
    }
}

fn unsupported(name: &str, operation: &str, context: &CallContext) -> ModuleError {
    ModuleError::new(
        ErrorKind::Invalid,
        format!("{}: the trigger `{name}` cannot {operation}", context.location()),
    )
}
