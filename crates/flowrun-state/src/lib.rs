//! The flowrun state store: what a run leaves behind, durably.
//!
//! The engine, the CLI (`runs list|show|retry`) and `flowrun serve` keep everything that
//! must outlive a process here: runs with their leases, each step's and item's result,
//! incremental cursors, incomplete executions (`on_error: break`), OAuth2 tokens and the
//! per-flow lock of flows with incremental steps. `docs/state.md` describes what is stored
//! and the durability promise; this page describes the API.
//!
//! # Where to start
//! - [`StateStore`]: the trait every backend implements, used as `Arc<dyn StateStore>`.
//! - [`open`]: a store from a URL (`sqlite://.flowrun/state.db`), as `Arc<dyn StateStore>`.
//! - [`SqliteStore`]: the embedded SQLite backend (`sqlite/`), the default.
//! - [`PostgresStore`]: the Postgres backend (`postgres/`), for stores shared by processes
//!   and hosts (`postgres://user:password@host:5432/database`).
//! - [`model`]: the stored data ([`Run`], [`StepRecord`], [`Cursor`], [`Incomplete`],
//!   [`TokenSet`]) and what operations take ([`NewRun`], [`FinishRun`], [`QueuedRun`],
//!   [`Claim`], …).
//! - [`StateError`]: every failure, typed.
//!
//! # How the engine uses it
//! ```text
//! store.mark_abandoned()                          // at start: runs whose process died
//! run = store.create_run(NewRun { lock_flow, .. }) // FlowLocked ⇒ exit 1 with the holder's id
//! cursor = store.cursor(flow, step)               // or `initial`; skipped under --full
//! every lease/3: store.heartbeat(run, owner, lease) // an error ⇒ stop: the run was taken over
//! per step or item, when it finishes:
//!     store.record_step(record).await?            // durable; only then start dependents
//! on `break`: store.add_incomplete(NewIncomplete { inputs: {item, index, steps..}, .. })
//! store.finish_run(FinishRun { status, cursors, .. }) // one transaction; cursors only
//!                                                   // when success or partial
//! ```
//! `runs retry RUN` = `resume_run` (a run that ended, or one whose lease expired), then
//! `step_records` (what already succeeded is not run again), `list_incomplete(run, Open)`,
//! `resolve_incomplete`/`fail_incomplete` per replayed item, and `finish_run` again.
//!
//! # How serve uses it
//! ```text
//! webhook / schedule tick / connector event:
//!     store.enqueue_run(QueuedRun { dedupe_key, skip_if_active, .. })
//!         Created(run)    // committed: only now answer 202
//!         Duplicate(run)  // that delivery or tick has a run already (any status, any process)
//!         Skipped { .. }  // overlap rule: the flow has a run queued or running
//! each worker, in a loop:
//!     every lease/2 or so: store.requeue_expired()   // runs of workers that died: queued again
//!     match store.claim_run(Claim { lease_owner, lease, flow_ids: Some(loaded flows) }) {
//!         Some(run) => run it as the engine does (heartbeat, record_step, finish_run); its
//!                      step_records may exist already (taken over): resume from them;
//!                      FlowLocked or shutting down: store.release_run(run, owner, delay)
//!         None => store.wait_for_queued(poll_interval)  // a hint; poll anyway
//!     }
//! connector triggers: trigger_state / put_trigger_state / insert_trigger_state (first wins)
//! metrics: queue_depth, count_runs
//! ```
//! `mark_abandoned` (of `flowrun run`) leaves runs that came through the queue (`enqueued`)
//! alone: a worker takes them over through `requeue_expired`. `docs/state.md` ("The queue of
//! `flowrun serve`") describes the columns and the guarantees.
//!
//! # Contract
//! - A write is committed before its call returns (SQLite: WAL, `synchronous=NORMAL`: it
//!   survives the process being killed, not a power loss; Postgres: as the server's
//!   `synchronous_commit` says). Calls from many tasks (and, on Postgres, many processes) may
//!   run at once.
//! - The store never receives secrets: rendered parameters, outputs and errors are redacted
//!   by the engine first, and incomplete executions keep template inputs, never rendered
//!   strings. OAuth tokens are the exception, stored in plain text in a file of mode 0600.
//! - Values larger than [`PayloadLimits::compress_above`] are stored zstd-compressed; larger
//!   than [`PayloadLimits::truncate_above`], as the marker
//!   `{"$truncated": true, "original_bytes": N}` (see [`truncation_marker`]). Cursors and
//!   incomplete inputs are never truncated: storing one that large fails with
//!   [`StateError::TooLarge`].
//! - Times are [`jiff::Timestamp`]s, kept with millisecond precision; leases are measured by
//!   the store's clock (SQLite: the process's; Postgres: the server's `now()`, microsecond
//!   precision). Run and incomplete-execution ids are UUID v7 strings.
//! - Nothing blocks a tokio worker: SQLite runs on sqlx's connection threads, Postgres on
//!   tokio's sockets; large values are (de)compressed on the blocking pool.
//!
//! # What it does not know
//! Flows, templates, modules and secrets: it stores JSON the engine hands it. The trait holds
//! no SQL: the SQLite and the Postgres backends implement the same trait.

pub mod model;

mod error;
mod payload;
mod postgres;
mod sqlite;
mod store;

use std::sync::Arc;

pub use crate::error::StateError;
pub use crate::model::{
    Claim, Cursor, CursorUpdate, Enqueued, FinishRun, Incomplete, IncompleteStatus, NewIncomplete, NewRun, QueuedRun,
    ResumeRun, Run, RunDetail, RunFilter, RunStatus, StepRecord, StepStatus, TokenSet, UnknownStatus,
};
pub use crate::payload::{JsonOut, Payload, PayloadLimits, WriteJson, truncation_marker};
pub use crate::postgres::{PostgresOptions, PostgresStore};
pub use crate::sqlite::{SqliteOptions, SqliteStore, resolve_sqlite_url, sqlite_path};
pub use crate::store::StateStore;

/// The default store, relative to the project file's folder (see [`resolve_sqlite_url`]).
pub const DEFAULT_URL: &str = "sqlite://.flowrun/state.db";

/// Opens the store a URL names, with default options: `sqlite://…` ([`SqliteStore`]), or
/// `postgres://…` / `postgresql://…` ([`PostgresStore`]).
pub async fn open(url: &str) -> Result<Arc<dyn StateStore>, StateError> {
    if url.starts_with("sqlite:") {
        return Ok(Arc::new(SqliteStore::open(url).await?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(PostgresStore::open(url).await?));
    }
    Err(StateError::InvalidUrl {
        // Any URL may hold a password.
        url: crate::postgres::shown_url(url),
        reason: "unsupported scheme (expected `sqlite://path/to/state.db` or \
                 `postgres://user:password@host:5432/database`)"
            .to_owned(),
    })
}
