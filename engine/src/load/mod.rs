//! Stage 1: read what users commit. Walks the given paths (honouring
//! `weft.yaml`, .gitignore and ignore globs), parses every YAML/JSON file
//! and Meshery OCI tarball, and turns each document into designs made of
//! components. Never fails on bad input: problems become diagnostics.

pub mod config;
pub mod git;
mod manifest;
mod meshery;
pub mod oci;
pub mod source;
pub mod yaml;

pub use manifest::object_id;

use crate::design::{Design, Format, Origin};
use crate::diagnostic::{Diagnostic, codes};
use config::Config;
use rayon::prelude::*;
use source::Sources;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use yaml::{Limits, Node, Value};

/// Limits given on the command line; each one set overrides weft.yaml,
/// which overrides the defaults.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub max_file_size: Option<u64>,
    pub max_depth: Option<usize>,
}

/// What one load may read in all: a guard against a repository (or a
/// folder) far larger than designs ever are. weft.yaml `limits.maxFiles`
/// and `limits.maxTotalSize` set it.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Design files (YAML, JSON, archives) to read.
    pub max_files: usize,
    /// Their total size in bytes; files over `maxFileSize`, which are not
    /// read, do not count.
    pub max_total_size: u64,
}

impl Default for Budget {
    /// Generous for a repository of 10,000 components: ten times as many
    /// files, and 256 MiB.
    fn default() -> Self {
        Budget { max_files: 100_000, max_total_size: 256 << 20 }
    }
}

impl Budget {
    /// Fails when `files` files of `bytes` bytes in all, from `what` (a
    /// folder, or a revision), are more than the budget allows.
    fn check(&self, what: &str, files: usize, bytes: u64) -> Result<(), Fatal> {
        if files > self.max_files {
            return Err(Fatal(format!(
                "{what}: {files} design files to read, over the cap of {}; raise `limits.maxFiles` in weft.yaml, or name fewer paths (weft.yaml `paths`, `ignore`)",
                self.max_files
            )));
        }
        if bytes > self.max_total_size {
            return Err(Fatal(format!(
                "{what}: the {files} design files to read come to {bytes} bytes ({}), over the cap of {} bytes ({}); raise `limits.maxTotalSize` in weft.yaml (e.g. `maxTotalSize: 1GiB`), or name fewer paths (weft.yaml `paths`, `ignore`)",
                mebibytes(bytes),
                self.max_total_size,
                mebibytes(self.max_total_size)
            )));
        }
        Ok(())
    }
}

fn mebibytes(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

/// Everything the loader found.
#[derive(Debug)]
pub struct Repo {
    pub sources: Sources,
    pub designs: Vec<Design>,
    pub diagnostics: Vec<Diagnostic>,
    /// Files looked at, including skipped ones.
    pub files: usize,
    pub config: Config,
    /// Directory of the weft.yaml in effect (or of the first path given).
    pub root: PathBuf,
    /// The commit the designs were read at; their files are then paths in
    /// the repository. None for files read from disk (paths as shown).
    pub commit: Option<String>,
}

/// A failure that stops weft from running at all (exit code 2), as opposed
/// to a problem in the input (a diagnostic).
#[derive(Debug)]
pub struct Fatal(pub String);

pub fn load(paths: &[PathBuf], options: &Options, progress: &crate::progress::Progress) -> Result<Repo, Fatal> {
    let root = paths
        .iter()
        .find(|p| p.is_dir())
        .cloned()
        .unwrap_or_else(|| PathBuf::from("."));
    let mut diagnostics = Vec::new();
    let config = match Config::find(&root, &display_path(&root.join(config::FILE_NAME))) {
        Ok(config) => config.unwrap_or_default(),
        Err(diagnostic) => {
            diagnostics.push(diagnostic);
            Config::default()
        }
    };
    let limits = limits_for(&config, options);

    let files = collect_files(paths, &root, &config)?;
    // The caps on the whole read hold before anything is read: the count
    // first, then the sizes the file system gives (a file that cannot be
    // read is reported when it is read).
    let shown = if paths.is_empty() { ".".to_owned() } else { paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" ") };
    let budget = config.budget();
    budget.check(&shown, files.len(), 0)?;
    let bytes = files.par_iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).filter(|&size| size <= limits.max_file_size).sum();
    budget.check(&shown, files.len(), bytes)?;
    progress.stage("reading", files.len());
    let parsed: Vec<FileResult> = files
        .par_iter()
        .map(|path| {
            let result = read_file(path, &limits);
            progress.inc();
            result
        })
        .collect();

    let (sources, designs) = gather(parsed, limits, &mut diagnostics);
    Ok(Repo { sources, designs, diagnostics, files: files.len(), config, root, commit: None })
}

