//! The corpus: each committed flow and project, and inputs generated here, with a reviewed
//! snapshot of the exit code, the human diagnostics and the JSON diagnostics.

use std::time::Instant;

use crate::util::{flowrun, repo_root, validate_both, write};

/// One kind of problem per file (unless the name says otherwise): each must be reported with
/// the right position and a help line. Files named `*warnings*` hold only warnings: exit 0,
/// and 2 with `--deny-warnings`, which the snapshot shows too.
#[test]
fn invalid_flows() {
    let folder = repo_root().join("tests/corpus/invalid");
    insta::glob!("../corpus/invalid", "*.yaml", |path| {
        let name = path.file_name().unwrap().to_str().unwrap();
        let (code, mut text) = validate_both(&folder, name);
        if name.contains("warnings") {
            assert_eq!(code, 0, "{name}: warnings do not fail\n{text}");
            let denied = flowrun(&folder, &["validate", "--deny-warnings", name]);
            assert_eq!(denied.code, 2, "{name}: --deny-warnings fails on warnings");
            text.push_str(&format!(
                "--- --deny-warnings\nexit: {}\n{}",
                denied.code, denied.stderr
            ));
        } else {
            assert_eq!(code, 2, "{name}: an invalid flow exits 2\n{text}");
        }
        insta::assert_snapshot!(text);
    });
}

/// Valid flows: no diagnostics at all.
#[test]
fn valid_flows() {
    let folder = repo_root().join("tests/corpus/valid");
    insta::glob!("../corpus/valid", "*.yaml", |path| {
        let name = path.file_name().unwrap().to_str().unwrap();
        let (code, text) = validate_both(&folder, name);
        assert_eq!(code, 0, "{text}");
        assert!(text.contains("1 file checked: no problems"), "{text}");
        insta::assert_snapshot!(text);
    });
}

/// Each folder of `tests/corpus/projects` is a repository with a `flowrun.yaml`, validated as
/// a whole from inside it.
#[test]
fn projects() {
    insta::glob!("../corpus/projects", "*/flowrun.yaml", |path| {
        let dir = path.parent().unwrap();
        let (_, text) = validate_both(dir, ".");
        assert!(!text.contains("canary-value"), "a secret's value was printed:\n{text}");
        insta::assert_snapshot!(text);
    });
}

/// Validates `bytes` written to a temporary folder under `name`, from inside that folder.
fn validate_generated(name: &str, bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), name, bytes);
    let (_, text) = validate_both(dir.path(), name);
    text
}

#[test]
fn generated_alias_bomb() {
    let mut text = String::from(
        "flow: bomb\nsteps:\n  - id: a\n    uses: http.request\n    with:\n      url: https://example.com\n      body:\n        lol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for level in 1..10 {
        let refs = vec![format!("*l{}", level - 1); 10].join(", ");
        text.push_str(&format!("        lol{level}: &l{level} [{refs}]\n"));
    }
    let started = Instant::now();
    let snapshot = validate_generated("bomb.yaml", text.as_bytes());
    assert!(
        started.elapsed().as_secs() < 10,
        "the alias bomb took {:?}",
        started.elapsed()
    );
    insta::assert_snapshot!(snapshot);
}

