//! The model generator: Kubernetes JSON-schema definitions or CRDs in,
//! Meshery-layout component definitions out.
//!
//! Output of one import, all of it deterministic (sorted keys and kinds,
//! UUIDv5 ids over model, version, apiVersion and kind):
//!
//! ```text
//! <out>/<model>/<upstream-version>/v1.0.0/model.json
//! <out>/<model>/<upstream-version>/v1.0.0/components/<Kind>.json                  preferred version of Kind
//! <out>/<model>/<upstream-version>/v1.0.0/components/<Kind>.<group>.<version>.json other served versions
//! <out>/<model>/<upstream-version>/v1.0.0/components/<Kind>.<version>.json         (core group)
//! ```
//!
//! The preferred version is the one Kubernetes discovery prefers (GA over
//! beta over alpha, higher first; the core group first when two groups
//! serve a kind, e.g. `Event`). Every name but the preferred one carries
//! its apiVersion, so the registry can match an apiVersion from the
//! directory listing alone.
//!
//! Each schema is self-contained: the definitions it references, and only
//! those, sit under `$defs` (inlining is impossible: `JSONSchemaProps` is
//! recursive). The schema is stored as a JSON string in
//! `component.schema`, as Meshery does.

use super::convert::{self, OBJECT_META};
use super::version;
use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub const DEFINITION_VERSION: &str = "v1.0.0";
const COMPONENT_SCHEMA_VERSION: &str = "components.meshery.io/v1beta1";
const MODEL_SCHEMA_VERSION: &str = "models.meshery.io/v1beta1";

/// A model ready to be written.
#[derive(Clone, Debug)]
pub struct ModelBundle {
    pub name: String,
    /// Upstream version (`v1.35.0`).
    pub version: String,
    /// File name of the input, recorded in `model.json`.
    pub source: String,
    pub components: Vec<GeneratedComponent>,
}

#[derive(Clone, Debug)]
pub struct GeneratedComponent {
    /// API group; empty for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    pub namespaced: bool,
    /// The preferred version of its kind in this model.
    pub preferred: bool,
    pub description: Option<String>,
    pub schema: Value,
}

impl GeneratedComponent {
    pub fn api_version(&self) -> String {
        api_version(&self.group, &self.version)
    }

    /// `<Kind>.json` for the preferred version, else the apiVersion with
    /// `/` as `.`: `HorizontalPodAutoscaler.autoscaling.v1.json`.
    pub fn file_name(&self) -> String {
        match (self.preferred, self.group.as_str()) {
            (true, _) => format!("{}.json", self.kind),
            (false, "") => format!("{}.{}.json", self.kind, self.version),
            (false, group) => format!("{}.{}.{}.json", self.kind, group, self.version),
        }
    }
}

pub(crate) fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") }
}

