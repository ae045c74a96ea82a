//! The built-in load generator (`weft::perf::load`) against an in-process
//! HTTP target whose latency and failures the tests control.
//!
//! The tests run one at a time (`serial`): they measure time, and two
//! generators sharing the cores would disturb each other's figures.

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use weft::perf::{Run, Settings};

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the target does with each request.
#[derive(Clone, Default)]
struct Behaviour {
    /// Every answer waits this long.
    delay: Duration,
    /// Every `n`th request (1-based) waits this much longer.
    stall_every: Option<(u64, Duration)>,
    /// Requests arriving between `from` and `from + length` after the
    /// target started are held until `from + length` (a paused server).
    stall: Option<(Duration, Duration)>,
    /// Requests arriving in the first `until` after the target started
    /// wait `delay` more.
    slow_start: Option<(Duration, Duration)>,
    /// Every `n`th request (1-based) is answered 503.
    fail_every: Option<u64>,
    http2: bool,
}

/// What the target saw.
#[derive(Default)]
struct Seen {
    requests: AtomicU64,
    failed: AtomicU64,
    h2: AtomicU64,
    arrivals: Mutex<Vec<Instant>>,
}

struct Target {
    addr: SocketAddr,
    seen: Arc<Seen>,
}

impl Target {
    fn url(&self) -> String {
        format!("http://{}/path?q=1", self.addr)
    }
    fn requests(&self) -> u64 {
        self.seen.requests.load(Ordering::SeqCst)
    }
}

fn target(behaviour: Behaviour) -> Target {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let started = Instant::now();
    let (behaviour, shared) = (Arc::new(behaviour), seen.clone());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let _ = stream.set_nodelay(true);
                let (behaviour, seen) = (behaviour.clone(), shared.clone());
                let http2 = behaviour.http2;
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| answer(behaviour.clone(), seen.clone(), started, request));
                    if http2 {
                        let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(stream), service).await;
                    } else {
                        let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                    }
                });
            }
        });
    });
    Target { addr, seen }
}

async fn answer(behaviour: Arc<Behaviour>, seen: Arc<Seen>, started: Instant, request: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let arrived = Instant::now();
    seen.arrivals.lock().unwrap().push(arrived);
    let n = seen.requests.fetch_add(1, Ordering::SeqCst) + 1;
    if request.version() == hyper::Version::HTTP_2 {
        seen.h2.fetch_add(1, Ordering::SeqCst);
    }
    let mut wait = behaviour.delay;
    if let Some((every, extra)) = behaviour.stall_every
        && n.is_multiple_of(every)
    {
        wait += extra;
    }
    if let Some((until, extra)) = behaviour.slow_start
        && arrived < started + until
    {
        wait += extra;
    }
    if let Some((from, length)) = behaviour.stall {
        let (begin, end) = (started + from, started + from + length);
        if arrived >= begin && arrived < end {
            wait += end - arrived;
        }
    }
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    let failed = behaviour.fail_every.is_some_and(|every| n.is_multiple_of(every));
    if failed {
        seen.failed.fetch_add(1, Ordering::SeqCst);
    }
    let mut response = Response::new(Full::new(Bytes::from_static(b"ok\n")));
    if failed {
        *response.status_mut() = hyper::StatusCode::SERVICE_UNAVAILABLE;
    }
    Ok(response)
}

fn settings(url: String, rate: f64, connections: usize, duration_ms: u64, warmup_ms: u64) -> Settings {
    Settings { url, rate, connections, duration: Duration::from_millis(duration_ms), warmup: Duration::from_millis(warmup_ms), timeout: Duration::from_secs(5), ..Settings::default() }
}

fn kinds(run: &Run) -> Vec<&str> {
    run.error_kinds.keys().map(String::as_str).collect()
}

