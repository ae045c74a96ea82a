//! The `PerformanceTest` kind (model `weft`, `models/weft/`): designs
//! holding one validate, bad ones get schema errors at their lines, its
//! target Service is an inferred relationship (missing: `missing-reference`),
//! and what the schema accepts is what `weft::perf::config` reads.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::Duration;

/// (family, from Kind/name, to Kind/name) of the inferred edges.
fn inferred(paths: &[&str]) -> Vec<(String, String, String)> {
    let mut args = vec!["graph", "--format", "json"];
    args.extend_from_slice(paths);
    let out = weft(&args, &fixtures());
    let graph: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let name = |id: &Value| {
        let node = graph["nodes"].as_array().unwrap().iter().find(|n| &n["id"] == id).unwrap();
        format!("{}/{}", node["kind"].as_str().unwrap(), node["name"].as_str().unwrap())
    };
    let mut edges: Vec<_> = graph["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["inferred"] == true)
        .map(|e| (format!("{}/{}/{}", e["kind"].as_str().unwrap(), e["type"].as_str().unwrap(), e["subType"].as_str().unwrap()), name(&e["from"]), name(&e["to"])))
        .collect();
    edges.sort();
    edges
}

#[test]
fn a_design_with_a_performance_test_validates() {
    let (status, report) = validate_json(&["perf/design.yaml"], &fixtures());
    assert_eq!(diagnostics(&report), &Vec::<Value>::new());
    assert_eq!(status, 0);
    let edges = inferred(&["perf/design.yaml"]);
    assert!(
        edges.contains(&("edge/non-binding/reference".to_owned(), "Service/web".to_owned(), "PerformanceTest/web-latency".to_owned())),
        "{edges:?}"
    );
    // `weft model show` knows the kind.
    let out = weft(&["model", "show", "PerformanceTest"], &fixtures());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("perf.weft.dev/v1alpha1") && text.contains("model:       weft v0.1.0"), "{text}");
}

#[test]
fn bad_performance_tests_are_errors_at_their_lines() {
    let (status, report) = validate_json(&["perf/bad-performance-test.yaml"], &fixtures());
    assert_eq!(status, 1);
    let file = "perf/bad-performance-test.yaml";
    let schema: Vec<_> = with_code(&report, "schema").into_iter().map(|(f, line, column, _, message)| (f, line, column, message)).collect();
    assert_eq!(schema.len(), 2, "{schema:#?}");
    assert_eq!((schema[0].0, schema[0].1, schema[0].2), (file, 9, 3));
    assert!(schema[0].3.contains("\"fast\"") && schema[0].3.ends_with("at /spec/rate"), "{}", schema[0].3);
    assert_eq!((schema[1].1, schema[1].2), (10, 3));
    assert!(schema[1].3.ends_with("at /spec/duration"), "{}", schema[1].3);
    let missing = with_code(&report, "missing-reference");
    assert_eq!(missing.len(), 1, "{missing:#?}");
    assert_eq!((missing[0].0, missing[0].1, missing[0].2, missing[0].3), (file, 17, 15, "error"));
    assert!(missing[0].4.contains("Service `checkout`"), "{}", missing[0].4);
    assert_eq!(diagnostics(&report).len(), 3, "{report:#}");
}

#[test]
fn the_target_port_must_be_one_the_service_serves() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.yaml");
    std::fs::write(
        &file,
        "\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: perf.weft.dev/v1alpha1
kind: PerformanceTest
metadata: {name: by-name, namespace: shop}
spec:
  target:
    service: {name: web, port: https}
---
apiVersion: perf.weft.dev/v1alpha1
kind: PerformanceTest
metadata: {name: good, namespace: shop}
spec:
  target:
    service: {name: web, port: 80}
",
    )
    .unwrap();
    let (status, report) = validate_json(&["app.yaml"], dir.path());
    assert_eq!(status, 1);
    let found: Vec<_> = with_code(&report, "backend-port-mismatch").into_iter().map(|d| (d.1, d.2)).collect();
    assert_eq!(found, vec![(12, 26)], "{report:#}");
    assert_eq!(diagnostics(&report).len(), 1, "{report:#}");
}

