//! `weft plan`, `weft apply` and `weft delete` against the in-process
//! Kubernetes API test server (`tests/testserver`), through the real binary
//! and its kube-rs client over HTTP, as against a cluster.

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use weft_testserver::{Fault, Options, TestServer, Verb};

struct Cluster {
    server: TestServer,
    _dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

fn cluster_with(options: Options) -> Cluster {
    let server = TestServer::start_with(options);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    Cluster { server, _dir: dir, kubeconfig }
}

fn cluster() -> Cluster {
    cluster_with(Options::default())
}

impl Cluster {
    /// Runs `weft COMMAND PATH --kubeconfig K ARGS...`; exit code, stdout, stderr.
    fn run(&self, command: &str, path: &Path, args: &[&str]) -> (i32, String, String) {
        let path = path.to_str().unwrap();
        let kubeconfig = self.kubeconfig.to_str().unwrap();
        let mut all = vec![command, path, "--kubeconfig", kubeconfig];
        all.extend_from_slice(args);
        let output = weft(&all, &repo_root());
        (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
    }

    fn plan_json(&self, path: &Path, args: &[&str]) -> (i32, Value) {
        let mut all = vec!["--format", "json"];
        all.extend_from_slice(args);
        let (code, out, err) = self.run("plan", path, &all);
        let value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("plan JSON ({e}): {out}\n{err}"));
        (code, value)
    }

    fn apply_json(&self, path: &Path, args: &[&str]) -> (i32, Value) {
        let mut all = vec!["--format", "json"];
        all.extend_from_slice(args);
        let (code, out, err) = self.run("apply", path, &all);
        let value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("apply JSON ({e}): {out}\n{err}"));
        (code, value)
    }
}

fn examples() -> PathBuf {
    repo_root().join("examples")
}

/// A scratch repo with the given files.
fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    std::fs::write(dir.path().join("weft.yaml"), "name: scratch\n").unwrap();
    dir
}

fn changes(plan: &Value) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = plan["targets"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["action"].as_str().unwrap().to_owned(), c["kind"].as_str().unwrap().to_owned(), c["name"].as_str().unwrap().to_owned()))
        .collect();
    out.sort();
    out
}

fn position(server: &TestServer, verb: Verb, path_suffix: &str) -> usize {
    server
        .requests()
        .iter()
        .position(|r| r.verb == verb && !r.dry_run && r.path.ends_with(path_suffix))
        .unwrap_or_else(|| panic!("no {verb:?} of {path_suffix}"))
}

#[test]
fn creates_from_empty_in_dependency_order() {
    let c = cluster();
    let (code, plan) = c.plan_json(&examples(), &["--detailed-exitcode"]);
    assert_eq!(code, 2, "{plan}");
    assert_eq!(plan["summary"]["create"], 14);
    assert!(changes(&plan).iter().all(|(action, _, _)| action == "create"));

    let (code, result) = c.apply_json(&examples(), &["--wait"]);
    assert_eq!(code, 0, "{result}");
    let steps = result["result"]["steps"].as_array().unwrap();
    assert_eq!(steps.iter().filter(|s| s["outcome"] == "applied").count(), 14, "{result}");

    let deployment = c.server.get("apps/v1", "Deployment", Some("storefront"), "frontend").expect("frontend exists");
    let managers: Vec<&str> = deployment["metadata"]["managedFields"].as_array().unwrap().iter().filter_map(|m| m["manager"].as_str()).collect();
    assert!(managers.contains(&"weft"), "{managers:?}");
    assert_eq!(deployment["metadata"]["labels"]["app.kubernetes.io/managed-by"], "weft");
    // A Meshery design component becomes an object named by displayName.
    assert!(c.server.get("apps/v1", "Deployment", Some("payments"), "payments").is_some());

    // Namespaces first; what a workload references before the workload.
    let namespace = position(&c.server, Verb::Apply, "/namespaces/storefront");
    let config = position(&c.server, Verb::Apply, "/configmaps/frontend-config");
    let account = position(&c.server, Verb::Apply, "/serviceaccounts/frontend");
    let workload = position(&c.server, Verb::Apply, "/deployments/frontend");
    assert!(namespace < config && config < workload && account < workload, "{namespace} {config} {account} {workload}");

    // The inventory lists what it holds, as an ApplySet parent.
    let parent = c.server.get("v1", "ConfigMap", Some("default"), "weft-examples").expect("inventory parent");
    let kinds = parent["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"].as_str().unwrap();
    assert!(kinds.contains("Deployment.apps") && kinds.contains("Namespace"), "{kinds}");
}

