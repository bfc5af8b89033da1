//! `flowrun serve`: flows with triggers, run unattended.
//!
//! Built so far, as libraries the command will stand on (the command, the durable queue and its
//! workers come next; ARCHITECTURE.md says what exists):
//!
//! - [`schedule`]: when a `schedule` trigger fires, on the wall clock of its time zone, across
//!   daylight-saving changes, and which missed tick `catch_up: last` runs after downtime;
//! - [`webhook`]: whether a request to `/hooks/<path>` may start a run: its HMAC-SHA256
//!   signature (constant-time), its signing time within the tolerance, its body size.

pub mod schedule;
pub mod webhook;
