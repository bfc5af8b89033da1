//! The retry policy of a step: the step's `retry`, or the documented default
//! (docs/engine.md "Retries"), and the waits a service asks for (`Retry-After`, rate-limit
//! reset headers).

use std::time::Duration;

use crate::module::ErrorKind;
use flowrun_flow::model::{Backoff, Retry, RetryOn};

/// Attempts of a step without `retry`: the first and two more.
pub const DEFAULT_ATTEMPTS: u32 = 3;
/// The first wait of the default policy and of a `retry` without `initial`.
pub const DEFAULT_INITIAL: Duration = Duration::from_secs(1);
/// The longest wait of the default policy and of a `retry` without `max`.
pub const DEFAULT_MAX: Duration = Duration::from_secs(30);

/// When and how often a failed attempt is tried again.
///
/// One policy per step, applied where the failure happens: the HTTP layer applies it to each
/// request (so page 7 of a paged read is retried alone), the engine to calls of modules that
/// do not speak HTTP.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub attempts: u32,
    pub backoff: Backoff,
    pub initial: Duration,
    pub max: Duration,
    /// The failures worth another attempt.
    pub on: Vec<ErrorKind>,
    /// Whether the step wrote `retry.on`. When it did not, timeouts and 5xx are retried only
    /// when repeating the call is safe (a read-only module, an idempotent HTTP method): the
    /// first attempt may have done its write before it failed.
    pub listed: bool,
}

impl Default for RetryPolicy {
    /// The policy of a step without `retry`.
    fn default() -> RetryPolicy {
        RetryPolicy::new(None)
    }
}

impl RetryPolicy {
    /// The step's `retry`, or the default. Without `on`, timeouts, connect errors, 429 and 5xx
    /// are worth another attempt, timeouts and 5xx only when the call is safe to repeat (see
    /// [`retries`](Self::retries)).
    pub fn new(retry: Option<&Retry>) -> RetryPolicy {
        let all = vec![
            ErrorKind::Timeout,
            ErrorKind::Connect,
            ErrorKind::RateLimited,
            ErrorKind::Server,
        ];
        match retry {
            Some(retry) => RetryPolicy {
                attempts: retry.attempts.max(1),
                backoff: retry.backoff.unwrap_or(Backoff::Exponential),
                initial: retry.initial.map_or(DEFAULT_INITIAL, |d| d.as_std()),
                max: retry.max.map_or(DEFAULT_MAX, |d| d.as_std()),
                listed: !retry.on.is_empty(),
                on: if retry.on.is_empty() {
                    all
                } else {
                    retry.on.iter().map(|on| error_kind(*on)).collect()
                },
            },
            None => RetryPolicy {
                attempts: DEFAULT_ATTEMPTS,
                backoff: Backoff::Exponential,
                initial: DEFAULT_INITIAL,
                max: DEFAULT_MAX,
                on: all,
                listed: false,
            },
        }
    }

    /// No retries at all (transform steps: the same data fails the same way).
    pub fn never() -> RetryPolicy {
        RetryPolicy {
            attempts: 1,
            backoff: Backoff::Fixed,
            initial: Duration::ZERO,
            max: Duration::ZERO,
            on: Vec::new(),
            listed: true,
        }
    }

    /// Whether a failure of this kind after `attempt` attempts gets another. `safe_to_repeat`
    /// says whether doing the call twice is harmless: a read-only module, an idempotent HTTP
    /// method (GET, HEAD, OPTIONS, PUT, DELETE). Connect errors and 429 mean the service did
    /// not act, so they are retried either way; timeouts and 5xx of unsafe calls only when the
    /// step lists them in `retry.on`.
    pub fn retries(&self, kind: ErrorKind, attempt: u32, safe_to_repeat: bool) -> bool {
        let may_have_acted = matches!(kind, ErrorKind::Timeout | ErrorKind::Server);
        attempt < self.attempts && self.on.contains(&kind) && (self.listed || safe_to_repeat || !may_have_acted)
    }

