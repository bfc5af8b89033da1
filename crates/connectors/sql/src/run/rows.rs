//! What `insert` and `upsert` write, worked out before any I/O: the rows checked and (for an
//! upsert) merged by key, grouped by the columns they carry, cut into statements within the
//! backend's bind-parameter limit; the types a new table or column gets; the SQL text.
//!
//! Everything here is plain data in, plain data out, so it is unit- and property-tested.

use std::borrow::Cow;
use std::fmt::Write as _;

use indexmap::IndexMap;
use serde_json::Value as Json;

use super::ident::{self, Table, quote};
use crate::Identifier;

/// One row to write: column name to value, in the order given. The JSON object itself, moved
/// out of the `with:` block (a 10,000-row block is never copied).
pub(crate) type Row = serde_json::Map<String, Json>;

/// Which SQL a statement is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The most bind parameters one statement may carry: Postgres counts them in 16 bits;
    /// SQLite's `SQLITE_MAX_VARIABLE_NUMBER` is 32,766 since 3.32 (sqlx bundles a newer one).
    fn max_params(self) -> usize {
        match self {
            Dialect::Sqlite => 32_766,
            Dialect::Postgres => 65_535,
        }
    }
}

/// At most this many rows go in one `INSERT … VALUES`. Upserting 10,000 rows of 10 columns
/// into SQLite (benches/upsert.rs `rows_per_statement`), statements of 100 rows took a third
/// longer than of 1,000, and of 3,276 (the parameter limit) no less; shorter statements also
/// cost less memory on both sides.
pub(crate) const MAX_ROWS_PER_STATEMENT: usize = 1_000;

/// A checked `insert` or `upsert`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Write {
    pub table: Table,
    /// For an upsert, one row per key, merged in order.
    pub rows: Vec<Row>,
    /// The upsert's key columns; empty for an insert.
    pub key: Vec<String>,
    pub upsert: bool,
    pub create: bool,
}

impl Write {
    /// Checks names and keys; merges an upsert's rows that share a key (the later row's columns
    /// win, as if the rows were upserted one after the other).
    pub(crate) fn new(
        table: &str,
        rows: Vec<Row>,
        key: Option<Vec<Identifier>>,
        create: bool,
    ) -> Result<Write, String> {
        let table = Table::parse(table)?;
        for (row_idx, row) in rows.iter().enumerate() {
            for column in row.keys() {
                ident::column(column, || format!("`rows[{row_idx}]`"))?;
            }
        }
        let upsert = key.is_some();
        let key: Vec<String> = key.unwrap_or_default().into_iter().map(|column| column.0).collect();
        if upsert && key.is_empty() {
            return Err("`key` names no column: an upsert matches rows by at least one column".to_owned());
        }
        for (idx, column) in key.iter().enumerate() {
            ident::column(column, || "`key`".to_owned())?;
            if key[..idx].contains(column) {
                return Err(format!("`key` names column `{column}` twice"));
            }
        }
        let rows = if upsert { merge_by_key(rows, &key)? } else { rows };
        Ok(Write {
            table,
            rows,
            key,
            upsert,
            create,
        })
    }

    /// The columns of a new table and their types, from the rows' JSON values.
    pub(crate) fn column_kinds(&self) -> IndexMap<&str, Kind> {
        let mut kinds: IndexMap<&str, Kind> = IndexMap::new();
        for row in &self.rows {
            for (column, value) in row {
                let kind = Kind::of(value);
                kinds
                    .entry(column)
                    .and_modify(|seen| *seen = seen.merge(kind))
                    .or_insert(kind);
            }
        }
        kinds
    }

    /// The rows grouped by the set of columns they carry, each group in order of its first row:
    /// a row's absent columns are not written (they keep their value or get their default).
    pub(crate) fn groups(&self) -> Vec<Group<'_>> {
        let mut groups: IndexMap<Vec<&str>, Group<'_>> = IndexMap::new();
        let mut last: Option<usize> = None;
        for row in &self.rows {
            // Rows mostly come alike: the same columns in the same order as the row before.
            if let Some((_, group)) = last.and_then(|idx| groups.get_index_mut(idx))
                && group.columns.len() == row.len()
                && row.keys().zip(&group.columns).all(|(column, known)| column == known)
            {
                group.rows.push(row);
                continue;
            }
            let mut set: Vec<&str> = row.keys().map(String::as_str).collect();
            set.sort_unstable();
            let entry = groups.entry(set);
            last = Some(entry.index());
            entry
                .or_insert_with(|| Group {
                    columns: row.keys().map(String::as_str).collect(),
                    rows: Vec::new(),
                })
                .rows
                .push(row);
        }
        groups.into_values().collect()
    }
}

