//! Discovery documents (legacy and aggregated) and the OpenAPI v3 index.

use serde_json::{Value, json};

use crate::resources::{ResourceType, groups};

fn categories(rt: &ResourceType) -> Vec<&'static str> {
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("apps", "ControllerRevision") => vec![],
        ("", "Pod" | "Service") | ("apps", _) | ("batch", _) | ("autoscaling", _) => vec!["all"],
        _ => vec![],
    }
}

fn sorted_versions(mut versions: Vec<String>) -> Vec<String> {
    // Kubernetes version priority: GA > beta > alpha, higher numbers first,
    // then anything else alphabetically.
    fn key(v: &str) -> (u8, i64, i64, String) {
        let Some(rest) = v.strip_prefix('v') else { return (0, 0, 0, v.to_string()) };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let Ok(major) = digits.parse::<i64>() else { return (0, 0, 0, v.to_string()) };
        let tail = &rest[digits.len()..];
        if tail.is_empty() {
            return (3, major, 0, String::new());
        }
        for (prefix, rank) in [("beta", 2u8), ("alpha", 1u8)] {
            if let Some(n) = tail.strip_prefix(prefix)
                && let Ok(minor) = n.parse::<i64>() {
                    return (rank, major, minor, String::new());
                }
        }
        (0, 0, 0, v.to_string())
    }
    versions.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        kb.0.cmp(&ka.0).then(kb.1.cmp(&ka.1)).then(kb.2.cmp(&ka.2)).then(ka.3.cmp(&kb.3))
    });
    versions
}

/// Groups (without the core group) with versions in preference order.
fn api_groups(types: &[ResourceType]) -> Vec<(String, Vec<String>)> {
    groups(types).into_iter().filter(|(g, _)| !g.is_empty()).map(|(g, vs)| (g, sorted_versions(vs))).collect()
}

pub fn api_versions() -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
}

fn group_doc(g: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions.iter().map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v})).collect();
    json!({"name": g, "versions": vs, "preferredVersion": vs[0]})
}

pub fn group_list(types: &[ResourceType]) -> Value {
    let gs: Vec<Value> = api_groups(types).iter().map(|(g, vs)| group_doc(g, vs)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": gs})
}

pub fn group(types: &[ResourceType], group: &str) -> Option<Value> {
    let (g, vs) = api_groups(types).into_iter().find(|(g, _)| g == group)?;
    let mut doc = group_doc(&g, &vs);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

pub fn resource_list(types: &[ResourceType], group: &str, version: &str) -> Option<Value> {
    let ts: Vec<&ResourceType> = types.iter().filter(|t| t.group == group && t.version == version).collect();
    if ts.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for t in ts {
        let mut r = json!({"name": t.plural, "singularName": t.singular, "namespaced": t.namespaced, "kind": t.kind, "verbs": t.verbs()});
        if !t.short_names.is_empty() {
            r["shortNames"] = json!(t.short_names);
        }
        let cats = categories(t);
        if !cats.is_empty() {
            r["categories"] = json!(cats);
        }
        resources.push(r);
        if t.status_subresource {
            resources.push(json!({"name": format!("{}/status", t.plural), "singularName": "", "namespaced": t.namespaced, "kind": t.kind, "verbs": ["get", "patch", "update"]}));
        }
    }
    let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}))
}

