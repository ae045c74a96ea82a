//! Field paths, field sets (the `FieldsV1` format of `metadata.managedFields`),
//! the list-type table, and the schema-aware merge used by server-side apply
//! and strategic merge patch.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// One path element in the FieldsV1 spelling: `f:name`, `k:{"name":"web"}`,
/// `v:"x"` or `i:0`.
pub type Path = Vec<String>;
pub type FieldSet = BTreeSet<Path>;

/// How a list merges.
#[derive(Debug, Clone, PartialEq)]
pub enum ListType {
    Atomic,
    /// Associative list keyed by these fields (`x-kubernetes-list-map-keys`).
    Map(&'static [&'static str]),
    /// A set of scalars (`x-kubernetes-list-type: set`).
    Set,
}

/// The list-type table. `ctx` is the chain of field names from the object's
/// root to the list (list items are skipped), `kind` the object's kind.
pub fn list_type(kind: &str, ctx: &[&str]) -> ListType {
    let Some((&last, parents)) = ctx.split_last() else { return ListType::Atomic };
    let in_container = parents.iter().any(|p| matches!(*p, "containers" | "initContainers" | "ephemeralContainers"));
    match last {
        "containers" | "initContainers" | "ephemeralContainers" | "volumes" | "imagePullSecrets" | "resourceClaims" | "schedulingGates" => {
            ListType::Map(&["name"])
        }
        "env" if in_container => ListType::Map(&["name"]),
        "volumeMounts" if in_container => ListType::Map(&["mountPath"]),
        "volumeDevices" if in_container => ListType::Map(&["devicePath"]),
        "ports" if in_container => ListType::Map(&["containerPort", "protocol"]),
        "ports" if kind == "Service" && parents == ["spec"] => ListType::Map(&["port", "protocol"]),
        "hostAliases" => ListType::Map(&["ip"]),
        "topologySpreadConstraints" => ListType::Map(&["topologyKey", "whenUnsatisfiable"]),
        "finalizers" if parents == ["metadata"] => ListType::Set,
        "ownerReferences" if parents == ["metadata"] => ListType::Map(&["uid"]),
        "conditions" if parents.first() == Some(&"status") => ListType::Map(&["type"]),
        _ => ListType::Atomic,
    }
}

/// Defaults of list-map key fields (as the schema's key defaults do).
fn key_default(key: &str) -> Value {
    match key {
        "protocol" => Value::String("TCP".into()),
        _ => Value::Null,
    }
}

pub fn key_element(item: &Value, keys: &[&str]) -> String {
    let mut sorted: Vec<&str> = keys.to_vec();
    sorted.sort();
    let mut m = Map::new();
    for k in sorted {
        m.insert(k.to_string(), item.get(k).cloned().unwrap_or_else(|| key_default(k)));
    }
    format!("k:{}", Value::Object(m))
}

fn value_element(v: &Value) -> String {
    format!("v:{v}")
}

/// Whether `item` is the list item that path element `elem` names.
fn item_matches(item: &Value, elem: &str) -> bool {
    if let Some(k) = elem.strip_prefix("k:") {
        let Ok(Value::Object(keys)) = serde_json::from_str::<Value>(k) else { return false };
        keys.iter().all(|(k, v)| match item.get(k) {
            Some(x) => x == v,
            None => key_default(k) == *v,
        })
    } else if let Some(v) = elem.strip_prefix("v:") {
        serde_json::from_str::<Value>(v).map(|v| v == *item).unwrap_or(false)
    } else {
        false
    }
}

/// Which root fields a field set covers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scope {
    /// The main resource; `status` excluded when the kind has a status subresource.
    Main { status_subresource: bool },
    /// The status subresource: only `status`.
    Status,
}

const STRIPPED_METADATA: &[&str] =
    &["name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"];

