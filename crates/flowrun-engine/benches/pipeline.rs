//! A transform pipeline over 1,000,000 orders (about 200 bytes of JSON each), against a
//! hand-written serde_json loop doing the same work in one pass, in the same run. Target: the
//! pipeline within 1.5× the loop's time and 2× its peak memory.
//!
//! Run: `cargo bench -p flowrun-engine --bench pipeline`.
//!
//! The pipeline is `benches/pipeline/pipeline.yaml`, as a user writes it:
//! `filter → map (4 fields) → dedupe → group_by → aggregate`, giving 1,000 groups. Before
//! anything is timed, the pipeline's result must equal the loop's (same groups in the same
//! order, same totals and counts).
//!
//! - `in_memory::*`: the input already parsed on both sides (a `serde_json::Value` for the loop,
//!   a template value, converted once outside the timed part, for the pipeline);
//!   `in_memory::from_json` is that conversion, which the engine pays once per step output.
//! - `from_bytes::*`: both sides parse the same JSON bytes first: `serde_json::from_slice` for
//!   the loop; for the pipeline straight into a template value, or through `serde_json::Value`
//!   and `from_json`.
//! - `parse::*` and `stages::*` place a regression: each parse alone, and the pipeline cut after
//!   each operation.
//!
//! The allocation columns come from divan's `AllocProfiler` (per iteration). Peak memory is the
//! whole process's: after the benchmarks, the same file is run as whole processes by this
//! binary (flowrun's pipeline and the loop, each reading and parsing the file), `jq -f
//! benches/pipeline/pipeline.jq` and `python3 benches/pipeline/pipeline.py`, each
//! `FLOWRUN_BENCH_PROCESS_RUNS` times (default 3), timed with `/usr/bin/time` when it exists (wall
//! seconds and peak RSS), medians printed. A missing jq or python3 is skipped with a note;
//! `FLOWRUN_BENCH_PROCESSES=0` skips the whole comparison.
//!
//! `FLOWRUN_BENCH_PROFILE=3` runs `in_memory::pipeline`'s work 3 times and nothing else (the
//! input is still generated first), for a profiler: `perf record -g` or `valgrind
//! --tool=callgrind` on the bench binary.
//!
//! `FLOWRUN_BENCH_WRITE_DIR=/tmp/orders cargo bench -p flowrun-engine --bench pipeline` writes
//! the input to `/tmp/orders/input.json` and exits, for other tools:
//! `cargo run --release -p flowrun-engine --example pipeline_file -- /tmp/orders/input.json`
//! (`--loop` for the serde_json loop), `jq -c -f crates/flowrun-engine/benches/pipeline/pipeline.jq
//! /tmp/orders/input.json`, `python3 crates/flowrun-engine/benches/pipeline/pipeline.py
//! /tmp/orders/input.json`, each under `/usr/bin/time -v`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use flowrun_expr::Value;
use flowrun_flow::model::Transform;
use serde_json::Value as Json;

#[path = "pipeline/common.rs"]
#[allow(dead_code)]
mod common;

#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

const SAMPLES: u32 = 5;

fn main() {
    if let Some(dir) = std::env::var_os("FLOWRUN_BENCH_WRITE_DIR") {
        let path = Path::new(&dir).join("input.json");
        std::fs::create_dir_all(&dir).expect("create the output folder");
        std::fs::write(&path, bytes()).expect("write the input");
        eprintln!("wrote {} records to {}", common::N_RECORDS, path.display());
        return;
    }
    // A child of `processes()`: one whole run from a file.
    if let Some(path) = std::env::var_os(CHILD_INPUT) {
        let mode = std::env::var(CHILD_MODE).unwrap_or_default();
        let result = common::run_file(Path::new(&path), mode == "loop");
        println!("{result}");
        return;
    }
    // For a profiler: the in-memory pipeline alone, this many times.
    if let Some(times) = std::env::var("FLOWRUN_BENCH_PROFILE")
        .ok()
        .and_then(|times| times.parse().ok())
    {
        let (pipeline, scope, input) = (pipeline(), common::scope(), value());
        for _ in 0..times {
            divan::black_box(common::run_only(pipeline, input.clone(), &scope));
        }
        return;
    }
    assert_same_result();
    divan::main();
    let listing = std::env::args().any(|arg| arg == "--list" || arg == "--test");
    if !listing && std::env::var("FLOWRUN_BENCH_PROCESSES").as_deref() != Ok("0") {
        processes();
    }
}

