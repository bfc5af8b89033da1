//! The schedules of every scheduled flow, and which ticks are due: what the serve loop asks
//! each time it wakes, with the clock given (so tests drive it across days and DST changes
//! in microseconds).
//!
//! A tick is identified by its flow and its instant, so that several workers queueing the same
//! tick can be made to run it once (the queue's unique key). The ticker itself only says what
//! is due; the caller skips a tick whose flow still has a run going (overlap) and logs it.

use indexmap::IndexMap;
use jiff::Timestamp;

use crate::schedule::CompiledSchedule;

/// One due tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tick {
    pub flow: String,
    /// The instant the schedule names; the run's `trigger` says it.
    pub at: Timestamp,
    /// A tick missed while flowrun was down, run once by `catch_up: last`.
    pub caught_up: bool,
}

/// Every scheduled flow's next tick.
#[derive(Debug, Default)]
pub struct Ticker {
    flows: IndexMap<String, Entry>,
}

#[derive(Debug)]
struct Entry {
    schedule: CompiledSchedule,
    next: Option<Timestamp>,
}

impl Ticker {
    /// Adds (or replaces, after the flow file changed) a flow's schedule at `now`. `last` is
    /// the last tick of the flow that ran, if the state store knows one: with `catch_up: last`
    /// the latest tick missed since then is returned, to queue now.
    pub fn set(
        &mut self,
        flow: &str,
        schedule: CompiledSchedule,
        last: Option<Timestamp>,
        now: Timestamp,
    ) -> Option<Tick> {
        let missed = last.and_then(|last| schedule.missed(last, now));
        let next = schedule.next_after(now);
        self.flows.insert(flow.to_owned(), Entry { schedule, next });
        missed.map(|at| Tick {
            flow: flow.to_owned(),
            at,
            caught_up: true,
        })
    }

    /// Stops scheduling a flow (its file was removed or no longer has a schedule).
    pub fn remove(&mut self, flow: &str) -> bool {
        self.flows.shift_remove(flow).is_some()
    }

    /// The ticks due at `now`, each once, in the order of their instants. A flow whose several
    /// ticks passed while the loop slept (a suspended machine) gets its latest one only: the
    /// ticks are not a backlog to replay.
    pub fn due(&mut self, now: Timestamp) -> Vec<Tick> {
        let mut due = Vec::new();
        for (flow, entry) in &mut self.flows {
            let Some(next) = entry.next else { continue };
            if next > now {
                continue;
            }
            let latest = entry
                .schedule
                .previous_at_or_before(now)
                .filter(|latest| *latest >= next)
                .unwrap_or(next);
            entry.next = entry.schedule.next_after(now);
            due.push(Tick {
                flow: flow.clone(),
                at: latest,
                caught_up: false,
            });
        }
        due.sort_by_key(|tick| tick.at);
        due
    }

    /// When the loop must wake next: the earliest next tick of any flow.
    pub fn next_wake(&self) -> Option<Timestamp> {
        self.flows.values().filter_map(|entry| entry.next).min()
    }

    /// The flows scheduled, with their next tick.
    pub fn scheduled(&self) -> impl Iterator<Item = (&str, Option<Timestamp>)> {
        self.flows.iter().map(|(flow, entry)| (flow.as_str(), entry.next))
    }
}

#[cfg(test)]
mod tests;
