//! `flowrun auth login`: the real binary against an in-process sandbox, the test playing the
//! browser (consent page, approve or deny, the redirect back to the binary's loopback
//! listener); then `flowrun run` uses the stored tokens. The client secret is a canary: no
//! output of the binary may hold it.

use std::path::Path;
use std::time::Duration;

use flowrun_sandbox::{Sandbox, SandboxConfig};
use serde_json::Value as Json;

use crate::util::{Run, flowrun, spawn, stdout_lines, wait_for, write};

const SECRET: &str = "test-secret";
const PREFIX: &str = "Open this URL in a browser to grant access: ";
/// How long the binary may take to print a line or to exit.
const LIMIT: Duration = Duration::from_secs(30);

/// A sandbox on its own runtime (its server runs on the runtime's workers while the test
/// thread waits for the binary), and an HTTP client that does not follow redirects, as the
/// test plays the browser one hop at a time.
struct World {
    runtime: tokio::runtime::Runtime,
    sandbox: Sandbox,
    browser: reqwest::Client,
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let sandbox = runtime.block_on(Sandbox::start(0, SandboxConfig::default())).unwrap();
        let browser = crate::util::browser();
        let dir = tempfile::tempdir().unwrap();
        let api = sandbox.test_api_url();
        write(
            dir.path(),
            "flowrun.yaml",
            format!(
                r#"connections:
  exact:
    connector: http
    config:
      base_url: {api}
      auth:
        kind: oauth2
        grant: authorization_code
        authorize_url: {api}/oauth/authorize
        token_url: {api}/oauth/token
        client_id: flowrun-test
        client_secret: "{{{{ secrets.E2E_EXACT_SECRET }}}}"
        scopes: [read]
  keyed:
    connector: http
    config:
      base_url: {api}
      auth: {{ kind: api_key, name: X-Api-Key, value: test-key }}
"#
            ),
        );
        write(
            dir.path(),
            "flows/me.yaml",
            r#"flow: me
steps:
  - id: me
    uses: http.request
    connection: exact
    with: { method: GET, url: /me }
output: "{{ steps.me.output.body }}"
"#,
        );
        World {
            runtime,
            sandbox,
            browser,
            dir,
        }
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `GET url` as a browser would, without following a redirect: status, `Location`, body.
    fn visit(&self, url: &str) -> (u16, Option<String>, String) {
        crate::util::visit(&self.runtime, &self.browser, url)
    }

    /// `flowrun auth login exact --no-browser` with `secret` as E2E_EXACT_SECRET: the browser
    /// opens the printed URL and clicks `button` (`approve` or `deny`); `tamper` may change
    /// the redirect back before the browser follows it. Returns what the binary did and the
    /// page the browser ended on.
    fn login(&self, secret: &str, button: &str, tamper: impl Fn(String) -> String) -> (Run, String) {
        let mut child = spawn(
            self.dir(),
            &["auth", "login", "exact", "--no-browser", "--timeout", "1m"],
            &[("E2E_EXACT_SECRET", secret)],
        );
        let lines = stdout_lines(&mut child);
        let first = match lines.recv_timeout(LIMIT) {
            Ok(first) => first,
            Err(_) => panic!("no consent URL printed:\n{}", wait_for(child, LIMIT).transcript()),
        };
        let consent_url = first
            .strip_prefix(PREFIX)
            .unwrap_or_else(|| panic!("unexpected line: {first}"))
            .to_owned();
        assert!(
            consent_url.starts_with(&format!("{}/oauth/authorize?", self.sandbox.test_api_url())),
            "{consent_url}"
        );
        assert!(consent_url.contains("code_challenge_method=S256"), "{consent_url}");
        assert!(!consent_url.contains(secret), "{consent_url}");

        let (status, _, page) = self.visit(&consent_url);
        assert_eq!(status, 200, "{page}");
        let marker = format!("<a id=\"{button}\" href=\"");
        let start = page
            .find(&marker)
            .unwrap_or_else(|| panic!("no {button} link in\n{page}"))
            + marker.len();
        let href = &page[start..start + page[start..].find('"').unwrap()];
        let (status, location, body) = self.visit(&format!("{}{href}", self.sandbox.base_url()));
        assert_eq!(status, 302, "{body}");
        let back = tamper(location.unwrap());
        assert!(back.starts_with("http://127.0.0.1:"), "a loopback redirect: {back}");
        let (_, _, landed) = self.visit(&back);

        let mut run = wait_for(child, LIMIT);
        run.stdout = format!("{first}\n{}", lines.try_iter().collect::<Vec<_>>().join("\n"));
        (run, landed)
    }

