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
use weft::validate;

#[derive(Parser)]
#[command(name = "weft", version, about = "Declarative GitOps for cloud native infrastructure: validate, graph and model Meshery designs and Kubernetes manifests.")]
struct Cli {
    /// Also report informational findings, such as files skipped as neither designs nor Kubernetes objects.
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

#[derive(Args)]
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

#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    Dot,
    Mermaid,
    Json,
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
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => run_validate(args, cli.verbose),
        Command::Graph(args) => run_graph(args, cli.verbose),
        Command::Evaluate(args) => run_evaluate(args, cli.verbose),
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

fn load_input(input: &InputArgs, progress: &Progress) -> Result<Loaded, String> {
    let options = load::Options { max_file_size: input.max_file_size, max_depth: input.max_depth };
    let repo = load::load(&input.paths, &options, progress).map_err(|f| f.0)?;
    let registry_dirs = model_dirs(&input.models.dirs, &repo.config.model_dirs(&repo.root));
    Ok(Loaded { repo, registry_dirs })
}

fn run_validate(args: ValidateArgs, verbose: bool) -> Result<ExitCode, String> {
    let progress = Progress::on_terminal();
    let mut timer = StageTimer::from_env();
    let Loaded { mut repo, registry_dirs } = load_input(&args.input, &progress)?;
    let registry = Registry::open(&registry_dirs).map_err(|d| d.message)?;
    let (mut graph, graph_diagnostics) = Graph::build(&repo.designs, &repo.sources);
    timer.lap("load");
    let mut diagnostics = std::mem::take(&mut repo.diagnostics);
    diagnostics.extend(graph_diagnostics);
    let options = validate::Options { allow_unknown: args.allow_unknown };
    // Validation registers the repo's CRDs, which inference then resolves.
    diagnostics.extend(validate::validate(&repo.designs, &repo.sources, &registry, options, &progress));
    timer.lap("validate");
    if let Some(inference) = infer(&repo.designs, &repo.config, &registry, &mut diagnostics) {
        timer.lap("relate");
        diagnostics.extend(relate::diagnostics(&inference, &repo.designs, &repo.sources));
        timer.lap("relate checks");
        graph.add_inferred(&inference);
        timer.lap("graph edges");
    }
    diagnostics.extend(graph.cycle_diagnostic(&repo.designs, &repo.sources));
    diagnostics.extend(check_policies(&repo, &args.policies));
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

    let report = Report {
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
    };
    let color = args.format == OutputFormat::Text && use_color(&std::io::stdout());
    print(&report::render(&report, args.format, &repo.sources, color))?;
    let failed = report.has_errors() || args.strict && report.summary().warnings > 0;
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn run_graph(args: GraphArgs, verbose: bool) -> Result<ExitCode, String> {
    let progress = Progress::on_terminal();
    let Loaded { repo, registry_dirs } = load_input(&args.input, &progress)?;
    let registry = Registry::open(&registry_dirs).map_err(|d| d.message)?;
    let (mut graph, graph_diagnostics) = Graph::build(&repo.designs, &repo.sources);
    let mut diagnostics = repo.diagnostics;
    diagnostics.extend(graph_diagnostics);
    if let Some(inference) = infer(&repo.designs, &repo.config, &registry, &mut diagnostics) {
        graph.add_inferred(&inference);
    }
    progress.finish();
    let view = graph.view(&repo.designs);
    print(&match args.format {
        GraphFormat::Dot => view.to_dot(),
        GraphFormat::Mermaid => view.to_mermaid(),
        GraphFormat::Json => view.to_json(),
    })?;
    // The graph goes to stdout for piping; problems found on the way go to
    // stderr so they are seen without corrupting it.
    tidy(&mut diagnostics, verbose);
    let has_errors = diagnostics.iter().any(|d| d.is_error());
    if !diagnostics.is_empty() {
        let report = Report { files: repo.files, designs: Vec::new(), diagnostics };
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
    let input = InputArgs { paths: vec![args.design.clone()], models: args.models, max_file_size: None, max_depth: None };
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
        let report = Report { files: repo.files, designs: Vec::new(), diagnostics };
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
        EvaluateFormat::Yaml => serde_saphyr::to_string(&response).map_err(|e| e.to_string())?,
    };
    match &args.output {
        Some(path) => std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?,
        None => print(&text)?,
    }
    Ok(ExitCode::SUCCESS)
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
            eprintln!("weft: timing: {stage:<14} {:>8.3} s", start.elapsed().as_secs_f64());
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
