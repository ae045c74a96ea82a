//! Comparing two runs: percentiles and rate side by side, with a
//! statistical judgement of each change.
//!
//! Latency rows come from the two HDR histograms. Each percentile's change
//! gets a bootstrap confidence interval: both histograms are resampled
//! [`RESAMPLES`] times and the percentile recomputed from every resample.
//! A run can hold millions of samples, so a resample does not draw them one
//! by one: it redraws each histogram bucket's count from a Poisson
//! distribution with the recorded count as its mean (the "Poisson
//! bootstrap", which approximates the multinomial resample of N values and
//! costs one draw per bucket, a few thousand at most, whatever N is). The
//! difference of the two resampled percentiles, over all resamples, gives
//! the interval (percentile method). The seed is fixed, so a comparison is
//! reproducible.
//!
//! A change is judged `worse` or `better` only when its interval excludes
//! zero *and* it exceeds a practical margin ([`MARGIN`], or the regression
//! gate when that is smaller): with enough samples a 0.5 % shift is
//! statistically certain and still means nothing. What the bootstrap cannot
//! see is run-to-run noise of the machine (another process on the host
//! slows a whole run); compare runs taken in the same conditions.

use super::{PERCENTILES, Run};
use serde::Serialize;

/// Bootstrap resamples per comparison (enough for stable 0.5 % tails).
pub const RESAMPLES: usize = 2000;
/// Two-sided confidence level of the intervals. 99 % rather than 95 %:
/// six percentiles are judged at once, and a verdict should not come from
/// one of them landing in its 5 % by chance.
pub const CONFIDENCE: f64 = 0.99;
/// Smallest relative change of a latency or the rate called a difference.
pub const MARGIN: f64 = 0.05;
/// Smallest change of the error rate called a difference (0.01 percentage
/// points), on top of [`MARGIN`] relative to the baseline's rate.
pub const ERROR_RATE_MARGIN: f64 = 0.0001;
/// A percentile is judged only when each run holds at least this many
/// samples above it: below that the bootstrap of an extreme percentile
/// resamples a handful of values and its interval is too narrow (two runs
/// of one distribution came out "worse" at p99.9 with 50 samples above
/// it). So p99 needs 10,000 requests, p99.9 100,000, p99.99 a million.
pub const MIN_TAIL_SAMPLES: f64 = 100.0;
const SEED: u64 = 0x5eed_0f3e_f7ed;

#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub baseline: Side,
    pub candidate: Side,
    /// One row per measure (`p50`, …, `p99.99`, `rate`, `error rate`).
    pub rows: Vec<Row>,
    /// Bootstrap resamples behind the latency intervals.
    pub resamples: usize,
    /// Confidence level of the intervals ([`CONFIDENCE`]).
    pub confidence: f64,
    /// Smallest relative change of a latency or the rate judged
    /// `worse`/`better`.
    pub margin: f64,
    /// The regression gate on p50 and p99, as a fraction, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_regression: Option<f64>,
    /// What makes the comparison weaker: runs of different shapes, a
    /// missing histogram.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Regression gate failures (empty when it holds or is not set).
    pub failures: Vec<String>,
}

/// Which run a side of the comparison is.
#[derive(Clone, Debug, Serialize)]
pub struct Side {
    pub id: String,
    pub name: String,
    pub start_time: String,
    pub requests: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub measure: String,
    /// `ms` (latencies), `req/s` (the achieved rate) or `ratio` (the
    /// error rate, 0–1).
    pub unit: String,
    pub baseline: f64,
    pub candidate: f64,
    /// (candidate − baseline) ÷ baseline. Infinite (null in JSON) when the
    /// baseline is 0 and the candidate is not.
    pub change: f64,
    /// `better`, `worse` or `same` (the change is within noise).
    pub verdict: String,
    /// The confidence interval of candidate − baseline, in `unit`; absent
    /// when the runs hold too little to say (see `method`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ci: Option<[f64; 2]>,
    /// How the interval was found, or why there is none.
    pub method: String,
}

