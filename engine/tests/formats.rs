//! Every input format weft reads, through the library and the CLI.

mod common;

use common::*;
use std::path::PathBuf;
use weft::design::Format;
use weft::graph::Graph;
use weft::load::{self, Repo};
use weft::progress::Progress;

fn load_paths(paths: &[PathBuf]) -> Repo {
    load::load(paths, &load::Options::default(), &Progress::hidden()).expect("loads")
}

fn graph_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["graph", "--format", "json"];
    all.extend_from_slice(args);
    let output = weft(&all, &fixtures());
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
    })
}

#[test]
fn meshery_v1beta1_yaml_design() {
    let repo = load_paths(&[fixtures().join("meshery/meshkit-valid_design.yml")]);
    assert!(repo.diagnostics.is_empty(), "{:?}", repo.diagnostics);
    let design = &repo.designs[0];
    assert_eq!(design.format, Format::MesheryV1beta1);
    assert_eq!(design.name, "Valid Design");
    let kinds: Vec<_> = design.components.iter().map(|c| (c.kind.as_str(), c.api_version.as_str())).collect();
    assert!(kinds.contains(&("ConfigMap", "v1")), "{kinds:?}");
    let config_map = design.components.iter().find(|c| c.kind == "ConfigMap").unwrap();
    assert_eq!(config_map.name, "config-map-jp");
    assert_eq!(config_map.namespace.as_deref(), Some("default"));
    assert_eq!(config_map.model.as_deref(), Some("kubernetes"));
}

#[test]
fn meshery_v1beta3_design_with_annotations_and_relationships() {
    let repo = load_paths(&[fixtures().join("formats/design-v1beta3.yaml")]);
    let design = &repo.designs[0];
    assert_eq!(design.format, Format::MesheryV1beta3);
    assert_eq!(design.components.len(), 3);
    assert!(design.components[2].is_annotation);
    assert_eq!(design.components[2].configuration, serde_json::json!({}), "null configuration reads as empty");
    assert_eq!(design.components[0].labels.get("app").map(String::as_str), Some("queue"));
    let graph = graph_json(&["formats/design-v1beta3.yaml"]);
    assert_eq!(
        graph["edges"],
        serde_json::json!([{
            "from": "a1b2c3d4-0001-4000-8000-000000000002",
            "to": "a1b2c3d4-0001-4000-8000-000000000001",
            "kind": "edge", "type": "non-binding", "subType": "network", "inferred": false
        }])
    );
}

#[test]
fn json_design_keeps_unknown_fields() {
    let repo = load_paths(&[fixtures().join("formats/design.json")]);
    assert!(repo.diagnostics.is_empty(), "{:?}", repo.diagnostics);
    let component = &repo.designs[0].components[0];
    assert_eq!(component.configuration["data"]["mode"], "strict");
    // The loader reads what it needs; the file itself is untouched, so the
    // unknown field survives any round trip through the source text.
    let text = &repo.sources.get(0).text;
    assert!(text.contains("unknownField"));
    let (status, report) = validate_json(&["formats/design.json"], &fixtures());
    assert_eq!(status, 0, "{report}");
}

#[test]
fn real_meshery_json_fixture_with_relationships() {
    let graph = graph_json(&["meshery/meshery-ui-fixture-service-deployment-edge-non-binding-network.json"]);
    assert_eq!(graph["nodes"].as_array().unwrap().len(), 4);
    let edges = graph["edges"].as_array().unwrap();
    assert!(
        edges.iter().any(|e| e["kind"] == "edge" && e["type"] == "non-binding" && e["subType"] == "network"),
        "{graph}"
    );
}

#[test]
fn services_format_is_converted_and_keeps_settings_name() {
    let repo = load_paths(&[fixtures().join("formats/services-with-name.yaml")]);
    assert!(repo.diagnostics.is_empty(), "{:?}", repo.diagnostics);
    let design = &repo.designs[0];
    assert_eq!(design.format, Format::MesheryServices);
    let web = &design.components[0];
    assert_eq!(web.kind, "Deployment", "`.K8s` suffix is dropped");
    assert_eq!(web.id, "c0ffee00-0000-4000-8000-000000000001", "id from traits.meshmap.id");
    assert_eq!(web.name, "web");
    assert_eq!(web.namespace.as_deref(), Some("legacy"));
    let metadata = &web.configuration["metadata"];
    // Meshery's ConvertFrom replaces settings.metadata and loses this name.
    assert_eq!(metadata["name"], "web-from-settings");
    assert_eq!(metadata["namespace"], "legacy");
    assert_eq!(metadata["labels"]["app"], "web");
    assert_eq!(metadata["annotations"]["team"], "storefront");
    let service = &design.components[1];
    assert_eq!(service.api_version, "", "no apiVersion: the registry resolves the kind");
    // Ids without traits are derived, so runs agree.
    let again = load_paths(&[fixtures().join("formats/services-with-name.yaml")]);
    assert_eq!(again.designs[0].components[1].id, service.id);
}

