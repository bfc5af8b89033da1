//! `validate` over a generated repository of 1,000 flows × 30 steps, against the bare YAML
//! parse of the same files (saphyr-parser's event stream) in the same run. Target: ≤ 3×.
//!
//! Run: `cargo bench -p flowrun --bench validate`.

use std::path::Path;

use flowrun_flow::catalog::Catalog;
use flowrun_flow::{Context, validate_flow};

fn main() {
    divan::main();
}

const N_FLOWS: usize = 1_000;
const N_STEPS: usize = 30;

fn catalog() -> Catalog {
    Catalog::new(vec![
        flowrun_connector_http::spec(),
        flowrun_connector_onecrm::spec(),
        flowrun_connector_conexiom::spec(),
        flowrun_connector_exact_online::spec(),
        flowrun_connector_sql::spec(),
    ])
}

/// One realistic flow: connections, an input, a schedule, and steps of every kind that read
/// earlier steps (so the graph has edges).
fn flow(index: usize) -> String {
    let mut text = format!(
        "flow: generated-{index}\ninputs:\n  since: {{ type: string, default: \"2024-01-01T00:00:00Z\" }}\nconnections:\n  crm:\n    connector: onecrm\n    config: {{ domain: crm.example.com, username: api, password: \"{{{{ secrets.CRM }}}}\" }}\n  exact:\n    connector: exact_online\n    config: {{ base_uri: https://start.exactonline.nl, client_id: id, client_secret: \"{{{{ secrets.EXACT }}}}\" }}\n  conexiom:\n    connector: conexiom\n    config: {{ api_url: https://api.example.com, hubco_id: 7, username: u, password: p, client_id: c, client_secret: s }}\n  db:\n    connector: sql\n    config: {{ url: sqlite://data.db }}\ntrigger:\n  schedule: {{ cron: \"0 */15 * * * *\", timezone: Europe/Amsterdam }}\nsteps:\n"
    );
    for step in 0..N_STEPS {
        let previous = if step == 0 {
            String::from("s0")
        } else {
            format!("s{}", step - 1)
        };
        let body = match step % 6 {
            0 => "    uses: onecrm.search_records\n    with: { module: Account, filter_text: \"{{ inputs.since }}\", fields: [name, email1], limit: 500 }\n".to_owned(),
            1 => format!("    uses: exact_online.publish\n    for_each: \"{{{{ steps.{previous}.output }}}}\"\n    item_key: \"{{{{ item.id }}}}\"\n    concurrency: 4\n    with: {{ action: create, entity: crm/Accounts, payload: \"{{{{ item }}}}\" }}\n    retry: {{ attempts: 5, backoff: exponential, initial: 1s, max: 30s, on: [429, 5xx] }}\n    on_error: break\n"),
            2 => format!("    uses: conexiom.documents\n    with: {{ spokeco_id: \"{{{{ steps.{previous}.output }}}}\", processed_on_from: \"{{{{ cursor }}}}\" }}\n    incremental: {{ cursor: \"{{{{ now() }}}}\", initial: \"2024-01-01\" }}\n"),
            3 => format!("    uses: http.request\n    needs: [{previous}]\n    timeout: 30s\n    with: {{ method: POST, url: \"https://example.com/hook\", body: {{ text: \"{{{{ steps.{previous}.status }}}}\" }} }}\n"),
            4 => format!("    transform:\n      input: \"{{{{ steps.{previous}.output }}}}\"\n      pipeline:\n        - filter: \"item.email1\"\n        - map: {{ name: \"{{{{ item.name }}}}\", email: \"{{{{ item.email1 | lower }}}}\" }}\n        - sort: {{ by: item.name, order: asc }}\n        - dedupe: item.email\n"),
            _ => format!("    uses: sql.upsert\n    connection: db\n    with: {{ table: accounts, rows: \"{{{{ steps.{previous}.output }}}}\", key: [email] }}\n"),
        };
        text.push_str(&format!("  - id: s{step}\n{body}"));
    }
    text.push_str(&format!(
        "output:\n  last: \"{{{{ steps.s{}.output }}}}\"\n",
        N_STEPS - 1
    ));
    text
}

fn repository() -> Vec<String> {
    (0..N_FLOWS).map(flow).collect()
}

#[divan::bench(sample_count = 5)]
fn bare_yaml_parse(bencher: divan::Bencher) {
    let files = repository();
    bencher.bench_local(|| {
        let mut events = 0usize;
        for text in &files {
            events += saphyr_parser::Parser::new_from_str(text).count();
        }
        events
    });
}

#[divan::bench(sample_count = 5)]
fn positioned_tree(bencher: divan::Bencher) {
    let files = repository();
    bencher.bench_local(|| {
        files
            .iter()
            .filter(|text| flowrun_flow::yaml::parse(text, Default::default()).0.is_some())
            .count()
    });
}

#[divan::bench(sample_count = 5)]
fn validate(bencher: divan::Bencher) {
    let files = repository();
    let catalog = catalog();
    let first = validate_flow(
        Path::new("f.yaml"),
        files[0].as_bytes(),
        Context {
            catalog: &catalog,
            project: None,
        },
    );
    assert!(
        first.diagnostics.is_empty(),
        "the generated flow is valid: {:#?}",
        first.diagnostics
    );
    bencher.bench_local(|| {
        files
            .iter()
            .map(|text| {
                validate_flow(
                    Path::new("f.yaml"),
                    text.as_bytes(),
                    Context {
                        catalog: &catalog,
                        project: None,
                    },
                )
            })
            .filter(|report| report.has_errors())
            .count()
    });
}
