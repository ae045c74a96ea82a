//! `weft watch` as a daemon: a temporary git repository receives a good
//! commit, a commit with bad YAML and a change; the daemon (the real
//! binary, polling every 100 ms) applies them to the in-process test
//! server. Asserted: what was applied after each commit, that the bad
//! commit was not applied and is reported, `/status` and `/metrics`,
//! SIGTERM, and that a restart resumes without applying again.

mod common;

use common::*;
use git2::Repository;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use weft_testserver::{TestServer, Verb};

fn config(mode: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: default\ndata:\n  mode: {mode}\n")
}

/// A test server, and a scratch folder with a kubeconfig pointing at it.
struct Cluster {
    server: TestServer,
    scratch: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Cluster {
    fn new() -> Cluster {
        let server = TestServer::start();
        let scratch = tempfile::tempdir().unwrap();
        let kubeconfig = scratch.path().join("kubeconfig");
        server.write_kubeconfig(&kubeconfig).unwrap();
        Cluster { server, scratch, kubeconfig }
    }

    /// `weft watch` of `repo`'s `main` on this cluster, its state in
    /// `state` under the scratch folder.
    fn watch(&self, repo: &Path, state: &str, args: &[&str]) -> Daemon {
        Daemon::start(repo, &self.scratch.path().join(state), &self.kubeconfig, args)
    }

    /// Another field manager sets the ConfigMap's `mode`, taking the field.
    fn edit(&self, mode: &str) {
        let object = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "default"}, "data": {"mode": mode}});
        self.server.apply_as("kubectl-edit", object, true).unwrap();
    }

    fn mode(&self) -> String {
        self.server.get("v1", "ConfigMap", Some("default"), "settings").unwrap()["data"]["mode"].as_str().unwrap().to_owned()
    }
}

/// A repository whose `main` holds weft.yaml (naming the inventory) and
/// the ConfigMap; the id of that first commit.
fn repository(name: &str) -> (tempfile::TempDir, Repository, String) {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init(dir.path()).unwrap();
    repo.set_head("refs/heads/main").unwrap();
    let first = git_commit(&repo, &[("weft.yaml", &format!("name: {name}\n")), ("manifests/settings.yaml", &config("fast"))], "first").to_string();
    (dir, repo, first)
}

struct Daemon {
    child: Child,
    address: String,
}