#[test]
fn a_no_op_reapply_makes_no_write_or_dry_run() {
    let c = cluster();
    assert_eq!(c.apply_json(&examples(), &[]).0, 0);
    c.server.reset_requests();
    let (code, result) = c.apply_json(&examples(), &[]);
    assert_eq!(code, 0, "{result}");
    let counts = c.server.counts();
    assert_eq!((counts.writes, counts.dry_runs), (0, 0), "{:?}", c.server.requests());
    assert_eq!(result["plan"]["summary"]["unchanged"], 14);
    let (code, plan) = c.plan_json(&examples(), &["--detailed-exitcode"]);
    assert_eq!(code, 0, "{plan}");
    assert_eq!(c.server.counts().dry_runs, 0);
}

#[test]
fn an_edited_field_is_the_only_change_and_server_defaults_are_not_drift() {
    let c = cluster();
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read_to_string(examples().join("manifests/storefront.yaml")).unwrap();
    std::fs::write(dir.path().join("storefront.yaml"), &original).unwrap();
    std::fs::write(dir.path().join("weft.yaml"), "name: shop\n").unwrap();
    assert_eq!(c.apply_json(dir.path(), &[]).0, 0);

    let image = original.lines().find(|l| l.contains("image:")).unwrap().trim().trim_start_matches("image:").trim().to_owned();
    let edited = original.replacen(&image, "ghcr.io/example/changed:2.0.0", 1);
    std::fs::write(dir.path().join("storefront.yaml"), edited).unwrap();
    c.server.reset_requests();
    let (code, plan) = c.plan_json(dir.path(), &["--detailed-exitcode"]);
    assert_eq!(code, 2, "{plan}");
    let updates: Vec<_> = changes(&plan).into_iter().filter(|(a, _, _)| a == "update").collect();
    assert_eq!(updates.len(), 1, "{plan}");
    let diff = plan["targets"][0]["changes"][0]["diff"].as_str().unwrap();
    assert!(diff.contains("-        image: ") && diff.contains("+        image: ghcr.io/example/changed:2.0.0"), "{diff}");
    for server_owned in ["imagePullPolicy", "terminationMessagePath", "managedFields", "resourceVersion", "status:"] {
        assert!(!diff.contains(server_owned), "{server_owned} in {diff}");
    }
    // Only the edited object was dry-run.
    assert_eq!(c.server.counts().dry_runs, 1);
    assert_eq!(c.server.counts().writes, 0);
}

