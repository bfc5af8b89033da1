//! The schedule loop: queues each due tick of every scheduled flow, once across all workers.
//!
//! Every worker process runs this loop; a tick is queued with the key `schedule:<instant>`,
//! unique per flow in the store, so when several processes queue the same tick one run is made
//! and the others get it back as a duplicate. A tick whose flow still has a run queued or
//! running is skipped and logged (no overlapping runs of one flow).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use flowrun_state::{QueuedRun, RunFilter};
use jiff::Timestamp;
use serde_json::json;

use crate::service::Service;
use crate::ticker::{Tick, Ticker};

/// The longest the loop sleeps: it wakes to notice a changed clock (a suspended machine).
const MAX_SLEEP: Duration = Duration::from_secs(60);

pub async fn run_scheduler(service: Arc<Service>) {
    let mut ticker = Ticker::default();
    // The schedule of each flow as last set, to tell a changed flow from an unchanged one.
    let mut known: HashMap<String, String> = HashMap::new();
    loop {
        let changed = service.flows_changed.notified();
        sync(&service, &mut ticker, &mut known).await;
        for tick in ticker.due(Timestamp::now()) {
            queue(&service, &tick).await;
        }
        let sleep = ticker
            .next_wake()
            .map(|next| {
                let wait = next.duration_since(Timestamp::now());
                Duration::try_from(wait).unwrap_or(Duration::ZERO)
            })
            .unwrap_or(MAX_SLEEP)
            .min(MAX_SLEEP);
        tokio::select! {
            () = tokio::time::sleep(sleep) => {}
            () = changed => {}
            () = service.shutdown.cancelled() => return,
        }
    }
}

/// Adds new and changed schedules, removes those gone; queues a missed tick of `catch_up: last`.
async fn sync(service: &Service, ticker: &mut Ticker, known: &mut HashMap<String, String>) {
    let flows = service.flows();
    let mut seen = Vec::new();
    for entry in flows.entries() {
        let (Some(schedule), Some(flowrun_flow::model::Trigger::Schedule(config))) =
            (&entry.schedule, &entry.flow.trigger)
        else {
            continue;
        };
        let id = entry.flow.id.clone();
        seen.push(id.clone());
        let fingerprint = format!("{config:?}");
        if known.get(&id) == Some(&fingerprint) {
            continue;
        }
        let last = last_tick(service, &id).await;
        let now = Timestamp::now();
        let missed = ticker.set(&id, schedule.clone(), last, now);
        tracing::info!(
            flow = %id,
            next = %ticker.scheduled().find(|(flow, _)| *flow == id).and_then(|(_, next)| next).map_or("never".to_owned(), |next| next.to_string()),
            "scheduled"
        );
        known.insert(id, fingerprint);
        if let Some(tick) = missed {
            tracing::info!(flow = %tick.flow, tick = %tick.at, "catch_up: last: running the tick missed while flowrun was down");
            queue(service, &tick).await;
        }
    }
    known.retain(|id, _| {
        let keep = seen.contains(id);
        if !keep {
            ticker.remove(id);
            tracing::info!(flow = %id, "unscheduled");
        }
        keep
    });
}

/// The instant of the flow's latest tick that was queued, from its recent runs.
async fn last_tick(service: &Service, flow_id: &str) -> Option<Timestamp> {
    let filter = RunFilter {
        flow_id: Some(flow_id.to_owned()),
        status: None,
        limit: 50,
    };
    let runs = match service.store.list_runs(&filter).await {
        Ok(runs) => runs,
        Err(error) => {
            tracing::warn!(flow = %flow_id, %error, "the last tick could not be read; catch_up ignored");
            return None;
        }
    };
    runs.iter()
        .filter_map(|run| {
            run.dedupe_key
                .as_deref()?
                .strip_prefix(TICK_KEY)?
                .parse::<Timestamp>()
                .ok()
        })
        .max()
}

const TICK_KEY: &str = "schedule:";

async fn queue(service: &Service, tick: &Tick) {
    let Some(entry) = service.flows().get(&tick.flow).cloned() else {
        return;
    };
    let run = QueuedRun {
        flow_id: tick.flow.clone(),
        flow_version: entry.flow.flow_version.clone(),
        trigger: Some(json!({
            "type": "schedule",
            "scheduled_at": tick.at.to_string(),
            "caught_up": tick.caught_up,
        })),
        inputs: Some(entry.flow.inputs.clone()),
        dedupe_key: Some(format!("{TICK_KEY}{}", tick.at)),
        skip_if_active: true,
    };
    if let Err(error) = service.enqueue(run, "schedule").await {
        tracing::error!(flow = %tick.flow, tick = %tick.at, %error, "the tick could not be queued");
    }
}
