//! Postgres values in the binary wire format sqlx exchanges (`src/backend/utils/adt/*_send`
//! and `*_recv` in Postgres): rows decoded to JSON, and parameters encoded from JSON where the
//! mapping is plain (booleans, integers, floats, text, JSON, bytea). Every other parameter goes
//! to Postgres as text for Postgres to parse with its own input function ([`Encoded::Text`]),
//! so `'2024-05-01T10:00:00Z'` reaches a timestamp the way it would in `psql`.
//!
//! Decoding never panics: any byte string gives a value or an error (property-tested).

use std::fmt::Write as _;

use base64::Engine as _;
use serde_json::{Number, Value as Json};
use sqlx::TypeInfo;
use sqlx::postgres::{PgTypeInfo, PgTypeKind};

use crate::run::rows::{PgTarget, pg_text};

const BOOL: u32 = 16;
const BYTEA: u32 = 17;
const CHAR: u32 = 18;
const NAME: u32 = 19;
const INT8: u32 = 20;
const INT2: u32 = 21;
const INT4: u32 = 23;
const TEXT: u32 = 25;
const OID: u32 = 26;
const JSON: u32 = 114;
const XML: u32 = 142;
const CIDR: u32 = 650;
const FLOAT4: u32 = 700;
const FLOAT8: u32 = 701;
const UNKNOWN: u32 = 705;
const MACADDR8: u32 = 774;
const MACADDR: u32 = 829;
const INET: u32 = 869;
const BPCHAR: u32 = 1042;
const VARCHAR: u32 = 1043;
const DATE: u32 = 1082;
const TIME: u32 = 1083;
const TIMESTAMP: u32 = 1114;
const TIMESTAMPTZ: u32 = 1184;
const INTERVAL: u32 = 1186;
const TIMETZ: u32 = 1266;
const NUMERIC: u32 = 1700;
const UUID: u32 = 2950;
const JSONB: u32 = 3802;
const JSONPATH: u32 = 4072;

/// Days from 1970-01-01 (Unix) to 2000-01-01 (Postgres's epoch).
const UNIX_DAYS_AT_POSTGRES_EPOCH: i64 = 10_957;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// A parameter ready to bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Encoded {
    /// The value in the parameter type's binary format; `None` is NULL.
    Bytes(Option<Vec<u8>>),
    /// Text for Postgres to read with the parameter type's input function.
    Text(String),
}

/// What the codec needs of a Postgres type: its OID (a domain's base type's), its name for
/// messages, and its shape. Made once per column or parameter from sqlx's resolved type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PgType {
    pub oid: u32,
    pub name: String,
    pub shape: Shape,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Shape {
    Simple,
    Array(Box<PgType>),
    Enum,
    /// Composite and range types: no JSON form here.
    Unsupported,
}

impl PgType {
    /// From a type sqlx resolved (a prepared statement's parameter or a row's column).
    pub(crate) fn of(info: &PgTypeInfo) -> PgType {
        let name = info.name().to_ascii_lowercase();
        let oid = info.oid().map_or(0, |oid| oid.0);
        match info.kind() {
            PgTypeKind::Domain(base) => PgType::of(base),
            PgTypeKind::Array(element) => PgType {
                oid,
                name,
                shape: Shape::Array(Box::new(PgType::of(element))),
            },
            PgTypeKind::Enum(_) => PgType {
                oid,
                name,
                shape: Shape::Enum,
            },
            PgTypeKind::Composite(_) | PgTypeKind::Range(_) => PgType {
                oid,
                name,
                shape: Shape::Unsupported,
            },
            PgTypeKind::Simple | PgTypeKind::Pseudo => PgType {
                oid,
                name,
                shape: Shape::Simple,
            },
        }
    }

    /// A simple built-in type (tests).
    #[cfg(test)]
    pub(crate) fn builtin(oid: u32, name: &str) -> PgType {
        PgType {
            oid,
            name: name.to_owned(),
            shape: Shape::Simple,
        }
    }
}