    /// The wait before attempt `attempt + 1`, without jitter: `initial` for fixed backoff,
    /// `initial × 2^(attempt-1)` for exponential, never above `max`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let base = match self.backoff {
            Backoff::Fixed => self.initial,
            Backoff::Exponential => {
                let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(31));
                self.initial.saturating_mul(factor)
            }
        };
        base.min(self.max.max(self.initial))
    }

    /// [`delay`](Self::delay) with "equal jitter": between half of it and all of it, so many
    /// clients failing together do not retry together.
    pub fn jittered_delay(&self, attempt: u32) -> Duration {
        let delay = self.delay(attempt);
        let half = delay / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

fn error_kind(on: RetryOn) -> ErrorKind {
    match on {
        RetryOn::Timeout => ErrorKind::Timeout,
        RetryOn::Connect => ErrorKind::Connect,
        RetryOn::TooManyRequests => ErrorKind::RateLimited,
        RetryOn::ServerError => ErrorKind::Server,
        RetryOn::ClientError => ErrorKind::Client,
    }
}

/// The longest wait a service may ask for; a longer `Retry-After` fails the attempt instead of
/// stalling the run for hours.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);

/// How long a response asks the client to wait: `Retry-After` in seconds or as an HTTP date
/// (RFC 9110 §10.2.3), else a rate-limit reset header (`RateLimit-Reset`, `X-RateLimit-Reset`:
/// seconds to wait, or a Unix time in seconds or milliseconds, as APIs differ). `now` is the
/// current time, for dates.
pub fn requested_wait(header: impl Fn(&str) -> Option<String>, now: std::time::SystemTime) -> Option<Duration> {
    if let Some(value) = header("retry-after") {
        let value = value.trim();
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        if let Ok(date) = httpdate::parse_http_date(value) {
            return Some(date.duration_since(now).unwrap_or_default());
        }
    }
    let reset = header("ratelimit-reset").or_else(|| header("x-ratelimit-reset"))?;
    let number: u64 = reset.trim().parse().ok()?;
    let unix_now = now.duration_since(std::time::UNIX_EPOCH).ok()?;
    // Below a billion it cannot be a Unix time (2001): it is seconds to wait.
    Some(match number {
        0..1_000_000_000 => Duration::from_secs(number),
        1_000_000_000..1_000_000_000_000 => Duration::from_secs(number).saturating_sub(unix_now),
        _ => Duration::from_millis(number).saturating_sub(unix_now),
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use super::*;

    fn wait(headers: &[(&str, &str)]) -> Option<Duration> {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        requested_wait(
            |name| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string()),
            now,
        )
    }

    #[test]
    fn retry_after_is_read_in_every_form() {
        assert_eq!(wait(&[("retry-after", "7")]), Some(Duration::from_secs(7)));
        let in_ten = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(1_700_000_010));
        assert_eq!(wait(&[("retry-after", &in_ten)]), Some(Duration::from_secs(10)));
        let past = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(1_600_000_000));
        assert_eq!(wait(&[("retry-after", &past)]), Some(Duration::ZERO));
        assert_eq!(wait(&[("x-ratelimit-reset", "30")]), Some(Duration::from_secs(30)));
        assert_eq!(wait(&[("ratelimit-reset", "1700000005")]), Some(Duration::from_secs(5)));
        assert_eq!(
            wait(&[("x-ratelimit-reset", "1700000002500")]),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(wait(&[("retry-after", "soon")]), None);
        assert_eq!(wait(&[]), None);
        let _ = SystemTime::now();
    }

    proptest::proptest! {
        /// Whatever a service sends in these headers, reading it does not panic.
        #[test]
        fn any_wait_header_is_read_without_panic(retry_after in ".{0,40}", reset in "[0-9]{0,20}") {
            let _ = wait(&[("retry-after", &retry_after)]);
            let _ = wait(&[("x-ratelimit-reset", &reset)]);
        }
    }

    #[test]
    fn unsafe_calls_are_not_repeated_after_timeouts_and_5xx_unless_listed() {
        let default = RetryPolicy::default();
        assert!(default.retries(ErrorKind::Connect, 1, false));
        assert!(default.retries(ErrorKind::RateLimited, 1, false));
        assert!(!default.retries(ErrorKind::Server, 1, false));
        assert!(!default.retries(ErrorKind::Timeout, 1, false));
        assert!(default.retries(ErrorKind::Server, 1, true));
        assert!(!default.retries(ErrorKind::Server, DEFAULT_ATTEMPTS, true));
        assert!(!default.retries(ErrorKind::Client, 1, true));
        let listed = RetryPolicy {
            on: vec![ErrorKind::Server],
            listed: true,
            ..RetryPolicy::default()
        };
        assert!(listed.retries(ErrorKind::Server, 1, false));
        assert!(!listed.retries(ErrorKind::Connect, 1, false));
    }
}
