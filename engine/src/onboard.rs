//! Onboarding a running cluster (`weft import --from-cluster`): the live
//! objects a user owns, without what the server owns, ready to become a
//! design whose plan against the same cluster is a no-op.
//!
//! Three steps. `live_objects` LISTs every served kind (the target's
//! aggregated discovery) in the namespaces asked for. `skip_reason` drops
//! whole objects that the cluster, a controller or a tool made: the kinds
//! of [`SKIPPED_KINDS`] and [`SKIPPED_GROUPS`], and the objects its rules
//! name, each with the reason. `clean`
//! removes from what remains every field the server or a controller
//! wrote: status, server metadata, allocated addresses, and the values the
//! API server's defaulting fills in (those equal to the default only, so an
//! object applied back is defaulted to the same value again).
//!
//! Why a plan of the result changes nothing: server-side apply keeps a
//! field the applier does not set when someone else owns it or the server
//! defaults it, so every field dropped here keeps its live value. The one
//! write left is weft's own: the first apply labels each object as a
//! member of weft's inventory (`render::PART_OF_LABEL`).
//!
//! Secret values are kept (the design must be applyable) and never appear
//! in a message.

use crate::cluster::{Served, Target};
use futures::{StreamExt, TryStreamExt, stream};
use kube::api::ListParams;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Which live objects to read.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Namespaces to read; empty reads every namespace (and cluster-scoped kinds).
    pub namespaces: Vec<String>,
    /// A label selector (`app=shop,tier!=cache`), as kubectl takes it.
    pub selector: Option<String>,
}

/// Kinds never onboarded, by group and kind, with the reason.
pub const SKIPPED_KINDS: &[(&str, &str, &str)] = &[
    ("", "Event", "a record of what happened, written by controllers"),
    ("events.k8s.io", "Event", "a record of what happened, written by controllers"),
    ("", "ComponentStatus", "a health view computed by the API server, not stored"),
    ("", "Binding", "create-only: a scheduling decision, not an object"),
    ("", "Node", "registered by each kubelet"),
    ("apps", "ControllerRevision", "history the StatefulSet and DaemonSet controllers keep"),
    ("coordination.k8s.io", "Lease", "held and renewed by controllers (leader election, node heartbeats)"),
    ("coordination.k8s.io", "LeaseCandidate", "written by components running for a lease"),
    ("storage.k8s.io", "CSINode", "published by each node's CSI drivers"),
    ("storage.k8s.io", "CSIStorageCapacity", "published by CSI drivers"),
    ("storage.k8s.io", "VolumeAttachment", "written by the attach/detach controller"),
    ("resource.k8s.io", "ResourceSlice", "published by device drivers"),
    ("certificates.k8s.io", "CertificateSigningRequest", "a request, approved and signed once, not desired state"),
    ("authentication.k8s.io", "TokenReview", "create-only: a question to the API server"),
    ("authentication.k8s.io", "SelfSubjectReview", "create-only: a question to the API server"),
    ("authorization.k8s.io", "SubjectAccessReview", "create-only: a question to the API server"),
    ("authorization.k8s.io", "LocalSubjectAccessReview", "create-only: a question to the API server"),
    ("authorization.k8s.io", "SelfSubjectAccessReview", "create-only: a question to the API server"),
    ("authorization.k8s.io", "SelfSubjectRulesReview", "create-only: a question to the API server"),
];

/// API groups never onboarded, with the reason.
pub const SKIPPED_GROUPS: &[(&str, &str)] = &[
    ("metrics.k8s.io", "measurements computed by the metrics server, not stored"),
    ("custom.metrics.k8s.io", "measurements served by a metrics adapter"),
    ("external.metrics.k8s.io", "measurements served by a metrics adapter"),
];

/// Namespaces of the cluster's own components: read only when named.
pub const SYSTEM_NAMESPACES: &[&str] = &["kube-system", "kube-public", "kube-node-lease"];

/// Namespaces every cluster has: their Namespace objects are never onboarded.
const BUILT_IN_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Annotations a server, controller or tool writes; none is part of what a
/// user declares.
const SERVER_ANNOTATIONS: &[&str] = &[
    // kubectl's copy of the last client-side apply (holds Secret values in clear).
    "kubectl.kubernetes.io/last-applied-configuration",
    crate::render::HASH_ANNOTATION,
    "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "endpoints.kubernetes.io/last-change-trigger-time",
    "pv.kubernetes.io/bind-completed",
    "pv.kubernetes.io/bound-by-controller",
    "pv.kubernetes.io/provisioned-by",
    "volume.beta.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/selected-node",
    "kubernetes.io/service-account.uid",
];

/// Metadata the API server sets. `generateName` goes too: the object keeps
/// the name generated for it, since applying needs a name.
const SERVER_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
    "managedFields",
    "generateName",
    // Owners are named by uid, which only this cluster knows; objects a
    // controller owns are skipped whole.
    "ownerReferences",
    // Added by controllers to hold a deletion; an apply without them
    // leaves them as they are.
    "finalizers",
];

/// What onboarding found: the objects to put in a design, and the ones
/// left out because the cluster made them, each with why.
#[derive(Debug, Default)]
pub struct Onboarded {
    /// Cleaned of server-owned state, sorted by group, kind, namespace, name.
    pub objects: Vec<Value>,
    pub skipped: Vec<Skipped>,
}

/// A live object left out of the design.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub reason: &'static str,
}

impl Skipped {
    fn of(object: &Value, reason: &'static str) -> Skipped {
        Skipped {
            kind: object["kind"].as_str().unwrap_or_default().to_owned(),
            namespace: namespace_of(object).map(str::to_owned),
            name: name_of(object).to_owned(),
            reason,
        }
    }
}

const DEFAULT_SERVICE_ACCOUNT: &str = "the `default` ServiceAccount the service-account controller makes in every namespace, unchanged";

/// The live objects, cleaned of server-owned state, in a stable order, and
/// what was left out.
pub async fn live_objects(target: &Target, options: &Options) -> Result<Onboarded, String> {
    let params = match &options.selector {
        Some(selector) => ListParams::default().labels(selector),
        None => ListParams::default(),
    };
    let namespaces: BTreeSet<&String> = options.namespaces.iter().collect();
    let mut lists: Vec<(Served, Option<String>)> = Vec::new();
    for kind in target.served_kinds() {
        if kind_skip_reason(&kind.group, &kind.kind).is_some() {
            continue;
        }
        let Some(served) = target.resolve_kind(&kind.group, &kind.kind) else { continue };
        match (served.namespaced, namespaces.is_empty()) {
            (_, true) => lists.push((served, None)),
            (true, false) => lists.extend(namespaces.iter().map(|ns| (served.clone(), Some(ns.to_string())))),
            // With a namespace filter, the only cluster-scoped objects
            // wanted are the Namespaces named (filtered below).
            (false, false) if kind.group.is_empty() && kind.kind == "Namespace" => lists.push((served, None)),
            (false, false) => {}
        }
    }
    let listed: Vec<Vec<Value>> = stream::iter(lists)
        .map(|(served, namespace)| {
            let params = params.clone();
            // Under a namespace filter the Namespace objects are a courtesy:
            // a user limited to their namespaces may not read them.
            let filtered = !namespaces.is_empty();
            let optional = filtered && !served.namespaced;
            async move {
                match list_kind(target, &served, namespace.as_deref(), params).await {
                    Ok(objects) => Ok(objects),
                    Err(kube::Error::Api(status)) if status.code == 403 && optional => Ok(Vec::new()),
                    Err(e) => {
                        let hint = if matches!(&e, kube::Error::Api(s) if s.code == 403) && !filtered {
                            "; name the namespaces you may read with --namespace"
                        } else {
                            ""
                        };
                        Err(format!("cannot list {} ({}): {}{hint}", served.resource.kind, served.resource.api_version, crate::plan::error_text(&e)))
                    }
                }
            }
        })
        .buffer_unordered(8)
        .try_collect()
        .await?;
    let mut objects: Vec<Value> = listed.into_iter().flatten().collect();
    if !namespaces.is_empty() {
        objects.retain(|o| !is_kind(o, "", "Namespace") || namespaces.iter().any(|ns| name_of(o) == ns.as_str()));
    }
    let schemas = crd_schemas(target, &objects).await;
    Ok(onboard(objects, options, &schemas))
}

