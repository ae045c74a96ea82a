//! `weft import` and `weft export`: designs in from what teams have
//! (designs, manifests, Compose, Kustomize, rendered Helm charts, a live
//! cluster) and out as manifests, Meshery designs and OCI tarballs. Exit
//! codes: 0 written, 1 the input cannot be imported or the design written
//! has errors (as `weft validate` would exit), 2 weft could not run.
//! Nothing here prints object values: a Secret goes to the file asked for
//! and nowhere else.

use super::*;
use weft::import;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SchemaVersionArg {
    V1beta1,
    V1beta3,
}

#[derive(Args)]
pub(crate) struct ImportArgs {
    /// A Meshery design (YAML, JSON, OCI tarball), Kubernetes manifests (file or folder), a Docker Compose file, or a Kustomize folder or archive; `-` reads standard input (`helm template ... | weft import -`).
    #[arg(value_name = "SOURCE", required_unless_present = "from_cluster", conflicts_with = "from_cluster")]
    source: Option<PathBuf>,
    /// Where to write the design: JSON when FILE ends in .json, YAML otherwise.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// The design's name [default: the source's file or folder name].
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// The design format to write [default: a Meshery design's own; v1beta1 for everything else].
    #[arg(long, value_enum, value_name = "VERSION")]
    schema_version: Option<SchemaVersionArg>,
    /// Read the objects of a running cluster instead of SOURCE.
    #[arg(long)]
    from_cluster: bool,
    /// The kubeconfig file (default: KUBECONFIG, then ~/.kube/config, then the in-cluster config).
    #[arg(long, value_name = "FILE", requires = "from_cluster")]
    kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: the current one).
    #[arg(long, value_name = "NAME", requires = "from_cluster")]
    context: Option<String>,
    /// A namespace to read (repeatable) [default: every namespace, and cluster-scoped kinds].
    #[arg(long = "namespace", value_name = "NS", requires = "from_cluster")]
    namespaces: Vec<String>,
    /// Only objects with these labels (`app=shop,tier!=cache`).
    #[arg(long, value_name = "SELECTOR", requires = "from_cluster")]
    selector: Option<String>,
    #[command(flatten)]
    models: ModelDirs,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ExportTarget {
    /// Multi-document Kubernetes YAML, as `weft apply` renders it (without weft's inventory labels).
    Manifests,
    /// A Meshery design Meshery imports: the design as written, or converted to v1beta1.
    Meshery,
    /// A Meshery OCI design tarball (design.yml and artifacthub-pkg.yml).
    Oci,
}

#[derive(Args)]
pub(crate) struct ExportArgs {
    /// The design: a Meshery design file (YAML, JSON, OCI tarball), or anything `weft import` reads.
    #[arg(value_name = "DESIGN")]
    design: PathBuf,
    #[arg(long, value_enum)]
    to: ExportTarget,
    /// Where to write it (a Meshery design is JSON when FILE ends in .json).
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    #[command(flatten)]
    models: ModelDirs,
}

