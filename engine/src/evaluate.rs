//! `weft evaluate`: a Meshery-compatible relationship evaluation of one
//! design. The response has Meshery's shape
//! (`{schemaVersion, design, actions, trace, timestamp}`) and action ops,
//! so tools that consume `mesheryctl design evaluate` read it unchanged.
//!
//! What it does, in Meshery's order:
//! 1. relationships whose components are gone are deleted;
//! 2. relationships inference found and the design does not record are
//!    added, each with one bound selector (component ids filled in, `_`
//!    replaced by the array index that matched) and a UUIDv5 id of it;
//! 3. inventory additions: a Namespace that namespaced components live in
//!    but the design lacks is added, with its inventory relationships;
//! 4. mutator → mutated patches: for each recorded relationship, the
//!    values at the mutator's `mutatorRef` paths are written to the
//!    mutated component's `mutatedRef` paths where they differ.
//!
//! The design comes back with every action applied and, when anything
//! changed, its patch version bumped. Unknown fields are kept.

use crate::design::{Component, Design, Format};
use crate::model::Registry;
use crate::relate::{End, Inference};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// UUIDv5 namespace of ids weft gives relationships and added components.
const ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x9a3c_51e2_7b0d_4f6a_8c19_e2d4_5b70_a3f1);

pub const DESIGN_SCHEMA_VERSION: &str = "designs.meshery.io/v1beta1";

fn uuid5(text: &str) -> String {
    uuid::Uuid::new_v5(&ID_NAMESPACE, text.as_bytes()).to_string()
}

