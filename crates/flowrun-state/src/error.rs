//! The one error type of the store.

use std::path::PathBuf;

use crate::model::RunStatus;

/// What a state-store operation can fail with.
///
/// Variants name the run, flow or connection concerned. Backend failures (the database, its
/// migrations) keep their cause as a boxed source so the type does not depend on one backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The store URL is not one this implementation opens.
    #[error("invalid state store url `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },

    /// The store's file or folder could not be prepared.
    #[error("cannot prepare the state store file {}: {source}", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Applying the schema migrations failed.
    #[error("cannot migrate the state store: {source}")]
    Migrate {
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The database refused or failed an operation.
    #[error("state store error while {operation}: {source}")]
    Backend {
        /// What the store was doing, e.g. "recording step `fetch` of run 0190…".
        operation: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// No run has this id.
    #[error("run {run_id} not found")]
    RunNotFound { run_id: String },

    /// The operation needs a `running` run.
    #[error("run {run_id} is {status}, not running")]
    RunNotRunning { run_id: String, status: RunStatus },

    /// The run is running under a lease that another owner holds.
    #[error("run {run_id} is held by `{holder}`, not by `{owner}`")]
    LeaseLost {
        run_id: String,
        owner: String,
        holder: String,
    },

    /// A run can only be resumed once its lease expired or it ended.
    #[error("run {run_id} is still running (its lease has not expired)")]
    RunBusy { run_id: String },

    /// Another live run of the flow holds the flow lock.
    #[error("flow `{flow_id}` is already running as run {holder_run_id}")]
    FlowLocked { flow_id: String, holder_run_id: String },

    /// `finish_run` was given a status that does not end a run.
    #[error("`{status}` does not end a run (use success, failed, partial or cancelled)")]
    NotFinal { status: RunStatus },

    /// No incomplete execution has this id.
    #[error("incomplete execution {id} not found")]
    IncompleteNotFound { id: String },

    /// A value that must be stored whole (a cursor, an incomplete execution's inputs) is over
    /// the hard size limit.
    #[error("{what} is {bytes} bytes of JSON, over the store's limit of {limit} bytes")]
    TooLarge { what: String, bytes: u64, limit: u64 },

    /// A value to store could not be written as JSON (e.g. an output with an undefined part).
    #[error("the value cannot be written as JSON: {reason}")]
    Unwritable { reason: String },

    /// A stored value could not be read back.
    #[error("stored {what} is unreadable: {reason}")]
    Corrupt { what: String, reason: String },

    /// A background task (compression, file preparation) panicked or was cancelled.
    #[error("state store background task failed: {reason}")]
    Task { reason: String },
}

impl StateError {
    pub(crate) fn backend(
        operation: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StateError::Backend {
            operation: operation.into(),
            source: Box::new(source),
        }
    }

    /// A backend failure known only by its message (e.g. shared by every record of a batch
    /// whose transaction failed).
    pub(crate) fn backend_message(operation: impl Into<String>, message: impl Into<String>) -> Self {
        StateError::Backend {
            operation: operation.into(),
            source: Box::new(std::io::Error::other(message.into())),
        }
    }

    pub(crate) fn corrupt(what: impl Into<String>, reason: impl ToString) -> Self {
        StateError::Corrupt {
            what: what.into(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn task(error: tokio::task::JoinError) -> Self {
        StateError::Task {
            reason: error.to_string(),
        }
    }
}
