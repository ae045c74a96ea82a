//! Relationship inference: which components relate to which, decided by
//! Meshery relationship definitions evaluated in Rego
//! (`policies/relationships/infer.rego`). Rust reads the definitions,
//! scopes them to the models present, flattens them into rules and
//! prepares the components; the policy decides what matches.

pub mod definition;
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
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options { external: &[], time_limit: rego::DEFAULT_TIME_LIMIT }
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
    let mut prepared = Prepared::default();
    for &(d, c) in members {
        let component = &designs[d].components[c];
        if component.is_annotation {
            continue;
        }
        prepared.add_component(component, registry, End::Component { design: d, component: c });
    }
    for (i, object) in options.external.iter().enumerate() {
        prepared.add_external(object, registry, i);
    }

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
        .filter(|def| def.model.is_empty() || prepared.models.contains(&def.model))
        .filter(|def| !disabled.contains(def.family().as_str()))
        .cloned()
        .collect();
    let (rules, _skipped) = rules::flatten(&in_scope);

    let mut engine = rego::engine(options.time_limit);
    let fail = |e: anyhow::Error| {
        let e = RegoError::parse(&e);
        Diagnostic::new(&codes::POLICY_ERROR, format!("relationship inference failed: {}", e.message))
            .at(e.file.unwrap_or_else(|| INFER_POLICY.0.to_owned()), (e.line > 0).then_some(crate::diagnostic::Span { line: e.line, column: e.column, len: 0 }))
    };
    engine.add_policy(INFER_POLICY.0.into(), INFER_POLICY.1.into()).map_err(fail)?;
    let data = json!({"weft": {"rules": rules}});
    engine.add_data(RegoValue::from(data)).map_err(fail)?;
    engine.set_input(prepared.input());
    let result = engine.eval_rule("data.weft.relationships.result".into()).map_err(fail)?;

    let mut relationships = Vec::new();
    let mut seen = BTreeSet::new();
    for pair in set_items(&result["pairs"]) {
        let (Some(r), Some(f), Some(t)) = (index(&pair[0]), index(&pair[1]), index(&pair[2])) else { continue };
        let rule = &rules[r];
        // One relationship per selector set and pair of components, even
        // when several elements make the same reference.
        if !seen.insert((rule.def, rule.set, f, t)) {
            continue;
        }
        relationships.push(Inferred {
            rule: r,
            from: prepared.ends[f],
            to: prepared.ends[t],
            from_indices: indices(&pair[3]),
            to_indices: indices(&pair[4]),
        });
    }
    let mut unresolved = Vec::new();
    let mut seen = BTreeSet::new();
    for item in set_items(&result["unresolved"]) {
        let (Some(r), Some(c)) = (index(&item[0]), index(&item[1])) else { continue };
        let indices = indices(&item[2]);
        let group = rules[r].check.as_ref().map(|c| c.group.clone()).unwrap_or_default();
        if seen.insert((group, c, indices.clone())) {
            unresolved.push(Unresolved { rule: r, at: prepared.ends[c], indices });
        }
    }
    Ok(Inference { definitions: in_scope, rules, relationships, unresolved })
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

/// The input document, built once per evaluation.
#[derive(Default)]
struct Prepared {
    components: Vec<RegoValue>,
    ends: Vec<End>,
    by_kind: HashMap<String, Vec<usize>>,
    models: BTreeSet<String>,
}

impl Prepared {
    fn add_component(&mut self, component: &Component, registry: &Registry, end: End) {
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
            fields.insert(RegoValue::from("configuration"), RegoValue::from(component.configuration.clone()));
        }
        self.push(value, &component.kind, model, end);
    }

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
            self.models.insert(model);
        }
    }

    fn input(&mut self) -> RegoValue {
        let mut by_kind = RegoValue::new_object();
        if let Ok(map) = by_kind.as_object_mut() {
            for (kind, list) in &self.by_kind {
                map.insert(
                    RegoValue::from(kind.as_str()),
                    RegoValue::from(list.iter().map(|&i| RegoValue::from(i as u64)).collect::<Vec<_>>()),
                );
            }
        }
        let all = RegoValue::from((0..self.components.len()).map(|i| RegoValue::from(i as u64)).collect::<Vec<_>>());
        let mut input = RegoValue::new_object();
        if let Ok(map) = input.as_object_mut() {
            map.insert(RegoValue::from("components"), RegoValue::from(std::mem::take(&mut self.components)));
            map.insert(RegoValue::from("by_kind"), by_kind);
            map.insert(RegoValue::from("all"), all);
        }
        input
    }
}

/// Turns unresolved references into diagnostics at the field that makes
/// the reference.
pub fn diagnostics(inference: &Inference, designs: &[Design], sources: &crate::load::source::Sources) -> Vec<Diagnostic> {
    use crate::diagnostic::Severity;
    let mut out = Vec::new();
    for unresolved in &inference.unresolved {
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
