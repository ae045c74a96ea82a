//! The shipped registry: lookup, scope, and validation of real manifests
//! and of deliberately broken ones.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use weft::model::{ComponentDef, Registry, Resolution};

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("models")
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry::open(&[models_dir()]).unwrap())
}

fn found(registry: &Registry, api_version: &str, kind: &str) -> Arc<ComponentDef> {
    match registry.resolve(api_version, kind) {
        Resolution::Found(def) => def,
        other => panic!("{api_version} {kind}: {other:?}"),
    }
}

/// The instance paths of the schema errors, sorted.
fn paths(registry: &Registry, object: &Value) -> Vec<String> {
    let mut paths: Vec<String> = errors(registry, object).into_iter().map(|(at, _)| at).collect();
    paths.sort();
    paths
}

/// Schema errors as (instance path, message).
fn errors(registry: &Registry, object: &Value) -> Vec<(String, String)> {
    let api_version = object["apiVersion"].as_str().unwrap();
    let kind = object["kind"].as_str().unwrap();
    let def = found(registry, api_version, kind);
    let validator = registry.validator(&def).unwrap();
    validator.iter_errors(object).map(|e| (e.instance_path().to_string(), e.to_string())).collect()
}

fn yaml(text: &str) -> Vec<Value> {
    weft::load::yaml::parse_stream("test.yaml", text, &Default::default())
        .unwrap()
        .iter()
        .map(|n| n.to_json())
        .collect()
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{
                    "name": "web",
                    "image": "nginx:1.27",
                    "ports": [{"containerPort": 80}],
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": 1}},
                    "readinessProbe": {"httpGet": {"path": "/", "port": "http"}}
                }]}
            }
        }
    })
}

#[test]
fn shipped_dir_is_the_repository_models() {
    let dir = Registry::shipped_dir().expect("models/ next to the crate");
    assert!(dir.join("kubernetes").is_dir(), "{}", dir.display());
}

#[test]
fn real_manifests_validate_cleanly() {
    let registry = registry();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/manifests");
    let mut checked = 0;
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(&fixtures).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        for object in yaml(&std::fs::read_to_string(&path).unwrap()) {
            let name = format!("{}: {} {}", path.display(), object["kind"], object["metadata"]["name"]);
            for (at, message) in errors(registry, &object) {
                problems.push(format!("{name}: {at}: {message}"));
            }
            checked += 1;
        }
    }
    assert!(checked >= 90, "only {checked} objects found under {}", fixtures.display());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn wrong_type_is_rejected_at_its_path() {
    let mut object = deployment();
    object["spec"]["replicas"] = json!("three");
    let errors = errors(registry(), &object);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, "/spec/replicas");
}

#[test]
fn unknown_fields_are_rejected_but_type_and_status_are_allowed() {
    let mut object = deployment();
    object["spec"]["replcas"] = json!(3);
    object["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = json!("Always");
    object["spec"]["template"]["spec"]["containers"][0]["imagePolicy"] = json!("Always");
    let found_paths = paths(registry(), &object);
    assert_eq!(found_paths, ["/spec", "/spec/template/spec/containers/0"]);

    // A Meshery `configuration` has no apiVersion or kind; a dumped object has status.
    let def = found(registry(), "apps/v1", "Deployment");
    let validator = registry().validator(&def).unwrap();
    let mut configuration = deployment();
    configuration.as_object_mut().unwrap().retain(|k, _| k != "apiVersion" && k != "kind");
    assert!(validator.is_valid(&configuration));
    let mut dumped = deployment();
    dumped["status"] = json!({"replicas": 3});
    assert!(validator.is_valid(&dumped));
}

#[test]
fn int_or_string_quantities_and_nulls() {
    let registry = registry();
    let service = json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "annotations": null},
        "spec": {"ports": [{"port": 80, "targetPort": "http"}, {"port": 81, "targetPort": 8081}], "selector": {"app": "s"}}
    });
    assert_eq!(errors(registry, &service), []);
    let mut bad = service.clone();
    bad["spec"]["ports"][0]["targetPort"] = json!(true);
    assert_eq!(errors(registry, &bad).first().map(|e| e.0.as_str()), Some("/spec/ports/0/targetPort"));
    let mut bad_label = service;
    bad_label["metadata"]["labels"] = json!({"tier": 1});
    assert_eq!(errors(registry, &bad_label).first().map(|e| e.0.as_str()), Some("/metadata/labels/tier"));
}

