//! `flowrun serve`: flows with triggers, run unattended.
//!
//! Built so far, as libraries the command will stand on (the command, the durable queue and its
//! workers come next; ARCHITECTURE.md says what exists):
//!
//! - [`schedule`]: when a `schedule` trigger fires, on the wall clock of its time zone, across
//!   daylight-saving changes, and which missed tick `catch_up: last` runs after downtime;
//! - [`ticker`]: the next tick of every scheduled flow and which are due when the loop wakes,
//!   with the clock given, so a test drives it across days;
//! - [`webhook`]: whether a request to `/hooks/<path>` may start a run: its HMAC-SHA256
//!   signature (constant-time), its signing time within the tolerance, its body size.

pub mod schedule;
pub mod ticker;
pub mod webhook;
