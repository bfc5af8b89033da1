//! The corpus of broken flows: each file's human and JSON diagnostics, snapshotted.

use crate::support::{flowrun, repo_root};

#[test]
fn every_broken_flow_is_reported_with_positions() {
    let folder = repo_root().join("tests/fixtures/broken");
    insta::glob!("../fixtures/broken", "*.yaml", |path| {
        let name = path.file_name().unwrap().to_str().unwrap();
        let human = flowrun(&folder, &["validate", name]);
        let json = flowrun(&folder, &["validate", "--format", "json", name]);
        assert_eq!(human.code, json.code, "{name}: formats disagree on the exit code");
        let expected_code = if name.contains("warnings-only") { 0 } else { 2 };
        assert_eq!(human.code, expected_code, "{name}:\n{}", human.stderr);
        for line in json.stdout.lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(
                keys,
                [
                    "file",
                    "line",
                    "column",
                    "end_line",
                    "end_column",
                    "severity",
                    "code",
                    "message",
                    "help"
                ]
            );
        }
        insta::assert_snapshot!(format!("{}\n--- json\n{}", human.transcript(), json.stdout));
    });
}

#[test]
fn warnings_fail_only_when_denied() {
    let folder = repo_root().join("tests/fixtures/broken");
    let name = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .find(|name| name.contains("warnings-only"))
        .unwrap();
    assert_eq!(flowrun(&folder, &["validate", &name]).code, 0);
    let denied = flowrun(&folder, &["validate", "--deny-warnings", &name]);
    assert_eq!(denied.code, 2);
    assert!(denied.stderr.contains("unused-input"));
}

#[test]
fn the_example_flows_are_valid_and_declare_their_schema() {
    let root = repo_root();
    let run = flowrun(&root, &["validate", "flows/"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.ends_with("checked: no problems\n"), "{}", run.stderr);
    for entry in std::fs::read_dir(root.join("flows")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# yaml-language-server: $schema="),
            "{} lacks the schema line",
            path.display()
        );
    }
}