/// The objects worth onboarding among `listed` (each with `apiVersion` and
/// `kind`), cleaned and sorted by group, kind, namespace and name, and the
/// others with the reason each is left out. `schemas` holds the
/// `openAPIV3Schema` of custom resources by (`apiVersion`, `kind`), for
/// their defaults.
pub fn onboard(listed: Vec<Value>, options: &Options, schemas: &BTreeMap<(String, String), Value>) -> Onboarded {
    let context = Context::of(&listed, options);
    let mut skipped = Vec::new();
    let mut kept = Vec::with_capacity(listed.len());
    for mut object in listed {
        if let Some(reason) = skip_reason(&object, &context) {
            skipped.push(Skipped::of(&object, reason));
            continue;
        }
        clean(&mut object, schemas);
        let key = (namespace_of(&object).unwrap_or_default().to_owned(), object["kind"].as_str().unwrap_or_default().to_owned(), name_of(&object).to_owned());
        if context.autoscaled.contains(&key) {
            // The autoscaler writes the replicas: a design holding them
            // would fight it at every apply.
            if let Some(Value::Object(spec)) = object.get_mut("spec") {
                spec.shift_remove("replicas");
            }
        }
        if is_default_service_account(&object) {
            skipped.push(Skipped::of(&object, DEFAULT_SERVICE_ACCOUNT));
            continue;
        }
        kept.push(object);
    }
    kept.sort_by_cached_key(|o| {
        let api_version = o.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
        let group = crate::cluster::split_api_version(api_version).0.to_owned();
        let kind = o.get("kind").and_then(Value::as_str).unwrap_or_default().to_owned();
        (group, kind, namespace_of(o).unwrap_or_default().to_owned(), name_of(o).to_owned())
    });
    skipped.sort_by(|a, b| (a.reason, &a.kind, &a.namespace, &a.name).cmp(&(b.reason, &b.kind, &b.namespace, &b.name)));
    Onboarded { objects: kept, skipped }
}

/// One LIST of a kind, every page, with `apiVersion` and `kind` set on
/// each item (API servers leave them out of list items). A kind that
/// cannot be listed (create-only, or gone since discovery) lists nothing.
async fn list_kind(target: &Target, served: &Served, namespace: Option<&str>, params: ListParams) -> Result<Vec<Value>, kube::Error> {
    let url = target.api(served, namespace).resource_url().to_owned();
    let (api_version, kind) = (&served.resource.api_version, &served.resource.kind);
    let listed = crate::plan::list_all(&target.client, &url, params, |items| {
        items
            .into_iter()
            .filter_map(|item| match serde_json::from_str::<Value>(item.get()) {
                Ok(Value::Object(fields)) => {
                    let mut object = Map::with_capacity(fields.len() + 2);
                    object.insert("apiVersion".into(), json!(api_version));
                    object.insert("kind".into(), json!(kind));
                    object.extend(fields.into_iter().filter(|(k, _)| k != "apiVersion" && k != "kind"));
                    Some(Value::Object(object))
                }
                _ => None,
            })
            .collect()
    })
    .await;
    match listed {
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 405 => Ok(Vec::new()),
        other => other,
    }
}

/// The structural schemas of the custom resources among `objects`, from
/// their CustomResourceDefinitions: those listed already when they cover
/// every custom group, else all of them, read now (a namespace filter or a
/// selector leaves CRDs out). Without the right to read CRDs, custom
/// resources keep their defaulted fields.
async fn crd_schemas(target: &Target, objects: &[Value]) -> BTreeMap<(String, String), Value> {
    let listed: Vec<Value> = objects.iter().filter(|o| is_kind(o, "apiextensions.k8s.io", "CustomResourceDefinition")).cloned().collect();
    let covered: BTreeSet<&str> = listed.iter().filter_map(|crd| crd.pointer("/spec/group").and_then(Value::as_str)).collect();
    let uncovered = objects.iter().map(group_of).any(|group| !is_built_in_group(group) && !covered.contains(group));
    let crds = match target.resolve_kind("apiextensions.k8s.io", "CustomResourceDefinition") {
        Some(served) if uncovered => list_kind(target, &served, None, ListParams::default()).await.unwrap_or_default(),
        _ => listed,
    };
    schemas_of(&crds)
}

/// (`apiVersion`, `kind`) → `openAPIV3Schema` of each served version of each CRD.
fn schemas_of(crds: &[Value]) -> BTreeMap<(String, String), Value> {
    let mut schemas = BTreeMap::new();
    for crd in crds {
        let spec = &crd["spec"];
        let (Some(group), Some(kind)) = (spec["group"].as_str(), spec["names"]["kind"].as_str()) else { continue };
        for version in spec["versions"].as_array().into_iter().flatten() {
            let (Some(name), Some(schema)) = (version["name"].as_str(), version.pointer("/schema/openAPIV3Schema")) else { continue };
            schemas.insert((format!("{group}/{name}"), kind.to_owned()), schema.clone());
        }
    }
    schemas
}

/// Groups the API server itself serves (custom resources are elsewhere).
fn is_built_in_group(group: &str) -> bool {
    group.is_empty() || group.ends_with(".k8s.io") || !group.contains('.')
}

/// What the skip rules need to know beyond one object.
struct Context {
    /// Namespaces read whole because the user named them.
    named_namespaces: HashSet<String>,
    /// Services with a selector (namespace, name): the endpoints controller
    /// writes their Endpoints.
    selecting_services: HashSet<(String, String)>,
    /// What a HorizontalPodAutoscaler scales (namespace, kind, name).
    autoscaled: HashSet<(String, String, String)>,
}

