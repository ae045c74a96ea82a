//! A pull-request check's comparison: what changed between the base and
//! the head revision of a repo, component by component and relationship
//! by relationship, and what each change touches through the graph.
//!
//! Components are matched across revisions by what they are in a cluster
//! (kind, namespace, name), not by file or id, so moving an object to
//! another file is no change and renaming it is a removal and an addition.

use crate::design::{Design, group_of};
use crate::relate::{End, ExternalObject, Inference};
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
    let all = |designs: &[Design]| -> Vec<usize> { (0..designs.len()).collect() };
    let (base_components, head_components) = (components(base.designs, &all(base.designs)), components(head.designs, &all(head.designs)));
    let keep = |_: End| true;
    let (base_edges, head_edges) = (edges(base, &keep), edges(head, &keep));
    differ(&base_components, &head_components, &base_edges, &head_edges, None)
}

/// `compare` for a base known by how it differs from the head: the head
/// (its designs and inference) and the base's designs in the files that
/// differ (`load::load_changes`). The base is everything else of the head
/// with those files as the base has them. Only relationships touching the
/// base's changed files are inferred again; every other relationship is
/// the head's, since a relationship depends on its two components (and
/// the binding one) alone once the registry, weft.yaml and the definitions
/// in scope are the same. `None` when that does not hold (a
/// CustomResourceDefinition changed, the definitions in scope differ, the
/// head's inference failed): then the base must be analysed whole.
pub fn compare_changes(
    head: &mut Vec<Design>,
    head_inference: Option<&Inference>,
    changes: crate::load::Changes,
    registry: &crate::model::Registry,
    external: &[ExternalObject],
) -> Option<Comparison> {
    let head_inference = head_inference?;
    let changed = |design: &Design| {
        changes.files.contains(&design.file)
            || changes.files.iter().any(|f| design.file.strip_prefix(f.as_str()).is_some_and(|rest| rest.starts_with(':')))
    };
    // CRDs change the registry, hence the model of other components.
    let crd = |design: &Design| design.components.iter().any(|c| c.kind == "CustomResourceDefinition");
    if changes.designs.iter().any(crd) || head.iter().filter(|d| changed(d)).any(crd) {
        return None;
    }
    let n = head.len();
    // The base in load order (files by path, as a tree walk gives them):
    // the head's designs of unchanged files, then the base's of changed ones.
    let mut order: Vec<usize> = (0..n).filter(|&d| !changed(&head[d])).collect();
    let in_head_changed: Vec<bool> = head.iter().map(changed).collect();
    head.extend(changes.designs);
    order.extend(n..head.len());
    order.sort_by(|&a, &b| head[a].file.cmp(&head[b].file));
    let members: Vec<(usize, usize)> = order.iter().flat_map(|&d| (0..head[d].components.len()).map(move |c| (d, c))).collect();
    let focus: Vec<(usize, usize)> = members.iter().copied().filter(|&(d, _)| d >= n).collect();
    let (definitions, _) = crate::relate::load_definitions(registry);
    let options = crate::relate::Options { external, focus: Some(&focus), ..Default::default() };
    let base_inference = crate::relate::infer(head, &members, &definitions, registry, &options).ok();
    let result = base_inference.filter(|b| b.definitions == head_inference.definitions).map(|base_inference| {
        let base_components = components(head, &order);
        let head_components = components(&head[..n], &(0..n).collect::<Vec<_>>());
        let head_revision = Revision { designs: &head[..n], inference: Some(head_inference) };
        let head_edges = edges(&head_revision, &|_| true);
        let unchanged = |end: End| match end {
            End::Component { design, .. } => !in_head_changed[design],
            End::External(_) => true,
        };
        let mut base_edges = edges(&head_revision, &unchanged);
        base_edges.extend(edges(&Revision { designs: head, inference: Some(&base_inference) }, &|_| true));
        // A component of an unchanged file is the same in both revisions:
        // only those named in a changed file can differ.
        let named: BTreeSet<String> = (0..head.len())
            .filter(|&d| d >= n || in_head_changed[d])
            .flat_map(|d| (0..head[d].components.len()).map(move |c| (d, c)))
            .filter(|&(d, c)| !head[d].components[c].is_annotation)
            .map(|(d, c)| key_of(&head[d], c))
            .collect();
        differ(&base_components, &head_components, &base_edges, &head_edges, Some(&named))
    });
    head.truncate(n);
    result
}

/// The comparison of two revisions' components and relationships; with
/// `only`, of the components with those keys (the others are known to be
/// the same).
fn differ(
    base_components: &BTreeMap<String, (&str, &Value)>,
    head_components: &BTreeMap<String, (&str, &Value)>,
    base_edges: &BTreeSet<Edge>,
    head_edges: &BTreeSet<Edge>,
    only: Option<&BTreeSet<String>>,
) -> Comparison {
    let mut out = Comparison::default();
    let wanted = |key: &String| only.is_none_or(|keys| keys.contains(key));
    for (key, (file, configuration)) in head_components.iter().filter(|(key, _)| wanted(key)) {
        match base_components.get(key) {
            None => out.components.push(ComponentChange { change: Change::Added, component: key.clone(), file: file.to_string(), fields: Vec::new(), impact: Vec::new() }),
            Some((_, before)) => {
                let mut fields = Vec::new();
                differences(before, configuration, &mut String::new(), &mut fields);
                if !fields.is_empty() {
                    fields.truncate(MAX_FIELDS);
                    let impact = related(key, head_edges);
                    out.components.push(ComponentChange { change: Change::Changed, component: key.clone(), file: file.to_string(), fields, impact });
                }
            }
        }
    }
    for (key, (file, _)) in base_components.iter().filter(|(key, _)| wanted(key)) {
        if !head_components.contains_key(key) {
            let impact = related(key, base_edges).into_iter().filter(|r| head_components.contains_key(&r.component)).collect();
            out.components.push(ComponentChange { change: Change::Removed, component: key.clone(), file: file.to_string(), fields: Vec::new(), impact });
        }
    }
    out.components.sort_by(|a, b| (a.change, &a.component).cmp(&(b.change, &b.component)));
    for edge in head_edges.difference(base_edges) {
        out.relationships.push(RelationshipChange { change: Change::Added, relationship: edge.0.clone(), from: edge.1.clone(), to: edge.2.clone() });
    }
    for edge in base_edges.difference(head_edges) {
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

/// The components of `designs[order]`, by key; the first of a key wins.
fn components<'a>(designs: &'a [Design], order: &[usize]) -> BTreeMap<String, (&'a str, &'a Value)> {
    let mut out = BTreeMap::new();
    for design in order.iter().map(|&d| &designs[d]) {
        for (i, c) in design.components.iter().enumerate() {
            if !c.is_annotation {
                out.entry(key_of(design, i)).or_insert((design.file.as_str(), &c.configuration));
            }
        }
    }
    out
}

type Edge = (String, String, String);

/// The relationships of `revision` whose ends (and binding component)
/// `keep` accepts.
fn edges(revision: &Revision, keep: &dyn Fn(End) -> bool) -> BTreeSet<Edge> {
    let Some(inference) = revision.inference else { return BTreeSet::new() };
    let name = |end: End| match end {
        End::Component { design, component } => Some(key_of(&revision.designs[design], component)),
        End::External(_) => None,
    };
    inference
        .relationships
        .iter()
        .filter(|r| keep(r.from) && keep(r.to) && r.via.is_none_or(keep))
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
