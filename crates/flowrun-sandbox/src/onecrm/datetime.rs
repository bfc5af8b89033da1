//! 1CRM's datetime text, `"YYYY-MM-DD HH:MM:SS"` without a zone, from Unix seconds; and the
//! checks on values written to `datetime` and `date` fields. Hand-written (a civil-date
//! conversion) rather than a date crate: the sandbox needs only these two formats.

// UNSURE (apis/onecrm.md): whether datetimes are UTC or the user's zone; the simulator
// writes UTC, as SugarCRM-derived systems store them.

/// `"YYYY-MM-DD HH:MM:SS"` (UTC) of Unix seconds.
pub fn format(unix: u64) -> String {
    let days = unix / 86_400;
    let secs = unix % 86_400;
    let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// `"YYYY-MM-DD"` of Unix seconds.
pub fn format_date(unix: u64) -> String {
    format(unix)[..10].to_owned()
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Whether `text` is a plausible `YYYY-MM-DD`.
pub fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && [0, 1, 2, 3, 5, 6, 8, 9].iter().all(|&i| b[i].is_ascii_digit())
        && in_range(&text[5..7], 1, 12)
        && in_range(&text[8..10], 1, 31)
}

/// Whether `text` is a plausible `YYYY-MM-DD HH:MM:SS`.
pub fn is_datetime(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 19
        && is_date(&text[..10])
        && b[10] == b' '
        && b[13] == b':'
        && b[16] == b':'
        && [11, 12, 14, 15, 17, 18].iter().all(|&i| b[i].is_ascii_digit())
        && in_range(&text[11..13], 0, 23)
        && in_range(&text[14..16], 0, 59)
        && in_range(&text[17..19], 0, 59)
}

fn in_range(digits: &str, low: u32, high: u32) -> bool {
    digits.parse::<u32>().is_ok_and(|n| (low..=high).contains(&n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_checks() {
        assert_eq!(format(0), "1970-01-01 00:00:00");
        assert_eq!(format(1_519_370_908), "2018-02-23 07:28:28");
        assert_eq!(format(951_782_400), "2000-02-29 00:00:00");
        assert!(is_datetime("2018-02-23 07:28:28"));
        assert!(!is_datetime("2018-02-23T07:28:28"));
        assert!(!is_datetime("2018-13-23 07:28:28"));
        assert!(is_date("2024-12-31"));
        assert!(!is_date("2024-1-31"));
    }
}