impl Context {
    fn of(objects: &[Value], options: &Options) -> Context {
        let selecting_services = objects
            .iter()
            .filter(|o| is_kind(o, "", "Service") && o.pointer("/spec/selector").is_some_and(|s| s.as_object().is_some_and(|m| !m.is_empty())))
            .map(|o| (namespace_of(o).unwrap_or_default().to_owned(), name_of(o).to_owned()))
            .collect();
        let autoscaled = objects
            .iter()
            .filter(|o| is_kind(o, "autoscaling", "HorizontalPodAutoscaler"))
            .filter_map(|o| {
                let target = o.pointer("/spec/scaleTargetRef")?;
                Some((namespace_of(o).unwrap_or_default().to_owned(), target["kind"].as_str()?.to_owned(), target["name"].as_str()?.to_owned()))
            })
            .collect();
        Context { named_namespaces: options.namespaces.iter().cloned().collect(), selecting_services, autoscaled }
    }
}

/// Why a kind is never onboarded, or None.
pub fn kind_skip_reason(group: &str, kind: &str) -> Option<&'static str> {
    SKIPPED_KINDS
        .iter()
        .find(|(g, k, _)| *g == group && *k == kind)
        .map(|(_, _, reason)| *reason)
        .or_else(|| SKIPPED_GROUPS.iter().find(|(g, _)| *g == group).map(|(_, reason)| *reason))
}

/// Why an object is not onboarded, or None when it is.
fn skip_reason(object: &Value, context: &Context) -> Option<&'static str> {
    let group = group_of(object);
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default();
    if let Some(reason) = kind_skip_reason(group, kind) {
        return Some(reason);
    }
    let metadata = &object["metadata"];
    let name = name_of(object);
    let namespace = namespace_of(object);
    let label = |key: &str| metadata["labels"].get(key).and_then(Value::as_str);
    let annotation = |key: &str| metadata["annotations"].get(key).and_then(Value::as_str);
    if let Some(ns) = namespace
        && SYSTEM_NAMESPACES.contains(&ns)
        && !context.named_namespaces.contains(ns)
    {
        return Some("in a namespace of the cluster's own components");
    }
    let controlled = metadata["ownerReferences"].as_array().is_some_and(|owners| owners.iter().any(|o| o["controller"].as_bool() == Some(true)));
    if controlled {
        return Some("owned by a controller, which makes it from its owner (ReplicaSets and Pods of a Deployment, Jobs of a CronJob)");
    }
    if label(crate::render::APPLYSET_ID_LABEL).is_some() {
        return Some("an ApplySet parent: the applying tool's own record (weft writes its inventory itself)");
    }
    if annotation("kubernetes.io/config.mirror").is_some() {
        return Some("a mirror of a static Pod, made by the kubelet");
    }
    if label("addonmanager.kubernetes.io/mode").is_some() {
        return Some("kept by the cluster's addon manager");
    }
    match (group, kind) {
        ("", "Namespace") if BUILT_IN_NAMESPACES.contains(&name) => Some("every cluster has it"),
        ("", "Service" | "Endpoints") | ("discovery.k8s.io", "EndpointSlice") if namespace == Some("default") && name == "kubernetes" => {
            Some("the API server's own Service and endpoints")
        }
        ("scheduling.k8s.io", "PriorityClass") if name.starts_with("system-") => Some("a priority class the API server keeps"),
        ("", "ConfigMap") if name == "kube-root-ca.crt" => Some("published in every namespace by the root CA publisher"),
        ("", "Secret") if object["type"].as_str() == Some("kubernetes.io/service-account-token") => {
            Some("a service-account token the token controller fills; a design would hold a live credential")
        }
        ("", "Secret") if object["type"].as_str() == Some("helm.sh/release.v1") => Some("Helm's record of a release"),
        ("", "Endpoints")
            if context.selecting_services.contains(&(namespace.unwrap_or_default().to_owned(), name.to_owned()))
                || label("endpoints.kubernetes.io/managed-by").is_some()
                || annotation("endpoints.kubernetes.io/last-change-trigger-time").is_some() =>
        {
            Some("written by the endpoints controller from its Service's selector")
        }
        ("discovery.k8s.io", "EndpointSlice")
            if label("endpointslice.kubernetes.io/managed-by").is_some_and(|m| m.ends_with("controller.k8s.io")) =>
        {
            Some("written by the EndpointSlice controllers")
        }
        ("", "PersistentVolume") if annotation("pv.kubernetes.io/provisioned-by").is_some() => Some("provisioned for a claim, which is onboarded instead"),
        ("rbac.authorization.k8s.io", _) if label("kubernetes.io/bootstrapping") == Some("rbac-defaults") => Some("a default role the API server keeps"),
        ("apiregistration.k8s.io", "APIService") if label("kube-aggregator.kubernetes.io/automanaged").is_some() => {
            Some("registered by the API server for its own groups")
        }
        ("flowcontrol.apiserver.k8s.io", _) if annotation("apf.kubernetes.io/autoupdate-spec") == Some("true") => {
            Some("a default flow-control setting the API server keeps")
        }
        _ => None,
    }
}

/// The service account controller makes `default` in every namespace; it
/// is onboarded only when the user changed it (after cleaning, it holds
/// more than its name).
fn is_default_service_account(object: &Value) -> bool {
    if !is_kind(object, "", "ServiceAccount") || name_of(object) != "default" {
        return false;
    }
    let extra_fields = object.as_object().is_some_and(|o| o.keys().any(|k| !matches!(k.as_str(), "apiVersion" | "kind" | "metadata")));
    let extra_metadata = object["metadata"].as_object().is_some_and(|m| m.keys().any(|k| !matches!(k.as_str(), "name" | "namespace")));
    !extra_fields && !extra_metadata
}

/// Removes what the server and its controllers wrote: status, server
/// metadata, weft's and kubectl's bookkeeping, allocated addresses, and
/// fields equal to what the API server defaults them to.
pub fn clean(object: &mut Value, schemas: &BTreeMap<(String, String), Value>) {
    let group = group_of(object).to_owned();
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default().to_owned();
    let Some(fields) = object.as_object_mut() else { return };
    fields.shift_remove("status");
    // Before the annotations go: they say whether the volume was bound by the controller.
    if group.is_empty() && kind == "PersistentVolumeClaim" {
        persistent_volume_claim(fields);
    }
    if let Some(Value::Object(metadata)) = fields.get_mut("metadata") {
        clean_metadata(metadata);
    }
    match (group.as_str(), kind.as_str()) {
        ("", "Namespace") => namespace(fields),
        ("", "Secret") => drop_if(fields, "type", &json!("Opaque")),
        ("", "Service") => in_map(fields, "spec", service),
        ("", "Pod") => {
            in_map(fields, "spec", pod_spec);
            in_map(fields, "spec", admitted_pod);
        }
        ("", "PersistentVolume") => in_map(fields, "spec", |spec| {
            drop_if(spec, "persistentVolumeReclaimPolicy", &json!("Retain"));
            drop_if(spec, "volumeMode", &json!("Filesystem"));
        }),
        ("apps", "Deployment") => in_map(fields, "spec", deployment),
        ("apps", "StatefulSet") => in_map(fields, "spec", stateful_set),
        ("apps", "DaemonSet") => in_map(fields, "spec", daemon_set),
        ("apps", "ReplicaSet") => in_map(fields, "spec", |spec| {
            drop_if(spec, "replicas", &json!(1));
            in_map(spec, "template", pod_template);
        }),
        ("batch", "Job") => in_map(fields, "spec", |spec| {
            generated_job_selector(spec);
            job_spec(spec);
        }),
        ("batch", "CronJob") => in_map(fields, "spec", cron_job),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => subjects(fields),
        ("rbac.authorization.k8s.io", "ClusterRole") if fields.get("aggregationRule").is_some() => {
            // The aggregation controller writes the rules of an aggregated role.
            fields.shift_remove("rules");
        }
        ("networking.k8s.io", "NetworkPolicy") => in_map(fields, "spec", network_policy),
        ("autoscaling", "HorizontalPodAutoscaler") => in_map(fields, "spec", |spec| {
            drop_if(spec, "minReplicas", &json!(1));
            drop_if(spec, "metrics", &json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]));
        }),
        ("storage.k8s.io", "StorageClass") => {
            drop_if(fields, "reclaimPolicy", &json!("Delete"));
            drop_if(fields, "volumeBindingMode", &json!("Immediate"));
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => in_map(fields, "spec", custom_resource_definition),
        _ => {
            let api_version = fields.get("apiVersion").and_then(Value::as_str).unwrap_or_default().to_owned();
            if let Some(schema) = schemas.get(&(api_version, kind.clone())) {
                for (key, value) in fields.iter_mut().filter(|(k, _)| !matches!(k.as_str(), "apiVersion" | "kind" | "metadata")) {
                    if let Some(property) = schema["properties"].get(key) {
                        drop_schema_defaults(value, property);
                    }
                }
            }
        }
    }
}

