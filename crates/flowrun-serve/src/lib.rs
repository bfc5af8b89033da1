//! `flowrun serve`: flows with triggers, run unattended.
//!
//! Every trigger ends in the same place: a run inserted into the state store's queue
//! ([`flowrun_state::StateStore::enqueue_run`]) before anything is acknowledged. Workers, in
//! this process and in every other process sharing the store (Postgres), claim queued runs
//! and run them on the engine under a lease. Where to start: [`serve`].
//!
//! - [`flows`]: the served flows, with their triggers compiled; loaded through a
//!   [`flows::FlowSource`] the command line provides, reloaded by [`watch`] when files change;
//! - [`schedule`] and [`ticker`]: when `schedule` triggers fire, on the wall clock of their
//!   time zone, across daylight-saving changes; [`scheduler`] queues each tick once across
//!   workers;
//! - [`webhook`]: whether a request to `/hooks/<path>` may start a run (HMAC-SHA256 signature
//!   in constant time, signing time within the tolerance, body size); [`server`]: the HTTP
//!   routes (webhooks, connector trigger callbacks, `/healthz`, `/metrics`);
//! - [`triggers`]: connector triggers, instant (subscribed callback URLs) and polling;
//! - [`worker`]: the workers, the reaper that takes over runs of dead workers, the hand-back
//!   on shutdown; [`metrics`]: the Prometheus figures.
//!
//! docs/serve.md is the user's reference.

pub mod flows;
pub mod metrics;
pub mod schedule;
pub mod scheduler;
pub mod server;
pub mod service;
pub mod ticker;
pub mod triggers;
pub mod watch;
pub mod webhook;
pub mod worker;

use std::sync::Arc;

pub use service::{ServeOptions, Service};

/// Runs a server until `stop` resolves (SIGTERM or Ctrl-C), then shuts down: the HTTP server
/// stops accepting, workers stop claiming, running runs get `shutdown_timeout` to end and are
/// then handed back to the queue, and instant trigger subscriptions are removed.
///
/// `ready` is called with the address the server listens on, once it listens.
pub async fn serve(
    service: Arc<Service>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(std::net::SocketAddr),
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(service.options.listen).await?;
    let addr = listener.local_addr()?;
    if let Ok(mut slot) = service.local_addr.write() {
        *slot = Some(addr);
    }
    {
        let loading = service.clone();
        tokio::task::spawn_blocking(move || loading.reload())
            .await
            .map_err(std::io::Error::other)?;
    }
    tracing::info!(listen = %addr, workers = service.options.workers, "flowrun serve is up");
    ready(addr);

    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(worker::run_workers(service.clone()));
    tasks.spawn(scheduler::run_scheduler(service.clone()));
    tasks.spawn(triggers::run_triggers(service.clone()));
    if service.options.watch {
        tasks.spawn(watch::watch(service.clone()));
    }

    let shutdown = service.shutdown.clone();
    let stopping = service.clone();
    tokio::spawn(async move {
        stop.await;
        tracing::info!(
            timeout = ?stopping.options.shutdown_timeout,
            "shutting down: no new work is taken; running runs may finish"
        );
        stopping.shutdown.cancel();
        tokio::time::sleep(stopping.options.shutdown_timeout).await;
        stopping.hand_back.cancel();
    });
    let app = server::router(service.clone());
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    while tasks.join_next().await.is_some() {}
    tracing::info!("flowrun serve stopped");
    served
}
