//! Which files `flowrun validate` and `flowrun test` check, and which project file applies to
//! a flow.

use std::io;
use std::path::{Path, PathBuf};

use flowrun_flow::model::PROJECT_FILE_NAME;
use walkdir::WalkDir;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Flow,
    Project,
    /// A flow test file (`*.test.yaml`).
    Test,
}

/// The files to check under the given paths, in a stable order.
pub fn files(paths: &[PathBuf]) -> io::Result<Vec<(PathBuf, FileKind)>> {
    let mut found = Vec::new();
    for path in paths {
        let metadata = std::fs::metadata(path)
            .map_err(|error| io::Error::new(error.kind(), format!("{}: {error}", path.display())))?;
        if metadata.is_dir() {
            found.extend(folder_files(path)?);
        } else {
            found.push((path.clone(), kind_of_named_file(path)));
        }
    }
    found.dedup();
    Ok(found)
}

/// The test files under the given paths, for `flowrun test`: a folder is searched for
/// `*.test.yaml` (and `*.test.yml`), a file named is taken as it is. In argument order, each
/// folder's files sorted by name; a file found twice is listed once.
pub fn test_files(paths: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = Vec::new();
    for path in paths {
        let metadata = std::fs::metadata(path)
            .map_err(|error| io::Error::new(error.kind(), format!("{}: {error}", path.display())))?;
        let files = if metadata.is_dir() {
            folder_files(path)?
                .into_iter()
                .filter(|(_, kind)| *kind == FileKind::Test)
                .map(|(path, _)| path)
                .collect()
        } else {
            vec![path.clone()]
        };
        for file in files {
            if !found.contains(&file) {
                found.push(file);
            }
        }
    }
    Ok(found)
}

/// A file named on the command line is a flow, unless it is the project file or a test file.
fn kind_of_named_file(path: &Path) -> FileKind {
    let name = path.file_name().map(|name| name.to_string_lossy());
    match name.as_deref() {
        Some(PROJECT_FILE_NAME) => FileKind::Project,
        Some(name) if is_test_file(name) => FileKind::Test,
        _ => FileKind::Flow,
    }
}

fn folder_files(folder: &Path) -> io::Result<Vec<(PathBuf, FileKind)>> {
    let mut found = Vec::new();
    let walker = WalkDir::new(folder)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| {
            entry.depth() == 0
                || !entry.file_type().is_dir()
                || !is_skipped_folder(&entry.file_name().to_string_lossy())
        });
    for entry in walker {
        let entry = entry.map_err(io::Error::other)?;
        if !entry.file_type().is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy();
        // `validate .` prints `flows/a.yaml`, not `./flows/a.yaml`.
        let path = entry.path().strip_prefix(".").unwrap_or(entry.path()).to_path_buf();
        if name == PROJECT_FILE_NAME {
            found.push((path, FileKind::Project));
        } else if is_test_file(&name) {
            found.push((path, FileKind::Test));
        } else if is_yaml(&name) && has_flow_key(entry.path())? {
            found.push((path, FileKind::Flow));
        }
    }
    Ok(found)
}

fn is_skipped_folder(name: &str) -> bool {
    name.starts_with('.') || name == "target" || name == "node_modules"
}

fn is_yaml(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml")
}

/// A flow test file, by its name: `<name>.test.yaml` (or `.test.yml`).
pub fn is_test_file(name: &str) -> bool {
    name.ends_with(".test.yaml") || name.ends_with(".test.yml")
}

/// A YAML file in a folder is a flow when a line starts with `flow:` (a top-level key).
fn has_flow_key(path: &Path) -> io::Result<bool> {
    let bytes = std::fs::read(path)?;
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
    Ok(bytes
        .split(|byte| *byte == b'\n')
        .any(|line| line.starts_with(b"flow:")))
}

/// The project file that applies to a flow: the first `flowrun.yaml` walking up from its folder.
pub fn project_for(flow: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(flow).ok()?;
    let mut folder = absolute.parent();
    while let Some(current) = folder {
        let candidate = current.join(PROJECT_FILE_NAME);
        if candidate.is_file() {
            return Some(relative_to_cwd(&candidate));
        }
        folder = current.parent();
    }
    None
}

/// Paths print relative to the working folder when they are under it.
fn relative_to_cwd(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
}
