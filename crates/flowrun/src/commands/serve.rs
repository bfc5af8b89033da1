//! `flowrun serve [DIR]`: every flow under DIR, run unattended by `flowrun-serve`. This module
//! loads and prepares the flows as `flowrun run` does (validation, project file, profile,
//! secrets, env, plan), opens the state store, and starts the server until SIGTERM or Ctrl-C.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use flowrun_engine::plan::{Plan, names_read};
use flowrun_engine::run::{Engine, default_lease_owner};
use flowrun_expr::{Redactor, Secret};
use flowrun_flow::Diagnostic;
use flowrun_serve::flows::{FlowSource, Loaded, ServedFlow};
use flowrun_serve::{ServeOptions, Service};
use indexmap::IndexMap;

use crate::cli::ServeArgs;
use crate::discover::{self, FileKind};
use crate::run::logging::{self, SharedRedactor};
use crate::{catalog, exit_code, prepare};

pub fn run(args: &ServeArgs) -> io::Result<u8> {
    let root = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    if !root.is_dir() {
        eprintln!(
            "error: {}: no such folder (flowrun serve takes the folder of the flows)",
            root.display()
        );
        return Ok(exit_code::INVALID);
    }
    let state_url = match prepare::state_url_for_folder(&root, args.profile.as_deref(), args.state.as_deref()) {
        Ok(url) => url,
        Err(problem) => {
            eprintln!("error: {problem}");
            return Ok(exit_code::INVALID);
        }
    };
    let redactor: SharedRedactor = Arc::new(RwLock::new(Arc::new(Redactor::new(std::iter::empty()))));
    logging::init_with(args.log_format, redactor.clone(), "info");
    let source = Arc::new(FolderSource {
        root: root.clone(),
        profile: args.profile.clone(),
        state: Some(state_url.clone()),
        secrets_file: args.secrets.clone(),
        redactor,
    });
    let mut options = ServeOptions::new(args.listen, default_lease_owner());
    options.workers = args.workers;
    options.public_url = args.public_url.clone();
    options.watch = !args.no_watch;
    if let Some(lease) = args.lease {
        options.lease = lease.as_std();
    }
    if let Some(timeout) = args.shutdown_timeout {
        options.shutdown_timeout = timeout.as_std();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let store = match flowrun_state::open(&state_url).await {
            Ok(store) => store,
            Err(error) => {
                eprintln!("error: the state store {state_url} cannot be opened: {error}");
                return Ok(exit_code::FAILURE);
            }
        };
        let mut engine = Engine::new(Arc::new(catalog::registry()), Some(store.clone()));
        engine.options.max_concurrency = args.max_concurrency;
        let service = Service::new(store, engine, source, options);
        let served = flowrun_serve::serve(service, stop_signal(), |addr: SocketAddr| {
            // The one line on stdout: scripts and tests read the address from it.
            println!("flowrun serve listening on http://{addr}");
        })
        .await;
        match served {
            Ok(()) => Ok(exit_code::SUCCESS),
            Err(error) => {
                eprintln!("error: flowrun serve cannot listen on {}: {error}", args.listen);
                Ok(exit_code::FAILURE)
            }
        }
    })
}

/// SIGTERM or Ctrl-C.
async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The flows of a folder, prepared as `flowrun run` prepares one.
struct FolderSource {
    root: PathBuf,
    profile: Option<String>,
    /// The store every flow uses (one store per server).
    state: Option<String>,
    secrets_file: Option<PathBuf>,
    /// Learns every loaded flow's secrets, so no log line shows them.
    redactor: SharedRedactor,
}

impl FlowSource for FolderSource {
    fn root(&self) -> &Path {
        &self.root
    }

    fn load(&self) -> Loaded {
        let mut loaded = Loaded::default();
        let files = match discover::files(std::slice::from_ref(&self.root)) {
            Ok(files) => files,
            Err(error) => {
                loaded
                    .problems
                    .push(format!("{}: cannot be read: {error}", self.root.display()));
                return loaded;
            }
        };
        let flow_files: Vec<(PathBuf, FileKind)> =
            files.into_iter().filter(|(_, kind)| *kind == FileKind::Flow).collect();
        let checked = match super::validate::check(&flow_files, catalog::builtin(), super::validate::Keep::Reports) {
            Ok(checked) => checked,
            Err(error) => {
                loaded.problems.push(format!("the flows cannot be read: {error}"));
                return loaded;
            }
        };
        let mut secrets_seen: Vec<Secret> = Vec::new();
        for (file, report) in checked.flows {
            let errors: Vec<&Diagnostic> = checked
                .diagnostics
                .iter()
                .filter(|diagnostic| diagnostic.is_error() && diagnostic.file == file)
                .collect();
            let flow = match (report.flow, errors.is_empty()) {
                (Some(flow), true) => flow,
                _ => {
                    let shown: Vec<Diagnostic> = errors.into_iter().cloned().collect();
                    loaded.problems.push(
                        crate::render::diagnostics::human(&shown, 1, false)
                            .trim_end()
                            .to_owned(),
                    );
                    continue;
                }
            };
            match self.prepare(&file, flow) {
                Ok(served) => {
                    secrets_seen.extend(served.secrets.values().cloned());
                    loaded.flows.push(served);
                }
                Err(problem) => loaded.problems.push(format!("{}: {problem}", file.display())),
            }
        }
        let redactor = Arc::new(Redactor::new(secrets_seen.iter()));
        match self.redactor.write() {
            Ok(mut slot) => *slot = redactor,
            Err(poisoned) => *poisoned.into_inner() = redactor,
        }
        loaded
    }
}

impl FolderSource {
    fn prepare(&self, file: &Path, flow: flowrun_flow::model::Flow) -> Result<ServedFlow, String> {
        let overrides = prepare::Overrides {
            profile: self.profile.as_deref(),
            state: self.state.as_deref(),
            secrets_file: self.secrets_file.as_deref(),
        };
        let prepared = prepare::prepare(file, &flow, overrides).map_err(|problem| problem.to_string())?;
        let inputs = prepare::parse_inputs(&flow, &[]).map_err(|problems| {
            let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
            format!(
                "{} (a served flow runs with its inputs' defaults: give every required input a default)",
                problems.join("; ")
            )
        })?;
        let names = names_read(&flow, &prepared.connections);
        let secrets: IndexMap<String, Secret> = prepare::secrets(&names.secrets, prepared.secrets_file.as_deref())
            .map_err(|problems| problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))?;
        let env = names
            .env
            .iter()
            .filter_map(|name| Some((name.clone(), std::env::var(name).ok()?)))
            .collect();
        let plan = Plan::new(&flow, &prepared.connections, catalog::builtin())
            .map_err(|problems| problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))?;
        let flow_version = super::run::flow_version(file).map_err(|error| format!("cannot be read: {error}"))?;
        Ok(ServedFlow {
            id: flow.flow.clone(),
            file: file.to_path_buf(),
            plan: Arc::new(plan),
            trigger: flow.trigger.clone(),
            env,
            secrets,
            flow_version,
            files_dir: prepared.files_dir.into(),
            inputs: serde_json::Value::Object(inputs),
        })
    }
}
