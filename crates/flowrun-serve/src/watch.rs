//! Reloads the flows when a file under the served folder changes, without a restart.
//!
//! notify delivers file system events (inotify on Linux); a burst of them (an editor's save is
//! several) is gathered for a moment and answered with one reload. The state folder and the
//! project's data files change on every run, so only YAML and `.env` files count.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use crate::service::Service;

/// How long events are gathered before one reload.
const SETTLE: Duration = Duration::from_millis(300);

pub async fn watch(service: Arc<Service>) {
    let (events, mut changes) = tokio::sync::mpsc::unbounded_channel::<()>();
    let root = service.root();
    // Events name absolute paths; hidden folders are judged below the root only.
    let absolute = root.canonicalize().unwrap_or_else(|_| root.clone());
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && event
                .paths
                .iter()
                .any(|path| counts(path.strip_prefix(&absolute).unwrap_or(path)))
        {
            let _ = events.send(());
        }
    });
    let mut watcher = match watcher {
        Ok(watcher) => watcher,
        Err(error) => {
            tracing::warn!(%error, "the flow folder cannot be watched; restart flowrun serve to pick up changes");
            return;
        }
    };
    if let Err(error) = watcher.watch(&root, RecursiveMode::Recursive) {
        tracing::warn!(%error, folder = %root.display(), "the flow folder cannot be watched; restart flowrun serve to pick up changes");
        return;
    }
    loop {
        tokio::select! {
            change = changes.recv() => {
                if change.is_none() {
                    return;
                }
            }
            () = service.shutdown.cancelled() => return,
        }
        tokio::time::sleep(SETTLE).await;
        while changes.try_recv().is_ok() {}
        tracing::info!(folder = %root.display(), "flow files changed: reloading");
        let reloading = service.clone();
        // Loading reads and validates files: off the async workers.
        if let Err(error) = tokio::task::spawn_blocking(move || reloading.reload()).await {
            tracing::error!(%error, "the reload failed");
        }
    }
}

/// Flow, test and project files, and secrets files, outside hidden folders (`.flowrun/`).
fn counts(path: &Path) -> bool {
    let hidden = path.components().any(|part| {
        part.as_os_str()
            .to_str()
            .is_some_and(|part| part.starts_with('.') && part.len() > 1 && part != "..")
    });
    let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default();
    !hidden && (name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".env"))
}
