//! A database's refusal as the engine and people need it: an [`ErrorKind`] the step's
//! `retry.on` matches, and the database's own message with its code, detail and hint.

use flowrun_connect::module::ErrorKind;
use sqlx::postgres::PgDatabaseError;

use super::rows::Dialect;

/// What went wrong, in words, with the kind and the database's code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub kind: ErrorKind,
    /// The database's message, its code in parentheses, then its detail and hint.
    pub said: String,
    /// SQLSTATE (Postgres) or the extended result code (SQLite).
    pub code: Option<String>,
}

impl Refusal {
    pub(crate) fn of(dialect: Dialect, error: &sqlx::Error) -> Refusal {
        let (kind, said, code) = match error {
            sqlx::Error::Database(database) => {
                let code = database.code().map(|code| code.into_owned());
                let mut said = database.message().to_owned();
                if let Some(code) = &code {
                    said.push_str(&format!(" ({code})"));
                }
                if let Some(postgres) = database.try_downcast_ref::<PgDatabaseError>() {
                    if let Some(detail) = postgres.detail() {
                        said.push_str(&format!("; {detail}"));
                    }
                    if let Some(hint) = postgres.hint() {
                        said.push_str(&format!("; hint: {hint}"));
                    }
                }
                let kind = match (dialect, &code) {
                    (Dialect::Postgres, Some(code)) => postgres_kind(code),
                    (Dialect::Sqlite, Some(code)) => sqlite_kind(code),
                    (_, None) => ErrorKind::Client,
                };
                (kind, said, code)
            }
            sqlx::Error::Io(io) => {
                let kind = match io.kind() {
                    std::io::ErrorKind::TimedOut => ErrorKind::Timeout,
                    _ => ErrorKind::Connect,
                };
                (kind, io.to_string(), None)
            }
            sqlx::Error::Tls(tls) => (ErrorKind::Connect, format!("TLS: {tls}"), None),
            sqlx::Error::PoolTimedOut => (ErrorKind::Timeout, "no connection became free in time".to_owned(), None),
            sqlx::Error::Configuration(why) => (ErrorKind::Invalid, why.to_string(), None),
            sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::Encode(_)
            | sqlx::Error::TypeNotFound { .. } => (ErrorKind::Invalid, error.to_string(), None),
            other => (ErrorKind::Other, other.to_string(), None),
        };
        Refusal { kind, said, code }
    }

    /// The database said the upsert's `ON CONFLICT` matches no unique index.
    pub(crate) fn no_unique_index(&self) -> bool {
        self.code.as_deref() == Some("42P10")
            || self
                .said
                .contains("ON CONFLICT clause does not match any PRIMARY KEY or UNIQUE constraint")
    }

    /// SQLite stopped a statement through the progress handler (cancelled or out of time).
    pub(crate) fn interrupted(&self) -> bool {
        self.code.as_deref() == Some("9")
    }
}

/// By SQLSTATE class (https://www.postgresql.org/docs/current/errcodes-appendix.html).
fn postgres_kind(code: &str) -> ErrorKind {
    match code {
        // The server is going away or refuses connections for now: try again later.
        "57P01" | "57P02" | "57P03" | "53300" => ErrorKind::Connect,
        // statement_timeout (the connection's `timeout`) or a cancel request.
        "57014" => ErrorKind::Timeout,
        // Serialization failure, deadlock, lock not available: transient.
        "40001" | "40P01" | "55P03" => ErrorKind::Server,
        _ if code.starts_with("08") => ErrorKind::Connect,
        _ if code.starts_with("53") || code.starts_with("58") || code.starts_with("XX") => ErrorKind::Server,
        // Constraint violations and data that does not fit its type.
        _ if code.starts_with("23") || code.starts_with("22") => ErrorKind::Invalid,
        _ => ErrorKind::Client,
    }
}

/// By the primary result code (https://www.sqlite.org/rescode.html).
fn sqlite_kind(code: &str) -> ErrorKind {
    let Ok(extended) = code.parse::<i64>() else {
        return ErrorKind::Client;
    };
    match extended & 0xff {
        // BUSY, LOCKED: another writer held the lock past `busy_timeout` (the call's timeout).
        5 | 6 => ErrorKind::Timeout,
        // INTERRUPT: the progress handler stopped the statement; the caller says why.
        9 => ErrorKind::Timeout,
        // NOMEM, IOERR, FULL.
        7 | 10 | 13 => ErrorKind::Server,
        // TOOBIG, CONSTRAINT, MISMATCH, RANGE.
        18 | 19 | 20 | 25 => ErrorKind::Invalid,
        _ => ErrorKind::Client,
    }
}