/// A failing test must not leave its daemon running (and holding the
/// test's output open).
impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    fn start(repo: &Path, state: &Path, kubeconfig: &Path, extra: &[&str]) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["watch", "--repo", repo.to_str().unwrap(), "--branch", "main", "--listen", "127.0.0.1:0"])
            .args(["--state-dir", state.to_str().unwrap(), "--kubeconfig", kubeconfig.to_str().unwrap()])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("weft watch starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let first = lines.next().expect("a first line").unwrap();
        let address = first.rsplit("http://").next().unwrap().trim().to_owned();
        // Keep draining stderr so the daemon never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Daemon { child, address }
    }

    fn get(&self, path: &str) -> (u16, String) {
        self.request(&format!("GET {path} HTTP/1.1\r\nHost: weft\r\nConnection: close\r\n\r\n"))
    }

    fn post_webhook(&self, header: Option<(&str, &str)>, body: &str) -> u16 {
        let header = header.map(|(name, value)| format!("{name}: {value}\r\n")).unwrap_or_default();
        self.request(&format!("POST /webhook HTTP/1.1\r\nHost: weft\r\nConnection: close\r\n{header}Content-Length: {}\r\n\r\n{body}", body.len())).0
    }

    fn request(&self, text: &str) -> (u16, String) {
        let mut stream = std::net::TcpStream::connect(&self.address).unwrap();
        stream.write_all(text.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let code = response.split_whitespace().nth(1).unwrap().parse().unwrap();
        let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        (code, body)
    }

    fn status(&self) -> Value {
        serde_json::from_str(&self.get("/status").1).unwrap()
    }

    /// Waits (up to 30 s) until `/status` satisfies `done`.
    fn wait_for(&self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = self.status();
            if done(&status) {
                return status;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}: {status}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        let status = self.stop();
        std::mem::forget(self);
        status
    }

    fn stop(&mut self) -> std::process::ExitStatus {
        // SAFETY: signals a child process this test started.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "weft watch did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn the_daemon_applies_good_commits_holds_back_bad_ones_and_resumes() {
    let cluster = Cluster::new();
    let server = &cluster.server;
    let (dir, repo, good) = repository("watched");
    const SYNC: &[&str] = &["--auto-sync", "--interval", "100ms"];

    let daemon = cluster.watch(dir.path(), "state", SYNC);
    assert_eq!(daemon.get("/healthz").0, 200);
    let status = daemon.wait_for("the first commit applied", |s| s["appliedCommit"] == good.as_str());
    assert_eq!(status["phase"], "Synced", "{status}");
    assert_eq!(daemon.get("/readyz").0, 200);
    let live = server.get("v1", "ConfigMap", Some("default"), "settings").expect("applied");
    assert_eq!(live["data"]["mode"], "fast");

    let bad = git_commit(&repo, &[("manifests/settings.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: [\n")], "bad").to_string();
    let status = daemon.wait_for("the bad commit seen", |s| s["seenCommit"] == bad.as_str() && s["phase"] == "Invalid");
    assert_eq!(status["appliedCommit"], good.as_str(), "the last good commit stays: {status}");
    assert!(status["lastError"].as_str().unwrap().contains("manifests/settings.yaml:"), "{status}");

    let fixed = git_commit(&repo, &[("manifests/settings.yaml", &config("careful"))], "fixed").to_string();
    daemon.wait_for("the fix applied", |s| s["appliedCommit"] == fixed.as_str() && s["phase"] == "Synced");
    assert_eq!(server.get("v1", "ConfigMap", Some("default"), "settings").unwrap()["data"]["mode"], "careful");

    let metrics = daemon.get("/metrics").1;
    assert!(metrics.contains("weft_syncs_total{result=\"success\"} 2\n"), "{metrics}");
    assert!(metrics.contains("weft_syncs_total{result=\"invalid\"} 1\n"), "{metrics}");
    assert!(metrics.contains("weft_sync_duration_seconds_count 3\n"), "{metrics}");
    assert!(metrics.contains("weft_objects_managed 1\n"), "{metrics}");
    assert_eq!(daemon.get("/nowhere").0, 404);

    let exit = daemon.terminate();
    assert!(exit.success(), "SIGTERM ends the daemon cleanly: {exit:?}");

    // A restart reads the state and finds nothing new to apply.
    server.reset_requests();
    let daemon = cluster.watch(dir.path(), "state", SYNC);
    let status = daemon.status();
    assert_eq!(status["appliedCommit"], fixed.as_str(), "{status}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(server.requests().iter().all(|r| r.verb != Verb::Apply), "nothing re-applied after a restart");
    assert!(daemon.terminate().success());
}

#[test]
fn a_signed_webhook_polls_at_once_and_an_unsigned_one_is_refused() {
    use hmac::Mac;
    let cluster = Cluster::new();
    let secret = cluster.scratch.path().join("secret");
    std::fs::write(&secret, "hook-s3cret\n").unwrap();
    let (dir, repo, first) = repository("hooked");
    // Polls once at start, then not for an hour: only a webhook moves it.
    let daemon = cluster.watch(dir.path(), "state", &["--auto-sync", "--interval", "1h", "--webhook-secret-file", secret.to_str().unwrap()]);
    daemon.wait_for("the first commit applied", |s| s["appliedCommit"] == first.as_str());

    let second = git_commit(&repo, &[("manifests/settings.yaml", &config("slow"))], "second").to_string();
    let body = r#"{"ref":"refs/heads/main"}"#;
    assert_eq!(daemon.post_webhook(None, body), 401);
    assert_eq!(daemon.post_webhook(Some(("X-Hub-Signature-256", "sha256=0000")), body), 401);
    assert_eq!(daemon.post_webhook(Some(("X-Gitlab-Token", "wrong")), body), 401);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(daemon.status()["appliedCommit"], first.as_str(), "refused webhooks trigger nothing");

    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"hook-s3cret").unwrap();
    mac.update(body.as_bytes());
    let signature = format!("sha256={}", weft::render::hex(&mac.finalize().into_bytes()));
    assert_eq!(daemon.post_webhook(Some(("X-Hub-Signature-256", &signature)), body), 202);
    daemon.wait_for("the second commit applied after the webhook", |s| s["appliedCommit"] == second.as_str());
    let metrics = daemon.get("/metrics").1;
    assert!(metrics.contains("weft_webhook_requests_total{result=\"accepted\"} 1\n"), "{metrics}");
    assert!(metrics.contains("weft_webhook_requests_total{result=\"rejected\"} 3\n"), "{metrics}");
    assert!(daemon.terminate().success());
}

#[test]
fn drift_is_reported_and_with_self_heal_undone() {
    let (dir, _repo, commit) = repository("drifting");

    // Reported, not undone.
    let cluster = Cluster::new();
    let daemon = cluster.watch(dir.path(), "state", &["--auto-sync", "--interval", "100ms"]);
    daemon.wait_for("the commit applied", |s| s["appliedCommit"] == commit.as_str());
    cluster.edit("hacked");
    let status = daemon.wait_for("the drift reported", |s| s["drift"].as_array().is_some_and(|d| !d.is_empty()));
    assert_eq!(status["drift"], serde_json::json!(["ConfigMap default/settings"]), "{status}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(cluster.mode(), "hacked", "without --self-heal the edit stays");
    assert!(daemon.get("/metrics").1.contains("weft_drift_events_total "), "counted");
    assert!(daemon.terminate().success());

    // Undone, on a cluster where weft's fields are its own again.
    let cluster = Cluster::new();
    let daemon = cluster.watch(dir.path(), "state", &["--auto-sync", "--interval", "100ms", "--self-heal"]);
    daemon.wait_for("the commit applied", |s| s["appliedCommit"] == commit.as_str() && s["phase"] == "Synced");
    cluster.edit("hacked-again");
    let deadline = Instant::now() + Duration::from_secs(30);
    while cluster.mode() != "fast" {
        assert!(Instant::now() < deadline, "drift not healed: {}", daemon.status());
        std::thread::sleep(Duration::from_millis(50));
    }
    let metrics = daemon.get("/metrics").1;
    let drift: u64 = metrics.lines().find_map(|l| l.strip_prefix("weft_drift_events_total ")).unwrap().parse().unwrap();
    assert!(drift >= 1, "{metrics}");
    assert!(daemon.terminate().success());
}

#[test]
fn without_auto_sync_a_commit_waits_as_a_pending_plan() {
    let cluster = Cluster::new();
    let server = &cluster.server;
    let (dir, _repo, commit) = repository("pending");
    let daemon = cluster.watch(dir.path(), "state", &["--interval", "100ms"]);
    let status = daemon.wait_for("the plan recorded", |s| s["seenCommit"] == commit.as_str() && s["phase"] == "OutOfSync");
    assert_eq!(status["pending"], serde_json::json!({"create": 1}), "{status}");
    assert!(status["appliedCommit"].is_null());
    assert!(server.get("v1", "ConfigMap", Some("default"), "settings").is_none(), "nothing applied without --auto-sync");
    assert!(server.requests().iter().all(|r| r.verb != Verb::Apply || r.dry_run));
    assert!(daemon.terminate().success());
}
