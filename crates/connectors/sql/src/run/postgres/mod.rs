//! Postgres. Parameters of `query` and `execute` are typed by Postgres itself: the statement is
//! prepared first, and each JSON value is encoded for the type Postgres inferred for its
//! placeholder ([`binary::encode`]); values whose type has no plain JSON mapping (timestamps,
//! numerics, arrays, …) are sent as text and converted by Postgres in one extra query. Writes
//! bind every value as text and cast each placeholder to its column's type (`$3::timestamp
//! without time zone`), read from the catalog once per call.

pub(crate) mod binary;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use flowrun_connect::module::{ErrorKind, ModuleError};
use serde_json::Value as Json;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgArguments, PgConnectOptions, PgConnection, PgRow, PgTypeInfo};
use sqlx::{Arguments, Column, ConnectOptions, Connection, Either, Executor, Postgres, Row, Statement, ValueRef};

use self::binary::{Encoded, PgType};
use super::database::PostgresDatabase;
use super::error::Refusal;
use super::rows::{self, Change, Dialect, PgTarget, Write};
use super::{Call, Held};
use crate::StatementParams;

/// Type OIDs below this are Postgres's own and never change: their names are cached.
const FIRST_USER_OID: u32 = 16_384;
/// How long the connection tried outside the pool may take.
const PROBE_CONNECT: Duration = Duration::from_secs(10);

/// `sql.query`: the rows as objects.
pub(crate) async fn query(
    call: &Call<'_>,
    database: &PostgresDatabase,
    params: &StatementParams,
) -> Result<Vec<Json>, ModuleError> {
    let mut held = acquire(call, database).await?;
    call.bounded(Box::pin(async {
        let result = async {
            let arguments = arguments(call, database, &mut held, &params.sql, &params.params).await?;
            sqlx::query_with(&params.sql, arguments)
                .fetch_all(&mut *held)
                .await
                .map_err(|error| call.fail(&error))
        }
        .await;
        held.settle();
        decode_rows(&result?).map_err(|why| call.invalid(&why))
    }))
    .await
}

/// `sql.execute`: how many rows the statement changed. Without `params` the statement goes as
/// a simple query, so it may hold several statements (a migration script).
pub(crate) async fn execute(
    call: &Call<'_>,
    database: &PostgresDatabase,
    params: &StatementParams,
) -> Result<u64, ModuleError> {
    let mut held = acquire(call, database).await?;
    call.bounded(Box::pin(async {
        let result = async {
            if params.params.is_empty() {
                return (&mut *held)
                    .execute(params.sql.as_str())
                    .await
                    .map_err(|error| call.fail(&error));
            }
            let arguments = arguments(call, database, &mut held, &params.sql, &params.params).await?;
            sqlx::query_with(&params.sql, arguments)
                .execute(&mut *held)
                .await
                .map_err(|error| call.fail(&error))
        }
        .await;
        held.settle();
        Ok(result?.rows_affected())
    }))
    .await
}

/// `sql.insert` and `sql.upsert`: every row in one transaction.
pub(crate) async fn write(call: &Call<'_>, database: &PostgresDatabase, write: &Write) -> Result<u64, ModuleError> {
    if write.rows.is_empty() {
        return Ok(0);
    }
    let mut held = acquire(call, database).await?;
    call.bounded(Box::pin(async {
        let result = in_transaction(call, &mut held, write).await;
        held.settle();
        result
    }))
    .await
}

async fn in_transaction(call: &Call<'_>, connection: &mut PgConnection, write: &Write) -> Result<u64, ModuleError> {
    let mut transaction = connection.begin().await.map_err(|error| call.fail(&error))?;
    match write_rows(call, &mut transaction, write).await {
        Ok(affected) => {
            transaction
                .commit()
                .await
                .map_err(|error| write_error(call, write, &error))?;
            Ok(affected)
        }
        Err(error) => {
            // Best effort: should it fail, dropping the transaction rolls back later.
            let _ = transaction.rollback().await;
            Err(error)
        }
    }
}

/// A column of the target table, as the casts need it.
struct TableColumn {
    name: String,
    /// `format_type` without a type modifier (`character varying`, not `character varying(20)`:
    /// an explicit cast to `varchar(20)` would cut a long value where assignment refuses it).
    cast: String,
    target: PgTarget,
}

