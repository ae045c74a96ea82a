//! Onboarding a running cluster: objects made as kubectl and the cluster's
//! controllers make them, read back by `weft::onboard::live_objects`, then
//! planned with the real `weft` binary against the same test server. The
//! plan must create, update and delete nothing: every object is adopted
//! (its content matches; weft only adds its inventory labels), and after
//! an apply the plan is unchanged throughout.

mod common;

use common::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use weft::onboard::{Options, live_objects};
use weft_testserver::TestServer;

const PASSWORD: &str = "hunter2-onboard";
const PASSWORD_BASE64: &str = "aHVudGVyMi1vbmJvYXJk";

/// What a user made: kubectl create, client-side apply (with its
/// last-applied annotation) and server-side apply.
fn user_objects(server: &TestServer) {
    let create = |object: Value| server.update_as("kubectl-create", object).unwrap();
    let client_side = |mut object: Value| {
        let copy = object.to_string();
        object["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = json!(copy);
        server.update_as("kubectl-client-side-apply", object).unwrap()
    };
    let server_side = |object: Value| server.apply_as("kubectl", object, false).unwrap();

    create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"team": "payments"}}}));
    client_side(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "serviceAccountName": "web",
                    "containers": [{
                        "name": "web", "image": "ghcr.io/example/web:1.4.2",
                        "ports": [{"containerPort": 8080, "name": "http"}],
                        "envFrom": [{"configMapRef": {"name": "web-config"}}],
                        "env": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "web-secret", "key": "password"}}}],
                        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 5},
                        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}
                    }]
                }
            }
        }
    }));
    client_side(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}
    }));
    create(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web-public", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 8080}]}
    }));
    server_side(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "db", "namespace": "shop"},
        "spec": {"clusterIP": "None", "selector": {"app": "db"}, "ports": [{"port": 5432}]}
    }));
    server_side(json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "shop"},
        "spec": {
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "postgres", "image": "postgres:17"}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
        }
    }));
    client_side(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "web-config", "namespace": "shop", "labels": {"app": "web"}},
        "data": {"LOG_LEVEL": "info", "FEATURE_FLAG": "on", "FILE_MODE": "0644"}
    }));
    server_side(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "web-secret", "namespace": "shop", "labels": {"app": "web"}},
        "stringData": {"password": PASSWORD}
    }));
    create(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "web", "namespace": "shop"}}));
    client_side(json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [{"host": "shop.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}}]
        }
    }));
    server_side(json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "report", "namespace": "shop"},
        "spec": {
            "schedule": "0 3 * * *",
            "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "report", "image": "ghcr.io/example/report:2.0"}]}}}}
        }
    }));
    create(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "migrate", "namespace": "shop"},
        "spec": {"backoffLimit": 2, "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "migrate", "image": "ghcr.io/example/migrate:1.4.2"}]}}}
    }));
    create(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "shop-reader"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]
    }));
    create(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "shop-reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "shop-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "web", "namespace": "shop"}]
    }));
    // A name the server generated.
    server
        .create_as("kubectl-create", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "settings-", "namespace": "shop"}, "data": {"a": "1"}}))
        .unwrap();
    // A custom resource whose CRD defaults a field.
    create(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {"spec": {"type": "object", "properties": {
                    "size": {"type": "integer", "default": 1},
                    "color": {"type": "string", "default": "blue"}
                }}}
            }}}]
        }
    }));
    wait_until_served(server, "example.com/v1", "Widget");
    server_side(json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "gear", "namespace": "shop"}, "spec": {"size": 3}}));
}

