//! What `flowrun run` needs besides the engine: logs through the redactor, the progress line,
//! and printing the outcome.

pub mod cassette;
pub mod dry_run;
pub mod logging;
pub mod output;
pub mod progress;
