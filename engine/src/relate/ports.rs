//! Checks on what inference found (`policies/relationships/ports.rego`):
//! Service targetPorts against the container ports of the workloads they
//! select, Ingress and Gateway API route backends against the Service's
//! ports, and selectors that match only in another namespace.

use super::{End, Inference, RegoValue, rego};
use crate::design::Design;
use crate::diagnostic::{Diagnostic, Severity, codes};
use crate::load::source::Sources;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

const PORTS_POLICY: (&str, &str) =
    ("policies/relationships/ports.rego", include_str!("../../../policies/relationships/ports.rego"));

const WORKLOADS: [&str; 8] = ["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController", "Rollout"];
const ROUTERS: [&str; 4] = ["Ingress", "HTTPRoute", "GRPCRoute", "PerformanceTest"];

/// What the checks found; `other_namespace` lists the components whose
/// "selects nothing" finding is replaced by a more precise one.
pub(super) struct Found {
    pub diagnostics: Vec<Diagnostic>,
    pub other_namespace: BTreeSet<End>,
}

pub(super) fn check(inference: &Inference, designs: &[Design], sources: &Sources, unmatched: &[End]) -> Found {
    let mut objects: Vec<End> = Vec::new();
    let mut slot: BTreeMap<End, usize> = BTreeMap::new();
    let mut index_of = |end: End, objects: &mut Vec<End>| {
        *slot.entry(end).or_insert_with(|| {
            objects.push(end);
            objects.len() - 1
        })
    };
    let mut selects = BTreeSet::new();
    let mut routes = BTreeSet::new();
    for found in &inference.relationships {
        let (End::Component { .. }, End::Component { .. }) = (found.from, found.to) else { continue };
        let rule = &inference.rules[found.rule];
        if rule.from.kind != "Service" {
            continue;
        }
        if WORKLOADS.contains(&rule.to.kind.as_str()) {
            selects.insert((index_of(found.from, &mut objects), index_of(found.to, &mut objects)));
        } else if ROUTERS.contains(&rule.to.kind.as_str()) {
            routes.insert((index_of(found.to, &mut objects), index_of(found.from, &mut objects)));
        }
    }
    let unmatched: Vec<usize> = unmatched.iter().map(|&end| index_of(end, &mut objects)).collect();
    let mut by_label: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    if !unmatched.is_empty() {
        for (d, design) in designs.iter().enumerate() {
            for (c, component) in design.components.iter().enumerate() {
                if component.is_annotation || !WORKLOADS.contains(&component.kind.as_str()) {
                    continue;
                }
                let labels = if component.kind == "Pod" {
                    component.configuration.pointer("/metadata/labels")
                } else {
                    component.configuration.pointer("/spec/template/metadata/labels")
                };
                let Some(Value::Object(labels)) = labels else { continue };
                let at = index_of(End::Component { design: d, component: c }, &mut objects);
                for (k, v) in labels {
                    if let Some(v) = v.as_str() {
                        by_label.entry(format!("{k}={v}")).or_default().push(at);
                    }
                }
            }
        }
    }
    if selects.is_empty() && routes.is_empty() && unmatched.is_empty() {
        return Found { diagnostics: Vec::new(), other_namespace: BTreeSet::new() };
    }
    let component = |end: End| match end {
        End::Component { design, component } => Some((&designs[design], &designs[design].components[component])),
        End::External(_) => None,
    };
    let input = json!({
        "objects": objects.iter().map(|&e| component(e).map_or(Value::Null, |(_, c)| slim(c))).collect::<Vec<_>>(),
        "namespaces": objects.iter().map(|&e| component(e).map_or("default".to_owned(), |(_, c)| c.namespace.clone().unwrap_or_else(|| "default".into()))).collect::<Vec<_>>(),
        "selects": selects.iter().map(|&(s, w)| json!([s, w])).collect::<Vec<_>>(),
        "routes": routes.iter().map(|&(r, s)| json!([r, s])).collect::<Vec<_>>(),
        "unmatched": unmatched,
        "by_label": by_label,
    });
    let mut engine = rego::engine(rego::DEFAULT_TIME_LIMIT);
    let evaluated = engine
        .add_policy(PORTS_POLICY.0.into(), PORTS_POLICY.1.into())
        .and_then(|_| {
            engine.set_input(RegoValue::from(input));
            engine.eval_rule("data.weft.relationships.ports.findings".into())
        })
        .and_then(|v| Ok(serde_json::from_str::<Value>(&v.to_json_str()?)?));
    let findings = match evaluated {
        Ok(Value::Array(findings)) => findings,
        Ok(_) => Vec::new(),
        Err(error) => {
            let error = rego::RegoError::parse(&error);
            let span = (error.line > 0).then_some(crate::diagnostic::Span { line: error.line, column: error.column, len: 0 });
            let diagnostic = Diagnostic::new(&codes::POLICY_ERROR, format!("port checks failed: {}", error.message))
                .at(error.file.unwrap_or_else(|| PORTS_POLICY.0.to_owned()), span);
            return Found { diagnostics: vec![diagnostic], other_namespace: BTreeSet::new() };
        }
    };
    let mut found = Found { diagnostics: Vec::new(), other_namespace: BTreeSet::new() };
    // Locating a finding parses its file; parse them all at once.
    sources.warm(findings.iter().filter_map(|f| {
        let end = *objects.get(f["object"].as_u64()? as usize)?;
        component(end).map(|(_, c)| c.origin.source)
    }));
    for finding in findings {
        let (Some(code), Some(at), Some(message)) =
            (finding["code"].as_str(), finding["object"].as_u64(), finding["msg"].as_str())
        else {
            continue;
        };
        let Some(&end) = objects.get(at as usize) else { continue };
        let Some((design, component)) = component(end) else { continue };
        let path: Vec<String> = finding["path"]
            .as_array()
            .map(|p| p.iter().map(|s| s.as_str().map_or_else(|| s.to_string(), str::to_owned)).collect())
            .unwrap_or_default();
        if code == codes::SELECTOR_OTHER_NAMESPACE.name {
            found.other_namespace.insert(end);
        }
        let severity = codes::ALL.iter().find(|c| c.name == code).map_or(Severity::Warning, |c| c.severity);
        found.diagnostics.push(
            Diagnostic::dynamic(code, severity, message)
                .at(&design.file, Some(sources.locate_origin(&component.field_origin(&path))))
                .component(component.display()),
        );
    }
    found
}

