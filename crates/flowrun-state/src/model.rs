//! The data the store keeps: plain types shared by every implementation.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

/// A status string that is not one of a status type's names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} status `{value}`")]
pub struct UnknownStatus {
    /// "run", "step" or "incomplete execution".
    pub kind: &'static str,
    /// The text that was given.
    pub value: String,
}

macro_rules! status_enum {
    ($(#[$meta:meta])* $name:ident, $kind:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// Every status, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The status as stored and printed.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownStatus;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok($name::$variant),)*
                    _ => Err(UnknownStatus { kind: $kind, value: text.to_owned() }),
                }
            }
        }
    };
}

status_enum! {
    /// Where a run stands ("Statuses" in the flow spec).
    RunStatus, "run" {
        /// Waiting in the queue (`flowrun serve`).
        Queued = "queued",
        /// Executing under a lease.
        Running = "running",
        /// Every step succeeded (or was skipped, ignored or resumed).
        Success = "success",
        /// A step failed under `on_error: fail`.
        Failed = "failed",
        /// Some steps or items were broken off as incomplete executions.
        Partial = "partial",
        /// Stopped on request (Ctrl-C) or by a failure elsewhere.
        Cancelled = "cancelled",
        /// Its process died: the lease expired without the run ending.
        Abandoned = "abandoned",
    }
}

impl RunStatus {
    /// Whether `finish_run` accepts this status: success, failed, partial or cancelled.
    /// (`abandoned` is set by the store itself, when a lease expires.)
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunStatus::Success | RunStatus::Failed | RunStatus::Partial | RunStatus::Cancelled
        )
    }

    /// Whether ending a run with this status commits its new cursors: success and partial.
    pub fn commits_cursors(self) -> bool {
        matches!(self, RunStatus::Success | RunStatus::Partial)
    }
}

status_enum! {
    /// Where one step, or one item of a `for_each` step, stands.
    StepStatus, "step" {
        /// Started, not finished (recorded so `runs show` sees work in flight).
        Running = "running",
        /// Finished with an output.
        Success = "success",
        /// Failed after its retries (`on_error: fail`).
        Failed = "failed",
        /// Its `if` was false, or it needs a skipped step's output.
        Skipped = "skipped",
        /// Failed under `on_error: ignore`; its output is `null`.
        Ignored = "ignored",
        /// Failed under `on_error: resume`; its output is the resume value.
        Resumed = "resumed",
        /// Failed under `on_error: break`: stored as an incomplete execution.
        Broken = "broken",
        /// Stopped before it finished.
        Cancelled = "cancelled",
    }
}

status_enum! {
    /// Whether an incomplete execution still waits for `runs retry`.
    IncompleteStatus, "incomplete execution" {
        /// Not replayed successfully yet.
        Open = "open",
        /// Replayed successfully.
        Resolved = "resolved",
    }
}

/// A run to create, as `running`, under a lease.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// The run's id; `None` lets the store choose one (a UUID v7). `flowrun test` fixes it so
    /// `run.id` is the same in every run of a case.
    pub id: Option<String>,
    /// The flow's id.
    pub flow_id: String,
    /// A hash of the flow file's bytes, to tell which version of the flow ran.
    pub flow_version: String,
    /// The trigger event, for flows with a trigger.
    pub trigger: Option<Value>,
    /// The inputs, typed.
    pub inputs: Option<Value>,
    /// Who runs it (e.g. `host:pid` or a worker id); heartbeats and `finish_run` must name it.
    pub lease_owner: String,
    /// How long the lease lasts without a heartbeat.
    pub lease: Duration,
    /// Take the flow's lock too (flows with incremental steps): the run is refused with
    /// [`StateError::FlowLocked`](crate::StateError::FlowLocked) while another run of the flow
    /// holds a live lease, and nothing is created then.
    pub lock_flow: bool,
}

