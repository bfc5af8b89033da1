//! Text: `regex_replace`, `regex_search`, `regex_findall`, the `regex_match` test,
//! `slugify`, `strip_html`.
//!
//! Regular expressions are the `regex` crate's syntax (linear time: no look-around or
//! back-references, so no pattern can hang a run), compiled once and cached.

use std::borrow::Cow;
use std::sync::LazyLock;

use minijinja::value::ValueKind;
use minijinja::{Environment, Error, State, Value};
use regex::{Regex, RegexBuilder};

use super::{BoundedCache, Kind, add_filter_and_function, charge, expect_str, failure};

pub(super) fn register(env: &mut Environment<'static>) {
    add_filter_and_function(env, "regex_replace", regex_replace);
    add_filter_and_function(env, "regex_search", regex_search);
    add_filter_and_function(env, "regex_findall", regex_findall);
    add_filter_and_function(env, "slugify", slugify);
    add_filter_and_function(env, "strip_html", strip_html);
    env.add_test("regex_match", regex_match);
}

/// Compiled patterns: templates run per item with the same few patterns.
static REGEXES: LazyLock<BoundedCache<Regex>> = LazyLock::new(|| BoundedCache::new(256));

/// Bytes a compiled pattern may take: ample for hand-written patterns, bounded for hostile ones.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

fn compiled(function: &str, pattern: &Value) -> Result<Regex, Error> {
    let pattern = expect_str(function, "the pattern", pattern)?;
    REGEXES.get_or_compile(pattern, |pattern| {
        RegexBuilder::new(pattern)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|error| match error {
                regex::Error::CompiledTooBig(_) => failure(function, "the pattern is too large"),
                // The message quotes the pattern: say only that it is wrong.
                _ => failure(
                    function,
                    "the pattern is not a valid regular expression (regex crate syntax: no look-around or back-references)",
                ),
            })
    })
}

/// The text a regex function works on: strings as they are, numbers as written.
fn subject<'a>(function: &str, value: &'a Value) -> Result<Cow<'a, str>, Error> {
    match value.kind() {
        ValueKind::Number => Ok(Cow::Owned(value.to_string())),
        _ => expect_str(function, "the value", value).map(Cow::Borrowed),
    }
}

/// `regex_replace(text, pattern, replacement)`: every match replaced; `$1`, `${name}` in the
/// replacement are the groups (`$$` is a `$`).
fn regex_replace(state: &State<'_, '_>, text: &Value, pattern: &Value, replacement: &Value) -> Result<String, Error> {
    let text = subject("regex_replace", text)?;
    let regex = compiled("regex_replace", pattern)?;
    let replacement = expect_str("regex_replace", "the replacement", replacement)?;
    charge(state, text.len())?;
    Ok(regex.replace_all(&text, replacement).into_owned())
}

/// `regex_search(text, pattern)`: the first match, or none. With capture groups, the first
/// group's text.
fn regex_search(state: &State<'_, '_>, text: &Value, pattern: &Value) -> Result<Value, Error> {
    let text = subject("regex_search", text)?;
    let regex = compiled("regex_search", pattern)?;
    charge(state, text.len())?;
    let group = usize::from(regex.captures_len() > 1);
    Ok(regex
        .captures(&text)
        .and_then(|captures| captures.get(group))
        .map_or(Value::from(()), |found| Value::from(found.as_str())))
}

/// `regex_findall(text, pattern)`: every match, as a list. With capture groups, each match's
/// first group.
fn regex_findall(state: &State<'_, '_>, text: &Value, pattern: &Value) -> Result<Value, Error> {
    let text = subject("regex_findall", text)?;
    let regex = compiled("regex_findall", pattern)?;
    charge(state, text.len())?;
    let group = usize::from(regex.captures_len() > 1);
    Ok(regex
        .captures_iter(&text)
        .map(|captures| captures.get(group).map_or("", |found| found.as_str()).to_owned())
        .map(Value::from)
        .collect())
}

