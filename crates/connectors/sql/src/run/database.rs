//! The databases of the process: one pool per connection (its name, its rendered `url` and
//! settings, and the folder a relative SQLite path resolves in), made on first use and kept
//! for the process, so every call of every run that names the connection shares it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use flowrun_connect::module::{CallContext, ErrorKind, ModuleError};
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::SqlConnection;

/// A connection's `timeout` when it sets none: how long one call may take.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// A connection's `max_connections` when it sets none.
pub(crate) const DEFAULT_MAX_CONNECTIONS: u32 = 4;

/// Every pool the connector has opened, by what identifies it.
#[derive(Default)]
pub(crate) struct Databases {
    open: Mutex<HashMap<Key, Arc<Database>>>,
}

/// What makes two calls share a pool.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    connection: Arc<str>,
    url: String,
    files_dir: Option<Arc<Path>>,
    timeout: Duration,
    max_connections: u32,
}

/// One database as the modules use it.
pub(crate) struct Database {
    /// The key under `connections:`.
    pub connection: Arc<str>,
    /// The `url` as messages show it: a Postgres password is `***`.
    pub shown_url: String,
    /// What no message may show: the URL's password, raw and percent-decoded.
    secrets: Vec<String>,
    /// How long one call may take.
    pub timeout: Duration,
    pub backend: Backend,
}

pub(crate) enum Backend {
    Sqlite {
        pool: SqlitePool,
        /// `sqlite::memory:`: a connection outside the pool that keeps the in-memory database
        /// alive while the pool's connections come and go.
        _keeper: Option<Mutex<SqliteConnection>>,
    },
    Postgres(Box<PostgresDatabase>),
}

pub(crate) struct PostgresDatabase {
    pub pool: PgPool,
    /// To connect once outside the pool and learn why the pool could not.
    pub options: PgConnectOptions,
    /// `format_type` of the built-in types a parameter was converted to, by OID.
    pub type_names: Mutex<HashMap<u32, String>>,
}