#[test]
fn real_services_format_designs() {
    let repo = load_paths(&[fixtures().join("meshery/emojivoto-services-format.yaml")]);
    let design = &repo.designs[0];
    assert_eq!(design.components.len(), 10);
    assert!(design.components.iter().all(|c| !c.kind.ends_with(".K8s")));
}

#[test]
fn manifests_expand_lists_with_stable_ids() {
    let repo = load_paths(&[fixtures().join("formats/list.yaml")]);
    let design = &repo.designs[0];
    assert_eq!(design.format, Format::Manifests);
    let names: Vec<_> = design.components.iter().map(|c| c.display()).collect();
    assert_eq!(names, ["ConfigMap/lists/first", "Secret/lists/second", "ConfigMap/lists/third"]);
    assert_eq!(design.components[1].configuration_origin.pointer, "/items/1");
    // UUIDv5 of group/kind/namespace/name: the same on every machine.
    assert_eq!(design.components[0].id, weft::load::object_id("", "ConfigMap", Some("lists"), "first"));
    let graph = graph_json(&["formats/list.yaml"]);
    assert_eq!(graph["nodes"][0]["id"], design.components[0].id.as_str());
    assert_eq!(graph["nodes"][1]["line"], 10, "{graph}");
}

#[test]
fn oci_design_tarball() {
    let repo = load_paths(&[fixtures().join("meshery/meshkit-valid-design-oci.tar")]);
    assert!(repo.diagnostics.is_empty(), "{:?}", repo.diagnostics);
    assert_eq!(repo.designs.len(), 1);
    assert!(repo.designs[0].file.ends_with("meshkit-valid-design-oci.tar:design.yml"));
    assert_eq!(repo.designs[0].name, "my design");
}

#[test]
fn corrupt_tarball_is_a_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.tar"), b"this is not a tar archive at all, just text padding it out").unwrap();
    let (status, report) = validate_json(&["broken.tar"], dir.path());
    assert_eq!(status, 1);
    assert_eq!(with_code(&report, "unreadable").len(), 1, "{report}");
}

#[test]
fn weft_yaml_paths_and_ignores() {
    let root = fixtures().join("repo-config");
    let (status, report) = validate_json(&["--verbose", "."], &root);
    assert_eq!(status, 0, "{report}");
    let files: Vec<_> = report["designs"].as_array().unwrap().iter().map(|d| d["file"].as_str().unwrap()).collect();
    assert_eq!(files, ["designs/app.yaml", "drafts/ready.yaml"], "other/ is outside paths, wip-* ignored");
    let skipped: Vec<_> = with_code(&report, "skipped-file").iter().map(|d| (d.0, d.3)).collect();
    assert_eq!(
        skipped,
        [("designs/kustomization.yaml", "info"), ("designs/values.yaml", "info")],
        "a Kustomization configures a tool and values.yaml is no object: {report}"
    );
    let (_, quiet) = validate_json(&["."], &root);
    assert!(with_code(&quiet, "skipped-file").is_empty(), "info only with --verbose");
}

#[test]
fn invalid_weft_yaml_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("weft.yaml"), "paths: [a]\nunknownSetting: 1\n").unwrap();
    std::fs::create_dir(dir.path().join("a")).unwrap();
    let (status, report) = validate_json(&["."], dir.path());
    assert_eq!(status, 1);
    let found = with_code(&report, "config");
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!((found[0].0, found[0].1), ("weft.yaml", 2));
}

#[test]
fn graph_lookups_and_order() {
    let repo = load_paths(&[fixtures().join("formats/design-v1beta3.yaml")]);
    let (graph, diagnostics) = Graph::build(&repo.designs, &repo.sources);
    assert!(diagnostics.is_empty());
    let service = graph.by_id(0, "a1b2c3d4-0001-4000-8000-000000000002").unwrap();
    let key = weft::graph::ObjectKey::of(graph.component(&repo.designs, service));
    assert_eq!(graph.by_key(&key), Some(service));
    let order = graph.topological_order().unwrap();
    let position = |id: &str| order.iter().position(|&n| graph.component(&repo.designs, n).id == id).unwrap();
    assert!(
        position("a1b2c3d4-0001-4000-8000-000000000002") < position("a1b2c3d4-0001-4000-8000-000000000001"),
        "edge relationships order from before to"
    );
}

