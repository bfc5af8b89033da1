//! JSON values as stored: plain text, zstd-compressed above a size, a marker above a hard limit.
//!
//! Small values are serialized on the calling task; serialization stops as soon as a value
//! passes the compression limit and the rest (serializing, compressing) moves to tokio's
//! blocking pool, so a 64 MiB output never stalls a worker. Decoding does the same by size.

use std::io::{self, Write};
use std::sync::Arc;

use serde_json::Value;

use crate::error::StateError;

/// The first bytes of every zstd frame. JSON text never starts with them (0xB5 is not a
/// valid first byte of UTF-8), so a stored value is compressed exactly when it starts so.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// zstd's default level: fast, and JSON shrinks about tenfold.
const ZSTD_LEVEL: i32 = 3;

/// Payloads of at most this many bytes in total are decoded on the calling task.
const DECODE_INLINE_BYTES: usize = 256 * 1024;

/// Size limits for stored JSON values (outputs, parameters, errors, inputs, triggers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadLimits {
    /// Values whose JSON text is longer than this are stored zstd-compressed
    /// (default 256 KiB).
    pub compress_above: usize,
    /// Values whose JSON text is longer than this are stored as the marker
    /// `{"$truncated": true, "original_bytes": N}` (default 64 MiB). Cursors and the inputs
    /// of incomplete executions are never truncated: storing them fails instead.
    pub truncate_above: usize,
}

impl Default for PayloadLimits {
    fn default() -> Self {
        PayloadLimits {
            compress_above: 256 * 1024,
            truncate_above: 64 * 1024 * 1024,
        }
    }
}

/// Something that writes itself as JSON text: a [`Payload`], or a `serde_json::Value`.
pub trait WriteJson: Send + Sync {
    /// Writes the JSON text, e.g. with `serde_json::to_writer(out, …)`. A write can fail: the
    /// store stops a value as soon as it passes a size limit.
    fn write_json(&self, out: &mut JsonOut) -> serde_json::Result<()>;
}

impl WriteJson for Value {
    fn write_json(&self, out: &mut JsonOut) -> serde_json::Result<()> {
        serde_json::to_writer(out, self)
    }
}

/// A JSON value for the store to write: a value of its own, or JSON that another part writes
/// out as it is stored. The engine gives a module's output the second way: that JSON is shared
/// with the rest of the run and redacted on the way out, so it is never copied only to be
/// serialized. Values read back from a store are always [`Payload::Value`].
#[derive(Clone)]
pub enum Payload {
    Value(Value),
    Written(Arc<dyn WriteJson>),
}

impl Payload {
    /// The value itself, when it is held as one.
    pub fn as_value(&self) -> Option<&Value> {
        match self {
            Payload::Value(value) => Some(value),
            Payload::Written(_) => None,
        }
    }

    /// The value, held or read back from what is written.
    pub fn to_value(&self) -> serde_json::Result<Value> {
        match self {
            Payload::Value(value) => Ok(value.clone()),
            Payload::Written(written) => {
                let mut out = JsonOut::limited(usize::MAX);
                written.write_json(&mut out)?;
                serde_json::from_slice(&out.buf)
            }
        }
    }
}

impl WriteJson for Payload {
    fn write_json(&self, out: &mut JsonOut) -> serde_json::Result<()> {
        match self {
            Payload::Value(value) => value.write_json(out),
            Payload::Written(written) => written.write_json(out),
        }
    }
}

impl From<Value> for Payload {
    fn from(value: Value) -> Payload {
        Payload::Value(value)
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Payload) -> bool {
        match (self, other) {
            (Payload::Value(a), Payload::Value(b)) => a == b,
            _ => matches!((self.to_value(), other.to_value()), (Ok(a), Ok(b)) if a == b),
        }
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.to_value() {
            Ok(value) => value.fmt(f),
            Err(error) => write!(f, "<unwritable JSON: {error}>"),
        }
    }
}

