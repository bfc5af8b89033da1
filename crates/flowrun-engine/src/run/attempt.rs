//! One module call with its retries: the step's timeout per attempt, the run's bound on calls
//! in flight, the retry policy's waits (and the service's `Retry-After`), and cancellation.

use std::sync::Arc;
use std::time::Duration;

use flowrun_connect::module::{CallContext, ErrorKind, Module, ModuleError};
use serde_json::Value as Json;
use tokio::sync::Semaphore;

use crate::plan::RetryPolicy;

/// What a call needs besides its parameters.
pub(crate) struct CallSettings<'a> {
    pub policy: &'a RetryPolicy,
    /// Whether calling the module twice is harmless (it only reads).
    pub safe_to_repeat: bool,
    pub timeout: Option<Duration>,
    /// The run's `--max-concurrency`: one permit per call in flight.
    pub limiter: &'a Semaphore,
}

/// The result of a call and how many attempts it took.
pub(crate) struct Attempted {
    pub result: Result<Json, ModuleError>,
    pub attempts: u32,
}

/// Calls `module` until it succeeds, fails in a way the policy does not retry, runs out of
/// attempts, or the run is cancelled. A module that retries per request itself (the HTTP
/// layer) is called once, without the step's timeout around the whole call: its requests
/// carry the retries and the timeout.
pub(crate) async fn call_with_retries(
    module: &Arc<dyn Module>,
    params: Json,
    mut context: CallContext,
    settings: CallSettings<'_>,
) -> Attempted {
    if module.retries_itself() {
        let settings = CallSettings {
            timeout: None,
            ..settings
        };
        return Attempted {
            result: call_once(module, params, &context, &settings).await,
            attempts: 1,
        };
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        context.attempt = attempt;
        let result = call_once(module, params.clone(), &context, &settings).await;
        let error = match result {
            Ok(output) => {
                return Attempted {
                    result: Ok(output),
                    attempts: attempt,
                };
            }
            Err(error) => error,
        };
        if error.kind == ErrorKind::Cancelled || !settings.policy.retries(error.kind, attempt, settings.safe_to_repeat)
        {
            return Attempted {
                result: Err(error),
                attempts: attempt,
            };
        }
        let wait = settings
            .policy
            .jittered_delay(attempt)
            .max(error.retry_after.unwrap_or_default());
        tracing::warn!(
            step = %context.step_id,
            item = ?context.item_index,
            attempt,
            of = settings.policy.attempts,
            wait_ms = wait.as_millis() as u64,
            kind = error.kind.as_str(),
            error = %error.message,
            "attempt failed; retrying",
        );
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = context.cancel.cancelled() => {
                return Attempted { result: Err(cancelled()), attempts: attempt };
            }
        }
    }
}

async fn call_once(
    module: &Arc<dyn Module>,
    params: Json,
    context: &CallContext,
    settings: &CallSettings<'_>,
) -> Result<Json, ModuleError> {
    // One wait on the cancellation for the permit and the call: each wait registers with the
    // token, and this runs for every item of a `for_each`.
    let permitted_call = async {
        let _permit = settings.limiter.acquire().await.map_err(|_| cancelled())?;
        with_timeout(module.call(context, params), settings.timeout).await
    };
    tokio::select! {
        result = permitted_call => result,
        () = context.cancel.cancelled() => Err(cancelled()),
    }
}

async fn with_timeout(
    call: impl std::future::Future<Output = Result<Json, ModuleError>>,
    timeout: Option<Duration>,
) -> Result<Json, ModuleError> {
    match timeout {
        None => call.await,
        Some(limit) => tokio::time::timeout(limit, call).await.unwrap_or_else(|_| {
            Err(ModuleError::new(
                ErrorKind::Timeout,
                format!("the attempt took longer than the step's timeout ({})", show(limit)),
            ))
        }),
    }
}

/// A duration the way flow files write it (`30s`, `500ms`).
pub(crate) fn show(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis >= 1000 && millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}

pub(crate) fn cancelled() -> ModuleError {
    ModuleError::new(ErrorKind::Cancelled, "cancelled: the run is stopping")
}
