//! Benchmark of `weft apply` against the Kubernetes API test server
//! (`tests/testserver`), with `kubectl apply --server-side` as the peer.
//! One command: `cargo bench -p weft --bench reconcile`.
//!
//! It generates a deterministic repository of plain manifests for each N
//! (`target/bench-repos/reconcile-n<N>/`: Namespaces, ConfigMaps, Secrets,
//! Services, Deployments, 100 objects per namespace), then, per N:
//!
//! 1. **create**: a fresh in-process server per run, `weft apply DIR
//!    --kubeconfig FILE --format json` and `kubectl --kubeconfig FILE apply
//!    --server-side --field-manager kubectl-bench -R -f DIR/manifests`;
//! 2. **no-op re-apply**: each tool again onto the server it created on;
//!    weft must make no write and no dry-run request;
//! 3. (informational) **no-op plan**: `weft plan DIR --format json`.
//!
//! It prints median wall time, peak RSS (VmHWM, see `measure`), CPU of the tool and
//! of the in-process server, the server's request counts per tool, the
//! ratio kubectl/weft, and a targets summary; the figures also go to
//! `target/bench-results/reconcile.json`. kubectl runs only at N ≤ 1,000.
//!
//! Knobs (environment): `WEFT_BIN`, `WEFT_BENCH_SIZES` (default
//! `1000,10000`), `WEFT_BENCH_RUNS` (weft runs, default 5),
//! `WEFT_BENCH_PEER_RUNS` (kubectl runs, default 3), `WEFT_BENCH_PEERS=0`
//! (skip kubectl), `WEFT_BENCH_KUBECTL` (kubectl binary, default `kubectl`
//! on PATH). See `benches/README.md`.

#[path = "common/mod.rs"]
#[allow(dead_code)]
mod common;
#[path = "synth/mod.rs"]
#[allow(dead_code)]
mod synth;

use common::*;
use synth::Rng;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use weft_testserver::{Counts, Options, TestServer};

/// Bump whenever the generated repository changes.
const GENERATOR_VERSION: u32 = 1;
const SIZES: &[usize] = &[1_000, 10_000];
/// kubectl runs only up to here.
const PEER_MAX_N: usize = 1_000;
/// Above this N, weft's create runs once (a fresh server per run is dear).
const CREATE_REPEAT_MAX_N: usize = 1_000;
const TARGET_RATIO: f64 = 2.0;
const TARGET_NOOP_N: usize = 10_000;
const TARGET_NOOP_WALL_S: f64 = 1.0;
const TARGET_NOOP_RSS_MIB: f64 = 150.0;
const FIELD_MANAGER_KUBECTL: &str = "kubectl-bench";
const MIB: f64 = 1024.0 * 1024.0;

