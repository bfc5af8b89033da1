//! Budgets a service announces in its response headers, e.g. Exact Online's
//! `X-RateLimit-Minutely-Remaining` / `X-RateLimit-Minutely-Reset` and the daily
//! `X-RateLimit-Remaining` / `X-RateLimit-Reset`.
//!
//! Where a connection's `rate_limit` is the user's guess of what a service allows, these
//! headers are the service's own count, per window. A client that knows a window is spent
//! sends nothing that would certainly be refused: it waits for the reset (a minutely window),
//! or fails at once with when it resets (a daily one). Requests in flight count against the
//! budget until their answer arrives, so concurrent steps do not all spend the last call; a
//! request the service does not count (its answer announces nothing) stops counting then too.
//!
//! A connector opts in through [`ClientSettings::quota`](crate::client::ClientSettings); the
//! budget is the client's, so it is shared by every step of the process using the connection.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::module::{ErrorKind, ModuleError};
use crate::retry::MAX_RETRY_AFTER;

/// The headers of every window a service announces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotaHeaders {
    pub windows: Vec<WindowHeaders>,
}

/// One window's headers, by name (case-insensitive), and what a spent window means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowHeaders {
    /// How messages and logs name the window: `minutely`, `daily`.
    pub name: String,
    /// The header with the window's size, e.g. `X-RateLimit-Minutely-Limit`.
    pub limit: String,
    /// The header with the calls left in the window.
    pub remaining: String,
    /// The header with the window's end: a Unix time in seconds or milliseconds, or seconds
    /// from now (as [`crate::retry::requested_wait`] reads reset headers).
    pub reset: String,
    pub when_spent: WhenSpent,
}

/// What a request does when a window has no calls left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum WhenSpent {
    /// Wait for the window's reset (short windows).
    Wait,
    /// Fail at once, saying when it resets (windows too long to wait out in a run).
    Fail,
}

/// A client's view of the service's budget.
#[derive(Debug)]
pub struct Quota {
    connection: String,
    headers: QuotaHeaders,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    windows: Vec<Window>,
    /// Requests sent whose answer has not arrived: not in the announced counts yet.
    in_flight: u64,
}

/// A request's place in the budget while it is in flight; dropped when its answer (or its
/// failure) is in.
#[derive(Debug)]
pub struct Reservation<'q> {
    quota: &'q Quota,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let mut state = self.quota.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
    }
}

/// What is known of one window; all `None` until a response announced it, and again once
/// its reset has passed.
#[derive(Debug, Clone, Copy, Default)]
struct Window {
    limit: Option<u64>,
    remaining: Option<u64>,
    resets_at: Option<SystemTime>,
}

/// Two announcements of one window may differ by rounding.
const SAME_WINDOW: Duration = Duration::from_secs(1);

/// Waited past a reset, so the service's clock surely turned too.
const AFTER_RESET: Duration = Duration::from_millis(50);

impl Quota {
    pub fn new(connection: &str, headers: QuotaHeaders) -> Quota {
        let windows = vec![Window::default(); headers.windows.len()];
        Quota {
            connection: connection.to_owned(),
            headers,
            state: Mutex::new(State { windows, in_flight: 0 }),
        }
    }

