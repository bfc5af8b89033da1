//! A mocked step: a [`Module`] that answers from the case's `mock:` entry instead of calling
//! its connector, and remembers what it was called with.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use flowrun_connect::module::{CallContext, ErrorKind, Module, ModuleError};
use flowrun_expr::Redactor;
use flowrun_flow::catalog::ModuleKind;
use flowrun_flow::model::{Mock, MockError, MockErrorKind};
use serde_json::Value as Json;

/// Stands in for one step's module during one case.
pub(crate) struct MockModule {
    step_id: String,
    kind: ModuleKind,
    mock: Mock,
    /// The case's fake secrets, hidden from the recorded calls as they are everywhere else.
    redactor: std::sync::Arc<Redactor>,
    calls_started: AtomicUsize,
    /// `(item index or call number, rendered parameters)`, in the order calls came.
    calls: Mutex<Vec<(usize, Json)>>,
}

impl MockModule {
    pub(crate) fn new(step_id: &str, kind: ModuleKind, mock: Mock, redactor: std::sync::Arc<Redactor>) -> MockModule {
        MockModule {
            step_id: step_id.to_owned(),
            kind,
            mock,
            redactor,
            calls_started: AtomicUsize::new(0),
            calls: Mutex::new(Vec::new()),
        }
    }

    /// The parameters of every call, in item order (for a `for_each` step) or call order:
    /// the same order whatever `concurrency` made of the completion order.
    pub(crate) fn calls(&self) -> Vec<Json> {
        let mut calls = self.calls.lock().map(|calls| calls.clone()).unwrap_or_default();
        calls.sort_by_key(|(index, _)| *index);
        calls.into_iter().map(|(_, params)| params).collect()
    }

    fn answer(&self, index: usize) -> Result<Json, ModuleError> {
        if let Some(error) = self.mock.errors.get(&index.to_string()).or(self.mock.error.as_ref()) {
            return Err(module_error(error));
        }
        if let Some(outputs) = &self.mock.outputs {
            return outputs.get(index).cloned().ok_or_else(|| {
                ModuleError::new(
                    ErrorKind::Invalid,
                    format!(
                        "the mock of step `{}` gives {} output(s), but call {index} came (items and calls count from 0): \
                         add outputs, or give one `output` for every call",
                        self.step_id,
                        outputs.len()
                    ),
                )
            });
        }
        Ok(self.mock.output.clone().unwrap_or(Json::Null))
    }
}

#[async_trait::async_trait]
impl Module for MockModule {
    fn name(&self) -> &str {
        &self.step_id
    }

    fn kind(&self) -> ModuleKind {
        self.kind
    }

    async fn call(&self, context: &CallContext, params: Json) -> Result<Json, ModuleError> {
        let call_number = self.calls_started.fetch_add(1, Ordering::Relaxed);
        let index = context.item_index.unwrap_or(call_number);
        let shown = self.redactor.redact_json(&params);
        if let Ok(mut calls) = self.calls.lock() {
            calls.push((index, shown));
        }
        self.answer(index)
    }

    /// A mock gives the final result of a call: the retries a connector would make are not
    /// played (a mocked error is the error after them).
    fn retries_itself(&self) -> bool {
        true
    }
}

/// The error a connector would have reported.
fn module_error(error: &MockError) -> ModuleError {
    let kind = match (error.kind, error.status) {
        (Some(kind), _) => kind_of(kind),
        (None, Some(429)) => ErrorKind::RateLimited,
        (None, Some(status)) if status >= 500 => ErrorKind::Server,
        (None, Some(status)) if status >= 400 => ErrorKind::Client,
        (None, _) => ErrorKind::Other,
    };
    let mut module_error = ModuleError::new(kind, error.message.clone());
    if let Some(status) = error.status {
        module_error = module_error.with_status(status);
    }
    module_error
}

fn kind_of(kind: MockErrorKind) -> ErrorKind {
    match kind {
        MockErrorKind::Timeout => ErrorKind::Timeout,
        MockErrorKind::Connect => ErrorKind::Connect,
        MockErrorKind::RateLimited => ErrorKind::RateLimited,
        MockErrorKind::Server => ErrorKind::Server,
        MockErrorKind::Client => ErrorKind::Client,
        MockErrorKind::Invalid => ErrorKind::Invalid,
        MockErrorKind::Other => ErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mock(value: Json) -> MockModule {
        let mock: Mock = serde_json::from_value(value).unwrap();
        let redactor = std::sync::Arc::new(Redactor::new([&flowrun_expr::Secret::new("s3cret-value")]));
        MockModule::new("create", ModuleKind::Create, mock, redactor)
    }

    fn call(module: &MockModule, item: Option<usize>, params: Json) -> Result<Json, ModuleError> {
        let mut context = CallContext::new("run", "create");
        context.item_index = item;
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(module.call(&context, params))
    }

    #[test]
    fn outputs_go_by_item_index_whatever_the_call_order() {
        let module = mock(json!({"outputs": ["a", "b", "c"]}));
        assert_eq!(call(&module, Some(2), json!({"n": 2})).unwrap(), json!("c"));
        assert_eq!(call(&module, Some(0), json!({"n": 0})).unwrap(), json!("a"));
        assert_eq!(module.calls(), vec![json!({"n": 0}), json!({"n": 2})]);
        let error = call(&module, Some(3), json!({})).unwrap_err();
        assert_eq!(error.kind, ErrorKind::Invalid);
        assert!(
            error.message.contains("gives 3 output(s), but call 3 came"),
            "{}",
            error.message
        );
    }

    #[test]
    fn calls_without_items_count_from_zero() {
        let module = mock(json!({"outputs": [1, 2]}));
        assert_eq!(call(&module, None, json!({})).unwrap(), json!(1));
        assert_eq!(call(&module, None, json!({})).unwrap(), json!(2));
    }

    #[test]
    fn errors_pick_calls_and_take_their_kind_from_the_status() {
        let module = mock(json!({
            "output": {"ok": true},
            "errors": {"1": {"message": "slow down", "status": 429}, "2": {"message": "down", "status": 503},
                       "3": {"message": "bad", "status": 422}, "4": {"message": "odd"},
                       "5": {"message": "late", "kind": "timeout"}}
        }));
        assert_eq!(call(&module, Some(0), json!({})).unwrap(), json!({"ok": true}));
        let kinds: Vec<(ErrorKind, Option<u16>)> = (1..=5)
            .map(|item| call(&module, Some(item), json!({})).unwrap_err())
            .map(|error| (error.kind, error.status))
            .collect();
        assert_eq!(
            kinds,
            [
                (ErrorKind::RateLimited, Some(429)),
                (ErrorKind::Server, Some(503)),
                (ErrorKind::Client, Some(422)),
                (ErrorKind::Other, None),
                (ErrorKind::Timeout, None)
            ]
        );
    }

    #[test]
    fn recorded_calls_hide_secrets() {
        let module = mock(json!({"output": null}));
        assert_eq!(
            call(&module, None, json!({"auth": "Bearer s3cret-value"})).unwrap(),
            Json::Null
        );
        assert_eq!(module.calls(), vec![json!({"auth": "Bearer ***"})]);
    }
}
