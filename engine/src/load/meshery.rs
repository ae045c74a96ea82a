//! Meshery designs: `designs.meshery.io/v1beta1` and `v1beta3` (field-
//! identical at the level weft reads) and the older `services:` format.
//! Unknown fields are ignored here and kept in the source, so designs
//! round-trip.

use super::manifest::labels;
use super::yaml::{Node, Value, escape_segment};
use crate::design::{BoundSelector, Component, Design, Endpoint, Format, Origin, Relationship};
use crate::diagnostic::{Diagnostic, codes};

const LEGACY_ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x0b6d_2f5e_71c3_4a8e_9e0f_6a1d_3c2b_7f44);

struct Ctx<'a> {
    display: &'a str,
    doc: &'a Node,
    origin: &'a Origin,
    diagnostics: &'a mut Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn error(&mut self, message: impl Into<String>, pointer: &str) {
        let span = self.doc.locate(pointer);
        self.diagnostics
            .push(Diagnostic::new(&codes::INVALID_DESIGN, message).at(self.display, Some(span)));
    }
}

fn str_at<'n>(node: &'n Node, path: &[&str]) -> Option<&'n str> {
    let mut node = node;
    for key in path {
        node = node.get(key)?;
    }
    node.as_str()
}

pub fn design(
    display: &str,
    doc: &Node,
    origin: Origin,
    format: Format,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Design> {
    let mut ctx = Ctx { display, doc, origin: &origin, diagnostics };
    let name = match doc.get("name").map(|n| &n.value) {
        Some(Value::String(name)) if !name.is_empty() => name.clone(),
        _ => {
            ctx.error("design has no name", "/name");
            return None;
        }
    };
    if doc.get("version").is_none() {
        let span = doc.locate("");
        ctx.diagnostics.push(
            Diagnostic::new(&codes::INVALID_DESIGN, "design has no version; Meshery assumes v0.0.1")
                .severity(crate::diagnostic::Severity::Warning)
                .at(display, Some(span))
                .hint("add `version: v0.0.1`"),
        );
    }
    let components = list(&mut ctx, "components", component);
    let relationships = list(&mut ctx, "relationships", relationship);
    let mut disabled_relationships = Vec::new();
    if let Some(Value::Map(layers)) = doc.get("preferences").and_then(|p| p.get("layers")).and_then(|l| l.get("relationships")).map(|r| &r.value) {
        for entry in layers {
            if matches!(entry.value.value, Value::Bool(false)) {
                disabled_relationships.push(entry.key.to_lowercase());
            }
        }
    }
    Some(Design {
        file: display.to_owned(),
        id: doc.get("id").and_then(Node::as_str).map(str::to_owned),
        name,
        format,
        components,
        relationships,
        disabled_relationships,
        origin,
    })
}

/// Reads each item of the top-level list `key` (absent or null: none).
fn list<T>(ctx: &mut Ctx, key: &str, read: impl Fn(&mut Ctx, &Node, &str) -> Option<T>) -> Vec<T> {
    let doc = ctx.doc;
    match doc.get(key).map(|n| &n.value) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Seq(items)) => {
            items.iter().enumerate().filter_map(|(i, item)| read(ctx, item, &format!("/{key}/{i}"))).collect()
        }
        Some(_) => {
            ctx.error(format!("`{key}` must be a list"), &format!("/{key}"));
            Vec::new()
        }
    }
}

