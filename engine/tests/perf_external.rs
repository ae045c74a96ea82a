//! `--load-generator wrk|hey`: the parsers on captured output
//! (`tests/fixtures/perf/`), and, when wrk or hey is installed, real runs
//! against a tiny in-process hyper server whose own counts the `Run` must
//! match. Without the tool the live test says so and passes.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use weft::perf::external::{self, Generator, Window};
use weft::perf::{Run, Settings};

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/perf").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn window(generator: &str) -> Window {
    Window { start: jiff::Timestamp::now(), wall: Duration::from_secs(1), load_generator: generator.to_owned() }
}

fn settings(url: &str) -> Settings {
    Settings { url: url.to_owned(), connections: 8, duration: Duration::from_secs(1), warmup: Duration::ZERO, ..Settings::default() }
}

/// Nearest rank over (value, count) pairs, as HdrHistogram defines it.
fn nearest_rank(values: &[(u64, u64)], q: f64) -> u64 {
    let total: u64 = values.iter().map(|v| v.1).sum();
    let rank = ((q / 100.0) * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for &(value, count) in values {
        seen += count;
        if seen >= rank {
            return value;
        }
    }
    values.last().map_or(0, |v| v.0)
}

/// Within HdrHistogram's precision at 3 significant digits (plus 1 µs).
fn close(ms: f64, us: u64) -> bool {
    (ms * 1000.0 - us as f64).abs() <= us as f64 * 0.001 + 1.0
}

#[test]
fn wrk_result_line_becomes_a_run() {
    let text = fixture("wrk-4.1.0-nginx.txt");
    let result = external::parse_wrk(&text).unwrap();
    assert_eq!(result.requests, 58_285);
    assert_eq!(result.codes, BTreeMap::from([("200".to_owned(), 58_285)]));
    assert_eq!((result.latency.min, result.latency.max), (15, 15_179));
    assert!(result.spectrum.is_empty());
    let recorded: u64 = result.values.iter().map(|v| v.1).sum();
    assert_eq!(recorded, 80_648, "wrk's distribution, its synthetic samples included");

    let outcome = external::run_of_wrk(&settings("http://127.0.0.1:8080/"), &result, &window("wrk 4.1.0")).unwrap();
    let run = &outcome.run;
    assert_eq!((run.requests, run.errors), (58_285, 0));
    assert_eq!(run.status_codes, result.codes);
    assert!(run.error_kinds.is_empty());
    assert!((run.duration_s - 1.008_756).abs() < 1e-6, "{}", run.duration_s);
    assert!((run.actual_qps - 58_285.0 / run.duration_s).abs() < 1e-6);
    assert_eq!(run.mode, "closed");
    assert_eq!(run.environment.load_generator, "wrk 4.1.0");
    assert_eq!((run.latencies_ms.min, run.latencies_ms.max), (0.015, 15.179));
    let histogram = run.histogram().unwrap();
    assert_eq!(histogram.len(), recorded);
    for (name, q) in weft::perf::PERCENTILES {
        let expected = nearest_rank(&result.values, *q);
        assert!(close(run.percentiles_ms[*name], expected), "{name}: {} ms vs {expected} µs", run.percentiles_ms[*name]);
    }
    assert!(outcome.notes.iter().any(|n| n.contains("22363 synthetic")), "{:?}", outcome.notes);
}

#[test]
fn wrk_status_errors_are_errors() {
    let result = external::parse_wrk(&fixture("wrk-4.1.0-404.txt")).unwrap();
    let run = external::run_of_wrk(&settings("http://127.0.0.1:8080/missing"), &result, &window("wrk")).unwrap().run;
    assert_eq!((run.requests, run.errors), (35_732, 35_732));
    assert_eq!(run.status_codes, BTreeMap::from([("404".to_owned(), 35_732)]));
    assert_eq!(run.error_kinds, BTreeMap::from([("status".to_owned(), 35_732)]));
}

#[test]
fn wrk_spectrum_becomes_a_histogram() {
    let result = external::parse_wrk(&fixture("wrk-4.1.0-spectrum.txt")).unwrap();
    assert!(result.values.is_empty());
    assert_eq!(result.spectrum.len(), 99 + 27 + 1);
    let outcome = external::run_of_wrk(&settings("http://127.0.0.1:8080/"), &result, &window("wrk")).unwrap();
    let run = &outcome.run;
    assert_eq!(run.requests, 36_163);
    assert_eq!(run.histogram().unwrap().len(), 36_163);
    // Each listed percentile comes back as listed.
    let spectrum: BTreeMap<String, u64> = result.spectrum.iter().map(|&(p, us)| (format!("p{p}"), us)).collect();
    for name in ["p50", "p75", "p90", "p99", "p99.9", "p99.99"] {
        assert!(close(run.percentiles_ms[name], spectrum[name]), "{name}: {} ms vs {} µs", run.percentiles_ms[name], spectrum[name]);
    }
    assert_eq!(run.latencies_ms.max, 17.834);
    assert!(outcome.notes.iter().any(|n| n.contains("spectrum")));
}

#[test]
fn wrk_without_the_result_line_is_an_error() {
    let error = external::parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n").unwrap_err();
    assert!(error.contains("wrk printed no result") && error.contains("Connection refused"), "{error}");
}

#[test]
fn hey_csv_becomes_a_run() {
    let rows = external::parse_hey_csv(&fixture("hey-0.1.4-nginx.csv")).unwrap();
    assert_eq!(rows.len(), 400);
    assert!(rows.iter().all(|r| r.status == 200));
    let mut values: BTreeMap<u64, u64> = BTreeMap::new();
    for row in &rows {
        *values.entry(row.latency_us).or_default() += 1;
    }
    let values: Vec<(u64, u64)> = values.into_iter().collect();
    let outcome = external::run_of_hey(&settings("http://127.0.0.1:8080/"), &rows, &window("hey")).unwrap();
    let run = &outcome.run;
    assert_eq!((run.requests, run.errors), (400, 0));
    assert_eq!(run.status_codes, BTreeMap::from([("200".to_owned(), 400)]));
    assert_eq!(run.histogram().unwrap().len(), 400);
    for (name, q) in weft::perf::PERCENTILES {
        let expected = nearest_rank(&values, *q).max(1);
        assert!(close(run.percentiles_ms[*name], expected), "{name}: {} ms vs {expected} µs", run.percentiles_ms[*name]);
    }
    assert_eq!(run.latencies_ms.max, 1.5);
    assert_eq!(run.timeline.iter().map(|s| s.requests).sum::<u64>(), 400);
    assert!(outcome.notes.iter().any(|n| n.contains("answered requests only")));
}

#[test]
fn hey_404s_are_status_errors() {
    let rows = external::parse_hey_csv(&fixture("hey-0.1.4-404.csv")).unwrap();
    let run = external::run_of_hey(&settings("http://127.0.0.1:8080/missing"), &rows, &window("hey")).unwrap().run;
    assert_eq!((run.requests, run.errors), (40, 40));
    assert_eq!(run.status_codes, BTreeMap::from([("404".to_owned(), 40)]));
    assert_eq!(run.error_kinds, BTreeMap::from([("status".to_owned(), 40)]));
    assert_eq!(run.timeline.iter().map(|s| s.errors).sum::<u64>(), 40);
}

#[test]
fn hey_summary_text_is_not_csv() {
    let error = external::parse_hey_csv("\nSummary:\n  Total:\t1.0 secs\n").unwrap_err();
    assert!(error.contains("not its CSV"), "{error}");
}

#[test]
fn a_missing_tool_names_its_debian_package() {
    let error = external::locate(Generator::Wrk, Some(std::ffi::OsStr::new("/nonexistent"))).unwrap_err();
    assert!(error.contains("apt-get install wrk"), "{error}");
    let error = external::locate(Generator::Hey, Some(std::ffi::OsStr::new("/nonexistent"))).unwrap_err();
    assert!(error.contains("apt-get install hey"), "{error}");
}

#[test]
fn wrk_refuses_a_rate() {
    let settings = Settings { rate: 100.0, ..settings("http://127.0.0.1:9/") };
    let error = external::run_external(Generator::Wrk, &settings, Some(std::ffi::OsStr::new("/usr/bin:/bin:/usr/local/bin"))).unwrap_err();
    assert!(error.contains("rate") || error.contains("not installed"), "{error}");
}

#[test]
fn request_settings_reach_the_tools() {
    let settings = Settings {
        method: "POST".to_owned(),
        headers: vec![("x-weft-test".to_owned(), "yes \"quoted\"".to_owned()), ("Host".to_owned(), "example.test".to_owned())],
        body: b"line\n\"two\"\x00".to_vec(),
        rate: 400.0,
        ..settings("http://127.0.0.1:8080/")
    };
    let script = external::wrk_script(&settings);
    assert!(script.contains("wrk.method = \"POST\""));
    assert!(script.contains("wrk.body = \"line\\010\\\"two\\\"\\000\""), "{script}");
    assert!(script.contains("wrk.headers[\"x-weft-test\"] = \"yes \\\"quoted\\\"\""), "{script}");
    let args = external::hey_args(&settings, Some(std::path::Path::new("/tmp/body")), Duration::from_millis(2500));
    let joined = args.join(" ");
    assert!(joined.starts_with("-z 2500ms -c 8 -q 50 "), "{joined}");
    assert!(joined.contains("-m POST") && joined.contains("-H x-weft-test: yes \"quoted\"") && joined.contains("-host example.test") && joined.contains("-D /tmp/body"), "{joined}");
    assert!(joined.ends_with("-o csv http://127.0.0.1:8080/"), "{joined}");
    let args = external::wrk_args(&Settings { duration: Duration::from_millis(2500), ..settings }, std::path::Path::new("/tmp/s.lua"), Duration::from_millis(2500));
    assert!(args.join(" ").contains("-c 8 -d 3s --timeout 10s -s /tmp/s.lua"), "{args:?}");
}

// ---- live runs ----

/// What the server saw.
#[derive(Default)]
struct Seen {
    by_status: Mutex<BTreeMap<u16, u64>>,
    /// Requests whose method, header or body differed from what was sent.
    mismatched: AtomicU64,
}

const BODY: &[u8] = b"ping\n\x00\"body\"";

/// A server on 127.0.0.1 answering 503 to every 5th request and 200 to
/// the others, checking each request's method, header and body.
fn serve() -> (String, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let (tx, rx) = std::sync::mpsc::channel();
    let state = seen.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let counter = Arc::new(AtomicU64::new(0));
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let (state, counter) = (state.clone(), counter.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                        let (state, counter) = (state.clone(), counter.clone());
                        async move {
                            let ok_method = request.method() == hyper::Method::POST;
                            let ok_header = request.headers().get("x-weft-test").is_some_and(|v| v == "yes");
                            let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                            if !(ok_method && ok_header && body.as_ref() == BODY) {
                                state.mismatched.fetch_add(1, Ordering::Relaxed);
                            }
                            let n = counter.fetch_add(1, Ordering::Relaxed);
                            let status = if n % 5 == 4 { 503 } else { 200 };
                            *state.by_status.lock().unwrap().entry(status).or_default() += 1;
                            Ok::<_, std::convert::Infallible>(Response::builder().status(status).body(Full::new(Bytes::from_static(b"ok\n"))).unwrap())
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), service).await;
                });
            }
        });
    });
    let address = rx.recv().unwrap();
    (format!("http://{address}/"), seen)
}

