//! Meshery relationship definitions (`relationships.meshery.io/v1alpha3`,
//! `v1beta2`, or an empty schemaVersion as some real files carry), read
//! leniently: both the snake_case and camelCase spellings of every field,
//! `selectors: null`, `deny` as `{}` or with null ends, unknown fields
//! ignored. Classification is by content, never by file name.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq)]
pub struct Definition {
    pub id: String,
    /// Model the definition belongs to: it is in scope when a component of
    /// that model is.
    pub model: String,
    pub kind: String,
    pub r#type: String,
    pub sub_type: String,
    pub status: String,
    pub description: String,
    pub selectors: Vec<SelectorSet>,
    /// weft's extension (`metadata.weftCheck`): a reference that must
    /// resolve, reported when it does not.
    pub check: Option<Check>,
    /// The definition as written, for evaluation responses that embed it.
    pub raw: Value,
    /// File it was read from.
    pub path: String,
}

impl Definition {
    /// `kind-type-subType` in lower case: the key of
    /// `preferences.layers.relationships`.
    pub fn family(&self) -> String {
        format!("{}-{}-{}", self.kind, self.r#type, self.sub_type).to_lowercase()
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SelectorSet {
    pub allow: Selector,
    pub deny: Selector,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selector {
    pub from: Vec<Item>,
    pub to: Vec<Item>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// A kind, or `*` for any.
    pub kind: String,
    /// A model name, or `*` for any.
    pub model: String,
    /// Binding relationships name a third component here.
    pub r#match: Option<Value>,
    /// Strategies per ref index; `None` means `equal` everywhere.
    pub strategies: Option<Vec<Vec<String>>>,
    pub patch_strategy: Option<String>,
    pub mutator_ref: Vec<Vec<String>>,
    pub mutated_ref: Vec<Vec<String>>,
}

impl Item {
    /// The paths this end compares: its mutator refs, else its mutated refs.
    pub fn refs(&self) -> &[Vec<String>] {
        if self.mutator_ref.is_empty() { &self.mutated_ref } else { &self.mutator_ref }
    }
    pub fn is_mutator(&self) -> bool {
        !self.mutator_ref.is_empty()
    }
}

/// A reference that must resolve (weft's `metadata.weftCheck`).
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Check {
    /// Stable diagnostic code, like `missing-reference`.
    pub code: String,
    /// `error` (the default) or `warning`.
    #[serde(default)]
    pub severity: Option<String>,
    /// The side holding the reference: `to` (as the Deployment of
    /// ConfigMap → Deployment) or `from` (a Service's selector).
    pub side: String,
    /// Rules sharing a group resolve the same reference: it dangles only
    /// when none of them matches (a roleRef may name a Role or a
    /// ClusterRole). Default: the code and the referencing path.
    #[serde(default)]
    pub group: Option<String>,
    /// What the reference names, for the message ("ConfigMap").
    pub what: String,
    /// Sibling fields of the referencing field that must have these values
    /// for the reference to count (`kind: ServiceAccount` of a subject).
    #[serde(default)]
    pub when: BTreeMap<String, Value>,
    /// Sibling fields that excuse the reference (`optional: true`).
    #[serde(default)]
    pub unless: BTreeMap<String, Value>,
    /// Values that always resolve (the `default` ServiceAccount).
    #[serde(default)]
    pub ignore: Vec<Value>,
}

/// Reads one definition. `Ok(None)`: the JSON is not a relationship definition.
pub fn parse(value: Value, path: &str) -> Result<Option<Definition>, String> {
    let Some(object) = value.as_object() else { return Ok(None) };
    let schema_version = text(object, &["schemaVersion", "schema_version"]);
    let is_relationship = schema_version.starts_with("relationships.meshery.io/")
        || schema_version.is_empty() && object.contains_key("selectors") && object.contains_key("kind");
    if !is_relationship {
        return Ok(None);
    }
    let kind = text(object, &["kind"]).to_lowercase();
    if !matches!(kind.as_str(), "hierarchical" | "edge" | "sibling") {
        return Err(format!("relationship kind `{kind}` is not hierarchical, edge or sibling"));
    }
    let model = match object.get("model") {
        Some(Value::Object(m)) => text(m, &["name"]),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let metadata = object.get("metadata").and_then(Value::as_object);
    let check = match metadata.and_then(|m| m.get("weftCheck")) {
        None | Some(Value::Null) => None,
        Some(v) => Some(serde_json::from_value(v.clone()).map_err(|e| format!("metadata.weftCheck: {e}"))?),
    };
    let selectors = match object.get("selectors") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(sets)) => sets
            .iter()
            .enumerate()
            .map(|(i, set)| selector_set(set).map_err(|e| format!("selectors[{i}]: {e}")))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("selectors is not a list".into()),
    };
    Ok(Some(Definition {
        id: text(object, &["id"]),
        model,
        kind,
        r#type: text(object, &["type"]),
        sub_type: text(object, &["subType", "sub_type"]),
        status: text(object, &["status"]),
        description: metadata.map(|m| text(m, &["description"])).unwrap_or_default(),
        selectors,
        check,
        path: path.to_owned(),
        raw: value,
    }))
}

fn selector_set(value: &Value) -> Result<SelectorSet, String> {
    let object = value.as_object().ok_or("a selector set is not an object")?;
    Ok(SelectorSet {
        allow: selector(object.get("allow")).map_err(|e| format!("allow: {e}"))?,
        deny: selector(object.get("deny")).map_err(|e| format!("deny: {e}"))?,
    })
}

fn selector(value: Option<&Value>) -> Result<Selector, String> {
    let Some(Value::Object(object)) = value else { return Ok(Selector::default()) };
    let items = |key: &str| -> Result<Vec<Item>, String> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => {
                items.iter().enumerate().map(|(i, v)| item(v).map_err(|e| format!("{key}[{i}]: {e}"))).collect()
            }
            Some(_) => Err(format!("{key} is not a list")),
        }
    };
    Ok(Selector { from: items("from")?, to: items("to")? })
}

fn item(value: &Value) -> Result<Item, String> {
    let object = value.as_object().ok_or("not an object")?;
    let model = match object.get("model") {
        Some(Value::Object(m)) => text(m, &["name"]),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let strategies = match field(object, &["match_strategy_matrix", "matchStrategyMatrix"]) {
        None | Some(Value::Null) => None,
        Some(v) => Some(serde_json::from_value(v.clone()).map_err(|_| "match_strategy_matrix is not a list of lists of strings")?),
    };
    let patch = field(object, &["patch"]).and_then(Value::as_object);
    let refs = |keys: &[&str]| -> Result<Vec<Vec<String>>, String> {
        match patch.and_then(|p| field(p, keys)) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(v) => paths(v).ok_or_else(|| format!("patch.{} is not a list of paths", keys[0])),
        }
    };
    Ok(Item {
        kind: match text(object, &["kind"]) {
            k if k.is_empty() => "*".into(),
            k => k,
        },
        model: if model.is_empty() { "*".into() } else { model },
        r#match: field(object, &["match"]).filter(|m| m.as_object().is_some_and(|m| !m.is_empty())).cloned(),
        strategies,
        patch_strategy: patch.map(|p| text(p, &["patchStrategy", "patch_strategy"])).filter(|s| !s.is_empty()),
        mutator_ref: refs(&["mutatorRef", "mutator_ref"])?,
        mutated_ref: refs(&["mutatedRef", "mutated_ref"])?,
    })
}

/// Paths are lists of segments; numbers are accepted and read as indices.
pub(crate) fn paths(value: &Value) -> Option<Vec<Vec<String>>> {
    value
        .as_array()?
        .iter()
        .map(|path| {
            path.as_array()?
                .iter()
                .map(|segment| match segment {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect()
        })
        .collect()
}

fn field<'a>(object: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| object.get(*k))
}

fn text(object: &Map<String, Value>, keys: &[&str]) -> String {
    field(object, keys).and_then(Value::as_str).unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_casings_and_null_selectors_are_read() {
        let snake = json!({"schemaVersion": "relationships.meshery.io/v1alpha3", "kind": "edge", "type": "non-binding",
            "subType": "reference", "model": {"name": "kubernetes"}, "selectors": [{"allow": {
            "from": [{"kind": "ConfigMap", "model": {"name": "kubernetes"}, "match_strategy_matrix": [["equal"]], "patch": {"mutatorRef": [["displayName"]]}}],
            "to": [{"kind": "Pod", "patch": {"mutatedRef": [["configuration", "spec", "volumes", "_", "configMap", "name"]]}}]},
            "deny": {"from": null, "to": null}}]});
        let camel = json!({"schemaVersion": "relationships.meshery.io/v1beta2", "kind": "edge", "type": "non-binding",
            "subType": "reference", "model": {"name": "kubernetes"}, "selectors": [{"allow": {
            "from": [{"kind": "ConfigMap", "model": {"name": "kubernetes"}, "matchStrategyMatrix": [["equal"]], "patch": {"mutator_ref": [["displayName"]]}}],
            "to": [{"kind": "Pod", "patch": {"mutated_ref": [["configuration", "spec", "volumes", "_", "configMap", "name"]]}}]},
            "deny": {}}]});
        let a = parse(snake, "a").unwrap().unwrap();
        let b = parse(camel, "b").unwrap().unwrap();
        assert_eq!(a.selectors, b.selectors);
        assert_eq!(a.selectors[0].allow.to[0].model, "*");
        assert_eq!(a.family(), "edge-non-binding-reference");

        let empty = json!({"schemaVersion": "relationships.meshery.io/v1alpha3", "kind": "edge", "type": "binding", "subType": "mount", "selectors": null});
        assert!(parse(empty, "c").unwrap().unwrap().selectors.is_empty());
        assert_eq!(parse(json!({"schemaVersion": "components.meshery.io/v1beta1"}), "d").unwrap(), None);
        assert!(parse(json!({"schemaVersion": "relationships.meshery.io/v1alpha3", "kind": "loop"}), "e").is_err());
    }
}
