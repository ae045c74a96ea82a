//! `weft watch`: what the daemon knows, serves over HTTP and keeps on
//! disk. The loop itself (poll the branch, then validate, plan and apply a
//! new commit) lives in the CLI, which owns the stages; it records each
//! step here.
//!
//! Endpoints: `/healthz` (the process answers), `/readyz` (the first sync
//! has been attempted), `/metrics` (Prometheus text format) and `/status`
//! (JSON). The state file (`state.json` in the state directory) is written
//! whole or not at all, so a restart resumes from the last applied commit.

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

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
}

/// Upper bounds of the sync duration histogram, in seconds.
const BUCKETS: &[f64] = &[0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

#[derive(Default)]
struct Metrics {
    /// Syncs by result: success, failure, invalid.
    syncs: BTreeMap<&'static str, u64>,
    /// Counts per bucket (cumulative when printed), then the sum and count.
    durations: Vec<u64>,
    duration_sum: f64,
    duration_count: u64,
}

/// The daemon's shared state.
#[derive(Default)]
pub struct Daemon {
    status: Mutex<Status>,
    metrics: Mutex<Metrics>,
    ready: AtomicBool,
}

impl Daemon {
    pub fn new(status: Status) -> Daemon {
        Daemon { status: Mutex::new(status), ..Default::default() }
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
        if m.durations.is_empty() {
            m.durations = vec![0; BUCKETS.len()];
        }
        if let Some(at) = BUCKETS.iter().position(|b| seconds <= *b) {
            m.durations[at] += 1;
        }
        m.duration_sum += seconds;
        m.duration_count += 1;
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
        out.push_str("# HELP weft_sync_duration_seconds Time from a new commit seen to its sync finished.\n# TYPE weft_sync_duration_seconds histogram\n");
        let mut cumulative = 0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += m.durations.get(i).copied().unwrap_or(0);
            out.push_str(&format!("weft_sync_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}\n"));
        }
        out.push_str(&format!("weft_sync_duration_seconds_bucket{{le=\"+Inf\"}} {}\n", m.duration_count));
        out.push_str(&format!("weft_sync_duration_seconds_sum {}\nweft_sync_duration_seconds_count {}\n", m.duration_sum, m.duration_count));
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
                let response = daemon.respond(request.uri().path());
                async move { Ok::<_, std::convert::Infallible>(response) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), service).await;
        });
    }
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
