//! The runtime: `query`, `execute`, `insert` and `upsert` on one pool per connection
//! ([`database`]), for SQLite ([`sqlite`]) and Postgres ([`postgres`]). What a write does is
//! worked out without I/O in [`rows`]; names are checked in [`ident`]; refusals are worded in
//! [`error`].
//!
//! Every call is bounded by the connection's `timeout` and the run's cancellation. A call that
//! is stopped mid-statement closes its connection rather than return it to the pool (its
//! transaction, if any, rolls back), and SQLite's progress handler interrupts the statement
//! itself.

mod database;
mod error;
mod ident;
mod postgres;
pub(crate) mod rows;
mod sqlite;

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use flowrun_connect::module::{CallContext, Connector, ErrorKind, Module, ModuleError};
use flowrun_connect::schema::{invalid_params, parse_params};
use flowrun_flow::catalog::{ConnectorSpec, ModuleKind};
use serde_json::{Value as Json, json};
use sqlx::pool::PoolConnection;

use self::database::{Backend, Database, Databases};
use self::error::Refusal;
use self::rows::{Dialect, Write};
use crate::{InsertParams, StatementParams, UpsertParams};

#[cfg(test)]
pub(crate) use self::database::Url;
#[cfg(test)]
pub(crate) use self::ident::{is_identifier, is_name};
#[cfg(test)]
pub(crate) use self::postgres::binary;
#[cfg(test)]
pub(crate) use self::sqlite::bind as sqlite_bind;

/// A call's work on its connection.
pub(crate) type Work<'a, T> = std::pin::Pin<Box<dyn Future<Output = Result<T, ModuleError>> + Send + 'a>>;

/// How much of a statement a message shows.
const SHOWN_SQL_CHARS: usize = 200;

/// The runtime of the `sql` connector: its modules share the process's pools.
#[derive(Default)]
pub(crate) struct SqlConnector {
    databases: Arc<Databases>,
}

impl Connector for SqlConnector {
    fn name(&self) -> &str {
        crate::NAME
    }

    fn spec(&self) -> ConnectorSpec {
        crate::spec()
    }

    fn module(&self, name: &str) -> Option<Arc<dyn Module>> {
        let op = Op::ALL.into_iter().find(|op| op.name() == name)?;
        Some(Arc::new(SqlModule {
            op,
            databases: self.databases.clone(),
        }))
    }
}

/// The modules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Query,
    Execute,
    Insert,
    Upsert,
}

impl Op {
    pub(crate) const ALL: [Op; 4] = [Op::Query, Op::Execute, Op::Insert, Op::Upsert];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::Query => "query",
            Op::Execute => "execute",
            Op::Insert => "insert",
            Op::Upsert => "upsert",
        }
    }

    fn uses(self) -> &'static str {
        match self {
            Op::Query => "sql.query",
            Op::Execute => "sql.execute",
            Op::Insert => "sql.insert",
            Op::Upsert => "sql.upsert",
        }
    }

    /// As the catalog says (a unit test holds the two together).
    pub(crate) fn kind(self) -> ModuleKind {
        match self {
            Op::Query => ModuleKind::Search,
            Op::Execute => ModuleKind::Action,
            Op::Insert => ModuleKind::Create,
            Op::Upsert => ModuleKind::Update,
        }
    }
}

struct SqlModule {
    op: Op,
    databases: Arc<Databases>,
}

#[async_trait::async_trait]
impl Module for SqlModule {
    fn name(&self) -> &str {
        self.op.name()
    }

    fn kind(&self) -> ModuleKind {
        self.op.kind()
    }

    async fn call(&self, context: &CallContext, params: Json) -> Result<Json, ModuleError> {
        let uses = self.op.uses();
        // Parameters first: a wrong `with:` block needs no database.
        let request = Request::parse(self.op, params)?;
        let database = self.databases.get(context, uses).await?;
        let call = Call {
            context,
            database: &database,
            subject: request.subject(uses),
            deadline: Instant::now() + database.timeout,
        };
        let result = match (&database.backend, &request) {
            (Backend::Sqlite { pool, .. }, Request::Query(params)) => {
                sqlite::query(&call, pool, params).await.map(Json::Array)
            }
            (Backend::Sqlite { pool, .. }, Request::Execute(params)) => {
                sqlite::execute(&call, pool, params).await.map(affected)
            }
            (Backend::Sqlite { pool, .. }, Request::Write(write)) => {
                sqlite::write(&call, pool, write).await.map(affected)
            }
            (Backend::Postgres(postgres), Request::Query(params)) => {
                postgres::query(&call, postgres, params).await.map(Json::Array)
            }
            (Backend::Postgres(postgres), Request::Execute(params)) => {
                postgres::execute(&call, postgres, params).await.map(affected)
            }
            (Backend::Postgres(postgres), Request::Write(write)) => {
                postgres::write(&call, postgres, write).await.map(affected)
            }
        };
        result.map_err(|error| database.redact(error))
    }
}