/// Nearest rank, as HdrHistogram computes it (before bucketing).
fn nearest_rank(sorted: &[u64], percentile: f64) -> u64 {
    let rank = ((percentile / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// Within HdrHistogram's 3 significant digits (a bucket is at most 1/1024
/// of its value wide), plus a microsecond.
fn same_bucket(reported_ms: f64, exact_us: u64) -> bool {
    let reported_us = reported_ms * 1000.0;
    (reported_us - exact_us as f64).abs() <= exact_us as f64 / 1000.0 + 1.0
}

#[test]
fn open_loop_keeps_the_requested_rate() {
    let _serial = serial();
    let target = target(Behaviour::default());
    let run = weft::perf::load::run(&settings(target.url(), 500.0, 8, 3000, 0)).unwrap();
    assert_eq!(run.mode, "open");
    assert_eq!(run.requested_qps, 500.0);
    assert!((run.actual_qps - 500.0).abs() <= 5.0, "achieved {} of 500/s", run.actual_qps);
    assert!((1485..=1515).contains(&run.requests), "{} requests in 3 s at 500/s", run.requests);
    assert_eq!(run.errors, 0, "{:?}", run.error_kinds);
    // Against an idle target a send is late only when the generator's
    // thread was not scheduled in time (other processes on a busy host).
    assert!(run.late_sends * 10 <= run.requests, "{} late sends against an idle target", run.late_sends);
    assert_eq!(run.timeline.len(), 3);
    for second in &run.timeline {
        assert!((495..=505).contains(&second.requests), "second {}: {} requests", second.second, second.requests);
    }
    // The rate the target saw, from its own clock.
    let arrivals = target.seen.arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len() as u64, run.requests);
    let span = (*arrivals.last().unwrap() - arrivals[0]).as_secs_f64();
    let seen_rate = (arrivals.len() - 1) as f64 / span;
    assert!((seen_rate - 500.0).abs() <= 5.0, "the target saw {seen_rate:.1}/s");
    // An idle target answers fast; corrected and uncorrected agree.
    assert!(run.percentiles_ms["p50"] < 20.0, "{:?}", run.percentiles_ms);
    assert!(run.uncorrected_percentiles_ms["p50"] <= run.percentiles_ms["p50"] + 0.01);
}

#[test]
fn a_stall_shows_in_the_corrected_percentiles() {
    let _serial = serial();
    // At 1,000/s, the target pauses for one second from 1.5 s on.
    let target = target(Behaviour { stall: Some((Duration::from_millis(1500), Duration::from_secs(1))), ..Behaviour::default() });
    let run = weft::perf::load::run(&settings(target.url(), 1000.0, 10, 4000, 0)).unwrap();
    assert!((3960..=4040).contains(&run.requests), "{} requests", run.requests);
    assert_eq!(run.errors, 0, "{:?}", run.error_kinds);
    let (corrected, uncorrected) = (&run.percentiles_ms, &run.uncorrected_percentiles_ms);
    // A quarter of the schedule fell in the pause: the corrected p99 is
    // close to the whole second, the p50 still small.
    assert!(corrected["p99"] >= 500.0, "corrected {corrected:?}");
    assert!(run.latencies_ms.p99 >= 500.0 && run.latencies_ms.max >= 900.0, "{:?}", run.latencies_ms);
    assert!(corrected["p50"] < 50.0, "corrected {corrected:?}");
    // Only the 10 requests in flight when it paused waited from their send.
    assert!(uncorrected["p99"] < 50.0, "uncorrected {uncorrected:?}");
    assert!(uncorrected["p99.99"] >= 500.0, "uncorrected {uncorrected:?}");
    // Every connection was busy through the pause: its slots left late.
    assert!(run.late_sends >= 500, "{} late sends", run.late_sends);
    // The pause is in the timeline, in the seconds it covered.
    let worst = run.timeline.iter().map(|s| s.p99_ms).fold(0.0, f64::max);
    assert!(worst >= 500.0, "{:?}", run.timeline);
    assert!(run.timeline[0].p99_ms < 50.0, "{:?}", run.timeline[0]);
}

#[test]
fn errors_are_counted_exactly() {
    let _serial = serial();
    let target = target(Behaviour { fail_every: Some(10), ..Behaviour::default() });
    let run = weft::perf::load::run(&settings(target.url(), 0.0, 4, 1500, 0)).unwrap();
    let (served, failed) = (target.requests(), target.seen.failed.load(Ordering::SeqCst));
    assert!(served > 100, "{served}");
    assert_eq!(failed, served / 10);
    assert_eq!(run.requests, served);
    assert_eq!(run.errors, failed);
    assert_eq!(run.error_kinds, BTreeMap::from([("status".to_owned(), failed)]));
    assert_eq!(run.status_codes, BTreeMap::from([("200".to_owned(), served - failed), ("503".to_owned(), failed)]));
    assert_eq!(run.timeline.iter().map(|s| s.errors).sum::<u64>(), failed);
    assert_eq!(run.timeline.iter().map(|s| s.requests).sum::<u64>(), served);
    // 4xx/5xx answers are responses: their latencies are recorded.
    assert_eq!(run.histogram().unwrap().len(), served);
}

#[test]
fn percentiles_match_the_recorded_samples() {
    let _serial = serial();
    // 1 ms answers, and every 50th takes 30 ms more: 2 % slow.
    let target = target(Behaviour { delay: Duration::from_millis(1), stall_every: Some((50, Duration::from_millis(30))), ..Behaviour::default() });
    let (run, mut samples) = weft::perf::load::run_with_samples(&settings(target.url(), 0.0, 4, 1500, 300)).unwrap();
    assert_eq!(run.errors, 0, "{:?}", run.error_kinds);
    assert_eq!(samples.len() as u64, run.requests);
    assert!(target.requests() > run.requests, "the warm-up's requests were answered too");
    samples.sort_unstable();
    for (name, percentile) in weft::perf::PERCENTILES {
        let exact = nearest_rank(&samples, *percentile);
        assert!(same_bucket(run.percentiles_ms[*name], exact), "{name}: reported {} ms, samples say {} µs", run.percentiles_ms[*name], exact);
    }
    let l = &run.latencies_ms;
    assert!(same_bucket(l.min, samples[0]) && same_bucket(l.max, *samples.last().unwrap()), "{l:?}");
    assert!(same_bucket(l.p50, nearest_rank(&samples, 50.0)) && same_bucket(l.p90, nearest_rank(&samples, 90.0)) && same_bucket(l.p99, nearest_rank(&samples, 99.0)));
    let mean = samples.iter().sum::<u64>() as f64 / samples.len() as f64;
    assert!((l.average * 1000.0 - mean).abs() <= mean / 1000.0 + 1.0, "average {} ms, samples {mean} µs", l.average);
    // And what the target did shows: ≥ 1 ms always, ≥ 31 ms for the slow 2 %.
    assert!(l.min >= 1.0, "{l:?}");
    assert!(l.p90 < 31.0 && l.p99 >= 31.0, "{l:?}");
    // The histogram in the result decodes to the same distribution.
    let histogram = run.histogram().unwrap();
    assert_eq!(histogram.len(), run.requests);
    assert_eq!(histogram.value_at_quantile(0.99) as f64 / 1000.0, run.percentiles_ms["p99"]);
}

#[test]
fn a_fixed_delay_shows_in_every_percentile() {
    let _serial = serial();
    let target = target(Behaviour { delay: Duration::from_millis(20), ..Behaviour::default() });
    let run = weft::perf::load::run(&settings(target.url(), 0.0, 2, 1000, 0)).unwrap();
    assert!(run.latencies_ms.min >= 20.0, "{:?}", run.latencies_ms);
    assert!(run.latencies_ms.p50 < 30.0, "{:?}", run.latencies_ms);
    // Closed loop: two connections, 20 ms each → at most 100/s.
    assert!(run.actual_qps > 60.0 && run.actual_qps <= 100.0, "{}", run.actual_qps);
    assert_eq!(run.late_sends, 0);
    assert!(run.uncorrected_percentiles_ms.is_empty());
}

#[test]
fn refused_connections_are_connect_errors_and_end_in_time() {
    let _serial = serial();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    for rate in [0.0, 200.0] {
        let mut settings = settings(format!("http://127.0.0.1:{port}/"), rate, 4, 1000, 300);
        settings.timeout = Duration::from_secs(2);
        let began = Instant::now();
        let run = weft::perf::load::run(&settings).unwrap();
        let took = began.elapsed();
        assert!(took < Duration::from_millis(1300 + 2000), "rate {rate}: took {took:?}");
        assert!(run.requests > 0, "rate {rate}: no failure recorded");
        assert_eq!(run.errors, run.requests);
        assert_eq!(kinds(&run), ["connect"], "rate {rate}");
        assert!(run.status_codes.is_empty());
        assert_eq!(run.actual_qps, 0.0);
        assert_eq!(run.latencies_ms, weft::perf::Latencies::default());
    }
}

#[test]
fn unanswered_requests_time_out_and_the_run_ends() {
    let _serial = serial();
    // Accepts, reads and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buffer = [0u8; 1024];
                while let Ok(n) = std::io::Read::read(&mut stream, &mut buffer) {
                    if n == 0 {
                        break;
                    }
                }
            });
        }
    });
    let mut settings = settings(format!("http://{addr}/"), 0.0, 2, 1000, 0);
    settings.timeout = Duration::from_millis(300);
    let began = Instant::now();
    let run = weft::perf::load::run(&settings).unwrap();
    let took = began.elapsed();
    assert!(took < Duration::from_millis(1000 + 300 + 300), "took {took:?}");
    assert_eq!(kinds(&run), ["timeout"]);
    // Each connection: a request every 300 ms (then a new connection).
    assert!((6..=8).contains(&run.requests), "{} requests", run.requests);
    assert_eq!(run.errors, run.requests);
}

