//! The catalog: reusable Meshery designs that carry Meshery's catalog
//! metadata (`metadata.catalog_data`). Entries are listed and shown,
//! instantiated into a user's repository (`use`: new ids, a namespace,
//! `--set` values), and exchanged with Meshery as OCI design tarballs.
//!
//! Designs are handled as JSON trees read with the loader's YAML parser, so
//! fields weft does not know survive an instantiation unchanged.

use crate::load::yaml;
use crate::model::Registry;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use uuid::Uuid;

include!(concat!(env!("OUT_DIR"), "/catalog_entries.rs"));

/// The file of an entry's folder that holds its design.
pub const DESIGN_FILE: &str = "design.yaml";

/// Entries are small; this guards `--catalog` folders and imports.
pub const MAX_DESIGN_SIZE: u64 = 16 << 20;

/// One catalog entry as found: its folder name and its design's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    /// Where the design came from, for messages.
    pub file: String,
    pub text: String,
}

/// The catalog built into weft (`catalog/` of its source tree).
pub fn shipped() -> Vec<Entry> {
    SHIPPED
        .iter()
        .map(|(name, text)| Entry { name: name.to_string(), file: format!("catalog/{name}/{DESIGN_FILE}"), text: text.to_string() })
        .collect()
}

/// The entries of a catalog folder: each subfolder holding a `design.yaml`,
/// sorted by name.
pub fn read_dir(dir: &Path) -> Result<Vec<Entry>, String> {
    let folders = std::fs::read_dir(dir).map_err(|e| format!("cannot read the catalog {}: {e}", dir.display()))?;
    let mut entries = Vec::new();
    for folder in folders.flatten() {
        let path = folder.path().join(DESIGN_FILE);
        if !path.is_file() {
            continue;
        }
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if size > MAX_DESIGN_SIZE {
            return Err(format!("{}: {size} bytes, over the {MAX_DESIGN_SIZE} byte cap", path.display()));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        entries.push(Entry { name: folder.file_name().to_string_lossy().into_owned(), file: path.display().to_string(), text });
    }
    if entries.is_empty() {
        return Err(format!("{} holds no catalog entries (folders with a {DESIGN_FILE})", dir.display()));
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// The entry called `name`.
pub fn find<'a>(entries: &'a [Entry], name: &str) -> Result<&'a Entry, String> {
    entries.iter().find(|e| e.name == name).ok_or_else(|| {
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        format!("no catalog entry `{name}` (entries: {})", names.join(", "))
    })
}

/// Meshery's catalog metadata of a design
/// (`schemas/constructs/v1alpha1/catalog_data.yaml`). Meshery's schemas
/// spell it both in snake_case (`pattern_info`) and in camelCase
/// (`patternInfo`); both are read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CatalogData {
    #[serde(rename = "publishedVersion")]
    pub published_version: String,
    pub class: String,
    pub compatibility: Vec<String>,
    /// `type`: Deployment, Observability, Resiliency, ...
    #[serde(rename = "type")]
    pub kind: String,
    pub pattern_info: String,
    pub pattern_caveats: String,
    #[serde(rename = "snapshotURL", skip_serializing_if = "Vec::is_empty")]
    pub snapshot_url: Vec<String>,
}

impl CatalogData {
    /// Reads a `catalog_data` object. `pattern_info` is required, as in
    /// Meshery's schema; `type` defaults to `Deployment` as there.
    pub fn from_value(data: &Value) -> Result<CatalogData, String> {
        let Some(object) = data.as_object() else {
            return Err("catalog_data is not a map".into());
        };
        let text = |names: &[&str]| -> Result<String, String> {
            match names.iter().find_map(|n| object.get(*n).filter(|v| !v.is_null())) {
                None => Ok(String::new()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(other) => Err(format!("catalog_data.{} is {}, not a string", names[0], type_name(other))),
            }
        };
        let list = |names: &[&str]| -> Result<Vec<String>, String> {
            match names.iter().find_map(|n| object.get(*n).filter(|v| !v.is_null())) {
                None => Ok(Vec::new()),
                Some(Value::String(s)) => Ok(vec![s.clone()]),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|item| item.as_str().map(str::to_owned).ok_or_else(|| format!("catalog_data.{} holds {}, not a string", names[0], type_name(item))))
                    .collect(),
                Some(other) => Err(format!("catalog_data.{} is {}, not a list", names[0], type_name(other))),
            }
        };
        let data = CatalogData {
            published_version: text(&["publishedVersion", "published_version"])?,
            class: text(&["class"])?,
            compatibility: list(&["compatibility"])?,
            kind: text(&["type"])?,
            pattern_info: text(&["pattern_info", "patternInfo"])?,
            pattern_caveats: text(&["pattern_caveats", "patternCaveats"])?,
            snapshot_url: list(&["snapshotURL", "snapshotUrl", "snapshot_url"])?,
        };
        if data.pattern_info.trim().is_empty() {
            return Err("catalog_data has no pattern_info (what the design is for)".into());
        }
        Ok(CatalogData { kind: if data.kind.is_empty() { "Deployment".into() } else { data.kind }, ..data })
    }