/// The caps in force: weft.yaml's, overridden by the command line.
fn limits_for(config: &Config, options: &Options) -> Limits {
    let mut limits = Limits::default();
    config.apply_limits(&mut limits);
    limits.max_file_size = options.max_file_size.unwrap_or(limits.max_file_size);
    limits.max_depth = options.max_depth.unwrap_or(limits.max_depth);
    limits
}

/// Numbers the texts that were read and collects their designs and
/// diagnostics.
fn gather(parsed: Vec<FileResult>, limits: Limits, diagnostics: &mut Vec<Diagnostic>) -> (Sources, Vec<Design>) {
    let mut sources = Sources::new(limits);
    let mut designs = Vec::new();
    for result in parsed {
        diagnostics.extend(result.diagnostics);
        for unit in result.units {
            let id = sources.add(unit.display.clone(), unit.text);
            for mut design in unit.designs {
                design.set_source(id);
                designs.push(design);
            }
        }
    }
    (sources, designs)
}

/// What to read from git instead of the working tree.
pub struct Revision<'a> {
    /// A path inside a local repository, or a URL.
    pub location: &'a str,
    pub rev: &'a str,
    /// Where remotes are fetched to.
    pub cache: &'a Path,
}

/// Loads the designs of a git revision, as `load` loads a working tree:
/// weft.yaml, the files below `paths` (repository paths; a local path
/// inside the working tree is taken to its repository path) and the model
/// folders weft.yaml names, all as the revision has them.
pub fn load_revision(revision: &Revision, paths: &[PathBuf], options: &Options, progress: &crate::progress::Progress) -> Result<Repo, Fatal> {
    let source = git::Source::open(revision.location, revision.cache)?;
    let commit = source.resolve(revision.rev)?;
    let mut diagnostics = Vec::new();
    let config = match source.file(commit, config::FILE_NAME, 1 << 20)? {
        None => Config::default(),
        Some(git::Blob { content: Ok(bytes), .. }) => match Config::parse(&String::from_utf8_lossy(&bytes), config::FILE_NAME) {
            Ok(config) => config,
            Err(diagnostic) => {
                diagnostics.push(diagnostic);
                Config::default()
            }
        },
        Some(git::Blob { content: Err(_), .. }) => {
            diagnostics.push(Diagnostic::new(&codes::UNREADABLE, "cannot read weft.yaml from git".to_owned()).at(config::FILE_NAME, None));
            Config::default()
        }
    };
    let limits = limits_for(&config, options);

    let keep = revision_filter(&source, &config, paths)?;
    // The caps on the whole read, from the sizes the object database
    // records, before any blob is read.
    let entries = source.entries(commit, &keep)?;
    let bytes = entries.iter().filter_map(|e| e.size.as_ref().ok()).filter(|&&size| size <= limits.max_file_size).sum();
    config.budget().check(&format!("{} at `{}` (commit {commit})", revision.location, revision.rev), entries.len(), bytes)?;
    let blobs = source.read(entries, limits.max_file_size)?;
    progress.stage("reading", blobs.len());
    let files = blobs.len();
    let parsed: Vec<FileResult> = blobs
        .into_par_iter()
        .map(|blob| {
            let mut result = FileResult::default();
            match blob.content {
                Ok(bytes) => read_bytes(&blob.path, &bytes, &limits, &mut result),
                Err(git::BlobError::TooLarge(size)) => result.diagnostics.push(
                    Diagnostic::new(&codes::FILE_TOO_LARGE, format!("file is {size} bytes, over the {} byte cap", limits.max_file_size)).at(&blob.path, None),
                ),
                Err(git::BlobError::Unreadable(message)) => result.diagnostics.push(Diagnostic::new(&codes::UNREADABLE, message).at(&blob.path, None)),
            }
            progress.inc();
            result
        })
        .collect();

    // weft.yaml's model folders, as the revision has them.
    let root = match source.workdir() {
        Some(dir) => dir.to_path_buf(),
        None => revision.cache.join("checkouts").join(source.name()),
    };
    let mut config = config;
    if !config.models.is_empty() {
        let models_root = revision.cache.join("models").join(commit.to_string());
        for dir in &config.models {
            source.extract(commit, dir, &models_root)?;
        }
        config.models = config.models.iter().map(|m| models_root.join(m).to_string_lossy().into_owned()).collect();
    }
    if config.name.is_none() {
        config.name = Some(source.name());
    }
    let (sources, designs) = gather(parsed, limits, &mut diagnostics);
    Ok(Repo { sources, designs, diagnostics, files, config, root, commit: Some(commit.to_string()) })
}

