//! `flowrun runs list|show` on a real SQLite store, written through `flowrun_state` the way
//! the engine writes it.

use std::path::Path;
use std::time::Duration;

use flowrun_state::{FinishRun, NewIncomplete, NewRun, RunStatus, StateStore, StepRecord, StepStatus};
use serde_json::{Value, json};

use crate::util::{Run, flowrun, write};

const OWNER: &str = "e2e:1";

/// The ids of what the fixture stored, oldest run first.
struct Fixture {
    runs: Vec<String>,
    incomplete: String,
}

impl Fixture {
    /// Replaces ids with names of the same width (so tables stay aligned) and times with a
    /// placeholder, for snapshots.
    fn normalize(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for (index, id) in self.runs.iter().enumerate() {
            text = text.replace(id, &placeholder(&format!("RUN-{}", index + 1), id.len()));
        }
        text = text.replace(&self.incomplete, &placeholder("INCOMPLETE-1", self.incomplete.len()));
        text
    }
}

fn placeholder(name: &str, width: usize) -> String {
    format!("{name:-<width$}")
}

fn step(run_id: &str, step_id: &str, status: StepStatus, millis: u64) -> StepRecord {
    StepRecord {
        run_id: run_id.to_owned(),
        step_id: step_id.to_owned(),
        item_index: None,
        item_key: None,
        status,
        attempts: u32::from(status != StepStatus::Skipped && status != StepStatus::Cancelled),
        parameters: Some(json!({"url": "https://api.example.com", "token": "***"}).into()),
        output: None,
        error: None,
        started_at: None,
        ended_at: None,
        duration: Some(Duration::from_millis(millis)),
    }
}

fn item(run_id: &str, step_id: &str, index: u64, status: StepStatus) -> StepRecord {
    StepRecord {
        item_index: Some(index),
        item_key: Some(format!("order-{}", 1001 + index)),
        ..step(run_id, step_id, status, 40 + index * 10)
    }
}

fn new_run(flow_id: &str, trigger: Option<Value>) -> NewRun {
    NewRun {
        id: None,
        flow_id: flow_id.to_owned(),
        flow_version: "3f2a9c01d4e5b6a7".to_owned(),
        trigger,
        inputs: Some(json!({"since": "2024-01-01"})),
        lease_owner: OWNER.to_owned(),
        lease: Duration::from_secs(600),
        lock_flow: false,
    }
}

fn finish(run_id: &str, status: RunStatus, error: Option<Value>) -> FinishRun {
    FinishRun {
        run_id: run_id.to_owned(),
        lease_owner: OWNER.to_owned(),
        status,
        output: Some(json!({"pushed": 2})),
        error,
        cursors: Vec::new(),
    }
}