#[test]
fn closed_loop_reaches_a_high_rate() {
    let _serial = serial();
    let target = target(Behaviour::default());
    let run = weft::perf::load::run(&settings(target.url(), 0.0, 16, 2000, 200)).unwrap();
    assert_eq!(run.mode, "closed");
    assert_eq!(run.requested_qps, 0.0);
    assert_eq!(run.errors, 0, "{:?}", run.error_kinds);
    // A debug build sharing two cores with its target; release builds do
    // tens of thousands (see the benchmark).
    assert!(run.actual_qps >= 5000.0, "{} requests/s", run.actual_qps);
    assert_eq!(run.actual_qps, run.requests as f64 / 2.0);
    // Keep-alive: the 16 connections carried everything.
    assert!(target.requests() >= run.requests);
    let total: u64 = run.timeline.iter().map(|s| s.requests).sum();
    assert_eq!(total, run.requests);
}

#[test]
fn http2_with_prior_knowledge() {
    let _serial = serial();
    let target = target(Behaviour { http2: true, delay: Duration::from_millis(1), ..Behaviour::default() });
    for rate in [0.0, 300.0] {
        let before = target.requests();
        let mut settings = settings(target.url(), rate, 4, 1000, 0);
        settings.http2 = true;
        let run = weft::perf::load::run(&settings).unwrap();
        assert_eq!(run.protocol, "h2");
        assert_eq!(run.errors, 0, "rate {rate}: {:?}", run.error_kinds);
        assert!(run.requests > 100, "rate {rate}: {}", run.requests);
        assert_eq!(target.requests() - before, run.requests);
        if rate > 0.0 {
            assert!((297..=303).contains(&run.requests), "{}", run.requests);
        }
    }
    assert_eq!(target.seen.h2.load(Ordering::SeqCst), target.requests());
}

