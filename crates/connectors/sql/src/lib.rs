//! The SQL connector: `query`, `execute`, `insert` and `upsert` against SQLite or Postgres.
//!
//! This crate holds the connector's catalog entry only ([`spec`]): the connection schema and
//! each module's parameter and output schemas. The runtime (a connection pool per connection,
//! binding, row decoding) arrives with the SQL connector's issue. It is the one connector not
//! built on HTTP, so its connection carries no shared HTTP keys.

mod connection;
mod params;

use flowrun_connect::schema::{input_schema, module};
use flowrun_flow::catalog::{ConnectorSpec, ModuleKind};

pub use connection::SqlConnection;
pub use params::{IDENTIFIER_PATTERN, Identifier, InsertParams, Row, Rows, StatementParams, UpsertParams, WriteOutput};

/// The name in `uses: sql.<module>` and `connector: sql`.
pub const NAME: &str = "sql";

/// The catalog entry of the `sql` connector.
pub fn spec() -> ConnectorSpec {
    ConnectorSpec {
        name: NAME.to_owned(),
        description: "SQLite and Postgres databases: run queries with bound parameters, execute \
                      statements, and insert or upsert rows."
            .to_owned(),
        connection_schema: input_schema::<SqlConnection>(),
        connection_optional: false,
        modules: vec![
            module::<StatementParams, Vec<Row>>(
                "query",
                ModuleKind::Search,
                "Runs a query with bound parameters; outputs the rows as objects of column name \
                 to value.",
            ),
            module::<StatementParams, WriteOutput>(
                "execute",
                ModuleKind::Action,
                "Runs a statement (update, delete, DDL, ...) with bound parameters; outputs \
                 `{rows_affected}`.",
            ),
            module::<InsertParams, WriteOutput>(
                "insert",
                ModuleKind::Create,
                "Inserts rows into a table in one transaction; outputs `{rows_affected}`.",
            ),
            module::<UpsertParams, WriteOutput>(
                "upsert",
                ModuleKind::Update,
                "Inserts rows, updating those whose key columns match; outputs \
                 `{rows_affected}`.",
            ),
        ],
    }
}

#[cfg(test)]
mod tests;
