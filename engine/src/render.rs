//! Stage 6a: design components become the Kubernetes objects weft applies.
//!
//! A Meshery component is exported as Meshery does: `metadata.name` from
//! `displayName` unless the configuration names it, the namespace from the
//! configuration or `default`; annotation components (shapes, comments) and
//! `status: ignored` components are not objects. Plain manifests pass
//! through unchanged. Every object is labelled as a member of the run's
//! inventory, an ApplySet (KEP-3659) whose parent is a ConfigMap, so
//! `kubectl apply --prune --applyset` and weft see the same membership.
//!
//! Rendering moves each configuration out of its design and keeps the
//! object as compact JSON text: a tree of JSON values costs several times
//! its text, and a no-op plan of a large repo looks closely at none of
//! them. `restore` gives the designs their configurations back for the
//! stages that read them again (relationship inference before an apply).

use crate::design::{Component, Design};
use crate::graph::ComponentRef;
use crate::model::Registry;
use base64::Engine as _;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Set on everything weft applies.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "weft";
/// ApplySet membership: the inventory id of the object's owner.
pub const PART_OF_LABEL: &str = "applyset.kubernetes.io/part-of";
pub const APPLYSET_ID_LABEL: &str = "applyset.kubernetes.io/id";
pub const APPLYSET_TOOLING: &str = "applyset.kubernetes.io/tooling";
pub const APPLYSET_GROUP_KINDS: &str = "applyset.kubernetes.io/contains-group-kinds";
pub const APPLYSET_NAMESPACES: &str = "applyset.kubernetes.io/additional-namespaces";
/// Hash of the object as last applied: an unchanged hash and live fields
/// that still hold the desired values make a plan with no request per object.
pub const HASH_ANNOTATION: &str = "weft.io/applied-hash";
/// `weft.io/prune: disabled` keeps an object when it leaves the design.
pub const PRUNE_ANNOTATION: &str = "weft.io/prune";

/// One object to apply.
#[derive(Clone, Debug)]
pub struct Desired {
    pub api_version: String,
    pub kind: String,
    pub group: String,
    pub namespace: Option<String>,
    pub name: String,
    /// The object as applied, labels and hash annotation included, as
    /// compact JSON (`value` parses it).
    pub object: Box<RawValue>,
    pub hash: String,
    /// For a CustomResourceDefinition, the group and kind it defines.
    pub defines: Option<(String, String)>,
    pub component: ComponentRef,
}

impl Desired {
    pub fn group_kind(&self) -> String {
        group_kind(&self.group, &self.kind)
    }

    /// The object as a JSON value.
    pub fn value(&self) -> Value {
        serde_json::from_str(self.object.get()).expect("rendered objects are valid JSON")
    }
}

/// `Kind.group`, as ApplySets list them (`Kind` alone for the core group).
pub fn group_kind(group: &str, kind: &str) -> String {
    if group.is_empty() { kind.to_owned() } else { format!("{kind}.{group}") }
}

/// The ApplySet that records what weft applied for one repository (or
/// named set of designs) on one cluster.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Inventory {
    pub name: String,
    pub namespace: String,
    pub id: String,
}

impl Inventory {
    /// The parent ConfigMap is `weft-<name>` in `namespace`; its id is the
    /// KEP-3659 hash of the parent's identity.
    pub fn new(name: &str, namespace: &str) -> Inventory {
        let parent = format!("weft-{}", dns_label(name));
        let digest = Sha256::digest(format!("{parent}.{namespace}.ConfigMap.").as_bytes());
        let id = format!("applyset-{}-v1", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest));
        Inventory { name: parent, namespace: namespace.to_owned(), id }
    }

    /// The parent object, listing the kinds and namespaces of its members.
    pub fn parent(&self, group_kinds: &BTreeSet<String>, namespaces: &BTreeSet<String>) -> Value {
        let others: Vec<&str> = namespaces.iter().map(String::as_str).filter(|n| *n != self.namespace).collect();
        let mut annotations = Map::new();
        annotations.insert(APPLYSET_TOOLING.into(), json!(format!("weft/v{}", env!("CARGO_PKG_VERSION"))));
        annotations.insert(APPLYSET_GROUP_KINDS.into(), json!(group_kinds.iter().cloned().collect::<Vec<_>>().join(",")));
        if !others.is_empty() {
            annotations.insert(APPLYSET_NAMESPACES.into(), json!(others.join(",")));
        }
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": {APPLYSET_ID_LABEL: self.id, MANAGED_BY_LABEL: MANAGED_BY},
                "annotations": annotations,
            },
        })
    }
}

