//! When a `schedule` trigger fires: a cron expression (five fields, or six with seconds first)
//! read on the **wall clock** of an IANA time zone.
//!
//! Each wall-clock time the expression names fires once, whatever the zone's clocks do:
//!
//! - **Spring forward** (a gap: 02:00–03:00 does not exist): a time in the gap fires at the end
//!   of the gap, 03:00, once; several times of one gap fire there once together.
//! - **Fall back** (a fold: 02:00–03:00 happens twice): a time in the fold fires in its first
//!   pass only. A job every 15 minutes therefore runs four times in that two-hour stretch, not
//!   eight: the wall clock shows 02:15 twice, and 02:15 is one tick.
//!
//! croner finds the cron's wall-clock times (chrono's naive arithmetic, no zone); jiff maps them
//! to instants in the zone.

use chrono::{NaiveDate, NaiveDateTime, TimeZone as _, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use flowrun_flow::model::{CatchUp, Schedule};
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};

/// A schedule, parsed once.
#[derive(Debug, Clone)]
pub struct CompiledSchedule {
    cron: Cron,
    zone: TimeZone,
    catch_up: CatchUp,
}

/// Why a schedule cannot be used (the validator reports these first, with their line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("`{cron}` is not a cron expression: {reason}")]
    Cron { cron: String, reason: String },
    #[error("`{0}` is not an IANA time zone (e.g. `Europe/Amsterdam`)")]
    Zone(String),
}

/// The most ticks [`CompiledSchedule::next_after`] skips over while looking for one after a
/// given instant: only ticks inside a fold are skipped, at most an hour's worth of seconds.
const MAX_SKIPPED: usize = 10_000;

impl CompiledSchedule {
    pub fn new(schedule: &Schedule) -> Result<CompiledSchedule, ScheduleError> {
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(schedule.cron.trim())
            .map_err(|error| ScheduleError::Cron {
                cron: schedule.cron.clone(),
                reason: error.to_string(),
            })?;
        let zone = match &schedule.timezone {
            None => TimeZone::UTC,
            Some(name) => TimeZone::get(name).map_err(|_| ScheduleError::Zone(name.clone()))?,
        };
        Ok(CompiledSchedule {
            cron,
            zone,
            catch_up: schedule.catch_up.unwrap_or(CatchUp::None),
        })
    }

    /// The first tick strictly after `after`, or `None` when the expression names no later time
    /// (e.g. February 30th).
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        let mut wall = self.zone.to_datetime(after);
        for _ in 0..MAX_SKIPPED {
            let next = self.cron.find_next_occurrence(&as_chrono(wall)?, false).ok()?;
            wall = from_chrono(next.naive_utc())?;
            let at = self.instant(wall)?;
            // A tick in the first pass of a fold maps before an instant of its second pass:
            // it has fired already.
            if at > after {
                return Some(at);
            }
        }
        None
    }

    /// After downtime: the tick to run now for the ticks missed between `last` (the last tick
    /// that ran, or when the schedule started) and `now`. `catch_up: last` runs the latest
    /// missed tick once; `none` runs nothing.
    pub fn missed(&self, last: Timestamp, now: Timestamp) -> Option<Timestamp> {
        if self.catch_up == CatchUp::None {
            return None;
        }
        self.previous_at_or_before(now).filter(|at| *at > last)
    }

    /// The latest tick at or before `now`.
    pub fn previous_at_or_before(&self, now: Timestamp) -> Option<Timestamp> {
        let mut wall = self.zone.to_datetime(now);
        let mut inclusive = true;
        for _ in 0..MAX_SKIPPED {
            let previous = self.cron.find_previous_occurrence(&as_chrono(wall)?, inclusive).ok()?;
            wall = from_chrono(previous.naive_utc())?;
            inclusive = false;
            let at = self.instant(wall)?;
            // A time in a gap fires at the gap's end, which may be after `now`.
            if at <= now {
                return Some(at);
            }
        }
        None
    }

    /// The instant a wall-clock time fires at: the time itself where it exists once, its first
    /// pass in a fold, the end of the gap in a gap.
    fn instant(&self, wall: DateTime) -> Option<Timestamp> {
        let ambiguous = self.zone.to_ambiguous_timestamp(wall);
        match ambiguous.offset() {
            AmbiguousOffset::Unambiguous { offset } | AmbiguousOffset::Fold { before: offset, .. } => {
                offset.to_timestamp(wall).ok()
            }
            AmbiguousOffset::Gap { after, .. } => {
                // Read with the offset after the gap, the time lands before the transition;
                // the transition itself is the gap's end.
                let before_gap = after.to_timestamp(wall).ok()?;
                let transition = self.zone.following(before_gap).next()?;
                Some(transition.timestamp())
            }
        }
    }
}

/// A civil time as chrono's, in UTC standing for "no zone": croner then counts plain
/// wall-clock time.
fn as_chrono(wall: DateTime) -> Option<chrono::DateTime<Utc>> {
    let date = NaiveDate::from_ymd_opt(i32::from(wall.year()), wall.month() as u32, wall.day() as u32)?;
    let time = date.and_hms_nano_opt(
        wall.hour() as u32,
        wall.minute() as u32,
        wall.second() as u32,
        wall.subsec_nanosecond() as u32,
    )?;
    Some(Utc.from_utc_datetime(&time))
}

fn from_chrono(naive: NaiveDateTime) -> Option<DateTime> {
    use chrono::{Datelike, Timelike};
    DateTime::new(
        i16::try_from(naive.year()).ok()?,
        i8::try_from(naive.month()).ok()?,
        i8::try_from(naive.day()).ok()?,
        i8::try_from(naive.hour()).ok()?,
        i8::try_from(naive.minute()).ok()?,
        i8::try_from(naive.second()).ok()?,
        0,
    )
    .ok()
}

#[cfg(test)]
mod tests;
