//! The SQL connector: `query`, `execute`, `insert` and `upsert` against SQLite or Postgres.
//!
//! [`spec`] is the catalog entry (the connection schema, each module's parameter and output
//! schemas). [`connector`] is the runtime the binary registers (`run/`): one sqlx pool per
//! connection for the process, values always bound (never written into SQL), table and column
//! names checked and quoted, writes batched in one transaction, rows decoded to JSON by column
//! type. It is the one connector not built on HTTP, so its connection carries no shared HTTP
//! keys. What a flow author relies on is in `docs/connectors/sql.md`.
//!
//! Start at `run/mod.rs` (the modules and the bounds of a call), then `run/rows.rs` (what a
//! write does, without I/O) and the two backends, `run/sqlite.rs` and `run/postgres/`.

mod connection;
mod params;
mod run;

use std::sync::Arc;

use flowrun_connect::module::Connector;
use flowrun_connect::schema::{input_schema, module};
use flowrun_flow::catalog::{ConnectorSpec, ModuleKind};

pub use connection::SqlConnection;
pub use params::{IDENTIFIER_PATTERN, Identifier, InsertParams, Row, Rows, StatementParams, UpsertParams, WriteOutput};

/// The name in `uses: sql.<module>` and `connector: sql`.
pub const NAME: &str = "sql";

/// The runtime of the `sql` connector, for the binary's `Registry`. Each call keeps its own
/// pools: register one and share it.
pub fn connector() -> Arc<dyn Connector> {
    Arc::new(run::SqlConnector::default())
}

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