fn main() {
    let target = target_dir();
    let sizes = sizes();
    let runs = env_usize("WEFT_BENCH_RUNS", 5);
    let peer_runs = env_usize("WEFT_BENCH_PEER_RUNS", 3);
    let peers_on = std::env::var("WEFT_BENCH_PEERS").map_or(true, |v| v != "0");
    let bin = match weft_binary(&target) {
        Ok(bin) => bin,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let kubectl = if peers_on { find_kubectl() } else { Err("skipped (WEFT_BENCH_PEERS=0)".into()) };

    let nproc = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpu_model = cpu_model();
    let weft_version = version_of(&bin, &["--version"]);
    let kubectl_version = kubectl.as_ref().ok().map(|k| version_of(k, &["version", "--client"]).replace('\n', "; "));
    println!("\n== weft apply benchmark (test server, synthetic repos of plain manifests, generator v{GENERATOR_VERSION}) ==");
    let busy = busy_cores();
    println!(
        "machine: {nproc} cores (available_parallelism), CPU {cpu_model}; {weft_version}; binary {}; busy before start: {}",
        bin.display(),
        busy.map_or("unknown".into(), |b| format!("{b:.2} cores"))
    );
    warn_if_busy(busy);
    match (&kubectl, &kubectl_version) {
        (Ok(k), Some(v)) => println!("peer: {} ({v})", k.display()),
        (Err(e), _) => println!("peer: kubectl {e}; the peer is skipped"),
        _ => {}
    }
    println!(
        "server: weft-testserver in this process (2 tokio workers), a fresh one per create run; its CPU competes with the tool on the same {nproc} cores, for both tools alike"
    );

    // Repositories first, so generation never overlaps a timed run.
    let mut repos = Vec::new();
    for &n in &sizes {
        let dir = target.join(format!("bench-repos/reconcile-n{n}"));
        let t = Instant::now();
        match ensure_repo(&dir, n) {
            Ok((stats, reused)) => {
                println!(
                    "repo N={}: {} {} ({} namespaces, {} files, {:.1} MiB; {}){}",
                    fmt_int(n as f64),
                    if reused { "reused" } else { "generated" },
                    dir.display(),
                    stats.namespaces.len(),
                    stats.files,
                    stats.bytes as f64 / MIB,
                    stats.kinds.iter().map(|(k, c)| format!("{c} {k}")).collect::<Vec<_>>().join(", "),
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
    let scratch = target.join("bench-tmp/reconcile");
    let _ = fs::remove_dir_all(&scratch);
    if let Err(e) = fs::create_dir_all(&scratch) {
        eprintln!("error: cannot create {}: {e}", scratch.display());
        std::process::exit(2);
    }

    println!(
        "\nhow each tool is run (wall = spawn to reaped; CPU from wait4 rusage of that one process; peak RSS = its VmHWM, sampled every 2 ms;\n\
         srv cpu = this process's CPU during the run, i.e. the in-process test server; requests = the server's log for that run):\n  \
         weft apply <repo> --kubeconfig <file> --format json          (defaults: --concurrency 8)\n  \
         kubectl --kubeconfig <file> apply --server-side --field-manager {FIELD_MANAGER_KUBECTL} -R -f <repo>/manifests --cache-dir <per-server dir>\n  \
         (kubectl's defaults otherwise: client-side rate limits, validation through /openapi/v3, discovery cache)\n  \
         create: a fresh server per run, median of {runs} weft runs (1 above N = {}) and {peer_runs} kubectl runs, 1 untimed warm-up each;\n  \
         no-op: each tool re-applies onto the server of its last create run, median of {runs} (kubectl {peer_runs}); kubectl only at N ≤ {}.",
        fmt_int(CREATE_REPEAT_MAX_N as f64),
        fmt_int(PEER_MAX_N as f64),
    );

    // Warm-up: binaries, the repository files and the kubectl start-up in the page cache.
    if let Some((n, dir, _)) = repos.first() {
        let _ = create_series(&Tool::Weft(bin.clone()), dir, *n, 1, &scratch.join("warmup-weft"));
        if let Ok(k) = &kubectl
            && *n <= PEER_MAX_N
        {
            let _ = create_series(&Tool::Kubectl(k.clone()), dir, *n, 1, &scratch.join("warmup-kubectl"));
        }
    }

    let mut sections = Vec::new();
    for (n, dir, stats) in &repos {
        let n = *n;
        println!("\n--- N = {} objects ({} namespaces) ---", fmt_int(n as f64), stats.namespaces.len());
        let weft = Tool::Weft(bin.clone());
        let create_runs = if n <= CREATE_REPEAT_MAX_N { runs } else { 1 };
        let (weft_create, weft_server) = create_series(&weft, dir, n, create_runs, &scratch.join(format!("weft-{n}")));
        let peer = match &kubectl {
            Ok(k) if n <= PEER_MAX_N => Some(Tool::Kubectl(k.clone())),
            _ => None,
        };
        let (kubectl_create, kubectl_server) = match &peer {
            Some(tool) => {
                let (s, server) = create_series(tool, dir, n, peer_runs, &scratch.join(format!("kubectl-{n}")));
                (Some(s), server)
            }
            None => (None, None),
        };
        println!("\n1. create {} objects on a fresh server", fmt_int(n as f64));
        print_header();
        print_row(n, "weft apply", &weft_create);
        if let Some(s) = &kubectl_create {
            print_row(n, "kubectl apply --ss", s);
        }
        let create_ratio = print_ratio(&weft_create, kubectl_create.as_ref(), n <= PEER_MAX_N, &kubectl);

        let weft_noop = match &weft_server {
            Some((server, work)) => noop_series(&weft, server, work, dir, n, runs, "apply"),
            None => Series::failed("no server: the create run failed"),
        };
        let weft_plan = match &weft_server {
            Some((server, work)) => noop_series(&weft, server, work, dir, n, runs, "plan"),
            None => Series::failed("no server: the create run failed"),
        };
        drop(weft_server);
        let kubectl_noop = match (&peer, &kubectl_server) {
            (Some(tool), Some((server, work))) => Some(noop_series(tool, server, work, dir, n, peer_runs, "apply")),
            (Some(_), None) => Some(Series::failed("no server: the create run failed")),
            _ => None,
        };
        drop(kubectl_server);
        println!("\n2. no-op re-apply of the same {} objects (each tool onto a server where it already applied)", fmt_int(n as f64));
        print_header();
        print_row(n, "weft apply", &weft_noop);
        if let Some(s) = &kubectl_noop {
            print_row(n, "kubectl apply --ss", s);
        }
        print_row(n, "weft plan (info)", &weft_plan);
        let noop_ratio = print_ratio(&weft_noop, kubectl_noop.as_ref(), n <= PEER_MAX_N, &kubectl);
        for (what, s) in [("weft apply", &weft_noop), ("weft plan", &weft_plan)] {
            if s.ok() {
                let (w, d) = s.max_writes_dry_runs();
                if w > 0 || d > 0 {
                    println!("  FLAG: no-op {what} made {w} write and {d} dry-run requests in a run (must be 0 and 0)");
                }
            }
        }
        sections.push(Section {
            n,
            stats: stats.clone(),
            weft_create,
            kubectl_create,
            create_ratio,
            weft_noop,
            weft_plan,
            kubectl_noop,
            noop_ratio,
        });
    }
    let _ = fs::remove_dir_all(&scratch);

    let targets = print_targets(&sections, &kubectl);
    let busy_end = busy_cores();
    println!("\nbusy after the runs: {}", busy_end.map_or("unknown".into(), |b| format!("{b:.2} cores")));
    warn_if_busy(busy_end);

    let results = json!({
        "benchmark": "weft apply (reconcile)",
        "generator_version": GENERATOR_VERSION,
        "unix_time": SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        "machine": {"nproc": nproc, "cpu_model": cpu_model, "busy_cores_at_start": busy, "busy_cores_at_end": busy_end,
                    "weft_version": weft_version, "weft_bin": bin.display().to_string(),
                    "kubectl": kubectl.as_ref().map(|k| k.display().to_string()).map_err(|e| e.clone()).ok(),
                    "kubectl_version": kubectl_version},
        "commands": {
            "weft_apply": "weft apply <repo> --kubeconfig <file> --format json",
            "weft_plan": "weft plan <repo> --kubeconfig <file> --format json",
            "kubectl_apply": format!("kubectl --kubeconfig <file> apply --server-side --field-manager {FIELD_MANAGER_KUBECTL} -R -f <repo>/manifests --cache-dir <dir>"),
        },
        "sizes": sections.iter().map(Section::to_json).collect::<Vec<_>>(),
        "targets": targets,
    });
    let out = target.join("bench-results/reconcile.json");
    let written = fs::create_dir_all(out.parent().expect("parent"))
        .and_then(|()| fs::write(&out, serde_json::to_string_pretty(&results).expect("json") + "\n"));
    match written {
        Ok(()) => println!("\nfigures written to {}", out.display()),
        Err(e) => eprintln!("error: cannot write {}: {e}", out.display()),
    }
    // Timing targets never fail the run; a tool failing to apply does.
    let all_ok = sections.iter().all(|s| {
        s.weft_create.ok()
            && s.weft_noop.ok()
            && s.weft_plan.ok()
            && s.kubectl_create.as_ref().is_none_or(Series::ok)
            && s.kubectl_noop.as_ref().is_none_or(Series::ok)
    });
    if !all_ok {
        eprintln!("error: some runs failed (see above)");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------
// The synthetic repository.

#[derive(Clone, Default)]
struct RepoStats {
    objects: usize,
    files: usize,
    bytes: u64,
    namespaces: Vec<String>,
    kinds: BTreeMap<String, usize>,
}

impl RepoStats {
    fn to_json(&self) -> Value {
        json!({"objects": self.objects, "files": self.files, "bytes": self.bytes, "namespaces": self.namespaces.len(), "kinds": self.kinds})
    }
}

const TEAMS: &[&str] = &["payments", "checkout", "search", "catalog", "identity", "ledger", "media", "notify", "orders", "shipping"];
const ENVS: &[&str] = &["dev", "qa", "staging", "prod", "perf", "demo", "canary", "eu", "us", "ap"];
const APP_WORDS: &[&str] = &["api", "web", "worker", "gateway", "auth", "indexer", "billing", "reports", "scheduler"];
const APP_ROLES: &[&str] = &["", "-admin", "-sync"];
/// Apps per namespace: each a ConfigMap, a Deployment and a Service, the
/// first SECRET_APPS also a Secret. With the Namespace and SHARED_CONFIGS:
/// 1 + 3 + 27 × 3 + 15 = 100 objects.
const APPS: usize = 27;
const SECRET_APPS: usize = 15;
const SHARED_CONFIGS: &[&str] = &["settings", "feature-flags", "logging"];

fn namespace_name(i: usize) -> String {
    let base = format!("{}-{}", TEAMS[i % TEAMS.len()], ENVS[(i / TEAMS.len()) % ENVS.len()]);
    let round = i / (TEAMS.len() * ENVS.len());
    if round == 0 { base } else { format!("{base}-{round}") }
}


/// `len` random hex digits.
fn hex(rng: &mut Rng, len: usize) -> String {
    let mut s = String::new();
    while s.len() < len {
        let _ = write!(s, "{:016x}", rng.next());
    }
    s.truncate(len);
    s
}

fn b64(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &x)| acc | (x as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn labels(app: &str, team: &str, env: &str, component: &str) -> String {
    format!(
        "  labels:\n    app.kubernetes.io/name: {app}\n    app.kubernetes.io/part-of: {team}\n    app.kubernetes.io/component: {component}\n    environment: {env}\n"
    )
}

fn namespace_doc(ns: &str, team: &str, env: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n  labels:\n    team: {team}\n    environment: {env}\n    pod-security.kubernetes.io/enforce: restricted\n  annotations:\n    owner: {team}-oncall@example.com\n"
    )
}

fn shared_config_doc(ns: &str, team: &str, env: &str, name: &str, rng: &mut Rng) -> String {
    let mut s = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\n{}data:\n", labels(name, team, env, "config"));
    match name {
        "settings" => {
            let _ = write!(
                s,
                "  region: {}\n  timezone: UTC\n  application.properties: |\n    server.port=8080\n    management.port=9090\n    cache.ttl.seconds={}\n    db.pool.size={}\n    tracing.sample.rate=0.{}\n",
                ["eu-west-1", "us-east-1", "ap-south-1"][rng.below(3) as usize],
                60 * (1 + rng.below(10)),
                4 + rng.below(28),
                1 + rng.below(9)
            );
        }
        "feature-flags" => {
            for f in ["new-checkout", "dark-mode", "fast-search", "beta-api", "async-billing"] {
                let _ = writeln!(s, "  {f}: \"{}\"", rng.below(2) == 1);
            }
        }
        _ => {
            let _ = write!(s, "  level: {}\n  format: json\n  fluent-bit.conf: |\n    [OUTPUT]\n        Name  forward\n        Match *\n        Host  logs.{team}.svc\n        Port  24224\n", ["info", "debug", "warn"][rng.below(3) as usize]);
        }
    }
    s
}

fn app_config_doc(ns: &str, team: &str, env: &str, app: &str, rng: &mut Rng) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {app}-config\n  namespace: {ns}\n{}data:\n  LOG_FORMAT: json\n  UPSTREAM_URL: http://{}.{ns}.svc.cluster.local\n  MAX_CONNECTIONS: \"{}\"\n  REQUEST_TIMEOUT: {}s\n  routes.yaml: |\n    routes:\n      - path: /v1/{app}\n        backend: {app}\n        timeout: {}s\n      - path: /healthz\n        backend: local\n",
        labels(app, team, env, "config"),
        APP_WORDS[rng.below(APP_WORDS.len() as u64) as usize],
        64 * (1 + rng.below(16)),
        5 + rng.below(55),
        1 + rng.below(29)
    )
}

fn secret_doc(ns: &str, team: &str, env: &str, app: &str, rng: &mut Rng) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {app}-credentials\n  namespace: {ns}\n{}type: Opaque\ndata:\n  username: {}\n  password: {}\n  api-key: {}\n",
        labels(app, team, env, "credentials"),
        b64(&format!("{app}-{env}")),
        b64(&hex(rng, 24)),
        b64(&hex(rng, 40))
    )
}

fn deployment_doc(ns: &str, team: &str, env: &str, app: &str, index: usize, rng: &mut Rng) -> String {
    let replicas = 1 + rng.below(4);
    let version = format!("{}.{}.{}", 1 + rng.below(3), rng.below(20), rng.below(10));
    let cpu = [50, 100, 250, 500][rng.below(4) as usize];
    let mem = [64, 128, 256, 512][rng.below(4) as usize];
    let mut s = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {app}\n  namespace: {ns}\n{}spec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: {app}\n  template:\n    metadata:\n      labels:\n        app.kubernetes.io/name: {app}\n        app.kubernetes.io/part-of: {team}\n      annotations:\n        prometheus.io/scrape: \"true\"\n        prometheus.io/port: \"9090\"\n    spec:\n      securityContext:\n        runAsNonRoot: true\n        runAsUser: 10001\n        fsGroup: 10001\n      containers:\n      - name: {app}\n        image: registry.example.com/{team}/{app}:{version}\n        args: [\"--port=8080\", \"--metrics-port=9090\"]\n        ports:\n        - name: http\n          containerPort: 8080\n        - name: metrics\n          containerPort: 9090\n        env:\n        - name: ENVIRONMENT\n          value: {env}\n        - name: POD_NAME\n          valueFrom:\n            fieldRef:\n              fieldPath: metadata.name\n        - name: MEMORY_LIMIT\n          valueFrom:\n            resourceFieldRef:\n              resource: limits.memory\n",
        labels(app, team, env, "backend")
    );
    if index < SECRET_APPS {
        let _ = write!(
            s,
            "        - name: DB_PASSWORD\n          valueFrom:\n            secretKeyRef:\n              name: {app}-credentials\n              key: password\n"
        );
    }
    let _ = write!(
        s,
        "        envFrom:\n        - configMapRef:\n            name: {app}-config\n        resources:\n          requests:\n            cpu: {cpu}m\n            memory: {mem}Mi\n          limits:\n            cpu: {}m\n            memory: {}Mi\n        readinessProbe:\n          httpGet:\n            path: /readyz\n            port: http\n          periodSeconds: 10\n        livenessProbe:\n          httpGet:\n            path: /healthz\n            port: http\n          initialDelaySeconds: 15\n          periodSeconds: 20\n        securityContext:\n          allowPrivilegeEscalation: false\n          readOnlyRootFilesystem: true\n          capabilities:\n            drop: [\"ALL\"]\n        volumeMounts:\n        - name: settings\n          mountPath: /etc/{app}\n          readOnly: true\n        - name: tmp\n          mountPath: /tmp\n",
        cpu * 2,
        mem * 2
    );
    if rng.below(3) == 0 {
        let _ = write!(
            s,
            "      - name: log-shipper\n        image: registry.example.com/platform/fluent-bit:3.1.{}\n        resources:\n          requests:\n            cpu: 20m\n            memory: 32Mi\n          limits:\n            cpu: 100m\n            memory: 64Mi\n        volumeMounts:\n        - name: logging\n          mountPath: /fluent-bit/etc\n          readOnly: true\n",
            rng.below(9)
        );
    }
    let _ = write!(
        s,
        "      volumes:\n      - name: settings\n        configMap:\n          name: settings\n      - name: logging\n        configMap:\n          name: logging\n      - name: tmp\n        emptyDir: {{}}\n"
    );
    s
}

fn service_doc(ns: &str, team: &str, env: &str, app: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {app}\n  namespace: {ns}\n{}spec:\n  selector:\n    app.kubernetes.io/name: {app}\n  ports:\n  - name: http\n    port: 80\n    targetPort: http\n  - name: metrics\n    port: 9090\n    targetPort: metrics\n",
        labels(app, team, env, "backend")
    )
}

/// Writes the repository for `n` objects unless a matching stamp says it is
/// there already. Layout: `weft.yaml`, `manifests/00-namespaces.yaml` (all
/// Namespaces, first in kubectl's lexical walk), `manifests/<ns>/shared.yaml`
/// and `manifests/<ns>/<app>.yaml` (ConfigMap, Secret, Deployment, Service).
fn ensure_repo(dir: &Path, n: usize) -> Result<(RepoStats, bool), String> {
    let stamp = dir.join(".weft-bench-stamp");
    let wanted = format!("reconcile generator v{GENERATOR_VERSION} n={n}");
    let reused = fs::read_to_string(&stamp).is_ok_and(|s| s == wanted);
    if !reused {
        if dir.exists() {
            fs::remove_dir_all(dir).map_err(|e| e.to_string())?;
        }
        fs::create_dir_all(dir.join("manifests")).map_err(|e| e.to_string())?;
        fs::write(dir.join("weft.yaml"), format!("name: reconcile-n{n}\n")).map_err(|e| e.to_string())?;
    }
    let mut stats = RepoStats::default();
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    let mut namespaces_doc = String::new();
    let mut left = n;
    let mut i = 0;
    let add = |stats: &mut RepoStats, kind: &str, left: &mut usize| {
        *stats.kinds.entry(kind.to_string()).or_default() += 1;
        stats.objects += 1;
        *left -= 1;
    };
    while left > 0 {
        let ns = namespace_name(i);
        let (team, env) = (TEAMS[i % TEAMS.len()], ENVS[(i / TEAMS.len()) % ENVS.len()]);
        let mut rng = Rng(0x5eed ^ ((i as u64) << 20));
        if !namespaces_doc.is_empty() {
            namespaces_doc.push_str("---\n");
        }
        namespaces_doc.push_str(&namespace_doc(&ns, team, env));
        add(&mut stats, "Namespace", &mut left);
        stats.namespaces.push(ns.clone());
        let mut shared = String::new();
        for name in SHARED_CONFIGS {
            if left == 0 {
                break;
            }
            if !shared.is_empty() {
                shared.push_str("---\n");
            }
            shared.push_str(&shared_config_doc(&ns, team, env, name, &mut rng));
            add(&mut stats, "ConfigMap", &mut left);
        }
        if !shared.is_empty() {
            files.push((dir.join(format!("manifests/{ns}/shared.yaml")), shared));
        }
        for a in 0..APPS {
            if left == 0 {
                break;
            }
            let app = format!("{}{}", APP_WORDS[a % APP_WORDS.len()], APP_ROLES[a / APP_WORDS.len()]);
            let mut docs = vec![app_config_doc(&ns, team, env, &app, &mut rng)];
            add(&mut stats, "ConfigMap", &mut left);
            if a < SECRET_APPS && left > 0 {
                docs.push(secret_doc(&ns, team, env, &app, &mut rng));
                add(&mut stats, "Secret", &mut left);
            }
            if left > 0 {
                docs.push(deployment_doc(&ns, team, env, &app, a, &mut rng));
                add(&mut stats, "Deployment", &mut left);
            }
            if left > 0 {
                docs.push(service_doc(&ns, team, env, &app));
                add(&mut stats, "Service", &mut left);
            }
            files.push((dir.join(format!("manifests/{ns}/{app}.yaml")), docs.join("---\n")));
        }
        i += 1;
    }
    files.push((dir.join("manifests/00-namespaces.yaml"), namespaces_doc));
    stats.files = files.len();
    stats.bytes = files.iter().map(|(_, t)| t.len() as u64).sum();
    if !reused {
        for (path, text) in &files {
            fs::create_dir_all(path.parent().expect("parent")).map_err(|e| e.to_string())?;
            fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        fs::write(&stamp, wanted).map_err(|e| e.to_string())?;
    }
    Ok((stats, reused))
}

// ---------------------------------------------------------------------------
// Running the tools.

#[derive(Clone)]
enum Tool {
    Weft(PathBuf),
    Kubectl(PathBuf),
}

impl Tool {
    fn name(&self) -> &'static str {
        match self {
            Tool::Weft(_) => "weft",
            Tool::Kubectl(_) => "kubectl",
        }
    }

    fn command(&self, verb: &str, repo: &Path, kubeconfig: &Path, cache: &Path) -> Command {
        match self {
            Tool::Weft(bin) => {
                let mut c = Command::new(bin);
                c.arg(verb).arg(repo).arg("--kubeconfig").arg(kubeconfig).args(["--format", "json"]).env("NO_COLOR", "1");
                c
            }
            Tool::Kubectl(bin) => {
                let mut c = Command::new(bin);
                c.arg("--kubeconfig")
                    .arg(kubeconfig)
                    .args(["apply", "--server-side", "--field-manager", FIELD_MANAGER_KUBECTL, "-R", "-f"])
                    .arg(repo.join("manifests"))
                    .arg("--cache-dir")
                    .arg(cache);
                c
            }
        }
    }

    /// Checks a run's output: exit 0 and every object accounted for.
    fn check(&self, verb: &str, m: &Measure, n: usize, fresh: bool) -> Result<(), String> {
        let fail = |why: String| {
            Err(format!(
                "{} {verb} exited {}: {why}\n    stderr: {}",
                self.name(),
                m.code.map_or("on a signal".into(), |c| c.to_string()),
                tail(&m.stderr, 600)
            ))
        };
        match self {
            Tool::Weft(_) => {
                let Ok(v) = serde_json::from_str::<Value>(&m.stdout) else {
                    return fail(format!("no JSON on stdout: {}", tail(&m.stdout, 300)));
                };
                let plan = if verb == "apply" { &v["plan"] } else { &v };
                let summary = &plan["summary"];
                let (key, want) = if fresh { ("create", n) } else { ("unchanged", n) };
                if m.code != Some(0) || summary[key].as_u64() != Some(want as u64) {
                    return fail(format!("plan summary {summary} (expected {key} = {want})"));
                }
                if verb == "apply" && fresh {
                    let applied = v["result"]["steps"].as_array().map_or(0, |s| s.iter().filter(|s| s["outcome"] == "applied").count());
                    if applied != n {
                        return fail(format!("{applied} steps applied, expected {n}"));
                    }
                }
                Ok(())
            }
            Tool::Kubectl(_) => {
                let applied = m.stdout.lines().filter(|l| l.ends_with(" serverside-applied")).count();
                if m.code != Some(0) || applied != n {
                    return fail(format!("{applied} objects serverside-applied, expected {n}"));
                }
                Ok(())
            }
        }
    }
}

/// One run on `server`: requests counted from a reset log.
fn run_once(tool: &Tool, verb: &str, server: &TestServer, repo: &Path, work: &Path, n: usize, fresh: bool) -> Result<(Measure, Counts), String> {
    let kubeconfig = work.join("kubeconfig");
    if !kubeconfig.exists() {
        fs::create_dir_all(work).map_err(|e| e.to_string())?;
        server.write_kubeconfig(&kubeconfig).map_err(|e| e.to_string())?;
    }
    server.reset_requests();
    let mut cmd = tool.command(verb, repo, &kubeconfig, &work.join("kube-cache"));
    let m = measure(&mut cmd)?;
    let counts = server.counts();
    tool.check(verb, &m, n, fresh)?;
    Ok((m, counts))
}

/// `runs` creates, each on a fresh server. Returns the last server with
/// its work dir (kubeconfig, kubectl's cache) for the no-op runs.
fn create_series(tool: &Tool, repo: &Path, n: usize, runs: usize, work: &Path) -> (Series, Option<(TestServer, PathBuf)>) {
    let mut s = Series::default();
    let mut last = None;
    for i in 0..runs {
        // The previous server stops before the next one starts.
        drop(last.take());
        let server = TestServer::start_with(Options::default());
        let dir = work.join(format!("run{i}"));
        match run_once(tool, "apply", &server, repo, &dir, n, true) {
            Ok((m, counts)) => {
                let stored = stored_objects(&server, repo);
                if stored != n {
                    s.error = Some(format!("{} create: the server holds {stored} of the {n} objects", tool.name()));
                    break;
                }
                s.push(&m, counts);
                last = Some((server, dir));
            }
            Err(e) => {
                s.error = Some(e);
                break;
            }
        }
    }
    if s.error.is_some() {
        return (s, None);
    }
    (s, last)
}

fn noop_series(tool: &Tool, server: &TestServer, work: &Path, repo: &Path, n: usize, runs: usize, verb: &str) -> Series {
    let mut s = Series::default();
    for _ in 0..runs {
        match run_once(tool, verb, server, repo, work, n, false) {
            Ok((m, counts)) => s.push(&m, counts),
            Err(e) => {
                s.error = Some(e);
                break;
            }
        }
    }
    s
}

/// Objects of the repository's namespaces on the server (and the Namespaces).
fn stored_objects(server: &TestServer, repo: &Path) -> usize {
    let ns_doc = fs::read_to_string(repo.join("manifests/00-namespaces.yaml")).unwrap_or_default();
    let ours: BTreeSet<String> =
        ns_doc.lines().filter_map(|l| l.strip_prefix("  name: ")).map(str::to_string).collect();
    let in_ours = |o: &Value, path: &str| o.pointer(path).and_then(Value::as_str).is_some_and(|ns| ours.contains(ns));
    let mut count = server.list("v1", "Namespace").iter().filter(|o| in_ours(o, "/metadata/name")).count();
    for (av, kind) in [("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Service"), ("apps/v1", "Deployment")] {
        count += server.list(av, kind).iter().filter(|o| in_ours(o, "/metadata/namespace")).count();
    }
    count
}

// ---------------------------------------------------------------------------
// Measuring.





/// Median, spread, resources and request counts of a series of runs.
#[derive(Default)]
struct Series {
    walls: Vec<f64>,
    cpus: Vec<f64>,
    rss: Vec<f64>,
    rss_wait4: Vec<f64>,
    server_cpus: Vec<f64>,
    counts: Vec<Counts>,
    /// stderr lines about client-side throttling (kubectl), summed over runs.
    throttled: usize,
    error: Option<String>,
}


impl Series {
    fn failed(why: &str) -> Series {
        Series { error: Some(why.into()), ..Series::default() }
    }
    fn push(&mut self, m: &Measure, counts: Counts) {
        self.walls.push(m.wall);
        self.cpus.push(m.cpu);
        self.rss.push(m.rss_mib);
        self.rss_wait4.push(m.rss_wait4_mib);
        self.server_cpus.push(m.server_cpu);
        self.counts.push(counts);
        self.throttled += m.stderr.lines().filter(|l| l.contains("client-side throttling")).count();
    }
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
    /// The counts of the run with the median wall time (the counts of every
    /// run are in the JSON).
    fn median_counts(&self) -> Option<&Counts> {
        let m = self.median();
        self.walls
            .iter()
            .enumerate()
            .min_by(|a, b| (a.1 - m).abs().total_cmp(&(b.1 - m).abs()))
            .and_then(|(i, _)| self.counts.get(i))
    }
    fn max_writes_dry_runs(&self) -> (usize, usize) {
        (self.counts.iter().map(|c| c.writes).max().unwrap_or(0), self.counts.iter().map(|c| c.dry_runs).max().unwrap_or(0))
    }
    fn to_json(&self) -> Value {
        let num = |x: f64| if x.is_finite() { json!((x * 1e6).round() / 1e6) } else { Value::Null };
        json!({
            "ok": self.ok(),
            "error": self.error,
            "runs": self.walls.len(),
            "wall_s": self.walls.iter().map(|&x| num(x)).collect::<Vec<_>>(),
            "cpu_s": self.cpus.iter().map(|&x| num(x)).collect::<Vec<_>>(),
            "server_cpu_s": self.server_cpus.iter().map(|&x| num(x)).collect::<Vec<_>>(),
            "rss_mib": self.rss.iter().map(|&x| num(x)).collect::<Vec<_>>(),
            "rss_wait4_ru_maxrss_mib": self.rss_wait4.iter().map(|&x| num(x)).collect::<Vec<_>>(),
            "median_wall_s": num(self.median()),
            "min_wall_s": num(self.min()),
            "max_wall_s": num(self.max()),
            "median_cpu_s": num(median(&self.cpus)),
            "median_server_cpu_s": num(median(&self.server_cpus)),
            "peak_rss_mib": num(self.peak_rss()),
            "throttling_messages": self.throttled,
            "requests": self.counts.iter().map(counts_json).collect::<Vec<_>>(),
        })
    }
}

fn counts_json(c: &Counts) -> Value {
    json!({"total": c.total, "reads": c.reads, "writes": c.writes, "dry_runs": c.dry_runs, "by_verb": c.by_verb})
}

struct Section {
    n: usize,
    stats: RepoStats,
    weft_create: Series,
    kubectl_create: Option<Series>,
    create_ratio: Option<f64>,
    weft_noop: Series,
    weft_plan: Series,
    kubectl_noop: Option<Series>,
    noop_ratio: Option<f64>,
}

impl Section {
    fn to_json(&self) -> Value {
        json!({
            "n": self.n,
            "repo": self.stats.to_json(),
            "create": {"weft": self.weft_create.to_json(), "kubectl": self.kubectl_create.as_ref().map(Series::to_json), "ratio_kubectl_over_weft": self.create_ratio},
            "noop": {"weft": self.weft_noop.to_json(), "kubectl": self.kubectl_noop.as_ref().map(Series::to_json), "ratio_kubectl_over_weft": self.noop_ratio},
            "noop_plan": {"weft": self.weft_plan.to_json()},
        })
    }
}

// ---------------------------------------------------------------------------
// Printing.

fn print_header() {
    println!(
        "{:>7} {:<19} {:>4} {:>9} {:>15} {:>9} {:>6} {:>7} {:>7} {:>6} {:>6} {:>7}",
        "N", "tool", "runs", "median", "min–max", "peak RSS", "cpu", "srv cpu", "req", "reads", "writes", "dry-run"
    );
}

fn print_row(n: usize, tool: &str, s: &Series) {
    if !s.ok() {
        println!("{:>7} {:<19} FAILED: {}", fmt_int(n as f64), tool, s.error.as_deref().unwrap_or("no runs"));
        return;
    }
    let c = s.median_counts().cloned().unwrap_or_default();
    println!(
        "{:>7} {:<19} {:>4} {:>7.3} s {:>6.3}–{:.3} s {:>5.0} MiB {:>4.2} s {:>5.2} s {:>7} {:>6} {:>6} {:>7}",
        fmt_int(n as f64),
        tool,
        s.walls.len(),
        s.median(),
        s.min(),
        s.max(),
        s.peak_rss(),
        median(&s.cpus),
        median(&s.server_cpus),
        fmt_int(c.total as f64),
        fmt_int(c.reads as f64),
        fmt_int(c.writes as f64),
        fmt_int(c.dry_runs as f64),
    );
    let verbs: Vec<String> = c.by_verb.iter().map(|(v, k)| format!("{v} {k}")).collect();
    let differ = s.counts.iter().any(|x| x != &c);
    println!(
        "{:>27} requests by verb: {}{}{}",
        "",
        verbs.join(", "),
        if differ { " (counts differ between runs; all in the JSON)" } else { "" },
        if s.throttled > 0 { format!("; {} client-side throttling messages on stderr", s.throttled) } else { String::new() }
    );
}

fn print_ratio(weft: &Series, kubectl: Option<&Series>, peer_size: bool, found: &Result<PathBuf, String>) -> Option<f64> {
    match kubectl {
        Some(k) if k.ok() && weft.ok() => {
            let r = k.median() / weft.median();
            println!("  ratio kubectl/weft (median wall): {r:.2}×  (higher is better for weft)");
            Some(r)
        }
        Some(_) => {
            println!("  ratio kubectl/weft: not computed (a run failed)");
            None
        }
        None => {
            match (peer_size, found) {
                (true, Err(e)) => println!("  kubectl: {e}; peer skipped"),
                (false, _) => println!("  kubectl: not run above N = {}", fmt_int(PEER_MAX_N as f64)),
                _ => {}
            }
            None
        }
    }
}

fn mark(ok: bool) -> &'static str {
    if ok { "MET" } else { "NOT MET" }
}

