//! The Conexiom extraction (`flows/conexiom-extract.yaml`) through the real binary, against an
//! in-process sandbox the test steers between runs (documents reprocessed, faults injected),
//! into a real SQLite file. The flow is copied into a temporary folder so that its database
//! (`sqlite://.flowrun/conexiom.db`, relative to the flow's folder there) and its state store
//! land there; the rows are read back through the binary too, with a `sql.query` flow.

use std::path::Path;

use flowrun_sandbox::{Fault, FaultRule, Sandbox, SandboxConfig};
use serde_json::{Value as Json, json};

use crate::util::{Run, command, repo_root, write};

/// The table counts as the README's query flow reads them.
const COUNTS: &str = r#"flow: counts
connections:
  db:
    connector: sql
    config: { url: "sqlite://.flowrun/conexiom.db" }
steps:
  - id: counts
    uses: sql.query
    with:
      sql: >
        select (select count(*) from spokecos) as spokecos,
               (select count(*) from documents) as documents,
               (select count(*) from document_lines) as document_lines,
               (select count(*) from files) as files,
               (select count(*) from alerts) as alerts,
               (select count(*) from buyers) as buyers,
               (select count(*) from addresses) as addresses
output: "{{ steps.counts.output[0] }}"
"#;

/// One extraction folder: the flow, its secrets, its database and state store, and the sandbox
/// the flow reads.
struct Extraction {
    /// Serves the sandbox; kept alive for the test.
    _runtime: tokio::runtime::Runtime,
    sandbox: Sandbox,
    dir: tempfile::TempDir,
}

