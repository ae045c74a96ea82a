//! Kubernetes schema dialects (the OpenAPI-derived definitions and the
//! OpenAPI v3 "structural" schemas of CRDs) into plain JSON Schema 2020-12
//! that validates what the API server accepts.
//!
//! What the API server accepts is not what the source schemas say
//! literally, so the conversion encodes these rules:
//! - null is accepted for every field (the server treats it as unset, and
//!   prunes it for CRD fields that are not `nullable`);
//! - int-or-string fields take integers and strings;
//! - an object with declared properties rejects unknown ones (kubectl's
//!   default `--validate=strict`), unless it preserves unknown fields;
//! - `format` is informational (weft does not enforce formats);
//! - OpenAPI 3.0 boolean `exclusiveMaximum`/`exclusiveMinimum` become the
//!   numeric form, `nullable` is folded into `type`.
//!
//! Descriptions, examples, CEL rules and merge hints are dropped to keep
//! definitions small; nothing weft checks depends on them. `default` stays
//! (an annotation to validators): offline plans fill absent fields with it,
//! as the API server defaults custom resources from their CRD's schema.

use serde_json::{Map, Value, json};

pub(crate) const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
pub(crate) const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";

/// Extensions that change what is valid; every other `x-` key is a hint
/// for clients (merge strategies, list types, CEL) and is dropped.
const KEEP_EXTENSIONS: &[&str] =
    &["x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource"];

const ANNOTATIONS: &[&str] = &[
    "description",
    "example",
    "examples",
    "title",
    "externalDocs",
    "nullable",
    "$schema",
    "$comment",
    "deprecated",
    "readOnly",
    "writeOnly",
];

/// Converts one schema. `structural` is true where the schema describes a
/// whole value (root, property, item, map value, definition) and false
/// inside `allOf`/`anyOf`/`oneOf`/`not`, whose branches only add
/// constraints: they must not reject unknown properties or widen types.
pub(crate) fn convert(schema: &Value, structural: bool) -> Value {
    let Value::Object(source) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in source {
        let key = key.as_str();
        if ANNOTATIONS.contains(&key) || (key.starts_with("x-") && !KEEP_EXTENSIONS.contains(&key)) {
            continue;
        }
        let converted = match key {
            "properties" | "patternProperties" | "$defs" | "definitions" => map_schemas(value, true),
            "dependentSchemas" => map_schemas(value, false),
            "additionalProperties" | "unevaluatedProperties" | "additionalItems" => convert(value, true),
            "items" if value.is_array() => {
                // OpenAPI 3.0 tuple form; 2020-12 spells it `prefixItems`.
                out.insert("prefixItems".into(), list_schemas(value, true));
                continue;
            }
            "items" => convert(value, true),
            "prefixItems" => list_schemas(value, true),
            "allOf" | "anyOf" | "oneOf" => list_schemas(value, false),
            "not" | "if" | "then" | "else" | "contains" | "propertyNames" => convert(value, false),
            "exclusiveMaximum" | "exclusiveMinimum" if value.is_boolean() => continue,
            "$ref" => match value.as_str() {
                Some(reference) => Value::String(normalize_ref(reference)),
                None => value.clone(),
            },
            _ => value.clone(),
        };
        out.insert(key.to_owned(), converted);
    }

    for (flag, bound) in [("exclusiveMaximum", "maximum"), ("exclusiveMinimum", "minimum")] {
        if source.get(flag) == Some(&Value::Bool(true))
            && let Some(limit) = out.remove(bound)
        {
            out.insert(flag.into(), limit);
        }
    }

    let int_or_string = source.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
        || source.get("format").and_then(Value::as_str) == Some("int-or-string");
    if int_or_string {
        out.insert("type".into(), json!(["integer", "string"]));
    }
    merge_type_only_junctors(&mut out, int_or_string);
    unwrap_single_ref(&mut out);

    if structural {
        let preserve = source.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
        if source.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true)) {
            add_embedded_resource_fields(&mut out);
        }
        allow_null(&mut out);
        if out.contains_key("properties") && !out.contains_key("additionalProperties") && !preserve {
            out.insert("additionalProperties".into(), Value::Bool(false));
        }
    }
    Value::Object(out)
}

/// OpenAPI 3 wraps references as `allOf: [{$ref}]` to give them siblings;
/// 2020-12 allows siblings of `$ref`, and a plain `$ref` reports errors
/// without the detour.
fn unwrap_single_ref(out: &mut Map<String, Value>) {
    if out.contains_key("$ref") {
        return;
    }
    let reference = match out.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
        Some([Value::Object(only)]) if only.len() == 1 => only.get("$ref").cloned(),
        _ => None,
    };
    if let Some(reference) = reference {
        out.remove("allOf");
        out.insert("$ref".into(), reference);
    }
}

fn map_schemas(value: &Value, structural: bool) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), convert(v, structural))).collect()),
        other => other.clone(),
    }
}

fn list_schemas(value: &Value, structural: bool) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(|v| convert(v, structural)).collect()),
        other => other.clone(),
    }
}