/// Compares `candidate` with `baseline`; `max_regression` (a fraction) is
/// the gate on p50 and p99.
pub fn compare(baseline: &Run, candidate: &Run, max_regression: Option<f64>) -> Result<Comparison, String> {
    if let Some(limit) = max_regression
        && !(limit >= 0.0 && limit.is_finite())
    {
        return Err(format!("max regression {limit}: expected a fraction ≥ 0"));
    }
    let margin = match max_regression {
        Some(limit) if limit > 0.0 => MARGIN.min(limit),
        _ => MARGIN,
    };
    let mut notes = Vec::new();
    if baseline.mode != candidate.mode {
        notes.push(format!("the runs differ in mode ({} loop vs {} loop): latencies of an open loop count from the scheduled send time", baseline.mode, candidate.mode));
    }
    if (baseline.requested_qps - candidate.requested_qps).abs() > 1e-9 {
        notes.push(format!("the runs asked for different rates ({} vs {} requests/s)", rate_text(baseline.requested_qps), rate_text(candidate.requested_qps)));
    }
    if baseline.connections != candidate.connections {
        notes.push(format!("the runs used different connection counts ({} vs {})", baseline.connections, candidate.connections));
    }
    if baseline.url != candidate.url {
        notes.push(format!("the runs loaded different URLs ({} vs {})", baseline.url, candidate.url));
    }

    let mut rows = latency_rows(baseline, candidate, margin, &mut notes)?;
    rows.push(rate_row(baseline, candidate, margin));
    rows.push(error_rate_row(baseline, candidate));

    let mut failures = Vec::new();
    if let Some(limit) = max_regression {
        // Too few samples to judge: the gate holds the point change to the
        // limit rather than letting any regression through.
        for row in rows.iter().filter(|r| (r.measure == "p50" || r.measure == "p99") && r.ci.is_none()) {
            if row.change > limit {
                failures.push(format!(
                    "{} grew {} ({} ms → {} ms), more than the {} allowed (too few samples to judge it statistically; the point change decides)",
                    row.measure,
                    signed_percent(row.change),
                    row.baseline,
                    row.candidate,
                    percent(limit)
                ));
            } else {
                notes.push(format!("{} could not be judged statistically ({}); its point change is within {}", row.measure, row.method, percent(limit)));
            }
        }
        for row in rows.iter().filter(|r| r.measure == "p50" || r.measure == "p99") {
            if row.verdict == "worse" && row.change > limit {
                let ci = row.ci.map(|[lo, hi]| format!(", {:.0} % interval {} … {}", CONFIDENCE * 100.0, signed_percent(lo / row.baseline), signed_percent(hi / row.baseline))).unwrap_or_default();
                failures.push(format!(
                    "{} grew {} ({} ms → {} ms{ci}), more than the {} allowed",
                    row.measure,
                    signed_percent(row.change),
                    ms_text(row.baseline),
                    ms_text(row.candidate),
                    percent(limit)
                ));
            }
        }
    }
    Ok(Comparison { baseline: side(baseline), candidate: side(candidate), rows, resamples: RESAMPLES, confidence: CONFIDENCE, margin, max_regression, notes, failures })
}

fn side(run: &Run) -> Side {
    Side { id: run.id.clone(), name: run.name.clone(), start_time: run.start_time.clone(), requests: run.requests }
}

