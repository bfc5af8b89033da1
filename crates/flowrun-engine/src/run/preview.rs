//! `flowrun run --dry-run`: the plan with each step's parameters rendered as far as they can
//! be before anything runs. Nothing is called and nothing is stored.
//!
//! A parameter that reads another step's output, `item` or `cursor` cannot be known yet: it
//! is shown as its template. Secrets are shown as `***`.

use std::sync::Arc;

use flowrun_expr::{CompiledValue, Redactor};
use serde::Serialize;
use serde_json::Value as Json;

use super::RunRequest;
use super::context::{RunNames, StepsView, run_scope};
use crate::plan::{Action, DependencyKind, Plan, PlannedOnError};

/// The plan as `--dry-run` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub flow: String,
    /// Main steps by level: the steps of a level run at the same time.
    pub levels: Vec<Vec<StepPreview>>,
    pub on_failure: Vec<StepPreview>,
}

/// One step of a preview.
#[derive(Debug, Clone, Serialize)]
pub struct StepPreview {
    pub id: String,
    /// The module (`onecrm.search_records`) or `transform`.
    pub uses: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// Whether the module changes something (create, update, delete, action, API call).
    pub writes: bool,
    /// The steps it waits for, and why.
    pub waits_for: Vec<(String, DependencyKind)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub for_each: Option<Json>,
    /// The `with:` block: rendered values, or the template where it cannot be rendered yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with: Option<Json>,
    pub retry_attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    pub on_error: &'static str,
}

/// Renders what can be rendered of the plan with the request's inputs, env and secrets.
pub fn preview(plan: &Plan, request: &RunRequest) -> Preview {
    let steps = Arc::new(StepsView::new(plan.steps.iter().map(|s| s.id.clone()).collect()));
    let scope = run_scope(
        RunNames {
            run_id: "dry-run",
            started_at: jiff::Timestamp::now(),
            flow_id: &plan.flow_id,
            inputs: &request.inputs,
            trigger: request.trigger.as_ref(),
            env: &request.env,
            secrets: &request.secrets,
        },
        &steps,
        flowrun_expr::Runtime::default(),
    );
    let redactor = Redactor::new(request.secrets.values());
    let step_preview = |index: usize| {
        let step = &plan.steps[index];
        let (uses, connection, writes, with) = match &step.action {
            Action::Module {
                uses,
                connection,
                kind,
                params,
            } => {
                let with = if step.for_each.is_some() {
                    source(params)
                } else {
                    render_each(params, &scope, &redactor)
                };
                (
                    uses.clone(),
                    connection.clone(),
                    !kind.is_some_and(|kind| kind.is_read_only()),
                    Some(with),
                )
            }
            Action::Transform(_) => ("transform".to_owned(), None, false, None),
        };
        StepPreview {
            id: step.id.clone(),
            uses,
            connection,
            writes,
            waits_for: step
                .dependencies
                .iter()
                .map(|(dependency, kind)| (plan.steps[*dependency].id.clone(), *kind))
                .collect(),
            for_each: step.for_each.as_ref().map(source),
            with,
            retry_attempts: step.retry.attempts,
            timeout_ms: step.timeout.map(|timeout| timeout.as_millis() as u64),
            on_error: match &step.on_error {
                PlannedOnError::Resume(_) => "resume",
                other => other.name(),
            },
        }
    };
    Preview {
        flow: plan.flow_id.clone(),
        levels: plan
            .levels
            .iter()
            .map(|level| level.iter().map(|&index| step_preview(index)).collect())
            .collect(),
        on_failure: (plan.n_main..plan.steps.len()).map(step_preview).collect(),
    }
}

/// Each top-level key rendered on its own, so one key that reads a step's output does not
/// hide the others.
fn render_each(params: &CompiledValue, scope: &flowrun_expr::Scope, redactor: &Redactor) -> Json {
    match params {
        CompiledValue::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(key, value)| (key.clone(), render_each(value, scope, redactor)))
                .collect(),
        ),
        other => match other.render(scope) {
            Ok(rendered) => redactor.redact_json(&rendered.redacted()),
            Err(_) => source(other),
        },
    }
}

/// The value as written in the flow, templates as their source text.
fn source(value: &CompiledValue) -> Json {
    match value {
        CompiledValue::Literal(json) => json.clone(),
        CompiledValue::Template(template) => Json::String(template.source().to_owned()),
        CompiledValue::List(items) => Json::Array(items.iter().map(source).collect()),
        CompiledValue::Map(entries) => Json::Object(entries.iter().map(|(k, v)| (k.clone(), source(v))).collect()),
    }
}
