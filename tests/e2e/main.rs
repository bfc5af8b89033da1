//! End-to-end tests: the real `flowrun` binary as a user runs it, on real files.

mod broken_flows;
mod commands;
mod fresh_schemas;
mod hostile_inputs;
mod support;
