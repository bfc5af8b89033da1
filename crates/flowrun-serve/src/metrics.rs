//! `GET /metrics`: the Prometheus text format.
//!
//! Counted by this process: runs ended (by flow and status), step durations, trigger events
//! (by source and what became of them), webhook answers (by status code), module HTTP calls
//! (by connection and status). Read from the state store at each scrape, so every worker shows
//! the same figures: runs by status and the queue's depth.

use std::sync::Mutex;

use flowrun_engine::run::RunOutcome;
use flowrun_state::{RunStatus, StateStore};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

/// Every metric of the process.
pub struct Metrics {
    registry: Mutex<Registry>,
    runs_ended: Family<Labels, Counter>,
    step_seconds: Family<Labels, Histogram, fn() -> Histogram>,
    trigger_events: Family<Labels, Counter>,
    webhook_responses: Family<Labels, Counter>,
    http_requests: Family<Labels, Counter>,
    runs_stored: Family<Labels, Gauge>,
    queue_depth: Gauge,
    flows_served: Gauge,
    flows_refused: Gauge,
}

fn step_histogram() -> Histogram {
    // 1 ms to about 9 minutes.
    Histogram::new(exponential_buckets(0.001, 2.0, 20))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("flowrun");
        let metrics = Metrics {
            runs_ended: Family::default(),
            step_seconds: Family::new_with_constructor(step_histogram as fn() -> Histogram),
            trigger_events: Family::default(),
            webhook_responses: Family::default(),
            http_requests: Family::default(),
            runs_stored: Family::default(),
            queue_depth: Gauge::default(),
            flows_served: Gauge::default(),
            flows_refused: Gauge::default(),
            registry: Mutex::new(Registry::default()),
        };
        registry.register(
            "runs_ended",
            "Runs this process ended, by flow and status",
            metrics.runs_ended.clone(),
        );
        registry.register(
            "step_duration_seconds",
            "How long steps took, by flow, step and status",
            metrics.step_seconds.clone(),
        );
        registry.register(
            "trigger_events",
            "Schedule ticks, webhook deliveries and connector events, by source and outcome (queued, duplicate, skipped, refused)",
            metrics.trigger_events.clone(),
        );
        registry.register(
            "webhook_responses",
            "Answers to webhook and trigger callback requests, by status code",
            metrics.webhook_responses.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests of connector modules, by connection and status (or error kind when no answer came)",
            metrics.http_requests.clone(),
        );
        registry.register(
            "runs",
            "Runs in the state store, by status (all workers)",
            metrics.runs_stored.clone(),
        );
        registry.register(
            "queue_depth",
            "Runs queued and not yet claimed (all workers)",
            metrics.queue_depth.clone(),
        );
        registry.register(
            "flows_served",
            "Flows this process serves",
            metrics.flows_served.clone(),
        );
        registry.register(
            "flows_refused",
            "Flow files under the folder that are not served (invalid)",
            metrics.flows_refused.clone(),
        );
        if let Ok(mut slot) = metrics.registry.lock() {
            *slot = registry;
        }
        metrics
    }
}

impl Metrics {
    pub fn set_flows(&self, served: usize, refused: usize) {
        self.flows_served.set(i64::try_from(served).unwrap_or(i64::MAX));
        self.flows_refused.set(i64::try_from(refused).unwrap_or(i64::MAX));
    }

    pub fn count_trigger(&self, source: &'static str, outcome: &'static str) {
        self.trigger_events
            .get_or_create(&vec![("source", source.to_owned()), ("outcome", outcome.to_owned())])
            .inc();
    }

    pub fn count_response(&self, status: u16) {
        self.webhook_responses
            .get_or_create(&vec![("code", status.to_string())])
            .inc();
    }

    pub fn count_http(&self, connection: &str, status: &str) {
        self.http_requests
            .get_or_create(&vec![
                ("connection", connection.to_owned()),
                ("status", status.to_owned()),
            ])
            .inc();
    }

    /// A run this process ended, with its steps' durations.
    pub fn run_ended(&self, flow: &str, outcome: &RunOutcome) {
        self.runs_ended
            .get_or_create(&vec![("flow", flow.to_owned()), ("status", outcome.status.to_string())])
            .inc();
        for (step, summary) in &outcome.steps {
            self.step_seconds
                .get_or_create(&vec![
                    ("flow", flow.to_owned()),
                    ("step", step.clone()),
                    ("status", summary.status.to_string()),
                ])
                .observe(summary.duration.as_secs_f64());
        }
    }

    /// A run that did not end here (handed back, or refused by the store).
    pub fn run_interrupted(&self, flow: &str, why: &'static str) {
        self.runs_ended
            .get_or_create(&vec![("flow", flow.to_owned()), ("status", why.to_owned())])
            .inc();
    }

    /// The text of `/metrics`, with the store's figures read now.
    pub async fn render(&self, store: &dyn StateStore) -> String {
        match store.count_runs().await {
            Ok(counts) => {
                for status in RunStatus::ALL {
                    let count = counts
                        .iter()
                        .find(|(counted, _)| counted == status)
                        .map_or(0, |(_, count)| *count);
                    self.runs_stored
                        .get_or_create(&vec![("status", status.to_string())])
                        .set(i64::try_from(count).unwrap_or(i64::MAX));
                }
            }
            Err(error) => tracing::warn!(%error, "/metrics: the runs could not be counted"),
        }
        match store.queue_depth().await {
            Ok(depth) => {
                self.queue_depth.set(i64::try_from(depth).unwrap_or(i64::MAX));
            }
            Err(error) => tracing::warn!(%error, "/metrics: the queue depth could not be read"),
        }
        let mut text = String::new();
        let encoded = match self.registry.lock() {
            Ok(registry) => encode(&mut text, &registry),
            Err(poisoned) => encode(&mut text, &poisoned.into_inner()),
        };
        if encoded.is_err() {
            tracing::warn!("/metrics: the metrics could not be written");
        }
        text
    }
}