fn clean_metadata(metadata: &mut Map<String, Value>) {
    for key in SERVER_METADATA {
        metadata.shift_remove(*key);
    }
    if let Some(Value::Object(annotations)) = metadata.get_mut("annotations") {
        annotations.retain(|key, _| !SERVER_ANNOTATIONS.contains(&key.as_str()));
    }
    if let Some(Value::Object(labels)) = metadata.get_mut("labels") {
        // weft labels what it applies, with the inventory of the run.
        labels.shift_remove(crate::render::PART_OF_LABEL);
        if labels.get(crate::render::MANAGED_BY_LABEL).and_then(Value::as_str) == Some(crate::render::MANAGED_BY) {
            labels.shift_remove(crate::render::MANAGED_BY_LABEL);
        }
    }
    drop_empty(metadata, "annotations");
    drop_empty(metadata, "labels");
}

fn namespace(fields: &mut Map<String, Value>) {
    let name = fields.get("metadata").map(|m| m["name"].clone()).unwrap_or(Value::Null);
    if let Some(Value::Object(metadata)) = fields.get_mut("metadata") {
        if let Some(Value::Object(labels)) = metadata.get_mut("labels") {
            drop_if(labels, "kubernetes.io/metadata.name", &name);
        }
        drop_empty(metadata, "labels");
    }
    in_map(fields, "spec", |spec| drop_if(spec, "finalizers", &json!(["kubernetes"])));
    drop_empty(fields, "spec");
}

fn service(spec: &mut Map<String, Value>) {
    drop_if(spec, "type", &json!("ClusterIP"));
    let kind = spec.get("type").and_then(Value::as_str).unwrap_or("ClusterIP").to_owned();
    drop_if(spec, "sessionAffinity", &json!("None"));
    // Allocated from the cluster's range; a headless Service's `None` is
    // what the user wrote. (An address chosen by hand looks the same as an
    // allocated one and is dropped too: the live Service keeps it.)
    if spec.get("clusterIP").and_then(Value::as_str) == Some("None") {
        drop_if(spec, "clusterIPs", &json!(["None"]));
    } else {
        spec.shift_remove("clusterIP");
        spec.shift_remove("clusterIPs");
    }
    if spec.get("ipFamilyPolicy").and_then(Value::as_str) == Some("SingleStack") {
        spec.shift_remove("ipFamilyPolicy");
        if spec.get("ipFamilies").and_then(Value::as_array).is_some_and(|f| f.len() == 1) {
            spec.shift_remove("ipFamilies");
        }
    }
    drop_if(spec, "internalTrafficPolicy", &json!("Cluster"));
    if kind == "NodePort" || kind == "LoadBalancer" {
        drop_if(spec, "externalTrafficPolicy", &json!("Cluster"));
    }
    if kind == "LoadBalancer" {
        drop_if(spec, "allocateLoadBalancerNodePorts", &json!(true));
    }
    // nodePorts stay: clients outside the cluster reach the Service
    // through them, and whether one was chosen or allocated cannot be told.
    for port in objects_in(spec, "ports") {
        drop_if(port, "protocol", &json!("TCP"));
        if let Some(number) = port.get("port").cloned() {
            drop_if(port, "targetPort", &number);
        }
    }
}

fn persistent_volume_claim(fields: &mut Map<String, Value>) {
    let bound_by_controller = fields.get("metadata").and_then(|m| m["annotations"].get("pv.kubernetes.io/bound-by-controller")).and_then(Value::as_str) == Some("yes");
    in_map(fields, "spec", |spec| {
        drop_if(spec, "volumeMode", &json!("Filesystem"));
        if bound_by_controller {
            spec.shift_remove("volumeName");
        }
    });
}

fn deployment(spec: &mut Map<String, Value>) {
    drop_if(spec, "replicas", &json!(1));
    in_map(spec, "strategy", |strategy| {
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            in_map(strategy, "rollingUpdate", |rolling| {
                drop_if(rolling, "maxUnavailable", &json!("25%"));
                drop_if(rolling, "maxSurge", &json!("25%"));
            });
            drop_empty(strategy, "rollingUpdate");
            if strategy.len() == 1 {
                strategy.shift_remove("type");
            }
        }
    });
    drop_empty(spec, "strategy");
    drop_if(spec, "revisionHistoryLimit", &json!(10));
    drop_if(spec, "progressDeadlineSeconds", &json!(600));
    in_map(spec, "template", pod_template);
}

fn stateful_set(spec: &mut Map<String, Value>) {
    drop_if(spec, "replicas", &json!(1));
    drop_if(spec, "podManagementPolicy", &json!("OrderedReady"));
    drop_if(spec, "updateStrategy", &json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}));
    drop_if(spec, "revisionHistoryLimit", &json!(10));
    drop_if(spec, "persistentVolumeClaimRetentionPolicy", &json!({"whenDeleted": "Retain", "whenScaled": "Retain"}));
    for claim in objects_in(spec, "volumeClaimTemplates") {
        claim.shift_remove("status");
        // The API server writes these into each template; nobody else does.
        drop_if(claim, "apiVersion", &json!("v1"));
        drop_if(claim, "kind", &json!("PersistentVolumeClaim"));
        in_map(claim, "metadata", |metadata| drop_if(metadata, "creationTimestamp", &Value::Null));
        drop_empty(claim, "metadata");
        in_map(claim, "spec", |spec| drop_if(spec, "volumeMode", &json!("Filesystem")));
    }
    in_map(spec, "template", pod_template);
}