async fn write_rows(call: &Call<'_>, connection: &mut PgConnection, write: &Write) -> Result<u64, ModuleError> {
    let mut columns = table_columns(call, connection, write).await?;
    let mut names = column_names(&columns);
    let groups = write.groups();
    let needs_change = !matches!(
        rows::change(write, &groups, names.as_deref(), false),
        Ok(Change::Nothing)
    );
    if needs_change && write.create {
        // Concurrent calls creating the same table or column take turns; after the lock the
        // catalog is read again (another call may have done it).
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(format!("flowrun sql {}", write.table.quoted()))
            .execute(&mut *connection)
            .await
            .map_err(|error| call.fail(&error))?;
        columns = table_columns(call, connection, write).await?;
        names = column_names(&columns);
    }
    let change = rows::change(write, &groups, names.as_deref(), false)
        .map_err(|why| ModuleError::new(ErrorKind::Client, format!("{}: {why}", call.subject)))?;
    let statements: Vec<String> = match change {
        Change::Nothing => Vec::new(),
        Change::CreateTable => vec![rows::create_table_sql(Dialect::Postgres, write)],
        Change::AddColumns(added) => added
            .into_iter()
            .map(|(column, kind)| rows::add_column_sql(Dialect::Postgres, write, column, kind))
            .collect(),
    };
    if !statements.is_empty() {
        for sql in &statements {
            (&mut *connection)
                .execute(sql.as_str())
                .await
                .map_err(|error| call.fail(&error))?;
        }
        columns = table_columns(call, connection, write).await?;
    }
    let columns = columns.unwrap_or_default();
    let mut affected = 0;
    for group in &groups {
        let mut casts = Vec::with_capacity(group.columns.len());
        let mut targets = Vec::with_capacity(group.columns.len());
        for column in &group.columns {
            let found = columns
                .iter()
                .find(|known| known.name == *column)
                .ok_or_else(|| call.invalid(&format!("table `{}` has no column `{column}`", write.table)))?;
            casts.push(found.cast.as_str());
            targets.push(found.target);
        }
        for chunk in group.rows.chunks(group.rows_per_statement(Dialect::Postgres)) {
            let sql = rows::insert_sql(Dialect::Postgres, write, &group.columns, &casts, chunk.len());
            let mut arguments = PgArguments::default();
            for row in chunk {
                for (column, target) in group.columns.iter().zip(&targets) {
                    let text = rows::pg_text(row.get(*column).unwrap_or(&Json::Null), *target)
                        .map_err(|why| call.invalid(&format!("column `{column}`: {why}")))?;
                    arguments
                        .add(text.as_deref())
                        .map_err(|error| call.invalid(&format!("column `{column}`: {error}")))?;
                }
            }
            let done = sqlx::query_with(&sql, arguments)
                .execute(&mut *connection)
                .await
                .map_err(|error| write_error(call, write, &error))?;
            affected += done.rows_affected();
        }
    }
    Ok(affected)
}

fn column_names(columns: &Option<Vec<TableColumn>>) -> Option<Vec<String>> {
    columns
        .as_ref()
        .map(|columns| columns.iter().map(|column| column.name.clone()).collect())
}

/// The table's columns from the catalog; `None` when there is no such table.
async fn table_columns(
    call: &Call<'_>,
    connection: &mut PgConnection,
    write: &Write,
) -> Result<Option<Vec<TableColumn>>, ModuleError> {
    // Plain reads of pg_class, not `to_regclass`: that goes through the backend's catalog cache,
    // which still says "no such table" after the advisory lock was waited for (only relation
    // locks make a backend take in other sessions' catalog changes).
    let rows = sqlx::query(
        "WITH rel AS ( \
             SELECT c.oid FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relname = $1 \
               AND CASE WHEN $2::text IS NULL THEN n.nspname = ANY (current_schemas(true)) \
                        ELSE n.nspname = $2::text END \
             ORDER BY array_position(current_schemas(true), n.nspname) \
             LIMIT 1) \
         SELECT rel.oid IS NOT NULL, a.attname::text, format_type(a.atttypid, NULL), \
                t.typcategory = 'A', a.atttypid = 'bytea'::regtype \
         FROM (SELECT 1) one \
         LEFT JOIN rel ON true \
         LEFT JOIN pg_catalog.pg_attribute a \
                ON a.attrelid = rel.oid AND a.attnum > 0 AND NOT a.attisdropped \
         LEFT JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
         ORDER BY a.attnum",
    )
    .bind(write.table.name.as_str())
    .bind(write.table.schema.as_deref())
    .fetch_all(connection)
    .await
    .map_err(|error| call.fail(&error))?;
    let mut columns = Vec::with_capacity(rows.len());
    for row in &rows {
        let read = || -> Result<Option<Option<TableColumn>>, sqlx::Error> {
            if !row.try_get::<bool, _>(0)? {
                return Ok(None);
            }
            let Some(name) = row.try_get::<Option<String>, _>(1)? else {
                // A table without columns.
                return Ok(Some(None));
            };
            Ok(Some(Some(TableColumn {
                name,
                cast: row
                    .try_get::<Option<String>, _>(2)?
                    .unwrap_or_else(|| "text".to_owned()),
                target: PgTarget {
                    array: row.try_get::<Option<bool>, _>(3)?.unwrap_or(false),
                    bytea: row.try_get::<Option<bool>, _>(4)?.unwrap_or(false),
                },
            })))
        };
        match read().map_err(|error| call.fail(&error))? {
            None => return Ok(None),
            Some(None) => {}
            Some(Some(column)) => columns.push(column),
        }
    }
    Ok(Some(columns))
}

