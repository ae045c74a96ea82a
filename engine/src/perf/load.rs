//! The built-in load generator.
//!
//! Threads: `Settings::threads` (default one per core) OS threads, each
//! with its own current-thread tokio runtime; connection `i` lives on
//! thread `i % threads`, so a connection's I/O, its requests and its
//! records never cross a thread. Each thread records into its own
//! histograms; they are merged once, at the end.
//!
//! Connections: one future per connection, one request in flight at a
//! time, kept alive for the whole run. Plain `http://` HTTP/1.1 goes
//! through a lean exchange (`h1`: a prebuilt request written as is, the
//! answer scanned in place and skipped), which costs a third of hyper's
//! CPU per request; h2 and https use hyper's low-level connections
//! (`client::conn`), driven in the same future as their requests. A connection that fails or times out is dropped and opened anew
//! (after a short backoff when connecting fails); a failed connect counts
//! as a `connect` error at the time it was attempted.
//!
//! Closed loop (rate 0): each connection sends its next request as soon as
//! the previous response has been read. Latency runs from the send.
//!
//! Open loop (rate > 0): request `i` is scheduled at `start + i / rate`.
//! A free connection (on any thread) takes the next number from a shared
//! counter and waits for its time, so the schedule is spread over
//! whichever connections are free and a stalled connection does not hold
//! the schedule back. Latency runs from the scheduled time (corrected for
//! coordinated omission); a second histogram keeps the latency from the
//! actual send. tokio's timer has a 1 ms tick, so a connection wakes up to
//! `LEAD` early and sends then: the latency of a request that left early
//! counts from when it left. A send more than 1 ms after its scheduled
//! time is a late send (every connection was busy).
//!
//! The warm-up is the first `warmup` of the schedule (open loop) or of the
//! run (closed loop): requests scheduled or sent in it are not recorded. A
//! request sent in the window is waited for (up to its timeout), so a run
//! ends by `warmup + duration + timeout`.

mod client;
mod h1;
mod stats;

/// Send plain-http HTTP/1.1 through hyper's client instead of the lean
/// exchange (`h1`): for comparisons. Also set by `WEFT_LOAD_HYPER_H1=1`.
#[doc(hidden)]
pub static HYPER_H1: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

