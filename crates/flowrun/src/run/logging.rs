//! Logs of a run on stderr, as text or JSON lines, through the secret redactor: whatever a
//! module or a library writes into a log line, a secret's value never reaches the terminal.

use std::io::{self, Write};
use std::sync::{Arc, RwLock};

use flowrun_expr::Redactor;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::cli::LogFormat;

/// The variable that sets which logs are shown, in `tracing`'s filter syntax
/// (`FLOWRUN_LOG=info`, `FLOWRUN_LOG=flowrun_engine=debug`).
pub const LOG_FILTER_VAR: &str = "FLOWRUN_LOG";

/// Starts logging for the process. Text logs show warnings and errors by default (retries,
/// failed steps) and the lines `core.log` steps write; JSON logs also show each run's and
/// step's start and end.
pub fn init(format: LogFormat, redactor: Arc<Redactor>) {
    let default = match format {
        LogFormat::Text => "warn,flowrun_connector_core=info",
        LogFormat::Json => "info",
    };
    init_with(format, Arc::new(RwLock::new(redactor)), default);
}

/// A redactor that can learn secrets after logging started (`flowrun serve` loads flows, and
/// their secrets, again when files change).
pub type SharedRedactor = Arc<RwLock<Arc<Redactor>>>;

/// Starts logging with a redactor that may be replaced later and the default filter given.
pub fn init_with(format: LogFormat, redactor: SharedRedactor, default: &str) {
    let filter = EnvFilter::try_from_env(LOG_FILTER_VAR).unwrap_or_else(|_| EnvFilter::new(default));
    let writer = RedactingStderr { redactor };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false);
    let installed = match format {
        LogFormat::Text => builder
            .with_ansi(std::env::var_os("NO_COLOR").is_none() && io::IsTerminal::is_terminal(&io::stderr()))
            .without_time()
            .try_init(),
        LogFormat::Json => builder.json().with_current_span(false).with_span_list(true).try_init(),
    };
    // A second init (tests calling in twice) keeps the first subscriber.
    let _ = installed;
}

/// Makes one [`LineWriter`] per log event.
struct RedactingStderr {
    redactor: SharedRedactor,
}

impl<'a> MakeWriter<'a> for RedactingStderr {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> LineWriter {
        let redactor = match self.redactor.read() {
            Ok(redactor) => redactor.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        LineWriter {
            redactor,
            buffer: Vec::with_capacity(256),
        }
    }
}

/// Collects one event and writes it redacted when dropped: a secret split across two writes
/// is still found.
pub struct LineWriter {
    redactor: Arc<Redactor>,
    buffer: Vec<u8>,
}

impl Write for LineWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        let redacted = self.redactor.redact_bytes(&self.buffer);
        let _ = io::stderr().lock().write_all(&redacted);
    }
}