fn write_error(call: &Call<'_>, write: &Write, error: &sqlx::Error) -> ModuleError {
    let refusal = Refusal::of(Dialect::Postgres, error);
    let hint = if refusal.no_unique_index() {
        format!(
            "an upsert needs a primary key or unique index on exactly its `key` columns: \
             `CREATE UNIQUE INDEX ON {} ({})`",
            write.table,
            write.key.join(", ")
        )
    } else {
        String::new()
    };
    call.fail_with(refusal, &hint)
}

/// A connection of the pool. sqlx's pool retries a refused connection until its timeout (it
/// takes a refusal for a server starting up), then says only that it timed out: so while the
/// pool holds no connection (the first call, or after an outage), one connection is tried
/// outside it first, and a server that is down or refuses the login fails the call at once,
/// with its reason (`connect`, for the step's `retry`).
async fn acquire(call: &Call<'_>, database: &PostgresDatabase) -> Result<Held<Postgres>, ModuleError> {
    let (pool, options) = (&database.pool, &database.options);
    if pool.size() == 0 {
        probe(call, options).await?;
    }
    let acquired = tokio::select! {
        biased;
        () = call.context.cancel.cancelled() => return Err(call.cancelled()),
        acquired = pool.acquire() => acquired,
    };
    match acquired {
        Ok(connection) => Ok(Held::new(connection)),
        Err(sqlx::Error::PoolTimedOut) if pool.size() == 0 => {
            probe(call, options).await?;
            Err(call.pool_busy(pool.options().get_max_connections()))
        }
        Err(sqlx::Error::PoolTimedOut) => Err(call.pool_busy(pool.options().get_max_connections())),
        Err(error) => Err(call.fail_connect(&error)),
    }
}

/// One connection outside the pool, closed again: `Ok` when the server takes it.
async fn probe(call: &Call<'_>, options: &PgConnectOptions) -> Result<(), ModuleError> {
    let limit = PROBE_CONNECT.min(call.database.timeout);
    let attempt = tokio::select! {
        biased;
        () = call.context.cancel.cancelled() => return Err(call.cancelled()),
        attempt = tokio::time::timeout(limit, options.connect()) => attempt,
    };
    match attempt {
        Ok(Ok(connection)) => {
            let _ = connection.close().await;
            Ok(())
        }
        Ok(Err(error)) => Err(call.fail_connect(&error)),
        Err(_) => Err(ModuleError::new(
            ErrorKind::Connect,
            format!(
                "{}: cannot connect to {} (connection `{}`): no answer within {}",
                call.subject,
                call.database.shown_url,
                call.database.connection,
                super::shown_duration(limit)
            ),
        )),
    }
}

/// A parameter bound as the bytes of the type Postgres inferred for its placeholder.
struct Bound {
    type_info: PgTypeInfo,
    bytes: Option<Vec<u8>>,
}

impl sqlx::Type<Postgres> for Bound {
    fn type_info() -> PgTypeInfo {
        // Never used: `produces` names each value's own type.
        <String as sqlx::Type<Postgres>>::type_info()
    }
}

impl sqlx::Encode<'_, Postgres> for Bound {
    fn encode_by_ref(&self, buffer: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        match &self.bytes {
            Some(bytes) => {
                buffer.extend_from_slice(bytes);
                Ok(IsNull::No)
            }
            None => Ok(IsNull::Yes),
        }
    }

    fn produces(&self) -> Option<PgTypeInfo> {
        Some(self.type_info.clone())
    }
}

