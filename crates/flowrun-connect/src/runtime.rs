//! What the HTTP layer keeps for the life of a process: one connection pool, one client per
//! connection (so its token cache and rate limit are shared by every step and run), and the
//! token store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::auth::{MemoryTokenStore, TokenStore};
use crate::client::{ClientSettings, HttpClient};
use crate::module::{CallContext, ModuleError};
use crate::record::Tape;

/// The User-Agent of every request.
pub const USER_AGENT: &str = concat!(
    "flowrun/",
    env!("CARGO_PKG_VERSION"),
    " (+https://github.com/flowrun/flowrun)"
);

/// How long connecting may take, whatever the request's timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A rendered connection config (kept alive) and its client.
type ConfigClient = (Arc<serde_json::Value>, Arc<HttpClient>);

/// Told of every HTTP attempt: the connection's name (`(none)` without one) and the status, or
/// the error kind when no answer came (`timeout`, `connect`…). `flowrun serve` counts them.
pub type HttpObserver = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// The process's HTTP clients and token store.
pub struct HttpRuntime {
    /// Made on the first HTTP call: building it (TLS roots and settings) takes about a
    /// millisecond, which a run without HTTP steps, and every `flowrun run`'s start, is spared.
    pool: std::sync::OnceLock<reqwest::Client>,
    tokens: Arc<dyn TokenStore>,
    tape: Tape,
    /// Keyed by connection name and settings: a connection whose rendered config changes gets
    /// a new client.
    clients: Mutex<HashMap<String, Arc<HttpClient>>>,
    /// The fast path of [`client_for`](Self::client_for): the client of each rendered config
    /// (by address; the config is kept alive here so the address is not reused) and of calls
    /// without a connection. A run renders its connections once, so every call after the
    /// first skips building the key.
    by_config: Mutex<HashMap<usize, ConfigClient>>,
    unconnected: std::sync::OnceLock<Arc<HttpClient>>,
    observer: Option<HttpObserver>,
}

impl Default for HttpRuntime {
    /// Tokens kept in memory only.
    fn default() -> HttpRuntime {
        HttpRuntime::new(Arc::new(MemoryTokenStore::default()))
    }
}

impl HttpRuntime {
    pub fn new(tokens: Arc<dyn TokenStore>) -> HttpRuntime {
        HttpRuntime {
            pool: std::sync::OnceLock::new(),
            tokens,
            tape: Tape::Off,
            clients: Mutex::new(HashMap::new()),
            by_config: Mutex::new(HashMap::new()),
            unconnected: std::sync::OnceLock::new(),
            observer: None,
        }
    }

    /// The same runtime telling `observer` of every HTTP attempt (set before the first client
    /// is made).
    pub fn with_observer(mut self, observer: HttpObserver) -> HttpRuntime {
        self.observer = Some(observer);
        self
    }

    /// The same runtime recording or replaying exchanges.
    pub fn with_tape(mut self, tape: Tape) -> HttpRuntime {
        self.tape = tape;
        self
    }

    /// The shared connection pool (its connections, TLS sessions and DNS cache), made on first
    /// use.
    fn pool(&self) -> &reqwest::Client {
        self.pool.get_or_init(|| {
            reqwest::Client::builder()
                .user_agent(USER_AGENT)
                .connect_timeout(CONNECT_TIMEOUT)
                .gzip(true)
                .pool_idle_timeout(Duration::from_secs(60))
                .build()
                .unwrap_or_default()
        })
    }

    pub fn tape(&self) -> &Tape {
        &self.tape
    }

    pub fn tokens(&self) -> &Arc<dyn TokenStore> {
        &self.tokens
    }

    /// The client of the call's connection, made from its config by `settings` on first use,
    /// or the client of calls without a connection.
    pub fn client_for(
        &self,
        context: &CallContext,
        settings: impl FnOnce(&serde_json::Value) -> Result<ClientSettings, ModuleError>,
    ) -> Result<Arc<HttpClient>, ModuleError> {
        let Some(connection) = &context.connection else {
            if let Some(client) = self.unconnected.get() {
                return Ok(client.clone());
            }
            let client = self.client(None, &ClientSettings::default())?;
            return Ok(self.unconnected.get_or_init(|| client).clone());
        };
        let address = Arc::as_ptr(&connection.config) as usize;
        if let Some((_, client)) = self.by_config.lock().ok().as_ref().and_then(|map| map.get(&address)) {
            return Ok(client.clone());
        }
        let client = self.client(Some(connection.name.clone()), &settings(&connection.config)?)?;
        if let Ok(mut map) = self.by_config.lock() {
            // Configs of finished runs are held only here: let them go.
            map.retain(|_, (config, _)| Arc::strong_count(config) > 1);
            map.insert(address, (connection.config.clone(), client.clone()));
        }
        Ok(client)
    }

    /// The client of connection `name` with these settings, made on first use.
    pub fn client(&self, name: Option<Arc<str>>, settings: &ClientSettings) -> Result<Arc<HttpClient>, ModuleError> {
        let key = format!(
            "{}\n{}",
            name.as_deref().unwrap_or_default(),
            serde_json::to_string(settings).unwrap_or_default()
        );
        if let Some(client) = self.clients.lock().ok().and_then(|clients| clients.get(&key).cloned()) {
            return Ok(client);
        }
        let client = Arc::new(HttpClient::new(
            name,
            settings,
            self.pool().clone(),
            &self.tokens,
            &self.tape,
            self.observer.clone(),
        )?);
        if let Ok(mut clients) = self.clients.lock() {
            // Another call may have made it meanwhile: keep the first, so all share one.
            return Ok(clients.entry(key).or_insert(client).clone());
        }
        Ok(client)
    }
}
