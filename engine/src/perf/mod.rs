//! Performance tests: stage 8 of the pipeline, after an apply is healthy.
//!
//! A test is described by `Settings` (from a `PerformanceTest` component,
//! an SMP test configuration, a Meshery performance profile or flags),
//! run by the built-in load generator (`load`), and recorded as a `Run`:
//! SMP's result fields plus what SMP lacks (the full percentile spectrum,
//! errors by kind and status, the requested rate, late sends, a per-second
//! timeline and the HDR histogram itself). `Run`s are what `compare`,
//! reports and thresholds read.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

pub mod compare;
pub mod config;
pub mod external;
pub mod load;
pub mod prometheus;
pub mod report;
pub mod steps;

/// What to send, how hard and for how long.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The test's name (recorded in the result).
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// `http://` or `https://` URL.
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Requests per second over all connections; 0 = as fast as possible
    /// (closed loop). Above 0 the generator runs open loop: requests are
    /// sent on a schedule, and latency counts from the scheduled time.
    pub rate: f64,
    pub connections: usize,
    /// Measured time, after the warm-up.
    pub duration: Duration,
    /// Load sent before measuring, not recorded.
    pub warmup: Duration,
    /// Per request; a request past it counts as a `timeout` error.
    pub timeout: Duration,
    pub http2: bool,
    /// Generator threads; None = one per core.
    pub threads: Option<usize>,
    pub thresholds: Thresholds,
    /// An external generator a test file asked for (`wrk`, `hey`), as
    /// `--load-generator`; None = weft's own (which also stands in for
    /// `fortio`, Meshery's default).
    pub load_generator: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            name: "perf".to_owned(),
            labels: BTreeMap::new(),
            url: String::new(),
            method: "GET".to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            rate: 0.0,
            connections: 16,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            http2: false,
            threads: None,
            thresholds: Thresholds::default(),
            load_generator: None,
        }
    }
}

/// Pass/fail gates of a test. All that are set must hold.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Thresholds {
    /// Highest latency per percentile, in milliseconds: `p50`, `p90`,
    /// `p99`, `p99.9`, …
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub latency_ms: BTreeMap<String, f64>,
    /// Highest share of failed requests, 0–1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_error_rate: Option<f64>,
    /// Lowest achieved rate, requests per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_rate: Option<f64>,
    /// Highest growth of p50 and p99 against the baseline, as a fraction
    /// (0.1 = 10 % slower).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_regression: Option<f64>,
}

/// SMP's `latencies_ms`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Latencies {
    pub min: f64,
    pub average: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// One second of the measured window.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Second {
    /// Seconds since the measured window began.
    pub second: u64,
    pub requests: u64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Where and with what the test ran.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Environment {
    pub load_generator: String,
    pub weft_version: String,
    pub machine: String,
    pub cpus: usize,
    /// Target CPU and memory over the test window (Prometheus), when asked.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub target_metrics: BTreeMap<String, f64>,
}

/// The result of one run: SMP's `PerformanceTestResult` fields first
/// (snake_case, milliseconds, UTC), then weft's additions.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Run {
    pub smp_version: String,
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// RFC 3339, UTC: the measured window (warm-up excluded).
    pub start_time: String,
    pub end_time: String,
    pub latencies_ms: Latencies,
    pub actual_qps: f64,

    pub url: String,
    pub method: String,
    /// `http/1.1` or `h2`.
    pub protocol: String,
    /// `closed` (as fast as possible) or `open` (a constant rate).
    pub mode: String,
    /// 0 in closed loop.
    pub requested_qps: f64,
    pub connections: usize,
    pub duration_s: f64,
    pub warmup_s: f64,
    /// Requests completed in the window, failed ones included.
    pub requests: u64,
    pub errors: u64,
    /// Responses by HTTP status code.
    pub status_codes: BTreeMap<String, u64>,
    /// Failures without a usable response, by kind: `connect`, `timeout`,
    /// `io`, `http` (and `status` for 4xx/5xx answers).
    pub error_kinds: BTreeMap<String, u64>,
    /// `p50` … `p99.99`, milliseconds. In open loop, measured from the
    /// scheduled send time (corrected for coordinated omission).
    pub percentiles_ms: BTreeMap<String, f64>,
    /// Open loop only: the same percentiles from the actual send time, as
    /// a closed-loop generator would report them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub uncorrected_percentiles_ms: BTreeMap<String, f64>,
    /// Open loop only: sends that left more than 1 ms after their
    /// scheduled time, because every connection was busy.
    pub late_sends: u64,
    /// Open loop only: requests of the window's schedule never sent,
    /// because the window ended first (the target or the generator could
    /// not keep the rate).
    #[serde(default)]
    pub skipped_sends: u64,
    pub timeline: Vec<Second>,
    /// The latency histogram (microseconds), HdrHistogram V2 compressed,
    /// base64: what `compare` and reports recompute percentiles from.
    pub histogram: String,
    pub environment: Environment,
    /// Thresholds checked, and what failed (empty when all held).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub threshold_failures: Vec<String>,
}

/// The percentiles every result lists.
pub const PERCENTILES: &[(&str, f64)] = &[("p50", 50.0), ("p75", 75.0), ("p90", 90.0), ("p99", 99.0), ("p99.9", 99.9), ("p99.99", 99.99)];

impl Run {
    /// The latency histogram, in microseconds.
    pub fn histogram(&self) -> Result<hdrhistogram::Histogram<u64>, String> {
        use base64::Engine;
        use hdrhistogram::serialization::Deserializer;
        let bytes = base64::engine::general_purpose::STANDARD.decode(&self.histogram).map_err(|e| format!("histogram of {}: {e}", self.id))?;
        Deserializer::new().deserialize(&mut std::io::Cursor::new(bytes)).map_err(|e| format!("histogram of {}: {e:?}", self.id))
    }

    /// The threshold failures of this run (the baseline gate aside, which
    /// `compare` judges).
    pub fn check(&self, thresholds: &Thresholds) -> Vec<String> {
        let mut failures = Vec::new();
        for (name, limit) in &thresholds.latency_ms {
            match self.percentiles_ms.get(name).copied().or_else(|| percentile_of(name).and_then(|q| self.histogram().ok().map(|h| h.value_at_quantile(q / 100.0) as f64 / 1000.0))) {
                Some(value) if value > *limit => failures.push(format!("latency {name} {value:.3} ms > {limit} ms")),
                Some(_) => {}
                None => failures.push(format!("latency {name}: not a percentile (use p50, p99.9, …)")),
            }
        }
        if let Some(limit) = thresholds.max_error_rate {
            let rate = if self.requests == 0 { 1.0 } else { self.errors as f64 / self.requests as f64 };
            if rate > limit {
                failures.push(format!("error rate {:.4} > {limit}", rate));
            }
        }
        if let Some(limit) = thresholds.min_rate
            && self.actual_qps < limit
        {
            failures.push(format!("achieved rate {:.1}/s < {limit}/s", self.actual_qps));
        }
        failures
    }
}

/// `p99.9` → 99.9.
pub fn percentile_of(name: &str) -> Option<f64> {
    name.strip_prefix('p').and_then(|n| n.parse::<f64>().ok()).filter(|q| (0.0..=100.0).contains(q))
}
