//! Snapshots of `snapshot: true` cases: the run's status, output, error and calls, stored beside
//! the test file (`orders.test.yaml` → `orders.test.snap`, one JSON object keyed by case name)
//! so a change shows in review as a diff; `flowrun test --update` rewrites them.

use std::io;
use std::path::{Path, PathBuf};

use flowrun_flow::model::MatchMode;
use indexmap::IndexMap;
use serde_json::{Value as Json, json};

use crate::case::Observed;
use crate::compare::{Mismatch, values};

/// The snapshot file of a test file.
pub fn snapshot_path(test_file: &Path) -> PathBuf {
    let name = test_file
        .file_name()
        .map(|name| name.to_string_lossy())
        .unwrap_or_default();
    let stem = name
        .strip_suffix(".yaml")
        .or_else(|| name.strip_suffix(".yml"))
        .unwrap_or(&name);
    test_file.with_file_name(format!("{stem}.snap"))
}

/// The snapshots of one test file, by case name, in case order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Snapshots(pub IndexMap<String, Json>);

impl Snapshots {
    /// The stored snapshots; none when the file does not exist.
    pub(crate) fn load(path: &Path) -> Result<Snapshots, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Snapshots::default()),
            Err(error) => return Err(format!("{}: {error}", path.display())),
        };
        serde_json::from_str(&text).map(Snapshots).map_err(|error| {
            format!(
                "{}: not a snapshot file ({error}); rewrite it with `flowrun test --update`",
                path.display()
            )
        })
    }

    /// Writes the file when its content changes; returns whether it did.
    pub(crate) fn store(&self, path: &Path) -> io::Result<bool> {
        let text = serde_json::to_string_pretty(&self.0).map_err(io::Error::other)? + "\n";
        if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
            return Ok(false);
        }
        std::fs::write(path, text)?;
        Ok(true)
    }
}

/// What a snapshot holds of a run.
pub(crate) fn of(observed: &Observed) -> Json {
    let mut snapshot = json!({ "status": observed.status, "output": observed.output });
    if let Some(error) = &observed.error {
        snapshot["error"] = error.clone();
    }
    if !observed.calls.is_empty() {
        snapshot["calls"] = json!(observed.calls);
    }
    if !observed.incomplete.is_empty() {
        snapshot["incomplete"] = json!(observed.incomplete);
    }
    snapshot
}

/// Every difference between a stored snapshot and the run's.
pub(crate) fn compare(stored: &Json, actual: &Json) -> Vec<Mismatch> {
    let mut out = Vec::new();
    values("$", stored, actual, MatchMode::Exact, &mut out);
    for mismatch in &mut out {
        mismatch.from_snapshot = true;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snapshot_sits_beside_the_test_file() {
        assert_eq!(
            snapshot_path(Path::new("flows/orders.test.yaml")),
            PathBuf::from("flows/orders.test.snap")
        );
        assert_eq!(snapshot_path(Path::new("a.test.yml")), PathBuf::from("a.test.snap"));
    }

    #[test]
    fn a_snapshot_is_written_only_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.test.snap");
        let snapshots = Snapshots(IndexMap::from([("one".to_owned(), json!({"status": "success"}))]));
        assert!(snapshots.store(&path).unwrap());
        assert!(!snapshots.store(&path).unwrap());
        assert_eq!(Snapshots::load(&path).unwrap(), snapshots);
        assert_eq!(
            Snapshots::load(&dir.path().join("none.snap")).unwrap(),
            Snapshots::default()
        );
    }
}
