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
