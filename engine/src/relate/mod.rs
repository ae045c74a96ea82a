//! Relationship inference: which components relate to which, decided by
//! Meshery relationship definitions evaluated in Rego
//! (`policies/relationships/infer.rego`). Rust reads the definitions,
//! scopes them to the models present, flattens them into rules and
//! prepares the components; the policy decides what matches.

pub mod definition;
mod index;
mod ports;
pub mod rules;

use crate::design::{Component, Design};
use crate::diagnostic::{Diagnostic, codes};
use crate::model::Registry;
use crate::rego::{self, RegoError};
use definition::Definition;
use regorus::Value as RegoValue;
use rules::Rule;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

/// The annotation that marks a stub for an object living outside the repo.
pub const EXTERNAL_ANNOTATION: &str = "weft.io/external";

const INFER_POLICY: (&str, &str) =
    ("policies/relationships/infer.rego", include_str!("../../../policies/relationships/infer.rego"));

/// Every relationship definition of the registry. Files that are not
/// relationship definitions are skipped; broken ones are reported.
pub fn load_definitions(registry: &Registry) -> (Vec<Definition>, Vec<Diagnostic>) {
    let mut definitions = Vec::new();
    let mut diagnostics = Vec::new();
    for (_, path) in registry.relationship_files() {
        let display = path.display().to_string();
        let parsed = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read: {e}"))
            .and_then(|text| serde_json::from_str::<Value>(&text).map_err(|e| format!("not JSON: {e}")))
            .and_then(|value| definition::parse(value, &display));
        match parsed {
            Ok(Some(def)) => definitions.push(def),
            Ok(None) => {}
            Err(message) => diagnostics.push(
                Diagnostic::new(&codes::MODEL_INVALID, format!("relationship definition: {message}")).at(display, None),
            ),
        }
    }
    (definitions, diagnostics)
}

/// An object declared to exist outside the repository (weft.yaml `external`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalObject {
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
}

/// Where a matched end is: a component of a design, or an external object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum End {
    Component { design: usize, component: usize },
    External(usize),
}

/// One inferred relationship.
#[derive(Clone, Debug)]
pub struct Inferred {
    pub rule: usize,
    pub from: End,
    pub to: End,
    /// Array indices the `_` wildcards of the join ref took on each side:
    /// they say which element made the reference.
    pub from_indices: Vec<usize>,
    pub to_indices: Vec<usize>,
    /// The binding component of a binding relationship (the RoleBinding
    /// between a Role and a ServiceAccount).
    pub via: Option<End>,
}

/// A reference that must resolve and does not.
#[derive(Clone, Debug)]
pub struct Unresolved {
    pub rule: usize,
    pub at: End,
    pub indices: Vec<usize>,
}

pub struct Inference {
    /// The definitions in scope; rules point into it.
    pub definitions: Vec<Definition>,
    pub rules: Vec<Rule>,
    pub relationships: Vec<Inferred>,
    pub unresolved: Vec<Unresolved>,
}

pub struct Options<'a> {
    pub external: &'a [ExternalObject],
    pub time_limit: Duration,
    /// Only the relationships with an end (or binding component) among
    /// these members are wanted: the result then holds exactly those of
    /// the full inference, and no unresolved references. The rest of the
    /// members are still read (definitions in scope, candidates), but only
    /// the focus and the candidates their keys meet are evaluated, which
    /// is what makes a small focus fast in a large repo (`weft check`'s
    /// base revision around the changed files).
    pub focus: Option<&'a [(usize, usize)]>,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options { external: &[], time_limit: rego::DEFAULT_TIME_LIMIT, focus: None }
    }
}

