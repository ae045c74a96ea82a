//! Benchmark of `weft validate` on synthetic repositories, against two
//! Python validators. One command: `cargo bench -p weft --bench validate`.
//!
//! For N = 1,000, 10,000 and 50,000 components it generates a repository
//! (see `synth`), runs the release `weft validate <repo> --format json`
//! several times, checks that every run exits 0 and reports 0 errors, and
//! prints median wall time, spread, peak RSS and throughput. At N ≤ 10,000
//! it also runs `check-jsonschema` and `kubernetes-validate` (installed into
//! a throwaway venv) on the plain manifests, re-times weft on exactly the
//! same input, and prints weft's speed as a ratio to each.
//! Figures also go to `target/bench-results/validate.json`.
//!
//! Knobs (environment): `WEFT_BIN` (binary to time), `WEFT_BENCH_SIZES`
//! (e.g. `1000,10000`), `WEFT_BENCH_PEERS=0` (skip the peers),
//! `WEFT_BENCH_PYTHON` (interpreter for the venv, default `python3`).
//! See `benches/README.md`.

mod synth;
#[path = "common/mod.rs"]
#[allow(dead_code)]
mod common;

use common::*;

use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

const SIZES: &[usize] = &[1_000, 10_000, 50_000];
/// Peers (and the single-document variant they need) only up to here.
const PEER_MAX_N: usize = 10_000;
const TARGET_N: usize = 10_000;
const TARGET_WALL_S: f64 = 1.0;
const TARGET_RSS_MIB: f64 = 200.0;
const TARGET_RATIO: f64 = 20.0;
/// Per-component cost at the largest N over that at the smallest N above
/// which growth is called super-linear.
const LINEAR_LIMIT: f64 = 1.2;
/// kubeconform's published figure: about 7,600 resources/s on 4 cores.
const KUBECONFORM_PER_CORE: f64 = 7_600.0 / 4.0;
/// Pinned so figures stay comparable from run to run.
const PEER_PACKAGES: &[&str] = &["check-jsonschema==0.39.0", "kubernetes-validate==1.37.0"];
const K8S_VERSION: &str = "1.35.0";
/// A peer run slower than this at N > 1,000 is not repeated.
const PEER_SLOW_S: f64 = 30.0;

fn weft_runs(n: usize) -> usize {
    if n >= 50_000 { 3 } else { 5 }
}