/// The parts of an object the checks read, in the object's own shape (so
/// paths into it are paths into the source): for Services their ports and
/// selector, for workloads their Pod labels and container ports. Copying
/// whole workloads for thousands of Services cost more than the checks.
fn slim(component: &crate::design::Component) -> Value {
    let at = |pointer: &str| component.configuration.pointer(pointer).map_or(Value::Null, crate::design::without_nulls);
    let ports_of = |containers: Value| -> Value {
        Value::Array(
            containers
                .as_array()
                .map(|list| list.iter().map(|c| json!({"ports": c.get("ports").filter(|p| p.is_array()).cloned().unwrap_or_else(|| json!([]))})).collect())
                .unwrap_or_default(),
        )
    };
    let name = json!(component.name);
    match component.kind.as_str() {
        "Service" => json!({"kind": "Service", "metadata": {"name": name}, "spec": {"ports": at("/spec/ports"), "selector": at("/spec/selector")}}),
        "Pod" => json!({"kind": "Pod", "metadata": {"name": name, "labels": at("/metadata/labels")}, "spec": {"containers": ports_of(at("/spec/containers"))}}),
        kind if WORKLOADS.contains(&kind) => json!({
            "kind": kind,
            "metadata": {"name": name},
            "spec": {"template": {"metadata": {"labels": at("/spec/template/metadata/labels")}, "spec": {"containers": ports_of(at("/spec/template/spec/containers"))}}},
        }),
        _ => component.object(),
    }
}
