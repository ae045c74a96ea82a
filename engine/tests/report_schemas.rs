//! The JSON Schemas weft publishes under `schemas/`: each is a valid draft
//! 2020-12 schema, accepts the real Meshery samples, rejects what weft
//! rejects, and describes what weft prints.

#[path = "common/report_fixture.rs"]
mod fixture;

use serde_json::{Value, json};
use std::path::PathBuf;
use weft::load::config::Config;
use weft::load::source::Sources;
use weft::report::{OutputFormat, Report, render};

const SCHEMAS: &[&str] = &[
    "weft.schema.json",
    "design-v1beta1.schema.json",
    "design-v1beta3.schema.json",
    "design-services.schema.json",
    "validate-output.schema.json",
    "graph-output.schema.json",
];

fn schemas_dir() -> PathBuf {
    fixture::repo_root().join("schemas")
}

fn schema(name: &str) -> Value {
    let path = schemas_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn validator(name: &str) -> jsonschema::Validator {
    jsonschema::validator_for(&schema(name)).unwrap_or_else(|e| panic!("{name} does not compile: {e}"))
}

fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path())).collect()
}

#[track_caller]
fn assert_valid(name: &str, instance: &Value) {
    let errors = errors(&validator(name), instance);
    assert!(errors.is_empty(), "{name} rejects a valid instance: {errors:#?}\n{instance:#}");
}

#[track_caller]
fn assert_invalid(name: &str, instance: &Value) {
    assert!(validator(name).iter_errors(instance).next().is_some(), "{name} accepts {instance:#}");
}

/// Parses YAML (or JSON) the way weft does.
fn yaml(file: &str, text: &str) -> Value {
    let docs = weft::load::yaml::parse_stream(file, text, &Default::default())
        .unwrap_or_else(|d| panic!("{file}: {}", d.message));
    assert_eq!(docs.len(), 1, "{file}: one document");
    docs[0].to_json()
}

#[test]
fn every_schema_compiles() {
    let mut on_disk: Vec<String> = std::fs::read_dir(schemas_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = SCHEMAS.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "schemas/ holds exactly the published schemas");

    for name in SCHEMAS {
        let schema = schema(name);
        assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema", "{name}");
        assert_eq!(schema["$id"], format!("https://weft.dev/schemas/{name}"), "{name}");
        assert!(schema["title"].is_string() && schema["description"].is_string(), "{name}");
        if let Err(e) = jsonschema::meta::validate(&schema) {
            panic!("{name} is not a valid JSON Schema: {e}");
        }
        validator(name);
    }
}

#[test]
fn readme_lists_every_schema() {
    let readme = std::fs::read_to_string(schemas_dir().join("README.md")).unwrap();
    for name in SCHEMAS {
        assert!(readme.contains(name), "schemas/README.md does not mention {name}");
    }
}

fn meshery_fixture(name: &str) -> Value {
    let path: PathBuf = fixture::repo_root().join("tests/fixtures/meshery").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    yaml(name, &text)
}

#[test]
fn real_meshery_designs_validate() {
    for name in ["meshkit-valid_design.yml", "meshkit-edge-firewall-relationship.yml"] {
        let design = meshery_fixture(name);
        assert_eq!(design["schemaVersion"], "designs.meshery.io/v1beta1");
        assert_valid("design-v1beta1.schema.json", &design);
        // The version is pinned: a v1beta1 file is not a v1beta3 one.
        assert_invalid("design-v1beta3.schema.json", &design);
    }
    let services = meshery_fixture("emojivoto-services-format.yaml");
    assert_valid("design-services.schema.json", &services);
    assert_invalid("design-v1beta1.schema.json", &services);
}