/// The set of fields an object sets (leaves, list items and set members).
pub fn field_set(obj: &Value, kind: &str, scope: Scope) -> FieldSet {
    let mut out = FieldSet::new();
    let Some(map) = obj.as_object() else { return out };
    for (k, v) in map {
        let include = match (scope, k.as_str()) {
            (_, "apiVersion" | "kind") => false,
            (Scope::Status, "status") => true,
            (Scope::Status, _) => false,
            (Scope::Main { status_subresource: true }, "status") => false,
            _ => true,
        };
        if !include {
            continue;
        }
        let mut path = vec![format!("f:{k}")];
        if k == "metadata" {
            if let Some(meta) = v.as_object() {
                for (mk, mv) in meta {
                    if STRIPPED_METADATA.contains(&mk.as_str()) {
                        continue;
                    }
                    path.push(format!("f:{mk}"));
                    walk(mv, kind, &mut vec!["metadata", mk.as_str()], &mut path, &mut out);
                    path.pop();
                }
            }
            continue;
        }
        walk(v, kind, &mut vec![k.as_str()], &mut path, &mut out);
    }
    out
}

fn walk<'a>(v: &'a Value, kind: &str, ctx: &mut Vec<&'a str>, path: &mut Path, out: &mut FieldSet) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                path.push(format!("f:{k}"));
                ctx.push(k.as_str());
                walk(child, kind, ctx, path, out);
                ctx.pop();
                path.pop();
            }
        }
        Value::Array(items) => match list_type(kind, ctx) {
            ListType::Atomic => {
                out.insert(path.clone());
            }
            ListType::Set => {
                for item in items {
                    path.push(value_element(item));
                    out.insert(path.clone());
                    path.pop();
                }
            }
            ListType::Map(keys) => {
                for item in items {
                    path.push(key_element(item, keys));
                    out.insert(path.clone());
                    if let Some(m) = item.as_object() {
                        for (k, child) in m {
                            path.push(format!("f:{k}"));
                            ctx.push(k.as_str());
                            walk(child, kind, ctx, path, out);
                            ctx.pop();
                            path.pop();
                        }
                    }
                    path.pop();
                }
            }
        },
        _ => {
            out.insert(path.clone());
        }
    }
}

/// The value at a path.
pub fn get_at<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = obj;
    for elem in path {
        cur = if let Some(f) = elem.strip_prefix("f:") {
            cur.as_object()?.get(f)?
        } else {
            cur.as_array()?.iter().find(|item| item_matches(item, elem))?
        };
    }
    Some(cur)
}

/// Removes the value at a path; returns whether something was removed.
/// Maps and lists left empty by the removal are removed too (up to, not including, the root fields).
pub fn remove_at(obj: &mut Value, path: &[String]) -> bool {
    fn rec(cur: &mut Value, path: &[String], depth: usize) -> bool {
        let Some((elem, rest)) = path.split_first() else { return false };
        if rest.is_empty() {
            return if let Some(f) = elem.strip_prefix("f:") {
                cur.as_object_mut().map(|m| m.shift_remove(f).is_some()).unwrap_or(false)
            } else if let Some(items) = cur.as_array_mut() {
                let before = items.len();
                items.retain(|item| !item_matches(item, elem));
                before != items.len()
            } else {
                false
            };
        }
        let removed;
        let child_empty;
        if let Some(f) = elem.strip_prefix("f:") {
            let Some(child) = cur.as_object_mut().and_then(|m| m.get_mut(f)) else { return false };
            removed = rec(child, rest, depth + 1);
            child_empty = matches!(child, Value::Object(m) if m.is_empty()) || matches!(child, Value::Array(a) if a.is_empty());
            if removed && child_empty && depth >= 1 {
                cur.as_object_mut().unwrap().shift_remove(f);
            }
        } else {
            let Some(child) = cur.as_array_mut().and_then(|items| items.iter_mut().find(|item| item_matches(item, elem))) else {
                return false;
            };
            removed = rec(child, rest, depth + 1);
        }
        removed
    }
    rec(obj, path, 0)
}