/// Four runs in the SQLite file `db`: a success, a partial run with a broken item (an open
/// incomplete execution that failed twice), a failed run, and one still running.
fn fixture(db: &Path) -> Fixture {
    let url = format!("sqlite://{}", db.display());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = flowrun_state::open(&url).await.unwrap();
        let store: &dyn StateStore = store.as_ref();
        let mut runs = Vec::new();

        let ok = store.create_run(new_run("orders_sync", None)).await.unwrap().id;
        store.record_step(step(&ok, "fetch", StepStatus::Success, 120)).await.unwrap();
        store.record_step(step(&ok, "push", StepStatus::Success, 2_500)).await.unwrap();
        store.finish_run(finish(&ok, RunStatus::Success, None)).await.unwrap();
        runs.push(ok);

        let partial = store.create_run(new_run("orders_sync", None)).await.unwrap().id;
        store.record_step(step(&partial, "fetch", StepStatus::Success, 95)).await.unwrap();
        store.record_step(step(&partial, "push", StepStatus::Broken, 3_250)).await.unwrap();
        store.record_step(item(&partial, "push", 0, StepStatus::Success)).await.unwrap();
        let broken_error = json!({"step": "push", "module": "http.request", "message": "POST /orders → 500 (attempt 2)", "kind": "server", "attempts": 2, "item_index": 1, "item_key": "order-1002"});
        store
            .record_step(StepRecord {
                attempts: 2,
                error: Some(broken_error.clone()),
                ..item(&partial, "push", 1, StepStatus::Broken)
            })
            .await
            .unwrap();
        store
            .record_step(StepRecord {
                error: Some(json!({"step": "push", "message": "POST /orders → 422: the order has\nno lines"})),
                ..item(&partial, "push", 2, StepStatus::Ignored)
            })
            .await
            .unwrap();
        let incomplete = store
            .add_incomplete(NewIncomplete {
                run_id: partial.clone(),
                step_id: "push".to_owned(),
                item_index: Some(1),
                item_key: Some("order-1002".to_owned()),
                inputs: json!({"item": {"OrderNumber": 1002}, "index": 1}),
                error: Some(broken_error),
            })
            .await
            .unwrap()
            .id;
        store
            .fail_incomplete(&incomplete, Some(json!({"message": "POST /orders → 503 (attempt 3)"})))
            .await
            .unwrap();
        store.finish_run(finish(&partial, RunStatus::Partial, None)).await.unwrap();
        runs.push(partial);

        let failed = store
            .create_run(new_run("invoices", Some(json!({"event": "created", "id": 7}))))
            .await
            .unwrap()
            .id;
        let auth_error = json!({"step": "fetch", "module": "exact_online.invoices", "message": "GET /invoices → 401 (attempt 1)", "kind": "auth", "attempts": 1});
        store
            .record_step(StepRecord {
                error: Some(auth_error.clone()),
                ..step(&failed, "fetch", StepStatus::Failed, 310)
            })
            .await
            .unwrap();
        store.record_step(step(&failed, "notify", StepStatus::Cancelled, 0)).await.unwrap();
        store
            .finish_run(FinishRun {
                output: None,
                ..finish(&failed, RunStatus::Failed, Some(auth_error))
            })
            .await
            .unwrap();
        runs.push(failed);

        let running = store.create_run(new_run("orders_sync", None)).await.unwrap().id;
        store.record_step(step(&running, "fetch", StepStatus::Running, 0)).await.unwrap();
        runs.push(running);

        Fixture { runs, incomplete }
    })
}

/// Times and the durations of whole runs (measured by the store's clock) vary between runs
/// of the test.
fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "YYYY-MM-DD hh:mm:ss");
    settings.add_filter(r"\(\d+(?:\.\d)?m?s\)", "([took])");
    settings
}

/// In `runs list`, the right-aligned DURATION column (8 wide, after two spaces).
fn list_settings() -> insta::Settings {
    let mut settings = settings();
    settings.add_filter(r" +\d+(?:\.\d)?m?s  ", "     [dur]  ");
    settings
}

fn transcript(fixture: &Fixture, run: &Run) -> String {
    fixture.normalize(&run.transcript())
}

#[test]
fn runs_list_show_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let fixture = fixture(&root.join(".flowrun/state.db"));

    let list = flowrun(root, &["runs", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    list_settings().bind(|| insta::assert_snapshot!("list", transcript(&fixture, &list)));
    assert_eq!(flowrun(root, &["runs"]).stdout, list.stdout, "`runs` alone lists");

    let failed = flowrun(root, &["runs", "list", "--status", "failed"]);
    assert_eq!(failed.code, 0, "{}", failed.stderr);
    list_settings().bind(|| insta::assert_snapshot!("list_failed", transcript(&fixture, &failed)));

    let limited = flowrun(root, &["runs", "list", "--flow", "orders_sync", "--limit", "2"]);
    let ids: Vec<&str> = limited.stdout.lines().skip(1).map(|line| &line[..36]).collect();
    assert_eq!(
        ids,
        [&fixture.runs[3], &fixture.runs[1]],
        "newest first, only orders_sync"
    );

    let none = flowrun(root, &["runs", "list", "--flow", "invoices", "--status", "partial"]);
    assert_eq!(
        (none.code, none.stdout.as_str(), none.stderr.as_str()),
        (
            0,
            "",
            "no runs of flow `invoices` with status partial in sqlite://.flowrun/state.db\n"
        )
    );

    let show = flowrun(root, &["runs", "show", &fixture.runs[1]]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    settings().bind(|| insta::assert_snapshot!("show_partial", transcript(&fixture, &show)));

    let show_failed = flowrun(root, &["runs", "show", &fixture.runs[2]]);
    settings().bind(|| insta::assert_snapshot!("show_failed", transcript(&fixture, &show_failed)));
}

#[test]
fn runs_json() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let fixture = fixture(&root.join(".flowrun/state.db"));

    let list = flowrun(root, &["runs", "list", "--format", "json"]);
    assert_eq!((list.code, list.stderr.as_str()), (0, ""));
    let runs: Vec<Value> = list
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let ids: Vec<&str> = runs.iter().map(|run| run["id"].as_str().unwrap()).collect();
    let newest_first: Vec<&str> = fixture.runs.iter().rev().map(String::as_str).collect();
    assert_eq!(ids, newest_first, "one run per line, newest first");
    let keys: Vec<&str> = runs[0].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "id",
            "flow_id",
            "flow_version",
            "trigger",
            "inputs",
            "status",
            "error",
            "output",
            "created_at",
            "started_at",
            "ended_at",
            "lease_owner",
            "lease_expires_at",
            "dedupe_key",
            "enqueued",
        ]
    );
    assert_eq!(runs[1]["trigger"], json!({"event": "created", "id": 7}));

    let show = flowrun(root, &["runs", "show", &fixture.runs[1], "--format", "json"]);
    assert_eq!((show.code, show.stderr.as_str()), (0, ""));
    let detail: Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(detail["run"]["status"], "partial");
    assert_eq!(detail["run"]["output"], json!({"pushed": 2}));
    let steps: Vec<(&str, Option<u64>, &str)> = detail["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| {
            (
                record["step_id"].as_str().unwrap(),
                record["item_index"].as_u64(),
                record["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("fetch", None, "success"),
            ("push", None, "broken"),
            ("push", Some(0), "success"),
            ("push", Some(1), "broken"),
            ("push", Some(2), "ignored"),
        ]
    );
    assert_eq!(detail["steps"][0]["parameters"]["token"], "***");
    let incomplete = &detail["incomplete"][0];
    assert_eq!(incomplete["id"], fixture.incomplete.as_str());
    assert_eq!(
        (&incomplete["status"], &incomplete["failures"], &incomplete["item_key"]),
        (&json!("open"), &json!(2), &json!("order-1002"))
    );
    assert_eq!(incomplete["error"]["message"], "POST /orders → 503 (attempt 3)");
}

