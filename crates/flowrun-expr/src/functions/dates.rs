//! Dates and times: `now`, `date`, `parse_date`, `date_add`, `timestamp`, `from_timestamp`.
//!
//! A date value is an RFC 3339 string (`2024-01-31T10:00:00Z`, `…+01:00`), a plain date
//! (`2024-01-31`), a date and time without offset (`2024-01-31 10:00:00`, `…T10:00`) or a
//! unix timestamp in seconds (a number). Values without an offset are read in the `tz`
//! argument's zone, UTC by default. Other layouts (`31/01/2024`) are ambiguous and need
//! `parse_date` with a format.
//!
//! The RFC 3339 strings these functions produce are UTC with milliseconds,
//! `2024-01-31T10:00:00.000Z` (JavaScript's `toISOString`), so two of them compare as text
//! in time order. `now(tz)` is the one exception: it gives the zone's offset.

use jiff::fmt::strtime::{self, BrokenDownTime};
use jiff::fmt::temporal::{Pieces, PiecesOffset};
use jiff::tz::{Offset, TimeZone};
use jiff::{Span, Timestamp, Unit, Zoned};
use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Environment, Error, State, Value};

use super::{Kind, add_filter_and_function, expect_str, failure};

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_function("now", now);
    add_filter_and_function(env, "date", date);
    add_filter_and_function(env, "parse_date", parse_date);
    add_filter_and_function(env, "date_add", date_add);
    add_filter_and_function(env, "timestamp", timestamp);
    add_filter_and_function(env, "from_timestamp", from_timestamp);
}

/// `now()`: the current time, RFC 3339 UTC with milliseconds; `now("Europe/Amsterdam")`
/// gives that zone's offset. A test's fixed clock ([`crate::Runtime`]) is read when there is
/// one.
fn now(state: &State<'_, '_>, tz: Option<&Value>, kwargs: Kwargs) -> Result<String, Error> {
    let zone = zone_argument("now", tz, &kwargs)?;
    let instant = match crate::scope::runtime_of(state) {
        Some(runtime) => runtime.clock.now(),
        None => Timestamp::now(),
    };
    Ok(match zone {
        Some(zone) => rfc3339_in(&instant.to_zoned(zone)),
        None => rfc3339(instant),
    })
}

/// `date(value, format, tz?)`: the value formatted with strftime codes (`%Y-%m-%d`,
/// `%d/%m/%Y %H:%M`, `%A`…). Shown in `tz` when given, else in the value's own offset
/// (UTC for timestamps and values without one).
fn date(value: &Value, format: &Value, tz: Option<&Value>, kwargs: Kwargs) -> Result<String, Error> {
    let format = expect_str("date", "the format", format)?;
    let zone = zone_argument("date", tz, &kwargs)?;
    let instant = read_instant("date", value, zone.as_ref())?;
    let shown = match zone {
        Some(zone) => instant.with_time_zone(zone),
        None => instant,
    };
    strtime::format(format, &shown)
        .map_err(|error| failure("date", format_args!("cannot format with this format: {error}")))
}

/// `parse_date(value, format?, tz?)`: the value as RFC 3339 UTC. Without a format it takes
/// what every date function takes; with one it reads strptime codes (`%d/%m/%Y`). A value
/// without an offset is in `tz` (UTC by default).
fn parse_date(value: &Value, format: Option<&Value>, tz: Option<&Value>, kwargs: Kwargs) -> Result<String, Error> {
    let zone = zone_argument("parse_date", tz, &kwargs)?;
    let instant = match format {
        None => read_instant("parse_date", value, zone.as_ref())?.timestamp(),
        Some(format) => {
            let format = expect_str("parse_date", "the format", format)?;
            let text = expect_str("parse_date", "the value", value)?;
            parse_with_format(format, text, zone.unwrap_or(TimeZone::UTC))?
        }
    };
    Ok(rfc3339(instant))
}

