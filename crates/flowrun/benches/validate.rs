//! `validate` over a generated repository of 1,000 flows × 30 steps, against the bare YAML
//! parse of the same files (saphyr-parser's event stream) in the same run. Target: ≤ 3×.
//!
//! Run: `cargo bench -p flowrun --bench validate`.
//!
//! `phases::*` time the parts of `validate_flow` that the public API exposes, on the same
//! files, so a regression can be placed: the positioned tree, `Node::to_json`, the flow
//! schema, serde, and the per-module / per-connection schema checks of the semantic pass.
//!
//! `FLOWRUN_BENCH_WRITE_DIR=/tmp/repo cargo bench -p flowrun --bench validate` writes the
//! generated repository there (`flow-0000.yaml` …) and exits without benchmarking, so the
//! real binary can be measured on it: `/usr/bin/time -v flowrun validate /tmp/repo`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use flowrun_flow::catalog::Catalog;
use flowrun_flow::model::Flow;
use flowrun_flow::yaml::{Limits, Node};
use flowrun_flow::{Context, validate_flow};
use serde_json::Value;

const N_FLOWS: usize = 1_000;
const N_STEPS: usize = 30;
const SAMPLES: u32 = 10;

fn main() {
    if let Some(dir) = std::env::var_os("FLOWRUN_BENCH_WRITE_DIR") {
        write_repository(Path::new(&dir));
        return;
    }
    assert_all_valid();
    divan::main();
}

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        Catalog::new(vec![
            flowrun_connector_http::spec(),
            flowrun_connector_onecrm::spec(),
            flowrun_connector_conexiom::spec(),
            flowrun_connector_exact_online::spec(),
            flowrun_connector_sql::spec(),
        ])
    })
}

fn repository() -> &'static [String] {
    static FILES: OnceLock<Vec<String>> = OnceLock::new();
    FILES.get_or_init(|| (0..N_FLOWS).map(flow).collect())
}

fn context() -> Context<'static> {
    Context {
        catalog: catalog(),
        project: None,
    }
}

fn path(index: usize) -> PathBuf {
    PathBuf::from(format!("flows/flow-{index:04}.yaml"))
}

/// Every generated flow validates with no diagnostic at all (errors or warnings). Also warms
/// the catalog's and the flow schema's compiled validators, as the first file of a real
/// `flowrun validate` would.
fn assert_all_valid() {
    let mut steps = 0;
    let mut edges = 0;
    for (index, text) in repository().iter().enumerate() {
        let report = validate_flow(&path(index), text.as_bytes(), context());
        assert!(
            report.diagnostics.is_empty(),
            "generated flow {index} is not clean: {:#?}\n{text}",
            report.diagnostics
        );
        let flow = report.flow.expect("a valid flow has its model");
        assert_eq!(flow.steps.len(), N_STEPS);
        steps += flow.steps.len();
        edges += report.graph.map_or(0, |graph| graph.edges().len());
    }
    let bytes: usize = repository().iter().map(String::len).sum();
    eprintln!(
        "repository: {N_FLOWS} flows, {steps} steps, {edges} graph edges, {:.1} MiB of YAML",
        bytes as f64 / (1024.0 * 1024.0)
    );
}

fn write_repository(dir: &Path) {
    std::fs::create_dir_all(dir).expect("create the output folder");
    for (index, text) in repository().iter().enumerate() {
        std::fs::write(dir.join(format!("flow-{index:04}.yaml")), text).expect("write a flow");
    }
    eprintln!("wrote {N_FLOWS} flows to {}", dir.display());
}

