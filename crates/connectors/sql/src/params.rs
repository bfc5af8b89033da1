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
    /// (SQLite). Objects and lists are bound as JSON text.
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
}

/// `sql.upsert`: inserts rows, updating those whose `key` columns match an existing row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct UpsertParams {
    /// The table, e.g. `orders` or `sales.orders`.
    #[schemars(regex(pattern = IDENTIFIER_PATTERN))]
    pub table: String,
    /// The rows: objects of column name to value (one object alone is one row).
    pub rows: Rows,
    /// The columns that identify a row; they need a unique index or primary key
    /// (`ON CONFLICT (key...)`).
    #[schemars(length(min = 1))]
    pub key: Vec<Identifier>,
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
