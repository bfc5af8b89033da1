//! The plan of a flow: its steps compiled once, the graph of what waits for what, and the
//! topological levels `flowrun graph` and `--dry-run` show.
//!
//! A plan is made from a flow the validator accepted: cycles and unknown steps were reported
//! there, so here they are internal errors, not user mistakes.

mod dependencies;
mod names;
mod step;

use indexmap::IndexMap;
use petgraph::graph::{DiGraph, NodeIndex};

use flowrun_expr::analysis::has_template_syntax;
use flowrun_expr::{CompiledValue, Expression, Template, TreeCompileError};
use flowrun_flow::catalog::Catalog;
use flowrun_flow::model::{Condition, Connection, Flow, OnError, Step};

pub use dependencies::DependencyKind;
pub use flowrun_connect::retry::{DEFAULT_ATTEMPTS, DEFAULT_INITIAL, DEFAULT_MAX, RetryPolicy};
pub use names::{NamesRead, names_in, names_read};
pub use step::{Action, ItemKey, PlannedCondition, PlannedIncremental, PlannedOnError, PlannedStep};

use crate::transform;

/// A flow, ready to run any number of times.
#[derive(Debug)]
pub struct Plan {
    pub flow_id: String,
    /// Main steps in file order, then `on_failure` steps.
    pub steps: Vec<PlannedStep>,
    /// How many of `steps` are main steps.
    pub n_main: usize,
    /// The flow's `output`.
    pub output: Option<CompiledValue>,
    /// Connections by name: connector and compiled `config`.
    pub connections: IndexMap<String, PlannedConnection>,
    /// Edges from dependency to dependent, over plan indexes.
    pub graph: DiGraph<usize, DependencyKind>,
    /// Main steps by topological level: level 0 waits for nothing, level n for steps of
    /// levels below n. Steps of one level may run at the same time.
    pub levels: Vec<Vec<usize>>,
}

/// A connection, compiled.
#[derive(Debug)]
pub struct PlannedConnection {
    pub connector: String,
    pub config: CompiledValue,
}

/// A flow the plan could not be made of.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("step `{step}`: {message}")]
pub struct PlanError {
    /// The step (or `output`, `connections.<name>`).
    pub step: String,
    pub message: String,
}

