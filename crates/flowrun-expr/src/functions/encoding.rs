//! Encodings: `to_json`, `from_json`, `b64encode`, `b64decode`, `url_encode`, `url_decode`.

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use minijinja::value::ValueKind;
use minijinja::{Environment, Error, State, Value};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use super::{Kind, add_filter_and_function, charge, expect_bytes, expect_map, expect_str, failure};

pub(super) fn register(env: &mut Environment<'static>) {
    add_filter_and_function(env, "to_json", to_json);
    add_filter_and_function(env, "from_json", from_json);
    add_filter_and_function(env, "b64encode", b64encode);
    add_filter_and_function(env, "b64decode", b64decode);
    add_filter_and_function(env, "url_encode", url_encode);
    add_filter_and_function(env, "url_decode", url_decode);
}

/// `to_json(value)`: compact JSON (no spaces), keys in the value's order.
fn to_json(state: &State<'_, '_>, value: &Value) -> Result<String, Error> {
    let json = crate::to_json(value).map_err(|error| failure("to_json", error.message))?;
    let text = serde_json::to_string(&json).map_err(|_| failure("to_json", "the value has no JSON form"))?;
    charge(state, text.len())?;
    Ok(text)
}

/// `from_json(text)`: the value a JSON text holds.
fn from_json(state: &State<'_, '_>, text: &Value) -> Result<Value, Error> {
    let text = expect_str("from_json", "the value", text)?;
    charge(state, text.len())?;
    let json: serde_json::Value = serde_json::from_str(text).map_err(|error| {
        // serde_json's message can quote the input: give only the kind and the place.
        let what = match error.classify() {
            serde_json::error::Category::Eof => "unexpected end of input",
            _ => "syntax error",
        };
        failure(
            "from_json",
            format_args!(
                "input is not valid JSON ({what} at line {}, column {})",
                error.line(),
                error.column()
            ),
        )
    })?;
    Ok(crate::from_json(&json))
}

/// `b64encode(text)`: standard base64 with padding of the text's UTF-8 bytes.
fn b64encode(state: &State<'_, '_>, value: &Value) -> Result<String, Error> {
    let bytes = expect_bytes("b64encode", "the value", value)?;
    charge(state, bytes.len())?;
    Ok(STANDARD.encode(bytes))
}

/// Decoders that accept padding or none: standard, then URL-safe alphabet.
const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT);

/// `b64decode(text)`: the text base64 encodes (standard or URL-safe alphabet, padding
/// optional, surrounding whitespace ignored). The decoded bytes must be UTF-8 text.
fn b64decode(state: &State<'_, '_>, value: &Value) -> Result<String, Error> {
    let text = expect_str("b64decode", "the value", value)?.trim();
    charge(state, text.len())?;
    let bytes = STANDARD_LENIENT
        .decode(text)
        .or_else(|_| URL_SAFE_LENIENT.decode(text))
        .map_err(|_| failure("b64decode", "input is not valid base64"))?;
    String::from_utf8(bytes).map_err(|_| failure("b64decode", "the decoded bytes are not UTF-8 text"))
}

/// What `url_encode` leaves as is: RFC 3986's unreserved characters.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `url_encode(value)`: a string percent-encoded as one URL component (`a b/c` →
/// `a%20b%2Fc`); a map becomes a query string (`{"q": "a b", "n": 2}` → `q=a%20b&n=2`).
fn url_encode(state: &State<'_, '_>, value: &Value) -> Result<String, Error> {
    match value.kind() {
        ValueKind::Map => {
            let mut pairs = Vec::new();
            for (key, item) in expect_map("url_encode", "the value", value)? {
                let key = component("url_encode", &key)?;
                let item = component("url_encode", &item)?;
                charge(state, key.len() + item.len())?;
                pairs.push(format!("{key}={item}"));
            }
            Ok(pairs.join("&"))
        }
        _ => {
            let encoded = component("url_encode", value)?;
            charge(state, encoded.len())?;
            Ok(encoded)
        }
    }
}

fn component(function: &str, value: &Value) -> Result<String, Error> {
    let text = match value.kind() {
        ValueKind::String | ValueKind::Bytes => expect_str(function, "the value", value)?.to_owned(),
        ValueKind::Number => value.to_string(),
        ValueKind::Bool => if value.is_true() { "true" } else { "false" }.to_owned(),
        ValueKind::None => String::new(),
        _ => {
            return Err(failure(
                function,
                format_args!(
                    "can encode strings, numbers and booleans (or a map of them), got {}",
                    Kind(value)
                ),
            ));
        }
    };
    Ok(utf8_percent_encode(&text, COMPONENT).to_string())
}

/// `url_decode(text)`: `%XX` escapes decoded, and `+` read as a space (form encoding).
fn url_decode(state: &State<'_, '_>, value: &Value) -> Result<String, Error> {
    let text = expect_str("url_decode", "the value", value)?;
    charge(state, text.len())?;
    let spaced = text.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| failure("url_decode", "the decoded bytes are not UTF-8 text"))
}