#[test]
fn cycles_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let rel = |id: &str, from: &str, to: &str| {
        format!(
            "  - id: {id}\n    kind: edge\n    type: non-binding\n    subType: network\n    selectors:\n      - allow:\n          from: [{{id: {from}}}]\n          to: [{{id: {to}}}]\n"
        )
    };
    let comp = |id: &str, name: &str| {
        format!("  - id: {id}\n    displayName: {name}\n    component: {{kind: ConfigMap, version: v1}}\n    modelReference: {{name: kubernetes}}\n    configuration: {{metadata: {{namespace: c}}}}\n")
    };
    let text = format!(
        "name: cyclic\nschemaVersion: designs.meshery.io/v1beta1\nversion: v0.0.1\ncomponents:\n{}{}relationships:\n{}{}",
        comp("c-1", "one"),
        comp("c-2", "two"),
        rel("r-1", "c-1", "c-2"),
        rel("r-2", "c-2", "c-1")
    );
    std::fs::write(dir.path().join("cyclic.yaml"), text).unwrap();
    let repo = load_paths(&[dir.path().join("cyclic.yaml")]);
    let (graph, _) = Graph::build(&repo.designs, &repo.sources);
    assert_eq!(graph.topological_order().unwrap_err().len(), 2);
    let (_, report) = validate_json(&["cyclic.yaml"], dir.path());
    let found = with_code(&report, "cycle");
    assert_eq!(found.len(), 1, "{report}");
    assert!(found[0].4.contains("ConfigMap/c/one") && found[0].4.contains("ConfigMap/c/two"));
}

#[test]
fn graph_formats() {
    let dot = weft(&["graph", "--format", "dot", "formats/design-v1beta3.yaml"], &fixtures());
    let dot = String::from_utf8(dot.stdout).unwrap();
    assert!(dot.starts_with("digraph weft {"));
    assert!(dot.contains("n1 -> n0 [label=\"edge/non-binding/network\"];"), "{dot}");
    assert!(dot.contains("n1 [label=\"Service\\njobs/queue\", tooltip=\"a1b2c3d4-0001-4000-8000-000000000002\"];"), "{dot}");
    let mermaid = weft(&["graph", "--format", "mermaid", "formats/design-v1beta3.yaml"], &fixtures());
    let mermaid = String::from_utf8(mermaid.stdout).unwrap();
    assert!(mermaid.starts_with("flowchart LR\n"));
    assert!(mermaid.contains("n1 -->|\"edge/non-binding/network\"| n0"), "{mermaid}");
    assert!(mermaid.contains("n0[\"StatefulSet<br/>jobs/queue\"]"), "{mermaid}");
}

#[test]
fn helm_charts_and_compose_files_are_skipped_not_misread() {
    let (status, report) = validate_json(&["--verbose", "not-designs"], &fixtures());
    assert_eq!(status, 0, "neither is an error: {report}");
    assert!(report["designs"].as_array().unwrap().is_empty(), "{report}");
    let skipped: Vec<_> = with_code(&report, "skipped-file").iter().map(|d| (d.0, d.4)).collect();
    assert_eq!(skipped.len(), 2, "{report}");
    assert_eq!(skipped[0].0, "not-designs/valid-docker-compose.yml", "Compose `services:` are not Meshery services");
    assert!(skipped[1].1.contains("Helm chart") && skipped[1].1.contains("helm template"), "{}", skipped[1].1);
}