impl Plan {
    /// Compiles every template of the flow and builds its graph. `connections` are the
    /// connections the run uses (the project's and the flow's, merged by the caller);
    /// `catalog` tells each module's kind.
    pub fn new(
        flow: &Flow,
        connections: &IndexMap<String, Connection>,
        catalog: &Catalog,
    ) -> Result<Plan, Vec<PlanError>> {
        let mut errors = Vec::new();
        let all: Vec<(&Step, bool)> = flow
            .steps
            .iter()
            .map(|step| (step, false))
            .chain(flow.on_failure.iter().map(|step| (step, true)))
            .collect();
        let index_of = |id: &str| all.iter().position(|(step, _)| step.id == id);

        let mut steps = Vec::with_capacity(all.len());
        for (index, (step, on_failure)) in all.iter().enumerate() {
            let mut dependencies = Vec::new();
            for (id, kind) in dependencies::step_dependencies(step) {
                match index_of(&id) {
                    Some(dependency) if dependency != index => dependencies.push((dependency, kind)),
                    Some(_) => {}
                    None => errors.push(PlanError {
                        step: step.id.clone(),
                        message: format!("reads step `{id}`, which the flow does not have"),
                    }),
                }
            }
            match plan_step(step, index, *on_failure, dependencies, connections, catalog) {
                Ok(planned) => steps.push(planned),
                Err(mut step_errors) => errors.append(&mut step_errors),
            }
        }

        let output = match flow.output.as_ref().map(CompiledValue::compile) {
            Some(Ok(output)) => Some(output),
            Some(Err(tree_errors)) => {
                errors.extend(tree_errors.into_iter().map(|error| tree_error("output", error)));
                None
            }
            None => None,
        };
        let mut planned_connections = IndexMap::new();
        for (name, connection) in connections {
            let config = serde_json::Value::Object(connection.config.clone().into_iter().collect());
            match CompiledValue::compile(&config) {
                Ok(config) => {
                    planned_connections.insert(
                        name.clone(),
                        PlannedConnection {
                            connector: connection.connector.clone(),
                            config,
                        },
                    );
                }
                Err(tree_errors) => errors.extend(
                    tree_errors
                        .into_iter()
                        .map(|error| tree_error(&format!("connections.{name}"), error)),
                ),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }

        let n_main = flow.steps.len();
        let mut graph = DiGraph::new();
        for index in 0..steps.len() {
            graph.add_node(index);
        }
        for step in &steps {
            for (dependency, kind) in &step.dependencies {
                graph.add_edge(NodeIndex::new(*dependency), NodeIndex::new(step.index), *kind);
            }
        }
        let levels = levels(&steps[..n_main]).map_err(|cycle| vec![cycle])?;
        Ok(Plan {
            flow_id: flow.flow.clone(),
            steps,
            n_main,
            output,
            connections: planned_connections,
            graph,
            levels,
        })
    }

    /// The main steps, in file order.
    pub fn main_steps(&self) -> &[PlannedStep] {
        &self.steps[..self.n_main]
    }

    /// The `on_failure` steps, in file order.
    pub fn failure_steps(&self) -> &[PlannedStep] {
        &self.steps[self.n_main..]
    }

    pub fn step(&self, id: &str) -> Option<&PlannedStep> {
        self.steps.iter().find(|step| step.id == id)
    }

    /// Whether any step keeps a cursor (runs of such a flow take the flow's lock).
    pub fn has_incremental(&self) -> bool {
        self.steps.iter().any(|step| step.incremental.is_some())
    }
}

fn tree_error(place: &str, error: TreeCompileError) -> PlanError {
    let path = if error.path.is_empty() {
        String::new()
    } else {
        format!(" at `{}`", error.path.join("."))
    };
    PlanError {
        step: place.to_owned(),
        message: format!("template{path}: {}", error.error.message),
    }
}

fn plan_step(
    step: &Step,
    index: usize,
    on_failure: bool,
    dependencies: Vec<(usize, DependencyKind)>,
    connections: &IndexMap<String, Connection>,
    catalog: &Catalog,
) -> Result<PlannedStep, Vec<PlanError>> {
    let mut errors = Vec::new();
    let error = |message: String| PlanError {
        step: step.id.clone(),
        message,
    };
    let compile_tree = |value: &serde_json::Value, place: &str, errors: &mut Vec<PlanError>| {
        CompiledValue::compile(value)
            .map_err(|tree_errors| {
                errors.extend(tree_errors.into_iter().map(|e| {
                    let mut planned = tree_error(&step.id, e);
                    planned.message = format!("{place}: {}", planned.message);
                    planned
                }));
            })
            .ok()
    };

    let action = match (&step.uses, &step.transform) {
        (Some(uses), None) => {
            let params = serde_json::Value::Object(step.params.clone().unwrap_or_default().into_iter().collect());
            let params = compile_tree(&params, "with", &mut errors);
            let (connector, module) = uses.split_once('.').unwrap_or((uses, ""));
            let kind = catalog
                .connector(connector)
                .and_then(|spec| spec.module(module))
                .map(|spec| spec.kind);
            let connection = step.connection.clone().or_else(|| {
                let mut of_connector = connections
                    .iter()
                    .filter(|(_, connection)| connection.connector == connector);
                match (of_connector.next(), of_connector.next()) {
                    (Some((name, _)), None) => Some(name.clone()),
                    _ => None,
                }
            });
            params.map(|params| Action::Module {
                uses: uses.clone(),
                connection,
                kind,
                params: Box::new(params),
            })
        }
        (None, Some(pipeline)) => match transform::compile(pipeline) {
            Ok(compiled) => Some(Action::Transform(Box::new(compiled))),
            Err(pipeline_errors) => {
                errors.extend(pipeline_errors.into_iter().map(|e| error(e.to_string())));
                None
            }
        },
        _ => {
            errors.push(error("a step needs exactly one of `uses` and `transform`".to_owned()));
            None
        }
    };

    let condition = match &step.condition {
        None => None,
        Some(Condition::Literal(value)) => Some(PlannedCondition::Literal(*value)),
        Some(Condition::Expression(text)) => match Expression::compile(text) {
            Ok(expression) => Some(PlannedCondition::Expression(expression)),
            Err(e) => {
                errors.push(error(format!("if: {}", e.message)));
                None
            }
        },
    };
    let for_each = step
        .for_each
        .as_ref()
        .and_then(|value| compile_tree(value, "for_each", &mut errors));
    let item_key = match &step.item_key {
        None => None,
        Some(text) if has_template_syntax(text) && !is_single_expression(text) => match Template::compile(text) {
            Ok(template) => Some(ItemKey::Template(template)),
            Err(e) => {
                errors.push(error(format!("item_key: {}", e.message)));
                None
            }
        },
        Some(text) => match Expression::compile(text) {
            Ok(expression) => Some(ItemKey::Expression(expression)),
            Err(e) => {
                errors.push(error(format!("item_key: {}", e.message)));
                None
            }
        },
    };
    let incremental = match &step.incremental {
        None => None,
        Some(incremental) => {
            let cursor = Template::compile(&incremental.cursor)
                .map_err(|e| errors.push(error(format!("incremental.cursor: {}", e.message))))
                .ok();
            let initial = compile_tree(&incremental.initial, "incremental.initial", &mut errors);
            cursor
                .zip(initial)
                .map(|(cursor, initial)| PlannedIncremental { cursor, initial })
        }
    };
    let on_error = match &step.on_error {
        None | Some(OnError::Fail) => Some(PlannedOnError::Fail),
        Some(OnError::Ignore) => Some(PlannedOnError::Ignore),
        Some(OnError::Break) => Some(PlannedOnError::Break),
        Some(OnError::Resume(value)) => {
            compile_tree(value, "on_error.resume", &mut errors).map(|value| PlannedOnError::Resume(Box::new(value)))
        }
    };
    let retry = match &action {
        Some(Action::Transform(_)) => RetryPolicy::never(),
        Some(Action::Module { .. }) => RetryPolicy::new(step.retry.as_ref()),
        None => RetryPolicy::never(),
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let (Some(action), Some(on_error)) = (action, on_error) else {
        return Err(vec![error("could not be compiled".to_owned())]);
    };
    Ok(PlannedStep {
        id: step.id.clone(),
        index,
        on_failure,
        action,
        condition,
        for_each,
        item_key,
        concurrency: step.concurrency.map_or(1, |n| n.max(1) as usize),
        incremental,
        retry: std::sync::Arc::new(retry),
        timeout: step.timeout.map(|timeout| timeout.as_std()),
        on_error,
        dependencies,
    })
}

/// `"{{ item.id }}"`: a template that is one expression, kept typed.
fn is_single_expression(text: &str) -> bool {
    let trimmed = text.trim();
    trimmed.starts_with("{{") && trimmed.ends_with("}}") && trimmed.matches("{{").count() == 1
}

/// Kahn's algorithm by levels over the main steps (their dependencies on `on_failure` steps
/// cannot exist: the validator lets only `on_failure` steps read them).
fn levels(steps: &[PlannedStep]) -> Result<Vec<Vec<usize>>, PlanError> {
    let n = steps.len();
    let mut waiting: Vec<usize> = steps
        .iter()
        .map(|step| step.dependencies.iter().filter(|(d, _)| *d < n).count())
        .collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for step in steps {
        for (dependency, _) in &step.dependencies {
            if *dependency < n {
                dependents[*dependency].push(step.index);
            }
        }
    }
    let mut levels = Vec::new();
    let mut current: Vec<usize> = (0..n).filter(|index| waiting[*index] == 0).collect();
    let mut placed = 0;
    while !current.is_empty() {
        placed += current.len();
        let mut next = Vec::new();
        for &index in &current {
            for &dependent in &dependents[index] {
                waiting[dependent] -= 1;
                if waiting[dependent] == 0 {
                    next.push(dependent);
                }
            }
        }
        next.sort_unstable();
        levels.push(std::mem::replace(&mut current, next));
    }
    if placed < n {
        let stuck: Vec<&str> = (0..n)
            .filter(|index| waiting[*index] > 0)
            .map(|index| steps[index].id.as_str())
            .collect();
        return Err(PlanError {
            step: stuck.first().copied().unwrap_or_default().to_owned(),
            message: format!("the steps {} wait for each other (a cycle)", stuck.join(", ")),
        });
    }
    Ok(levels)
}