#[test]
fn the_warmup_is_not_counted() {
    let _serial = serial();
    for rate in [0.0, 200.0] {
        // The first 600 ms are slow; the warm-up is 1 s.
        let target = target(Behaviour { slow_start: Some((Duration::from_millis(600), Duration::from_millis(300))), ..Behaviour::default() });
        let run = weft::perf::load::run(&settings(target.url(), rate, 4, 1000, 1000)).unwrap();
        assert!(run.latencies_ms.max < 100.0, "rate {rate}: {:?}", run.latencies_ms);
        assert!(target.requests() > run.requests, "rate {rate}");
        assert_eq!(run.timeline.len(), 1);
        if rate > 0.0 {
            assert!((198..=202).contains(&run.requests), "{}", run.requests);
            assert!(target.requests() >= 390, "{}", target.requests());
        }
        assert_eq!(run.duration_s, 1.0);
        assert_eq!(run.warmup_s, 1.0);
    }
}

#[test]
fn bad_settings_are_refused() {
    for url in ["ftp://example.com/", "not a url", "/relative"] {
        assert!(weft::perf::load::run(&settings(url.to_owned(), 0.0, 1, 100, 0)).is_err(), "{url}");
    }
    assert!(weft::perf::load::run(&settings("http://127.0.0.1:1/".to_owned(), -1.0, 1, 100, 0)).is_err());
    assert!(weft::perf::load::run(&settings("http://127.0.0.1:1/".to_owned(), 0.0, 0, 100, 0)).is_err());
}

