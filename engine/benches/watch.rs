//! Commit-to-apply latency of `weft watch`: how long after a commit lands
//! the test server receives the apply of the object it changed.
//! One command: `cargo bench -p weft --bench watch`.
//!
//! A repository of 50 ConfigMaps is built with git2; the daemon (the
//! release binary, `--auto-sync`) follows its `main` against an in-process
//! test server. Each of `WEFT_BENCH_COMMITS` (default 20) commits changes
//! one ConfigMap; the clock starts when the commit is written and stops
//! when the server logs the apply of that ConfigMap (the log is sampled
//! every millisecond). Three sources:
//! - **webhook**: the daemon polls once an hour; a signed `POST /webhook`
//!   follows each commit, as a git host sends one;
//! - **worktree**: `--worktree` (inotify, default 100 ms debounce), polls
//!   once an hour; the clock starts when the file is written, no commit;
//! - **poll**: `--interval 250ms`, no webhook.
//!
//! It prints p50, p95 and max per source, and the target: webhook and
//! worktree p95 ≤ 500 ms (Argo CD polls every 3 minutes by default).
//!
//! Then the daemon's memory: a repository of 100 files holding 5,000
//! objects (Deployments, Services, ConfigMaps in 10 namespaces) is synced;
//! its resident set is sampled every 100 ms while it idles for 15 s (with
//! a drift check every 5 s), and its peak (VmHWM) is read after the first
//! sync and, reset through `/proc/PID/clear_refs`, after a sync of a
//! 10-file change. `WEFT_BENCH_RSS_RUNS` (default 3) runs; medians are
//! printed. Target: idle ≤ 60 MiB (Flux's kustomize-controller benchmark
//! peaks at 223 MiB for about 4,000 objects).
//!
//! No peer runs here: neither Argo CD nor Flux is on the machine. Figures
//! also go to `target/bench-results/watch.json`.

#[path = "common/mod.rs"]
#[allow(dead_code)]
mod common;

use common::*;
use hmac::Mac;
use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use weft_testserver::{TestServer, Verb};

const OBJECTS: usize = 50;
const SECRET: &str = "bench-secret";

fn config(name: &str, value: usize) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\ndata:\n  value: \"{value}\"\n")
}

fn commit(repo: &git2::Repository, path: &str, text: &str) {
    write(repo.workdir().unwrap(), path, text);
    commit_files(repo, &[path.to_owned()]);
}

/// Commits the files at `paths` as they are in the working tree; the id.
fn commit_files(repo: &git2::Repository, paths: &[String]) -> String {
    let mut index = repo.index().unwrap();
    for path in paths {
        index.add_path(Path::new(path)).unwrap();
    }
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let signature = git2::Signature::now("bench", "bench@example.com").unwrap();
    let parents: Vec<git2::Commit> = repo.head().ok().and_then(|h| h.peel_to_commit().ok()).into_iter().collect();
    let parents: Vec<&git2::Commit> = parents.iter().collect();
    repo.commit(Some("HEAD"), &signature, &signature, "change", &tree, &parents).unwrap().to_string()
}

fn post_webhook(address: &str) {
    let body = r#"{"ref":"refs/heads/main"}"#;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let signature: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "POST /webhook HTTP/1.1\r\nHost: weft\r\nConnection: close\r\nX-Hub-Signature-256: sha256={signature}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    assert!(response.starts_with("HTTP/1.1 202"), "webhook refused: {response}");
}

/// Index of the newest apply of ConfigMap `name` in the server's log.
fn last_apply(server: &TestServer, name: &str) -> Option<usize> {
    let suffix = format!("/configmaps/{name}");
    server.requests().iter().rev().find(|r| r.verb == Verb::Apply && !r.dry_run && r.path.ends_with(&suffix)).map(|r| r.index)
}

struct Run {
    source: &'static str,
    latencies_ms: Vec<f64>,
}

/// Writes a file of the working tree (the worktree source's "commit").
fn write(root: &Path, path: &str, text: &str) {
    std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
    std::fs::write(root.join(path), text).unwrap();
}