fn component(ctx: &mut Ctx, node: &Node, pointer: &str) -> Option<Component> {
    if !node.is_map() {
        ctx.error("a component must be a mapping", pointer);
        return None;
    }
    let configuration_node = node.get("configuration").filter(|c| !c.is_null());
    // Old meshkit fixtures put apiVersion and kind in the configuration
    // instead of `component`; accept both, `component` first.
    let kind = str_at(node, &["component", "kind"])
        .or_else(|| configuration_node.and_then(|c| c.get("kind")).and_then(Node::as_str));
    let Some(kind) = kind.filter(|k| !k.is_empty()) else {
        ctx.error("component has no kind (component.kind)", &format!("{pointer}/component"));
        return None;
    };
    let api_version = str_at(node, &["component", "version"])
        .or_else(|| configuration_node.and_then(|c| c.get("apiVersion")).and_then(Node::as_str))
        .unwrap_or("");
    let Some(id) = node.get("id").and_then(Node::as_str).filter(|s| !s.is_empty()) else {
        ctx.error(format!("{kind} component has no id"), &format!("{pointer}/id"));
        return None;
    };
    let Some(name) = node.get("displayName").and_then(Node::as_str) else {
        ctx.error(format!("{kind} component {id} has no displayName"), &format!("{pointer}/displayName"));
        return None;
    };
    let metadata = configuration_node.and_then(|c| c.get("metadata"));
    let namespace = metadata.and_then(|m| m.get("namespace")).and_then(Node::as_str).map(str::to_owned);
    let model = str_at(node, &["modelReference", "name"])
        .or_else(|| str_at(node, &["model", "name"]))
        .map(str::to_owned);
    let mut configuration = configuration_node.map_or(serde_json::Value::Object(Default::default()), Node::to_json);
    if let Some(map) = configuration.as_object_mut() {
        map.shift_remove("apiVersion");
        map.shift_remove("kind");
    }
    let origin = ctx.origin.child(pointer);
    Some(Component {
        id: id.to_owned(),
        name: name.to_owned(),
        kind: kind.to_owned(),
        api_version: api_version.to_owned(),
        model,
        namespace,
        labels: labels(metadata),
        configuration,
        inline_schema: str_at(node, &["component", "schema"]).filter(|s| !s.trim().is_empty()).map(str::to_owned),
        is_annotation: node.get("metadata").and_then(|m| m.get("isAnnotation")).map(|n| &n.value)
            == Some(&Value::Bool(true)),
        ignored: node.get("status").and_then(Node::as_str) == Some("ignored"),
        configuration_origin: origin.child("/configuration"),
        name_origin: origin.child("/displayName"),
        namespace_origin: origin.child("/configuration/metadata/namespace"),
        kind_origin: origin.child(if str_at(node, &["component", "kind"]).is_some() {
            "/component/kind"
        } else {
            "/configuration/kind"
        }),
        origin,
        span: node.span,
    })
}

fn relationship(ctx: &mut Ctx, node: &Node, pointer: &str) -> Option<Relationship> {
    if !node.is_map() {
        ctx.error("a relationship must be a mapping", pointer);
        return None;
    }
    let text = |key: &str| node.get(key).and_then(Node::as_str).unwrap_or("").to_owned();
    let mut bound = Vec::new();
    if let Some(selectors) = node.get("selectors").and_then(Node::as_seq) {
        for (s, selector) in selectors.iter().enumerate() {
            let mut sides = BoundSelector::default();
            for (side, ends) in [("from", &mut sides.from), ("to", &mut sides.to)] {
                let items = selector.get("allow").and_then(|a| a.get(side)).and_then(Node::as_seq);
                for (i, item) in items.unwrap_or_default().iter().enumerate() {
                    // Definitions (not yet bound to components) carry a null id.
                    if let Some(id) = item.get("id").and_then(Node::as_str).filter(|id| !id.is_empty()) {
                        ends.push(Endpoint {
                            id: id.to_owned(),
                            kind: item.get("kind").and_then(Node::as_str).map(str::to_owned),
                            origin: ctx.origin.child(&format!("{pointer}/selectors/{s}/allow/{side}/{i}/id")),
                        });
                    }
                }
            }
            bound.push(sides);
        }
    }
    Some(Relationship {
        id: node.get("id").and_then(Node::as_str).map(str::to_owned),
        kind: text("kind"),
        r#type: text("type"),
        sub_type: text("subType"),
        status: node.get("status").and_then(Node::as_str).map(str::to_owned),
        selectors: bound,
        origin: ctx.origin.child(pointer),
    })
}

