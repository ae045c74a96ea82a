//! Runtime lookup of component definitions, lazy at every step: `open`
//! lists directories, a component file is parsed the first time its kind
//! is looked up, and a schema is compiled the first time something is
//! validated against it. Validating one file does not pay for the hundreds
//! of definitions it does not use.

use super::import::{self, is_cluster_scoped};
use super::version;
use crate::design::group_of;
use crate::diagnostic::{Diagnostic, codes};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

/// The component definitions of one or more registry directories, plus the
/// CRDs registered for the current run.
pub struct Registry {
    /// Component files by kind (the file name up to its first `.`), best
    /// candidate first.
    kinds: HashMap<String, Vec<Candidate>>,
    models: Vec<ModelDir>,
    /// Definitions from `add_crd`, by kind. They win over the directories:
    /// a repository's own CRDs describe what it will apply.
    runtime: RwLock<HashMap<String, Vec<Arc<ComponentDef>>>>,
    /// Compiled `pattern`s, shared by every schema (CRDs repeat patterns).
    patterns: jsonschema::PatternCache,
    /// Inline schemas of design components, by text.
    inline: std::sync::Mutex<HashMap<String, Result<Arc<jsonschema::Validator>, String>>>,
}

/// The answer to "what is `apiVersion`/`kind`?".
#[derive(Debug, Clone)]
pub enum Resolution {
    Found(Arc<ComponentDef>),
    /// The kind is known, but not at this apiVersion; `known` lists the
    /// apiVersions that are, sorted.
    UnknownVersion {
        known: Vec<String>,
    },
    UnknownKind,
}

/// One component definition: a kind at one apiVersion.
pub struct ComponentDef {
    pub model: String,
    /// Upstream version of the model (`v1.35.0`).
    pub model_version: String,
    pub api_version: String,
    pub kind: String,
    pub namespaced: bool,
    /// The definition file, or `CustomResourceDefinition/<name>` for kinds
    /// registered with `add_crd`.
    pub path: PathBuf,
    schema: Schema,
    compiled: OnceLock<Result<Arc<jsonschema::Validator>, String>>,
}

enum Schema {
    /// As stored in `component.schema`: parsed when compiled.
    Text(String),
    Value(Value),
    /// The definition file could not be read; validating against it
    /// reports why.
    Broken(String),
}

/// A model directory `<model>/<version>/<definition-version>`.
#[derive(Clone, Debug)]
pub(crate) struct ModelDir {
    pub name: String,
    pub version: String,
    pub definition_version: String,
    pub path: PathBuf,
    pub components: usize,
    /// `relationships/*.json`, sorted.
    pub relationships: Vec<PathBuf>,
}

struct Candidate {
    path: PathBuf,
    model: String,
    model_version: String,
    definition_version: String,
    dir_index: usize,
    /// The apiVersion the file name carries (`Kind.group.version.json`);
    /// `None` for `Kind.json`, the preferred version.
    hint: Option<String>,
    def: OnceLock<Arc<ComponentDef>>,
}

impl ComponentDef {
    /// The definition's JSON schema.
    pub fn schema(&self) -> Result<Value, String> {
        match &self.schema {
            Schema::Text(text) => serde_json::from_str(text)
                .map_err(|e| format!("{}: component.schema is not valid JSON: {e}", self.path.display())),
            Schema::Value(value) => Ok(value.clone()),
            Schema::Broken(error) => Err(error.clone()),
        }
    }
}