/// Rows with the same key become one: an upsert's `ON CONFLICT` may not touch a row twice in
/// one statement (Postgres refuses), and rows of one call behave as if written in order.
fn merge_by_key(rows: Vec<Row>, key: &[String]) -> Result<Vec<Row>, String> {
    let mut merged: IndexMap<String, Row> = IndexMap::with_capacity(rows.len());
    let mut identity = String::new();
    for (row_idx, row) in rows.into_iter().enumerate() {
        let mut values = Vec::with_capacity(key.len());
        for column in key {
            match row.get(column) {
                Some(value) => values.push(value),
                None => {
                    return Err(format!(
                        "`rows[{row_idx}]` has no `{column}`, a `key` column: every row of an upsert carries its key"
                    ));
                }
            }
        }
        // A null key matches no row (SQL's NULL is never equal): such rows stay apart.
        identity.clear();
        if values.iter().any(|value| value.is_null()) {
            let _ = write!(identity, "null row {row_idx}");
        } else {
            for value in values {
                match value {
                    Json::String(text) => {
                        let _ = write!(identity, "s{}:{text}", text.len());
                    }
                    other => {
                        let _ = write!(identity, "v{other}");
                    }
                }
                identity.push('\0');
            }
        }
        match merged.get_mut(identity.as_str()) {
            Some(earlier) => earlier.extend(row),
            None => {
                merged.insert(identity.clone(), row);
            }
        }
    }
    Ok(merged.into_values().collect())
}

/// Rows that carry the same columns: one statement shape.
#[derive(Debug)]
pub(crate) struct Group<'a> {
    /// In the order of the group's first row.
    pub columns: Vec<&'a str>,
    pub rows: Vec<&'a Row>,
}

impl Group<'_> {
    /// How many rows one statement of this group carries.
    pub(crate) fn rows_per_statement(&self, dialect: Dialect) -> usize {
        match self.columns.len() {
            0 => 1,
            columns => (dialect.max_params() / columns).clamp(1, MAX_ROWS_PER_STATEMENT),
        }
    }
}

/// The type a JSON value asks a new column to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Only nulls seen.
    Null,
    /// Integers that fit a signed 64-bit integer.
    Integer,
    /// An integer beyond `i64`.
    BigInteger,
    Float,
    Bool,
    Text,
    /// Objects and lists.
    Json,
    /// Values of different kinds (other than integers with floats).
    Mixed,
}

impl Kind {
    pub(crate) fn of(value: &Json) -> Kind {
        match value {
            Json::Null => Kind::Null,
            Json::Bool(_) => Kind::Bool,
            Json::Number(number) if number.is_i64() => Kind::Integer,
            Json::Number(number) if number.is_u64() => Kind::BigInteger,
            Json::Number(_) => Kind::Float,
            Json::String(_) => Kind::Text,
            Json::Array(_) | Json::Object(_) => Kind::Json,
        }
    }

    pub(crate) fn merge(self, other: Kind) -> Kind {
        use Kind::*;
        match (self, other) {
            (Null, kind) | (kind, Null) => kind,
            (a, b) if a == b => a,
            (Integer, BigInteger) | (BigInteger, Integer) => BigInteger,
            (Integer | BigInteger, Float) | (Float, Integer | BigInteger) => Float,
            _ => Mixed,
        }
    }