/// A stored run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    /// A UUID v7 (ordered by creation time), as text.
    pub id: String,
    pub flow_id: String,
    pub flow_version: String,
    pub trigger: Option<Value>,
    pub inputs: Option<Value>,
    pub status: RunStatus,
    /// Why it failed, as the engine described it.
    pub error: Option<Value>,
    /// The flow's `output`, when it ended with one.
    pub output: Option<Value>,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub lease_owner: Option<String>,
    /// While `running`: when the run counts as dead unless a heartbeat comes first.
    pub lease_expires_at: Option<Timestamp>,
    /// The delivery's or the tick's identity it was queued under ([`QueuedRun::dedupe_key`]).
    pub dedupe_key: Option<String>,
    /// It came through the queue (`flowrun serve`): when its lease expires a worker takes it
    /// over ([`requeue_expired`](crate::StateStore::requeue_expired)); it is never marked
    /// `abandoned`.
    pub enqueued: bool,
}

/// A run to put in the queue (`flowrun serve`): stored as `queued`, claimed later by a worker.
#[derive(Debug, Clone)]
pub struct QueuedRun {
    pub flow_id: String,
    pub flow_version: String,
    pub trigger: Option<Value>,
    pub inputs: Option<Value>,
    /// A delivery's or a tick's identity: when a run of the flow with this key exists (any
    /// status), it is returned as [`Enqueued::Duplicate`] and nothing is inserted. One run per
    /// key across every process (a unique index decides a race).
    pub dedupe_key: Option<String>,
    /// Insert nothing when the flow has a run `queued` or `running` (a schedule's overlap
    /// rule): [`Enqueued::Skipped`].
    pub skip_if_active: bool,
}

impl QueuedRun {
    /// The run as stored by an insert at `created_at` (both backends answer with it without
    /// reading the row back). `trigger` and `inputs` are the values as stored (a too large one
    /// is the truncation marker).
    pub(crate) fn into_run(
        self,
        id: String,
        trigger: Option<Value>,
        inputs: Option<Value>,
        created_at: Timestamp,
    ) -> Run {
        Run {
            id,
            flow_id: self.flow_id,
            flow_version: self.flow_version,
            trigger,
            inputs,
            status: RunStatus::Queued,
            error: None,
            output: None,
            created_at,
            started_at: None,
            ended_at: None,
            lease_owner: None,
            lease_expires_at: None,
            dedupe_key: self.dedupe_key,
            enqueued: true,
        }
    }
}

/// Runs by status from `(status, count)` rows, as both backends read them.
pub(crate) fn status_counts(rows: Vec<(String, i64)>) -> Result<Vec<(RunStatus, u64)>, crate::StateError> {
    rows.into_iter()
        .map(|(status, count)| {
            let status = status
                .parse()
                .map_err(|error| crate::StateError::corrupt("run status", error))?;
            Ok((status, u64::try_from(count).unwrap_or_default()))
        })
        .collect()
}

/// What [`enqueue_run`](crate::StateStore::enqueue_run) did.
#[derive(Debug, Clone, PartialEq)]
pub enum Enqueued {
    /// The run is queued, committed.
    Created(Run),
    /// A run with the same dedupe key was there already: this one.
    Duplicate(Run),
    /// The flow has this run queued or running, and `skip_if_active` was asked.
    Skipped { active_run_id: String },
}

/// Which run a worker may claim, and under which lease.
#[derive(Debug, Clone)]
pub struct Claim {
    pub lease_owner: String,
    pub lease: Duration,
    /// Only runs of these flows (those the worker serves); `None`: any flow.
    pub flow_ids: Option<Vec<String>>,
}

/// Take an existing run up again (`runs retry`, or `flowrun serve` after a lease expired).
#[derive(Debug, Clone)]
pub struct ResumeRun {
    pub run_id: String,
    /// The new owner of the lease.
    pub lease_owner: String,
    pub lease: Duration,
    /// Take the flow's lock too, as in [`NewRun::lock_flow`].
    pub lock_flow: bool,
}