fn parse_with_format(format: &str, text: &str, zone: TimeZone) -> Result<Timestamp, Error> {
    // jiff's messages quote the input: say only which format did not match.
    let mismatch = || failure("parse_date", "the value does not match the format");
    let parsed = BrokenDownTime::parse(format, text).map_err(|_| mismatch())?;
    if parsed.timestamp().is_some() || parsed.offset().is_some() {
        return parsed.to_timestamp().map_err(|_| mismatch());
    }
    if parsed.iana_time_zone().is_some() {
        return parsed.to_zoned().map(|zoned| zoned.timestamp()).map_err(|_| mismatch());
    }
    let civil = parsed
        .to_datetime()
        .map_err(|_| failure("parse_date", "the format must give at least a year, a month and a day"))?;
    civil
        .to_zoned(zone)
        .map(|zoned| zoned.timestamp())
        .map_err(|_| failure("parse_date", "the date is out of range"))
}

/// `date_add(value, amount, tz?)`: the value moved by a duration, RFC 3339 UTC. The amount
/// is `"1d"`, `"-2h30m"`, `"3 months"`, an ISO 8601 duration (`"P1DT2H"`) or a number of
/// seconds. Days and months are calendar units of `tz` (UTC by default).
fn date_add(value: &Value, amount: &Value, tz: Option<&Value>, kwargs: Kwargs) -> Result<String, Error> {
    let zone = zone_argument("date_add", tz, &kwargs)?;
    let span = if let Some(seconds) = amount.as_i64().filter(|_| amount.is_integer()) {
        Span::new()
            .try_seconds(seconds)
            .map_err(|_| failure("date_add", "the amount is out of range"))?
    } else if amount.as_str().is_some() {
        let text = expect_str("date_add", "the amount", amount)?;
        text.trim().parse::<Span>().map_err(|_| {
            failure(
                "date_add",
                "the amount is not a duration such as \"1d\", \"-2h30m\", \"3 months\" or \"P1D\"",
            )
        })?
    } else {
        return Err(failure(
            "date_add",
            format_args!(
                "the amount must be a duration string or a number of seconds, got {}",
                Kind(amount)
            ),
        ));
    };
    let start = read_instant("date_add", value, zone.as_ref())?;
    let start = start.with_time_zone(zone.unwrap_or(TimeZone::UTC));
    let moved = start
        .checked_add(span)
        .map_err(|_| failure("date_add", "the result is out of range"))?;
    Ok(rfc3339(moved.timestamp()))
}

/// `timestamp(value, unit?)`: unix time of a date value, in seconds (an integer) or, with
/// `"ms"`, milliseconds.
fn timestamp(value: &Value, unit: Option<&str>, kwargs: Kwargs) -> Result<i64, Error> {
    let zone = zone_argument("timestamp", None, &kwargs)?;
    let instant = read_instant("timestamp", value, zone.as_ref())?.timestamp();
    match unit {
        None | Some("s") => Ok(instant.as_second()),
        Some("ms") => Ok(instant.as_millisecond()),
        Some(_) => Err(failure("timestamp", "the unit must be \"s\" or \"ms\"")),
    }
}

/// `from_timestamp(n, unit?)`: RFC 3339 UTC of a unix time in seconds (fractions allowed) or,
/// with `"ms"`, milliseconds.
fn from_timestamp(value: &Value, unit: Option<&str>) -> Result<String, Error> {
    let scale = match unit {
        None | Some("s") => 1.0,
        Some("ms") => 1e-3,
        Some(_) => return Err(failure("from_timestamp", "the unit must be \"s\" or \"ms\"")),
    };
    if !value.is_number() {
        return Err(failure(
            "from_timestamp",
            format_args!("the value must be a number, got {}", Kind(value)),
        ));
    }
    Ok(rfc3339(unix_seconds("from_timestamp", value, scale)?))
}

/// A number of unix seconds (times `scale`) as an instant.
fn unix_seconds(function: &str, value: &Value, scale: f64) -> Result<Timestamp, Error> {
    let out_of_range = || failure(function, "the timestamp is out of range");
    if let (true, Some(whole), 1.0) = (value.is_integer(), value.as_i64(), scale) {
        return Timestamp::from_second(whole).map_err(|_| out_of_range());
    }
    let seconds = f64::try_from(value.clone()).map_err(|_| out_of_range())? * scale;
    if !seconds.is_finite() {
        return Err(out_of_range());
    }
    let duration = jiff::SignedDuration::try_from_secs_f64(seconds).map_err(|_| out_of_range())?;
    Timestamp::from_duration(duration).map_err(|_| out_of_range())
}