/// A name as a DNS-1123 label: lower case, `-` for anything else, at most
/// 55 characters so `weft-` fits.
pub fn dns_label(name: &str) -> String {
    let mut out: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    out.truncate(55);
    let trimmed = out.trim_matches('-');
    if trimmed.is_empty() { "default".into() } else { trimmed.to_owned() }
}

/// Renders every component of `designs` that is a Kubernetes object,
/// moving its configuration out of the design (see `restore`). The first
/// definition of an object wins (the graph reports duplicates).
pub fn render(designs: &mut [Design], registry: &Registry, inventory: &Inventory) -> Vec<Desired> {
    use rayon::prelude::*;
    let mut components: Vec<(ComponentRef, &mut Component)> = designs
        .iter_mut()
        .enumerate()
        .flat_map(|(d, design)| design.components.iter_mut().enumerate().map(move |(c, component)| (ComponentRef { design: d, component: c }, component)))
        .filter(|(_, component)| !component.is_annotation && !component.ignored)
        .collect();
    let rendered: Vec<Option<Desired>> = components.par_iter_mut().map(|(at, component)| render_component(component, *at, registry, inventory)).collect();
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(rendered.len());
    for ((_, component), desired) in components.into_iter().zip(rendered) {
        let Some(desired) = desired else { continue };
        if seen.insert((desired.group.clone(), desired.kind.clone(), desired.namespace.clone(), desired.name.clone())) {
            out.push(desired);
        } else {
            component.configuration = desired.value();
        }
    }
    out
}

/// Gives components their configurations back from the objects rendered
/// of them: what was moved out, with weft's labels and hash annotation.
pub fn restore(designs: &mut [Design], desired: &[Desired]) {
    for d in desired {
        if let Some(component) = designs.get_mut(d.component.design).and_then(|design| design.components.get_mut(d.component.component)) {
            component.configuration = d.value();
        }
    }
}

/// The Kubernetes object a component stands for, as Meshery's converter
/// makes it, before weft adds anything of its own.
pub struct ComponentObject {
    pub object: Value,
    pub api_version: String,
    pub name: String,
    /// `None` for cluster-scoped kinds.
    pub namespace: Option<String>,
}

/// The object of `component`: apiVersion and kind from the component (the
/// registry's apiVersion when an old design leaves it out), `metadata.name`
/// from `displayName` unless the configuration names it, namespace
/// `default` for namespaced kinds, status and server-owned metadata
/// dropped. The configuration is moved out of the component (rendering
/// gives it back with `restore`), but only once the apiVersion is known:
/// `None` leaves the component as it was.
pub fn component_object(component: &mut Component, registry: &Registry) -> Option<ComponentObject> {
    let def = registry.lookup(&component.api_version, &component.kind);
    let api_version = if component.api_version.is_empty() { def.as_ref()?.api_version.clone() } else { component.api_version.clone() };
    let mut object = match std::mem::take(&mut component.configuration) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    // Meshery keeps apiVersion and kind outside the configuration.
    object.shift_remove("apiVersion");
    object.shift_remove("kind");
    object.shift_remove("status");
    let mut rendered = Map::new();
    rendered.insert("apiVersion".into(), json!(api_version));
    rendered.insert("kind".into(), json!(component.kind));
    rendered.extend(object);
    let mut object = Value::Object(rendered);

    let namespaced = def.as_ref().map_or(true, |d| d.namespaced);
    let name = object.pointer("/metadata/name").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| component.name.clone());
    let namespace = namespaced.then(|| {
        object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .or_else(|| component.namespace.clone())
            .unwrap_or_else(|| "default".into())
    });
    let metadata = ensure_object(&mut object, "metadata");
    metadata.insert("name".into(), json!(name));
    match &namespace {
        Some(ns) => {
            metadata.insert("namespace".into(), json!(ns));
        }
        None => {
            metadata.shift_remove("namespace");
        }
    }
    for server_owned in ["uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink", "deletionTimestamp"] {
        metadata.shift_remove(server_owned);
    }
    Some(ComponentObject { object, api_version, name, namespace })
}

fn render_component(component: &mut Component, at: ComponentRef, registry: &Registry, inventory: &Inventory) -> Option<Desired> {
    let ComponentObject { mut object, api_version, name, namespace } = component_object(component, registry)?;
    if component.kind == "Secret" && api_version == "v1" {
        fold_string_data(&mut object);
    }
    let labels = entry_object(ensure_object(&mut object, "metadata"), "labels");
    labels.insert(MANAGED_BY_LABEL.into(), json!(MANAGED_BY));
    labels.insert(PART_OF_LABEL.into(), json!(inventory.id));
    let hash = object_hash(&object);
    let annotations = entry_object(ensure_object(&mut object, "metadata"), "annotations");
    annotations.insert(HASH_ANNOTATION.into(), json!(hash));

    let defines = crd_defines(&component.kind, &object);
    let group = crate::design::group_of(&api_version).to_owned();
    let object = serde_json::value::to_raw_value(&object).expect("JSON values serialise");
    Some(Desired { api_version, kind: component.kind.clone(), group, namespace, name, object, hash, defines, component: at })
}