fn live_settings(url: &str) -> Settings {
    Settings {
        url: url.to_owned(),
        method: "POST".to_owned(),
        headers: vec![("x-weft-test".to_owned(), "yes".to_owned())],
        body: BODY.to_vec(),
        connections: 4,
        threads: Some(1),
        duration: Duration::from_secs(2),
        warmup: Duration::ZERO,
        ..Settings::default()
    }
}

/// The run against what the server counted: requests still in flight when
/// the tool stopped were answered but never counted by it, at most one
/// per connection.
fn check_against_server(run: &Run, seen: &Seen, connections: u64) {
    let server = seen.by_status.lock().unwrap().clone();
    let server_total: u64 = server.values().sum();
    eprintln!("server: {server:?}; run: {} requests, {:?}", run.requests, run.status_codes);
    assert!(run.requests > 0);
    assert!(run.requests <= server_total && server_total - run.requests <= connections, "run {} vs server {server_total}", run.requests);
    for (status, n) in &server {
        let counted = run.status_codes.get(&status.to_string()).copied().unwrap_or(0);
        assert!(counted <= *n && n - counted <= connections, "status {status}: run {counted} vs server {n}");
    }
    assert_eq!(run.status_codes.keys().cloned().collect::<Vec<_>>(), server.keys().map(u16::to_string).collect::<Vec<_>>());
    assert_eq!(run.errors, run.status_codes.get("503").copied().unwrap_or(0));
    assert_eq!(run.error_kinds.get("status").copied().unwrap_or(0), run.errors);
    assert_eq!(seen.mismatched.load(Ordering::Relaxed), 0, "the server saw requests without the method, header or body");
    assert!(!run.histogram().unwrap().is_empty());
}