/// The design's PerformanceTest, as `weft apply` will hand it over.
#[test]
fn the_reader_takes_what_the_model_describes() {
    let text = std::fs::read_to_string(fixtures().join("perf/design.yaml")).unwrap();
    let design = weft::load::yaml::parse_stream("design.yaml", &text, &Default::default()).unwrap()[0].to_json();
    let component = design["components"].as_array().unwrap().iter().find(|c| c["component"]["kind"] == "PerformanceTest").unwrap();
    let resolve = |namespace: &str, name: &str, port: &Value| {
        assert_eq!((namespace, name, port), ("shop", "web", &json!("http")));
        Some("http://10.96.0.10:80".to_owned())
    };
    let settings = weft::perf::config::from_component("web-latency", &component["configuration"], &resolve).unwrap();
    assert_eq!(settings.url, "http://10.96.0.10:80/");
    assert_eq!((settings.rate, settings.connections), (500.0, 16));
    assert_eq!((settings.duration, settings.warmup, settings.timeout), (Duration::from_secs(30), Duration::from_secs(5), Duration::from_secs(2)));
    assert_eq!(settings.headers, vec![("Accept".to_owned(), "text/html".to_owned())]);
    let t = &settings.thresholds;
    assert_eq!(t.latency_ms.get("p99.9"), Some(&100.0));
    assert_eq!((t.max_error_rate, t.min_rate, t.max_regression), (Some(0.001), Some(490.0), Some(0.1)));
}

/// The component schema and `from_component` agree on what a spec is.
#[test]
fn the_schema_and_the_reader_agree() {
    let registry = weft::model::Registry::open(&[weft::model::Registry::shipped_dir().unwrap()]).unwrap();
    let def = registry.lookup("perf.weft.dev/v1alpha1", "PerformanceTest").expect("the weft model ships PerformanceTest");
    let validator = registry.validator(&def).unwrap();
    let service = json!({"service": {"name": "web", "port": 80}});
    let good = [
        json!({"target": service}),
        json!({"target": {"url": "https://example.com/x"}, "rate": 0}),
        json!({"target": {"service": {"name": "web", "namespace": "other", "port": "http"}, "path": "/a", "scheme": "https"}, "rate": 12.5, "connections": 4}),
        json!({"target": service, "duration": "1h30m", "warmup": "0", "timeout": "1.5s", "method": "post", "body": "x", "http2": true}),
        json!({"target": service, "thresholds": {"latency": {"p50": "5ms", "p99.99": "2s"}, "maxErrorRate": 0, "minRate": 10, "maxRegression": "0.1"}}),
    ];
    let bad = [
        json!({}),
        json!({"target": {}}),
        json!({"target": {"url": "http://a/", "service": {"name": "a", "port": 1}}}),
        json!({"target": {"url": "ftp://a/"}}),
        json!({"target": {"service": {"name": "web"}}}),
        json!({"target": {"service": {"name": "web", "port": 0}}}),
        json!({"target": service, "rate": "fast"}),
        json!({"target": service, "rate": -1}),
        json!({"target": service, "connections": 0}),
        json!({"target": service, "connections": 1.5}),
        json!({"target": service, "duration": "30"}),
        json!({"target": service, "duration": 30}),
        json!({"target": service, "method": "GET /"}),
        json!({"target": service, "http2": "yes"}),
        json!({"target": service, "headers": {"a": 1}}),
        json!({"target": service, "thresholds": {"latency": {"p99": 25}}}),
        json!({"target": service, "thresholds": {"maxErrorRate": 2}}),
        json!({"target": service, "thresholds": {"maxRegression": "a lot"}}),
        json!({"target": service, "rps": 1}),
    ];
    let resolve = |_: &str, _: &str, _: &Value| Some("http://127.0.0.1:1".to_owned());
    for spec in &good {
        let object = json!({"metadata": {"name": "t", "namespace": "shop"}, "spec": spec});
        let errors: Vec<String> = validator.iter_errors(&object).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "schema rejects {spec}: {errors:?}");
        weft::perf::config::from_component("t", &object, &resolve).unwrap_or_else(|e| panic!("reader rejects {spec}: {e}"));
    }
    for spec in &bad {
        let object = json!({"metadata": {"name": "t", "namespace": "shop"}, "spec": spec});
        assert!(!validator.is_valid(&object), "schema accepts {spec}");
        assert!(weft::perf::config::from_component("t", &object, &resolve).is_err(), "reader accepts {spec}");
    }
}
