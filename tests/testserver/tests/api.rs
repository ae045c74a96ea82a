//! The server over HTTP: discovery, CRUD, server-side apply, dry-run,
//! watches, CRDs, faults, defaulting and status simulation.

mod common;

use std::time::Duration;

use common::{Client, ev};
use serde_json::{Value, json};
use weft_testserver::{Fault, Options, TestServer, Verb};

const AGG: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

fn client(s: &TestServer) -> Client {
    Client::new(&s.url())
}

const DEPLOY: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 80}]
"#;
const DEPLOY_PATH: &str = "/apis/apps/v1/namespaces/default/deployments/web";

fn rv(v: &Value) -> String {
    v["metadata"]["resourceVersion"].as_str().unwrap().to_string()
}

#[test]
fn discovery_legacy_and_aggregated() {
    let s = TestServer::start();
    let c = client(&s);
    let api = c.get("/api").json();
    assert_eq!(api["kind"], "APIVersions");
    assert_eq!(api["versions"], json!(["v1"]));
    let v1 = c.get("/api/v1").json();
    assert_eq!(v1["kind"], "APIResourceList");
    let names: Vec<&str> = v1["resources"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    for n in ["namespaces", "namespaces/status", "configmaps", "secrets", "services", "services/status", "pods", "events"] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    let apis = c.get("/apis").json();
    assert_eq!(apis["kind"], "APIGroupList");
    let apps = apis["groups"].as_array().unwrap().iter().find(|g| g["name"] == "apps").unwrap();
    assert_eq!(apps["preferredVersion"]["groupVersion"], "apps/v1");
    let appsv1 = c.get("/apis/apps/v1").json();
    let dep = appsv1["resources"].as_array().unwrap().iter().find(|r| r["name"] == "deployments").unwrap();
    assert_eq!(dep["kind"], "Deployment");
    assert_eq!(dep["namespaced"], true);
    assert_eq!(dep["shortNames"], json!(["deploy"]));
    assert_eq!(c.get("/apis/nope.example.com/v1").status, 404);

    // Aggregated.
    let r = c.request("GET", "/apis", &[("Accept", AGG)], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"));
    let doc = r.json();
    assert_eq!(doc["kind"], "APIGroupDiscoveryList");
    assert_eq!(doc["apiVersion"], "apidiscovery.k8s.io/v2");
    let apps = doc["items"].as_array().unwrap().iter().find(|g| g["metadata"]["name"] == "apps").unwrap();
    let v = &apps["versions"][0];
    assert_eq!(v["version"], "v1");
    assert_eq!(v["freshness"], "Current");
    let d = v["resources"].as_array().unwrap().iter().find(|r| r["resource"] == "deployments").unwrap();
    assert_eq!(d["responseKind"], json!({"group": "apps", "version": "v1", "kind": "Deployment"}));
    assert_eq!(d["scope"], "Namespaced");
    assert_eq!(d["singularResource"], "deployment");
    assert_eq!(d["subresources"][0]["subresource"], "status");
    let rbac = doc["items"].as_array().unwrap().iter().find(|g| g["metadata"]["name"] == "rbac.authorization.k8s.io").unwrap();
    let cr = rbac["versions"][0]["resources"].as_array().unwrap().iter().find(|r| r["resource"] == "clusterroles").unwrap();
    assert_eq!(cr["scope"], "Cluster");
    let core = c.request("GET", "/api", &[("Accept", AGG)], b"").json();
    assert_eq!(core["items"][0]["metadata"]["name"], "");
    assert!(core["items"][0]["versions"][0]["resources"].as_array().unwrap().iter().any(|r| r["resource"] == "configmaps"));
    let beta = c.request("GET", "/apis", &[("Accept", "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList")], b"");
    assert_eq!(beta.json()["apiVersion"], "apidiscovery.k8s.io/v2beta1");
    assert_eq!(c.get("/version").json()["major"], "1");
    assert_eq!(c.get("/healthz").body, b"ok");
    let counts = s.counts();
    assert!(counts.by_verb["discovery"] >= 8, "{counts:?}");
}

#[test]
fn crud_and_errors() {
    let s = TestServer::start();
    let c = client(&s);
    let cms = "/api/v1/namespaces/default/configmaps";
    let r = c.post(cms, &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "labels": {"tier": "fe"}}, "data": {"k": "v"}}));
    assert_eq!(r.status, 201);
    let a = r.json();
    assert_eq!(a["metadata"]["namespace"], "default");
    assert!(a["metadata"]["uid"].as_str().unwrap().len() == 36);
    assert!(a["metadata"]["creationTimestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(a["metadata"]["managedFields"][0]["manager"], "testclient");
    assert_eq!(a["metadata"]["managedFields"][0]["operation"], "Update");
    let r = c.post(cms, &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}));
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["reason"], "AlreadyExists");
    let r = c.post(cms, &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-"}}));
    assert_eq!(r.status, 201);
    assert!(r.json()["metadata"]["name"].as_str().unwrap().starts_with("gen-"));
    let r = c.post(cms, &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}));
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["reason"], "Invalid");

    // Missing namespace.
    let r = c.post("/api/v1/namespaces/nope/configmaps", &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}));
    assert_eq!(r.status, 404);
    let st = r.json();
    assert_eq!(st["kind"], "Status");
    assert_eq!(st["reason"], "NotFound");
    assert_eq!(st["message"], "namespaces \"nope\" not found");
    assert_eq!(st["details"], json!({"name": "nope", "kind": "namespaces"}));

    // Get, list, selectors.
    assert_eq!(c.get(&format!("{cms}/a")).json()["data"]["k"], "v");
    let nf = c.get(&format!("{cms}/zz"));
    assert_eq!(nf.status, 404);
    assert_eq!(nf.json()["message"], "configmaps \"zz\" not found");
    let l = c.get(cms).json();
    assert_eq!(l["kind"], "ConfigMapList");
    assert_eq!(l["items"].as_array().unwrap().len(), 2);
    assert_eq!(c.get(&format!("{cms}?labelSelector=tier%3Dfe")).json()["items"].as_array().unwrap().len(), 1);
    assert_eq!(c.get(&format!("{cms}?labelSelector=tier%20notin%20(fe)")).json()["items"].as_array().unwrap().len(), 1);
    assert_eq!(c.get(&format!("{cms}?fieldSelector=metadata.name%3Da")).json()["items"].as_array().unwrap().len(), 1);
    assert_eq!(c.get("/api/v1/configmaps").json()["items"].as_array().unwrap().len(), 2);
    let page = c.get(&format!("{cms}?limit=1")).json();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let cont = page["metadata"]["continue"].as_str().unwrap();
    assert_eq!(c.get(&format!("{cms}?limit=1&continue={cont}")).json()["items"].as_array().unwrap().len(), 1);

    // Update with a stale resourceVersion.
    let mut upd = a.clone();
    upd["data"]["k"] = json!("w");
    let r = c.put(&format!("{cms}/a"), &upd);
    assert_eq!(r.status, 200);
    let newer = r.json();
    assert_ne!(rv(&newer), rv(&a));
    let r = c.put(&format!("{cms}/a"), &upd);
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["reason"], "Conflict");
    assert!(r.json()["message"].as_str().unwrap().contains("the object has been modified; please apply your changes to the latest version and try again"));

    // Patches.
    let r = c.patch(&format!("{cms}/a"), "application/merge-patch+json", r#"{"data":{"k2":"x","k":null}}"#);
    assert_eq!(r.json()["data"], json!({"k2": "x"}));
    let r = c.patch(&format!("{cms}/a"), "application/json-patch+json", r#"[{"op":"add","path":"/data/k3","value":"y"}]"#);
    assert_eq!(r.json()["data"], json!({"k2": "x", "k3": "y"}));
    let r = c.patch(&format!("{cms}/a"), "application/strategic-merge-patch+json", r#"{"data":{"k4":"z"}}"#);
    assert_eq!(r.json()["data"]["k4"], "z");

    // Delete.
    let r = c.delete(&format!("{cms}/a"));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["metadata"]["name"], "a");
    assert_eq!(c.get(&format!("{cms}/a")).status, 404);
    assert_eq!(c.delete(&format!("{cms}/a")).status, 404);

    // Cluster-scoped; namespace deletion removes contents.
    let r = c.post("/api/v1/namespaces", &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}));
    assert_eq!(r.status, 201);
    let ns = r.json();
    assert_eq!(ns["status"]["phase"], "Active");
    assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "shop");
    assert_eq!(c.post("/api/v1/namespaces/shop/configmaps", &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})).status, 201);
    let r = c.delete("/api/v1/namespaces/shop");
    assert_eq!(r.json()["status"]["phase"], "Terminating");
    assert_eq!(c.post("/api/v1/namespaces/shop/configmaps", &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "y"}})).status, 403);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while c.get("/api/v1/namespaces/shop").status != 404 {
        assert!(std::time::Instant::now() < deadline, "namespace not removed");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(s.get("v1", "ConfigMap", Some("shop"), "x").is_none());

    // Table.
    let t = c.request("GET", "/api/v1/namespaces", &[("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")], b"").json();
    assert_eq!(t["kind"], "Table");
    assert_eq!(t["rows"].as_array().unwrap().len(), 4);
}

