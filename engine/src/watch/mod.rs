//! `weft watch`: what the daemon knows, serves over HTTP and keeps on
//! disk. The loop itself (poll the branch, then validate, plan and apply a
//! new commit) lives in the CLI, which owns the stages; it records each
//! step here. Beside it: leader election (`lease`), notifications
//! (`notifier`) and the working tree as a source (`worktree`).
//!
//! Endpoints: `/healthz` (the process answers), `/readyz` (the first sync
//! has been attempted), `/metrics` (Prometheus text format), `/status`
//! (JSON) and `POST /webhook`, which makes the loop poll at once when the
//! request is signed with the webhook secret: GitHub's
//! `X-Hub-Signature-256` (HMAC-SHA256 of the body) or GitLab's
//! `X-Gitlab-Token`. Anything else is refused and counted. The state file (`state.json` in the state directory) is written
//! whole or not at all, so a restart resumes from the last applied commit.

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub mod drift;
pub mod lease;
pub mod notifier;
pub mod worktree;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Nothing synced yet.
    #[default]
    Pending,
    /// The cluster holds the last commit.
    Synced,
    /// The last commit's plan has changes waiting (auto-sync off).
    OutOfSync,
    /// The last commit has errors: it was not applied.
    Invalid,
    /// Applying the last commit failed; the next poll retries.
    Failed,
}

/// What `/status` reports, and what the state file keeps.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub repo: String,
    pub branch: String,
    pub phase: Phase,
    /// The newest commit of the branch weft has looked at.
    pub seen_commit: Option<String>,
    /// The commit the cluster was last made equal to.
    pub applied_commit: Option<String>,
    /// When the last sync finished (RFC 3339).
    pub last_sync: Option<String>,
    pub last_error: Option<String>,
    /// Changes waiting for a sync (auto-sync off), by action.
    pub pending: Option<BTreeMap<String, usize>>,
    pub objects_managed: usize,
    /// Objects that differ from the applied commit, found at the last poll.
    #[serde(default)]
    pub drift: Vec<String>,
    /// With leader election: whether this replica leads (only the leader
    /// applies).
    #[serde(default)]
    pub leader: Option<bool>,
    /// Failed syncs in a row; retries back off.
    #[serde(default)]
    pub failures: u32,
    /// The performance tests of the applied commit: `passed`, or why not.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub perf: BTreeMap<String, String>,
    /// Per target (kubeconfig context, `current` for the current one): the
    /// last sync's objects by design, and what waits there.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub targets: BTreeMap<String, TargetStatus>,
}

/// One target's part of the status.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetStatus {
    pub commit: Option<String>,
    /// Objects of the commit on this target, by design.
    pub designs: BTreeMap<String, usize>,
    /// Changes waiting (auto-sync off), by action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<BTreeMap<String, usize>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// Upper bounds of the histograms' buckets, in seconds.
const BUCKETS: &[f64] = &[0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

#[derive(Default)]
struct Histogram {
    /// Counts per bucket (cumulative when printed), then the sum and count.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn record(&mut self, seconds: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS.len()];
        }
        if let Some(at) = BUCKETS.iter().position(|b| seconds <= *b) {
            self.counts[at] += 1;
        }
        self.sum += seconds;
        self.count += 1;
    }

    fn write(&self, out: &mut String, name: &str, help: &str) {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} histogram\n"));
        let mut cumulative = 0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += self.counts.get(i).copied().unwrap_or(0);
            out.push_str(&format!("{name}_bucket{{le=\"{bound}\"}} {cumulative}\n"));
        }
        out.push_str(&format!("{name}_bucket{{le=\"+Inf\"}} {}\n{name}_sum {}\n{name}_count {}\n", self.count, self.sum, self.count));
    }
}

