//! `weft model list|show|import`.

use super::import;
use super::registry::{Registry, Resolution};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ModelCommand {
    /// List the models in the registry: name, version, number of components.
    List,
    /// Show the definition of a kind: model, apiVersion, scope, file and the
    /// top-level fields of its schema.
    Show {
        kind: String,
        /// The apiVersion (`apps/v1`); default: the kind's preferred version.
        #[arg(long)]
        api_version: Option<String>,
    },
    /// Generate component definitions from Kubernetes JSON-schema
    /// definitions (--openapi) or from CustomResourceDefinitions (--crd).
    #[command(group(clap::ArgGroup::new("input").required(true).args(["openapi", "crd"])))]
    Import {
        /// A definitions document (`_definitions.json`, `swagger.json`, an OpenAPI 3 document).
        #[arg(long)]
        openapi: Option<PathBuf>,
        /// A YAML stream of CustomResourceDefinitions.
        #[arg(long)]
        crd: Option<PathBuf>,
        /// Model name; default: from the file name (`cert-manager-v1.21.1.yaml` → cert-manager).
        #[arg(long)]
        name: Option<String>,
        /// Upstream version; default: from the file name (or, for `_definitions.json`, its directory).
        #[arg(long)]
        version: Option<String>,
        /// The registry directory to write into.
        #[arg(long, short = 'o', default_value = "models")]
        out: PathBuf,
    },
}

