//! A pull-request check's comparison: what changed between the base and
//! the head revision of a repo, component by component and relationship
//! by relationship, and what each change touches through the graph.
//!
//! Components are matched across revisions by what they are in a cluster
//! (kind, namespace, name), not by file or id, so moving an object to
//! another file is no change and renaming it is a removal and an addition.

use crate::design::{Design, group_of};
use crate::relate::{End, Inference};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One revision as the check sees it.
pub struct Revision<'a> {
    pub designs: &'a [Design],
    pub inference: Option<&'a Inference>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Removed,
    Changed,
}

#[derive(Clone, Debug, Serialize)]
pub struct ComponentChange {
    pub change: Change,
    /// `Kind namespace/name` (`Kind name` for cluster-scoped kinds).
    pub component: String,
    /// The file it is in (head; base for a removal).
    pub file: String,
    /// JSON pointers of the fields that differ, for a change.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// Components related to it (head; base for a removal): what the change
    /// may affect.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub impact: Vec<Related>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Related {
    pub component: String,
    /// `kind/type/subtype` of the relationship.
    pub relationship: String,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RelationshipChange {
    pub change: Change,
    pub relationship: String,
    pub from: String,
    pub to: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Comparison {
    pub components: Vec<ComponentChange>,
    pub relationships: Vec<RelationshipChange>,
}

impl Comparison {
    pub fn is_empty(&self) -> bool {
        self.components.is_empty() && self.relationships.is_empty()
    }
}

/// Fields listed per changed component, at most.
const MAX_FIELDS: usize = 20;

/// The differences from `base` to `head`.
pub fn compare(base: &Revision, head: &Revision) -> Comparison {
    let (base_components, head_components) = (components(base.designs), components(head.designs));
    let (base_edges, head_edges) = (edges(base), edges(head));
    let mut out = Comparison::default();
    for (key, (file, configuration)) in &head_components {
        match base_components.get(key) {
            None => out.components.push(ComponentChange { change: Change::Added, component: key.clone(), file: file.clone(), fields: Vec::new(), impact: Vec::new() }),
            Some((_, before)) => {
                let mut fields = Vec::new();
                differences(before, configuration, &mut String::new(), &mut fields);
                if !fields.is_empty() {
                    fields.truncate(MAX_FIELDS);
                    let impact = related(key, &head_edges);
                    out.components.push(ComponentChange { change: Change::Changed, component: key.clone(), file: file.clone(), fields, impact });
                }
            }
        }
    }
    for (key, (file, _)) in &base_components {
        if !head_components.contains_key(key) {
            let impact = related(key, &base_edges).into_iter().filter(|r| head_components.contains_key(&r.component)).collect();
            out.components.push(ComponentChange { change: Change::Removed, component: key.clone(), file: file.clone(), fields: Vec::new(), impact });
        }
    }
    out.components.sort_by(|a, b| (a.change, &a.component).cmp(&(b.change, &b.component)));
    for edge in head_edges.difference(&base_edges) {
        out.relationships.push(RelationshipChange { change: Change::Added, relationship: edge.0.clone(), from: edge.1.clone(), to: edge.2.clone() });
    }
    for edge in base_edges.difference(&head_edges) {
        out.relationships.push(RelationshipChange { change: Change::Removed, relationship: edge.0.clone(), from: edge.1.clone(), to: edge.2.clone() });
    }
    out.relationships.sort();
    out
}

/// A component's name in a check: what it is in a cluster.
fn key_of(design: &Design, component: usize) -> String {
    let c = &design.components[component];
    let group = group_of(&c.api_version);
    let kind = if group.is_empty() { c.kind.clone() } else { format!("{}.{group}", c.kind) };
    match &c.namespace {
        Some(ns) => format!("{kind} {ns}/{}", c.name),
        None => format!("{kind} {}", c.name),
    }
}

fn components(designs: &[Design]) -> BTreeMap<String, (String, Value)> {
    let mut out = BTreeMap::new();
    for design in designs {
        for (i, c) in design.components.iter().enumerate() {
            if !c.is_annotation {
                out.entry(key_of(design, i)).or_insert_with(|| (design.file.clone(), c.configuration.clone()));
            }
        }
    }
    out
}

type Edge = (String, String, String);

fn edges(revision: &Revision) -> BTreeSet<Edge> {
    let Some(inference) = revision.inference else { return BTreeSet::new() };
    let name = |end: End| match end {
        End::Component { design, component } => Some(key_of(&revision.designs[design], component)),
        End::External(_) => None,
    };
    inference
        .relationships
        .iter()
        .filter_map(|r| {
            let def = &inference.definitions[inference.rules[r.rule].def];
            let family = format!("{}/{}/{}", def.kind, def.r#type, def.sub_type).to_lowercase();
            Some((family, name(r.from)?, name(r.to)?))
        })
        .collect()
}

fn related(key: &str, edges: &BTreeSet<Edge>) -> Vec<Related> {
    let mut out: Vec<Related> = edges
        .iter()
        .filter_map(|(family, from, to)| match (from == key, to == key) {
            (true, false) => Some(Related { component: to.clone(), relationship: family.clone() }),
            (false, true) => Some(Related { component: from.clone(), relationship: family.clone() }),
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// JSON pointers where `before` and `after` differ (a whole subtree once).
fn differences(before: &Value, after: &Value, path: &mut String, out: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let at = path.len();
                path.push('/');
                path.push_str(&key.replace('~', "~0").replace('/', "~1"));
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => differences(x, y, path, out),
                    _ => out.push(path.clone()),
                }
                path.truncate(at);
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                let at = path.len();
                path.push_str(&format!("/{i}"));
                differences(x, y, path, out);
                path.truncate(at);
            }
        }
        (a, b) if a == b => {}
        _ => out.push(if path.is_empty() { "/".to_owned() } else { path.clone() }),
    }
}

/// The comparison as text: a line per change, impact indented below.
pub fn render_text(comparison: &Comparison) -> String {
    let mut out = String::new();
    if comparison.is_empty() {
        out.push_str("no component or relationship changes\n");
        return out;
    }
    for c in &comparison.components {
        let word = match c.change {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Changed => "changed",
        };
        out.push_str(&format!("{word} {} ({})", c.component, c.file));
        if !c.fields.is_empty() {
            out.push_str(&format!(": {}", c.fields.join(", ")));
        }
        out.push('\n');
        for r in &c.impact {
            out.push_str(&format!("  affects {} ({})\n", r.component, r.relationship));
        }
    }
    for r in &comparison.relationships {
        let word = if r.change == Change::Added { "added" } else { "removed" };
        out.push_str(&format!("{word} relationship {}: {} -> {}\n", r.relationship, r.from, r.to));
    }
    out
}

/// The comparison as Markdown sections for a pull-request comment.
pub fn render_markdown(comparison: &Comparison) -> String {
    let count = |change: Change| comparison.components.iter().filter(|c| c.change == change).count();
    let mut out = String::from("| | added | removed | changed |\n|---|---|---|---|\n");
    out.push_str(&format!("| components | {} | {} | {} |\n", count(Change::Added), count(Change::Removed), count(Change::Changed)));
    let rel = |change: Change| comparison.relationships.iter().filter(|r| r.change == change).count();
    out.push_str(&format!("| relationships | {} | {} | |\n\n", rel(Change::Added), rel(Change::Removed)));
    if !comparison.components.is_empty() {
        out.push_str("### Components\n\n| change | component | file | fields | impact |\n|---|---|---|---|---|\n");
        for c in &comparison.components {
            let impact: Vec<String> = c.impact.iter().map(|r| format!("{} ({})", r.component, r.relationship)).collect();
            let fields: Vec<String> = c.fields.iter().map(|f| format!("`{f}`")).collect();
            out.push_str(&format!(
                "| {:?} | `{}` | `{}` | {} | {} |\n",
                c.change,
                c.component,
                c.file,
                fields.join(", "),
                impact.join("<br>")
            ));
        }
        out.push('\n');
    }
    if !comparison.relationships.is_empty() {
        out.push_str("### Relationships\n\n| change | relationship | from | to |\n|---|---|---|---|\n");
        for r in &comparison.relationships {
            out.push_str(&format!("| {:?} | {} | `{}` | `{}` |\n", r.change, r.relationship, r.from, r.to));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn differences_name_each_changed_field_once() {
        let mut out = Vec::new();
        differences(
            &json!({"data": {"a": "1", "b": "2"}, "spec": {"ports": [{"port": 80}], "list": [1]}}),
            &json!({"data": {"a": "1", "c": "3"}, "spec": {"ports": [{"port": 81}], "list": [1, 2]}}),
            &mut String::new(),
            &mut out,
        );
        assert_eq!(out, vec!["/data/b", "/data/c", "/spec/list", "/spec/ports/0/port"]);
    }
}
