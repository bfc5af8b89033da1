//! The commands and their formats: exit codes, JSON Lines, GitHub annotations, folders,
//! project files, graph, connectors, help.

use std::path::Path;

use crate::support::{flowrun, repo_root};

const VALID: &str = "flow: ok\nsteps:\n  - id: fetch\n    uses: http.request\n    with: { url: https://example.com }\n";

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ok.yaml", VALID);
    write(dir.path(), "bad.yaml", "flow: bad\nsteps: 3\n");
    assert_eq!(flowrun(dir.path(), &["validate", "ok.yaml"]).code, 0);
    assert_eq!(flowrun(dir.path(), &["validate", "bad.yaml"]).code, 2);
    let missing = flowrun(dir.path(), &["validate", "nope.yaml"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("nope.yaml"), "{}", missing.stderr);
    assert_eq!(flowrun(dir.path(), &["validate", "--format", "xml"]).code, 2);
}

#[test]
fn github_annotations_escape_percent_and_line_breaks() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "gh.yaml",
        "flow: gh\n\"50%\\r\\nkey\": 1\nsteps:\n  - id: a\n    uses: http.request\n    with: { url: https://example.com }\n",
    );
    let run = flowrun(dir.path(), &["validate", "--format", "github", "gh.yaml"]);
    assert_eq!(run.code, 2);
    insta::assert_snapshot!(run.stdout);
    assert_eq!(run.stdout.lines().count(), 1, "one annotation per line: {}", run.stdout);
    assert!(run.stdout.contains("50%25%0D%0Akey"));
}

#[test]
fn folders_project_files_and_duplicate_ids() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "flowrun.yaml",
        "connections:\n  crm:\n    connector: onecrm\n    config: { domain: crm.example.com, username: u, password: \"{{ secrets.P }}\" }\nprofiles:\n  prod:\n    connections:\n      archive: { connector: sql, config: { url: postgres://db/archive } }\n",
    );
    write(
        root,
        "flows/a.yaml",
        "flow: same\nsteps:\n  - id: find\n    uses: onecrm.search_records\n    with: { module: Account }\n",
    );
    write(
        root,
        "flows/b.yaml",
        "flow: same\nsteps:\n  - id: keep\n    uses: sql.insert\n    connection: archive\n    with: { table: accounts, rows: [] }\n",
    );
    write(root, "flows/a.test.yaml", "flow: a.yaml\ncases: []\n");
    write(root, "flows/notes.yaml", "title: not a flow\n");
    write(root, ".hidden/x.yaml", "flow: Hidden\n");
    write(root, "target/x.yaml", "flow: Target\n");
    write(root, "node_modules/x.yaml", "flow: Modules\n");
    let run = flowrun(root, &["validate"]);
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn broken_project_file() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "flowrun.yaml",
        "state: mysql://localhost/flowrun\nconections: {}\nprofiles:\n  dev:\n    connections:\n      ghost: { config: { url: x } }\n",
    );
    write(dir.path(), "ok.yaml", VALID);
    insta::assert_snapshot!(flowrun(dir.path(), &["validate", "."]).transcript());
}

#[test]
fn graph_formats() {
    let root = repo_root();
    for format in ["mermaid", "dot", "json"] {
        let run = flowrun(
            &root,
            &["graph", "flows/crm-accounts-to-exact.yaml", "--format", format],
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        insta::assert_snapshot!(format!("graph_{format}"), run.stdout);
    }
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "bad.yaml", "flow: bad\nsteps: 3\n");
    assert_eq!(flowrun(dir.path(), &["graph", "bad.yaml"]).code, 2);
}

#[test]
fn connectors_listing() {
    let root = repo_root();
    insta::assert_snapshot!("connectors_all", flowrun(&root, &["connectors"]).stdout);
    insta::assert_snapshot!("connectors_onecrm", flowrun(&root, &["connectors", "onecrm"]).stdout);
    let json = flowrun(&root, &["connectors", "exact_online", "--format", "json"]);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value[0]["name"], "exact_online");
    let unknown = flowrun(&root, &["connectors", "onecmr"]);
    assert_eq!(unknown.code, 2);
    assert!(unknown.stderr.contains("did you mean `onecrm`?"), "{}", unknown.stderr);
}

#[test]
fn help_version_and_completions() {
    let root = repo_root();
    insta::assert_snapshot!("help", flowrun(&root, &["--help"]).stdout);
    insta::assert_snapshot!("validate_help", flowrun(&root, &["validate", "--help"]).stdout);
    let version = flowrun(&root, &["--version"]);
    assert_eq!(version.code, 0);
    assert!(version.stdout.starts_with("flowrun "));
    let completions = flowrun(&root, &["completions", "bash"]);
    assert_eq!(completions.code, 0);
    assert!(completions.stdout.contains("flowrun"));
}