#[test]
fn unknown_runs_and_missing_stores() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let empty = flowrun(root, &["runs", "list"]);
    assert_eq!(
        (empty.code, empty.stdout.as_str(), empty.stderr.as_str()),
        (0, "", "no runs yet (state store .flowrun/state.db does not exist)\n")
    );
    let show = flowrun(root, &["runs", "show", "0192-nope"]);
    assert_eq!(
        (show.code, show.stderr.as_str()),
        (
            1,
            "error: no run 0192-nope (state store .flowrun/state.db does not exist)\n"
        )
    );
    assert!(!root.join(".flowrun").exists(), "reading runs creates no store");

    fixture(&root.join(".flowrun/state.db"));
    let unknown = flowrun(root, &["runs", "show", "0192-nope"]);
    insta::assert_snapshot!("show_unknown", unknown.transcript());
    assert_eq!(unknown.code, 1);

    let bad_url = flowrun(root, &["runs", "list", "--state", "sqlite://:memory:"]);
    assert_eq!(bad_url.code, 2, "{}", bad_url.stderr);
    let usage = flowrun(root, &["runs", "list", "--limit", "0"]);
    assert_eq!(usage.code, 2, "{}", usage.stderr);
}

#[test]
fn the_store_comes_from_the_project_file_and_profile() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "flowrun.yaml",
        "state: sqlite://data/runs.db\nprofiles:\n  prod:\n    state: sqlite://prod/runs.db\n",
    );
    write(root, "flows/readme.txt", "flows live here\n");
    let fixture = fixture(&root.join("prod/runs.db"));

    // From a folder below the project file, paths relative to the project's folder.
    let flows = root.join("flows");
    let default = flowrun(&flows, &["runs", "list"]);
    let expected = format!(
        "no runs yet (state store {} does not exist)\n",
        root.canonicalize().unwrap().join("data/runs.db").display()
    );
    assert_eq!((default.code, default.stderr.replace("/private/", "/")), (0, expected));

    let prod = flowrun(&flows, &["runs", "list", "--profile", "prod"]);
    assert_eq!(prod.code, 0, "{}", prod.stderr);
    assert_eq!(prod.stdout.lines().count(), 1 + fixture.runs.len(), "{}", prod.stdout);

    let unknown = flowrun(&flows, &["runs", "list", "--profile", "prd"]);
    assert_eq!(
        (unknown.code, unknown.stderr.as_str()),
        (2, "error: unknown profile `prd`; did you mean `prod`?\n")
    );
}