/// Which repository paths of a revision are read: those below `paths`
/// (the root means weft.yaml's `paths`) that are design files and not
/// ignored by weft.yaml, and files named explicitly.
fn revision_filter(source: &git::Source, config: &Config, paths: &[PathBuf]) -> Result<impl Fn(&str) -> bool + use<>, Fatal> {
    // Repository paths to read below; the root means weft.yaml's `paths`.
    let mut prefixes: Vec<String> = Vec::new();
    for path in paths {
        let relative = source.relative(path).unwrap_or_else(|| path.to_string_lossy().replace('\\', "/"));
        let relative = relative.trim_start_matches("./").trim_matches('/').to_owned();
        if (relative.is_empty() || relative == ".") && !config.paths.is_empty() {
            prefixes.extend(config.paths.iter().map(|p| p.trim_start_matches("./").trim_matches('/').to_owned()));
        } else if relative != "." {
            prefixes.push(relative);
        } else {
            prefixes.push(String::new());
        }
    }
    let mut ignore = ignore::gitignore::GitignoreBuilder::new("");
    for pattern in &config.ignore {
        ignore.add_line(None, pattern).map_err(|e| Fatal(format!("weft.yaml: bad ignore pattern `{pattern}`: {e}")))?;
    }
    let ignore = ignore.build().map_err(|e| Fatal(format!("weft.yaml: {e}")))?;
    Ok(move |path: &str| {
        let named = prefixes.iter().any(|p| p == path);
        let below = prefixes.iter().any(|p| p.is_empty() || path.starts_with(&format!("{p}/")));
        named || (below && is_candidate(Path::new(path)) && !ignore.matched_path_or_any_parents(path, false).is_ignore())
    })
}

/// The files of a base revision that differ from a head commit already
/// loaded, and the base's designs in them: `weft check` reuses the head's
/// designs for every other file instead of reading the base whole.
pub struct Changes {
    /// Repository paths of the design files (those `load_revision` would
    /// read) that differ between the two commits, in either.
    pub files: std::collections::BTreeSet<String>,
    /// The base's designs in those files, in load order; their sources are
    /// numbered in `sources`.
    pub designs: Vec<Design>,
    pub sources: Sources,
}

