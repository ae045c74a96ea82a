//! External load generators, for a second opinion: `wrk` and `hey` run
//! with the test's URL, connections, duration, method, headers and body
//! (and, hey only, rate), and their output becomes the same `Run` as the
//! built-in generator's (`load`).
//!
//! - **wrk** (Debian's `wrk`, 4.1) has no rate option: it runs closed loop
//!   only. A Lua script, written to a temporary file, sets the method,
//!   headers and body, counts status codes per thread (`response()`; this
//!   costs wrk about 15 % of its peak rate) and, in `done()`, prints one
//!   line of JSON: requests, bytes, errors by kind, and every distinct
//!   latency with its count (µs, exact) — or, when listing them would be
//!   slow (wrk finds the i-th value by a scan), the percentile spectrum.
//!   wrk has already applied its own coordinated-omission compensation
//!   (`stats_correct`) to those latencies. No per-second timeline.
//! - **hey** (Debian's `hey`, 0.1.4): `-o csv` lists every request's
//!   latency (seconds, 4 decimals, so 0.1 ms resolution), status code and
//!   start offset; the histogram and the timeline are built from them. Its
//!   `-q` is a per-worker rate, so `rate / connections` is passed. hey's
//!   rate is a paced closed loop (a worker sends on its ticker only once
//!   the previous answer arrived), never corrected for coordinated
//!   omission, so such a run is recorded as `closed` with its requested
//!   rate. hey's CSV leaves out requests that failed without a response
//!   (refused connections, timeouts) and keeps only its first 1,000,000
//!   results: both are said in the notes.
//!
//! A warm-up is a separate, discarded run of the same tool before the
//! measured one. `fortio` (Meshery's default) is not run: weft's own
//! generator stands in for it.

use super::{Environment, Latencies, PERCENTILES, Run, Second, Settings};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Which generator runs a test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generator {
    /// The built-in one (`load`).
    Weft,
    Wrk,
    Hey,
}

impl Generator {
    /// `weft`, `wrk`, `hey`, or `fortio` (weft's generator runs instead;
    /// the second value is the note saying so).
    pub fn from_name(name: &str) -> Result<(Generator, Option<String>), String> {
        match name.trim().to_ascii_lowercase().as_str() {
            "" | "weft" => Ok((Generator::Weft, None)),
            "fortio" => Ok((
                Generator::Weft,
                Some("fortio is not built in: weft's own generator runs instead (open loop at a rate, corrected for coordinated omission, which fortio is not)".to_owned()),
            )),
            "wrk" => Ok((Generator::Wrk, None)),
            "hey" => Ok((Generator::Hey, None)),
            other => Err(format!("unknown load generator `{other}`: use weft, wrk or hey (fortio runs weft's own)")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Generator::Weft => "weft",
            Generator::Wrk => "wrk",
            Generator::Hey => "hey",
        }
    }

    /// The Debian package that installs it.
    pub fn debian_package(self) -> Option<&'static str> {
        match self {
            Generator::Weft => None,
            Generator::Wrk => Some("wrk"),
            Generator::Hey => Some("hey"),
        }
    }
}

/// A run and what the caller should tell the user about it.
#[derive(Debug)]
pub struct Outcome {
    pub run: Run,
    pub notes: Vec<String>,
}

/// Runs `settings` with the generator it names (`settings.load_generator`,
/// default weft's own).
pub fn run(settings: &Settings) -> Result<Outcome, String> {
    let (generator, note) = Generator::from_name(settings.load_generator.as_deref().unwrap_or("weft"))?;
    let mut outcome = match generator {
        Generator::Weft => Outcome { run: super::load::run(settings)?, notes: Vec::new() },
        external => run_external(external, settings, None)?,
    };
    outcome.notes.splice(0..0, note);
    Ok(outcome)
}