/// Kinds of the built-in API that are cluster-scoped. The definitions
/// document does not say which kinds are namespaced (that lives in API
/// discovery, not in the schemas), so this table is taken from
/// `kubectl api-resources --namespaced=false` of Kubernetes 1.35; every
/// other kind is namespaced. A test checks each entry names a real kind.
pub(crate) const CLUSTER_SCOPED: &[(&str, &str)] = &[
    ("", "ComponentStatus"),
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    ("authentication.k8s.io", "SelfSubjectReview"),
    ("authentication.k8s.io", "TokenReview"),
    ("authorization.k8s.io", "SelfSubjectAccessReview"),
    ("authorization.k8s.io", "SelfSubjectRulesReview"),
    ("authorization.k8s.io", "SubjectAccessReview"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("certificates.k8s.io", "ClusterTrustBundle"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("internal.apiserver.k8s.io", "StorageVersion"),
    ("networking.k8s.io", "IPAddress"),
    ("networking.k8s.io", "IngressClass"),
    ("networking.k8s.io", "ServiceCIDR"),
    ("node.k8s.io", "RuntimeClass"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("resource.k8s.io", "DeviceClass"),
    ("resource.k8s.io", "DeviceTaintRule"),
    ("resource.k8s.io", "ResourceSlice"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("storage.k8s.io", "VolumeAttributesClass"),
    ("storagemigration.k8s.io", "StorageVersionMigration"),
];

pub(crate) fn is_cluster_scoped(group: &str, kind: &str) -> bool {
    CLUSTER_SCOPED.iter().any(|&(g, k)| g == group && k == kind)
}

/// Definitions that carry a group-version-kind but are not objects anyone
/// commits: the API machinery of `meta/v1` (Status, WatchEvent,
/// DeleteOptions, APIGroup, APIVersions, ...) and the `*List` wrappers.
/// Subresource and review kinds (Scale, Eviction, TokenReview, ...) are
/// kept: they are real request bodies with ObjectMeta.
fn is_machinery(def_name: &str, kind: &str, def: &Value) -> bool {
    def_name.starts_with("io.k8s.apimachinery.pkg.apis.meta.")
        || (kind.ends_with("List") && def.pointer("/properties/items").is_some())
}

/// Components from a JSON-schema definitions document: the
/// kubernetes-validate `_definitions.json` (`$defs`), a Swagger 2
/// `swagger.json` (`definitions`) or an OpenAPI 3 document
/// (`components.schemas`).
pub fn from_openapi(label: &str, text: &str, name: &str, version: &str) -> Result<ModelBundle, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("{label}: {e}"))?;
    let defs = doc
        .get("$defs")
        .or_else(|| doc.get("definitions"))
        .or_else(|| doc.pointer("/components/schemas"))
        .and_then(Value::as_object)
        .ok_or_else(|| format!("{label}: no `$defs`, `definitions` or `components.schemas` object"))?;
    let converted: HashMap<&str, Value> = defs.iter().map(|(k, v)| (k.as_str(), convert::convert(v, true))).collect();

    let mut components = Vec::new();
    for (def_name, def) in defs {
        let Some(gvks) = def.get("x-kubernetes-group-version-kind").and_then(Value::as_array) else {
            continue;
        };
        // Only machinery kinds (DeleteOptions, WatchEvent) list several.
        let [gvk] = gvks.as_slice() else { continue };
        let field = |f: &str| gvk.get(f).and_then(Value::as_str).unwrap_or_default().to_owned();
        let (group, version, kind) = (field("group"), field("version"), field("kind"));
        if kind.is_empty() || version.is_empty() || is_machinery(def_name, &kind, def) {
            continue;
        }
        let Some(Value::Object(root)) = converted.get(def_name.as_str()).cloned() else { continue };
        let root = remove_omitted(root);
        let defs = closure(&root, &converted).map_err(|e| format!("{label}: {def_name}: {e}"))?;
        let gvk = json!([{"group": group, "kind": kind, "version": version}]);
        components.push(GeneratedComponent {
            namespaced: !is_cluster_scoped(&group, &kind),
            description: description(def),
            schema: convert::finish_root(root, def, gvk, defs),
            preferred: false,
            group,
            version,
            kind,
        });
    }
    finish_bundle(name, version, label, components)
}

/// Components from a stream of CustomResourceDefinitions (other documents
/// are skipped, `List`s are looked into).
pub fn from_crds(label: &str, text: &str, name: &str, version: &str) -> Result<ModelBundle, String> {
    let limits = crate::load::yaml::Limits::default();
    let docs = crate::load::yaml::parse_stream(label, text, &limits)
        .map_err(|d| format!("{label}:{}:{}: {}", d.line(), d.column(), d.message))?;
    let mut components = Vec::new();
    for doc in docs {
        let doc = doc.to_json();
        let items = match doc.get("kind").and_then(Value::as_str) {
            Some("List") => doc.get("items").and_then(Value::as_array).cloned().unwrap_or_default(),
            _ => vec![doc],
        };
        for item in items.iter().filter(|i| is_crd(i)) {
            components.extend(crd_components(item).map_err(|e| format!("{label}: {e}"))?);
        }
    }
    if components.is_empty() {
        return Err(format!("{label}: no CustomResourceDefinition with a served version"));
    }
    finish_bundle(name, version, label, components)
}

pub(crate) fn is_crd(doc: &Value) -> bool {
    doc.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition")
        && doc.get("apiVersion").and_then(Value::as_str).is_some_and(|v| v.starts_with("apiextensions.k8s.io/"))
}

/// One component per served version of a CRD. Accepts `apiextensions/v1`
/// and the older `v1beta1` shape (`spec.version`, `spec.validation`).
pub(crate) fn crd_components(crd: &Value) -> Result<Vec<GeneratedComponent>, String> {
    let name = crd.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("<unnamed>");
    let text = |pointer: &str| crd.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty());
    let group = text("/spec/group").ok_or_else(|| format!("CustomResourceDefinition {name}: no spec.group"))?;
    let kind =
        text("/spec/names/kind").ok_or_else(|| format!("CustomResourceDefinition {name}: no spec.names.kind"))?;
    let namespaced = match text("/spec/scope") {
        Some("Namespaced") | None => true,
        Some("Cluster") => false,
        Some(other) => return Err(format!("CustomResourceDefinition {name}: unknown scope `{other}`")),
    };
    let shared_schema = crd.pointer("/spec/validation/openAPIV3Schema");
    let mut served: Vec<(&str, Option<&Value>)> = Vec::new();
    match crd.pointer("/spec/versions").and_then(Value::as_array).filter(|v| !v.is_empty()) {
        Some(versions) => {
            for entry in versions {
                let version = entry
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("CustomResourceDefinition {name}: a version has no name"))?;
                if entry.get("served").and_then(Value::as_bool).unwrap_or(true) {
                    served.push((version, entry.pointer("/schema/openAPIV3Schema").or(shared_schema)));
                }
            }
        }
        None => {
            let version =
                text("/spec/version").ok_or_else(|| format!("CustomResourceDefinition {name}: no versions"))?;
            served.push((version, shared_schema));
        }
    }
    Ok(served
        .into_iter()
        .map(|(version, schema)| GeneratedComponent {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
            namespaced,
            preferred: false,
            description: schema.and_then(description),
            schema: crd_schema(schema, group, version, kind),
        })
        .collect())
}

