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
    "perf-profile.schema.json",
    "perf-result.schema.json",
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

/// A `Run` as the load generator fills it, built by hand.
fn hand_built_run() -> weft::perf::Run {
    use weft::perf::{Environment, Latencies, Run, Second};
    let percentiles = |scale: f64| -> std::collections::BTreeMap<String, f64> {
        weft::perf::PERCENTILES.iter().map(|(name, q)| (name.to_string(), q / 100.0 * scale)).collect()
    };
    Run {
        smp_version: "v0.0.1".into(),
        id: "2f1d7c3e-5b6a-4c8d-9e0f-1a2b3c4d5e6f".into(),
        name: "web-latency".into(),
        labels: [("mesh".to_owned(), "istio".to_owned())].into(),
        start_time: "2026-03-01T10:00:00Z".into(),
        end_time: "2026-03-01T10:00:30Z".into(),
        latencies_ms: Latencies { min: 0.1, average: 0.8, p50: 0.6, p90: 1.2, p99: 4.9, max: 30.5 },
        actual_qps: 999.7,
        url: "http://127.0.0.1:8080/".into(),
        method: "GET".into(),
        protocol: "http/1.1".into(),
        mode: "open".into(),
        requested_qps: 1000.0,
        connections: 16,
        duration_s: 30.0,
        warmup_s: 1.0,
        requests: 29_991,
        errors: 3,
        status_codes: [("200".to_owned(), 29_989), ("503".to_owned(), 1)].into(),
        error_kinds: [("timeout".to_owned(), 2), ("status".to_owned(), 1)].into(),
        percentiles_ms: percentiles(5.0),
        uncorrected_percentiles_ms: percentiles(4.0),
        late_sends: 12,
        skipped_sends: 0,
        timeline: vec![Second { second: 0, requests: 1000, errors: 0, p50_ms: 0.6, p99_ms: 4.1 }, Second { second: 1, requests: 999, errors: 3, p50_ms: 0.7, p99_ms: 5.0 }],
        histogram: "HISTFAAAACl4nJNpmSzMwMDAzAABMFpGSkbqh4NJ7iMNA3uIqBqTDwMHAwBPWQV0".into(),
        environment: Environment {
            load_generator: "weft".into(),
            weft_version: "0.1.0".into(),
            machine: "x86_64 linux".into(),
            cpus: 2,
            target_metrics: [("cpu_cores".to_owned(), 0.4), ("memory_bytes".to_owned(), 5.2e7)].into(),
        },
        threshold_failures: vec!["latency p99 4.900 ms > 2 ms".into()],
    }
}

#[test]
fn perf_result_schema_matches_a_run() {
    let validator = validator("perf-result.schema.json");
    let run = hand_built_run();
    let full = serde_json::to_value(&run).unwrap();
    assert_eq!(errors(&validator, &full), Vec::<String>::new());
    // Every property the schema lists is one a Run writes.
    let result_schema = schema("perf-result.schema.json");
    let written: std::collections::BTreeSet<&String> = full.as_object().unwrap().keys().collect();
    let listed: std::collections::BTreeSet<&String> = result_schema["properties"].as_object().unwrap().keys().collect();
    assert_eq!(written, listed);

    // The optional parts left out, as a closed-loop run with no failures writes it.
    let closed = weft::perf::Run {
        mode: "closed".into(),
        requested_qps: 0.0,
        uncorrected_percentiles_ms: Default::default(),
        threshold_failures: Vec::new(),
        environment: weft::perf::Environment { target_metrics: Default::default(), ..run.environment.clone() },
        ..run.clone()
    };
    let closed = serde_json::to_value(&closed).unwrap();
    assert!(closed.get("uncorrected_percentiles_ms").is_none() && closed.get("threshold_failures").is_none());
    assert_eq!(errors(&validator, &closed), Vec::<String>::new());

    // YAML results (`-o result.yaml`) hold the same document.
    let text = serde_saphyr::to_string(&run).unwrap();
    assert_eq!(errors(&validator, &yaml("result.yaml", &text)), Vec::<String>::new());

    // The schema is strict: a renamed or mistyped field fails.
    let mut renamed = full.clone();
    let qps = renamed.as_object_mut().unwrap().remove("actual_qps").unwrap();
    renamed["actualQps"] = qps;
    assert!(!validator.is_valid(&renamed));
    let mut bad_mode = full.clone();
    bad_mode["mode"] = json!("fast");
    assert!(!validator.is_valid(&bad_mode));
    let mut bad_percentile = full.clone();
    bad_percentile["percentiles_ms"]["median"] = json!(1.0);
    assert!(!validator.is_valid(&bad_percentile));
    let mut bad_second = full;
    bad_second["timeline"][0]["requests"] = json!(-1);
    assert!(!validator.is_valid(&bad_second));
}