/// `text is regex_match(pattern)`: the pattern matches somewhere in the text (anchor it with
/// `^…$` to match the whole). Undefined and none never match.
fn regex_match(state: &State<'_, '_>, text: &Value, pattern: &Value) -> Result<bool, Error> {
    let regex = compiled("regex_match", pattern)?;
    if text.is_undefined() || text.is_none() {
        return Ok(false);
    }
    let text = subject("regex_match", text)?;
    charge(state, text.len())?;
    Ok(regex.is_match(&text))
}

/// `slugify(text, separator="-")`: lowercase ASCII letters and digits joined by the
/// separator: `"Crème brûlée à 5€!"` → `"creme-brulee-a-5"`. Common accented Latin letters
/// lose their accents; other characters separate words.
fn slugify(state: &State<'_, '_>, text: &Value, separator: Option<&str>) -> Result<String, Error> {
    let text = subject("slugify", text)?;
    charge(state, text.len())?;
    let separator = separator.unwrap_or("-");
    let mut out = String::with_capacity(text.len());
    let mut pending_separator = false;
    for c in text.chars() {
        let lower: Cow<'static, str> = if c.is_ascii_alphanumeric() {
            Cow::Owned(c.to_ascii_lowercase().to_string())
        } else if let Some(plain) = unaccented(c) {
            Cow::Borrowed(plain)
        } else if c == '\'' || c == '\u{2019}' {
            // "don't" is one word.
            continue;
        } else {
            pending_separator = true;
            continue;
        };
        if pending_separator && !out.is_empty() {
            out.push_str(separator);
        }
        pending_separator = false;
        out.push_str(&lower);
    }
    Ok(out)
}

/// The plain ASCII of an accented Latin letter, lowercase.
fn unaccented(c: char) -> Option<&'static str> {
    Some(match c.to_lowercase().next().unwrap_or(c) {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
        'ğ' => "g",
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => "i",
        'ł' | 'ľ' | 'ĺ' => "l",
        'ñ' | 'ń' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
        'œ' => "oe",
        'ŕ' | 'ř' => "r",
        'ś' | 'š' | 'ş' | 'ș' => "s",
        'ß' => "ss",
        'ť' | 'ţ' | 'ț' => "t",
        'þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    })
}

/// `strip_html(text)`: the text of an HTML fragment: tags and comments removed, the content
/// of `<script>` and `<style>` dropped, `<br>` and block ends made line breaks, and the
/// common entities (`&amp;`, `&lt;`, `&nbsp;`, `&#39;`…) decoded.
fn strip_html(state: &State<'_, '_>, html: &Value) -> Result<String, Error> {
    let html = match html.kind() {
        ValueKind::None | ValueKind::Undefined => {
            return Err(failure(
                "strip_html",
                format_args!("the value must be a string, got {}", Kind(html)),
            ));
        }
        _ => subject("strip_html", html)?,
    };
    charge(state, html.len())?;
    let mut out = String::with_capacity(html.len());
    let mut rest: &str = &html;
    while let Some(open) = rest.find('<') {
        decode_entities(&rest[..open], &mut out);
        rest = &rest[open..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            rest = comment.find("-->").map_or("", |end| &comment[end + 3..]);
            continue;
        }
        let Some(close) = rest.find('>') else {
            // A lone `<` is text.
            decode_entities(rest, &mut out);
            rest = "";
            break;
        };
        let tag = &rest[1..close];
        rest = &rest[close + 1..];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if !tag.starts_with('/') && (name == "script" || name == "style") {
            let end = format!("</{name}");
            let lowered = rest.to_ascii_lowercase();
            rest = match lowered.find(&end) {
                Some(at) => rest[at..].find('>').map_or("", |gt| &rest[at + gt + 1..]),
                None => "",
            };
            continue;
        }
        let breaks = name == "br" || (tag.starts_with('/') && BLOCKS.contains(&name.as_str()));
        if breaks {
            out.push('\n');
        }
    }
    decode_entities(rest, &mut out);
    Ok(out)
}

/// Elements whose end starts a new line in `strip_html`.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "li",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "table",
    "blockquote",
    "pre",
];

fn decode_entities(text: &str, out: &mut String) {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest
            .find(';')
            .filter(|end| *end <= 10)
            .and_then(|end| entity(&rest[1..end]).map(|c| (c, end)));
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
}

fn entity(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "copy" => '©',
        "reg" => '®',
        "euro" => '€',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        _ => return None,
    })
}
