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
        // A working tree has no branch to name.
        let branch: &[&str] = if extra.contains(&"--worktree") { &[] } else { &["--branch", "main"] };
        let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["watch", "--repo", repo.to_str().unwrap(), "--listen", "127.0.0.1:0"])
            .args(branch)
            .args(["--state-dir", state.to_str().unwrap(), "--kubeconfig", kubeconfig.to_str().unwrap()])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("weft watch starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let first = lines.next().expect("a first line").unwrap();
        // With --log-format json the line is an object whose message ends with the address.
        let message = match serde_json::from_str::<Value>(&first) {
            Ok(line) => {
                assert_eq!(line["level"], "INFO", "{first}");
                assert!(line["timestamp"].is_string(), "{first}");
                line["message"].as_str().unwrap().to_owned()
            }
            Err(_) => first,
        };
        let address = message.rsplit("http://").next().unwrap().trim().to_owned();
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

    /// The value of an unlabelled metric.
    fn metric(&self, name: &str) -> f64 {
        let metrics = self.get("/metrics").1;
        metrics.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok()).unwrap_or_else(|| panic!("no {name} in {metrics}"))
    }

    /// Ends the daemon at once, as a crash or an OOM kill would.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        std::mem::forget(self);
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
    let target = &status["targets"]["current"];
    assert_eq!(target["commit"], good.as_str(), "per target: {status}");
    assert_eq!(target["designs"].as_object().unwrap().values().map(|n| n.as_u64().unwrap()).sum::<u64>(), 1, "{status}");
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
    // Between changes the daemon watches; it does not plan at every poll
    // (one plan follows the watchers' first list, a second after the sync).
    std::thread::sleep(Duration::from_millis(1800));
    cluster.server.reset_requests();
    std::thread::sleep(Duration::from_millis(600));
    let requests = cluster.server.requests();
    assert!(requests.iter().all(|r| r.verb != Verb::List && r.verb != Verb::Apply), "idle polls make no LISTs: {requests:?}");
    cluster.edit("hacked");
    let status = daemon.wait_for("the drift reported", |s| s["drift"].as_array().is_some_and(|d| !d.is_empty()));
    assert_eq!(status["drift"], serde_json::json!(["ConfigMap default/settings"]), "{status}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(cluster.mode(), "hacked", "without --self-heal the edit stays");
    assert!(daemon.metric("weft_drift_events_total") >= 1.0, "counted");
    // Set back by hand: no longer reported.
    cluster.edit("fast");
    daemon.wait_for("the drift gone", |s| s["drift"] == serde_json::json!([]));
    cluster.edit("hacked");
    daemon.wait_for("the drift reported again", |s| s["drift"].as_array().is_some_and(|d| !d.is_empty()));
    assert!(daemon.terminate().success());

    // A restart reads the applied commit again and finds the drift left
    // behind, also when the branch's tip is a commit that is not valid.
    let bad = git_commit(&_repo, &[("manifests/settings.yaml", "kind: [\n")], "bad").to_string();
    let daemon = cluster.watch(dir.path(), "state", &["--auto-sync", "--interval", "100ms"]);
    daemon.wait_for("the bad tip seen", |s| s["seenCommit"] == bad.as_str() && s["phase"] == "Invalid");
    assert!(daemon.terminate().success());
    let daemon = cluster.watch(dir.path(), "state", &["--auto-sync", "--interval", "100ms"]);
    let status = daemon.wait_for("the drift found after a restart", |s| s["drift"].as_array().is_some_and(|d| !d.is_empty()));
    assert_eq!(status["appliedCommit"], commit.as_str(), "{status}");
    assert_eq!(status["phase"], "Invalid", "{status}");
    assert!(daemon.terminate().success());

    // Undone, on a cluster where weft's fields are its own again.
    let (dir, _repo, commit) = repository("healing");
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
    assert_eq!(status["targets"]["current"]["pending"], serde_json::json!({"create": 1}), "per target: {status}");
    assert!(status["appliedCommit"].is_null());
    assert!(server.get("v1", "ConfigMap", Some("default"), "settings").is_none(), "nothing applied without --auto-sync");
    assert!(server.requests().iter().all(|r| r.verb != Verb::Apply || r.dry_run));
    assert!(daemon.terminate().success());

    // Restarted with auto-sync on, the commit that was only planned is applied.
    let daemon = cluster.watch(dir.path(), "state", &["--interval", "100ms", "--auto-sync"]);
    daemon.wait_for("the planned commit applied", |s| s["appliedCommit"] == commit.as_str() && s["phase"] == "Synced");
    assert!(server.get("v1", "ConfigMap", Some("default"), "settings").is_some());
    assert!(daemon.terminate().success());
}