fn daemon_set(spec: &mut Map<String, Value>) {
    drop_if(spec, "updateStrategy", &json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}));
    drop_if(spec, "revisionHistoryLimit", &json!(10));
    in_map(spec, "template", pod_template);
}

/// Without `manualSelector`, the API server generates a Job's selector and
/// labels its pod template to match (with the Job's uid).
fn generated_job_selector(spec: &mut Map<String, Value>) {
    if spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        return;
    }
    spec.shift_remove("selector");
    in_map(spec, "template", |template| {
        in_map(template, "metadata", |metadata| {
            if let Some(Value::Object(labels)) = metadata.get_mut("labels") {
                for generated in ["controller-uid", "batch.kubernetes.io/controller-uid", "job-name", "batch.kubernetes.io/job-name"] {
                    labels.shift_remove(generated);
                }
            }
            drop_empty(metadata, "labels");
        });
    });
}

fn job_spec(spec: &mut Map<String, Value>) {
    // Completions default to 1 only when parallelism is left out too.
    if spec.get("parallelism").is_some_and(|p| same(p, &json!(1))) {
        spec.shift_remove("parallelism");
        drop_if(spec, "completions", &json!(1));
    }
    let per_index = spec.contains_key("backoffLimitPerIndex");
    if !per_index {
        drop_if(spec, "backoffLimit", &json!(6));
    }
    drop_if(spec, "completionMode", &json!("NonIndexed"));
    drop_if(spec, "suspend", &json!(false));
    if !spec.contains_key("podFailurePolicy") {
        drop_if(spec, "podReplacementPolicy", &json!("TerminatingOrFailed"));
    }
    in_map(spec, "template", pod_template);
}

fn cron_job(spec: &mut Map<String, Value>) {
    drop_if(spec, "concurrencyPolicy", &json!("Allow"));
    drop_if(spec, "suspend", &json!(false));
    drop_if(spec, "successfulJobsHistoryLimit", &json!(3));
    drop_if(spec, "failedJobsHistoryLimit", &json!(1));
    in_map(spec, "jobTemplate", |template| {
        in_map(template, "metadata", |metadata| drop_if(metadata, "creationTimestamp", &Value::Null));
        drop_empty(template, "metadata");
        in_map(template, "spec", job_spec);
    });
}

/// `spec.template` of a workload.
fn pod_template(template: &mut Map<String, Value>) {
    // Go's zero time, printed for every embedded ObjectMeta.
    in_map(template, "metadata", |metadata| drop_if(metadata, "creationTimestamp", &Value::Null));
    drop_empty(template, "metadata");
    in_map(template, "spec", pod_spec);
}

fn pod_spec(spec: &mut Map<String, Value>) {
    drop_if(spec, "restartPolicy", &json!("Always"));
    drop_if(spec, "dnsPolicy", &json!("ClusterFirst"));
    drop_if(spec, "terminationGracePeriodSeconds", &json!(30));
    drop_if(spec, "schedulerName", &json!("default-scheduler"));
    drop_if(spec, "enableServiceLinks", &json!(true));
    drop_empty(spec, "securityContext");
    // The deprecated alias the API server copies from serviceAccountName.
    if let Some(account) = spec.get("serviceAccountName").cloned() {
        drop_if(spec, "serviceAccount", &account);
    }
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        for container in objects_in(spec, list) {
            self::container(container);
        }
    }
    for volume in objects_in(spec, "volumes") {
        for source in ["configMap", "secret", "projected", "downwardAPI"] {
            in_map(volume, source, |source| {
                drop_if(source, "defaultMode", &json!(420));
                for item in objects_in(source, "items") {
                    field_ref(item);
                }
            });
        }
        in_map(volume, "hostPath", |host_path| drop_if(host_path, "type", &json!("")));
    }
}

fn container(container: &mut Map<String, Value>) {
    // As the API server defaults it (`parsers.ParseImageName`): `Always`
    // for the tag `latest`, or for no tag and no digest; a digest with the
    // tag `latest` (`nginx:latest@sha256:…`) is still `Always`.
    let image = container.get("image").and_then(Value::as_str).unwrap_or_default();
    let (named, digest) = image.split_once('@').map_or((image, false), |(named, _)| (named, true));
    let last = named.rsplit('/').next().unwrap_or_default();
    let tag = last.split_once(':').map(|(_, tag)| tag);
    let pull_policy = if tag == Some("latest") || (tag.is_none() && !digest) { "Always" } else { "IfNotPresent" };
    drop_if(container, "imagePullPolicy", &json!(pull_policy));
    drop_if(container, "terminationMessagePath", &json!("/dev/termination-log"));
    drop_if(container, "terminationMessagePolicy", &json!("File"));
    drop_empty(container, "resources");
    for port in objects_in(container, "ports") {
        drop_if(port, "protocol", &json!("TCP"));
    }
    for variable in objects_in(container, "env") {
        in_map(variable, "valueFrom", field_ref);
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        in_map(container, probe, |probe| {
            drop_if(probe, "timeoutSeconds", &json!(1));
            drop_if(probe, "periodSeconds", &json!(10));
            drop_if(probe, "successThreshold", &json!(1));
            drop_if(probe, "failureThreshold", &json!(3));
            in_map(probe, "httpGet", |get| drop_if(get, "scheme", &json!("HTTP")));
        });
    }
}

fn field_ref(holder: &mut Map<String, Value>) {
    in_map(holder, "fieldRef", |field| drop_if(field, "apiVersion", &json!("v1")));
}

/// What admission adds to a Pod made by hand: the service account token
/// volume, the not-ready/unreachable tolerations, priority, and the node
/// the scheduler chose.
fn admitted_pod(spec: &mut Map<String, Value>) {
    let is_token_volume = |name: &str| name.starts_with("kube-api-access-");
    if let Some(Value::Array(volumes)) = spec.get_mut("volumes") {
        volumes.retain(|v| !v["name"].as_str().is_some_and(is_token_volume));
    }
    drop_empty(spec, "volumes");
    for list in ["containers", "initContainers"] {
        for container in objects_in(spec, list) {
            if let Some(Value::Array(mounts)) = container.get_mut("volumeMounts") {
                mounts.retain(|m| !m["name"].as_str().is_some_and(is_token_volume));
            }
            drop_empty(container, "volumeMounts");
        }
    }
    if let Some(Value::Array(tolerations)) = spec.get_mut("tolerations") {
        tolerations.retain(|t| {
            let default_toleration = |key: &str| json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300});
            !same(t, &default_toleration("node.kubernetes.io/not-ready")) && !same(t, &default_toleration("node.kubernetes.io/unreachable"))
        });
    }
    drop_empty(spec, "tolerations");
    if !spec.contains_key("priorityClassName") {
        drop_if(spec, "priority", &json!(0));
    }
    drop_if(spec, "preemptionPolicy", &json!("PreemptLowerPriority"));
    spec.shift_remove("nodeName");
}

fn subjects(fields: &mut Map<String, Value>) {
    for subject in objects_in(fields, "subjects") {
        match subject.get("kind").and_then(Value::as_str) {
            Some("User" | "Group") => drop_if(subject, "apiGroup", &json!("rbac.authorization.k8s.io")),
            Some("ServiceAccount") => drop_if(subject, "apiGroup", &json!("")),
            _ => {}
        }
    }
}

