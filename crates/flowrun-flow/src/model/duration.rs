//! Durations as users write them: `500ms`, `30s`, `5m`, `2h`, `1d`.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The grammar in one place: the schema's pattern and the parser agree.
pub const DURATION_PATTERN: &str = "^[0-9]+(ms|s|m|h|d)$";

/// A duration written as an integer and a unit (`ms`, `s`, `m`, `h`, `d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(std::time::Duration);

impl Duration {
    pub fn as_std(self) -> std::time::Duration {
        self.0
    }
}

/// Why a duration did not parse; the message doubles as the diagnostic text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a duration: write a whole number and a unit, e.g. `500ms`, `30s`, `5m`, `2h`, `1d`")]
pub struct DurationError {
    pub input: String,
}

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let error = || DurationError {
            input: input.to_owned(),
        };
        let digits_end = input.find(|c: char| !c.is_ascii_digit()).ok_or_else(error)?;
        let (number, unit) = input.split_at(digits_end);
        let number: u64 = number.parse().map_err(|_| error())?;
        let millis_per_unit: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(error()),
        };
        let millis = number.checked_mul(millis_per_unit).ok_or_else(error)?;
        Ok(Duration(std::time::Duration::from_millis(millis)))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0.as_millis();
        let units = [(86_400_000, "d"), (3_600_000, "h"), (60_000, "m"), (1_000, "s")];
        for (size, unit) in units {
            if millis >= size && millis.is_multiple_of(size) {
                return write!(f, "{}{unit}", millis / size);
            }
        }
        write!(f, "{millis}ms")
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": DURATION_PATTERN,
            "description": "A whole number and a unit: `500ms`, `30s`, `5m`, `2h`, `1d`.",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_and_prints_it_back() {
        for text in ["500ms", "30s", "5m", "2h", "1d", "0s"] {
            let duration: Duration = text.parse().unwrap();
            let shown = if text == "0s" {
                "0ms".to_owned()
            } else {
                text.to_owned()
            };
            assert_eq!(duration.to_string(), shown);
        }
        assert_eq!("90s".parse::<Duration>().unwrap().as_std().as_secs(), 90);
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for text in ["", "5", "s", "5 s", "1.5s", "-1s", "5w", "99999999999999999999d"] {
            assert!(text.parse::<Duration>().is_err(), "{text:?} parsed");
        }
    }
}