/// Reads, of revision `base`, only the design files that differ from
/// commit `head` (of the same repository), as `load_revision` would read
/// them. `None` when the two differ in more than design files (weft.yaml,
/// or the model folders it names): then only a whole load of the base
/// reads it as it is.
pub fn load_changes(base: &Revision, head: &str, paths: &[PathBuf], options: &Options) -> Result<Option<Changes>, Fatal> {
    let source = git::Source::open(base.location, base.cache)?;
    let base_id = source.resolve(base.rev)?;
    let head_id = git2::Oid::from_str(head).map_err(|e| Fatal(format!("{}: `{head}` is not a commit id: {}", base.location, e.message())))?;
    let config_text = |id| -> Result<Option<Option<Vec<u8>>>, Fatal> {
        Ok(match source.file(id, config::FILE_NAME, 1 << 20)? {
            None => Some(None),
            Some(git::Blob { content: Ok(bytes), .. }) => Some(Some(bytes)),
            Some(git::Blob { content: Err(_), .. }) => None,
        })
    };
    let text = config_text(base_id)?;
    if text.is_none() || text != config_text(head_id)? {
        return Ok(None);
    }
    let config = match text.flatten() {
        None => Config::default(),
        Some(bytes) => match Config::parse(&String::from_utf8_lossy(&bytes), config::FILE_NAME) {
            Ok(config) => config,
            Err(_) => return Ok(None),
        },
    };
    let limits = limits_for(&config, options);
    let keep = revision_filter(&source, &config, paths)?;
    let changed = source.changed_paths(base_id, head_id)?;
    let models: Vec<String> = config.models.iter().map(|m| format!("{}/", m.trim_start_matches("./").trim_matches('/'))).collect();
    if changed.iter().any(|path| models.iter().any(|m| path.starts_with(m.as_str()) || m == "/")) {
        return Ok(None);
    }
    let files: std::collections::BTreeSet<String> = changed.into_iter().filter(|path| keep(path)).collect();
    let mut blobs = Vec::new();
    for path in &files {
        // A file the head added is not in the base.
        blobs.extend(source.file(base_id, path, limits.max_file_size)?);
    }
    let parsed: Vec<FileResult> = blobs
        .into_par_iter()
        .map(|blob| {
            let mut result = FileResult::default();
            if let Ok(bytes) = blob.content {
                read_bytes(&blob.path, &bytes, &limits, &mut result);
            }
            result
        })
        .collect();
    // The base's own findings are not the change's.
    let (sources, designs) = gather(parsed, limits, &mut Vec::new());
    Ok(Some(Changes { files, designs, sources }))
}

/// Files to read: every `.yaml`, `.yml`, `.json`, `.tar`, `.tgz` below the
/// given directories (or the `paths` of weft.yaml), and files named
/// explicitly whatever their extension. Sorted, so output is stable.
fn collect_files(paths: &[PathBuf], root: &Path, config: &Config) -> Result<Vec<PathBuf>, Fatal> {
    let mut files = Vec::new();
    let mut walk_roots = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path)
            .map_err(|e| Fatal(format!("cannot read {}: {e}", path.display())))?;
        if meta.is_dir() {
            if path == root && !config.paths.is_empty() {
                walk_roots.extend(config.paths.iter().map(|p| root.join(p)));
            } else {
                walk_roots.push(path.clone());
            }
        } else {
            files.push(path.clone());
        }
    }
    let mut overrides = ignore::overrides::OverrideBuilder::new(root);
    for pattern in &config.ignore {
        overrides
            .add(&format!("!{pattern}"))
            .map_err(|e| Fatal(format!("weft.yaml: bad ignore pattern `{pattern}`: {e}")))?;
    }
    let overrides = overrides.build().map_err(|e| Fatal(format!("weft.yaml: {e}")))?;
    for walk_root in walk_roots {
        if !walk_root.exists() {
            return Err(Fatal(format!("weft.yaml names {} but it does not exist", walk_root.display())));
        }
        let walker = ignore::WalkBuilder::new(&walk_root)
            .overrides(overrides.clone())
            .require_git(false)
            .build();
        for entry in walker {
            let entry = entry.map_err(|e| Fatal(format!("cannot walk {}: {e}", walk_root.display())))?;
            let path = entry.path();
            if entry.file_type().is_some_and(|t| t.is_file()) && is_candidate(path) {
                files.push(path.to_path_buf());
            }
        }
    }
    // The same file named twice (`. sub`, `a.yaml ./a.yaml`) is read once.
    let mut keyed: Vec<(PathBuf, PathBuf)> =
        files.into_iter().map(|f| (std::fs::canonicalize(&f).unwrap_or_else(|_| f.clone()), f)).collect();
    keyed.sort();
    keyed.dedup_by(|a, b| a.0 == b.0);
    let mut files: Vec<PathBuf> = keyed.into_iter().map(|(_, f)| f).collect();
    files.sort();
    Ok(files)
}

