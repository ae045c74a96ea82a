//! Reports of runs: a terminal summary and a self-contained HTML page.
//!
//! Every number shown is the run's own: percentiles come from
//! `percentiles_ms` as recorded (the histogram only fills in what a result
//! lacks), rates and counts from the result's fields. The page needs no
//! network: CSS is inline and the plots are SVG drawn here.

use super::compare::{Comparison, cells, count_text, gate_passed, label, ms_text, percent, rate_text};
use super::{PERCENTILES, Run};
use crate::markup::escape;
use hdrhistogram::Histogram;
use std::fmt::Write as _;

/// A table of the run's figures and a compact latency distribution.
pub fn summary_text(run: &Run) -> String {
    let histogram = usable_histogram(run);
    let mut out = String::new();
    let _ = writeln!(out, "{}  {} {}  ({})", if run.name.is_empty() { "perf" } else { &run.name }, run.method, run.url, run.protocol);
    let _ = writeln!(out, "  mode      {}", mode_text(run));
    if let Some(shortfall) = shortfall(run) {
        let _ = writeln!(out, "            achieved {} below the requested rate: the target or the generator did not keep up", percent(shortfall));
    }
    let _ = writeln!(out, "  window    {:.1} s after a {:.1} s warm-up, {} → {}", run.duration_s, run.warmup_s, run.start_time, run.end_time);
    let _ = writeln!(out, "  requests  {}, {}", count_text(run.requests), errors_text(run));
    if !run.status_codes.is_empty() {
        let codes: Vec<String> = run.status_codes.iter().map(|(code, n)| format!("{code} ×{}", count_text(*n))).collect();
        let _ = writeln!(out, "  status    {}", codes.join(", "));
    }
    if !run.labels.is_empty() {
        let labels: Vec<String> = run.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(out, "  labels    {}", labels.join(", "));
    }

    // The percentile table: corrected beside uncorrected in open loop.
    out.push('\n');
    let open = !run.uncorrected_percentiles_ms.is_empty();
    let mut rows: Vec<[String; 3]> = Vec::new();
    rows.push(["latency".to_owned(), if open { "corrected".to_owned() } else { String::new() }, if open { "uncorrected".to_owned() } else { String::new() }]);
    rows.push(["min".to_owned(), format!("{} ms", ms_text(run.latencies_ms.min)), String::new()]);
    rows.push(["mean".to_owned(), format!("{} ms", ms_text(run.latencies_ms.average)), String::new()]);
    for (name, _) in PERCENTILES {
        let corrected = percentile(run, histogram.as_ref(), name).map(|v| format!("{} ms", ms_text(v))).unwrap_or_else(|| "—".to_owned());
        let uncorrected = if open { run.uncorrected_percentiles_ms.get(*name).map(|v| format!("{} ms", ms_text(*v))).unwrap_or_else(|| "—".to_owned()) } else { String::new() };
        rows.push([(*name).to_owned(), corrected, uncorrected]);
    }
    rows.push(["max".to_owned(), format!("{} ms", ms_text(run.latencies_ms.max)), String::new()]);
    let widths: Vec<usize> = (0..3).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    for row in &rows {
        let line = format!("  {:<w0$}  {:>w1$}  {:>w2$}", row[0], row[1], row[2], w0 = widths[0], w1 = widths[1], w2 = widths[2]);
        let _ = writeln!(out, "{}", line.trim_end());
    }
    if open {
        let _ = writeln!(out, "  (corrected: from the scheduled send time; uncorrected: from the actual send)");
    }

    if let Some(histogram) = &histogram {
        let buckets = distribution(histogram);
        if !buckets.is_empty() {
            let _ = writeln!(out, "\n  distribution{}", if open { " (corrected)" } else { "" });
            // `low – high ms`, aligned on the dash.
            let (lows, highs): (Vec<String>, Vec<String>) = buckets.iter().map(|b| (edge_text(b.low), edge_text(b.high))).unzip();
            let (wl, wh) = (lows.iter().map(String::len).max().unwrap_or(0), highs.iter().map(String::len).max().unwrap_or(0));
            let ranges: Vec<String> = lows.iter().zip(&highs).map(|(l, h)| format!("{l:>wl$} – {h:<wh$} ms")).collect();
            let most = buckets.iter().map(|b| b.count).max().unwrap_or(1).max(1);
            let total: u64 = buckets.iter().map(|b| b.count).sum();
            let count_width = buckets.iter().map(|b| count_text(b.count).len()).max().unwrap_or(1);
            for (bucket, range) in buckets.iter().zip(&ranges) {
                let share = bucket.count as f64 / total.max(1) as f64 * 100.0;
                let line = format!("  {range}  {:<bar$}  {share:5.1} %  {:>count_width$}", bar(bucket.count, most, BAR), count_text(bucket.count), bar = BAR);
                let _ = writeln!(out, "{}", line.trim_end());
            }
        }
    }
    out
}

const BAR: usize = 30;

/// A bar of `count` against `most`, in eighths of a cell; any count shows.
fn bar(count: u64, most: u64, width: usize) -> String {
    const PARTS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let eighths = ((count as f64 / most as f64) * (width * 8) as f64).round() as usize;
    let eighths = if count > 0 { eighths.max(1) } else { 0 };
    let mut out = "█".repeat(eighths / 8);
    if eighths % 8 > 0 {
        out.push(PARTS[eighths % 8]);
    }
    out
}