/// The latency rows: from the histograms when both runs have one, else
/// from the recorded percentiles, without intervals.
fn latency_rows(baseline: &Run, candidate: &Run, margin: f64, notes: &mut Vec<String>) -> Result<Vec<Row>, String> {
    let histograms = match (baseline.histogram(), candidate.histogram()) {
        (Ok(b), Ok(c)) if !b.is_empty() && !c.is_empty() => Some((b, c)),
        (b, c) => {
            for (which, result) in [("baseline", b), ("candidate", c)] {
                match result {
                    Err(e) => notes.push(format!("the {which} has no readable histogram ({e}): latencies compare the recorded percentiles, without intervals")),
                    Ok(h) if h.is_empty() => notes.push(format!("the {which}'s histogram is empty: latencies compare the recorded percentiles, without intervals")),
                    Ok(_) => {}
                }
            }
            None
        }
    };
    let Some((hb, hc)) = histograms else {
        let mut rows = Vec::new();
        for (name, _) in PERCENTILES {
            let (Some(b), Some(c)) = (baseline.percentiles_ms.get(*name).copied(), candidate.percentiles_ms.get(*name).copied()) else {
                return Err(format!("cannot compare {name}: a run has neither a histogram nor a recorded {name}"));
            };
            let change = relative(b, c);
            rows.push(Row {
                measure: (*name).to_owned(),
                unit: "ms".to_owned(),
                baseline: b,
                candidate: c,
                change,
                verdict: "same".to_owned(),
                ci: None,
                method: "no histogram: not judged".to_owned(),
            });
        }
        return Ok(rows);
    };

    let quantiles: Vec<f64> = PERCENTILES.iter().map(|(_, p)| p / 100.0).collect();
    let (bb, cb) = (Buckets::of(&hb), Buckets::of(&hc));
    let observed_b = bb.quantiles(&bb.counts, &quantiles);
    let observed_c = cb.quantiles(&cb.counts, &quantiles);

    // One resample of each run per round gives every percentile's
    // difference at once.
    let mut rng = Rng::new(SEED);
    let mut differences = vec![Vec::with_capacity(RESAMPLES); quantiles.len()];
    let (mut scratch_b, mut scratch_c) = (Vec::new(), Vec::new());
    for _ in 0..RESAMPLES {
        bb.resample(&mut rng, &mut scratch_b);
        cb.resample(&mut rng, &mut scratch_c);
        let (qb, qc) = (bb.quantiles(&scratch_b, &quantiles), cb.quantiles(&scratch_c, &quantiles));
        for (i, d) in differences.iter_mut().enumerate() {
            d.push(qc[i] - qb[i]);
        }
    }

    let mut rows = Vec::new();
    for (i, (name, p)) in PERCENTILES.iter().enumerate() {
        let (b, c) = (observed_b[i], observed_c[i]);
        let change = relative(b, c);
        let tail = (1.0 - p / 100.0) * (hb.len().min(hc.len()) as f64);
        let (verdict, ci, method) = if tail < MIN_TAIL_SAMPLES {
            ("same", None, format!("not judged: fewer than {MIN_TAIL_SAMPLES} samples above {name} in a run ({} requests needed)", count_text((MIN_TAIL_SAMPLES / (1.0 - p / 100.0)).round() as u64)))
        } else {
            let d = &mut differences[i];
            d.sort_by(f64::total_cmp);
            let alpha = (1.0 - CONFIDENCE) / 2.0;
            let ci = [sorted_quantile(d, alpha), sorted_quantile(d, 1.0 - alpha)];
            // Higher latency is worse.
            let verdict = judge(ci, change, margin, false);
            (verdict, Some(ci), format!("bootstrap, {RESAMPLES} Poisson resamples of each histogram"))
        };
        rows.push(Row { measure: (*name).to_owned(), unit: "ms".to_owned(), baseline: b, candidate: c, change, verdict: verdict.to_owned(), ci, method });
    }
    Ok(rows)
}

/// The achieved rate. Its interval is a normal approximation from the
/// spread of the per-second rates (Welch), or, with fewer than 3 seconds
/// in a timeline, from Poisson counts over the window.
fn rate_row(baseline: &Run, candidate: &Run, margin: f64) -> Row {
    let (b, c) = (baseline.actual_qps, candidate.actual_qps);
    let change = relative(b, c);
    let variance_of_mean = |run: &Run| -> (f64, bool) {
        let per_second: Vec<f64> = run.timeline.iter().map(|s| s.requests as f64).collect();
        if per_second.len() >= 3 {
            let n = per_second.len() as f64;
            let mean = per_second.iter().sum::<f64>() / n;
            let var = per_second.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
            (var / n, true)
        } else {
            let duration = if run.duration_s > 0.0 { run.duration_s } else { 1.0 };
            (run.actual_qps.max(0.0) / duration, false)
        }
    };
    let ((vb, tb), (vc, tc)) = (variance_of_mean(baseline), variance_of_mean(candidate));
    let half = Z * (vb + vc).sqrt();
    let ci = [c - b - half, c - b + half];
    let method = if tb && tc { "normal approximation from the per-second rates" } else { "normal approximation, Poisson counts (a run has no timeline)" };
    Row {
        measure: "rate".to_owned(),
        unit: "req/s".to_owned(),
        baseline: b,
        candidate: c,
        change,
        // A higher achieved rate is better.
        verdict: judge(ci, change, margin, true).to_owned(),
        ci: Some(ci),
        method: method.to_owned(),
    }
}