/// Starts `weft watch` with `args`; the child and its endpoint address.
fn start_daemon(weft: &Path, args: &[&str]) -> (Child, String) {
    let mut child: Child = Command::new(weft).arg("watch").args(args).args(["--listen", "127.0.0.1:0"]).stderr(Stdio::piped()).spawn().expect("weft watch starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let address = lines.next().unwrap().unwrap().rsplit("http://").next().unwrap().trim().to_owned();
    std::thread::spawn(move || for _ in lines {});
    (child, address)
}

fn stop_daemon(mut child: Child) {
    // SAFETY: signals the daemon this bench started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
}

fn run(weft: &Path, source: &'static str, commits: usize) -> Run {
    let server = TestServer::start();
    let scratch = tempfile::tempdir().unwrap();
    let kubeconfig = scratch.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    std::fs::write(scratch.path().join("secret"), SECRET).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(dir.path()).unwrap();
    repo.set_head("refs/heads/main").unwrap();
    commit(&repo, "weft.yaml", "name: latency\n");
    for i in 0..OBJECTS {
        commit(&repo, &format!("manifests/c{i}.yaml"), &config(&format!("c{i}"), 0));
    }
    let interval = if source == "poll" { "250ms" } else { "1h" };
    let (state, kubeconfig) = (scratch.path().join("state"), kubeconfig.to_str().unwrap().to_owned());
    let secret = scratch.path().join("secret");
    let mut args = vec!["--repo", dir.path().to_str().unwrap(), "--auto-sync", "--interval", interval, "--state-dir", state.to_str().unwrap(), "--kubeconfig", &kubeconfig];
    if source == "worktree" {
        args.push("--worktree");
    } else {
        args.extend(["--branch", "main", "--webhook-secret-file", secret.to_str().unwrap()]);
    }
    let (child, address) = start_daemon(weft, &args);
    let deadline = Instant::now() + Duration::from_secs(60);
    while last_apply(&server, &format!("c{}", OBJECTS - 1)).is_none() {
        assert!(Instant::now() < deadline, "the first sync did not finish");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    let mut latencies_ms = Vec::new();
    for round in 1..=commits {
        let name = format!("c{}", round % OBJECTS);
        let before = last_apply(&server, &name);
        let path = format!("manifests/{name}.yaml");
        if source == "worktree" {
            write(dir.path(), &path, &config(&name, round));
        } else {
            commit(&repo, &path, &config(&name, round));
        }
        let started = Instant::now();
        if source == "webhook" {
            post_webhook(&address);
        }
        let deadline = started + Duration::from_secs(30);
        while last_apply(&server, &name) == before {
            assert!(Instant::now() < deadline, "commit {round} was not applied");
            std::thread::sleep(Duration::from_millis(1));
        }
        latencies_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        // Let the sync finish before the next commit, as commits arrive in practice.
        std::thread::sleep(Duration::from_millis(150));
    }
    stop_daemon(child);
    Run { source, latencies_ms }
}

/// Five objects of one app: a ConfigMap, a Service and a Deployment that
/// mounts the ConfigMap, as YAML documents (`version` varies the image).
fn app(name: &str, namespace: &str, version: usize, with_service: bool, with_deployment: bool) -> Vec<String> {
    let mut docs = vec![format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {namespace}\n  labels: {{app: {name}}}\ndata:\n  LOG_LEVEL: info\n  config.properties: |\n    server.port=8080\n    cache.size={version}00\n"
    )];
    if with_service {
        docs.push(format!("apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  selector: {{app: {name}}}\n  ports:\n  - name: http\n    port: 80\n    targetPort: http\n"));
    }
    if with_deployment {
        docs.push(format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: {namespace}\n  labels: {{app: {name}}}\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n      - name: app\n        image: registry.example.com/{name}:1.{version}.0\n        ports:\n        - name: http\n          containerPort: 8080\n        envFrom:\n        - configMapRef:\n            name: {name}\n        resources:\n          requests: {{cpu: 50m, memory: 64Mi}}\n          limits: {{cpu: 500m, memory: 256Mi}}\n        readinessProbe:\n          httpGet: {{path: /healthz, port: http}}\n        securityContext:\n          runAsNonRoot: true\n          allowPrivilegeEscalation: false\n          readOnlyRootFilesystem: true\n          capabilities: {{drop: [ALL]}}\n"
        ));
    }
    docs
}