impl fmt::Debug for ComponentDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ComponentDef")
            .field("model", &self.model)
            .field("model_version", &self.model_version)
            .field("api_version", &self.api_version)
            .field("kind", &self.kind)
            .field("namespaced", &self.namespaced)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// Opens registries laid out as `<model>/<version>/<definition-version>/
    /// components/*.json`; earlier dirs win when two define the same
    /// (apiVersion, kind). Reads directory listings only. Directories that
    /// do not have that shape (like `models/sources`) are ignored.
    pub fn open(dirs: &[PathBuf]) -> Result<Registry, Diagnostic> {
        let mut kinds: HashMap<String, Vec<Candidate>> = HashMap::new();
        let mut models = Vec::new();
        for (dir_index, dir) in dirs.iter().enumerate() {
            let unreadable = |path: &Path, e: std::io::Error| {
                Diagnostic::new(&codes::UNREADABLE, format!("cannot read the model registry: {e}"))
                    .at(path.display().to_string(), None)
            };
            for model_dir in subdirs(dir).map_err(|e| unreadable(dir, e))? {
                let Some(name) = file_name(&model_dir) else { continue };
                for version_dir in subdirs(&model_dir).map_err(|e| unreadable(&model_dir, e))? {
                    let Some(model_version) = file_name(&version_dir) else { continue };
                    for definition_dir in subdirs(&version_dir).map_err(|e| unreadable(&version_dir, e))? {
                        let Some(definition_version) = file_name(&definition_dir) else { continue };
                        let components_dir = definition_dir.join("components");
                        let files = json_files(&components_dir).map_err(|e| unreadable(&components_dir, e))?;
                        let relationships_dir = definition_dir.join("relationships");
                        let relationships =
                            json_files(&relationships_dir).map_err(|e| unreadable(&relationships_dir, e))?;
                        if files.is_empty() && relationships.is_empty() && !definition_dir.join("model.json").is_file() {
                            continue;
                        }
                        models.push(ModelDir {
                            name: name.clone(),
                            version: model_version.clone(),
                            definition_version: definition_version.clone(),
                            path: definition_dir.clone(),
                            components: files.len(),
                            relationships,
                        });
                        for path in files {
                            let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else { continue };
                            let (kind, hint) = match stem.split_once('.') {
                                None => (stem.to_owned(), None),
                                Some((kind, rest)) => (kind.to_owned(), Some(hint_api_version(rest))),
                            };
                            kinds.entry(kind).or_default().push(Candidate {
                                path,
                                model: name.clone(),
                                model_version: model_version.clone(),
                                definition_version: definition_version.clone(),
                                dir_index,
                                hint,
                                def: OnceLock::new(),
                            });
                        }
                    }
                }
            }
        }
        for candidates in kinds.values_mut() {
            candidates.sort_by(rank);
        }
        Ok(Registry {
            kinds,
            models,
            runtime: RwLock::new(HashMap::new()),
            patterns: jsonschema::PatternCache::new(),
            inline: Default::default(),
        })
    }

    /// The models dir shipped with weft: `$WEFT_MODELS` if set; else the
    /// repository's `models/` (found from the crate's source location,
    /// for `cargo run` and tests) if it exists; else
    /// `<prefix>/share/weft/models` next to an installed
    /// `<prefix>/bin/weft`.
    pub fn shipped_dir() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("WEFT_MODELS").filter(|d| !d.is_empty()) {
            return Some(PathBuf::from(dir));
        }
        let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        if let Some(repo) = manifest_dir.parent().map(|p| p.join("models")).filter(|p| p.is_dir()) {
            return Some(repo);
        }
        let exe = std::env::current_exe().ok()?;
        let prefix = exe.parent()?.parent()?;
        Some(prefix.join("share").join("weft").join("models")).filter(|p| p.is_dir())
    }

    /// Looks up a kind. `api_version` may be "" (old designs): then the
    /// preferred version of the kind is picked: a kind registered with
    /// `add_crd` first, else the `<Kind>.json` of the first directory,
    /// preferring the `kubernetes` model, then models by name (`Gateway`
    /// is in both `gateway-api` and `istio`).
    pub fn resolve(&self, api_version: &str, kind: &str) -> Resolution {
        let runtime = self.runtime.read().unwrap_or_else(PoisonError::into_inner);
        let added = runtime.get(kind).map(Vec::as_slice).unwrap_or_default();
        let candidates = self.kinds.get(kind).map(Vec::as_slice).unwrap_or_default();
        if added.is_empty() && candidates.is_empty() {
            return Resolution::UnknownKind;
        }

        if api_version.is_empty() {
            if let Some(def) = added
                .iter()
                .min_by(|a, b| version::kube_priority(version_of(&a.api_version), version_of(&b.api_version)))
            {
                return Resolution::Found(def.clone());
            }
            if let Some(candidate) = candidates.iter().find(|c| c.hint.is_none()) {
                return Resolution::Found(candidate.load(kind));
            }
            let loaded: Vec<Arc<ComponentDef>> = candidates.iter().map(|c| c.load(kind)).collect();
            return match loaded
                .iter()
                .min_by(|a, b| version::kube_priority(version_of(&a.api_version), version_of(&b.api_version)))
            {
                Some(def) => Resolution::Found(def.clone()),
                None => Resolution::UnknownKind,
            };
        }

        if let Some(def) = added.iter().find(|d| d.api_version == api_version) {
            return Resolution::Found(def.clone());
        }
        let mut broken: Option<Arc<ComponentDef>> = None;
        for candidate in candidates {
            match &candidate.hint {
                Some(hint) if hint != api_version => continue,
                _ => {}
            }
            let def = candidate.load(kind);
            if def.api_version == api_version {
                return Resolution::Found(def);
            }
            if matches!(def.schema, Schema::Broken(_)) && broken.is_none() {
                broken = Some(def);
            }
        }
        // An unreadable `Kind.json` may well have been the version asked
        // for; report the broken file rather than an unknown version.
        if let Some(def) = broken {
            return Resolution::Found(Arc::new(ComponentDef {
                model: def.model.clone(),
                model_version: def.model_version.clone(),
                api_version: api_version.to_owned(),
                kind: def.kind.clone(),
                namespaced: def.namespaced,
                path: def.path.clone(),
                schema: Schema::Broken(def.schema().err().unwrap_or_default()),
                compiled: OnceLock::new(),
            }));
        }
        let mut known: Vec<String> = added.iter().map(|d| d.api_version.clone()).collect();
        for candidate in candidates {
            match &candidate.hint {
                Some(hint) => known.push(hint.clone()),
                None => known.push(candidate.load(kind).api_version.clone()),
            }
        }
        known.retain(|v| !v.is_empty());
        known.sort();
        known.dedup();
        Resolution::UnknownVersion { known }
    }

    /// Does the registry have a model of this name (a directory
    /// `<name>/<version>/...`)?
    pub fn has_model(&self, name: &str) -> bool {
        self.models.iter().any(|m| m.name == name)
    }

    /// The known kind closest to a misspelt one, for "did you mean"
    /// hints: a case-insensitive match, or one within two edits.
    pub fn suggest_kind(&self, kind: &str) -> Option<String> {
        let runtime = self.runtime.read().unwrap_or_else(PoisonError::into_inner);
        let known = self.kinds.keys().chain(runtime.keys());
        // Kinds are short; anything long is no typo of one, and comparing
        // it would cost its length times every kind.
        if kind.len() > 64 {
            return None;
        }
        let lowered = kind.to_ascii_lowercase();
        known
            .filter(|k| k.len().abs_diff(kind.len()) <= 2)
            .map(|k| (edit_distance(&lowered, &k.to_ascii_lowercase()), k))
            .filter(|(distance, _)| *distance <= 2)
            .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)))
            .map(|(_, k)| k.clone())
    }

    /// Registers the custom resources a CRD object (apiVersion, kind,
    /// metadata, spec) defines, one per served version, for this run only,
    /// so a repository's own CRDs validate its custom resources. They win
    /// over the directories. Returns the number of (kind, version) pairs
    /// added; registering a CRD again replaces its versions.
    pub fn add_crd(&self, crd: &Value) -> Result<usize, String> {
        if !import::is_crd(crd) {
            return Err("not an apiextensions.k8s.io CustomResourceDefinition".into());
        }
        let components = import::crd_components(crd)?;
        let name = crd.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        let mut runtime = self.runtime.write().unwrap_or_else(PoisonError::into_inner);
        for component in &components {
            let api_version = component.api_version();
            let defs = runtime.entry(component.kind.clone()).or_default();
            defs.retain(|d| d.api_version != api_version);
            defs.push(Arc::new(ComponentDef {
                model: component.group.clone(),
                model_version: String::new(),
                api_version,
                kind: component.kind.clone(),
                namespaced: component.namespaced,
                path: PathBuf::from(format!("CustomResourceDefinition/{name}")),
                schema: Schema::Value(component.schema.clone()),
                compiled: OnceLock::new(),
            }));
        }
        Ok(components.len())
    }

    /// The compiled schema of a definition, compiled on first use and
    /// cached in the definition (threads asking at once wait for one
    /// compile). JSON Schema 2020-12 unless the schema names another
    /// draft; `format` is not enforced (Kubernetes formats such as
    /// `int-or-string` or `quantity` are not JSON Schema formats); patterns
    /// use the linear-time `regex` engine, which is also the RE2 dialect
    /// Kubernetes patterns are written in.
    pub fn validator(&self, def: &ComponentDef) -> Result<Arc<jsonschema::Validator>, String> {
        def.compiled.get_or_init(|| self.compile(def)).clone()
    }

    fn compile(&self, def: &ComponentDef) -> Result<Arc<jsonschema::Validator>, String> {
        let schema = def.schema()?;
        self.compile_schema(&schema)
            .map_err(|e| format!("{}: invalid schema for {} {}: {e}", def.path.display(), def.api_version, def.kind))
    }

    /// Compiles a schema as every registry schema is compiled: linear-time
    /// regexes, formats not enforced, no network.
    fn compile_schema(&self, schema: &Value) -> Result<Arc<jsonschema::Validator>, String> {
        jsonschema::options()
            .with_draft(draft_of(schema))
            .should_validate_formats(false)
            .with_pattern_options(jsonschema::PatternOptions::regex())
            .with_pattern_cache(self.patterns.clone())
            .offline()
            .build(schema)
            .map(Arc::new)
            .map_err(|e| e.to_string())
    }

    /// A schema a design carries inline (`component.schema`), compiled once
    /// per distinct text however many components carry it.
    pub fn inline_validator(&self, text: &str) -> Result<Arc<jsonschema::Validator>, String> {
        let mut cache = self.inline.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(compiled) = cache.get(text) {
            return compiled.clone();
        }
        let compiled = serde_json::from_str::<Value>(text)
            .map_err(|e| format!("not JSON: {e}"))
            .and_then(|schema| self.compile_schema(&schema));
        cache.insert(text.to_owned(), compiled.clone());
        compiled
    }

    /// The model directories, in registry order.
    /// Relationship definition files of every model, as (model, path), in
    /// search order.
    pub fn relationship_files(&self) -> impl Iterator<Item = (&str, &Path)> {
        self.models.iter().flat_map(|m| m.relationships.iter().map(move |p| (m.name.as_str(), p.as_path())))
    }

    /// The model and scope of a component: its definition when the registry
    /// knows the kind.
    pub fn lookup(&self, api_version: &str, kind: &str) -> Option<Arc<ComponentDef>> {
        match self.resolve(api_version, kind) {
            Resolution::Found(def) => Some(def),
            _ => None,
        }
    }

    pub(crate) fn models(&self) -> &[ModelDir] {
        &self.models
    }

    /// Every kind with a definition file, sorted.
    pub(crate) fn kinds(&self) -> Vec<&str> {
        let mut kinds: Vec<&str> = self.kinds.keys().map(String::as_str).collect();
        kinds.sort_unstable();
        kinds
    }
}

