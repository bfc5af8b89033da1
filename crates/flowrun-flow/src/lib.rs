//! The flow file: its typed model, YAML parsing with positions, the validator and its
//! diagnostics, and the plain-data module catalog the validator checks against.
//!
//! This crate does no I/O beyond what the caller hands it (text and paths) and knows no
//! connector by name: connectors arrive as a [`catalog::Catalog`]. Start at [`validate`], which
//! turns a file's text into a [`model::Flow`] and every [`Diagnostic`] at once.

pub mod catalog;
pub mod model;
pub mod yaml;

pub use model::duration::Duration;
pub mod diagnostic;
pub mod dotenv;
pub mod references;
pub mod schema;
pub mod suggest;
pub mod validate;

pub use diagnostic::{Diagnostic, Severity};
pub use validate::{
    Context, FlowReport, FlowSummary, ProjectReport, unused_secrets, validate_flow, validate_project, validate_together,
};