fn small_design(schema_version: &str) -> Value {
    yaml(
        "small.yaml",
        &format!(
            "\
name: shop
schemaVersion: {schema_version}
x-unknown-top: kept
components:
  - id: 0b0c7f1e-8c6b-4d0e-9a55-3f8c2b1d7a10
    displayName: web
    someUnknownField: {{ a: 1 }}
    component: {{ kind: Deployment, version: apps/v1, schema: \"\" }}
    configuration:
      metadata: {{ namespace: shop, labels: {{ app: web }} }}
      spec: {{ replicas: 2 }}
  - id: 1b0c7f1e-8c6b-4d0e-9a55-3f8c2b1d7a10
    displayName: settings
    component: {{ kind: ConfigMap, version: v1 }}
    configuration: null
relationships:
  - id: 2b0c7f1e-8c6b-4d0e-9a55-3f8c2b1d7a10
    kind: edge
    type: non-binding
    subType: network
    status: approved
    selectors:
      - allow:
          from: [{{ id: 0b0c7f1e-8c6b-4d0e-9a55-3f8c2b1d7a10, kind: Deployment }}]
          to: [{{ id: 1b0c7f1e-8c6b-4d0e-9a55-3f8c2b1d7a10, kind: ConfigMap }}]
        deny: {{ from: null, to: null }}
"
        ),
    )
}

#[test]
fn design_schemas_are_lenient_but_check_what_weft_needs() {
    for (schema, version) in [
        ("design-v1beta1.schema.json", "designs.meshery.io/v1beta1"),
        ("design-v1beta3.schema.json", "designs.meshery.io/v1beta3"),
    ] {
        let good = small_design(version);
        assert_valid(schema, &good);

        let mut nulls = good.clone();
        nulls["components"] = Value::Null;
        nulls["relationships"] = Value::Null;
        assert_valid(schema, &nulls);

        let mut without_relationships = good.clone();
        without_relationships.as_object_mut().unwrap().remove("relationships");
        assert_valid(schema, &without_relationships);

        let breakages: [fn(&mut Value); 10] = [
            |d: &mut Value| drop(d.as_object_mut().unwrap().remove("name")),
            |d: &mut Value| drop(d.as_object_mut().unwrap().remove("components")),
            |d: &mut Value| d["schemaVersion"] = json!("designs.meshery.io/v1beta2"),
            |d: &mut Value| d["components"] = json!({}),
            |d: &mut Value| drop(d["components"][0].as_object_mut().unwrap().remove("id")),
            |d: &mut Value| drop(d["components"][0].as_object_mut().unwrap().remove("displayName")),
            |d: &mut Value| drop(d["components"][0]["component"].as_object_mut().unwrap().remove("kind")),
            |d: &mut Value| drop(d["components"][0]["component"].as_object_mut().unwrap().remove("version")),
            |d: &mut Value| d["components"][0]["configuration"] = json!("replicas: 2"),
            |d: &mut Value| d["relationships"] = json!({}),
        ];
        for broken in breakages {
            let mut bad = good.clone();
            broken(&mut bad);
            assert_invalid(schema, &bad);
        }
    }
}

#[test]
fn services_schema() {
    let good = yaml(
        "services.yaml",
        "name: app\nservices:\n  web:\n    type: Deployment.K8s\n    namespace: shop\n    settings: { spec: { replicas: 1 } }\n",
    );
    assert_valid("design-services.schema.json", &good);
    assert_invalid("design-services.schema.json", &json!({ "name": "app" }));
    assert_invalid(
        "design-services.schema.json",
        &json!({ "name": "app", "services": { "web": { "namespace": "x" } } }),
    );
}

#[test]
fn validate_output_schema_matches_the_json_renderer() {
    let validator = validator("validate-output.schema.json");
    let output: Value =
        serde_json::from_str(&render(&fixture::report(), OutputFormat::Json, &fixture::sources(), false)).unwrap();
    assert_eq!(errors(&validator, &output), Vec::<String>::new());

    let empty: Value =
        serde_json::from_str(&render(&Report::default(), OutputFormat::Json, &Sources::default(), false)).unwrap();
    assert_eq!(errors(&validator, &empty), Vec::<String>::new());

    // The schema is strict: it notices a renamed or missing key.
    let mut renamed = output.clone();
    let item = renamed["diagnostics"][0].as_object_mut().unwrap();
    let line = item.remove("line").unwrap();
    item.insert("lineNumber".into(), line);
    assert!(!validator.is_valid(&renamed));
    let mut bad_severity = output.clone();
    bad_severity["diagnostics"][0]["severity"] = json!("fatal");
    assert!(!validator.is_valid(&bad_severity));
}

#[test]
fn graph_output_schema() {
    let graph = json!({
        "nodes": [
            { "id": "a", "kind": "Deployment", "apiVersion": "apps/v1", "namespace": "shop", "name": "web", "file": "app.yaml", "line": 4 },
            { "id": "b", "kind": "Namespace", "apiVersion": "v1", "namespace": null, "name": "shop", "file": "app.yaml", "line": 12 }
        ],
        "edges": [
            { "from": "a", "to": "b", "kind": "hierarchical", "type": "parent", "subType": "inventory" }
        ]
    });
    assert_valid("graph-output.schema.json", &graph);
    let mut missing = graph.clone();
    missing["nodes"][0].as_object_mut().unwrap().remove("line");
    assert_invalid("graph-output.schema.json", &missing);
}

/// Reads `text` as `weft.yaml` the way weft does.
fn config_accepts(text: &str) -> bool {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("weft.yaml"), text).unwrap();
    Config::find(dir.path(), "weft.yaml").is_ok()
}

#[test]
fn weft_yaml_schema_agrees_with_the_config_reader() {
    let validator = validator("weft.schema.json");
    let cases = [
        "",
        "# only a comment\n",
        "paths: [designs]\n",
        "paths: [designs, deploy]\nignore: ['**/testdata/**']\nmodels: [models]\npolicies: [policy]\n",
        "$schema: ../schemas/weft.schema.json\n",
        "limits:\n  maxFileSize: 16MiB\n  maxDepth: 64\n  maxAliasExpansions: 1000\n",
        "limits: { maxFileSize: 1048576 }\n",
        "limits: { maxFileSize: 512 KiB }\n",
        "limits: { maxFileSize: 2G }\n",
        "limits: {}\n",
        "limits: { maxFiles: 200000, maxTotalSize: 1GiB }\n",
        "limits: { maxTotalSize: 268435456, maxFiles: null }\n",
        "limits: { maxTotalSize: lots }\n",
        "limits: { maxFiles: -1 }\n",
        "limits: { maxDepth: null }\n",
        "unknown: 1\n",
        "path: [designs]\n",
        "paths: designs\n",
        "paths: [1]\n",
        "paths: [true]\n",
        "paths: [1.5]\n",
        "paths: [null]\n",
        "paths: [2024]\n",
        "paths: [-1]\n",
        "paths: [{a: 1}]\n",
        "$schema: true\n",
        "limits: { maxDepth: ' 3' }\n",
        "limits: { maxDepth: '+3' }\n",
        "limits: { maxDepth: '0x10' }\n",
        "limits: { maxDepth: 0x10 }\n",
        "limits: { maxDepth: 1e3 }\n",
        "limits: { maxFileSize: 0x10 }\n",
        "limits: { maxFileSize: '0x10' }\n",
        "paths: null\n",
        "ignore: [~]\n",
        "$schema: 1\n",
        "$schema: null\n",
        "limits: null\n",
        "limits: { maxDepth: '3' }\n",
        "limits: { maxDepth: 3.0 }\n",
        "limits: { maxFileSize: '1024' }\n",
        "limits: { maxFileSize: 1.5 }\n",
        "limits: { maxFileSize: null }\n",
        "limits: { maxFileSize: ' 4 MiB ' }\n",
        "limits: { maxFileSize: lots }\n",
        "limits: { maxFileSize: 16TB }\n",
        "limits: { maxFileSize: -1 }\n",
        "limits: { maxDepth: -1 }\n",
        "limits: { maxDepth: deep }\n",
        "limits: { max_depth: 3 }\n",
        "limits: [1]\n",
        "[]\n",
    ];
    let mut disagreements = Vec::new();
    for text in cases {
        let instance = if text.trim().is_empty() || text.trim_start().starts_with('#') {
            Value::Null
        } else {
            yaml("weft.yaml", text)
        };
        let (schema, reader) = (validator.is_valid(&instance), config_accepts(text));
        if schema != reader {
            disagreements.push(format!("{text:?}: schema accepts: {schema}, weft accepts: {reader}"));
        }
    }
    // Deliberate differences: the schema flags a boolean path, a number as
    // `$schema` and quoted integers, which weft's YAML reader would coerce;
    // and JSON Schema cannot tell 3.0 from 3.
    let expected = [
        "paths: [true]\n",
        "$schema: true\n",
        "$schema: 1\n",
        "limits: { maxDepth: '3' }\n",
        "limits: { maxDepth: ' 3' }\n",
        "limits: { maxDepth: '+3' }\n",
        "limits: { maxDepth: '0x10' }\n",
        "limits: { maxDepth: 3.0 }\n",
        "limits: { maxDepth: 1e3 }\n",
    ];
    let unexpected: Vec<&String> =
        disagreements.iter().filter(|d| !expected.iter().any(|e| d.starts_with(&format!("{e:?}:")))).collect();
    assert!(unexpected.is_empty(), "schema and config reader disagree:\n{unexpected:#?}");
    assert_eq!(disagreements.len(), expected.len(), "a known difference went away: {disagreements:#?}");
}

#[test]
fn weft_yaml_example_in_readme_is_valid() {
    let readme = std::fs::read_to_string(schemas_dir().join("README.md")).unwrap();
    let start = readme.find("```yaml\n").expect("a YAML example") + "```yaml\n".len();
    let end = start + readme[start..].find("```").unwrap();
    let example = &readme[start..end];
    assert!(config_accepts(example), "{example}");
    assert_valid("weft.schema.json", &yaml("README.md", example));
}
