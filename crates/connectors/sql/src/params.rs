//! The `with:` blocks and outputs of the SQL modules.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A table or column name: letters, digits and `_`, optionally `schema.table`. Names are
/// checked, never interpolated as given, so a flow cannot inject SQL through them.
pub const IDENTIFIER_PATTERN: &str = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$";

/// `sql.query` and `sql.execute`: one statement with bound parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct StatementParams {
    /// The statement. Never build it with templates from data: pass values in `params`.
    pub sql: String,
    /// Values bound in order to the placeholders: `$1, $2, ...` (Postgres) or `?` / `?1`
    /// (SQLite), never written into the statement. In Postgres a value takes the type of its
    /// placeholder (an ISO 8601 string compares with a timestamp, a list fills `= ANY($1)`, an
    /// object a jsonb); in SQLite objects and lists are JSON text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<Value>,
}

/// One result row of `sql.query`: column name to value (numbers, strings, booleans, `null`;
/// JSON columns as JSON).
pub type Row = IndexMap<String, Value>;

/// The output of `sql.execute`, `sql.insert` and `sql.upsert`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub struct WriteOutput {
    /// How many rows the statement inserted, changed or deleted.
    pub rows_affected: u64,
}

/// `sql.insert`: adds rows to a table in one transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct InsertParams {
    /// The table, e.g. `orders` or `sales.orders`.
    #[schemars(regex(pattern = IDENTIFIER_PATTERN))]
    pub table: String,
    /// The rows: objects of column name to value (one object alone is one row). Columns absent
    /// from a row get their default.
    pub rows: Rows,
    /// Creates the table when it does not exist, and adds the columns it lacks, from the rows'
    /// JSON types (docs/connectors/sql.md). Default `false`: a missing table or column fails.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create: bool,
}

/// `sql.upsert`: inserts rows, updating those whose `key` columns match an existing row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct UpsertParams {
    /// The table, e.g. `orders` or `sales.orders`.
    #[schemars(regex(pattern = IDENTIFIER_PATTERN))]
    pub table: String,
    /// The rows: objects of column name to value (one object alone is one row). A column a row
    /// does not carry is left as it is; rows of one call with the same key are merged, the
    /// later one's values winning.
    pub rows: Rows,
    /// The columns that identify a row; they need a unique index or primary key
    /// (`ON CONFLICT (key...)`).
    #[schemars(length(min = 1))]
    pub key: Vec<Identifier>,
    /// Creates the table when it does not exist (its primary key: `key`), and adds the columns
    /// it lacks, from the rows' JSON types (docs/connectors/sql.md). Default `false`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create: bool,
}

/// Rows to write: a list of objects, or one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Rows {
    /// Several rows.
    Many(Vec<IndexMap<String, Value>>),
    /// One row.
    One(IndexMap<String, Value>),
}

/// A column name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Identifier(#[schemars(regex(pattern = IDENTIFIER_PATTERN))] pub String);
