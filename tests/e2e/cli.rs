//! The command line: exit codes, output formats, help, version, completions, connectors and
//! graph.

use crate::util::{assert_json_lines, flowrun, repo_root, write};

const VALID: &str = "flow: ok\nsteps:\n  - id: fetch\n    uses: http.request\n    with: { url: https://example.com }\n";

#[test]
fn exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ok.yaml", VALID);
    write(dir.path(), "bad.yaml", "flow: bad\nsteps: 3\n");
    let ok = flowrun(dir.path(), &["validate", "ok.yaml"]);
    assert_eq!((ok.code, ok.stderr.as_str()), (0, "1 file checked: no problems\n"));
    assert_eq!(flowrun(dir.path(), &["validate", "bad.yaml"]).code, 2);
    assert_eq!(flowrun(dir.path(), &["validate", "ok.yaml", "bad.yaml"]).code, 2);
    let missing = flowrun(dir.path(), &["validate", "nope.yaml"]);
    insta::assert_snapshot!("missing_path", missing.transcript());
    assert_eq!(missing.code, 2);
    let usage = flowrun(dir.path(), &["validate", "--format", "xml"]);
    assert_eq!(usage.code, 2, "{}", usage.stderr);
    assert_eq!(flowrun(dir.path(), &["no-such-command"]).code, 2);
}

#[test]
fn json_is_one_object_per_line_with_fixed_keys() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "many.yaml",
        "flow: Many\nstpes: 1\nsteps:\n  - id: a\n    uses: http.reqest\n  - id: b\n    uses: http.request\n    timeout: soon\n    with: { url: https://example.com }\n",
    );
    let run = flowrun(dir.path(), &["validate", "--format", "json", "many.yaml"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr, "", "JSON output is only on stdout");
    assert_json_lines(&run.stdout);
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(lines.len() >= 4, "{}", run.stdout);
    let positions: Vec<(u64, u64)> = lines
        .iter()
        .map(|value| (value["line"].as_u64().unwrap(), value["column"].as_u64().unwrap()))
        .collect();
    let mut sorted = positions.clone();
    sorted.sort();
    assert_eq!(positions, sorted, "diagnostics are sorted by position");
    for value in &lines {
        assert_eq!(value["file"], "many.yaml");
        assert!(["error", "warning"].contains(&value["severity"].as_str().unwrap()));
    }
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
    insta::assert_snapshot!(run.transcript());
    assert_eq!(run.stdout.lines().count(), 1, "one annotation per line: {}", run.stdout);
    assert!(
        run.stdout.starts_with("::error file=gh.yaml,line=2,col=1"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("50%25%0D%0Akey"), "{}", run.stdout);
    assert!(!run.stdout.trim_end().contains('\r'));
}

#[test]
fn github_warnings() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "w.yaml",
        format!("{VALID}inputs:\n  since: {{ type: string }}\n"),
    );
    let run = flowrun(dir.path(), &["validate", "--format", "github", "w.yaml"]);
    assert_eq!(run.code, 0);
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn version() {
    let run = flowrun(&repo_root(), &["--version"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.starts_with("flowrun "), "{}", run.stdout);
}

#[test]
fn help() {
    let root = repo_root();
    let help = flowrun(&root, &["--help"]);
    assert_eq!(help.code, 0);
    insta::assert_snapshot!("help", help.stdout);
    let validate = flowrun(&root, &["validate", "--help"]);
    assert_eq!(validate.code, 0);
    insta::assert_snapshot!("validate_help", validate.stdout);
}

#[test]
fn completions() {
    let run = flowrun(&repo_root(), &["completions", "bash"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("flowrun") && run.stdout.contains("validate"),
        "{}",
        run.stdout
    );
    assert_eq!(flowrun(&repo_root(), &["completions", "cmd"]).code, 2);
}

#[test]
fn connectors() {
    let root = repo_root();
    let all = flowrun(&root, &["connectors"]);
    assert_eq!(all.code, 0);
    insta::assert_snapshot!("connectors_all", all.stdout);
    let onecrm = flowrun(&root, &["connectors", "onecrm"]);
    assert_eq!(onecrm.code, 0);
    insta::assert_snapshot!("connectors_onecrm", onecrm.stdout);
    let json = flowrun(&root, &["connectors", "exact_online", "--format", "json"]);
    assert_eq!(json.code, 0);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value[0]["name"], "exact_online");
    let nope = flowrun(&root, &["connectors", "nope"]);
    assert_eq!(nope.code, 2);
    insta::assert_snapshot!("connectors_nope", nope.transcript());
    let typo = flowrun(&root, &["connectors", "onecmr"]);
    assert_eq!(typo.code, 2);
    assert!(typo.stderr.contains("did you mean `onecrm`?"), "{}", typo.stderr);
}

#[test]
fn graph() {
    let root = repo_root();
    for format in ["mermaid", "dot", "json"] {
        let run = flowrun(
            &root,
            &["graph", "flows/crm-accounts-to-exact.yaml", "--format", format],
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        insta::assert_snapshot!(format!("graph_{format}"), run.stdout);
    }
    let json = flowrun(
        &root,
        &["graph", "flows/crm-accounts-to-exact.yaml", "--format", "json"],
    );
    serde_json::from_str::<serde_json::Value>(&json.stdout).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "bad.yaml",
        "flow: bad\nsteps:\n  - id: a\n    uses: http.request\n    needs: [a]\n    with: { url: https://example.com }\n",
    );
    let bad = flowrun(dir.path(), &["graph", "bad.yaml"]);
    assert_eq!(bad.code, 2);
    assert_eq!(bad.stdout, "", "no graph for an invalid flow");
    insta::assert_snapshot!("graph_invalid", bad.transcript());
    let missing = flowrun(dir.path(), &["graph", "missing.yaml"]);
    assert_ne!(missing.code, 0);
    insta::assert_snapshot!("graph_missing_file", missing.transcript());
}