#[derive(Default)]
struct Metrics {
    /// Webhook requests by result: accepted, rejected.
    webhooks: BTreeMap<&'static str, u64>,
    drift_events: u64,
    /// Syncs by result: success, failure, invalid.
    syncs: BTreeMap<&'static str, u64>,
    durations: Histogram,
    /// From the commit (its committer time, or the file change of a
    /// working tree) to the start of its apply.
    commit_to_apply: Histogram,
    /// Notifications by result: delivered, dropped.
    notifications: BTreeMap<&'static str, u64>,
    /// Performance test runs by result: passed, failed.
    perf_runs: BTreeMap<&'static str, u64>,
    /// The last run of each performance test.
    perf: BTreeMap<String, PerfFigures>,
}

/// What `/metrics` tells of a performance test's last run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PerfFigures {
    /// Seconds, by quantile (0.5, 0.9, 0.99, 0.999).
    pub latency: Vec<(f64, f64)>,
    pub requests_per_second: f64,
    pub error_ratio: f64,
}

/// The daemon's shared state.
#[derive(Default)]
pub struct Daemon {
    status: Mutex<Status>,
    metrics: Mutex<Metrics>,
    ready: AtomicBool,
    /// Set by an accepted webhook; the loop polls at once and clears it.
    poll_now: AtomicBool,
    /// Set when a watcher saw one of weft's objects change.
    drift_suspected: AtomicBool,
    webhook_secret: Option<Vec<u8>>,
}

/// Largest webhook body read (GitHub caps payloads at 25 MB).
const MAX_WEBHOOK_BODY: usize = 25 << 20;

impl Daemon {
    pub fn new(status: Status, webhook_secret: Option<Vec<u8>>) -> Daemon {
        Daemon { status: Mutex::new(status), webhook_secret, ..Default::default() }
    }

    /// Makes the loop poll at once (a signed webhook, a changed file).
    pub fn request_poll(&self) {
        self.poll_now.store(true, Ordering::SeqCst);
    }

    /// A watcher saw an object of the applied commit change: the loop
    /// plans the commit again at once.
    pub fn suspect_drift(&self) {
        self.drift_suspected.store(true, Ordering::SeqCst);
    }

    /// Whether drift is suspected (without clearing it).
    pub fn drift_suspected(&self) -> bool {
        self.drift_suspected.load(Ordering::SeqCst)
    }

    /// Whether drift was suspected since the last call.
    pub fn take_drift_suspicion(&self) -> bool {
        self.drift_suspected.swap(false, Ordering::SeqCst)
    }

    /// Whether a webhook asked for a poll since the last call.
    pub fn take_poll_request(&self) -> bool {
        self.poll_now.swap(false, Ordering::SeqCst)
    }