fn main() {
    // `cargo bench` passes `--bench` (and any filter); there is nothing to filter.
    let target = target_dir();
    let sizes = sizes();
    let peers_on = std::env::var("WEFT_BENCH_PEERS").map_or(true, |v| v != "0");
    let bin = match weft_binary(&target) {
        Ok(bin) => bin,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };

    let nproc = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpu_model = cpu_model();
    let weft_version = weft_version(&bin);
    println!("\n== weft validate benchmark (synthetic repos, generator v{}) ==", synth::GENERATOR_VERSION);
    let busy = busy_cores();
    println!(
        "machine: {nproc} cores (available_parallelism), CPU {cpu_model}; {weft_version}; binary {}; busy before start: {}",
        bin.display(),
        busy.map_or("unknown".into(), |b| format!("{b:.2} cores"))
    );
    warn_if_busy(busy);

    // Repositories first, so generation never overlaps a timed run.
    let repos_root = target.join("bench-repos");
    let mut repos = Vec::new();
    for &n in &sizes {
        let dir = repos_root.join(format!("n{n}"));
        let single_doc = peers_on && n <= PEER_MAX_N;
        let t = Instant::now();
        match synth::ensure(&dir, n, single_doc) {
            Ok((stats, reused)) => {
                println!(
                    "repo N={n}: {} ({} manifest files with {} objects [{}], {} Meshery design files with {} components, {:.1} MiB){}",
                    if reused { "reused" } else { "generated" },
                    stats.manifest_files,
                    stats.manifest_objects,
                    stats.manifest_kinds.iter().map(|(k, c)| format!("{c} {k}")).collect::<Vec<_>>().join(", "),
                    stats.design_files,
                    stats.design_components,
                    stats.repo_bytes as f64 / MIB,
                    if reused { String::new() } else { format!(" in {:.1} s", t.elapsed().as_secs_f64()) },
                );
                repos.push((n, dir, stats));
            }
            Err(e) => {
                eprintln!("error: cannot generate the repository for N={n} in {}: {e}", dir.display());
                std::process::exit(2);
            }
        }
    }

    // weft on the whole repository (manifests and designs).
    println!("\nweft validate <repo> --format json: 1 warm-up, then median of 5 runs (3 at 50,000)");
    let mut rows = Vec::new();
    for (n, dir, stats) in &repos {
        let row = weft_series(&bin, &[dir.join("repo")], *n, stats.components, weft_runs(*n));
        rows.push((*n, stats.clone(), row));
    }
    print_weft_table(&rows);
    let targets = print_targets(&rows);

    // Peers.
    let peers = if peers_on {
        run_peers(&target, &bin, &repos)
    } else {
        println!("\npeers: skipped (WEFT_BENCH_PEERS=0)");
        json!({"skipped": "WEFT_BENCH_PEERS=0"})
    };

    let busy_end = busy_cores();
    println!("\nbusy after the runs: {}", busy_end.map_or("unknown".into(), |b| format!("{b:.2} cores")));
    warn_if_busy(busy_end);

    let results = json!({
        "benchmark": "weft validate",
        "generator_version": synth::GENERATOR_VERSION,
        "unix_time": SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        "machine": {"nproc": nproc, "cpu_model": cpu_model, "busy_cores_at_start": busy, "busy_cores_at_end": busy_end, "weft_version": weft_version, "weft_bin": bin.display().to_string()},
        "weft": rows.iter().map(|(n, stats, s)| {
            let mut v = s.to_json();
            v["n"] = json!(n);
            v["repo"] = stats.to_json();
            v
        }).collect::<Vec<_>>(),
        "targets": targets,
        "peers": peers,
    });
    let out = target.join("bench-results/validate.json");
    let written = fs::create_dir_all(out.parent().expect("parent"))
        .and_then(|()| fs::write(&out, serde_json::to_string_pretty(&results).expect("json") + "\n"));
    match written {
        Ok(()) => println!("\nfigures written to {}", out.display()),
        Err(e) => eprintln!("error: cannot write {}: {e}", out.display()),
    }
    // Timing targets never fail the run; weft failing to validate does.
    let weft_ok = results["weft"].as_array().is_some_and(|rows| rows.iter().all(|r| r["ok"] == true))
        && results["peers"]["rows"]
            .as_array()
            .is_none_or(|rows| rows.iter().all(|r| r["weft_same_input"]["ok"] == true));
    if !weft_ok {
        eprintln!("error: weft did not validate every synthetic repository cleanly (see above)");
        std::process::exit(1);
    }
}

const MIB: f64 = 1024.0 * 1024.0;


fn sizes() -> Vec<usize> {
    match std::env::var("WEFT_BENCH_SIZES") {
        Ok(s) if !s.trim().is_empty() => {
            s.split(',').filter_map(|x| x.trim().replace('_', "").parse().ok()).filter(|&n| n > 0).collect()
        }
        _ => SIZES.to_vec(),
    }
}





fn weft_version(bin: &Path) -> String {
    match Command::new(bin).arg("--version").stdin(Stdio::null()).output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        Ok(o) => format!("weft version unknown (--version exited {})", o.status),
        Err(e) => format!("weft version unknown ({e})"),
    }
}



/// Median, spread and resources of a series of runs.
#[derive(Default)]
struct Series {
    walls: Vec<f64>,
    cpus: Vec<f64>,
    rss: Vec<f64>,
    /// Items validated per run (components for weft, objects for peers).
    items: usize,
    files: Option<u64>,
    /// Components weft says it read (sum over `designs[].components`).
    seen: Option<u64>,
    warnings: Option<u64>,
    error: Option<String>,
}