#[test]
fn server_side_apply() {
    let s = TestServer::start_with(Options { auto_ready: false, ..Default::default() });
    let c = client(&s);
    let r = c.apply(DEPLOY_PATH, "weft", false, DEPLOY);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let d = r.json();
    let mf = &d["metadata"]["managedFields"];
    assert_eq!(mf.as_array().unwrap().len(), 1);
    assert_eq!(mf[0]["manager"], "weft");
    assert_eq!(mf[0]["operation"], "Apply");
    assert_eq!(mf[0]["fieldsType"], "FieldsV1");
    let f = &mf[0]["fieldsV1"];
    assert_eq!(f["f:metadata"], json!({"f:labels": {"f:app": {}}}));
    assert_eq!(
        f["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"],
        json!({".": {}, "f:image": {}, "f:name": {}, "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}})
    );
    // Defaults are not owned by the applier.
    assert!(f["f:spec"].get("f:revisionHistoryLimit").is_none());
    assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
    assert_eq!(d["metadata"]["generation"], 1);

    // Re-apply: no-op, resourceVersion unchanged.
    let again = c.apply(DEPLOY_PATH, "weft", false, DEPLOY).json();
    assert_eq!(rv(&again), rv(&d));
    assert_eq!(again["metadata"]["managedFields"], d["metadata"]["managedFields"]);

    // Another manager changes replicas → conflict for weft.
    s.update_as("kubectl-scale", {
        let mut o = s.get("apps/v1", "Deployment", Some("default"), "web").unwrap();
        o["spec"]["replicas"] = json!(5);
        o
    })
    .unwrap();
    let r = c.apply(DEPLOY_PATH, "weft", false, DEPLOY);
    assert_eq!(r.status, 409);
    let st = r.json();
    assert_eq!(st["reason"], "Conflict");
    assert_eq!(st["message"], "Apply failed with 1 conflict: conflict with \"kubectl-scale\" using apps/v1: .spec.replicas");
    assert_eq!(st["details"]["causes"], json!([{"reason": "FieldManagerConflict", "message": "conflict with \"kubectl-scale\" using apps/v1", "field": ".spec.replicas"}]));
    assert_eq!(s.get("apps/v1", "Deployment", Some("default"), "web").unwrap()["spec"]["replicas"], 5);
    // Force takes ownership.
    let r = c.apply(DEPLOY_PATH, "weft", true, DEPLOY);
    assert_eq!(r.status, 200);
    let d = r.json();
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(d["metadata"]["generation"], 3);
    assert!(d["metadata"]["managedFields"].as_array().unwrap().iter().all(|e| e["manager"] != "kubectl-scale"));

    // Shared ownership: same value, no conflict; both own it.
    let other = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"default"},"spec":{"replicas":2}}"#;
    let r = c.apply(DEPLOY_PATH, "helm", false, other);
    assert_eq!(r.status, 200);
    let shared = r.json();
    let owners: Vec<&str> = shared["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["fieldsV1"]["f:spec"].get("f:replicas").is_some())
        .map(|e| e["manager"].as_str().unwrap())
        .collect();
    assert_eq!(owners, ["weft", "helm"]);
    // A different value from helm conflicts with weft.
    let r = c.apply(DEPLOY_PATH, "helm", false, &other.replace("\"replicas\":2", "\"replicas\":3"));
    assert_eq!(r.status, 409);
    assert!(r.json()["message"].as_str().unwrap().contains("conflict with \"weft\" using apps/v1: .spec.replicas"));

    // Field removal: weft drops the label and replicas; replicas stays (helm owns it), the label goes.
    let reduced = DEPLOY.replace("  labels: {app: web}\n", "").replace("  replicas: 2\n", "");
    let d = c.apply(DEPLOY_PATH, "weft", false, &reduced).json();
    assert!(d["metadata"].get("labels").is_none(), "{}", d["metadata"]);
    assert_eq!(d["spec"]["replicas"], 2);
    // Dropping a container port removes it.
    let noport = reduced.replace("        ports: [{containerPort: 80}]\n", "");
    let d = c.apply(DEPLOY_PATH, "weft", false, &noport).json();
    assert!(d["spec"]["template"]["spec"]["containers"][0].get("ports").is_none(), "{}", d["spec"]);

    // Missing fieldManager.
    let r = c.patch(DEPLOY_PATH, "application/apply-patch+yaml", DEPLOY);
    assert_eq!(r.status, 400);

    // apply_as from the test.
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}, "data": {"a": "1"}});
    let created = s.apply_as("controller", cm.clone(), false).unwrap();
    assert_eq!(created["metadata"]["managedFields"][0]["manager"], "controller");
    let r = c.apply("/api/v1/namespaces/default/configmaps/c", "weft", false, r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"2"}}"#);
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["details"]["causes"][0]["field"], ".data.a");
}

