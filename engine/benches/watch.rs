//! Commit-to-apply latency of `weft watch`: how long after a commit lands
//! the test server receives the apply of the object it changed.
//! One command: `cargo bench -p weft --bench watch`.
//!
//! A repository of 50 ConfigMaps is built with git2; the daemon (the
//! release binary, `--auto-sync`) follows its `main` against an in-process
//! test server. Each of `WEFT_BENCH_COMMITS` (default 20) commits changes
//! one ConfigMap; the clock starts when the commit is written and stops
//! when the server logs the apply of that ConfigMap (the log is sampled
//! every millisecond). Two sources:
//! - **webhook**: the daemon polls once an hour; a signed `POST /webhook`
//!   follows each commit, as a git host sends one;
//! - **poll**: `--interval 250ms`, no webhook.
//!
//! It prints p50, p95 and max per source, and the target: webhook p95 ≤
//! 500 ms (Argo CD polls every 3 minutes by default). No peer runs here:
//! neither Argo CD nor Flux is on the machine. Figures also go to
//! `target/bench-results/watch.json`.

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
    let root = repo.workdir().unwrap();
    std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
    std::fs::write(root.join(path), text).unwrap();
    let mut index = repo.index().unwrap();
    index.add_path(Path::new(path)).unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let signature = git2::Signature::now("bench", "bench@example.com").unwrap();
    let parents: Vec<git2::Commit> = repo.head().ok().and_then(|h| h.peel_to_commit().ok()).into_iter().collect();
    let parents: Vec<&git2::Commit> = parents.iter().collect();
    repo.commit(Some("HEAD"), &signature, &signature, "change", &tree, &parents).unwrap();
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
    let interval = if source == "webhook" { "1h" } else { "250ms" };
    let mut child: Child = Command::new(weft)
        .args(["watch", "--repo", dir.path().to_str().unwrap(), "--branch", "main", "--listen", "127.0.0.1:0", "--auto-sync", "--interval", interval])
        .args(["--state-dir", scratch.path().join("state").to_str().unwrap(), "--kubeconfig", kubeconfig.to_str().unwrap()])
        .args(["--webhook-secret-file", scratch.path().join("secret").to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .expect("weft watch starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let address = lines.next().unwrap().unwrap().rsplit("http://").next().unwrap().trim().to_owned();
    std::thread::spawn(move || for _ in lines {});
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
        commit(&repo, &format!("manifests/{name}.yaml"), &config(&name, round));
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
    // SAFETY: signals the daemon this bench started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    Run { source, latencies_ms }
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
    let mut webhook_p95 = f64::NAN;
    for source in ["webhook", "poll"] {
        let run = run(&weft, source, commits);
        let mut sorted = run.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let (p50, p95, max) = (percentile(&sorted, 50.0), percentile(&sorted, 95.0), *sorted.last().unwrap());
        println!("  {:<8} {p50:>9.1} {p95:>9.1} {max:>9.1} {:>9}", run.source, sorted.len());
        if source == "webhook" {
            webhook_p95 = p95;
        }
        results.push(json!({"source": run.source, "p50_ms": p50, "p95_ms": p95, "max_ms": max, "latencies_ms": run.latencies_ms}));
    }
    let met = webhook_p95 <= 500.0;
    println!("\ntargets:\n  webhook p95 {webhook_p95:.1} ms (target ≤ 500 ms; Argo CD's default poll is 180 s)   {}", if met { "MET" } else { "NOT MET" });
    println!("  poll: about half the interval (250 ms here) plus the sync; informational");
    let out = target.join("bench-results");
    let _ = std::fs::create_dir_all(&out);
    let figures = json!({"bench": "watch", "commits": commits, "objects": OBJECTS, "results": results, "target_met": met});
    let _ = std::fs::write(out.join("watch.json"), serde_json::to_string_pretty(&figures).unwrap());
    println!("\nfigures written to {}", out.join("watch.json").display());
}