/// The older `services:` pattern format, converted as Meshery's
/// `ConvertFrom` does, with one deliberate difference: Meshery replaces
/// `settings.metadata` by the service's labels, annotations and namespace,
/// losing `settings.metadata.name`; weft keeps the name (and the rest of
/// `settings.metadata`), with the service-level fields taking precedence.
pub fn services_design(display: &str, doc: &Node, origin: Origin, diagnostics: &mut Vec<Diagnostic>) -> Option<Design> {
    let mut ctx = Ctx { display, doc, origin: &origin, diagnostics };
    let name = doc.get("name").and_then(Node::as_str).unwrap_or("").to_owned();
    // The loader only calls this for a document whose `services` is a mapping.
    let Some(Value::Map(services)) = doc.get("services").map(|s| &s.value) else {
        return None;
    };
    let mut components = Vec::new();
    for entry in services {
        let pointer = format!("/services/{}", escape_segment(&entry.key));
        let service = &entry.value;
        if !service.is_map() {
            ctx.error(format!("service `{}` must be a mapping", entry.key), &pointer);
            continue;
        }
        let Some(service_type) = service.get("type").and_then(Node::as_str) else {
            ctx.error(format!("service `{}` has no type", entry.key), &format!("{pointer}/type"));
            continue;
        };
        let kind = service_type.strip_suffix(".K8s").unwrap_or(service_type);
        let settings = service.get("settings").filter(|s| s.is_map());
        let settings_name = settings
            .and_then(|s| s.get("metadata"))
            .and_then(|m| m.get("name"))
            .and_then(Node::as_str);
        let component_name = service
            .get("name")
            .and_then(Node::as_str)
            .or(settings_name)
            .unwrap_or(&entry.key)
            .to_owned();
        let namespace = service.get("namespace").and_then(Node::as_str).map(str::to_owned);

        let mut configuration = settings.map_or(serde_json::Value::Object(Default::default()), Node::to_json);
        let mut metadata = configuration
            .get("metadata")
            .and_then(|m| m.as_object())
            .cloned()
            .unwrap_or_default();
        for (key, value) in [("labels", service.get("labels")), ("annotations", service.get("annotations"))] {
            if let Some(value) = value.filter(|v| v.is_map()) {
                metadata.insert(key.into(), value.to_json());
            }
        }
        if let Some(ns) = &namespace {
            metadata.insert("namespace".into(), ns.clone().into());
        }
        if let Some(map) = configuration.as_object_mut() {
            map.insert("metadata".into(), serde_json::Value::Object(metadata));
        }
        let labels = configuration
            .pointer("/metadata/labels")
            .and_then(|l| l.as_object())
            .map(|l| {
                l.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        let id = service
            .get("traits")
            .and_then(|t| t.get("meshmap"))
            .and_then(|m| m.get("id"))
            .and_then(Node::as_str)
            .or_else(|| service.get("id").and_then(Node::as_str))
            .map(str::to_owned)
            .unwrap_or_else(|| {
                // Meshery picks a random id; a derived one keeps runs stable.
                uuid::Uuid::new_v5(&LEGACY_ID_NAMESPACE, format!("{name}/{}", entry.key).as_bytes()).to_string()
            });
        let component_origin = origin.child(&pointer);
        let name_pointer = match (service.get("name"), settings_name) {
            (Some(_), _) => "/name",
            (None, Some(_)) => "/settings/metadata/name",
            (None, None) => "",
        };
        components.push(Component {
            id,
            name: component_name,
            kind: kind.to_owned(),
            api_version: service.get("apiVersion").and_then(Node::as_str).unwrap_or("").to_owned(),
            model: service.get("model").and_then(Node::as_str).map(str::to_owned),
            namespace,
            labels,
            configuration,
            inline_schema: None,
            is_annotation: service.get("isAnnotation").map(|n| &n.value) == Some(&Value::Bool(true)),
            ignored: false,
            configuration_origin: component_origin.child("/settings"),
            name_origin: component_origin.child(name_pointer),
            namespace_origin: component_origin.child("/namespace"),
            kind_origin: component_origin.child("/type"),
            origin: component_origin,
            span: entry.key_span,
        });
    }
    Some(Design {
        file: display.to_owned(),
        id: doc.get("patternID").or_else(|| doc.get("id")).and_then(Node::as_str).map(str::to_owned),
        name,
        format: Format::MesheryServices,
        components,
        relationships: Vec::new(),
        disabled_relationships: Vec::new(),
        origin,
    })
}
