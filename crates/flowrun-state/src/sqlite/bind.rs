//! Conversions between the model and SQLite values: payloads, times, item indexes.

use std::borrow::Cow;
use std::time::Duration;

use jiff::Timestamp;
use sqlx::encode::{Encode, IsNull};
use sqlx::error::BoxDynError;
use sqlx::sqlite::{Sqlite, SqliteArgumentValue, SqliteTypeInfo};
use sqlx::types::Type;

use crate::error::StateError;
use crate::payload::Encoded;

/// Stored in place of `None` in `item_index` columns (a UNIQUE key treats NULLs as distinct).
pub(super) const WHOLE_STEP: i64 = -1;

impl Type<Sqlite> for Encoded {
    fn type_info() -> SqliteTypeInfo {
        <[u8] as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <[u8] as Type<Sqlite>>::compatible(ty)
    }
}

/// JSON text is stored as TEXT (readable with the `sqlite3` shell), compressed JSON as BLOB.
impl<'q> Encode<'q, Sqlite> for Encoded {
    fn encode(self, args: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        args.push(match self {
            Encoded::Text(text) => SqliteArgumentValue::Text(Cow::Owned(text)),
            Encoded::Compressed(bytes) => SqliteArgumentValue::Blob(Cow::Owned(bytes)),
        });
        Ok(IsNull::No)
    }

    fn encode_by_ref(&self, args: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        self.clone().encode(args)
    }
}

/// The same for the step writer's rusqlite connection (batch.rs).
impl rusqlite::ToSql for Encoded {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Encoded::Text(text) => ValueRef::Text(text.as_bytes()),
            Encoded::Compressed(bytes) => ValueRef::Blob(bytes),
        }))
    }
}

/// Unix milliseconds, the form times are stored in.
pub(super) fn millis(timestamp: Timestamp) -> i64 {
    timestamp.as_millisecond()
}

pub(super) fn timestamp(what: &str, millis: i64) -> Result<Timestamp, StateError> {
    Timestamp::from_millisecond(millis).map_err(|error| StateError::corrupt(what, error))
}

pub(super) fn timestamp_opt(what: &str, millis: Option<i64>) -> Result<Option<Timestamp>, StateError> {
    millis.map(|millis| timestamp(what, millis)).transpose()
}

/// `now + lease` in unix milliseconds, saturating at the latest time a timestamp can hold.
pub(super) fn lease_expiry(now: Timestamp, lease: Duration) -> i64 {
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    millis(now)
        .saturating_add(lease_ms)
        .min(Timestamp::MAX.as_millisecond())
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
