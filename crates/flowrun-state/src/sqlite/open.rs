//! Store URLs and the database file.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use crate::error::StateError;

const SCHEME: &str = "sqlite://";

/// The file a `sqlite://` URL names: `sqlite://.flowrun/state.db` is relative to the current
/// directory, `sqlite:///var/lib/flowrun/state.db` absolute. Query parameters and in-memory
/// databases are refused (the store is a file).
pub fn sqlite_path(url: &str) -> Result<PathBuf, StateError> {
    let invalid = |reason: &str| StateError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let Some(path) = url.strip_prefix(SCHEME) else {
        return Err(invalid("expected `sqlite://path/to/state.db`"));
    };
    if path.contains('?') {
        return Err(invalid("query parameters are not supported"));
    }
    if path.is_empty() {
        return Err(invalid("the path is empty"));
    }
    if path == ":memory:" || path.starts_with("file:") {
        return Err(invalid("the state store must be a file path"));
    }
    Ok(PathBuf::from(path))
}

/// Resolves a relative `sqlite://` URL against a folder (the project file's), so the default
/// `sqlite://.flowrun/state.db` lands next to the project file. Absolute URLs are unchanged.
pub fn resolve_sqlite_url(url: &str, base_dir: &Path) -> Result<String, StateError> {
    let path = sqlite_path(url)?;
    if path.is_absolute() {
        return Ok(url.to_owned());
    }
    let joined = base_dir.join(path);
    match joined.to_str() {
        Some(joined) => Ok(format!("{SCHEME}{joined}")),
        None => Err(StateError::InvalidUrl {
            url: url.to_owned(),
            reason: format!("{} is not valid UTF-8", joined.display()),
        }),
    }
}

/// Creates the folders and the file (mode 0600 on Unix) before SQLite opens it, and narrows
/// an existing file to 0600. SQLite gives its `-wal` and `-shm` files the same mode.
pub(super) fn prepare_file(path: &Path) -> Result<(), StateError> {
    let file_error = |source| StateError::File {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(file_error)?;
    }
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path).map_err(file_error)?;
        let mode = file.metadata().map_err(file_error)?.permissions().mode();
        if mode & 0o077 != 0 {
            file.set_permissions(fs::Permissions::from_mode(0o600))
                .map_err(file_error)?;
        }
    }
    #[cfg(not(unix))]
    {
        options.open(path).map_err(file_error)?;
    }
    Ok(())
}