fn network_policy(spec: &mut Map<String, Value>) {
    let mut defaulted = vec![json!("Ingress")];
    if spec.contains_key("egress") {
        defaulted.push(json!("Egress"));
    }
    drop_if(spec, "policyTypes", &Value::Array(defaulted));
    for direction in ["ingress", "egress"] {
        for rule in objects_in(spec, direction) {
            for port in objects_in(rule, "ports") {
                drop_if(port, "protocol", &json!("TCP"));
            }
        }
    }
}

fn custom_resource_definition(spec: &mut Map<String, Value>) {
    drop_if(spec, "conversion", &json!({"strategy": "None"}));
    in_map(spec, "names", |names| {
        if let Some(kind) = names.get("kind").and_then(Value::as_str).map(str::to_owned) {
            drop_if(names, "singular", &json!(kind.to_ascii_lowercase()));
            drop_if(names, "listKind", &json!(format!("{kind}List")));
        }
    });
}

/// Drops the fields of a custom resource equal to their schema `default`
/// (properties, list items and map values, as structural defaulting
/// fills them).
fn drop_schema_defaults(value: &mut Value, schema: &Value) {
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            for (key, property) in properties.into_iter().flatten() {
                if let Some(default) = property.get("default") {
                    drop_if(map, key, default);
                }
                if let Some(child) = map.get_mut(key) {
                    drop_schema_defaults(child, property);
                }
            }
            if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
                for (key, child) in map.iter_mut() {
                    if !properties.is_some_and(|p| p.contains_key(key)) {
                        drop_schema_defaults(child, values);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items {
                    drop_schema_defaults(item, item_schema);
                }
            }
        }
        _ => {}
    }
}

/// Removes `map[key]` when it equals `default`.
fn drop_if(map: &mut Map<String, Value>, key: &str, default: &Value) {
    if map.get(key).is_some_and(|v| same(v, default)) {
        map.shift_remove(key);
    }
}

/// Removes `map[key]` when it is an empty map or list.
fn drop_empty(map: &mut Map<String, Value>, key: &str) {
    let empty = match map.get(key) {
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    };
    if empty {
        map.shift_remove(key);
    }
}

/// Runs `f` on `map[key]` when it is a map.
fn in_map(map: &mut Map<String, Value>, key: &str, f: impl FnOnce(&mut Map<String, Value>)) {
    if let Some(Value::Object(child)) = map.get_mut(key) {
        f(child);
    }
}

/// The maps in the list `map[key]`.
fn objects_in<'m>(map: &'m mut Map<String, Value>, key: &str) -> impl Iterator<Item = &'m mut Map<String, Value>> {
    map.get_mut(key).and_then(Value::as_array_mut).into_iter().flatten().filter_map(Value::as_object_mut)
}

/// Equality as the API server sees it: `1` and `1.0` are the same number.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Value::Object(x), Value::Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w))),
        _ => a == b,
    }
}

fn group_of(object: &Value) -> &str {
    crate::cluster::split_api_version(object.get("apiVersion").and_then(Value::as_str).unwrap_or_default()).0
}

fn is_kind(object: &Value, group: &str, kind: &str) -> bool {
    group_of(object) == group && object.get("kind").and_then(Value::as_str) == Some(kind)
}

fn name_of(object: &Value) -> &str {
    object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default()
}