    /// A place for one request in every known window, first waiting for the reset of a
    /// window whose calls left are all in flight. A spent `Fail` window (or a `Wait` one that
    /// resets later than flowrun waits) is an error, not to be retried; nothing was sent.
    /// Hold the reservation until the answer has been [observed](Self::observe).
    pub async fn reserve(&self, step: &str, cancel: &CancellationToken) -> Result<Reservation<'_>, ModuleError> {
        loop {
            let wait = {
                let mut state = self.lock();
                let in_flight = state.in_flight;
                let now = SystemTime::now();
                let mut wait: Option<(Duration, usize)> = None;
                for (index, window) in state.windows.iter_mut().enumerate() {
                    if window.resets_at.is_some_and(|reset| reset <= now) {
                        *window = Window::default();
                    }
                    let (Some(remaining), Some(reset)) = (window.remaining, window.resets_at) else {
                        continue;
                    };
                    if remaining > in_flight {
                        continue;
                    }
                    let left = reset.duration_since(now).unwrap_or_default();
                    let rule = &self.headers.windows[index];
                    if rule.when_spent == WhenSpent::Fail || left > MAX_RETRY_AFTER {
                        return Err(self.spent(index, window, left, false));
                    }
                    if wait.is_none_or(|(longest, _)| left > longest) {
                        wait = Some((left, index));
                    }
                }
                if wait.is_none() {
                    state.in_flight += 1;
                }
                wait
            };
            let Some((left, index)) = wait else {
                return Ok(Reservation { quota: self });
            };
            // A warning, as retries are: the run stands still meanwhile, up to a minute.
            tracing::warn!(
                step,
                connection = %self.connection,
                window = %self.headers.windows[index].name,
                wait_ms = (left + AFTER_RESET).as_millis() as u64,
                "the service's {} budget is spent; waiting for its reset instead of sending a request it would refuse",
                self.headers.windows[index].name,
            );
            tokio::select! {
                () = tokio::time::sleep(left + AFTER_RESET) => {}
                () = cancel.cancelled() => {
                    return Err(ModuleError::new(ErrorKind::Cancelled, "cancelled: the run is stopping"));
                }
            }
        }
    }

    /// Learns the windows from a response's headers. Within one window the lower count wins
    /// (answers may arrive out of order); a later window replaces an earlier one; an answer
    /// about a window already over is ignored.
    pub fn observe(&self, headers: &HeaderMap) {
        let now = SystemTime::now();
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .and_then(|text| text.trim().parse::<u64>().ok())
        };
        let mut state = self.lock();
        for (window, rule) in state.windows.iter_mut().zip(&self.headers.windows) {
            let (Some(remaining), Some(resets_at)) = (
                number(&rule.remaining),
                number(&rule.reset).and_then(|reset| reset_time(reset, now)),
            ) else {
                continue;
            };
            let announced = Window {
                limit: number(&rule.limit),
                remaining: Some(remaining),
                resets_at: Some(resets_at),
            };
            match window.resets_at {
                Some(known) if same_window(known, resets_at) => {
                    window.remaining = Some(window.remaining.map_or(remaining, |left| left.min(remaining)));
                    window.limit = announced.limit.or(window.limit);
                }
                Some(known) if resets_at < known => {}
                _ => *window = announced,
            }
        }
    }

    /// After the service refused a request (429): how long to wait before trying again, from
    /// the window it says is spent, or the error to fail with when that window is not one to
    /// wait for. `None` when no window is known to be spent.
    pub fn after_refusal(&self) -> Option<Result<Duration, ModuleError>> {
        let state = self.lock();
        let now = SystemTime::now();
        let mut longest: Option<Duration> = None;
        for (index, window) in state.windows.iter().enumerate() {
            let (Some(0), Some(reset)) = (window.remaining, window.resets_at) else {
                continue;
            };
            let left = reset.duration_since(now).unwrap_or_default();
            if self.headers.windows[index].when_spent == WhenSpent::Fail || left > MAX_RETRY_AFTER {
                return Some(Err(self.spent(index, window, left, true)));
            }
            longest = Some(longest.map_or(left, |known| known.max(left)));
        }
        longest.map(|left| Ok(left + AFTER_RESET))
    }

    /// The error of a spent window: not retried, since nothing changes before the reset.
    fn spent(&self, index: usize, window: &Window, left: Duration, refused: bool) -> ModuleError {
        let rule = &self.headers.windows[index];
        let limit = window
            .limit
            .map(|limit| format!(" of {limit} requests"))
            .unwrap_or_default();
        let resets = window
            .resets_at
            .and_then(|reset| reset.duration_since(UNIX_EPOCH).ok())
            .and_then(|since| jiff::Timestamp::from_second(since.as_secs() as i64).ok())
            .map(|at| format!("{at}"))
            .unwrap_or_else(|| "later".to_owned());
        let what = if refused {
            "the service refused the request (429)"
        } else {
            "nothing was sent, since the service would refuse it"
        };
        let error = ModuleError::new(
            ErrorKind::RateLimited,
            format!(
                "connection `{}`: the service's {} limit{limit} is spent (`{}: 0`) until {resets} (in {}); {what}",
                self.connection,
                rule.name,
                rule.remaining,
                human(left),
            ),
        );
        if refused { error.with_status(429) } else { error }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A reset header's value as a time: below a billion it is seconds from now, below a
/// trillion a Unix time in seconds, else in milliseconds (as in `retry::requested_wait`).
fn reset_time(value: u64, now: SystemTime) -> Option<SystemTime> {
    match value {
        0..1_000_000_000 => now.checked_add(Duration::from_secs(value)),
        1_000_000_000..1_000_000_000_000 => UNIX_EPOCH.checked_add(Duration::from_secs(value)),
        _ => UNIX_EPOCH.checked_add(Duration::from_millis(value)),
    }
}

/// `8h 12m`, `3m 5s`, `45s`.
fn human(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match (seconds / 3600, seconds % 3600 / 60, seconds % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

fn same_window(a: SystemTime, b: SystemTime) -> bool {
    let apart = a.duration_since(b).or_else(|_| b.duration_since(a)).unwrap_or_default();
    apart < SAME_WINDOW
}

#[cfg(test)]
mod tests;