fn mode_text(run: &Run) -> String {
    if run.mode == "open" {
        format!(
            "open loop: {}/s requested, {}/s achieved, {} late sends, {} connections",
            rate_text(run.requested_qps),
            rate_text(run.actual_qps),
            count_text(run.late_sends),
            run.connections
        )
    } else {
        format!("closed loop: {} connections, {}/s achieved", run.connections, rate_text(run.actual_qps))
    }
}

/// How far the achieved rate fell short of the requested one, when by
/// more than 1 %.
fn shortfall(run: &Run) -> Option<f64> {
    (run.mode == "open" && run.requested_qps > 0.0).then(|| 1.0 - run.actual_qps / run.requested_qps).filter(|s| *s > 0.01)
}

fn errors_text(run: &Run) -> String {
    if run.errors == 0 {
        return "no errors".to_owned();
    }
    let share = run.errors as f64 / run.requests.max(1) as f64 * 100.0;
    let kinds: Vec<String> = run.error_kinds.iter().filter(|(_, n)| **n > 0).map(|(kind, n)| format!("{kind} {}", count_text(*n))).collect();
    let mut text = format!("{} errors ({share:.3} %)", count_text(run.errors));
    if !kinds.is_empty() {
        text.push_str(": ");
        text.push_str(&kinds.join(", "));
    }
    text
}

fn usable_histogram(run: &Run) -> Option<Histogram<u64>> {
    run.histogram().ok().filter(|h| !h.is_empty())
}

/// A percentile as the run recorded it, else from its histogram.
fn percentile(run: &Run, histogram: Option<&Histogram<u64>>, name: &str) -> Option<f64> {
    run.percentiles_ms.get(name).copied().or_else(|| {
        let q = super::percentile_of(name)?;
        histogram.map(|h| h.value_at_quantile(q / 100.0) as f64 / 1000.0)
    })
}

struct Bucket {
    low: f64,
    high: f64,
    count: u64,
}

/// The histogram in log-spaced buckets with round edges (1-2-5 per decade,
/// or finer or coarser to land near 6–12 lines), milliseconds.
fn distribution(histogram: &Histogram<u64>) -> Vec<Bucket> {
    let values: Vec<(f64, u64)> = histogram.iter_recorded().map(|v| (v.value_iterated_to() as f64 / 1000.0, v.count_at_value())).collect();
    let (Some(first), Some(last)) = (values.first(), values.last()) else { return Vec::new() };
    let (low, high) = (first.0.max(0.001), last.0.max(0.001));
    const SERIES: [&[f64]; 4] = [&[1.0, 1.25, 1.6, 2.0, 2.5, 3.2, 4.0, 5.0, 6.3, 8.0], &[1.0, 1.5, 2.0, 3.0, 5.0, 7.0], &[1.0, 2.0, 5.0], &[1.0]];
    let edges_of = |series: &[f64]| -> Vec<f64> {
        let mut all = Vec::new();
        for e in (low.log10().floor() as i32 - 1)..=(high.log10().ceil() as i32 + 1) {
            all.extend(series.iter().map(|m| m * 10f64.powi(e)));
        }
        // From the last edge at or below the smallest value to the first
        // above the largest.
        let start = all.iter().rposition(|e| *e <= low * (1.0 + 1e-12)).unwrap_or(0);
        let end = all.iter().position(|e| *e > high).unwrap_or(all.len() - 1);
        all[start..=end].to_vec()
    };
    let mut edges = edges_of(SERIES[3]);
    for series in SERIES {
        let candidate = edges_of(series);
        if candidate.len() - 1 <= 12 {
            edges = candidate;
            break;
        }
    }
    let mut buckets: Vec<Bucket> = edges.windows(2).map(|w| Bucket { low: w[0], high: w[1], count: 0 }).collect();
    for (value, count) in values {
        let i = buckets.iter().position(|b| value < b.high).unwrap_or(buckets.len() - 1);
        buckets[i].count += count;
    }
    // No empty rows at either end.
    while buckets.first().is_some_and(|b| b.count == 0) {
        buckets.remove(0);
    }
    while buckets.last().is_some_and(|b| b.count == 0) {
        buckets.pop();
    }
    buckets
}

/// An edge with no float noise: `0.125`, `3.2`, `100`.
fn edge_text(value: f64) -> String {
    let decimals = (3 - value.log10().floor() as i32).max(0) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_owned() } else { text }
}