#[test]
fn dry_run_stores_nothing() {
    let s = TestServer::start();
    let c = client(&s);
    let before = s.counts();
    assert_eq!(before.total, 0);
    let r = c.apply(&format!("{DEPLOY_PATH}?dryRun=All"), "weft", false, DEPLOY);
    assert_eq!(r.status, 201);
    let d = r.json();
    assert_eq!(d["spec"]["strategy"]["type"], "RollingUpdate");
    assert!(d["metadata"].get("resourceVersion").is_none());
    assert!(s.get("apps/v1", "Deployment", Some("default"), "web").is_none());
    let r = c.request(
        "POST",
        "/api/v1/namespaces/default/configmaps?dryRun=All",
        &[("Content-Type", "application/json")],
        br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}"#,
    );
    assert_eq!(r.status, 201);
    assert!(s.get("v1", "ConfigMap", Some("default"), "x").is_none());
    // Resource version not consumed: the next real write gets the next number.
    let list_rv = c.get("/api/v1/namespaces/default/configmaps").json()["metadata"]["resourceVersion"].as_str().unwrap().parse::<u64>().unwrap();
    let real = c.apply(DEPLOY_PATH, "weft", false, DEPLOY).json();
    assert_eq!(rv(&real).parse::<u64>().unwrap(), list_rv + 1);
    // Dry-run conflicts are reported too.
    s.apply_as("other", json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"}, "spec": {"replicas": 7}}), true).unwrap();
    let r = c.apply(&format!("{DEPLOY_PATH}?dryRun=All"), "weft", false, DEPLOY);
    assert_eq!(r.status, 409);
    let r = c.request("DELETE", &format!("{DEPLOY_PATH}?dryRun=All"), &[], b"");
    assert_eq!(r.status, 200);
    assert!(s.get("apps/v1", "Deployment", Some("default"), "web").is_some());
    let counts = s.counts();
    assert_eq!(counts.dry_runs, 4, "{counts:?}");
    assert_eq!(counts.writes, 1, "{counts:?}");
    assert!(s.requests().iter().filter(|r| r.verb == Verb::Apply).all(|r| r.field_manager.as_deref() == Some("weft")));
}