fn affected(rows_affected: u64) -> Json {
    json!({ "rows_affected": rows_affected })
}

/// A call's parameters, checked.
enum Request {
    Query(StatementParams),
    Execute(StatementParams),
    Write(Write),
}

impl Request {
    fn parse(op: Op, params: Json) -> Result<Request, ModuleError> {
        let uses = op.uses();
        Ok(match op {
            Op::Query => Request::Query(parse_params(uses, params)?),
            Op::Execute => Request::Execute(parse_params(uses, params)?),
            Op::Insert => {
                let (params, rows) = take_rows(params);
                let params: InsertParams = parse_params(uses, params)?;
                let rows = rows_of(uses, rows)?;
                Request::Write(
                    Write::new(&params.table, rows, None, params.create).map_err(|why| invalid_params(uses, &why))?,
                )
            }
            Op::Upsert => {
                let (params, rows) = take_rows(params);
                let params: UpsertParams = parse_params(uses, params)?;
                let rows = rows_of(uses, rows)?;
                Request::Write(
                    Write::new(&params.table, rows, Some(params.key), params.create)
                        .map_err(|why| invalid_params(uses, &why))?,
                )
            }
        })
    }

    /// What messages about the call name: the statement or the table.
    fn subject(&self, uses: &str) -> String {
        match self {
            Request::Query(params) | Request::Execute(params) => format!("{uses} `{}`", shown_sql(&params.sql)),
            Request::Write(write) => format!("{uses} into `{}`", write.table),
        }
    }
}

/// The `with:` block without its `rows` (an empty list in their place, for the schema check),
/// and the rows: they are moved, not deserialized through `Rows` (an untagged enum, which serde
/// buffers and copies whole; 10,000 rows are most of a call's work otherwise).
fn take_rows(mut params: Json) -> (Json, Option<Json>) {
    let rows = params.as_object_mut().and_then(|block| block.remove("rows"));
    if rows.is_some()
        && let Some(block) = params.as_object_mut()
    {
        block.insert("rows".to_owned(), Json::Array(Vec::new()));
    }
    (params, rows)
}

/// `rows`: a list of objects, or one object.
fn rows_of(uses: &str, rows: Option<Json>) -> Result<Vec<rows::Row>, ModuleError> {
    match rows {
        Some(Json::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(row_idx, item)| match item {
                Json::Object(row) => Ok(row),
                other => Err(invalid_params(
                    uses,
                    &format!(
                        "`rows[{row_idx}]`: {} is not an object of column name to value",
                        json_kind(&other)
                    ),
                )),
            })
            .collect(),
        Some(Json::Object(row)) => Ok(vec![row]),
        Some(other) => Err(invalid_params(
            uses,
            &format!(
                "`rows`: {} is neither a list of objects nor an object",
                json_kind(&other)
            ),
        )),
        None => Err(invalid_params(uses, "missing field `rows`")),
    }
}

fn json_kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

/// The first characters of a statement, on one line.
pub(crate) fn shown_sql(sql: &str) -> String {
    let one_line = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(SHOWN_SQL_CHARS) {
        Some((at, _)) => format!("{}…", &one_line[..at]),
        None => one_line,
    }
}

/// One module call under way.
pub(crate) struct Call<'a> {
    pub context: &'a CallContext,
    pub database: &'a Database,
    /// `sql.query `select …`` or `sql.upsert into `orders``.
    pub subject: String,
    /// When the connection's `timeout` runs out.
    pub deadline: Instant,
}