/// Infers the relationships among `members` (design, component) of
/// `designs`, with the definitions of the models those components belong
/// to, minus families any of the designs turn off.
pub fn infer(
    designs: &[Design],
    members: &[(usize, usize)],
    definitions: &[Definition],
    registry: &Registry,
    options: &Options,
) -> Result<Inference, Diagnostic> {
    use rayon::prelude::*;
    let present: Vec<(usize, usize)> =
        members.iter().copied().filter(|&(d, c)| !designs[d].components[c].is_annotation).collect();
    let mut models: BTreeSet<String> =
        present.par_iter().map(|&(d, c)| model_of(&designs[d].components[c], registry)).filter(|m| !m.is_empty()).collect();
    models.extend(options.external.iter().map(|o| external_model(o, registry)).filter(|m| !m.is_empty()));

    let disabled: BTreeSet<&str> = members
        .iter()
        .map(|&(d, _)| d)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .flat_map(|d| designs[d].disabled_relationships.iter().map(String::as_str))
        .collect();
    let in_scope: Vec<Definition> = definitions
        .iter()
        .filter(|def| def.status != "ignored" && def.status != "deleted")
        .filter(|def| def.model.is_empty() || models.contains(&def.model))
        .filter(|def| !disabled.contains(def.family().as_str()))
        .cloned()
        .collect();
    let rules::Flattened { rules, sources, bindings } = rules::flatten(&in_scope);

    // Only the fields some rule reads reach Rego: a Deployment's probes,
    // resources and environment are most of its size and no relationship
    // looks at them. Converting configurations is most of the preparation;
    // it is per component, so it runs in parallel.
    let read = FieldTree::of_rules(&rules);
    let mut prepared = Prepared::default();
    let converted: Vec<(RegoValue, String, (usize, usize))> = present
        .par_iter()
        .map(|&(d, c)| {
            let (value, model) = component_value(&designs[d].components[c], registry, Some(&read));
            (value, model, (d, c))
        })
        .collect();
    for (value, model, (d, c)) in converted {
        prepared.push(value, &designs[d].components[c].kind, model, End::Component { design: d, component: c });
    }
    for (i, object) in options.external.iter().enumerate() {
        prepared.add_external(object, registry, i);
    }

    let fail = |e: anyhow::Error| {
        let e = RegoError::parse(&e);
        let span = (e.line > 0).then_some(crate::diagnostic::Span { line: e.line, column: e.column, len: 0 });
        Diagnostic::new(&codes::POLICY_ERROR, format!("relationship inference failed: {}", e.message))
            .at(e.file.unwrap_or_else(|| INFER_POLICY.0.to_owned()), span)
    };
    let mut tables = prepared.tables(&rules, &sources);
    let focus: Option<Vec<bool>> = options.focus.map(|focus| {
        let focus: BTreeSet<End> = focus.iter().map(|&(design, component)| End::Component { design, component }).collect();
        prepared.ends.iter().map(|end| focus.contains(end)).collect()
    });
    if let Some(focus) = &focus {
        tables.narrow(&rules, focus);
    }
    // Unresolved references need every candidate: not with a focus.
    let checks = if focus.is_some() { Vec::new() } else { checks(&rules) };

    // The rules split into shards evaluated in parallel, one interpreter
    // each. Rules of one check group stay together: a reference is
    // unresolved only if no rule of its group matched it. Probe counts
    // predict a shard's cost poorly (one heavy group took twice as long as
    // the rest with one shard per thread), so there are four shards per
    // thread and rayon's work stealing evens them out.
    let shards = shards(&rules, &tables, (rayon::current_num_threads() * 4).clamp(1, 16));
    let results: Vec<Result<RegoValue, Diagnostic>> = {
        use rayon::prelude::*;
        shards
            .par_iter()
            .map(|shard| {
                let mut engine = rego::engine(options.time_limit);
                engine.add_policy(INFER_POLICY.0.into(), INFER_POLICY.1.into()).map_err(fail)?;
                let in_shard = |r: usize| shard.binary_search(&r).is_ok();
                let shard_checks: Vec<&Value> =
                    checks.iter().filter(|c| c["rule"].as_u64().is_some_and(|r| in_shard(r as usize))).collect();
                let verifying: Vec<usize> = shard.iter().copied().filter(|&r| !rules[r].verify.is_empty()).collect();
                let denying: Vec<usize> = shard.iter().copied().filter(|&r| !rules[r].deny.is_empty()).collect();
                let shard_bindings: Vec<[usize; 3]> =
                    bindings.iter().enumerate().filter(|(_, [a, _])| in_shard(*a)).map(|(b, &[a, c])| [b, a, c]).collect();
                let data = json!({"weft": {"rules": rules, "checks": shard_checks, "verifying": verifying, "denying": denying, "bindings": shard_bindings}});
                engine.add_data(RegoValue::from(data)).map_err(fail)?;
                engine.set_input(tables.input(shard));
                engine.eval_rule("data.weft.relationships.result".into()).map_err(fail)
            })
            .collect()
    };
    let mut matched_all: Vec<(usize, RegoValue)> = Vec::new();
    let mut unresolved_all: Vec<RegoValue> = Vec::new();
    let mut bound_all: Vec<RegoValue> = Vec::new();
    for result in results {
        let result = result?;
        if let RegoValue::Object(matched) = &result["matched"] {
            for (r, set) in matched.iter() {
                let Some(r) = index(r) else { continue };
                matched_all.extend(set_items(set).into_iter().map(|p| (r, p)));
            }
        }
        unresolved_all.extend(set_items(&result["unresolved"]));
        bound_all.extend(set_items(&result["bound"]));
    }

    let mut relationships = Vec::new();
    let mut seen = BTreeSet::new();
    let mut pairs = matched_all;
    pairs.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    // (rule, from, to, from indices, to indices, binding component)
    let mut found = Vec::new();
    for (r, pair) in pairs {
        let (Some(f), Some(t)) = (index(&pair[0]), index(&pair[1])) else { continue };
        // Halves of binding relationships are joined in the policy.
        if rules[r].binding.is_none() {
            found.push((r, f, t, indices(&pair[2]), indices(&pair[3]), None));
        }
    }
    // Binding relationships: [binding, from, to, via, from indices, to indices].
    bound_all.sort();
    for item in bound_all {
        let (Some(b), Some(f), Some(t), Some(v)) = (index(&item[0]), index(&item[1]), index(&item[2]), index(&item[3])) else {
            continue;
        };
        if let Some(&[first, _]) = bindings.get(b) {
            found.push((first, f, t, indices(&item[4]), indices(&item[5]), Some(v)));
        }
    }
    for (r, f, t, from_indices, to_indices, via) in found {
        let rule = &rules[r];
        if let Some(focus) = &focus
            && !(focus[f] || focus[t] || via.is_some_and(|v| focus[v]))
        {
            continue;
        }
        // One relationship per selector set and pair of components, even
        // when several elements make the same reference.
        if !seen.insert((rule.def, rule.set, f, t)) {
            continue;
        }
        relationships.push(Inferred {
            rule: r,
            from: prepared.ends[f],
            to: prepared.ends[t],
            from_indices,
            to_indices,
            via: via.map(|v| prepared.ends[v]),
        });
    }
    let mut unresolved = Vec::new();
    let mut seen = BTreeSet::new();
    unresolved_all.sort();
    for item in unresolved_all {
        let (Some(r), Some(c)) = (index(&item[0]), index(&item[1])) else { continue };
        let indices = indices(&item[2]);
        let group = rules[r].check.as_ref().map(|c| c.group.clone()).unwrap_or_default();
        if seen.insert((group, c, indices.clone())) {
            unresolved.push(Unresolved { rule: r, at: prepared.ends[c], indices });
        }
    }
    Ok(Inference { definitions: in_scope, rules, relationships, unresolved })
}