#[test]
fn drift_by_another_manager_is_a_conflict_until_forced() {
    let c = cluster();
    assert_eq!(c.apply_json(&examples(), &[]).0, 0);
    c.server
        .apply_as(
            "kubectl-scale",
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "frontend", "namespace": "storefront"}, "spec": {"replicas": 7}}),
            true,
        )
        .unwrap();
    let (code, plan) = c.plan_json(&examples(), &["--detailed-exitcode"]);
    assert_eq!(code, 2, "{plan}");
    let change = plan["targets"][0]["changes"].as_array().unwrap().iter().find(|c| c["name"] == "frontend" && c["kind"] == "Deployment").unwrap().clone();
    assert_eq!(change["action"], "update");
    assert!(change["reason"].as_str().unwrap().contains("kubectl-scale"), "{change}");
    assert!(change["diff"].as_str().unwrap().contains("-  replicas: 7"), "{change}");
    // An offline plan finds the same conflict in the snapshot's field ownership.
    let elsewhere = tempfile::tempdir().unwrap();
    let snapshot = elsewhere.path().join("snapshot.json");
    let (code, out, err) = c.run("snapshot", &examples(), &["-o", snapshot.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let output = weft(&["plan", examples().to_str().unwrap(), "--snapshot", snapshot.to_str().unwrap(), "--format", "json"], &repo_root());
    let offline: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
    assert_eq!(offline["targets"][0]["changes"], plan["targets"][0]["changes"], "offline {offline}\nlive {plan}");

    let (code, result) = c.apply_json(&examples(), &[]);
    assert_eq!(code, 1, "{result}");
    let failed: Vec<&Value> = result["result"]["steps"].as_array().unwrap().iter().filter(|s| s["outcome"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{result}");
    assert!(failed[0]["message"].as_str().unwrap().contains("kubectl-scale"), "{result}");

    let (code, result) = c.apply_json(&examples(), &["--force-conflicts"]);
    assert_eq!(code, 0, "{result}");
    let deployment = c.server.get("apps/v1", "Deployment", Some("storefront"), "frontend").unwrap();
    assert_ne!(deployment["spec"]["replicas"], 7);
}

const CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: gear
  namespace: default
spec:
  size: 3
"#;

#[test]
fn a_crd_and_its_custom_resources_apply_in_one_run() {
    let c = cluster_with(Options { crd_establish_delay: std::time::Duration::from_millis(300), ..Options::default() });
    let dir = repo(&[("crd.yaml", CRD)]);
    let (code, plan) = c.plan_json(dir.path(), &[]);
    assert_eq!(code, 0, "{plan}");
    assert_eq!(
        changes(&plan),
        vec![("create".into(), "CustomResourceDefinition".into(), "widgets.example.com".into()), ("deferred".into(), "Widget".into(), "gear".into())]
    );
    let (code, result) = c.apply_json(dir.path(), &[]);
    assert_eq!(code, 0, "{result}");
    assert_eq!(c.server.get("example.com/v1", "Widget", Some("default"), "gear").unwrap()["spec"]["size"], 3);
    let (code, _) = c.plan_json(dir.path(), &["--detailed-exitcode"]);
    assert_eq!(code, 0);
}

const PRUNABLE: &str = "apiVersion: v1
kind: ConfigMap
metadata: {name: keep, namespace: default}
data: {a: '1'}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: gone, namespace: default}
data: {a: '1'}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: pinned
  namespace: default
  annotations: {weft.io/prune: disabled}
data: {a: '1'}
---
apiVersion: v1
kind: Namespace
metadata: {name: scratch-ns}
";

const KEEP_ONLY: &str = "apiVersion: v1
kind: ConfigMap
metadata: {name: keep, namespace: default}
data: {a: '1'}
";

fn actions_by_name(plan: &Value) -> std::collections::BTreeMap<String, String> {
    plan["targets"][0]["changes"].as_array().unwrap().iter().map(|c| (c["name"].as_str().unwrap().to_owned(), c["action"].as_str().unwrap().to_owned())).collect()
}

#[test]
fn prune_deletes_only_what_it_may() {
    let c = cluster_with(Options { namespace_delete_delay: std::time::Duration::ZERO, ..Options::default() });
    let dir = repo(&[("objects.yaml", PRUNABLE)]);
    assert_eq!(c.apply_json(dir.path(), &[]).0, 0);
    // An object weft did not apply is never pruned.
    c.server.update_as("kubectl", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "foreign", "namespace": "default"}})).unwrap();
    std::fs::write(dir.path().join("objects.yaml"), KEEP_ONLY).unwrap();

    let (_, plan) = c.plan_json(dir.path(), &[]);
    let actions = actions_by_name(&plan);
    assert_eq!(actions["gone"], "retain", "without --prune: {plan}");
    assert!(!actions.contains_key("foreign"));

    let (_, plan) = c.plan_json(dir.path(), &["--prune"]);
    let actions = actions_by_name(&plan);
    assert_eq!(actions["gone"], "delete");
    assert_eq!(actions["pinned"], "retain");
    assert_eq!(actions["scratch-ns"], "retain", "protected kind: {plan}");

    let (_, plan) = c.plan_json(dir.path(), &["--prune", "--max-deletes", "0"]);
    assert_eq!(actions_by_name(&plan)["gone"], "retain", "over the cap nothing is pruned");

    let (code, result) = c.apply_json(dir.path(), &["--prune"]);
    assert_eq!(code, 0, "{result}");
    assert!(c.server.get("v1", "ConfigMap", Some("default"), "gone").is_none());
    assert!(c.server.get("v1", "ConfigMap", Some("default"), "pinned").is_some());
    assert!(c.server.get("v1", "ConfigMap", Some("default"), "foreign").is_some());
    assert!(c.server.get("v1", "Namespace", None, "scratch-ns").is_some());

    let (code, _) = c.apply_json(dir.path(), &["--prune", "--prune-protected"]);
    assert_eq!(code, 0);
    assert!(c.server.get("v1", "Namespace", None, "scratch-ns").is_none());

    // An empty desired set never prunes without --allow-empty.
    std::fs::write(dir.path().join("objects.yaml"), "").unwrap();
    let (_, plan) = c.plan_json(dir.path(), &["--prune"]);
    assert_eq!(actions_by_name(&plan)["keep"], "retain", "{plan}");
    let (_, plan) = c.plan_json(dir.path(), &["--prune", "--allow-empty"]);
    assert_eq!(actions_by_name(&plan)["keep"], "delete", "{plan}");

    // weft delete removes what weft applied, with the same protections.
    std::fs::write(dir.path().join("objects.yaml"), KEEP_ONLY).unwrap();
    let (code, out, err) = c.run("delete", dir.path(), &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(c.server.get("v1", "ConfigMap", Some("default"), "keep").is_none());
    assert!(c.server.get("v1", "ConfigMap", Some("default"), "pinned").is_some());
}

