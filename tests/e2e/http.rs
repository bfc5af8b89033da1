//! `http.request` from a flow through the real binary, against the sandbox over sockets:
//! OAuth2, pagination, a POST; `--record` writes a cassette without a secret in it, and
//! `--replay` runs the flow again offline (the sandbox stopped) to the same output.

use std::path::Path;

use flowrun_sandbox::{Sandbox, SandboxConfig};
use serde_json::Value as Json;

use crate::util::{Run, write};

const CLIENT_SECRET: &str = "test-secret";
const PASSWORD: &str = "wonderland";

const FLOW: &str = r#"flow: sandbox-items
connections:
  api:
    connector: http
    config:
      base_url: "{{ env.SANDBOX_API }}"
      auth:
        kind: oauth2
        grant: password
        token_url: "{{ env.SANDBOX_API }}/oauth/token"
        client_id: flowrun-test
        client_secret: "{{ secrets.CLIENT_SECRET }}"
        username: alice
        password: "{{ secrets.PASSWORD }}"
steps:
  - id: items
    uses: http.request
    connection: api
    with:
      url: pages/cursor
      query: { limit: 100 }
      paginate: { kind: cursor, next: "$.meta.next_cursor", param: cursor, items: "$.data" }
  - id: me
    uses: http.request
    connection: api
    with: { url: me }
  - id: post
    uses: http.request
    connection: api
    with:
      method: POST
      url: echo
      body: { count: "{{ steps.items.output.body | length }}", at: "{{ now() }}", id: "{{ uuid() }}" }
output:
  count: "{{ steps.items.output.body | length }}"
  pages: "{{ steps.items.output.pages }}"
  user: "{{ steps.me.output.body.user }}"
  auth: "{{ steps.me.output.body.auth }}"
  echoed: "{{ steps.post.output.body.body }}"
"#;