#[test]
fn a_working_tree_is_synced_when_its_files_change() {
    let cluster = Cluster::new();
    let tree = tempfile::tempdir().unwrap();
    std::fs::write(tree.path().join("weft.yaml"), "name: tree\n").unwrap();
    std::fs::create_dir(tree.path().join("manifests")).unwrap();
    std::fs::write(tree.path().join("manifests/settings.yaml"), config("fast")).unwrap();
    // Polls once at start, then not for an hour: only file events move it.
    let daemon = cluster.watch(tree.path(), "state", &["--worktree", "--auto-sync", "--interval", "1h", "--debounce", "50ms"]);
    let status = daemon.wait_for("the tree applied", |s| s["phase"] == "Synced");
    let first = status["appliedCommit"].as_str().unwrap().to_owned();
    assert!(first.starts_with("worktree:"), "{status}");
    assert_eq!(cluster.mode(), "fast");

    // Files weft does not read change nothing.
    std::fs::write(tree.path().join("NOTES.txt"), "scratch").unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(daemon.status()["appliedCommit"], first.as_str());

    std::fs::write(tree.path().join("manifests/settings.yaml"), config("careful")).unwrap();
    let status = daemon.wait_for("the edit applied", |s| s["appliedCommit"] != first.as_str() && s["phase"] == "Synced");
    assert_eq!(cluster.mode(), "careful", "{status}");
    assert_eq!(daemon.metric("weft_commit_to_apply_seconds_count"), 2.0);

    // A broken file is held back, as a broken commit is.
    std::fs::write(tree.path().join("manifests/settings.yaml"), "kind: [\n").unwrap();
    let status = daemon.wait_for("the broken edit seen", |s| s["phase"] == "Invalid");
    assert!(status["lastError"].as_str().unwrap().contains("settings.yaml:"), "{status}");
    assert_eq!(cluster.mode(), "careful");
    assert!(daemon.terminate().success());
}

/// A listener that answers its first request with 503 and the rest with
/// 200, and hands every body over.
fn flaky_receiver() -> (String, std::sync::mpsc::Receiver<Value>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let code = if n == 0 { "503 Service Unavailable" } else { "200 OK" };
            let _ = stream.write_all(format!("HTTP/1.1 {code}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes());
            let _ = sender.send(serde_json::from_slice(&body).unwrap());
        }
    });
    (url, receiver)
}

#[test]
fn settings_come_from_weft_yaml_and_events_are_notified_with_retries() {
    let cluster = Cluster::new();
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init(dir.path()).unwrap();
    repo.set_head("refs/heads/main").unwrap();
    // Auto-sync and the interval are the repository's settings, not flags.
    let settings = "name: notified\nwatch:\n  autoSync: true\n  interval: 100ms\n";
    let first = git_commit(&repo, &[("weft.yaml", settings), ("manifests/settings.yaml", &config("fast"))], "first").to_string();
    let (url, events) = flaky_receiver();
    let daemon = cluster.watch(dir.path(), "state", &["--notify", &url, "--log-format", "json"]);
    daemon.wait_for("the commit applied", |s| s["appliedCommit"] == first.as_str());

    let wait = Duration::from_secs(20);
    let refused = events.recv_timeout(wait).expect("a first delivery");
    let delivered = events.recv_timeout(wait).expect("a retry after the 503");
    assert_eq!(refused, delivered, "the retry sends the same event");
    assert_eq!(delivered["event"], "sync-succeeded", "{delivered}");
    assert_eq!(delivered["commit"], first.as_str());
    assert_eq!(delivered["branch"], "main");

    cluster.edit("hacked");
    let event = events.recv_timeout(wait).expect("drift notified");
    assert_eq!(event["event"], "drift", "{event}");
    assert_eq!(event["objects"], serde_json::json!(["ConfigMap default/settings"]));

    let bad = git_commit(&repo, &[("manifests/settings.yaml", "kind: [\n")], "bad").to_string();
    // The same drift found again at later polls is not notified again.
    let event = events.recv_timeout(wait).expect("the invalid commit notified");
    assert_eq!(event["event"], "sync-invalid", "{event}");
    assert_eq!(event["commit"], bad.as_str());
    assert!(event["message"].as_str().unwrap().contains("manifests/settings.yaml:"), "{event}");
    daemon.wait_for("deliveries counted", |_| daemon.metric("weft_notifications_total{result=\"delivered\"}") >= 3.0);
    assert!(daemon.terminate().success());
}