    /// Whether a webhook request carries a valid signature or token.
    pub fn webhook_is_signed(&self, headers: &hyper::HeaderMap, body: &[u8]) -> bool {
        use hmac::Mac;
        let Some(secret) = &self.webhook_secret else { return false };
        if let Some(signature) = headers.get("x-hub-signature-256").and_then(|v| v.to_str().ok()) {
            let Some(hex) = signature.strip_prefix("sha256=") else { return false };
            let Some(bytes) = decode_hex(hex) else { return false };
            let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret) else { return false };
            mac.update(body);
            return mac.verify_slice(&bytes).is_ok();
        }
        if let Some(token) = headers.get("x-gitlab-token") {
            let token = token.as_bytes();
            // Constant time: the comparison never stops at the first difference.
            return token.len() == secret.len() && token.iter().zip(secret).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0;
        }
        false
    }

    /// Counts objects found drifted from the applied commit.
    pub fn record_drift(&self, objects: usize) {
        self.metrics.lock().expect("metrics lock").drift_events += objects as u64;
    }

    fn record_webhook(&self, result: &'static str) {
        *self.metrics.lock().expect("metrics lock").webhooks.entry(result).or_default() += 1;
    }

    pub fn status(&self) -> Status {
        self.status.lock().expect("status lock").clone()
    }

    /// Changes the status and marks the daemon ready.
    pub fn update(&self, change: impl FnOnce(&mut Status)) {
        change(&mut self.status.lock().expect("status lock"));
        self.ready.store(true, Ordering::SeqCst);
    }

    /// Counts a sync attempt by result (`success`, `failure`, `invalid`).
    pub fn record_sync(&self, result: &'static str, seconds: f64) {
        let mut m = self.metrics.lock().expect("metrics lock");
        *m.syncs.entry(result).or_default() += 1;
        m.durations.record(seconds);
    }

    /// Records the time from a commit to the start of its apply.
    pub fn record_commit_to_apply(&self, seconds: f64) {
        self.metrics.lock().expect("metrics lock").commit_to_apply.record(seconds.max(0.0));
    }

    /// Records a performance test's run: counted by result, its figures
    /// exported until the test runs again.
    pub fn record_perf(&self, test: &str, passed: bool, figures: PerfFigures) {
        let mut m = self.metrics.lock().expect("metrics lock");
        *m.perf_runs.entry(if passed { "passed" } else { "failed" }).or_default() += 1;
        m.perf.insert(test.to_owned(), figures);
    }

    /// Counts a notification by result (`delivered`, `dropped`).
    pub fn record_notification(&self, result: &'static str) {
        *self.metrics.lock().expect("metrics lock").notifications.entry(result).or_default() += 1;
    }

    /// The metrics in Prometheus' text exposition format.
    pub fn metrics_text(&self) -> String {
        let m = self.metrics.lock().expect("metrics lock");
        let status = self.status();
        let mut out = String::new();
        out.push_str("# HELP weft_syncs_total Syncs attempted, by result.\n# TYPE weft_syncs_total counter\n");
        for result in ["success", "failure", "invalid"] {
            out.push_str(&format!("weft_syncs_total{{result=\"{result}\"}} {}\n", m.syncs.get(result).copied().unwrap_or(0)));
        }
        m.durations.write(&mut out, "weft_sync_duration_seconds", "Time from a new commit seen to its sync finished.");
        m.commit_to_apply.write(&mut out, "weft_commit_to_apply_seconds", "Time from a commit (its committer time, or a working tree's file change) to the start of its apply.");
        out.push_str("# HELP weft_notifications_total Notifications sent, by result.\n# TYPE weft_notifications_total counter\n");
        for result in ["delivered", "dropped"] {
            out.push_str(&format!("weft_notifications_total{{result=\"{result}\"}} {}\n", m.notifications.get(result).copied().unwrap_or(0)));
        }
        out.push_str("# HELP weft_perf_runs_total Performance test runs, by result.\n# TYPE weft_perf_runs_total counter\n");
        for result in ["passed", "failed"] {
            out.push_str(&format!("weft_perf_runs_total{{result=\"{result}\"}} {}\n", m.perf_runs.get(result).copied().unwrap_or(0)));
        }
        if !m.perf.is_empty() {
            let label = |test: &str| test.replace('\\', "\\\\").replace('"', "\\\"");
            out.push_str("# HELP weft_perf_latency_seconds Latency of the last run of each performance test, by quantile.\n# TYPE weft_perf_latency_seconds gauge\n");
            for (test, figures) in &m.perf {
                for (quantile, seconds) in &figures.latency {
                    out.push_str(&format!("weft_perf_latency_seconds{{test=\"{}\",quantile=\"{quantile}\"}} {seconds}\n", label(test)));
                }
            }
            out.push_str("# HELP weft_perf_requests_per_second Achieved rate of the last run of each performance test.\n# TYPE weft_perf_requests_per_second gauge\n");
            for (test, figures) in &m.perf {
                out.push_str(&format!("weft_perf_requests_per_second{{test=\"{}\"}} {}\n", label(test), figures.requests_per_second));
            }
            out.push_str("# HELP weft_perf_error_ratio Share of failed requests in the last run of each performance test.\n# TYPE weft_perf_error_ratio gauge\n");
            for (test, figures) in &m.perf {
                out.push_str(&format!("weft_perf_error_ratio{{test=\"{}\"}} {}\n", label(test), figures.error_ratio));
            }
        }
        if let Some(leader) = status.leader {
            out.push_str(&format!("# HELP weft_leader Whether this replica holds the lease.\n# TYPE weft_leader gauge\nweft_leader {}\n", u8::from(leader)));
        }
        out.push_str("# HELP weft_webhook_requests_total Webhook requests, by result.\n# TYPE weft_webhook_requests_total counter\n");
        for result in ["accepted", "rejected", "standby"] {
            out.push_str(&format!("weft_webhook_requests_total{{result=\"{result}\"}} {}\n", m.webhooks.get(result).copied().unwrap_or(0)));
        }
        out.push_str(&format!("# HELP weft_drift_events_total Objects found drifted from the applied commit.\n# TYPE weft_drift_events_total counter\nweft_drift_events_total {}\n", m.drift_events));
        out.push_str("# HELP weft_objects_managed Objects of the last applied commit.\n# TYPE weft_objects_managed gauge\n");
        out.push_str(&format!("weft_objects_managed {}\n", status.objects_managed));
        out
    }

    fn respond(&self, path: &str) -> Response<Full<Bytes>> {
        let (code, content_type, body) = match path {
            "/healthz" => (StatusCode::OK, "text/plain", "ok\n".to_owned()),
            "/readyz" if self.ready.load(Ordering::SeqCst) => (StatusCode::OK, "text/plain", "ready\n".to_owned()),
            "/readyz" => (StatusCode::SERVICE_UNAVAILABLE, "text/plain", "not synced yet\n".to_owned()),
            "/metrics" => (StatusCode::OK, "text/plain; version=0.0.4", self.metrics_text()),
            "/status" => (StatusCode::OK, "application/json", serde_json::to_string_pretty(&self.status()).unwrap_or_default() + "\n"),
            _ => (StatusCode::NOT_FOUND, "text/plain", "not found\n".to_owned()),
        };
        Response::builder().status(code).header("content-type", content_type).body(Full::new(Bytes::from(body))).expect("a valid response")
    }
}