/// The share of failed requests: the Agresti–Caffo interval of a
/// difference of two proportions (one success and one failure added to
/// each run, which keeps the interval honest when a run has no errors).
fn error_rate_row(baseline: &Run, candidate: &Run) -> Row {
    let rate = |run: &Run| if run.requests == 0 { 0.0 } else { run.errors as f64 / run.requests as f64 };
    let (b, c) = (rate(baseline), rate(candidate));
    let adjusted = |run: &Run| {
        let n = run.requests as f64 + 2.0;
        let p = (run.errors as f64 + 1.0) / n;
        (p, p * (1.0 - p) / n)
    };
    let ((pb, vb), (pc, vc)) = (adjusted(baseline), adjusted(candidate));
    let half = Z * (vb + vc).sqrt();
    let ci = [pc - pb - half, pc - pb + half];
    let change = relative(b, c);
    let verdict = if (c - b).abs() <= ERROR_RATE_MARGIN || (b > 0.0 && change.abs() <= MARGIN) {
        "same"
    } else if ci[0] > 0.0 {
        "worse"
    } else if ci[1] < 0.0 {
        "better"
    } else {
        "same"
    };
    Row {
        measure: "error rate".to_owned(),
        unit: "ratio".to_owned(),
        baseline: b,
        candidate: c,
        change,
        verdict: verdict.to_owned(),
        ci: Some(ci),
        method: "Agresti–Caffo interval of two proportions".to_owned(),
    }
}

/// The standard normal quantile at 1 − (1 − [`CONFIDENCE`]) / 2.
const Z: f64 = 2.575_829_303_548_901;

/// `worse`/`better`/`same` for an interval of candidate − baseline and the
/// relative change.
fn judge(ci: [f64; 2], change: f64, margin: f64, higher_is_better: bool) -> &'static str {
    let (up, down) = (ci[0] > 0.0 && change > margin, ci[1] < 0.0 && change < -margin);
    match (up, down, higher_is_better) {
        (true, _, false) | (_, true, true) => "worse",
        (true, _, true) | (_, true, false) => "better",
        _ => "same",
    }
}

fn relative(baseline: f64, candidate: f64) -> f64 {
    if baseline == 0.0 {
        if candidate == 0.0 { 0.0 } else { f64::INFINITY * candidate.signum() }
    } else {
        (candidate - baseline) / baseline
    }
}

/// Linear interpolation between order statistics of a sorted sample.
fn sorted_quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let position = q * (sorted.len() - 1) as f64;
    let (low, high) = (position.floor() as usize, position.ceil() as usize);
    let weight = position - low as f64;
    sorted[low] * (1.0 - weight) + sorted[high] * weight
}

/// A histogram's recorded buckets: the highest value each stands for (in
/// milliseconds, as `value_at_quantile` reports it) and its count.
struct Buckets {
    values_ms: Vec<f64>,
    counts: Vec<u64>,
}

impl Buckets {
    fn of(histogram: &hdrhistogram::Histogram<u64>) -> Buckets {
        let (mut values_ms, mut counts) = (Vec::new(), Vec::new());
        for bucket in histogram.iter_recorded() {
            values_ms.push(histogram.highest_equivalent(bucket.value_iterated_to()) as f64 / 1000.0);
            counts.push(bucket.count_at_value());
        }
        Buckets { values_ms, counts }
    }

    /// A Poisson bootstrap resample of the counts into `out`.
    fn resample(&self, rng: &mut Rng, out: &mut Vec<u64>) {
        out.clear();
        out.extend(self.counts.iter().map(|&count| rng.poisson(count as f64)));
    }

    /// The values at ascending `quantiles` for these counts, as
    /// `Histogram::value_at_quantile` finds them (the first bucket whose
    /// cumulative count reaches ⌈q·N⌉).
    fn quantiles(&self, counts: &[u64], quantiles: &[f64]) -> Vec<f64> {
        let total: u64 = counts.iter().sum();
        let mut out = Vec::with_capacity(quantiles.len());
        let (mut cumulative, mut index) = (0u64, 0usize);
        for &q in quantiles {
            let target = ((q.min(1.0) * total as f64).ceil() as u64).max(1);
            while index < counts.len() && cumulative + counts[index] < target {
                cumulative += counts[index];
                index += 1;
            }
            out.push(self.values_ms.get(index).or(self.values_ms.last()).copied().unwrap_or(0.0));
        }
        out
    }
}

