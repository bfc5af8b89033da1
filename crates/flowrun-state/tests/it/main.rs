//! The state store against a real SQLite file in a temporary folder.

// Test helpers outside `#[test]` functions unwrap too: a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod cursors;
mod incomplete;
mod locks;
mod open;
mod runs;
mod steps;
mod tokens;

use std::path::PathBuf;
use std::time::Duration;

use flowrun_state::{NewRun, PayloadLimits, Run, SqliteOptions, SqliteStore, StateStore, StepRecord, StepStatus};
use serde_json::{Value, json};
use tempfile::TempDir;

/// A store in a fresh folder; keep the folder alive as long as the store.
struct TestStore {
    dir: TempDir,
    store: SqliteStore,
}

impl TestStore {
    async fn new() -> TestStore {
        TestStore::with_options(SqliteOptions::default()).await
    }

    async fn with_options(options: SqliteOptions) -> TestStore {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_with(&url_in(&dir), options).await.unwrap();
        TestStore { dir, store }
    }

    /// A second, independent store on the same file (as another process would open it).
    async fn reopen(&self) -> SqliteStore {
        SqliteStore::open(&url_in(&self.dir)).await.unwrap()
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("state/state.db")
    }
}

fn url_in(dir: &TempDir) -> String {
    format!("sqlite://{}/state/state.db", dir.path().display())
}

const OWNER: &str = "test-host:1";
const LEASE: Duration = Duration::from_secs(60);
/// Short enough to wait out in a test.
const SHORT_LEASE: Duration = Duration::from_millis(300);

fn new_run(flow_id: &str) -> NewRun {
    NewRun {
        id: None,
        flow_id: flow_id.to_owned(),
        flow_version: "sha256:abc".to_owned(),
        trigger: Some(json!({"event": "created", "id": 7})),
        inputs: Some(json!({"since": "2024-01-01"})),
        lease_owner: OWNER.to_owned(),
        lease: LEASE,
        lock_flow: false,
    }
}

async fn create(store: &dyn StateStore, flow_id: &str) -> Run {
    store.create_run(new_run(flow_id)).await.unwrap()
}

fn step(run_id: &str, step_id: &str, item_index: Option<u64>, output: Value) -> StepRecord {
    StepRecord {
        run_id: run_id.to_owned(),
        step_id: step_id.to_owned(),
        item_index,
        item_key: item_index.map(|index| format!("order-{index}")),
        status: StepStatus::Success,
        attempts: 1,
        parameters: Some(json!({"url": "https://example.test/orders", "token": "***"})),
        output: Some(output),
        error: None,
        started_at: Some(jiff::Timestamp::from_millisecond(1_700_000_000_000).unwrap()),
        ended_at: Some(jiff::Timestamp::from_millisecond(1_700_000_000_250).unwrap()),
        duration: Some(Duration::from_micros(250_123)),
    }
}

/// Waits until a lease of `SHORT_LEASE` taken before the call has surely expired.
async fn outlive_short_lease() {
    tokio::time::sleep(SHORT_LEASE + Duration::from_millis(50)).await;
}

fn small_limits() -> SqliteOptions {
    SqliteOptions {
        limits: PayloadLimits {
            compress_above: 1024,
            truncate_above: 64 * 1024,
        },
        ..SqliteOptions::default()
    }
}
