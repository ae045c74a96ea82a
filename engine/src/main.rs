//! The `weft` command line. Exit codes: 0 success (no errors found),
//! 1 errors found in the input, 2 weft could not run.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use weft::diagnostic::Severity;
use weft::graph::Graph;
use weft::load;
use weft::model::{Registry, cli::ModelCommand};
use weft::progress::Progress;
use weft::report::{self, OutputFormat, Report};
use weft::policy;
use weft::relate;
use weft::plan::Action;
use weft::validate;

#[path = "cli/perf.rs"]
mod perf_command;
#[path = "cli/watch.rs"]
mod watch_command;
#[path = "cli/catalog.rs"]
mod catalog_command;
#[path = "cli/import.rs"]
mod import_command;

#[derive(Parser)]
#[command(name = "weft", version, about = "Declarative GitOps for cloud native infrastructure: validate, graph and model Meshery designs and Kubernetes manifests.")]
struct Cli {
    /// Also report informational findings, such as files skipped as neither designs nor Kubernetes objects (and, for `import --from-cluster`, each live object left out).
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check designs and manifests: syntax, identity, schemas, names, scopes.
    Validate(ValidateArgs),
    /// Print the component graph of designs and manifests.
    Graph(GraphArgs),
    /// Evaluate one design's relationships as Meshery does: the design with inferred relationships, inventory additions and patches applied, and the actions that got it there.
    Evaluate(EvaluateArgs),
    /// Show what applying the designs would change on a cluster (server-side apply dry-run, secrets masked).
    Plan(PlanArgs),
    /// Apply the designs to a cluster: server-side apply in dependency order, optional prune and health wait.
    Apply(ApplyArgs),
    /// Record the live state of what weft manages (Secret values as hashes) for `weft plan --snapshot`.
    Snapshot(SnapshotArgs),
    /// Delete everything weft applied for these designs from a cluster, dependents first.
    Delete(DeleteArgs),
    /// Check a pull request: validate the head revision and compare it with the base (components, relationships, impact).
    Check(CheckArgs),
    /// Keep a cluster equal to a git branch: poll it, and validate, plan and (with --auto-sync) apply each new commit.
    Watch(WatchArgs),
    /// Make a Meshery design from a design, manifests, a Docker Compose file, a Kustomization, rendered Helm output (`-`) or a running cluster, with its relationships inferred.
    Import(Box<import_command::ImportArgs>),
    /// Write a design out as Kubernetes manifests, a Meshery design or a Meshery OCI tarball.
    Export(import_command::ExportArgs),
    /// Performance tests: send load to a URL and report latency percentiles, rate and errors (SMP results); compare runs.
    Perf {
        #[command(subcommand)]
        command: perf_command::PerfCommand,
    },
    /// Reusable designs: list and show them, copy one into a repository (`use`), exchange them with Meshery as OCI tarballs.
    Catalog(catalog_command::CatalogArgs),
    /// Inspect and grow the model registry.
    Model {
        #[command(subcommand)]
        command: ModelCommand,
        #[command(flatten)]
        models: ModelDirs,
        /// Print JSON instead of text.
        #[arg(long, global = true)]
        json: bool,
    },
}

#[derive(Args, Clone)]
struct ModelDirs {
    /// An extra model registry directory, searched before the shipped models. Repeatable.
    #[arg(long = "models", value_name = "DIR", global = true)]
    dirs: Vec<PathBuf>,
}

#[derive(Args)]
struct InputArgs {
    /// Files and folders to read; folders are walked for .yaml, .yml, .json and design tarballs.
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    models: ModelDirs,
    /// Largest file weft reads, in bytes or with a unit (16MiB). Overrides weft.yaml.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_file_size: Option<u64>,
    /// Deepest YAML nesting weft accepts. Overrides weft.yaml.
    #[arg(long, value_name = "LEVELS")]
    max_depth: Option<usize>,
    /// Read the designs at this commit, branch or tag from git (no checkout); PATHs are then paths in the repository.
    #[arg(long, value_name = "REV")]
    rev: Option<String>,
    /// The git repository to read: a path, or a URL fetched into the cache (file://, https:// with WEFT_GIT_TOKEN, ssh). Default: the repository holding the first PATH. Implies --rev HEAD.
    #[arg(long, value_name = "PATH|URL")]
    repo: Option<String>,
    /// Where remote repositories are fetched to [default: $XDG_CACHE_HOME/weft/git].
    #[arg(long, value_name = "DIR")]
    git_cache: Option<PathBuf>,
}

#[derive(Args)]
struct ValidateArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
    /// Treat warnings as errors (exit code 1 when there are any).
    #[arg(long)]
    strict: bool,
    /// Report unknown models, kinds and versions as warnings instead of errors.
    #[arg(long)]
    allow_unknown: bool,
    /// A directory of Rego policies (conftest-style `deny`/`warn` rules in package `main`), added to weft.yaml's `policies`. Repeatable.
    #[arg(long = "policies", value_name = "DIR")]
    policies: Vec<PathBuf>,
}

#[derive(Args)]
struct CheckArgs {
    /// Folders and files to read, as paths in the repository (default: weft.yaml's `paths`, else everything).
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    /// The revision the change starts from (the pull request's target branch).
    #[arg(long, value_name = "REF")]
    base: String,
    /// The revision under review.
    #[arg(long, value_name = "REF", default_value = "HEAD")]
    head: String,
    /// The git repository: a path, or a URL fetched into the cache [default: the one holding the current directory].
    #[arg(long, value_name = "PATH|URL")]
    repo: Option<String>,
    /// Where remote repositories are fetched to [default: $XDG_CACHE_HOME/weft/git].
    #[arg(long, value_name = "DIR")]
    git_cache: Option<PathBuf>,
    #[command(flatten)]
    models: ModelDirs,
    /// Output format: text, json, markdown (a pull-request comment), or the head's diagnostics as sarif, junit or github.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    format: CheckFormat,
    /// The least severity that fails the check (exit 1).
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    fail_on: FailOn,
    /// Report unknown models, kinds and versions as warnings instead of errors.
    #[arg(long)]
    allow_unknown: bool,
    /// A directory of Rego policies, added to weft.yaml's `policies`. Repeatable.
    #[arg(long = "policies", value_name = "DIR")]
    policies: Vec<PathBuf>,
    /// Add the head's plan against this snapshot (`weft snapshot`): no cluster credentials needed.
    #[arg(long, value_name = "FILE", conflicts_with = "plan")]
    snapshot: Option<PathBuf>,
    /// Add the head's plan against the cluster (--kubeconfig, --context, --env).
    #[arg(long)]
    plan: bool,
    #[command(flatten)]
    cluster: ClusterArgs,
    #[command(flatten)]
    prune: PruneArgs,
}