use super::{Environment, Latencies, Run, Second, Settings, PERCENTILES};
use client::{Sender, Target};
use futures::future::{self, Either};
use futures::stream::{FuturesUnordered, StreamExt};
use stats::{Bounds, Failure, Sample, Stats, ERROR_KINDS};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How early an open-loop connection wakes for its scheduled send (tokio's
/// timer fires on the first 1 ms tick at or after a deadline, and parks for
/// whole ticks).
const LEAD: Duration = Duration::from_millis(2);
/// A send later than this after its scheduled time is a late send.
const LATE: Duration = Duration::from_millis(1);
const BACKOFF_MIN: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Runs `settings` against its URL: a warm-up, then the measured window.
pub fn run(settings: &Settings) -> Result<Run, String> {
    execute(settings, false).map(|(run, _)| run)
}

/// `run`, also returning every latency recorded in the histogram (µs, in
/// no particular order). For tests that check the histogram's figures.
#[doc(hidden)]
pub fn run_with_samples(settings: &Settings) -> Result<(Run, Vec<u64>), String> {
    execute(settings, true)
}

/// What every connection of a run shares.
struct Shared {
    target: Target,
    start: Instant,
    window_start: Instant,
    window_end: Instant,
    timeout: Duration,
    /// 0 = closed loop.
    rate: f64,
    next_slot: AtomicU64,
}

impl Shared {
    /// The scheduled time of the next free slot; None once the schedule
    /// has passed the window's end.
    fn take_slot(&self) -> Option<Instant> {
        let slot = self.next_slot.fetch_add(1, Ordering::Relaxed);
        let at = self.start + Duration::from_secs_f64(slot as f64 / self.rate);
        (at < self.window_end).then_some(at)
    }
}

enum End {
    /// The window is over.
    Done,
    /// The connection is gone or unusable: open another.
    Reconnect,
}

fn execute(settings: &Settings, keep_samples: bool) -> Result<(Run, Vec<u64>), String> {
    if !(settings.rate >= 0.0 && settings.rate.is_finite()) {
        return Err(format!("rate {} is not a number of requests per second", settings.rate));
    }
    if settings.connections == 0 {
        return Err("at least one connection is needed".to_owned());
    }
    if settings.duration.is_zero() {
        return Err("the duration must be longer than 0".to_owned());
    }
    if settings.timeout.is_zero() {
        return Err("the timeout must be longer than 0".to_owned());
    }
    if std::env::var_os("WEFT_LOAD_HYPER_H1").is_some_and(|v| v == "1") {
        HYPER_H1.store(true, Ordering::Relaxed);
    }
    let target = Target::new(settings)?;
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let threads = settings.threads.unwrap_or(cpus).clamp(1, settings.connections);
    let open = settings.rate > 0.0;
    let bounds = Bounds::of(settings.warmup + settings.duration + settings.timeout);

    let started = jiff::Timestamp::now();
    let start = Instant::now();
    let shared = Arc::new(Shared {
        target,
        start,
        window_start: start + settings.warmup,
        window_end: start + settings.warmup + settings.duration,
        timeout: settings.timeout,
        rate: settings.rate,
        next_slot: AtomicU64::new(0),
    });
    let mut handles = Vec::with_capacity(threads);
    for thread in 0..threads {
        let shared = Arc::clone(&shared);
        let connections = (thread..settings.connections).step_by(threads).count();
        let handle = std::thread::Builder::new()
            .name(format!("weft-load-{thread}"))
            .spawn(move || -> Result<Stats, String> {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| format!("cannot start the load generator: {e}"))?;
                let stats = RefCell::new(Stats::new(bounds, shared.window_start, open, keep_samples));
                runtime.block_on(async {
                    let mut all: FuturesUnordered<_> = (0..connections).map(|_| connection(&shared, &stats)).collect();
                    while all.next().await.is_some() {}
                });
                Ok(stats.into_inner())
            })
            .map_err(|e| format!("cannot start a load generator thread: {e}"))?;
        handles.push(handle);
    }
    let mut merged: Option<Stats> = None;
    for handle in handles {
        let stats = handle.join().map_err(|_| "a load generator thread panicked".to_owned())??;
        match &mut merged {
            Some(merged) => merged.merge(stats),
            None => merged = Some(stats),
        }
    }
    let mut stats = merged.expect("at least one thread");
    if stats.clamped > 0 {
        tracing::warn!(clamped = stats.clamped, "latencies above the histogram's range were recorded at its top");
    }
    let samples = stats.samples.take().unwrap_or_default();
    let run = result(settings, &shared, stats, started)?;
    Ok((run, samples))
}