fn flowrun(dir: &Path, args: &[&str], api: &str) -> Run {
    let env = [
        ("SANDBOX_API", api),
        ("CLIENT_SECRET", CLIENT_SECRET),
        ("PASSWORD", PASSWORD),
    ];
    let output = crate::util::command(dir, args, &env)
        .output()
        .expect("the flowrun binary runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn output_of(run: &Run) -> Json {
    assert_eq!(run.code, 0, "{}", run.transcript());
    serde_json::from_str(&run.stdout).unwrap_or_else(|error| panic!("not JSON ({error}): {}", run.transcript()))
}

#[test]
fn a_recorded_run_replays_offline_to_the_same_output() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sandbox = runtime.block_on(Sandbox::start(0, SandboxConfig::default())).unwrap();
    let api = sandbox.test_api_url();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "items.yaml", FLOW);

    let recorded = flowrun(
        dir.path(),
        &["run", "items.yaml", "--record", "cassettes", "--format", "json"],
        &api,
    );
    let envelope = output_of(&recorded);
    let output = &envelope["output"];
    assert_eq!(output["count"], 250);
    assert_eq!(output["pages"], 3);
    assert_eq!(output["user"], "alice");
    assert_eq!(output["auth"], "oauth2");
    assert_eq!(output["echoed"]["count"], 250);
    assert!(
        recorded
            .stderr
            .contains("recorded the run's HTTP exchanges to cassettes/sandbox-items-")
    );

    let cassettes: Vec<_> = std::fs::read_dir(dir.path().join("cassettes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(cassettes.len(), 1);
    let text = std::fs::read_to_string(&cassettes[0]).unwrap();
    for secret in [CLIENT_SECRET, PASSWORD] {
        assert!(!text.contains(secret), "`{secret}` is in the cassette");
        assert!(!recorded.stdout.contains(secret) && !recorded.stderr.contains(secret));
    }
    let cassette: Json = serde_json::from_str(&text).unwrap();
    let exchanges = cassette["exchanges"].as_array().unwrap();
    // One token request, three pages, me, the POST.
    assert_eq!(exchanges.len(), 6, "{text}");
    let token = exchanges.iter().find(|e| e["token_exchange"] == true).unwrap();
    assert!(
        token["response"]["body"]
            .as_str()
            .unwrap()
            .contains(r#""access_token":"***""#)
    );
    // The echo endpoint sent the Authorization header back: its token is scrubbed.
    assert!(text.contains(r#"\"authorization\":\"Bearer ***\""#), "{text}");

    // Offline: the sandbox is gone, the cassette answers.
    runtime.block_on(sandbox.shutdown());
    let replayed = flowrun(
        dir.path(),
        &[
            "run",
            "items.yaml",
            "--replay",
            cassettes[0].to_str().unwrap(),
            "--format",
            "json",
        ],
        &api,
    );
    let replayed = output_of(&replayed);
    assert_eq!(
        replayed["output"], envelope["output"],
        "same output, `now()` and `uuid()` included"
    );
    // The recorded run is in the store; the replay added none.
    let listed = flowrun(dir.path(), &["runs", "list"], &api);
    assert_eq!(listed.code, 0, "{}", listed.transcript());
    assert_eq!(
        listed.stdout.matches("sandbox-items").count(),
        1,
        "{}",
        listed.transcript()
    );

    // A flow that asks for something the cassette does not hold fails, naming the request.
    write(dir.path(), "items.yaml", FLOW.replace("limit: 100", "limit: 50"));
    let missed = flowrun(
        dir.path(),
        &["run", "items.yaml", "--replay", cassettes[0].to_str().unwrap()],
        &api,
    );
    assert_eq!(missed.code, 1, "{}", missed.transcript());
    assert!(
        missed.stderr.contains("no recorded exchange matches this request"),
        "{}",
        missed.transcript()
    );
}

#[test]
fn a_failed_request_names_the_step_the_request_and_the_status() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sandbox = runtime.block_on(Sandbox::start(0, SandboxConfig::default())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "fail.yaml",
        "flow: fail\nsteps:\n  - id: lookup\n    uses: http.request\n    with:\n      url: \"{{ env.SANDBOX_API }}/status/422?message=Email%20is%20invalid\"\n",
    );
    let run = flowrun(dir.path(), &["run", "fail.yaml"], &sandbox.test_api_url());
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(run.stderr.contains("lookup"), "{}", run.transcript());
    assert!(
        run.stderr
            .contains("/test/status/422?message=Email+is+invalid → 422 Unprocessable Entity: Email is invalid"),
        "{}",
        run.transcript()
    );
    runtime.block_on(sandbox.shutdown());
}

/// The README's main job, as it is written there.
#[test]
fn the_readme_main_job_runs_against_the_sandbox() {
    let root = crate::util::repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let command = "run flows/sandbox-tour.yaml --sandbox --secrets flows/sandbox.env";
    assert!(
        readme.contains(&format!("cargo run -p flowrun -- {command}")),
        "the README names another command"
    );
    let state = tempfile::tempdir().unwrap();
    let state_url = format!("sqlite://{}", state.path().join("state.db").display());
    let args: Vec<&str> = command.split(' ').chain(["--state", &state_url]).collect();
    let run = flowrun(&root, &args, "unused");
    let output = output_of(&run);
    assert_eq!(output["read"], 250);
    assert_eq!(output["pages"], 3);
    assert_eq!(output["reported"].as_array().unwrap().len(), 10);
    assert_eq!(output["reported"][0], "/test/echo/reports/25");
    for secret in [CLIENT_SECRET, PASSWORD] {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{}",
            run.transcript()
        );
    }
}

/// Sixteen steps that start together after the API let the token expire share one refresh.
#[test]
fn sixteen_concurrent_steps_after_expiry_share_one_refresh() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sandbox = runtime.block_on(Sandbox::start(0, SandboxConfig::default())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let connection = FLOW
        .split("steps:")
        .next()
        .unwrap()
        .replace("flow: sandbox-items", "flow: expiry");
    let mut flow = format!(
        "{connection}steps:\n  - id: first\n    uses: http.request\n    connection: api\n    with: {{ url: me }}\n  \
         - id: expire\n    uses: http.request\n    needs: [first]\n    with:\n      method: POST\n      \
         url: \"{{{{ env.SANDBOX_API }}}}/../_sandbox/clock\"\n      body: {{ advance_secs: 7200 }}\n"
    );
    for n in 1..=16 {
        flow.push_str(&format!(
            "  - id: s{n}\n    uses: http.request\n    connection: api\n    needs: [expire]\n    with: {{ url: me }}\n"
        ));
    }
    write(dir.path(), "expiry.yaml", &flow);
    let run = flowrun(
        dir.path(),
        &["run", "expiry.yaml", "--format", "json", "--max-concurrency", "16"],
        &sandbox.test_api_url(),
    );
    let envelope = output_of(&run);
    assert_eq!(envelope["status"], "success", "{}", run.transcript());
    let control = sandbox.control();
    assert_eq!(control.token_grants("password"), 1);
    assert_eq!(
        control.token_grants("refresh_token"),
        1,
        "one refresh for sixteen steps"
    );
    // The first step, then each of the sixteen: those that went before the refresh got a 401
    // first, those after it did not; at least one met the expired token.
    let me = control.request_count("GET", "/test/me");
    assert!((1 + 16 + 1..=1 + 16 + 16).contains(&me), "{me} requests to /test/me");
    runtime.block_on(sandbox.shutdown());
}

/// A response body is kept as text and stored as it came, unless a secret is in it: the
/// echo sends a secret back (plainly and JSON-escaped) and the stored records hold `***`
/// instead, while a body without a secret is stored and read as it came.
#[test]
fn a_secret_a_response_body_echoes_is_redacted_in_the_record() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sandbox = runtime.block_on(Sandbox::start(0, SandboxConfig::default())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "echo.yaml",
        r#"flow: echo-secret
steps:
  - id: plain
    uses: http.request
    with: { method: POST, url: "{{ env.SANDBOX_API }}/echo", body: { n: 1 } }
  - id: leaky
    uses: http.request
    for_each: ["{{ secrets.PASSWORD }}", "quote \" {{ secrets.PASSWORD }}"]
    with: { method: POST, url: "{{ env.SANDBOX_API }}/echo", body: { note: "{{ item }}" } }
output:
  n: "{{ steps.plain.output.body.body.n }}"
  notes: "{{ steps.leaky.output | map(attribute='body') | map(attribute='body') | map(attribute='note') | list }}"
"#,
    );
    let api = sandbox.test_api_url();
    let run = flowrun(dir.path(), &["run", "echo.yaml", "--format", "json"], &api);
    let envelope = output_of(&run);
    assert_eq!(envelope["output"]["n"], 1);
    assert_eq!(envelope["output"]["notes"], serde_json::json!(["***", "quote \" ***"]));
    let id = envelope["run_id"].as_str().unwrap();
    let shown = flowrun(dir.path(), &["runs", "show", id, "--format", "json"], &api);
    assert_eq!(shown.code, 0, "{}", shown.transcript());
    assert!(!shown.stdout.contains(PASSWORD), "{}", shown.stdout);
    let detail: Json = serde_json::from_str(&shown.stdout).unwrap();
    let steps = detail["steps"].as_array().unwrap();
    let body_of = |step: &str, item: Option<u64>| {
        steps
            .iter()
            .find(|s| s["step_id"] == step && s["item_index"].as_u64() == item)
            .map(|s| s["output"]["body"]["body"].clone())
            .unwrap_or_else(|| panic!("no record of {step} {item:?}: {}", shown.stdout))
    };
    assert_eq!(body_of("plain", None), serde_json::json!({ "n": 1 }));
    assert_eq!(body_of("leaky", Some(0)), serde_json::json!({ "note": "***" }));
    assert_eq!(body_of("leaky", Some(1)), serde_json::json!({ "note": "quote \" ***" }));
    for entry in std::fs::read_dir(dir.path().join(".flowrun")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(PASSWORD),
            "the secret is in the state store"
        );
    }
    runtime.block_on(sandbox.shutdown());
}
