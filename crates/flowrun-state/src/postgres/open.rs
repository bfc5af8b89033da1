//! Store URLs, passwords kept out of messages, and the first connection.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use crate::error::StateError;

/// A `postgres://` URL as messages show it, and the secrets no message may hold.
#[derive(Debug, Clone)]
pub(super) struct ShownUrl {
    /// The URL with its password (in the user part or a `password=` parameter) as `***`.
    pub shown: String,
    /// The password, raw and percent-decoded, longest first.
    secrets: Vec<String>,
}

impl ShownUrl {
    /// Lenient on purpose: a URL too broken to parse still has its password hidden.
    pub(super) fn new(url: &str) -> ShownUrl {
        let mut secrets = Vec::new();
        if let Some((_, rest)) = url.split_once("://") {
            // The user part ends at the last `@` before the path (a password may hold `@`,
            // escaped or not).
            let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
            if let Some(at) = rest[..authority_end].rfind('@')
                && let Some((_, password)) = rest[..at].split_once(':')
                && !password.is_empty()
            {
                secrets.push(password.to_owned());
            }
        }
        if let Some((_, query)) = url.split_once('?') {
            for pair in query.split('&') {
                if let Some(password) = pair.strip_prefix("password=")
                    && !password.is_empty()
                {
                    secrets.push(password.to_owned());
                }
            }
        }
        let decoded: Vec<String> = secrets.iter().filter_map(|secret| percent_decoded(secret)).collect();
        secrets.extend(decoded);
        // Longest first, so a secret that contains another is replaced whole.
        secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
        secrets.dedup();
        let mut shown = ShownUrl {
            shown: String::new(),
            secrets,
        };
        shown.shown = shown.redact(url);
        shown
    }

    /// `text` with every secret of the URL replaced by `***`.
    pub(super) fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "***");
            }
        }
        text
    }
}

/// `%40` as `@`, when the text has escapes and decodes to UTF-8.
fn percent_decoded(text: &str) -> Option<String> {
    if !text.contains('%') {
        return None;
    }
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && let Some(hex) = text.get(index + 1..index + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            decoded.push(byte);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

/// The connection options a `postgres://` or `postgresql://` URL names (libpq's `PG*`
/// environment variables fill what it leaves out, as sqlx reads them), with the tables'
/// schema first on the `search_path` when one is given.
pub(super) fn connect_options(
    url: &str,
    shown: &ShownUrl,
    schema: Option<&str>,
) -> Result<PgConnectOptions, StateError> {
    let invalid = |reason: String| StateError::InvalidUrl {
        url: shown.shown.clone(),
        reason: shown.redact(&reason),
    };
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(invalid(
            "expected `postgres://user:password@host:5432/database`".to_owned(),
        ));
    }
    let mut options = PgConnectOptions::from_str(url).map_err(|error| invalid(error.to_string()))?;
    if let Some(schema) = schema {
        check_schema(schema).map_err(invalid)?;
        options = options.options([("search_path", schema)]);
    }
    Ok(options.application_name("flowrun"))
}

/// Schema names are plain lowercase identifiers: they go unquoted into `search_path` and
/// `CREATE SCHEMA`, where anything else would need quoting (and fold case) differently.
fn check_schema(schema: &str) -> Result<(), String> {
    let mut chars = schema.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if first_ok && rest_ok && schema.len() <= 63 {
        Ok(())
    } else {
        Err(format!(
            "schema `{schema}` is not a lowercase identifier (a-z, 0-9 and _, at most 63 bytes)"
        ))
    }
}

/// One connection, made directly rather than through a pool: a pool retries refused
/// connections until its acquire timeout, while opening the store should fail at once, naming
/// the URL (never its password), when the server is down or refuses the credentials.
pub(super) async fn connect(
    options: &PgConnectOptions,
    shown: &ShownUrl,
    timeout: Duration,
) -> Result<PgConnection, StateError> {
    let operation = format!("connecting to the Postgres state store at {}", shown.shown);
    match tokio::time::timeout(timeout, PgConnection::connect_with(options)).await {
        Ok(Ok(connection)) => Ok(connection),
        // The message only: sqlx's errors are not known to never echo connection options.
        Ok(Err(error)) => Err(StateError::backend_message(operation, shown.redact(&error.to_string()))),
        Err(_) => Err(StateError::backend_message(
            operation,
            format!("no connection within {} ms", timeout.as_millis()),
        )),
    }
}

/// Creates the tables' schema when one is configured and missing (looked up first: `CREATE
/// SCHEMA IF NOT EXISTS` needs the right to create schemas even when it exists). Two stores
/// opening a new schema at once may both create it; the loser's "already exists" is success.
pub(super) async fn create_schema(connection: &mut PgConnection, schema: &str) -> Result<(), StateError> {
    let operation = format!("creating schema `{schema}`");
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(schema)
        .fetch_one(&mut *connection)
        .await
        .map_err(|error| StateError::backend(&operation, error))?;
    if exists {
        return Ok(());
    }
    // `schema` passed `check_schema`: a plain identifier, safe unquoted.
    let created = sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
        .execute(&mut *connection)
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(error)) if matches!(error.code().as_deref(), Some("23505" | "42P06")) => Ok(()),
        Err(error) => Err(StateError::backend(operation, error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let url = ShownUrl::new("postgres://app:s%40cret@db:5432/app?password=other&sslmode=require");
        assert_eq!(url.shown, "postgres://app:***@db:5432/app?password=***&sslmode=require");
        assert_eq!(
            url.redact("auth failed for s@cret and other"),
            "auth failed for *** and ***"
        );
        let plain = ShownUrl::new("postgresql://postgres@127.0.0.1/test");
        assert_eq!(plain.shown, "postgresql://postgres@127.0.0.1/test");
        let at_in_password = ShownUrl::new("postgres://u:p@ss@h/db");
        assert_eq!(at_in_password.shown, "postgres://u:***@h/db");
    }

    #[test]
    fn schemas_are_plain_identifiers() {
        assert!(check_schema("flowrun_t_0190abc").is_ok());
        for bad in ["", "1abc", "Flowrun", "a-b", "a b", "x;drop", &"a".repeat(64)] {
            assert!(check_schema(bad).is_err(), "{bad}");
        }
    }
}