/// `value` for a parameter of type `ty`.
pub(crate) fn encode(ty: &PgType, value: &Json) -> Result<Encoded, String> {
    if value.is_null() {
        return Ok(Encoded::Bytes(None));
    }
    let as_text = |target: PgTarget| -> Result<Encoded, String> {
        Ok(Encoded::Text(pg_text(value, target)?.unwrap_or_default().into_owned()))
    };
    match ty.shape {
        Shape::Enum => return Ok(text_bytes(value)),
        Shape::Array(_) => {
            return as_text(PgTarget {
                array: true,
                bytea: false,
            });
        }
        Shape::Simple | Shape::Unsupported => {}
    }
    let bytes = |bytes: &[u8]| Ok(Encoded::Bytes(Some(bytes.to_vec())));
    match ty.oid {
        BOOL => match value {
            Json::Bool(value) => bytes(&[u8::from(*value)]),
            _ => as_text(PgTarget::default()),
        },
        INT8 => match value.as_i64() {
            Some(number) => bytes(&number.to_be_bytes()),
            None => as_text(PgTarget::default()),
        },
        INT4 => match value.as_i64().and_then(|number| i32::try_from(number).ok()) {
            Some(number) => bytes(&number.to_be_bytes()),
            None => as_text(PgTarget::default()),
        },
        INT2 => match value.as_i64().and_then(|number| i16::try_from(number).ok()) {
            Some(number) => bytes(&number.to_be_bytes()),
            None => as_text(PgTarget::default()),
        },
        FLOAT8 => match value.as_f64().filter(|_| value.is_number()) {
            Some(number) => bytes(&number.to_be_bytes()),
            None => as_text(PgTarget::default()),
        },
        FLOAT4 => match value.as_f64().filter(|_| value.is_number()).map(|number| number as f32) {
            Some(number) if number.is_finite() => bytes(&number.to_be_bytes()),
            _ => as_text(PgTarget::default()),
        },
        TEXT | VARCHAR | BPCHAR | NAME | UNKNOWN => Ok(text_bytes(value)),
        JSON => Ok(Encoded::Bytes(Some(json_text(value).into_bytes()))),
        JSONB => {
            let mut encoded = vec![1];
            encoded.extend_from_slice(json_text(value).as_bytes());
            Ok(Encoded::Bytes(Some(encoded)))
        }
        BYTEA => match value {
            Json::String(text) => base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map(|decoded| Encoded::Bytes(Some(decoded)))
                .map_err(|error| format!("a `bytea` value is given as base64 (as `query` outputs it): {error}")),
            _ => Err("a `bytea` value is given as a base64 string".to_owned()),
        },
        _ if ty.name == "citext" => Ok(text_bytes(value)),
        _ => as_text(PgTarget::default()),
    }
}

/// A string as it is; anything else as its JSON text.
fn text_bytes(value: &Json) -> Encoded {
    let text = match value {
        Json::String(text) => text.clone(),
        other => other.to_string(),
    };
    Encoded::Bytes(Some(text.into_bytes()))
}