fn crd_schema(source: Option<&Value>, group: &str, version: &str, kind: &str) -> Value {
    // A version without a schema accepts any object, as the server does.
    let permissive = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
    let mut source = source.filter(|s| s.is_object()).unwrap_or(&permissive).clone();
    let metadata = source.get_mut("properties").and_then(Value::as_object_mut).and_then(|p| p.remove("metadata"));
    let root = match convert::convert(&source, true) {
        Value::Object(root) => root,
        _ => Map::new(),
    };
    let mut root = remove_omitted(root);

    // CRD schemas say little about metadata (usually just `type: object`);
    // the server validates it as ObjectMeta, so do the same, keeping any
    // extra constraints the CRD adds (e.g. a shorter name).
    let mut meta = match metadata.as_ref().map(|m| convert::convert(m, false)) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    meta.remove("type");
    meta.insert("$ref".into(), Value::String(format!("#/$defs/{OBJECT_META}")));
    if let Value::Object(properties) = root.entry("properties").or_insert_with(|| json!({})) {
        properties.insert("metadata".into(), Value::Object(meta));
    }
    let gvk = json!([{"group": group, "kind": kind, "version": version}]);
    convert::finish_root(root, &source, gvk, object_meta_defs().clone())
}

/// ObjectMeta and what it references, converted from the Kubernetes
/// definitions (`object_meta.json`; a test keeps it equal to what the
/// shipped Kubernetes source produces), so CRDs validate metadata without
/// the Kubernetes definitions at hand.
pub(crate) fn object_meta_defs() -> &'static Map<String, Value> {
    static DEFS: OnceLock<Map<String, Value>> = OnceLock::new();
    DEFS.get_or_init(|| serde_json::from_str(include_str!("object_meta.json")).unwrap_or_default())
}

