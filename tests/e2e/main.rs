//! End-to-end tests: the real `flowrun` binary run the way a user runs it, on real files.
//!
//! - `corpus`: every flow in `tests/corpus/{invalid,valid}` and every project in
//!   `tests/corpus/projects`, plus inputs too big, deep or broken to commit (generated into a
//!   temporary folder), each with a reviewed insta snapshot of its diagnostics.
//! - `cli`: exit codes, output formats, folder discovery, help, connectors and graph.
//! - `examples`: the flows in `flows/` are valid and declare their schema.
//! - `runs`: `runs list|show` on a real SQLite store written through `flowrun_state`.
//! - `schema`: the committed JSON Schemas are what `flowrun schema` prints.
//! - `sandbox`: `flowrun sandbox` on a free port, read from what it prints; clean stops.
//! - `flow_tests`: `flowrun test`: reports, mismatches, cassettes, snapshots, JUnit, secrets.
//! - `validate_tests`: `flowrun validate` on flow test files: found in folders, checked with
//!   the flow they name, their diagnostics by position.
//! - `auth`: `flowrun auth login` against an in-process sandbox, the test playing the browser;
//!   later runs use the stored tokens.
//! - `onecrm`: the 1CRM example flows (`flows/onecrm-*.yaml`) run as the README says, against
//!   the sandbox's 1CRM simulator; a wrong password fails naming the connection, not the password.
//!
//! - `conexiom`: the Conexiom extraction (`flows/conexiom-extract.yaml`) into SQLite against an
//!   in-process sandbox steered between runs: first load, exact deltas, a failed run that moves
//!   no cursor, a broken document that `runs retry` lands.
//!
//! - `exact`: the Exact Online example (`flows/crm-accounts-to-exact.yaml`) with the project's
//!   `sandbox` profile: `auth login` with the test as the browser, accounts created once, a
//!   refused one kept as an incomplete execution that `runs retry` creates.
//!
//! Review new snapshots with `cargo insta review`, or `INSTA_UPDATE=always` and a diff.

// Helpers unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used)]

mod auth;
mod cli;
mod conexiom;
mod corpus;
mod exact;
mod examples;
mod flow_tests;
mod http;
mod onecrm;
mod run;
mod runs;
mod sandbox;
mod schema;
mod serve;
mod util;
mod validate_tests;
