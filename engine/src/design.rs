//! The plain types the loader produces and every later stage reads.

use crate::load::source::SourceId;
use serde::Serialize;
use std::collections::BTreeMap;

/// The API group of `group/version`; empty for the core group (`v1`).
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// `schemaVersion: designs.meshery.io/v1beta1`
    MesheryV1beta1,
    /// `schemaVersion: designs.meshery.io/v1beta3`
    MesheryV1beta3,
    /// The older `services:` pattern format.
    MesheryServices,
    /// A file of plain Kubernetes objects; each file is one design.
    Manifests,
}

/// Where a value came from: a document of a source file and a JSON pointer
/// into it. `Sources::locate` turns it into a line and column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub source: SourceId,
    pub doc: usize,
    pub pointer: String,
}

impl Origin {
    pub fn child(&self, suffix: &str) -> Origin {
        Origin { source: self.source, doc: self.doc, pointer: format!("{}{}", self.pointer, suffix) }
    }
}

#[derive(Clone, Debug)]
pub struct Design {
    pub file: String,
    pub origin: Origin,
    pub id: Option<String>,
    pub name: String,
    pub format: Format,
    pub components: Vec<Component>,
    pub relationships: Vec<Relationship>,
    /// Relationship families (`kind-type-subtype`, lower case) that
    /// `preferences.layers.relationships` turns off.
    pub disabled_relationships: Vec<String>,
}

impl Design {
    /// Points every origin in the design at source file `id`. Files are
    /// parsed in parallel before they are numbered, so origins are made
    /// with a placeholder and fixed here, in one place for every field.
    pub(crate) fn set_source(&mut self, id: SourceId) {
        self.origin.source = id;
        for c in &mut self.components {
            for origin in [
                &mut c.origin,
                &mut c.configuration_origin,
                &mut c.name_origin,
                &mut c.namespace_origin,
                &mut c.kind_origin,
            ] {
                origin.source = id;
            }
        }
        for r in &mut self.relationships {
            r.origin.source = id;
            for selector in &mut r.selectors {
                for end in selector.from.iter_mut().chain(selector.to.iter_mut()) {
                    end.origin.source = id;
                }
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct Component {
    /// Unique within the design: the design's own id, or for manifests a
    /// UUIDv5 of group, kind, namespace and name (stable across runs).
    pub id: String,
    pub name: String,
    pub kind: String,
    /// `group/version`, or `version` for the core group; empty when the
    /// design does not say (old `services:` designs) and the registry must
    /// resolve it by kind.
    pub api_version: String,
    /// Model named by a Meshery design (`modelReference.name`, else `model.name`).
    pub model: Option<String>,
    pub namespace: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// The resource body without `apiVersion` and `kind`: Meshery's
    /// `configuration`, or the whole object of a manifest.
    pub configuration: serde_json::Value,
    /// A JSON schema a Meshery design carries inline in `component.schema`.
    pub inline_schema: Option<String>,
    /// Meshery annotation components (shapes, comments) are not Kubernetes objects.
    pub is_annotation: bool,
    /// `status: ignored` components are skipped on deploy.
    pub ignored: bool,
    /// The component in its document.
    pub origin: Origin,
    /// Where the component starts, resolved while loading (the tree is at
    /// hand then), so listing components needs no second parse.
    pub span: crate::diagnostic::Span,
    /// `configuration` in its document: schema errors are reported below it.
    pub configuration_origin: Origin,
    /// The field holding the name (`displayName`, `metadata/name`).
    pub name_origin: Origin,
    /// The field holding the namespace (`metadata.namespace`, or a
    /// `services:` entry's own `namespace`).
    pub namespace_origin: Origin,
    /// The field holding the kind (`kind`, `component.kind`, a service's `type`).
    pub kind_origin: Origin,
}

impl Component {
    pub fn group(&self) -> &str {
        group_of(&self.api_version)
    }
    /// The name is a `metadata.generateName` prefix: the server completes
    /// it, so such objects never collide.
    pub fn has_generated_name(&self) -> bool {
        self.name_origin.pointer.ends_with("/generateName")
    }
    /// The Kubernetes object the component stands for: its configuration
    /// with `apiVersion` and `kind`, and `metadata.name` from the
    /// component's name when the configuration has none (Meshery keeps it
    /// in `displayName`).
    pub fn object(&self) -> serde_json::Value {
        use serde_json::Value;
        let mut object = serde_json::Map::new();
        object.insert("apiVersion".into(), Value::String(self.api_version.clone()));
        object.insert("kind".into(), Value::String(self.kind.clone()));
        if let Value::Object(configuration) = &self.configuration {
            object.extend(configuration.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), without_nulls(v))));
        }
        let metadata = object.entry("metadata").or_insert_with(|| Value::Object(Default::default()));
        if let Value::Object(metadata) = metadata
            && !metadata.contains_key("name")
            && !metadata.contains_key("generateName")
        {
            metadata.insert("name".into(), Value::String(self.name.clone()));
        }
        Value::Object(object)
    }
    /// Where a field of `object()` (a path of keys and indices) is written
    /// in the source.
    pub fn field_origin(&self, path: &[String]) -> Origin {
        let escape = |s: &String| s.replace('~', "~0").replace('/', "~1");
        match path {
            [] => self.origin.clone(),
            [first, ..] if first == "apiVersion" || first == "kind" => self.kind_origin.clone(),
            [metadata, field] if metadata == "metadata" && field == "name" => self.name_origin.clone(),
            [metadata, field] if metadata == "metadata" && field == "namespace" && self.namespace.is_some() => {
                self.namespace_origin.clone()
            }
            _ => self.configuration_origin.child(&path.iter().map(|s| format!("/{}", escape(s))).collect::<String>()),
        }
    }
    /// `Kind/namespace/name`, or `Kind/name` when no namespace is set.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{}/{}", self.kind, ns, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

/// `value` without the object fields that are null. Kubernetes reads a
/// null field as an absent one (`ports:` with nothing after it), and Rego
/// policies should not have to guard every iteration against null.
pub fn without_nulls(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(map.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), without_nulls(v))).collect()),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// A relationship declared in a design, bound to component ids.
#[derive(Clone, Debug)]
pub struct Relationship {
    pub id: Option<String>,
    pub kind: String,
    pub r#type: String,
    pub sub_type: String,
    pub status: Option<String>,
    /// Meshery pairs `from` with `to` within each selector, never across.
    pub selectors: Vec<BoundSelector>,
    pub origin: Origin,
}

#[derive(Clone, Debug, Default)]
pub struct BoundSelector {
    pub from: Vec<Endpoint>,
    pub to: Vec<Endpoint>,
}



#[derive(Clone, Debug)]
pub struct Endpoint {
    pub id: String,
    pub kind: Option<String>,
    pub origin: Origin,
}
