//! The live progress line of `flowrun run` on a terminal: steps done and running, and the
//! items of the `for_each` steps in flight. Off when stderr is not a terminal, under
//! `--format json`, and with `--log-format json`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use flowrun_engine::run::{Event, Observer};
use indexmap::IndexMap;
use indicatif::{ProgressBar, ProgressStyle};

/// What the line shows.
struct State {
    total: usize,
    done: usize,
    /// Running steps, with (items done, items) for `for_each` steps.
    running: IndexMap<String, Option<(usize, usize)>>,
}

/// A progress line and the observer that feeds it.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub fn start(total_steps: usize) -> (Progress, Observer) {
        let bar = ProgressBar::new_spinner();
        bar.set_style(ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("a valid template"));
        bar.enable_steady_tick(Duration::from_millis(120));
        let state = Arc::new(Mutex::new(State {
            total: total_steps,
            done: 0,
            running: IndexMap::new(),
        }));
        let observer_bar = bar.clone();
        let observer: Observer = Arc::new(move |event| {
            let Ok(mut state) = state.lock() else { return };
            match event {
                Event::StepStarted { step, items } => {
                    state.running.insert(step, items.map(|n| (0, n)));
                }
                Event::ItemEnded { step, .. } => {
                    if let Some(Some((done, _))) = state.running.get_mut(&step) {
                        *done += 1;
                    }
                }
                Event::StepEnded { step, .. } => {
                    state.running.shift_remove(&step);
                    state.done += 1;
                }
            }
            observer_bar.set_message(describe(&state));
        });
        (Progress { bar }, observer)
    }

    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}

fn describe(state: &State) -> String {
    let running: Vec<String> = state
        .running
        .iter()
        .map(|(step, items)| match items {
            Some((done, total)) => format!("{step} {done}/{total}"),
            None => step.clone(),
        })
        .collect();
    if running.is_empty() {
        format!("{}/{} steps", state.done, state.total)
    } else {
        format!("{}/{} steps · running: {}", state.done, state.total, running.join(", "))
    }
}
