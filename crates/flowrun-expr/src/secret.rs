//! Secrets as a type, and the redactor every output passes through.
//!
//! Two defences, because either alone misses cases:
//! - [`Secret`] prints as `***` through `Debug`, `Display` and serde, and a rendered value
//!   that was built from a secret is marked (see [`crate::Rendered`]);
//! - [`Redactor`] replaces every loaded secret's value, and its base64 and URL-encoded forms,
//!   in any text or JSON an output sink writes (logs, errors, run records, `--dry-run`,
//!   recordings). That catches `env.X` naming the same variable, `b64encode(secrets.X)`, and
//!   an API that echoes a token back.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;
use serde_json::Value as Json;

/// What a secret, or anything built from one, prints as.
pub const REDACTED: &str = "***";

/// Secrets shorter than this are not searched for in outputs: replacing every `a` or `1` in a
/// log would hide everything and protect nothing. They are still redacted where they are
/// used as a secret (the type and the marks of rendered values).
pub const MIN_SCRUB_LEN: usize = 4;

/// A secret value: printed, logged and serialized as `***`. Only [`Secret::expose`] gives the
/// value, for the one place that needs it (a request, a template's evaluation).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<Arc<str>>) -> Secret {
        Secret(value.into())
    }

    /// The value itself. Never log or store what this returns.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

/// Replaces every form of every loaded secret with `***`, in one pass over a text.
#[derive(Clone)]
pub struct Redactor {
    /// `None` when there is nothing to search for.
    matcher: Option<Arc<AhoCorasick>>,
    /// No secret form holds a character JSON text escapes (`"`, `\\`, control characters):
    /// each then stands in JSON text exactly as in the string that holds it.
    verbatim_in_json: bool,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n_patterns = self.matcher.as_ref().map_or(0, |matcher| matcher.patterns_len());
        f.debug_struct("Redactor").field("n_patterns", &n_patterns).finish()
    }
}

impl Default for Redactor {
    fn default() -> Redactor {
        Redactor::new(std::iter::empty::<&Secret>())
    }
}

impl Redactor {
    /// A redactor for these secrets: each value, its standard and URL-safe base64 (with and
    /// without padding), and its percent-encoded form (as in a query string or form body).
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a Secret>) -> Redactor {
        let mut patterns: Vec<String> = Vec::new();
        for secret in secrets {
            let value = secret.expose();
            if value.len() < MIN_SCRUB_LEN {
                continue;
            }
            patterns.extend(forms(value));
        }
        patterns.sort();
        patterns.dedup();
        let verbatim_in_json = !patterns
            .iter()
            .any(|pattern| pattern.bytes().any(|byte| byte == b'"' || byte == b'\\' || byte < 0x20));
        let matcher = (!patterns.is_empty()).then(|| {
            // Leftmost-longest: a secret's base64 that contains another secret's value is
            // replaced whole.
            let matcher = AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&patterns)
                .expect("literal patterns of bounded count always build");
            Arc::new(matcher)
        });
        Redactor {
            matcher,
            verbatim_in_json,
        }
    }

    /// True when this redactor knows no secret.
    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// Whether a secret form is anywhere in `text`.
    pub fn finds(&self, text: &str) -> bool {
        self.matcher.as_ref().is_some_and(|matcher| matcher.is_match(text))
    }

    /// Whether a secret form is anywhere in `bytes`.
    pub fn finds_bytes(&self, bytes: &[u8]) -> bool {
        self.matcher.as_ref().is_some_and(|matcher| matcher.is_match(bytes))
    }

    /// True when a JSON text holds a secret in one of its strings or keys only if
    /// [`Redactor::finds_bytes`] finds one in the text: no secret form has a character JSON
    /// escapes. Then a value written as it is and searched once is redacted already when
    /// nothing is found, which costs far less than redacting each of its strings.
    pub fn searches_json_text(&self) -> bool {
        self.matcher.is_some() && self.verbatim_in_json
    }

    /// The text with every secret form replaced by `***`.
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        match &self.matcher {
            Some(matcher) if matcher.is_match(text) => {
                let replacements = vec![REDACTED; matcher.patterns_len()];
                Cow::Owned(matcher.replace_all(text, &replacements))
            }
            _ => Cow::Borrowed(text),
        }
    }

    /// The bytes with every secret form replaced by `***` (for recordings and raw bodies).
    pub fn redact_bytes<'t>(&self, bytes: &'t [u8]) -> Cow<'t, [u8]> {
        match &self.matcher {
            Some(matcher) if matcher.is_match(bytes) => {
                let replacements = vec![REDACTED.as_bytes(); matcher.patterns_len()];
                Cow::Owned(matcher.replace_all_bytes(bytes, &replacements))
            }
            _ => Cow::Borrowed(bytes),
        }
    }

    /// The JSON value with every string (and every key) redacted, changed where it stands:
    /// only strings that hold a secret are rewritten, nothing else is copied (a step's output
    /// of thousands of records is redacted before it is stored).
    pub fn redact_json_in_place(&self, value: &mut Json) {
        let Some(matcher) = &self.matcher else {
            return;
        };
        match value {
            Json::String(text) => {
                if let Cow::Owned(redacted) = self.redact(text) {
                    *text = redacted;
                }
            }
            Json::Array(items) => items.iter_mut().for_each(|item| self.redact_json_in_place(item)),
            Json::Object(map) if map.keys().any(|key| matcher.is_match(key.as_str())) => {
                // A key cannot change in place: the map is rebuilt, in its order.
                *map = std::mem::take(map)
                    .into_iter()
                    .map(|(key, mut value)| {
                        self.redact_json_in_place(&mut value);
                        (self.redact(&key).into_owned(), value)
                    })
                    .collect();
            }
            Json::Object(map) => map.values_mut().for_each(|value| self.redact_json_in_place(value)),
            _ => {}
        }
    }

    /// A copy of the JSON value with every string (and every key) redacted.
    pub fn redact_json(&self, value: &Json) -> Json {
        if self.is_empty() {
            return value.clone();
        }
        match value {
            Json::String(text) => Json::String(self.redact(text).into_owned()),
            Json::Array(items) => Json::Array(items.iter().map(|item| self.redact_json(item)).collect()),
            Json::Object(map) => Json::Object(
                map.iter()
                    .map(|(key, value)| (self.redact(key).into_owned(), self.redact_json(value)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// The forms a secret takes on the wire.
fn forms(value: &str) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let bytes = value.as_bytes();
    let mut forms = vec![value.to_owned()];
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        forms.push(engine.encode(bytes));
    }
    forms.push(percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string());
    // `application/x-www-form-urlencoded` writes a space as `+`.
    forms.push(
        percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
            .to_string()
            .replace("%20", "+"),
    );
    forms
}

/// A JSON value that serializes redacted (see [`crate::write_json_redacted`]).
pub(crate) struct Redacting<'a> {
    pub json: &'a Json,
    pub redactor: &'a Redactor,
}

impl serde::Serialize for Redacting<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        let redactor = self.redactor;
        if redactor.is_empty() {
            // Nothing to search for (a first pass written as it is, or no secrets loaded).
            return self.json.serialize(serializer);
        }
        match self.json {
            Json::String(text) => serializer.serialize_str(&redactor.redact(text)),
            Json::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for json in items {
                    seq.serialize_element(&Redacting { json, redactor })?;
                }
                seq.end()
            }
            Json::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, json) in entries {
                    map.serialize_entry(&*redactor.redact(key), &Redacting { json, redactor })?;
                }
                map.end()
            }
            scalar => scalar.serialize(serializer),
        }
    }
}