fn wait_until_served(server: &TestServer, api_version: &str, kind: &str) {
    let established = || {
        let crd = server.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", None, "widgets.example.com").unwrap();
        crd["status"]["conditions"].as_array().is_some_and(|c| c.iter().any(|c| c["type"] == "Established" && c["status"] == "True"))
    };
    for _ in 0..100 {
        if established() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("{api_version} {kind} is never served");
}

/// What the cluster and its controllers made around them.
fn cluster_objects(server: &TestServer) {
    let controller = |object: Value| server.update_as("kube-controller-manager", object).unwrap();
    let uid = |api_version: &str, kind: &str, name: &str| server.get(api_version, kind, Some("shop"), name).unwrap()["metadata"]["uid"].clone();
    let owner = |api_version: &str, kind: &str, name: &str| json!([{"apiVersion": api_version, "kind": kind, "name": name, "uid": uid(api_version, kind, name), "controller": true, "blockOwnerDeletion": true}]);

    let template = server.get("apps/v1", "Deployment", Some("shop"), "web").unwrap()["spec"]["template"].clone();
    controller(json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web-7d4b9c", "namespace": "shop", "labels": {"app": "web"}, "ownerReferences": owner("apps/v1", "Deployment", "web"),
            "annotations": {"deployment.kubernetes.io/revision": "1"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template.clone()}
    }));
    let mut pod_spec = template["spec"].clone();
    pod_spec["nodeName"] = json!("node-1");
    controller(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-7d4b9c-x2x9q", "generateName": "web-7d4b9c-", "namespace": "shop", "labels": {"app": "web"}, "ownerReferences": owner("apps/v1", "ReplicaSet", "web-7d4b9c")},
        "spec": pod_spec
    }));
    controller(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "report-29000000", "namespace": "shop", "ownerReferences": owner("batch/v1", "CronJob", "report")},
        "spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "report", "image": "ghcr.io/example/report:2.0"}]}}}
    }));
    controller(json!({
        "apiVersion": "apps/v1", "kind": "ControllerRevision",
        "metadata": {"name": "db-5f6d8", "namespace": "shop", "ownerReferences": owner("apps/v1", "StatefulSet", "db")},
        "revision": 1, "data": {}
    }));
    controller(json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
        "subsets": [{"addresses": [{"ip": "10.244.0.5"}], "ports": [{"name": "http", "port": 8080}]}]
    }));
    controller(json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "web-abcde", "namespace": "shop", "labels": {"app": "web", "kubernetes.io/service-name": "web", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"},
            "ownerReferences": owner("v1", "Service", "web")},
        "addressType": "IPv4", "endpoints": [{"addresses": ["10.244.0.5"]}], "ports": [{"name": "http", "port": 8080}]
    }));
    for namespace in ["default", "shop"] {
        controller(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": namespace}}));
        controller(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt", "namespace": namespace}, "data": {"ca.crt": "-----BEGIN CERTIFICATE-----"}}));
    }
    controller(json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
        "metadata": {"name": "web-token", "namespace": "shop", "annotations": {"kubernetes.io/service-account.name": "web"}},
        "data": {"token": "ZXlKaGJHY2lPaUpTVXpJMU5pSjk="}
    }));
    controller(json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "web.17f0", "namespace": "shop"},
        "involvedObject": {"kind": "Deployment", "namespace": "shop", "name": "web"}, "reason": "ScalingReplicaSet", "message": "Scaled up", "type": "Normal"
    }));
    controller(json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": "web.17f1", "namespace": "shop"},
        "regarding": {"kind": "Deployment", "namespace": "shop", "name": "web"}, "reason": "ScalingReplicaSet", "note": "Scaled up", "type": "Normal",
        "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "deployment-controller", "reportingInstance": "kcm", "action": "Scale"
    }));
    controller(json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "node-1", "namespace": "kube-node-lease"}, "spec": {"holderIdentity": "node-1"}}));
    controller(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "coredns", "namespace": "kube-system"}, "data": {"Corefile": ".:53 {}"}}));
}

fn key(object: &Value) -> (String, String, String) {
    (
        object["kind"].as_str().unwrap_or_default().to_owned(),
        object["metadata"]["namespace"].as_str().unwrap_or_default().to_owned(),
        object["metadata"]["name"].as_str().unwrap_or_default().to_owned(),
    )
}

fn onboard(kubeconfig: &Path, options: &Options) -> Vec<Value> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let target = weft::cluster::Target::connect(Some(kubeconfig), None).await.unwrap();
        live_objects(&target, options).await.unwrap().objects
    })
}

/// Every key anywhere in `value`, with the path to it.
fn keys_in(value: &Value, path: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let here = format!("{path}/{k}");
                out.push(here.clone());
                keys_in(v, &here, out);
            }
        }
        Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| keys_in(v, &format!("{path}/{i}"), out)),
        _ => {}
    }
}

fn weft_in(dir: &Path, command: &str, kubeconfig: &Path, args: &[&str]) -> (i32, Value, String) {
    let mut all = vec![command, dir.to_str().unwrap(), "--kubeconfig", kubeconfig.to_str().unwrap(), "--format", "json"];
    all.extend_from_slice(args);
    let output = weft(&all, &repo_root());
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("weft {command} JSON ({e}): {stdout}\n{stderr}"));
    (output.status.code().unwrap_or(-1), value, stdout + &stderr)
}

