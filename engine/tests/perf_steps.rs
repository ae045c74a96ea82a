//! Performance tests as steps of `weft apply`: a design holding a Service
//! and a `PerformanceTest` that loads it is applied to the in-process test
//! server; the test then runs against an HTTP target standing in for the
//! Service (mapped with `--perf-target`, as a port-forward would be). The
//! PerformanceTest itself is never applied; its result is stored and the
//! next run is compared with it; a failed threshold fails the apply.

mod common;

use common::http_target;
use std::path::Path;
use std::process::{Command, Output};
use weft_testserver::TestServer;

fn design(p99_limit: &str) -> String {
    design_with(p99_limit, "")
}

fn design_with(p99_limit: &str, more_thresholds: &str) -> String {
    format!(
        "apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
spec:
  selector:
    app: web
  ports:
    - name: http
      port: 80
      targetPort: 8080
---
apiVersion: perf.weft.dev/v1alpha1
kind: PerformanceTest
metadata:
  name: web-latency
  namespace: default
spec:
  target:
    service:
      name: web
      port: http
    path: /
  rate: 200
  connections: 4
  duration: 2s
  warmup: 0s
  thresholds:
    latency:
      p99: {p99_limit}
    maxErrorRate: 0.01
{more_thresholds}"
    )
}

fn apply(dir: &Path, kubeconfig: &Path, url: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["apply", "manifests", "--kubeconfig", kubeconfig.to_str().unwrap(), "--perf-target", &format!("default/web={url}")])
        .args(extra)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn apply_runs_the_designs_performance_tests_and_fails_on_a_threshold() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    std::fs::write(dir.path().join("weft.yaml"), "name: perf-steps\n").unwrap();
    std::fs::create_dir(dir.path().join("manifests")).unwrap();
    std::fs::write(dir.path().join("manifests/web.yaml"), design("500ms")).unwrap();
    let url = http_target(std::time::Duration::ZERO);

    let output = apply(dir.path(), &kubeconfig, &url, &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("perf default/web-latency"), "{stdout}");
    assert!(stdout.contains("passed"), "{stdout}");
    assert!(server.get("v1", "Service", Some("default"), "web").is_some());
    assert!(server.list("perf.weft.dev/v1alpha1", "PerformanceTest").is_empty(), "a test is not a cluster object");

    let results = dir.path().join(".weft/perf");
    let stored: Vec<_> = walk(&results);
    assert_eq!(stored.len(), 1, "{stored:?}");
    let run: weft::perf::Run = serde_json::from_str(&std::fs::read_to_string(&stored[0]).unwrap()).unwrap();
    assert_eq!(run.url, format!("{url}/"));
    assert_eq!(run.mode, "open");
    assert!((run.actual_qps - 200.0).abs() < 20.0, "{}", run.actual_qps);
    assert!(run.labels.get("design").is_some_and(|d| !d.is_empty()), "labelled with its design: {:?}", run.labels);

    // A limit no run can meet fails the apply, and is stored beside the first.
    std::fs::write(dir.path().join("manifests/web.yaml"), design("1us")).unwrap();
    let output = apply(dir.path(), &kubeconfig, &url, &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAILED") && stdout.contains("latency p99"), "{stdout}");
    assert_eq!(walk(&results).len(), 2);

    // --skip-perf applies without testing.
    let output = apply(dir.path(), &kubeconfig, &url, &["--skip-perf"]);
    assert!(output.status.success());
    assert!(!String::from_utf8_lossy(&output.stdout).contains("perf default/web-latency"));
    assert_eq!(walk(&results).len(), 2);

    // Against the stored baseline: a target 20 ms slower fails a 10 % regression gate
    // (p99 with too few samples for a statistical judgement is held to its point change)...
    std::fs::write(dir.path().join("manifests/web.yaml"), design_with("5s", "    maxRegression: 10%\n")).unwrap();
    let slow = http_target(std::time::Duration::from_millis(20));
    let output = apply(dir.path(), &kubeconfig, &slow, &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("p50 grew") && stdout.contains("p99 grew"), "{stdout}");
    // ...and does not become the baseline: the same slow target fails again
    // (against the failed run it would have passed as unchanged).
    let output = apply(dir.path(), &kubeconfig, &slow, &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("p50 grew"), "{stdout}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return files };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}