    /// The catalog metadata of a design: `metadata.catalog_data` (or
    /// `catalogData`).
    pub fn of_design(design: &Value) -> Result<CatalogData, String> {
        let metadata = &design["metadata"];
        let data = ["catalog_data", "catalogData"].iter().find_map(|n| metadata.get(*n).filter(|v| !v.is_null()));
        CatalogData::from_value(data.ok_or("the design has no metadata.catalog_data")?)
    }

    /// The first sentence of `pattern_info` (up to a colon, where the
    /// details start), on one line, for listings.
    pub fn summary(&self) -> String {
        let text = self.pattern_info.split_whitespace().collect::<Vec<_>>().join(" ");
        let sentence = [". ", ": "].iter().filter_map(|stop| text.find(stop)).min().map_or(text.as_str(), |end| &text[..end]);
        let sentence = sentence.trim_end_matches('.');
        const WIDTH: usize = 90;
        if sentence.chars().count() <= WIDTH {
            sentence.to_owned()
        } else {
            let cut: String = sentence.chars().take(WIDTH - 1).collect();
            format!("{}…", cut.trim_end())
        }
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// An entry's design, read.
#[derive(Clone, Debug)]
pub struct Parsed {
    pub name: String,
    pub design: Value,
    pub catalog: CatalogData,
}

/// Reads an entry's design and its catalog metadata.
pub fn parse(entry: &Entry) -> Result<Parsed, String> {
    let design = parse_design(&entry.file, &entry.text)?;
    let catalog = CatalogData::of_design(&design).map_err(|e| format!("{}: {e}", entry.file))?;
    Ok(Parsed { name: entry.name.clone(), design, catalog })
}

/// One Meshery design (`schemaVersion: designs.meshery.io/...` with a
/// `components` list) from YAML or JSON text.
fn parse_design(file: &str, text: &str) -> Result<Value, String> {
    let documents = yaml::parse_stream(file, text, &yaml::Limits::default()).map_err(|d| {
        let at = d.span.map(|span| format!(":{}:{}", span.line, span.column)).unwrap_or_default();
        format!("{file}{at}: {}", d.message)
    })?;
    let [document] = documents.as_slice() else {
        return Err(format!("{file}: {} YAML documents; a catalog design is one", documents.len()));
    };
    let design = document.to_json();
    let schema = design["schemaVersion"].as_str().unwrap_or_default();
    if !schema.starts_with("designs.meshery.io/") || !design["components"].is_array() {
        return Err(format!("{file}: not a Meshery design (schemaVersion designs.meshery.io/..., with components)"));
    }
    // `use` gives each component an id and a namespace: each must be a map.
    if let Some(bad) = document.get("components").and_then(yaml::Node::as_seq).and_then(|items| items.iter().find(|c| !c.is_map())) {
        return Err(format!("{file}:{}:{}: a component must be a map", bad.span.line, bad.span.column));
    }
    Ok(design)
}

/// What `weft catalog show` lists of each component.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ComponentSummary {
    pub id: String,
    pub kind: String,
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub model: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

pub fn components(design: &Value) -> Vec<ComponentSummary> {
    design["components"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| ComponentSummary {
            id: c["id"].as_str().unwrap_or_default().to_owned(),
            kind: c["component"]["kind"].as_str().unwrap_or_default().to_owned(),
            api_version: c["component"]["version"].as_str().unwrap_or_default().to_owned(),
            model: c["modelReference"]["name"].as_str().or(c["model"]["name"].as_str()).unwrap_or_default().to_owned(),
            name: component_name(c).to_owned(),
            namespace: c["configuration"]["metadata"]["namespace"].as_str().map(str::to_owned),
        })
        .collect()
}

/// A component's object name: `metadata.name`, else its displayName (as
/// the loader reads it).
fn component_name(component: &Value) -> &str {
    component["configuration"]["metadata"]["name"].as_str().or(component["displayName"].as_str()).unwrap_or_default()
}

/// One `--set PATH=VALUE`: `[KIND/]NAME.FIELD[.FIELD...]=VALUE`. NAME is a
/// component's object name, KIND its kind (needed when two components
/// share a name); the fields walk the component's configuration (the
/// object without apiVersion and kind), a number indexing a list; `\.`
/// is a dot inside a name or field (`metadata.labels.app\.kubernetes\.io/name`).
/// VALUE is read as YAML: `3` is a number, `true` a boolean, `"3"` a string.
#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    pub text: String,
    pub kind: Option<String>,
    pub name: String,
    pub path: Vec<String>,
    pub value: Value,
}

impl Assignment {
    /// The assignment as messages show it: where the value goes, not the
    /// value, which may be a password.
    pub fn shown(&self) -> String {
        shown(&self.text)
    }
}

fn shown(text: &str) -> String {
    text.split_once('=').map_or_else(|| text.to_owned(), |(target, _)| format!("{target}=…"))
}

pub fn parse_assignment(text: &str) -> Result<Assignment, String> {
    let shown = shown(text);
    let error = |why: &str| format!("--set {shown}: {why}; write [KIND/]NAME.FIELD[.FIELD...]=VALUE, e.g. Deployment/web.spec.replicas=3");
    let (target, value) = text.split_once('=').ok_or_else(|| error("no `=`"))?;
    let mut segments = split_path(target).into_iter();
    let first = segments.next().unwrap_or_default();
    let path: Vec<String> = segments.collect();
    if path.is_empty() {
        return Err(error("no field after the component"));
    }
    if path.iter().any(String::is_empty) {
        return Err(error("an empty field name"));
    }
    let (kind, name) = match first.split_once('/') {
        Some((kind, name)) => (Some(kind.to_owned()), name.to_owned()),
        None => (None, first),
    };
    if name.is_empty() || kind.as_deref() == Some("") {
        return Err(error("no component name"));
    }
    let documents = yaml::parse_stream("--set", value, &yaml::Limits::default()).map_err(|d| error(&format!("the value is not YAML ({})", d.message)))?;
    let value = match documents.as_slice() {
        [] => Value::Null,
        [document] => document.to_json(),
        _ => return Err(error("the value holds several YAML documents")),
    };
    Ok(Assignment { text: text.to_owned(), kind, name, path, value })
}

/// Splits at dots, `\.` standing for a dot.
fn split_path(text: &str) -> Vec<String> {
    let mut segments = Vec::new();
    let mut segment = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'.') => {
                chars.next();
                segment.push('.');
            }
            '.' => segments.push(std::mem::take(&mut segment)),
            c => segment.push(c),
        }
    }
    segments.push(segment);
    segments
}