impl Series {
    fn ok(&self) -> bool {
        self.error.is_none() && !self.walls.is_empty()
    }
    fn median(&self) -> f64 {
        median(&self.walls)
    }
    fn min(&self) -> f64 {
        self.walls.iter().copied().fold(f64::INFINITY, f64::min)
    }
    fn max(&self) -> f64 {
        self.walls.iter().copied().fold(0.0, f64::max)
    }
    fn peak_rss(&self) -> f64 {
        self.rss.iter().copied().fold(0.0, f64::max)
    }
    /// Cores kept busy: median CPU time (user + system) over median wall.
    fn cores_used(&self) -> f64 {
        median(&self.cpus) / self.median()
    }
    fn per_s(&self) -> f64 {
        self.items as f64 / self.median()
    }
    /// Items per CPU-second: throughput divided by the cores used.
    fn per_core_s(&self) -> f64 {
        self.items as f64 / median(&self.cpus)
    }
    fn to_json(&self) -> Value {
        let num = |x: f64| if x.is_finite() { json!((x * 1e6).round() / 1e6) } else { Value::Null };
        json!({
            "ok": self.ok(),
            "error": self.error,
            "items": self.items,
            "files": self.files,
            "components_seen": self.seen,
            "warnings": self.warnings,
            "runs": self.walls.len(),
            "wall_s": self.walls.iter().map(|&x| num(x)).collect::<Vec<_>>(),
            "cpu_s": self.cpus.iter().map(|&x| num(x)).collect::<Vec<_>>(),
            "rss_mib": self.rss.iter().map(|&x| num(x)).collect::<Vec<_>>(),
            "median_wall_s": num(self.median()),
            "min_wall_s": num(self.min()),
            "max_wall_s": num(self.max()),
            "peak_rss_mib": num(self.peak_rss()),
            "cores_used": num(self.cores_used()),
            "items_per_s": num(self.per_s()),
            "items_per_cpu_s": num(self.per_core_s()),
            "us_per_item": num(self.median() / self.items as f64 * 1e6),
        })
    }
}

/// Runs `weft validate PATHS --format json` once to warm up and `runs`
/// times timed; every run must exit 0 with `summary.errors == 0`.
fn weft_series(bin: &Path, paths: &[PathBuf], n: usize, items: usize, runs: usize) -> Series {
    let mut s = Series { items, ..Series::default() };
    for i in 0..=runs {
        let mut cmd = Command::new(bin);
        cmd.arg("validate").args(paths).args(["--format", "json"]);
        let m = match measure(&mut cmd) {
            Ok(m) => m,
            Err(e) => {
                s.error = Some(e);
                break;
            }
        };
        let report: Option<Value> = serde_json::from_str(&m.stdout).ok();
        let errors = report.as_ref().and_then(|r| r.pointer("/summary/errors")).and_then(Value::as_u64);
        if m.code != Some(0) || errors != Some(0) {
            let diags = report
                .as_ref()
                .and_then(|r| r.get("diagnostics"))
                .and_then(Value::as_array)
                .map(|d| d.iter().take(3).map(|x| x.to_string()).collect::<Vec<_>>().join("\n    "))
                .unwrap_or_default();
            s.error = Some(format!(
                "N={n}: weft exited {} with summary.errors = {}\n    {diags}\n    stderr: {}",
                m.code.map_or("on a signal".into(), |c| c.to_string()),
                errors.map_or("(no JSON report)".into(), |e| e.to_string()),
                tail(&m.stderr, 600)
            ));
            break;
        }
        if let Some(r) = &report {
            s.files = r.get("files").and_then(Value::as_u64);
            s.seen = r
                .get("designs")
                .and_then(Value::as_array)
                .map(|ds| ds.iter().filter_map(|d| d.get("components").and_then(Value::as_u64)).sum());
            s.warnings = r.pointer("/summary/warnings").and_then(Value::as_u64);
        }
        if i > 0 {
            s.walls.push(m.wall);
            s.cpus.push(m.cpu);
            s.rss.push(m.rss_mib);
        }
    }
    s
}