fn records() -> &'static Json {
    static RECORDS: OnceLock<Json> = OnceLock::new();
    RECORDS.get_or_init(common::records)
}

fn bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| serde_json::to_vec(records()).expect("the records serialize"))
}

fn value() -> &'static Value {
    static VALUE: OnceLock<Value> = OnceLock::new();
    VALUE.get_or_init(|| flowrun_expr::from_json(records()))
}

fn pipeline() -> &'static common::Pipeline {
    static PIPELINE: OnceLock<common::Pipeline> = OnceLock::new();
    PIPELINE.get_or_init(common::pipeline)
}

/// The pipeline and the loop do the same work: same groups, same order, same totals; from
/// memory and from bytes, by either parse.
fn assert_same_result() {
    let expected = common::serde_loop(records());
    let scope = common::scope();
    let in_memory = common::run_pipeline(pipeline(), value().clone(), &scope);
    assert_eq!(in_memory, expected, "the pipeline's result differs from the loop's");
    let direct: Value = serde_json::from_slice(bytes()).expect("the bytes parse");
    assert_eq!(common::run_pipeline(pipeline(), direct, &scope), expected);
    let via_json = flowrun_expr::from_json(&serde_json::from_slice::<Json>(bytes()).expect("the bytes parse"));
    assert_eq!(common::run_pipeline(pipeline(), via_json, &scope), expected);
    eprintln!(
        "input: {} records, {:.1} MiB of JSON ({} bytes a record); result: {}",
        common::N_RECORDS,
        bytes().len() as f64 / (1024.0 * 1024.0),
        bytes().len() / common::N_RECORDS,
        common::summary(&expected)
    );
}

/// The input already parsed on both sides.
mod in_memory {
    use super::*;

    /// The baseline.
    #[divan::bench(sample_count = SAMPLES)]
    fn serde_loop(bencher: divan::Bencher) {
        let records = records();
        bencher.bench_local(|| common::serde_loop(records));
    }

    #[divan::bench(sample_count = SAMPLES)]
    fn pipeline(bencher: divan::Bencher) {
        let (pipeline, scope) = (super::pipeline(), common::scope());
        bencher
            .with_inputs(|| value().clone())
            .bench_local_values(|input| common::run_pipeline(pipeline, input, &scope));
    }

    /// `serde_json::Value` → template value, once for the whole input: what the engine pays
    /// when it stores a step's output.
    #[divan::bench(sample_count = SAMPLES)]
    fn from_json(bencher: divan::Bencher) {
        let records = records();
        bencher.bench_local(|| flowrun_expr::from_json(records));
    }
}

/// Both sides start from the same JSON bytes; the parsed input is dropped inside the timing on
/// both sides.
mod from_bytes {
    use super::*;

    /// The baseline.
    #[divan::bench(sample_count = SAMPLES)]
    fn serde_loop(bencher: divan::Bencher) {
        let bytes = bytes();
        bencher.bench_local(|| {
            let records: Json = serde_json::from_slice(bytes).expect("the bytes parse");
            common::serde_loop(&records)
        });
    }

    /// Deserialized straight into a template value.
    #[divan::bench(sample_count = SAMPLES)]
    fn pipeline(bencher: divan::Bencher) {
        let (pipeline, scope, bytes) = (super::pipeline(), common::scope(), bytes());
        bencher.bench_local(|| {
            let input: Value = serde_json::from_slice(bytes).expect("the bytes parse");
            common::run_pipeline(pipeline, input, &scope)
        });
    }