/// A self-contained HTML page with plots of `run` (and of the comparison
/// with a baseline, when given).
pub fn html(run: &Run, baseline: Option<(&Run, &Comparison)>) -> String {
    let histogram = usable_histogram(run);
    let title = if run.name.is_empty() { "perf".to_owned() } else { run.name.clone() };
    let mut page = String::new();
    let _ = writeln!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>weft perf: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
        escape(&title)
    );
    let _ = writeln!(
        page,
        "<header><h1>{}</h1><p class=\"target\"><code>{} {}</code> · {} · {}</p></header>",
        escape(&title),
        escape(&run.method),
        escape(&run.url),
        escape(&run.protocol),
        escape(&mode_text(run))
    );

    // Headline figures.
    let p = |name: &str| percentile(run, histogram.as_ref(), name);
    page.push_str("<section class=\"cards\">\n");
    card(&mut page, "requests", &count_text(run.requests), &format!("{:.1} s measured", run.duration_s));
    let rate_note = if run.mode == "open" { format!("{}/s requested", rate_text(run.requested_qps)) } else { "closed loop".to_owned() };
    card(&mut page, "rate", &format!("{}/s", rate_text(run.actual_qps)), &rate_note);
    card(&mut page, "errors", &count_text(run.errors), &format!("{:.3} %", run.errors as f64 / run.requests.max(1) as f64 * 100.0));
    for name in ["p50", "p99", "p99.9"] {
        if let Some(v) = p(name) {
            card(&mut page, name, &format!("{} ms", ms_text(v)), if run.mode == "open" { "corrected" } else { "" });
        }
    }
    page.push_str("</section>\n");
    if let Some(shortfall) = shortfall(run) {
        let _ = writeln!(page, "<p class=\"warning\">The achieved rate is {} below the requested rate: the target or the generator did not keep up ({} late sends).</p>", percent(shortfall), count_text(run.late_sends));
    }
    if !run.threshold_failures.is_empty() {
        page.push_str("<section class=\"failures\"><h2>Thresholds failed</h2><ul>");
        for failure in &run.threshold_failures {
            let _ = write!(page, "<li>{}</li>", escape(failure));
        }
        page.push_str("</ul></section>\n");
    }

    // The percentile curve, with the baseline's beneath it.
    page.push_str("<section><h2>Latency by percentile</h2>\n");
    page.push_str(&percentile_chart(run, histogram.as_ref(), baseline.map(|(b, _)| b)));
    page.push_str("</section>\n");

    // The percentile table.
    page.push_str("<section><h2>Percentiles</h2>\n<table id=\"percentiles\"><thead><tr><th>percentile</th>");
    let open = !run.uncorrected_percentiles_ms.is_empty();
    page.push_str(if open { "<th>corrected</th><th>uncorrected</th>" } else { "<th>latency</th>" });
    page.push_str("</tr></thead><tbody>\n");
    let mut table_row = |name: &str, value: Option<f64>, uncorrected: Option<f64>| {
        let cell = |v: Option<f64>| v.map(|v| format!("<td class=\"num\" data-ms=\"{v}\">{} ms</td>", ms_text(v))).unwrap_or_else(|| "<td class=\"num\">—</td>".to_owned());
        let _ = writeln!(page, "<tr data-measure=\"{name}\"><th>{name}</th>{}{}</tr>", cell(value), if open { cell(uncorrected) } else { String::new() });
    };
    table_row("min", Some(run.latencies_ms.min), None);
    table_row("mean", Some(run.latencies_ms.average), None);
    for (name, _) in PERCENTILES {
        table_row(name, p(name), run.uncorrected_percentiles_ms.get(*name).copied());
    }
    table_row("max", Some(run.latencies_ms.max), None);
    page.push_str("</tbody></table>\n");
    if open {
        page.push_str("<p class=\"note\">Open loop: corrected latencies count from the time each request was scheduled, so a stalled server shows; uncorrected ones from the moment it was sent, as a closed-loop generator reports them.</p>\n");
    }
    page.push_str("</section>\n");

    // Over time.
    page.push_str("<section><h2>Over time</h2>\n");
    if run.timeline.is_empty() {
        page.push_str("<p class=\"note\">No per-second timeline was recorded.</p>\n");
    } else {
        page.push_str(&rate_chart(run));
        page.push_str(&latency_time_chart(run));
    }
    page.push_str("</section>\n");

    // The comparison.
    if let Some((base, comparison)) = baseline {
        let _ = writeln!(
            page,
            "<section><h2>Compared with the baseline</h2>\n<p>Baseline <strong>{}</strong> ({}, {} requests) against this run <strong>{}</strong> ({}).</p>",
            escape(&label(&comparison.baseline)),
            escape(&base.start_time),
            count_text(base.requests),
            escape(&label(&comparison.candidate)),
            escape(&run.start_time)
        );
        let _ = writeln!(
            page,
            "<table id=\"comparison\"><thead><tr><th>measure</th><th>baseline</th><th>this run</th><th>change</th><th>verdict</th><th>{:.0} % interval of the change</th></tr></thead><tbody>",
            comparison.confidence * 100.0
        );
        for row in &comparison.rows {
            let [b, c, change, interval] = cells(row);
            let _ = writeln!(
                page,
                "<tr data-measure=\"{m}\"><th>{m}</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"verdict {v}\">{v}</td><td>{}</td></tr>",
                escape(&b),
                escape(&c),
                escape(&change),
                escape(&interval),
                m = escape(&row.measure),
                v = escape(&row.verdict)
            );
        }
        page.push_str("</tbody></table>\n");
        let _ = writeln!(
            page,
            "<p class=\"note\">Latency intervals: bootstrap, {} Poisson resamples of each histogram. A change counts as worse or better when its interval excludes 0 and it exceeds {}.</p>",
            count_text(comparison.resamples as u64),
            percent(comparison.margin)
        );
        for note in &comparison.notes {
            let _ = writeln!(page, "<p class=\"note\">Note: {}</p>", escape(note));
        }
        if let Some(limit) = comparison.max_regression {
            if comparison.failures.is_empty() {
                let _ = writeln!(page, "<p class=\"gate pass\">Gate: p50 and p99 may grow by at most {}: {}.</p>", percent(limit), escape(&gate_passed(comparison)));
            } else {
                let _ = write!(page, "<div class=\"gate fail\"><p>Gate: p50 and p99 may grow by at most {}: <strong>failed</strong>.</p><ul>", percent(limit));
                for failure in &comparison.failures {
                    let _ = write!(page, "<li>{}</li>", escape(failure));
                }
                page.push_str("</ul></div>\n");
            }
        }
        page.push_str("</section>\n");
    }

    // Errors and the run's particulars.
    if run.errors > 0 || !run.status_codes.is_empty() {
        page.push_str("<section><h2>Responses and errors</h2>\n<table id=\"responses\"><thead><tr><th></th><th>count</th></tr></thead><tbody>\n");
        for (code, n) in &run.status_codes {
            let _ = writeln!(page, "<tr><th>status {}</th><td class=\"num\">{}</td></tr>", escape(code), count_text(*n));
        }
        for (kind, n) in &run.error_kinds {
            let _ = writeln!(page, "<tr class=\"error\"><th>error: {}</th><td class=\"num\">{}</td></tr>", escape(kind), count_text(*n));
        }
        page.push_str("</tbody></table></section>\n");
    }
    page.push_str("<section><h2>Run</h2>\n<dl class=\"facts\">\n");
    let mut fact = |name: &str, value: String| {
        if !value.is_empty() {
            let _ = writeln!(page, "<dt>{}</dt><dd>{}</dd>", escape(name), escape(&value));
        }
    };
    fact("id", run.id.clone());
    fact("window (UTC)", format!("{} → {}", run.start_time, run.end_time));
    fact("duration", format!("{:.1} s after a {:.1} s warm-up", run.duration_s, run.warmup_s));
    fact("connections", run.connections.to_string());
    fact("late sends", if run.mode == "open" { count_text(run.late_sends) } else { String::new() });
    let labels: Vec<String> = run.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    fact("labels", labels.join(", "));
    let env = &run.environment;
    fact("load generator", env.load_generator.clone());
    fact("weft", env.weft_version.clone());
    fact("machine", if env.machine.is_empty() { String::new() } else { format!("{} ({} CPUs)", env.machine, env.cpus) });
    for (metric, value) in &env.target_metrics {
        fact(metric, format!("{value}"));
    }
    fact("SMP version", run.smp_version.clone());
    page.push_str("</dl></section>\n");
    page.push_str("<footer>Written by weft perf. Self-contained: no scripts, fonts or images are fetched.</footer>\n</body>\n</html>\n");
    page
}