impl Candidate {
    fn load(&self, kind: &str) -> Arc<ComponentDef> {
        self.def.get_or_init(|| Arc::new(self.read(kind))).clone()
    }

    fn read(&self, kind: &str) -> ComponentDef {
        let parsed = std::fs::read_to_string(&self.path)
            .map_err(|e| format!("{}: {e}", self.path.display()))
            .and_then(|text| parse_component(&text).map_err(|e| format!("{}: {e}", self.path.display())))
            .and_then(|p| match p.kind == kind {
                true => Ok(p),
                false => {
                    Err(format!("{}: defines kind `{}`, but the file name says `{kind}`", self.path.display(), p.kind))
                }
            });
        let (api_version, namespaced, schema) = match parsed {
            Ok(p) => {
                let namespaced = p.namespaced.unwrap_or_else(|| !is_cluster_scoped(group_of(&p.api_version), kind));
                (p.api_version, namespaced, p.schema)
            }
            Err(error) => {
                let api_version = self.hint.clone().unwrap_or_default();
                let namespaced = !is_cluster_scoped(group_of(&api_version), kind);
                (api_version, namespaced, Schema::Broken(error))
            }
        };
        ComponentDef {
            model: self.model.clone(),
            model_version: self.model_version.clone(),
            api_version,
            kind: kind.to_owned(),
            namespaced,
            path: self.path.clone(),
            schema,
            compiled: OnceLock::new(),
        }
    }
}