const SECRET: &str = "apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: default
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{\"stringData\":{\"password\":\"hunter2-very-secret\"}}'
stringData:
  password: hunter2-very-secret
";

#[test]
fn secret_values_never_appear_in_plans() {
    let c = cluster();
    let dir = repo(&[("secret.yaml", SECRET)]);
    let encoded = "aHVudGVyMi12ZXJ5LXNlY3JldA==";
    for format in ["text", "json", "markdown"] {
        let (_, out, _) = c.run("plan", dir.path(), &["--format", format]);
        assert!(!out.contains("hunter2") && !out.contains(encoded), "{format}: {out}");
        assert!(out.contains("sha256:"), "{format}: {out}");
    }
    assert_eq!(c.apply_json(dir.path(), &[]).0, 0);
    std::fs::write(dir.path().join("secret.yaml"), SECRET.replace("hunter2-very-secret", "swordfish-other")).unwrap();
    let (code, out, _) = c.run("plan", dir.path(), &["--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("~ update Secret default/db"), "{out}");
    assert!(out.contains("-  password: sha256:") && out.contains("+  password: sha256:"), "{out}");
    for secret in ["hunter2", "swordfish", encoded] {
        assert!(!out.contains(secret), "{out}");
    }
}

#[test]
fn a_fault_at_any_request_loses_nothing_and_a_rerun_converges() {
    let dir = repo(&[("objects.yaml", PRUNABLE)]);
    // How many requests a clean apply makes.
    let clean = cluster();
    assert_eq!(clean.apply_json(dir.path(), &[]).0, 0);
    let total = clean.server.requests().len();
    assert!(total >= 8, "{total}");
    for fault in [Fault::Status(500), Fault::Status(409), Fault::DropConnection, Fault::Status(429)] {
        for at in 0..total {
            let c = cluster();
            c.server.inject(fault.clone(), at);
            let (code, out, err) = c.run("apply", dir.path(), &["--format", "json"]);
            if code == 0 || code == 1 {
                let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{fault:?}@{at}: {e}: {out}{err}"));
                // What the report calls applied is on the server.
                for step in report["result"]["steps"].as_array().unwrap() {
                    if step["outcome"] == "applied" {
                        let ns = step["namespace"].as_str();
                        assert!(
                            c.server.get(step["apiVersion"].as_str().unwrap(), step["kind"].as_str().unwrap(), ns, step["name"].as_str().unwrap()).is_some(),
                            "{fault:?}@{at}: reported applied but missing: {step}"
                        );
                    }
                }
            } else {
                assert_eq!(code, 2, "{fault:?}@{at}: {out}{err}");
                assert!(err.contains("weft: error:"), "{fault:?}@{at}: {err}");
            }
            let (code, result) = c.apply_json(dir.path(), &[]);
            assert_eq!(code, 0, "{fault:?}@{at}: re-run did not converge: {result}");
            let (code, plan) = c.plan_json(dir.path(), &["--detailed-exitcode"]);
            assert_eq!(code, 0, "{fault:?}@{at}: {plan}");
            for name in ["keep", "gone", "pinned"] {
                assert!(c.server.get("v1", "ConfigMap", Some("default"), name).is_some(), "{fault:?}@{at}: {name}");
            }
        }
    }
}

#[test]
fn readiness_by_kind() {
    use weft::reconcile::{Readiness, readiness};
    let rolling = json!({"metadata": {"generation": 2}, "spec": {"replicas": 3}, "status": {"observedGeneration": 2, "updatedReplicas": 3, "availableReplicas": 2}});
    assert!(matches!(readiness("Deployment", &rolling), Readiness::Pending(_)));
    let done = json!({"metadata": {"generation": 2}, "spec": {"replicas": 3}, "status": {"observedGeneration": 2, "updatedReplicas": 3, "availableReplicas": 3}});
    assert_eq!(readiness("Deployment", &done), Readiness::Ready);
    let stale = json!({"metadata": {"generation": 3}, "spec": {"replicas": 3}, "status": {"observedGeneration": 2, "updatedReplicas": 3, "availableReplicas": 3}});
    assert!(matches!(readiness("Deployment", &stale), Readiness::Pending(_)));
    let stuck = json!({"metadata": {"generation": 1}, "status": {"conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}});
    assert!(matches!(readiness("Deployment", &stuck), Readiness::Failed(_)));
    assert!(matches!(readiness("Job", &json!({"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}})), Readiness::Failed(_)));
    assert!(matches!(readiness("PersistentVolumeClaim", &json!({"status": {"phase": "Pending"}})), Readiness::Pending(_)));
    assert!(matches!(readiness("Service", &json!({"spec": {"type": "LoadBalancer"}, "status": {}})), Readiness::Pending(_)));
    assert_eq!(readiness("Widget", &json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}})), Readiness::Ready);
}

#[test]
fn wait_follows_a_rollout_the_test_drives() {
    let c = cluster_with(Options { auto_ready: false, ..Options::default() });
    let dir = repo(&[(
        "app.yaml",
        "apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.27}]
",
    )]);
    let kubeconfig = c.kubeconfig.clone();
    let path = dir.path().to_path_buf();
    let child = std::thread::spawn(move || {
        weft(&["apply", path.to_str().unwrap(), "--kubeconfig", kubeconfig.to_str().unwrap(), "--wait", "--timeout", "20s"], &repo_root())
    });
    // Wait for the apply, then complete the rollout.
    let started = std::time::Instant::now();
    while c.server.get("apps/v1", "Deployment", Some("default"), "web").is_none() {
        assert!(started.elapsed().as_secs() < 20, "never applied");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!child.is_finished(), "apply returned before the rollout completed");
    c.server.set_status(
        "apps/v1",
        "Deployment",
        Some("default"),
        "web",
        json!({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}),
    );
    let output = child.join().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn an_offline_plan_from_a_snapshot_equals_the_live_plan() {
    let c = cluster();
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read_to_string(examples().join("manifests/storefront.yaml")).unwrap();
    std::fs::write(dir.path().join("storefront.yaml"), &original).unwrap();
    std::fs::write(dir.path().join("secret.yaml"), SECRET).unwrap();
    std::fs::write(dir.path().join("extra.yaml"), KEEP_ONLY).unwrap();
    std::fs::write(dir.path().join("weft.yaml"), "name: shop\n").unwrap();
    assert_eq!(c.apply_json(dir.path(), &[]).0, 0);

    // Edits of every sort: a container field, a list item, a label removed,
    // a Secret value, an object gone (prune), an object added.
    let image = original.lines().find(|l| l.contains("image:")).unwrap().trim().trim_start_matches("image:").trim().to_owned();
    let edited = original.replacen(&image, "ghcr.io/example/changed:2.0.0", 1).replacen("replicas: 2", "replicas: 4", 1);
    std::fs::write(dir.path().join("storefront.yaml"), edited).unwrap();
    std::fs::write(dir.path().join("secret.yaml"), SECRET.replace("hunter2-very-secret", "swordfish-other")).unwrap();
    std::fs::write(dir.path().join("extra.yaml"), KEEP_ONLY.replace("keep", "added")).unwrap();

    let elsewhere = tempfile::tempdir().unwrap();
    let snapshot = elsewhere.path().join("snapshot.json");
    let (code, out, err) = c.run("snapshot", dir.path(), &["-o", snapshot.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let text = std::fs::read_to_string(&snapshot).unwrap();
    assert!(!text.contains("hunter2") && !text.contains("aHVudGVyMi12ZXJ5LXNlY3JldA=="), "snapshot leaks a Secret");
    assert!(text.contains("managedFields"), "field ownership recorded");

    let (live_code, live) = c.plan_json(dir.path(), &["--prune", "--detailed-exitcode"]);
    c.server.reset_requests();
    let output = weft(
        &["plan", dir.path().to_str().unwrap(), "--snapshot", snapshot.to_str().unwrap(), "--prune", "--format", "json", "--detailed-exitcode"],
        &repo_root(),
    );
    assert_eq!(c.server.requests().len(), 0, "an offline plan makes no request");
    let offline: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
    assert_eq!(output.status.code(), Some(live_code));
    assert_eq!(live_code, 2);
    assert_eq!(offline["summary"], live["summary"], "offline {offline}\nlive {live}");
    assert_eq!(offline["targets"][0]["changes"], live["targets"][0]["changes"]);
    let names = changes(&live);
    assert!(names.contains(&("create".into(), "ConfigMap".into(), "added".into())), "{names:?}");
    assert!(names.contains(&("delete".into(), "ConfigMap".into(), "keep".into())), "{names:?}");
    assert!(names.contains(&("update".into(), "Secret".into(), "db".into())), "{names:?}");

    // Not a snapshot: a clear error.
    std::fs::write(&snapshot, "{}").unwrap();
    let output = weft(&["plan", dir.path().to_str().unwrap(), "--snapshot", snapshot.to_str().unwrap()], &repo_root());
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a weft snapshot"));
}

const ROUTE: &str = "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: shop
  namespace: default
spec:
  hostnames: [shop.example.com]
  rules:
  - backendRefs:
    - name: web
      port: 80
";

/// The HTTPRoute CRD as Gateway API ships it (the shipped model's source).
fn httproute_crd() -> String {
    let all = std::fs::read_to_string(repo_root().join("models/sources/crds/gateway-api-v1.6.1.yaml")).unwrap();
    let crd = all.split("\n---").find(|doc| doc.contains("name: httproutes.gateway.networking.k8s.io")).expect("the HTTPRoute CRD");
    crd.to_owned()
}

#[test]
fn an_offline_plan_fills_what_the_crd_schema_defaults() {
    let c = cluster();
    let dir = repo(&[("crd.yaml", &httproute_crd()), ("route.yaml", ROUTE)]);
    let (code, result) = c.apply_json(dir.path(), &[]);
    assert_eq!(code, 0, "{result}");
    let stored = c.server.get("gateway.networking.k8s.io/v1", "HTTPRoute", Some("default"), "shop").expect("route");
    assert_eq!(stored["spec"]["rules"][0]["backendRefs"][0]["weight"], 1, "the server defaulted from the CRD: {stored}");

    // A new rule: its match type and its backend's weight, kind and group
    // are the CRD's defaults, which a live dry-run shows.
    let edited = format!("{ROUTE}  - matches:\n    - path:\n        value: /api\n    backendRefs:\n    - name: api\n      port: 8080\n");
    std::fs::write(dir.path().join("route.yaml"), edited).unwrap();
    let snapshot = dir.path().join("snapshot.json.out");
    let (code, out, err) = c.run("snapshot", dir.path(), &["-o", snapshot.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let (_, live) = c.plan_json(dir.path(), &[]);
    let output = weft(&["plan", dir.path().to_str().unwrap(), "--snapshot", snapshot.to_str().unwrap(), "--format", "json"], &repo_root());
    let offline: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
    let route = |plan: &Value| plan["targets"][0]["changes"].as_array().unwrap().iter().find(|c| c["kind"] == "HTTPRoute").cloned().unwrap();
    let (live_route, offline_route) = (route(&live), route(&offline));
    assert_eq!(live_route["action"], "update", "{live}");
    let diff = live_route["diff"].as_str().unwrap();
    let added = |text: &str| diff.lines().any(|l| l.starts_with('+') && l.trim_start_matches('+').trim() == text);
    assert!(added("type: PathPrefix") && added("weight: 1") && added("kind: Service"), "{diff}");
    assert_eq!(offline_route, live_route, "offline {offline}\nlive {live}");
}

#[test]
fn an_environment_applies_to_each_cluster_independently() {
    let (a, b) = (TestServer::start(), TestServer::start());
    // A context whose server is gone: reported, and the others still run.
    let down = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let dir = repo(&[(
        "app.yaml",
        "apiVersion: v1
kind: Namespace
metadata: {name: staging}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: default}
data: {mode: fast}
",
    )]);
    let mut kubeconfig = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
    for (name, url) in [("a", a.url()), ("down", format!("http://{down}")), ("b", b.url())] {
        kubeconfig.push_str(&format!("- name: {name}\n  cluster: {{server: \"{url}\"}}\n"));
    }
    kubeconfig.push_str("users:\n- name: nobody\n  user: {}\ncontexts:\n");
    for name in ["a", "down", "b"] {
        kubeconfig.push_str(&format!("- name: {name}\n  context: {{cluster: {name}, user: nobody}}\n"));
    }
    kubeconfig.push_str("current-context: a\n");
    std::fs::write(dir.path().join("clusters.kubeconfig"), kubeconfig).unwrap();
    std::fs::write(
        dir.path().join("weft.yaml"),
        "name: envs\nenvironments:\n  staging:\n    contexts: [a, down, b]\n    kubeconfig: clusters.kubeconfig\n    namespace: staging\n",
    )
    .unwrap();
    let output = weft(&["apply", dir.path().to_str().unwrap(), "--env", "staging"], &repo_root());
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("down"), "{stderr}");
    for server in [&a, &b] {
        let settings = server.get("v1", "ConfigMap", Some("staging"), "settings").expect("moved into the environment's namespace");
        assert_eq!(settings["data"]["mode"], "fast");
        assert!(server.get("v1", "ConfigMap", Some("default"), "settings").is_none());
    }
    assert!(stdout.contains("a: 2 applied") && stdout.contains("b: 2 applied"), "{stdout}");
    let output = weft(&["plan", dir.path().to_str().unwrap(), "--env", "nowhere"], &repo_root());
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no environment `nowhere`"));
}

#[test]
fn plan_and_apply_output_is_stable() {
    let c = cluster();
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read_to_string(examples().join("manifests/storefront.yaml")).unwrap();
    std::fs::write(dir.path().join("storefront.yaml"), &original).unwrap();
    std::fs::write(dir.path().join("secret.yaml"), SECRET).unwrap();
    std::fs::write(dir.path().join("weft.yaml"), "name: golden\n").unwrap();
    let (_, out, _) = c.run("plan", dir.path(), &[]);
    assert_golden("cli/plan-create.txt", &out);
    let (code, out, _) = c.run("apply", dir.path(), &[]);
    assert_eq!(code, 0);
    assert_golden("cli/apply-create.txt", &out);

    let image = original.lines().find(|l| l.contains("image:")).unwrap().trim().trim_start_matches("image:").trim().to_owned();
    std::fs::write(dir.path().join("storefront.yaml"), original.replacen(&image, "ghcr.io/example/changed:2.0.0", 1)).unwrap();
    std::fs::write(dir.path().join("secret.yaml"), SECRET.replace("hunter2-very-secret", "swordfish-other")).unwrap();
    for (format, golden) in [("text", "plan-update.txt"), ("markdown", "plan-update.md"), ("json", "plan-update.json")] {
        let (_, out, _) = c.run("plan", dir.path(), &["--format", format]);
        assert_golden(&format!("cli/{golden}"), &out);
    }
}

#[test]
fn an_unserved_kind_fails_with_its_reason_and_the_rest_applies() {
    let c = cluster();
    let dir = repo(&[(
        "mesh.yaml",
        "apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: default}
data: {mode: fast}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews}}]}]
",
    )]);
    let (code, result) = c.apply_json(dir.path(), &[]);
    assert_eq!(code, 1, "{result}");
    let steps = result["result"]["steps"].as_array().unwrap();
    let failed = steps.iter().find(|s| s["kind"] == "VirtualService").unwrap();
    assert_eq!(failed["outcome"], "failed");
    assert!(failed["message"].as_str().unwrap().contains("does not serve networking.istio.io/v1 VirtualService"), "{failed}");
    assert!(steps.iter().any(|s| s["kind"] == "ConfigMap" && s["outcome"] == "applied"), "{result}");
}
