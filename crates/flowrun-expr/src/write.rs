//! Template values written out as JSON text with every secret redacted, without building the
//! JSON first: what a record stores of a step's output (a transform's list of thousands of
//! records, a module's response).
//!
//! The rules are [`to_json`](crate::to_json)'s, with the same messages: an undefined value or
//! one with no JSON form is an error naming its path. Shared JSON (a module's output, or a part
//! of it) is written where it lies.

use std::borrow::Cow;
use std::cell::RefCell;
use std::io::Write;

use minijinja::value::ValueKind;
use serde::ser::{Error as _, SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::Value;
use crate::convert::{key_name, no_json_form, number, push_index, push_key, undefined_at, unreadable};
use crate::secret::{Redacting, Redactor};
use crate::shared::JsonNode;

/// Writes `value` as JSON text, every string and key redacted: the text of
/// `redactor.redact_json(&to_json(value)?)`.
pub fn write_json_redacted(value: &Value, redactor: &Redactor, out: impl Write) -> serde_json::Result<()> {
    let path = RefCell::new(String::from("$"));
    serde_json::to_writer(
        out,
        &Writing {
            value,
            redactor,
            path: &path,
        },
    )
}

/// A writer whose text so far can be read back and cut short: what
/// [`write_json_redacted_searched`] needs.
pub trait ReadBack: Write {
    /// Everything written so far; `None` when the writer keeps nothing (one that only counts).
    fn written(&self) -> Option<&[u8]>;
    /// Drops what was written after the first `len` bytes.
    fn truncate(&mut self, len: usize);
}

impl ReadBack for Vec<u8> {
    fn written(&self) -> Option<&[u8]> {
        Some(self)
    }

    fn truncate(&mut self, len: usize) {
        Vec::truncate(self, len);
    }
}

/// [`write_json_redacted`], most often with one search for secrets instead of one per string:
/// when [`Redactor::searches_json_text`], the value is written as it is and the text searched
/// once; only when a secret is found there is it written again, string by string. Thousands of
/// records with no secret in them (the usual output) cost one fast scan. The text is the same
/// either way.
pub fn write_json_redacted_searched<W: ReadBack>(
    value: &Value,
    redactor: &Redactor,
    out: &mut W,
) -> serde_json::Result<()> {
    write_searched(redactor, out, |redactor, out| write_json_redacted(value, redactor, out))
}

/// Calls `write` with no redactor, searches what it wrote once, and calls it again with
/// `redactor` only when a secret is there (or cannot be searched for in JSON text).
pub(crate) fn write_searched<W: ReadBack>(
    redactor: &Redactor,
    out: &mut W,
    write: impl Fn(&Redactor, &mut W) -> serde_json::Result<()>,
) -> serde_json::Result<()> {
    if redactor.searches_json_text()
        && let Some(start) = out.written().map(<[u8]>::len)
    {
        // A write that fails (past the writer's limit, or a value with no JSON form) is
        // written again redacted, which fails the same way, or fits once secrets are `***`.
        if write(&Redactor::default(), out).is_ok()
            && out.written().is_some_and(|text| !redactor.finds_bytes(&text[start..]))
        {
            return Ok(());
        }
        out.truncate(start);
    }
    write(redactor, out)
}

struct Writing<'a> {
    value: &'a Value,
    redactor: &'a Redactor,
    /// Where `value` is, for errors (`$[2].email`).
    path: &'a RefCell<String>,
}

impl Writing<'_> {
    fn at<'b>(&'b self, value: &'b Value) -> Writing<'b> {
        Writing {
            value,
            redactor: self.redactor,
            path: self.path,
        }
    }
}

impl Serialize for Writing<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (value, redactor) = (self.value, self.redactor);
        if let Some(node) = value.downcast_object_ref::<JsonNode>() {
            // JSON text with no escape in it shows every string as it is, so a secret in any
            // string or key is in the text as it is: none found, the text is the redacted
            // JSON, and it is written without being parsed.
            if let Some(raw) = node.raw()
                && !raw.get().contains('\\')
                && !redactor.finds(raw.get())
            {
                return raw.serialize(serializer);
            }
            return Redacting {
                json: node.json(),
                redactor,
            }
            .serialize(serializer);
        }
        match value.kind() {
            ValueKind::Undefined => Err(S::Error::custom(undefined_at(&self.path.borrow()))),
            ValueKind::None => serializer.serialize_unit(),
            ValueKind::Bool => serializer.serialize_bool(value.is_true()),
            ValueKind::Number => number(value).serialize(serializer),
            ValueKind::String => serializer.serialize_str(&redactor.redact(value.as_str().unwrap_or_default())),
            ValueKind::Bytes => {
                let text = String::from_utf8_lossy(value.as_bytes().unwrap_or_default());
                serializer.serialize_str(&redactor.redact(&text))
            }
            ValueKind::Seq | ValueKind::Iterable => {
                let items = value
                    .try_iter()
                    .map_err(|error| S::Error::custom(unreadable("list", &self.path.borrow(), error)))?;
                let mut seq = serializer.serialize_seq(value.len())?;
                for (index, item) in items.enumerate() {
                    let mark = self.path.borrow().len();
                    push_index(&mut self.path.borrow_mut(), index);
                    seq.serialize_element(&self.at(&item))?;
                    self.path.borrow_mut().truncate(mark);
                }
                seq.end()
            }
            ValueKind::Map if let Some(entries) = value.downcast_object_ref::<indexmap::IndexMap<Value, Value>>() => {
                // A map a template or a transform built: its entries in order, each value
                // where it is (no lookup by key).
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, item) in entries {
                    let name = key.as_str().map_or_else(|| Cow::Owned(key.to_string()), Cow::Borrowed);
                    let mark = self.path.borrow().len();
                    push_key(&mut self.path.borrow_mut(), &name);
                    map.serialize_entry(&*redactor.redact(&name), &self.at(item))?;
                    self.path.borrow_mut().truncate(mark);
                }
                map.end()
            }
            ValueKind::Map => {
                let keys = value
                    .try_iter()
                    .map_err(|error| S::Error::custom(unreadable("map", &self.path.borrow(), error)))?;
                let mut map = serializer.serialize_map(value.len())?;
                for key in keys {
                    let item = value.get_item(&key).unwrap_or_default();
                    let name = key_name(&key);
                    let mark = self.path.borrow().len();
                    push_key(&mut self.path.borrow_mut(), &name);
                    map.serialize_entry(&*redactor.redact(&name), &self.at(&item))?;
                    self.path.borrow_mut().truncate(mark);
                }
                map.end()
            }
            // Functions, macros and other opaque values have no JSON form.
            ValueKind::Plain | ValueKind::Invalid | _ => {
                Err(S::Error::custom(no_json_form(&self.path.borrow(), value)))
            }
        }
    }
}
