//! The transform step: a pipeline of operations (flow-spec "Transform pipelines" and
//! "Semantics in detail → Pipelines"), compiled once and run over data.
//!
//! [`compile`] compiles every expression and template of the pipeline once;
//! [`CompiledPipeline::run`] runs the ops in order. A run of per-item ops in a row (filter,
//! map, set, rename, remove, dedupe, limit, skip), with the `group_by` (and `aggregate`) that
//! may end it, is fused by `stream`: items go through it one by one. The other ops take the
//! whole list as a `Vec<Value>` (values are shared, never deep-copied). One file per family of
//! ops: `select` (select, filter), `reshape` (map, set, rename, remove), `order` (sort,
//! dedupe), `group` (group_by, aggregate), `shape` (chunk, flatten), `merge`. `key` holds the
//! equality and total order of keys, `item` the evaluation of expressions per item, and
//! `fast` the evaluation of common expressions without minijinja's machine.

mod error;
mod fast;
mod group;
mod item;
mod key;
mod merge;
mod order;
mod reshape;
mod select;
mod shape;
mod stream;

use flowrun_expr::{CompileError, CompiledValue, Scope, Value};
use flowrun_flow::model::{PipelineOp, Transform};
use minijinja::value::ValueKind;

pub use error::{INPUT, PipelineCompileError, TransformError};

use error::expected;
use item::list_value;
use stream::Run;

/// A transform step, compiled: run it any number of times.
#[derive(Debug)]
pub struct CompiledPipeline {
    input: Option<CompiledValue>,
    ops: Vec<Op>,
    lines: Vec<u32>,
}

/// One op of a pipeline, as the engine runs it.
#[derive(Debug)]
enum Op {
    Select(select::Select),
    Filter(select::Filter),
    Map(reshape::Map),
    Set(reshape::Set),
    Rename(reshape::Rename),
    Remove(reshape::Remove),
    Sort(order::Sort),
    Dedupe(order::Dedupe),
    GroupBy(group::GroupBy),
    Aggregate(group::Aggregate),
    Chunk(usize),
    Flatten,
    Limit(usize),
    Skip(usize),
    Merge(merge::Merge),
}

impl Op {
    fn name(&self) -> &'static str {
        match self {
            Op::Select(_) => "select",
            Op::Filter(_) => "filter",
            Op::Map(_) => "map",
            Op::Set(_) => "set",
            Op::Rename(_) => "rename",
            Op::Remove(_) => "remove",
            Op::Sort(_) => "sort",
            Op::Dedupe(_) => "dedupe",
            Op::GroupBy(_) => "group_by",
            Op::Aggregate(_) => "aggregate",
            Op::Chunk(_) => "chunk",
            Op::Flatten => "flatten",
            Op::Limit(_) => "limit",
            Op::Skip(_) => "skip",
            Op::Merge(_) => "merge",
        }
    }
}

fn op_name(op: &PipelineOp) -> &'static str {
    match op {
        PipelineOp::Select(_) => "select",
        PipelineOp::Filter(_) => "filter",
        PipelineOp::Map(_) => "map",
        PipelineOp::Set(_) => "set",
        PipelineOp::Rename(_) => "rename",
        PipelineOp::Remove(_) => "remove",
        PipelineOp::Sort(_) => "sort",
        PipelineOp::Dedupe(_) => "dedupe",
        PipelineOp::GroupBy(_) => "group_by",
        PipelineOp::Aggregate(_) => "aggregate",
        PipelineOp::Chunk(_) => "chunk",
        PipelineOp::Flatten => "flatten",
        PipelineOp::Merge(_) => "merge",
        PipelineOp::Limit(_) => "limit",
        PipelineOp::Skip(_) => "skip",
    }
}

/// A compile error of the op being compiled, at `path` inside its body.
pub(crate) type OpError = (Vec<String>, CompileError);