impl serde::Serialize for Payload {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Payload::Value(value) => value.serialize(serializer),
            Payload::Written(_) => self
                .to_value()
                .map_err(serde::ser::Error::custom)?
                .serialize(serializer),
        }
    }
}

/// A value ready to store: JSON text, or zstd-compressed JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Encoded {
    Text(String),
    Compressed(Vec<u8>),
}

impl Encoded {
    pub(crate) fn len(&self) -> usize {
        match self {
            Encoded::Text(text) => text.len(),
            Encoded::Compressed(bytes) => bytes.len(),
        }
    }
}

/// What to do with a value over the hard limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OverLimit {
    /// Store the truncation marker.
    Truncate,
    /// Refuse it (values that must be kept whole); names the value in the error.
    Refuse(&'static str),
}

/// The marker stored in place of a value over the hard limit.
pub fn truncation_marker(original_bytes: u64) -> Value {
    serde_json::json!({ "$truncated": true, "original_bytes": original_bytes })
}

/// Encodes a value for storage.
pub(crate) async fn encode<T: WriteJson + 'static>(
    limits: PayloadLimits,
    value: T,
    over_limit: OverLimit,
) -> Result<Encoded, StateError> {
    Ok(encode_inner(limits, value, over_limit, false).await?.0)
}

/// Encodes an optional value.
pub(crate) async fn encode_opt<T: WriteJson + 'static>(
    limits: PayloadLimits,
    value: Option<T>,
    over_limit: OverLimit,
) -> Result<Option<Encoded>, StateError> {
    match value {
        Some(value) => Ok(Some(encode(limits, value, over_limit).await?)),
        None => Ok(None),
    }
}

/// Encodes a value and gives it back (without copying it).
pub(crate) async fn encode_keep(
    limits: PayloadLimits,
    value: Value,
    over_limit: OverLimit,
) -> Result<(Encoded, Value), StateError> {
    let (encoded, value) = encode_inner(limits, value, over_limit, true).await?;
    Ok((encoded, value.unwrap_or(Value::Null)))
}

/// Encodes an optional value and gives it back.
pub(crate) async fn encode_opt_keep(
    limits: PayloadLimits,
    value: Option<Value>,
    over_limit: OverLimit,
) -> Result<(Option<Encoded>, Option<Value>), StateError> {
    match value {
        Some(value) => {
            let (encoded, value) = encode_keep(limits, value, over_limit).await?;
            Ok((Some(encoded), Some(value)))
        }
        None => Ok((None, None)),
    }
}

/// Serializes on the calling task up to the compression limit, on the blocking pool beyond
/// (where a large value that is not kept is also dropped).
async fn encode_inner<T: WriteJson + 'static>(
    limits: PayloadLimits,
    value: T,
    over_limit: OverLimit,
    keep: bool,
) -> Result<(Encoded, Option<T>), StateError> {
    let mut writer = JsonOut::limited(limits.compress_above);
    match value.write_json(&mut writer) {
        Ok(()) => return Ok((text(writer.buf)?, keep.then_some(value))),
        Err(error) if !error.is_io() => return Err(serialize_error(error)),
        Err(_) => {} // Over the compression limit: finish on the blocking pool.
    }
    tokio::task::spawn_blocking(move || {
        let encoded = encode_large(limits, &value, over_limit)?;
        Ok((encoded, keep.then_some(value)))
    })
    .await
    .map_err(StateError::task)?
}