#[test]
fn the_command_line_prints_a_run() {
    let _serial = serial();
    let target = target(Behaviour::default());
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["perf", "run", "--url", &target.url(), "--duration", "2s", "--warmup", "200ms", "-c", "4", "--rate", "100", "--format", "json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let run: Run = serde_json::from_slice(&output.stdout).unwrap();
    assert!((198..=202).contains(&run.requests), "{}", run.requests);
    assert_eq!((run.mode.as_str(), run.requested_qps, run.connections), ("open", 100.0, 4));
    assert_eq!(run.smp_version, "v0.0.1");
    assert_eq!(run.environment.load_generator, "weft");
    assert!(run.environment.cpus >= 1 && !run.environment.machine.is_empty());
    assert!(uuid::Uuid::parse_str(&run.id).is_ok(), "{}", run.id);
    let (start, end) = (run.start_time.parse::<jiff::Timestamp>().unwrap(), run.end_time.parse::<jiff::Timestamp>().unwrap());
    assert!(run.start_time.ends_with('Z'));
    assert_eq!((end - start).total(jiff::Unit::Millisecond).unwrap(), 2000.0);
    assert_eq!(run.histogram().unwrap().len(), run.requests);
    assert_eq!(run.percentiles_ms.len(), weft::perf::PERCENTILES.len());
}

/// A hand-written HTTP/1.1 server answering in turn with every framing a
/// response can have, so the generator's lean HTTP/1.1 reader meets them
/// all: chunked with trailers (200), a 100 Continue before the answer
/// (201), a body larger than any read buffer (203), no body (204, and 200
/// to HEAD), and `Connection: close` with the body up to the close (202).
fn framings_target() -> (SocketAddr, Arc<AtomicU64>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let counter = Arc::new(AtomicU64::new(0));
    let served = counter.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let served = served.clone();
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut pending = Vec::new();
                let mut buffer = [0u8; 4096];
                loop {
                    let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match stream.read(&mut buffer) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => pending.extend_from_slice(&buffer[..n]),
                        }
                        continue;
                    };
                    let head_request = pending.starts_with(b"HEAD ");
                    pending.drain(..end + 4);
                    let n = served.fetch_add(1, Ordering::SeqCst);
                    let big = "x".repeat(100_000);
                    let answer = if head_request {
                        "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_owned()
                    } else {
                        match n % 5 {
                            0 => "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: t\r\n\r\n".to_owned(),
                            1 => "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok".to_owned(),
                            2 => format!("HTTP/1.1 203 Non-Authoritative\r\nContent-Length: {}\r\n\r\n{big}", big.len()),
                            3 => "HTTP/1.1 204 No Content\r\n\r\n".to_owned(),
                            _ => "HTTP/1.1 202 Accepted\r\nConnection: close\r\n\r\nuntil the end".to_owned(),
                        }
                    };
                    // In pieces, so the reader has to come back for more.
                    for piece in answer.as_bytes().chunks(7000) {
                        if stream.write_all(piece).is_err() {
                            return;
                        }
                    }
                    if !head_request && n % 5 == 4 {
                        return; // closes
                    }
                }
            });
        }
    });
    (addr, counter)
}