#[test]
fn perf_profile_schema_agrees_with_the_reader() {
    let validator = validator("perf-profile.schema.json");
    for sample in ["smp-load-test.yaml", "smp-soak-test.yaml"] {
        let path = fixture::repo_root().join("tests/fixtures/perf").join(sample);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_valid("perf-profile.schema.json", &yaml(sample, &text));
        weft::perf::config::from_text(sample, &text).unwrap_or_else(|e| panic!("{e}"));
    }
    let smp = |client: &str| format!("test:\n  name: t\n  clients:\n    - {client}\n  duration: 30s\nmesh: {{type: 3}}\n");
    let pt = |spec: &str| format!("apiVersion: perf.weft.dev/v1alpha1\nkind: PerformanceTest\nmetadata: {{name: t}}\nspec:\n  {spec}\n");
    let cases: Vec<String> = vec![
        smp("{connections: 2, rps: 10, endpoint_urls: ['http://a/']}"),
        smp("{connections: 2, rps: 0, protocol: 1, load_generator: fortio}"),
        smp("{loadGenerator: wrk, endpointUrls: ['https://a/x'], contentType: text/plain, body: x}"),
        smp("{headers: {A: b}, cookies: {c: d}, internal: true}"),
        smp("{protocol: 4}"),
        smp("{protocol: 2}"),
        smp("{load_generator: nighthawk}"),
        smp("{endpoint_urls: ['http://a/', 'http://b/']}"),
        smp("{endpoint_urls: ['a.example.com']}"),
        smp("{rps: -1}"),
        smp("{rps: fast}"),
        smp("{connections: 0}"),
        smp("{rsp: 10}"),
        smp("{content_type: a, contentType: b}"),
        smp("{ssl_certificate: /ca.pem}"),
        "test:\n  clients: [{rps: 1}, {rps: 2}]\n".into(),
        "test:\n  clients: []\n".into(),
        "test:\n  clients: [{rps: 1}]\n  duration: 60\n".into(),
        "test:\n  clients: [{rps: 1}]\n  duration: 1d\n".into(),
        "test:\n  clients: [{rps: 1}]\n  duration: 1h30m\n".into(),
        "clients: [{rps: 1}]\nduration: 5s\n".into(),
        "qps: 10\nconcurrentRequest: 4\nduration: 2m\nendpoints: ['http://a/']\nloadGenerators: [fortio]\n".into(),
        "qps: 0\nconcurrent_request: 4\nrequest_headers: {A: b}\nrequest_cookies: 'k=v'\nrequest_body: x\ncontent_type: text/plain\n".into(),
        "name: p\nqps: 1\nrequestHeaders: '{\"A\": \"b\"}'\nmetadata: {team: shop}\nid: x1\nowner: u1\ncreatedAt: t1\nupdatedAt: t1\ntotalResults: 2\n".into(),
        "qps: 10\nconcurrentRequest: 0\n".into(),
        "qps: 10\nconcurrentRequest: 4\nconcurrent_request: 4\n".into(),
        "qps: 10\nloadGenerators: [fortio, wrk]\n".into(),
        "qps: 10\nloadGenerators: [wrk2]\n".into(),
        "qps: 10\nendpoints: ['http://a/', 'http://b/']\n".into(),
        "qps: 10\nqsp: 10\n".into(),
        "qps: fast\n".into(),
        "name: only-a-name\n".into(),
        "apiVersion: v1\nkind: ConfigMap\n".into(),
        pt("target: {url: 'http://a/'}"),
        pt("target: {service: {name: web, port: http}, path: /x, scheme: https}\n  rate: 10\n  duration: 30s\n  thresholds: {latency: {p99: 25ms}, maxRegression: 10%}"),
        pt("target: {service: {name: web, port: 80}}\n  rate: fast"),
        pt("target: {url: 'http://a/', path: /x}"),
        pt("target: {}"),
        pt("rate: 1"),
        pt("target: {url: 'http://a/'}\n  thresholds: {latency: {p101: 1ms}}"),
        pt("target: {url: 'http://a/'}\n  thresholds: {maxErrorRate: 2}"),
    ];
    let mut disagreements = Vec::new();
    for text in &cases {
        let (schema, reader) = (validator.is_valid(&yaml("t.yaml", text)), weft::perf::config::from_text("t.yaml", text).is_ok());
        if schema != reader {
            disagreements.push(format!("{text:?}: schema accepts: {schema}, weft accepts: {reader}"));
        }
    }
    assert!(disagreements.is_empty(), "schema and reader disagree:\n{disagreements:#?}");
}