impl Call<'_> {
    fn dialect(&self) -> Dialect {
        match self.database.backend {
            Backend::Sqlite { .. } => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    pub(crate) fn cancelled(&self) -> ModuleError {
        ModuleError::new(
            ErrorKind::Cancelled,
            format!("{}: cancelled: the run is stopping", self.subject),
        )
    }

    pub(crate) fn timed_out(&self) -> ModuleError {
        ModuleError::new(
            ErrorKind::Timeout,
            format!(
                "{}: took longer than the connection's timeout ({}; connection `{}`)",
                self.subject,
                shown_duration(self.database.timeout),
                self.database.connection
            ),
        )
    }

    pub(crate) fn invalid(&self, why: &str) -> ModuleError {
        ModuleError::new(ErrorKind::Invalid, format!("{}: {why}", self.subject))
    }

    /// `work` within the deadline, unless the run is cancelled first. (Boxed as a `Send`
    /// future where it is made: rustc cannot prove an `async` block that borrows a connection
    /// `Send` for every lifetime once it is passed on as an `impl Future`.)
    pub(crate) async fn bounded<T>(&self, work: Work<'_, T>) -> Result<T, ModuleError> {
        tokio::select! {
            biased;
            () = self.context.cancel.cancelled() => Err(self.cancelled()),
            () = tokio::time::sleep_until(self.deadline.into()) => Err(self.timed_out()),
            result = work => result,
        }
    }

    /// A refusal of the database, worded with the call's subject.
    pub(crate) fn fail(&self, error: &sqlx::Error) -> ModuleError {
        self.fail_with(Refusal::of(self.dialect(), error), "")
    }

    /// A refusal with a hint after the database's message.
    pub(crate) fn fail_with(&self, refusal: Refusal, hint: &str) -> ModuleError {
        if refusal.interrupted() {
            if self.context.cancel.is_cancelled() {
                return self.cancelled();
            }
            if Instant::now() >= self.deadline {
                return self.timed_out();
            }
        }
        let mut message = format!("{}: {}", self.subject, refusal.said);
        if !hint.is_empty() {
            message.push_str("; ");
            message.push_str(hint);
        }
        if refusal.kind == ErrorKind::Connect {
            message.push_str(&format!(
                " (connection `{}`, {})",
                self.database.connection, self.database.shown_url
            ));
        }
        let mut error = ModuleError::new(refusal.kind, message);
        if let Some(code) = refusal.code {
            error = error.with_details(json!({ "code": code }));
        }
        error
    }

    /// Could not get a connection: worded with the database's URL.
    pub(crate) fn fail_connect(&self, error: &sqlx::Error) -> ModuleError {
        let refusal = Refusal::of(self.dialect(), error);
        let mut connect_error = ModuleError::new(
            refusal.kind,
            format!(
                "{}: cannot connect to {} (connection `{}`): {}",
                self.subject, self.database.shown_url, self.database.connection, refusal.said
            ),
        );
        if let Some(code) = refusal.code {
            connect_error = connect_error.with_details(json!({ "code": code }));
        }
        connect_error
    }

    /// No connection of the pool became free within the timeout.
    pub(crate) fn pool_busy(&self, max_connections: u32) -> ModuleError {
        ModuleError::new(
            ErrorKind::Timeout,
            format!(
                "{}: none of the {max_connections} connections of connection `{}` became free within {} \
                 (raise `max_connections` or `timeout`)",
                self.subject,
                self.database.connection,
                shown_duration(self.database.timeout)
            ),
        )
    }
}

pub(crate) fn shown_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}

/// A pooled connection held by one call. Unless the call settles it (its work ran to the end,
/// whatever the result), it is closed when dropped instead of going back to the pool: a call
/// stopped mid-statement leaves a connection in a state the next call must not inherit.
pub(crate) struct Held<DB: sqlx::Database> {
    connection: PoolConnection<DB>,
    settled: bool,
    /// Set when dropped unsettled: SQLite's progress handler then interrupts the statement.
    abandoned: Arc<AtomicBool>,
}

impl<DB: sqlx::Database> Held<DB> {
    pub(crate) fn new(connection: PoolConnection<DB>) -> Held<DB> {
        Held {
            connection,
            settled: false,
            abandoned: Arc::new(AtomicBool::new(false)),
        }
    }

    pub(crate) fn settle(&mut self) {
        self.settled = true;
    }

    pub(crate) fn abandoned(&self) -> Arc<AtomicBool> {
        self.abandoned.clone()
    }
}

impl<DB: sqlx::Database> Deref for Held<DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &DB::Connection {
        &self.connection
    }
}

impl<DB: sqlx::Database> DerefMut for Held<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        &mut self.connection
    }
}

impl<DB: sqlx::Database> Drop for Held<DB> {
    fn drop(&mut self) {
        if !self.settled {
            self.abandoned.store(true, Ordering::Release);
            self.connection.close_on_drop();
        }
    }
}