fn print_weft_table(rows: &[(usize, synth::Stats, Series)]) {
    println!(
        "{:>7} {:>6} {:>12} {:>5} {:>10} {:>17} {:>10} {:>6} {:>9} {:>11} {:>8}",
        "N",
        "files",
        "comps read",
        "runs",
        "median",
        "min–max",
        "peak RSS",
        "cores",
        "comp/s",
        "comp/s/core",
        "µs/comp"
    );
    for (n, stats, s) in rows {
        let files = stats.manifest_files + stats.design_files;
        if !s.ok() {
            println!("{n:>7} {files:>6}  FAILED: {}", s.error.as_deref().unwrap_or("no runs"));
            continue;
        }
        let seen = s.seen.map_or("?".into(), |x| x.to_string());
        println!(
            "{:>7} {:>6} {:>12} {:>5} {:>8.3} s {:>7.3}–{:.3} s {:>6.1} MiB {:>6.2} {:>9} {:>11} {:>8.1}",
            fmt_int(*n as f64),
            files,
            seen,
            s.walls.len(),
            s.median(),
            s.min(),
            s.max(),
            s.peak_rss(),
            s.cores_used(),
            fmt_int(s.per_s()),
            fmt_int(s.per_core_s()),
            s.median() / *n as f64 * 1e6,
        );
        if s.seen.is_some_and(|x| x != *n as u64) {
            println!("        note: weft reported {} components, the repository holds {n}", seen);
        }
        if let Some(w) = s.warnings.filter(|&w| w > 0) {
            println!("        note: {w} warnings (0 errors)");
        }
    }
    println!(
        "  comps read = sum of designs[].components in weft's JSON; cores = median (user+sys CPU time) / median wall,\n  \
         from wait4 rusage of the weft process; comp/s/core = N / median CPU seconds (= comp/s ÷ cores used); peak RSS = max over runs."
    );
}

fn mark(ok: bool) -> &'static str {
    if ok { "MET" } else { "NOT MET" }
}

