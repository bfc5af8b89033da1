//! The runtime side of a connector: what the engine calls.
//!
//! The engine knows no connector by name and a connector knows nothing of graphs; they meet
//! here. A [`Module`] is one async call from JSON parameters (already rendered, secrets in
//! place) to a JSON output; a [`Connector`] names its modules and gives its catalog entry.
//! Retries, timeouts and error directives are the engine's; a module reports what went wrong
//! as a [`ModuleError`] whose [`ErrorKind`] the step's `retry.on` filter matches.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use flowrun_flow::catalog::{ConnectorSpec, ModuleKind};
use serde_json::Value as Json;
use tokio_util::sync::CancellationToken;

use crate::retry::RetryPolicy;
use crate::runtime::HttpRuntime;

/// One module of a connector, e.g. `onecrm.search_records`.
#[async_trait::async_trait]
pub trait Module: Send + Sync {
    /// The name after the dot in `uses:`.
    fn name(&self) -> &str;

    /// What the module does to the outside world (reads are safe to run in `--dry-run=reads`).
    fn kind(&self) -> ModuleKind;

    /// Runs the module once. `params` are the step's rendered `with:` block.
    async fn call(&self, context: &CallContext, params: Json) -> Result<Json, ModuleError>;

    /// [`Module::call`] as the engine calls it: the output may hold JSON text that is checked
    /// but not parsed yet ([`ModuleOutput::WithRawJson`]). A module overrides it when part of
    /// its output is a response body that later steps may never read.
    async fn call_output(&self, context: &CallContext, params: Json) -> Result<ModuleOutput, ModuleError> {
        self.call(context, params).await.map(ModuleOutput::Json)
    }

    /// True for modules that apply the step's retry policy and timeout themselves, per
    /// request (every module built on [`crate::client`]): the engine then calls them once,
    /// without its own retries or timeout.
    fn retries_itself(&self) -> bool {
        false
    }
}

/// A module's output as the engine takes it.
#[derive(Debug)]
pub enum ModuleOutput {
    /// JSON the module built.
    Json(Json),
    /// A JSON object whose last entry, `key`, is JSON text (a response body): checked to be
    /// JSON when it arrived, parsed only when a template reads it. A `for_each` of 10,000
    /// calls whose bodies nobody reads never builds them, and the text is written into the
    /// step's record as it came when it holds no secret.
    WithRawJson {
        object: serde_json::Map<String, Json>,
        key: String,
        raw: Box<serde_json::value::RawValue>,
    },
}

impl ModuleOutput {
    /// The whole output as JSON (the raw entry parsed).
    pub fn into_json(self) -> Json {
        match self {
            ModuleOutput::Json(json) => json,
            ModuleOutput::WithRawJson { mut object, key, raw } => {
                // The text was checked to parse when it arrived (`Response::raw_json`).
                let parsed = serde_json::from_str(raw.get()).unwrap_or(Json::Null);
                object.insert(key, parsed);
                Json::Object(object)
            }
        }
    }
}

/// A connector: its catalog entry and its modules.
pub trait Connector: Send + Sync {
    /// The name in `connector:` and before the dot in `uses:`.
    fn name(&self) -> &str;

    /// The catalog entry the validator and `flowrun connectors` read.
    fn spec(&self) -> ConnectorSpec;

    /// The module of that name, if the connector has one.
    fn module(&self, name: &str) -> Option<Arc<dyn Module>>;

    /// The HTTP client settings of one of this connector's connections, from its rendered
    /// config, for connectors that build their auth from keys of their own (Exact Online's
    /// `client_id` and `base_uri` make its authorization-code grant): `flowrun auth login`
    /// runs the consent with them. `None`: the connection's shared `auth` key says it all.
    fn client_settings(&self, _config: &Json) -> Option<Result<crate::client::ClientSettings, ModuleError>> {
        None
    }

    /// The trigger of that name (`onecrm.new_event`), for connectors whose events start flows
    /// under `flowrun serve`.
    fn trigger(&self, _name: &str) -> Option<Arc<dyn crate::trigger::Trigger>> {
        None
    }
}