/// SplitMix64: small, fast and good enough for resampling.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    #[cfg(test)]
    fn normal(&mut self) -> f64 {
        let (u1, u2) = (1.0 - self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Poisson(λ), exactly: by inversion below λ = 10, above by Hörmann's
    /// transformed rejection with squeeze (PTRS, "The transformed rejection
    /// method for generating Poisson random variables", 1993; numpy's
    /// method), which takes about one pair of uniforms whatever λ is.
    fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda <= 0.0 {
            return 0;
        }
        if lambda < 10.0 {
            let (u, mut p) = (self.uniform(), (-lambda).exp());
            let (mut k, mut cumulative) = (0u64, p);
            while u > cumulative && k < 1000 {
                k += 1;
                p *= lambda / k as f64;
                cumulative += p;
            }
            return k;
        }
        let (sqrt, log) = (lambda.sqrt(), lambda.ln());
        let b = 0.931 + 2.53 * sqrt;
        let a = -0.059 + 0.02483 * b;
        let inverse_alpha = 1.1239 + 1.1328 / (b - 3.4);
        let vr = 0.9277 - 3.6224 / (b - 2.0);
        loop {
            let (u, v) = (self.uniform() - 0.5, self.uniform());
            let us = 0.5 - u.abs();
            let k = ((2.0 * a / us + b) * u + lambda + 0.43).floor();
            if us >= 0.07 && v <= vr {
                return k as u64;
            }
            if k < 0.0 || (us < 0.013 && v > us) {
                continue;
            }
            if v.ln() + inverse_alpha.ln() - (a / (us * us) + b).ln() <= -lambda + k * log - ln_factorial(k) {
                return k as u64;
            }
        }
    }
}

/// ln(k!) for a whole k ≥ 0: exact below 10, Stirling's series above
/// (error under 1e-10).
fn ln_factorial(k: f64) -> f64 {
    if k < 10.0 {
        return (2..=k as u64).map(|i| (i as f64).ln()).sum();
    }
    let n = k;
    n * n.ln() - n + 0.5 * (std::f64::consts::TAU * n).ln() + 1.0 / (12.0 * n) - 1.0 / (360.0 * n.powi(3)) + 1.0 / (1260.0 * n.powi(5))
}