fn print_targets(rows: &[(usize, synth::Stats, Series)]) -> Value {
    println!("\ntargets:");
    let mut t = Map::new();
    let ok_rows: Vec<_> = rows.iter().filter(|(_, _, s)| s.ok()).collect();
    if let Some((_, _, s)) = ok_rows.iter().find(|(n, _, _)| *n == TARGET_N) {
        let wall_ok = s.median() <= TARGET_WALL_S;
        let rss_ok = s.peak_rss() <= TARGET_RSS_MIB;
        println!(
            "  N=10,000 wall:  median {:.3} s  (target ≤ {TARGET_WALL_S:.1} s)      {}",
            s.median(),
            mark(wall_ok)
        );
        println!(
            "  N=10,000 RSS:   peak {:.1} MiB  (target ≤ {TARGET_RSS_MIB:.0} MiB)     {}",
            s.peak_rss(),
            mark(rss_ok)
        );
        let per_core = s.per_core_s();
        println!(
            "  per core vs kubeconform: {} comp/s/core vs ~{} resources/s/core (7,600/s on 4 cores, published)  {}",
            fmt_int(per_core),
            fmt_int(KUBECONFORM_PER_CORE),
            if per_core > KUBECONFORM_PER_CORE { "BEATS" } else { "DOES NOT BEAT" }
        );
        t.insert("wall_10k".into(), json!({"median_s": s.median(), "target_s": TARGET_WALL_S, "met": wall_ok}));
        t.insert("rss_10k".into(), json!({"peak_mib": s.peak_rss(), "target_mib": TARGET_RSS_MIB, "met": rss_ok}));
        t.insert(
            "per_core_vs_kubeconform".into(),
            json!({"weft_per_cpu_s": per_core, "kubeconform_per_core": KUBECONFORM_PER_CORE, "beats": per_core > KUBECONFORM_PER_CORE}),
        );
    } else {
        println!("  N=10,000 not measured (or failed): wall/RSS targets not evaluated");
    }
    if ok_rows.len() >= 2 {
        let (n0, _, s0) = ok_rows[0];
        let (n1, _, s1) = ok_rows[ok_rows.len() - 1];
        let per = |n: usize, s: &Series| s.median() / n as f64 * 1e6;
        let ratio = per(*n1, s1) / per(*n0, s0);
        let costs: Vec<String> =
            ok_rows.iter().map(|(n, _, s)| format!("{:.1} µs @ {}", per(*n, s), fmt_int(*n as f64))).collect();
        println!("  linear growth: time/N = {}", costs.join(", "));
        println!(
            "    per-component cost at N={} over N={}: {ratio:.2}  (linear if ≤ {LINEAR_LIMIT}; fixed start-up cost makes small N dearer)  {}",
            fmt_int(*n1 as f64),
            fmt_int(*n0 as f64),
            mark(ratio <= LINEAR_LIMIT)
        );
        let marginal: Vec<String> = ok_rows
            .windows(2)
            .map(|w| {
                let ((a, _, sa), (b, _, sb)) = (w[0], w[1]);
                format!(
                    "{:.1} µs/comp from {} to {}",
                    (sb.median() - sa.median()) / (*b as f64 - *a as f64) * 1e6,
                    fmt_int(*a as f64),
                    fmt_int(*b as f64)
                )
            })
            .collect();
        println!("    marginal cost (Δtime/ΔN, start-up cancels out): {}", marginal.join(", "));
        t.insert(
            "linear".into(),
            json!({
                "us_per_component": ok_rows.iter().map(|(n, _, s)| json!({"n": n, "us": per(*n, s)})).collect::<Vec<_>>(),
                "ratio_largest_to_smallest": ratio,
                "limit": LINEAR_LIMIT,
                "met": ratio <= LINEAR_LIMIT,
            }),
        );
    }
    Value::Object(t)
}

/// The venv with the pinned peers, created when missing or pinned
/// differently. Returns its `bin` directory.
fn peer_venv(target: &Path) -> Result<PathBuf, String> {
    let venv = target.join("bench-venv");
    let bin = venv.join("bin");
    let stamp = venv.join("weft-bench-packages.txt");
    let wanted = PEER_PACKAGES.join("\n");
    let ready = |b: &Path| b.join("check-jsonschema").exists() && b.join("kubernetes-validate").exists();
    if fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) && ready(&bin) {
        return Ok(bin);
    }
    if venv.exists() {
        fs::remove_dir_all(&venv).map_err(|e| format!("cannot remove {}: {e}", venv.display()))?;
    }
    let python = std::env::var("WEFT_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    println!("  creating {} with {python} and installing {} …", venv.display(), PEER_PACKAGES.join(" "));
    let o = Command::new(&python)
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    if !o.status.success() {
        return Err(format!("`{python} -m venv` failed: {}", tail(&String::from_utf8_lossy(&o.stderr), 500)));
    }
    let o = Command::new(bin.join("python"))
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
        .args(PEER_PACKAGES)
        .output()
        .map_err(|e| format!("cannot run pip: {e}"))?;
    if !o.status.success() || !ready(&bin) {
        return Err(format!(
            "pip install failed: {}",
            tail(&(String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)), 800)
        ));
    }
    fs::write(&stamp, wanted).map_err(|e| e.to_string())?;
    Ok(bin)
}

fn tool_version(bin: &Path, tool: &str) -> String {
    Command::new(bin.join(tool))
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string() + String::from_utf8_lossy(&o.stderr).trim())
        .filter(|s| !s.is_empty())
        .map(|s| if s.contains(tool) { s } else { format!("{tool} {s}") })
        .unwrap_or_else(|| format!("{tool} (version unknown)"))
}

