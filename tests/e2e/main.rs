//! End-to-end tests: the real `flowrun` binary as a user runs it, on real files.

// Helpers outside `#[test]` functions unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used)]

mod broken_flows;
mod commands;
mod fresh_schemas;
mod hostile_inputs;
mod support;
