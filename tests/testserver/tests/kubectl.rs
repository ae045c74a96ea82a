//! kubectl against the server through a written kubeconfig. Skipped (with a
//! note) when kubectl is not on PATH.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use weft_testserver::{Options, TestServer, Verb};

fn kubectl_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("kubectl")).find(|p| p.is_file())
}

struct Kubectl {
    bin: PathBuf,
    kubeconfig: PathBuf,
    cache: PathBuf,
    dir: PathBuf,
}

impl Kubectl {
    fn run(&self, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--kubeconfig").arg(&self.kubeconfig).arg("--cache-dir").arg(&self.cache).args(args);
        cmd.env_remove("KUBECONFIG");
        let out = match stdin {
            Some(input) => {
                let file = self.dir.join("stdin.yaml");
                std::fs::write(&file, input).unwrap();
                cmd.arg("-f").arg(&file).output().unwrap()
            }
            None => cmd.output().unwrap(),
        };
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    }

    fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let (ok, out, err) = self.run(args, stdin);
        assert!(ok, "kubectl {args:?} failed:\n{out}\n{err}");
        out
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("weft-testserver-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const MANIFESTS: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
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
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
data: {mode: fast}
"#;

#[test]
fn kubectl_get_apply_patch_delete() {
    let Some(bin) = kubectl_path() else {
        println!("note: kubectl not on PATH; skipping the kubectl test");
        return;
    };
    let server = TestServer::start_with(Options { namespace_delete_delay: std::time::Duration::from_millis(100), ..Default::default() });
    let dir = temp_dir("kubectl");
    let kubeconfig = dir.join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let k = Kubectl { bin, kubeconfig, cache: dir.join("cache"), dir: dir.clone() };

    // Client-side apply, twice.
    let out = k.ok(&["apply"], Some(MANIFESTS));
    assert!(out.contains("deployment.apps/web created"), "{out}");
    let out = k.ok(&["apply"], Some(MANIFESTS));
    assert!(out.contains("deployment.apps/web unchanged"), "{out}");
    // A change through client-side apply (strategic merge patch).
    let out = k.ok(&["apply"], Some(&MANIFESTS.replace("nginx:1.27", "nginx:1.28")));
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    let d = server.get("apps/v1", "Deployment", Some("shop"), "web").unwrap();
    assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.28");
    assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"], 80);

    // Server-side apply (kubectl's default validation, fieldValidation=Strict):
    // going back to 1.27 conflicts with the client-side apply's ownership of the image,
    // as on a real cluster.
    let (ok, _, err) = k.run(&["apply", "--server-side"], Some(MANIFESTS));
    assert!(!ok);
    assert!(err.contains("conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.template.spec.containers[name=\"web\"].image"), "{err}");
    let out = k.ok(&["apply", "--server-side", "--force-conflicts"], Some(MANIFESTS));
    assert!(out.contains("deployment.apps/web serverside-applied"), "{out}");
    assert!(server.requests().iter().any(|r| r.verb == Verb::Apply && r.query.contains("fieldValidation=Strict")));

    // get: table and JSON.
    let out = k.ok(&["get", "deploy", "-n", "shop"], None);
    assert!(out.starts_with("NAME") && out.contains("web"), "{out}");
    let out = k.ok(&["get", "cm", "-A"], None);
    assert!(out.contains("shop") && out.contains("settings"), "{out}");
    let json: Value = serde_json::from_str(&k.ok(&["get", "deploy", "web", "-n", "shop", "-o", "json"], None)).unwrap();
    assert_eq!(json["spec"]["replicas"], 2);
    assert_eq!(json["status"]["readyReplicas"], 2);

    // patch (strategic, merge, json), then a conflicting server-side apply.
    k.ok(&["patch", "deploy", "web", "-n", "shop", "-p", r#"{"spec":{"replicas":3}}"#], None);
    k.ok(&["patch", "cm", "settings", "-n", "shop", "--type", "merge", "-p", r#"{"data":{"extra":"1"}}"#], None);
    k.ok(&["patch", "cm", "settings", "-n", "shop", "--type", "json", "-p", r#"[{"op":"replace","path":"/data/mode","value":"slow"}]"#], None);
    let cm = server.get("v1", "ConfigMap", Some("shop"), "settings").unwrap();
    assert_eq!(cm["data"]["mode"], "slow");
    assert_eq!(cm["data"]["extra"], "1");
    let (ok, _, err) = k.run(&["apply", "--server-side"], Some(MANIFESTS));
    assert!(!ok);
    assert!(err.contains("Apply failed with 1 conflict: conflict with \"kubectl-patch\" using apps/v1: .spec.replicas"), "{err}");
    k.ok(&["apply", "--server-side", "--force-conflicts"], Some(MANIFESTS));
    assert_eq!(server.get("apps/v1", "Deployment", Some("shop"), "web").unwrap()["spec"]["replicas"], 2);

    // delete (waits for the namespace to go).
    let out = k.ok(&["delete", "--timeout=20s"], Some(MANIFESTS));
    assert!(out.contains("namespace \"shop\" deleted"), "{out}");
    assert!(server.get("v1", "Namespace", None, "shop").is_none());
    assert!(server.get("apps/v1", "Deployment", Some("shop"), "web").is_none());
    let _ = std::fs::remove_dir_all(Path::new(&dir));
}