fn print_targets(sections: &[Section], kubectl: &Result<PathBuf, String>) -> Value {
    println!("\ntargets:");
    let mut t = serde_json::Map::new();
    for s in sections.iter().filter(|s| s.n == PEER_MAX_N) {
        match s.create_ratio {
            Some(r) => {
                println!(
                    "  N={} create, kubectl/weft:   {r:.2}×  (target ≥ {TARGET_RATIO:.0}×, kubectl defaults)        {}",
                    fmt_int(s.n as f64),
                    mark(r >= TARGET_RATIO)
                );
                t.insert("create_ratio_1k".into(), json!({"ratio": r, "target": TARGET_RATIO, "met": r >= TARGET_RATIO}));
            }
            None => {
                let why = kubectl.as_ref().err().cloned().unwrap_or_else(|| "a run failed".into());
                println!("  N={} create ratio: not evaluated ({why})", fmt_int(s.n as f64));
            }
        }
        if let Some(r) = s.noop_ratio {
            println!("  N={} no-op, kubectl/weft:    {r:.2}×  (informational)", fmt_int(s.n as f64));
            t.insert("noop_ratio_1k".into(), json!({"ratio": r}));
        }
    }
    for s in sections {
        if s.weft_noop.ok() {
            let (w, d) = s.weft_noop.max_writes_dry_runs();
            let ok = w == 0 && d == 0;
            println!(
                "  N={} no-op weft apply: {w} writes, {d} dry-runs (most in any run; target 0 and 0)   {}",
                fmt_int(s.n as f64),
                mark(ok)
            );
            t.insert(format!("noop_no_writes_{}", s.n), json!({"writes": w, "dry_runs": d, "met": ok}));
        }
    }
    match sections.iter().find(|s| s.n == TARGET_NOOP_N) {
        Some(s) if s.weft_noop.ok() => {
            let wall = s.weft_noop.median();
            let rss = s.weft_noop.peak_rss();
            println!(
                "  N={} no-op wall: median {wall:.3} s  (target ≤ {TARGET_NOOP_WALL_S:.1} s)      {}",
                fmt_int(s.n as f64),
                mark(wall <= TARGET_NOOP_WALL_S)
            );
            println!(
                "  N={} no-op RSS:  peak {rss:.1} MiB  (target ≤ {TARGET_NOOP_RSS_MIB:.0} MiB)   {}",
                fmt_int(s.n as f64),
                mark(rss <= TARGET_NOOP_RSS_MIB)
            );
            t.insert("noop_wall_10k".into(), json!({"median_s": wall, "target_s": TARGET_NOOP_WALL_S, "met": wall <= TARGET_NOOP_WALL_S}));
            t.insert("noop_rss_10k".into(), json!({"peak_mib": rss, "target_mib": TARGET_NOOP_RSS_MIB, "met": rss <= TARGET_NOOP_RSS_MIB}));
            if s.weft_create.ok() {
                println!(
                    "  N={} create (info): {:.3} s, peak RSS {:.1} MiB",
                    fmt_int(s.n as f64),
                    s.weft_create.median(),
                    s.weft_create.peak_rss()
                );
                t.insert("create_10k".into(), json!({"wall_s": s.weft_create.median(), "peak_rss_mib": s.weft_create.peak_rss()}));
            }
        }
        _ => println!("  N=10,000 not measured (or failed): no-op wall/RSS targets not evaluated"),
    }
    serde_json::Value::Object(t)
}

// ---------------------------------------------------------------------------
// Environment.


fn sizes() -> Vec<usize> {
    match std::env::var("WEFT_BENCH_SIZES") {
        Ok(s) if !s.trim().is_empty() => {
            s.split(',').filter_map(|x| x.trim().replace('_', "").parse().ok()).filter(|&n| n > 0).collect()
        }
        _ => SIZES.to_vec(),
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).filter(|&n| n > 0).unwrap_or(default)
}


/// `WEFT_BENCH_KUBECTL`, else `kubectl` on PATH.
fn find_kubectl() -> Result<PathBuf, String> {
    if let Some(k) = std::env::var_os("WEFT_BENCH_KUBECTL") {
        let k = PathBuf::from(k);
        return if k.exists() { Ok(k) } else { Err(format!("WEFT_BENCH_KUBECTL={} does not exist", k.display())) };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
        .ok_or_else(|| "not found on PATH".to_string())
}




fn version_of(bin: &Path, args: &[&str]) -> String {
    match Command::new(bin).args(args).stdin(Stdio::null()).output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        Ok(o) => format!("version unknown ({} exited {})", bin.display(), o.status),
        Err(e) => format!("version unknown ({e})"),
    }
}