#[test]
fn relationships_pair_within_selectors_once() {
    let dir = tempfile::tempdir().unwrap();
    let comp = |id: &str| {
        format!("  - id: {id}\n    displayName: {id}\n    component: {{kind: ConfigMap, version: v1}}\n    configuration: {{metadata: {{namespace: p}}}}\n")
    };
    let repeated = vec!["{id: a}"; 3000].join(", ");
    let text = format!(
        "name: pairs\nschemaVersion: designs.meshery.io/v1beta1\nversion: v0.0.1\ncomponents:\n{}{}{}{}relationships:\n\
         - id: r1\n  kind: edge\n  type: non-binding\n  subType: network\n  selectors:\n\
         \x20   - allow: {{from: [{{id: a}}], to: [{{id: b}}]}}\n\
         \x20   - allow: {{from: [{{id: c}}], to: [{{id: d}}]}}\n\
         - id: r2\n  kind: edge\n  type: non-binding\n  subType: network\n  selectors:\n\
         \x20   - allow: {{from: [{repeated}], to: [{repeated}, {{id: gone}}, {{id: gone}}]}}\n",
        comp("a"),
        comp("b"),
        comp("c"),
        comp("d")
    );
    std::fs::write(dir.path().join("pairs.yaml"), text).unwrap();
    let repo = load_paths(&[dir.path().join("pairs.yaml")]);
    let (graph, diagnostics) = Graph::build(&repo.designs, &repo.sources);
    let edges: Vec<_> = graph
        .edges()
        .map(|(a, b, _)| (graph.component(&repo.designs, a).id.clone(), graph.component(&repo.designs, b).id.clone()))
        .collect();
    let expected: Vec<(String, String)> =
        [("a", "b"), ("c", "d"), ("a", "a")].iter().map(|(x, y)| (x.to_string(), y.to_string())).collect();
    assert_eq!(edges, expected, "never a→d across selectors; 3000×3000 repeats make one edge");
    let dangling: Vec<_> = diagnostics.iter().filter(|d| d.code == "dangling-relationship").collect();
    assert_eq!(dangling.len(), 1, "a missing id is reported once: {diagnostics:?}");
}

#[test]
fn services_format_diagnostics_point_at_the_service_fields() {
    let (status, report) = validate_json(&["meshery-legacy/BookInfoForCatalogIstio-services-format.yaml"], &fixtures());
    assert_eq!(status, 1);
    let at = |code: &str| -> Vec<(u64, u64)> { with_code(&report, code).iter().map(|d| (d.1, d.2)).collect() };
    assert_eq!(at("invalid-name"), [(4, 5)], "the service's `name:`: {report}");
    assert_eq!(at("namespace-on-cluster-scoped"), [(6, 5)], "the service's `namespace:`: {report}");
    assert_eq!(at("unknown-kind"), [(21, 5)], "the `type:` of IstioMesh: {report}");
}

#[test]
fn inline_component_schemas_validate_unknown_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let schema = r#"{\"type\": \"object\", \"properties\": {\"spec\": {\"type\": \"object\", \"required\": [\"size\"], \"properties\": {\"size\": {\"type\": \"integer\"}, \"code\": {\"type\": \"string\", \"pattern\": \"^[a-z]+$\"}}}}}"#;
    let comp = |id: &str, spec: &str| {
        format!("  - id: {id}\n    displayName: {id}\n    component: {{kind: Gizmo, version: gizmos.example.com/v1, schema: \"{schema}\"}}\n    configuration: {{metadata: {{namespace: g}}, spec: {spec}}}\n")
    };
    let text = format!(
        "name: inline\nschemaVersion: designs.meshery.io/v1beta1\nversion: v0.0.1\ncomponents:\n{}{}relationships: []\n",
        comp("good", "{size: 3}"),
        comp("bad", "{size: big}")
    );
    std::fs::write(dir.path().join("inline.yaml"), text).unwrap();
    let (status, report) = validate_json(&["inline.yaml"], dir.path());
    assert_eq!(status, 1, "{report}");
    let schema_errors = with_code(&report, "schema");
    assert_eq!(schema_errors.len(), 1, "{report}");
    assert!(schema_errors[0].4.contains("/spec/size"), "{report}");
    assert!(with_code(&report, "unknown-kind").is_empty(), "{report}");

    // Kubernetes patterns are RE2: lookaround is not a pattern there either.
    let text = std::fs::read_to_string(dir.path().join("inline.yaml")).unwrap().replace("^[a-z]+$", "^(?!x)[a-z]+$");
    std::fs::write(dir.path().join("inline.yaml"), text).unwrap();
    let (_, report) = validate_json(&["inline.yaml"], dir.path());
    let invalid = with_code(&report, "model-invalid");
    assert_eq!(invalid.len(), 2, "{report}");
    assert!(invalid[0].4.contains("regex"), "{report}");
}

#[test]
fn a_kind_given_in_the_configuration_is_located_there() {
    // Old meshkit fixtures put apiVersion and kind in `configuration`.
    let (status, report) = validate_json(&["meshery/meshkit-invalid-k8s.yaml"], &fixtures());
    assert_eq!(status, 1);
    let found: Vec<_> = with_code(&report, "unknown-kind").iter().map(|d| (d.1, d.2)).collect();
    assert_eq!(found, [(13, 9)], "{report}");
}