/// Serves the endpoints until the listener fails.
pub async fn serve(listener: tokio::net::TcpListener, daemon: Arc<Daemon>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let daemon = daemon.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                let daemon = daemon.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(&daemon, request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), service).await;
        });
    }
}

async fn handle(daemon: &Daemon, request: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    use http_body_util::BodyExt;
    if request.uri().path() != "/webhook" {
        return daemon.respond(request.uri().path());
    }
    let reply = |code: StatusCode, text: &str| Response::builder().status(code).body(Full::new(Bytes::from(text.to_owned()))).expect("a valid response");
    if request.method() != hyper::Method::POST {
        return reply(StatusCode::METHOD_NOT_ALLOWED, "POST only\n");
    }
    let headers = request.headers().clone();
    let body = match http_body_util::Limited::new(request.into_body(), MAX_WEBHOOK_BODY).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => {
            daemon.record_webhook("rejected");
            return reply(StatusCode::PAYLOAD_TOO_LARGE, "body too large or broken\n");
        }
    };
    // A standby replica does not poll: the git host retries elsewhere.
    if daemon.status().leader == Some(false) {
        daemon.record_webhook("standby");
        return reply(StatusCode::SERVICE_UNAVAILABLE, "standby: the leader polls\n");
    }
    if !daemon.webhook_is_signed(&headers, &body) {
        daemon.record_webhook("rejected");
        return reply(StatusCode::UNAUTHORIZED, "missing or wrong signature\n");
    }
    daemon.record_webhook("accepted");
    daemon.request_poll();
    reply(StatusCode::ACCEPTED, "polling\n")
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// How long to wait before retrying a commit whose sync failed
/// `failures` times in a row: one poll interval, doubling with each
/// failure, at most five minutes (a broken cluster is not hammered, and a
/// fixed one is found again soon).
pub fn backoff(interval: std::time::Duration, failures: u32) -> std::time::Duration {
    const MAX: std::time::Duration = std::time::Duration::from_secs(300);
    interval.saturating_mul(1 << failures.saturating_sub(1).min(16)).min(MAX)
}

