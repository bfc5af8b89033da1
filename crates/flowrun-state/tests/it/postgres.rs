//! What only the Postgres store has: URLs and their passwords, migrations met by several
//! processes, and several stores (processes, hosts) racing for one run or one flow lock.

use std::sync::Arc;
use std::time::Duration;

use flowrun_state::{
    NewRun, PayloadLimits, PostgresOptions, PostgresStore, ResumeRun, RunStatus, StateError, StateStore,
};
use futures_like::join_all;

use crate::{LEASE, OWNER, SHORT_LEASE, TestSchema, create, new_run, outlive_short_lease, postgres_url};

/// `join_all` without a futures crate: spawned tasks, awaited in order.
mod futures_like {
    pub async fn join_all<T: Send + 'static>(
        futures: impl IntoIterator<Item = impl std::future::Future<Output = T> + Send + 'static>,
    ) -> Vec<T> {
        let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
        let mut results = Vec::with_capacity(handles.len());
        for handle in handles {
            results.push(handle.await.unwrap());
        }
        results
    }
}

/// Two independent stores (two pools, as two processes) on one schema.
async fn two_stores(schema: &TestSchema) -> [Arc<PostgresStore>; 2] {
    let first = Arc::new(schema.open(PayloadLimits::default()).await);
    let second = Arc::new(schema.open(PayloadLimits::default()).await);
    [first, second]
}

fn quick(connect_timeout: Duration) -> PostgresOptions {
    PostgresOptions {
        connect_timeout,
        ..PostgresOptions::default()
    }
}

#[tokio::test]
async fn an_unreachable_server_is_named_without_the_password() {
    let url = "postgres://flowrun:s3cret-pw@127.0.0.1:1/test";
    let error = PostgresStore::open_with(url, quick(Duration::from_secs(5)))
        .await
        .err()
        .unwrap();
    let message = format!("{error} / {error:?}");
    assert!(matches!(error, StateError::Backend { .. }), "{message}");
    assert!(message.contains("postgres://flowrun:***@127.0.0.1:1/test"), "{message}");
    assert!(!message.contains("s3cret-pw"), "{message}");

    // Through `open`, and with the password as a parameter.
    let url = "postgresql://flowrun@127.0.0.1:1/test?password=s3cret-pw";
    let error = flowrun_state::open(url).await.err().unwrap();
    let message = format!("{error} / {error:?}");
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(!message.contains("s3cret-pw"), "{message}");
}

#[tokio::test]
async fn refused_credentials_are_named_without_the_password() {
    let base = postgres_url();
    let host = base.split_once('@').map_or("127.0.0.1:5432/test", |(_, host)| host);
    let url = format!("postgres://flowrun_no_such_role:s3cret-pw@{host}");
    let error = PostgresStore::open_with(&url, quick(Duration::from_secs(10)))
        .await
        .err()
        .unwrap();
    let message = format!("{error} / {error:?}");
    assert!(message.contains("flowrun_no_such_role:***@"), "{message}");
    assert!(!message.contains("s3cret-pw"), "{message}");
}

#[tokio::test]
async fn bad_urls_and_schemas_are_refused_without_the_password() {
    let error = PostgresStore::open("postgres://u:s3cret-pw@host:notaport/db")
        .await
        .err()
        .unwrap();
    assert!(matches!(error, StateError::InvalidUrl { .. }), "{error}");
    assert!(!format!("{error:?}").contains("s3cret-pw"), "{error:?}");

    let options = PostgresOptions {
        schema: Some("Bad Schema".to_owned()),
        ..PostgresOptions::default()
    };
    let error = PostgresStore::open_with(&postgres_url(), options).await.err().unwrap();
    assert!(
        matches!(&error, StateError::InvalidUrl { reason, .. } if reason.contains("lowercase identifier")),
        "{error}"
    );
}

#[tokio::test]
async fn open_dispatches_both_postgres_schemes() {
    let schema = TestSchema::new().await;
    let url = schema.url();
    let store = flowrun_state::open(&url).await.unwrap();
    let run = create(store.as_ref(), "orders").await;
    let other_scheme = url.replacen("postgres://", "postgresql://", 1);
    let again = flowrun_state::open(&other_scheme).await.unwrap();
    assert_eq!(again.run(&run.id).await.unwrap().unwrap(), run);
}

#[tokio::test]
async fn migrations_apply_once_however_often_and_however_concurrently_stores_open() {
    let schema = TestSchema::new().await;
    // Several stores opening a fresh schema at once.
    let opened = join_all((0..4).map(|_| {
        let url = schema.url();
        async move { PostgresStore::open(&url).await.map(|_| ()) }
    }))
    .await;
    assert!(opened.iter().all(Result::is_ok), "{opened:?}");

    let first = schema.open(PayloadLimits::default()).await;
    let run = create(&first, "orders").await;
    first.close().await;
    let second = schema.open(PayloadLimits::default()).await;
    assert_eq!(second.run(&run.id).await.unwrap().unwrap(), run);

    let mut raw = crate::admin().await;
    let applied: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}._sqlx_migrations", schema.0))
        .fetch_one(&mut raw)
        .await
        .unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .unwrap()
        .count();
    assert_eq!(applied, files as i64);
}