/// What a module call may use besides its parameters.
#[derive(Clone)]
pub struct CallContext {
    pub run_id: String,
    pub step_id: String,
    /// The item's index in a `for_each` step.
    pub item_index: Option<usize>,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The step's connection: its name and its config, rendered (secrets in place).
    pub connection: Option<Connection>,
    /// Cancelled when the run stops (a `fail` elsewhere, Ctrl-C, a timeout): a module stops
    /// its work and returns [`ErrorKind::Cancelled`].
    pub cancel: CancellationToken,
    /// The step's retry policy, for modules that retry per request.
    pub retry: Arc<RetryPolicy>,
    /// The step's `timeout`: for modules that retry per request, the limit of each request.
    pub timeout: Option<Duration>,
    /// The HTTP clients, token store and recorder of the process.
    pub http: Arc<HttpRuntime>,
    /// The folder a relative file path of the call resolves against (a connection's
    /// `sqlite://data.db`): the project file's folder, else the flow file's; `flowrun test`
    /// gives each case its scratch folder. `None`: the working directory.
    pub files_dir: Option<Arc<Path>>,
}

/// A connection as a module call sees it.
#[derive(Clone)]
pub struct Connection {
    /// The key under `connections:`, e.g. `shop`.
    pub name: Arc<str>,
    /// The rendered `config`, secrets in place.
    pub config: Arc<Json>,
}

impl CallContext {
    /// A context for one call outside a run (tests, `flowrun auth login`): first attempt, the
    /// default retry policy, no connection, a fresh HTTP runtime.
    pub fn new(run_id: impl Into<String>, step_id: impl Into<String>) -> CallContext {
        CallContext {
            run_id: run_id.into(),
            step_id: step_id.into(),
            item_index: None,
            attempt: 1,
            connection: None,
            cancel: CancellationToken::new(),
            retry: Arc::new(RetryPolicy::default()),
            timeout: None,
            http: Arc::new(HttpRuntime::default()),
            files_dir: None,
        }
    }

    /// `path` as the call reads it: relative paths below [`files_dir`](Self::files_dir).
    pub fn resolve_path(&self, path: &Path) -> PathBuf {
        match &self.files_dir {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_path_buf(),
        }
    }

    /// The same context with this connection.
    pub fn with_connection(mut self, name: &str, config: Json) -> CallContext {
        self.connection = Some(Connection {
            name: name.into(),
            config: Arc::new(config),
        });
        self
    }

    /// Where a message about this call points: `step `x``, or `step `x` item 3`.
    pub fn location(&self) -> String {
        match self.item_index {
            Some(index) => format!("step `{}` item {index}", self.step_id),
            None => format!("step `{}`", self.step_id),
        }
    }
}

impl fmt::Debug for CallContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The connection holds secrets: only say whether there is one.
        f.debug_struct("CallContext")
            .field("run_id", &self.run_id)
            .field("step_id", &self.step_id)
            .field("item_index", &self.item_index)
            .field("attempt", &self.attempt)
            .field("connection", &self.connection.as_ref().map(|c| &*c.name))
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// What kind of failure, for `retry.on` (`timeout`, `connect`, `429`, `5xx`) and for the
/// messages people read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The attempt took longer than the step's `timeout`.
    Timeout,
    /// The service could not be reached.
    Connect,
    /// HTTP 429 or the service's own rate limit.
    RateLimited,
    /// HTTP 5xx.
    Server,
    /// HTTP 4xx other than 429: the request is wrong; retrying will not help.
    Client,
    /// The parameters or the response do not fit what the module expects.
    Invalid,
    /// The run was cancelled while the call ran.
    Cancelled,
    /// Anything else.
    Other,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connect => "connect",
            ErrorKind::RateLimited => "429",
            ErrorKind::Server => "5xx",
            ErrorKind::Client => "4xx",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Other => "other",
        }
    }
}

/// A failed module call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ModuleError {
    pub kind: ErrorKind,
    /// What went wrong, for people: the request, the status and why. Never a secret.
    pub message: String,
    /// The HTTP status, when there was a response.
    pub status: Option<u16>,
    /// How long the service asked to wait (`Retry-After`, a rate-limit reset).
    pub retry_after: Option<Duration>,
    /// Extra data for `steps.<id>.error` (e.g. the response body), already redacted.
    pub details: Option<Json>,
}

impl ModuleError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ModuleError {
        ModuleError {
            kind,
            message: message.into(),
            status: None,
            retry_after: None,
            details: None,
        }
    }

    pub fn with_status(mut self, status: u16) -> ModuleError {
        self.status = Some(status);
        self
    }

    pub fn with_retry_after(mut self, wait: Duration) -> ModuleError {
        self.retry_after = Some(wait);
        self
    }

    pub fn with_details(mut self, details: Json) -> ModuleError {
        self.details = Some(details);
        self
    }
}
