//! Cron expressions: 5 fields (minute first) or 6 (seconds first), or a nickname. Numbers are
//! checked here so the message names the field ("hour 25 is out of range 0–23"); croner then
//! parses what remains (names, `L`, `#`…).

const NICKNAMES: [&str; 7] = [
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

const FIVE: [(&str, u32, u32); 5] = [
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
];

/// Ok, or why the expression is not a schedule.
pub(super) fn check(cron: &str) -> Result<(), String> {
    let cron = cron.trim();
    if cron.starts_with('@') {
        return if NICKNAMES.contains(&cron) {
            Ok(())
        } else {
            Err(format!("unknown nickname; use one of {}", NICKNAMES.join(", ")))
        };
    }
    let fields: Vec<&str> = cron.split_whitespace().collect();
    let names: Vec<(&str, u32, u32)> = match fields.len() {
        5 => FIVE.to_vec(),
        6 => std::iter::once(("second", 0, 59)).chain(FIVE).collect(),
        count => return Err(format!("it has {count} fields, not 5 or 6")),
    };
    for (field, (name, low, high)) in fields.iter().zip(names) {
        check_field(field, name, low, high)?;
    }
    croner::parser::CronParser::new()
        .parse(cron)
        .map(|_| ())
        .map_err(|error| {
            let text = error.to_string();
            text.trim_start_matches("Component error: ")
                .trim_end_matches('.')
                .to_lowercase()
        })
}

fn check_field(field: &str, name: &str, low: u32, high: u32) -> Result<(), String> {
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (part, None),
        };
        if let Some(step) = step {
            match step.parse::<u32>() {
                Ok(step) if step >= 1 => {}
                _ => {
                    return Err(format!(
                        "the step `/{step}` of the {name} field must be a whole number of at least 1"
                    ));
                }
            }
        }
        for bound in range.split('-') {
            // `*`, `?`, names (`MON`, `JAN`) and `L`/`#` forms are left to croner.
            if let Ok(value) = bound.parse::<u32>()
                && !(low..=high).contains(&value)
            {
                return Err(format!("{name} {value} is out of range {low}–{high}"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn names_the_field_that_is_out_of_range() {
        assert_eq!(check("0 25 * * *"), Err("hour 25 is out of range 0–23".into()));
        assert_eq!(check("61 0 * * * *"), Err("second 61 is out of range 0–59".into()));
        assert_eq!(check("* * *"), Err("it has 3 fields, not 5 or 6".into()));
        assert!(check("*/0 * * * *").unwrap_err().contains("step"));
        assert!(check("@often").is_err());
    }

    #[test]
    fn accepts_common_schedules() {
        for cron in [
            "0 */15 * * * *",
            "0 5 * * MON-FRI",
            "@hourly",
            "30 2 1,15 * *",
            "0 0 L * *",
        ] {
            assert_eq!(check(cron), Ok(()), "{cron}");
        }
    }
}
