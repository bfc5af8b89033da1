//! Running the binary and describing what it did.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What one run of the binary did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Exit code, stderr and stdout in one text, for a snapshot.
    pub fn transcript(&self) -> String {
        format!(
            "exit: {}\n--- stderr\n{}--- stdout\n{}",
            self.code, self.stderr, self.stdout
        )
    }
}

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Runs `flowrun ARGS` with `dir` as the working directory, without colors, so the paths in
/// its output are relative to `dir`.
pub fn flowrun(dir: &Path, args: &[&str]) -> Run {
    finish(start(dir, args))
}

/// Starts `flowrun ARGS` in `dir`, as [`flowrun`] does, without waiting for it.
fn start(dir: &Path, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_flowrun"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("FORCE_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the flowrun binary starts")
}

fn finish(child: std::process::Child) -> Run {
    let output = child.wait_with_output().expect("the flowrun binary runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Writes `text` to `dir/name`, creating folders on the way.
pub fn write(dir: &Path, name: &str, text: impl AsRef<[u8]>) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The keys of every `--format json` diagnostic, in order.
pub const JSON_KEYS: [&str; 9] = [
    "file",
    "line",
    "column",
    "end_line",
    "end_column",
    "severity",
    "code",
    "message",
    "help",
];

/// Checks that `stdout` is JSON Lines of diagnostics with exactly [`JSON_KEYS`].
pub fn assert_json_lines(stdout: &str) {
    for line in stdout.lines() {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|error| panic!("not one JSON object per line: {error}\n{line}"));
        let keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, JSON_KEYS, "{line}");
    }
}

/// Checks that the diagnostics of `stdout` (JSON Lines) are sorted by file and position.
pub fn assert_sorted(stdout: &str) {
    let positions: Vec<(String, u64, u64)> = stdout
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                value["file"].as_str().unwrap().to_owned(),
                value["line"].as_u64().unwrap(),
                value["column"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(
        positions.is_sorted(),
        "diagnostics are not sorted by position:\n{stdout}"
    );
}

/// `flowrun validate NAME` in `dir`, in human and JSON formats, as one text for a snapshot.
pub fn validate_both(dir: &Path, name: &str) -> (i32, String) {
    // Both at once: the corpus is large and each run is a process.
    let (human, json) = (
        start(dir, &["validate", name]),
        start(dir, &["validate", "--format", "json", name]),
    );
    let (human, json) = (finish(human), finish(json));
    assert_eq!(human.code, json.code, "{name}: the formats disagree on the exit code");
    assert_eq!(human.stdout, "", "{name}: human diagnostics go to stderr");
    assert_json_lines(&json.stdout);
    assert_sorted(&json.stdout);
    let text = format!(
        "exit: {}\n--- human (stderr)\n{}--- json (stdout)\n{}",
        human.code, human.stderr, json.stdout
    );
    (human.code, text)
}

/// A child process killed when dropped, so a failed assertion leaves no server running.
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts `flowrun ARGS` in `dir` with extra environment variables, stdout and stderr piped.
pub fn spawn(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Killed {
    Killed(command(dir, args, env).spawn().expect("the flowrun binary starts"))
}

/// `flowrun ARGS` in `dir` with extra environment variables, without colors or `FLOWRUN_LOG`,
/// stdin empty, stdout and stderr piped.
pub fn command(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flowrun"));
    command
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("FLOWRUN_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

/// Waits at most `limit` for the child to exit (polling), then collects what it printed that
/// was not read yet. A child still running after `limit` fails the test.
#[allow(clippy::disallowed_methods, reason = "a plain test thread polling a child process")]
pub fn wait_for(mut child: Killed, limit: std::time::Duration) -> Run {
    use std::io::Read;
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < limit, "flowrun did not exit within {limit:?}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut out) = child.0.stdout.take() {
        out.read_to_string(&mut stdout).unwrap();
    }
    if let Some(mut err) = child.0.stderr.take() {
        err.read_to_string(&mut stderr).unwrap();
    }
    Run {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr,
    }
}

/// Sends `signal` (e.g. `-TERM`) to the child with kill(1): the tests forbid unsafe code.
pub fn signal(child: &Killed, signal: &str) {
    let sent = Command::new("kill")
        .args([signal, &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill {signal} failed");
}

/// The child's stdout, line by line as it prints them (read on a thread, so a test can wait
/// for a line with a time limit).
pub fn stdout_lines(child: &mut Killed) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let stdout = child.0.stdout.take().expect("stdout is piped");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// An HTTP client playing a browser one hop at a time: it follows no redirect.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `GET url` as a browser would, without following a redirect, on `runtime`: status,
/// `Location`, body.
pub fn visit(runtime: &tokio::runtime::Runtime, browser: &reqwest::Client, url: &str) -> (u16, Option<String>, String) {
    runtime.block_on(async {
        let response = browser.get(url).send().await.unwrap();
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|value| value.to_str().unwrap().to_owned());
        (status, location, response.text().await.unwrap())
    })
}
