//! Rate limits per (client id, division): a minutely and a daily budget in fixed windows
//! aligned to the wall clock (UTC), and the six `X-RateLimit-*` headers.
//!
//! Wall-clock time (not the sandbox clock), because the client reads the resets as UTC
//! epoch milliseconds and really waits until then.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderName, HeaderValue};

const DAY_MS: u64 = 86_400_000;

/// Now, UTC epoch milliseconds.
pub fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[derive(Clone, Copy, Debug, Default)]
struct Budget {
    minute: u64,
    minute_used: u64,
    day: u64,
    day_used: u64,
}

/// The budgets of every (client, division) seen.
#[derive(Default)]
pub struct Limits {
    budgets: HashMap<(String, u64), Budget>,
}

/// What one call found: its headers' values, and whether it was refused.
#[derive(Clone, Copy, Debug)]
pub struct Verdict {
    pub daily_limit: u64,
    pub daily_remaining: u64,
    pub daily_reset: u64,
    pub minutely_limit: u64,
    pub minutely_remaining: u64,
    pub minutely_reset: u64,
    /// `Some(ms until the budget refills)` when the call is refused (429).
    pub refused_for_ms: Option<u64>,
    /// Which budget refused it.
    pub daily_exhausted: bool,
}

impl Limits {
    /// Spends one call of `client` in `division` at `now` (epoch ms), unless a budget is
    /// used up: a refused call spends nothing.
    pub fn spend(&mut self, client: &str, division: u64, now: u64, limits: (u64, u64, u64)) -> Verdict {
        let (minutely_limit, window_ms, daily_limit) = limits;
        let window_ms = window_ms.max(1);
        let budget = self.budgets.entry((client.to_owned(), division)).or_default();
        let (minute, day) = (now / window_ms, now / DAY_MS);
        if budget.minute != minute {
            budget.minute = minute;
            budget.minute_used = 0;
        }
        if budget.day != day {
            budget.day = day;
            budget.day_used = 0;
        }
        let minutely_reset = (minute + 1) * window_ms;
        let daily_reset = (day + 1) * DAY_MS;
        let daily_exhausted = budget.day_used >= daily_limit;
        let refused_for_ms = if daily_exhausted {
            Some(daily_reset - now)
        } else if budget.minute_used >= minutely_limit {
            Some(minutely_reset - now)
        } else {
            budget.minute_used += 1;
            budget.day_used += 1;
            None
        };
        Verdict {
            daily_limit,
            daily_remaining: daily_limit.saturating_sub(budget.day_used),
            daily_reset,
            minutely_limit,
            minutely_remaining: minutely_limit.saturating_sub(budget.minute_used),
            minutely_reset,
            refused_for_ms,
            daily_exhausted,
        }
    }
}

impl Verdict {
    /// Adds the six `X-RateLimit-*` headers.
    pub fn write(&self, headers: &mut HeaderMap) {
        let pairs = [
            ("x-ratelimit-limit", self.daily_limit),
            ("x-ratelimit-remaining", self.daily_remaining),
            ("x-ratelimit-reset", self.daily_reset),
            ("x-ratelimit-minutely-limit", self.minutely_limit),
            ("x-ratelimit-minutely-remaining", self.minutely_remaining),
            ("x-ratelimit-minutely-reset", self.minutely_reset),
        ];
        for (name, value) in pairs {
            headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_refuse_and_refill_per_window() {
        let mut limits = Limits::default();
        let now = 10 * DAY_MS + 5_500;
        let cfg = (2, 1000, 3);
        assert_eq!(limits.spend("c", 1, now, cfg).minutely_remaining, 1);
        assert_eq!(limits.spend("c", 1, now, cfg).minutely_remaining, 0);
        let refused = limits.spend("c", 1, now + 100, cfg);
        assert_eq!(refused.refused_for_ms, Some(400));
        assert_eq!(refused.minutely_reset, 10 * DAY_MS + 6_000);
        // Another division has its own budget.
        assert!(limits.spend("c", 2, now, cfg).refused_for_ms.is_none());
        // The next window lets one more through; then the day is spent.
        assert!(limits.spend("c", 1, now + 600, cfg).refused_for_ms.is_none());
        let day = limits.spend("c", 1, now + 1600, cfg);
        assert!(day.daily_exhausted);
        assert_eq!(day.daily_reset, 11 * DAY_MS);
        assert!(limits.spend("c", 1, 11 * DAY_MS, cfg).refused_for_ms.is_none());
    }
}