/// Runs wrk or hey (found on `search_path`, default `$PATH`).
pub fn run_external(generator: Generator, settings: &Settings, search_path: Option<&OsStr>) -> Result<Outcome, String> {
    let binary = locate(generator, search_path)?;
    check_settings(generator, settings)?;
    let scratch = Scratch::new(generator)?;
    let version = version_of(generator, &binary);
    if !settings.warmup.is_zero() {
        let args = arguments(generator, settings, &scratch, settings.warmup)?;
        execute(&binary, &args, settings.warmup + settings.timeout).map_err(|e| format!("{} warm-up: {e}", generator.name()))?;
    }
    let args = arguments(generator, settings, &scratch, settings.duration)?;
    let start = jiff::Timestamp::now();
    let started = Instant::now();
    let output = execute(&binary, &args, settings.duration + settings.timeout)?;
    let wall = started.elapsed();
    let window = Window { start, wall, load_generator: version };
    match generator {
        Generator::Wrk => run_of_wrk(settings, &parse_wrk(&output)?, &window),
        Generator::Hey => run_of_hey(settings, &parse_hey_csv(&output)?, &window),
        Generator::Weft => unreachable!("weft is not external"),
    }
}

/// The generator's binary on `search_path` (default `$PATH`), or an
/// error naming the Debian package that installs it.
pub fn locate(generator: Generator, search_path: Option<&OsStr>) -> Result<PathBuf, String> {
    let name = generator.name();
    let path = search_path.map(OsStr::to_owned).or_else(|| std::env::var_os("PATH")).unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(name);
        if is_executable(&candidate) {
            return Ok(candidate);
        }
    }
    let package = generator.debian_package().unwrap_or(name);
    Err(format!("--load-generator {name}: `{name}` is not installed (not found on PATH); install Debian's `{package}` package (`apt-get install {package}`), or use --load-generator weft"))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn check_settings(generator: Generator, settings: &Settings) -> Result<(), String> {
    let name = generator.name();
    if generator == Generator::Wrk && settings.rate > 0.0 {
        return Err("--load-generator wrk: wrk has no fixed-rate mode (wrk2 has, and is not packaged); use --rate 0, or --load-generator weft (open loop, corrected for coordinated omission) or hey".to_owned());
    }
    if generator == Generator::Wrk && settings.http2 {
        return Err("--load-generator wrk: wrk speaks HTTP/1.1 only; use --load-generator weft or hey for --http2".to_owned());
    }
    if !(settings.url.starts_with("http://") || settings.url.starts_with("https://")) {
        return Err(format!("--load-generator {name}: `{}` is not an http:// or https:// URL", settings.url));
    }
    if settings.connections == 0 {
        return Err("--connections must be at least 1".to_owned());
    }
    if settings.duration.is_zero() {
        return Err("--duration must be above 0".to_owned());
    }
    Ok(())
}