fn card(page: &mut String, name: &str, value: &str, note: &str) {
    let _ = writeln!(page, "<div class=\"card\" id=\"card-{}\"><div class=\"name\">{}</div><div class=\"value\">{}</div><div class=\"sub\">{}</div></div>", escape(&name.replace('.', "-")), escape(name), escape(value), escape(note));
}

const STYLE: &str = "
:root{--fg:#1f2933;--muted:#52606d;--line:#d9e2ec;--bg:#fff;--blue:#2563eb;--red:#dc2626;--grey:#7b8794;--amber:#d97706;--green:#15803d}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--fg);background:var(--bg);max-width:1000px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px;border-bottom:1px solid var(--line);padding-bottom:4px}
.target{color:var(--muted);margin:0}code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin-top:18px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 14px;min-width:140px}
.card .name{color:var(--muted);font-size:13px}.card .value{font-size:22px;font-weight:600;font-variant-numeric:tabular-nums}.card .sub{color:var(--muted);font-size:12px;min-height:1em}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}th,td{padding:4px 12px;border-bottom:1px solid var(--line);text-align:left}
td.num{text-align:right}thead th{color:var(--muted);font-weight:500}
.verdict.worse{color:var(--red);font-weight:600}.verdict.better{color:var(--green);font-weight:600}.verdict.same{color:var(--muted)}
.note{color:var(--muted);font-size:13px}.warning,.failures,.gate.fail{color:var(--red)}.gate.pass{color:var(--green)}
svg.chart{width:100%;height:auto;display:block;margin:8px 0 18px}
svg .axis line,svg .grid line{stroke:var(--line)}svg .axis text,svg .tick{fill:var(--muted);font-size:12px}
svg .title{font-size:14px;font-weight:600;fill:var(--fg)}svg .legend text{font-size:12px;fill:var(--fg)}
svg .mark text{font-size:12px;fill:var(--fg);paint-order:stroke;stroke:#fff;stroke-width:3px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px}dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}
footer{margin-top:32px;color:var(--muted);font-size:12px}
";


// ---- SVG plots -------------------------------------------------------------

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 340.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 50.0;

struct Axis {
    log: bool,
    min: f64,
    max: f64,
    ticks: Vec<(f64, String)>,
    label: String,
}

impl Axis {
    /// 0 at `min`, 1 at `max`.
    fn fraction(&self, v: f64) -> f64 {
        let (lo, hi, v) = if self.log { (self.min.log10(), self.max.log10(), v.max(self.min).log10()) } else { (self.min, self.max, v) };
        if hi > lo { ((v - lo) / (hi - lo)).clamp(0.0, 1.0) } else { 0.5 }
    }

    /// From 0 (or the data's lowest value) to a round value above `high`.
    fn linear(low: f64, high: f64, label: &str, unit: &str) -> Axis {
        let high = if high > low { high } else { low + 1.0 };
        let raw = (high - low) / 5.0;
        let magnitude = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(10.0 * magnitude);
        let min = (low / step).floor() * step;
        let max = (high / step).ceil() * step;
        let mut ticks = Vec::new();
        let mut v = min;
        while v <= max + step * 1e-9 {
            ticks.push((v, format!("{}{unit}", tick_text(v))));
            v += step;
        }
        Axis { log: false, min, max, ticks, label: label.to_owned() }
    }

    /// Decades around `low`…`high` (with 2 and 5 when there are few).
    fn log(low: f64, high: f64, label: &str, unit: &str) -> Axis {
        let low = low.max(1e-3);
        let high = high.max(low * 10.0);
        let (a, b) = (low.log10().floor() as i32, high.log10().ceil() as i32);
        let mut ticks = Vec::new();
        for e in a..=b {
            let decade = 10f64.powi(e);
            let marks: &[f64] = if b - a <= 2 { &[1.0, 2.0, 5.0] } else { &[1.0] };
            for m in marks {
                let v = m * decade;
                if v <= 10f64.powi(b) * (1.0 + 1e-9) {
                    ticks.push((v, format!("{}{unit}", tick_text(v))));
                }
            }
        }
        Axis { log: true, min: 10f64.powi(a), max: 10f64.powi(b), ticks, label: label.to_owned() }
    }

    /// Linear from 0, as HdrHistogram plots latency, unless the highest
    /// value is more than 50 times a typical one (a stalled server, a
    /// coordinated-omission tail): then logarithmic down to `low`, so the
    /// body of the distribution stays visible.
    fn latency(low: f64, typical: f64, high: f64, label: &str) -> Axis {
        if low > 0.0 && typical > 0.0 && high / typical > 50.0 { Axis::log(low, high, label, "") } else { Axis::linear(0.0, high * 1.05, label, "") }
    }
}

fn tick_text(v: f64) -> String {
    if v == 0.0 {
        return "0".to_owned();
    }
    if v.abs() >= 1000.0 {
        return count_text(v.round() as u64);
    }
    let decimals = (2 - v.abs().log10().floor() as i32).clamp(0, 4) as usize;
    let text = format!("{v:.decimals$}");
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_owned() } else { text }
}