/// Evaluates design `index` of `designs`. `document` is the design as
/// written (for Meshery designs), `None` for manifests, which are turned
/// into a v1beta1 design first. `timestamp` is RFC 3339.
pub fn evaluate(
    designs: &[Design],
    index: usize,
    document: Option<Value>,
    inference: &Inference,
    registry: &Registry,
    timestamp: &str,
) -> Value {
    let design = &designs[index];
    let mut doc = match document {
        Some(doc @ Value::Object(_)) if matches!(design.format, Format::MesheryV1beta1 | Format::MesheryV1beta3) => doc,
        _ => design_document(design, registry),
    };
    let mut actions: Vec<Value> = Vec::new();
    let mut trace: BTreeMap<&str, Vec<Value>> = [
        "componentsAdded",
        "componentsRemoved",
        "componentsUpdated",
        "relationshipsAdded",
        "relationshipsRemoved",
        "relationshipsUpdated",
    ]
    .into_iter()
    .map(|k| (k, Vec::new()))
    .collect();

    let component_ids: BTreeSet<String> = design.components.iter().map(|c| c.id.clone()).collect();

    // 1. Relationships pointing at components the design no longer has.
    let mut recorded = Vec::new();
    if let Some(Value::Array(relationships)) = doc.get_mut("relationships") {
        relationships.retain(|r| {
            let dangling = ends(r).iter().any(|(f, t)| !component_ids.contains(f) || !component_ids.contains(t));
            if dangling {
                let id = r.get("id").cloned().unwrap_or(Value::Null);
                actions.push(json!({"op": "delete_relationship", "value": {"id": id, "relationship": r}}));
                trace.get_mut("relationshipsRemoved").expect("key").push(r.clone());
            }
            !dangling
        });
        recorded = relationships.clone();
    }
    let mut known: BTreeSet<(String, String, String)> = BTreeSet::new();
    for r in &recorded {
        for (f, t) in ends(r) {
            known.insert((family_of(r), f, t));
        }
    }

    // 2. Inferred relationships between components of this design.
    let mut added = Vec::new();
    for inferred in &inference.relationships {
        let (End::Component { design: fd, component: fc }, End::Component { design: td, component: tc }) =
            (inferred.from, inferred.to)
        else {
            continue;
        };
        if fd != index || td != index {
            continue;
        }
        let rule = &inference.rules[inferred.rule];
        let def = &inference.definitions[rule.def];
        let (from, to) = (&design.components[fc], &design.components[tc]);
        let key = (def.family(), from.id.clone(), to.id.clone());
        if !known.insert(key) {
            continue;
        }
        let selector = def.raw.pointer(&format!("/selectors/{}/allow", rule.set));
        let item = |side: &str, at: usize, component: &Component, indices: &[usize]| {
            let raw = selector.and_then(|s| s.get(side)).and_then(|s| s.get(at)).cloned().unwrap_or_else(|| json!({}));
            bind_item(raw, component, indices)
        };
        // A binding relationship names its binding component in `match`.
        let via = match inferred.via {
            Some(End::Component { design, component }) if design == index => Some(&designs[design].components[component]),
            _ => None,
        };
        let (mut from_item, mut to_item) =
            (item("from", rule.from_item, from, &inferred.from_indices), item("to", rule.to_item, to, &inferred.to_indices));
        if let Some(via) = via {
            for end in [&mut from_item, &mut to_item] {
                bind_match(end, via);
            }
        }
        let bound = json!([{
            "allow": {
                "from": [from_item],
                "to": [to_item],
            },
            "deny": {"from": [], "to": []},
        }]);
        added.push(relationship(def.raw.clone(), bound));
    }

    // 3. Namespaces the components need and the design lacks.
    let namespaces: BTreeSet<&str> =
        design.components.iter().filter(|c| c.kind == "Namespace").map(|c| c.name.as_str()).collect();
    let inventory = inference.definitions.iter().find(|d| d.family() == "hierarchical-parent-inventory");
    let mut missing: BTreeMap<String, Vec<&Component>> = BTreeMap::new();
    for component in &design.components {
        if component.is_annotation || component.kind == "Namespace" {
            continue;
        }
        let namespaced = registry
            .lookup(&component.api_version, &component.kind)
            .map_or(component.namespace.is_some(), |d| d.namespaced);
        if !namespaced {
            continue;
        }
        let namespace = component.namespace.clone().unwrap_or_else(|| "default".into());
        if !namespaces.contains(namespace.as_str()) {
            missing.entry(namespace).or_default().push(component);
        }
    }
    let design_key = design.id.clone().unwrap_or_else(|| design.file.clone());
    for (namespace, members) in &missing {
        let item = json!({
            "id": uuid5(&format!("{design_key}/Namespace/{namespace}")),
            "schemaVersion": "components.meshery.io/v1beta1",
            "version": "v1.0.0",
            "displayName": namespace,
            "component": {"kind": "Namespace", "version": "v1"},
            "model": {"name": "kubernetes"},
            "configuration": {"metadata": {"name": namespace}},
        });
        actions.push(json!({"op": "add_component", "value": {"item": item}}));
        trace.get_mut("componentsAdded").expect("key").push(item.clone());
        if let Some(Value::Array(components)) = doc.get_mut("components") {
            components.push(item.clone());
        }
        let Some(def) = inventory else { continue };
        let selector = def.raw.pointer("/selectors/0/allow");
        for member in members {
            let side = |side: &str| selector.and_then(|s| s.get(side)).and_then(|s| s.get(0)).cloned().unwrap_or_else(|| json!({}));
            let mut parent = side("to");
            parent["id"] = item["id"].clone();
            let bound = json!([{
                "allow": {"from": [bind_item(side("from"), member, &[])], "to": [parent]},
                "deny": {"from": [], "to": []},
            }]);
            added.push(relationship(def.raw.clone(), bound));
        }
    }
    for r in added {
        actions.push(json!({"op": "add_relationship", "value": {"item": r}}));
        trace.get_mut("relationshipsAdded").expect("key").push(r.clone());
        match doc.get_mut("relationships") {
            Some(Value::Array(relationships)) => relationships.push(r),
            _ => doc["relationships"] = json!([r]),
        }
    }

    // 4. Mutator values written to the mutated components.
    let mut updated: BTreeSet<String> = BTreeSet::new();
    for r in &recorded {
        for selector in r.get("selectors").and_then(Value::as_array).into_iter().flatten() {
            let allow = selector.get("allow");
            let list = |side: &str| allow.and_then(|a| a.get(side)).and_then(Value::as_array).cloned().unwrap_or_default();
            for f in list("from") {
                for t in list("to") {
                    let Some((mutator, mutated, pairs)) = patch_pairs(&f, &t) else { continue };
                    for (mutator_path, mutated_path) in pairs {
                        let Some(value) = component_in(&doc, &mutator).and_then(|c| read(c, &mutator_path)).cloned() else {
                            continue;
                        };
                        let Some(target) = component_in_mut(&mut doc, &mutated) else { continue };
                        if read(target, &mutated_path) == Some(&value) {
                            continue;
                        }
                        write(target, &mutated_path, value.clone());
                        let op = if mutated_path.first().is_some_and(|p| p == "configuration") {
                            "update_component_configuration"
                        } else {
                            "update_component"
                        };
                        actions.push(json!({"op": op, "value": {"id": mutated, "path": mutated_path, "value": value}}));
                        updated.insert(mutated.clone());
                    }
                }
            }
        }
    }
    for id in updated {
        if let Some(component) = component_in(&doc, &id) {
            trace.get_mut("componentsUpdated").expect("key").push(component.clone());
        }
    }

    if !actions.is_empty() {
        bump_version(&mut doc);
    }
    json!({
        "schemaVersion": DESIGN_SCHEMA_VERSION,
        "design": doc,
        "actions": actions,
        "trace": trace,
        "timestamp": timestamp,
    })
}