/// The Kubernetes v1.35.0 definitions: the engine's vendored copy, else the
/// copy kubernetes-validate ships (the same file).
fn find_definitions(venv_bin: &Path) -> Option<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?.to_path_buf();
    let mut candidates = vec![workspace.join(format!("models/sources/kubernetes/v{K8S_VERSION}/_definitions.json"))];
    if let Ok(libs) = fs::read_dir(venv_bin.parent()?.join("lib")) {
        for lib in libs.flatten() {
            candidates.push(lib.path().join(format!(
                "site-packages/kubernetes_validate/kubernetes-json-schema/v{K8S_VERSION}-local/_definitions.json"
            )));
        }
    }
    candidates.into_iter().find(|p| p.exists())
}

/// One schema for all three kinds: `allOf` of `if kind/apiVersion then
/// $ref` over the definitions, pruned to those reachable. It lets
/// check-jsonschema validate every object in a single process.
fn dispatch_schema(defs_file: &Path, out: &Path) -> Result<(), String> {
    let text = fs::read_to_string(defs_file).map_err(|e| format!("{}: {e}", defs_file.display()))?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", defs_file.display()))?;
    let defs = doc
        .get("$defs")
        .or_else(|| doc.get("definitions"))
        .and_then(Value::as_object)
        .ok_or("no $defs in the definitions file")?;
    let key = if doc.get("$defs").is_some() { "$defs" } else { "definitions" };
    let kinds = [("", "v1", "ConfigMap"), ("apps", "v1", "Deployment"), ("", "v1", "Service")];
    let mut branches = Vec::new();
    let mut roots = Vec::new();
    for (group, version, kind) in kinds {
        let name = defs
            .iter()
            .find(|(_, d)| {
                d.get("x-kubernetes-group-version-kind").and_then(Value::as_array).is_some_and(|gvks| {
                    gvks.iter().any(|g| g["group"] == group && g["version"] == version && g["kind"] == kind)
                })
            })
            .map(|(k, _)| k.clone())
            .ok_or_else(|| format!("no definition for {kind}"))?;
        let api_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
        branches.push(json!({
            "if": {"properties": {"apiVersion": {"const": api_version}, "kind": {"const": kind}}, "required": ["apiVersion", "kind"]},
            "then": {"$ref": format!("#/{key}/{name}")},
        }));
        roots.push(name);
    }
    // Keep only the definitions the three kinds reach.
    let prefix = format!("#/{key}/");
    let mut keep = BTreeSet::new();
    let mut todo = roots;
    while let Some(name) = todo.pop() {
        if !keep.insert(name.clone()) {
            continue;
        }
        let mut refs = Vec::new();
        collect_refs(&defs[&name], &prefix, &mut refs);
        todo.extend(refs.into_iter().filter(|r| defs.contains_key(r) && !keep.contains(r)));
    }
    let pruned: Map<String, Value> = keep.iter().map(|k| (k.clone(), defs[k].clone())).collect();
    let mut schema = Map::new();
    schema.insert(
        "$schema".into(),
        doc.get("$schema").cloned().unwrap_or(json!("https://json-schema.org/draft/2020-12/schema")),
    );
    schema.insert("type".into(), json!("object"));
    schema.insert("required".into(), json!(["apiVersion", "kind"]));
    schema.insert("properties".into(), json!({"kind": {"enum": kinds.iter().map(|k| k.2).collect::<Vec<_>>()}}));
    schema.insert("allOf".into(), Value::Array(branches));
    schema.insert(key.into(), Value::Object(pruned));
    fs::write(out, serde_json::to_string(&Value::Object(schema)).expect("json"))
        .map_err(|e| format!("{}: {e}", out.display()))
}