/// A file of 50 objects (17 ConfigMaps, 17 Services, 16 Deployments).
fn app_file(file: usize, version: usize) -> String {
    let namespace = format!("team-{}", file % 10);
    let docs: Vec<String> = (0..17).flat_map(|k| app(&format!("app-{file}-{k}"), &namespace, version, true, k < 16)).collect();
    docs.join("---\n")
}

const RSS_FILES: usize = 100;

fn vm_kib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix(field)).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(f64::NAN)
}

fn get_status(address: &str) -> serde_json::Value {
    let Ok(mut stream) = std::net::TcpStream::connect(address) else { return serde_json::Value::Null };
    let _ = stream.write_all(b"GET /status HTTP/1.1\r\nHost: weft\r\nConnection: close\r\n\r\n");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.split_once("\r\n\r\n").and_then(|(_, body)| serde_json::from_str(body).ok()).unwrap_or_default()
}

fn wait_applied(address: &str, commit: &str) {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let status = get_status(address);
        if status["appliedCommit"] == commit && status["phase"] == "Synced" {
            return;
        }
        assert!(Instant::now() < deadline, "sync of {commit} did not finish: {status}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct RssRun {
    objects: u64,
    first_sync_s: f64,
    first_peak_mib: f64,
    idle_median_mib: f64,
    idle_max_mib: f64,
    update_peak_mib: f64,
}

/// One daemon managing 100 files of 5,000 objects: its memory at the
/// first sync, idle, and at the sync of a 10-file change.
fn rss_run(weft: &Path) -> RssRun {
    let server = TestServer::start();
    let scratch = tempfile::tempdir().unwrap();
    let kubeconfig = scratch.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(dir.path()).unwrap();
    repo.set_head("refs/heads/main").unwrap();
    let root = dir.path();
    write(root, "weft.yaml", "name: memory\n");
    let namespaces: String = (0..10).map(|i| format!("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-{i}\n")).collect();
    write(root, "manifests/namespaces.yaml", &namespaces);
    for file in 0..RSS_FILES {
        write(root, &format!("manifests/app-{file:03}.yaml"), &app_file(file, 0));
    }
    let paths: Vec<String> = std::iter::once("weft.yaml".to_owned()).chain(std::iter::once("manifests/namespaces.yaml".to_owned())).chain((0..RSS_FILES).map(|f| format!("manifests/app-{f:03}.yaml"))).collect();
    let first = commit_files(&repo, &paths);
    let state = scratch.path().join("state");
    let args = ["--repo", root.to_str().unwrap(), "--branch", "main", "--auto-sync", "--interval", "5s", "--state-dir", state.to_str().unwrap(), "--kubeconfig", kubeconfig.to_str().unwrap()];
    let started = Instant::now();
    let (child, address) = start_daemon(weft, &args);
    let pid = child.id();
    wait_applied(&address, &first);
    let first_sync_s = started.elapsed().as_secs_f64();
    let first_peak_mib = vm_kib(pid, "VmHWM:") / 1024.0;
    let objects = get_status(&address)["objectsManaged"].as_u64().unwrap_or(0);

    let mut idle: Vec<f64> = Vec::new();
    let idle_started = Instant::now();
    while idle_started.elapsed() < Duration::from_secs(15) {
        idle.push(vm_kib(pid, "VmRSS:") / 1024.0);
        std::thread::sleep(Duration::from_millis(100));
    }
    let idle_max_mib = idle.iter().copied().fold(0.0, f64::max);

    // The peak of the next sync alone: VmHWM starts again from the current RSS.
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("VmHWM reset");
    let changed: Vec<String> = (0..10).map(|f| format!("manifests/app-{:03}.yaml", f * 10)).collect();
    for path in &changed {
        let file: usize = path[14..17].parse().unwrap();
        write(root, path, &app_file(file, 1));
    }
    let update = commit_files(&repo, &changed);
    wait_applied(&address, &update);
    let update_peak_mib = vm_kib(pid, "VmHWM:") / 1024.0;
    stop_daemon(child);
    RssRun { objects, first_sync_s, first_peak_mib, idle_median_mib: median(&idle), idle_max_mib, update_peak_mib }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn main() {
    let target = target_dir();
    let weft = match weft_binary(&target) {
        Ok(bin) => bin,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let commits: usize = std::env::var("WEFT_BENCH_COMMITS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    warn_if_busy(busy_cores());
    println!("weft watch: commit-to-apply-start latency, {commits} commits per source, {OBJECTS} ConfigMaps, machine: {}", cpu_model());
    println!("  the clock runs from the commit written to the server logging the apply of the changed object\n");
    println!("  {:<8} {:>9} {:>9} {:>9} {:>9}", "source", "p50 ms", "p95 ms", "max ms", "commits");
    let mut results = Vec::new();
    let mut p95s = std::collections::BTreeMap::new();
    for source in ["webhook", "worktree", "poll"] {
        let run = run(&weft, source, commits);
        let mut sorted = run.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let (p50, p95, max) = (percentile(&sorted, 50.0), percentile(&sorted, 95.0), *sorted.last().unwrap());
        println!("  {:<8} {p50:>9.1} {p95:>9.1} {max:>9.1} {:>9}", run.source, sorted.len());
        p95s.insert(source, p95);
        results.push(json!({"source": run.source, "p50_ms": p50, "p95_ms": p95, "max_ms": max, "latencies_ms": run.latencies_ms}));
    }
    let verdict = |met: bool| if met { "MET" } else { "NOT MET" };
    let latency_met = p95s["webhook"] <= 500.0 && p95s["worktree"] <= 500.0;

    let rss_runs: usize = std::env::var("WEFT_BENCH_RSS_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    println!("\nweft watch: memory managing {RSS_FILES} files of 5,000 objects (+10 Namespaces), {rss_runs} runs; MiB");
    println!("  {:>4} {:>8} {:>10} {:>11} {:>9} {:>9} {:>12}", "run", "objects", "1st sync s", "1st peak", "idle med", "idle max", "update peak");
    let mut rss = Vec::new();
    for n in 1..=rss_runs {
        let r = rss_run(&weft);
        println!("  {n:>4} {:>8} {:>10.2} {:>11.1} {:>9.1} {:>9.1} {:>12.1}", r.objects, r.first_sync_s, r.first_peak_mib, r.idle_median_mib, r.idle_max_mib, r.update_peak_mib);
        rss.push(r);
    }
    let med = |f: fn(&RssRun) -> f64| median(&rss.iter().map(f).collect::<Vec<_>>());
    let (idle, first_peak, update_peak, first_sync) = (med(|r| r.idle_median_mib), med(|r| r.first_peak_mib), med(|r| r.update_peak_mib), med(|r| r.first_sync_s));
    println!("  median   first sync {first_sync:.2} s, peak {first_peak:.1}; idle {idle:.1}; update peak {update_peak:.1}");
    let idle_met = idle <= 60.0;

    println!("\ntargets:");
    for source in ["webhook", "worktree"] {
        println!("  {source} p95 {:.1} ms (target ≤ 500 ms; Argo CD's default poll is 180 s)   {}", p95s[source], verdict(p95s[source] <= 500.0));
    }
    println!("  poll: about half the interval (250 ms here) plus the sync; informational");
    println!("  idle RSS at 5,000 objects {idle:.1} MiB (target ≤ 60 MiB; Flux's kustomize-controller peaks at 223 MiB for ~4,000)   {}", verdict(idle_met));
    println!("  during a sync: first {first_peak:.1} MiB, a 10-file change {update_peak:.1} MiB; informational");
    let met = latency_met && idle_met;
    let memory = json!({"files": RSS_FILES, "runs": rss.iter().map(|r| json!({"objects": r.objects, "first_sync_s": r.first_sync_s, "first_peak_mib": r.first_peak_mib, "idle_median_mib": r.idle_median_mib, "idle_max_mib": r.idle_max_mib, "update_peak_mib": r.update_peak_mib})).collect::<Vec<_>>(), "idle_median_mib": idle, "first_peak_mib": first_peak, "update_peak_mib": update_peak});
    let out = target.join("bench-results");
    let _ = std::fs::create_dir_all(&out);
    let figures = json!({"bench": "watch", "commits": commits, "objects": OBJECTS, "results": results, "memory": memory, "target_met": met});
    let _ = std::fs::write(out.join("watch.json"), serde_json::to_string_pretty(&figures).unwrap());
    println!("\nfigures written to {}", out.join("watch.json").display());
}
