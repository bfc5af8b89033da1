//! Errors of compiling and evaluating templates.
//!
//! Messages name the template or expression as written and the path of the undefined value,
//! never the values of the context: a minijinja error's debug info (which lists referenced
//! values) is never formatted.

use std::ops::Range;

/// A template or expression that does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CompileError {
    /// What is wrong, e.g. "unexpected end of input, expected `}}`".
    pub message: String,
    /// Byte range of the mistake in the source, when known.
    pub range: Option<Range<usize>>,
    /// How to fix it, when there is something to say.
    pub help: Option<String>,
}

impl CompileError {
    pub(crate) fn from_minijinja(error: &minijinja::Error, source: &str) -> CompileError {
        let message = error
            .detail()
            .map_or_else(|| error.kind().to_string(), ToOwned::to_owned);
        CompileError {
            message,
            range: error.range().filter(|range| range.end <= source.len()),
            help: None,
        }
    }
}

/// A template or expression that failed at run time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EvalError {
    /// What went wrong, naming the expression or path as written in the flow.
    pub message: String,
}

impl EvalError {
    pub(crate) fn new(message: impl Into<String>) -> EvalError {
        EvalError {
            message: message.into(),
        }
    }

    /// A minijinja error of evaluating `source`, with the part of the source it points at.
    pub(crate) fn from_minijinja(error: &minijinja::Error, source: &str) -> EvalError {
        use minijinja::ErrorKind;
        let at = error
            .range()
            .and_then(|range| source.get(range))
            .map(str::trim)
            .filter(|part| !part.is_empty());
        let detail = error.detail();
        let message = match (error.kind(), at) {
            (ErrorKind::UndefinedError, Some(part)) if part.starts_with(['.', '[']) => format!(
                "cannot read `{part}`: what comes before it is undefined (in `{}`); test it first with `is defined`",
                source.trim()
            ),
            // minijinja points at the filter or function that received the undefined value.
            (ErrorKind::UndefinedError, Some(part)) if is_callable(part) => format!(
                "`{part}` was given an undefined value (in `{}`); give a fallback with `default(...)` or test with `is defined`",
                source.trim()
            ),
            (ErrorKind::UndefinedError, Some(part)) => {
                format!("`{part}` is undefined (in `{}`)", source.trim())
            }
            (ErrorKind::UndefinedError, None) => format!("an undefined value was used in `{}`", source.trim()),
            (ErrorKind::OutOfFuel, _) => format!(
                "`{}` ran out of fuel: it does too much work for one evaluation (more than {} instructions)",
                source.trim(),
                crate::environment::FUEL
            ),
            (kind, Some(part)) => match detail {
                Some(detail) => format!("{kind}: {detail} (at `{part}` in `{}`)", source.trim()),
                None => format!("{kind} (at `{part}` in `{}`)", source.trim()),
            },
            (kind, None) => match detail {
                Some(detail) => format!("{kind}: {detail} (in `{}`)", source.trim()),
                None => format!("{kind} (in `{}`)", source.trim()),
            },
        };
        EvalError { message }
    }
}

fn is_callable(name: &str) -> bool {
    use crate::analysis::CallKind;
    [CallKind::Filter, CallKind::Function, CallKind::Test]
        .into_iter()
        .any(|kind| crate::functions::known(kind).contains(&name))
}

/// Byte range helper for callers that map ranges into a larger text.
pub(crate) fn shift(range: Range<usize>, by: usize) -> Range<usize> {
    range.start + by..range.end + by
}