#[test]
fn watch_events() {
    let s = TestServer::start_with(Options { auto_ready: false, ..Default::default() });
    let c = client(&s);
    let cms = "/api/v1/namespaces/default/configmaps";
    c.post(cms, &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "pre"}}));
    let list = c.get(cms).json();
    let list_rv = list["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    let t = Duration::from_secs(3);

    // From a resourceVersion: later changes only.
    let mut w = c.watch(&format!("{cms}?watch=true&resourceVersion={list_rv}&allowWatchBookmarks=true"));
    // Initial events, then a bookmark marking their end.
    let mut wi = c.watch(&format!("{cms}?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"));
    assert_eq!(ev(&wi.next(t).unwrap()), ("ADDED".into(), "pre".into()));
    let bm = wi.next(t).unwrap();
    assert_eq!(bm["type"], "BOOKMARK");
    assert_eq!(bm["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
    assert_eq!(bm["object"]["metadata"]["resourceVersion"], list_rv.as_str());
    // Label-selected watch.
    let mut wl = c.watch(&format!("{cms}?watch=true&resourceVersion={list_rv}&labelSelector=app%3Dx"));

    c.post(cms, &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}));
    c.patch(&format!("{cms}/a"), "application/merge-patch+json", r#"{"metadata":{"labels":{"app":"x"}}}"#);
    c.delete(&format!("{cms}/a"));
    let events: Vec<(String, String)> = (0..3).map(|_| ev(&w.next(t).expect("event"))).collect();
    assert_eq!(events, [("ADDED".into(), "a".into()), ("MODIFIED".into(), "a".into()), ("DELETED".into(), "a".into())]);
    let events: Vec<(String, String)> = (0..3).map(|_| ev(&wi.next(t).expect("event"))).collect();
    assert_eq!(events[0].0, "ADDED");
    // Entering the selector shows as ADDED.
    assert_eq!(ev(&wl.next(t).unwrap()), ("ADDED".into(), "a".into()));
    assert_eq!(ev(&wl.next(t).unwrap()), ("DELETED".into(), "a".into()));

    // Replay from an older resourceVersion.
    let mut replay = c.watch(&format!("{cms}?watch=true&resourceVersion={list_rv}"));
    let events: Vec<String> = (0..3).map(|_| ev(&replay.next(t).unwrap()).0).collect();
    assert_eq!(events, ["ADDED", "MODIFIED", "DELETED"]);

    // set_status emits MODIFIED.
    let ns = "/api/v1/namespaces";
    let nl = c.get(ns).json();
    let mut wn = c.watch(&format!("{ns}?watch=true&resourceVersion={}&fieldSelector=metadata.name%3Ddefault", nl["metadata"]["resourceVersion"].as_str().unwrap()));
    s.set_status("v1", "Namespace", None, "default", json!({"phase": "Active", "extra": 1}));
    let e = wn.next(t).unwrap();
    assert_eq!(ev(&e), ("MODIFIED".into(), "default".into()));
    assert_eq!(e["object"]["status"]["extra"], 1);

    // timeoutSeconds ends the stream.
    let mut wt = c.watch(&format!("{cms}?watch=true&resourceVersion={list_rv}&timeoutSeconds=1&labelSelector=none%3Dnone"));
    let start = std::time::Instant::now();
    assert!(wt.next(Duration::from_secs(5)).is_none());
    assert!(start.elapsed() < Duration::from_secs(4));
}

#[test]
fn crds_extend_discovery() {
    let s = TestServer::start_with(Options { crd_establish_delay: Duration::from_millis(300), ..Default::default() });
    let c = client(&s);
    let crd = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
    subresources: {status: {}}
"#;
    let r = c.apply("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com", "weft", false, crd);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let widgets = "/apis/example.com/v1/namespaces/default/widgets";
    // Not established yet.
    assert_eq!(c.get(widgets).status, 404);
    assert!(c.get("/apis").json()["groups"].as_array().unwrap().iter().all(|g| g["name"] != "example.com"));
    std::thread::sleep(Duration::from_millis(600));
    let crd_obj = s.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", None, "widgets.example.com").unwrap();
    let conds: Vec<&str> = crd_obj["status"]["conditions"].as_array().unwrap().iter().filter(|c| c["status"] == "True").map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!(conds, ["NamesAccepted", "Established"]);
    assert_eq!(c.get(widgets).status, 200);
    let agg = c.request("GET", "/apis", &[("Accept", AGG)], b"").json();
    let g = agg["items"].as_array().unwrap().iter().find(|g| g["metadata"]["name"] == "example.com").expect("group in aggregated discovery");
    assert_eq!(g["versions"][0]["resources"][0]["resource"], "widgets");
    assert_eq!(g["versions"][0]["resources"][0]["shortNames"], json!(["wd"]));
    let rl = c.get("/apis/example.com/v1").json();
    assert_eq!(rl["resources"][0]["name"], "widgets");
    let r = c.apply(&format!("{widgets}/w1"), "weft", false, r#"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1"},"spec":{"size":3}}"#);
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["metadata"]["generation"], 1);
    assert!(r.json().get("status").is_none());
    assert_eq!(s.list("example.com/v1", "Widget").len(), 1);
    // Deleting the CRD removes its resources.
    assert_eq!(c.delete("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com").status, 200);
    assert_eq!(c.get(widgets).status, 404);
    assert!(c.get("/apis").json()["groups"].as_array().unwrap().iter().all(|g| g["name"] != "example.com"));
    assert!(s.list("example.com/v1", "Widget").is_empty());
}

#[test]
fn fault_injection() {
    let s = TestServer::start();
    let c = client(&s);
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "f"}});
    let cms = "/api/v1/namespaces/default/configmaps";
    s.inject(Fault::Status(500), 0);
    s.inject(Fault::Status(429), 1);
    s.inject(Fault::DropConnection, 2);
    s.inject(Fault::Status(409), 3);
    s.inject(Fault::Status(503), 3);
    let r = c.post(cms, &cm);
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["reason"], "InternalError");
    assert!(s.get("v1", "ConfigMap", Some("default"), "f").is_none());
    let r = c.post(cms, &cm);
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("0"));
    assert_eq!(r.json()["reason"], "TooManyRequests");
    assert!(c.try_request("POST", cms, &[("Content-Type", "application/json")], cm.to_string().as_bytes()).is_err());
    let r = c.post(cms, &cm);
    assert_eq!(r.status, 409);
    assert_eq!(c.post(cms, &cm).status, 201);
    let statuses: Vec<u16> = s.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 429, 0, 409, 201]);
    // The second fault queued at index 3 was not used; 503 stays queued for request 3 only.
    s.reset_requests();
    assert_eq!(c.get(cms).status, 200);
    assert_eq!(s.counts().total, 1);
    assert_eq!(s.requests()[0].index, 5);
}

