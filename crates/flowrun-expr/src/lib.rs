//! Templates and expressions of flow files: one minijinja environment for the whole process,
//! typed evaluation, the functions and filters of flow-spec.md, JSONPath, static references,
//! secrets and redaction.
//!
//! Where to start: [`Template::compile`] turns one string of a flow into a compiled template
//! (a literal, a typed `{{ expr }}`, or text), [`Expression::compile`] a bare expression
//! (`if`, `filter`, `sort.by`…), [`CompiledValue::compile`] a whole YAML value (a `with:`
//! block). They evaluate against a [`Scope`], the names of the spec's template context.
//! [`analysis`] reads a template without evaluating it: what it references, which filters and
//! functions it calls, and where. [`Secret`] and [`Redactor`] keep secret values out of every
//! output.
//!
//! What this crate does not know: flows, steps or connectors. It does no I/O: `env.X` and
//! `secrets.X` are values the caller puts into the [`Scope`].

pub mod analysis;
mod convert;
mod environment;
mod error;
mod fast_path;
pub mod functions;
pub mod jsonpath;
mod scope;
mod secret;
mod secret_sources;
mod shared;
mod template;
mod value_tree;
mod write;

pub use convert::{from_json, to_json};
pub use environment::environment;
pub use error::{CompileError, EvalError};
pub use minijinja::Value;
pub use scope::{Clock, Runtime, Scope, UuidSource};
pub use secret::{MIN_SCRUB_LEN, REDACTED, Redactor, Secret};
pub use secret_sources::{SecretsError, SecretsFile, resolve_secrets};
pub use shared::{from_raw_json, from_shared_json};
pub use template::{Expression, Template};
pub use value_tree::{CompiledValue, Rendered, TreeCompileError};
pub use write::{ReadBack, write_json_redacted, write_json_redacted_searched};

#[cfg(test)]
mod tests;
