//! The flowrun engine: a flow's plan, its execution, and the transform step.
//!
//! Where to start: [`plan::Plan::new`] compiles a validated flow once (every template, the
//! step graph, the topological levels); [`run::Engine::run`] executes a plan on tokio: ready
//! steps start at once, module calls go through the connector [`Registry`] with retries and
//! timeouts, error directives decide what a failure does, and every result is committed to
//! the state store before dependents start. [`transform::compile`] turns a `transform:` step
//! into a [`transform::CompiledPipeline`]. docs/engine.md and docs/transforms.md are the user
//! references.
//!
//! What this crate does not know: YAML positions (the validator reports those), how a
//! connector speaks to its API, how the state store keeps things.
//!
//! [`Registry`]: flowrun_connect::registry::Registry

pub mod plan;
pub mod run;
pub mod tokens;
pub mod transform;
