//! The pipeline benchmark's work as one whole process over a file, to be timed from outside
//! against jq and CPython on the same file (see `benches/pipeline.rs`):
//!
//! ```text
//! FLOWRUN_BENCH_WRITE_DIR=/tmp/orders cargo bench -p flowrun-engine --bench pipeline
//! cargo build --release -p flowrun-engine --example pipeline_file
//! /usr/bin/time -v target/release/examples/pipeline_file /tmp/orders/input.json
//! /usr/bin/time -v target/release/examples/pipeline_file --loop /tmp/orders/input.json
//! ```
//!
//! It reads the file, parses it, runs `benches/pipeline/pipeline.yaml` (or, with `--loop`,
//! the hand-written serde_json loop) and prints the groups as JSON.

#[path = "../benches/pipeline/common.rs"]
#[allow(dead_code)]
mod common;

fn main() {
    let mut serde_loop = false;
    let mut path = None;
    for arg in std::env::args_os().skip(1) {
        if arg == "--loop" {
            serde_loop = true;
        } else {
            path = Some(std::path::PathBuf::from(arg));
        }
    }
    let Some(path) = path else {
        eprintln!("usage: pipeline_file [--loop] INPUT.json");
        std::process::exit(2);
    };
    println!("{}", common::run_file(&path, serde_loop));
}
