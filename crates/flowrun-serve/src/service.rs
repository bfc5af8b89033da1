//! What every part of a running server shares: the store, the engine, the flows, the options,
//! the metrics and the shutdown signal; and [`serve`], which starts the parts and stops them.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use flowrun_engine::run::Engine;
use flowrun_state::{Enqueued, QueuedRun, StateStore};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::flows::{FlowSet, FlowSource};
use crate::metrics::Metrics;

/// How a server runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where the HTTP server listens.
    pub listen: SocketAddr,
    /// Runs executed at once by this process; 0: none (an ingest-only process on a store
    /// other processes work from).
    pub workers: usize,
    /// How long a claimed run's lease lasts without a heartbeat; a worker that dies is taken
    /// over this long after its last heartbeat.
    pub lease: Duration,
    /// The address services call back (connector triggers): `--public-url`. `None`: the
    /// listen address, which only this machine reaches.
    pub public_url: Option<String>,
    /// Webhook bodies larger than this get 413.
    pub max_body: usize,
    /// On SIGTERM or Ctrl-C: how long running runs may take to finish before they are handed
    /// back to the queue.
    pub shutdown_timeout: Duration,
    /// How long `respond: sync` webhooks wait for the run's end before answering 202.
    pub sync_timeout: Duration,
    /// The lease owner prefix of this process (`host:pid`); each worker adds `:w<n>`.
    pub owner: String,
    /// Watch the folder and reload changed flows.
    pub watch: bool,
}

impl ServeOptions {
    pub fn new(listen: SocketAddr, owner: String) -> ServeOptions {
        ServeOptions {
            listen,
            workers: 4,
            lease: Duration::from_secs(30),
            public_url: None,
            max_body: 1024 * 1024,
            shutdown_timeout: Duration::from_secs(30),
            sync_timeout: Duration::from_secs(30),
            owner,
            watch: true,
        }
    }
}

/// The state of a running server, shared by its tasks.
pub struct Service {
    pub store: Arc<dyn StateStore>,
    /// The engine workers clone (each with its own lease owner).
    pub engine: Engine,
    pub options: ServeOptions,
    pub metrics: Arc<Metrics>,
    flows: RwLock<Arc<FlowSet>>,
    source: Arc<dyn FlowSource>,
    /// Told when the flows were reloaded (the scheduler and the connector triggers resync).
    pub flows_changed: Notify,
    /// Cancelled on SIGTERM or Ctrl-C: stop taking work.
    pub shutdown: CancellationToken,
    /// Cancelled when the shutdown timeout ran out: hand running work back.
    pub hand_back: CancellationToken,
    /// The address the server listens on (the port chosen when `--listen` gave port 0).
    pub local_addr: RwLock<Option<SocketAddr>>,
}

impl Service {
    pub fn new(
        store: Arc<dyn StateStore>,
        mut engine: Engine,
        source: Arc<dyn FlowSource>,
        options: ServeOptions,
    ) -> Arc<Service> {
        let metrics = Arc::new(Metrics::default());
        // Every module HTTP call counted, by connection and status.
        let counting = metrics.clone();
        let tokens = flowrun_engine::tokens::token_store(Some(&store));
        engine.http = Arc::new(
            flowrun_connect::runtime::HttpRuntime::new(tokens).with_observer(Arc::new(move |connection, status| {
                counting.count_http(connection, status);
            })),
        );
        Arc::new(Service {
            store,
            engine,
            options,
            metrics,
            flows: RwLock::new(Arc::new(FlowSet::default())),
            source,
            flows_changed: Notify::new(),
            shutdown: CancellationToken::new(),
            hand_back: CancellationToken::new(),
            local_addr: RwLock::new(None),
        })
    }

    /// The flows served now.
    pub fn flows(&self) -> Arc<FlowSet> {
        match self.flows.read() {
            Ok(flows) => flows.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Loads the folder again and swaps the new flows in; logs what is served and what not.
    pub fn reload(&self) {
        let loaded = self.source.load();
        let (set, problems) = FlowSet::build(loaded, self.options.max_body);
        for problem in &problems {
            tracing::error!(problem = %problem, "a flow is not served");
        }
        for entry in set.entries() {
            let trigger = match &entry.flow.trigger {
                None => "none: `flowrun run` starts it; serve never does".to_owned(),
                Some(flowrun_flow::model::Trigger::Schedule(schedule)) => format!(
                    "schedule `{}` ({})",
                    schedule.cron,
                    schedule.timezone.as_deref().unwrap_or("UTC")
                ),
                Some(flowrun_flow::model::Trigger::Webhook(webhook)) => {
                    format!("webhook POST /hooks/{}", webhook.path.trim_matches('/'))
                }
                Some(flowrun_flow::model::Trigger::Connector(connector)) => {
                    format!("connector trigger `{}`", connector.uses)
                }
            };
            tracing::info!(flow = %entry.flow.id, file = %entry.flow.file.display(), trigger = %trigger, "serving flow");
        }
        self.metrics.set_flows(set.len(), problems.len());
        let set = Arc::new(set);
        match self.flows.write() {
            Ok(mut flows) => *flows = set,
            Err(poisoned) => *poisoned.into_inner() = set,
        }
        self.flows_changed.notify_waiters();
    }

    /// The folder the flows come from.
    pub fn root(&self) -> std::path::PathBuf {
        self.source.root().to_path_buf()
    }

    /// Queues a run, durably, and counts it.
    pub async fn enqueue(&self, run: QueuedRun, source: &'static str) -> Result<Enqueued, flowrun_state::StateError> {
        let flow = run.flow_id.clone();
        let enqueued = self.store.enqueue_run(run).await?;
        let outcome = match &enqueued {
            Enqueued::Created(run) => {
                tracing::info!(flow = %flow, run_id = %run.id, source, "run queued");
                "queued"
            }
            Enqueued::Duplicate(run) => {
                tracing::info!(flow = %flow, run_id = %run.id, source, "a repeated event: no new run");
                "duplicate"
            }
            Enqueued::Skipped { active_run_id } => {
                tracing::warn!(flow = %flow, active_run_id = %active_run_id, source, "skipped: the flow still has a run queued or running");
                "skipped"
            }
        };
        self.metrics.count_trigger(source, outcome);
        Ok(enqueued)
    }

    /// The base URL services call back.
    pub fn public_url(&self) -> String {
        if let Some(url) = &self.options.public_url {
            return url.trim_end_matches('/').to_owned();
        }
        let addr = self
            .local_addr
            .read()
            .ok()
            .and_then(|addr| *addr)
            .unwrap_or(self.options.listen);
        format!("http://{addr}")
    }
}