/// One connection, for the whole run: connect, send until the window ends
/// or the connection fails, reconnect.
async fn connection(shared: &Shared, stats: &RefCell<Stats>) {
    // Open loop: a slot taken but not yet sent (kept across reconnects).
    let mut held: Option<Instant> = None;
    let mut backoff = BACKOFF_MIN;
    loop {
        let attempt = Instant::now();
        if attempt >= shared.window_end {
            return;
        }
        let deadline = (attempt + shared.timeout).min(shared.window_end);
        let (sender, driver) = match tokio::time::timeout_at(deadline.into(), shared.target.connect()).await {
            Ok(Ok(connected)) => connected,
            Ok(Err(error)) => {
                tracing::debug!(%error, "connect failed");
                stats.borrow_mut().failure(attempt, Failure::Connect);
                let wake = (Instant::now() + backoff).min(shared.window_end);
                tokio::time::sleep_until(wake.into()).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
            Err(_) => {
                // Connects that ran into the window's end are not errors.
                if Instant::now() < shared.window_end {
                    stats.borrow_mut().failure(attempt, Failure::Connect);
                }
                continue;
            }
        };
        backoff = BACKOFF_MIN;
        let requests = std::pin::pin!(requests(shared, stats, sender, &mut held));
        let end = match future::select(driver, requests).await {
            // The connection closed: let the request in flight (if any) see it.
            Either::Left(((), requests)) => requests.await,
            Either::Right((end, _)) => end,
        };
        if let End::Done = end {
            return;
        }
    }
}

/// Requests over one connection until the window ends or the connection
/// fails.
async fn requests(shared: &Shared, stats: &RefCell<Stats>, mut sender: Sender, held: &mut Option<Instant>) -> End {
    let open = shared.rate > 0.0;
    // The request timeout, kept lazily: one timer per connection, left set
    // to an earlier request's deadline (never later than the current one)
    // and moved on only when it fires, instead of a timer set and
    // cancelled per request.
    let mut timer = std::pin::pin!(tokio::time::sleep_until((Instant::now() + shared.timeout).into()));
    loop {
        let scheduled = if open {
            let at = match *held {
                Some(at) => at,
                None => match shared.take_slot() {
                    Some(at) => *held.insert(at),
                    None => return End::Done,
                },
            };
            if let Some(wake) = at.checked_sub(LEAD)
                && wake > Instant::now()
            {
                tokio::time::sleep_until(wake.into()).await;
            }
            Some(at)
        } else {
            None
        };
        // Immediate once the previous response has been read (the driver
        // only has to see it); an error means the connection closed.
        if !sender.ready().await {
            return End::Reconnect;
        }
        let sent = Instant::now();
        // Nothing leaves after the window: a schedule the target could not
        // keep is cut there, and what was not sent is counted as skipped
        // (so the run ends by warm-up + duration + timeout).
        if sent >= shared.window_end {
            return End::Done;
        }
        *held = None;
        let deadline = sent + shared.timeout;
        let mut exchange = std::pin::pin!(sender.exchange(&shared.target));
        let outcome = std::future::poll_fn(|cx| {
            use std::task::Poll;
            if let Poll::Ready(result) = exchange.as_mut().poll(cx) {
                return Poll::Ready(result);
            }
            while timer.as_mut().poll(cx).is_ready() {
                if Instant::now() >= deadline {
                    return Poll::Ready(Err(Failure::Timeout));
                }
                timer.as_mut().reset(deadline.into());
            }
            Poll::Pending
        })
        .await;
        let done = Instant::now();
        let failed = !matches!(outcome, Ok((_, true)));
        let outcome = outcome.map(|(status, _)| status);
        stats.borrow_mut().record(Sample {
            reference: scheduled.unwrap_or(sent),
            sent,
            done,
            outcome,
            late: scheduled.is_some_and(|at| sent > at + LATE),
        });
        if failed {
            // A timed-out HTTP/1.1 exchange leaves the connection mid-response;
            // any failure is safest answered with a fresh connection, and
            // so is a peer that closes after its answer.
            return End::Reconnect;
        }
    }
}

fn result(settings: &Settings, shared: &Shared, stats: Stats, started: jiff::Timestamp) -> Result<Run, String> {
    use base64::Engine;
    use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
    let ms = |us: u64| us as f64 / 1000.0;
    let spectrum = |histogram: &hdrhistogram::Histogram<u64>| -> BTreeMap<String, f64> {
        PERCENTILES.iter().map(|(name, q)| (name.to_string(), if histogram.is_empty() { 0.0 } else { ms(histogram.value_at_quantile(q / 100.0)) })).collect()
    };
    let latency = &stats.latency;
    let latencies_ms = if latency.is_empty() {
        Latencies::default()
    } else {
        Latencies {
            min: ms(latency.min()),
            average: latency.mean() / 1000.0,
            p50: ms(latency.value_at_quantile(0.50)),
            p90: ms(latency.value_at_quantile(0.90)),
            p99: ms(latency.value_at_quantile(0.99)),
            max: ms(latency.max()),
        }
    };
    let mut serialized = Vec::new();
    V2DeflateSerializer::new().serialize(latency, &mut serialized).map_err(|e| format!("cannot serialise the histogram: {e:?}"))?;
    let histogram = base64::engine::general_purpose::STANDARD.encode(serialized);

    let whole_seconds = settings.duration.as_secs_f64().ceil() as usize;
    let timeline = (0..whole_seconds.max(stats.seconds.len()))
        .map(|second| match stats.seconds.get(second) {
            Some(s) => Second {
                second: second as u64,
                requests: s.requests,
                errors: s.errors,
                p50_ms: if s.latency.is_empty() { 0.0 } else { ms(s.latency.value_at_quantile(0.50)) },
                p99_ms: if s.latency.is_empty() { 0.0 } else { ms(s.latency.value_at_quantile(0.99)) },
            },
            None => Second { second: second as u64, ..Second::default() },
        })
        .collect();
    let mut status_codes: BTreeMap<String, u64> = stats.status.iter().enumerate().filter(|(_, n)| **n > 0).map(|(code, n)| (code.to_string(), *n)).collect();
    if stats.other_status > 0 {
        status_codes.insert("other".to_owned(), stats.other_status);
    }
    let error_kinds = ERROR_KINDS.iter().zip(stats.error_kinds).filter(|(_, n)| *n > 0).map(|(kind, n)| (kind.to_string(), n)).collect();
    // Requests that left (a failed connect sent nothing).
    let sent = stats.requests - stats.error_kinds[Failure::Connect as usize];
    let duration_s = settings.duration.as_secs_f64();
    let window_start = started + (shared.window_start - shared.start);
    let window_end = window_start + settings.duration;
    let stamp = |t: jiff::Timestamp| t.round(jiff::Unit::Millisecond).map(|t| t.to_string()).unwrap_or_else(|_| t.to_string());
    Ok(Run {
        smp_version: "v0.0.1".to_owned(),
        id: uuid::Uuid::new_v4().to_string(),
        name: settings.name.clone(),
        labels: settings.labels.clone(),
        start_time: stamp(window_start),
        end_time: stamp(window_end),
        latencies_ms,
        actual_qps: sent as f64 / duration_s,
        url: settings.url.clone(),
        method: settings.method.clone(),
        protocol: if settings.http2 { "h2" } else { "http/1.1" }.to_owned(),
        mode: if shared.rate > 0.0 { "open" } else { "closed" }.to_owned(),
        requested_qps: shared.rate,
        connections: settings.connections,
        duration_s,
        warmup_s: settings.warmup.as_secs_f64(),
        requests: stats.requests,
        errors: stats.errors,
        status_codes,
        error_kinds,
        percentiles_ms: spectrum(latency),
        uncorrected_percentiles_ms: stats.uncorrected.as_ref().map(spectrum).unwrap_or_default(),
        late_sends: stats.late_sends,
        skipped_sends: if shared.rate > 0.0 { ((shared.rate * duration_s).floor() as u64).saturating_sub(stats.requests) } else { 0 },
        timeline,
        histogram,
        environment: environment(),
        threshold_failures: Vec::new(),
    })
}

fn environment() -> Environment {
    let machine = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| info.lines().find_map(|line| line.strip_prefix("model name").and_then(|rest| rest.split_once(':')).map(|(_, model)| model.trim().to_owned())))
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    Environment {
        load_generator: "weft".to_owned(),
        weft_version: env!("CARGO_PKG_VERSION").to_owned(),
        machine,
        cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        target_metrics: BTreeMap::new(),
    }
}