/// Swagger 2 (`#/definitions/`) and OpenAPI 3 (`#/components/schemas/`)
/// references point into `$defs` once a schema is made self-contained.
pub(crate) fn normalize_ref(reference: &str) -> String {
    for prefix in ["#/definitions/", "#/components/schemas/"] {
        if let Some(name) = reference.strip_prefix(prefix) {
            return format!("#/$defs/{name}");
        }
    }
    reference.to_owned()
}

/// `oneOf: [{type: string}, {type: integer}]` (IntOrString, Quantity, and
/// the `anyOf` CRDs pair with `x-kubernetes-int-or-string`) becomes one
/// `type` list. With `oneOf`, a null would match both branches and fail.
fn merge_type_only_junctors(out: &mut Map<String, Value>, int_or_string: bool) {
    for junctor in ["oneOf", "anyOf"] {
        let Some(union) = out.get(junctor).and_then(type_only_union) else { continue };
        if int_or_string {
            out.remove(junctor);
        } else if !out.contains_key("type") {
            out.remove(junctor);
            out.insert("type".into(), Value::Array(union));
        }
    }
}

/// The union of the branch types when every branch is just `{type: ...}`.
fn type_only_union(branches: &Value) -> Option<Vec<Value>> {
    let branches = branches.as_array().filter(|b| !b.is_empty())?;
    let mut union: Vec<Value> = Vec::new();
    for branch in branches {
        let map = branch.as_object().filter(|m| m.len() == 1)?;
        let types = match map.get("type")? {
            Value::String(t) => vec![Value::String(t.clone())],
            Value::Array(ts) => ts.clone(),
            _ => return None,
        };
        for t in types {
            if !union.contains(&t) {
                union.push(t);
            }
        }
    }
    Some(union)
}

fn allow_null(out: &mut Map<String, Value>) {
    match out.get_mut("type") {
        Some(Value::String(t)) if t != "null" => {
            let t = std::mem::take(t);
            out.insert("type".into(), json!([t, "null"]));
        }
        Some(Value::Array(types)) if !types.iter().any(|t| t == "null") => types.push(json!("null")),
        _ => {}
    }
    if let Some(Value::Array(values)) = out.get_mut("enum")
        && !values.contains(&Value::Null)
    {
        values.push(Value::Null);
    }
    // Junctors see the null too, and branches like `{required: [a]}` all
    // match it, which makes `oneOf` fail. Apply them to non-null values only.
    let junctors: Map<String, Value> = ["allOf", "anyOf", "oneOf", "not"]
        .iter()
        .filter_map(|k| out.remove(*k).map(|v| ((*k).to_owned(), v)))
        .collect();
    if !junctors.is_empty() {
        if out.contains_key("if") {
            out.extend(junctors);
        } else {
            out.insert("if".into(), json!({"type": "null"}));
            out.insert("else".into(), Value::Object(junctors));
        }
    }
}

/// An embedded object is a whole Kubernetes object even when its schema
/// lists only some fields: the server always allows its type and metadata.
fn add_embedded_resource_fields(out: &mut Map<String, Value>) {
    let Some(Value::Object(properties)) = out.get_mut("properties") else { return };
    for (name, schema) in [
        ("apiVersion", json!({"type": ["string", "null"]})),
        ("kind", json!({"type": ["string", "null"]})),
        ("metadata", json!({"type": ["object", "null"]})),
    ] {
        properties.entry(name).or_insert(schema);
    }
}