    /// Through `serde_json::Value` and `from_json`.
    #[divan::bench(sample_count = SAMPLES)]
    fn pipeline_via_from_json(bencher: divan::Bencher) {
        let (pipeline, scope, bytes) = (super::pipeline(), common::scope(), bytes());
        bencher.bench_local(|| {
            let json: Json = serde_json::from_slice(bytes).expect("the bytes parse");
            let input = flowrun_expr::from_json(&json);
            drop(json);
            common::run_pipeline(pipeline, input, &scope)
        });
    }
}

/// Each parse alone (the parsed value dropped outside the timing).
mod parse {
    use super::*;

    #[divan::bench(sample_count = SAMPLES)]
    fn serde_json_value(bencher: divan::Bencher) {
        let bytes = bytes();
        bencher.bench_local(|| serde_json::from_slice::<Json>(bytes).expect("the bytes parse"));
    }

    #[divan::bench(sample_count = SAMPLES)]
    fn template_value(bencher: divan::Bencher) {
        let bytes = bytes();
        bencher.bench_local(|| serde_json::from_slice::<Value>(bytes).expect("the bytes parse"));
    }
}

/// The pipeline cut after each operation, from memory: the difference between two rows is
/// one operation's cost (`in_memory::pipeline` is the whole).
mod stages {
    use super::*;

    fn first(count: usize) -> common::Pipeline {
        let (node, _) = flowrun_flow::yaml::parse(common::PIPELINE_YAML, Default::default());
        let mut transform: Transform =
            serde_json::from_value(node.expect("pipeline.yaml parses").to_json()).expect("a transform");
        transform.pipeline.truncate(count);
        common::compile_transform(&transform)
    }

    fn bench(bencher: divan::Bencher, count: usize) {
        let (pipeline, scope) = (first(count), common::scope());
        bencher
            .with_inputs(|| value().clone())
            .bench_local_values(|input| common::run_only(&pipeline, input, &scope));
    }

    #[divan::bench(sample_count = SAMPLES)]
    fn filter(bencher: divan::Bencher) {
        bench(bencher, 1);
    }

    #[divan::bench(sample_count = SAMPLES)]
    fn filter_map(bencher: divan::Bencher) {
        bench(bencher, 2);
    }

    #[divan::bench(sample_count = SAMPLES)]
    fn filter_map_dedupe(bencher: divan::Bencher) {
        bench(bencher, 3);
    }

    #[divan::bench(sample_count = SAMPLES)]
    fn filter_map_dedupe_group_by(bencher: divan::Bencher) {
        bench(bencher, 4);
    }
}

const CHILD_INPUT: &str = "FLOWRUN_BENCH_CHILD_INPUT";
const CHILD_MODE: &str = "FLOWRUN_BENCH_CHILD_MODE";

/// One command of the whole-process comparison.
struct Contender {
    name: &'static str,
    command: Command,
}

