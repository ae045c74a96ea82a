//! Drift triggers: kube-rs watchers on the kinds of the applied commit,
//! filtered by weft's ApplySet label, so only weft's own objects are
//! streamed. An edit or deletion after the initial list reports the object;
//! the daemon then plans the applied commit at once instead of waiting for
//! its next resync. Objects are not cached: each event is dropped once
//! described, so a daemon managing thousands of objects holds none of them
//! (nor their managedFields) between syncs.

use crate::cluster::Target;
use futures::StreamExt;
use kube::runtime::{WatchStreamExt, watcher};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// One cluster and the kinds weft applied there (apiVersion, kind).
pub struct Watched {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub kinds: BTreeSet<(String, String)>,
}

/// The watchers of one applied commit; dropping it stops them.
pub struct DriftWatch {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for DriftWatch {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Starts a watcher per cluster and kind; `changed` gets `Kind ns/name`
/// of each object edited or deleted once that watcher's initial list is
/// done. Kinds the cluster does not serve are skipped (the plan reports
/// them).
pub async fn start(clusters: Vec<Watched>, applyset_id: &str, changed: impl Fn(String) + Send + Sync + 'static) -> Result<DriftWatch, String> {
    let changed = std::sync::Arc::new(changed);
    let selector = format!("{}={applyset_id}", crate::render::PART_OF_LABEL);
    let mut tasks = Vec::new();
    for cluster in clusters {
        let target = Target::connect(cluster.kubeconfig.as_deref(), cluster.context.as_deref()).await?;
        for (api_version, kind) in &cluster.kinds {
            let Some(served) = target.resolve(api_version, kind) else { continue };
            let api = target.api(&served, None);
            let config = watcher::Config::default().labels(&selector);
            let changed = changed.clone();
            let kind = kind.clone();
            tasks.push(tokio::spawn(async move {
                let mut events = std::pin::pin!(watcher::watcher(api, config).default_backoff());
                let mut listed = false;
                while let Some(event) = events.next().await {
                    match event {
                        Ok(watcher::Event::InitDone) => listed = true,
                        Ok(watcher::Event::Apply(object) | watcher::Event::Delete(object)) if listed => {
                            let namespace = object.metadata.namespace.map(|n| format!("{n}/")).unwrap_or_default();
                            changed(format!("{kind} {namespace}{}", object.metadata.name.unwrap_or_default()));
                        }
                        Ok(_) => {}
                        // The watcher re-lists with backoff by itself.
                        Err(e) => tracing::debug!(kind = %kind, error = %e, "drift watch interrupted"),
                    }
                }
            }));
        }
    }
    Ok(DriftWatch { tasks })
}