impl Extraction {
    fn new() -> Extraction {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let sandbox = runtime.block_on(Sandbox::start(0, SandboxConfig::default())).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = repo_root();
        for file in ["conexiom-extract.yaml", "sandbox.env"] {
            write(dir.path(), file, std::fs::read(root.join("flows").join(file)).unwrap());
        }
        write(dir.path(), "counts.yaml", COUNTS);
        Extraction {
            _runtime: runtime,
            sandbox,
            dir,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `flowrun ARGS` in the folder, the sandbox's URL in `FLOWRUN_SANDBOX_URL`.
    fn flowrun(&self, args: &[&str]) -> Run {
        let url = self.sandbox.base_url();
        let output = command(self.path(), args, &[("FLOWRUN_SANDBOX_URL", url.as_str())])
            .output()
            .unwrap();
        let run = Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        for secret in ["conexiom-extractor", "conexiom-client-secret"] {
            assert!(
                !run.stdout.contains(secret) && !run.stderr.contains(secret),
                "`{secret}` shows:\n{}",
                run.transcript()
            );
        }
        run
    }

    /// Runs the extraction; returns the run's JSON envelope after checking its exit code.
    fn extract(&self, code: i32) -> Json {
        let run = self.flowrun(&[
            "run",
            "conexiom-extract.yaml",
            "--secrets",
            "sandbox.env",
            "--format",
            "json",
        ]);
        assert_eq!(run.code, code, "{}", run.transcript());
        serde_json::from_str(&run.stdout).unwrap_or_else(|error| panic!("not JSON ({error}): {}", run.transcript()))
    }

    /// The rows of each table.
    fn counts(&self) -> Json {
        let run = self.flowrun(&["run", "counts.yaml", "--format", "json"]);
        assert_eq!(run.code, 0, "{}", run.transcript());
        let envelope: Json = serde_json::from_str(&run.stdout).unwrap();
        envelope["output"].clone()
    }

    /// One query's rows.
    fn query(&self, sql: &str) -> Vec<Json> {
        let flow = format!(
            "flow: query\nconnections:\n  db:\n    connector: sql\n    config: {{ url: \"sqlite://.flowrun/conexiom.db\" }}\n\
             steps:\n  - id: rows\n    uses: sql.query\n    with:\n      sql: {}\noutput: \"{{{{ steps.rows.output }}}}\"\n",
            json!(sql)
        );
        write(self.path(), "query.yaml", flow);
        let run = self.flowrun(&["run", "query.yaml", "--format", "json"]);
        assert_eq!(run.code, 0, "{}", run.transcript());
        let envelope: Json = serde_json::from_str(&run.stdout).unwrap();
        envelope["output"].as_array().unwrap().clone()
    }

    /// What a complete extraction holds, from the simulator's own counts.
    fn expected(&self) -> Json {
        let counts = self.sandbox.control().conexiom_counts();
        json!({
            "spokecos": counts.spokecos,
            "documents": counts.processed_documents,
            "document_lines": counts.document_lines,
            "files": counts.processed_files,
            "alerts": counts.alerts,
            "buyers": counts.buyers,
            "addresses": counts.addresses,
        })
    }

    /// `GET` requests of document data (`…/api/documents/{id}`, not `/files`) by id.
    fn data_requests(&self) -> std::collections::BTreeMap<i64, u64> {
        let stats = self.sandbox.control().stats();
        stats["requests"]
            .as_object()
            .unwrap()
            .iter()
            .filter_map(|(key, count)| {
                let id = key.strip_prefix("GET ")?.split_once("/api/documents/")?.1;
                Some((id.parse::<i64>().ok()?, count.as_u64().unwrap()))
            })
            .collect()
    }
}

impl Drop for Extraction {
    fn drop(&mut self) {
        self.sandbox.control().clear_faults();
    }
}

#[test]
fn a_first_load_lands_the_hubco_and_a_delta_reads_only_what_changed() {
    let extraction = Extraction::new();
    let control = extraction.sandbox.control();
    // One 429 on the SpokeCo list is waited out; a refused token mid-walk is replaced.
    let api = extraction.sandbox.conexiom_url();
    let root = api.split_once("://").unwrap().1.split_once('/').unwrap().1;
    control.add_fault(
        FaultRule::new(
            format!("/{root}/api/hubcos/17/spokecos"),
            Fault::Status {
                status: 429,
                retry_after: Some("1".to_owned()),
                body: None,
            },
        )
        .times(1),
    );
    control.add_fault(FaultRule::new(format!("/{root}/api/hubcos/17/alerts"), Fault::status(401)).times(1));

    let first = extraction.extract(0);
    assert_eq!(first["status"], "success");
    let expected = extraction.expected();
    assert_eq!(first["output"], expected);
    assert_eq!(extraction.counts(), expected);
    assert_eq!(
        control.token_grants("password") + control.token_grants("refresh_token"),
        2
    );
    let first_reads = extraction.data_requests();
    assert_eq!(first_reads.len(), expected["documents"].as_u64().unwrap() as usize);
    assert!(first_reads.values().all(|count| *count == 1), "each document read once");

    // Three documents are reprocessed: the next run reads the data of those three only, and
    // updates their rows in place.
    let ids = control.conexiom_document_ids();
    let changed = control.conexiom_reprocess_documents(&[ids[5], ids[50], ids[150]]);
    let second = extraction.extract(0);
    let reads = extraction.data_requests();
    let again: Vec<i64> = reads
        .iter()
        .filter(|(id, count)| **count > first_reads.get(id).copied().unwrap_or(0))
        .map(|(id, _)| *id)
        .collect();
    let mut want = changed.clone();
    want.sort_unstable();
    assert_eq!(again, want, "document data read on the delta run");
    assert_eq!(second["output"]["documents"], 3);
    assert_eq!(extraction.counts(), expected, "no duplicate rows");
    let ids_list = changed.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let rows = extraction.query(&format!(
        "select DocumentId, ProcessedOn from documents where DocumentId in ({ids_list}) and ProcessedOn > '2025'"
    ));
    assert_eq!(
        rows.len(),
        3,
        "the reprocessed rows carry their new ProcessedOn: {rows:?}"
    );

    // Nothing changed: a third run lands nothing new.
    let third = extraction.extract(0);
    assert_eq!(third["output"]["documents"], 0);
}

#[test]
fn a_failed_run_moves_no_cursor_and_the_rerun_loads_what_is_missing_once() {
    let extraction = Extraction::new();
    let control = extraction.sandbox.control();
    let api = extraction.sandbox.conexiom_url();
    let root = api.split_once("://").unwrap().1.split_once('/').unwrap().1;
    // The alerts never come: after its retries the step fails, and the run with it.
    control.add_fault(FaultRule::new(
        format!("/{root}/api/hubcos/17/alerts"),
        Fault::status(500),
    ));
    let failed = extraction.extract(1);
    assert_eq!(failed["status"], "failed", "{failed}");
    control.clear_faults();

    let rerun = extraction.extract(0);
    let expected = extraction.expected();
    assert_eq!(extraction.counts(), expected, "everything, once");
    // The failed run committed no cursor: the rerun read the whole window again.
    assert_eq!(rerun["output"]["spokecos"], expected["spokecos"]);
}

#[test]
fn a_document_that_cannot_be_read_waits_as_an_incomplete_execution_and_retry_lands_it() {
    let extraction = Extraction::new();
    let control = extraction.sandbox.control();
    let api = extraction.sandbox.conexiom_url();
    let root = api.split_once("://").unwrap().1.split_once('/').unwrap().1;
    let ids = control.conexiom_document_ids();
    // A processed document: its data answers 500 for now.
    let broken = ids[10];
    control.add_fault(FaultRule::new(
        format!("/{root}/api/documents/{broken}"),
        Fault::status(500),
    ));
    let partial = extraction.extract(3);
    assert_eq!(partial["status"], "partial", "{partial}");
    let run_id = partial["run_id"].as_str().unwrap().to_owned();
    let expected = extraction.expected();
    let counts = extraction.counts();
    assert_eq!(
        counts["documents"].as_u64().unwrap() + 1,
        expected["documents"].as_u64().unwrap(),
        "all but the broken document"
    );
    assert!(
        extraction
            .query(&format!("select 1 from documents where DocumentId = {broken}"))
            .is_empty()
    );

    control.clear_faults();
    let retried = extraction.flowrun(&[
        "runs",
        "retry",
        &run_id,
        "--flow",
        "conexiom-extract.yaml",
        "--secrets",
        "sandbox.env",
        "--format",
        "json",
    ]);
    assert_eq!(retried.code, 0, "{}", retried.transcript());
    assert_eq!(extraction.counts(), expected);
    let lines = extraction.query(&format!(
        "select count(*) as n from document_lines where DocumentId = {broken}"
    ));
    assert!(lines[0]["n"].as_i64().unwrap() > 0, "its lines landed");

    // The cursor moved with the partial run: the next run reads nothing new.
    let next = extraction.extract(0);
    assert_eq!(next["output"]["documents"], 0, "{next}");
}