#[test]
fn defaulting_and_status() {
    let s = TestServer::start();
    let c = client(&s);
    let d = c.apply(DEPLOY_PATH, "weft", false, DEPLOY).json();
    let spec = &d["spec"];
    assert_eq!(spec["strategy"], json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}));
    assert_eq!(spec["revisionHistoryLimit"], 10);
    assert_eq!(spec["progressDeadlineSeconds"], 600);
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Always");
    assert_eq!(pod["dnsPolicy"], "ClusterFirst");
    assert_eq!(pod["schedulerName"], "default-scheduler");
    assert_eq!(pod["terminationGracePeriodSeconds"], 30);
    assert_eq!(pod["securityContext"], json!({}));
    let ctr = &pod["containers"][0];
    assert_eq!(ctr["imagePullPolicy"], "IfNotPresent");
    assert_eq!(ctr["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(ctr["terminationMessagePolicy"], "File");
    assert_eq!(ctr["ports"][0]["protocol"], "TCP");
    // auto_ready: the status arrives as a separate write.
    let live = s.get("apps/v1", "Deployment", Some("default"), "web").unwrap();
    assert_eq!(live["status"]["readyReplicas"], 2);
    assert_eq!(live["status"]["observedGeneration"], 1);
    assert_eq!(live["status"]["conditions"][0]["type"], "Available");
    assert!(rv(&live).parse::<u64>().unwrap() > rv(&d).parse::<u64>().unwrap());
    // Re-apply is still a no-op.
    let again = c.apply(DEPLOY_PATH, "weft", false, DEPLOY).json();
    assert_eq!(rv(&again), rv(&live));

    let svc = r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"default"},"spec":{"type":"LoadBalancer","selector":{"app":"web"},"ports":[{"port":80}]}}"#;
    let sv = c.apply("/api/v1/namespaces/default/services/web", "weft", false, svc).json();
    let spec = &sv["spec"];
    assert!(spec["clusterIP"].as_str().unwrap().starts_with("10.96."));
    assert_eq!(spec["clusterIPs"][0], spec["clusterIP"]);
    assert_eq!(spec["sessionAffinity"], "None");
    assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
    assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
    assert_eq!(spec["internalTrafficPolicy"], "Cluster");
    assert_eq!(spec["ports"][0]["protocol"], "TCP");
    assert_eq!(spec["ports"][0]["targetPort"], 80);
    let f = &sv["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"];
    assert!(f.get("f:clusterIP").is_none());
    assert!(f["f:ports"].get("k:{\"port\":80,\"protocol\":\"TCP\"}").is_some(), "{f}");
    let live = s.get("v1", "Service", Some("default"), "web").unwrap();
    assert!(live["status"]["loadBalancer"]["ingress"][0]["ip"].as_str().unwrap().starts_with("192.0.2."));

    let secret = r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"default"},"stringData":{"p":"hello"}}"#;
    let se = c.apply("/api/v1/namespaces/default/secrets/s", "weft", false, secret).json();
    assert_eq!(se["type"], "Opaque");
    assert_eq!(se["data"]["p"], "aGVsbG8=");
    assert!(se.get("stringData").is_none());

    // Without auto_ready, status stays empty until set_status.
    let s2 = TestServer::start_with(Options { auto_ready: false, ..Default::default() });
    let c2 = client(&s2);
    c2.apply(DEPLOY_PATH, "weft", false, DEPLOY);
    assert!(s2.get("apps/v1", "Deployment", Some("default"), "web").unwrap().get("status").is_none());
    s2.set_status("apps/v1", "Deployment", Some("default"), "web", json!({"readyReplicas": 1}));
    assert_eq!(s2.get("apps/v1", "Deployment", Some("default"), "web").unwrap()["status"]["readyReplicas"], 1);
    // Writes to the main resource ignore status; /status writes only status.
    let mut o = s2.get("apps/v1", "Deployment", Some("default"), "web").unwrap();
    o["status"]["readyReplicas"] = json!(9);
    o["spec"]["replicas"] = json!(4);
    let r = c2.put(DEPLOY_PATH, &o).json();
    assert_eq!(r["status"]["readyReplicas"], 1);
    assert_eq!(r["spec"]["replicas"], 4);
    let mut o = r.clone();
    o["status"]["readyReplicas"] = json!(4);
    o["spec"]["replicas"] = json!(1);
    let r = c2.put(&format!("{DEPLOY_PATH}/status"), &o).json();
    assert_eq!(r["status"]["readyReplicas"], 4);
    assert_eq!(r["spec"]["replicas"], 4);
}