pub(crate) fn run_import(args: ImportArgs, verbose: bool) -> Result<ExitCode, String> {
    let registry = Registry::open(&model_dirs(&args.models.dirs, &[])).map_err(|d| d.message)?;
    let read = if args.from_cluster {
        read_cluster(&args, verbose)?
    } else {
        match args.source.as_deref() {
            Some(source) if source == std::path::Path::new("-") => {
                let cap = load::yaml::Limits::default().max_file_size;
                let read = load::read_capped(std::io::stdin().lock(), cap).map_err(|e| format!("cannot read standard input: {e}"))?;
                let Some(bytes) = read else {
                    let message = format!("standard input is more than the {cap} byte cap");
                    return failed(import::Error::Input { message, diagnostics: Vec::new(), sources: Default::default() });
                };
                import::read_stdin(&bytes)
            }
            Some(source) => import::read_path(source),
            None => return Err("name a SOURCE, or --from-cluster".into()),
        }
    };
    let read = match read {
        Ok(read) => read,
        Err(error) => return failed(error),
    };
    let options = import::Options {
        name: args.name.as_deref(),
        schema_version: args.schema_version.map(|v| match v {
            SchemaVersionArg::V1beta1 => import::SchemaVersion::V1beta1,
            SchemaVersionArg::V1beta3 => import::SchemaVersion::V1beta3,
        }),
    };
    let recorded = read.design.relationships.len();
    let mut imported = import::design(read, &registry, &options);
    let errors = imported.diagnostics.iter().filter(|d| d.is_error()).count();
    show_diagnostics(&mut imported.diagnostics, &imported.sources, verbose);
    let shown_source = args.source.as_deref().map_or_else(|| "cluster".to_owned(), |s| s.display().to_string());
    for note in &imported.unconverted {
        eprintln!("weft: {shown_source}: {note}");
    }
    write_design(&imported.design, &args.output)?;
    let count = |key: &str| imported.design.get(key).and_then(|v| v.as_array()).map_or(0, Vec::len);
    let relationships = count("relationships");
    eprintln!(
        "weft: imported {} into {}: {} components, {relationships} relationships ({} inferred){}",
        imported.kind.describe(),
        args.output.display(),
        count("components"),
        relationships.saturating_sub(recorded),
        if imported.unconverted.is_empty() { String::new() } else { format!(", {} notes on what was not converted (kept in metadata.unconverted)", imported.unconverted.len()) },
    );
    // The design is written either way: it is where the errors get fixed.
    if errors > 0 {
        eprintln!("weft: the design has {errors} error(s) to fix before it applies (`weft validate {}` lists them)", args.output.display());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// The objects `--from-cluster` names, as manifests to import. What was
/// left out is counted by reason (listed with --verbose), so nothing
/// disappears without a word.
fn read_cluster(args: &ImportArgs, verbose: bool) -> Result<Result<import::Read, import::Error>, String> {
    let options = weft::onboard::Options { namespaces: args.namespaces.clone(), selector: args.selector.clone() };
    let onboarded = runtime()?.block_on(async {
        let target = weft::cluster::Target::connect(args.kubeconfig.as_deref(), args.context.as_deref()).await?;
        weft::onboard::live_objects(&target, &options).await
    })?;
    if !onboarded.skipped.is_empty() {
        let mut by_reason: Vec<(&str, usize)> = Vec::new();
        for skipped in &onboarded.skipped {
            match by_reason.iter_mut().find(|(reason, _)| *reason == skipped.reason) {
                Some((_, count)) => *count += 1,
                None => by_reason.push((skipped.reason, 1)),
            }
        }
        by_reason.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        eprintln!(
            "weft: left out {} objects the cluster made{}:",
            onboarded.skipped.len(),
            if verbose { "" } else { " (--verbose lists them)" }
        );
        for (reason, count) in by_reason {
            eprintln!("  {count} {reason}");
            if verbose {
                for skipped in onboarded.skipped.iter().filter(|s| s.reason == reason) {
                    let at = skipped.namespace.as_deref().map(|ns| format!("{ns}/")).unwrap_or_default();
                    eprintln!("      {} {at}{}", skipped.kind, skipped.name);
                }
            }
        }
    }
    let name = args.context.clone().unwrap_or_else(|| "cluster".into());
    Ok(import::read_objects("cluster", &onboarded.objects, &name))
}

pub(crate) fn run_export(args: ExportArgs, verbose: bool) -> Result<ExitCode, String> {
    let registry = Registry::open(&model_dirs(&args.models.dirs, &[])).map_err(|d| d.message)?;
    let mut read = match import::read_path(&args.design) {
        Ok(read) => read,
        Err(error) => return failed(error),
    };
    show_diagnostics(&mut read.diagnostics, &read.sources, verbose);
    let output = &args.output;
    match args.to {
        ExportTarget::Manifests => {
            // Manifests are what kubectl or weft apply next: a design `weft
            // plan` would refuse is not written out as one. (Meshery and OCI
            // exports carry a design as it is, as Meshery's own do.)
            let designs = std::slice::from_ref(&read.design);
            let options = weft::validate::Options { allow_unknown: false };
            let mut errors: Vec<_> = weft::validate::validate(designs, &read.sources, &registry, options, &Progress::hidden())
                .into_iter()
                .filter(|d| d.is_error())
                .collect();
            if !errors.is_empty() {
                let count = errors.len();
                show_diagnostics(&mut errors, &read.sources, verbose);
                eprintln!("weft: not exported: the design has {count} error(s)");
                return Ok(ExitCode::from(1));
            }
            let objects = weft::export::manifest_objects(designs, &registry);
            write(output, weft::export::yaml_stream(&objects)?.as_bytes())?;
            eprintln!("weft: exported {} objects to {}", objects.len(), output.display());
        }
        ExportTarget::Meshery => {
            let as_json = is_json(output);
            // An unchanged Meshery design is written back byte for byte, comments and all.
            let verbatim = read.verbatim_text().filter(|text| text.trim_start().starts_with('{') == as_json).map(str::to_owned);
            match verbatim {
                Some(text) => write(output, text.as_bytes())?,
                None => write_design(&meshery_document(read, &registry), output)?,
            }
            eprintln!("weft: exported the design to {}", output.display());
        }
        ExportTarget::Oci => {
            let bytes = weft::export::oci(&meshery_document(read, &registry))?;
            write(output, &bytes)?;
            eprintln!("weft: exported the design as an OCI tarball to {}", output.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A Meshery design as written, or what `weft import` makes of anything else.
fn meshery_document(read: import::Read, registry: &Registry) -> serde_json::Value {
    match read.as_written() {
        Some(document) => document,
        None => import::design(read, registry, &Default::default()).design,
    }
}

/// Reports why nothing was imported: exit 1 for the input, 2 for weft.
fn failed(error: import::Error) -> Result<ExitCode, String> {
    match error {
        import::Error::Run(message) => Err(message),
        import::Error::Input { message, mut diagnostics, sources } => {
            show_diagnostics(&mut diagnostics, &sources, false);
            eprintln!("weft: error: {message}");
            Ok(ExitCode::from(1))
        }
    }
}

/// Most findings shown: a source full of one mistake would bury the rest.
const MAX_SHOWN: usize = 20;

/// Findings on stderr, rustc-style; lines of Secrets are never quoted.
fn show_diagnostics(diagnostics: &mut Vec<weft::diagnostic::Diagnostic>, sources: &load::source::Sources, verbose: bool) {
    tidy(diagnostics, verbose);
    if diagnostics.is_empty() {
        return;
    }
    let mut shown = std::mem::take(diagnostics);
    let hidden = shown.len().saturating_sub(MAX_SHOWN);
    shown.truncate(MAX_SHOWN);
    let report = Report { files: sources.len(), designs: Vec::new(), diagnostics: shown };
    let text = report::render(&report, OutputFormat::Text, sources, use_color(&std::io::stderr()));
    // The renderer's closing summary counts designs, which are not read yet here.
    let findings = text.rsplit_once("\nweft: ").map_or(text.as_str(), |(findings, _)| findings);
    eprintln!("{}\n", findings.trim_end());
    if hidden > 0 {
        eprintln!("weft: {hidden} more findings; `weft validate` on the design lists them all");
    }
}

fn is_json(path: &std::path::Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

fn write_design(design: &serde_json::Value, output: &std::path::Path) -> Result<(), String> {
    let text = if is_json(output) {
        serde_json::to_string_pretty(design).map_err(|e| e.to_string())? + "\n"
    } else {
        weft::export::to_yaml(design)?
    };
    write(output, text.as_bytes())
}

fn write(output: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(output, bytes).map_err(|e| format!("cannot write {}: {e}", output.display()))
}
