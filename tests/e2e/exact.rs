//! The Exact Online example (`flows/crm-accounts-to-exact.yaml`) through the real binary, the
//! way docs/connectors/exact-online.md runs it: the project's `sandbox` profile, a sandbox that
//! outlives the commands (in-process here, on its own runtime), `flowrun auth login` with the
//! test playing the browser, then runs that create the sandbox's 1CRM accounts in its Exact
//! Online simulator once, a refused account kept as an incomplete execution, and
//! `runs retry` creating it. The project, flow and secrets are copied to a temporary folder,
//! where the state store lands. The app's client secret is a canary: no output of the binary
//! and no byte of the state store may hold it.

use std::path::Path;
use std::time::Duration;

use flowrun_sandbox::exact_credentials as creds;
use flowrun_sandbox::{Fault, FaultRule, Sandbox, SandboxConfig};
use serde_json::Value as Json;

use crate::util::{Run, command, repo_root, spawn, stdout_lines, wait_for, write};

const PREFIX: &str = "Open this URL in a browser to grant access: ";
const LIMIT: Duration = Duration::from_secs(60);

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
        // Short "minutes": the example creates more accounts than 60.
        let control = sandbox.control();
        let mut settings = control.exact_settings();
        settings.minute_window_ms = 1_000;
        control.set_exact_settings(settings);
        let browser = crate::util::browser();
        let dir = tempfile::tempdir().unwrap();
        for file in ["flowrun.yaml", "crm-accounts-to-exact.yaml", "sandbox.env"] {
            write(
                dir.path(),
                file,
                std::fs::read(repo_root().join("flows").join(file)).unwrap(),
            );
        }
        World {
            runtime,
            sandbox,
            browser,
            dir,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn env(&self) -> [(&'static str, String); 1] {
        [("FLOWRUN_SANDBOX_URL", self.sandbox.base_url())]
    }

    /// `flowrun ARGS --profile sandbox --secrets sandbox.env` in the folder.
    fn flowrun(&self, args: &[&str]) -> Run {
        let mut args = args.to_vec();
        args.extend(["--profile", "sandbox", "--secrets", "sandbox.env"]);
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(name, value)| (*name, value.as_str())).collect();
        let output = command(self.path(), &args, &env).output().unwrap();
        let run = Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        assert_no_secret(&run);
        run
    }

    /// The example with `--format json`: its envelope, after checking the exit code.
    fn run_example(&self, code: i32) -> Json {
        let run = self.flowrun(&[
            "run",
            "crm-accounts-to-exact.yaml",
            "--input",
            "since=2000-01-01T00:00:00Z",
            "--format",
            "json",
        ]);
        assert_eq!(run.code, code, "{}", run.transcript());
        serde_json::from_str(&run.stdout).unwrap_or_else(|error| panic!("not JSON ({error}): {}", run.transcript()))
    }

    /// `flowrun auth login exact --profile sandbox --no-browser`; the browser opens the printed
    /// URL and approves.
    fn login(&self) -> Run {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(name, value)| (*name, value.as_str())).collect();
        let mut child = spawn(
            self.path(),
            &[
                "auth",
                "login",
                "exact",
                "--profile",
                "sandbox",
                "--secrets",
                "sandbox.env",
                "--no-browser",
                "--timeout",
                "1m",
            ],
            &env,
        );
        let lines = stdout_lines(&mut child);
        let Ok(first) = lines.recv_timeout(LIMIT) else {
            panic!("no consent URL printed:\n{}", wait_for(child, LIMIT).transcript());
        };
        let consent_url = first
            .strip_prefix(PREFIX)
            .unwrap_or_else(|| panic!("unexpected line: {first}"))
            .to_owned();
        assert!(
            consent_url.starts_with(&format!("{}/api/oauth2/auth?", self.sandbox.exact_url())),
            "{consent_url}"
        );
        let (status, _, page) = self.visit(&consent_url);
        assert_eq!(status, 200, "{page}");
        let approve = link_in(&page, "Approve");
        let approve = url::Url::parse(&consent_url).unwrap().join(&approve).unwrap();
        let (status, location, body) = self.visit(approve.as_str());
        assert_eq!(status, 302, "{body}");
        let back = location.unwrap();
        assert!(back.starts_with("http://127.0.0.1:"), "a loopback redirect: {back}");
        self.visit(&back);
        let mut run = wait_for(child, LIMIT);
        run.stdout = format!("{first}\n{}", lines.try_iter().collect::<Vec<_>>().join("\n"));
        assert_no_secret(&run);
        run
    }

    fn visit(&self, url: &str) -> (u16, Option<String>, String) {
        crate::util::visit(&self.runtime, &self.browser, url)
    }

    fn exact_accounts(&self) -> usize {
        self.sandbox.control().exact_counts().accounts
    }
}

