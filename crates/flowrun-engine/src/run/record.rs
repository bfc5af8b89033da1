//! Writes of a run to the state store. Everything written is redacted first: the store never
//! holds a secret, whatever a module returned.

use std::sync::Arc;
use std::time::Duration;

use flowrun_expr::{Redactor, Rendered, Value};
use flowrun_state::{JsonOut, NewIncomplete, Payload, StepRecord, StepStatus, WriteJson};
use serde_json::Value as Json;

use super::Shared;

/// One step's or item's result, as the store keeps it.
pub(crate) struct Outcome {
    pub step_id: String,
    pub item_index: Option<usize>,
    pub item_key: Option<String>,
    pub status: StepStatus,
    pub attempts: u32,
    /// The rendered `with:`, already redacted (see [`parameters`]).
    pub parameters: Option<Payload>,
    /// The step's or item's output as the run holds it: written into the record redacted.
    pub output: Option<Value>,
    pub error: Option<Json>,
    pub started_at: Option<jiff::Timestamp>,
    pub duration: Option<Duration>,
}

/// Stores a result; durable when it returns (dependents may start). Without a store,
/// nothing is kept.
pub(crate) async fn record(shared: &Shared, result: Outcome) -> Result<(), String> {
    let Some(store) = &shared.store else {
        return Ok(());
    };
    let redact = |mut value: Json| {
        shared.redactor.redact_json_in_place(&mut value);
        value
    };
    let record = StepRecord {
        run_id: shared.run_id.clone(),
        step_id: result.step_id,
        item_index: result.item_index.map(|index| index as u64),
        item_key: result.item_key,
        status: result.status,
        attempts: result.attempts,
        parameters: result.parameters,
        output: result.output.map(|output| written_redacted(shared, output)),
        error: result.error.map(redact),
        started_at: result.started_at,
        ended_at: Some(jiff::Timestamp::now()),
        duration: result.duration,
    };
    store
        .record_step(record)
        .await
        .map_err(|error| format!("the result could not be stored: {error}"))
}

/// A module step's rendered `with:` as its record stores it: JSON text, secrets as `***` and
/// redacted, written now because the value itself goes to the module. Writing the text costs
/// what storing it would; copying the value first (thousands of rows, for a `sql.upsert`)
/// would cost that again.
pub(crate) fn parameters(shared: &Shared, rendered: &mut Rendered) -> Payload {
    let mut text = Vec::new();
    match rendered.write_redacted(&shared.redactor, &mut text) {
        Ok(()) => Payload::Written(Arc::new(JsonText(text))),
        // Not reached: a JSON value always writes, and a Vec takes any write.
        Err(error) => Payload::Value(serde_json::json!({ "$unwritable": error.to_string() })),
    }
}

/// JSON text written before it is stored.
struct JsonText(Vec<u8>);

impl WriteJson for JsonText {
    fn write_json(&self, out: &mut JsonOut) -> serde_json::Result<()> {
        std::io::Write::write_all(out, &self.0).map_err(serde_json::Error::io)
    }
}

/// An output as its record stores it: written out as JSON text, redacted, as it is stored.
/// Nothing is copied first: a step's output can be thousands of records, and a module's
/// output is JSON shared with the rest of the run. A value with no JSON form (undefined
/// somewhere) fails the record with the path of the problem.
fn written_redacted(shared: &Shared, output: Value) -> Payload {
    Payload::Written(Arc::new(RedactedOutput {
        value: output,
        redactor: shared.redactor.clone(),
    }))
}

/// A step's output that writes itself redacted.
struct RedactedOutput {
    value: Value,
    redactor: Redactor,
}

impl WriteJson for RedactedOutput {
    fn write_json(&self, out: &mut JsonOut) -> serde_json::Result<()> {
        flowrun_expr::write_json_redacted_searched(&self.value, &self.redactor, &mut StoreOut(out))
    }
}

/// The store's writer, read back by [`flowrun_expr::write_json_redacted_searched`].
struct StoreOut<'a>(&'a mut JsonOut);

impl std::io::Write for StoreOut<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.write(data)
    }

    fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.0.write_all(data)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl flowrun_expr::ReadBack for StoreOut<'_> {
    fn written(&self) -> Option<&[u8]> {
        self.0.written()
    }

    fn truncate(&mut self, len: usize) {
        self.0.truncate(len);
    }
}

/// Stores a broken step or item as an incomplete execution, with the template inputs a
/// replay needs (never rendered text).
pub(crate) async fn incomplete(
    shared: &Shared,
    step_id: &str,
    item: Option<(usize, Option<String>)>,
    inputs: Json,
    error: &Json,
) -> Result<(), String> {
    let Some(store) = &shared.store else {
        return Ok(());
    };
    let (item_index, item_key) = match item {
        Some((index, key)) => (Some(index as u64), key),
        None => (None, None),
    };
    store
        .add_incomplete(NewIncomplete {
            run_id: shared.run_id.clone(),
            step_id: step_id.to_owned(),
            item_index,
            item_key,
            inputs: shared.redactor.redact_json(&inputs),
            error: Some(shared.redactor.redact_json(error)),
        })
        .await
        .map(|_| ())
        .map_err(|error| format!("the incomplete execution could not be stored: {error}"))
}