/// The converted ObjectMeta closure of a definitions document, as stored
/// in `object_meta.json`.
pub fn object_meta_closure(text: &str) -> Result<Value, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let defs = doc.get("$defs").or_else(|| doc.get("definitions")).and_then(Value::as_object).ok_or("no $defs")?;
    let converted: HashMap<&str, Value> = defs.iter().map(|(k, v)| (k.as_str(), convert::convert(v, true))).collect();
    let mut root = Map::new();
    root.insert("$ref".into(), Value::String(format!("#/$defs/{OBJECT_META}")));
    let mut closure = Value::Object(closure(&root, &converted)?);
    convert::sort_keys(&mut closure);
    Ok(closure)
}

/// Top-level fields Meshery keeps out of `configuration`; `finish_root`
/// still accepts them.
fn remove_omitted(mut root: Map<String, Value>) -> Map<String, Value> {
    if let Some(Value::Object(properties)) = root.get_mut("properties") {
        for name in ["apiVersion", "kind", "status"] {
            properties.remove(name);
        }
    }
    root
}

/// The definitions a schema needs, transitively.
fn closure(root: &Map<String, Value>, defs: &HashMap<&str, Value>) -> Result<Map<String, Value>, String> {
    let mut todo = Vec::new();
    convert::collect_refs_in(root, &mut todo);
    let mut seen = BTreeSet::new();
    while let Some(name) = todo.pop() {
        if seen.contains(&name) {
            continue;
        }
        let def = defs.get(name.as_str()).ok_or_else(|| format!("reference to missing definition `{name}`"))?;
        convert::collect_refs(def, &mut todo);
        seen.insert(name);
    }
    Ok(seen
        .into_iter()
        .map(|name| {
            let def = defs[name.as_str()].clone();
            (name, def)
        })
        .collect())
}

fn description(schema: &Value) -> Option<String> {
    schema.get("description").and_then(Value::as_str).map(str::to_owned)
}

fn finish_bundle(
    name: &str,
    version: &str,
    label: &str,
    mut components: Vec<GeneratedComponent>,
) -> Result<ModelBundle, String> {
    check_name(name)?;
    if version.is_empty() || version.contains(['/', '\\']) || version.starts_with('.') {
        return Err(format!("invalid model version `{version}`"));
    }
    components.sort_by(|a, b| {
        a.kind
            .cmp(&b.kind)
            .then_with(|| a.group.is_empty().cmp(&b.group.is_empty()).reverse())
            .then_with(|| version::kube_priority(&a.version, &b.version))
            .then_with(|| a.group.cmp(&b.group))
    });
    components.dedup_by(|b, a| a.kind == b.kind && a.group == b.group && a.version == b.version);
    mark_preferred(&mut components);
    let source = Path::new(label).file_name().map_or(label.to_owned(), |f| f.to_string_lossy().into_owned());
    Ok(ModelBundle { name: name.to_owned(), version: version.to_owned(), source, components })
}

/// Components are sorted by kind, core group first, then by version
/// priority: the first of each kind is its preferred version.
fn mark_preferred(components: &mut [GeneratedComponent]) {
    let mut previous: Option<String> = None;
    for component in components.iter_mut() {
        component.preferred = previous.as_deref() != Some(component.kind.as_str());
        previous = Some(component.kind.clone());
    }
}

/// Meshery's rule for model names.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        Ok(())
    } else {
        Err(format!("invalid model name `{name}`: use lower-case letters, digits and '-'"))
    }
}