/// `APIGroupDiscoveryList` for `/api` (core) or `/apis`.
pub fn aggregated(types: &[ResourceType], core: bool, version: &str) -> Value {
    let gs: Vec<(String, Vec<String>)> = if core { vec![(String::new(), vec!["v1".to_string()])] } else { api_groups(types) };
    let items: Vec<Value> = gs
        .iter()
        .map(|(g, vs)| {
            let versions: Vec<Value> = vs
                .iter()
                .map(|v| {
                    let resources: Vec<Value> = types
                        .iter()
                        .filter(|t| &t.group == g && &t.version == v)
                        .map(|t| {
                            let kind = json!({"group": t.group, "version": t.version, "kind": t.kind});
                            let mut r = json!({"resource": t.plural, "responseKind": kind, "scope": if t.namespaced { "Namespaced" } else { "Cluster" },
                                "singularResource": t.singular, "verbs": t.verbs()});
                            if !t.short_names.is_empty() {
                                r["shortNames"] = json!(t.short_names);
                            }
                            let cats = categories(t);
                            if !cats.is_empty() {
                                r["categories"] = json!(cats);
                            }
                            if t.status_subresource {
                                r["subresources"] = json!([{"subresource": "status", "responseKind": kind, "verbs": ["get", "patch", "update"]}]);
                            }
                            r
                        })
                        .collect();
                    json!({"version": v, "resources": resources, "freshness": "Current"})
                })
                .collect();
            json!({"metadata": {"name": g, "creationTimestamp": null}, "versions": versions})
        })
        .collect();
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": format!("apidiscovery.k8s.io/{version}"), "metadata": {}, "items": items})
}

fn gv_path(g: &str, v: &str) -> String {
    if g.is_empty() { format!("api/{v}") } else { format!("apis/{g}/{v}") }
}

/// `/openapi/v3`: one entry per group version.
pub fn openapi_v3_root(types: &[ResourceType]) -> Value {
    let mut paths = serde_json::Map::new();
    for (g, vs) in groups(types) {
        for v in vs {
            let p = gv_path(&g, &v);
            // The hash changes when the group version's resources change.
            let names: Vec<&str> = types.iter().filter(|t| t.group == g && t.version == v).map(|t| t.plural.as_str()).collect();
            let hash = fnv(&names.join(","));
            paths.insert(p.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={hash:016X}")}));
        }
    }
    json!({"paths": paths})
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// A group version's OpenAPI v3 document: paths with the operations and
/// query parameters clients probe for (fieldValidation, dryRun, fieldManager,
/// force), and permissive object schemas.
pub fn openapi_v3_gv(types: &[ResourceType], g: &str, v: &str) -> Option<Value> {
    let ts: Vec<&ResourceType> = types.iter().filter(|t| t.group == g && t.version == v).collect();
    if ts.is_empty() {
        return None;
    }
    let param = |name: &str| json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}});
    let mut paths = serde_json::Map::new();
    let mut schemas = serde_json::Map::new();
    for t in ts {
        let gvk = json!({"group": t.group, "version": t.version, "kind": t.kind});
        let base = format!("/{}", gv_path(g, v));
        let collection = if t.namespaced { format!("{base}/namespaces/{{namespace}}/{}", t.plural) } else { format!("{base}/{}", t.plural) };
        let schema_name = schema_name(t);
        let schema_ref = json!({"$ref": format!("#/components/schemas/{schema_name}")});
        let ok = json!({"200": {"description": "OK", "content": {"application/json": {"schema": schema_ref}}}});
        let op = |action: &str, params: Vec<Value>| {
            json!({"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": action, "parameters": params, "responses": ok})
        };
        let write_params = || vec![param("dryRun"), param("fieldManager"), param("fieldValidation")];
        let mut patch_params = write_params();
        patch_params.push(param("force"));
        paths.insert(
            format!("{collection}/{{name}}"),
            json!({"get": op("get", vec![]), "put": op("put", write_params()), "patch": op("patch", patch_params), "delete": op("delete", vec![param("dryRun")])}),
        );
        paths.insert(collection, json!({"get": op("list", vec![]), "post": op("post", write_params())}));
        schemas.insert(
            schema_name,
            json!({"type": "object", "x-kubernetes-group-version-kind": [gvk], "x-kubernetes-preserve-unknown-fields": true,
                "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}),
        );
    }
    Some(json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"}, "paths": paths, "components": {"schemas": schemas}}))
}

fn schema_name(t: &ResourceType) -> String {
    let group = if t.group.is_empty() { "core".to_string() } else { t.group.clone() };
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("io.k8s.api.{}.{}.{}", reversed.join("."), t.version, t.kind)
}