#[test]
fn scope_is_recorded() {
    let registry = registry();
    let cluster = [
        ("v1", "Namespace"),
        ("v1", "Node"),
        ("v1", "PersistentVolume"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole"),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
        ("storage.k8s.io/v1", "StorageClass"),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
        ("scheduling.k8s.io/v1", "PriorityClass"),
        ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"),
        ("networking.k8s.io/v1", "IngressClass"),
        ("gateway.networking.k8s.io/v1", "GatewayClass"),
        ("cert-manager.io/v1", "ClusterIssuer"),
    ];
    for (api_version, kind) in cluster {
        assert!(!found(registry, api_version, kind).namespaced, "{kind} is cluster-scoped");
    }
    let namespaced = [
        ("v1", "ConfigMap"),
        ("v1", "Service"),
        ("apps/v1", "Deployment"),
        ("rbac.authorization.k8s.io/v1", "Role"),
        ("v1", "PersistentVolumeClaim"),
        ("gateway.networking.k8s.io/v1", "HTTPRoute"),
        ("cert-manager.io/v1", "Certificate"),
        ("networking.istio.io/v1", "VirtualService"),
    ];
    for (api_version, kind) in namespaced {
        assert!(found(registry, api_version, kind).namespaced, "{kind} is namespaced");
    }
}

#[test]
fn lookup_by_kind_and_version() {
    let registry = registry();
    let def = found(registry, "", "Deployment");
    assert_eq!((def.api_version.as_str(), def.model.as_str()), ("apps/v1", "kubernetes"));
    assert_eq!(def.model_version, "v1.35.0");
    assert_eq!(found(registry, "", "HorizontalPodAutoscaler").api_version, "autoscaling/v2");
    assert_eq!(found(registry, "autoscaling/v1", "HorizontalPodAutoscaler").api_version, "autoscaling/v1");
    assert_eq!(found(registry, "", "Event").api_version, "v1");
    assert_eq!(found(registry, "events.k8s.io/v1", "Event").api_version, "events.k8s.io/v1");
    assert_eq!(found(registry, "", "HTTPRoute").api_version, "gateway.networking.k8s.io/v1");
    assert_eq!(found(registry, "networking.istio.io/v1alpha3", "Gateway").model, "istio");
    match registry.resolve("extensions/v1beta1", "Deployment") {
        Resolution::UnknownVersion { known } => assert_eq!(known, ["apps/v1"]),
        other => panic!("{other:?}"),
    }
    match registry.resolve("autoscaling/v2beta2", "HorizontalPodAutoscaler") {
        Resolution::UnknownVersion { known } => assert_eq!(known, ["autoscaling/v1", "autoscaling/v2"]),
        other => panic!("{other:?}"),
    }
    assert!(matches!(registry.resolve("v1", "Frobnicator"), Resolution::UnknownKind));
    assert!(matches!(registry.resolve("v1", "DeploymentList"), Resolution::UnknownKind));
    assert!(registry.has_model("kubernetes") && registry.has_model("cert-manager"));
    assert!(!registry.has_model("sources") && !registry.has_model("nope"));
}

#[test]
fn crd_models_validate_custom_resources() {
    let registry = registry();
    let route = json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "reviews", "namespace": "bookinfo"},
        "spec": {
            "parentRefs": [{"name": "gateway"}],
            "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/reviews"}}],
                       "backendRefs": [{"name": "reviews-v1", "port": 9080, "weight": 90}, {"name": "reviews-v2", "port": 9080, "weight": 10}]}]
        }
    });
    assert_eq!(errors(registry, &route), []);
    let mut bad = route.clone();
    bad["spec"]["rules"][0]["backendRefs"][0]["port"] = json!("ninety-eighty");
    bad["spec"]["rules"][0]["matches"][0]["path"]["type"] = json!("Prefix");
    let found_paths = paths(registry, &bad);
    assert!(found_paths.contains(&"/spec/rules/0/backendRefs/0/port".to_owned()), "{found_paths:?}");
    assert!(found_paths.contains(&"/spec/rules/0/matches/0/path/type".to_owned()), "{found_paths:?}");

    let certificate = json!({
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"secretName": "web-tls", "dnsNames": ["shop.example.com"], "duration": "2160h",
                 "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer"},
                 "privateKey": {"algorithm": "ECDSA", "size": 256}}
    });
    assert_eq!(errors(registry, &certificate), []);
    let mut bad = certificate.clone();
    bad["spec"].as_object_mut().unwrap().remove("secretName");
    bad["spec"]["privateKey"]["algorithm"] = json!("DSA");
    let found_paths = paths(registry, &bad);
    assert_eq!(found_paths, ["/spec", "/spec/privateKey/algorithm"]);
    // CRD metadata is validated as ObjectMeta.
    let mut bad = certificate;
    bad["metadata"]["labels"] = json!(["not", "a", "map"]);
    let found_paths = paths(registry, &bad);
    assert_eq!(found_paths, ["/metadata/labels"]);
}

