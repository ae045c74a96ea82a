//! `weft perf`: performance tests on their own, as `mesheryctl perf
//! apply` users run them. `run` sends load and prints (and stores) the
//! result; `compare` sets two results side by side. Exit codes: 0 when
//! every threshold holds, 1 when one fails, 2 when the test could not run.

use super::*;
use std::path::Path;
use std::time::Duration;
use weft::perf::{Run, Settings, Thresholds};

#[derive(Subcommand)]
pub(crate) enum PerfCommand {
    /// Send load to a URL and report latency percentiles, the achieved rate and errors.
    Run(Box<PerfRunArgs>),
    /// Compare two results (JSON or YAML files from `weft perf run -o`): percentiles and rate side by side, with a judgement of each change.
    Compare(PerfCompareArgs),
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum PerfFormat {
    Text,
    Json,
    Yaml,
}

#[derive(Args)]
pub(crate) struct PerfRunArgs {
    /// The URL to load (http:// or https://).
    #[arg(long, value_name = "URL", required_unless_present = "file")]
    url: Option<String>,
    /// An SMP test configuration (`test: {clients, duration}`) or a Meshery performance profile (`qps`, `concurrentRequest`, `duration`); flags override it.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,
    /// Requests per second over all connections, sent on a schedule (open loop: latency counts from the scheduled time); 0 sends as fast as responses allow (closed loop).
    #[arg(long, visible_alias = "qps", value_name = "N")]
    rate: Option<f64>,
    /// Connections kept open (each carries one request at a time over HTTP/1.1).
    #[arg(short = 'c', long, visible_alias = "concurrent-requests", value_name = "N")]
    connections: Option<usize>,
    /// Measured time, with a unit: 30s, 2m.
    #[arg(short = 'd', long, value_name = "DURATION", value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Load sent before measuring and left out of the result.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    warmup: Option<Duration>,
    #[arg(short = 'X', long, value_name = "METHOD")]
    method: Option<String>,
    /// A request header, `Name: value`. Repeatable.
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    headers: Vec<String>,
    /// The request body.
    #[arg(long, value_name = "TEXT", conflicts_with = "body_file")]
    body: Option<String>,
    #[arg(long, value_name = "FILE")]
    body_file: Option<PathBuf>,
    #[arg(long, value_name = "TYPE")]
    content_type: Option<String>,
    /// Speak HTTP/2 (prior knowledge over http://, ALPN over https://).
    #[arg(long)]
    http2: bool,
    /// Per request; later answers count as timeout errors.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Generator threads [default: one per core].
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// The test's name in the result.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// A label `key=value` recorded in the result. Repeatable.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    labels: Vec<String>,
    /// A latency gate, `p99=25ms` (percentile=limit). Repeatable.
    #[arg(long = "max-latency", value_name = "PCT=LIMIT")]
    max_latency: Vec<String>,
    /// Largest share of failed requests, 0–1.
    #[arg(long, value_name = "RATIO")]
    max_error_rate: Option<f64>,
    /// Smallest achieved rate, requests per second.
    #[arg(long, value_name = "N")]
    min_rate: Option<f64>,
    /// A result to compare with (a file from an earlier run).
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Largest growth of p50 and p99 over the baseline: 10% or 0.1.
    #[arg(long, value_name = "RATIO", value_parser = parse_ratio)]
    max_regression: Option<f64>,
    #[arg(long, value_enum, default_value_t = PerfFormat::Text)]
    format: PerfFormat,
    /// Also write the result (JSON, or YAML for .yaml/.yml) to FILE.
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Write a self-contained HTML report with plots.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Who sends the load: weft's own generator, or wrk or hey when installed (their output becomes the same result); `fortio` runs weft's own [default: weft].
    #[arg(long, value_name = "NAME", value_parser = ["weft", "wrk", "hey", "fortio"])]
    load_generator: Option<String>,
    /// A Prometheus server to ask for the target's CPU and memory over the test window (node-exporter metrics; cAdvisor's too with --prometheus-pod). Its figures land in the result's environment.
    #[arg(long, value_name = "URL")]
    prometheus: Option<String>,
    /// The target's pods for cAdvisor's container metrics: NAMESPACE/NAME-REGEX.
    #[arg(long, value_name = "NS/REGEX", requires = "prometheus")]
    prometheus_pod: Option<String>,
    /// A query of your own, NAME=PROMQL: its average and maximum over the window are recorded. Repeatable.
    #[arg(long = "prometheus-query", value_name = "NAME=PROMQL", requires = "prometheus")]
    prometheus_queries: Vec<String>,
}

#[derive(Args)]
pub(crate) struct PerfCompareArgs {
    /// The baseline result.
    baseline: PathBuf,
    /// The result compared with it.
    candidate: PathBuf,
    /// Largest growth of p50 and p99 over the baseline: 10% or 0.1; more exits 1.
    #[arg(long, value_name = "RATIO", value_parser = parse_ratio)]
    max_regression: Option<f64>,
    #[arg(long, value_enum, default_value_t = PerfFormat::Text)]
    format: PerfFormat,
}

pub(crate) fn run(command: PerfCommand) -> Result<ExitCode, String> {
    match command {
        PerfCommand::Run(args) => run_test(*args),
        PerfCommand::Compare(args) => compare(args),
    }
}

fn run_test(args: PerfRunArgs) -> Result<ExitCode, String> {
    let settings = settings_of(&args)?;
    let outcome = weft::perf::external::run(&settings)?;
    for note in &outcome.notes {
        eprintln!("note: {note}");
    }
    let mut run = outcome.run;
    if let Some(prometheus) = &args.prometheus {
        // The run stands without them: a Prometheus that fails costs a note, not the result.
        if let Err(message) = add_target_metrics(&mut run, prometheus, args.prometheus_pod.as_deref(), &args.prometheus_queries) {
            eprintln!("note: no target figures from Prometheus: {message}");
        }
    }
    run.threshold_failures = run.check(&settings.thresholds);
    let baseline = args.baseline.as_deref().map(read_run).transpose()?;
    if baseline.is_none() && settings.thresholds.max_regression.is_some() {
        eprintln!("note: --max-regression needs a --baseline to compare with; not checked");
    }
    let comparison = match &baseline {
        Some(baseline) => {
            let comparison = weft::perf::compare::compare(baseline, &run, settings.thresholds.max_regression)?;
            run.threshold_failures.extend(comparison.failures.iter().cloned());
            Some(comparison)
        }
        None => None,
    };
    if let Some(path) = &args.output {
        write_run(path, &run)?;
    }
    if let Some(path) = &args.report {
        let page = weft::perf::report::html(&run, baseline.as_ref().zip(comparison.as_ref()));
        std::fs::write(path, page).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    let text = match args.format {
        PerfFormat::Json => serde_json::to_string_pretty(&run).map_err(|e| e.to_string())? + "\n",
        PerfFormat::Yaml => serde_saphyr::to_string(&run).map_err(|e| e.to_string())?,
        PerfFormat::Text => {
            let mut text = weft::perf::report::summary_text(&run);
            if let Some(comparison) = &comparison {
                text.push('\n');
                text.push_str(&weft::perf::compare::render_text(comparison));
            }
            for failure in &run.threshold_failures {
                text.push_str(&format!("threshold failed: {failure}\n"));
            }
            text
        }
    };
    print(&text)?;
    Ok(if run.threshold_failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn compare(args: PerfCompareArgs) -> Result<ExitCode, String> {
    let (baseline, candidate) = (read_run(&args.baseline)?, read_run(&args.candidate)?);
    let comparison = weft::perf::compare::compare(&baseline, &candidate, args.max_regression)?;
    let text = match args.format {
        PerfFormat::Json => serde_json::to_string_pretty(&comparison).map_err(|e| e.to_string())? + "\n",
        PerfFormat::Yaml => serde_saphyr::to_string(&comparison).map_err(|e| e.to_string())?,
        PerfFormat::Text => weft::perf::compare::render_text(&comparison),
    };
    print(&text)?;
    Ok(if comparison.failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The file's settings (if any) with the flags laid over them.
fn settings_of(args: &PerfRunArgs) -> Result<Settings, String> {
    let mut settings = match &args.file {
        Some(file) => weft::perf::config::from_file(file)?,
        None => Settings::default(),
    };
    if let Some(url) = &args.url {
        settings.url = url.clone();
    }
    if let Some(rate) = args.rate {
        settings.rate = rate;
    }
    if let Some(connections) = args.connections {
        settings.connections = connections;
    }
    if let Some(duration) = args.duration {
        settings.duration = duration;
    }
    if let Some(warmup) = args.warmup {
        settings.warmup = warmup;
    }
    if let Some(method) = &args.method {
        settings.method = method.to_ascii_uppercase();
    }
    for header in &args.headers {
        let (name, value) = header.split_once(':').ok_or_else(|| format!("header `{header}`: expected `Name: value`"))?;
        settings.headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    if let Some(content_type) = &args.content_type {
        settings.headers.push(("content-type".to_owned(), content_type.clone()));
    }
    if let Some(body) = &args.body {
        settings.body = body.clone().into_bytes();
    }
    if let Some(file) = &args.body_file {
        settings.body = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    }
    settings.http2 |= args.http2;
    if let Some(timeout) = args.timeout {
        settings.timeout = timeout;
    }
    if args.threads.is_some() {
        settings.threads = args.threads;
    }
    if args.load_generator.is_some() {
        settings.load_generator = args.load_generator.clone();
    }
    if let Some(name) = &args.name {
        settings.name = name.clone();
    }
    for label in &args.labels {
        let (key, value) = label.split_once('=').ok_or_else(|| format!("label `{label}`: expected key=value"))?;
        settings.labels.insert(key.to_owned(), value.to_owned());
    }
    let thresholds: &mut Thresholds = &mut settings.thresholds;
    for gate in &args.max_latency {
        let (percentile, limit) = gate.split_once('=').ok_or_else(|| format!("--max-latency `{gate}`: expected e.g. p99=25ms"))?;
        if weft::perf::percentile_of(percentile).is_none() {
            return Err(format!("--max-latency `{gate}`: `{percentile}` is not a percentile (p50, p99.9, …)"));
        }
        let limit = parse_duration(limit).map_err(|e| format!("--max-latency `{gate}`: {e}"))?;
        thresholds.latency_ms.insert(percentile.to_owned(), limit.as_secs_f64() * 1000.0);
    }
    if args.max_error_rate.is_some() {
        thresholds.max_error_rate = args.max_error_rate;
    }
    if args.min_rate.is_some() {
        thresholds.min_rate = args.min_rate;
    }
    if args.max_regression.is_some() {
        thresholds.max_regression = args.max_regression;
    }
    if settings.url.is_empty() {
        return Err("no URL to load: give --url, or endpoint_urls in the file".to_owned());
    }
    if settings.connections == 0 {
        return Err("--connections must be at least 1".to_owned());
    }
    Ok(settings)
}

/// Asks Prometheus for the target's figures over the run's window.
fn add_target_metrics(run: &mut Run, prometheus: &str, pod: Option<&str>, own: &[String]) -> Result<(), String> {
    let pod = match pod {
        Some(text) => Some(text.split_once('/').ok_or_else(|| format!("--prometheus-pod `{text}`: expected NAMESPACE/NAME-REGEX"))?),
        None => None,
    };
    let mut queries = weft::perf::prometheus::default_queries(pod);
    for text in own {
        queries.push(weft::perf::prometheus::parse_query(text)?);
    }
    let parse = |t: &str| t.parse::<jiff::Timestamp>().map_err(|e| format!("the run's time {t}: {e}"));
    let (start, end) = (parse(&run.start_time)?, parse(&run.end_time)?);
    // The window's last samples are scraped after it ends.
    std::thread::sleep(Duration::from_secs(2));
    let runtime = runtime()?;
    let (figures, empty) = runtime.block_on(weft::perf::prometheus::query_window(prometheus, &queries, start, end))?;
    if !empty.is_empty() {
        eprintln!("note: Prometheus had no data for {} over the test window", empty.join(", "));
    }
    run.environment.target_metrics.extend(figures);
    Ok(())
}

/// `10%` → 0.1; `0.1` → 0.1.
fn parse_ratio(text: &str) -> Result<f64, String> {
    let value = match text.strip_suffix('%') {
        Some(percent) => percent.trim().parse::<f64>().map(|p| p / 100.0),
        None => text.trim().parse::<f64>(),
    }
    .map_err(|_| format!("`{text}` is not a ratio (10% or 0.1)"))?;
    if value < 0.0 || !value.is_finite() {
        return Err(format!("`{text}` must be a positive ratio"));
    }
    Ok(value)
}

pub(crate) fn read_run(path: &Path) -> Result<Run, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let parsed = if text.trim_start().starts_with('{') { serde_json::from_str(&text).map_err(|e| e.to_string()) } else { serde_saphyr::from_str(&text).map_err(|e| e.to_string()) };
    parsed.map_err(|e| format!("{}: not a weft perf result: {e}", path.display()))
}

pub(crate) fn write_run(path: &Path, run: &Run) -> Result<(), String> {
    let yaml = matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"));
    let text = if yaml { serde_saphyr::to_string(run).map_err(|e| e.to_string())? } else { serde_json::to_string_pretty(run).map_err(|e| e.to_string())? + "\n" };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// How `weft apply` and `weft watch` run a design's performance tests.
#[derive(Args, Clone)]
pub(crate) struct StepArgs {
    /// Apply without running the designs' performance tests.
    #[arg(long)]
    pub skip_perf: bool,
    /// Where test results are kept, as <DIR>/<design>/<namespace-test>/<time>-<commit>.json; the newest is the baseline of the next run [default: .weft/perf; for watch, perf/ in the state directory].
    #[arg(long, value_name = "DIR")]
    pub perf_results: Option<PathBuf>,
    /// Where a test reaches a Service from outside the cluster: `NAMESPACE/NAME=URL` or `NAME=URL` (e.g. a `kubectl port-forward`). Inside a cluster, Services are reached by their cluster DNS name. Repeatable.
    #[arg(long = "perf-target", value_name = "SERVICE=URL")]
    pub perf_targets: Vec<String>,
}

/// A test run after an apply, and what became of it.
pub(crate) struct StepOutcome {
    pub test: String,
    pub run: Option<Run>,
    /// Why it failed (thresholds, regression, or not run at all).
    pub failures: Vec<String>,
    pub stored: Option<PathBuf>,
}

/// Runs `prepared`'s performance tests against its targets (after their
/// objects were applied and found ready), stores each result, and
/// compares it with the test's previous result.
pub(crate) fn run_steps(prepared: &Prepared, args: &StepArgs, default_results: &Path, commit: Option<&str>) -> Vec<StepOutcome> {
    let results = args.perf_results.as_deref().unwrap_or(default_results);
    if let Some(bad) = args.perf_targets.iter().find(|m| !m.split_once('=').is_some_and(|(service, url)| !service.is_empty() && url.contains("://"))) {
        let failure = format!("--perf-target `{bad}`: expected NAMESPACE/NAME=URL or NAME=URL");
        return prepared.tests.iter().map(|step| StepOutcome { test: format!("{}/{} ({})", step.namespace, step.name, step.design), run: None, failures: vec![failure.clone()], stored: None }).collect();
    }
    let mut outcomes = Vec::new();
    let in_cluster = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    for target in &prepared.targets {
        for step in &prepared.tests {
            let label = format!("{}/{} ({})", step.namespace, step.name, step.design);
            let resolve = |namespace: &str, name: &str, port: &serde_json::Value| -> Option<String> {
                // A target without a namespace is in the test's.
                let namespace = if namespace.is_empty() { step.namespace.as_str() } else { namespace };
                for mapping in &args.perf_targets {
                    let (service, url) = mapping.split_once('=')?;
                    if service == format!("{namespace}/{name}") || service == name {
                        return Some(url.trim_end_matches('/').to_owned());
                    }
                }
                if !in_cluster {
                    return None;
                }
                let port = match port {
                    serde_json::Value::Number(n) => n.as_u64()?,
                    serde_json::Value::String(port_name) => service_port(&target.desired, namespace, name, port_name)?,
                    _ => service_port(&target.desired, namespace, name, "")?,
                };
                Some(format!("http://{name}.{namespace}.svc:{port}"))
            };
            let settings = match weft::perf::config::from_component(&step.name, &step.spec, &resolve) {
                Ok(settings) => settings,
                Err(message) => {
                    let hint = if in_cluster { String::new() } else { " (outside the cluster, map the Service with --perf-target NAMESPACE/NAME=URL, or give the test a url)".to_owned() };
                    outcomes.push(StepOutcome { test: label, run: None, failures: vec![format!("{message}{hint}")], stored: None });
                    continue;
                }
            };
            let mut run = match weft::perf::external::run(&settings) {
                Ok(outcome) => outcome.run,
                Err(message) => {
                    outcomes.push(StepOutcome { test: label, run: None, failures: vec![message], stored: None });
                    continue;
                }
            };
            run.labels.insert("design".to_owned(), step.design.clone());
            if let Some(context) = &target.context {
                run.labels.insert("context".to_owned(), context.clone());
            }
            if let Some(commit) = commit {
                run.labels.insert("commit".to_owned(), commit.to_owned());
            }
            let mut failures = run.check(&settings.thresholds);
            let mut dir = weft::perf::steps::results_dir(results, step);
            // Each cluster is its own baseline.
            if let Some(context) = &target.context {
                dir = dir.join(weft::render::dns_label(context));
            }
            // The baseline is the newest run that passed: a regression that
            // failed once does not become the yardstick of the next run.
            if let Some(baseline) = weft::perf::steps::newest(&dir, |path| read_run(path).ok().filter(|run| run.threshold_failures.is_empty())) {
                match weft::perf::compare::compare(&baseline, &run, settings.thresholds.max_regression) {
                    Ok(comparison) => failures.extend(comparison.failures),
                    Err(message) => failures.push(format!("cannot compare with the baseline: {message}")),
                }
            }
            run.threshold_failures = failures.clone();
            let path = dir.join(weft::perf::steps::result_name(commit));
            let stored = match write_run(&path, &run) {
                Ok(()) => Some(path),
                Err(message) => {
                    failures.push(message);
                    None
                }
            };
            outcomes.push(StepOutcome { test: label, run: Some(run), failures, stored });
        }
    }
    outcomes
}

/// The port number of a Service of the designs, by port name (or its
/// first port when the name is empty).
fn service_port(desired: &[weft::render::Desired], namespace: &str, name: &str, port_name: &str) -> Option<u64> {
    let service = desired.iter().find(|d| d.kind == "Service" && d.group.is_empty() && d.name == name && d.namespace.as_deref() == Some(namespace))?;
    let ports = service.value().pointer("/spec/ports")?.as_array()?.clone();
    ports.iter().find(|p| port_name.is_empty() || p["name"] == port_name).and_then(|p| p["port"].as_u64())
}

/// One line per test, for apply's and watch's output.
pub(crate) fn render_outcomes(outcomes: &[StepOutcome]) -> String {
    let mut out = String::new();
    for outcome in outcomes {
        let verdict = if outcome.failures.is_empty() { "passed" } else { "FAILED" };
        match &outcome.run {
            Some(run) => out.push_str(&format!(
                "perf {}: {verdict}: {:.1} req/s, p50 {:.3} ms, p99 {:.3} ms, {} errors of {}\n",
                outcome.test, run.actual_qps, run.latencies_ms.p50, run.latencies_ms.p99, run.errors, run.requests
            )),
            None => out.push_str(&format!("perf {}: {verdict}: not run\n", outcome.test)),
        }
        for failure in &outcome.failures {
            out.push_str(&format!("  {failure}\n"));
        }
        if let Some(path) = &outcome.stored {
            out.push_str(&format!("  result: {}\n", path.display()));
        }
    }
    out
}
