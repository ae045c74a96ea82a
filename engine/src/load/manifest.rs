//! Plain Kubernetes objects: each becomes a component of the file's design.

use super::yaml::{Node, Value, escape_segment};
use crate::design::{Component, Design, Format, Origin};
use crate::diagnostic::{Diagnostic, codes};
use std::collections::BTreeMap;

/// Namespace of the UUIDv5 ids given to objects, so an object keeps its id
/// across runs, machines and file moves.
const ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x5f1e_7a0c_9d4b_4c1e_8a61_2b7f_0e3d_9c55);

pub fn object_id(group: &str, kind: &str, namespace: Option<&str>, name: &str) -> String {
    let key = format!("{group}/{kind}/{}/{name}", namespace.unwrap_or(""));
    uuid::Uuid::new_v5(&ID_NAMESPACE, key.as_bytes()).to_string()
}

pub struct Collector<'a> {
    display: &'a str,
    components: Vec<Component>,
    first: Option<Origin>,
}

impl<'a> Collector<'a> {
    pub fn new(display: &'a str) -> Self {
        Collector { display, components: Vec::new(), first: None }
    }

    pub fn add(&mut self, doc: &Node, origin: Origin, diagnostics: &mut Vec<Diagnostic>) {
        if self.first.is_none() {
            self.first = Some(origin.clone());
        }
        let kind = doc.get("kind").and_then(Node::as_str).unwrap_or("");
        // `List` and `<Kind>List` wrap objects in `items`; a real kind that
        // happens to end in List would have no `items` sequence.
        if kind.ends_with("List")
            && let Some(items) = doc.get("items").and_then(Node::as_seq) {
                for (i, item) in items.iter().enumerate() {
                    self.object(doc, item, origin.child(&format!("/items/{i}")), diagnostics);
                }
                return;
            }
        self.object(doc, doc, origin, diagnostics);
    }

    fn object(&mut self, doc: &Node, object: &Node, origin: Origin, diagnostics: &mut Vec<Diagnostic>) {
        let at = |pointer: &str| Some(doc.locate(&format!("{}{}", origin.pointer, pointer)));
        let invalid = |message: String, pointer: &str| {
            Diagnostic::new(&codes::INVALID_MANIFEST, message).at(self.display, at(pointer))
        };
        if !object.is_map() {
            diagnostics.push(invalid("a list item is not a Kubernetes object".into(), ""));
            return;
        }
        let Some(api_version) = object.get("apiVersion").and_then(Node::as_str) else {
            diagnostics.push(invalid("object has no apiVersion string".into(), "/apiVersion"));
            return;
        };
        let Some(kind) = object.get("kind").and_then(Node::as_str) else {
            diagnostics.push(invalid("object has no kind string".into(), "/kind"));
            return;
        };
        let metadata = object.get("metadata");
        let name_field = ["name", "generateName"]
            .into_iter()
            .find_map(|field| metadata.and_then(|m| m.get(field)).and_then(Node::as_str).map(|n| (field, n)));
        let Some((name_key, name)) = name_field else {
            diagnostics.push(invalid(format!("{kind} has no metadata.name"), "/metadata"));
            return;
        };
        let namespace = metadata
            .and_then(|m| m.get("namespace"))
            .and_then(Node::as_str)
            .map(str::to_owned);
        let group = crate::design::group_of(api_version);
        let mut configuration = object.to_json();
        if let Some(map) = configuration.as_object_mut() {
            map.shift_remove("apiVersion");
            map.shift_remove("kind");
        }
        self.components.push(Component {
            id: object_id(group, kind, namespace.as_deref(), name),
            name: name.to_owned(),
            kind: kind.to_owned(),
            api_version: api_version.to_owned(),
            model: None,
            labels: labels(metadata),
            namespace,
            configuration,
            inline_schema: None,
            is_annotation: false,
            ignored: false,
            name_origin: origin.child(&format!("/metadata/{}", escape_segment(name_key))),
            namespace_origin: origin.child("/metadata/namespace"),
            kind_origin: origin.child("/kind"),
            configuration_origin: origin.clone(),
            origin,
            span: object.span,
        });
    }

    pub fn finish(self) -> Option<Design> {
        let origin = self.first?;
        if self.components.is_empty() {
            return None;
        }
        let name = std::path::Path::new(self.display)
            .file_stem()
            .map_or_else(|| self.display.to_owned(), |s| s.to_string_lossy().into_owned());
        Some(Design {
            file: self.display.to_owned(),
            origin,
            id: None,
            name,
            format: Format::Manifests,
            components: self.components,
            relationships: Vec::new(),
            disabled_relationships: Vec::new(),
        })
    }
}

pub fn labels(metadata: Option<&Node>) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    if let Some(Value::Map(entries)) = metadata.and_then(|m| m.get("labels")).map(|l| &l.value) {
        for entry in entries {
            if let Some(value) = entry.value.as_str() {
                labels.insert(entry.key.clone(), value.to_owned());
            }
        }
    }
    labels
}