struct Series {
    name: String,
    color: &'static str,
    dashed: bool,
    points: Vec<(f64, f64)>,
}

struct Mark {
    x: f64,
    y: f64,
    measure: String,
    value_ms: f64,
    text: String,
    /// Whether `text` is written beside the point (else only its tooltip).
    labelled: bool,
    color: &'static str,
}

fn chart(id: &str, title: &str, x: &Axis, y: &Axis, series: &[Series], marks: &[Mark]) -> String {
    let (x0, x1, y0, y1) = (LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP);
    let px = |v: f64| x0 + x.fraction(v) * (x1 - x0);
    let py = |v: f64| y0 + y.fraction(v) * (y1 - y0);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg id=\"{id}\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{t}\">\n<title>{t}</title>\n<text class=\"title\" x=\"{x0}\" y=\"20\">{t}</text>",
        t = escape(title)
    );
    svg.push_str("<g class=\"grid\">");
    for (v, _) in &y.ticks {
        let _ = write!(svg, "<line x1=\"{x0}\" x2=\"{x1}\" y1=\"{p:.1}\" y2=\"{p:.1}\"/>", p = py(*v));
    }
    for (v, _) in &x.ticks {
        let _ = write!(svg, "<line y1=\"{y0}\" y2=\"{y1}\" x1=\"{p:.1}\" x2=\"{p:.1}\"/>", p = px(*v));
    }
    svg.push_str("</g>\n<g class=\"axis\">");
    for (v, text) in &y.ticks {
        let _ = write!(svg, "<text class=\"tick\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" dominant-baseline=\"middle\">{}</text>", x0 - 6.0, py(*v), escape(text));
    }
    for (v, text) in &x.ticks {
        let _ = write!(svg, "<text class=\"tick\" x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>", px(*v), y0 + 16.0, escape(text));
    }
    let _ = write!(svg, "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>", (x0 + x1) / 2.0, HEIGHT - 8.0, escape(&x.label));
    let _ = write!(svg, "<text transform=\"translate(16 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>", (y0 + y1) / 2.0, escape(&y.label));
    svg.push_str("</g>\n");
    for s in series {
        if s.points.is_empty() {
            continue;
        }
        let points: Vec<String> = s.points.iter().map(|(a, b)| format!("{:.1},{:.1}", px(*a), py(*b))).collect();
        let _ = writeln!(
            svg,
            "<polyline class=\"series\" data-series=\"{n}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{} stroke-linejoin=\"round\" points=\"{}\"><title>{n}</title></polyline>",
            s.color,
            if s.dashed { " stroke-dasharray=\"6 4\"" } else { "" },
            points.join(" "),
            n = escape(&s.name)
        );
    }
    for m in marks {
        let (cx, cy) = (px(m.x), py(m.y));
        // A rising curve leaves the space above and left of each point
        // free, and so does the space below and right of it (used near the
        // left edge).
        let width = 6.5 * m.text.chars().count() as f64;
        let (anchor, dx, dy) = if cx - 8.0 - width < x0 { ("start", 8.0, 16.0) } else { ("end", -8.0, -8.0) };
        let text = if m.labelled { format!("<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>", cx + dx, cy + dy, escape(&m.text)) } else { String::new() };
        let _ = writeln!(
            svg,
            "<g class=\"mark\" data-measure=\"{}\" data-ms=\"{}\"><circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"4\" fill=\"{}\"/>{text}<title>{}</title></g>",
            escape(&m.measure),
            m.value_ms,
            m.color,
            escape(&m.text)
        );
    }
    // The legend, top right.
    // The legend, top right; under the title, inside the plot, when the
    // two would meet.
    let named: Vec<&Series> = series.iter().filter(|s| !s.points.is_empty()).collect();
    if named.len() > 1 {
        let widths: Vec<f64> = named.iter().map(|s| 30.0 + 7.0 * s.name.chars().count() as f64).collect();
        let total: f64 = widths.iter().sum();
        let title_end = x0 + 8.0 * title.chars().count() as f64 + 16.0;
        let y = if x1 - total < title_end { TOP + 14.0 } else { 16.0 };
        svg.push_str("<g class=\"legend\">");
        if y > 16.0 {
            let _ = write!(svg, "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{total:.1}\" height=\"20\" fill=\"#fff\" fill-opacity=\"0.85\"/>", x1 - total, y - 12.0);
        }
        let mut lx = x1;
        for (s, width) in named.iter().zip(&widths).rev() {
            lx -= width;
            let _ = write!(
                svg,
                "<line x1=\"{lx:.1}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"{}\" stroke-width=\"2\"{}/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                lx + 18.0,
                s.color,
                if s.dashed { " stroke-dasharray=\"6 4\"" } else { "" },
                lx + 22.0,
                y + 4.0,
                escape(&s.name)
            );
        }
        svg.push_str("</g>\n");
    }
    svg.push_str("</svg>\n");
    svg
}

