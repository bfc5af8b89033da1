//! The tokens of `$filter` and skiptokens: identifiers, typed literals (`'text'` with `''`,
//! integers, `123L`, decimals, `true`/`false`, `null`, `guid'…'`, `datetime'…'`),
//! parentheses and commas.

use super::model::{Kind, Val, parse_datetime};

#[derive(Clone, Debug, PartialEq)]
pub enum Token {
    Ident(String),
    Lit(Val, Kind),
    Null,
    Open,
    Close,
    Comma,
}

/// Splits an expression into tokens; the literals come out typed.
pub fn lex(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            ',' => {
                tokens.push(Token::Comma);
                i += 1;
            }
            '\'' => {
                let (text, next) = quoted(&chars, i)?;
                tokens.push(Token::Lit(Val::Str(text), Kind::Str));
                i = next;
            }
            c if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let number: String = chars[start..i].iter().collect();
                let suffix = chars.get(i).copied().filter(|c| c.is_ascii_alphabetic());
                if suffix.is_some() {
                    i += 1;
                }
                tokens.push(number_literal(&number, suffix)?);
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '/') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                if chars.get(i) == Some(&'\'') {
                    let (text, next) = quoted(&chars, i)?;
                    i = next;
                    tokens.push(prefixed_literal(&word, &text)?);
                } else {
                    tokens.push(match word.as_str() {
                        "true" => Token::Lit(Val::Bool(true), Kind::Bool),
                        "false" => Token::Lit(Val::Bool(false), Kind::Bool),
                        "null" => Token::Null,
                        _ => Token::Ident(word),
                    });
                }
            }
            other => return Err(format!("Syntax error at position {i}: unexpected character '{other}'.")),
        }
    }
    Ok(tokens)
}

/// `'…'` starting at `start` (with `''` for a quote); the text and the position after it.
fn quoted(chars: &[char], start: usize) -> Result<(String, usize), String> {
    let mut text = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None => {
                return Err(format!(
                    "Syntax error: unterminated string literal at position {start}."
                ));
            }
            Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                text.push('\'');
                i += 2;
            }
            Some('\'') => return Ok((text, i + 1)),
            Some(c) => {
                text.push(*c);
                i += 1;
            }
        }
    }
}

fn number_literal(number: &str, suffix: Option<char>) -> Result<Token, String> {
    let bad = || format!("Syntax error: '{number}' is not a valid number.");
    let decimal = number.contains('.');
    match suffix.map(|c| c.to_ascii_uppercase()) {
        Some('L') if !decimal => Ok(Token::Lit(Val::Int(number.parse().map_err(|_| bad())?), Kind::Int64)),
        Some('M' | 'D' | 'F') => Ok(Token::Lit(Val::Num(number.parse().map_err(|_| bad())?), Kind::Double)),
        None if decimal => Ok(Token::Lit(Val::Num(number.parse().map_err(|_| bad())?), Kind::Double)),
        None => {
            let n: i64 = number.parse().map_err(|_| bad())?;
            let kind = if i32::try_from(n).is_ok() {
                Kind::Int32
            } else {
                Kind::Int64
            };
            Ok(Token::Lit(Val::Int(n), kind))
        }
        Some(_) => Err(bad()),
    }
}

fn prefixed_literal(prefix: &str, text: &str) -> Result<Token, String> {
    match prefix {
        "guid" => {
            if is_guid(text) {
                Ok(Token::Lit(Val::Str(text.to_ascii_lowercase()), Kind::Guid))
            } else {
                Err(format!("Unrecognized 'Edm.Guid' literal 'guid'{text}''."))
            }
        }
        "datetime" => parse_datetime(text)
            .map(|ms| Token::Lit(Val::Date(ms), Kind::Date))
            .ok_or_else(|| format!("Unrecognized 'Edm.DateTime' literal 'datetime'{text}''.")),
        other => Err(format!("Unrecognized literal prefix '{other}'.")),
    }
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
pub fn is_guid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Comma-separated literals (a skiptoken); `None` when it is anything else.
pub fn literals(text: &str) -> Option<Vec<Val>> {
    let mut out = Vec::new();
    let mut expect_value = true;
    for token in lex(text).ok()? {
        match (token, expect_value) {
            (Token::Lit(v, _), true) => out.push(v),
            (Token::Null, true) => out.push(Val::Null),
            (Token::Comma, false) => {}
            _ => return None,
        }
        expect_value = !expect_value;
    }
    (!expect_value).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skiptoken_literals() {
        assert_eq!(
            literals("'a''b',12L,guid'4a3b0000-0000-0000-0000-000000000001'"),
            Some(vec![
                Val::str("a'b"),
                Val::Int(12),
                Val::str("4a3b0000-0000-0000-0000-000000000001")
            ])
        );
        assert_eq!(literals("x"), None);
        assert_eq!(literals("1,"), None);
    }
}
