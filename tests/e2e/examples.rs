//! The example flows in `flows/` are exactly what users copy: they must be spotless.

use crate::util::{flowrun, repo_root};

#[test]
fn example_flows_have_no_diagnostics() {
    let run = flowrun(&repo_root(), &["validate", "flows/"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary = run.stderr.lines().last().unwrap_or_default();
    assert!(summary.ends_with("checked: no problems"), "{}", run.stderr);
    assert_eq!(
        run.stderr.lines().count(),
        1,
        "nothing but the summary:\n{}",
        run.stderr
    );
    let strict = flowrun(
        &repo_root(),
        &["validate", "--deny-warnings", "--format", "json", "flows/"],
    );
    assert_eq!((strict.code, strict.stdout.as_str()), (0, ""), "{}", strict.stdout);
}

#[test]
fn example_flows_declare_their_schema() {
    let mut count = 0;
    for entry in std::fs::read_dir(repo_root().join("flows")).unwrap() {
        let path = entry.unwrap().path();
        if path
            .extension()
            .is_none_or(|extension| extension != "yaml" && extension != "yml")
        {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# yaml-language-server: $schema="),
            "{} lacks the schema line",
            path.display()
        );
        count += 1;
    }
    assert!(count >= 3, "the examples are gone");
}

/// Every example flow has tests beside it (`<name>.test.yaml`), and `flowrun test flows/`
/// passes them all: offline, with mocks and a recorded cassette of the sandbox.
#[test]
fn example_flows_pass_their_tests() {
    let flows = repo_root().join("flows");
    let mut test_files = Vec::new();
    let mut flow_files = Vec::new();
    for entry in std::fs::read_dir(&flows).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(flow) = name.strip_suffix(".test.yaml") {
            test_files.push(name.clone());
            assert!(
                flows.join(format!("{flow}.yaml")).exists(),
                "{name} has no flow beside it"
            );
        } else if name.ends_with(".yaml") && name != "flowrun.yaml" {
            flow_files.push(name);
        }
    }
    test_files.sort();
    flow_files.sort();
    for flow in &flow_files {
        let test = flow.replace(".yaml", ".test.yaml");
        assert!(test_files.contains(&test), "{flow} has no {test}");
    }
    assert!(test_files.len() >= 5, "the example tests are gone: {test_files:?}");

    let run = flowrun(&repo_root(), &["test", "flows/"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    for file in &test_files {
        assert!(
            run.stdout
                .lines()
                .any(|line| line.starts_with(&format!("flows/{file} (flow "))),
            "{file} is not reported:\n{}",
            run.transcript()
        );
    }
    let passed_lines = run.stdout.lines().filter(|line| line.starts_with("  ✓ ")).count();
    let summary = run.stdout.lines().last().unwrap_or_default();
    let passed: usize = summary
        .strip_suffix(" s")
        .and_then(|summary| summary.split_once(" passed, 0 failed in "))
        .and_then(|(passed, _)| passed.parse().ok())
        .unwrap_or_else(|| panic!("unexpected summary `{summary}`:\n{}", run.transcript()));
    assert_eq!(passed, passed_lines, "{}", run.transcript());
    assert!(passed >= 10, "only {passed} cases:\n{}", run.transcript());
}
