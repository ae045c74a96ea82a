//! What one generator thread records, and the merge of all threads into
//! the figures of a `Run`.

use hdrhistogram::Histogram;
use std::time::{Duration, Instant};

/// How a request failed. `Status` is a response that arrived (its latency
/// is recorded) with a 4xx or 5xx code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Failure {
    Connect,
    Timeout,
    Io,
    Http,
}

pub(super) const ERROR_KINDS: [&str; 5] = ["connect", "timeout", "io", "http", "status"];
const STATUS_KIND: usize = 4;

/// Status codes are counted in a flat table; 100–599 is all HTTP defines.
const STATUS_SLOTS: usize = 600;

/// One second of the measured window.
pub(super) struct SecondStats {
    pub requests: u64,
    pub errors: u64,
    /// Two significant digits is plenty for a per-second p50/p99 and keeps
    /// a long run's timeline small.
    pub latency: Histogram<u32>,
}

/// The bounds every histogram of a run shares, so they merge.
#[derive(Clone, Copy)]
pub(super) struct Bounds {
    pub high_us: u64,
}

impl Bounds {
    /// At least 60 s, and more than the longest latency a run can see (a
    /// request scheduled at the very start and answered at the last
    /// moment of its timeout), so no value is ever clamped in practice.
    pub fn of(run_length: Duration) -> Bounds {
        let longest = run_length.as_micros().saturating_mul(2).min(u64::MAX as u128 / 4) as u64;
        Bounds { high_us: longest.max(60_000_000) }
    }

    pub fn histogram(self) -> Histogram<u64> {
        Histogram::new_with_bounds(1, self.high_us, 3).expect("valid histogram bounds")
    }

    fn second(self) -> Histogram<u32> {
        Histogram::new_with_bounds(1, self.high_us, 2).expect("valid histogram bounds")
    }
}

/// A thread's records; merged into one at the end.
pub(super) struct Stats {
    bounds: Bounds,
    window_start: Instant,
    /// From the scheduled send time in open loop, from the actual one in
    /// closed loop.
    pub latency: Histogram<u64>,
    /// Open loop: from the actual send time.
    pub uncorrected: Option<Histogram<u64>>,
    pub seconds: Vec<SecondStats>,
    pub status: Vec<u64>,
    pub other_status: u64,
    pub error_kinds: [u64; 5],
    pub requests: u64,
    pub errors: u64,
    pub late_sends: u64,
    /// Values above the histogram's range, recorded at its top.
    pub clamped: u64,
    /// Every recorded latency (µs), when asked (tests).
    pub samples: Option<Vec<u64>>,
}

/// One request, as the connection saw it.
pub(super) struct Sample {
    /// When the request counts from: the scheduled time in open loop, the
    /// send time in closed loop. Decides warm-up vs window and the second.
    pub reference: Instant,
    /// When it actually left (open loop: may be a little before `reference`).
    pub sent: Instant,
    pub done: Instant,
    pub outcome: Result<u16, Failure>,
    pub late: bool,
}

impl Stats {
    pub fn new(bounds: Bounds, window_start: Instant, open: bool, keep_samples: bool) -> Stats {
        Stats {
            bounds,
            window_start,
            latency: bounds.histogram(),
            uncorrected: open.then(|| bounds.histogram()),
            seconds: Vec::new(),
            status: vec![0; STATUS_SLOTS],
            other_status: 0,
            error_kinds: [0; 5],
            requests: 0,
            errors: 0,
            late_sends: 0,
            clamped: 0,
            samples: keep_samples.then(Vec::new),
        }
    }

    /// Records one request if it belongs to the measured window.
    #[inline]
    pub fn record(&mut self, sample: Sample) {
        let Some(offset) = sample.reference.checked_duration_since(self.window_start) else {
            return; // warm-up
        };
        let second = offset.as_secs() as usize;
        if second >= self.seconds.len() {
            let bounds = self.bounds;
            self.seconds.resize_with(second + 1, || SecondStats { requests: 0, errors: 0, latency: bounds.second() });
        }
        self.requests += 1;
        self.seconds[second].requests += 1;
        if sample.late {
            self.late_sends += 1;
        }
        let status = match sample.outcome {
            Ok(status) => status,
            Err(failure) => {
                self.errors += 1;
                self.seconds[second].errors += 1;
                self.error_kinds[failure as usize] += 1;
                return;
            }
        };
        match self.status.get_mut(status as usize) {
            Some(count) => *count += 1,
            None => self.other_status += 1,
        }
        if status >= 400 {
            self.errors += 1;
            self.seconds[second].errors += 1;
            self.error_kinds[STATUS_KIND] += 1;
        }
        // Open loop: from the scheduled time, or from the send when the
        // timer let the request leave a little early (then the wait is
        // the service time itself).
        let from = sample.reference.min(sample.sent);
        let corrected = micros(sample.done.saturating_duration_since(from));
        let high = self.bounds.high_us;
        if corrected > high {
            self.clamped += 1;
        }
        let corrected = corrected.clamp(1, high);
        self.latency.saturating_record(corrected);
        let _ = self.seconds[second].latency.record(corrected);
        if let Some(uncorrected) = &mut self.uncorrected {
            uncorrected.saturating_record(micros(sample.done.saturating_duration_since(sample.sent)).clamp(1, high));
        }
        if let Some(samples) = &mut self.samples {
            samples.push(corrected);
        }
    }

    /// A failure that had no request time of its own (a failed connect):
    /// counted at `at`.
    pub fn failure(&mut self, at: Instant, failure: Failure) {
        self.record(Sample { reference: at, sent: at, done: at, outcome: Err(failure), late: false });
    }

    /// Adds `other` (another thread's records) to these.
    pub fn merge(&mut self, other: Stats) {
        let _ = self.latency.add(&other.latency);
        if let (Some(mine), Some(theirs)) = (&mut self.uncorrected, &other.uncorrected) {
            let _ = mine.add(theirs);
        }
        if other.seconds.len() > self.seconds.len() {
            let bounds = self.bounds;
            self.seconds.resize_with(other.seconds.len(), || SecondStats { requests: 0, errors: 0, latency: bounds.second() });
        }
        for (mine, theirs) in self.seconds.iter_mut().zip(other.seconds) {
            mine.requests += theirs.requests;
            mine.errors += theirs.errors;
            let _ = mine.latency.add(&theirs.latency);
        }
        for (mine, theirs) in self.status.iter_mut().zip(&other.status) {
            *mine += theirs;
        }
        self.other_status += other.other_status;
        for (mine, theirs) in self.error_kinds.iter_mut().zip(other.error_kinds) {
            *mine += theirs;
        }
        self.requests += other.requests;
        self.errors += other.errors;
        self.late_sends += other.late_sends;
        self.clamped += other.clamped;
        if let (Some(mine), Some(theirs)) = (&mut self.samples, other.samples) {
            mine.extend(theirs);
        }
    }
}

#[inline]
fn micros(duration: Duration) -> u64 {
    duration.as_micros().min(u64::MAX as u128) as u64
}
