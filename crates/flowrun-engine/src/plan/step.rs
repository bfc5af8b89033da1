//! One step of a plan: everything in it compiled, nothing left to parse at run time.

use std::time::Duration;

use flowrun_expr::{CompiledValue, Expression, Template};
use flowrun_flow::catalog::ModuleKind;

use super::RetryPolicy;
use super::dependencies::DependencyKind;
use crate::transform::CompiledPipeline;

/// A step, compiled once per run (never per item).
#[derive(Debug)]
pub struct PlannedStep {
    pub id: String,
    /// Its position in the plan: main steps first, then `on_failure` steps.
    pub index: usize,
    pub on_failure: bool,
    pub action: Action,
    pub condition: Option<PlannedCondition>,
    pub for_each: Option<CompiledValue>,
    pub item_key: Option<ItemKey>,
    /// Items in flight at once (1 without `concurrency`).
    pub concurrency: usize,
    pub incremental: Option<PlannedIncremental>,
    pub retry: std::sync::Arc<RetryPolicy>,
    /// Per attempt.
    pub timeout: Option<Duration>,
    pub on_error: PlannedOnError,
    /// The steps it waits for, by plan index.
    pub dependencies: Vec<(usize, DependencyKind)>,
}

impl PlannedStep {
    /// Whether the step reads the output of the step at `index`.
    pub fn reads_output_of(&self, index: usize) -> bool {
        self.dependencies
            .iter()
            .any(|(dependency, kind)| *dependency == index && *kind == DependencyKind::Output)
    }
}

/// What a step does.
#[derive(Debug)]
pub enum Action {
    /// `uses: <connector>.<module>`.
    Module {
        uses: String,
        /// The connection it uses, resolved (a named one, or the one connection of its
        /// connector); `None` for modules that take none.
        connection: Option<String>,
        kind: Option<ModuleKind>,
        params: Box<CompiledValue>,
    },
    /// A built-in pipeline.
    Transform(Box<CompiledPipeline>),
}

impl Action {
    pub fn describe(&self) -> &str {
        match self {
            Action::Module { uses, .. } => uses,
            Action::Transform(_) => "transform",
        }
    }
}

/// `if:` compiled.
#[derive(Debug)]
pub enum PlannedCondition {
    Literal(bool),
    Expression(Expression),
}

/// `item_key:` as written: a bare expression, or a template with text around it.
#[derive(Debug)]
pub enum ItemKey {
    Expression(Expression),
    Template(Template),
}

/// `incremental:` compiled.
#[derive(Debug)]
pub struct PlannedIncremental {
    /// Evaluated over `output` after the step succeeded.
    pub cursor: Template,
    /// The cursor before any run committed one (rendered: inputs may seed it).
    pub initial: CompiledValue,
}

/// `on_error:` compiled.
#[derive(Debug)]
pub enum PlannedOnError {
    Fail,
    Ignore,
    Break,
    Resume(Box<CompiledValue>),
}

impl PlannedOnError {
    pub fn name(&self) -> &'static str {
        match self {
            PlannedOnError::Fail => "fail",
            PlannedOnError::Ignore => "ignore",
            PlannedOnError::Break => "break",
            PlannedOnError::Resume(_) => "resume",
        }
    }
}