/// The checks to run: one per check group and side facets. A from-side
/// check reads the facets of its source, which several rules share (a
/// Service's selector against each workload kind); a to-side check reads
/// the facets of one rule. `rules` lists every rule of the group, any of
/// whose matches resolves the reference.
fn checks(rules: &[Rule]) -> Vec<Value> {
    let mut groups: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for (r, rule) in rules.iter().enumerate() {
        if let Some(check) = &rule.check {
            groups.entry(check.group.as_str()).or_default().push(r);
        }
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (r, rule) in rules.iter().enumerate() {
        let Some(check) = &rule.check else { continue };
        let key = if check.side == "from" { (check.group.as_str(), rule.source, 0) } else { (check.group.as_str(), 0, r + 1) };
        if seen.insert(key) {
            out.push(json!({"group": check.group, "rule": r, "side": check.side, "source": rule.source, "rules": groups[check.group.as_str()]}));
        }
    }
    out
}

/// (rule, from member, to member).
#[doc(hidden)]
pub type NaiveMatch = (usize, usize, usize);

/// For the benchmark: the distinct (rule, from member, to member) matches of a
/// pairwise Rego formulation of the same rules (`naive`, a module that
/// defines `data.weft.relationships.naive_pairs` next to infer.rego), and
/// the time its evaluation took.
#[doc(hidden)]
pub fn naive_matches(
    designs: &[Design],
    members: &[(usize, usize)],
    definitions: &[Definition],
    registry: &Registry,
    naive: &str,
    time_limit: Duration,
) -> Result<(Vec<NaiveMatch>, Duration), String> {
    let mut prepared = Prepared::default();
    for &(d, c) in members {
        let (value, model) = component_value(&designs[d].components[c], registry, None);
        prepared.push(value, &designs[d].components[c].kind, model, End::Component { design: d, component: c });
    }
    let in_scope: Vec<Definition> =
        definitions.iter().filter(|def| def.model.is_empty() || prepared.models.contains(&def.model)).cloned().collect();
    let rules = rules::flatten(&in_scope).rules;
    let mut engine = rego::engine(time_limit);
    let err = |e: anyhow::Error| format!("{e:#}");
    engine.add_policy(INFER_POLICY.0.into(), INFER_POLICY.1.into()).map_err(err)?;
    engine.add_policy("naive.rego".into(), naive.into()).map_err(err)?;
    engine.add_data(RegoValue::from(json!({"weft": {"rules": rules}}))).map_err(err)?;
    let mut input = RegoValue::new_object();
    if let Ok(map) = input.as_object_mut() {
        map.insert(RegoValue::from("components"), RegoValue::from(std::mem::take(&mut prepared.components)));
    }
    engine.set_input(input);
    let started = std::time::Instant::now();
    let pairs = engine.eval_rule("data.weft.relationships.naive_pairs".into()).map_err(err)?;
    let elapsed = started.elapsed();
    let triples = set_items(&pairs)
        .iter()
        .filter_map(|p| Some((index(&p[0])?, index(&p[1])?, index(&p[2])?)))
        .collect();
    Ok((triples, elapsed))
}

fn set_items(value: &RegoValue) -> Vec<RegoValue> {
    match value {
        RegoValue::Set(items) => items.iter().cloned().collect(),
        RegoValue::Array(items) => items.to_vec(),
        _ => Vec::new(),
    }
}

fn index(value: &RegoValue) -> Option<usize> {
    value.as_u64().ok().map(|n| n as usize)
}

fn indices(value: &RegoValue) -> Vec<usize> {
    match value {
        RegoValue::Array(items) => items.iter().filter_map(index).collect(),
        _ => Vec::new(),
    }
}

fn model_of(component: &Component, registry: &Registry) -> String {
    component.model.clone().or_else(|| registry.lookup(&component.api_version, &component.kind).map(|d| d.model.clone())).unwrap_or_default()
}

fn external_model(object: &ExternalObject, registry: &Registry) -> String {
    registry.lookup("", &object.kind).map(|d| d.model.clone()).unwrap_or_default()
}

/// The configuration fields rules read, as a tree of path segments (`_`:
/// every element of an array). A path that ends at a field keeps the
/// field's whole value.
#[derive(Default)]
struct FieldTree {
    whole: bool,
    children: HashMap<String, FieldTree>,
}

impl FieldTree {
    fn of_rules(rules: &[Rule]) -> FieldTree {
        let mut tree = FieldTree::default();
        for rule in rules {
            for r in rule.refs.iter().chain(&rule.verify) {
                tree.add(&r.from);
                tree.add(&r.to);
            }
            if let Some(check) = &rule.check {
                for condition in check.when.iter().chain(&check.unless) {
                    tree.add(&condition.path);
                }
            }
        }
        tree
    }

    /// Adds a component path; only its part under `configuration` matters,
    /// the other fields of a component value are always there.
    fn add(&mut self, path: &[String]) {
        let Some(("configuration", rest)) = path.split_first().map(|(first, rest)| (first.as_str(), rest)) else { return };
        let mut node = self;
        for segment in rest {
            if node.whole {
                return;
            }
            node = node.children.entry(segment.clone()).or_default();
        }
        node.whole = true;
        node.children.clear();
    }

    /// The parts of `value` this tree reaches, without nulls (regorus
    /// errors on iterating null; policies read a missing field and a null
    /// one alike).
    fn keep(&self, value: &Value) -> Option<Value> {
        if self.whole {
            return Some(crate::design::without_nulls(value));
        }
        match value {
            Value::Object(map) => Some(Value::Object(
                self.children.iter().filter_map(|(key, sub)| Some((key.clone(), sub.keep(map.get(key)?)?))).collect(),
            )),
            Value::Array(items) => {
                let every = self.children.get("_");
                Some(Value::Array(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| {
                            // Indices stay where they were; an element no
                            // path reaches becomes an empty placeholder.
                            let sub = match (every, self.children.get(&i.to_string())) {
                                (Some(_), Some(_)) => return crate::design::without_nulls(item),
                                (every, one) => every.or(one),
                            };
                            sub.and_then(|sub| sub.keep(item)).unwrap_or(Value::Null)
                        })
                        .collect(),
                ))
            }
            _ => None,
        }
    }
}