/// How an entry becomes part of a user's repository.
#[derive(Clone, Debug, Default)]
pub struct Instantiation {
    /// Every namespaced component moves here; a Namespace component is
    /// renamed to it.
    pub namespace: Option<String>,
    pub sets: Vec<Assignment>,
}

/// Ids of instances are UUIDv5 in this namespace, from the entry, the
/// target namespace and the original id.
fn id_namespace() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, b"https://weft.dev/catalog")
}

fn instance_id(entry: &str, namespace: &str, original: &str) -> String {
    Uuid::new_v5(&id_namespace(), format!("{entry}\n{namespace}\n{original}").as_bytes()).to_string()
}

/// The entry's design made into a new design: new design and component
/// ids (stable for the same entry and namespace, different between
/// namespaces) with every relationship endpoint remapped, the namespace
/// applied, then the `--set` values. `registry` says which kinds are
/// namespaced.
pub fn instantiate(parsed: &Parsed, how: &Instantiation, registry: &Registry) -> Result<Value, String> {
    let mut design = parsed.design.clone();
    if let Some(namespace) = &how.namespace {
        check_namespace_name(namespace)?;
    }
    let target = how.namespace.as_deref().unwrap_or("");
    let entry = parsed.name.as_str();

    // Ids: every component's and relationship's, and the design's.
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let components = design["components"].as_array_mut().ok_or("the design has no components list")?;
    for (index, component) in components.iter_mut().enumerate() {
        if !component.is_object() {
            return Err(format!("component #{index} of the design is {}, not a map", type_name(component)));
        }
        let original = match component["id"].as_str() {
            Some(id) => id.to_owned(),
            None => format!("#{index}"),
        };
        let new = instance_id(entry, target, &original);
        ids.insert(original, new.clone());
        component["id"] = Value::String(new);
    }
    for (index, relationship) in design["relationships"].as_array_mut().into_iter().flatten().enumerate() {
        let original = relationship["id"].as_str().map_or_else(|| format!("relationship #{index}"), str::to_owned);
        let new = instance_id(entry, target, &original);
        ids.insert(original, new.clone());
        if relationship.is_object() {
            relationship["id"] = Value::String(new);
        }
    }
    // Relationship endpoints (selectors' `id`) and anything else outside
    // the configurations that names a component by id.
    if let Some(object) = design.as_object_mut() {
        for (key, value) in object.iter_mut() {
            if key != "components" {
                replace_strings(value, &ids);
            }
        }
    }
    design["id"] = Value::String(instance_id(entry, target, ""));

    // `--set` names components as the entry does (as `weft catalog show`
    // lists them), before the namespace renames a Namespace.
    let targets = how.sets.iter().map(|set| target_of(&design, set)).collect::<Result<Vec<_>, _>>()?;
    if let Some(namespace) = &how.namespace {
        apply_namespace(&mut design, namespace, registry)?;
    }
    for (assignment, index) in how.sets.iter().zip(targets) {
        assign(&mut design["components"][index], assignment)?;
    }
    Ok(design)
}