fn encode_large(limits: PayloadLimits, value: &dyn WriteJson, over_limit: OverLimit) -> Result<Encoded, StateError> {
    let mut writer = JsonOut::limited(limits.truncate_above);
    match value.write_json(&mut writer) {
        Ok(()) => {}
        Err(error) if !error.is_io() => return Err(serialize_error(error)),
        Err(_) => {
            let mut counter = JsonOut::counter();
            value.write_json(&mut counter).map_err(serialize_error)?;
            return match over_limit {
                OverLimit::Truncate => {
                    let marker = serde_json::to_vec(&truncation_marker(counter.count)).map_err(serialize_error)?;
                    text(marker)
                }
                OverLimit::Refuse(what) => Err(StateError::TooLarge {
                    what: what.to_owned(),
                    bytes: counter.count,
                    limit: limits.truncate_above as u64,
                }),
            };
        }
    }
    if writer.buf.len() <= limits.compress_above {
        return text(writer.buf);
    }
    let compressed = zstd::bulk::compress(&writer.buf, ZSTD_LEVEL)
        .map_err(|error| StateError::corrupt("value (compressing)", error))?;
    Ok(Encoded::Compressed(compressed))
}

fn text(bytes: Vec<u8>) -> Result<Encoded, StateError> {
    String::from_utf8(bytes)
        .map(Encoded::Text)
        .map_err(|error| StateError::corrupt("value (serializing)", error))
}

fn serialize_error(error: serde_json::Error) -> StateError {
    StateError::Unwritable {
        reason: error.to_string(),
    }
}

/// Decodes a stored value (JSON text or a zstd frame of JSON text).
pub(crate) fn decode(what: &str, bytes: &[u8], limits: PayloadLimits) -> Result<Value, StateError> {
    if bytes.starts_with(&ZSTD_MAGIC) {
        // Bounded: a value was compressed only when it was at most the hard limit.
        let text = zstd::bulk::decompress(bytes, limits.truncate_above.max(limits.compress_above))
            .map_err(|error| StateError::corrupt(what, error))?;
        serde_json::from_slice(&text).map_err(|error| StateError::corrupt(what, error))
    } else {
        serde_json::from_slice(bytes).map_err(|error| StateError::corrupt(what, error))
    }
}

/// Decodes rows on the calling task when their payloads are small, on the blocking pool
/// otherwise. `payload_bytes` is the stored size of all their payloads.
pub(crate) async fn decode_rows<R, T>(
    rows: Vec<R>,
    payload_bytes: usize,
    decode_row: fn(R, PayloadLimits) -> Result<T, StateError>,
    limits: PayloadLimits,
) -> Result<Vec<T>, StateError>
where
    R: Send + 'static,
    T: Send + 'static,
{
    let decode_all = move || {
        rows.into_iter()
            .map(|row| decode_row(row, limits))
            .collect::<Result<Vec<T>, StateError>>()
    };
    if payload_bytes <= DECODE_INLINE_BYTES {
        decode_all()
    } else {
        tokio::task::spawn_blocking(decode_all)
            .await
            .map_err(StateError::task)?
    }
}

/// Where a payload's JSON text goes: kept up to a limit (a write past it fails, which stops
/// the serializer there), or only counted.
pub struct JsonOut {
    buf: Vec<u8>,
    limit: usize,
    /// Count the bytes, keep none.
    counting: bool,
    count: u64,
}

impl JsonOut {
    fn limited(limit: usize) -> JsonOut {
        JsonOut {
            buf: Vec::with_capacity(256.min(limit)),
            limit,
            counting: false,
            count: 0,
        }
    }

    fn counter() -> JsonOut {
        JsonOut {
            buf: Vec::new(),
            limit: usize::MAX,
            counting: true,
            count: 0,
        }
    }
}

impl JsonOut {
    /// The text written so far; `None` when only counting.
    pub fn written(&self) -> Option<&[u8]> {
        (!self.counting).then_some(self.buf.as_slice())
    }

    /// Drops what was written after the first `len` bytes (a writer that only counts keeps
    /// its count).
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }
}

impl Write for JsonOut {
    #[inline]
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.counting {
            self.count += data.len() as u64;
        } else if self.buf.len() + data.len() > self.limit {
            return Err(io::Error::other("over the limit"));
        } else {
            self.buf.extend_from_slice(data);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