fn installed(generator: Generator) -> bool {
    match external::locate(generator, None) {
        Ok(_) => true,
        Err(e) => {
            // CI installs wrk and hey (.ci/run): there a missing one is a failure, not a skip.
            assert!(std::env::var_os("CI").is_none(), "{e}");
            eprintln!("skipped: {e}");
            false
        }
    }
}

#[test]
fn wrk_counts_what_the_server_counted() {
    if !installed(Generator::Wrk) {
        return;
    }
    let (url, seen) = serve();
    let outcome = external::run_external(Generator::Wrk, &live_settings(&url), None).unwrap();
    check_against_server(&outcome.run, &seen, 4);
    assert!(outcome.run.environment.load_generator.starts_with("wrk"));
    assert_eq!(outcome.run.mode, "closed");
}

#[test]
fn hey_counts_what_the_server_counted() {
    if !installed(Generator::Hey) {
        return;
    }
    let (url, seen) = serve();
    let outcome = external::run_external(Generator::Hey, &live_settings(&url), None).unwrap();
    check_against_server(&outcome.run, &seen, 4);
    assert_eq!(outcome.run.environment.load_generator, "hey");
}

#[test]
fn hey_keeps_to_a_rate() {
    if !installed(Generator::Hey) {
        return;
    }
    let (url, seen) = serve();
    let settings = Settings { rate: 200.0, ..live_settings(&url) };
    let run = external::run_external(Generator::Hey, &settings, None).unwrap().run;
    check_against_server(&run, &seen, 4);
    assert_eq!(run.requested_qps, 200.0);
    // 4 workers ticking 50 times a second for 2 s.
    assert!((360..=410).contains(&run.requests), "{} requests", run.requests);
}