fn is_candidate(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name == config::FILE_NAME {
        return false;
    }
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json" | "tar" | "tgz")
    ) || name.ends_with(".tar.gz")
}

/// How a path is shown: relative to the working directory, with `/`.
pub fn display_path(path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    let shown = cwd
        .as_deref()
        .and_then(|cwd| path.strip_prefix(cwd).ok())
        .unwrap_or(path);
    let shown = shown.strip_prefix(".").unwrap_or(shown);
    shown.to_string_lossy().replace('\\', "/")
}

/// One text that yielded designs: a file, or a file inside an archive.
struct Unit {
    display: String,
    text: Arc<str>,
    designs: Vec<Design>,
}

#[derive(Default)]
struct FileResult {
    units: Vec<Unit>,
    diagnostics: Vec<Diagnostic>,
}

/// What `reader` holds, if it is at most `cap` bytes (`None` if more).
/// Reading stops one byte past the cap, so an endless input (`/dev/zero`,
/// a pipe) is refused without being held.
pub fn read_capped(reader: impl std::io::Read, cap: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(reader, cap.saturating_add(1)), &mut bytes)?;
    Ok((bytes.len() as u64 <= cap).then_some(bytes))
}

fn read_file(path: &Path, limits: &Limits) -> FileResult {
    let display = display_path(path);
    let mut result = FileResult::default();
    let size = match std::fs::metadata(path) {
        Ok(meta) => meta.len(),
        Err(e) => {
            result.diagnostics.push(Diagnostic::new(&codes::UNREADABLE, format!("cannot read file: {e}")).at(&display, None));
            return result;
        }
    };
    if size > limits.max_file_size {
        result.diagnostics.push(
            Diagnostic::new(
                &codes::FILE_TOO_LARGE,
                format!("file is {} bytes, over the {} byte cap", size, limits.max_file_size),
            )
            .at(&display, None),
        );
        return result;
    }
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            result.diagnostics.push(Diagnostic::new(&codes::UNREADABLE, format!("cannot read file: {e}")).at(&display, None));
            return result;
        }
    };
    read_bytes(&display, &bytes, limits, &mut result);
    result
}

/// Loads one file's content as if it had been read from `display` (whose
/// extension tells archives apart): the designs and the diagnostics. For
/// tools and fuzzing; `load` is the way to read a repo.
pub fn load_bytes(display: &str, bytes: &[u8], limits: &Limits) -> (Vec<Design>, Vec<Diagnostic>) {
    let mut result = FileResult::default();
    read_bytes(display, bytes, limits, &mut result);
    let designs = result.units.into_iter().flat_map(|u| u.designs).collect();
    (designs, result.diagnostics)
}

fn read_bytes(display: &str, bytes: &[u8], limits: &Limits, result: &mut FileResult) {
    if !oci::is_archive(Path::new(display), bytes) {
        return read_text(display, bytes, limits, result);
    }
    match oci::design_files(bytes, limits.max_file_size) {
        Ok(members) => {
            for (member, bytes) in members {
                read_text(&format!("{display}:{member}"), &bytes, limits, result);
            }
        }
        Err(oci::NoDesigns::Other(what)) => result
            .diagnostics
            .push(Diagnostic::new(&codes::SKIPPED_FILE, format!("{what}; skipped")).at(display, None)),
        Err(oci::NoDesigns::Unreadable(message)) => {
            result.diagnostics.push(Diagnostic::new(&codes::UNREADABLE, message).at(display, None))
        }
    }
}

fn read_text(display: &str, bytes: &[u8], limits: &Limits, result: &mut FileResult) {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let valid = &bytes[..e.valid_up_to()];
            let (line, column) = yaml::line_column(std::str::from_utf8(valid).unwrap_or(""), valid.len());
            result.diagnostics.push(
                Diagnostic::new(&codes::NOT_UTF8, format!("invalid UTF-8 byte 0x{:02x}", bytes[e.valid_up_to()]))
                    .at(display, Some(crate::diagnostic::Span { line, column, len: 1 })),
            );
            return;
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // The text is kept even when it yields nothing, so diagnostics can quote it.
    let mut unit = Unit { display: display.to_owned(), text: Arc::from(text), designs: Vec::new() };
    match yaml::parse_stream(display, text, limits) {
        Err(diagnostic) => result.diagnostics.push(diagnostic),
        Ok(docs) if docs.is_empty() => result.diagnostics.push(
            Diagnostic::new(&codes::EMPTY_DOCUMENT, "the file holds no YAML document").at(display, None),
        ),
        Ok(docs) => {
            let (designs, diagnostics) = classify(display, &docs);
            result.diagnostics.extend(diagnostics);
            unit.designs = designs;
        }
    }
    result.units.push(unit);
}

