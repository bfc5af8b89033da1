//! Conexiom's dates: ISO 8601 without a zone (`2024-05-02T14:03:11`), as ASP.NET writes a
//! `DateTime` by default; and the date forms a delta parameter may carry.
//!
//! Records keep Unix seconds (UTC); text is made only when a record is rendered.

use jiff::tz::Offset;
use jiff::{Timestamp, civil};

/// Seconds of a day, for dates at midnight.
pub const DAY: i64 = 86_400;

/// `2024-05-02T14:03:11` (UTC, no zone) of Unix seconds.
// UNSURE (apis/conexiom.md): dates may carry `Z` or an offset; the simulator writes none,
// in UTC.
pub fn format(unix: i64) -> String {
    match Timestamp::from_second(unix) {
        Ok(timestamp) => Offset::UTC.to_datetime(timestamp).to_string(),
        // Far outside any date the simulator makes (years -9999 to 9999).
        Err(_) => String::new(),
    }
}

/// Midnight (UTC) of the day of Unix seconds.
pub fn midnight(unix: i64) -> i64 {
    unix - unix.rem_euclid(DAY)
}

/// A delta parameter's value as nanoseconds since the Unix epoch; `None` when it is no date.
///
/// Accepted: `yyyy-MM-ddTHH:mm:ss` with or without fractional seconds, `yyyy-MM-dd`
/// (midnight), and either with a trailing `Z` or an offset. A value without a zone is UTC.
// UNSURE (apis/conexiom.md): the server's zone; ASP.NET would read a zone-less value in the
// server's local time and convert one with `Z` or an offset to it. Both are taken as UTC here.
pub fn parse(text: &str) -> Option<i128> {
    let text = text.trim();
    if let Ok(timestamp) = text.parse::<Timestamp>() {
        return Some(timestamp.as_nanosecond());
    }
    let datetime = match text.parse::<civil::DateTime>() {
        Ok(datetime) => datetime,
        Err(_) => text.parse::<civil::Date>().ok()?.to_datetime(civil::Time::midnight()),
    };
    Offset::UTC
        .to_timestamp(datetime)
        .ok()
        .map(|timestamp| timestamp.as_nanosecond())
}

/// Whether Unix seconds `unix` lie at or after `from` (nanoseconds): delta filters are
/// inclusive.
// UNSURE (apis/conexiom.md): inclusive (`>=`) rather than `>`.
pub fn at_or_after(unix: i64, from: i128) -> bool {
    i128::from(unix) * 1_000_000_000 >= from
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_without_zone_or_fraction() {
        assert_eq!(format(0), "1970-01-01T00:00:00");
        assert_eq!(format(1_714_658_591), "2024-05-02T14:03:11");
        assert_eq!(format(midnight(1_714_658_591)), "2024-05-02T00:00:00");
    }

    #[test]
    fn parses_every_accepted_form() {
        let second = |unix: i64| Some(i128::from(unix) * 1_000_000_000);
        assert_eq!(parse("2024-05-02T14:03:11"), second(1_714_658_591));
        assert_eq!(parse("2024-05-02t14:03:11"), second(1_714_658_591));
        assert_eq!(parse(" 2024-05-02T14:03:11 "), second(1_714_658_591));
        assert_eq!(parse("2024-05-02T14:03:11Z"), second(1_714_658_591));
        assert_eq!(parse("2024-05-02T16:03:11+02:00"), second(1_714_658_591));
        assert_eq!(parse("2024-05-02"), second(1_714_608_000));
        assert_eq!(
            parse("2024-05-02T14:03:11.250"),
            Some(i128::from(1_714_658_591) * 1_000_000_000 + 250_000_000)
        );
        for junk in ["", "yesterday", "2024-13-01", "2024-05-02T25:00:00", "1714658591"] {
            assert_eq!(parse(junk), None, "{junk}");
        }
    }

    #[test]
    fn delta_comparison_is_inclusive() {
        let from = parse("2024-05-02T14:03:11").expect("a date");
        assert!(at_or_after(1_714_658_591, from));
        assert!(!at_or_after(1_714_658_590, from));
        let fraction = parse("2024-05-02T14:03:11.5").expect("a date");
        assert!(!at_or_after(1_714_658_591, fraction));
        assert!(at_or_after(1_714_658_592, fraction));
    }
}