/// Temporary files of one run (the wrk script, hey's body), removed on drop.
pub struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(generator: Generator) -> Result<Scratch, String> {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!("weft-perf-{}-{}-{n}-{nanos}", generator.name(), std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(Scratch { dir })
    }

    fn write(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, String> {
        let path = self.dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whole seconds, at least one: wrk takes no fractions.
fn whole_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn arguments(generator: Generator, settings: &Settings, scratch: &Scratch, duration: Duration) -> Result<Vec<String>, String> {
    Ok(match generator {
        Generator::Wrk => {
            let script = scratch.write("weft.lua", wrk_script(settings).as_bytes())?;
            wrk_args(settings, &script, duration)
        }
        Generator::Hey => {
            let body = if settings.body.is_empty() { None } else { Some(scratch.write("body", &settings.body)?) };
            hey_args(settings, body.as_deref(), duration)
        }
        Generator::Weft => unreachable!("weft is not external"),
    })
}

/// `wrk -t T -c C -d Ns --timeout Ns -s SCRIPT URL`.
pub fn wrk_args(settings: &Settings, script: &Path, duration: Duration) -> Vec<String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = settings.threads.unwrap_or(cores).clamp(1, settings.connections.max(1));
    vec![
        "-t".into(),
        threads.to_string(),
        "-c".into(),
        settings.connections.to_string(),
        "-d".into(),
        format!("{}s", whole_seconds(duration).max(1)),
        "--timeout".into(),
        format!("{}s", whole_seconds(settings.timeout).max(1)),
        "-s".into(),
        script.display().to_string(),
        settings.url.clone(),
    ]
}

/// `hey -z D -c C [-q R/C] -t S -m METHOD [-H …] [-D BODY] [-h2] -o csv URL`.
pub fn hey_args(settings: &Settings, body: Option<&Path>, duration: Duration) -> Vec<String> {
    let mut args = vec!["-z".into(), format!("{}ms", duration.as_millis().max(1)), "-c".into(), settings.connections.to_string()];
    if settings.rate > 0.0 {
        args.extend(["-q".into(), format!("{}", settings.rate / settings.connections as f64)]);
    }
    args.extend(["-t".into(), whole_seconds(settings.timeout).max(1).to_string(), "-m".into(), settings.method.clone()]);
    for (name, value) in &settings.headers {
        if name.eq_ignore_ascii_case("host") {
            args.extend(["-host".into(), value.clone()]);
        } else {
            args.extend(["-H".into(), format!("{name}: {value}")]);
        }
    }
    if let Some(body) = body {
        args.extend(["-D".into(), body.display().to_string()]);
    }
    if let Some(threads) = settings.threads {
        args.extend(["-cpus".into(), threads.to_string()]);
    }
    if settings.http2 {
        args.push("-h2".into());
    }
    args.extend(["-o".into(), "csv".into(), settings.url.clone()]);
    args
}

/// A Lua string literal holding `bytes` exactly.
fn lua_string(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
    out.push('"');
    out
}

/// The marker of the line the script prints.
pub const WRK_MARKER: &str = "WEFT-WRK-RESULT ";

/// The Lua script wrk runs: the request, status codes per thread, and
/// the result as one JSON line after `WRK_MARKER`.
pub fn wrk_script(settings: &Settings) -> String {
    let mut request = format!("wrk.method = {}\n", lua_string(settings.method.as_bytes()));
    if !settings.body.is_empty() {
        let _ = writeln!(request, "wrk.body = {}", lua_string(&settings.body));
    }
    for (name, value) in &settings.headers {
        let _ = writeln!(request, "wrk.headers[{}] = {}", lua_string(name.as_bytes()), lua_string(value.as_bytes()));
    }
    format!("-- Written by weft for one run of wrk.\n{request}{WRK_DONE}")
}

const WRK_DONE: &str = r#"
local threads = {}
function setup(thread) table.insert(threads, thread) end
codes = {}
function response(status, headers, body) codes[status] = (codes[status] or 0) + 1 end

local function ticks()
  local t = {}
  for p = 1, 99 do t[#t + 1] = p end
  for i = 1, 9 do t[#t + 1] = 99 + i / 10 end
  for i = 1, 9 do t[#t + 1] = 99.9 + i / 100 end
  for i = 1, 9 do t[#t + 1] = 99.99 + i / 1000 end
  return t
end

function done(summary, latency, requests)
  local e = summary.errors
  local out = {}
  out[#out + 1] = string.format('"requests":%d,"duration_us":%d,"bytes":%d', summary.requests, summary.duration, summary.bytes)
  out[#out + 1] = string.format('"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}', e.connect, e.read, e.write, e.status, e.timeout)
  out[#out + 1] = string.format('"latency":{"min":%d,"max":%d,"mean":%.3f,"stdev":%.3f}', latency.min, latency.max, latency.mean, latency.stdev)
  local merged = {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("codes") or {}) do merged[status] = (merged[status] or 0) + n end
  end
  local cs = {}
  for status, n in pairs(merged) do cs[#cs + 1] = string.format('"%d":%d', status, n) end
  out[#out + 1] = '"codes":{' .. table.concat(cs, ",") .. '}'
  -- Every distinct latency (us) with its count when that is cheap (wrk
  -- finds the i-th value by a scan of its table), else the spectrum.
  local distinct = #latency
  local vs = {}
  if distinct > 0 and distinct * (latency.max - latency.min + 1) <= 1e9 then
    for i = 1, distinct do
      local v, n = latency(i)
      vs[#vs + 1] = string.format("[%d,%d]", v, n)
    end
    out[#out + 1] = '"values":[' .. table.concat(vs, ",") .. ']'
  else
    for _, p in ipairs(ticks()) do vs[#vs + 1] = string.format("[%g,%d]", p, latency:percentile(p)) end
    vs[#vs + 1] = string.format("[100,%d]", latency.max)
    out[#out + 1] = '"spectrum":[' .. table.concat(vs, ",") .. ']'
  end
  io.write("\n", "WEFT-WRK-RESULT {", table.concat(out, ","), "}\n")
end
"#;

/// What wrk's `done()` printed.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
pub struct WrkResult {
    /// Responses completed (any status).
    pub requests: u64,
    pub duration_us: u64,
    pub bytes: u64,
    pub errors: WrkErrors,
    pub latency: WrkLatency,
    /// Responses by status code.
    pub codes: BTreeMap<String, u64>,
    /// Every distinct latency (µs) with its count, when listed.
    #[serde(default)]
    pub values: Vec<(u64, u64)>,
    /// Else (percentile, µs) pairs.
    #[serde(default)]
    pub spectrum: Vec<(f64, u64)>,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
pub struct WrkErrors {
    pub connect: u64,
    pub read: u64,
    pub write: u64,
    /// Responses with a status above 399.
    pub status: u64,
    pub timeout: u64,
}

/// wrk's own statistics, µs.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
pub struct WrkLatency {
    pub min: u64,
    pub max: u64,
    pub mean: f64,
    pub stdev: f64,
}

/// The result line in wrk's output.
pub fn parse_wrk(output: &str) -> Result<WrkResult, String> {
    let Some(line) = output.lines().find_map(|l| l.trim().strip_prefix(WRK_MARKER.trim_end())) else {
        return Err(format!("wrk printed no result (its output: {})", snippet(output)));
    };
    serde_json::from_str(line.trim()).map_err(|e| format!("wrk's result line is not what weft's script prints: {e}"))
}

/// One request of hey's CSV.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HeyRequest {
    pub latency_us: u64,
    pub status: u16,
    /// Start, seconds since hey began.
    pub offset_s: f64,
}

/// hey's `-o csv`: a header line, then `response-time, DNS+dialup, DNS,
/// Request-write, Response-delay, Response-read, status-code, offset`
/// per request (times in seconds).
pub fn parse_hey_csv(text: &str) -> Result<Vec<HeyRequest>, String> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let header = lines.next().ok_or("hey printed nothing")?;
    let columns: Vec<&str> = header.split(',').collect();
    let index = |name: &str| columns.iter().position(|c| c.trim() == name);
    let (Some(time), Some(status), Some(offset)) = (index("response-time"), index("status-code"), index("offset")) else {
        return Err(format!("hey's output is not its CSV (first line: {})", snippet(header)));
    };
    let mut requests = Vec::new();
    for (n, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        let field = |i: usize| fields.get(i).map(|f| f.trim()).ok_or_else(|| format!("hey CSV line {}: too few fields", n + 2));
        let bad = |what: &str| format!("hey CSV line {}: {what} is not a number", n + 2);
        let seconds: f64 = field(time)?.parse().map_err(|_| bad("response-time"))?;
        requests.push(HeyRequest {
            latency_us: (seconds * 1e6).round().max(0.0) as u64,
            status: field(status)?.parse().map_err(|_| bad("status-code"))?,
            offset_s: field(offset)?.parse().map_err(|_| bad("offset"))?,
        });
    }
    Ok(requests)
}

/// When the measured run happened, and with what.
pub struct Window {
    pub start: jiff::Timestamp,
    /// The generator's wall time (what its duration is measured against
    /// when it reports none).
    pub wall: Duration,
    /// `wrk 4.1.0`, `hey`.
    pub load_generator: String,
}

/// hey stops keeping results past this many.
pub const HEY_MAX_RESULTS: usize = 1_000_000;

/// The `Run` of a wrk result.
pub fn run_of_wrk(settings: &Settings, result: &WrkResult, window: &Window) -> Result<Outcome, String> {
    let mut histogram = new_histogram(settings);
    let mut notes = Vec::new();
    if !result.values.is_empty() {
        for &(us, count) in &result.values {
            record(&mut histogram, us, count);
        }
        let recorded: u64 = result.values.iter().map(|&(_, count)| count).sum();
        let measured = result.requests.saturating_sub(result.errors.timeout);
        if recorded > measured {
            notes.push(format!(
                "wrk added {} synthetic latencies to its {measured} measured ones (its coordinated-omission compensation, `stats_correct`); the percentiles include them",
                recorded - measured
            ));
        }
    } else if !result.spectrum.is_empty() {
        // Each percentile's value stands for the ranks since the previous
        // one, up to the one just past it (so that rank, however a reader
        // rounds, finds this value).
        let total = result.requests.saturating_sub(result.errors.timeout).max(1);
        let mut done = 0u64;
        for &(p, us) in &result.spectrum {
            let rank = (((p / 100.0) * total as f64).floor() as u64 + 1).min(total);
            if rank > done {
                record(&mut histogram, us, rank - done);
                done = rank;
            }
        }
        notes.push("wrk gave its percentile spectrum, not every latency: the histogram is built from the spectrum".to_owned());
    }
    let failed_without_response = result.errors.connect + result.errors.read + result.errors.write;
    let mut error_kinds = BTreeMap::new();
    for (kind, n) in [("connect", result.errors.connect), ("io", result.errors.read + result.errors.write), ("timeout", result.errors.timeout), ("status", result.errors.status)] {
        if n > 0 {
            error_kinds.insert(kind.to_owned(), n);
        }
    }
    let errors = error_kinds.values().sum::<u64>();
    let requests = (result.requests + failed_without_response).max(errors);
    let duration_s = if result.duration_us > 0 { result.duration_us as f64 / 1e6 } else { window.wall.as_secs_f64() };
    let exact = Extremes { min_us: result.latency.min as f64, mean_us: result.latency.mean, max_us: result.latency.max as f64 };
    let counts = Counts { requests, errors, status_codes: result.codes.clone(), error_kinds };
    Ok(Outcome { run: build_run(settings, window, &histogram, exact, counts, duration_s, Vec::new(), "closed"), notes })
}

/// The `Run` of hey's CSV.
pub fn run_of_hey(settings: &Settings, requests: &[HeyRequest], window: &Window) -> Result<Outcome, String> {
    let mut notes = Vec::new();
    let mut histogram = new_histogram(settings);
    let mut status_codes: BTreeMap<String, u64> = BTreeMap::new();
    let mut failed = 0u64;
    let mut seconds: Vec<(u64, u64, hdrhistogram::Histogram<u64>)> = Vec::new();
    let (mut min, mut max, mut sum) = (u64::MAX, 0u64, 0f64);
    for request in requests {
        record(&mut histogram, request.latency_us, 1);
        *status_codes.entry(request.status.to_string()).or_default() += 1;
        let error = request.status >= 400;
        failed += u64::from(error);
        min = min.min(request.latency_us);
        max = max.max(request.latency_us);
        sum += request.latency_us as f64;
        // The second a request completed in.
        let second = (request.offset_s + request.latency_us as f64 / 1e6).max(0.0) as usize;
        while seconds.len() <= second {
            seconds.push((0, 0, hdrhistogram::Histogram::new_with_bounds(1, histogram.high(), 2).expect("valid bounds")));
        }
        let slot = &mut seconds[second];
        slot.0 += 1;
        slot.1 += u64::from(error);
        let _ = slot.2.record(request.latency_us.clamp(1, histogram.high()));
    }
    if requests.len() >= HEY_MAX_RESULTS {
        notes.push(format!("hey keeps only its first {HEY_MAX_RESULTS} results: requests after those are not counted"));
    }
    notes.push("hey's CSV lists answered requests only: failures without a response (refused connections, timeouts) are not counted, and latencies have 0.1 ms resolution".to_owned());
    let duration_s = settings.duration.as_secs_f64().min(window.wall.as_secs_f64()).max(f64::MIN_POSITIVE);
    let mut error_kinds = BTreeMap::new();
    if failed > 0 {
        error_kinds.insert("status".to_owned(), failed);
    }
    let n = requests.len() as u64;
    let timeline = seconds
        .into_iter()
        .enumerate()
        .filter(|(second, _)| (*second as f64) < duration_s.ceil())
        .map(|(second, (requests, errors, latency))| Second {
            second: second as u64,
            requests,
            errors,
            p50_ms: if requests > 0 { latency.value_at_quantile(0.5) as f64 / 1000.0 } else { 0.0 },
            p99_ms: if requests > 0 { latency.value_at_quantile(0.99) as f64 / 1000.0 } else { 0.0 },
        })
        .collect();
    let extremes = if n == 0 { Extremes::default() } else { Extremes { min_us: min as f64, mean_us: sum / n as f64, max_us: max as f64 } };
    let counts = Counts { requests: n, errors: failed, status_codes, error_kinds };
    Ok(Outcome { run: build_run(settings, window, &histogram, extremes, counts, duration_s, timeline, "closed"), notes })
}

#[derive(Default)]
struct Extremes {
    min_us: f64,
    mean_us: f64,
    max_us: f64,
}

struct Counts {
    requests: u64,
    errors: u64,
    status_codes: BTreeMap<String, u64>,
    error_kinds: BTreeMap<String, u64>,
}

/// The same bounds as the built-in generator's, so histograms merge.
fn new_histogram(settings: &Settings) -> hdrhistogram::Histogram<u64> {
    let run_length = settings.warmup + settings.duration + settings.timeout;
    let high = (run_length.as_micros().saturating_mul(2).min(u64::MAX as u128 / 4) as u64).max(60_000_000);
    hdrhistogram::Histogram::new_with_bounds(1, high, 3).expect("valid histogram bounds")
}

fn record(histogram: &mut hdrhistogram::Histogram<u64>, us: u64, count: u64) {
    let value = us.clamp(1, histogram.high());
    let _ = histogram.record_n(value, count);
}

#[allow(clippy::too_many_arguments)]
fn build_run(settings: &Settings, window: &Window, histogram: &hdrhistogram::Histogram<u64>, extremes: Extremes, counts: Counts, duration_s: f64, timeline: Vec<Second>, mode: &str) -> Run {
    use base64::Engine;
    use hdrhistogram::serialization::Serializer;
    let ms = |us: u64| us as f64 / 1000.0;
    let at = |p: f64| if histogram.is_empty() { 0.0 } else { ms(histogram.value_at_quantile(p / 100.0)) };
    let percentiles_ms: BTreeMap<String, f64> = PERCENTILES.iter().map(|&(name, p)| (name.to_owned(), at(p))).collect();
    let mut bytes = Vec::new();
    let _ = hdrhistogram::serialization::V2DeflateSerializer::new().serialize(histogram, &mut bytes);
    let end = window.start.checked_add(jiff::SignedDuration::from_secs_f64(duration_s)).unwrap_or(window.start);
    let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, format!("weft-perf {} {} {} {}", window.load_generator, settings.url, settings.name, window.start).as_bytes());
    Run {
        smp_version: "v0.0.1".to_owned(),
        id: id.to_string(),
        name: settings.name.clone(),
        labels: settings.labels.clone(),
        start_time: stamp(window.start),
        end_time: stamp(end),
        latencies_ms: Latencies {
            min: extremes.min_us / 1000.0,
            average: extremes.mean_us / 1000.0,
            p50: at(50.0),
            p90: at(90.0),
            p99: at(99.0),
            max: extremes.max_us / 1000.0,
        },
        actual_qps: if duration_s > 0.0 { counts.requests as f64 / duration_s } else { 0.0 },
        url: settings.url.clone(),
        method: settings.method.clone(),
        protocol: if settings.http2 { "h2" } else { "http/1.1" }.to_owned(),
        mode: mode.to_owned(),
        requested_qps: settings.rate.max(0.0),
        connections: settings.connections,
        duration_s,
        warmup_s: settings.warmup.as_secs_f64(),
        requests: counts.requests,
        errors: counts.errors,
        status_codes: counts.status_codes,
        error_kinds: counts.error_kinds,
        percentiles_ms,
        uncorrected_percentiles_ms: BTreeMap::new(),
        late_sends: 0,
        skipped_sends: 0,
        timeline,
        histogram: base64::engine::general_purpose::STANDARD.encode(bytes),
        environment: Environment {
            load_generator: window.load_generator.clone(),
            weft_version: env!("CARGO_PKG_VERSION").to_owned(),
            machine: machine(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            target_metrics: BTreeMap::new(),
        },
        threshold_failures: Vec::new(),
    }
}

/// RFC 3339 in UTC, to the millisecond (as the built-in generator writes it).
fn stamp(t: jiff::Timestamp) -> String {
    t.round(jiff::Unit::Millisecond).map_or_else(|_| t.to_string(), |t| t.to_string())
}

fn machine() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split_once(':')).map(|(_, v)| v.trim().to_owned()))
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned())
}

/// `wrk 4.1.0-3+b2` from `wrk -v`; hey has no version flag.
fn version_of(generator: Generator, binary: &Path) -> String {
    if generator == Generator::Wrk
        && let Ok(output) = Command::new(binary).arg("-v").stdin(Stdio::null()).output()
    {
        let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
        if let Some(version) = text.lines().next().and_then(|l| l.split_whitespace().nth(1)) {
            return format!("wrk {}", version.trim_start_matches("debian/"));
        }
    }
    generator.name().to_owned()
}

/// Runs the tool and returns its standard output; past `limit` (plus a
/// grace period) it is killed.
fn execute(binary: &Path, args: &[String], limit: Duration) -> Result<String, String> {
    let name = binary.file_name().map_or_else(|| binary.display().to_string(), |n| n.to_string_lossy().into_owned());
    let mut child = Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let reader = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = reader(Box::new(child.stdout.take().expect("piped")));
    let err = reader(Box::new(child.stderr.take().expect("piped")));
    let deadline = Instant::now() + limit + Duration::from_secs(30);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{name} did not finish within {:?}; killed", limit + Duration::from_secs(30)));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for {name}: {e}")),
        }
    };
    let (stdout, stderr) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
    if !status.success() {
        let said = if stderr.trim().is_empty() { &stdout } else { &stderr };
        return Err(format!("{name} failed ({status}): {}", snippet(said)));
    }
    Ok(stdout)
}

fn snippet(text: &str) -> String {
    let text = text.trim();
    let mut end = text.len().min(400);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    if end < text.len() { format!("{}…", &text[..end]) } else { text.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lua_strings_keep_every_byte() {
        assert_eq!(lua_string(b"a\"b\\c\n\x00\xff"), "\"a\\\"b\\\\c\\010\\000\\255\"");
    }

    #[test]
    fn generator_names() {
        assert_eq!(Generator::from_name("WRK").unwrap().0, Generator::Wrk);
        let (generator, note) = Generator::from_name("fortio").unwrap();
        assert_eq!(generator, Generator::Weft);
        assert!(note.unwrap().contains("fortio"));
        assert!(Generator::from_name("nighthawk").is_err());
    }
}
