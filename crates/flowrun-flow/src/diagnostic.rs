//! Diagnostics are data: what is wrong, where, and how to fix it. Only the binary renders them.

use std::path::PathBuf;

use serde::Serialize;

use crate::yaml::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable code, listed in docs/diagnostics.md, e.g. `unknown-key`.
    pub code: &'static str,
    /// What is wrong, in one line.
    pub message: String,
    pub file: PathBuf,
    /// Where: the key for unknown or missing keys, the value for wrong values.
    pub span: Span,
    /// A short text shown under the span.
    pub label: Option<String>,
    /// How to fix it.
    pub help: Option<String>,
    /// Other places that explain this one (the first definition of a duplicate, the steps of a cycle).
    pub related: Vec<Related>,
    /// The file holds secrets (a dotenv file): show where, never its lines.
    pub source_hidden: bool,
}

/// A second place a diagnostic refers to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Related {
    pub message: String,
    pub span: Span,
}

impl Diagnostic {
    pub fn error(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            file: PathBuf::new(),
            span,
            label: None,
            help: None,
            related: Vec::new(),
            source_hidden: false,
        }
    }

    pub fn warning(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, span, message)
        }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn with_help_opt(mut self, help: Option<String>) -> Diagnostic {
        self.help = help;
        self
    }

    pub fn with_related(mut self, message: impl Into<String>, span: Span) -> Diagnostic {
        self.related.push(Related {
            message: message.into(),
            span,
        });
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Sorts diagnostics by position, errors before warnings at the same place, and drops exact
/// repeats (two checks may find one problem).
pub fn sort_and_dedupe(diagnostics: &mut Vec<Diagnostic>) {
    diagnostics
        .sort_by(|a, b| (&a.file, a.span.start, a.severity, a.code).cmp(&(&b.file, b.span.start, b.severity, b.code)));
    diagnostics.dedup_by(|a, b| a.file == b.file && a.span == b.span && a.code == b.code && a.message == b.message);
}