fn replace_strings(value: &mut Value, map: &BTreeMap<String, String>) {
    match value {
        Value::String(s) => {
            if let Some(new) = map.get(s.as_str()) {
                *s = new.clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| replace_strings(v, map)),
        Value::Object(object) => object.values_mut().for_each(|v| replace_strings(v, map)),
        _ => {}
    }
}

/// A namespace name is a DNS-1123 label.
fn check_namespace_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if valid { Ok(()) } else { Err(format!("--namespace {name}: not a namespace name (lower case letters, digits and `-`, at most 63, starting and ending with a letter or digit)")) }
}

/// Moves every namespaced component to `namespace`, renames the entry's
/// Namespace component, and rewrites every `namespace` field inside the
/// configurations (a RoleBinding's subjects, a route's backendRefs) that
/// names one of the entry's namespaces, so references stay inside the
/// instance.
fn apply_namespace(design: &mut Value, namespace: &str, registry: &Registry) -> Result<(), String> {
    let components = design["components"].as_array_mut().ok_or("the design has no components list")?;
    let mut old: BTreeSet<String> = BTreeSet::new();
    let mut namespace_components = 0;
    for component in components.iter() {
        if component["component"]["kind"] == "Namespace" {
            namespace_components += 1;
            old.insert(component_name(component).to_owned());
        }
        if let Some(ns) = component["configuration"]["metadata"]["namespace"].as_str() {
            old.insert(ns.to_owned());
        }
    }
    if namespace_components > 1 {
        return Err(format!("the design declares {namespace_components} Namespaces; --namespace would make them one"));
    }
    for component in components.iter_mut() {
        let kind = component["component"]["kind"].as_str().unwrap_or_default().to_owned();
        let api_version = component["component"]["version"].as_str().unwrap_or_default().to_owned();
        if !component["configuration"].is_object() {
            component["configuration"] = json!({});
        }
        if kind == "Namespace" {
            component["displayName"] = Value::String(namespace.to_owned());
            if component["configuration"]["metadata"]["name"].is_string() {
                component["configuration"]["metadata"]["name"] = Value::String(namespace.to_owned());
            }
            continue;
        }
        let declared = component["configuration"]["metadata"]["namespace"].is_string();
        let namespaced = registry.lookup(&api_version, &kind).map_or(declared, |def| def.namespaced);
        let configuration = &mut component["configuration"];
        replace_namespaces(configuration, &old, namespace);
        if namespaced {
            if !configuration["metadata"].is_object() {
                configuration["metadata"] = json!({});
            }
            configuration["metadata"]["namespace"] = Value::String(namespace.to_owned());
        }
    }
    Ok(())
}