/// The `href` of the link whose text is `text`.
fn link_in(page: &str, text: &str) -> String {
    let at = page
        .find(&format!(">{text}<"))
        .unwrap_or_else(|| panic!("no `{text}` link in the consent page: {page}"));
    let start = page[..at].rfind("href=\"").unwrap() + "href=\"".len();
    let end = start + page[start..].find('"').unwrap();
    page[start..end].replace("&amp;", "&")
}

#[track_caller]
fn assert_no_secret(run: &Run) {
    assert!(
        !run.stdout.contains(creds::CLIENT_SECRET) && !run.stderr.contains(creds::CLIENT_SECRET),
        "the client secret leaked:\n{}",
        run.transcript()
    );
}

#[test]
fn accounts_are_created_once_a_refused_one_waits_and_retry_creates_it() {
    let world = World::new();
    let before = world.run_example(1);
    let error = before["error"]["message"].as_str().unwrap_or_default();
    assert!(error.contains("run `flowrun auth login exact` once"), "{before}");

    let login = world.login();
    assert_eq!(login.code, 0, "{}", login.transcript());
    assert!(
        login.stdout.contains("Logged in: connection `exact` has tokens"),
        "{}",
        login.transcript()
    );

    // Exact refuses the first account it is sent.
    let seeded = world.exact_accounts();
    let accounts_path = format!("/exact/api/v1/{}/crm/Accounts", creds::DIVISION);
    let refusal = r#"{"error":{"code":"","message":{"lang":"","value":"Invalid: Email"}}}"#;
    world.sandbox.control().add_fault(
        FaultRule::new(
            accounts_path.as_str(),
            Fault::Status {
                status: 400,
                retry_after: None,
                body: Some(refusal.to_owned()),
            },
        )
        .method("POST")
        .times(1),
    );
    let partial = world.run_example(3);
    assert_eq!(partial["status"], "partial", "{partial}");
    let created = partial["output"]["created"].as_u64().unwrap() as usize;
    assert!(created > 10, "{partial}");
    assert_eq!(world.exact_accounts(), seeded + created);
    assert_eq!(
        world.sandbox.control().exact_counts().rate_limited,
        0,
        "no call was refused for the rate"
    );
    let run_id = partial["run_id"].as_str().unwrap().to_owned();

    let retried = world.flowrun(&[
        "runs",
        "retry",
        &run_id,
        "--flow",
        "crm-accounts-to-exact.yaml",
        "--format",
        "json",
    ]);
    assert_eq!(retried.code, 0, "{}", retried.transcript());
    assert_eq!(
        world.exact_accounts(),
        seeded + created + 1,
        "the refused account was created"
    );

    // Everything is in Exact now: a new run creates nothing.
    let again = world.run_example(0);
    assert_eq!(again["output"]["created"], 0, "{again}");
    assert_eq!(
        again["output"]["already_in_exact"].as_u64().unwrap() as usize,
        created + 1
    );
    assert_eq!(world.exact_accounts(), seeded + created + 1);

    // The state store holds the tokens, never the client secret.
    for entry in std::fs::read_dir(world.path().join(".flowrun")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !bytes
                .windows(creds::CLIENT_SECRET.len())
                .any(|window| window == creds::CLIENT_SECRET.as_bytes()),
            "the client secret is in the state store"
        );
    }
}
