//! SQLite: values bound by their JSON type, rows decoded by storage class, writes in one
//! `BEGIN IMMEDIATE` transaction (the write lock taken at once, so a reader turning writer
//! never fails mid-way with `SQLITE_BUSY`).

use std::sync::atomic::Ordering;
use std::time::Instant;

use base64::Engine as _;
use flowrun_connect::module::{ErrorKind, ModuleError};
use serde_json::{Number, Value as Json};
use sqlx::error::BoxDynError;
use sqlx::sqlite::{SqliteArguments, SqliteConnection, SqlitePool, SqliteRow};
use sqlx::{Arguments, Column, Decode, Either, Executor, Row, Sqlite, Statement, TypeInfo, ValueRef};

use super::error::Refusal;
use super::rows::{self, Change, Dialect, Write};
use super::{Call, Held};
use crate::StatementParams;

/// SQLite virtual-machine steps between two looks at the deadline and the cancellation.
const PROGRESS_STEPS: i32 = 4_000;

/// `sql.query`: the rows as objects.
pub(crate) async fn query(
    call: &Call<'_>,
    pool: &SqlitePool,
    params: &StatementParams,
) -> Result<Vec<Json>, ModuleError> {
    let arguments = arguments(call, &params.params)?;
    let mut held = acquire(call, pool).await?;
    call.bounded(Box::pin(async {
        if let Err(error) = count_placeholders(call, &mut held, params).await {
            held.settle();
            return Err(error);
        }
        let result = sqlx::query_with(&params.sql, arguments).fetch_all(&mut *held).await;
        held.settle();
        let rows = result.map_err(|error| call.fail(&error))?;
        rows.iter()
            .map(|row| decode_row(row).map_err(|why| call.invalid(&why)))
            .collect()
    }))
    .await
}

/// `sql.execute`: how many rows the statement (or statements) changed.
pub(crate) async fn execute(call: &Call<'_>, pool: &SqlitePool, params: &StatementParams) -> Result<u64, ModuleError> {
    let arguments = arguments(call, &params.params)?;
    let mut held = acquire(call, pool).await?;
    call.bounded(Box::pin(async {
        if let Err(error) = count_placeholders(call, &mut held, params).await {
            held.settle();
            return Err(error);
        }
        let result = sqlx::query_with(&params.sql, arguments).execute(&mut *held).await;
        held.settle();
        Ok(result.map_err(|error| call.fail(&error))?.rows_affected())
    }))
    .await
}

/// `sql.insert` and `sql.upsert`: every row in one transaction.
pub(crate) async fn write(call: &Call<'_>, pool: &SqlitePool, write: &Write) -> Result<u64, ModuleError> {
    if write.rows.is_empty() {
        return Ok(0);
    }
    let mut held = acquire(call, pool).await?;
    call.bounded(Box::pin(in_transaction(call, &mut held, write))).await
}

async fn in_transaction(call: &Call<'_>, held: &mut Held<Sqlite>, write: &Write) -> Result<u64, ModuleError> {
    if let Err(error) = (&mut **held).execute("BEGIN IMMEDIATE").await {
        held.settle();
        return Err(call.fail(&error));
    }
    let mut result = write_rows(call, held, write).await;
    if result.is_ok()
        && let Err(error) = (&mut **held).execute("COMMIT").await
    {
        result = Err(call.fail(&error));
    }
    if result.is_err()
        && let Err(error) = (&mut **held).execute("ROLLBACK").await
        // An interrupted write has rolled the transaction back already.
        && !error.to_string().contains("no transaction is active")
    {
        // Unsettled: the connection is closed, which rolls back whatever is open.
        return result;
    }
    held.settle();
    result
}