/// x of a percentile on the "1/(1−q)" axis: 0 at 0 %, 1 at 90 %, 2 at
/// 99 %, …
fn percentile_x(percentile: f64) -> f64 {
    let remaining = (1.0 - percentile / 100.0).max(1e-9);
    (1.0 / remaining).log10()
}

/// A run's latency by percentile: from its histogram, or through its
/// recorded percentiles when it has none.
fn curve(run: &Run, histogram: Option<&Histogram<u64>>, x_max: f64) -> Vec<(f64, f64)> {
    match histogram {
        Some(h) => {
            const STEPS: usize = 240;
            (0..=STEPS)
                .map(|i| {
                    let x = x_max * i as f64 / STEPS as f64;
                    let q = 1.0 - 10f64.powf(-x);
                    (x, h.value_at_quantile(q) as f64 / 1000.0)
                })
                .collect()
        }
        None => {
            let mut points = vec![(0.0, run.latencies_ms.min)];
            points.extend(PERCENTILES.iter().filter_map(|(name, p)| run.percentiles_ms.get(*name).map(|v| (percentile_x(*p), *v))));
            points
        }
    }
}

fn percentile_chart(run: &Run, histogram: Option<&Histogram<u64>>, baseline: Option<&Run>) -> String {
    let base_histogram = baseline.and_then(usable_histogram);
    let count = histogram.map(|h| h.len()).unwrap_or(run.requests).max(base_histogram.as_ref().map(|h| h.len()).unwrap_or(0));
    // Up to where the samples say something: p99.99 at least, p99.999 at most.
    let x_max = (count.max(1) as f64).log10().clamp(4.0, 5.0);
    let mut series = Vec::new();
    if let Some(base) = baseline {
        // A short name: ids are UUIDs.
        let id: String = if base.id.is_empty() { base.name.chars().take(16).collect() } else { base.id.chars().take(8).collect() };
        series.push(Series { name: format!("baseline {id}"), color: "#7b8794", dashed: true, points: curve(base, base_histogram.as_ref(), x_max) });
    }
    let corrected = if run.uncorrected_percentiles_ms.is_empty() { "this run" } else { "this run (corrected)" };
    series.push(Series { name: corrected.to_owned(), color: "#2563eb", dashed: false, points: curve(run, histogram, x_max) });
    if !run.uncorrected_percentiles_ms.is_empty() {
        let points = PERCENTILES.iter().filter_map(|(name, p)| run.uncorrected_percentiles_ms.get(*name).map(|v| (percentile_x(*p), *v))).collect();
        series.push(Series { name: "uncorrected".to_owned(), color: "#d97706", dashed: true, points });
    }
    let mut marks = Vec::new();
    for (name, p) in PERCENTILES {
        if let Some(v) = percentile(run, histogram, name) {
            let x = percentile_x(*p);
            if x <= x_max + 1e-9 {
                marks.push(Mark { x, y: v, measure: (*name).to_owned(), value_ms: v, text: format!("{name} {} ms", ms_text(v)), labelled: *name != "p75", color: "#1e3a8a" });
            }
        }
    }
    let values = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).chain(marks.iter().map(|m| m.y));
    let (low, high) = values.fold((f64::INFINITY, 0f64), |(lo, hi), v| (if v > 0.0 { lo.min(v) } else { lo }, hi.max(v)));
    let typical = percentile(run, histogram, "p50").unwrap_or(run.latencies_ms.p50);
    let y = Axis::latency(if low.is_finite() { low } else { 0.0 }, typical, high, "latency (ms)");
    let labels = ["0 %", "90 %", "99 %", "99.9 %", "99.99 %", "99.999 %"];
    let ticks = (0..=x_max.floor() as usize).map(|i| (i as f64, labels[i].to_owned())).collect();
    let x = Axis { log: false, min: 0.0, max: x_max, ticks, label: "percentile (log scale of 1/(1−q))".to_owned() };
    let title = if baseline.is_some() { "Latency by percentile, against the baseline" } else { "Latency by percentile" };
    chart("percentile-curve", title, &x, &y, &series, &marks)
}