fn component_value(component: &Component, registry: &Registry, read: Option<&FieldTree>) -> (RegoValue, String) {
    let def = registry.lookup(&component.api_version, &component.kind);
    let model = component.model.clone().or_else(|| def.as_ref().map(|d| d.model.clone())).unwrap_or_default();
    let namespaced = def.as_ref().map_or(component.namespace.is_some(), |d| d.namespaced);
    let namespace = namespaced.then(|| component.namespace.clone().unwrap_or_else(|| "default".into()));
    let external = component
        .configuration
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(EXTERNAL_ANNOTATION))
        .is_some_and(|v| v == "true" || v == true);
    let object = json!({
        "id": component.id,
        "displayName": component.name,
        "component": {"kind": component.kind, "version": component.api_version},
        "group": component.group(),
        "model": {"name": model},
        "namespace": namespace,
        "external": external,
    });
    let mut value = RegoValue::from(object);
    if let Ok(fields) = value.as_object_mut() {
        let labelled = with_selector_labels(&component.configuration);
        let mut configuration = match read {
            Some(tree) => tree.keep(&labelled).unwrap_or_else(|| json!({})),
            None => crate::design::without_nulls(&labelled),
        };
        if component.kind == "RoleBinding" {
            default_subject_namespaces(&mut configuration, namespace.as_deref().unwrap_or("default"));
        }
        fields.insert(RegoValue::from("configuration"), RegoValue::from(configuration));
    }
    (value, model)
}

/// A RoleBinding's ServiceAccount subjects without a namespace are in the
/// binding's own, as the API server defaults them.
fn default_subject_namespaces(configuration: &mut Value, namespace: &str) {
    let Some(Value::Array(subjects)) = configuration.get_mut("subjects") else { return };
    for subject in subjects {
        if subject.get("kind").and_then(Value::as_str) == Some("ServiceAccount")
            && subject.get("namespace").is_none_or(|n| n.is_null() || n == "")
            && let Value::Object(fields) = subject
        {
            fields.insert("namespace".into(), Value::String(namespace.to_owned()));
        }
    }
}