/// Paths of `new` whose value differs from `old` (added or changed leaves,
/// added list items).
pub fn changed_paths(old: &Value, new: &Value, new_set: &FieldSet) -> FieldSet {
    new_set
        .iter()
        .filter(|p| {
            let last = p.last().map(String::as_str).unwrap_or("");
            match get_at(old, p) {
                None => true,
                Some(_) if last.starts_with("k:") || last.starts_with("v:") => false,
                Some(o) => Some(o) != get_at(new, p),
            }
        })
        .cloned()
        .collect()
}

/// FieldsV1 JSON from a set.
pub fn to_fields_v1(set: &FieldSet) -> Value {
    fn insert(node: &mut Map<String, Value>, path: &[String], set_member: bool) {
        let (first, rest) = path.split_first().unwrap();
        let child = node.entry(first.clone()).or_insert_with(|| Value::Object(Map::new()));
        let child = child.as_object_mut().unwrap();
        if rest.is_empty() {
            if set_member && !child.is_empty() && !child.contains_key(".") {
                let old = std::mem::take(child);
                child.insert(".".into(), Value::Object(Map::new()));
                child.extend(old);
            }
        } else {
            // A member with children gets a "." entry first.
            insert(child, rest, set_member);
        }
    }
    let mut root = Map::new();
    // Insert in sorted order; a member path precedes its descendants, so
    // record members to add "." once children appear.
    let mut members: Vec<&Path> = set.iter().collect();
    members.sort();
    for p in &members {
        insert(&mut root, p, false);
    }
    // Now mark members that have children.
    fn mark(node: &mut Map<String, Value>, path: &[String]) {
        let (first, rest) = path.split_first().unwrap();
        let child = node.get_mut(first).and_then(Value::as_object_mut).unwrap();
        if rest.is_empty() {
            if !child.is_empty() && !child.contains_key(".") {
                let old = std::mem::take(child);
                child.insert(".".into(), Value::Object(Map::new()));
                child.extend(old);
            }
        } else {
            mark(child, rest);
        }
    }
    for p in &members {
        mark(&mut root, p);
    }
    Value::Object(root)
}

/// A set from FieldsV1 JSON.
pub fn from_fields_v1(v: &Value) -> FieldSet {
    fn rec(node: &Map<String, Value>, path: &mut Path, out: &mut FieldSet) {
        for (k, child) in node {
            if k == "." {
                out.insert(path.clone());
                continue;
            }
            path.push(k.clone());
            match child.as_object() {
                Some(m) if !m.is_empty() => rec(m, path, out),
                _ => {
                    out.insert(path.clone());
                }
            }
            path.pop();
        }
    }
    let mut out = FieldSet::new();
    if let Some(m) = v.as_object() {
        rec(m, &mut Vec::new(), &mut out);
    }
    out
}

/// `.spec.replicas`-style rendering of a path, as conflict messages show it.
pub fn display_path(path: &[String]) -> String {
    let mut s = String::new();
    for elem in path {
        if let Some(f) = elem.strip_prefix("f:") {
            s.push('.');
            s.push_str(f);
        } else if let Some(k) = elem.strip_prefix("k:") {
            s.push('[');
            if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(k) {
                let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v}")).collect();
                s.push_str(&parts.join(","));
            }
            s.push(']');
        } else if let Some(v) = elem.strip_prefix("v:") {
            s.push_str(&format!("[={v}]"));
        } else {
            s.push_str(&format!("[{elem}]"));
        }
    }
    s
}

/// Schema-aware merge of `patch` into `base` (server-side apply and
/// strategic merge patch): maps merge recursively, associative lists merge
/// items by key, sets take the union, everything else is replaced. A null in
/// the patch removes the field. With `smp`, `$patch: delete` in a list item
/// removes it and `$patch: replace` in a map replaces it.
pub fn merge(base: &mut Value, patch: &Value, kind: &str, smp: bool) {
    let mut ctx = Vec::new();
    merge_rec(base, patch, kind, &mut ctx, smp);
}

