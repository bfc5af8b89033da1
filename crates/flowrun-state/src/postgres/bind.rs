//! Conversions between the model and Postgres values: payloads, times, item indexes.
//!
//! The workspace builds sqlx without a date crate (see the root Cargo.toml), so `timestamptz`
//! is encoded and decoded here from its documented binary form: microseconds since
//! 2000-01-01 00:00 UTC as a big-endian i64.

use std::time::Duration;

use jiff::Timestamp;
use sqlx::decode::Decode;
use sqlx::encode::{Encode, IsNull};
use sqlx::error::BoxDynError;
use sqlx::postgres::types::{Oid, PgInterval};
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueFormat, PgValueRef, Postgres};
use sqlx::types::Type;

use crate::error::StateError;
use crate::payload::Encoded;

/// Stored in place of `None` in `item_index` columns, as in SQLite (a UNIQUE key treats NULLs
/// as distinct, and `NULLS NOT DISTINCT` needs Postgres 15).
pub(super) const WHOLE_STEP: i64 = -1;

/// `timestamptz`'s type OID (pg_type.dat).
const TIMESTAMPTZ_OID: Oid = Oid(1184);

/// 2000-01-01T00:00:00Z, Postgres's epoch, in unix microseconds.
const PG_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;

/// The latest time a lease may end, as SQL: `jiff::Timestamp::MAX` in whole seconds
/// (9999-12-30T22:00:00Z), the latest microsecond jiff reads back (the SQLite store
/// saturates at about the same bound).
fn lease_cap() -> String {
    let cap = Timestamp::from_second(Timestamp::MAX.as_second()).unwrap_or(Timestamp::UNIX_EPOCH);
    format!("TIMESTAMPTZ '{cap}'")
}

/// Longer leases are capped before they reach the server, whose `timestamptz` would overflow
/// well before `Duration::MAX`; `lease_cap` then bounds the sum.
const MAX_LEASE: Duration = Duration::from_secs(9_000 * 366 * 24 * 3600);

/// A payload as bound to a `bytea` column: the bytes the store encoded, JSON text or a zstd
/// frame. (Functions rather than an `Encode` impl on `Encoded`, whose SQLite impl would make
/// every `encode` call ambiguous.)
pub(super) fn payload_bytes(encoded: Option<Encoded>) -> Option<Vec<u8>> {
    encoded.map(|encoded| match encoded {
        Encoded::Text(text) => text.into_bytes(),
        Encoded::Compressed(bytes) => bytes,
    })
}

/// As `payload_bytes`, borrowed (a transaction that may run again binds its values anew).
pub(super) fn payload_ref(encoded: Option<&Encoded>) -> Option<&[u8]> {
    encoded.map(|encoded| match encoded {
        Encoded::Text(text) => text.as_bytes(),
        Encoded::Compressed(bytes) => bytes.as_slice(),
    })
}

/// A `timestamptz` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PgTime(pub Timestamp);

impl Type<Postgres> for PgTime {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(TIMESTAMPTZ_OID)
    }
}

impl Encode<'_, Postgres> for PgTime {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        // jiff's range (years -9999..=9999) lies inside timestamptz's: no overflow here.
        let micros = self.0.as_microsecond() - PG_EPOCH_UNIX_MICROS;
        buf.extend_from_slice(&micros.to_be_bytes());
        Ok(IsNull::No)
    }
}

impl Decode<'_, Postgres> for PgTime {
    fn decode(value: PgValueRef<'_>) -> Result<Self, BoxDynError> {
        if value.format() != PgValueFormat::Binary {
            // Prepared statements (every query of the store) return binary values.
            return Err("timestamptz in text form".into());
        }
        let bytes: [u8; 8] = value.as_bytes()?.try_into()?;
        let micros = i64::from_be_bytes(bytes);
        if micros == i64::MAX || micros == i64::MIN {
            return Err("timestamptz is infinity".into());
        }
        let unix = micros
            .checked_add(PG_EPOCH_UNIX_MICROS)
            .ok_or("timestamptz out of range")?;
        Ok(PgTime(Timestamp::from_microsecond(unix)?))
    }
}

pub(super) fn timestamp_opt(value: Option<PgTime>) -> Option<Timestamp> {
    value.map(|time| time.0)
}

/// A lease as an `interval` (microseconds), capped (see `MAX_LEASE`).
pub(super) fn lease_interval(lease: Duration) -> PgInterval {
    let micros = lease.min(MAX_LEASE).as_micros();
    PgInterval {
        months: 0,
        days: 0,
        microseconds: i64::try_from(micros).unwrap_or(i64::MAX),
    }
}

/// The SQL of `now() + lease` (the lease bound as parameter `$n`), capped (`lease_cap`).
pub(super) fn lease_expiry_sql(parameter: usize) -> String {
    format!("LEAST(now() + ${parameter}::interval, {})", lease_cap())
}

pub(super) fn item_index_to_sql(item_index: Option<u64>) -> Result<i64, StateError> {
    match item_index {
        None => Ok(WHOLE_STEP),
        Some(index) => i64::try_from(index).map_err(|error| StateError::corrupt("item index", error)),
    }
}

pub(super) fn item_index_from_sql(value: i64) -> Result<Option<u64>, StateError> {
    if value == WHOLE_STEP {
        return Ok(None);
    }
    u64::try_from(value)
        .map(Some)
        .map_err(|error| StateError::corrupt("item index", error))
}

pub(super) fn u32_from_sql(what: &str, value: i64) -> Result<u32, StateError> {
    u32::try_from(value).map_err(|error| StateError::corrupt(what, error))
}

pub(super) fn duration_to_sql(duration: Option<Duration>) -> Option<i64> {
    duration.map(|duration| i64::try_from(duration.as_micros()).unwrap_or(i64::MAX))
}

pub(super) fn duration_from_sql(micros: Option<i64>) -> Result<Option<Duration>, StateError> {
    micros
        .map(|micros| {
            u64::try_from(micros)
                .map(Duration::from_micros)
                .map_err(|error| StateError::corrupt("duration", error))
        })
        .transpose()
}

/// The stored size of an optional payload column.
pub(super) fn payload_len(bytes: &Option<Vec<u8>>) -> usize {
    bytes.as_ref().map_or(0, Vec::len)
}
