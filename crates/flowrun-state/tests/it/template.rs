//! `template/state.db`, the database a new store starts from (src/sqlite/template.rs), is
//! what the migrations make; and stores made from it behave as made by the migrations.

use std::path::{Path, PathBuf};

use flowrun_state::{SqliteStore, StateStore};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

use crate::{create, url_in};

const UPDATE: &str = "FLOWRUN_UPDATE_TEMPLATE";

fn committed_template() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("template/state.db")
}

/// An empty database with every migration of `migrations/sqlite/` applied by sqlx's
/// migrator, compacted, in WAL mode and without a log beside it: the template's bytes.
async fn build_template(dir: &Path) -> Vec<u8> {
    let migrated = dir.join("migrated.db");
    let migrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let migrator = sqlx::migrate::Migrator::new(migrations.as_path()).await.unwrap();
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            SqliteConnectOptions::new()
                .filename(&migrated)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal),
        )
        .await
        .unwrap();
    migrator.run(&pool).await.unwrap();
    pool.close().await;

    let template = dir.join("template.db");
    let connection = rusqlite::Connection::open(&migrated).unwrap();
    connection
        .execute("VACUUM INTO ?1", [template.to_str().unwrap()])
        .unwrap();
    drop(connection);
    let connection = rusqlite::Connection::open(&template).unwrap();
    let mode: String = connection
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    // Closing the last connection checkpoints and removes the (empty) log.
    drop(connection);
    assert!(!template.with_file_name("template.db-wal").exists());
    std::fs::read(&template).unwrap()
}

/// What a store's schema is: every object's definition, and the migrations it records as
/// applied (version, description, success, checksum).
type Schema = (
    Vec<(String, String, String, Option<String>)>,
    Vec<(i64, String, bool, Vec<u8>)>,
);

fn schema_of(path: &Path) -> Schema {
    let connection = rusqlite::Connection::open(path).unwrap();
    let objects = rows(
        &connection,
        "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name",
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
    );
    let applied = rows(
        &connection,
        "SELECT version, description, success, checksum FROM _sqlx_migrations ORDER BY version",
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
    );
    (objects, applied)
}

fn rows<T>(
    connection: &rusqlite::Connection,
    sql: &str,
    read: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Vec<T> {
    let mut statement = connection.prepare(sql).unwrap();
    statement
        .query_map([], read)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

#[tokio::test]
async fn the_template_is_the_migrated_schema() {
    let dir = tempfile::tempdir().unwrap();
    let built = build_template(dir.path()).await;
    if std::env::var_os(UPDATE).is_some() {
        std::fs::write(committed_template(), &built).unwrap();
        return;
    }
    let stale = format!(
        "{} is not what migrations/sqlite/ make: run `{UPDATE}=1 cargo test -p flowrun-state --test it template` and commit it",
        committed_template().display()
    );
    let committed = std::fs::read(committed_template()).unwrap();
    // In WAL mode (file format bytes 18 and 19), so a new store never switches journals.
    assert_eq!(committed.get(18..20), Some(&[2u8, 2][..]), "{stale}");
    // Compared on copies: opening a file may write beside it.
    let copy = dir.path().join("committed.db");
    std::fs::write(&copy, &committed).unwrap();
    let migrated = schema_of(&dir.path().join("template.db"));
    assert!(migrated.1.len() >= 3, "every migration is applied: {:?}", migrated.1);
    assert_eq!(schema_of(&copy), migrated, "{stale}");
}

#[tokio::test]
async fn a_new_store_is_the_template_and_records_every_migration() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&url_in(&dir)).await.unwrap();
    let run = create(&store, "orders").await;
    store.close().await;
    let path = dir.path().join("state/state.db");
    let (_, applied) = schema_of(&path);
    let (_, expected) = schema_of(&{
        let copy = dir.path().join("expected.db");
        std::fs::write(&copy, build_template(dir.path()).await).unwrap();
        copy
    });
    assert_eq!(applied, expected);
    let again = SqliteStore::open(&url_in(&dir)).await.unwrap();
    assert_eq!(again.run(&run.id).await.unwrap().unwrap(), run);
    // No temporary copy is left beside the store.
    let names: Vec<String> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|name| name.starts_with("state.db")), "{names:?}");
}

/// Processes starting on a new project at once: each goes on with the same whole store.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stores_opened_at_once_on_a_new_file_share_it() {
    let dir = tempfile::tempdir().unwrap();
    let url = url_in(&dir);
    let opens: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { SqliteStore::open(&url).await })
        })
        .collect();
    let mut stores = Vec::new();
    for open in opens {
        stores.push(open.await.unwrap().unwrap());
    }
    let mut runs = Vec::new();
    for (n, store) in stores.iter().enumerate() {
        runs.push(create(store, &format!("flow{n}")).await);
    }
    let listed = stores[0].list_runs(&Default::default()).await.unwrap();
    assert_eq!(listed.len(), runs.len());
}
