use flowrun_flow::model::{CatchUp, Schedule};
use jiff::Timestamp;

use super::CompiledSchedule;

fn schedule(cron: &str, timezone: Option<&str>, catch_up: Option<CatchUp>) -> CompiledSchedule {
    CompiledSchedule::new(&Schedule {
        cron: cron.to_owned(),
        timezone: timezone.map(str::to_owned),
        catch_up,
    })
    .unwrap()
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// The ticks after `from` up to `until`, inclusive.
fn ticks(schedule: &CompiledSchedule, from: &str, until: &str) -> Vec<String> {
    let mut ticks = Vec::new();
    let mut now = at(from);
    while let Some(next) = schedule.next_after(now) {
        if next > at(until) {
            break;
        }
        ticks.push(next.to_string());
        now = next;
    }
    ticks
}

#[test]
fn minutes_and_seconds_in_utc() {
    let quarter = schedule("*/15 * * * *", None, None);
    assert_eq!(
        quarter.next_after(at("2026-12-04T10:07:00Z")),
        Some(at("2026-12-04T10:15:00Z"))
    );
    assert_eq!(
        quarter.next_after(at("2026-12-04T10:15:00Z")),
        Some(at("2026-12-04T10:30:00Z"))
    );
    let tens = schedule("*/10 * * * * *", None, None);
    assert_eq!(
        tens.next_after(at("2026-12-04T10:00:05Z")),
        Some(at("2026-12-04T10:00:10Z"))
    );
    let never = schedule("0 0 30 2 *", None, None);
    assert_eq!(never.next_after(at("2026-12-04T10:00:05Z")), None);
}

#[test]
fn a_zone_reads_the_wall_clock() {
    // 05:00 in Amsterdam is 04:00 UTC in winter, 03:00 UTC in summer.
    let five = schedule("0 5 * * *", Some("Europe/Amsterdam"), None);
    assert_eq!(
        five.next_after(at("2026-12-04T10:00:00Z")),
        Some(at("2026-12-05T04:00:00Z"))
    );
    assert_eq!(
        five.next_after(at("2026-07-01T10:00:00Z")),
        Some(at("2026-07-02T03:00:00Z"))
    );
}

#[test]
fn a_time_in_the_spring_forward_gap_fires_once_at_its_end() {
    // 2026-03-29: Amsterdam goes from 02:00 CET straight to 03:00 CEST (01:00 UTC).
    let half_past_two = schedule("30 2 * * *", Some("Europe/Amsterdam"), None);
    assert_eq!(
        ticks(&half_past_two, "2026-03-28T00:00:00Z", "2026-03-30T12:00:00Z"),
        ["2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"]
    );
    let half_hourly = schedule("*/30 * * * *", Some("Europe/Amsterdam"), None);
    assert_eq!(
        ticks(&half_hourly, "2026-03-29T00:00:00Z", "2026-03-29T01:30:00Z"),
        ["2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z"],
        "01:30 CET, then 02:00, 02:30 and 03:00 together at the gap's end, then 03:30 CEST"
    );
}

#[test]
fn a_time_in_the_fall_back_fold_fires_once_in_its_first_pass() {
    // 2026-10-25: Amsterdam goes from 03:00 CEST back to 02:00 CET (01:00 UTC).
    let half_past_two = schedule("30 2 * * *", Some("Europe/Amsterdam"), None);
    assert_eq!(
        ticks(&half_past_two, "2026-10-24T00:00:00Z", "2026-10-26T12:00:00Z"),
        ["2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]
    );
    // During the second pass, the tick of the first is not fired again.
    assert_eq!(
        half_past_two.next_after(at("2026-10-25T01:10:00Z")),
        Some(at("2026-10-26T01:30:00Z"))
    );
    let quarterly = schedule("*/15 * * * *", Some("Europe/Amsterdam"), None);
    assert_eq!(
        ticks(&quarterly, "2026-10-24T23:59:59Z", "2026-10-25T02:00:00Z"),
        [
            "2026-10-25T00:00:00Z",
            "2026-10-25T00:15:00Z",
            "2026-10-25T00:30:00Z",
            "2026-10-25T00:45:00Z",
            "2026-10-25T02:00:00Z"
        ],
        "02:00–02:45 once (first pass), then 03:00 CET"
    );
}

#[test]
fn catch_up_last_runs_the_latest_missed_tick_once() {
    let daily = schedule("0 5 * * *", Some("UTC"), Some(CatchUp::Last));
    assert_eq!(
        daily.missed(at("2026-12-01T05:00:00Z"), at("2026-12-03T10:00:00Z")),
        Some(at("2026-12-03T05:00:00Z"))
    );
    assert_eq!(
        daily.missed(at("2026-12-03T05:00:00Z"), at("2026-12-03T10:00:00Z")),
        None,
        "nothing missed"
    );
    let none = schedule("0 5 * * *", Some("UTC"), None);
    assert_eq!(
        none.missed(at("2026-12-01T05:00:00Z"), at("2026-12-03T10:00:00Z")),
        None
    );
}

#[test]
fn bad_expressions_and_zones_are_errors() {
    let error = CompiledSchedule::new(&Schedule {
        cron: "61 * * * *".to_owned(),
        timezone: None,
        catch_up: None,
    })
    .unwrap_err();
    assert!(
        error.to_string().starts_with("`61 * * * *` is not a cron expression"),
        "{error}"
    );
    let error = CompiledSchedule::new(&Schedule {
        cron: "* * * * *".to_owned(),
        timezone: Some("Mars/Olympus".to_owned()),
        catch_up: None,
    })
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "`Mars/Olympus` is not an IANA time zone (e.g. `Europe/Amsterdam`)"
    );
}

proptest::proptest! {
    /// Ticks only move forward, in any zone, around any instant (DST changes included).
    #[test]
    fn ticks_move_forward(
        seconds in 1_700_000_000i64..1_900_000_000,
        cron in proptest::sample::select(vec!["*/15 * * * *", "30 2 * * *", "0 */7 * * * *", "0 0 1 * *", "@daily"]),
        zone in proptest::sample::select(vec!["UTC", "Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe"]),
    ) {
        let schedule = schedule(cron, Some(zone), None);
        let start = Timestamp::from_second(seconds).unwrap();
        let first = schedule.next_after(start).unwrap();
        proptest::prop_assert!(first > start);
        let second = schedule.next_after(first).unwrap();
        proptest::prop_assert!(second > first);
    }

    /// Whatever the text, parsing answers without a panic.
    #[test]
    fn any_cron_text_is_parsed_or_refused(cron in "\\PC{0,40}") {
        let _ = CompiledSchedule::new(&Schedule { cron, timezone: None, catch_up: None });
    }
}

#[test]
fn the_latest_tick_at_or_before_an_instant() {
    let half_past_two = schedule("30 2 * * *", Some("Europe/Amsterdam"), None);
    // Before the gap ends, the gap's tick has not fired: the day before's did.
    assert_eq!(
        half_past_two.previous_at_or_before(at("2026-03-29T00:45:00Z")),
        Some(at("2026-03-28T01:30:00Z"))
    );
    assert_eq!(
        half_past_two.previous_at_or_before(at("2026-03-29T01:00:00Z")),
        Some(at("2026-03-29T01:00:00Z"))
    );
    assert_eq!(
        half_past_two.previous_at_or_before(at("2026-10-25T01:45:00Z")),
        Some(at("2026-10-25T00:30:00Z")),
        "in the fold's second pass, the tick of its first"
    );
}