    /// The column type a new table or column gets (docs/connectors/sql.md, "Creating tables").
    pub(crate) fn sql_type(self, dialect: Dialect) -> &'static str {
        match (dialect, self) {
            (_, Kind::Null | Kind::Text | Kind::Mixed) => "TEXT",
            (_, Kind::Bool) => "BOOLEAN",
            (Dialect::Postgres, Kind::Integer) => "BIGINT",
            (Dialect::Postgres, Kind::BigInteger) => "NUMERIC",
            (Dialect::Postgres, Kind::Float) => "DOUBLE PRECISION",
            (Dialect::Postgres, Kind::Json) => "JSONB",
            (Dialect::Sqlite, Kind::Integer | Kind::BigInteger) => "INTEGER",
            (Dialect::Sqlite, Kind::Float) => "REAL",
            (Dialect::Sqlite, Kind::Json) => "TEXT",
        }
    }
}

/// `CREATE TABLE` for the write's rows; the upsert's key is the primary key.
pub(crate) fn create_table_sql(dialect: Dialect, write: &Write) -> String {
    let kinds = write.column_kinds();
    let mut parts: Vec<String> = kinds
        .iter()
        .map(|(column, kind)| format!("{} {}", quote(column), kind.sql_type(dialect)))
        .collect();
    if !write.key.is_empty() {
        parts.push(format!("PRIMARY KEY ({})", quoted_list(&write.key)));
    }
    format!(
        "CREATE TABLE IF NOT EXISTS {} ({})",
        write.table.quoted(),
        parts.join(", ")
    )
}

/// `ALTER TABLE … ADD COLUMN` for one column the table lacks.
pub(crate) fn add_column_sql(dialect: Dialect, write: &Write, column: &str, kind: Kind) -> String {
    let if_not_exists = match dialect {
        Dialect::Postgres => "IF NOT EXISTS ",
        // SQLite has no IF NOT EXISTS here; the write holds the database's write lock.
        Dialect::Sqlite => "",
    };
    format!(
        "ALTER TABLE {} ADD COLUMN {if_not_exists}{} {}",
        write.table.quoted(),
        quote(column),
        kind.sql_type(dialect)
    )
}

/// `INSERT INTO t (a, b) VALUES (…), (…) [ON CONFLICT (key) DO UPDATE SET …]` for `n_rows` rows
/// of `columns`. Postgres placeholders are cast to each column's type (`$3::timestamp`): values
/// are bound as text and Postgres reads them as its own literals.
pub(crate) fn insert_sql(dialect: Dialect, write: &Write, columns: &[&str], casts: &[&str], n_rows: usize) -> String {
    let mut sql = String::with_capacity(64 + n_rows * columns.len() * 16);
    sql.push_str("INSERT INTO ");
    sql.push_str(&write.table.quoted());
    if columns.is_empty() {
        sql.push_str(" DEFAULT VALUES");
        return sql;
    }
    sql.push_str(" (");
    sql.push_str(&quoted_list(columns));
    sql.push_str(") VALUES ");
    let mut param = 0usize;
    for row_idx in 0..n_rows {
        if row_idx > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column_idx in 0..columns.len() {
            if column_idx > 0 {
                sql.push_str(", ");
            }
            param += 1;
            match dialect {
                Dialect::Sqlite => sql.push('?'),
                Dialect::Postgres => {
                    sql.push('$');
                    sql.push_str(&param.to_string());
                    if let Some(cast) = casts.get(column_idx) {
                        sql.push_str("::");
                        sql.push_str(cast);
                    }
                }
            }
        }
        sql.push(')');
    }
    if write.upsert {
        sql.push_str(" ON CONFLICT (");
        sql.push_str(&quoted_list(&write.key));
        sql.push_str(") DO ");
        let updated: Vec<String> = columns
            .iter()
            .filter(|column| !write.key.iter().any(|key| key == *column))
            .map(|column| format!("{0} = excluded.{0}", quote(column)))
            .collect();
        if updated.is_empty() {
            sql.push_str("NOTHING");
        } else {
            sql.push_str("UPDATE SET ");
            sql.push_str(&updated.join(", "));
        }
    }
    sql
}

