//! The dates of the delta parameters, written the way the API reads them.
//!
//! The API is ASP.NET and takes `yyyy-MM-ddTHH:mm:ss` without a zone (apis/conexiom.md);
//! cursors come from flows, which hold RFC 3339 timestamps (`now()`, `2024-05-01T00:00:00Z`)
//! as often as the API's own zone-less dates (the max `ProcessedOn` read). Both are accepted:
//! a timestamp with `Z` or an offset is converted to UTC, a zone-less one kept. UNSURE: the
//! server's zone; UTC is assumed, so a flow keeps an overlap window on its cursor.

use flowrun_connect::module::ModuleError;
use flowrun_connect::schema::invalid_params;
use jiff::civil::{Date, DateTime};
use jiff::{Timestamp, tz::TimeZone};

/// The length of `yyyy-MM-dd`: jiff would read a date out of a longer text too, dropping the
/// time it could not read.
const DATE_ONLY: usize = 10;

/// `value` as `yyyy-MM-ddTHH:mm:ss` (fractions of a second dropped: the filter is inclusive,
/// so reading from the whole second before reads nothing less).
pub(crate) fn delta_date(uses: &str, key: &str, value: &str) -> Result<String, ModuleError> {
    let text = value.trim();
    let civil = if let Ok(timestamp) = text.parse::<Timestamp>() {
        timestamp.to_zoned(TimeZone::UTC).datetime()
    } else if let Ok(datetime) = text.parse::<DateTime>()
        && text.len() > DATE_ONLY
    {
        datetime
    } else if let Ok(date) = text.parse::<Date>()
        && text.len() == DATE_ONLY
    {
        date.to_datetime(jiff::civil::Time::midnight())
    } else {
        return Err(invalid_params(
            uses,
            &format!(
                "`{key}` `{value}` is not a date: write `2024-05-01T00:00:00`, `2024-05-01`, or a timestamp \
                 such as `2024-05-01T00:00:00Z`"
            ),
        ));
    };
    Ok(civil.strftime("%Y-%m-%dT%H:%M:%S").to_string())
}

#[cfg(test)]
mod tests {
    use super::delta_date;

    fn date(value: &str) -> Result<String, String> {
        delta_date("conexiom.documents", "processed_on_from", value).map_err(|error| error.message)
    }

    #[test]
    fn dates_come_out_as_the_api_reads_them() {
        assert_eq!(date("2024-05-02T14:03:11").unwrap(), "2024-05-02T14:03:11");
        assert_eq!(date("2024-05-02T14:03:11.997").unwrap(), "2024-05-02T14:03:11");
        assert_eq!(date("2024-05-02").unwrap(), "2024-05-02T00:00:00");
        assert_eq!(date(" 2024-05-02T14:03:11Z ").unwrap(), "2024-05-02T14:03:11");
        assert_eq!(date("2024-05-02T16:03:11+02:00").unwrap(), "2024-05-02T14:03:11");
        assert_eq!(date("2025-01-01T00:00:00.000Z").unwrap(), "2025-01-01T00:00:00");
        assert_eq!(date("2024-05-02 14:03:11").unwrap(), "2024-05-02T14:03:11");
    }

    #[test]
    fn other_text_is_refused_with_the_forms_that_work() {
        for junk in [
            "",
            "yesterday",
            "2024-13-01",
            "2024-05-02X",
            "2024-05-02T25:00:00",
            "1714658591",
        ] {
            let message = date(junk).unwrap_err();
            assert!(
                message.contains("is not a date") && message.contains("2024-05-01T00:00:00"),
                "{junk}: {message}"
            );
        }
    }
}
