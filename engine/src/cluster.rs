//! Access to one Kubernetes cluster through kube-rs: the connection from
//! a kubeconfig (or the in-cluster config), and what the API server serves,
//! discovered once per run and extended only for groups the run creates.

use kube::api::{Api, DynamicObject};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, ApiResource, Discovery, Scope};
use kube::{Client, Config};
use std::collections::HashMap;
use std::path::Path;

/// A connected cluster and the kinds it serves.
pub struct Target {
    /// The kubeconfig context (or `in-cluster`).
    pub context: String,
    pub client: Client,
    kinds: HashMap<(String, String), (ApiResource, ApiCapabilities)>,
}

/// A kind as the server serves it.
#[derive(Clone, Debug)]
pub struct Served {
    pub resource: ApiResource,
    pub namespaced: bool,
}

impl Target {
    /// Connects with `kubeconfig` (else `KUBECONFIG` or ~/.kube/config, else
    /// the in-cluster config) and `context` (else the current one), then
    /// runs aggregated discovery: two requests for the whole API surface.
    pub async fn connect(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<Target, String> {
        let options = KubeConfigOptions { context: context.map(str::to_owned), ..Default::default() };
        let (config, context) = match kubeconfig {
            Some(path) => {
                let file = Kubeconfig::read_from(path).map_err(|e| format!("cannot read kubeconfig {}: {e}", path.display()))?;
                let name = context.map(str::to_owned).or_else(|| file.current_context.clone()).unwrap_or_default();
                let config = Config::from_custom_kubeconfig(file, &options).await.map_err(|e| format!("kubeconfig {}: {e}", path.display()))?;
                (config, name)
            }
            None => match Config::from_kubeconfig(&options).await {
                Ok(config) => {
                    let name = context.map(str::to_owned).or_else(|| Kubeconfig::read().ok().and_then(|k| k.current_context)).unwrap_or_default();
                    (config, name)
                }
                Err(kubeconfig_error) => match Config::incluster() {
                    Ok(config) => (config, "in-cluster".to_owned()),
                    Err(_) => return Err(format!("no cluster to talk to: {kubeconfig_error}")),
                },
            },
        };
        let client = Client::try_from(config).map_err(|e| format!("cannot make a client for context `{context}`: {e}"))?;
        let discovery = Discovery::new(client.clone())
            .run_aggregated()
            .await
            .map_err(|e| format!("discovery failed on context `{context}`: {e}"))?;
        let mut target = Target { context, client, kinds: HashMap::new() };
        for group in discovery.groups() {
            for (resource, capabilities) in group.recommended_resources() {
                target.kinds.insert((resource.group.clone(), resource.kind.clone()), (resource, capabilities));
            }
        }
        Ok(target)
    }

    /// The kind `kind` of group `group` as served, preferring the version
    /// asked for when the server serves several.
    pub fn resolve(&self, api_version: &str, kind: &str) -> Option<Served> {
        let (group, version) = split_api_version(api_version);
        let (resource, capabilities) = self.kinds.get(&(group.to_owned(), kind.to_owned()))?;
        let mut resource = resource.clone();
        if resource.version != version {
            // The object says which version it is written in; the server
            // converts between served versions.
            resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), &resource.plural);
        }
        Some(Served { resource, namespaced: capabilities.scope == Scope::Namespaced })
    }

    /// Every served kind, for a snapshot.
    pub fn served_kinds(&self) -> Vec<crate::plan::ServedKind> {
        let mut kinds: Vec<crate::plan::ServedKind> = self
            .kinds
            .values()
            .map(|(r, c)| crate::plan::ServedKind {
                group: r.group.clone(),
                version: r.version.clone(),
                kind: r.kind.clone(),
                plural: r.plural.clone(),
                namespaced: c.scope == Scope::Namespaced,
            })
            .collect();
        kinds.sort_by(|a, b| (&a.group, &a.kind).cmp(&(&b.group, &b.kind)));
        kinds
    }

    /// A kind by group alone, in the version the server prefers.
    pub fn resolve_kind(&self, group: &str, kind: &str) -> Option<Served> {
        let (resource, capabilities) = self.kinds.get(&(group.to_owned(), kind.to_owned()))?;
        Some(Served { resource: resource.clone(), namespaced: capabilities.scope == Scope::Namespaced })
    }

    /// Discovers one group again, after this run created it (a CRD became
    /// Established). Never a full discovery.
    pub async fn discover_group(&mut self, group: &str) -> Result<(), String> {
        let found = kube::discovery::group(&self.client, group).await.map_err(|e| format!("discovery of group {group}: {e}"))?;
        for (resource, capabilities) in found.recommended_resources() {
            self.kinds.insert((resource.group.clone(), resource.kind.clone()), (resource, capabilities));
        }
        Ok(())
    }

    pub fn api(&self, served: &Served, namespace: Option<&str>) -> Api<DynamicObject> {
        match (served.namespaced, namespace) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &served.resource),
            _ => Api::all_with(self.client.clone(), &served.resource),
        }
    }
}

pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}
