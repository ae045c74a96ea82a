//! Benchmark of relationship inference: `cargo bench -p weft --bench relate`.
//!
//! For N = 1,000, 10,000 and 50,000 components (the synthetic repositories
//! of the validate benchmark, see `synth`) it loads the repository, then
//! times `relate::infer` with the full shipped relationship set, in
//! process, five times, and prints the median and spread, the number of
//! relationships and unresolved references, time per component (linear
//! growth keeps it flat) and the process's peak RSS. At small N it also
//! runs a naive pairwise Rego formulation of the same rules
//! (`benches/relate/naive.rego`), checks that it finds the same matches,
//! and prints indexed/naive as a speed ratio.
//!
//! Knobs: `WEFT_BENCH_SIZES` (e.g. `1000,10000`), `WEFT_BENCH_NAIVE_SIZES`
//! (default `250,500,1000`), `WEFT_BENCH_RUNS` (default 5).

#[path = "synth/mod.rs"]
#[allow(dead_code)]
mod synth;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use weft::model::Registry;
use weft::relate::{self, End};

const TARGETS: &[(usize, f64)] = &[(10_000, 1.0), (50_000, 5.0)];

fn sizes(var: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(var)
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

struct Loaded {
    repo: weft::load::Repo,
    registry: Registry,
    definitions: Vec<relate::definition::Definition>,
    members: Vec<(usize, usize)>,
}

fn load(dir: &Path) -> Loaded {
    let options = weft::load::Options { max_file_size: None, max_depth: None };
    let repo = weft::load::load(&[dir.to_path_buf()], &options, &weft::progress::Progress::hidden()).expect("repository loads");
    let registry = Registry::open(&Registry::shipped_dir().into_iter().collect::<Vec<PathBuf>>()).expect("shipped models");
    let (definitions, problems) = relate::load_definitions(&registry);
    assert!(problems.is_empty(), "{problems:?}");
    let members = repo
        .designs
        .iter()
        .enumerate()
        .flat_map(|(d, design)| (0..design.components.len()).map(move |c| (d, c)))
        .collect();
    Loaded { repo, registry, definitions, members }
}

fn main() {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("target");
    let runs: usize = std::env::var("WEFT_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(5).max(1);
    let threads = rayon::current_num_threads();
    println!("\n== weft relationship inference benchmark (synthetic repos, {threads} threads, median of {runs}) ==");
    println!("{:>7}  {:>10}  {:>16}  {:>13}  {:>10}  {:>13}  {:>9}", "N", "median", "spread", "relationships", "unresolved", "µs/component", "peak RSS");
    let mut per_component = Vec::new();
    for n in sizes("WEFT_BENCH_SIZES", &[1_000, 10_000, 50_000]) {
        let dir = target.join("bench-repos").join(format!("n{n}"));
        synth::ensure(&dir, n, false).expect("synthetic repository");
        let loaded = load(&dir.join("repo"));
        let mut times = Vec::new();
        let mut counts = (0, 0);
        for _ in 0..runs {
            let started = Instant::now();
            let inference = relate::infer(&loaded.repo.designs, &loaded.members, &loaded.definitions, &loaded.registry, &Default::default())
                .expect("inference runs");
            times.push(started.elapsed());
            counts = (inference.relationships.len(), inference.unresolved.len());
        }
        let (min, max) = (*times.iter().min().unwrap(), *times.iter().max().unwrap());
        let mid = median(&mut times);
        let per = mid.as_secs_f64() * 1e6 / n as f64;
        per_component.push((n, per));
        println!(
            "{n:>7}  {:>9.3}s  {:>6.3}–{:<6.3}s  {:>13}  {:>10}  {per:>13.1}  {:>6.0} MiB",
            mid.as_secs_f64(),
            min.as_secs_f64(),
            max.as_secs_f64(),
            counts.0,
            counts.1,
            peak_rss_mib()
        );
        if let Some(&(_, limit)) = TARGETS.iter().find(|(t, _)| *t == n) {
            let verdict = if mid.as_secs_f64() <= limit { "met" } else { "MISSED" };
            println!("         target ≤ {limit} s at N = {n}: {verdict}");
        }
    }
    if let (Some(first), Some(last)) = (per_component.first(), per_component.last())
        && first.0 != last.0
    {
        println!("growth: {:.2}× time per component from N = {} to N = {} (1.0 = linear)", last.1 / first.1, first.0, last.0);
    }

    println!("\n-- indexed vs naive pairwise Rego, same rules, same input --");
    println!("{:>7}  {:>12}  {:>12}  {:>8}  {:>8}", "N", "indexed", "naive", "matches", "ratio");
    let naive = include_str!("relate/naive.rego");
    for n in sizes("WEFT_BENCH_NAIVE_SIZES", &[250, 500, 1_000]) {
        let dir = target.join("bench-repos").join(format!("n{n}"));
        synth::ensure(&dir, n, false).expect("synthetic repository");
        let loaded = load(&dir.join("repo"));
        let mut indexed_times = Vec::new();
        let mut indexed = BTreeSet::new();
        for _ in 0..runs {
            let started = Instant::now();
            let inference = relate::infer(&loaded.repo.designs, &loaded.members, &loaded.definitions, &loaded.registry, &Default::default())
                .expect("inference runs");
            indexed_times.push(started.elapsed());
            indexed = inference
                .relationships
                .iter()
                .filter_map(|r| match (r.from, r.to) {
                    (End::Component { design: a, component: b }, End::Component { design: c, component: d }) => {
                        let rule = &inference.rules[r.rule];
                        Some((rule.def, rule.set, (a, b), (c, d)))
                    }
                    _ => None,
                })
                .collect();
        }
        let mut naive_times = Vec::new();
        let mut found = BTreeSet::new();
        for _ in 0..runs.min(3) {
            let (triples, took) = relate::naive_matches(
                &loaded.repo.designs,
                &loaded.members,
                &loaded.definitions,
                &loaded.registry,
                naive,
                Duration::from_secs(600),
            )
            .expect("naive formulation runs");
            naive_times.push(took);
            found = triples.into_iter().map(|(r, f, t)| (r, loaded.members[f], loaded.members[t])).collect();
        }
        let (a, b) = (median(&mut indexed_times), median(&mut naive_times));
        // Matches are compared per (definition, selector set, from, to).
        let inference = relate::infer(&loaded.repo.designs, &loaded.members, &loaded.definitions, &loaded.registry, &Default::default()).unwrap();
        let naive_set: BTreeSet<_> = found.iter().map(|&(r, f, t)| (inference.rules[r].def, inference.rules[r].set, f, t)).collect();
        assert_eq!(indexed, naive_set, "the naive and indexed formulations disagree at N = {n}");
        println!("{n:>7}  {:>11.3}s  {:>11.3}s  {:>8}  {:>7.0}×", a.as_secs_f64(), b.as_secs_f64(), indexed.len(), b.as_secs_f64() / a.as_secs_f64());
    }
}
