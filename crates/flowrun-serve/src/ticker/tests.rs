use flowrun_flow::model::{CatchUp, Schedule};
use jiff::Timestamp;

use super::{Tick, Ticker};
use crate::schedule::CompiledSchedule;

fn schedule(cron: &str, timezone: &str, catch_up: Option<CatchUp>) -> CompiledSchedule {
    CompiledSchedule::new(&Schedule {
        cron: cron.to_owned(),
        timezone: Some(timezone.to_owned()),
        catch_up,
    })
    .unwrap()
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn tick(flow: &str, when: &str) -> Tick {
    Tick {
        flow: flow.to_owned(),
        at: at(when),
        caught_up: false,
    }
}

/// Drives the ticker minute by minute from `from` to `until`, as a loop that wakes every
/// minute would: every tick it hands out.
fn drive(ticker: &mut Ticker, from: &str, until: &str) -> Vec<Tick> {
    let mut now = at(from);
    let mut all = Vec::new();
    while now <= at(until) {
        all.extend(ticker.due(now));
        now = now.checked_add(jiff::SignedDuration::from_secs(60)).unwrap();
    }
    all
}

#[test]
fn each_tick_is_handed_out_once_across_a_dst_change() {
    let mut ticker = Ticker::default();
    let start = at("2026-10-24T12:00:00Z");
    assert_eq!(
        ticker.set("nightly", schedule("30 2 * * *", "Europe/Amsterdam", None), None, start),
        None
    );
    assert_eq!(
        ticker.set("hourly", schedule("0 * * * *", "UTC", None), None, start),
        None
    );
    assert_eq!(ticker.next_wake(), Some(at("2026-10-24T13:00:00Z")));

    let ticks = drive(&mut ticker, "2026-10-24T12:00:00Z", "2026-10-26T12:00:00Z");
    let nightly: Vec<&Tick> = ticks.iter().filter(|tick| tick.flow == "nightly").collect();
    // 02:30 CEST on the 25th (the fold's first pass), 02:30 CET on the 26th.
    assert_eq!(
        nightly,
        [
            &tick("nightly", "2026-10-25T00:30:00Z"),
            &tick("nightly", "2026-10-26T01:30:00Z")
        ]
    );
    let hourly = ticks.iter().filter(|tick| tick.flow == "hourly").count();
    assert_eq!(hourly, 48, "every UTC hour of the two days, once");
}

#[test]
fn a_late_wake_hands_out_the_latest_tick_only() {
    let mut ticker = Ticker::default();
    ticker.set(
        "quarterly",
        schedule("*/15 * * * *", "UTC", None),
        None,
        at("2026-12-04T10:00:00Z"),
    );
    // The machine slept from 10:00 to 11:07.
    assert_eq!(
        ticker.due(at("2026-12-04T11:07:00Z")),
        [tick("quarterly", "2026-12-04T11:00:00Z")]
    );
    assert_eq!(ticker.due(at("2026-12-04T11:08:00Z")), []);
    assert_eq!(ticker.next_wake(), Some(at("2026-12-04T11:15:00Z")));
}

#[test]
fn a_restart_catches_up_the_last_missed_tick_when_asked() {
    let mut ticker = Ticker::default();
    let now = at("2026-12-04T10:00:00Z");
    let last = Some(at("2026-12-01T05:00:00Z"));
    let caught = ticker.set("daily", schedule("0 5 * * *", "UTC", Some(CatchUp::Last)), last, now);
    assert_eq!(
        caught,
        Some(Tick {
            flow: "daily".to_owned(),
            at: at("2026-12-04T05:00:00Z"),
            caught_up: true
        })
    );
    assert_eq!(ticker.set("plain", schedule("0 5 * * *", "UTC", None), last, now), None);
    assert!(ticker.remove("plain"));
    assert!(!ticker.remove("plain"));
    assert_eq!(ticker.scheduled().count(), 1);
}