/// flowrun, the loop, jq and CPython as whole processes over the same file, each reading and
/// parsing it: median wall time and peak RSS, and the results compared.
fn processes() {
    let runs: usize = std::env::var("FLOWRUN_BENCH_PROCESS_RUNS")
        .ok()
        .and_then(|runs| runs.parse().ok())
        .unwrap_or(3)
        .max(1);
    let dir = std::env::temp_dir().join(format!("flowrun-bench-pipeline-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a temporary folder");
    let input = dir.join("input.json");
    std::fs::write(&input, bytes()).expect("write the input");
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/pipeline");
    let exe = std::env::current_exe().expect("this benchmark's path");

    let mut contenders = Vec::new();
    for (name, mode) in [("flowrun pipeline", "pipeline"), ("serde_json loop", "loop")] {
        let mut command = Command::new(&exe);
        command.env(CHILD_INPUT, &input).env(CHILD_MODE, mode);
        contenders.push(Contender { name, command });
    }
    if installed("jq") {
        let mut command = Command::new("jq");
        command.arg("-c").arg("-f").arg(scripts.join("pipeline.jq")).arg(&input);
        contenders.push(Contender { name: "jq", command });
    } else {
        eprintln!("note: jq is not installed: skipping its comparison (apt-get install jq)");
    }
    if installed("python3") {
        let mut command = Command::new("python3");
        command.arg(scripts.join("pipeline.py")).arg(&input);
        contenders.push(Contender {
            name: "python3",
            command,
        });
    } else {
        eprintln!("note: python3 is not installed: skipping its comparison");
    }
    let time = Path::new("/usr/bin/time");
    let time = time.exists().then_some(time);
    if time.is_none() {
        eprintln!("note: /usr/bin/time is missing: wall time only, no peak RSS");
    }

    let expected = common::sorted_groups(&common::serde_loop(records()));
    println!(
        "\nwhole processes over {} ({:.1} MiB), {runs} runs each, medians:",
        input.display(),
        bytes().len() as f64 / (1024.0 * 1024.0)
    );
    let mut rows: Vec<(&str, Duration, Option<u64>)> = Vec::new();
    for contender in &mut contenders {
        let mut walls = Vec::new();
        let mut peaks = Vec::new();
        for _ in 0..runs {
            let (wall, peak, stdout) = run_once(&mut contender.command, time, &dir);
            let result: Json = serde_json::from_slice(&stdout)
                .unwrap_or_else(|error| panic!("{} printed no JSON result: {error}", contender.name));
            assert_eq!(
                common::sorted_groups(&result),
                expected,
                "{} computes another result",
                contender.name
            );
            walls.push(wall);
            peaks.extend(peak);
        }
        walls.sort();
        peaks.sort_unstable();
        let wall = walls[walls.len() / 2];
        let peak = (!peaks.is_empty()).then(|| peaks[peaks.len() / 2]);
        rows.push((contender.name, wall, peak));
    }
    let (flowrun_wall, flowrun_peak) = (rows[0].1, rows[0].2);
    for (name, wall, peak) in &rows {
        let peak_text = peak.map_or("-".to_owned(), |kib| format!("{:.0} MiB", kib as f64 / 1024.0));
        let ratio_peak = match (peak, flowrun_peak) {
            (Some(peak), Some(base)) => format!("{:.2}", *peak as f64 / base as f64),
            _ => "-".to_owned(),
        };
        println!(
            "  {name:<18} {:>8.2} s  {peak_text:>9}   ×flowrun: time {:.2}, peak {ratio_peak}",
            wall.as_secs_f64(),
            wall.as_secs_f64() / flowrun_wall.as_secs_f64(),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Wall time, peak RSS in KiB (under `/usr/bin/time`) and standard output of one run.
fn run_once(command: &mut Command, time: Option<&Path>, dir: &Path) -> (Duration, Option<u64>, Vec<u8>) {
    let report: PathBuf = dir.join("time.txt");
    let mut wrapped;
    let runnable: &mut Command = match time {
        Some(time) => {
            wrapped = Command::new(time);
            wrapped
                .arg("-f")
                .arg("%M")
                .arg("-o")
                .arg(&report)
                .arg(command.get_program());
            wrapped.args(command.get_args());
            for (key, value) in command.get_envs() {
                if let Some(value) = value {
                    wrapped.env(key, value);
                }
            }
            &mut wrapped
        }
        None => command,
    };
    let start = Instant::now();
    let output = runnable.output().expect("start the command");
    let wall = start.elapsed();
    assert!(
        output.status.success(),
        "{:?} failed: {}",
        runnable.get_program(),
        String::from_utf8_lossy(&output.stderr)
    );
    let peak = time.and_then(|_| std::fs::read_to_string(&report).ok()?.trim().parse().ok());
    (wall, peak, output.stdout)
}