#[test]
fn http1_responses_of_every_framing() {
    let _serial = serial();
    let (addr, served) = framings_target();
    let run = weft::perf::load::run(&settings(format!("http://{addr}/"), 0.0, 2, 1000, 0)).unwrap();
    assert_eq!(run.errors, 0, "{:?}", run.error_kinds);
    assert_eq!(run.requests, served.load(Ordering::SeqCst));
    for status in ["200", "201", "202", "203", "204"] {
        assert!(run.status_codes.get(status).is_some_and(|n| *n > 10), "{status}: {:?}", run.status_codes);
    }
    // HEAD: the Content-Length announces a body that never comes.
    let (addr, served) = framings_target();
    let mut head = settings(format!("http://{addr}/"), 0.0, 1, 500, 0);
    head.method = "HEAD".to_owned();
    let run = weft::perf::load::run(&head).unwrap();
    assert_eq!(run.errors, 0, "{:?}", run.error_kinds);
    assert_eq!(run.status_codes.keys().collect::<Vec<_>>(), ["200"]);
    assert_eq!(run.requests, served.load(Ordering::SeqCst));
    assert!(run.requests > 50, "{}", run.requests);
}

#[test]
fn hyper_http1_client_gives_the_same_counts() {
    // The lean HTTP/1.1 path and hyper's client must agree.
    let _serial = serial();
    weft::perf::load::HYPER_H1.store(true, Ordering::SeqCst);
    let target = target(Behaviour { fail_every: Some(7), ..Behaviour::default() });
    let run = weft::perf::load::run(&settings(target.url(), 0.0, 4, 1000, 0));
    weft::perf::load::HYPER_H1.store(false, Ordering::SeqCst);
    let run = run.unwrap();
    let (served, failed) = (target.requests(), target.seen.failed.load(Ordering::SeqCst));
    assert!(served > 100);
    assert_eq!((run.requests, run.errors), (served, failed));
    assert_eq!(run.error_kinds, BTreeMap::from([("status".to_owned(), failed)]));
}

#[test]
fn a_connection_closed_while_idle_is_reopened_without_an_error() {
    // Answers once per connection, then closes without saying so.
    let _serial = serial();
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buffer = [0u8; 4096];
            let mut seen = Vec::new();
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buffer[..n]),
                }
            }
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }
    });
    let run = weft::perf::load::run(&settings(format!("http://{addr}/"), 20.0, 1, 1000, 0)).unwrap();
    assert_eq!(run.requests, 20);
    assert_eq!(run.errors, 0, "{:?}", run.error_kinds);
}

#[test]
fn an_open_loop_the_target_cannot_keep_is_cut_at_the_window_and_reports_the_shortfall() {
    let _serial = serial();
    // One connection to a 50 ms target keeps at most 20/s; 200/s is asked.
    let target = target(Behaviour { delay: Duration::from_millis(50), ..Behaviour::default() });
    let started = Instant::now();
    let run = weft::perf::load::run(&settings(target.url(), 200.0, 1, 2000, 0)).unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(4), "the run ends with its window (plus the last answer), not with its schedule: {elapsed:?}");
    assert!(run.actual_qps <= 25.0, "achieved {} of 200/s", run.actual_qps);
    assert!(run.requests <= 50, "{}", run.requests);
    assert_eq!(run.requests + run.skipped_sends, 400, "every slot of the window is sent or skipped");
    assert!(run.late_sends > 0);
    // Latency from the schedule grows through the window: the last sends left up to ~2 s late.
    assert!(run.latencies_ms.max > 1000.0, "{:?}", run.latencies_ms);
    assert!(run.check(&weft::perf::Thresholds { min_rate: Some(150.0), ..Default::default() }).iter().any(|f| f.contains("achieved rate")));
}

/// The library refuses what the command line refuses, instead of panicking.
#[test]
fn a_run_without_connections_is_an_error() {
    let error = weft::perf::load::run(&settings("http://127.0.0.1:9/".into(), 0.0, 0, 100, 0)).unwrap_err();
    assert_eq!(error, "at least one connection is needed");
}