/// A relationship of `definition` with `selectors` bound to components,
/// identified by the UUIDv5 of its bound selectors.
fn relationship(mut definition: Value, selectors: Value) -> Value {
    if let Some(metadata) = definition.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("weftCheck");
    }
    let id = uuid5(&format!("{}/{}", family_of(&definition), selectors));
    let mut out = Map::new();
    out.insert("id".into(), Value::String(id));
    for key in ["schemaVersion", "version", "kind", "type", "subType", "model", "metadata", "evaluationQuery"] {
        if let Some(v) = definition.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    out.insert("status".into(), json!("approved"));
    out.insert("selectors".into(), selectors);
    Value::Object(out)
}

fn family_of(r: &Value) -> String {
    let text = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    format!("{}-{}-{}", text("kind"), text("type"), text("subType")).to_lowercase()
}

/// A selector item bound to one component: its id (and kind, when the
/// definition says `*`), and the `_` of its ref paths replaced by the
/// indices that matched.
fn bind_item(mut item: Value, component: &Component, indices: &[usize]) -> Value {
    item["id"] = json!(component.id);
    if item.get("kind").and_then(Value::as_str).is_none_or(|k| k == "*") {
        item["kind"] = json!(component.kind);
    }
    if let Some(patch) = item.get_mut("patch").and_then(Value::as_object_mut) {
        for key in ["mutatorRef", "mutatedRef"] {
            if let Some(Value::Array(paths)) = patch.get_mut(key) {
                for path in paths.iter_mut() {
                    let Value::Array(segments) = path else { continue };
                    let mut next = indices.iter();
                    for segment in segments.iter_mut() {
                        if segment == "_"
                            && let Some(i) = next.next()
                        {
                            *segment = json!(i.to_string());
                        }
                    }
                }
            }
        }
    }
    item
}

/// Fills the binding component's id into the non-`self` items of an end's
/// `match`.
fn bind_match(item: &mut Value, via: &Component) {
    let Some(Value::Object(r#match)) = item.get_mut("match") else { return };
    for side in ["from", "to"] {
        for entry in r#match.get_mut(side).and_then(Value::as_array_mut).into_iter().flatten() {
            if entry.get("kind").and_then(Value::as_str).is_some_and(|k| k != "self") {
                entry["id"] = json!(via.id);
            }
        }
    }
}

/// (from id, to id) of every selector of a recorded relationship.
fn ends(r: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for selector in r.get("selectors").and_then(Value::as_array).into_iter().flatten() {
        let ids = |side: &str| -> Vec<String> {
            selector
                .pointer(&format!("/allow/{side}"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|e| e.get("id").and_then(Value::as_str).map(str::to_owned))
                .collect()
        };
        for f in ids("from") {
            for t in ids("to") {
                out.push((f.clone(), t));
            }
        }
    }
    out
}

/// Which end mutates which: the one with `mutatorRef` only writes into the
/// one with `mutatedRef`. Ends carrying both (Meshery's alias
/// relationships) describe one shared field and are skipped.
fn patch_pairs(f: &Value, t: &Value) -> Option<(String, String, Vec<(Vec<String>, Vec<String>)>)> {
    let refs = |e: &Value, key: &str| -> Vec<Vec<String>> {
        e.pointer(&format!("/patch/{key}"))
            .and_then(Value::as_array)
            .map(|paths| {
                paths
                    .iter()
                    .filter_map(|p| p.as_array())
                    .map(|p| p.iter().map(|s| s.as_str().map_or_else(|| s.to_string(), str::to_owned)).collect())
                    .collect()
            })
            .unwrap_or_default()
    };
    let id = |e: &Value| e.get("id").and_then(Value::as_str).map(str::to_owned);
    let (f_mutator, f_mutated, t_mutator, t_mutated) =
        (refs(f, "mutatorRef"), refs(f, "mutatedRef"), refs(t, "mutatorRef"), refs(t, "mutatedRef"));
    let (mutator, mutated, from_paths, to_paths) = if !f_mutator.is_empty() && f_mutated.is_empty() && !t_mutated.is_empty() && t_mutator.is_empty() {
        (id(f)?, id(t)?, f_mutator, t_mutated)
    } else if !t_mutator.is_empty() && t_mutated.is_empty() && !f_mutated.is_empty() && f_mutator.is_empty() {
        (id(t)?, id(f)?, t_mutator, f_mutated)
    } else {
        return None;
    };
    let pairs = from_paths
        .into_iter()
        .zip(to_paths)
        .filter(|(a, b)| !a.iter().chain(b).any(|s| s == "_"))
        .collect();
    Some((mutator, mutated, pairs))
}

fn component_in<'a>(doc: &'a Value, id: &str) -> Option<&'a Value> {
    doc.get("components")?.as_array()?.iter().find(|c| c.get("id").and_then(Value::as_str) == Some(id))
}

