//! The retry policy of a step: the step's `retry`, or the documented default
//! (docs/engine.md "Retries").

use std::time::Duration;

use flowrun_connect::module::ErrorKind;
use flowrun_flow::catalog::ModuleKind;
use flowrun_flow::model::{Backoff, Retry, RetryOn};

/// Attempts of a step without `retry`: the first and two more.
pub const DEFAULT_ATTEMPTS: u32 = 3;
/// The first wait of the default policy and of a `retry` without `initial`.
pub const DEFAULT_INITIAL: Duration = Duration::from_secs(1);
/// The longest wait of the default policy and of a `retry` without `max`.
pub const DEFAULT_MAX: Duration = Duration::from_secs(30);

/// When and how often a failed attempt is tried again.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub attempts: u32,
    pub backoff: Backoff,
    pub initial: Duration,
    pub max: Duration,
    /// The failures worth another attempt.
    pub on: Vec<ErrorKind>,
}

impl RetryPolicy {
    /// The step's `retry`, or the default for a module of this kind. Without `on`, a `retry`
    /// retries timeouts, connect errors, 429 and 5xx. The default retries connect errors and
    /// 429 for every module (the request was not processed), and timeouts and 5xx only for
    /// modules that only read (a write may have happened: retrying could do it twice).
    pub fn new(retry: Option<&Retry>, kind: Option<ModuleKind>) -> RetryPolicy {
        match retry {
            Some(retry) => RetryPolicy {
                attempts: retry.attempts.max(1),
                backoff: retry.backoff.unwrap_or(Backoff::Exponential),
                initial: retry.initial.map_or(DEFAULT_INITIAL, |d| d.as_std()),
                max: retry.max.map_or(DEFAULT_MAX, |d| d.as_std()),
                on: if retry.on.is_empty() {
                    vec![
                        ErrorKind::Timeout,
                        ErrorKind::Connect,
                        ErrorKind::RateLimited,
                        ErrorKind::Server,
                    ]
                } else {
                    retry.on.iter().map(|on| error_kind(*on)).collect()
                },
            },
            None => {
                let mut on = vec![ErrorKind::Connect, ErrorKind::RateLimited];
                if kind.is_some_and(ModuleKind::is_read_only) {
                    on.extend([ErrorKind::Timeout, ErrorKind::Server]);
                }
                RetryPolicy {
                    attempts: DEFAULT_ATTEMPTS,
                    backoff: Backoff::Exponential,
                    initial: DEFAULT_INITIAL,
                    max: DEFAULT_MAX,
                    on,
                }
            }
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
        }
    }

    /// Whether a failure of this kind after `attempt` attempts gets another.
    pub fn retries(&self, kind: ErrorKind, attempt: u32) -> bool {
        attempt < self.attempts && self.on.contains(&kind)
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