/// Turns the documents of one file into designs: Meshery designs each
/// become one; the Kubernetes objects of the file together become one.
fn classify(display: &str, docs: &[Node]) -> (Vec<Design>, Vec<Diagnostic>) {
    let mut designs = Vec::new();
    let mut diagnostics = Vec::new();
    let mut objects = manifest::Collector::new(display);
    let mut unrecognised = 0;
    for (index, doc) in docs.iter().enumerate() {
        let origin = Origin { source: 0, doc: index, pointer: String::new() };
        match kind_of(doc) {
            DocKind::Design(format) => {
                if let Some(design) = meshery::design(display, doc, origin, format, &mut diagnostics) {
                    designs.push(design);
                }
            }
            DocKind::Services => {
                if let Some(design) = meshery::services_design(display, doc, origin, &mut diagnostics) {
                    designs.push(design);
                }
            }
            DocKind::UnsupportedDesign(version) => diagnostics.push(
                Diagnostic::new(&codes::INVALID_DESIGN, format!("unsupported design schemaVersion `{version}`"))
                    .at(display, Some(doc.locate("/schemaVersion")))
                    .hint("weft reads designs.meshery.io/v1beta1 and designs.meshery.io/v1beta3"),
            ),
            DocKind::Object => objects.add(doc, origin, &mut diagnostics),
            DocKind::Tooling | DocKind::Other => unrecognised += 1,
        }
    }
    if let Some(design) = objects.finish() {
        designs.push(design);
    }
    if designs.is_empty() && unrecognised == docs.len() {
        diagnostics.push(
            Diagnostic::new(&codes::SKIPPED_FILE, "neither a design nor Kubernetes objects; skipped")
                .at(display, None),
        );
    }
    (designs, diagnostics)
}

enum DocKind {
    Design(Format),
    UnsupportedDesign(String),
    Services,
    Object,
    /// Files that configure tools rather than describe cluster objects.
    Tooling,
    Other,
}

fn kind_of(doc: &Node) -> DocKind {
    if !doc.is_map() {
        return DocKind::Other;
    }
    if let Some(version) = doc.get("schemaVersion").and_then(Node::as_str) {
        return match version {
            "designs.meshery.io/v1beta1" => DocKind::Design(Format::MesheryV1beta1),
            "designs.meshery.io/v1beta3" => DocKind::Design(Format::MesheryV1beta3),
            v if v.starts_with("designs.meshery.io/") => DocKind::UnsupportedDesign(v.to_owned()),
            _ => DocKind::Other,
        };
    }
    let api_version = doc.get("apiVersion").and_then(Node::as_str);
    if let (Some(api_version), Some(_)) = (api_version, doc.get("kind")) {
        let group = crate::design::group_of(api_version);
        // Kustomize and kubectl configuration files look like objects but are
        // never sent to a cluster.
        if matches!(group, "kustomize.config.k8s.io" | "config.kubernetes.io" | "kubectl.config.k8s.io")
            || doc.get("kind").and_then(Node::as_str) == Some("Config") && group.is_empty()
        {
            return DocKind::Tooling;
        }
        return DocKind::Object;
    }
    // Docker Compose files have a `services:` map too; Meshery's services
    // carry a `type` (the kind) or `settings`, Compose services never do.
    if let Some(Value::Map(services)) = doc.get("services").map(|s| &s.value)
        && services.iter().any(|s| s.value.get("type").is_some() || s.value.get("settings").is_some()) {
            return DocKind::Services;
        }
    DocKind::Other
}