fn namespace_of(object: &Value) -> Option<&str> {
    object.pointer("/metadata/namespace").and_then(Value::as_str).filter(|ns| !ns.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cleaned(mut object: Value) -> Value {
        clean(&mut object, &BTreeMap::new());
        object
    }

    fn kept(objects: Vec<Value>, options: &Options) -> Vec<(String, String, String)> {
        onboard(objects, options, &BTreeMap::new())
            .objects
            .iter()
            .map(|o| (o["kind"].as_str().unwrap().to_owned(), namespace_of(o).unwrap_or_default().to_owned(), name_of(o).to_owned()))
            .collect()
    }

    fn in_shop(api_version: &str, kind: &str, name: &str, rest: Value) -> Value {
        let mut object = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": "shop"}});
        if let (Some(fields), Value::Object(rest)) = (object.as_object_mut(), rest) {
            for (k, v) in rest {
                if k == "metadata" {
                    fields["metadata"].as_object_mut().unwrap().extend(v.as_object().cloned().unwrap_or_default());
                } else {
                    fields.insert(k, v);
                }
            }
        }
        object
    }

    #[test]
    fn server_metadata_and_bookkeeping_go_and_user_metadata_stays() {
        let object = cleaned(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {
                "name": "settings-x7k2p", "generateName": "settings-", "namespace": "shop", "uid": "u", "resourceVersion": "7", "generation": 2,
                "creationTimestamp": "2026-01-01T00:00:00Z", "managedFields": [{}], "finalizers": ["example.com/hold"],
                "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "u2"}],
                "labels": {"app": "web", "app.kubernetes.io/managed-by": "weft", "applyset.kubernetes.io/part-of": "applyset-abc-v1"},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "weft.io/applied-hash": "h", "team": "shop"}
            },
            "data": {"a": "1"},
            "status": {}
        }));
        assert_eq!(
            object,
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "settings-x7k2p", "namespace": "shop", "labels": {"app": "web"}, "annotations": {"team": "shop"}},
                "data": {"a": "1"}})
        );
        // Another tool's managed-by label is the user's business.
        let helm = cleaned(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"app.kubernetes.io/managed-by": "Helm"}}}));
        assert_eq!(helm["metadata"]["labels"], json!({"app.kubernetes.io/managed-by": "Helm"}));
    }

    #[test]
    fn services_lose_allocations_and_defaults_but_keep_choices() {
        let allocated = cleaned(in_shop("v1", "Service", "web", json!({"spec": {
            "type": "ClusterIP", "clusterIP": "10.96.0.7", "clusterIPs": ["10.96.0.7"], "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
            "sessionAffinity": "None", "internalTrafficPolicy": "Cluster", "selector": {"app": "web"},
            "ports": [{"port": 80, "targetPort": 80, "protocol": "TCP"}, {"name": "admin", "port": 81, "targetPort": "admin", "protocol": "UDP"}]
        }})));
        assert_eq!(allocated["spec"], json!({"selector": {"app": "web"}, "ports": [{"port": 80}, {"name": "admin", "port": 81, "targetPort": "admin", "protocol": "UDP"}]}));

        let headless = cleaned(in_shop("v1", "Service", "db", json!({"spec": {"clusterIP": "None", "clusterIPs": ["None"], "ports": [{"port": 5432, "targetPort": 5432}]}})));
        assert_eq!(headless["spec"], json!({"clusterIP": "None", "ports": [{"port": 5432}]}));

        let balancer = cleaned(in_shop("v1", "Service", "edge", json!({"spec": {
            "type": "LoadBalancer", "clusterIP": "10.96.0.9", "allocateLoadBalancerNodePorts": true, "externalTrafficPolicy": "Local",
            "healthCheckNodePort": 31000, "ipFamilyPolicy": "PreferDualStack", "ipFamilies": ["IPv4", "IPv6"],
            "ports": [{"port": 443, "targetPort": 8443, "nodePort": 30443}]
        }})));
        assert_eq!(
            balancer["spec"],
            json!({"type": "LoadBalancer", "externalTrafficPolicy": "Local", "healthCheckNodePort": 31000, "ipFamilyPolicy": "PreferDualStack",
                "ipFamilies": ["IPv4", "IPv6"], "ports": [{"port": 443, "targetPort": 8443, "nodePort": 30443}]})
        );
    }

    #[test]
    fn workloads_lose_defaults_and_keep_what_differs() {
        let deployment = cleaned(in_shop("apps/v1", "Deployment", "web", json!({"spec": {
            "replicas": 1, "revisionHistoryLimit": 5, "progressDeadlineSeconds": 600,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
                "spec": {
                    "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler", "securityContext": {},
                    "terminationGracePeriodSeconds": 60, "serviceAccountName": "web", "serviceAccount": "web", "enableServiceLinks": true,
                    "containers": [
                        {"name": "web", "image": "nginx:1.27", "imagePullPolicy": "Always", "terminationMessagePath": "/dev/termination-log",
                         "terminationMessagePolicy": "File", "resources": {}, "ports": [{"containerPort": 80, "protocol": "TCP"}],
                         "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}}}],
                         "livenessProbe": {"tcpSocket": {"port": 80}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 5},
                         "readinessProbe": {"httpGet": {"path": "/", "port": 80, "scheme": "HTTP"}, "timeoutSeconds": 2}},
                        {"name": "sidecar", "image": "busybox", "imagePullPolicy": "Always"},
                        {"name": "pinned", "image": "registry:5000/tool@sha256:abc", "imagePullPolicy": "IfNotPresent"}
                    ],
                    "volumes": [
                        {"name": "config", "configMap": {"name": "web", "defaultMode": 420, "items": [{"key": "a", "path": "a"}]}},
                        {"name": "keys", "secret": {"secretName": "keys", "defaultMode": 256}},
                        {"name": "scratch", "emptyDir": {}}
                    ]
                }
            }
        }})));
        assert_eq!(
            deployment["spec"],
            json!({
                "revisionHistoryLimit": 5,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}},
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "terminationGracePeriodSeconds": 60, "serviceAccountName": "web",
                        "containers": [
                            {"name": "web", "image": "nginx:1.27", "imagePullPolicy": "Always", "ports": [{"containerPort": 80}],
                             "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                             "livenessProbe": {"tcpSocket": {"port": 80}, "failureThreshold": 5},
                             "readinessProbe": {"httpGet": {"path": "/", "port": 80}, "timeoutSeconds": 2}},
                            {"name": "sidecar", "image": "busybox"},
                            {"name": "pinned", "image": "registry:5000/tool@sha256:abc"}
                        ],
                        "volumes": [
                            {"name": "config", "configMap": {"name": "web", "items": [{"key": "a", "path": "a"}]}},
                            {"name": "keys", "secret": {"secretName": "keys", "defaultMode": 256}},
                            {"name": "scratch", "emptyDir": {}}
                        ]
                    }
                }
            })
        );
        // The tag `latest` with a digest defaults to `Always`: an explicit `IfNotPresent` is the user's.
        let latest_by_digest = cleaned(in_shop("v1", "Pod", "p", json!({"spec": {"containers": [
            {"name": "a", "image": "nginx:latest@sha256:abc", "imagePullPolicy": "IfNotPresent"},
            {"name": "b", "image": "nginx:latest@sha256:abc", "imagePullPolicy": "Always"},
            {"name": "c", "image": "localhost:5000/nginx@sha256:abc", "imagePullPolicy": "IfNotPresent"}
        ]}})));
        assert_eq!(
            latest_by_digest["spec"]["containers"],
            json!([
                {"name": "a", "image": "nginx:latest@sha256:abc", "imagePullPolicy": "IfNotPresent"},
                {"name": "b", "image": "nginx:latest@sha256:abc"},
                {"name": "c", "image": "localhost:5000/nginx@sha256:abc"}
            ])
        );
        let recreate = cleaned(in_shop("apps/v1", "Deployment", "db", json!({"spec": {"strategy": {"type": "Recreate"}}})));
        assert_eq!(recreate["spec"], json!({"strategy": {"type": "Recreate"}}));
    }

    #[test]
    fn jobs_lose_the_generated_selector_and_keep_a_manual_one() {
        let generated = cleaned(in_shop("batch/v1", "Job", "migrate", json!({"spec": {
            "parallelism": 1, "completions": 1, "backoffLimit": 6, "completionMode": "NonIndexed", "suspend": false, "podReplacementPolicy": "TerminatingOrFailed",
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}},
            "template": {
                "metadata": {"labels": {"batch.kubernetes.io/controller-uid": "u", "controller-uid": "u", "batch.kubernetes.io/job-name": "migrate", "job-name": "migrate"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "migrate:1"}]}
            }
        }})));
        assert_eq!(generated["spec"], json!({"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "migrate:1"}]}}}));

        let manual = cleaned(in_shop("batch/v1", "Job", "batch", json!({"spec": {
            "manualSelector": true, "parallelism": 3, "completions": 1, "selector": {"matchLabels": {"job-name": "batch"}},
            "template": {"metadata": {"labels": {"job-name": "batch"}}, "spec": {"restartPolicy": "OnFailure"}}
        }})));
        assert_eq!(manual["spec"]["selector"], json!({"matchLabels": {"job-name": "batch"}}));
        assert_eq!(manual["spec"]["template"]["metadata"], json!({"labels": {"job-name": "batch"}}));
        assert_eq!((manual["spec"]["parallelism"].clone(), manual["spec"]["completions"].clone()), (json!(3), json!(1)), "completions were chosen");
    }

    #[test]
    fn hand_made_pods_lose_what_admission_and_the_scheduler_added() {
        let pod = cleaned(in_shop("v1", "Pod", "debug", json!({"spec": {
            "nodeName": "node-1", "priority": 0, "preemptionPolicy": "PreemptLowerPriority",
            "containers": [{"name": "sh", "image": "busybox:1.36", "volumeMounts": [{"name": "kube-api-access-x8d2k", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]}],
            "volumes": [{"name": "kube-api-access-x8d2k", "projected": {"sources": []}}],
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "dedicated", "operator": "Equal", "value": "debug", "effect": "NoSchedule"}
            ]
        }})));
        assert_eq!(
            pod["spec"],
            json!({"containers": [{"name": "sh", "image": "busybox:1.36"}], "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "debug", "effect": "NoSchedule"}]})
        );
    }

    #[test]
    fn other_kinds_lose_their_server_defaults() {
        let namespace = cleaned(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"kubernetes.io/metadata.name": "shop"}}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}));
        assert_eq!(namespace, json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}));
        let secret = cleaned(in_shop("v1", "Secret", "s", json!({"type": "Opaque", "data": {"k": "dg=="}})));
        assert_eq!(secret, in_shop("v1", "Secret", "s", json!({"data": {"k": "dg=="}})));
        let binding = cleaned(in_shop("rbac.authorization.k8s.io/v1", "RoleBinding", "b", json!({"subjects": [
            {"kind": "User", "name": "ada", "apiGroup": "rbac.authorization.k8s.io"}, {"kind": "ServiceAccount", "name": "web", "apiGroup": ""}
        ]})));
        assert_eq!(binding["subjects"], json!([{"kind": "User", "name": "ada"}, {"kind": "ServiceAccount", "name": "web"}]));
        let aggregated = cleaned(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "view-all"},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"view": "true"}}]}, "rules": [{"verbs": ["get"]}]}));
        assert!(aggregated.get("rules").is_none(), "the aggregation controller writes them: {aggregated}");
        let claim = cleaned(in_shop("v1", "PersistentVolumeClaim", "data", json!({
            "metadata": {"annotations": {"pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes"}},
            "spec": {"volumeMode": "Filesystem", "volumeName": "pvc-123", "storageClassName": "standard", "accessModes": ["ReadWriteOnce"]}
        })));
        assert_eq!(claim, in_shop("v1", "PersistentVolumeClaim", "data", json!({"spec": {"storageClassName": "standard", "accessModes": ["ReadWriteOnce"]}})));
        let crd = cleaned(json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"}, "conversion": {"strategy": "None"}}}));
        assert_eq!(crd["spec"], json!({"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}}));
    }

    #[test]
    fn custom_resources_lose_the_defaults_of_their_schema() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "size": {"type": "integer", "default": 1},
            "color": {"type": "string", "default": "blue"},
            "parts": {"type": "array", "items": {"type": "object", "properties": {"weight": {"type": "number", "default": 1.0}}}},
            "labels": {"type": "object", "additionalProperties": {"type": "object", "properties": {"shown": {"type": "boolean", "default": true}}}}
        }}}});
        let schemas = BTreeMap::from([(("example.com/v1".to_owned(), "Widget".to_owned()), schema)]);
        let mut widget = in_shop("example.com/v1", "Widget", "gear", json!({"spec": {
            "size": 1, "color": "red", "parts": [{"name": "a", "weight": 1}, {"name": "b", "weight": 2}], "labels": {"x": {"shown": true}, "y": {"shown": false}}
        }}));
        clean(&mut widget, &schemas);
        assert_eq!(widget["spec"], json!({"color": "red", "parts": [{"name": "a"}, {"name": "b", "weight": 2}], "labels": {"x": {}, "y": {"shown": false}}}));
    }

    #[test]
    fn what_the_cluster_made_is_skipped() {
        let owner = json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "u", "controller": true}]);
        let listed = vec![
            in_shop("apps/v1", "ReplicaSet", "web-1", json!({"metadata": {"ownerReferences": owner}})),
            in_shop("v1", "ConfigMap", "kept-owned", json!({"metadata": {"ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "u"}]}})),
            in_shop("v1", "Secret", "web-token", json!({"type": "kubernetes.io/service-account-token"})),
            in_shop("v1", "Secret", "sh.helm.release.v1.web.v1", json!({"type": "helm.sh/release.v1"})),
            in_shop("v1", "ConfigMap", "kube-root-ca.crt", json!({})),
            in_shop("v1", "ConfigMap", "weft-shop", json!({"metadata": {"labels": {"applyset.kubernetes.io/id": "applyset-x-v1"}}})),
            in_shop("v1", "ServiceAccount", "default", json!({})),
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "pulls"}, "imagePullSecrets": [{"name": "registry"}]}),
            in_shop("v1", "Event", "web.1", json!({})),
            in_shop("events.k8s.io/v1", "Event", "web.2", json!({})),
            in_shop("coordination.k8s.io/v1", "Lease", "leader", json!({})),
            in_shop("v1", "Service", "web", json!({"spec": {"selector": {"app": "web"}}})),
            in_shop("v1", "Endpoints", "web", json!({})),
            in_shop("v1", "Service", "external", json!({"spec": {"ports": [{"port": 5432}]}})),
            in_shop("v1", "Endpoints", "external", json!({"subsets": [{"addresses": [{"ip": "192.0.2.10"}]}]})),
            in_shop("discovery.k8s.io/v1", "EndpointSlice", "web-x", json!({"metadata": {"labels": {"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}}})),
            in_shop("discovery.k8s.io/v1", "EndpointSlice", "external-1", json!({"metadata": {"labels": {"endpointslice.kubernetes.io/managed-by": "staff"}}})),
            in_shop("metrics.k8s.io/v1beta1", "PodMetrics", "web-1", json!({})),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "coredns", "namespace": "kube-system"}}),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}),
            json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pvc-1", "annotations": {"pv.kubernetes.io/provisioned-by": "csi"}}}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "admin", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}}}),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubernetes", "namespace": "default"}, "spec": {"ports": [{"port": 443}]}}),
            json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "kubernetes", "namespace": "default"}}),
            json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "system-node-critical"}, "value": 2000001000}),
            json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "standard", "labels": {"addonmanager.kubernetes.io/mode": "EnsureExists"}}}),
        ];
        let expected: Vec<(String, String, String)> = [
            ("ConfigMap", "shop", "kept-owned"),
            ("Endpoints", "shop", "external"),
            ("Namespace", "", "shop"),
            ("Service", "shop", "external"),
            ("Service", "shop", "web"),
            ("ServiceAccount", "pulls", "default"),
            ("EndpointSlice", "shop", "external-1"),
        ]
        .into_iter()
        .map(|(k, n, name)| (k.to_owned(), n.to_owned(), name.to_owned()))
        .collect();
        assert_eq!(kept(listed.clone(), &Options::default()), expected, "sorted by group, kind, namespace, name");

        // A system namespace is read when it is named.
        let named = Options { namespaces: vec!["kube-system".into()], selector: None };
        assert!(kept(listed, &named).contains(&("ConfigMap".to_owned(), "kube-system".to_owned(), "coredns".to_owned())));
    }

    #[test]
    fn an_autoscaled_workload_leaves_its_replicas_to_the_autoscaler() {
        let listed = vec![
            in_shop("apps/v1", "Deployment", "web", json!({"spec": {"replicas": 7}})),
            in_shop("apps/v1", "Deployment", "worker", json!({"spec": {"replicas": 3}})),
            in_shop("autoscaling/v2", "HorizontalPodAutoscaler", "web", json!({"spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 10}})),
        ];
        let onboarded = onboard(listed, &Options::default(), &BTreeMap::new()).objects;
        let spec_of = |name: &str| onboarded.iter().find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == name).unwrap()["spec"].clone();
        assert_eq!(spec_of("web"), json!({}));
        assert_eq!(spec_of("worker"), json!({"replicas": 3}));
    }

    #[test]
    fn skipped_kinds_each_say_why() {
        assert!(kind_skip_reason("", "Event").is_some());
        assert!(kind_skip_reason("metrics.k8s.io", "NodeMetrics").is_some());
        assert!(kind_skip_reason("apps", "Deployment").is_none());
        assert!(SKIPPED_KINDS.iter().all(|(_, _, reason)| !reason.is_empty()));
    }
}