fn quoted_list<S: AsRef<str>>(names: &[S]) -> String {
    names
        .iter()
        .map(|name| quote(name.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a Postgres value is read as, for [`pg_text`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PgTarget {
    /// An array type: a JSON list becomes an array literal (`{1,2}`).
    pub array: bool,
    /// `bytea`: a string is base64 (what `query` outputs).
    pub bytea: bool,
}

/// A JSON value as the text Postgres reads with the target's type: strings as they are,
/// numbers and booleans as JSON writes them, objects and lists as JSON text (a list as an array
/// literal for an array type), base64 as `\x…` hex for `bytea`. `None` is SQL NULL.
pub(crate) fn pg_text(value: &Json, target: PgTarget) -> Result<Option<Cow<'_, str>>, String> {
    Ok(Some(match value {
        Json::Null => return Ok(None),
        Json::String(text) if target.bytea => Cow::Owned(bytea_hex(text)?),
        Json::String(text) => Cow::Borrowed(text.as_str()),
        Json::Bool(value) => Cow::Borrowed(if *value { "true" } else { "false" }),
        Json::Number(number) => Cow::Owned(number.to_string()),
        Json::Array(items) if target.array => Cow::Owned(array_literal(items)),
        other => Cow::Owned(other.to_string()),
    }))
}

/// Base64 as Postgres's hex input for `bytea`.
fn bytea_hex(base64_text: &str) -> Result<String, String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(base64_text.trim())
        .map_err(|error| format!("a `bytea` value is given as base64 (as `query` outputs it): {error}"))?;
    let mut hex = String::with_capacity(2 + bytes.len() * 2);
    hex.push_str("\\x");
    for byte in bytes {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    Ok(hex)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A Postgres array literal: `{1,"a b",NULL,{2,3}}`.
pub(crate) fn array_literal(items: &[Json]) -> String {
    let mut text = String::from("{");
    for (idx, item) in items.iter().enumerate() {
        if idx > 0 {
            text.push(',');
        }
        match item {
            Json::Null => text.push_str("NULL"),
            Json::Bool(value) => text.push_str(if *value { "true" } else { "false" }),
            Json::Number(number) => text.push_str(&number.to_string()),
            Json::Array(inner) => text.push_str(&array_literal(inner)),
            Json::String(inner) => quote_element(&mut text, inner),
            Json::Object(_) => quote_element(&mut text, &item.to_string()),
        }
    }
    text.push('}');
    text
}

fn quote_element(text: &mut String, element: &str) {
    text.push('"');
    for c in element.chars() {
        if c == '"' || c == '\\' {
            text.push('\\');
        }
        text.push(c);
    }
    text.push('"');
}

/// What a table must gain before a write's rows fit it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change<'a> {
    Nothing,
    CreateTable,
    /// Columns the rows carry and the table lacks, with the type each gets.
    AddColumns(Vec<(&'a str, Kind)>),
}

/// The change `write` (its rows in `groups`) needs against a table with columns `existing`
/// (`None`: no such table). SQLite compares names without case, as it does; Postgres exactly
/// (names are quoted).
pub(crate) fn change<'a>(
    write: &'a Write,
    groups: &[Group<'a>],
    existing: Option<&[String]>,
    fold_case: bool,
) -> Result<Change<'a>, String> {
    let Some(existing) = existing else {
        return if write.create {
            Ok(Change::CreateTable)
        } else {
            Err(format!(
                "table `{}` does not exist: set `create: true` to create it from the rows, or create it first",
                write.table
            ))
        };
    };
    let has = |column: &str| {
        existing.iter().any(|name| {
            if fold_case {
                name.eq_ignore_ascii_case(column)
            } else {
                name == column
            }
        })
    };
    let mut columns: Vec<&str> = Vec::new();
    for group in groups {
        for column in &group.columns {
            if !columns.contains(column) {
                columns.push(column);
            }
        }
    }
    let missing: Vec<&str> = columns.into_iter().filter(|column| !has(column)).collect();
    if missing.is_empty() {
        return Ok(Change::Nothing);
    }
    let kinds = write.column_kinds();
    let missing: Vec<(&str, Kind)> = missing
        .into_iter()
        .map(|column| (column, kinds.get(column).copied().unwrap_or(Kind::Null)))
        .collect();
    if write.create {
        return Ok(Change::AddColumns(missing));
    }
    let names: Vec<String> = missing.iter().map(|(column, _)| format!("`{column}`")).collect();
    Err(format!(
        "table `{}` has no column {}: set `create: true` to add the columns the rows bring, or leave them out",
        write.table,
        names.join(", ")
    ))
}