#[test]
fn of_two_replicas_only_the_leader_applies_and_the_other_takes_over() {
    let cluster = Cluster::new();
    let (dir, repo, first) = repository("elected");
    let args = ["--auto-sync", "--interval", "100ms", "--leader-elect", "--lease-duration", "3s", "--lease-namespace", "default"];
    let one = cluster.watch(dir.path(), "one", &args);
    one.wait_for("the first replica leads", |s| s["leader"] == true && s["appliedCommit"] == first.as_str());
    let two = cluster.watch(dir.path(), "two", &args);
    two.wait_for("the second replica stands by", |s| s["leader"] == false);
    assert_eq!(two.post_webhook(None, "{}"), 503, "a standby sends webhooks back to be retried");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(two.status()["leader"], false, "a held lease is not taken: {}", two.status());
    assert_eq!(two.metric("weft_syncs_total{result=\"success\"}"), 0.0, "a standby applies nothing");
    let lease = cluster.server.get("coordination.k8s.io/v1", "Lease", Some("default"), "weft").expect("the lease");
    assert_eq!(lease["spec"]["leaseDurationSeconds"], 3);

    // The leader stops and hands the lease back; the standby takes over and follows the branch.
    assert!(one.terminate().success());
    two.wait_for("the standby leads", |s| s["leader"] == true);
    let second = git_commit(&repo, &[("manifests/settings.yaml", &config("slow"))], "second").to_string();
    two.wait_for("the new leader applies", |s| s["appliedCommit"] == second.as_str());
    assert_eq!(cluster.mode(), "slow");
    let lease = cluster.server.get("coordination.k8s.io/v1", "Lease", Some("default"), "weft").unwrap();
    assert_eq!(lease["spec"]["leaseTransitions"], 1, "{lease}");

    // A leader that dies without handing over is replaced once its lease lapses.
    let three = cluster.watch(dir.path(), "three", &args);
    three.wait_for("a third replica stands by", |s| s["leader"] == false);
    two.kill();
    three.wait_for("the lapsed lease taken", |s| s["leader"] == true);
    assert!(three.terminate().success());
}

#[test]
fn a_daemon_killed_in_the_middle_of_an_apply_converges_after_a_restart() {
    let cluster = Cluster::new();
    let server = &cluster.server;
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init(dir.path()).unwrap();
    repo.set_head("refs/heads/main").unwrap();
    let objects: String = (0..40).map(|i| format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: part-{i}\n  namespace: default\ndata:\n  n: \"{i}\"\n")).collect();
    let commit = git_commit(&repo, &[("weft.yaml", "name: crashing\n"), ("manifests/parts.yaml", &objects)], "many").to_string();

    server.stall_writes_after(10);
    let daemon = cluster.watch(dir.path(), "state", &["--auto-sync", "--interval", "100ms", "--concurrency", "1"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server.requests().iter().any(|r| r.verb == Verb::Apply && !r.dry_run && r.status == 0) {
        assert!(Instant::now() < deadline, "the apply never reached the stall");
        std::thread::sleep(Duration::from_millis(20));
    }
    daemon.kill();
    let applied = server.list("v1", "ConfigMap").iter().filter(|c| c["metadata"]["name"].as_str().unwrap().starts_with("part-")).count();
    assert!(applied < 40, "killed mid-apply: {applied} of 40 applied");

    server.release_writes();
    let daemon = cluster.watch(dir.path(), "state", &["--auto-sync", "--interval", "100ms"]);
    daemon.wait_for("the commit applied after the restart", |s| s["appliedCommit"] == commit.as_str() && s["phase"] == "Synced");
    let applied = server.list("v1", "ConfigMap").iter().filter(|c| c["metadata"]["name"].as_str().unwrap().starts_with("part-")).count();
    assert_eq!(applied, 40);
    assert!(daemon.terminate().success());
}
