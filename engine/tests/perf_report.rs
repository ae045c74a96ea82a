//! The HTML report of `weft perf run --report` opened in a real browser:
//! headless Chromium (Debian's `chromium`, which `.ci/run` installs)
//! parses the page, and the DOM it built must hold the plots with the
//! run's numbers; a screenshot must come out with something drawn on it.
//! Without Chromium the test says so and passes.

#[path = "common/chromium.rs"]
mod chromium;

use base64::Engine;
use chromium::{file_url, headless};
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Serializer as _;
use std::path::Path;
use std::time::Instant;
use weft::perf::{Latencies, PERCENTILES, Run, Second};

/// SplitMix64, for reproducible samples.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u1, u2) = (1.0 - self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// An open-loop run at 1,000 requests/s for 20 s with lognormal latencies
/// (median `median_us`), recorded as the load generator records them.
fn run(id: &str, seed: u64, median_us: f64) -> Run {
    let mut rng = Rng(seed);
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    let mut timeline = Vec::new();
    for second in 0..20u64 {
        let mut this_second = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        for _ in 0..1000 {
            let us = (median_us * (0.6 * rng.normal()).exp()).round().max(1.0) as u64;
            histogram.record(us).unwrap();
            this_second.record(us).unwrap();
        }
        let ms = |q: f64| this_second.value_at_quantile(q) as f64 / 1000.0;
        timeline.push(Second { second, requests: 1000, errors: u64::from(second == 7), p50_ms: ms(0.5), p99_ms: ms(0.99) });
    }
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    let mut bytes = Vec::new();
    hdrhistogram::serialization::V2DeflateSerializer::new().serialize(&histogram, &mut bytes).unwrap();
    Run {
        smp_version: "v0.0.1".to_owned(),
        id: id.to_owned(),
        name: "checkout".to_owned(),
        start_time: "2025-01-02T03:04:05Z".to_owned(),
        end_time: "2025-01-02T03:04:25Z".to_owned(),
        latencies_ms: Latencies { min: histogram.min() as f64 / 1000.0, average: histogram.mean() / 1000.0, p50: ms(0.5), p90: ms(0.9), p99: ms(0.99), max: histogram.max() as f64 / 1000.0 },
        actual_qps: 1000.0,
        url: "http://127.0.0.1:8080/checkout".to_owned(),
        method: "GET".to_owned(),
        protocol: "http/1.1".to_owned(),
        mode: "open".to_owned(),
        requested_qps: 1000.0,
        connections: 16,
        duration_s: 20.0,
        warmup_s: 1.0,
        requests: 20_000,
        errors: 1,
        status_codes: [("200".to_owned(), 19_999)].into(),
        error_kinds: [("timeout".to_owned(), 1)].into(),
        percentiles_ms: PERCENTILES.iter().map(|(n, p)| ((*n).to_owned(), ms(p / 100.0))).collect(),
        uncorrected_percentiles_ms: PERCENTILES.iter().map(|(n, p)| ((*n).to_owned(), ms(p / 100.0) * 0.97)).collect(),
        timeline,
        histogram: base64::engine::general_purpose::STANDARD.encode(bytes),
        ..Run::default()
    }
}

/// Milliseconds as the report prints them below 10 ms.
fn ms(v: f64) -> String {
    assert!(v < 10.0, "the fixture keeps latencies under 10 ms");
    format!("{v:.3}")
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let Some(chromium) = chromium::chromium_for("html_report_renders_in_headless_chromium") else { return };
    let started = Instant::now();
    let (baseline, candidate) = (run("base", 1, 900.0), run("cand", 2, 1200.0));
    let comparison = weft::perf::compare::compare(&baseline, &candidate, Some(0.1)).unwrap();
    assert!(!comparison.failures.is_empty(), "the fixture is a regression");
    let page = weft::perf::report::html(&candidate, Some((&baseline, &comparison)));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.html");
    std::fs::write(&file, &page).unwrap();

    // The DOM Chromium built from the page.
    let dom = headless(&chromium, &dir.path().join("profile"), &["--dump-dom"], &file_url(&file));
    for id in ["percentile-curve", "rate-over-time", "latency-over-time"] {
        let at = dom.find(&format!("<svg id=\"{id}\"")).unwrap_or_else(|| panic!("no {id} plot in the DOM:\n{dom}"));
        let end = at + dom[at..].find("</svg>").expect("a closed svg");
        assert!(dom[at..end].contains("<polyline"), "{id} has no line");
    }
    let curve = &dom[dom.find("<svg id=\"percentile-curve\"").unwrap()..];
    let curve = &curve[..curve.find("</svg>").unwrap()];
    for name in ["p50", "p99"] {
        let value = candidate.percentiles_ms[name];
        assert!(curve.contains(&format!("data-measure=\"{name}\" data-ms=\"{value}\"")), "{name} = {value} not marked on the curve");
        assert!(curve.contains(&format!("{name} {} ms", ms(value))), "{name} {} ms not written on the curve", ms(value));
        // And in the percentile table, and the comparison's baseline column.
        assert!(dom.contains(&format!("<tr data-measure=\"{name}\"><th>{name}</th><td class=\"num\" data-ms=\"{value}\">{} ms</td>", ms(value))), "{name} row");
        assert!(dom.contains(&format!("<td class=\"num\">{} ms</td>", ms(baseline.percentiles_ms[name]))), "baseline {name}");
    }
    // The baseline's curve is overlaid, and the gate failed.
    assert!(curve.contains("data-series=\"baseline base\""));
    assert!(dom.contains("<table id=\"comparison\">"));
    assert!(dom.contains("<td class=\"verdict worse\">worse</td>"));
    // Nothing is fetched: no external scripts, styles or images.
    assert!(!dom.contains("src=\"http") && !dom.contains("<link"), "the page must be self-contained");

    // A screenshot: a PNG with the plots drawn on it is far larger than one
    // of an empty page of the same size.
    let png = dir.path().join("report.png");
    headless(&chromium, &dir.path().join("profile"), &["--window-size=1100,2400", &format!("--screenshot={}", png.display())], &file_url(&file));
    let bytes = std::fs::read(&png).expect("the screenshot");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let blank_page = dir.path().join("blank.html");
    std::fs::write(&blank_page, "<!DOCTYPE html><html><body></body></html>").unwrap();
    let blank_png = dir.path().join("blank.png");
    headless(&chromium, &dir.path().join("profile"), &["--window-size=1100,2400", &format!("--screenshot={}", blank_png.display())], &file_url(&blank_page));
    let blank = std::fs::metadata(&blank_png).unwrap().len();
    // To look at the page and the screenshot: WEFT_PERF_REPORT_DIR=/some/dir.
    if let Some(keep) = std::env::var_os("WEFT_PERF_REPORT_DIR") {
        std::fs::create_dir_all(&keep).unwrap();
        std::fs::copy(&file, Path::new(&keep).join("report.html")).unwrap();
        std::fs::copy(&png, Path::new(&keep).join("report.png")).unwrap();
    }
    eprintln!("screenshot {} bytes (an empty page: {blank} bytes), {:?} in all", bytes.len(), started.elapsed());
    assert!(bytes.len() as u64 > 20_000 && bytes.len() as u64 > 5 * blank, "screenshot of {} bytes against {blank} for an empty page", bytes.len());
}