struct Parsed {
    api_version: String,
    kind: String,
    namespaced: Option<bool>,
    schema: Schema,
}

/// Reads a Meshery component definition: `component.{version,kind,schema}`
/// with the schema as a JSON string (v1beta1) or an object, and
/// `metadata.isNamespaced` (or `is_namespaced`) as a bool or "true"/"false".
fn parse_component(text: &str) -> Result<Parsed, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let component = value.get("component").ok_or("no `component` object")?;
    let field = |name: &str| component.get(name).and_then(Value::as_str).filter(|s| !s.is_empty());
    let kind = field("kind").ok_or("no `component.kind`")?.to_owned();
    let api_version = field("version").ok_or("no `component.version` (the apiVersion)")?.to_owned();
    let namespaced = ["/metadata/isNamespaced", "/metadata/is_namespaced"]
        .iter()
        .find_map(|p| value.pointer(p))
        .and_then(|v| match v {
            Value::Bool(b) => Some(*b),
            Value::String(s) => s.parse().ok(),
            _ => None,
        });
    // A definition without a schema (Meshery marks some `hasInvalidSchema`)
    // constrains nothing.
    let schema = match component.get("schema") {
        Some(Value::String(s)) if !s.trim().is_empty() => Schema::Text(s.clone()),
        Some(Value::Object(o)) if !o.is_empty() => Schema::Value(Value::Object(o.clone())),
        _ => Schema::Value(Value::Object(Default::default())),
    };
    Ok(Parsed { api_version, kind, namespaced, schema })
}