fn replace_namespaces(value: &mut Value, old: &BTreeSet<String>, new: &str) {
    match value {
        Value::Object(object) => {
            for (key, value) in object.iter_mut() {
                match value {
                    Value::String(s) if key == "namespace" && old.contains(s.as_str()) => *s = new.to_owned(),
                    _ => replace_namespaces(value, old, new),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| replace_namespaces(v, old, new)),
        _ => {}
    }
}

fn label(component: &Value) -> String {
    format!("{}/{}", component["component"]["kind"].as_str().unwrap_or("?"), component_name(component))
}

/// The index of the component a `--set` names.
fn target_of(design: &Value, assignment: &Assignment) -> Result<usize, String> {
    let at = &assignment.shown();
    let components = design["components"].as_array().ok_or("the design has no components list")?;
    let matching: Vec<usize> = components
        .iter()
        .enumerate()
        .filter(|(_, c)| component_name(c) == assignment.name)
        .filter(|(_, c)| assignment.kind.as_deref().is_none_or(|k| c["component"]["kind"].as_str().is_some_and(|kind| kind.eq_ignore_ascii_case(k))))
        .map(|(i, _)| i)
        .collect();
    match matching.as_slice() {
        [index] => Ok(*index),
        [] => {
            let known: Vec<String> = components.iter().map(label).collect();
            let wanted = assignment.kind.as_ref().map_or_else(|| assignment.name.clone(), |k| format!("{k}/{}", assignment.name));
            Err(format!("--set {at}: no component {wanted} (components: {})", known.join(", ")))
        }
        several => {
            let labels: Vec<String> = several.iter().map(|&i| label(&components[i])).collect();
            Err(format!("--set {at}: `{}` names {} components ({}): write KIND/{}.…", assignment.name, several.len(), labels.join(", "), assignment.name))
        }
    }
}

/// Applies one `--set` to its component. Every field before the last must
/// exist; the last may be new in a map (a label, an annotation), since the
/// result is validated against the kind's schema afterwards.
fn assign(component: &mut Value, assignment: &Assignment) -> Result<(), String> {
    let at = &assignment.shown();
    let component_label = label(component);
    if !component["configuration"].is_object() {
        component["configuration"] = json!({});
    }
    let mut current = &mut component["configuration"];
    let (last, walk) = assignment.path.split_last().ok_or_else(|| format!("--set {at}: no field"))?;
    let mut walked: Vec<&str> = Vec::new();
    for segment in walk {
        let here = if walked.is_empty() { "the configuration".to_owned() } else { format!("`{}`", walked.join(".")) };
        current = match current {
            Value::Object(object) => {
                let fields = object.keys().cloned().collect::<Vec<_>>().join(", ");
                object.get_mut(segment.as_str()).ok_or_else(|| format!("--set {at}: {component_label} has no field `{segment}` in {here} (fields: {fields})"))?
            }
            Value::Array(items) => {
                let len = items.len();
                let i = list_index(segment, len).ok_or_else(|| format!("--set {at}: {here} of {component_label} is a list of {len}; `{segment}` is not an index in it"))?;
                &mut items[i]
            }
            other => return Err(format!("--set {at}: {here} of {component_label} is {}, which has no field `{segment}`", type_name(other))),
        };
        walked.push(segment);
    }
    let here = if walked.is_empty() { "the configuration".to_owned() } else { format!("`{}`", walked.join(".")) };
    match current {
        Value::Object(object) => {
            object.insert(last.clone(), assignment.value.clone());
        }
        Value::Array(items) => {
            let len = items.len();
            let i = list_index(last, len).ok_or_else(|| format!("--set {at}: {here} of {component_label} is a list of {len}; `{last}` is not an index in it"))?;
            items[i] = assignment.value.clone();
        }
        other => return Err(format!("--set {at}: {here} of {component_label} is {}, which has no field `{last}`", type_name(other))),
    }
    Ok(())
}

fn list_index(segment: &str, len: usize) -> Option<usize> {
    segment.parse::<usize>().ok().filter(|&i| i < len)
}

/// A design as YAML (`export::to_yaml`: it reads back as the same
/// value), below `header` as comment lines.
pub fn to_yaml(design: &Value, header: &str) -> Result<String, String> {
    let body = crate::export::to_yaml(design)?;
    let mut text = String::new();
    for line in header.lines() {
        text.push_str(if line.is_empty() { "#" } else { "# " });
        text.push_str(line);
        text.push('\n');
    }
    text.push_str(&body);
    Ok(text)
}

/// A Meshery OCI design tarball of an entry: `design.yml` (the entry's
/// text as written, comments kept) and the `artifacthub-pkg.yml` that
/// `weft export --to oci` writes, tagged `NAME:VERSION`.
pub fn export_oci(entry: &Entry) -> Result<Vec<u8>, String> {
    let parsed = parse(entry)?;
    let package = crate::export::artifacthub_package(&parsed.design);
    let package_text = crate::export::to_yaml(&package)?;
    let tag = format!("{}:{}", entry.name, package["version"].as_str().unwrap_or("0.0.1"));
    let files: [(&str, &[u8]); 2] = [("design.yml", entry.text.as_bytes()), ("artifacthub-pkg.yml", package_text.as_bytes())];
    Ok(crate::load::oci::pack(&tag, &files))
}

/// The design of a Meshery OCI tarball (or design archive) as a catalog
/// entry: its name (the design's, made a folder name) and text. A design
/// without catalog metadata (as Meshery exports them: its catalog keeps
/// that beside the design) is given a minimal one, marked `community`,
/// so that it lists.
pub fn import_oci(bytes: &[u8], source: &str) -> Result<Entry, String> {
    let files = crate::load::oci::design_files(bytes, MAX_DESIGN_SIZE).map_err(|why| match why {
        crate::load::oci::NoDesigns::Other(why) | crate::load::oci::NoDesigns::Unreadable(why) => format!("{source}: {why}"),
    })?;
    let [(member, content)] = files.as_slice() else {
        return Err(format!("{source}: {} designs in the archive; import one at a time", files.len()));
    };
    let file = format!("{source}:{member}");
    let text = String::from_utf8(content.clone()).map_err(|_| format!("{file}: not UTF-8 text"))?;
    let mut design = parse_design(&file, &text)?;
    let name = folder_name(design["name"].as_str().unwrap_or_default()).ok_or_else(|| format!("{file}: the design has no name to name the entry after"))?;
    if CatalogData::of_design(&design).is_ok() {
        return Ok(Entry { name, file, text });
    }
    let data = CatalogData {
        class: "community".into(),
        compatibility: vec!["kubernetes".into()],
        kind: "Deployment".into(),
        pattern_info: format!("Imported from {source}."),
        ..CatalogData::default()
    };
    if !design["metadata"].is_object() {
        design["metadata"] = json!({});
    }
    design["metadata"]["catalog_data"] = serde_json::to_value(&data).map_err(|e| e.to_string())?;
    let text = to_yaml(&design, &format!("Imported from {source} by `weft catalog import`.\nEdit metadata.catalog_data: it was not in the archive."))?;
    Ok(Entry { name, file, text })
}

/// A design name as a folder name: lower case letters, digits and `-`.
fn folder_name(name: &str) -> Option<String> {
    let mapped: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let collapsed = mapped.split('-').filter(|s| !s.is_empty()).collect::<Vec<_>>().join("-");
    (!collapsed.is_empty()).then_some(collapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_at_unescaped_dots() {
        assert_eq!(split_path(r"web.metadata.labels.app\.kubernetes\.io/name"), ["web", "metadata", "labels", "app.kubernetes.io/name"]);
        let set = parse_assignment("Deployment/web.spec.replicas=3").unwrap();
        assert_eq!((set.kind.as_deref(), set.name.as_str(), set.path.as_slice(), &set.value), (Some("Deployment"), "web", &["spec".to_owned(), "replicas".to_owned()][..], &json!(3)));
        assert_eq!(parse_assignment("web.spec.x=\"3\"").unwrap().value, json!("3"));
        assert_eq!(parse_assignment("web.spec.x=yes").unwrap().value, json!(true));
        for bad in ["web=3", "web.spec.replicas", "/web.a=1", "web..a=1", "web.a=[1"] {
            assert!(parse_assignment(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn summaries_are_the_first_sentence() {
        let data = CatalogData { pattern_info: "Runs a thing.  It does\nmore.".into(), ..CatalogData::default() };
        assert_eq!(data.summary(), "Runs a thing");
        assert_eq!(folder_name("My Design (v2)").as_deref(), Some("my-design-v2"));
        assert_eq!(folder_name("--"), None);
    }
}