/// Reads a date value (see the module docs). A value with an offset keeps it; one without
/// is in `zone` (UTC when `None`).
fn read_instant(function: &str, value: &Value, zone: Option<&TimeZone>) -> Result<Zoned, Error> {
    let zone = zone.cloned().unwrap_or(TimeZone::UTC);
    match value.kind() {
        ValueKind::Number => return Ok(unix_seconds(function, value, 1.0)?.to_zoned(zone)),
        ValueKind::String | ValueKind::Bytes => {}
        _ => {
            return Err(failure(
                function,
                format_args!(
                    "the value must be a date string or a unix timestamp, got {}",
                    Kind(value)
                ),
            ));
        }
    }
    let text = expect_str(function, "the value", value)?.trim();
    let not_a_date = || {
        failure(
            function,
            "the value is not an RFC 3339 date-time or a date (YYYY-MM-DD); use parse_date(value, format) for other layouts",
        )
    };
    let pieces = Pieces::parse(text).map_err(|_| not_a_date())?;
    let time = pieces.time().unwrap_or(jiff::civil::Time::midnight());
    let civil = pieces.date().to_datetime(time);
    let out_of_range = || failure(function, "the date is out of range");
    match pieces.offset() {
        Some(PiecesOffset::Zulu) => civil.to_zoned(TimeZone::UTC).map_err(|_| out_of_range()),
        Some(PiecesOffset::Numeric(offset)) => {
            let offset: Offset = offset.offset();
            civil.to_zoned(TimeZone::fixed(offset)).map_err(|_| out_of_range())
        }
        // `-00:00` ("offset unknown") and no offset: the value is in the zone asked for, or
        // the zone it names in brackets.
        _ => {
            let named = pieces.to_time_zone().map_err(|_| not_a_date())?;
            civil.to_zoned(named.unwrap_or(zone)).map_err(|_| out_of_range())
        }
    }
}

/// The zone of a `tz` argument (positional or `tz=`): an IANA name such as
/// `Europe/Amsterdam`, `UTC`, or a fixed offset such as `+02:00`.
fn zone_argument(function: &str, positional: Option<&Value>, kwargs: &Kwargs) -> Result<Option<TimeZone>, Error> {
    let keyword: Option<Value> = kwargs.get("tz")?;
    kwargs.assert_all_used()?;
    let Some(value) = positional.filter(|value| !value.is_none()).or(keyword.as_ref()) else {
        return Ok(None);
    };
    let name = expect_str(function, "the time zone", value)?;
    if name.eq_ignore_ascii_case("utc") || name == "Z" {
        return Ok(Some(TimeZone::UTC));
    }
    if name.starts_with(['+', '-'])
        && let Some(offset) = BrokenDownTime::parse("%:z", name)
            .ok()
            .and_then(|parsed| parsed.offset())
    {
        return Ok(Some(TimeZone::fixed(offset)));
    }
    TimeZone::get(name).map(Some).map_err(|_| {
        failure(
            function,
            "unknown time zone (use an IANA name such as \"Europe/Amsterdam\", \"UTC\" or an offset such as \"+02:00\")",
        )
    })
}

/// RFC 3339 UTC with milliseconds: `2024-01-31T10:00:00.000Z`.
fn rfc3339(instant: Timestamp) -> String {
    let rounded = instant.round(Unit::Millisecond).unwrap_or(instant);
    rounded.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// RFC 3339 with the zone's offset and milliseconds: `2024-01-31T11:00:00.000+01:00`.
fn rfc3339_in(zoned: &Zoned) -> String {
    let rounded = zoned.round(Unit::Millisecond).unwrap_or_else(|_| zoned.clone());
    rounded.strftime("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()
}