async fn write_rows(call: &Call<'_>, connection: &mut SqliteConnection, write: &Write) -> Result<u64, ModuleError> {
    let existing = table_columns(call, connection, write).await?;
    let groups = write.groups();
    match rows::change(write, &groups, existing.as_deref(), true)
        .map_err(|why| ModuleError::new(ErrorKind::Client, format!("{}: {why}", call.subject)))?
    {
        Change::Nothing => {}
        Change::CreateTable => {
            let sql = rows::create_table_sql(Dialect::Sqlite, write);
            (&mut *connection)
                .execute(sql.as_str())
                .await
                .map_err(|error| call.fail(&error))?;
        }
        Change::AddColumns(columns) => {
            for (column, kind) in columns {
                let sql = rows::add_column_sql(Dialect::Sqlite, write, column, kind);
                (&mut *connection)
                    .execute(sql.as_str())
                    .await
                    .map_err(|error| call.fail(&error))?;
            }
        }
    }
    let mut affected = 0;
    for group in &groups {
        for chunk in group.rows.chunks(group.rows_per_statement(Dialect::Sqlite)) {
            let sql = rows::insert_sql(Dialect::Sqlite, write, &group.columns, &[], chunk.len());
            let mut arguments = SqliteArguments::default();
            for row in chunk {
                for column in &group.columns {
                    bind(&mut arguments, row.get(*column).unwrap_or(&Json::Null))
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

/// The table's column names; `None` when there is no such table.
async fn table_columns(
    call: &Call<'_>,
    connection: &mut SqliteConnection,
    write: &Write,
) -> Result<Option<Vec<String>>, ModuleError> {
    let table = &write.table;
    let query = match &table.schema {
        Some(schema) => sqlx::query("SELECT name FROM pragma_table_info(?1, ?2)")
            .bind(table.name.as_str())
            .bind(schema.as_str()),
        None => sqlx::query("SELECT name FROM pragma_table_info(?1)").bind(table.name.as_str()),
    };
    let rows = query.fetch_all(connection).await.map_err(|error| call.fail(&error))?;
    if rows.is_empty() {
        return Ok(None);
    }
    rows.iter()
        .map(|row| row.try_get::<String, _>(0).map_err(|error| call.fail(&error)))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn write_error(call: &Call<'_>, write: &Write, error: &sqlx::Error) -> ModuleError {
    let refusal = Refusal::of(Dialect::Sqlite, error);
    let hint = if refusal.no_unique_index() {
        format!(
            "an upsert needs a primary key or unique index on exactly its `key` columns: \
             `CREATE UNIQUE INDEX {}_key ON {} ({})`",
            write.table.name,
            write.table,
            write.key.join(", ")
        )
    } else {
        String::new()
    };
    call.fail_with(refusal, &hint)
}

/// A connection of the pool, its progress handler watching this call's deadline and
/// cancellation (and whether the call let go of it).
async fn acquire(call: &Call<'_>, pool: &SqlitePool) -> Result<Held<Sqlite>, ModuleError> {
    let acquired = tokio::select! {
        biased;
        () = call.context.cancel.cancelled() => return Err(call.cancelled()),
        acquired = pool.acquire() => acquired,
    };
    let mut held = match acquired {
        Ok(connection) => Held::new(connection),
        Err(sqlx::Error::PoolTimedOut) => return Err(call.pool_busy(pool.options().get_max_connections())),
        Err(error) => return Err(call.fail_connect(&error)),
    };
    let cancel = call.context.cancel.clone();
    let deadline = call.deadline;
    let abandoned = held.abandoned();
    let mut handle = held.lock_handle().await.map_err(|error| call.fail_connect(&error))?;
    // Returning false interrupts the statement (`SQLITE_INTERRUPT`).
    handle.set_progress_handler(PROGRESS_STEPS, move || {
        !(cancel.is_cancelled() || abandoned.load(Ordering::Acquire) || Instant::now() >= deadline)
    });
    drop(handle);
    Ok(held)
}

/// SQLite binds NULL to a placeholder given no value, and ignores values beyond the last: the
/// count is checked instead.
async fn count_placeholders(
    call: &Call<'_>,
    connection: &mut SqliteConnection,
    params: &StatementParams,
) -> Result<(), ModuleError> {
    let statement = connection
        .prepare(&params.sql)
        .await
        .map_err(|error| call.fail(&error))?;
    match statement.parameters() {
        Some(Either::Right(count)) if count != params.params.len() => Err(call.invalid(&format!(
            "the statement has {count} placeholder(s) but `params` has {} value(s)",
            params.params.len()
        ))),
        _ => Ok(()),
    }
}

fn arguments<'q>(call: &Call<'_>, params: &'q [Json]) -> Result<SqliteArguments<'q>, ModuleError> {
    let mut arguments = SqliteArguments::default();
    for (idx, value) in params.iter().enumerate() {
        bind(&mut arguments, value).map_err(|error| call.invalid(&format!("`params[{idx}]`: {error}")))?;
    }
    Ok(arguments)
}

/// A JSON value as SQLite stores it: null, 0/1 for booleans, INTEGER, REAL (an integer beyond
/// 64 bits too, as SQLite does with such a literal), TEXT; objects and lists as JSON text.
pub(crate) fn bind<'q>(arguments: &mut SqliteArguments<'q>, value: &'q Json) -> Result<(), BoxDynError> {
    match value {
        Json::Null => arguments.add(Option::<i64>::None),
        Json::Bool(value) => arguments.add(*value),
        Json::Number(number) => match number.as_i64() {
            Some(integer) => arguments.add(integer),
            None => arguments.add(number.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(text) => arguments.add(text.as_str()),
        other => arguments.add(other.to_string()),
    }
}

/// Storage classes of SQLite values.
enum Class {
    Integer,
    Real,
    Text,
    Blob,
}

/// A row as an object, columns in order: INTEGER as a number (or a boolean in a column
/// declared BOOLEAN), REAL as a number, TEXT as a string, BLOB as base64.
fn decode_row(row: &SqliteRow) -> Result<Json, String> {
    let mut object = serde_json::Map::with_capacity(row.len());
    for (idx, column) in row.columns().iter().enumerate() {
        let declared_bool = column.type_info().name() == "BOOLEAN";
        let raw = row.try_get_raw(idx).map_err(|error| error.to_string())?;
        let value = if raw.is_null() {
            Json::Null
        } else {
            let class = match raw.type_info().name() {
                "INTEGER" => Class::Integer,
                "REAL" => Class::Real,
                "BLOB" => Class::Blob,
                _ => Class::Text,
            };
            let failed = |error: BoxDynError| format!("column `{}`: {error}", column.name());
            match class {
                Class::Integer => {
                    let integer = <i64 as Decode<Sqlite>>::decode(raw).map_err(failed)?;
                    match integer {
                        0 | 1 if declared_bool => Json::Bool(integer == 1),
                        integer => Json::from(integer),
                    }
                }
                Class::Real => real(<f64 as Decode<Sqlite>>::decode(raw).map_err(failed)?),
                Class::Blob => Json::String(
                    base64::engine::general_purpose::STANDARD
                        .encode(<Vec<u8> as Decode<Sqlite>>::decode(raw).map_err(failed)?),
                ),
                Class::Text => {
                    let bytes = <Vec<u8> as Decode<Sqlite>>::decode(raw).map_err(failed)?;
                    Json::String(
                        String::from_utf8(bytes)
                            .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned()),
                    )
                }
            }
        };
        object.insert(column.name().to_owned(), value);
    }
    Ok(Json::Object(object))
}

/// A REAL; the infinities (SQLite stores no NaN) as the strings `Infinity` and `-Infinity`.
fn real(value: f64) -> Json {
    match Number::from_f64(value) {
        Some(number) => Json::Number(number),
        None if value.is_nan() => Json::String("NaN".to_owned()),
        None if value > 0.0 => Json::String("Infinity".to_owned()),
        None => Json::String("-Infinity".to_owned()),
    }
}