/// The group and kind a CustomResourceDefinition adds.
fn crd_defines(kind: &str, object: &Value) -> Option<(String, String)> {
    if kind != "CustomResourceDefinition" {
        return None;
    }
    let group = object.pointer("/spec/group")?.as_str()?.to_owned();
    let kind = object.pointer("/spec/names/kind")?.as_str()?.to_owned();
    Some((group, kind))
}

/// Moves a namespaced object into `namespace` (an environment's override),
/// keeping its hash true to what is applied.
pub fn move_to_namespace(desired: &mut Desired, namespace: &str) {
    if desired.namespace.is_none() {
        return;
    }
    desired.namespace = Some(namespace.to_owned());
    let mut object = desired.value();
    if let Some(Value::Object(metadata)) = object.get_mut("metadata") {
        metadata.insert("namespace".into(), json!(namespace));
        if let Some(Value::Object(annotations)) = metadata.get_mut("annotations") {
            annotations.shift_remove(HASH_ANNOTATION);
        }
    }
    desired.hash = object_hash(&without_hash(&object));
    let annotations = entry_object(ensure_object(&mut object, "metadata"), "annotations");
    annotations.insert(HASH_ANNOTATION.into(), json!(desired.hash));
    desired.object = serde_json::value::to_raw_value(&object).expect("JSON values serialise");
}

/// The object as hashed: without the hash annotation and, when that
/// leaves them empty, the annotations.
fn without_hash(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(Value::Object(metadata)) = copy.get_mut("metadata")
        && let Some(Value::Object(annotations)) = metadata.get_mut("annotations")
    {
        annotations.shift_remove(HASH_ANNOTATION);
        if annotations.is_empty() {
            metadata.shift_remove("annotations");
        }
    }
    copy
}

/// `stringData` as the API server stores it: base64 in `data`. Applying
/// `data` keeps the live object and the desired one comparable.
fn fold_string_data(object: &mut Value) {
    let Some(Value::Object(strings)) = object.as_object_mut().and_then(|o| o.shift_remove("stringData")) else { return };
    let data = ensure_object(object, "data");
    for (key, value) in strings {
        let text = match value {
            Value::String(s) => s,
            other => other.to_string(),
        };
        data.insert(key, json!(base64::engine::general_purpose::STANDARD.encode(text)));
    }
}

fn ensure_object<'v>(value: &'v mut Value, key: &str) -> &'v mut Map<String, Value> {
    entry_object(value.as_object_mut().expect("rendered objects are JSON objects"), key)
}

fn entry_object<'v>(map: &'v mut Map<String, Value>, key: &str) -> &'v mut Map<String, Value> {
    let entry = map.entry(key.to_owned()).or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    entry.as_object_mut().expect("just made an object")
}

/// sha256 of the object's canonical JSON (keys sorted), hex.
pub fn object_hash(object: &Value) -> String {
    let canonical = canonical(object);
    hex(&Sha256::digest(serde_json::to_vec(&canonical).unwrap_or_default()))
}

fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, Value> = map.iter().map(|(k, v)| (k, canonical(v))).collect();
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applyset_ids_follow_the_kep() {
        // KEP-3659: base64url(sha256("<name>.<namespace>.<kind>.<group>")), no padding.
        let inventory = Inventory::new("shop", "default");
        let digest = Sha256::digest(b"weft-shop.default.ConfigMap.");
        let expected = format!("applyset-{}-v1", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest));
        assert_eq!(inventory.id, expected);
        assert_eq!(inventory.name, "weft-shop");
        assert!(!inventory.id.contains('='));
        assert_eq!(Inventory::new("My Repo/x", "ns").name, "weft-my-repo-x");
    }

    #[test]
    fn string_data_folds_into_data() {
        let mut secret = json!({"kind": "Secret", "stringData": {"password": "hunter2"}, "data": {"user": "YWRtaW4="}});
        fold_string_data(&mut secret);
        assert_eq!(secret, json!({"kind": "Secret", "data": {"user": "YWRtaW4=", "password": "aHVudGVyMg=="}}));
    }

    #[test]
    fn hashes_ignore_key_order() {
        assert_eq!(object_hash(&json!({"a": 1, "b": {"c": 2, "d": 3}})), object_hash(&json!({"b": {"d": 3, "c": 2}, "a": 1})));
        assert_ne!(object_hash(&json!({"a": 1})), object_hash(&json!({"a": 2})));
    }
}