/// Many workers of two processes start the same locked flow at once: exactly one runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_never_both_take_one_flow_lock() {
    let schema = TestSchema::new().await;
    let stores = two_stores(&schema).await;
    for round in 0..5 {
        let flow = format!("orders-{round}");
        let attempts = join_all((0..16).map(|attempt| {
            let store = Arc::clone(&stores[attempt % 2]);
            let flow = flow.clone();
            async move {
                let mut run = new_run(&flow);
                run.lock_flow = true;
                run.lease_owner = format!("worker-{attempt}");
                store.create_run(run).await
            }
        }))
        .await;
        let winners: Vec<_> = attempts.iter().filter_map(|attempt| attempt.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "round {round}: {attempts:?}");
        for attempt in &attempts {
            if let Err(error) = attempt {
                assert!(
                    matches!(error, StateError::FlowLocked { holder_run_id, .. } if *holder_run_id == winners[0].id),
                    "round {round}: {error}"
                );
            }
        }
        assert_eq!(
            stores[1].flow_lock_holder(&flow).await.unwrap(),
            Some(winners[0].id.clone())
        );
        // Only the winner was created.
        let runs = stores[0]
            .list_runs(&flowrun_state::RunFilter {
                flow_id: Some(flow.clone()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(runs.len(), 1);
    }
}

/// Once a holder's lease expired, racing takers (new runs and runs acquiring the lock) from two
/// processes: exactly one gets the lock, and the old holder is abandoned.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_lock_passes_to_exactly_one_of_racing_takers() {
    let schema = TestSchema::new().await;
    let stores = two_stores(&schema).await;
    let mut holder = new_run("orders");
    holder.lock_flow = true;
    holder.lease = SHORT_LEASE;
    let holder = stores[0].create_run(holder).await.unwrap();
    let mut candidates = Vec::new();
    for _ in 0..6 {
        candidates.push(create(stores[1].as_ref(), "orders").await.id);
    }
    outlive_short_lease().await;

    let acquiring = candidates.iter().enumerate().map(|(index, run_id)| {
        let store = Arc::clone(&stores[index % 2]);
        let run_id = run_id.clone();
        async move { store.acquire_flow_lock("orders", &run_id).await.map(|()| run_id) }
    });
    let creating = (0..6).map(|index| {
        let store = Arc::clone(&stores[index % 2]);
        async move {
            let mut run = new_run("orders");
            run.lock_flow = true;
            store.create_run(run).await.map(|run| run.id)
        }
    });
    let mut attempts = join_all(acquiring).await;
    // Not joined with the acquirers only to keep the types apart; they race the same way.
    attempts.extend(join_all(creating).await);
    let winners: Vec<&String> = attempts.iter().filter_map(|attempt| attempt.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{attempts:?}");
    assert!(
        attempts
            .iter()
            .filter_map(|attempt| attempt.as_ref().err())
            .all(|error| matches!(error, StateError::FlowLocked { .. })),
        "{attempts:?}"
    );
    assert_eq!(
        stores[0].flow_lock_holder("orders").await.unwrap(),
        Some(winners[0].clone())
    );
    let old = stores[1].run(&holder.id).await.unwrap().unwrap();
    assert_eq!(old.status, RunStatus::Abandoned);
}

/// Workers of two processes resume one run whose lease expired: exactly one gets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_never_both_take_one_run_lease() {
    let schema = TestSchema::new().await;
    let stores = two_stores(&schema).await;
    for round in 0..3 {
        let mut short = new_run("orders");
        short.lease = SHORT_LEASE;
        let run = stores[0].create_run(short).await.unwrap();
        outlive_short_lease().await;
        let attempts = join_all((0..16).map(|attempt| {
            let store = Arc::clone(&stores[attempt % 2]);
            let run_id = run.id.clone();
            async move {
                store
                    .resume_run(ResumeRun {
                        run_id,
                        lease_owner: format!("worker-{attempt}"),
                        lease: LEASE,
                        lock_flow: false,
                    })
                    .await
            }
        }))
        .await;
        let winners: Vec<_> = attempts.iter().filter_map(|attempt| attempt.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "round {round}: {attempts:?}");
        assert!(
            attempts
                .iter()
                .filter_map(|attempt| attempt.as_ref().err())
                .all(|error| matches!(error, StateError::RunBusy { .. })),
            "round {round}: {attempts:?}"
        );
        let stored = stores[1].run(&run.id).await.unwrap().unwrap();
        assert_eq!(stored.lease_owner, winners[0].lease_owner);
    }
}

/// Two processes sweeping expired runs at once: each run is reported abandoned exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sweeps_abandon_each_run_once() {
    let schema = TestSchema::new().await;
    let stores = two_stores(&schema).await;
    let mut expected = Vec::new();
    for index in 0..10 {
        let mut short = new_run(&format!("flow-{}", index % 3));
        short.lease = SHORT_LEASE;
        short.lock_flow = index < 3;
        expected.push(stores[index % 2].create_run(short).await.unwrap().id);
    }
    outlive_short_lease().await;
    let sweeps = join_all((0..6).map(|sweep| {
        let store = Arc::clone(&stores[sweep % 2]);
        async move { store.mark_abandoned().await.unwrap() }
    }))
    .await;
    let mut abandoned: Vec<String> = sweeps.into_iter().flatten().map(|run| run.id).collect();
    abandoned.sort();
    expected.sort();
    assert_eq!(abandoned, expected);
    for flow in ["flow-0", "flow-1", "flow-2"] {
        assert_eq!(stores[0].flow_lock_holder(flow).await.unwrap(), None);
    }
}