#[derive(Args)]
struct WatchArgs {
    /// Folders and files to read, as paths in the repository (default: weft.yaml's `paths`, else everything).
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    /// The git repository to follow: a path, or a URL fetched into the cache on every poll. With --worktree, the folder to watch.
    #[arg(long, value_name = "PATH|URL", default_value = ".")]
    repo: String,
    /// Follow the files of the working tree at --repo (uncommitted changes included), watched with inotify, instead of a branch's commits.
    #[arg(long, conflicts_with = "branch")]
    worktree: bool,
    /// How long a working tree must be quiet before a burst of file changes is synced.
    #[arg(long, value_name = "DURATION", default_value = "100ms", value_parser = parse_duration)]
    debounce: std::time::Duration,
    /// The branch to follow [default: weft.yaml `watch.branch`, else the repository's HEAD].
    #[arg(long, value_name = "BRANCH")]
    branch: Option<String>,
    /// Time between polls, with a unit: 500ms, 30s, 5m [default: weft.yaml `watch.interval`, else 30s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    interval: Option<std::time::Duration>,
    /// Where /healthz, /readyz, /metrics, /status and /webhook are served; port 0 takes any free port, printed at start [default: 127.0.0.1:9464].
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Apply each valid new commit; without it, its plan is recorded as pending.
    #[arg(long)]
    auto_sync: bool,
    /// Re-apply the last applied commit when the cluster drifts from it (needs auto-sync). Drift is found by watchers on weft's objects, then confirmed by a plan of that commit.
    #[arg(long)]
    self_heal: bool,
    /// A file holding the webhook secret: POST /webhook then polls at once when signed with it (GitHub X-Hub-Signature-256, GitLab X-Gitlab-Token).
    #[arg(long, value_name = "FILE")]
    webhook_secret_file: Option<PathBuf>,
    /// Where the daemon keeps its state (last applied commit), so a restart resumes [default: .weft-watch].
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// POST a JSON event to URL on sync success, failure and drift (retried with backoff). Repeatable.
    #[arg(long = "notify", value_name = "URL")]
    notify: Vec<String>,
    /// Take part in leader election through a coordination.k8s.io Lease: of several replicas, only the leader applies.
    #[arg(long)]
    leader_elect: bool,
    /// Name of the Lease.
    #[arg(long, value_name = "NAME", default_value = "weft")]
    lease_name: String,
    /// Namespace of the Lease [default: POD_NAMESPACE, else the service account's, else default].
    #[arg(long, value_name = "NS")]
    lease_namespace: Option<String>,
    /// How long a Lease holds without renewal; the leader renews at a third of it.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = parse_duration)]
    lease_duration: std::time::Duration,
    /// Time between full drift checks (a plan of the applied commit). Watchers on weft's objects trigger one at once when something changes; this catches what a watch can miss.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    resync: std::time::Duration,
    /// Log lines as text or as JSON objects (one per line, for log collectors).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Where remote repositories are fetched to [default: $XDG_CACHE_HOME/weft/git].
    #[arg(long, value_name = "DIR")]
    git_cache: Option<PathBuf>,
    #[command(flatten)]
    models: ModelDirs,
    #[command(flatten)]
    cluster: ClusterArgs,
    #[command(flatten)]
    prune: PruneArgs,
    /// Objects applied at once (independent objects only).
    #[arg(long, value_name = "N", default_value_t = 8)]
    concurrency: usize,
    #[command(flatten)]
    steps: perf_command::StepArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CheckFormat {
    Text,
    Json,
    Markdown,
    Sarif,
    Junit,
    Github,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FailOn {
    Error,
    Warning,
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    Dot,
    Mermaid,
    Json,
    /// A picture: namespaces as frames, relationships styled by kind.
    Svg,
    /// The picture in a self-contained page that pans, zooms and highlights neighbours.
    Html,
}

#[derive(Args)]
struct GraphArgs {
    #[command(flatten)]
    input: InputArgs,
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    format: GraphFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EvaluateFormat {
    Yaml,
    Json,
}

#[derive(Args)]
struct EvaluateArgs {
    /// The design: a Meshery design file, or a file of Kubernetes manifests (evaluated as one design).
    design: PathBuf,
    #[command(flatten)]
    models: ModelDirs,
    #[arg(long, value_enum, default_value_t = EvaluateFormat::Yaml)]
    format: EvaluateFormat,
    /// Write the response to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Args)]
struct ClusterArgs {
    /// The kubeconfig file (default: KUBECONFIG, then ~/.kube/config, then the in-cluster config).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: the current one).
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
    /// Name of the inventory (an ApplySet) recording what weft applied (default: weft.yaml `name`, else the repo folder's name).
    #[arg(long, value_name = "NAME")]
    inventory: Option<String>,
    /// An environment of weft.yaml: every context it lists, each planned and applied on its own.
    #[arg(long, value_name = "NAME", conflicts_with = "context")]
    env: Option<String>,
    /// Namespace of the inventory's parent ConfigMap.
    #[arg(long, value_name = "NS", default_value = "default")]
    inventory_namespace: String,
}

#[derive(Args)]
struct PruneArgs {
    /// Delete objects in weft's inventory that are no longer in the designs.
    #[arg(long)]
    prune: bool,
    /// Also prune Namespaces, PersistentVolumeClaims, PersistentVolumes and CRDs.
    #[arg(long)]
    prune_protected: bool,
    /// Most deletions in one run; more stops the prune altogether.
    #[arg(long, value_name = "N", default_value_t = 10)]
    max_deletes: usize,
    /// Prune even when the designs hold no objects at all.
    #[arg(long)]
    allow_empty: bool,
    /// Take ownership of fields other field managers own.
    #[arg(long)]
    force_conflicts: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PlanFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Args)]
struct PlanArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
    #[command(flatten)]
    prune: PruneArgs,
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    format: PlanFormat,
    /// Exit 0 when nothing would change, 2 when something would, 1 on errors.
    #[arg(long)]
    detailed_exitcode: bool,
    /// Plan against a snapshot file (`weft snapshot`) instead of a cluster: no credentials needed.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["kubeconfig", "context"])]
    snapshot: Option<PathBuf>,
}

#[derive(Args)]
struct SnapshotArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Where to write the snapshot (JSON).
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
}

#[derive(Args)]
struct ApplyArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
    #[command(flatten)]
    prune: PruneArgs,
    /// Objects applied at once (independent objects only).
    #[arg(long, value_name = "N", default_value_t = 8)]
    concurrency: usize,
    /// Wait until each object is ready (rollouts complete, claims bound, ...) before its dependents start.
    #[arg(long)]
    wait: bool,
    /// How long to wait for one object (with a unit: 90s, 5m).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    timeout: std::time::Duration,
    /// `json` prints the plan and the result of every step.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
    #[command(flatten)]
    steps: perf_command::StepArgs,
}

