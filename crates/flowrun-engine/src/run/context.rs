//! The template context of a run: the run's names at the bottom of every scope, and `steps`,
//! which fills in as steps finish.

use std::sync::{Arc, OnceLock};

use flowrun_expr::{Runtime, Scope, Secret, Value};
use indexmap::IndexMap;
use minijinja::value::{Enumerator, Object, ObjectRepr};

use flowrun_state::StepStatus;

/// `steps`: one slot per step of the plan, set once when the step ends. A step reads only the
/// steps it waits for, which have all ended, so a read never races a write.
#[derive(Debug)]
pub(crate) struct StepsView {
    ids: Vec<String>,
    slots: Vec<OnceLock<(StepStatus, Value)>>,
}

impl StepsView {
    pub(crate) fn new(ids: Vec<String>) -> StepsView {
        let slots = ids.iter().map(|_| OnceLock::new()).collect();
        StepsView { ids, slots }
    }

    /// Sets a step's `{output, status, error}`. A second set is ignored: a step ends once.
    pub(crate) fn set(&self, index: usize, status: StepStatus, output: Value, error: Option<Value>) {
        let entry = Value::from_pairs([
            ("output", output),
            ("status", Value::from(status.as_str())),
            ("error", error.unwrap_or(Value::from(()))),
        ]);
        let _ = self.slots[index].set((status, entry));
    }

    /// A step's status, when it has ended.
    pub(crate) fn status(&self, index: usize) -> Option<StepStatus> {
        self.slots[index].get().map(|(status, _)| *status)
    }

    /// A step's output, when it has ended.
    pub(crate) fn output(&self, index: usize) -> Option<Value> {
        self.slots[index]
            .get()
            .and_then(|(_, entry)| entry.get_attr("output").ok())
    }
}

impl Object for StepsView {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let id = key.as_str()?;
        let index = self.ids.iter().position(|known| known == id)?;
        self.slots[index].get().map(|(_, entry)| entry.clone())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        // Only ended steps: `steps` printed whole shows what is known.
        let ended: Vec<Value> = self
            .ids
            .iter()
            .zip(&self.slots)
            .filter(|(_, slot)| slot.get().is_some())
            .map(|(id, _)| Value::from(id.as_str()))
            .collect();
        Enumerator::Values(ended)
    }
}

/// What the bottom layer of every scope of a run holds.
pub(crate) struct RunNames<'a> {
    pub run_id: &'a str,
    pub started_at: jiff::Timestamp,
    pub flow_id: &'a str,
    pub inputs: &'a serde_json::Value,
    pub trigger: Option<&'a serde_json::Value>,
    pub env: &'a IndexMap<String, String>,
    pub secrets: &'a IndexMap<String, Secret>,
}

/// The run's scope: `inputs`, `trigger`, `env`, `secrets`, `run`, `flow` and `steps`.
pub(crate) fn run_scope(names: RunNames<'_>, steps: &Arc<StepsView>, runtime: Runtime) -> Scope {
    let mut scope = Scope::new(runtime);
    scope
        .set("inputs", flowrun_expr::from_json(names.inputs))
        .set(
            "trigger",
            names.trigger.map_or(Value::from(()), flowrun_expr::from_json),
        )
        .set(
            "env",
            Value::from_pairs(
                names
                    .env
                    .iter()
                    .map(|(name, value)| (name.as_str(), Value::from(value.as_str()))),
            ),
        )
        .set(
            "run",
            Value::from_pairs([
                ("id", Value::from(names.run_id)),
                ("started_at", Value::from(names.started_at.to_string())),
            ]),
        )
        .set("flow", Value::from_pairs([("id", Value::from(names.flow_id))]))
        .set("steps", Value::from_dyn_object(steps.clone()))
        .set_secrets(names.secrets.clone());
    scope
}
