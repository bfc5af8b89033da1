//! The flows a server runs: each ready to run (plan, env, secrets), with what its trigger
//! needs compiled once (a webhook's gate, dedupe expression and rate limit; a schedule).
//!
//! The command line loads flow files (it knows project files, profiles and secrets files)
//! through a [`FlowSource`]; this module turns what it loaded into a [`FlowSet`], looked up by
//! flow id (workers) and by webhook path (the server). A reload builds a new set and swaps it in
//! whole: a request or a worker sees either the old flows or the new, never a mix.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flowrun_engine::plan::Plan;
use flowrun_engine::run::trigger_scope;
use flowrun_expr::{CompiledValue, Secret, Template};
use flowrun_flow::model::{Trigger, Webhook};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use indexmap::IndexMap;
use serde_json::Value as Json;

use crate::schedule::CompiledSchedule;
use crate::webhook::WebhookGate;

/// One flow, ready to run unattended.
pub struct ServedFlow {
    /// The flow's `flow:` id.
    pub id: String,
    /// The file it was loaded from.
    pub file: PathBuf,
    pub plan: Arc<Plan>,
    pub trigger: Option<Trigger>,
    /// The environment variables the flow reads.
    pub env: IndexMap<String, String>,
    /// The secrets the flow reads, resolved.
    pub secrets: IndexMap<String, Secret>,
    /// A hash of the flow file, stored with each run.
    pub flow_version: String,
    /// Where relative file paths of module calls resolve.
    pub files_dir: Arc<Path>,
    /// The inputs of every run: the flow's defaults (a served flow has no command line).
    pub inputs: Json,
}

/// What loading a folder gave: the flows that can be served, and why the others cannot.
#[derive(Default)]
pub struct Loaded {
    pub flows: Vec<ServedFlow>,
    /// One message per flow file that is not served (`file:line:col: what is wrong`).
    pub problems: Vec<String>,
}

/// Loads the flows of the served folder (the command line implements it).
pub trait FlowSource: Send + Sync {
    /// Every flow under the folder, validated and prepared.
    fn load(&self) -> Loaded;
    /// The folder to watch for changes.
    fn root(&self) -> &Path;
}

/// A flow with its trigger compiled.
pub struct Entry {
    pub flow: ServedFlow,
    /// Replaces the flow's secrets (and their encoded forms) in what is stored, e.g. a
    /// webhook request's `trigger`.
    pub redactor: flowrun_expr::Redactor,
    pub webhook: Option<WebhookRoute>,
    pub schedule: Option<CompiledSchedule>,
}

/// A webhook's checks, compiled once per load.
pub struct WebhookRoute {
    pub config: Webhook,
    pub gate: WebhookGate,
    pub dedupe: Option<Template>,
    pub rate_limit: Option<DefaultDirectRateLimiter>,
}

/// The flows being served, by id and by webhook path.
#[derive(Default)]
pub struct FlowSet {
    by_id: IndexMap<String, Arc<Entry>>,
    by_path: HashMap<String, String>,
}

impl FlowSet {
    /// Compiles the triggers of the loaded flows. A flow whose trigger cannot be compiled, or
    /// that repeats another's id or webhook path, is left out with a problem.
    pub fn build(loaded: Loaded, max_body: usize) -> (FlowSet, Vec<String>) {
        let mut problems = loaded.problems;
        let mut set = FlowSet::default();
        for flow in loaded.flows {
            if let Some(other) = set.by_id.get(&flow.id) {
                problems.push(format!(
                    "{}: flow `{}` is already served from {}; flow ids must be unique, so this file is not served",
                    flow.file.display(),
                    flow.id,
                    other.flow.file.display()
                ));
                continue;
            }
            let entry = match compile(flow, max_body) {
                Ok(entry) => entry,
                Err(problem) => {
                    problems.push(problem);
                    continue;
                }
            };
            if let Some(route) = &entry.webhook {
                let path = normalize_path(&route.config.path);
                if let Some(other) = set.by_path.get(&path) {
                    problems.push(format!(
                        "{}: the webhook path `{path}` is already taken by flow `{other}`; this flow is not served",
                        entry.flow.file.display()
                    ));
                    continue;
                }
                set.by_path.insert(path, entry.flow.id.clone());
            }
            set.by_id.insert(entry.flow.id.clone(), Arc::new(entry));
        }
        (set, problems)
    }

    pub fn get(&self, flow_id: &str) -> Option<&Arc<Entry>> {
        self.by_id.get(flow_id)
    }

    /// The flow whose webhook listens on `path` (without `/hooks/`).
    pub fn by_webhook_path(&self, path: &str) -> Option<&Arc<Entry>> {
        self.by_path
            .get(&normalize_path(path))
            .and_then(|id| self.by_id.get(id))
    }

    pub fn ids(&self) -> Vec<String> {
        self.by_id.keys().cloned().collect()
    }

    pub fn entries(&self) -> impl Iterator<Item = &Arc<Entry>> {
        self.by_id.values()
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// `/orders/`, `orders` and `/orders` are one path.
fn normalize_path(path: &str) -> String {
    path.trim_matches('/').to_owned()
}

fn compile(flow: ServedFlow, max_body: usize) -> Result<Entry, String> {
    let at = |message: String| format!("{}: flow `{}`: {message}", flow.file.display(), flow.id);
    let mut webhook = None;
    let mut schedule = None;
    match &flow.trigger {
        Some(Trigger::Webhook(config)) => {
            let secret = match &config.secret {
                Some(source) => Some(render_secret(&flow, source).map_err(&at)?),
                None => None,
            };
            let gate = WebhookGate::new(config, secret, max_body).map_err(&at)?;
            let dedupe = config
                .dedupe
                .as_deref()
                .map(Template::compile)
                .transpose()
                .map_err(|error| at(format!("webhook.dedupe: {error}")))?;
            let rate_limit = config.rate_limit.as_ref().and_then(|limit| {
                let requests = NonZeroU32::new(limit.requests)?;
                let quota = Quota::with_period(limit.per.as_std() / limit.requests)?.allow_burst(requests);
                Some(RateLimiter::direct(quota))
            });
            webhook = Some(WebhookRoute {
                config: config.clone(),
                gate,
                dedupe,
                rate_limit,
            });
        }
        Some(Trigger::Schedule(config)) => {
            schedule = Some(CompiledSchedule::new(config).map_err(|error| at(format!("schedule: {error}")))?);
        }
        _ => {}
    }
    Ok(Entry {
        redactor: flowrun_expr::Redactor::new(flow.secrets.values()),
        flow,
        webhook,
        schedule,
    })
}

/// The webhook's `secret`, rendered with the flow's secrets and env.
fn render_secret(flow: &ServedFlow, source: &str) -> Result<String, String> {
    let compiled = CompiledValue::compile(&Json::String(source.to_owned()))
        .map_err(|_| "webhook.secret is not a valid template".to_owned())?;
    let scope = trigger_scope(&flow.id, &flow.env, &flow.secrets, None);
    let rendered = compiled
        .render(&scope)
        .map_err(|error| format!("webhook.secret cannot be rendered: {}", error.message))?;
    match rendered.value {
        Json::String(secret) if !secret.is_empty() => Ok(secret),
        _ => Err("webhook.secret renders to an empty or non-text value; set the secret it names".to_owned()),
    }
}