fn seconds_axis(run: &Run) -> Axis {
    let last = run.timeline.iter().map(|s| s.second).max().unwrap_or(0) as f64;
    Axis::linear(0.0, last.max(1.0), "seconds into the run", "")
}

fn rate_chart(run: &Run) -> String {
    let mut series = vec![Series { name: "requests/s".to_owned(), color: "#2563eb", dashed: false, points: run.timeline.iter().map(|s| (s.second as f64, s.requests as f64)).collect() }];
    if run.timeline.iter().any(|s| s.errors > 0) {
        series.push(Series { name: "errors/s".to_owned(), color: "#dc2626", dashed: false, points: run.timeline.iter().map(|s| (s.second as f64, s.errors as f64)).collect() });
    }
    let x = seconds_axis(run);
    if run.mode == "open" && run.requested_qps > 0.0 {
        series.push(Series { name: "requested".to_owned(), color: "#7b8794", dashed: true, points: vec![(x.min, run.requested_qps), (x.max, run.requested_qps)] });
    }
    let high = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(0f64, f64::max);
    let y = Axis::linear(0.0, high * 1.1, "requests per second", "");
    let title = format!("Rate over time: {}/s achieved", rate_text(run.actual_qps));
    chart("rate-over-time", &title, &x, &y, &series, &[])
}