    /// `flowrun run flows/me.yaml` with the right client secret.
    fn run_me(&self) -> Run {
        wait_for(
            spawn(self.dir(), &["run", "flows/me.yaml"], &[("E2E_EXACT_SECRET", SECRET)]),
            LIMIT,
        )
    }

    fn authorization_code_grants(&self) -> u64 {
        self.sandbox.control().token_grants("authorization_code")
    }
}

#[track_caller]
fn assert_no_secret(run: &Run, secret: &str) {
    assert!(
        !run.stdout.contains(secret) && !run.stderr.contains(secret),
        "the client secret leaked:\n{}",
        run.transcript()
    );
}

#[test]
fn login_stores_tokens_that_later_runs_use() {
    let world = World::new();
    // Before the login, a run has no tokens to use and says what to do.
    let before = world.run_me();
    assert_eq!(before.code, 1, "{}", before.transcript());
    assert!(
        before.stderr.contains("run `flowrun auth login exact` once"),
        "{}",
        before.transcript()
    );

    let (run, page) = world.login(SECRET, "approve", |location| location);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_no_secret(&run, SECRET);
    let last = run.stdout.lines().last().unwrap();
    assert!(
        last.starts_with("Logged in: connection `exact` has tokens (expires at ")
            && last.contains("; refresh token stored)"),
        "{}",
        run.transcript()
    );
    assert!(
        page.contains("Logged in") && page.contains("You can close this tab"),
        "{page}"
    );
    assert_eq!(world.authorization_code_grants(), 1);
    assert!(world.dir().join(".flowrun/state.db").is_file());

    let after = world.run_me();
    assert_eq!(after.code, 0, "{}", after.transcript());
    let output: Json = serde_json::from_str(&after.stdout).unwrap();
    assert_eq!(output["auth"], "oauth2", "{}", after.transcript());
    assert_no_secret(&after, SECRET);
    // The run used the stored access token: no new grant.
    assert_eq!(world.authorization_code_grants(), 1);
}

#[test]
fn a_denied_consent_stores_nothing() {
    let world = World::new();
    let (run, page) = world.login(SECRET, "deny", |location| location);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert_no_secret(&run, SECRET);
    assert!(
        run.stderr.contains(
            "error: connection `exact`: the provider did not grant access (access_denied); nothing was stored"
        ),
        "{}",
        run.transcript()
    );
    assert!(!run.stdout.contains("Logged in"), "{}", run.transcript());
    assert!(
        page.contains("Login failed") && page.contains("access_denied"),
        "{page}"
    );
    let after = world.run_me();
    assert_eq!(after.code, 1, "{}", after.transcript());
    assert!(after.stderr.contains("has no tokens yet"), "{}", after.transcript());
}

#[test]
fn a_redirect_with_another_state_is_refused() {
    let world = World::new();
    let (run, _) = world.login(SECRET, "approve", |location| {
        let (before, after) = location.split_once("state=").unwrap();
        format!(
            "{before}state=forged{}",
            after.find('&').map_or("", |end| &after[end..])
        )
    });
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(run.stderr.contains("`state` does not match"), "{}", run.transcript());
    assert_eq!(world.authorization_code_grants(), 0, "the code was not exchanged");
}

#[test]
fn a_token_endpoint_refusal_is_one_clear_line() {
    let world = World::new();
    let wrong = "wrong-client-secret";
    let (run, page) = world.login(wrong, "approve", |location| location);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert_no_secret(&run, wrong);
    let errors: Vec<&str> = run.stderr.lines().filter(|line| line.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{}", run.transcript());
    assert!(
        errors[0].contains("the token endpoint refused the authorization_code grant")
            && errors[0].contains("invalid_client")
            && errors[0].ends_with("nothing was stored"),
        "{}",
        run.transcript()
    );
    assert!(page.contains("Login failed"), "{page}");
}

#[test]
fn connections_that_cannot_log_in_are_explained() {
    let world = World::new();
    let run = flowrun(world.dir(), &["auth", "login", "keyed", "--no-browser"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.starts_with("error: connection `keyed` uses `api_key` auth;"),
        "{}",
        run.transcript()
    );
    let run = flowrun(world.dir(), &["auth", "login", "exakt", "--no-browser"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert_eq!(
        run.stderr,
        "error: flowrun.yaml has no connection `exakt`; did you mean `exact`?\n"
    );
    // The secret the connection reads must be there.
    let run = flowrun(world.dir(), &["auth", "login", "exact", "--no-browser"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(run.stderr.contains("E2E_EXACT_SECRET"), "{}", run.transcript());
}