/// `group.with.dots.version` (what follows `Kind.` in a file name) as an
/// apiVersion: `autoscaling.v1` → `autoscaling/v1`, `v1` → `v1`.
fn hint_api_version(rest: &str) -> String {
    match rest.rsplit_once('.') {
        Some((group, version)) => format!("{group}/{version}"),
        None => rest.to_owned(),
    }
}

fn version_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or(api_version, |(_, version)| version)
}

/// Candidate order: earlier directories first; then the `kubernetes` model,
/// then models by name; newer upstream and definition versions first;
/// `Kind.json` (the preferred version) before the others.
fn rank(a: &Candidate, b: &Candidate) -> std::cmp::Ordering {
    a.dir_index
        .cmp(&b.dir_index)
        .then_with(|| (a.model != "kubernetes").cmp(&(b.model != "kubernetes")))
        .then_with(|| a.model.cmp(&b.model))
        .then_with(|| version::natural(&b.model_version, &a.model_version))
        .then_with(|| version::natural(&b.definition_version, &a.definition_version))
        .then_with(|| a.hint.is_some().cmp(&b.hint.is_some()))
        .then_with(|| a.path.cmp(&b.path))
}

fn draft_of(schema: &Value) -> jsonschema::Draft {
    use jsonschema::Draft;
    let declared = schema.get("$schema").and_then(Value::as_str).unwrap_or_default();
    if declared.contains("draft-04") {
        Draft::Draft4
    } else if declared.contains("draft-06") {
        Draft::Draft6
    } else if declared.contains("draft-07") {
        Draft::Draft7
    } else if declared.contains("2019-09") {
        Draft::Draft201909
    } else {
        Draft::Draft202012
    }
}

fn file_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    (!name.starts_with('.')).then(|| name.to_owned())
}

/// Subdirectories, sorted; a missing directory has none.
fn subdirs(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() || (entry.file_type()?.is_symlink() && entry.path().is_dir()) {
            dirs.push(entry.path());
        }
    }
    dirs.sort();
    Ok(dirs)
}

fn json_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Registry>();
        check::<ComponentDef>();
    }

    #[test]
    fn file_name_hints() {
        assert_eq!(hint_api_version("autoscaling.v1"), "autoscaling/v1");
        assert_eq!(hint_api_version("events.k8s.io.v1"), "events.k8s.io/v1");
        assert_eq!(hint_api_version("v1"), "v1");
    }

    #[test]
    fn missing_registry_dir_is_a_diagnostic() {
        let error = Registry::open(&[PathBuf::from("/nonexistent/weft/models")]).err().unwrap();
        assert_eq!(error.code, "unreadable");
    }
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod suggestion_tests {
    use super::edit_distance;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("deploymnet", "deployment"), 2);
        assert_eq!(edit_distance("service", "service"), 0);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
