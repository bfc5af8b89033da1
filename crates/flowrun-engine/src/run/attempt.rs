//! One module call with its retries: the step's timeout per attempt, the run's bound on calls
//! in flight, the retry policy's waits (and the service's `Retry-After`), and cancellation.

use std::sync::Arc;
use std::time::Duration;

use flowrun_connect::module::{CallContext, ErrorKind, Module, ModuleError, ModuleOutput};
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
    pub result: Result<ModuleOutput, ModuleError>,
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

/// A module's output as a template value: JSON read where it lies, a response body kept as
/// text until a template reads it.
pub(crate) fn output_value(output: ModuleOutput) -> flowrun_expr::Value {
    match output {
        ModuleOutput::Json(json) => flowrun_expr::from_shared_json(json),
        ModuleOutput::WithRawJson { object, key, raw } => {
            let entries = object
                .into_iter()
                .map(|(name, value)| (name, flowrun_expr::from_shared_json(value)));
            let body = std::iter::once((key, flowrun_expr::from_raw_json(raw)));
            flowrun_expr::Value::from_pairs(entries.chain(body))
        }
    }
}

async fn call_once(
    module: &Arc<dyn Module>,
    params: Json,
    context: &CallContext,
    settings: &CallSettings<'_>,
) -> Result<ModuleOutput, ModuleError> {
    // One wait on the cancellation for the permit and the call: each wait registers with the
    // token, and this runs for every item of a `for_each`.
    let permitted_call = async {
        let _permit = settings.limiter.acquire().await.map_err(|_| cancelled())?;
        with_timeout(module.call_output(context, params), settings.timeout).await
    };
    tokio::select! {
        result = permitted_call => result,
        () = context.cancel.cancelled() => Err(cancelled()),
    }
}

async fn with_timeout(
    call: impl std::future::Future<Output = Result<ModuleOutput, ModuleError>>,
    timeout: Option<Duration>,
) -> Result<ModuleOutput, ModuleError> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use flowrun_connect::module::ModuleOutput;
    use serde_json::json;

    use super::output_value;

    /// A body kept as text takes its key's place after the others, and reads as JSON.
    #[test]
    fn an_output_with_a_raw_body_reads_like_the_whole_json() {
        let object = json!({ "status": 200, "headers": { "x": "1" } });
        let serde_json::Value::Object(object) = object else {
            unreachable!()
        };
        let output = ModuleOutput::WithRawJson {
            object,
            key: "body".to_owned(),
            raw: serde_json::from_str(r#"{"a": [1, 2]}"#).unwrap(),
        };
        let value = output_value(output);
        assert_eq!(
            serde_json::to_string(&flowrun_expr::to_json(&value).unwrap()).unwrap(),
            r#"{"status":200,"headers":{"x":"1"},"body":{"a":[1,2]}}"#
        );
        let a = value.get_attr("body").unwrap().get_attr("a").unwrap();
        assert_eq!(a.get_item(&1.into()).unwrap().as_i64(), Some(2));
    }
}