fn latency_time_chart(run: &Run) -> String {
    let series = [
        Series { name: "p50".to_owned(), color: "#2563eb", dashed: false, points: run.timeline.iter().map(|s| (s.second as f64, s.p50_ms)).collect() },
        Series { name: "p99".to_owned(), color: "#dc2626", dashed: false, points: run.timeline.iter().map(|s| (s.second as f64, s.p99_ms)).collect() },
    ];
    let values = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let (low, high) = values.fold((f64::INFINITY, 0f64), |(lo, hi), v| (if v > 0.0 { lo.min(v) } else { lo }, hi.max(v)));
    let mut p50s: Vec<f64> = run.timeline.iter().map(|s| s.p50_ms).collect();
    p50s.sort_by(f64::total_cmp);
    let typical = p50s.get(p50s.len() / 2).copied().unwrap_or(0.0);
    let y = Axis::latency(if low.is_finite() { low } else { 0.0 }, typical, high.max(0.001), "latency (ms)");
    chart("latency-over-time", "Latency over time (per second)", &seconds_axis(run), &y, &series, &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perf::compare::tests::{lognormal, run_of};
    use crate::perf::{Latencies, Second};
    use std::collections::BTreeMap;

    /// A run written by hand: every figure chosen, a small histogram.
    fn hand_built() -> Run {
        let mut samples = Vec::new();
        for (us, n) in [(400u64, 300usize), (800, 500), (1500, 150), (3000, 40), (12_000, 10)] {
            samples.extend(std::iter::repeat_n(us, n));
        }
        let mut run = run_of("r1", &samples, 10);
        run.name = "checkout".to_owned();
        run.method = "GET".to_owned();
        run.url = "http://127.0.0.1:8080/".to_owned();
        run.protocol = "http/1.1".to_owned();
        run.mode = "open".to_owned();
        run.requested_qps = 100.0;
        run.actual_qps = 99.9;
        run.connections = 4;
        run.duration_s = 10.0;
        run.warmup_s = 1.0;
        run.start_time = "2025-01-02T03:04:05Z".to_owned();
        run.end_time = "2025-01-02T03:04:15Z".to_owned();
        run.requests = 1000;
        run.errors = 3;
        run.late_sends = 2;
        run.status_codes = BTreeMap::from([("200".to_owned(), 998), ("503".to_owned(), 1)]);
        run.error_kinds = BTreeMap::from([("status".to_owned(), 1), ("timeout".to_owned(), 2)]);
        run.latencies_ms = Latencies { min: 0.4, average: 1.146, p50: 0.8, p90: 1.5, p99: 3.0, max: 12.0 };
        let p = |v: &[f64]| PERCENTILES.iter().zip(v).map(|((n, _), v)| ((*n).to_owned(), *v)).collect::<BTreeMap<_, _>>();
        run.percentiles_ms = p(&[0.8, 0.8, 1.5, 3.0, 12.0, 12.0]);
        run.uncorrected_percentiles_ms = p(&[0.79, 0.8, 1.4, 2.9, 11.5, 11.9]);
        run.timeline = (0..10).map(|s| Second { second: s, requests: 100, errors: u64::from(s == 3) * 3, p50_ms: 0.8, p99_ms: 3.0 }).collect();
        run
    }

    #[test]
    fn summary_of_a_hand_built_run() {
        let text = summary_text(&hand_built());
        let expected = "\
checkout  GET http://127.0.0.1:8080/  (http/1.1)
  mode      open loop: 100.0/s requested, 99.9/s achieved, 2 late sends, 4 connections
  window    10.0 s after a 1.0 s warm-up, 2025-01-02T03:04:05Z → 2025-01-02T03:04:15Z
  requests  1,000, 3 errors (0.300 %): status 1, timeout 2
  status    200 ×998, 503 ×1

  latency  corrected  uncorrected
  min       0.400 ms
  mean      1.146 ms
  p50       0.800 ms     0.790 ms
  p75       0.800 ms     0.800 ms
  p90       1.500 ms     1.400 ms
  p99       3.000 ms     2.900 ms
  p99.9     12.00 ms     11.50 ms
  p99.99    12.00 ms     11.90 ms
  max       12.00 ms
  (corrected: from the scheduled send time; uncorrected: from the actual send)

  distribution (corrected)
  0.3 – 0.5 ms  ██████████████████               30.0 %  300
  0.5 – 0.7 ms                                    0.0 %    0
  0.7 – 1   ms  ██████████████████████████████   50.0 %  500
    1 – 1.5 ms                                    0.0 %    0
  1.5 – 2   ms  █████████                        15.0 %  150
    2 – 3   ms                                    0.0 %    0
    3 – 5   ms  ██▍                               4.0 %   40
    5 – 7   ms                                    0.0 %    0
    7 – 10  ms                                    0.0 %    0
   10 – 15  ms  ▋                                 1.0 %   10
";
        assert_eq!(text, expected, "got:\n{text}");
    }

    #[test]
    fn summary_of_a_closed_loop_run() {
        let mut run = hand_built();
        run.mode = "closed".to_owned();
        run.requested_qps = 0.0;
        run.uncorrected_percentiles_ms.clear();
        run.errors = 0;
        run.error_kinds.clear();
        let text = summary_text(&run);
        assert!(text.contains("  mode      closed loop: 4 connections, 99.9/s achieved\n"), "{text}");
        assert!(text.contains("1,000, no errors"), "{text}");
        assert!(text.contains("  latency\n") || text.contains("  latency  \n") || text.lines().any(|l| l.trim() == "latency"), "{text}");
        assert!(!text.contains("uncorrected"), "{text}");
        assert!(text.contains("  p99      3.000 ms\n"), "{text}");
    }

    #[test]
    fn distribution_buckets_are_log_spaced_and_hold_every_sample() {
        let samples = lognormal(9, 100_000, 900.0, 1.0, 1.0);
        let run = run_of("d", &samples, 10);
        let h = run.histogram().unwrap();
        let buckets = distribution(&h);
        assert!((4..=12).contains(&buckets.len()), "{}", buckets.len());
        assert_eq!(buckets.iter().map(|b| b.count).sum::<u64>(), 100_000);
        for pair in buckets.windows(2) {
            assert_eq!(pair[0].high, pair[1].low);
        }
        let ratios: Vec<f64> = buckets.iter().map(|b| b.high / b.low).collect();
        assert!(ratios.iter().all(|r| *r > 1.1 && *r <= 10.0 + 1e-9), "{ratios:?}");
        let text = summary_text(&run);
        assert!(text.contains("distribution"), "{text}");
    }

    #[test]
    fn html_holds_the_runs_numbers() {
        let run = hand_built();
        let page = html(&run, None);
        assert!(page.starts_with("<!DOCTYPE html>"));
        for id in ["percentile-curve", "rate-over-time", "latency-over-time"] {
            assert!(page.contains(&format!("<svg id=\"{id}\"")), "{id}");
        }
        assert!(page.contains("data-measure=\"p50\" data-ms=\"0.8\""), "p50 mark");
        assert!(page.contains("p99 3.000 ms"));
        assert!(page.contains("uncorrected"));
        assert!(!page.contains("http://") || !page.contains("src=\"http"), "nothing fetched");
        assert!(!page.contains("<script src") && !page.contains("<link"));
        // A baseline adds its curve and the comparison table.
        let mut base = hand_built();
        base.id = "r0".to_owned();
        let comparison = crate::perf::compare::compare(&base, &run, Some(0.1)).unwrap();
        let page = html(&run, Some((&base, &comparison)));
        assert!(page.contains("data-series=\"baseline r0\""));
        assert!(page.contains("<table id=\"comparison\">"));
        assert!(page.contains("passed"));
    }

    #[test]
    fn html_escapes_what_users_wrote() {
        let mut run = hand_built();
        run.name = "<script>alert(1)</script>".to_owned();
        run.url = "http://x/?a=1&b=\"2\"".to_owned();
        let page = html(&run, None);
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;"));
        assert!(page.contains("a=1&amp;b=&quot;2&quot;"));
    }
}
