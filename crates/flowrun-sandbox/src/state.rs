//! The state every simulator shares: one per [`crate::Sandbox`], behind an `Arc`.
//!
//! It is shared rather than per API so that one control handle (Rust or HTTP) can move the
//! clock, inject faults and read counters for all simulators at once, and so that a test
//! can reason about "the sandbox" without knowing which router served a request.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::SandboxConfig;
use crate::faults::FaultStore;
use crate::tokens::TokenStore;

/// Shared state of one sandbox.
pub struct SandboxState {
    /// What the sandbox was started with.
    pub config: SandboxConfig,
    /// The address the server listens on; the fallback for absolute URLs when a request has
    /// no `Host` header.
    pub addr: SocketAddr,
    /// Sandbox time, for token and code expiry.
    pub clock: Clock,
    /// Injected faults, applied by [`crate::faults::middleware`].
    pub faults: FaultStore,
    /// Requests seen, counted before faults apply.
    pub stats: RequestStats,
    /// OAuth tokens, codes and consent requests of every simulator.
    pub tokens: TokenStore,
    /// The 1CRM simulator's records, files, webhooks and admin settings.
    pub onecrm: crate::onecrm::OneCrm,
    /// The Conexiom simulator's records and settings.
    pub conexiom: crate::conexiom::Conexiom,
    /// The Exact Online simulator's divisions, refresh tokens, rate limits and webhooks.
    pub exact: crate::exact::Exact,
}

impl SandboxState {
    /// A fresh state: clock at zero, no faults, no requests, the seed refresh tokens.
    pub fn new(config: SandboxConfig, addr: SocketAddr) -> Self {
        Self {
            config,
            addr,
            clock: Clock::new(),
            faults: FaultStore::default(),
            stats: RequestStats::default(),
            tokens: TokenStore::default(),
            onecrm: crate::onecrm::OneCrm::default(),
            conexiom: crate::conexiom::Conexiom::default(),
            exact: crate::exact::Exact::default(),
        }
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// A monotonic clock that tests can move forward, so that expiry can be tested without
/// waiting: sandbox time is real elapsed time plus every advance made so far.
pub struct Clock {
    start: Instant,
    advanced_ms: AtomicU64,
}

impl Clock {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            advanced_ms: AtomicU64::new(0),
        }
    }

    /// Sandbox time since the sandbox started.
    pub fn now(&self) -> Duration {
        self.start.elapsed() + Duration::from_millis(self.advanced_ms.load(Ordering::Relaxed))
    }

    /// Moves sandbox time forward (never back: expiry stays monotonic).
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.advanced_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// Request counters by method and exact path (no query).
///
/// Two nested maps so that counting a request already seen allocates nothing: the echo
/// endpoint is benchmarked at tens of thousands of requests per second.
#[derive(Default)]
pub struct RequestStats {
    by_method: Mutex<HashMap<String, HashMap<String, u64>>>,
}

impl RequestStats {
    /// Counts one request.
    pub fn record(&self, method: &str, path: &str) {
        let mut map = lock(&self.by_method);
        let paths = match map.get_mut(method) {
            Some(paths) => paths,
            None => map.entry(method.to_owned()).or_default(),
        };
        match paths.get_mut(path) {
            Some(count) => *count += 1,
            None => {
                paths.insert(path.to_owned(), 1);
            }
        }
    }

    /// Requests seen with this method (case-insensitive) and exact path.
    pub fn count(&self, method: &str, path: &str) -> u64 {
        let map = lock(&self.by_method);
        map.get(&method.to_ascii_uppercase())
            .and_then(|paths| paths.get(path))
            .copied()
            .unwrap_or(0)
    }

    /// Every counter, keyed `"METHOD path"`, sorted.
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        let map = lock(&self.by_method);
        let mut all: Vec<(String, u64)> = map
            .iter()
            .flat_map(|(method, paths)| {
                paths
                    .iter()
                    .map(move |(path, count)| (format!("{method} {path}"), *count))
            })
            .collect();
        all.sort();
        all
    }
}

/// Locks a mutex, going on with the data when another thread panicked while holding it:
/// every critical section here leaves the data consistent, and a sandbox that stops
/// answering because one test panicked would only hide the real failure.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
