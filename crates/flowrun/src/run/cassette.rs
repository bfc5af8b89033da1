//! `flowrun run --record DIR` and `--replay FILE`: the cassette of a run's HTTP exchanges.
//!
//! A recorded run reads the clock once (every `now()` is its start) and takes its `uuid()`s
//! from a seeded sequence, so the cassette holds all a replay needs to compute the same
//! requests and the same output: inputs, trigger, the instant, the seed, and every exchange,
//! redacted (docs/recording.md).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flowrun_connect::record::{CASSETTE_VERSION, Cassette, Recorder, Redact, Replayer, Tape};
use flowrun_engine::run::RunOutcome;
use flowrun_expr::{Clock, Redactor, Runtime, UuidSource};
use serde_json::Value as Json;

/// What a recorded or replayed run is given instead of the real clock, ids and network.
pub struct Taping {
    pub tape: Tape,
    pub now: jiff::Timestamp,
    pub uuid_seed: u64,
    recorder: Option<(Arc<Recorder>, PathBuf)>,
}

impl Taping {
    /// Recording into `dir`.
    pub fn record(dir: &Path, redactor: &Arc<Redactor>) -> Taping {
        let recorder = Arc::new(Recorder::new(redact(redactor)));
        Taping {
            tape: Tape::Record(recorder.clone()),
            now: jiff::Timestamp::now(),
            uuid_seed: fastrand::u64(..),
            recorder: Some((recorder, dir.to_path_buf())),
        }
    }

    /// Replaying `cassette`.
    pub fn replay(cassette: &Cassette, redactor: &Arc<Redactor>) -> Result<Taping, String> {
        let now = cassette
            .now
            .parse()
            .map_err(|error| format!("the cassette's `now` is not an RFC 3339 instant: {error}"))?;
        Ok(Taping {
            tape: Tape::Replay(Arc::new(Replayer::new(cassette.exchanges.clone(), redact(redactor)))),
            now,
            uuid_seed: cassette.uuid_seed,
            recorder: None,
        })
    }

    /// The clock and ids of the run.
    pub fn runtime(&self) -> Runtime {
        Runtime {
            clock: Clock::Fixed(self.now),
            uuids: UuidSource::sequence(self.uuid_seed),
        }
    }

    /// Writes the cassette of a recorded run; returns its path (`None` when not recording).
    pub fn finish(
        &self,
        outcome: &RunOutcome,
        inputs: &Json,
        trigger: Option<&Json>,
        redactor: &Redactor,
    ) -> io::Result<Option<PathBuf>> {
        let Some((recorder, dir)) = &self.recorder else {
            return Ok(None);
        };
        let cassette = Cassette {
            version: CASSETTE_VERSION,
            flow: outcome.flow.clone(),
            run_id: outcome.run_id.clone(),
            inputs: redactor.redact_json(inputs),
            trigger: trigger.map(|trigger| redactor.redact_json(trigger)),
            now: self.now.to_string(),
            uuid_seed: self.uuid_seed,
            status: outcome.status.to_string(),
            output: outcome.output.as_ref().map(|output| redactor.redact_json(output)),
            exchanges: recorder.exchanges(),
        };
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{}-{}.json", outcome.flow, outcome.run_id));
        let text = serde_json::to_string_pretty(&cassette).map_err(io::Error::other)?;
        std::fs::write(&path, text + "\n")?;
        Ok(Some(path))
    }
}

fn redact(redactor: &Arc<Redactor>) -> Redact {
    let redactor = redactor.clone();
    Arc::new(move |value: Json| redactor.redact_json(&value))
}