/// The lines a diff adds or removes, without its header.
fn changed_lines(diff: &str) -> Vec<&str> {
    diff.lines().skip(2).filter(|l| l.starts_with('+') || l.starts_with('-')).collect()
}

#[test]
fn an_onboarded_cluster_plans_as_no_change() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    user_objects(&server);
    cluster_objects(&server);

    let objects = onboard(&kubeconfig, &Options::default());
    let found: Vec<(String, String, String)> = objects.iter().map(key).collect();
    let generated = found.iter().find(|(kind, _, name)| kind == "ConfigMap" && name.starts_with("settings-")).map(|(_, _, name)| name.clone()).expect("the generated name is kept");
    let mut expected: BTreeSet<(String, String, String)> = [
        ("Namespace", "", "shop"),
        ("Deployment", "shop", "web"),
        ("StatefulSet", "shop", "db"),
        ("Service", "shop", "web"),
        ("Service", "shop", "web-public"),
        ("Service", "shop", "db"),
        ("ConfigMap", "shop", "web-config"),
        ("Secret", "shop", "web-secret"),
        ("ServiceAccount", "shop", "web"),
        ("Ingress", "shop", "web"),
        ("CronJob", "shop", "report"),
        ("Job", "shop", "migrate"),
        ("ClusterRole", "", "shop-reader"),
        ("ClusterRoleBinding", "", "shop-reader"),
        ("CustomResourceDefinition", "", "widgets.example.com"),
        ("Widget", "shop", "gear"),
    ]
    .into_iter()
    .map(|(k, n, name)| (k.to_owned(), n.to_owned(), name.to_owned()))
    .collect();
    expected.insert(("ConfigMap".into(), "shop".into(), generated));
    assert_eq!(found.iter().cloned().collect::<BTreeSet<_>>(), expected, "onboarded: {found:?}");
    assert_eq!(found.len(), expected.len(), "each object once: {found:?}");

    // Sorted by group, kind, namespace, name.
    let order: Vec<(String, String, String, String)> = objects
        .iter()
        .map(|o| {
            let (kind, ns, name) = key(o);
            let group = o["apiVersion"].as_str().unwrap().rsplit_once('/').map(|(g, _)| g.to_owned()).unwrap_or_default();
            (group, kind, ns, name)
        })
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);

    // Nothing the server, a controller or kubectl wrote remains.
    for object in &objects {
        let mut paths = Vec::new();
        keys_in(object, "", &mut paths);
        for path in &paths {
            let leaf = path.rsplit('/').next().unwrap();
            for owned in [
                "status", "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "generateName", "ownerReferences", "finalizers",
                "kubectl.kubernetes.io~1last-applied-configuration", "kubectl.kubernetes.io/last-applied-configuration", "clusterIPs", "ipFamilies",
                "ipFamilyPolicy", "internalTrafficPolicy", "sessionAffinity", "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy",
                "dnsPolicy", "schedulerName", "restartPolicy", "terminationGracePeriodSeconds", "securityContext", "revisionHistoryLimit",
                "progressDeadlineSeconds", "strategy", "podManagementPolicy", "updateStrategy", "persistentVolumeClaimRetentionPolicy", "volumeMode",
                "concurrencyPolicy", "successfulJobsHistoryLimit", "failedJobsHistoryLimit", "completionMode", "podReplacementPolicy", "selector/matchLabels/batch.kubernetes.io/controller-uid",
                "enableServiceLinks", "serviceAccount", "timeoutSeconds", "successThreshold", "failureThreshold", "scheme", "defaultMode",
                "kubernetes.io/metadata.name", "conversion", "listKind", "singular",
            ] {
                // The templates of Jobs state the restart policy a Job needs.
                if owned == "restartPolicy" && (object["kind"] == "CronJob" || object["kind"] == "Job") {
                    continue;
                }
                assert!(leaf != owned && !path.ends_with(&format!("/{owned}")), "{path} remains in {}", serde_json::to_string_pretty(object).unwrap());
            }
        }
    }
    let get = |kind: &str, name: &str| objects.iter().find(|o| o["kind"] == kind && o["metadata"]["name"] == name).unwrap();
    let web = get("Service", "web");
    assert!(web["spec"].get("clusterIP").is_none(), "allocated: {web}");
    assert_eq!(web["spec"]["ports"][0]["targetPort"], "http", "a named targetPort is the user's: {web}");
    assert_eq!(get("Service", "db")["spec"]["clusterIP"], "None", "headless is declared");
    let public = get("Service", "web-public");
    assert!(public["spec"]["ports"][0]["nodePort"].is_u64(), "nodePorts stay: {public}");
    assert!(public["spec"]["ports"][0].get("targetPort").is_none(), "targetPort = port is the default: {public}");
    let deployment = get("Deployment", "web");
    assert_eq!(deployment["spec"]["replicas"], 3);
    assert_eq!(deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"], json!({"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 5}));
    assert_eq!(*get("Namespace", "shop"), json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"team": "payments"}}}));
    assert_eq!(get("Secret", "web-secret")["data"]["password"], PASSWORD_BASE64, "the design must be applyable");
    assert_eq!(get("Widget", "gear")["spec"], json!({"size": 3}), "the CRD's default colour is dropped");
    assert_eq!(get("CronJob", "report")["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"], "OnFailure");
    assert_eq!(
        get("Job", "migrate")["spec"],
        json!({"backoffLimit": 2, "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "migrate", "image": "ghcr.io/example/migrate:1.4.2"}]}}}),
        "the generated selector and its labels go"
    );

    // Written as a manifests file, planned with the CLI: nothing to create,
    // update or delete; what is not unchanged is adopted, and its diff is
    // weft labelling what it now manages.
    let repo = tempfile::tempdir().unwrap();
    let documents: Vec<String> = objects.iter().map(|o| serde_saphyr::to_string(o).unwrap()).collect();
    std::fs::write(repo.path().join("cluster.yaml"), documents.join("---\n")).unwrap();
    std::fs::write(repo.path().join("weft.yaml"), "name: onboarded\n").unwrap();
    let (code, plan, output) = weft_in(repo.path(), "plan", &kubeconfig, &[]);
    assert_eq!(code, 0, "{output}");
    let summary = &plan["summary"];
    assert_eq!(
        (summary["create"].as_u64(), summary["update"].as_u64(), summary["delete"].as_u64(), summary["error"].as_u64()),
        (Some(0), Some(0), Some(0), Some(0)),
        "{plan}"
    );
    assert!(summary["adopt"].as_u64().unwrap() > 0, "{plan}");
    assert_eq!(summary["adopt"].as_u64().unwrap() + summary["unchanged"].as_u64().unwrap(), objects.len() as u64, "{plan}");
    for change in plan["targets"][0]["changes"].as_array().unwrap() {
        assert_eq!(change["action"], "adopt", "{change}");
        let lines = changed_lines(change["diff"].as_str().unwrap());
        let membership = |l: &&str| {
            let l = l.trim_start_matches('+').trim();
            l == "labels:" || l == "app.kubernetes.io/managed-by: weft" || l.starts_with("applyset.kubernetes.io/part-of: applyset-")
        };
        assert!(lines.iter().all(|l| l.starts_with('+') && membership(l)), "{} {} changes more than its membership: {lines:#?}", change["kind"], change["name"]);
        assert_eq!(change["reason"], "content unchanged; weft adds its inventory labels", "{change}");
    }
    assert!(!output.contains(PASSWORD) && !output.contains(PASSWORD_BASE64), "{output}");

    // Applied (weft takes the objects into its inventory), then planned
    // again: no change at all.
    let (code, result, output) = weft_in(repo.path(), "apply", &kubeconfig, &[]);
    assert_eq!(code, 0, "{output}");
    assert!(result["result"]["steps"].as_array().unwrap().iter().all(|s| s["outcome"] != "failed"), "{result}");
    let (code, plan, output) = weft_in(repo.path(), "plan", &kubeconfig, &["--detailed-exitcode"]);
    assert_eq!(code, 0, "{output}");
    assert_eq!(plan["summary"]["unchanged"].as_u64(), Some(objects.len() as u64), "{plan}");
    assert!(plan["summary"].get("adopt").is_none(), "adopted once, members since: {plan}");

    // Onboarding again after weft applied: weft's labels and inventory are
    // not part of the design.
    let again = onboard(&kubeconfig, &Options::default());
    assert_eq!(again, objects);

    // Applied to an empty cluster, the design makes the same objects:
    // nothing a user declared was dropped as if the server had written it.
    let fresh = TestServer::start();
    let fresh_kubeconfig = dir.path().join("fresh-kubeconfig");
    fresh.write_kubeconfig(&fresh_kubeconfig).unwrap();
    let (code, _, output) = weft_in(repo.path(), "apply", &fresh_kubeconfig, &[]);
    assert_eq!(code, 0, "{output}");
    for object in &objects {
        let (api_version, kind) = (object["apiVersion"].as_str().unwrap(), object["kind"].as_str().unwrap());
        let (_, namespace, name) = key(object);
        let namespace = (!namespace.is_empty()).then_some(namespace.as_str());
        let original = declared(&server.get(api_version, kind, namespace, &name).unwrap());
        let recreated = declared(&fresh.get(api_version, kind, namespace, &name).unwrap());
        assert_eq!(recreated, original, "{kind} {name} differs when recreated from the design");
    }
}

/// An object without what differs between two clusters by design: server
/// metadata, status, allocated addresses, weft's and kubectl's bookkeeping,
/// and its uid wherever the server copied it (a Job's selector).
fn declared(object: &Value) -> Value {
    let uid = object["metadata"]["uid"].as_str().unwrap();
    let mut object: Value = serde_json::from_str(&object.to_string().replace(uid, "<uid>")).unwrap();
    let fields = object.as_object_mut().unwrap();
    fields.remove("status");
    let metadata = fields["metadata"].as_object_mut().unwrap();
    metadata.retain(|k, _| matches!(k.as_str(), "name" | "namespace" | "labels" | "annotations"));
    for (map, bookkeeping) in [
        ("labels", &["app.kubernetes.io/managed-by", "applyset.kubernetes.io/part-of"][..]),
        ("annotations", &["kubectl.kubernetes.io/last-applied-configuration", "weft.io/applied-hash"][..]),
    ] {
        if let Some(Value::Object(entries)) = metadata.get_mut(map) {
            entries.retain(|k, _| !bookkeeping.contains(&k.as_str()));
            if entries.is_empty() {
                metadata.remove(map);
            }
        }
    }
    if let Some(Value::Object(spec)) = fields.get_mut("spec") {
        if spec.get("clusterIP").and_then(Value::as_str) != Some("None") {
            spec.remove("clusterIP");
            spec.remove("clusterIPs");
        }
    }
    object
}

#[test]
fn a_namespace_and_a_selector_narrow_what_is_read() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    user_objects(&server);
    cluster_objects(&server);
    server
        .update_as("kubectl-create", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "elsewhere", "namespace": "default", "labels": {"app": "web"}}}))
        .unwrap();

    let in_shop = onboard(&kubeconfig, &Options { namespaces: vec!["shop".into()], selector: None });
    assert!(in_shop.iter().all(|o| o["metadata"]["namespace"] == "shop" || o["kind"] == "Namespace"), "{in_shop:?}");
    assert!(in_shop.iter().any(|o| o["kind"] == "Namespace" && o["metadata"]["name"] == "shop"), "the named Namespace is part of it");
    assert!(!in_shop.iter().any(|o| o["kind"] == "ClusterRole" || o["kind"] == "CustomResourceDefinition"), "no cluster-scoped kinds under a namespace filter");
    // The CRD's schema is still read for its custom resources' defaults.
    let gear = in_shop.iter().find(|o| o["kind"] == "Widget").unwrap();
    assert_eq!(gear["spec"], json!({"size": 3}));

    let selected = onboard(&kubeconfig, &Options { namespaces: vec!["shop".into()], selector: Some("app=web".into()) });
    let names: BTreeSet<(String, String, String)> = selected.iter().map(key).collect();
    let expected: BTreeSet<(String, String, String)> = [
        ("ConfigMap", "web-config"),
        ("Deployment", "web"),
        ("Ingress", "web"),
        ("Secret", "web-secret"),
        ("Service", "web"),
        ("Service", "web-public"),
    ]
    .into_iter()
    .map(|(kind, name)| (kind.to_owned(), "shop".to_owned(), name.to_owned()))
    .collect();
    assert_eq!(names, expected);

    // A system namespace is read when it is named.
    let system = onboard(&kubeconfig, &Options { namespaces: vec!["kube-system".into()], selector: None });
    assert_eq!(system.iter().map(key).collect::<Vec<_>>(), vec![("ConfigMap".to_owned(), "kube-system".to_owned(), "coredns".to_owned())]);
}