/// Model name and upstream version from an input's file name:
/// `gateway-api-v1.6.1.yaml` → (`gateway-api`, `v1.6.1`). The version
/// starts at the first `-`-separated part that starts with a digit or
/// `v<digit>`; a release channel just before it (`edge`, `stable`) belongs
/// to the version: `linkerd-edge-26.8.3` → (`linkerd`, `edge-26.8.3`). For
/// a definitions file (the Kubernetes API) the directory names the version
/// (`.../v1.35.0/_definitions.json` → (`kubernetes`, `v1.35.0`)).
pub fn infer_name_version(path: &Path) -> Option<(String, String)> {
    let stem = path.file_stem()?.to_str()?;
    if stem.starts_with('_') || stem == "swagger" || stem == "openapi" {
        let version = path.parent()?.file_name()?.to_str()?;
        return is_version_like(version).then(|| ("kubernetes".to_owned(), version.to_owned()));
    }
    let parts: Vec<&str> = stem.split('-').collect();
    let mut at = parts.iter().position(|p| is_version_like(p)).filter(|&i| i > 0)?;
    if at > 1 && matches!(parts[at - 1], "edge" | "stable") {
        at -= 1;
    }
    Some((parts[..at].join("-"), parts[at..].join("-")))
}

fn is_version_like(part: &str) -> bool {
    let digits = part.strip_prefix('v').unwrap_or(part);
    digits.starts_with(|c: char| c.is_ascii_digit())
}

/// Writes a model under `out`, replacing the components of an earlier
/// import of the same model version. Returns the model directory.
pub fn write_model(bundle: &ModelBundle, out: &Path) -> Result<PathBuf, String> {
    let dir = out.join(&bundle.name).join(&bundle.version).join(DEFINITION_VERSION);
    let components_dir = dir.join("components");
    let io = |path: &Path, e: std::io::Error| format!("{}: {e}", path.display());
    std::fs::create_dir_all(&components_dir).map_err(|e| io(&components_dir, e))?;
    for entry in std::fs::read_dir(&components_dir).map_err(|e| io(&components_dir, e))? {
        let path = entry.map_err(|e| io(&components_dir, e))?.path();
        if path.extension().is_some_and(|e| e == "json") {
            std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
        }
    }
    write_json(&dir.join("model.json"), &model_json(bundle))?;
    for component in &bundle.components {
        write_json(&components_dir.join(component.file_name()), &component_json(bundle, component))?;
    }
    Ok(dir)
}

fn write_json(path: &Path, value: &Value) -> Result<(), String> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    text.push('\n');
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Regenerates every model from a sources tree laid out as
/// `kubernetes/<version>/_definitions.json` and `crds/<model>-<version>.yaml`.
pub fn regenerate(sources: &Path, out: &Path) -> Result<Vec<PathBuf>, String> {
    let mut inputs = Vec::new();
    for dir in sorted_entries(&sources.join("kubernetes"))? {
        let file = dir.join("_definitions.json");
        if file.is_file() {
            inputs.push((file, true));
        }
    }
    for file in sorted_entries(&sources.join("crds"))? {
        if file.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            inputs.push((file, false));
        }
    }
    let mut written = Vec::new();
    for (file, openapi) in inputs {
        let (name, version) = infer_name_version(&file)
            .ok_or_else(|| format!("{}: cannot tell model name and version from the file name", file.display()))?;
        let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let label = file.display().to_string();
        let bundle = if openapi {
            from_openapi(&label, &text, &name, &version)?
        } else {
            from_crds(&label, &text, &name, &version)?
        };
        written.push(write_model(&bundle, out)?);
    }
    Ok(written)
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    entries.sort();
    Ok(entries)
}

/// A fixed namespace for weft's UUIDv5 ids.
fn id(name: &str) -> String {
    let namespace = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, b"https://github.com/weft/models");
    uuid::Uuid::new_v5(&namespace, name.as_bytes()).to_string()
}

fn model_id(bundle: &ModelBundle) -> String {
    id(&format!("model/{}/{}/{DEFINITION_VERSION}", bundle.name, bundle.version))
}

