//! Errors of compiling and running a pipeline, and the names of the shapes data can have.

use std::fmt;

use flowrun_expr::{CompileError, Value};
use minijinja::value::ValueKind;

/// The `op` of a [`TransformError`] raised by the step's `input` template rather than an op.
pub const INPUT: &str = "input";

/// A template or expression of a pipeline that does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PipelineCompileError {
    /// Position of the op in the pipeline, from 0.
    pub op_index: usize,
    /// The op's name as written (`filter`, `group_by`…), or `input`.
    pub op: &'static str,
    /// Where the string sits inside the op's body (`sku` in `map: {sku: …}`, `by.1` in a
    /// multi-key sort); empty for an op whose body is the string itself.
    pub path: Vec<String>,
    pub error: CompileError,
}

impl fmt::Display for PipelineCompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.op == INPUT {
            write!(f, "transform input")?;
        } else {
            write!(f, "pipeline op {} ({})", self.op_index + 1, self.op)?;
        }
        if !self.path.is_empty() {
            write!(f, " at `{}`", self.path.join("."))?;
        }
        write!(f, ": {}", self.error.message)?;
        if let Some(help) = &self.error.help {
            write!(f, " ({help})")?;
        }
        Ok(())
    }
}

/// A pipeline that failed at run time: the step fails with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TransformError {
    /// Position of the op in the pipeline, from 0 (shown from 1: `pipeline op 1` is the
    /// first op). 0 with `op` = [`INPUT`] for the step's `input`.
    pub op_index: usize,
    /// The op's name as written (`filter`, `group_by`…), or [`INPUT`].
    pub op: &'static str,
    /// The op's line in the flow file, when the caller gave it
    /// ([`super::CompiledPipeline::set_op_lines`]).
    pub line: Option<u32>,
    /// What went wrong: the shape the op got, or the expression's error with the item's index.
    pub message: String,
}

impl fmt::Display for TransformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.op == INPUT {
            write!(f, "transform input")?;
            if let Some(line) = self.line {
                write!(f, " (line {line})")?;
            }
        } else {
            write!(f, "pipeline op {} ({}", self.op_index + 1, self.op)?;
            if let Some(line) = self.line {
                write!(f, ", line {line}")?;
            }
            write!(f, ")")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The shape of a value as a message says it: "a list", "an object", "null"…
pub(crate) fn shape(value: &Value) -> &'static str {
    match value.kind() {
        ValueKind::Undefined => "an undefined value",
        ValueKind::None => "null",
        ValueKind::Bool => "a boolean",
        ValueKind::Number => "a number",
        ValueKind::String => "a string",
        ValueKind::Bytes => "bytes",
        ValueKind::Seq | ValueKind::Iterable => "a list",
        ValueKind::Map => "an object",
        _ => "an opaque value",
    }
}

/// "expected a list, got an object".
pub(crate) fn expected(what: &str, got: &Value) -> String {
    format!("expected {what}, got {}", shape(got))
}