/// Another process cannot take a run while its lease lives, however often it tries; it can
/// once the lease expired, and the first owner then learns it lost the run.
#[tokio::test]
async fn a_run_lease_is_taken_over_only_after_it_expired() {
    let schema = TestSchema::new().await;
    let [first, second] = two_stores(&schema).await;
    let mut locked = new_run("orders");
    locked.lock_flow = true;
    locked.lease = Duration::from_millis(800);
    let run = first.create_run(locked).await.unwrap();
    let takeover = ResumeRun {
        run_id: run.id.clone(),
        lease_owner: "other-host:2".to_owned(),
        lease: LEASE,
        lock_flow: true,
    };

    // Heartbeats keep it past its first expiry.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        first
            .heartbeat(&run.id, OWNER, Duration::from_millis(800))
            .await
            .unwrap();
        assert!(matches!(
            second.resume_run(takeover.clone()).await.unwrap_err(),
            StateError::RunBusy { .. }
        ));
        let mut rival = NewRun {
            lock_flow: true,
            ..new_run("orders")
        };
        rival.lease_owner = "other-host:2".to_owned();
        assert!(matches!(
            second.create_run(rival).await.unwrap_err(),
            StateError::FlowLocked { .. }
        ));
    }
    tokio::time::sleep(Duration::from_millis(900)).await;
    let taken = second.resume_run(takeover).await.unwrap();
    assert_eq!(taken.lease_owner.as_deref(), Some("other-host:2"));
    assert_eq!(second.flow_lock_holder("orders").await.unwrap(), Some(run.id.clone()));
    // The first owner wakes up: it lost the run.
    let error = first.heartbeat(&run.id, OWNER, LEASE).await.unwrap_err();
    assert!(
        matches!(&error, StateError::LeaseLost { holder, .. } if holder == "other-host:2"),
        "{error}"
    );
    let error = first
        .finish_run(flowrun_state::FinishRun {
            run_id: run.id.clone(),
            lease_owner: OWNER.to_owned(),
            status: RunStatus::Success,
            output: None,
            error: None,
            cursors: Vec::new(),
        })
        .await
        .unwrap_err();
    assert!(matches!(error, StateError::LeaseLost { .. }), "{error}");
}

/// Times set by the store come from the server's clock, in microseconds, and leases are
/// measured from it.
#[tokio::test]
async fn times_come_from_the_server_clock() {
    let schema = TestSchema::new().await;
    let store = schema.open(PayloadLimits::default()).await;
    let mut raw = crate::admin().await;
    let before: f64 = sqlx::query_scalar("SELECT extract(epoch FROM clock_timestamp())::float8")
        .fetch_one(&mut raw)
        .await
        .unwrap();
    let run = create(&store, "orders").await;
    let after: f64 = sqlx::query_scalar("SELECT extract(epoch FROM clock_timestamp())::float8")
        .fetch_one(&mut raw)
        .await
        .unwrap();
    let created = run.created_at.as_microsecond() as f64 / 1e6;
    assert!(
        before - 0.001 <= created && created <= after + 0.001,
        "{before} {created} {after}"
    );
    let lease = run.lease_expires_at.unwrap().duration_since(run.created_at);
    assert_eq!(lease, jiff::SignedDuration::try_from(LEASE).unwrap());
    // A lease past what a timestamp holds is capped, not an error.
    let mut forever = new_run("orders");
    forever.lease = Duration::MAX;
    let run = store.create_run(forever).await.unwrap();
    assert_eq!(run.lease_expires_at.unwrap().strftime("%Y").to_string(), "9999");
}