/// The end of a run: its status, and the cursors it moved.
#[derive(Debug, Clone)]
pub struct FinishRun {
    pub run_id: String,
    /// Must be the run's lease owner.
    pub lease_owner: String,
    /// success, failed, partial or cancelled.
    pub status: RunStatus,
    /// The flow's `output`.
    pub output: Option<Value>,
    /// Why the run failed.
    pub error: Option<Value>,
    /// The new cursors of the run's incremental steps. Committed only when `status` is
    /// success or partial, in the same transaction as the status; ignored otherwise.
    pub cursors: Vec<CursorUpdate>,
}

/// A new cursor value for one incremental step of the run's flow.
#[derive(Debug, Clone, PartialEq)]
pub struct CursorUpdate {
    pub step_id: String,
    pub value: Value,
}

/// A committed cursor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cursor {
    pub flow_id: String,
    pub step_id: String,
    pub value: Value,
    /// The run whose end committed it.
    pub run_id: String,
    pub committed_at: Timestamp,
}

/// Which runs to list, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFilter {
    pub flow_id: Option<String>,
    pub status: Option<RunStatus>,
    /// At most this many (default 50).
    pub limit: u32,
}

impl Default for RunFilter {
    fn default() -> Self {
        RunFilter {
            flow_id: None,
            status: None,
            limit: 50,
        }
    }
}

/// The result of one step of a run (`item_index: None`) or of one item of a `for_each` step.
///
/// The store never receives secrets: `parameters` are rendered and already redacted by the
/// engine (secrets replaced by `***`), and outputs and errors are redacted the same way.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRecord {
    pub run_id: String,
    pub step_id: String,
    /// The item's position in the `for_each` list; `None` for the whole step.
    pub item_index: Option<u64>,
    /// The item's `item_key`, when the step has one.
    pub item_key: Option<String>,
    pub status: StepStatus,
    /// Attempts made, retries included (0 for a skipped step).
    pub attempts: u32,
    /// The rendered `with:` parameters, secrets redacted. The engine hands them over as JSON
    /// text written before the module call (which takes the value itself).
    pub parameters: Option<crate::Payload>,
    pub output: Option<crate::Payload>,
    pub error: Option<Value>,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    /// Measured by the engine (monotonic clock); stored in microseconds.
    pub duration: Option<Duration>,
}

/// A failed step or item stored under `on_error: break`, to replay later.
#[derive(Debug, Clone, PartialEq)]
pub struct NewIncomplete {
    pub run_id: String,
    pub step_id: String,
    pub item_index: Option<u64>,
    pub item_key: Option<String>,
    /// The template inputs needed to render the step again: `item`, `index` and the upstream
    /// outputs it reads. Never rendered strings, which could hold secrets: a replay renders
    /// again with the secrets of the replaying process. Stored whole (never truncated).
    pub inputs: Value,
    pub error: Option<Value>,
}

/// A stored incomplete execution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incomplete {
    /// A UUID v7, as text.
    pub id: String,
    pub run_id: String,
    pub step_id: String,
    pub item_index: Option<u64>,
    pub item_key: Option<String>,
    pub inputs: Value,
    /// The last failure's error.
    pub error: Option<Value>,
    pub status: IncompleteStatus,
    /// How many times it failed: 1 when stored, one more per failed replay.
    pub failures: u32,
    pub created_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
}

/// A run with everything recorded under it (`runs show`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunDetail {
    pub run: Run,
    /// In the order of [`StateStore::step_records`](crate::StateStore::step_records).
    pub steps: Vec<StepRecord>,
    pub incomplete: Vec<Incomplete>,
}

/// An OAuth2 token set of one connection.
///
/// Stored in plain text; the SQLite file is created with mode 0600 (owner only). `Debug`
/// prints the tokens as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSet {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Usually `Bearer`.
    pub token_type: Option<String>,
    pub expires_at: Option<Timestamp>,
    pub scopes: Vec<String>,
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &"***")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "***"))
            .field("token_type", &self.token_type)
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .finish()
    }
}