#[test]
fn add_crd_registers_a_repositorys_own_kinds() {
    let own = Registry::open(&[models_dir()]).unwrap();
    let registry = &own;
    let crd = &yaml(
        r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Cluster
  names: {kind: Widget, plural: widgets}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 1}
              port: {x-kubernetes-int-or-string: true}
              extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
  - name: v1beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#,
    )[0];
    assert!(matches!(registry.resolve("example.com/v1", "Widget"), Resolution::UnknownKind));
    assert_eq!(registry.add_crd(crd), Ok(2));
    let def = found(registry, "", "Widget");
    assert_eq!(def.api_version, "example.com/v1");
    assert!(!def.namespaced);
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                        "spec": {"size": 2, "port": "http", "extra": {"anything": [1, 2]}}});
    assert_eq!(errors(registry, &widget), []);
    let wrong = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                       "spec": {"size": 0, "colour": "red"}});
    let found_paths = paths(registry, &wrong);
    assert_eq!(found_paths, ["/spec", "/spec/size"]);
    assert!(registry.add_crd(&json!({"apiVersion": "v1", "kind": "ConfigMap"})).is_err());
    // Registering is per registry, not global.
    assert!(matches!(self::registry().resolve("example.com/v1", "Widget"), Resolution::UnknownKind));
}

/// Every definition weft ships compiles (a pattern the regex engine
/// rejects, or a dangling `$ref`, would make a whole kind unusable).
#[test]
fn every_shipped_definition_compiles() {
    use rayon::prelude::*;
    let mut files = Vec::new();
    let mut todo = vec![models_dir()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.ends_with("sources") {
                continue;
            }
            if path.is_dir() {
                todo.push(path);
            } else if path.parent().is_some_and(|p| p.ends_with("components")) {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 150, "{}", files.len());
    let registry = Registry::open(&[models_dir()]).unwrap();
    let failures: Vec<String> = files
        .par_iter()
        .filter_map(|path| {
            let value: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            let (api_version, kind) = (value["component"]["version"].as_str()?, value["component"]["kind"].as_str()?);
            let def = found(&registry, api_version, kind);
            (def.path != *path)
                .then(|| format!("{api_version} {kind} resolves to {}", def.path.display()))
                .or_else(|| registry.validator(&def).err())
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Not an assertion on speed (debug builds, shared machines), a record of
/// it: `cargo test --release --test models_registry timings -- --nocapture`.
#[test]
fn timings() {
    let started = Instant::now();
    let registry = Registry::open(&[models_dir()]).unwrap();
    let opened = started.elapsed();
    let object = deployment();
    let started = Instant::now();
    let def = found(&registry, "apps/v1", "Deployment");
    let validator = registry.validator(&def).unwrap();
    assert!(validator.is_valid(&object));
    let first = started.elapsed();
    let rounds = 1000;
    let started = Instant::now();
    for _ in 0..rounds {
        let def = found(&registry, "apps/v1", "Deployment");
        let validator = registry.validator(&def).unwrap();
        assert_eq!(validator.iter_errors(&object).count(), 0);
    }
    let each = started.elapsed() / rounds;
    println!(
        "registry open: {opened:?}; first Deployment (parse + compile + validate): {first:?}; then per object: {each:?}"
    );
}