#[test]
fn kinds_controllers_write_are_served_and_created_objects_get_generated_names() {
    let s = TestServer::start();
    let c = client(&s);
    for (path, plural) in [("/apis/discovery.k8s.io/v1", "endpointslices"), ("/apis/events.k8s.io/v1", "events"), ("/apis/apps/v1", "controllerrevisions")] {
        let list = c.get(path).json();
        assert!(list["resources"].as_array().unwrap().iter().any(|r| r["name"] == plural), "{plural} in {list}");
    }
    let created = s
        .create_as("kube-controller-manager", json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"generateName": "web-", "namespace": "shop-less"}, "addressType": "IPv4", "endpoints": []}))
        .unwrap_err();
    assert!(created.contains("not found"), "no namespace: {created}");
    let created = s
        .create_as("kube-controller-manager", json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"generateName": "web-", "namespace": "default"}, "addressType": "IPv4", "endpoints": []}))
        .unwrap();
    let name = created["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("web-") && name.len() > 4, "{name}");
    // Listed across all namespaces, as an onboarding reads them.
    let all = c.get("/apis/discovery.k8s.io/v1/endpointslices").json();
    assert_eq!(all["items"][0]["metadata"]["name"], name);
    // The core and events.k8s.io Events are two kinds.
    s.update_as("t", json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e", "namespace": "default"}})).unwrap();
    assert!(s.get("events.k8s.io/v1", "Event", Some("default"), "e").is_some());
    assert!(s.get("v1", "Event", Some("default"), "e").is_none());
}

#[test]
fn pod_templates_and_jobs_are_defaulted_as_a_real_server_does() {
    let s = TestServer::start();
    let job = s
        .update_as("kubectl", json!({
            "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "namespace": "default"},
            "spec": {"template": {"spec": {
                "restartPolicy": "Never", "serviceAccountName": "runner",
                "containers": [{"name": "m", "image": "migrate:1",
                    "readinessProbe": {"httpGet": {"path": "/", "port": 80}},
                    "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]}],
                "volumes": [{"name": "c", "configMap": {"name": "c"}}, {"name": "d", "downwardAPI": {"items": [{"path": "l", "fieldRef": {"fieldPath": "metadata.labels"}}]}}]
            }}}
        }))
        .unwrap();
    let uid = job["metadata"]["uid"].as_str().unwrap();
    assert_eq!(job["spec"]["selector"], json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}));
    let labels = &job["spec"]["template"]["metadata"]["labels"];
    assert_eq!((labels["controller-uid"].as_str(), labels["job-name"].as_str(), labels["batch.kubernetes.io/job-name"].as_str()), (Some(uid), Some("migrate"), Some("migrate")));
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!((pod["enableServiceLinks"].as_bool(), pod["serviceAccount"].as_str()), (Some(true), Some("runner")));
    let container = &pod["containers"][0];
    assert_eq!(container["readinessProbe"], json!({"httpGet": {"path": "/", "port": 80, "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}));
    assert_eq!(container["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
    assert_eq!(pod["volumes"][0]["configMap"]["defaultMode"], 420);
    assert_eq!(pod["volumes"][1]["downwardAPI"]["items"][0]["fieldRef"]["apiVersion"], "v1");
    // A manual selector is the user's.
    let manual = s
        .update_as("kubectl", json!({
            "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "manual", "namespace": "default"},
            "spec": {"manualSelector": true, "selector": {"matchLabels": {"run": "x"}}, "template": {"metadata": {"labels": {"run": "x"}}, "spec": {"restartPolicy": "Never", "containers": []}}}
        }))
        .unwrap();
    assert_eq!(manual["spec"]["template"]["metadata"]["labels"], json!({"run": "x"}));
}