#[test]
fn weft_import_from_a_cluster_makes_a_design_that_plans_as_no_change() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    user_objects(&server);
    cluster_objects(&server);

    let repo = tempfile::tempdir().unwrap();
    let design = repo.path().join("design.yaml");
    let output = weft(
        &["import", "--from-cluster", "--kubeconfig", kubeconfig.to_str().unwrap(), "--namespace", "shop", "-o", design.to_str().unwrap()],
        &repo_root(),
    );
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{said}");
    assert!(!said.contains(PASSWORD) && !said.contains(PASSWORD_BASE64), "{said}");
    // What was left out is said, counted by reason.
    assert!(said.contains("objects the cluster made (--verbose lists them):"), "{said}");
    for reason in ["owned by a controller", "service-account token", "root CA publisher", "the `default` ServiceAccount"] {
        assert!(said.lines().any(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()) && l.contains(reason)), "no count for {reason:?}: {said}");
    }
    let verbose = weft(
        &["import", "--from-cluster", "-v", "--kubeconfig", kubeconfig.to_str().unwrap(), "--namespace", "shop", "-o", design.to_str().unwrap()],
        &repo_root(),
    );
    let listed = String::from_utf8_lossy(&verbose.stderr).into_owned();
    for object in ["ReplicaSet shop/web-7d4b9c", "ConfigMap shop/kube-root-ca.crt", "ServiceAccount shop/default"] {
        assert!(listed.lines().any(|l| l.trim() == object), "{object} not listed: {listed}");
    }
    let text = std::fs::read_to_string(&design).unwrap();
    for absent in ["web-7d4b9c", "kube-root-ca.crt", "web-token", "managedFields", "resourceVersion", "last-applied-configuration"] {
        assert!(!text.contains(absent), "{absent} in the design:\n{text}");
    }
    std::fs::write(repo.path().join("weft.yaml"), "name: onboarded\n").unwrap();
    // A namespace holds no CustomResourceDefinitions: the Widget validates
    // once its CRD is in the repository too (or its model is imported).
    let mut crd = server.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", None, "widgets.example.com").unwrap();
    weft::onboard::clean(&mut crd, &Default::default());
    std::fs::write(repo.path().join("crd.yaml"), serde_saphyr::to_string(&crd).unwrap()).unwrap();
    let (code, plan, output) = weft_in(repo.path(), "plan", &kubeconfig, &[]);
    assert_eq!(code, 0, "{output}");
    // The 14 objects of the namespace (its Namespace included) and the CRD.
    let summary = &plan["summary"];
    assert_eq!((summary["create"].as_u64(), summary["error"].as_u64(), summary["update"].as_u64(), summary["adopt"].as_u64()), (Some(0), Some(0), Some(0), Some(15)), "{plan}");
    for change in plan["targets"][0]["changes"].as_array().unwrap() {
        assert_eq!(change["action"], "adopt", "{change}");
        let lines = changed_lines(change["diff"].as_str().unwrap());
        assert!(lines.iter().all(|l| l.starts_with('+') && (l.contains("labels:") || l.contains("app.kubernetes.io/managed-by: weft") || l.contains("applyset.kubernetes.io/part-of"))), "{change}");
    }
    let (code, _, output) = weft_in(repo.path(), "apply", &kubeconfig, &[]);
    assert_eq!(code, 0, "{output}");
    let (code, plan, output) = weft_in(repo.path(), "plan", &kubeconfig, &["--detailed-exitcode"]);
    assert_eq!(code, 0, "{output}");
    assert_eq!((plan["summary"]["update"].as_u64(), plan["summary"]["unchanged"].as_u64()), (Some(0), Some(15)), "{plan}");
}

#[test]
fn a_kind_the_user_may_not_list_fails_the_onboarding_instead_of_going_missing() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let error = runtime.block_on(async {
        let target = weft::cluster::Target::connect(Some(&kubeconfig), None).await.unwrap();
        for at in 0..200 {
            server.inject(weft_testserver::Fault::Status(403), at);
        }
        live_objects(&target, &Options::default()).await.unwrap_err()
    });
    assert!(error.starts_with("cannot list ") && error.contains("(403)") && error.contains("--namespace"), "{error}");
}