#[derive(Args)]
struct DeleteArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Also delete Namespaces, PersistentVolumeClaims, PersistentVolumes and CRDs.
    #[arg(long)]
    prune_protected: bool,
    /// Most deletions in one run.
    #[arg(long, value_name = "N", default_value_t = 10)]
    max_deletes: usize,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: f64 = number.parse().map_err(|_| format!("`{text}` is not a duration (90s, 5m, 1h)"))?;
    let seconds = match unit {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("`{text}`: unknown unit `{unit}` (ms, s, m, h)")),
    };
    std::time::Duration::try_from_secs_f64(seconds).ok().filter(|d| d.as_secs() < 10 * 365 * 86_400).ok_or_else(|| format!("`{text}` is too long a duration"))
}

fn parse_size(text: &str) -> Result<u64, String> {
    load::config::parse_size(text).ok_or_else(|| format!("`{text}` is not a size (bytes, or e.g. 16MiB)"))
}

fn main() -> ExitCode {
    // regorus reports Rego errors through anyhow, which captures a backtrace for every error when
    // RUST_BACKTRACE is set; a policy pack probing many objects then spends most of its time
    // walking stacks. Backtraces of weft's own panics still follow RUST_BACKTRACE.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // SAFETY: nothing else runs yet; no thread can read the environment concurrently.
        unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    }
    weft::release_memory_promptly();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => run_validate(args, cli.verbose),
        Command::Graph(args) => run_graph(args, cli.verbose),
        Command::Evaluate(args) => run_evaluate(args, cli.verbose),
        Command::Plan(args) => run_plan(args, cli.verbose),
        Command::Check(args) => run_check(args, cli.verbose),
        Command::Watch(args) => watch_command::run(args, cli.verbose),
        Command::Perf { command } => perf_command::run(command),
        Command::Apply(args) => run_apply(args, cli.verbose),
        Command::Delete(args) => run_delete(args, cli.verbose),
        Command::Snapshot(args) => run_snapshot(args, cli.verbose),
        Command::Catalog(args) => catalog_command::run(args, cli.verbose),
        Command::Import(args) => import_command::run_import(*args, cli.verbose),
        Command::Export(args) => import_command::run_export(args, cli.verbose),
        Command::Model { command, models, json } => weft::model::cli::run(&command, &model_dirs(&models.dirs, &[]), json),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("weft: error: {message}");
            ExitCode::from(2)
        }
    }
}

/// Model registries in search order: command line, weft.yaml, shipped.
fn model_dirs(cli: &[PathBuf], config: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = cli.iter().chain(config).cloned().collect();
    dirs.extend(Registry::shipped_dir());
    dirs
}

struct Loaded {
    repo: load::Repo,
    registry_dirs: Vec<PathBuf>,
}

impl InputArgs {
    /// The input of a git revision, as `check` and `watch` read it.
    fn at_revision(paths: &[PathBuf], models: &ModelDirs, repo: Option<String>, git_cache: Option<PathBuf>, rev: &str) -> InputArgs {
        InputArgs { paths: paths.to_vec(), models: models.clone(), max_file_size: None, max_depth: None, rev: Some(rev.to_owned()), repo, git_cache }
    }
}

fn load_input(input: &InputArgs, progress: &Progress) -> Result<Loaded, String> {
    let options = load::Options { max_file_size: input.max_file_size, max_depth: input.max_depth };
    let repo = match (&input.rev, &input.repo) {
        (None, None) => load::load(&input.paths, &options, progress).map_err(|f| f.0)?,
        (rev, repo) => {
            let location = repo.clone().unwrap_or_else(|| input.paths.first().map_or_else(|| ".".to_owned(), |p| p.to_string_lossy().into_owned()));
            let cache = input.git_cache.clone().unwrap_or_else(load::git::default_cache);
            let revision = load::Revision { location: &location, rev: rev.as_deref().unwrap_or("HEAD"), cache: &cache };
            load::load_revision(&revision, &input.paths, &options, progress).map_err(|f| f.0)?
        }
    };
    let registry_dirs = model_dirs(&input.models.dirs, &repo.config.model_dirs(&repo.root));
    Ok(Loaded { repo, registry_dirs })
}

/// The base of a check as the files that differ from the head commit
/// (`load::load_changes`); `None` when it must be read whole.
fn load_changes(input: &InputArgs, head: &str) -> Result<Option<load::Changes>, String> {
    let options = load::Options { max_file_size: input.max_file_size, max_depth: input.max_depth };
    let location = input.repo.clone().unwrap_or_else(|| input.paths.first().map_or_else(|| ".".to_owned(), |p| p.to_string_lossy().into_owned()));
    let cache = input.git_cache.clone().unwrap_or_else(load::git::default_cache);
    let revision = load::Revision { location: &location, rev: input.rev.as_deref().unwrap_or("HEAD"), cache: &cache };
    load::load_changes(&revision, head, &input.paths, &options).map_err(|f| f.0)
}