/// `params` for `sql`, each encoded for the type Postgres infers for its placeholder.
async fn arguments(
    call: &Call<'_>,
    database: &PostgresDatabase,
    connection: &mut PgConnection,
    sql: &str,
    params: &[Json],
) -> Result<PgArguments, ModuleError> {
    let mut arguments = PgArguments::default();
    if params.is_empty() {
        return Ok(arguments);
    }
    let statement = connection.prepare(sql).await.map_err(|error| call.fail(&error))?;
    let types: Vec<PgTypeInfo> = match statement.parameters() {
        Some(Either::Left(types)) => types.to_vec(),
        _ => Vec::new(),
    };
    if types.len() != params.len() {
        return Err(call.invalid(&format!(
            "the statement has {} placeholder(s) but `params` has {} value(s)",
            types.len(),
            params.len()
        )));
    }
    let mut bound: Vec<Option<Bound>> = Vec::with_capacity(params.len());
    let mut converted: Vec<(usize, String)> = Vec::new();
    for (idx, (type_info, value)) in types.iter().zip(params).enumerate() {
        let ty = PgType::of(type_info);
        let encoded = binary::encode(&ty, value)
            .map_err(|why| call.invalid(&format!("`params[{idx}]` (${}, {}): {why}", idx + 1, ty.name)))?;
        match encoded {
            Encoded::Bytes(bytes) => bound.push(Some(Bound {
                type_info: type_info.clone(),
                bytes,
            })),
            Encoded::Text(text) => {
                converted.push((idx, text));
                bound.push(None);
            }
        }
    }
    if !converted.is_empty() {
        let oids: Vec<u32> = converted
            .iter()
            .map(|(idx, _)| types[*idx].oid().map_or(0, |oid| oid.0))
            .collect();
        let names = type_names(call, &database.type_names, connection, &oids).await?;
        let select: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(position, name)| format!("CAST(${}::text AS {name})", position + 1))
            .collect();
        let sql = format!("SELECT {}", select.join(", "));
        let mut texts = PgArguments::default();
        for (_, text) in &converted {
            texts
                .add(text.as_str())
                .map_err(|error| call.invalid(&error.to_string()))?;
        }
        let row = sqlx::query_with(&sql, texts)
            .fetch_one(&mut *connection)
            .await
            .map_err(|error| {
                let refusal = Refusal::of(Dialect::Postgres, &error);
                let which: Vec<String> = converted
                    .iter()
                    .zip(&names)
                    .map(|((idx, _), name)| format!("`params[{idx}]` as {name}"))
                    .collect();
                call.fail_with(
                    Refusal {
                        kind: ErrorKind::Invalid,
                        said: format!("reading {}: {}", which.join(", "), refusal.said),
                        ..refusal
                    },
                    "",
                )
            })?;
        for (position, (idx, _)) in converted.iter().enumerate() {
            let raw = row.try_get_raw(position).map_err(|error| call.fail(&error))?;
            let bytes = if raw.is_null() {
                None
            } else {
                Some(
                    raw.as_bytes()
                        .map_err(|error| call.invalid(&error.to_string()))?
                        .to_vec(),
                )
            };
            bound[*idx] = Some(Bound {
                type_info: types[*idx].clone(),
                bytes,
            });
        }
    }
    for value in bound.into_iter().flatten() {
        arguments.add(value).map_err(|error| call.invalid(&error.to_string()))?;
    }
    Ok(arguments)
}

/// `format_type` of each OID, the built-in ones from the cache.
async fn type_names(
    call: &Call<'_>,
    cache: &Mutex<HashMap<u32, String>>,
    connection: &mut PgConnection,
    oids: &[u32],
) -> Result<Vec<String>, ModuleError> {
    let known: Option<Vec<String>> = {
        let cache = cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        oids.iter().map(|oid| cache.get(oid).cloned()).collect()
    };
    if let Some(known) = known {
        return Ok(known);
    }
    let wanted: Vec<i64> = oids.iter().map(|oid| i64::from(*oid)).collect();
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT format_type(o::oid, NULL) FROM unnest($1::int8[]) WITH ORDINALITY AS u(o, n) ORDER BY n",
    )
    .bind(wanted)
    .fetch_all(&mut *connection)
    .await
    .map_err(|error| call.fail(&error))?;
    if names.len() != oids.len() {
        return Err(call.invalid("Postgres did not name every parameter type"));
    }
    let mut cache = cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    for (oid, name) in oids.iter().zip(&names) {
        if *oid < FIRST_USER_OID {
            cache.insert(*oid, name.clone());
        }
    }
    Ok(names)
}

/// The rows as objects, columns in order, each value decoded by its column's type
/// ([`binary::decode`]).
fn decode_rows(rows: &[PgRow]) -> Result<Vec<Json>, String> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let columns: Vec<(&str, PgType)> = first
        .columns()
        .iter()
        .map(|column| (column.name(), PgType::of(column.type_info())))
        .collect();
    let mut decoded = Vec::with_capacity(rows.len());
    for row in rows {
        let mut object = serde_json::Map::with_capacity(columns.len());
        for (idx, (name, ty)) in columns.iter().enumerate() {
            let raw = row.try_get_raw(idx).map_err(|error| error.to_string())?;
            let value = if raw.is_null() {
                Json::Null
            } else {
                let bytes = raw.as_bytes().map_err(|error| format!("column `{name}`: {error}"))?;
                binary::decode(ty, bytes).map_err(|why| format!("column `{name}`: {why}"))?
            };
            object.insert((*name).to_owned(), value);
        }
        decoded.push(Json::Object(object));
    }
    Ok(decoded)
}