fn component_in_mut<'a>(doc: &'a mut Value, id: &str) -> Option<&'a mut Value> {
    doc.get_mut("components")?.as_array_mut()?.iter_mut().find(|c| c.get("id").and_then(Value::as_str) == Some(id))
}

fn read<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut at = value;
    for segment in path {
        at = match at {
            Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
            Value::Object(map) => map.get(segment)?,
            _ => return None,
        };
    }
    (!at.is_null()).then_some(at)
}

/// Writes `value` at `path`, making the objects on the way.
fn write(target: &mut Value, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut at = target;
    for segment in parents {
        if at.is_null() {
            *at = json!({});
        }
        at = match at {
            Value::Array(items) => match segment.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                Some(item) => item,
                None => return,
            },
            Value::Object(map) => map.entry(segment.clone()).or_insert(Value::Null),
            _ => return,
        };
    }
    if at.is_null() {
        *at = json!({});
    }
    match at {
        Value::Object(map) => {
            map.insert(last.clone(), value);
        }
        Value::Array(items) => {
            if let Some(item) = last.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                *item = value;
            }
        }
        _ => {}
    }
}

/// `0.0.2` → `0.0.3` (a leading `v` kept); unparseable versions are left.
fn bump_version(doc: &mut Value) {
    let Some(version) = doc.get("version").and_then(Value::as_str) else {
        doc["version"] = json!("0.0.1");
        return;
    };
    let (prefix, number) = version.strip_prefix('v').map_or(("", version), |rest| ("v", rest));
    let parts: Vec<&str> = number.split('.').collect();
    if let [major, minor, patch] = parts.as_slice()
        && let Ok(patch) = patch.parse::<u64>()
    {
        doc["version"] = json!(format!("{prefix}{major}.{minor}.{}", patch + 1));
    }
}

/// A v1beta1 design for a file of manifests (or an old `services:`
/// design): one component per object, ids as weft gave them.
pub fn design_document(design: &Design, registry: &Registry) -> Value {
    let components: Vec<Value> = design
        .components
        .iter()
        .map(|c| {
            let model = c
                .model
                .clone()
                .or_else(|| registry.lookup(&c.api_version, &c.kind).map(|d| d.model.clone()))
                .unwrap_or_else(|| "kubernetes".into());
            json!({
                "id": c.id,
                "schemaVersion": "components.meshery.io/v1beta1",
                "version": "v1.0.0",
                "displayName": c.name,
                "component": {"kind": c.kind, "version": c.api_version},
                "model": {"name": model},
                "configuration": c.configuration,
            })
        })
        .collect();
    json!({
        "id": design.id.clone().unwrap_or_else(|| uuid5(&format!("design/{}", design.file))),
        "name": design.name,
        "schemaVersion": DESIGN_SCHEMA_VERSION,
        "version": "0.0.1",
        "components": components,
        "relationships": [],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_bump_their_patch() {
        for (before, after) in [("0.0.2", "0.0.3"), ("v1.2.9", "v1.2.10")] {
            let mut doc = json!({"version": before});
            bump_version(&mut doc);
            assert_eq!(doc["version"], after);
        }
        let mut doc = json!({});
        bump_version(&mut doc);
        assert_eq!(doc["version"], "0.0.1");
    }

    #[test]
    fn writes_make_the_objects_on_their_way() {
        let mut target = json!({"configuration": {"spec": {"ports": [{"port": 80}]}}});
        write(&mut target, &["configuration".into(), "metadata".into(), "namespace".into()], json!("shop"));
        write(&mut target, &["configuration".into(), "spec".into(), "ports".into(), "0".into(), "port".into()], json!(81));
        assert_eq!(target, json!({"configuration": {"spec": {"ports": [{"port": 81}]}, "metadata": {"namespace": "shop"}}}));
    }

    #[test]
    fn the_end_with_only_a_mutator_ref_writes_into_the_other() {
        let namespace = json!({"id": "ns", "patch": {"mutatorRef": [["displayName"]]}});
        let member = json!({"id": "d", "patch": {"mutatedRef": [["configuration", "metadata", "namespace"]]}});
        let (mutator, mutated, pairs) = patch_pairs(&member, &namespace).unwrap();
        assert_eq!((mutator.as_str(), mutated.as_str()), ("ns", "d"));
        assert_eq!(pairs, vec![(vec!["displayName".to_owned()], vec!["configuration".to_owned(), "metadata".into(), "namespace".into()])]);
        let alias = json!({"id": "c", "patch": {"mutatorRef": [["x"]], "mutatedRef": [["x"]]}});
        assert!(patch_pairs(&alias, &member).is_none());
    }
}