fn collect_refs(v: &Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref"
                    && let Some(name) = x.as_str().and_then(|r| r.strip_prefix(prefix))
                {
                    out.push(name.to_string());
                }
                collect_refs(x, prefix, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, prefix, out)),
        _ => {}
    }
}

/// Relative paths of the files below `dir` with extension `ext`, sorted.
fn files_below(dir: &Path, ext: &str) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, ext: &str, out: &mut Vec<String>) {
        let Ok(entries) = fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, ext, out);
            } else if p.extension().is_some_and(|x| x == ext)
                && let Ok(rel) = p.strip_prefix(root)
            {
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, ext, &mut out);
    out.sort();
    out
}

/// Runs a peer on `files`: an untimed warm-up on the first file alone
/// (loads the interpreter, its bytecode and the schemas into the page
/// cache), then 3 timed runs, or just 1 when N > 1,000 and the first run
/// took longer than PEER_SLOW_S.
fn peer_series(cmd: &dyn Fn(&[String]) -> Command, files: &[String], n: usize, items: usize) -> Series {
    let mut s = Series { items, ..Series::default() };
    let runs = 3;
    for i in 0..=runs {
        let input = if i == 0 { &files[..files.len().min(1)] } else { files };
        let m = match measure(&mut cmd(input)) {
            Ok(m) => m,
            Err(e) => {
                s.error = Some(e);
                break;
            }
        };
        if m.code != Some(0) {
            s.error = Some(format!("exited {:?}: {}", m.code, tail(&(m.stdout.clone() + "\n" + &m.stderr), 800)));
            break;
        }
        if i == 0 {
            continue;
        }
        s.walls.push(m.wall);
        s.cpus.push(m.cpu);
        s.rss.push(m.rss_mib);
        if n > 1_000 && m.wall > PEER_SLOW_S {
            break;
        }
    }
    s
}

