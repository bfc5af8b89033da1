//! Plain scalars resolved by the YAML 1.2 core schema: `on`, `yes` and `no` stay strings.

use std::borrow::Cow;

use super::NodeValue;

/// The value of a plain (unquoted) scalar.
pub(super) fn resolve_plain(text: Cow<'_, str>) -> NodeValue {
    match text.as_ref() {
        "" | "~" | "null" | "Null" | "NULL" => return NodeValue::Null,
        "true" | "True" | "TRUE" => return NodeValue::Bool(true),
        "false" | "False" | "FALSE" => return NodeValue::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return NodeValue::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return NodeValue::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return NodeValue::Float(f64::NAN),
        _ => {}
    }
    if let Some(value) = resolve_int(&text) {
        return value;
    }
    if is_core_float(&text)
        && let Ok(value) = text.parse::<f64>()
    {
        return NodeValue::Float(value);
    }
    // Most scalars are strings: move the parser's text rather than copy it.
    NodeValue::String(text.into_owned())
}

/// `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+`; an integer too large for i64 becomes a float.
fn resolve_int(text: &str) -> Option<NodeValue> {
    if let Some(octal) = text.strip_prefix("0o") {
        return parse_radix(octal, 8);
    }
    if let Some(hex) = text.strip_prefix("0x") {
        return parse_radix(hex, 16);
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    Some(match text.parse::<i64>() {
        Ok(value) => NodeValue::Int(value),
        Err(_) => NodeValue::Float(text.parse::<f64>().ok()?),
    })
}

fn parse_radix(digits: &str, radix: u32) -> Option<NodeValue> {
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    Some(match i64::from_str_radix(digits, radix) {
        Ok(value) => NodeValue::Int(value),
        Err(_) => NodeValue::String(format!("0{}{digits}", if radix == 8 { 'o' } else { 'x' })),
    })
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, checked by hand: Rust's float parser
/// alone also takes `inf`, `NaN` and `1e5`-less spellings the core schema leaves as strings.
fn is_core_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (mantissa, None),
    };
    let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    let mantissa_ok = match fraction {
        Some(fraction) => all_digits(whole) && all_digits(fraction) && !(whole.is_empty() && fraction.is_empty()),
        None => !whole.is_empty() && all_digits(whole),
    };
    let exponent_ok = exponent.is_none_or(|exponent| {
        let digits = exponent.strip_prefix(['-', '+']).unwrap_or(exponent);
        !digits.is_empty() && all_digits(digits)
    });
    mantissa_ok && exponent_ok
}