/// One realistic flow: inputs, five connections, a schedule, and 30 steps in five rounds of
/// read → transform → publish (for_each) → documents (incremental) → webhook → upsert, every
/// step reading earlier ones through templates so the graph has edges, within and across rounds.
fn flow(index: usize) -> String {
    let minute = index % 60;
    let concurrency = 1 + index % 8;
    let mut text = String::with_capacity(16 * 1024);
    let _ = write!(
        text,
        r#"# yaml-language-server: $schema=../schemas/flow.schema.json
flow: generated-{index:04}
description: Generated flow {index} for the validate benchmark.

inputs:
  since: {{ type: string, default: "2024-01-01T00:00:00Z" }}
  limit: {{ type: integer, default: 500 }}
  dry: {{ type: boolean, default: false, description: Skip the webhook. }}

connections:
  crm:
    connector: onecrm
    config:
      domain: "{{{{ env.ONECRM_DOMAIN }}}}"
      username: "{{{{ env.ONECRM_USER }}}}"
      password: "{{{{ secrets.ONECRM_PASSWORD }}}}"
  exact:
    connector: exact_online
    config:
      base_uri: https://start.exactonline.nl
      client_id: "{{{{ env.EXACT_CLIENT_ID }}}}"
      client_secret: "{{{{ secrets.EXACT_CLIENT_SECRET }}}}"
  conexiom:
    connector: conexiom
    config:
      api_url: "{{{{ env.CONEXIOM_API_URL }}}}"
      hubco_id: "{{{{ env.CONEXIOM_HUBCO_ID }}}}"
      username: "{{{{ env.CONEXIOM_USER }}}}"
      password: "{{{{ secrets.CONEXIOM_PASSWORD }}}}"
      client_id: "{{{{ env.CONEXIOM_CLIENT_ID }}}}"
      client_secret: "{{{{ secrets.CONEXIOM_CLIENT_SECRET }}}}"
  hooks:
    connector: http
    config:
      base_url: https://hooks.example.com/v1
      auth: {{ kind: bearer, token: "{{{{ secrets.HOOKS_TOKEN }}}}" }}
      rate_limit: {{ requests: 60, per: 1m }}
  warehouse:
    connector: sql
    config:
      url: "postgres://flowrun:{{{{ secrets.DB_PASSWORD }}}}@db/warehouse"

trigger:
  schedule: {{ cron: "{minute} */2 * * *", timezone: Europe/Amsterdam, catch_up: last }}

steps:
"#
    );
    for round in 0..N_STEPS / 6 {
        let r = round;
        // Each round after the first waits on the previous round's upsert and webhook.
        let after = if r == 0 {
            String::new()
        } else {
            format!("    needs: [land_{}, notify_{}]\n", r - 1, r - 1)
        };
        let _ = write!(
            text,
            r#"  - id: accounts_{r}
    uses: onecrm.search_records
    connection: crm
{after}    with:
      module: Account
      filter_text: "{{{{ inputs.since }}}}"
      fields: [name, email1, date_modified, account_type]
      limit: 500
    timeout: 30s
    retry: {{ attempts: 3, backoff: fixed, initial: 2s, on: [timeout, connect, 429] }}

  - id: clean_{r}
    transform:
      input: "{{{{ steps.accounts_{r}.output }}}}"
      pipeline:
        - filter: "item.email1 and item.account_type != 'Competitor'"
        - map:
            Name: "{{{{ item.name }}}}"
            Email: "{{{{ item.email1 | lower }}}}"
            Modified: "{{{{ item.date_modified }}}}"
        - set: {{ source: onecrm, round: {r} }}
        - sort: {{ by: "item.Name", order: asc }}
        - dedupe: "item.Email"

  - id: create_{r}
    uses: exact_online.publish
    connection: exact
    for_each: "{{{{ steps.clean_{r}.output }}}}"
    item_key: "{{{{ item.Email }}}}"
    concurrency: {concurrency}
    with:
      action: create
      entity: crm/Accounts
      payload:
        Name: "{{{{ item.Name }}}}"
        Email: "{{{{ item.Email }}}}"
    retry: {{ attempts: 5, backoff: exponential, initial: 1s, max: 30s, on: [429, 5xx] }}
    on_error: break

  - id: docs_{r}
    uses: conexiom.documents
    connection: conexiom
    with:
      spokeco_id: "{{{{ env.CONEXIOM_SPOKECO_ID }}}}"
      processed_on_from: "{{{{ cursor }}}}"
    incremental:
      cursor: "{{{{ now() }}}}"
      initial: "2024-01-01T00:00:00Z"
    on_error: ignore

  - id: notify_{r}
    uses: http.request
    connection: hooks
    if: "not inputs.dry"
    with:
      method: POST
      url: /accounts/sync
      body:
        created: "{{{{ steps.create_{r}.output | length }}}}"
        documents: "{{{{ steps.docs_{r}.output | length }}}}"
        status: "{{{{ steps.create_{r}.status }}}}"
        run: "{{{{ run.id }}}}"
    timeout: 10s
    on_error: {{ resume: {{ status: 0 }} }}

  - id: land_{r}
    uses: sql.upsert
    connection: warehouse
    with:
      table: crm.accounts
      rows: "{{{{ steps.clean_{r}.output }}}}"
      key: [Email]
    retry: {{ attempts: 3, backoff: exponential, initial: 500ms, max: 10s }}

"#
        );
    }
    let last = N_STEPS / 6 - 1;
    let _ = write!(
        text,
        r#"output:
  created: "{{{{ steps.create_{last}.output | length }}}}"
  landed: "{{{{ steps.land_{last}.output.rows_affected }}}}"
  limit: "{{{{ inputs.limit }}}}"
"#
    );
    text
}