const STATE_FILE: &str = "state.json";

/// The state a previous run left, if any.
pub fn load_state(dir: &Path) -> Option<Status> {
    serde_json::from_str(&std::fs::read_to_string(dir.join(STATE_FILE)).ok()?).ok()
}

/// Writes the state whole (a temporary file renamed over the old one).
pub fn save_state(dir: &Path, status: &Status) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let partial = dir.join(format!("{STATE_FILE}.partial"));
    let text = serde_json::to_string_pretty(status).map_err(|e| e.to_string())?;
    std::fs::write(&partial, text).and_then(|()| std::fs::rename(&partial, dir.join(STATE_FILE))).map_err(|e| format!("cannot write the state in {}: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_count_syncs_and_fill_cumulative_buckets() {
        let daemon = Daemon::default();
        daemon.record_sync("success", 0.2);
        daemon.record_sync("success", 3.0);
        daemon.record_sync("invalid", 0.05);
        let text = daemon.metrics_text();
        assert!(text.contains("weft_syncs_total{result=\"success\"} 2\n"), "{text}");
        assert!(text.contains("weft_syncs_total{result=\"invalid\"} 1\n"));
        assert!(text.contains("weft_syncs_total{result=\"failure\"} 0\n"));
        assert!(text.contains("weft_sync_duration_seconds_bucket{le=\"0.1\"} 1\n"));
        assert!(text.contains("weft_sync_duration_seconds_bucket{le=\"0.25\"} 2\n"));
        assert!(text.contains("weft_sync_duration_seconds_bucket{le=\"5\"} 3\n"));
        assert!(text.contains("weft_sync_duration_seconds_count 3\n"));
    }

    #[test]
    fn retries_back_off_exponentially_up_to_five_minutes() {
        use std::time::Duration;
        let second = Duration::from_secs(1);
        assert_eq!(backoff(second, 1), second);
        assert_eq!(backoff(second, 2), 2 * second);
        assert_eq!(backoff(second, 4), 8 * second);
        assert_eq!(backoff(second, 12), Duration::from_secs(300));
        assert_eq!(backoff(Duration::from_secs(30), 100), Duration::from_secs(300), "no overflow");
    }

    #[test]
    fn webhooks_need_the_right_signature_or_token() {
        use hmac::Mac;
        let daemon = Daemon::new(Status::default(), Some(b"s3cret".to_vec()));
        let body = br#"{"ref":"refs/heads/main"}"#;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(body);
        let signature = format!("sha256={}", crate::render::hex(&mac.finalize().into_bytes()));
        let headers = |name: &'static str, value: &str| {
            let mut h = hyper::HeaderMap::new();
            h.insert(name, value.parse().unwrap());
            h
        };
        assert!(daemon.webhook_is_signed(&headers("x-hub-signature-256", &signature), body));
        assert!(!daemon.webhook_is_signed(&headers("x-hub-signature-256", &signature), b"{}"), "another body");
        assert!(!daemon.webhook_is_signed(&headers("x-hub-signature-256", "sha256=00"), body));
        assert!(!daemon.webhook_is_signed(&hyper::HeaderMap::new(), body), "unsigned");
        assert!(daemon.webhook_is_signed(&headers("x-gitlab-token", "s3cret"), body));
        assert!(!daemon.webhook_is_signed(&headers("x-gitlab-token", "s3creT"), body));
        assert!(!Daemon::default().webhook_is_signed(&headers("x-gitlab-token", ""), body), "no secret, no webhooks");
    }

    #[test]
    fn state_survives_a_restart() {
        let dir = std::env::temp_dir().join(format!("weft-watch-state-{}", std::process::id()));
        let status = Status { applied_commit: Some("abc".into()), phase: Phase::Synced, ..Default::default() };
        save_state(&dir, &status).unwrap();
        let read = load_state(&dir).unwrap();
        assert_eq!(read.applied_commit.as_deref(), Some("abc"));
        assert_eq!(read.phase, Phase::Synced);
        assert!(!dir.join("state.json.partial").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
