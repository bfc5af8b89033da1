//! A new store starts as a copy of an empty, fully migrated database.
//!
//! Creating the schema through the migrations costs a new file some 8 ms of a short
//! `flowrun run`: SQLite's switch of an empty file to WAL (a rollback journal and four
//! `fsync`s), then every `CREATE` and `ALTER` re-reading the schema, and migration 3
//! rebuilding a table. `template/state.db` is the result of those same migrations, applied
//! by sqlx's migrator and kept with its `_sqlx_migrations` rows (versions and checksums),
//! already in WAL mode. Writing its few pages takes a fraction of a millisecond; the
//! migrator then finds every migration applied, and applies any newer than the template.
//!
//! The template is a build artifact kept in git: the test `the_template_is_the_migrated_schema`
//! (tests/it/template.rs) rebuilds it from `migrations/sqlite/` and fails when the two differ;
//! `FLOWRUN_UPDATE_TEMPLATE=1 cargo test -p flowrun-state --test it template` rewrites it.
//! A store made from the template differs from one made by the migrations only in the
//! `installed_on` and `execution_time` of `_sqlx_migrations`, which tell when the template
//! was made.

use std::io::Write;
use std::path::Path;

use crate::error::StateError;

/// The empty database, every migration of `migrations/sqlite/` applied.
const TEMPLATE: &[u8] = include_bytes!("../../template/state.db");

/// Puts the template at `path` when nothing is there; `true` when it did.
///
/// The copy is written beside `path` under a temporary name, synced, then linked into place
/// only if `path` still does not exist: two processes creating the same store at once both
/// go on with one whole file, and a crash leaves no half-written store (at worst a stray
/// `.state.db.new…` file). An existing file, even an empty one, is left to the migrations.
pub(super) fn install(path: &Path) -> Result<bool, StateError> {
    if path.exists() {
        return Ok(false);
    }
    let file_error = |source| StateError::File {
        path: path.to_owned(),
        source,
    };
    let folder = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder).map_err(file_error)?;
    // tempfile creates the file with mode 0600 on Unix, as the store's files must be.
    let mut copy = tempfile::Builder::new()
        .prefix(".state.db.new")
        .tempfile_in(folder)
        .map_err(file_error)?;
    copy.write_all(TEMPLATE).map_err(file_error)?;
    // Synced before it gets the store's name: a store file is never torn by a power loss.
    copy.as_file().sync_data().map_err(file_error)?;
    match copy.persist_noclobber(path) {
        Ok(_) => Ok(true),
        Err(error) if error.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(file_error(error.error)),
    }
}