#[divan::bench(sample_count = SAMPLES)]
fn bare_yaml_parse(bencher: divan::Bencher) {
    let files = repository();
    bencher.bench_local(|| {
        let mut events = 0usize;
        for text in files {
            for event in saphyr_parser::Parser::new_from_str(text) {
                events += usize::from(event.is_ok());
            }
        }
        events
    });
}

#[divan::bench(sample_count = SAMPLES)]
fn positioned_tree(bencher: divan::Bencher) {
    let files = repository();
    bencher.bench_local(|| {
        files
            .iter()
            .filter(|text| flowrun_flow::yaml::parse(text, Limits::default()).0.is_some())
            .count()
    });
}

#[divan::bench(sample_count = SAMPLES)]
fn validate(bencher: divan::Bencher) {
    let files = repository();
    let paths: Vec<PathBuf> = (0..files.len()).map(path).collect();
    bencher.bench_local(|| {
        files
            .iter()
            .zip(&paths)
            .map(|(text, path)| validate_flow(path, text.as_bytes(), context()))
            .filter(|report| report.has_errors())
            .count()
    });
}

/// The phases of `validate_flow`, each over all 1,000 files, with its input prepared outside
/// the timed region. What is left of `validate` is the semantic pass (references, graph,
/// cron, time zones, warnings) and the diagnostics bookkeeping.
mod phases {
    use super::*;

    fn trees() -> Vec<Node> {
        repository()
            .iter()
            .map(|text| flowrun_flow::yaml::parse(text, Limits::default()).0.expect("parses"))
            .collect()
    }

    fn flow_validator() -> &'static jsonschema::Validator {
        static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
        VALIDATOR.get_or_init(|| {
            jsonschema::draft7::new(&flowrun_flow::schema::flow_schema()).expect("the flow schema compiles")
        })
    }

    #[divan::bench(sample_count = SAMPLES)]
    fn to_json(bencher: divan::Bencher) {
        let trees = trees();
        // Each value dropped at once, as `validate_flow` does, so the caches stay as warm as there.
        bencher.bench_local(|| {
            trees
                .iter()
                .map(|tree| usize::from(tree.to_json().is_object()))
                .sum::<usize>()
        });
    }

    /// The flow schema over the whole document, as `structure::check` runs it.
    #[divan::bench(sample_count = SAMPLES)]
    fn flow_schema(bencher: divan::Bencher) {
        let values: Vec<Value> = trees().iter().map(Node::to_json).collect();
        let validator = flow_validator();
        bencher.bench_local(|| {
            values
                .iter()
                .map(|value| validator.iter_errors(value).count())
                .sum::<usize>()
        });
    }

    #[divan::bench(sample_count = SAMPLES)]
    fn serde_deserialize(bencher: divan::Bencher) {
        let values: Vec<Value> = trees().iter().map(Node::to_json).collect();
        bencher
            .with_inputs(|| values.clone())
            .bench_local_values(|values: Vec<Value>| {
                values
                    .into_iter()
                    .map(|value| serde_json::from_value::<Flow>(value).expect("deserializes"))
                    .collect::<Vec<Flow>>()
            });
    }

    /// The semantic pass's schema checks: every step's `with` against its module's schema and
    /// every connection's `config` against its connector's, each subtree converted to JSON
    /// first as `structure::check` does.
    #[divan::bench(sample_count = SAMPLES)]
    fn module_and_connection_schemas(bencher: divan::Bencher) {
        let trees = trees();
        let catalog = catalog();
        bencher.bench_local(|| {
            let mut errors = 0usize;
            for tree in &trees {
                for step in tree.get("steps").and_then(Node::as_seq).unwrap_or_default() {
                    let (Some(uses), Some(with)) = (step.get("uses").and_then(Node::as_str), step.get("with")) else {
                        continue;
                    };
                    if let Some(validator) = catalog.validator(uses) {
                        errors += validator.iter_errors(&with.to_json()).count();
                    }
                }
                for (_, connection) in tree.get("connections").and_then(Node::as_map).unwrap_or_default() {
                    let (Some(connector), Some(config)) = (
                        connection.get("connector").and_then(Node::as_str),
                        connection.get("config"),
                    ) else {
                        continue;
                    };
                    if let Some(validator) = catalog.validator(connector) {
                        errors += validator.iter_errors(&config.to_json()).count();
                    }
                }
            }
            errors
        });
    }
}
