//! `weft catalog`: the reusable designs of `catalog/` (built into the
//! binary, or a folder given with --catalog). `use` instantiates an entry
//! into a repository and validates the result as `weft validate` would;
//! `export --oci` and `import` exchange entries with Meshery as OCI design
//! tarballs.

use super::*;
use std::path::Path;
use weft::catalog::{self, CatalogData, Entry, Instantiation};

#[derive(Args)]
pub(crate) struct CatalogArgs {
    #[command(subcommand)]
    command: CatalogCommand,
    /// A catalog folder (one subfolder per entry, each holding a design.yaml) instead of the catalog built into weft.
    #[arg(long, value_name = "DIR", global = true)]
    catalog: Option<PathBuf>,
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// List the entries: name, type, class and what each deploys.
    List {
        #[arg(long, value_enum, default_value_t = CatalogFormat::Text)]
        format: CatalogFormat,
    },
    /// Show an entry: its catalog metadata, components and caveats.
    Show {
        name: String,
        #[arg(long, value_enum, default_value_t = CatalogFormat::Text)]
        format: CatalogFormat,
    },
    /// Copy an entry into a repository as DIR/NAME.yaml, with new ids, a namespace and values set, and validate it.
    Use(UseArgs),
    /// Write an entry as a Meshery OCI design tarball (design.yml and artifacthub-pkg.yml), for `mesheryctl design import` or Meshery's catalog.
    Export {
        name: String,
        /// The Meshery OCI format (the only one, and required so that the format is explicit).
        #[arg(long, required = true)]
        oci: bool,
        /// The tarball to write.
        #[arg(short = 'o', long = "output", value_name = "FILE.tar")]
        output: PathBuf,
    },
    /// Add the design of a Meshery OCI design tarball to a catalog folder as DIR/NAME/design.yaml.
    Import {
        /// The tarball (as `weft catalog export --oci` or Meshery's `?oci=true` download writes it).
        file: PathBuf,
        /// The catalog folder to add the entry to.
        #[arg(long, value_name = "DIR")]
        into: PathBuf,
        /// The entry's name [default: the design's name, in lower case with `-`].
        #[arg(long)]
        name: Option<String>,
        /// Replace an entry of that name.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Args)]
struct UseArgs {
    /// The entry to copy.
    name: String,
    /// The folder to write NAME.yaml into (created if missing).
    #[arg(long, value_name = "DIR")]
    into: PathBuf,
    /// Put every namespaced component in this namespace (a Namespace component of the entry is renamed to it).
    #[arg(long, value_name = "NS")]
    namespace: Option<String>,
    /// Set a field: [KIND/]NAME.FIELD[.FIELD...]=VALUE, e.g. Deployment/web.spec.replicas=3 or web.spec.template.spec.containers.0.image=nginx:1.27 (VALUE read as YAML; `\.` for a dot inside a name). Repeatable.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    sets: Vec<String>,
    /// Overwrite DIR/NAME.yaml if it exists.
    #[arg(long)]
    force: bool,
    /// Output format of the validation report.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CatalogFormat {
    Text,
    Json,
}

pub(crate) fn run(args: CatalogArgs, verbose: bool) -> Result<ExitCode, String> {
    let entries = match &args.catalog {
        Some(dir) => catalog::read_dir(dir)?,
        None => catalog::shipped(),
    };
    match args.command {
        CatalogCommand::List { format } => list(&entries, format),
        CatalogCommand::Show { name, format } => show(catalog::find(&entries, &name)?, format),
        CatalogCommand::Use(use_args) => instantiate(catalog::find(&entries, &use_args.name)?, &use_args, verbose),
        CatalogCommand::Export { name, oci: _, output } => {
            let entry = catalog::find(&entries, &name)?;
            if let Err(message) = catalog::parse(entry) {
                return Ok(broken(&message));
            }
            let tarball = catalog::export_oci(entry)?;
            std::fs::write(&output, tarball).map_err(|e| format!("cannot write {}: {e}", output.display()))?;
            eprintln!("wrote {} (Meshery OCI design: design.yml, artifacthub-pkg.yml)", output.display());
            Ok(ExitCode::SUCCESS)
        }
        CatalogCommand::Import { file, into, name, force } => import(&file, &into, name, force),
    }
}

fn list(entries: &[Entry], format: CatalogFormat) -> Result<ExitCode, String> {
    // An entry that does not read is named, and the others still listed.
    let mut parsed = Vec::new();
    let mut broken = 0;
    for entry in entries {
        match catalog::parse(entry) {
            Ok(entry) => parsed.push(entry),
            Err(message) => {
                eprintln!("weft: error: {message}");
                broken += 1;
            }
        }
    }
    let text = match format {
        CatalogFormat::Json => {
            let rows: Vec<serde_json::Value> = parsed
                .iter()
                .map(|p| serde_json::json!({"name": p.name, "design": p.design["name"], "catalog_data": p.catalog, "components": catalog::components(&p.design).len()}))
                .collect();
            serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())? + "\n"
        }
        CatalogFormat::Text => {
            let rows: Vec<[String; 4]> = parsed.iter().map(|p| [p.name.clone(), p.catalog.kind.clone(), p.catalog.class.clone(), p.catalog.summary()]).collect();
            table(&["NAME", "TYPE", "CLASS", "INFO"], &rows)
        }
    };
    print(&text)?;
    Ok(if broken > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Left-aligned columns two spaces apart; the last column is not padded.
fn table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == N {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// An entry that does not read is an input error (exit 1), as in `list`.
fn broken(message: &str) -> ExitCode {
    eprintln!("weft: error: {message}");
    ExitCode::from(1)
}

fn show(entry: &Entry, format: CatalogFormat) -> Result<ExitCode, String> {
    let parsed = match catalog::parse(entry) {
        Ok(parsed) => parsed,
        Err(message) => return Ok(broken(&message)),
    };
    let components = catalog::components(&parsed.design);
    let text = match format {
        CatalogFormat::Json => {
            let value = serde_json::json!({
                "name": parsed.name,
                "design": {"id": parsed.design["id"], "name": parsed.design["name"], "version": parsed.design["version"]},
                "catalog_data": parsed.catalog,
                "components": components,
                "relationships": parsed.design["relationships"].as_array().map_or(0, Vec::len),
            });
            serde_json::to_string_pretty(&value).map_err(|e| e.to_string())? + "\n"
        }
        CatalogFormat::Text => {
            let data: &CatalogData = &parsed.catalog;
            let mut out = format!("{} {}\n", parsed.name, data.published_version);
            out.push_str(&format!("  type: {}\n  class: {}\n  compatibility: {}\n", data.kind, data.class, data.compatibility.join(", ")));
            out.push_str(&format!("  design: {} ({})\n\n", parsed.design["name"].as_str().unwrap_or("-"), parsed.design["id"].as_str().unwrap_or("no id")));
            out.push_str(&wrap(&data.pattern_info, "", 78));
            out.push_str(&format!("\ncomponents ({}):\n", components.len()));
            let rows: Vec<[String; 3]> = components
                .iter()
                .map(|c| {
                    let at = c.namespace.as_ref().map_or_else(|| c.name.clone(), |ns| format!("{ns}/{}", c.name));
                    [format!("  {}", c.kind), at, format!("{} {}", c.model, c.api_version)]
                })
                .collect();
            let listed = table(&["", "", ""], &rows);
            // The header row of an unlabelled table is blank.
            out.push_str(listed.split_once('\n').map_or("", |(_, rest)| rest));
            if !data.pattern_caveats.trim().is_empty() {
                out.push_str("\ncaveats:\n");
                out.push_str(&wrap(&data.pattern_caveats, "  ", 78));
            }
            out
        }
    };
    print(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// `text` with its whitespace folded, in lines of at most `width`.
fn wrap(text: &str, indent: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent.len() + line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&format!("{indent}{line}\n"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&format!("{indent}{line}\n"));
    }
    out
}

fn instantiate(entry: &Entry, args: &UseArgs, verbose: bool) -> Result<ExitCode, String> {
    let parsed = match catalog::parse(entry) {
        Ok(parsed) => parsed,
        Err(message) => return Ok(broken(&message)),
    };
    let sets = args.sets.iter().map(|s| catalog::parse_assignment(s)).collect::<Result<Vec<_>, _>>()?;
    // The header records each --set, but not a value set under `data` or
    // `stringData`: a Secret's would stay in the comment after the Secret
    // is taken out of the file.
    let recorded: Vec<String> = sets
        .iter()
        .map(|set| match set.path.first().map(String::as_str) {
            Some("data" | "stringData") => format!("{}=(value not recorded)", set.text.split_once('=').map_or(set.text.as_str(), |(path, _)| path)),
            _ => set.text.clone(),
        })
        .collect();
    let registry = Registry::open(&model_dirs(&[], &[])).map_err(|d| d.message)?;
    let how = Instantiation { namespace: args.namespace.clone(), sets };
    let design = catalog::instantiate(&parsed, &how, &registry)?;

    let target = args.into.join(format!("{}.yaml", entry.name));
    if target.exists() && !args.force {
        return Err(format!("{} exists; pass --force to overwrite it", target.display()));
    }
    let mut header = format!("From weft's catalog entry `{}` {}", entry.name, parsed.catalog.published_version);
    if let Some(namespace) = &args.namespace {
        header.push_str(&format!(", in namespace {namespace}"));
    }
    header.push_str(&format!(".\n`weft catalog show {}` lists its caveats.", entry.name));
    for set in &recorded {
        header.push_str(&format!("\n--set {set}"));
    }
    let text = catalog::to_yaml(&design, &header)?;
    std::fs::create_dir_all(&args.into).map_err(|e| format!("cannot create {}: {e}", args.into.display()))?;
    std::fs::write(&target, text).map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    eprintln!("wrote {} ({} components)", target.display(), design["components"].as_array().map_or(0, Vec::len));

    // The copy is checked as `weft validate FILE` checks it: a --set that
    // breaks the schema, or a reference the namespace cut, shows here.
    let progress = Progress::hidden();
    let mut repo = load::load(std::slice::from_ref(&target), &load::Options::default(), &progress).map_err(|f| f.0)?;
    let registry = Registry::open(&model_dirs(&[], &repo.config.model_dirs(&repo.root))).map_err(|d| d.message)?;
    let (diagnostics, _) = analyse(&mut repo, &registry, false, &[], verbose, &progress);
    let report = summary_report(&repo, diagnostics);
    let color = args.format == OutputFormat::Text && use_color(&std::io::stdout());
    print(&report::render(&report, args.format, &repo.sources, color))?;
    Ok(if report.has_errors() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn import(file: &Path, into: &Path, name: Option<String>, force: bool) -> Result<ExitCode, String> {
    // A tarball may expand to four times the design cap (as the loader
    // allows); reading stops one byte past that, so /dev/zero is refused too.
    let cap = catalog::MAX_DESIGN_SIZE.saturating_mul(4);
    let read = std::fs::File::open(file).and_then(|f| load::read_capped(f, cap)).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let Some(bytes) = read else {
        return Ok(broken(&format!("{}: more than the {cap} byte cap of a design tarball", file.display())));
    };
    let mut entry = match catalog::import_oci(&bytes, &file.display().to_string()) {
        Ok(entry) => entry,
        Err(message) => return Ok(broken(&message)),
    };
    if let Some(name) = name {
        entry.name = name;
    }
    // The name becomes a folder: nothing that climbs out of the catalog.
    if entry.name.is_empty() || entry.name.contains(['/', '\\']) || entry.name.starts_with('.') {
        return Err(format!("`{}` cannot name a catalog entry", entry.name));
    }
    let folder = into.join(&entry.name);
    let target = folder.join(catalog::DESIGN_FILE);
    if target.exists() && !force {
        return Err(format!("{} exists; pass --force to overwrite it", target.display()));
    }
    std::fs::create_dir_all(&folder).map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
    std::fs::write(&target, &entry.text).map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    eprintln!("wrote {} (catalog entry `{}`)", target.display(), entry.name);
    Ok(ExitCode::SUCCESS)
}