/// Display name and Meshery category of the models weft ships.
fn model_display(name: &str) -> (String, &'static str) {
    let known = match name {
        "kubernetes" => Some(("Kubernetes", "Orchestration & Management")),
        "gateway-api" => Some(("Gateway API", "Cloud Native Network")),
        "cert-manager" => Some(("cert-manager", "Security & Compliance")),
        "prometheus-operator" => Some(("Prometheus Operator", "Observability and Analysis")),
        "istio" => Some(("Istio", "Cloud Native Network")),
        "linkerd" => Some(("Linkerd", "Cloud Native Network")),
        "argo-rollouts" => Some(("Argo Rollouts", "App Definition and Development")),
        "weft" => Some(("weft", "Observability and Analysis")),
        _ => None,
    };
    match known {
        Some((display, category)) => (display.to_owned(), category),
        None => {
            let words: Vec<String> = name
                .split('-')
                .map(|w| {
                    let mut chars = w.chars();
                    chars.next().map_or_else(String::new, |c| c.to_ascii_uppercase().to_string() + chars.as_str())
                })
                .collect();
            (words.join(" "), "Uncategorized")
        }
    }
}

fn model_json(bundle: &ModelBundle) -> Value {
    let (display, category) = model_display(&bundle.name);
    json!({
        "id": model_id(bundle),
        "schemaVersion": MODEL_SCHEMA_VERSION,
        "version": DEFINITION_VERSION,
        "name": bundle.name,
        "displayName": display,
        "description": format!("{display} {} resource kinds, generated by `weft model import` from {}.", bundle.version, bundle.source),
        "status": "enabled",
        "registrant": {"kind": "github", "name": "GitHub", "type": "registry", "status": "discovered"},
        "category": {"name": category},
        "metadata": {"isAnnotation": false, "source": bundle.source},
        "model": {"version": bundle.version},
        "components_count": bundle.components.len(),
        "relationships_count": 0,
    })
}

/// The model as each component refers to it: a reference, not the whole
/// model with its artwork.
fn model_reference(bundle: &ModelBundle) -> Value {
    let (display, category) = model_display(&bundle.name);
    json!({
        "id": model_id(bundle),
        "schemaVersion": MODEL_SCHEMA_VERSION,
        "version": DEFINITION_VERSION,
        "name": bundle.name,
        "displayName": display,
        "status": "enabled",
        "registrant": {"kind": "github"},
        "category": {"name": category},
        "model": {"version": bundle.version},
    })
}

fn component_json(bundle: &ModelBundle, component: &GeneratedComponent) -> Value {
    let api_version = component.api_version();
    let schema = serde_json::to_string(&component.schema).unwrap_or_default();
    json!({
        "id": id(&format!(
            "component/{}/{}/{DEFINITION_VERSION}/{api_version}/{}",
            bundle.name, bundle.version, component.kind
        )),
        "schemaVersion": COMPONENT_SCHEMA_VERSION,
        "version": DEFINITION_VERSION,
        "displayName": display_name(&component.kind),
        "description": component.description.clone().unwrap_or_default(),
        "format": "JSON",
        "model": model_reference(bundle),
        "status": "enabled",
        "metadata": {"isNamespaced": component.namespaced, "genealogy": "", "isAnnotation": false},
        "configuration": null,
        "component": {"version": api_version, "kind": component.kind, "schema": schema},
    })
}