/// The `$ref` targets (names under `#/$defs/`) a schema uses directly.
pub(crate) fn collect_refs(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => collect_refs_in(map, out),
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

pub(crate) fn collect_refs_in(schema: &Map<String, Value>, out: &mut Vec<String>) {
    for (key, value) in schema {
        if key == "$ref" {
            if let Some(name) = value.as_str().and_then(|r| r.strip_prefix("#/$defs/")) {
                out.push(unescape_pointer(name));
            }
        } else if !matches!(key.as_str(), "enum" | "const") {
            collect_refs(value, out);
        }
    }
}

fn unescape_pointer(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// Makes a converted object schema the root of a component schema: drops
/// the fields Meshery leaves out of `configuration` (`apiVersion`, `kind`,
/// `status`) while still accepting them, so both a Meshery configuration
/// and a whole manifest validate, and keeps the descriptions of top-level
/// properties for `weft model show`.
pub(crate) fn finish_root(mut root: Map<String, Value>, source: &Value, gvk: Value, defs: Map<String, Value>) -> Value {
    const OMITTED: [&str; 3] = ["apiVersion", "kind", "status"];
    if let Some(Value::Object(properties)) = root.get_mut("properties") {
        for name in OMITTED {
            properties.remove(name);
        }
        for (name, schema) in properties.iter_mut() {
            let description = source
                .pointer(&format!("/properties/{}", crate::load::yaml::escape_segment(name)))
                .and_then(|p| p.get("description"))
                .filter(|d| d.is_string());
            if let (Some(description), Value::Object(schema)) = (description, schema) {
                schema.insert("description".into(), description.clone());
            }
        }
    }
    if let Some(Value::Array(required)) = root.get_mut("required") {
        required.retain(|r| !r.as_str().is_some_and(|r| OMITTED.contains(&r)));
        if required.is_empty() {
            root.remove("required");
        }
    }
    if root.get("additionalProperties") == Some(&Value::Bool(false)) {
        let patterns = root.entry("patternProperties").or_insert_with(|| json!({}));
        if let Value::Object(patterns) = patterns {
            patterns.insert("^(apiVersion|kind|status)$".into(), Value::Bool(true));
        }
    }
    root.insert("$schema".into(), Value::String(DRAFT.into()));
    if let Some(description) = source.get("description").filter(|d| d.is_string()) {
        root.insert("description".into(), description.clone());
    }
    root.insert("x-kubernetes-group-version-kind".into(), gvk);
    if !defs.is_empty() {
        root.insert("$defs".into(), Value::Object(defs));
    }
    let mut schema = Value::Object(root);
    sort_keys(&mut schema);
    schema
}

/// Sorts object keys recursively, so output does not depend on the key
/// order of the input.
pub(crate) fn sort_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            for (key, mut child) in entries {
                sort_keys(&mut child);
                map.insert(key, child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(schema: &Value, instance: &Value) -> bool {
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(false)
            .build(schema)
            .unwrap()
            .is_valid(instance)
    }

    #[test]
    fn int_or_string_takes_both() {
        for source in [
            json!({"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]}),
            json!({"type": "string", "format": "int-or-string"}),
            json!({"oneOf": [{"type": ["string", "null"]}, {"type": ["integer", "null"]}]}),
        ] {
            let schema = convert(&source, true);
            assert!(validate(&schema, &json!(8080)), "{schema}");
            assert!(validate(&schema, &json!("http")), "{schema}");
            assert!(validate(&schema, &Value::Null), "{schema}");
            assert!(!validate(&schema, &json!(true)), "{schema}");
        }
    }

    #[test]
    fn declared_properties_are_strict_unless_preserved() {
        let strict = convert(&json!({"type": "object", "properties": {"a": {"type": "string"}}}), true);
        assert!(validate(&strict, &json!({"a": "x"})));
        assert!(!validate(&strict, &json!({"a": "x", "b": 1})));
        let open = convert(
            &json!({"type": "object", "properties": {"a": {"type": "string"}}, "x-kubernetes-preserve-unknown-fields": true}),
            true,
        );
        assert!(validate(&open, &json!({"a": "x", "b": 1})));
        assert!(!validate(&open, &json!({"a": 1})));
        let map = convert(&json!({"type": "object", "additionalProperties": {"type": "string"}}), true);
        assert!(validate(&map, &json!({"x": "y"})));
        assert!(!validate(&map, &json!({"x": 1})));
    }

    #[test]
    fn junctor_branches_stay_partial() {
        // Branches name a property without listing the others; making them
        // strict would reject every object.
        let schema = convert(
            &json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                    "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
                    "allOf": [{"properties": {"a": {"enum": ["x"]}}}]}),
            true,
        );
        assert!(validate(&schema, &json!({"a": "x"})));
        assert!(validate(&schema, &json!({"b": "y"})), "a branch naming only `a` must not reject `b`");
        assert!(!validate(&schema, &json!({"a": "x", "b": "y"})));
        assert!(!validate(&schema, &json!({"a": "z"})));
        assert!(validate(&schema, &Value::Null));
    }

    #[test]
    fn embedded_resources_keep_their_type_and_metadata() {
        let schema = convert(
            &json!({"type": "object", "x-kubernetes-embedded-resource": true,
                    "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}),
            true,
        );
        assert!(validate(
            &schema,
            &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"x": 1}})
        ));
        assert!(!validate(&schema, &json!({"kind": "Pod", "status": {}})));
    }

    #[test]
    fn openapi3_ref_wrappers_and_swagger_refs() {
        let schema = convert(&json!({"allOf": [{"$ref": "#/components/schemas/a.B"}], "description": "d"}), true);
        assert_eq!(schema, json!({"$ref": "#/$defs/a.B"}));
        let schema = convert(&json!({"items": {"$ref": "#/definitions/a.C"}, "type": "array"}), true);
        assert_eq!(schema, json!({"items": {"$ref": "#/$defs/a.C"}, "type": ["array", "null"]}));
    }

    #[test]
    fn openapi3_bounds_and_nullable() {
        let schema = convert(&json!({"type": "integer", "maximum": 10, "exclusiveMaximum": true}), true);
        assert!(validate(&schema, &json!(9)));
        assert!(!validate(&schema, &json!(10)));
        let schema = convert(&json!({"type": "string", "enum": ["A", "B"], "nullable": true}), true);
        assert!(validate(&schema, &Value::Null));
        assert!(!validate(&schema, &json!("C")));
    }

    #[test]
    fn drops_annotations_but_not_property_names() {
        let schema = convert(
            &json!({"type": "object", "description": "d", "properties": {"description": {"type": "string", "default": "x"}}}),
            true,
        );
        assert_eq!(schema.get("description"), None);
        assert!(schema.pointer("/properties/description/type").is_some());
        assert_eq!(schema.pointer("/properties/description/default"), Some(&json!("x")), "defaults stay for offline plans");
    }
}
