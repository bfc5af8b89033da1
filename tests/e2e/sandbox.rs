//! `flowrun sandbox`: the real binary serving the simulators on a free port, found from what
//! it prints; a clean stop on SIGTERM and Ctrl-C; a port in use.

use std::time::Duration;

use serde_json::Value as Json;

use crate::util::{signal, spawn, stdout_lines, wait_for};

/// How long a line of a starting binary may take.
const LINE: Duration = Duration::from_secs(20);

/// A GET with headers, on a runtime of its own (the sandbox runs in another process).
fn get(url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut request = reqwest::Client::new().get(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    })
}

#[test]
fn the_sandbox_prints_its_urls_serves_the_test_api_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn(dir.path(), &["sandbox", "--port", "0"], &[]);
    let lines = stdout_lines(&mut child);
    let first = lines.recv_timeout(LINE).expect("the sandbox prints where it listens");
    let base = first
        .strip_prefix("flowrun sandbox listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(port, 0);
    let rest: Vec<String> = (0..6).map(|_| lines.recv_timeout(LINE).unwrap()).collect();
    assert!(
        rest[0].trim_start().starts_with(&format!("test API      {base}/test ")),
        "{rest:?}"
    );
    assert!(
        rest[0].contains("flowrun-test/test-secret") && rest[0].contains("API key test-key"),
        "{rest:?}"
    );
    assert!(
        rest[1]
            .trim_start()
            .starts_with(&format!("1CRM          {base}/onecrm/api.php ")),
        "{rest:?}"
    );
    assert!(rest[1].contains("admin/onecrm-admin"), "{rest:?}");
    assert!(
        rest[2]
            .trim_start()
            .starts_with(&format!("Conexiom      {base}/conexiom/Conexiom.API ")),
        "{rest:?}"
    );
    assert!(rest[2].contains("extractor/conexiom-extractor"), "{rest:?}");
    assert!(
        rest[3]
            .trim_start()
            .starts_with(&format!("Exact Online  {base}/exact ")),
        "{rest:?}"
    );
    assert!(rest[3].contains("/exact-client-secret, division 123456"), "{rest:?}");
    assert_eq!(rest[4].trim_start(), format!("control       {base}/_sandbox"));
    assert_eq!(rest[5], "Press Ctrl-C to stop.");

    let (status, body) = get(&format!("{base}/test/me"), &[("X-Api-Key", "test-key")]);
    assert_eq!(status, 200, "{body}");
    let body: Json = serde_json::from_str(&body).unwrap();
    assert_eq!(body["auth"], "api_key");
    let (status, _) = get(&format!("{base}/test/me"), &[]);
    assert_eq!(status, 401);

    signal(&child, "-TERM");
    let run = wait_for(child, Duration::from_secs(20));
    assert_eq!(run.code, 0, "a clean stop: {}", run.transcript());
    assert!(run.stderr.contains("stopping the sandbox"), "{}", run.transcript());
}

#[test]
fn the_sandbox_stops_on_ctrl_c_and_prints_json_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn(dir.path(), &["sandbox", "--port", "0", "--format", "json"], &[]);
    let lines = stdout_lines(&mut child);
    let line = lines.recv_timeout(LINE).expect("one JSON object");
    let printed: Json = serde_json::from_str(&line).unwrap();
    let base = printed["base_url"].as_str().unwrap();
    let test = &printed["simulators"]["test"];
    assert_eq!(test["url"], format!("{base}/test"));
    assert_eq!(test["oauth2"]["token_url"], format!("{base}/test/oauth/token"));
    assert_eq!(test["oauth2"]["client_id"], "flowrun-test");
    assert_eq!(test["api_key"], "test-key");
    assert_eq!(
        printed["simulators"]["exact_online"]["base_uri"],
        format!("{base}/exact")
    );
    let (status, _) = get(&format!("{base}/_sandbox/stats"), &[]);
    assert_eq!(status, 200);

    signal(&child, "-INT");
    let run = wait_for(child, Duration::from_secs(20));
    assert_eq!(run.code, 0, "{}", run.transcript());
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let run = wait_for(
        spawn(dir.path(), &["sandbox", "--port", &port], &[]),
        Duration::from_secs(20),
    );
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr
            .starts_with(&format!("error: port {port} on 127.0.0.1 is already in use")),
        "{}",
        run.transcript()
    );
    assert!(run.stderr.contains("--port 0"), "{}", run.transcript());
}