fn run_peers(target: &Path, weft: &Path, repos: &[(usize, PathBuf, synth::Stats)]) -> Value {
    println!("\npeers: check-jsonschema and kubernetes-validate (PyPI, pinned: {})", PEER_PACKAGES.join(", "));
    let venv_bin = match peer_venv(target) {
        Ok(b) => b,
        Err(e) => {
            println!("  peers skipped: {e}");
            return json!({"skipped": e});
        }
    };
    let cj_version = tool_version(&venv_bin, "check-jsonschema");
    let kv_version = tool_version(&venv_bin, "kubernetes-validate");
    println!("  installed: {cj_version}; {kv_version}; venv {}", venv_bin.parent().expect("venv").display());

    let schema = target.join(format!("bench-repos/k8s-v{K8S_VERSION}-configmap-deployment-service.schema.json"));
    let schema_source = find_definitions(&venv_bin);
    let schema_ok = match &schema_source {
        Some(src) => match dispatch_schema(src, &schema) {
            Ok(()) => {
                println!("  check-jsonschema schema: {} (built from {})", schema.display(), src.display());
                true
            }
            Err(e) => {
                println!("  check-jsonschema skipped: cannot build its schema: {e}");
                false
            }
        },
        None => {
            println!("  check-jsonschema skipped: no Kubernetes v{K8S_VERSION} _definitions.json found");
            false
        }
    };

    println!(
        "  how each tool is run (all processes timed the same way: spawn to exit, wait4 rusage):\n    \
         kubernetes-validate -k {K8S_VERSION} --quiet <every repo/manifests/**/*.yaml>   (multi-document files, one process, default non-strict schemas it ships)\n    \
         check-jsonschema --schemafile <schema> <every single-doc/**/*.yaml>   (it cannot read multi-document YAML, so the same objects\n      \
         one per file; the schema dispatches on apiVersion/kind to the v{K8S_VERSION} definitions; one process, default options)\n    \
         weft is re-timed on exactly each peer's input: `weft validate repo/manifests --format json` and `weft validate single-doc --format json`.\n    \
         Neither peer sees the Meshery design files; ratios count only the plain manifest objects.\n    \
         Peers: 1 untimed warm-up on one file, then median of 3 runs (1 run when a run at N > 1,000 takes over {PEER_SLOW_S:.0} s); not run above N = {}.",
        fmt_int(PEER_MAX_N as f64)
    );

    let mut out_rows = Vec::new();
    println!(
        "\n{:>7} {:<20} {:>8} {:>5} {:>10} {:>10} {:>9} {:>10} {:>8} {:>6}",
        "N", "tool", "objects", "runs", "median", "peak RSS", "obj/s", "weft med.", "ratio", "≥20×"
    );
    for (n, dir, stats) in repos.iter().filter(|(n, _, _)| *n <= PEER_MAX_N) {
        let objects = stats.manifest_objects;
        let manifests = dir.join("repo/manifests");
        let single = dir.join("single-doc");
        let manifest_files = files_below(&manifests, "yaml");
        let single_files = files_below(&single, "yaml");

        let weft_multi = weft_series(weft, std::slice::from_ref(&manifests), *n, objects, weft_runs(*n));
        let kv = peer_series(
            &|files| {
                let mut c = Command::new(venv_bin.join("kubernetes-validate"));
                c.args(["-k", K8S_VERSION, "--quiet"]).args(files).current_dir(&manifests);
                c
            },
            &manifest_files,
            *n,
            objects,
        );
        out_rows.push(peer_row(
            *n,
            "kubernetes-validate",
            &kv_version,
            &kv,
            &weft_multi,
            manifest_files.len(),
            "repo/manifests (multi-document)",
        ));

        if schema_ok && !single_files.is_empty() {
            let weft_single = weft_series(weft, std::slice::from_ref(&single), *n, objects, weft_runs(*n));
            let cj = peer_series(
                &|files| {
                    let mut c = Command::new(venv_bin.join("check-jsonschema"));
                    c.arg("--schemafile").arg(&schema).args(files).current_dir(&single);
                    c
                },
                &single_files,
                *n,
                objects,
            );
            out_rows.push(peer_row(
                *n,
                "check-jsonschema",
                &cj_version,
                &cj,
                &weft_single,
                single_files.len(),
                "single-doc (one object per file)",
            ));
        }
    }
    println!("  ratio = peer median wall / weft median wall on the same files (higher is better for weft).");
    json!({
        "venv": venv_bin.parent().map(|p| p.display().to_string()),
        "packages": PEER_PACKAGES,
        "versions": {"check-jsonschema": cj_version, "kubernetes-validate": kv_version},
        "schema_source": schema_source.map(|p| p.display().to_string()),
        "rows": out_rows,
    })
}

fn peer_row(n: usize, tool: &str, version: &str, peer: &Series, weft: &Series, files: usize, input: &str) -> Value {
    let ratio = peer.median() / weft.median();
    let both = peer.ok() && weft.ok();
    if both {
        println!(
            "{:>7} {:<20} {:>8} {:>5} {:>8.3} s {:>6.1} MiB {:>9} {:>8.3} s {:>7.1}× {:>6}",
            fmt_int(n as f64),
            tool,
            fmt_int(peer.items as f64),
            peer.walls.len(),
            peer.median(),
            peer.peak_rss(),
            fmt_int(peer.per_s()),
            weft.median(),
            ratio,
            if ratio >= TARGET_RATIO { "MET" } else { "NOT MET" }
        );
    } else {
        let why = peer.error.as_deref().or(weft.error.as_deref()).unwrap_or("no runs");
        println!("{:>7} {:<20} FAILED: {}", fmt_int(n as f64), tool, why);
    }
    json!({
        "n": n,
        "tool": tool,
        "version": version,
        "input": input,
        "files": files,
        "objects": peer.items,
        "peer": peer.to_json(),
        "weft_same_input": weft.to_json(),
        "ratio": if both { json!(ratio) } else { Value::Null },
        "target_ratio": TARGET_RATIO,
        "met": both && ratio >= TARGET_RATIO,
    })
}