impl Databases {
    /// The database of the call's connection, its pool made on first use.
    pub(crate) async fn get(&self, context: &CallContext, uses: &str) -> Result<Arc<Database>, ModuleError> {
        let Some(connection) = &context.connection else {
            return Err(ModuleError::new(
                ErrorKind::Invalid,
                format!("{uses} needs a connection of connector `sql`: set `connection:` on the step"),
            ));
        };
        let name = connection.name.clone();
        let config = SqlConnection::deserialize_from(&connection.config).map_err(|why| {
            let secrets = connection
                .config
                .get("url")
                .and_then(|url| url.as_str())
                .map(|url| Url::parse(url).secrets)
                .unwrap_or_default();
            ModuleError::new(
                ErrorKind::Invalid,
                redact(&format!("connection `{name}` of {uses}: {why}"), &secrets),
            )
        })?;
        let timeout = config
            .timeout
            .map_or(DEFAULT_TIMEOUT, |timeout| timeout.as_std())
            .max(Duration::from_millis(1));
        let max_connections = config.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS).max(1);
        let key = Key {
            connection: name.clone(),
            url: config.url.clone(),
            files_dir: context.files_dir.clone(),
            timeout,
            max_connections,
        };
        if let Some(database) = self.lock().get(&key) {
            return Ok(database.clone());
        }
        let url = Url::parse(&config.url);
        let invalid = |why: String| {
            ModuleError::new(
                ErrorKind::Invalid,
                redact(&format!("connection `{name}` (`{}`): {why}", url.shown), &url.secrets),
            )
        };
        let target = Target::parse(&config.url, context).map_err(invalid)?;
        let backend = match target {
            Target::SqliteFile { path, read_only } => {
                if !read_only && let Some(folder) = path.parent().filter(|folder| !folder.as_os_str().is_empty()) {
                    tokio::fs::create_dir_all(folder)
                        .await
                        .map_err(|error| invalid(format!("cannot create the folder {}: {error}", folder.display())))?;
                }
                let mut options = SqliteConnectOptions::new()
                    .filename(&path)
                    .read_only(read_only)
                    .create_if_missing(!read_only)
                    .busy_timeout(timeout)
                    .foreign_keys(true)
                    .disable_statement_logging();
                if !read_only {
                    options = options.journal_mode(SqliteJournalMode::Wal);
                }
                let pool = SqlitePoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(timeout)
                    // A file does not go away between calls: no ping before each one.
                    .test_before_acquire(false)
                    .connect_lazy_with(options);
                Backend::Sqlite { pool, _keeper: None }
            }
            Target::SqliteMemory => {
                let options = SqliteConnectOptions::from_str("sqlite::memory:")
                    .map_err(|error| invalid(error.to_string()))?
                    .foreign_keys(true)
                    .busy_timeout(timeout)
                    .disable_statement_logging();
                let keeper = options
                    .connect()
                    .await
                    .map_err(|error| invalid(format!("cannot open the in-memory database: {error}")))?;
                // One connection: an in-memory database is shared through SQLite's shared cache,
                // whose table locks do not wait (`busy_timeout` does not apply to them).
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(timeout)
                    .test_before_acquire(false)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect_lazy_with(options);
                Backend::Sqlite {
                    pool,
                    _keeper: Some(Mutex::new(keeper)),
                }
            }
            Target::Postgres(options) => {
                let options = options
                    .application_name("flowrun")
                    // The server ends a statement that outlives the call (one cancelled while
                    // running, whose connection is closed) rather than running on.
                    .options([("statement_timeout", timeout.as_millis().to_string())])
                    .disable_statement_logging();
                let pool = PgPoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(timeout)
                    .connect_lazy_with(options.clone());
                Backend::Postgres(Box::new(PostgresDatabase {
                    pool,
                    options,
                    type_names: Mutex::new(HashMap::new()),
                }))
            }
        };
        let database = Arc::new(Database {
            connection: name,
            shown_url: url.shown,
            secrets: url.secrets,
            timeout,
            backend,
        });
        // Two first calls at once may both get here; the first one's pool is kept (the other,
        // never connected, is dropped).
        Ok(self.lock().entry(key).or_insert(database).clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Arc<Database>>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Database {
    /// The error with every secret of the URL replaced by `***`.
    pub(crate) fn redact(&self, mut error: ModuleError) -> ModuleError {
        error.message = redact(&error.message, &self.secrets);
        error
    }
}

impl SqlConnection {
    fn deserialize_from(config: &serde_json::Value) -> Result<SqlConnection, String> {
        serde::Deserialize::deserialize(config).map_err(|error| format!("not a valid `sql` connection config: {error}"))
    }
}

/// What a connection's `url` names.
enum Target {
    /// A file, its path resolved in the call's `files_dir` when relative.
    SqliteFile {
        path: PathBuf,
        read_only: bool,
    },
    /// `sqlite::memory:`.
    SqliteMemory,
    Postgres(Box<PgConnectOptions>),
}

impl Target {
    fn parse(url: &str, context: &CallContext) -> Result<Target, String> {
        if let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            if path == ":memory:" {
                return Ok(Target::SqliteMemory);
            }
            if path.is_empty() {
                return Err(
                    "the `url` names no file: write `sqlite://data/app.db` (relative to the project's \
                            folder), `sqlite:///srv/app.db` or `sqlite::memory:`"
                        .to_owned(),
                );
            }
            let mut read_only = false;
            for pair in query.split('&').filter(|pair| !pair.is_empty()) {
                match pair {
                    "mode=ro" => read_only = true,
                    "mode=rw" | "mode=rwc" => read_only = false,
                    other => {
                        return Err(format!(
                            "unknown SQLite URL option `{other}`: the one option is `mode=ro` (read only)"
                        ));
                    }
                }
            }
            return Ok(Target::SqliteFile {
                path: context.resolve_path(Path::new(path)),
                read_only,
            });
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return PgConnectOptions::from_str(url)
                .map(|options| Target::Postgres(Box::new(options)))
                .map_err(|error| format!("not a Postgres URL: {error}"));
        }
        Err("the `url` is none of `sqlite://PATH`, `sqlite::memory:`, `postgres://…`".to_owned())
    }
}

/// A URL as messages show it, and the secrets it holds.
pub(crate) struct Url {
    pub shown: String,
    pub secrets: Vec<String>,
}

impl Url {
    /// `postgres://app:s3cret@db/app?password=x` shows as `postgres://app:***@db/app?password=***`.
    /// Lenient on purpose: a URL too broken to parse still has its password hidden.
    pub(crate) fn parse(url: &str) -> Url {
        let mut secrets = Vec::new();
        let mut shown = url.to_owned();
        if let Some((scheme, rest)) = url.split_once("://")
            && let Some(at) = rest.rfind('@')
        {
            let (userinfo, host) = (&rest[..at], &rest[at + 1..]);
            if let Some((user, password)) = userinfo.split_once(':') {
                if !password.is_empty() {
                    secrets.push(password.to_owned());
                }
                shown = format!("{scheme}://{user}:***@{host}");
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
        shown = redact(&shown, &secrets);
        Url { shown, secrets }
    }
}

/// `text` with every secret replaced by `***`.
pub(crate) fn redact(text: &str, secrets: &[String]) -> String {
    let mut text = text.to_owned();
    for secret in secrets {
        if !secret.is_empty() && text.contains(secret.as_str()) {
            text = text.replace(secret.as_str(), "***");
        }
    }
    text
}

/// `%40` as `@`, when the text has escapes and decodes to UTF-8.
fn percent_decoded(text: &str) -> Option<String> {
    if !text.contains('%') {
        return None;
    }
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut idx = 0;
    while idx < bytes.len() {
        if bytes[idx] == b'%'
            && let Some(hex) = text.get(idx + 1..idx + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            decoded.push(byte);
            idx += 3;
            continue;
        }
        decoded.push(bytes[idx]);
        idx += 1;
    }
    String::from_utf8(decoded).ok()
}
