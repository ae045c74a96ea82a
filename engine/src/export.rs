//! `weft export`: a design written out as Kubernetes manifests, as a
//! Meshery design, or as a Meshery OCI tarball.
//!
//! Manifests follow the rules `render` applies before a plan (Meshery's
//! converter: `metadata.name` from `displayName` unless the configuration
//! names it, namespace `default` for namespaced kinds, annotation and
//! `status: ignored` components skipped), without what only an apply needs:
//! the inventory labels, the hash annotation and `stringData` folding.

use crate::design::{Component, Design};
use crate::model::Registry;
use serde_json::{Value, json};
use std::collections::HashSet;

/// The Kubernetes objects of `designs`, in design order; the first
/// definition of an object wins, as in `render`. CRDs the designs define
/// are registered first, so their custom resources get the right scope.
pub fn manifest_objects(designs: &[Design], registry: &Registry) -> Vec<Value> {
    for component in designs.iter().flat_map(|d| &d.components) {
        if component.kind == "CustomResourceDefinition" {
            // A CRD the registry cannot read leaves its resources namespaced, as `render` does.
            let _ = registry.add_crd(&component.object());
        }
    }
    let mut seen = HashSet::new();
    let mut objects = Vec::new();
    for component in designs.iter().flat_map(|d| &d.components) {
        let Some(object) = manifest_object(component, registry) else { continue };
        let text = |pointer: &str| object.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_owned();
        let group = crate::design::group_of(&text("/apiVersion")).to_owned();
        if seen.insert((group, text("/kind"), text("/metadata/namespace"), text("/metadata/name"))) {
            objects.push(object);
        }
    }
    objects
}

/// One component as the Kubernetes object it stands for, as `render`
/// makes it; `None` for annotations, ignored components and kinds whose
/// apiVersion is unknown.
fn manifest_object(component: &Component, registry: &Registry) -> Option<Value> {
    if component.is_annotation || component.ignored {
        return None;
    }
    // Rendering moves the configuration out of the component; the design
    // being exported stays as it is.
    let mut component = component.clone();
    Some(crate::render::component_object(&mut component, registry)?.object)
}

/// Objects as one multi-document YAML stream.
pub fn yaml_stream(objects: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    for object in objects {
        out.push_str("---\n");
        out.push_str(&to_yaml(object)?);
    }
    Ok(out)
}

/// A value as YAML that reads back as the same value in weft (and in
/// Kubernetes, which resolves YAML 1.1: `yes` and `0644` are not strings
/// there). Should the writer ever leave such a scalar unquoted, the value
/// is written as JSON instead, which every YAML reader takes as written.
pub fn to_yaml(value: &Value) -> Result<String, String> {
    let text = serde_saphyr::to_string(value).map_err(|e| format!("cannot write YAML: {e}"))?;
    let limits = crate::load::yaml::Limits { max_file_size: u64::MAX, ..Default::default() };
    let reads_back = crate::load::yaml::parse_stream("", &text, &limits)
        .ok()
        .is_some_and(|docs| docs.len() == 1 && docs[0].to_json() == *value);
    if reads_back {
        Ok(text)
    } else {
        serde_json::to_string_pretty(value).map(|t| t + "\n").map_err(|e| e.to_string())
    }
}

/// The ArtifactHub package metadata Meshery puts beside `design.yml`:
/// name, version and description from the design and its
/// `metadata.catalog_data` (snake_case or camelCase), the rest as Meshery
/// writes it. `createdAt` is the zero time, as in the image config, so an
/// export depends on the design alone.
pub fn artifacthub_package(design: &Value) -> Value {
    let display_name = design.get("name").and_then(Value::as_str).unwrap_or("design");
    let version = design.get("version").and_then(Value::as_str).unwrap_or("0.0.1");
    let version = version.strip_prefix('v').unwrap_or(version);
    let catalog = design.pointer("/metadata/catalog_data").or_else(|| design.pointer("/metadata/catalogData"));
    let catalog_text = |snake: &str, camel: &str| {
        catalog.and_then(|c| c.get(snake).or_else(|| c.get(camel))).and_then(Value::as_str).filter(|t| !t.trim().is_empty())
    };
    let description = catalog_text("pattern_info", "patternInfo")
        .or_else(|| design.pointer("/metadata/description").and_then(Value::as_str))
        .unwrap_or("A Meshery Design");
    let caveats = catalog_text("pattern_caveats", "patternCaveats").unwrap_or("");
    let version = catalog_text("published_version", "publishedVersion").map_or(version, |v| v.strip_prefix('v').unwrap_or(v));
    json!({
        "version": version,
        "name": crate::render::dns_label(display_name),
        "displayName": display_name,
        "createdAt": "0001-01-01T00:00:00Z",
        "description": description,
        "logoURL": "https://raw.githubusercontent.com/meshery/meshery.io/0b8585231c6e2b3251d38f749259360491c9ee6b/assets/images/brand/meshery-logo.svg",
        "license": "Apache-2.0",
        "homeURL": "https://docs.meshery.io/concepts/logical/designs",
        "links": [{"name": "download"}, {"name": "Meshery Catalog", "url": "https://meshery.io/catalog"}],
        "readme": format!(" \n ##h4 Caveats and Consideration \n{caveats}"),
        "install": "mesheryctl design import -f",
        "provider": {"name": "weft"},
        "screenshots": [{"title": "Meshery Project", "url": "https://raw.githubusercontent.com/meshery/meshery.io/master/assets/images/logos/meshery-gradient.png"}],
    })
}

/// A Meshery OCI design tarball of `design` (`design.yml` and
/// `artifacthub-pkg.yml` in one layer, tagged `<name>:<version>`), as
/// Meshery's `?oci=true` export writes it. The bytes depend only on the
/// design.
pub fn oci(design: &Value) -> Result<Vec<u8>, String> {
    if !design.is_object() {
        return Err("a design must be a mapping".into());
    }
    let package = artifacthub_package(design);
    let design_text = to_yaml(design)?;
    let package_text = to_yaml(&package)?;
    let tag = format!("{}:{}", package["name"].as_str().unwrap_or("design"), package["version"].as_str().unwrap_or("0.0.1"));
    Ok(crate::load::oci::pack(&tag, &[("design.yml", design_text.as_bytes()), ("artifacthub-pkg.yml", package_text.as_bytes())]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_scalars_that_would_change_type_read_back_as_written() {
        let value = json!({"a": "yes", "b": "0644", "c": "null", "d": "1.0", "e": "on", "f": "~", "g": "", "h": 5, "i": "- x", "j": "a: b"});
        let text = to_yaml(&value).unwrap();
        let docs = crate::load::yaml::parse_stream("", &text, &Default::default()).unwrap();
        assert_eq!(docs[0].to_json(), value, "{text}");
    }

    #[test]
    fn package_metadata_comes_from_the_catalog_data() {
        let design = json!({"name": "Web App", "version": "v0.0.3", "metadata": {"catalogData": {"patternInfo": "A web app", "patternCaveats": "none", "publishedVersion": "1.2.0"}}});
        let package = artifacthub_package(&design);
        assert_eq!((package["name"].as_str(), package["version"].as_str(), package["description"].as_str()), (Some("web-app"), Some("1.2.0"), Some("A web app")));
        assert!(package["readme"].as_str().unwrap().ends_with("none"));
        let bare = artifacthub_package(&json!({"name": "x", "version": "v0.0.3"}));
        assert_eq!(bare["version"], "0.0.3");
    }
}