fn merge_rec<'a>(base: &mut Value, patch: &'a Value, kind: &str, ctx: &mut Vec<&'a str>, smp: bool) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            if smp && p.get("$patch").and_then(Value::as_str) == Some("replace") {
                let mut p = p.clone();
                p.shift_remove("$patch");
                *b = p;
                return;
            }
            for (k, pv) in p {
                if smp && k.starts_with('$') {
                    continue;
                }
                if pv.is_null() {
                    b.shift_remove(k);
                    continue;
                }
                ctx.push(k.as_str());
                match b.get_mut(k) {
                    Some(bv) => merge_rec(bv, pv, kind, ctx, smp),
                    None => {
                        let mut v = pv.clone();
                        if smp {
                            strip_directives(&mut v);
                        }
                        b.insert(k.clone(), v);
                    }
                }
                ctx.pop();
            }
        }
        (Value::Array(b), Value::Array(p)) => match list_type(kind, ctx) {
            ListType::Atomic => *b = p.clone(),
            ListType::Set => {
                for item in p {
                    if !b.contains(item) {
                        b.push(item.clone());
                    }
                }
            }
            ListType::Map(keys) => {
                for item in p {
                    let elem = key_element(item, keys);
                    let delete = smp && item.get("$patch").and_then(Value::as_str) == Some("delete");
                    match b.iter().position(|x| key_element(x, keys) == elem) {
                        Some(i) if delete => {
                            b.remove(i);
                        }
                        Some(i) => merge_rec(&mut b[i], item, kind, ctx, smp),
                        None if delete => {}
                        None => {
                            let mut v = item.clone();
                            if smp {
                                strip_directives(&mut v);
                            }
                            b.push(v)
                        }
                    }
                }
            }
        },
        (b, p) => {
            let mut v = p.clone();
            if smp {
                strip_directives(&mut v);
            }
            *b = v;
        }
    }
}

fn strip_directives(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.starts_with("$patch") && !k.starts_with("$setElementOrder") && !k.starts_with("$retainKeys") && !k.starts_with("$deleteFromPrimitiveList"));
            for (_, c) in m.iter_mut() {
                strip_directives(c);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(strip_directives),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_v1_round_trip() {
        let obj = json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"a","labels":{"app":"x"}},
            "spec":{"replicas":2,"template":{"spec":{"containers":[{"name":"web","image":"nginx","ports":[{"containerPort":80}]}]}}}});
        let set = field_set(&obj, "Deployment", Scope::Main { status_subresource: true });
        let v1 = to_fields_v1(&set);
        assert_eq!(
            v1,
            json!({"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{
                "k:{\"name\":\"web\"}":{".":{},"f:image":{},"f:name":{},"f:ports":{"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}}}}}}})
        );
        assert_eq!(from_fields_v1(&v1), set);
        let p: Path = vec!["f:spec".into(), "f:template".into(), "f:spec".into(), "f:containers".into(), "k:{\"name\":\"web\"}".into(), "f:image".into()];
        assert_eq!(get_at(&obj, &p), Some(&json!("nginx")));
        assert_eq!(display_path(&p), ".spec.template.spec.containers[name=\"web\"].image");
    }

    #[test]
    fn merge_lists_by_key() {
        let mut base = json!({"spec":{"template":{"spec":{"containers":[{"name":"a","image":"1"},{"name":"b","image":"2"}],"tolerations":[{"key":"x"}]}}}});
        let patch = json!({"spec":{"template":{"spec":{"containers":[{"name":"b","image":"3"},{"name":"c","image":"4"}],"tolerations":[{"key":"y"}]}}}});
        merge(&mut base, &patch, "Deployment", false);
        assert_eq!(
            base,
            json!({"spec":{"template":{"spec":{"containers":[{"name":"a","image":"1"},{"name":"b","image":"3"},{"name":"c","image":"4"}],"tolerations":[{"key":"y"}]}}}})
        );
    }
}
