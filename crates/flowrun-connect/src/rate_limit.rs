//! A connection's `rate_limit: {requests, per}`: a token bucket (governor's GCRA) shared by
//! every step of the process that uses the connection. `requests` may go at once, then one
//! every `per / requests`.

use std::num::NonZeroU32;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::config;

pub struct RateLimit {
    limiter: DefaultDirectRateLimiter,
}

impl RateLimit {
    pub fn new(limit: &config::RateLimit) -> RateLimit {
        let requests = NonZeroU32::new(limit.requests).unwrap_or(NonZeroU32::MIN);
        let period = limit.per.as_std() / requests.get();
        let quota = Quota::with_period(period.max(std::time::Duration::from_nanos(1)))
            .unwrap_or_else(|| Quota::per_second(requests))
            .allow_burst(requests);
        RateLimit {
            limiter: RateLimiter::direct(quota),
        }
    }

    /// Waits until the bucket lets one more request go.
    pub async fn wait(&self) {
        self.limiter.until_ready().await;
    }
}