/// The comparison as an aligned table, then the notes and the gate.
pub fn render_text(comparison: &Comparison) -> String {
    let header = ["measure", "baseline", "candidate", "change", "verdict", &format!("{:.0} % interval of the change", comparison.confidence * 100.0)];
    let mut lines: Vec<[String; 6]> = vec![header.map(str::to_owned)];
    for row in &comparison.rows {
        let [baseline, candidate, change, interval] = cells(row);
        lines.push([row.measure.clone(), baseline, candidate, change, row.verdict.clone(), interval]);
    }
    let widths: Vec<usize> = (0..6).map(|i| lines.iter().map(|l| l[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = format!(
        "baseline  {} ({}, {} requests)\ncandidate {} ({}, {} requests)\n\n",
        label(&comparison.baseline),
        comparison.baseline.start_time,
        count_text(comparison.baseline.requests),
        label(&comparison.candidate),
        comparison.candidate.start_time,
        count_text(comparison.candidate.requests)
    );
    for line in &lines {
        let mut text = String::new();
        for (i, cell) in line.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            // Names and verdicts read left-aligned, numbers right-aligned.
            if matches!(i, 0 | 4 | 5) {
                text.push_str(cell);
                if i < 5 {
                    text.push_str(&" ".repeat(pad));
                }
            } else {
                text.push_str(&" ".repeat(pad));
                text.push_str(cell);
            }
            if i < 5 {
                text.push_str("  ");
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out.push_str(&format!(
        "\nLatency intervals: bootstrap, {} Poisson resamples of each histogram. A change counts as worse or better when its interval excludes 0 and it exceeds {}.\n",
        count_text(comparison.resamples as u64),
        percent(comparison.margin)
    ));
    for note in &comparison.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    match comparison.max_regression {
        Some(limit) if comparison.failures.is_empty() => out.push_str(&format!("gate: p50 and p99 may grow by at most {}: {}\n", percent(limit), gate_passed(comparison))),
        Some(limit) => {
            out.push_str(&format!("gate: p50 and p99 may grow by at most {}: FAILED\n", percent(limit)));
            for failure in &comparison.failures {
                out.push_str(&format!("  {failure}\n"));
            }
        }
        None => {}
    }
    out
}

/// "passed", or what it passed with when p50 or p99 could not be judged.
pub(crate) fn gate_passed(comparison: &Comparison) -> String {
    let unjudged: Vec<&str> = comparison.rows.iter().filter(|r| (r.measure == "p50" || r.measure == "p99") && r.ci.is_none()).map(|r| r.measure.as_str()).collect();
    if unjudged.is_empty() { "passed".to_owned() } else { format!("passed, but {} could not be judged (see the note)", unjudged.join(" and ")) }
}

/// A row's baseline, candidate, change and interval as text.
pub(crate) fn cells(row: &Row) -> [String; 4] {
    let value = |v: f64| match row.unit.as_str() {
        "ms" => format!("{} ms", ms_text(v)),
        "req/s" => format!("{}/s", rate_text(v)),
        "ratio" => format!("{:.3} %", v * 100.0),
        _ => format!("{v}"),
    };
    let change = if row.change.is_finite() {
        signed_percent(row.change)
    } else if row.baseline == 0.0 && row.candidate > 0.0 {
        "from 0".to_owned()
    } else {
        "—".to_owned()
    };
    let interval = match row.ci {
        Some([lo, hi]) if row.unit == "ratio" => format!("{:+.3} … {:+.3} points", lo * 100.0, hi * 100.0),
        Some([lo, hi]) if row.baseline > 0.0 => format!("{} … {}", signed_percent(lo / row.baseline), signed_percent(hi / row.baseline)),
        Some([lo, hi]) => format!("{lo:+.3} … {hi:+.3} {}", row.unit),
        None => "not judged (too few samples)".to_owned(),
    };
    [value(row.baseline), value(row.candidate), change, interval]
}

pub(crate) fn label(side: &Side) -> String {
    match (side.name.is_empty(), side.id.is_empty()) {
        (false, false) => format!("{} [{}]", side.name, side.id),
        (false, true) => side.name.clone(),
        (true, false) => side.id.clone(),
        (true, true) => "(unnamed)".to_owned(),
    }
}

/// Milliseconds with about four significant digits: `0.456`, `12.35`,
/// `1,906`.
pub(crate) fn ms_text(ms: f64) -> String {
    let abs = ms.abs();
    if abs < 10.0 {
        format!("{ms:.3}")
    } else if abs < 100.0 {
        format!("{ms:.2}")
    } else if abs < 1000.0 {
        format!("{ms:.1}")
    } else {
        group_thousands(&format!("{ms:.0}"))
    }
}

/// A rate: `999.7`, `68,469`.
pub(crate) fn rate_text(rate: f64) -> String {
    if rate.abs() < 1000.0 { format!("{rate:.1}") } else { group_thousands(&format!("{rate:.0}")) }
}

pub(crate) fn count_text(n: u64) -> String {
    group_thousands(&n.to_string())
}

fn group_thousands(digits: &str) -> String {
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", digits),
    };
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

pub(crate) fn percent(fraction: f64) -> String {
    let p = fraction * 100.0;
    if (p - p.round()).abs() < 1e-9 { format!("{p:.0} %") } else { format!("{p:.1} %") }
}

fn signed_percent(fraction: f64) -> String {
    format!("{:+.1} %", fraction * 100.0)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::perf::{Latencies, Second};
    use hdrhistogram::Histogram;
    use hdrhistogram::serialization::Serializer as _;

    /// A run whose histogram holds `samples` (microseconds), with its
    /// percentiles filled in as the load generator would.
    pub(crate) fn run_of(id: &str, samples: &[u64], seconds: u64) -> Run {
        let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        for &s in samples {
            histogram.saturating_record(s);
        }
        let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
        let mut bytes = Vec::new();
        hdrhistogram::serialization::V2DeflateSerializer::new().serialize(&histogram, &mut bytes).unwrap();
        use base64::Engine;
        let per_second = samples.len() as u64 / seconds;
        Run {
            id: id.to_owned(),
            name: "synthetic".to_owned(),
            mode: "open".to_owned(),
            requested_qps: per_second as f64,
            actual_qps: samples.len() as f64 / seconds as f64,
            duration_s: seconds as f64,
            requests: samples.len() as u64,
            latencies_ms: Latencies {
                min: histogram.min() as f64 / 1000.0,
                average: histogram.mean() / 1000.0,
                p50: ms(0.5),
                p90: ms(0.9),
                p99: ms(0.99),
                max: histogram.max() as f64 / 1000.0,
            },
            percentiles_ms: PERCENTILES.iter().map(|(n, p)| ((*n).to_owned(), ms(p / 100.0))).collect(),
            timeline: (0..seconds).map(|s| Second { second: s, requests: per_second + (s % 3), errors: 0, p50_ms: ms(0.5), p99_ms: ms(0.99) }).collect(),
            histogram: base64::engine::general_purpose::STANDARD.encode(bytes),
            ..Run::default()
        }
    }

    /// `n` lognormal latencies (µs) with median `median_us`; `tail` scales
    /// the samples above the 95th percentile of the underlying normal.
    pub(crate) fn lognormal(seed: u64, n: usize, median_us: f64, sigma: f64, tail: f64) -> Vec<u64> {
        let mut rng = Rng::new(seed);
        (0..n)
            .map(|_| {
                let z = rng.normal();
                let mut v = median_us * (sigma * z).exp();
                if z > 1.645 {
                    v *= tail;
                }
                v.round().max(1.0) as u64
            })
            .collect()
    }

    fn row<'a>(c: &'a Comparison, measure: &str) -> &'a Row {
        c.rows.iter().find(|r| r.measure == measure).unwrap()
    }

    #[test]
    fn noise_between_runs_of_one_distribution_is_not_flagged() {
        // About a second a comparison in a debug build: six seeds.
        for seed in 1..=6u64 {
            let a = run_of("a", &lognormal(seed, 50_000, 800.0, 0.6, 1.0), 50);
            let b = run_of("b", &lognormal(seed + 1000, 50_000, 800.0, 0.6, 1.0), 50);
            let c = compare(&a, &b, Some(0.1)).unwrap();
            for r in &c.rows {
                assert_eq!(r.verdict, "same", "seed {seed}: {r:?}\n{}", render_text(&c));
            }
            assert!(c.failures.is_empty(), "seed {seed}: {:?}", c.failures);
            // The intervals are real: p50 and p99 are judged and cover 0.
            for m in ["p50", "p99"] {
                let [lo, hi] = row(&c, m).ci.expect("an interval");
                assert!(lo < hi, "{m}: {lo} … {hi}");
            }
        }
    }

    #[test]
    fn a_slower_tail_is_worse_and_fails_the_gate() {
        let a = run_of("a", &lognormal(7, 50_000, 800.0, 0.6, 1.0), 50);
        let b = run_of("b", &lognormal(8, 50_000, 800.0, 0.6, 1.3), 50);
        let c = compare(&a, &b, Some(0.1)).unwrap();
        let p99 = row(&c, "p99");
        assert!((0.25..0.35).contains(&p99.change), "{p99:?}");
        assert_eq!(p99.verdict, "worse");
        assert!(p99.ci.unwrap()[0] > 0.0);
        // p50 sits below the shifted tail: unchanged.
        assert_eq!(row(&c, "p50").verdict, "same");
        assert_eq!(c.failures.len(), 1, "{:?}", c.failures);
        assert!(c.failures[0].starts_with("p99 grew +"), "{}", c.failures[0]);
        let text = render_text(&c);
        assert!(text.contains("FAILED"), "{text}");
        // Without a gate, the same comparison judges but does not fail.
        assert!(compare(&a, &b, None).unwrap().failures.is_empty());
        // A looser gate lets it through.
        assert!(compare(&a, &b, Some(0.5)).unwrap().failures.is_empty());
    }

    #[test]
    fn a_faster_run_is_better() {
        let a = run_of("a", &lognormal(11, 40_000, 1000.0, 0.5, 1.0), 40);
        let b = run_of("b", &lognormal(12, 40_000, 800.0, 0.5, 1.0), 40);
        let c = compare(&a, &b, Some(0.1)).unwrap();
        for m in ["p50", "p75", "p90", "p99"] {
            assert_eq!(row(&c, m).verdict, "better", "{:?}", row(&c, m));
        }
        assert!((row(&c, "p50").change + 0.2).abs() < 0.02);
        assert!(c.failures.is_empty());
    }

    #[test]
    fn rows_match_the_histograms() {
        let samples = lognormal(3, 20_000, 500.0, 0.4, 1.0);
        let a = run_of("a", &samples, 20);
        let c = compare(&a, &a, None).unwrap();
        let measures: Vec<&str> = c.rows.iter().map(|r| r.measure.as_str()).collect();
        assert_eq!(measures, ["p50", "p75", "p90", "p99", "p99.9", "p99.99", "rate", "error rate"]);
        let h = a.histogram().unwrap();
        for (r, (_, p)) in c.rows.iter().zip(PERCENTILES) {
            assert_eq!(r.baseline, h.value_at_quantile(p / 100.0) as f64 / 1000.0, "{}", r.measure);
            assert_eq!(r.change, 0.0);
        }
        // 20,000 samples put 200 above p99, 20 above p99.9: only the
        // first is judged.
        assert!(row(&c, "p99.9").ci.is_none());
        assert!(row(&c, "p99").ci.is_some());
    }

    #[test]
    fn error_rates_and_rates_are_judged() {
        let samples = lognormal(5, 20_000, 500.0, 0.4, 1.0);
        let a = run_of("a", &samples, 20);
        let mut b = a.clone();
        b.errors = 400;
        assert_eq!(row(&compare(&a, &b, None).unwrap(), "error rate").verdict, "worse");
        b.errors = 1;
        assert_eq!(row(&compare(&a, &b, None).unwrap(), "error rate").verdict, "same");
        let mut slow = a.clone();
        slow.actual_qps *= 0.8;
        for s in &mut slow.timeline {
            s.requests = s.requests * 8 / 10;
        }
        assert_eq!(row(&compare(&a, &slow, None).unwrap(), "rate").verdict, "worse");
        assert_eq!(row(&compare(&slow, &a, None).unwrap(), "rate").verdict, "better");
    }

    #[test]
    fn runs_without_histograms_compare_their_percentiles() {
        let mut a = run_of("a", &lognormal(5, 5_000, 500.0, 0.4, 1.0), 5);
        let mut b = a.clone();
        a.histogram.clear();
        b.histogram.clear();
        b.percentiles_ms.insert("p99".to_owned(), a.percentiles_ms["p99"] * 2.0);
        let c = compare(&a, &b, Some(0.1)).unwrap();
        assert!((row(&c, "p99").change - 1.0).abs() < 1e-9);
        assert!(row(&c, "p99").ci.is_none());
        assert!(c.notes.iter().any(|n| n.contains("no readable histogram")), "{:?}", c.notes);
        b.percentiles_ms.remove("p75");
        assert!(compare(&a, &b, None).is_err());
    }

    #[test]
    fn a_million_samples_compare_quickly() {
        let a = run_of("a", &lognormal(21, 1_000_000, 900.0, 0.8, 1.0), 100);
        let b = run_of("b", &lognormal(22, 1_000_000, 900.0, 0.8, 1.0), 100);
        let started = std::time::Instant::now();
        let c = compare(&a, &b, Some(0.05)).unwrap();
        assert!(c.failures.is_empty());
        // 1,000 resamples of a few thousand buckets, not of a million values.
        assert!(started.elapsed() < std::time::Duration::from_secs(if cfg!(debug_assertions) { 20 } else { 2 }), "{:?}", started.elapsed());
    }

    #[test]
    fn poisson_draws_have_the_right_mean_and_variance() {
        let mut rng = Rng::new(1);
        for lambda in [0.5, 3.0, 9.9, 10.0, 25.0, 400.0, 1e6] {
            let n = 20_000;
            let draws: Vec<f64> = (0..n).map(|_| rng.poisson(lambda) as f64).collect();
            let mean = draws.iter().sum::<f64>() / n as f64;
            let var = draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            // Five standard errors of the mean; the variance within 5 %.
            assert!((mean - lambda).abs() < 5.0 * (lambda / n as f64).sqrt(), "λ {lambda}: mean {mean}");
            assert!((var / lambda - 1.0).abs() < 0.05, "λ {lambda}: variance {var}");
        }
        assert!((ln_factorial(20.0) - 2432902008176640000f64.ln()).abs() < 1e-9);
        assert!((ln_factorial(10.0) - 3628800f64.ln()).abs() < 1e-9);
    }

    #[test]
    fn text_table() {
        let a = run_of("base", &lognormal(7, 50_000, 800.0, 0.6, 1.0), 50);
        let b = run_of("cand", &lognormal(8, 50_000, 800.0, 0.6, 1.3), 50);
        let text = render_text(&compare(&a, &b, Some(0.1)).unwrap());
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("baseline  synthetic [base]"), "{text}");
        let header = lines.iter().position(|l| l.starts_with("measure")).unwrap();
        // Columns line up: each row's change ends where the header's does.
        let end = lines[header].find("change").unwrap() + "change".len();
        for line in &lines[header + 1..header + 9] {
            assert_eq!(line.chars().nth(end - 1), Some('%'), "{line}\n{text}");
        }
        assert!(text.contains("p99.99"));
        assert!(text.contains("worse"));
        assert!(text.contains("gate: p50 and p99 may grow by at most 10 %: FAILED"), "{text}");
    }
}