fn run_validate(args: ValidateArgs, verbose: bool) -> Result<ExitCode, String> {
    let progress = Progress::on_terminal();
    let Loaded { mut repo, registry_dirs } = load_input(&args.input, &progress)?;
    let registry = Registry::open(&registry_dirs).map_err(|d| d.message)?;
    let (diagnostics, _) = analyse(&mut repo, &registry, args.allow_unknown, &args.policies, verbose, &progress);
    let report = summary_report(&repo, diagnostics);
    let color = args.format == OutputFormat::Text && use_color(&std::io::stdout());
    print(&report::render(&report, args.format, &repo.sources, color))?;
    let failed = report.has_errors() || args.strict && report.summary().warnings > 0;
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn run_check(args: CheckArgs, verbose: bool) -> Result<ExitCode, String> {
    let progress = Progress::on_terminal();
    let input = |rev: &str| InputArgs::at_revision(&args.paths, &args.models, args.repo.clone(), args.git_cache.clone(), rev);
    let Loaded { mut repo, registry_dirs } = load_input(&input(&args.head), &progress)?;
    let registry = Registry::open(&registry_dirs).map_err(|d| d.message)?;
    let (diagnostics, inference) = analyse(&mut repo, &registry, args.allow_unknown, &args.policies, verbose, &progress);
    // The base is read for comparison only: its own findings are not the
    // change's. Where the two differ only in design files, only those are
    // read from the base, and only relationships around them inferred.
    let mut timer = StageTimer::from_env();
    let changes = match &repo.commit {
        Some(head) => load_changes(&input(&args.base), head)?,
        None => None,
    };
    timer.lap("base changes");
    let comparison = match changes {
        Some(changes) => weft::check::compare_changes(&mut repo.designs, inference.as_ref(), changes, &registry, &repo.config.external),
        None => None,
    };
    timer.lap("compare");
    let comparison = match comparison {
        Some(comparison) => comparison,
        None => {
            let Loaded { repo: mut base, registry_dirs: base_dirs } = load_input(&input(&args.base), &progress)?;
            let base_registry = Registry::open(&base_dirs).map_err(|d| d.message)?;
            let (_, base_inference) = analyse(&mut base, &base_registry, true, &[], verbose, &progress);
            weft::check::compare(
                &weft::check::Revision { designs: &base.designs, inference: base_inference.as_ref() },
                &weft::check::Revision { designs: &repo.designs, inference: inference.as_ref() },
            )
        }
    };
    let report = summary_report(&repo, diagnostics);
    let summary = report.summary();
    // Rendered before the plan, which takes the head's designs.
    let color = args.format == CheckFormat::Text && use_color(&std::io::stdout());
    let report_format = match args.format {
        CheckFormat::Sarif => OutputFormat::Sarif,
        CheckFormat::Junit => OutputFormat::Junit,
        CheckFormat::Github => OutputFormat::Github,
        CheckFormat::Text => OutputFormat::Text,
        CheckFormat::Json | CheckFormat::Markdown => OutputFormat::Json,
    };
    let rendered = report::render(&report, report_format, &repo.sources, color);
    // The plan of a head that has errors would only repeat them.
    let plans = if (args.plan || args.snapshot.is_some()) && summary.errors == 0 {
        let prepared = targets_of(repo, registry, &args.cluster)?;
        let (plans, errors) = plans_for(&prepared, &args.prune, args.snapshot.as_deref())?;
        for message in &errors {
            eprintln!("weft: error: {message}");
        }
        Some(plans)
    } else {
        None
    };
    let text = match args.format {
        CheckFormat::Sarif | CheckFormat::Junit | CheckFormat::Github => rendered,
        CheckFormat::Json => {
            let diagnostics: serde_json::Value = serde_json::from_str(&rendered).map_err(|e| e.to_string())?;
            let mut value = serde_json::json!({"base": args.base, "head": args.head, "changes": comparison, "report": diagnostics});
            if let Some(plans) = &plans {
                value["plan"] = serde_json::from_str(&weft::plan::render_json(plans)).map_err(|e| e.to_string())?;
            }
            serde_json::to_string_pretty(&value).map_err(|e| e.to_string())? + "\n"
        }
        CheckFormat::Text => {
            let mut out = rendered;
            out.push_str(&format!("\nchanges from {} to {}:\n", args.base, args.head));
            out.push_str(&weft::check::render_text(&comparison));
            if let Some(plans) = &plans {
                out.push_str("\nplan of the head:\n");
                out.push_str(&weft::plan::render_text(plans, color));
            }
            out
        }
        CheckFormat::Markdown => {
            let verdict = if summary.errors > 0 { "fails" } else { "passes" };
            let mut out = format!("## weft check: `{}` {verdict} ({} errors, {} warnings)\n\nChanges from `{}` to `{}`.\n\n", args.head, summary.errors, summary.warnings, args.base, args.head);
            out.push_str(&weft::check::render_markdown(&comparison));
            let rendered: serde_json::Value = serde_json::from_str(&rendered).map_err(|e| e.to_string())?;
            let listed = rendered["diagnostics"].as_array().cloned().unwrap_or_default();
            if !listed.is_empty() {
                out.push_str("### Diagnostics\n\n| severity | where | code | message |\n|---|---|---|---|\n");
                for d in &listed {
                    let text = |key: &str| d[key].as_str().unwrap_or_default().to_owned();
                    let at = match (d["line"].as_u64(), d["column"].as_u64()) {
                        (Some(line), Some(column)) => format!("{}:{line}:{column}", text("file")),
                        _ => text("file"),
                    };
                    out.push_str(&format!("| {} | `{at}` | `{}` | {} |\n", text("severity"), text("code"), text("message").replace('|', "\\|").replace('\n', " ")));
                }
            }
            if let Some(plans) = &plans {
                out.push_str("\n<details><summary>Plan of the head</summary>\n\n");
                out.push_str(&weft::plan::render_markdown(plans));
                out.push_str("\n</details>\n");
            }
            out
        }
    };
    print(&text)?;
    let failed = summary.errors > 0 || args.fail_on == FailOn::Warning && summary.warnings > 0;
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Every check `weft validate` makes, on a loaded repo: the diagnostics
/// (waivers and weft.yaml's `checks` applied) and the inferred
/// relationships.
fn analyse(
    repo: &mut load::Repo,
    registry: &Registry,
    allow_unknown: bool,
    policies: &[PathBuf],
    verbose: bool,
    progress: &Progress,
) -> (Vec<weft::diagnostic::Diagnostic>, Option<relate::Inference>) {
    let mut timer = StageTimer::from_env();
    let (mut graph, graph_diagnostics) = Graph::build(&repo.designs, &repo.sources);
    timer.lap("load");
    let mut diagnostics = std::mem::take(&mut repo.diagnostics);
    diagnostics.extend(graph_diagnostics);
    let options = validate::Options { allow_unknown };
    // Validation registers the repo's CRDs, which inference then resolves.
    diagnostics.extend(validate::validate(&repo.designs, &repo.sources, registry, options, progress));
    timer.lap("validate");
    let inference = infer(&repo.designs, &repo.config, registry, &mut diagnostics);
    if let Some(inference) = &inference {
        timer.lap("relate");
        diagnostics.extend(relate::diagnostics(inference, &repo.designs, &repo.sources));
        timer.lap("relate checks");
        graph.add_inferred(inference);
        timer.lap("graph edges");
    }
    diagnostics.extend(graph.cycle_diagnostic(&repo.designs, &repo.sources));
    diagnostics.extend(check_policies(repo, policies));
    timer.lap("policies");
    progress.finish();
    policy::apply_waivers(&mut diagnostics, &repo.designs);
    // weft.yaml `checks`: codes turned off, severities changed.
    let checks = &repo.config.checks;
    diagnostics.retain(|d| !checks.disable.iter().any(|c| c == d.code));
    for d in &mut diagnostics {
        if let Some(&severity) = checks.severity.get(d.code) {
            d.severity = severity;
        }
    }
    tidy(&mut diagnostics, verbose);
    (diagnostics, inference)
}

fn summary_report(repo: &load::Repo, diagnostics: Vec<weft::diagnostic::Diagnostic>) -> Report {
    Report {
        files: repo.files,
        designs: repo
            .designs
            .iter()
            .map(|d| report::DesignSummary {
                file: d.file.clone(),
                name: d.name.clone(),
                components: d.components.len(),
                relationships: d.relationships.len(),
            })
            .collect(),
        diagnostics,
    }
}

fn run_graph(args: GraphArgs, verbose: bool) -> Result<ExitCode, String> {
    let progress = Progress::on_terminal();
    let Loaded { mut repo, registry_dirs } = load_input(&args.input, &progress)?;
    let registry = Registry::open(&registry_dirs).map_err(|d| d.message)?;
    let (mut graph, graph_diagnostics) = Graph::build(&repo.designs, &repo.sources);
    let mut diagnostics = std::mem::take(&mut repo.diagnostics);
    diagnostics.extend(graph_diagnostics);
    if let Some(inference) = infer(&repo.designs, &repo.config, &registry, &mut diagnostics) {
        graph.add_inferred(&inference);
        graph.add_unresolved(&inference, &repo.designs);
    }
    progress.finish();
    let view = graph.view(&repo.designs);
    print(&match args.format {
        GraphFormat::Dot => view.to_dot(),
        GraphFormat::Mermaid => view.to_mermaid(),
        GraphFormat::Json => view.to_json(),
        GraphFormat::Svg => weft::picture::svg(&view),
        GraphFormat::Html => {
            let paths: Vec<String> = args.input.paths.iter().map(|p| p.display().to_string()).collect();
            weft::picture::html(&view, &format!("weft graph {}", paths.join(" ")))
        }
    })?;
    // The graph goes to stdout for piping; problems found on the way go to
    // stderr so they are seen without corrupting it.
    tidy(&mut diagnostics, verbose);
    let has_errors = diagnostics.iter().any(|d| d.is_error());
    if !diagnostics.is_empty() {
        let report = summary_report(&repo, diagnostics);
        let color = use_color(&std::io::stderr());
        eprint!("{}", report::render(&report, OutputFormat::Text, &repo.sources, color));
    }
    Ok(if has_errors { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn run_evaluate(args: EvaluateArgs, verbose: bool) -> Result<ExitCode, String> {
    if args.design.is_dir() {
        return Err(format!("{} is a directory; `weft evaluate` takes one design file", args.design.display()));
    }
    let progress = Progress::on_terminal();
    let input = InputArgs { paths: vec![args.design.clone()], models: args.models, max_file_size: None, max_depth: None, rev: None, repo: None, git_cache: None };
    let Loaded { mut repo, registry_dirs } = load_input(&input, &progress)?;
    let registry = Registry::open(&registry_dirs).map_err(|d| d.message)?;
    let mut diagnostics = std::mem::take(&mut repo.diagnostics);
    // Registers CRDs the design defines, which inference resolves.
    let options = validate::Options { allow_unknown: true };
    diagnostics.extend(validate::validate(&repo.designs, &repo.sources, &registry, options, &progress));
    let inference = infer(&repo.designs, &repo.config, &registry, &mut diagnostics);
    progress.finish();
    tidy(&mut diagnostics, verbose);
    let has_errors = diagnostics.iter().any(|d| d.is_error());
    if !diagnostics.is_empty() {
        let report = summary_report(&repo, diagnostics);
        eprint!("{}", report::render(&report, OutputFormat::Text, &repo.sources, use_color(&std::io::stderr())));
    }
    let (design, inference) = match (repo.designs.len(), inference) {
        (1, Some(inference)) => (&repo.designs[0], inference),
        (0, _) if has_errors => return Ok(ExitCode::from(1)),
        (0, _) => return Err(format!("{} holds no design", args.design.display())),
        (n, Some(_)) => return Err(format!("{} holds {n} designs; `weft evaluate` takes one", args.design.display())),
        (_, None) => return Ok(ExitCode::from(1)),
    };
    let document = repo.sources.document_json(design.origin.source, design.origin.doc);
    // SOURCE_DATE_EPOCH pins the timestamp for reproducible output.
    let timestamp = match std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|s| s.parse::<i64>().ok()) {
        Some(seconds) => jiff::Timestamp::from_second(seconds).map_err(|e| format!("SOURCE_DATE_EPOCH: {e}"))?,
        None => jiff::Timestamp::now(),
    };
    let response = weft::evaluate::evaluate(&repo.designs, 0, document, &inference, &registry, &timestamp.to_string());
    let text = match args.format {
        EvaluateFormat::Json => serde_json::to_string_pretty(&response).map_err(|e| e.to_string())? + "\n",
        // The writer import and export use: YAML that reads back as written.
        EvaluateFormat::Yaml => weft::export::to_yaml(&response)?,
    };
    match &args.output {
        Some(path) => std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?,
        None => print(&text)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// What plan, apply and delete start from: per target cluster, the
/// validated designs rendered as objects, and their dependencies.
struct Prepared {
    targets: Vec<PreparedTarget>,
    inventory: weft::render::Inventory,
    repo: load::Repo,
    registry: Registry,
    /// Relationship inference orders an apply; a plan with nothing to
    /// apply never needs it, so it runs on first use.
    inference: std::cell::OnceCell<Option<relate::Inference>>,
    /// The designs' performance tests: run after an apply, never applied.
    tests: Vec<weft::perf::steps::TestStep>,
}

impl Prepared {
    fn dependencies(&self, desired: &[weft::render::Desired]) -> Vec<Vec<usize>> {
        let inference = self.inference.get_or_init(|| {
            // Rendering moved the configurations out of the designs.
            let mut designs = self.repo.designs.clone();
            weft::render::restore(&mut designs, desired);
            let mut problems = Vec::new();
            let inference = infer(&designs, &self.repo.config, &self.registry, &mut problems);
            for problem in problems.iter().filter(|d| d.is_error()) {
                eprintln!("weft: warning: relationships not inferred, apply order is by kind only: {}", problem.message);
            }
            inference
        });
        weft::reconcile::dependencies(desired, inference.as_ref())
    }
}

struct PreparedTarget {
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
    desired: Vec<weft::render::Desired>,
}

/// Loads and validates the input; errors stop here, before any cluster
/// access, and are reported like `weft validate` reports them.
fn prepare(input: &InputArgs, cluster: &ClusterArgs, verbose: bool, progress: &Progress) -> Result<Result<Prepared, ExitCode>, String> {
    let mut timer = StageTimer::from_env();
    let Loaded { mut repo, registry_dirs } = load_input(input, progress)?;
    let registry = Registry::open(&registry_dirs).map_err(|d| d.message)?;
    let (_, graph_diagnostics) = Graph::build(&repo.designs, &repo.sources);
    timer.lap("load");
    let mut diagnostics = std::mem::take(&mut repo.diagnostics);
    diagnostics.extend(graph_diagnostics);
    diagnostics.extend(validate::validate(&repo.designs, &repo.sources, &registry, validate::Options { allow_unknown: false }, progress));
    timer.lap("validate");
    tidy(&mut diagnostics, verbose);
    // Only errors that make an object unappliable stop the run; dangling
    // references and best-practice findings are `weft validate`'s to report.
    diagnostics.retain(|d| d.is_error());
    if !diagnostics.is_empty() {
        let report = summary_report(&repo, diagnostics);
        eprint!("{}", report::render(&report, OutputFormat::Text, &repo.sources, use_color(&std::io::stderr())));
        eprintln!("weft: not planning: the designs have errors");
        return Ok(Err(ExitCode::from(1)));
    }
    targets_of(repo, registry, cluster).map(Ok)
}

/// Renders a validated repo for the targets `cluster` names: the objects
/// each cluster receives, under one inventory.
fn targets_of(mut repo: load::Repo, registry: Registry, cluster: &ClusterArgs) -> Result<Prepared, String> {
    let mut timer = StageTimer::from_env();
    let name = cluster.inventory.clone().or_else(|| repo.config.name.clone()).unwrap_or_else(|| {
        std::fs::canonicalize(&repo.root).ok().and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned())).unwrap_or_else(|| "default".into())
    });
    let inventory = weft::render::Inventory::new(&name, &cluster.inventory_namespace);
    // Diagnostics are behind us: the texts they quote need not stay.
    repo.sources = Default::default();
    let tests = weft::perf::steps::take(&mut repo.designs);
    let all = weft::render::render(&mut repo.designs, &registry, &inventory);

    let targets = match &cluster.env {
        None => vec![PreparedTarget { kubeconfig: cluster.kubeconfig.clone(), context: cluster.context.clone(), desired: all }],
        Some(env) => {
            let Some(environment) = repo.config.environments.get(env) else {
                let known: Vec<&String> = repo.config.environments.keys().collect();
                return Err(format!("weft.yaml names no environment `{env}` (it has: {known:?})"));
            };
            if environment.contexts.is_empty() {
                return Err(format!("environment `{env}` lists no contexts"));
            }
            // Compared as paths in the repo: designs read from git have no file on disk.
            let root = std::fs::canonicalize(&repo.root).unwrap_or_else(|_| repo.root.clone());
            let under: Vec<PathBuf> = environment.paths.iter().map(|p| PathBuf::from(p.trim_start_matches("./").trim_end_matches('/'))).collect();
            let from_git = repo.commit.is_some();
            let in_repo = |file: &str| match std::fs::canonicalize(file) {
                Ok(absolute) => absolute.strip_prefix(&root).map(std::path::Path::to_path_buf).unwrap_or(absolute),
                Err(_) => PathBuf::from(file),
            };
            let keep = |d: &weft::render::Desired| {
                let file = &repo.designs[d.component.design].file;
                let file = if from_git { PathBuf::from(file) } else { in_repo(file) };
                under.is_empty() || under.iter().any(|u| file.starts_with(u))
            };
            let mut desired: Vec<weft::render::Desired> = all.into_iter().filter(keep).collect();
            if let Some(namespace) = &environment.namespace {
                for d in &mut desired {
                    weft::render::move_to_namespace(d, namespace);
                }
            }
            let kubeconfig = cluster.kubeconfig.clone().or_else(|| environment.kubeconfig.as_ref().map(|k| repo.root.join(k)));
            environment
                .contexts
                .iter()
                .map(|context| PreparedTarget { kubeconfig: kubeconfig.clone(), context: Some(context.clone()), desired: desired.clone() })
                .collect()
        }
    };
    timer.lap("render");
    Ok(Prepared { targets, inventory, repo, registry, inference: std::cell::OnceCell::new(), tests })
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| format!("cannot start the async runtime: {e}"))
}

fn plan_options(prune: &PruneArgs, concurrency: usize) -> weft::plan::Options {
    weft::plan::Options {
        force_conflicts: prune.force_conflicts,
        prune: prune.prune,
        prune_protected: prune.prune_protected,
        max_deletes: prune.max_deletes,
        allow_empty: prune.allow_empty,
        concurrency,
    }
}

/// The plan of each target, against a snapshot or the clusters; why the
/// targets that could not be planned were not.
fn plans_for(prepared: &Prepared, prune: &PruneArgs, snapshot: Option<&std::path::Path>) -> Result<(Vec<weft::plan::Plan>, Vec<String>), String> {
    let options = plan_options(prune, 8);
    let Some(path) = snapshot else { return live_plans(prepared, &options) };
    let observed = read_snapshot(path)?;
    let target = &prepared.targets[0];
    let kinds: std::collections::BTreeSet<(&str, &str)> = target.desired.iter().map(|d| (d.api_version.as_str(), d.kind.as_str())).collect();
    let defaults = weft::plan::Defaults::new(kinds.into_iter().filter_map(|(api_version, kind)| {
        let schema = prepared.registry.lookup(api_version, kind)?.schema().ok()?;
        Some(((api_version.to_owned(), kind.to_owned()), schema))
    }));
    Ok((vec![weft::plan::plan_offline(&observed, &target.desired, &prepared.inventory, &options, &defaults)], Vec::new()))
}

/// The plan of each target against its cluster; why the others could not
/// be planned. Each target on its own: one unreachable cluster does not
/// stop the others.
fn live_plans(prepared: &Prepared, options: &weft::plan::Options) -> Result<(Vec<weft::plan::Plan>, Vec<String>), String> {
    let runtime = runtime()?;
    let mut plans = Vec::new();
    let mut errors = Vec::new();
    for target in &prepared.targets {
        let result = runtime.block_on(async {
            let cluster = weft::cluster::Target::connect(target.kubeconfig.as_deref(), target.context.as_deref()).await?;
            weft::plan::plan(&cluster, &target.desired, &prepared.inventory, options).await
        });
        match result {
            Ok(plan) => plans.push(plan),
            Err(message) => errors.push(format!("{}: {message}", target.context.as_deref().unwrap_or("current context"))),
        }
    }
    Ok((plans, errors))
}

fn run_plan(args: PlanArgs, verbose: bool) -> Result<ExitCode, String> {
    let progress = Progress::on_terminal();
    let prepared = match prepare(&args.input, &args.cluster, verbose, &progress)? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let (plans, errors) = plans_for(&prepared, &args.prune, args.snapshot.as_deref())?;
    for message in &errors {
        eprintln!("weft: error: {message}");
    }
    let failed_targets = !errors.is_empty();
    progress.finish();
    print(&match args.format {
        PlanFormat::Text => weft::plan::render_text(&plans, use_color(&std::io::stdout())),
        PlanFormat::Json => weft::plan::render_json(&plans),
        PlanFormat::Markdown => weft::plan::render_markdown(&plans),
    })?;
    if failed_targets && plans.is_empty() {
        return Err("no target could be planned".into());
    }
    let errors = failed_targets || plans.iter().any(|p| p.summary().error > 0);
    let changes = plans.iter().any(|p| p.has_changes());
    Ok(match (errors, args.detailed_exitcode && changes) {
        (true, _) => ExitCode::from(1),
        (false, true) => ExitCode::from(2),
        (false, false) => ExitCode::SUCCESS,
    })
}

fn run_apply(args: ApplyArgs, verbose: bool) -> Result<ExitCode, String> {
    let progress = Progress::on_terminal();
    let prepared = match prepare(&args.input, &args.cluster, verbose, &progress)? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let options = plan_options(&args.prune, args.concurrency);
    let run_tests = !args.steps.skip_perf && !prepared.tests.is_empty();
    // Tests run against objects that are ready, so their apply waits.
    let wait = args.wait || run_tests;
    let reconcile = weft::reconcile::Options { concurrency: args.concurrency, force_conflicts: args.prune.force_conflicts, wait, timeout: args.timeout };
    let code = reconcile_targets(&prepared, &options, &reconcile, args.format, &progress, false)?;
    if !run_tests || code != ExitCode::SUCCESS {
        return Ok(code);
    }
    let outcomes = perf_command::run_steps(&prepared, &args.steps, std::path::Path::new(".weft/perf"), prepared.repo.commit.as_deref());
    let text = perf_command::render_outcomes(&outcomes);
    // JSON output stays one document; the tests' lines go to stderr then.
    if args.format == OutputFormat::Json { eprint!("{text}") } else { print(&text)? }
    Ok(if outcomes.iter().all(|o| o.failures.is_empty()) { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Plans and applies each target in turn; a target that fails (even to
/// connect) is reported and the next one still runs.
fn reconcile_targets(
    prepared: &Prepared,
    options: &weft::plan::Options,
    reconcile: &weft::reconcile::Options,
    format: OutputFormat,
    progress: &Progress,
    delete_all: bool,
) -> Result<ExitCode, String> {
    let (results, errors) = reconcile_all(prepared, options, reconcile, progress, delete_all)?;
    for message in &errors {
        eprintln!("weft: error: {message}");
    }
    let failed = !errors.is_empty() || results.iter().any(|(plan, report)| report.failed() || plan.summary().error > 0);
    if results.is_empty() {
        return Err("no target could be reached".into());
    }
    print_apply(&results, format)?;
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Plans and applies each target in turn: the results of the targets that
/// could be reached, and why the others could not.
fn reconcile_all(
    prepared: &Prepared,
    options: &weft::plan::Options,
    reconcile: &weft::reconcile::Options,
    progress: &Progress,
    delete_all: bool,
) -> Result<(Vec<(weft::plan::Plan, weft::reconcile::Report)>, Vec<String>), String> {
    let runtime = runtime()?;
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for target in &prepared.targets {
        let desired: &[weft::render::Desired] = if delete_all { &[] } else { &target.desired };
        let mut timer = StageTimer::from_env();
        let result = runtime.block_on(async {
            let mut cluster = weft::cluster::Target::connect(target.kubeconfig.as_deref(), target.context.as_deref()).await?;
            timer.lap("connect");
            let plan = weft::plan::plan(&cluster, desired, &prepared.inventory, options).await?;
            timer.lap("plan");
            let ordered = plan.changes.iter().filter(|c| matches!(c.action, Action::Create | Action::Update | Action::Adopt | Action::Deferred)).count() > 1;
            let dependencies = if ordered { prepared.dependencies(desired) } else { vec![Vec::new(); desired.len()] };
            let report = weft::reconcile::apply(&mut cluster, &plan, desired, &dependencies, reconcile, progress).await;
            timer.lap("apply");
            Ok::<_, String>((plan, report))
        });
        match result {
            Ok(done) => results.push(done),
            Err(message) => errors.push(format!("{}: {message}", target.context.as_deref().unwrap_or("current context"))),
        }
    }
    Ok((results, errors))
}

/// The snapshot file's own header; the rest is `plan::Observed`.
const SNAPSHOT_API_VERSION: &str = "weft.io/v1alpha1";

fn run_snapshot(args: SnapshotArgs, verbose: bool) -> Result<ExitCode, String> {
    let progress = Progress::on_terminal();
    let prepared = match prepare(&args.input, &args.cluster, verbose, &progress)? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let target = &prepared.targets[0];
    let mut observed = runtime()?.block_on(async {
        let cluster = weft::cluster::Target::connect(target.kubeconfig.as_deref(), target.context.as_deref()).await?;
        weft::plan::observe(&cluster, &target.desired, &prepared.inventory, &Default::default()).await
    })?;
    progress.finish();
    for live in observed.objects.iter_mut().filter(|o| o.kind == "Secret") {
        let mut value = live.value();
        weft::plan::mask_secret(&mut value);
        live.object = serde_json::value::to_raw_value(&value).map_err(|e| e.to_string())?;
    }
    let mut document = serde_json::json!({"apiVersion": SNAPSHOT_API_VERSION, "kind": "Snapshot", "takenAt": jiff::Timestamp::now().to_string()});
    if let (Some(map), serde_json::Value::Object(body)) = (document.as_object_mut(), serde_json::to_value(&observed).map_err(|e| e.to_string())?) {
        map.extend(body);
    }
    let text = serde_json::to_string_pretty(&document).map_err(|e| e.to_string())? + "\n";
    // Written whole or not at all: a reader never sees half a snapshot.
    let partial = args.output.with_extension("partial");
    std::fs::write(&partial, text).and_then(|()| std::fs::rename(&partial, &args.output)).map_err(|e| format!("cannot write {}: {e}", args.output.display()))?;
    eprintln!("weft: snapshot of {} objects on `{}` written to {}", observed.objects.len(), observed.context, args.output.display());
    Ok(ExitCode::SUCCESS)
}

fn read_snapshot(path: &std::path::Path) -> Result<weft::plan::Observed, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read snapshot {}: {e}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{}: not a snapshot: {e}", path.display()))?;
    if value.get("apiVersion").and_then(|v| v.as_str()) != Some(SNAPSHOT_API_VERSION) || value.get("kind").and_then(|v| v.as_str()) != Some("Snapshot") {
        return Err(format!("{}: not a weft snapshot (expected apiVersion {SNAPSHOT_API_VERSION}, kind Snapshot)", path.display()));
    }
    serde_json::from_value(value).map_err(|e| format!("{}: malformed snapshot: {e}", path.display()))
}

fn run_delete(args: DeleteArgs, verbose: bool) -> Result<ExitCode, String> {
    let progress = Progress::on_terminal();
    let prepared = match prepare(&args.input, &args.cluster, verbose, &progress)? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let options = weft::plan::Options {
        prune: true,
        prune_protected: args.prune_protected,
        max_deletes: args.max_deletes,
        allow_empty: true,
        ..Default::default()
    };
    let reconcile = weft::reconcile::Options { concurrency: 8, force_conflicts: false, wait: false, timeout: std::time::Duration::from_secs(300) };
    // Nothing desired: every member of the inventory is an orphan.
    reconcile_targets(&prepared, &options, &reconcile, args.format, &progress, true)
}

fn print_apply(results: &[(weft::plan::Plan, weft::reconcile::Report)], format: OutputFormat) -> Result<(), String> {
    use weft::reconcile::Outcome;
    match format {
        OutputFormat::Json => {
            let plans: Vec<weft::plan::Plan> = results.iter().map(|(p, _)| p.clone()).collect();
            let reports: Vec<&weft::reconcile::Report> = results.iter().map(|(_, r)| r).collect();
            let value = serde_json::json!({
                "plan": serde_json::from_str::<serde_json::Value>(&weft::plan::render_json(&plans)).unwrap_or_default(),
                "result": if reports.len() == 1 { serde_json::to_value(reports[0]).unwrap_or_default() } else { serde_json::json!({"targets": reports}) },
            });
            print(&(serde_json::to_string_pretty(&value).map_err(|e| e.to_string())? + "\n"))
        }
        _ => {
            let color = use_color(&std::io::stdout());
            let mut out = String::new();
            for (_, report) in results {
                for s in report.steps.iter().filter(|s| !matches!(s.outcome, Outcome::Unchanged)) {
                    let at = s.namespace.as_deref().map(|ns| format!("{ns}/")).unwrap_or_default();
                    let word = format!("{:?}", s.outcome).to_lowercase();
                    let word = if color {
                        let code = match s.outcome {
                            Outcome::Applied => "32",
                            Outcome::Deleted => "31",
                            Outcome::Failed | Outcome::Skipped => "1;31",
                            _ => "2",
                        };
                        format!("\x1b[{code}m{word}\x1b[0m")
                    } else {
                        word
                    };
                    out.push_str(&format!("{word} {} {at}{}", s.kind, s.name));
                    if !s.message.is_empty() {
                        out.push_str(&format!(": {}", s.message));
                    }
                    out.push('\n');
                }
                out.push_str(&format!(
                    "{}: {} applied, {} deleted, {} unchanged, {} failed, {} skipped\n",
                    if report.context.is_empty() { "apply" } else { &report.context },
                    report.count(Outcome::Applied),
                    report.count(Outcome::Deleted),
                    report.count(Outcome::Unchanged),
                    report.count(Outcome::Failed),
                    report.count(Outcome::Skipped),
                ));
            }
            print(&out)
        }
    }
}

/// Infers relationships across the whole repository: a ConfigMap in one
/// file and the Deployment using it in another still relate. A failure is
/// reported and the other checks go on.
fn infer(
    designs: &[weft::design::Design],
    config: &load::config::Config,
    registry: &Registry,
    diagnostics: &mut Vec<weft::diagnostic::Diagnostic>,
) -> Option<relate::Inference> {
    let (definitions, problems) = relate::load_definitions(registry);
    diagnostics.extend(problems);
    let members: Vec<(usize, usize)> =
        designs.iter().enumerate().flat_map(|(d, design)| (0..design.components.len()).map(move |c| (d, c))).collect();
    let options = relate::Options { external: &config.external, ..Default::default() };
    match relate::infer(designs, &members, &definitions, registry, &options) {
        Ok(inference) => Some(inference),
        Err(diagnostic) => {
            diagnostics.push(diagnostic);
            None
        }
    }
}

/// The shipped best-practice pack (unless weft.yaml turns it off) and the
/// user's policies from the command line and weft.yaml.
fn check_policies(repo: &load::Repo, cli_dirs: &[PathBuf]) -> Vec<weft::diagnostic::Diagnostic> {
    let mut modules = if repo.config.checks.best_practices { policy::shipped_modules() } else { Vec::new() };
    let mut dirs = cli_dirs.to_vec();
    dirs.extend(policy::config_dirs(&repo.root, &repo.config.policies));
    let (user, mut diagnostics) = policy::user_modules(&dirs);
    modules.extend(user);
    diagnostics.extend(policy::check(&repo.designs, &repo.sources, &modules, &Default::default()));
    diagnostics
}

/// Wall time per stage on stderr, when `WEFT_TIMINGS` is set: for
/// benchmarks and for finding what makes a large repo slow.
struct StageTimer(Option<std::time::Instant>);

impl StageTimer {
    fn from_env() -> Self {
        StageTimer(std::env::var_os("WEFT_TIMINGS").map(|_| std::time::Instant::now()))
    }
    fn lap(&mut self, stage: &str) {
        if let Some(start) = &mut self.0 {
            // Resident memory after the stage too: where a large run's memory goes.
            let rss = std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|s| s.lines().find_map(|l| l.strip_prefix("VmRSS:").map(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())).flatten())
                .map(|kb| format!("  rss {:>6.1} MiB", kb as f64 / 1024.0))
                .unwrap_or_default();
            eprintln!("weft: timing: {stage:<14} {:>8.3} s{rss}", start.elapsed().as_secs_f64());
            *start = std::time::Instant::now();
        }
    }
}

/// Drops info-level findings unless asked for them, and orders the rest by
/// position, so output is stable.
fn tidy(diagnostics: &mut Vec<weft::diagnostic::Diagnostic>, verbose: bool) {
    if !verbose {
        diagnostics.retain(|d| d.severity != Severity::Info);
    }
    diagnostics.sort_by(|a, b| {
        (&a.file, a.line(), a.column(), a.code, &a.message).cmp(&(&b.file, b.line(), b.column(), b.code, &b.message))
    });
}

fn use_color(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Writes to stdout; a closed pipe (`weft ... | head`) is not an error.
fn print(text: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("cannot write output: {e}")),
        _ => Ok(()),
    }
}