/// The configuration with the labels a workload's Pods will carry: the
/// API server requires `spec.selector.matchLabels` to be among the
/// template's labels, and designs drawn in Meshery's UI often give only
/// the selector. Missing template labels are taken from it, so a Service
/// selects such a workload as Meshery infers; the best-practice pack
/// reports the gap itself (`selector-template-mismatch`).
fn with_selector_labels(configuration: &Value) -> std::borrow::Cow<'_, Value> {
    use std::borrow::Cow;
    let Some(Value::Object(selector)) = configuration.pointer("/spec/selector/matchLabels") else {
        return Cow::Borrowed(configuration);
    };
    if configuration.pointer("/spec/template").is_none_or(|t| !t.is_object() && !t.is_null()) {
        return Cow::Borrowed(configuration);
    }
    let labels = configuration.pointer("/spec/template/metadata/labels").and_then(Value::as_object);
    if selector.iter().all(|(k, _)| labels.is_some_and(|l| l.contains_key(k))) {
        return Cow::Borrowed(configuration);
    }
    let selector = selector.clone();
    let mut configuration = configuration.clone();
    let template = &mut configuration["spec"]["template"];
    if !template.is_object() {
        *template = json!({});
    }
    let metadata = &mut template["metadata"];
    if !metadata.is_object() {
        *metadata = json!({});
    }
    let labels = &mut metadata["labels"];
    if !labels.is_object() {
        *labels = json!({});
    }
    if let Value::Object(labels) = labels {
        for (k, v) in selector {
            labels.entry(k).or_insert(v);
        }
    }
    Cow::Owned(configuration)
}

/// The input document, built once per evaluation.
#[derive(Default)]
struct Prepared {
    components: Vec<RegoValue>,
    ends: Vec<End>,
    by_kind: HashMap<String, Vec<usize>>,
    /// Model of each component.
    models_of: Vec<String>,
    models: BTreeSet<String>,
}

impl Prepared {
    fn add_external(&mut self, object: &ExternalObject, registry: &Registry, i: usize) {
        let def = registry.lookup("", &object.kind);
        let model = def.as_ref().map(|d| d.model.clone()).unwrap_or_default();
        let namespaced = def.as_ref().map_or(object.namespace.is_some(), |d| d.namespaced);
        let namespace = namespaced.then(|| object.namespace.clone().unwrap_or_else(|| "default".into()));
        let value = RegoValue::from(json!({
            "id": format!("external:{}/{}", object.kind, object.name),
            "displayName": object.name,
            "component": {"kind": object.kind, "version": def.as_ref().map(|d| d.api_version.clone()).unwrap_or_default()},
            "group": def.as_ref().map(|d| crate::design::group_of(&d.api_version).to_owned()).unwrap_or_default(),
            "model": {"name": model},
            "namespace": namespace,
            "external": true,
            "configuration": {"metadata": {"name": object.name, "namespace": namespace}},
        }));
        self.push(value, &object.kind, model, End::External(i));
    }

    fn push(&mut self, value: RegoValue, kind: &str, model: String, end: End) {
        let index = self.components.len();
        self.components.push(value);
        self.ends.push(end);
        self.by_kind.entry(kind.to_owned()).or_default().push(index);
        if !model.is_empty() {
            self.models.insert(model.clone());
        }
        self.models_of.push(model);
    }

    /// Components of `kind` (`*`: all) and `model` (`*`: any). Kinds match
    /// exactly: Meshery's Go engine matches by substring, so there `Pod`
    /// also selects PodDisruptionBudget; weft does not.
    fn of_kind(&self, kind: &str, model: &str) -> Vec<usize> {
        let all: Vec<usize>;
        let candidates = if kind == "*" {
            all = (0..self.components.len()).collect();
            &all
        } else {
            self.by_kind.get(kind).map(Vec::as_slice).unwrap_or_default()
        };
        candidates.iter().copied().filter(|&c| model == "*" || self.models_of[c] == model).collect()
    }

    /// For every component of `kind` and `model`, the values at the key
    /// paths: one facet per element the join path's wildcards reach. A key
    /// path that is missing reads as null, as in the policy.
    fn facets(&self, kind: &str, model: &str, paths: &[&[String]], shared: &[usize]) -> Vec<Facet> {
        let to_rego = |path: &[String]| path.iter().map(|s| RegoValue::from(s.as_str())).collect::<Vec<_>>();
        let join = to_rego(paths[0]);
        let others: Vec<Vec<RegoValue>> = paths[1..].iter().map(|p| to_rego(p)).collect();
        let mut out = Vec::new();
        for c in self.of_kind(kind, model) {
            let component = &self.components[c];
            for (indices, value) in rego::path_values(component, &join) {
                let mut values = vec![value];
                for (path, &shared) in others.iter().zip(&shared[1..]) {
                    let bound = &indices[..shared.min(indices.len())];
                    values.push(rego::path_values_bound(component, path, bound).into_iter().next().map_or(RegoValue::Null, |(_, v)| v));
                }
                out.push(Facet { component: c, indices, values });
            }
        }
        out
    }