/// For `json`/`jsonb`: a string is JSON text already (as in `'{"a":1}'::jsonb`); anything else
/// is written as JSON.
fn json_text(value: &Json) -> String {
    match value {
        Json::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A value of type `ty` in binary format as JSON.
pub(crate) fn decode(ty: &PgType, bytes: &[u8]) -> Result<Json, String> {
    match &ty.shape {
        Shape::Array(element) => return array(element, bytes),
        Shape::Enum => return text(bytes),
        Shape::Unsupported => return Err(unsupported(ty)),
        Shape::Simple => {}
    }
    let mut reader = Reader(bytes);
    let value = match ty.oid {
        BOOL => Json::Bool(reader.u8()? != 0),
        BYTEA => return Ok(Json::String(base64::engine::general_purpose::STANDARD.encode(bytes))),
        CHAR => return Ok(Json::String(String::from_utf8_lossy(bytes).into_owned())),
        NAME | TEXT | UNKNOWN | BPCHAR | VARCHAR | XML => return text(bytes),
        INT8 => Json::from(reader.i64()?),
        INT4 => Json::from(reader.i32()?),
        INT2 => Json::from(reader.i16()?),
        OID => Json::from(reader.u32()?),
        FLOAT4 => float(f64::from(reader.f32()?), || reader_f32_text(bytes)),
        FLOAT8 => float(reader.f64()?, || None),
        NUMERIC => numeric(&mut reader)?,
        JSON => return json(bytes),
        JSONB | JSONPATH => {
            let version = reader.u8()?;
            if version != 1 {
                return Err(format!("unknown jsonb format version {version}"));
            }
            if ty.oid == JSONPATH {
                return text(reader.0);
            }
            return json(reader.0);
        }
        DATE => Json::String(date(i64::from(reader.i32()?))),
        TIME => Json::String(time_of_day(reader.i64()?)?),
        TIMETZ => {
            let time = time_of_day(reader.i64()?)?;
            let zone = reader.i32()?;
            Json::String(format!("{time}{}", offset(zone)))
        }
        TIMESTAMP => Json::String(timestamp(reader.i64()?, "")),
        TIMESTAMPTZ => Json::String(timestamp(reader.i64()?, "Z")),
        INTERVAL => {
            let micros = reader.i64()?;
            let days = reader.i32()?;
            let months = reader.i32()?;
            Json::String(interval(micros, days, months))
        }
        UUID => Json::String(uuid(reader.take(16)?)),
        INET | CIDR => Json::String(inet(&mut reader)?),
        MACADDR => Json::String(mac(reader.take(6)?)),
        MACADDR8 => Json::String(mac(reader.take(8)?)),
        _ if ty.name == "citext" => return text(bytes),
        _ => return Err(unsupported(ty)),
    };
    reader.end()?;
    Ok(value)
}

fn unsupported(ty: &PgType) -> String {
    format!(
        "type `{}` has no JSON form here; cast the column in the query, e.g. `x::text` (or `::numeric` for money)",
        ty.name
    )
}

fn text(bytes: &[u8]) -> Result<Json, String> {
    std::str::from_utf8(bytes)
        .map(|text| Json::String(text.to_owned()))
        .map_err(|_| "text that is not UTF-8".to_owned())
}

fn json(bytes: &[u8]) -> Result<Json, String> {
    serde_json::from_slice(bytes).map_err(|error| format!("JSON that does not parse: {error}"))
}

/// A float as a JSON number; NaN and the infinities, which JSON has no number for, as the
/// strings Postgres writes (`NaN`, `Infinity`, `-Infinity`).
fn float(value: f64, shortest: impl FnOnce() -> Option<f64>) -> Json {
    if value.is_nan() {
        return Json::String("NaN".to_owned());
    }
    if value.is_infinite() {
        return Json::String(if value > 0.0 { "Infinity" } else { "-Infinity" }.to_owned());
    }
    // A `real` 0.1 widened to f64 is 0.10000000149011612; its shortest f32 text is 0.1.
    Number::from_f64(shortest().unwrap_or(value)).map_or(Json::Null, Json::Number)
}

fn reader_f32_text(bytes: &[u8]) -> Option<f64> {
    let value = f32::from_be_bytes(bytes.try_into().ok()?);
    value.to_string().parse().ok()
}

/// `numeric`: base-10000 digits, a weight, a sign and a display scale (`numeric_send`).
fn numeric(reader: &mut Reader<'_>) -> Result<Json, String> {
    let n_digits = reader.i16()?;
    let weight = reader.i16()?;
    let sign = reader.u16()?;
    let scale = reader.u16()?;
    let negative = match sign {
        0x0000 => false,
        0x4000 => true,
        0xC000 => return Ok(Json::String("NaN".to_owned())),
        0xD000 => return Ok(Json::String("Infinity".to_owned())),
        0xF000 => return Ok(Json::String("-Infinity".to_owned())),
        other => return Err(format!("a numeric with sign {other:#x}")),
    };
    let n_digits = usize::try_from(n_digits).map_err(|_| "a numeric with a negative digit count".to_owned())?;
    let mut digits = Vec::with_capacity(n_digits.min(reader.0.len() / 2));
    for _ in 0..n_digits {
        let digit = reader.i16()?;
        if !(0..10_000).contains(&digit) {
            return Err(format!("a numeric digit {digit} out of 0..9999"));
        }
        digits.push(digit);
    }
    Ok(decimal_json(decimal_text(negative, weight, scale, &digits)))
}

/// The decimal text of a numeric, every digit of its scale written (as Postgres prints it).
pub(crate) fn decimal_text(negative: bool, weight: i16, scale: u16, digits: &[i16]) -> String {
    let digit = |idx: i64| -> i16 {
        usize::try_from(idx)
            .ok()
            .and_then(|idx| digits.get(idx))
            .copied()
            .unwrap_or(0)
    };
    let mut integer = String::new();
    for group in 0..=i64::from(weight) {
        let _ = write!(integer, "{:04}", digit(group));
    }
    let integer = integer.trim_start_matches('0');
    let mut text = String::with_capacity(integer.len() + usize::from(scale) + 3);
    if negative {
        text.push('-');
    }
    text.push_str(if integer.is_empty() { "0" } else { integer });
    if scale > 0 {
        let mut fraction = String::with_capacity(usize::from(scale) + 4);
        let mut group = i64::from(weight) + 1;
        while fraction.len() < usize::from(scale) {
            let _ = write!(fraction, "{:04}", digit(group));
            group += 1;
        }
        fraction.truncate(usize::from(scale));
        text.push('.');
        text.push_str(&fraction);
    }
    text
}

/// A decimal as a JSON number when the number prints back as the same decimal: integers that
/// fit 64 bits, and values of at most 15 significant digits (what an f64 keeps); otherwise the
/// decimal text, every digit kept.
pub(crate) fn decimal_json(text: String) -> Json {
    if !text.contains('.') {
        if let Ok(number) = text.parse::<i64>() {
            return Json::from(number);
        }
        if let Ok(number) = text.parse::<u64>() {
            return Json::from(number);
        }
    }
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    if significant <= 15
        && let Ok(number) = text.parse::<f64>()
        && (number == 0.0) == (significant == 0)
        && (number == 0.0 || number.abs() >= f64::MIN_POSITIVE)
        && let Some(number) = Number::from_f64(number)
    {
        return Json::Number(number);
    }
    Json::String(text)
}

/// A date, its days counted from 2000-01-01: ISO 8601 (`2024-05-01`), years outside 0–9999
/// signed (`-0044-03-15` is 45 BC), `infinity` and `-infinity` as Postgres writes them.
pub(crate) fn date(days: i64) -> String {
    match days {
        days if days == i64::from(i32::MAX) => "infinity".to_owned(),
        days if days == i64::from(i32::MIN) => "-infinity".to_owned(),
        days => civil_text(days + UNIX_DAYS_AT_POSTGRES_EPOCH),
    }
}

/// A timestamp, its microseconds counted from 2000-01-01 00:00: `2024-05-01T10:00:00.5` then
/// `zone` (`Z` for `timestamptz`, which Postgres sends in UTC).
pub(crate) fn timestamp(micros: i64, zone: &str) -> String {
    match micros {
        i64::MAX => "infinity".to_owned(),
        i64::MIN => "-infinity".to_owned(),
        micros => {
            let days = micros.div_euclid(MICROS_PER_DAY);
            let time = clock(micros.rem_euclid(MICROS_PER_DAY));
            format!("{}T{time}{zone}", civil_text(days + UNIX_DAYS_AT_POSTGRES_EPOCH))
        }
    }
}

fn time_of_day(micros: i64) -> Result<String, String> {
    if (0..=MICROS_PER_DAY).contains(&micros) {
        Ok(clock(micros))
    } else {
        Err(format!("a time of {micros} µs, not within a day"))
    }
}

/// `HH:MM:SS` and the fraction without its trailing zeros.
fn clock(micros: i64) -> String {
    let seconds = micros / 1_000_000;
    let fraction = micros % 1_000_000;
    let mut text = format!("{:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60);
    if fraction != 0 {
        let digits = format!("{fraction:06}");
        text.push('.');
        text.push_str(digits.trim_end_matches('0'));
    }
    text
}

/// A `timetz` zone, seconds west of UTC, as `+02:00`.
fn offset(seconds_west: i32) -> String {
    let east = -i64::from(seconds_west);
    let sign = if east < 0 { '-' } else { '+' };
    let east = east.unsigned_abs();
    let mut text = format!("{sign}{:02}:{:02}", east / 3600, east / 60 % 60);
    if east % 60 != 0 {
        let _ = write!(text, ":{:02}", east % 60);
    }
    text
}

/// An ISO 8601 duration as Postgres's `iso_8601` interval style writes it: `P1Y2M3DT4H5M6.5S`,
/// each part with its own sign.
pub(crate) fn interval(micros: i64, days: i32, months: i32) -> String {
    let mut text = String::from("P");
    let (years, months) = (months / 12, months % 12);
    for (value, unit) in [
        (i64::from(years), 'Y'),
        (i64::from(months), 'M'),
        (i64::from(days), 'D'),
    ] {
        if value != 0 {
            let _ = write!(text, "{value}{unit}");
        }
    }
    if micros != 0 {
        text.push('T');
        let sign = if micros < 0 { "-" } else { "" };
        let magnitude = micros.unsigned_abs();
        let (hours, minutes) = (magnitude / 3_600_000_000, magnitude / 60_000_000 % 60);
        let (seconds, fraction) = (magnitude / 1_000_000 % 60, magnitude % 1_000_000);
        if hours != 0 {
            let _ = write!(text, "{sign}{hours}H");
        }
        if minutes != 0 {
            let _ = write!(text, "{sign}{minutes}M");
        }
        if seconds != 0 || fraction != 0 {
            let _ = write!(text, "{sign}{seconds}");
            if fraction != 0 {
                let digits = format!("{fraction:06}");
                text.push('.');
                text.push_str(digits.trim_end_matches('0'));
            }
            text.push('S');
        }
    }
    if text == "P" {
        text.push_str("T0S");
    }
    text
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both are small by construction: 1..=12 and 1..=31.
    (year, month as u32, day as u32)
}

fn civil_text(unix_days: i64) -> String {
    let (year, month, day) = civil_from_days(unix_days);
    let year = match year {
        0..=9999 => format!("{year:04}"),
        year if year < 0 => format!("-{:04}", year.unsigned_abs()),
        year => format!("+{year}"),
    };
    format!("{year}-{month:02}-{day:02}")
}

fn uuid(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(36);
    for (idx, byte) in bytes.iter().enumerate() {
        if matches!(idx, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        let _ = write!(text, "{byte:02x}");
    }
    text
}

fn mac(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// `inet`/`cidr`: family, prefix bits, is-cidr flag, address length, address.
fn inet(reader: &mut Reader<'_>) -> Result<String, String> {
    let family = reader.u8()?;
    let bits = reader.u8()?;
    let is_cidr = reader.u8()? != 0;
    let length = reader.u8()?;
    let address = reader.take(usize::from(length))?;
    let (text, max_bits) = match (family, address) {
        (2, &[a, b, c, d]) => (std::net::Ipv4Addr::new(a, b, c, d).to_string(), 32),
        (3, address) if address.len() == 16 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(address);
            (std::net::Ipv6Addr::from(octets).to_string(), 128)
        }
        _ => return Err(format!("an inet of family {family} with {length} address bytes")),
    };
    Ok(if is_cidr || bits != max_bits {
        format!("{text}/{bits}")
    } else {
        text
    })
}

/// `array_send`: dimensions, a null flag, the element type, each dimension's length and lower
/// bound, then each element with its length (-1: NULL). Nested lists for several dimensions.
fn array(element: &PgType, bytes: &[u8]) -> Result<Json, String> {
    let mut reader = Reader(bytes);
    let dimensions = reader.i32()?;
    let _has_nulls = reader.i32()?;
    let _element_oid = reader.u32()?;
    if dimensions == 0 {
        reader.end()?;
        return Ok(Json::Array(Vec::new()));
    }
    if !(1..=6).contains(&dimensions) {
        return Err(format!("an array of {dimensions} dimensions"));
    }
    let mut lengths = Vec::new();
    for _ in 0..dimensions {
        let length = usize::try_from(reader.i32()?).map_err(|_| "an array dimension of negative length".to_owned())?;
        let _lower_bound = reader.i32()?;
        lengths.push(length);
    }
    let total = lengths
        .iter()
        .try_fold(1usize, |total, length| total.checked_mul(*length))
        .filter(|total| *total <= reader.0.len() / 4)
        .ok_or_else(|| "an array longer than its bytes".to_owned())?;
    let mut elements = Vec::with_capacity(total);
    for _ in 0..total {
        let length = reader.i32()?;
        if length == -1 {
            elements.push(Json::Null);
            continue;
        }
        let length = usize::try_from(length).map_err(|_| format!("an array element of length {length}"))?;
        elements.push(decode(element, reader.take(length)?)?);
    }
    reader.end()?;
    let mut elements = elements.into_iter();
    Ok(nest(&lengths, &mut elements))
}

fn nest(lengths: &[usize], elements: &mut impl Iterator<Item = Json>) -> Json {
    match lengths {
        [] => Json::Array(Vec::new()),
        [length] => Json::Array(elements.by_ref().take(*length).collect()),
        [length, inner @ ..] => Json::Array((0..*length).map(|_| nest(inner, elements)).collect()),
    }
}

/// Reads big-endian numbers off the front of a byte string.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err(format!("{} bytes where {n} were expected", self.0.len()));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut bytes = [0u8; N];
        bytes.copy_from_slice(self.take(N)?);
        Ok(bytes)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.array::<1>()?[0])
    }

    fn i16(&mut self) -> Result<i16, String> {
        self.array().map(i16::from_be_bytes)
    }

    fn u16(&mut self) -> Result<u16, String> {
        self.array().map(u16::from_be_bytes)
    }

    fn i32(&mut self) -> Result<i32, String> {
        self.array().map(i32::from_be_bytes)
    }

    fn u32(&mut self) -> Result<u32, String> {
        self.array().map(u32::from_be_bytes)
    }

    fn i64(&mut self) -> Result<i64, String> {
        self.array().map(i64::from_be_bytes)
    }

    fn f32(&mut self) -> Result<f32, String> {
        self.array().map(f32::from_be_bytes)
    }

    fn f64(&mut self) -> Result<f64, String> {
        self.array().map(f64::from_be_bytes)
    }

    fn end(&self) -> Result<(), String> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(format!("{} bytes too many", self.0.len()))
        }
    }
}
