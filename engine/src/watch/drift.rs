//! Drift triggers: kube-rs watchers on the kinds of the applied commit,
//! filtered by weft's ApplySet label, so only weft's own objects are
//! streamed. An edit or deletion after the initial list reports the object;
//! the daemon then plans the applied commit at once instead of waiting for
//! its next resync. Objects are not cached: each is kept as a 64-bit
//! fingerprint of what weft could have set (status, resourceVersion and
//! managedFields left out), so a controller's status updates trigger
//! nothing, and a daemon managing thousands of objects holds none of them
//! between syncs.

use crate::cluster::Target;
use futures::StreamExt;
use kube::runtime::{WatchStreamExt, watcher};
use kube::api::DynamicObject;
use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
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
    // Built first: if a later cluster cannot be reached, dropping it stops
    // the watchers already started.
    let mut watch = DriftWatch { tasks: Vec::new() };
    for cluster in clusters {
        let target = Target::connect(cluster.kubeconfig.as_deref(), cluster.context.as_deref()).await?;
        for (api_version, kind) in &cluster.kinds {
            let Some(served) = target.resolve(api_version, kind) else { continue };
            let api = target.api(&served, None);
            let config = watcher::Config::default().labels(&selector);
            let changed = changed.clone();
            let kind = kind.clone();
            watch.tasks.push(tokio::spawn(async move {
                let mut events = std::pin::pin!(watcher::watcher(api, config).default_backoff());
                let mut listed = false;
                let mut warned = false;
                let mut known: HashMap<String, u64> = HashMap::new();
                while let Some(event) = events.next().await {
                    let describe = |object: &DynamicObject| {
                        let namespace = object.metadata.namespace.as_deref().map(|n| format!("{n}/")).unwrap_or_default();
                        format!("{kind} {namespace}{}", object.metadata.name.as_deref().unwrap_or_default())
                    };
                    match event {
                        Ok(watcher::Event::InitDone) => {
                            // Edits between the apply and this first list are not events:
                            // one plan after it finds them.
                            if !listed {
                                changed(format!("{kind} (watch started)"));
                            }
                            listed = true;
                            warned = false;
                        }
                        // A re-list after an interruption compares too: what changed meanwhile counts.
                        Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)) => {
                            let print = fingerprint(&object);
                            let key = key_of(&object);
                            if known.insert(key, print) != Some(print) && listed {
                                changed(describe(&object));
                            }
                        }
                        Ok(watcher::Event::Delete(object)) => {
                            known.remove(&key_of(&object));
                            if listed {
                                changed(describe(&object));
                            }
                        }
                        Ok(watcher::Event::Init) => {}
                        // The watcher re-lists with backoff by itself; a refusal (RBAC) is worth a warning once.
                        Err(e) if !warned => {
                            tracing::warn!(kind = %kind, error = %e, "cannot watch for drift; a full plan every --resync still finds it");
                            warned = true;
                        }
                        Err(e) => tracing::debug!(kind = %kind, error = %e, "drift watch interrupted"),
                    }
                }
            }));
        }
    }
    Ok(watch)
}

fn key_of(object: &DynamicObject) -> String {
    object.metadata.uid.clone().unwrap_or_else(|| format!("{:?}/{:?}", object.metadata.namespace, object.metadata.name))
}

/// What of an object weft could have set, hashed: everything but status,
/// resourceVersion and managedFields (which change with every write).
fn fingerprint(object: &DynamicObject) -> u64 {
    let mut metadata = object.metadata.clone();
    metadata.resource_version = None;
    metadata.managed_fields = None;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(&metadata).unwrap_or_default().hash(&mut hasher);
    if let Some(fields) = object.data.as_object() {
        for (name, value) in fields.iter().filter(|(name, _)| *name != "status") {
            name.hash(&mut hasher);
            value.to_string().hash(&mut hasher);
        }
    }
    hasher.finish()
}