    fn tables(&mut self, rules: &[Rule], sources: &[rules::Source]) -> Tables {
        use rayon::prelude::*;
        let to_facets: Vec<Vec<Facet>> = rules
            .par_iter()
            .map(|r| {
                let paths: Vec<&[String]> = r.keys.iter().map(|&i| r.refs[i].to.as_slice()).collect();
                let shared: Vec<usize> = r.keys.iter().map(|&i| r.refs[i].to_shared).collect();
                self.facets(&r.to.kind, &r.to.model, &paths, &shared)
            })
            .collect();
        // A from-side index is needed only when some rule probes it;
        // `*` sources (the inventory, CRDs) span every component, so
        // skipping idle ones matters. From-side checks read the facets.
        let probed: Vec<bool> =
            (0..sources.len()).map(|s| rules.iter().enumerate().any(|(r, rule)| rule.source == s && !to_facets[r].is_empty())).collect();
        let checked: Vec<bool> = (0..sources.len())
            .map(|s| rules.iter().any(|rule| rule.source == s && rule.check.as_ref().is_some_and(|c| c.side == "from")))
            .collect();
        let from_facets: Vec<Vec<Facet>> = sources
            .par_iter()
            .enumerate()
            .map(|(i, s)| {
                let paths: Vec<&[String]> = s.paths.iter().map(Vec::as_slice).collect();
                if probed[i] || checked[i] { self.facets(&s.kind, &s.model, &paths, &s.shared) } else { Vec::new() }
            })
            .collect();

        let to_probes: Vec<RegoValue> = rules
            .par_iter()
            .zip(&to_facets)
            .map(|(rule, facets)| {
                RegoValue::from(
                    facets
                        .iter()
                        .map(|f| {
                            let probes = index::composite_probe_keys(&rule.key_kinds, &f.values);
                            RegoValue::from(vec![f.component_value(), f.indices_value(), RegoValue::from(probes), f.values[0].clone()])
                        })
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        let from_index: Vec<RegoValue> = sources
            .par_iter()
            .zip(&from_facets)
            .enumerate()
            .map(|(i, (source, facets))| {
                let mut index: std::collections::BTreeMap<RegoValue, Vec<RegoValue>> = Default::default();
                if probed[i] {
                    for f in facets {
                        if let Some(key) = index::composite_index_key(&source.kinds, &f.values) {
                            index.entry(key).or_default().push(RegoValue::from(vec![f.component_value(), f.indices_value()]));
                        }
                    }
                }
                let mut object = RegoValue::new_object();
                if let Ok(map) = object.as_object_mut() {
                    for (key, list) in index {
                        map.insert(key, RegoValue::from(list));
                    }
                }
                object
            })
            .collect();
        let from_checked: Vec<RegoValue> = from_facets
            .iter()
            .enumerate()
            .map(|(i, facets)| {
                let list = if checked[i] {
                    facets.iter().map(|f| RegoValue::from(vec![f.component_value(), f.indices_value(), f.values[0].clone()])).collect()
                } else {
                    Vec::new()
                };
                RegoValue::from(list)
            })
            .collect();

        let sources_of = rules.iter().map(|r| r.source).collect();
        Tables {
            components: RegoValue::from(std::mem::take(&mut self.components)),
            to_probes,
            from_index,
            from_facets: from_checked,
            sources_of,
        }
    }
}

/// The input document's parts. Values are reference-counted, so the
/// input of each shard shares them.
struct Tables {
    components: RegoValue,
    to_probes: Vec<RegoValue>,
    from_index: Vec<RegoValue>,
    from_facets: Vec<RegoValue>,
    sources_of: Vec<usize>,
}

impl Tables {
    /// Keeps only what relationships touching `focus` (by component) can
    /// use: the focus, the candidates a focus facet's keys meet on the
    /// other side of a rule, and, through binding relationships, the ends
    /// the binding components found so meet. Keys decide candidates
    /// exactly (see `index`), so no relationship touching the focus is
    /// lost; the policy only narrows candidates further.
    fn narrow(&mut self, rules: &[Rule], focus: &[bool]) {
        let mut keep = focus.to_vec();
        // Second round: binding halves only, from what the first found.
        for round in 0..2 {
            let seed = keep.clone();
            for (r, rule) in rules.iter().enumerate() {
                if round == 1 && rule.binding.is_none() {
                    continue;
                }
                let Ok(from) = self.from_index[rule.source].as_object() else { continue };
                let Ok(probes) = self.to_probes[r].as_array() else { continue };
                for probe in probes.iter() {
                    let Some(t) = index(&probe[0]) else { continue };
                    let Ok(keys) = probe[2].as_array() else { continue };
                    for key in keys.iter() {
                        let Some(RegoValue::Array(candidates)) = from.get(key) else { continue };
                        for candidate in candidates.iter() {
                            let Some(f) = index(&candidate[0]) else { continue };
                            if seed[t] {
                                keep[f] = true;
                            }
                            if seed[f] {
                                keep[t] = true;
                            }
                        }
                    }
                }
            }
        }
        let kept = |item: &RegoValue| index(&item[0]).is_some_and(|c| keep[c]);
        for probes in &mut self.to_probes {
            if let Ok(items) = probes.as_array() {
                *probes = RegoValue::from(items.iter().filter(|p| kept(p)).cloned().collect::<Vec<_>>());
            }
        }
        for from in &mut self.from_index {
            let Ok(entries) = from.as_object() else { continue };
            let mut narrowed = RegoValue::new_object();
            if let Ok(map) = narrowed.as_object_mut() {
                for (key, list) in entries.iter() {
                    let Ok(items) = list.as_array() else { continue };
                    let items: Vec<RegoValue> = items.iter().filter(|c| kept(c)).cloned().collect();
                    if !items.is_empty() {
                        map.insert(key.clone(), RegoValue::from(items));
                    }
                }
            }
            *from = narrowed;
        }
        for facets in &mut self.from_facets {
            *facets = RegoValue::from(Vec::<RegoValue>::new());
        }
    }

    /// The input for the rules of `shard` (sorted): other rules' tables
    /// are left empty.
    fn input(&self, shard: &[usize]) -> RegoValue {
        let empty = || RegoValue::from(Vec::<RegoValue>::new());
        let in_shard = |r: usize| shard.binary_search(&r).is_ok();
        let used: BTreeSet<usize> = shard.iter().map(|&r| self.sources_of[r]).collect();
        let to_probes: Vec<RegoValue> =
            (0..self.to_probes.len()).map(|r| if in_shard(r) { self.to_probes[r].clone() } else { empty() }).collect();
        let from_index: Vec<RegoValue> = (0..self.from_index.len())
            .map(|s| if used.contains(&s) { self.from_index[s].clone() } else { RegoValue::new_object() })
            .collect();
        let from_facets: Vec<RegoValue> =
            (0..self.from_facets.len()).map(|s| if used.contains(&s) { self.from_facets[s].clone() } else { empty() }).collect();
        let mut input = RegoValue::new_object();
        if let Ok(map) = input.as_object_mut() {
            map.insert(RegoValue::from("components"), self.components.clone());
            map.insert(RegoValue::from("to_probes"), RegoValue::from(to_probes));
            map.insert(RegoValue::from("from_index"), RegoValue::from(from_index));
            map.insert(RegoValue::from("from_facets"), RegoValue::from(from_facets));
        }
        input
    }
}

/// Splits the rules into at most `n` shards of about equal work (the
/// to-side facets they probe with), keeping each check group whole.
fn shards(rules: &[Rule], tables: &Tables, n: usize) -> Vec<Vec<usize>> {
    let mut units: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    for (r, rule) in rules.iter().enumerate() {
        // Both halves of a binding relationship are joined in one shard.
        let key = match (&rule.check, rule.binding) {
            (_, Some((b, _))) => format!("binding:{b}"),
            (Some(c), None) => format!("group:{}", c.group),
            (None, None) => format!("rule:{r}"),
        };
        units.entry(key).or_default().push(r);
    }
    let weight = |r: usize| tables.to_probes[r].as_array().map_or(0, |a| a.len()) + 1;
    let mut units: Vec<(usize, Vec<usize>)> = units.into_values().map(|u| (u.iter().map(|&r| weight(r)).sum(), u)).collect();
    units.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let mut shards: Vec<(usize, Vec<usize>)> = vec![(0, Vec::new()); n.max(1)];
    for (w, unit) in units {
        let lightest = shards.iter_mut().min_by_key(|s| s.0).expect("at least one shard");
        lightest.0 += w;
        lightest.1.extend(unit);
    }
    shards
        .into_iter()
        .filter(|s| !s.1.is_empty())
        .map(|(_, mut rules)| {
            rules.sort_unstable();
            rules
        })
        .collect()
}

/// The key values of one component (or one element of it, when the join
/// path has wildcards).
struct Facet {
    component: usize,
    indices: Vec<usize>,
    values: Vec<RegoValue>,
}

impl Facet {
    fn component_value(&self) -> RegoValue {
        RegoValue::from(self.component as u64)
    }
    fn indices_value(&self) -> RegoValue {
        RegoValue::from(self.indices.iter().map(|&i| RegoValue::from(i as u64)).collect::<Vec<_>>())
    }
}

/// Turns unresolved references into diagnostics at the field that makes
/// the reference.
pub fn diagnostics(inference: &Inference, designs: &[Design], sources: &crate::load::source::Sources) -> Vec<Diagnostic> {
    use crate::diagnostic::Severity;
    let selects_nothing = |u: &&Unresolved| {
        let def = &inference.definitions[inference.rules[u.rule].def];
        def.check.as_ref().is_some_and(|c| c.code == codes::SERVICE_SELECTS_NOTHING.name || c.code == codes::SELECTOR_MATCHES_NOTHING.name)
    };
    let unmatched: Vec<End> = inference.unresolved.iter().filter(selects_nothing).map(|u| u.at).collect();
    let ports::Found { diagnostics: mut out, other_namespace } = ports::check(inference, designs, sources, &unmatched);
    sources.warm(inference.unresolved.iter().filter_map(|u| match u.at {
        End::Component { design, component } => Some(designs[design].components[component].origin.source),
        End::External(_) => None,
    }));
    for unresolved in &inference.unresolved {
        if other_namespace.contains(&unresolved.at) && selects_nothing(&unresolved) {
            continue;
        }
        let End::Component { design, component } = unresolved.at else { continue };
        let rule = &inference.rules[unresolved.rule];
        let def = &inference.definitions[rule.def];
        let (Some(check), Some(rule_check)) = (&def.check, &rule.check) else { continue };
        let (design, component) = (&designs[design], &designs[design].components[component]);
        let path = bind(&rule.refs[rule.join], &rule_check.side, &unresolved.indices);
        let value = read(component, &path);
        let severity = match check.severity.as_deref() {
            Some("warning") => Severity::Warning,
            Some("info") => Severity::Info,
            _ => Severity::Error,
        };
        let shown = match &value {
            Some(Value::String(s)) => format!("`{s}`"),
            Some(Value::Object(map)) => {
                map.iter().map(|(k, v)| format!("{k}={}", v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect::<Vec<_>>().join(",")
            }
            Some(v) => v.to_string(),
            None => "nothing".into(),
        };
        let namespace = component.namespace.as_deref().unwrap_or("default");
        let message = match check.code.as_str() {
            "service-selects-nothing" | "selector-matches-nothing" => {
                format!("selector {shown} matches no {} in namespace `{namespace}`", check.what)
            }
            _ => format!("{} {shown} is not in the repository and not declared external", check.what),
        };
        out.push(
            Diagnostic::dynamic(&check.code, severity, message)
                .at(&design.file, Some(sources.locate_origin(&origin_of(component, &path))))
                .component(component.display()),
        );
    }
    out
}

/// What an unresolved reference names, for pictures of the graph.
pub struct MissingTarget {
    /// The check's code (`missing-reference`, `service-selects-nothing`).
    pub code: String,
    /// The kind the reference names ("ConfigMap").
    pub what: String,
    /// The name written in the reference, when it is a plain name (a
    /// selector names none).
    pub name: Option<String>,
    /// The side of the relationship the referencing component is on.
    pub side: String,
}

/// The target of an unresolved reference made by a component. Only values
/// shaped like object names are passed on, so a picture of the graph can
/// never show anything but kinds and names.
pub fn missing_target(inference: &Inference, designs: &[Design], unresolved: &Unresolved) -> Option<MissingTarget> {
    let End::Component { design, component } = unresolved.at else { return None };
    let rule = &inference.rules[unresolved.rule];
    let def = &inference.definitions[rule.def];
    let (Some(check), Some(rule_check)) = (&def.check, &rule.check) else { return None };
    let path = bind(&rule.refs[rule.join], &rule_check.side, &unresolved.indices);
    let is_name = |s: &str| {
        !s.is_empty() && s.len() <= 253 && s.chars().all(|c| c.is_ascii_alphanumeric() || "-._:".contains(c))
    };
    let name = match read(&designs[design].components[component], &path) {
        Some(Value::String(s)) if is_name(&s) => Some(s),
        _ => None,
    };
    Some(MissingTarget { code: check.code.clone(), what: check.what.clone(), name, side: rule_check.side.clone() })
}

/// The join ref's path on `side` with its wildcards replaced by `indices`.
fn bind(r#ref: &rules::Ref, side: &str, indices: &[usize]) -> Vec<String> {
    let path = if side == "from" { &r#ref.from } else { &r#ref.to };
    let mut next = indices.iter();
    path.iter()
        .map(|segment| match segment.as_str() {
            "_" => next.next().map_or_else(|| "_".to_owned(), usize::to_string),
            _ => segment.clone(),
        })
        .collect()
}

/// The value at a Meshery path of a component, as the policy saw it.
fn read(component: &Component, path: &[String]) -> Option<Value> {
    match path.split_first()? {
        (root, rest) if root == "configuration" => {
            let mut value = &component.configuration;
            for segment in rest {
                value = match value {
                    Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
                    Value::Object(map) => map.get(segment)?,
                    _ => return None,
                };
            }
            Some(value.clone())
        }
        (root, []) if root == "displayName" => Some(Value::String(component.name.clone())),
        (root, []) if root == "namespace" => component.namespace.clone().map(Value::String),
        _ => None,
    }
}

/// Where a Meshery path of a component is written.
pub fn origin_of(component: &Component, path: &[String]) -> crate::design::Origin {
    let escape = |s: &String| s.replace('~', "~0").replace('/', "~1");
    match path.split_first() {
        Some((root, rest)) if root == "configuration" => {
            let suffix: String = rest.iter().map(|s| format!("/{}", escape(s))).collect();
            component.configuration_origin.child(&suffix)
        }
        Some((root, [])) if root == "displayName" => component.name_origin.clone(),
        Some((root, [])) if root == "namespace" && component.namespace.is_some() => component.namespace_origin.clone(),
        _ => component.origin.clone(),
    }
}