/// Runs a model command against the registries in `model_dirs` (earlier
/// wins). Output goes to stdout; an `Err` is a message for stderr and means
/// exit code 2 (usage or I/O error, unknown kind for `show`).
pub fn run(cmd: &ModelCommand, model_dirs: &[PathBuf], json: bool) -> Result<ExitCode, String> {
    match cmd {
        ModelCommand::List => list(model_dirs, json),
        ModelCommand::Show { kind, api_version } => show(model_dirs, kind, api_version.as_deref().unwrap_or(""), json),
        ModelCommand::Import { openapi, crd, name, version, out } => {
            let (path, is_openapi) = match (openapi, crd) {
                (Some(path), None) => (path, true),
                (None, Some(path)) => (path, false),
                _ => return Err("give exactly one of --openapi FILE or --crd FILE".into()),
            };
            let inferred = import::infer_name_version(path);
            let name = name.clone().or_else(|| inferred.as_ref().map(|(n, _)| n.clone()));
            let version = version.clone().or_else(|| inferred.as_ref().map(|(_, v)| v.clone()));
            let (Some(name), Some(version)) = (name, version) else {
                return Err(format!(
                    "{}: cannot tell the model name and version from the file name; pass --name and --version",
                    path.display()
                ));
            };
            let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let label = path.display().to_string();
            let bundle = if is_openapi {
                import::from_openapi(&label, &text, &name, &version)?
            } else {
                import::from_crds(&label, &text, &name, &version)?
            };
            let dir = import::write_model(&bundle, out)?;
            if json {
                let summary = json!({"model": bundle.name, "version": bundle.version, "components": bundle.components.len(), "path": dir});
                println!("{summary}");
            } else {
                println!(
                    "wrote {} components of {} {} to {}",
                    bundle.components.len(),
                    bundle.name,
                    bundle.version,
                    dir.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn open(model_dirs: &[PathBuf]) -> Result<Registry, String> {
    if model_dirs.is_empty() {
        return Err("no model registry: set WEFT_MODELS or pass a models directory".into());
    }
    Registry::open(model_dirs).map_err(|d| format!("{}: {}", d.file.unwrap_or_default(), d.message))
}

fn list(model_dirs: &[PathBuf], json: bool) -> Result<ExitCode, String> {
    let registry = open(model_dirs)?;
    let models = registry.models();
    if json {
        let rows: Vec<Value> = models
            .iter()
            .map(|m| {
                json!({"name": m.name, "version": m.version, "definitionVersion": m.definition_version,
                       "components": m.components, "path": m.path})
            })
            .collect();
        println!("{}", Value::Array(rows));
        return Ok(ExitCode::SUCCESS);
    }
    let width = models.iter().map(|m| m.name.len()).max().unwrap_or(0).max("MODEL".len());
    let version_width = models.iter().map(|m| m.version.len()).max().unwrap_or(0).max("VERSION".len());
    println!("{:width$}  {:version_width$}  COMPONENTS", "MODEL", "VERSION");
    for m in models {
        println!("{:width$}  {:version_width$}  {:>10}", m.name, m.version, m.components);
    }
    Ok(ExitCode::SUCCESS)
}

fn show(model_dirs: &[PathBuf], kind: &str, api_version: &str, json: bool) -> Result<ExitCode, String> {
    let registry = open(model_dirs)?;
    let def = match registry.resolve(api_version, kind) {
        Resolution::Found(def) => def,
        Resolution::UnknownVersion { known } => {
            return Err(format!("{kind} has no definition at {api_version}; known: {}", known.join(", ")));
        }
        Resolution::UnknownKind => {
            let hint = registry
                .kinds()
                .into_iter()
                .find(|k| k.eq_ignore_ascii_case(kind))
                .map(|k| format!(" (did you mean {k}?)"))
                .unwrap_or_default();
            return Err(format!("no model defines kind {kind}{hint}"));
        }
    };
    let schema = def.schema()?;
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let properties: Vec<(String, String, String)> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.iter().map(|(name, s)| (name.clone(), type_of(s, &schema, 0), first_sentence(s))).collect())
        .unwrap_or_default();
    if json {
        let fields: Vec<Value> = properties
            .iter()
            .map(|(name, ty, description)| {
                json!({"name": name, "type": ty, "required": required.contains(&name.as_str()), "description": description})
            })
            .collect();
        let out = json!({
            "model": def.model, "modelVersion": def.model_version, "apiVersion": def.api_version,
            "kind": def.kind, "namespaced": def.namespaced, "path": def.path,
            "description": schema.get("description"), "properties": fields,
        });
        println!("{}", serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("kind:        {}", def.kind);
    println!("apiVersion:  {}", def.api_version);
    println!("model:       {} {}", def.model, def.model_version);
    println!("scope:       {}", if def.namespaced { "Namespaced" } else { "Cluster" });
    println!("path:        {}", def.path.display());
    if let Some(description) = schema.get("description").and_then(Value::as_str) {
        println!("description: {}", description.lines().next().unwrap_or_default());
    }
    println!("fields:");
    let width = properties.iter().map(|(n, _, _)| n.len() + 1).max().unwrap_or(0);
    let type_width = properties.iter().map(|(_, t, _)| t.len()).max().unwrap_or(0);
    for (name, ty, description) in &properties {
        let name = if required.contains(&name.as_str()) { format!("{name}*") } else { name.clone() };
        println!("  {name:width$}  {ty:type_width$}  {description}");
    }
    Ok(ExitCode::SUCCESS)
}

/// A short type for a property: its `type` without `null`, or the name of
/// the definition it refers to.
/// A short type name for a field. `depth` bounds the walk: schemas from
/// `--models` directories may refer to themselves.
fn type_of(schema: &Value, root: &Value, depth: usize) -> String {
    if depth > 16 {
        return "any".into();
    }
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        let target = reference.strip_prefix('#').and_then(|p| root.pointer(p));
        return match target.filter(|t| t.get("$ref").is_none()) {
            Some(t) if t.get("properties").is_none() => type_of(t, root, depth + 1),
            _ => name.rsplit('.').next().unwrap_or(name).to_owned(),
        };
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let types: Vec<&str> = types.into_iter().filter(|t| *t != "null").collect();
    match types.as_slice() {
        [] => "any".into(),
        ["array"] => format!("[]{}", schema.get("items").map_or("any".into(), |i| type_of(i, root, depth + 1))),
        _ => types.join("|"),
    }
}

fn first_sentence(schema: &Value) -> String {
    let text = schema.get("description").and_then(Value::as_str).unwrap_or_default();
    let line = text.lines().next().unwrap_or_default();
    match line.find(". ") {
        Some(end) => line[..=end].to_owned(),
        None => line.to_owned(),
    }
}