/// Compiles a transform step: its `input` and every expression and template of its ops,
/// once. Every mistake is reported.
pub fn compile(transform: &Transform) -> Result<CompiledPipeline, Vec<PipelineCompileError>> {
    let mut errors = Vec::new();
    // Usually one template string; a value written in the flow (a list with templates in
    // it) works too.
    let input = match transform.input.as_ref().map(CompiledValue::compile) {
        None => None,
        Some(Ok(compiled)) => Some(compiled),
        Some(Err(tree_errors)) => {
            errors.extend(tree_errors.into_iter().map(|tree_error| PipelineCompileError {
                op_index: 0,
                op: INPUT,
                path: tree_error.path,
                error: tree_error.error,
            }));
            None
        }
    };
    let mut ops = Vec::with_capacity(transform.pipeline.len());
    for (op_index, spec) in transform.pipeline.iter().enumerate() {
        match compile_op(spec) {
            Ok(op) => ops.push(op),
            Err(op_errors) => errors.extend(op_errors.into_iter().map(|(path, error)| PipelineCompileError {
                op_index,
                op: op_name(spec),
                path,
                error,
            })),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(CompiledPipeline {
        input,
        ops,
        lines: Vec::new(),
    })
}

fn compile_op(op: &PipelineOp) -> Result<Op, Vec<OpError>> {
    Ok(match op {
        PipelineOp::Select(path) => Op::Select(select::Select::compile(path).map_err(one)?),
        PipelineOp::Filter(source) => Op::Filter(select::Filter::compile(source).map_err(one)?),
        PipelineOp::Map(body) => Op::Map(reshape::Map::compile(body)?),
        PipelineOp::Set(fields) => Op::Set(reshape::Set::compile(fields)?),
        PipelineOp::Rename(names) => Op::Rename(reshape::Rename::compile(names)),
        PipelineOp::Remove(names) => Op::Remove(reshape::Remove::compile(names)),
        PipelineOp::Sort(sort) => Op::Sort(order::Sort::compile(sort)?),
        PipelineOp::Dedupe(source) => Op::Dedupe(order::Dedupe::compile(source).map_err(one)?),
        PipelineOp::GroupBy(source) => Op::GroupBy(group::GroupBy::compile(source).map_err(one)?),
        PipelineOp::Aggregate(fields) => Op::Aggregate(group::Aggregate::compile(fields)?),
        PipelineOp::Chunk(size) => {
            if *size == 0 {
                return Err(one(CompileError {
                    message: "a chunk size must be at least 1".to_owned(),
                    range: None,
                    help: None,
                }));
            }
            Op::Chunk(count(u64::from(*size)))
        }
        PipelineOp::Flatten => Op::Flatten,
        PipelineOp::Merge(spec) => Op::Merge(merge::Merge::compile(spec)?),
        PipelineOp::Limit(n) => Op::Limit(count(*n)),
        PipelineOp::Skip(n) => Op::Skip(count(*n)),
    })
}

/// A count of the flow as a length (a count past memory is as good as "all").
fn count(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn one(error: CompileError) -> Vec<OpError> {
    vec![(Vec::new(), error)]
}

/// What flows between ops: a list of items, or any other value (the input before the first
/// op, or what `select` or `aggregate` returned).
pub(crate) enum Data {
    /// `groups` is true when the items are `{key, items}` groups made by `group_by` (and kept
    /// by the ops that only drop or reorder items), for `aggregate`.
    List {
        items: Vec<Value>,
        groups: bool,
    },
    Value(Value),
}

impl Data {
    fn into_value(self) -> Value {
        match self {
            Data::List { items, .. } => list_value(items),
            Data::Value(value) => value,
        }
    }

    /// The items, for an op that needs the whole list.
    fn into_list(self) -> Result<Vec<Value>, String> {
        match self {
            Data::List { items, .. } => Ok(items),
            data @ Data::Value(_) => data.into_items().map(Iterator::collect),
        }
    }

    fn items(items: Vec<Value>) -> Data {
        Data::List { items, groups: false }
    }

    /// The items one by one, for a fused run: a list the pipeline owns alone is consumed (each
    /// item released once it has passed); a shared one is read without a copy of the list.
    fn into_items(self) -> Result<Box<dyn Iterator<Item = Value>>, String> {
        match self {
            Data::List { items, .. } => Ok(Box::new(items.into_iter())),
            Data::Value(value) => {
                if let Some(items) = value.downcast_object::<Vec<Value>>() {
                    drop(value);
                    return Ok(match std::sync::Arc::try_unwrap(items) {
                        Ok(items) => Box::new(items.into_iter()),
                        Err(shared) => Box::new((0..shared.len()).map(move |index| shared[index].clone())),
                    });
                }
                if !matches!(value.kind(), ValueKind::Seq | ValueKind::Iterable) {
                    return Err(expected("a list", &value));
                }
                value
                    .try_iter()
                    .map(|items| Box::new(items) as Box<dyn Iterator<Item = Value>>)
                    .map_err(|_| expected("a list", &value))
            }
        }
    }
}

impl CompiledPipeline {
    /// Sets the flow-file line of each op (by op index), for error messages.
    pub fn set_op_lines(&mut self, lines: Vec<u32>) {
        self.lines = lines;
    }

    /// Runs the pipeline on its `input` evaluated in `scope`, or on `trigger` without one.
    pub fn run(&self, scope: &Scope) -> Result<Value, TransformError> {
        let input = self.input_value(scope)?;
        self.run_on(input, scope)
    }

    /// The pipeline's `input` evaluated in `scope` (or `trigger` without one): what
    /// [`run`](Self::run) transforms. The engine reads it first to decide where to run the ops.
    pub fn input_value(&self, scope: &Scope) -> Result<Value, TransformError> {
        Ok(match &self.input {
            Some(input) => input.eval(scope).map_err(|error| TransformError {
                op_index: 0,
                op: INPUT,
                line: None,
                message: error.message,
            })?,
            None => scope.get("trigger").ok_or_else(|| TransformError {
                op_index: 0,
                op: INPUT,
                line: None,
                message: "the pipeline has no `input` and there is no `trigger` to read".to_owned(),
            })?,
        })
    }

    /// Runs the pipeline on `input`; templates see `scope` (and `item`, `index`).
    pub fn run_on(&self, input: Value, scope: &Scope) -> Result<Value, TransformError> {
        let mut data = Data::Value(input);
        let mut op_index = 0;
        while let Some(op) = self.ops.get(op_index) {
            match Run::at(op_index, &self.ops[op_index..]) {
                Some(run) => {
                    let len = run.len;
                    data = run
                        .run(data, scope)
                        .map_err(|(op_index, message)| self.error(op_index, message))?;
                    op_index += len;
                }
                None => {
                    data = run_op(op, data, scope).map_err(|message| self.error(op_index, message))?;
                    op_index += 1;
                }
            }
        }
        Ok(data.into_value())
    }

    fn error(&self, op_index: usize, message: String) -> TransformError {
        TransformError {
            op_index,
            op: self.ops.get(op_index).map_or(INPUT, Op::name),
            line: self.lines.get(op_index).copied(),
            message,
        }
    }
}

/// An op that takes the whole list (or any value): the ops [`Run::at`] does not fuse.
fn run_op(op: &Op, data: Data, scope: &Scope) -> Result<Data, String> {
    let groups = matches!(data, Data::List { groups: true, .. });
    Ok(match op {
        Op::Select(select) => Data::Value(select.run(data.into_value())?),
        // Sorting only reorders: groups stay groups.
        Op::Sort(sort) => Data::List {
            items: sort.run(data.into_list()?, scope)?,
            groups,
        },
        Op::Aggregate(aggregate) => Data::Value(aggregate.run(data.into_list()?, groups, scope)?),
        Op::Chunk(size) => Data::items(shape::chunk(data.into_list()?, *size)),
        Op::Flatten => Data::items(shape::flatten(data.into_list()?)),
        Op::Merge(merge) => Data::items(merge.run(data.into_list()?, scope)?),
        Op::Filter(_)
        | Op::Map(_)
        | Op::Set(_)
        | Op::Rename(_)
        | Op::Remove(_)
        | Op::Dedupe(_)
        | Op::Limit(_)
        | Op::Skip(_)
        | Op::GroupBy(_) => match Run::at(0, std::slice::from_ref(op)) {
            // `run_on` fuses these before they get here; on their own they are a run of one.
            Some(run) => run.run(data, scope).map_err(|(_, message)| message)?,
            None => return Err(format!("internal error: `{}` has no per-item form", op.name())),
        },
    })
}

#[cfg(test)]
mod tests;
