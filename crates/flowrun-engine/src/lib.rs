//! The flowrun engine. For now it holds only the transform step: a pipeline of operations
//! (flow-spec "Transform pipelines") compiled once and run over data. The rest of the engine
//! (planning, running steps, retries, state) comes later.
//!
//! Where to start: [`transform::compile`] turns a flow's [`flowrun_flow::model::Transform`]
//! into a [`transform::CompiledPipeline`], whose `run` evaluates it in a
//! [`flowrun_expr::Scope`]. docs/transforms.md is the user reference of every operation.
//!
//! What this crate does not know (yet): YAML positions (the caller passes the line of each
//! operation), connectors, I/O.

pub mod transform;