/// `ConfigMap` → `Config Map`, `CSIDriver` → `CSI Driver` (Meshery's
/// readable names).
pub(crate) fn display_name(kind: &str) -> String {
    let chars: Vec<char> = kind.chars().collect();
    let mut out = String::with_capacity(kind.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if i > 0 && c.is_uppercase() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower) {
                out.push(' ');
            }
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_versions_from_file_names() {
        let cases = [
            ("crds/gateway-api-v1.6.1.yaml", ("gateway-api", "v1.6.1")),
            ("crds/istio-1.30.3.yaml", ("istio", "1.30.3")),
            ("crds/linkerd-edge-26.8.3.yaml", ("linkerd", "edge-26.8.3")),
            ("crds/prometheus-operator-v0.93.0.yaml", ("prometheus-operator", "v0.93.0")),
            ("sources/kubernetes/v1.35.0/_definitions.json", ("kubernetes", "v1.35.0")),
            ("kubernetes-schemas/v1.35.0/_definitions.json", ("kubernetes", "v1.35.0")),
        ];
        for (path, (name, version)) in cases {
            assert_eq!(infer_name_version(Path::new(path)), Some((name.into(), version.into())), "{path}");
        }
        assert_eq!(infer_name_version(Path::new("crds/no-version.yaml")), None);
    }

    #[test]
    fn display_names() {
        assert_eq!(display_name("ConfigMap"), "Config Map");
        assert_eq!(display_name("CSIDriver"), "CSI Driver");
        assert_eq!(display_name("HTTPRoute"), "HTTP Route");
        assert_eq!(display_name("Pod"), "Pod");
    }

    #[test]
    fn file_names_carry_the_api_version_unless_preferred() {
        let mut c = GeneratedComponent {
            group: "autoscaling".into(),
            version: "v1".into(),
            kind: "HorizontalPodAutoscaler".into(),
            namespaced: true,
            preferred: false,
            description: None,
            schema: json!({}),
        };
        assert_eq!(c.file_name(), "HorizontalPodAutoscaler.autoscaling.v1.json");
        c.group.clear();
        assert_eq!(c.file_name(), "HorizontalPodAutoscaler.v1.json");
        c.preferred = true;
        assert_eq!(c.file_name(), "HorizontalPodAutoscaler.json");
    }

    #[test]
    fn cluster_scoped_table_names_real_kinds() {
        let source =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/sources/kubernetes/v1.35.0/_definitions.json");
        let text = std::fs::read_to_string(source).unwrap();
        let bundle = from_openapi("_definitions.json", &text, "kubernetes", "v1.35.0").unwrap();
        for &(group, kind) in CLUSTER_SCOPED {
            assert!(
                bundle.components.iter().any(|c| c.group == group && c.kind == kind && !c.namespaced),
                "{group} {kind} is not a kind of the source"
            );
        }
        let cluster = bundle.components.iter().filter(|c| !c.namespaced).count();
        let namespaced = bundle.components.len() - cluster;
        assert!(cluster > 30 && namespaced > 40, "{cluster} cluster-scoped, {namespaced} namespaced");
        // The machinery kinds are left out.
        for kind in ["DeploymentList", "Status", "WatchEvent", "DeleteOptions", "APIGroup", "APIVersions"] {
            assert!(!bundle.components.iter().any(|c| c.kind == kind), "{kind}");
        }
    }

    #[test]
    fn crd_versions_scope_and_preference() {
        let crd = json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "names": {"kind": "Widget", "plural": "widgets"},
                "scope": "Cluster",
                "versions": [
                    {"name": "v1alpha1", "served": true, "schema": {"openAPIV3Schema": {"type": "object"}}},
                    {"name": "v1", "served": true, "schema": {"openAPIV3Schema": {"type": "object"}}},
                    {"name": "v0", "served": false, "schema": {"openAPIV3Schema": {"type": "object"}}}
                ]
            }
        });
        let bundle = finish_bundle("widgets", "v1", "w.yaml", crd_components(&crd).unwrap()).unwrap();
        let names: Vec<String> = bundle.components.iter().map(GeneratedComponent::file_name).collect();
        assert_eq!(names, ["Widget.json", "Widget.example.com.v1alpha1.json"]);
        assert_eq!(bundle.components[0].version, "v1");
        assert!(bundle.components.iter().all(|c| !c.namespaced));
    }
}
