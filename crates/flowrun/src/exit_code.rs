//! Every exit code flowrun returns, as flow-spec.md defines them. Anything else is a bug.

/// The command did what was asked: the run succeeded, the files are valid.
pub const SUCCESS: u8 = 0;
/// A run failed, or an I/O error stopped the command.
pub const FAILURE: u8 = 1;
/// An invalid flow, input, secret or command line.
pub const INVALID: u8 = 2;
/// The run ended `partial`: some steps or items were stored as incomplete executions.
pub const PARTIAL: u8 = 3;
/// The run was interrupted (Ctrl-C) and ended `cancelled`: 128 + SIGINT.
pub const INTERRUPTED: u8 = 130;
