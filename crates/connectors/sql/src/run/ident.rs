//! Table and column names. Templates render them, so they are checked at run time as well as
//! by the validator ([`IDENTIFIER_PATTERN`](crate::IDENTIFIER_PATTERN)), and always written
//! double-quoted: a checked name holds no quote, so quoting it cannot be escaped.

use std::fmt;

/// `[A-Za-z_][A-Za-z0-9_]*`: one column, table or schema name.
pub(crate) fn is_name(text: &str) -> bool {
    let mut bytes = text.bytes();
    bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}

/// [`IDENTIFIER_PATTERN`](crate::IDENTIFIER_PATTERN): a name, or `schema.name`.
pub(crate) fn is_identifier(text: &str) -> bool {
    match text.split_once('.') {
        Some((schema, name)) => is_name(schema) && is_name(name),
        None => is_name(text),
    }
}

/// `"name"`, for a name [`is_name`] accepted.
pub(crate) fn quote(name: &str) -> String {
    debug_assert!(is_name(name), "quoting an unchecked name: {name}");
    format!("\"{name}\"")
}

/// A checked table name, with its schema (Postgres) or attached database (SQLite).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Table {
    pub schema: Option<String>,
    pub name: String,
}

impl Table {
    /// The table `text` names, or why it names none.
    pub(crate) fn parse(text: &str) -> Result<Table, String> {
        if !is_identifier(text) {
            return Err(format!(
                "`table` {} is not a table name: letters, digits and `_`, optionally `schema.table`",
                shown_name(text)
            ));
        }
        Ok(match text.split_once('.') {
            Some((schema, name)) => Table {
                schema: Some(schema.to_owned()),
                name: name.to_owned(),
            },
            None => Table {
                schema: None,
                name: text.to_owned(),
            },
        })
    }

    /// `"schema"."name"` or `"name"`.
    pub(crate) fn quoted(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{}.{}", quote(schema), quote(&self.name)),
            None => quote(&self.name),
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schema {
            Some(schema) => write!(f, "{schema}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Checks a column name.
pub(crate) fn column(name: &str, place: impl FnOnce() -> String) -> Result<(), String> {
    if is_name(name) {
        Ok(())
    } else {
        Err(format!(
            "{} names column {}, which is not a column name: letters, digits and `_`, not starting \
             with a digit (rename it in a transform before this step)",
            place(),
            shown_name(name)
        ))
    }
}

/// A name as an error shows it: quoted as Rust would, at most 60 characters.
fn shown_name(text: &str) -> String {
    let cut: String = text.chars().take(60).collect();
    if cut.len() < text.len() {
        format!("{cut:?}…")
    } else {
        format!("{cut:?}")
    }
}
