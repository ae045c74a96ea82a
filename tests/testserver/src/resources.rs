//! The resource types the server knows: the built-in table and the ones that
//! CustomResourceDefinitions add at run time.

/// One served resource (a group/version/plural triple).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub status_subresource: bool,
    /// Whether `metadata.generation` is maintained for this kind.
    pub generation: bool,
    /// Set for resources that a CustomResourceDefinition defines.
    pub crd: Option<String>,
}

impl ResourceType {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    pub fn verbs(&self) -> Vec<&'static str> {
        vec!["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    }
}

// (group, version, kind, plural, namespaced, short names, status subresource, generation)
type Row = (&'static str, &'static str, &'static str, &'static str, bool, &'static [&'static str], bool, bool);

const BUILTIN: &[Row] = &[
    ("", "v1", "Namespace", "namespaces", false, &["ns"], true, false),
    ("", "v1", "ConfigMap", "configmaps", true, &["cm"], false, false),
    ("", "v1", "Secret", "secrets", true, &[], false, false),
    ("", "v1", "Service", "services", true, &["svc"], true, false),
    ("", "v1", "ServiceAccount", "serviceaccounts", true, &["sa"], false, false),
    ("", "v1", "Pod", "pods", true, &["po"], true, false),
    ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true, &["pvc"], true, false),
    ("", "v1", "PersistentVolume", "persistentvolumes", false, &["pv"], true, false),
    ("", "v1", "Endpoints", "endpoints", true, &["ep"], false, false),
    ("", "v1", "Event", "events", true, &["ev"], false, false),
    ("events.k8s.io", "v1", "Event", "events", true, &["ev"], false, false),
    ("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", true, &[], false, false),
    ("apps", "v1", "Deployment", "deployments", true, &["deploy"], true, true),
    ("apps", "v1", "StatefulSet", "statefulsets", true, &["sts"], true, true),
    ("apps", "v1", "DaemonSet", "daemonsets", true, &["ds"], true, true),
    ("apps", "v1", "ReplicaSet", "replicasets", true, &["rs"], true, true),
    ("apps", "v1", "ControllerRevision", "controllerrevisions", true, &[], false, false),
    ("batch", "v1", "Job", "jobs", true, &[], true, true),
    ("batch", "v1", "CronJob", "cronjobs", true, &["cj"], true, true),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", true, &[], false, false),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true, &[], false, false),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false, &[], false, false),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false, &[], false, false),
    ("networking.k8s.io", "v1", "Ingress", "ingresses", true, &["ing"], true, true),
    ("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true, &["netpol"], false, true),
    ("networking.k8s.io", "v1", "IngressClass", "ingressclasses", false, &[], false, true),
    ("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true, &["pdb"], true, true),
    ("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true, &["hpa"], true, false),
    ("coordination.k8s.io", "v1", "Lease", "leases", true, &[], false, false),
    ("storage.k8s.io", "v1", "StorageClass", "storageclasses", false, &["sc"], false, false),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false, &["crd", "crds"], true, true),
];

pub fn builtin() -> Vec<ResourceType> {
    BUILTIN
        .iter()
        .map(|&(group, version, kind, plural, namespaced, short, status, generation)| ResourceType {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            singular: kind.to_ascii_lowercase(),
            namespaced,
            short_names: short.iter().map(|s| s.to_string()).collect(),
            status_subresource: status,
            generation,
            crd: None,
        })
        .collect()
}

/// The resource types a CRD object defines (one per served version).
pub fn from_crd(crd: &serde_json::Value) -> Vec<ResourceType> {
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default().to_string();
    let names = &spec["names"];
    let kind = names["kind"].as_str().unwrap_or_default().to_string();
    let plural = names["plural"].as_str().unwrap_or_default().to_string();
    if group.is_empty() || kind.is_empty() || plural.is_empty() {
        return Vec::new();
    }
    let singular = names["singular"].as_str().map(str::to_string).unwrap_or_else(|| kind.to_ascii_lowercase());
    let short_names: Vec<String> = names["shortNames"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let namespaced = spec["scope"].as_str() != Some("Cluster");
    let name = crd["metadata"]["name"].as_str().unwrap_or_default().to_string();
    spec["versions"]
        .as_array()
        .map(|versions| {
            versions
                .iter()
                .filter(|v| v["served"].as_bool().unwrap_or(true))
                .filter_map(|v| {
                    Some(ResourceType {
                        group: group.clone(),
                        version: v["name"].as_str()?.to_string(),
                        kind: kind.clone(),
                        plural: plural.clone(),
                        singular: singular.clone(),
                        namespaced,
                        short_names: short_names.clone(),
                        status_subresource: v["subresources"]["status"].is_object(),
                        generation: true,
                        crd: Some(name.clone()),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Groups in the order discovery lists them, each with its versions
/// (preferred first).
pub fn groups(types: &[ResourceType]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for t in types {
        match out.iter_mut().find(|(g, _)| *g == t.group) {
            Some((_, versions)) => {
                if !versions.contains(&t.version) {
                    versions.push(t.version.clone());
                }
            }
            None => out.push((t.group.clone(), vec![t.version.clone()])),
        }
    }
    out
}