#[test]
fn generated_deep_flow_style() {
    let text = format!("flow: deep\nsteps: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    insta::assert_snapshot!(validate_generated("deep.yaml", text.as_bytes()));
}

#[test]
fn generated_deep_block_style() {
    // One space per level: 10,000 levels are already 50 MB of indentation.
    let block: String = (0..10_000)
        .map(|level| format!("{}k{level}:\n", " ".repeat(level)))
        .collect();
    let text = format!(
        "flow: deep\nsteps:\n  - id: a\n    uses: http.request\n    with:\n      url: https://example.com\nbody:\n{block}"
    );
    insta::assert_snapshot!(validate_generated("deep.yaml", text.as_bytes()));
}

/// Block sequences nest on one line: `- - - x`.
#[test]
fn generated_deep_block_sequences() {
    let text = format!("flow: deep\nsteps:\n{}x\n", "- ".repeat(10_000));
    insta::assert_snapshot!(validate_generated("deep.yaml", text.as_bytes()));
}

#[test]
fn generated_invalid_utf8_on_line_3() {
    let bytes =
        b"flow: bytes\nsteps:\n  - id: caf\xe9\n    uses: http.request\n    with: { url: https://example.com }\n";
    insta::assert_snapshot!(validate_generated("bytes.yaml", bytes));
}

#[test]
fn generated_empty_file() {
    insta::assert_snapshot!(validate_generated("empty.yaml", b""));
}

#[test]
fn generated_tabs_for_indentation() {
    insta::assert_snapshot!(validate_generated(
        "tabs.yaml",
        b"flow: tabs\nsteps:\n\t- id: a\n\t  uses: http.request\n\t  with: { url: https://example.com }\n"
    ));
}

/// 20 MB of valid steps with one typo at the very end: found, at the right line, in time.
#[test]
fn generated_twenty_megabytes() {
    let mut text = String::from("flow: big\nsteps:\n");
    let mut index = 0;
    while text.len() < 20 * 1024 * 1024 {
        text.push_str(&format!(
            "  - id: s{index}\n    uses: http.request\n    with: {{ url: \"https://example.com/{index}\", method: GET, headers: {{ x-padding: \"{}\" }} }}\n",
            "p".repeat(400)
        ));
        index += 1;
    }
    let last_line = text.lines().count() + 2;
    text.push_str("  - id: last\n    uses: http.reqest\n    with: { url: https://example.com }\n");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "big.yaml", &text);
    let started = Instant::now();
    let run = flowrun(dir.path(), &["validate", "--format", "json", "big.yaml"]);
    let elapsed = started.elapsed();
    eprintln!("validating {} MB took {elapsed:?}", text.len() / (1024 * 1024));
    assert_eq!(run.code, 2, "{}", &run.stderr[..run.stderr.len().min(2000)]);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", &run.stdout[..run.stdout.len().min(2000)]);
    let diagnostic: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(diagnostic["code"], "unknown-module");
    assert_eq!(diagnostic["line"], last_line);
    assert!(elapsed.as_secs() < 60, "validating 20 MB took {elapsed:?}");
}

/// What `flowrun validate` (no path) finds in a folder: flows by their `flow:` key, the project
/// file, not flow tests, not hidden folders, `target/` or `node_modules/`.
#[test]
fn folder_discovery() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let flow = |id: &str| {
        format!(
            "flow: {id}\nsteps:\n  - id: fetch\n    uses: http.request\n    with: {{ url: https://example.com, methd: GET }}\n"
        )
    };
    write(root, "flowrun.yaml", "state: sqlite://.flowrun/state.db\n");
    write(root, "flows/a.yaml", flow("a"));
    write(root, "flows/nested/b.yml", flow("b"));
    write(
        root,
        "flows/a.test.yaml",
        "flow: a.yaml\ncases: [ { name: broken, mock: 3 } ]\n",
    );
    write(root, "flows/notes.yaml", "title: not a flow\nsteps: nonsense\n");
    write(root, "flows/readme.md", "flow: not yaml\n");
    write(root, ".hidden/x.yaml", flow("Hidden"));
    write(root, ".github/workflows/ci.yaml", "on: push\njobs: {}\n");
    write(root, "target/x.yaml", flow("Target"));
    write(root, "node_modules/pkg/x.yaml", flow("Modules"));
    let run = flowrun(root, &["validate"]);
    assert_eq!(run.code, 2);
    for skipped in ["Hidden", "Target", "Modules", "notes.yaml", "readme.md", "ci.yaml"] {
        assert!(
            !run.stderr.contains(skipped),
            "{skipped} was validated:\n{}",
            run.stderr
        );
    }
    // A test file is checked as one, against the test schema.
    assert!(
        run.stderr.contains("flows/a.test.yaml:2:"),
        "a.test.yaml was not checked:\n{}",
        run.stderr
    );
    insta::assert_snapshot!(run.transcript());
    // A file named on the command line is a flow, whatever its contents.
    let named = flowrun(root, &["validate", "flows/notes.yaml"]);
    insta::assert_snapshot!("folder_discovery_named_file", named.transcript());
}

/// Two files with one flow id, found in one folder.
#[test]
fn duplicate_flow_ids_in_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let flow = "flow: same\nsteps:\n  - id: fetch\n    uses: http.request\n    with: { url: https://example.com }\n";
    write(dir.path(), "one/a.yaml", flow);
    write(dir.path(), "two/b.yaml", flow);
    let (code, text) = validate_both(dir.path(), ".");
    assert_eq!(code, 2);
    insta::assert_snapshot!(text);
}
