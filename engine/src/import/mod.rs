//! `weft import`: a Meshery design from what teams already have.
//!
//! The source is recognised in Meshery's order (meshkit's `IdentifyFile`):
//! a Meshery design (v1beta1, v1beta3, the legacy `services:` format, an
//! OCI tarball), Kubernetes manifests (files, folders, `List`s), a Helm
//! chart (refused: only rendered output is imported), Docker Compose
//! (`compose.rs`) and Kustomize (`kustomize.rs`). Everything but a Meshery
//! design becomes manifests first and is read by the loader, so ids,
//! diagnostics and positions are the loader's.
//!
//! The design then gets the relationships inference finds and it does not
//! record, as `weft evaluate` adds them; its components are left as they
//! are (no namespaces added, no patches), so importing a Meshery design
//! changes nothing else, and importing the result again adds nothing.

pub mod compose;
pub mod kustomize;

use crate::design::{Design, Format};
use crate::diagnostic::{Diagnostic, Severity};
use crate::load::{self, source::Sources, yaml::Limits};
use crate::model::Registry;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;

/// Namespace of the UUIDv5 ids of imported designs.
const ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x3e8a_c0d1_5b27_4f96_a1e4_7c20_9d58_b613);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemaVersion {
    V1beta1,
    V1beta3,
}

impl SchemaVersion {
    fn design(self) -> &'static str {
        match self {
            SchemaVersion::V1beta1 => "designs.meshery.io/v1beta1",
            SchemaVersion::V1beta3 => "designs.meshery.io/v1beta3",
        }
    }
    /// Inside a v1beta3 design, components and models are one version
    /// behind (Meshery's `models/v1beta3/const.go`).
    fn component(self) -> &'static str {
        match self {
            SchemaVersion::V1beta1 => "components.meshery.io/v1beta1",
            SchemaVersion::V1beta3 => "components.meshery.io/v1beta2",
        }
    }
    fn model(self) -> &'static str {
        match self {
            SchemaVersion::V1beta1 => "models.meshery.io/v1beta1",
            SchemaVersion::V1beta3 => "models.meshery.io/v1beta2",
        }
    }
}

/// What a source turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    Design,
    Manifests,
    Compose,
    Kustomize,
    Cluster,
}

impl SourceKind {
    pub fn describe(self) -> &'static str {
        match self {
            SourceKind::Design => "a Meshery design",
            SourceKind::Manifests => "Kubernetes manifests",
            SourceKind::Compose => "a Docker Compose file",
            SourceKind::Kustomize => "a Kustomization",
            SourceKind::Cluster => "a cluster's objects",
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Options<'a> {
    /// The design's name; default: the source's (file stem, folder, Compose `name`).
    pub name: Option<&'a str>,
    /// `None` keeps a Meshery design's own version and writes v1beta1 for
    /// everything else.
    pub schema_version: Option<SchemaVersion>,
}

/// Why nothing was imported.
#[derive(Debug)]
pub enum Error {
    /// The source is broken or not something weft imports (exit 1). The
    /// diagnostics, if any, say where; `sources` holds their texts.
    Input { message: String, diagnostics: Vec<Diagnostic>, sources: Sources },
    /// A file or a tool could not be reached (exit 2).
    Run(String),
}

impl Error {
    fn input(message: impl Into<String>) -> Error {
        Error::Input { message: message.into(), diagnostics: Vec::new(), sources: Sources::default() }
    }
}

/// A source read into the loader's terms: exactly one design.
pub struct Read {
    pub kind: SourceKind,
    pub design: Design,
    pub sources: Sources,
    /// The loader's findings (warnings: errors stop reading).
    pub diagnostics: Vec<Diagnostic>,
    /// What could not be converted, one line each (Compose keys).
    pub unconverted: Vec<String>,
    /// The name the design gets unless told otherwise.
    pub default_name: String,
}

impl Read {
    /// The design as written, every field kept, for a Meshery v1beta1 or
    /// v1beta3 design; `None` for anything weft converted.
    pub fn as_written(&self) -> Option<Value> {
        matches!(self.design.format, Format::MesheryV1beta1 | Format::MesheryV1beta3)
            .then(|| self.sources.document_json(self.design.origin.source, self.design.origin.doc))
            .flatten()
    }

    /// The source text of a Meshery design that is the only document of
    /// its file: what an unchanged export writes back byte for byte.
    pub fn verbatim_text(&self) -> Option<&str> {
        self.as_written()?;
        let source = self.sources.get(self.design.origin.source);
        let limits = Limits { max_file_size: u64::MAX, ..Default::default() };
        let documents = load::yaml::parse_stream(&source.display, &source.text, &limits).ok()?;
        (documents.len() == 1).then_some(&*source.text)
    }
}

/// The imported design, with what the import found on the way.
pub struct Imported {
    pub kind: SourceKind,
    pub design: Value,
    pub unconverted: Vec<String>,
    /// The loader's and validation's findings on the source.
    pub diagnostics: Vec<Diagnostic>,
    pub sources: Sources,
}

fn limits() -> Limits {
    Limits::default()
}

/// Reads a file or folder: a design, manifests, a Compose file, a
/// Kustomization (folder, file or archive); a Helm chart is refused.
pub fn read_path(path: &Path) -> Result<Read, Error> {
    let display = shown(path);
    let default_name = stem(path);
    if path.is_dir() {
        if kustomize::kustomization_file(path).is_some() {
            let text = kustomize::build(path)?;
            return read_text(&format!("{display} (kustomize)"), &text, SourceKind::Kustomize, default_name);
        }
        if path.join("Chart.yaml").is_file() {
            return Err(helm_chart(&display));
        }
        let repo = load::load(&[path.to_path_buf()], &load::Options::default(), &crate::progress::Progress::hidden()).map_err(|f| Error::Run(f.0))?;
        return from_designs(repo.designs, repo.sources, repo.diagnostics, &display, default_name);
    }
    let cap = limits().max_file_size;
    let read = std::fs::File::open(path).and_then(|file| load::read_capped(file, cap)).map_err(|e| Error::Run(format!("cannot read {display}: {e}")))?;
    let Some(bytes) = read else {
        return Err(Error::input(format!("{display} is more than the {cap} byte cap")));
    };
    if path.file_name().is_some_and(|n| n == "Chart.yaml") {
        return Err(helm_chart(&display));
    }
    // Kustomization files need not say what they are (no apiVersion or kind).
    if let Some(folder) = path.parent().filter(|folder| kustomize::kustomization_file(folder).is_some_and(|file| file.file_name() == path.file_name())) {
        let folder = if folder.as_os_str().is_empty() { Path::new(".") } else { folder };
        let text = kustomize::build(folder)?;
        return read_text(&format!("{} (kustomize)", shown(folder)), &text, SourceKind::Kustomize, stem(folder));
    }
    if load::oci::is_archive(path, &bytes) {
        match kustomize::inspect_archive(&bytes, limits().max_file_size).map_err(|e| Error::input(format!("{display}: {e}")))? {
            kustomize::Archive::HelmChart => return Err(helm_chart(&display)),
            kustomize::Archive::Kustomization(unpacked) => {
                let text = kustomize::build(unpacked.dir())?;
                return read_text(&format!("{display} (kustomize)"), &text, SourceKind::Kustomize, default_name);
            }
            kustomize::Archive::Other => {
                let repo = load::load(&[path.to_path_buf()], &load::Options::default(), &crate::progress::Progress::hidden()).map_err(|f| Error::Run(f.0))?;
                return from_designs(repo.designs, repo.sources, repo.diagnostics, &display, default_name);
            }
        }
    }
    read_bytes(&display, &bytes, path.parent(), default_name)
}

/// Reads YAML or JSON text that did not come from a file of its own
/// (standard input): a design, manifests or a Compose file.
pub fn read_stdin(bytes: &[u8]) -> Result<Read, Error> {
    read_bytes("<stdin>", bytes, None, "design".into())
}

/// Reads objects taken from a cluster, as manifests.
pub fn read_objects(display: &str, objects: &[Value], default_name: &str) -> Result<Read, Error> {
    if objects.is_empty() {
        return Err(Error::input(format!("{display}: no object to import")));
    }
    let text = crate::export::yaml_stream(objects).map_err(Error::Run)?;
    read_text(display, &text, SourceKind::Cluster, default_name.to_owned())
}

/// The text of one file: loaded as a design or manifests, else tried as
/// Compose and as a Kustomization (whose folder is `folder`).
fn read_bytes(display: &str, bytes: &[u8], folder: Option<&Path>, default_name: String) -> Result<Read, Error> {
    let limits = limits();
    if bytes.len() as u64 > limits.max_file_size {
        return Err(Error::input(format!("{display} is {} bytes, over the {} byte cap", bytes.len(), limits.max_file_size)));
    }
    let (designs, diagnostics) = load::load_bytes(display, bytes, &limits);
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut sources = Sources::new(limits);
    sources.add(display.to_owned(), Arc::from(text));
    if !designs.is_empty() || diagnostics.iter().any(Diagnostic::is_error) {
        return from_designs(designs, sources, diagnostics, display, default_name);
    }
    let documents = load::yaml::parse_stream(display, text, &limits).unwrap_or_default();
    if let Some(compose_file) = documents.iter().find(|d| compose::is_compose(d)) {
        let converted = compose::convert(compose_file, text);
        if converted.objects.is_empty() {
            return Err(Error::input(format!("{display}: a Docker Compose file with no service to convert")));
        }
        let name = converted.name.clone().unwrap_or(default_name);
        let text = crate::export::yaml_stream(&converted.objects).map_err(Error::Run)?;
        let mut read = read_text(&format!("{display} (converted)"), &text, SourceKind::Compose, name)?;
        read.unconverted = converted.unconverted;
        return Ok(read);
    }
    if documents.iter().any(kustomize::is_kustomization) {
        let Some(folder) = folder else {
            return Err(Error::input(format!("{display} is a Kustomization; name its folder, whose files it refers to")));
        };
        let folder = if folder.as_os_str().is_empty() { Path::new(".") } else { folder };
        let text = kustomize::build(folder)?;
        return read_text(&format!("{} (kustomize)", shown(folder)), &text, SourceKind::Kustomize, default_name);
    }
    Err(Error::input(format!(
        "{display} is neither a Meshery design, Kubernetes manifests, a Docker Compose file nor a Kustomization"
    )))
}

/// Manifests weft produced (from Compose, Kustomize or a cluster).
fn read_text(display: &str, text: &str, kind: SourceKind, default_name: String) -> Result<Read, Error> {
    let mut read = read_bytes(display, text.as_bytes(), None, default_name)?;
    read.kind = kind;
    Ok(read)
}

/// One design out of what the loader read: the Meshery design, or every
/// file of manifests together.
fn from_designs(designs: Vec<Design>, sources: Sources, diagnostics: Vec<Diagnostic>, display: &str, default_name: String) -> Result<Read, Error> {
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(Error::Input { message: format!("{display} cannot be read"), diagnostics, sources });
    }
    let meshery = designs.iter().filter(|d| d.format != Format::Manifests).count();
    let mut designs = designs;
    let design = match (meshery, designs.len()) {
        (_, 0) => return Err(Error::Input { message: format!("{display} holds no design and no Kubernetes object"), diagnostics, sources }),
        (1, 1) => designs.remove(0),
        (0, _) => {
            let mut merged = designs.remove(0);
            for other in designs {
                merged.components.extend(other.components);
            }
            merged
        }
        (_, n) => {
            return Err(Error::Input {
                message: format!("{display} holds {n} designs ({meshery} of them Meshery designs); import one at a time"),
                diagnostics,
                sources,
            });
        }
    };
    let kind = if design.format == Format::Manifests { SourceKind::Manifests } else { SourceKind::Design };
    Ok(Read { kind, design, sources, diagnostics, unconverted: Vec::new(), default_name })
}

/// The Meshery design of what was read, with the relationships inference
/// finds added.
pub fn design(read: Read, registry: &Registry, options: &Options) -> Imported {
    let Read { kind, design, sources, mut diagnostics, unconverted, default_name } = read;
    let designs = vec![design];
    // Validation registers the CRDs the design defines, which inference then resolves.
    let validation = crate::validate::validate(&designs, &sources, registry, crate::validate::Options { allow_unknown: true }, &crate::progress::Progress::hidden());
    diagnostics.extend(validation);
    let design = &designs[0];
    let written = match design.format {
        Format::MesheryV1beta1 | Format::MesheryV1beta3 => sources.document_json(design.origin.source, design.origin.doc),
        _ => None,
    };
    let mut document = match &written {
        Some(document) => document.clone(),
        None => crate::evaluate::design_document(design, registry),
    };
    if design.format == Format::MesheryServices
        && let Some(services) = sources.document_json(design.origin.source, design.origin.doc)
    {
        add_legacy_details(&mut document, design, &services, registry);
    }
    match infer(&designs, registry) {
        Ok(inference) => {
            let response = crate::evaluate::evaluate(&designs, 0, written, &inference, registry, "");
            add_inferred(&mut document, &response["design"]);
        }
        Err(diagnostic) => diagnostics.push(diagnostic),
    }
    if !matches!(design.format, Format::MesheryV1beta1 | Format::MesheryV1beta3) {
        let own_name = Some(design.name.as_str()).filter(|n| design.format == Format::MesheryServices && !n.is_empty());
        let name = options.name.or(own_name).map_or(default_name, str::to_owned);
        document["name"] = json!(name);
        if design.format != Format::MesheryServices || design.id.is_none() {
            document["id"] = json!(content_id(&document));
        }
    } else if let Some(name) = options.name {
        document["name"] = json!(name);
    }
    if !unconverted.is_empty() {
        // Meshery keeps unknown design metadata, so the notes travel with the design.
        if !document.get("metadata").is_some_and(Value::is_object) {
            document["metadata"] = json!({});
        }
        document["metadata"]["unconverted"] = json!(unconverted);
    }
    if let Some(version) = options.schema_version {
        set_schema_version(&mut document, version);
    }
    diagnostics.retain(|d| d.severity != Severity::Info);
    Imported { kind, design: document, unconverted, diagnostics, sources }
}

fn infer(designs: &[Design], registry: &Registry) -> Result<crate::relate::Inference, Diagnostic> {
    let (definitions, _) = crate::relate::load_definitions(registry);
    let members: Vec<(usize, usize)> = (0..designs[0].components.len()).map(|c| (0, c)).collect();
    crate::relate::infer(designs, &members, &definitions, registry, &Default::default())
}

/// Appends the relationships of `evaluated` that `document` does not
/// record and that join two of its own components (evaluation may add
/// components, which an import does not).
fn add_inferred(document: &mut Value, evaluated: &Value) {
    let ids = |doc: &Value, key: &str| -> Vec<String> {
        doc.get(key).and_then(Value::as_array).into_iter().flatten().filter_map(|item| item.get("id").and_then(Value::as_str).map(str::to_owned)).collect()
    };
    let components = ids(document, "components");
    let recorded = ids(document, "relationships");
    let added: Vec<Value> = evaluated
        .get("relationships")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| r.get("id").and_then(Value::as_str).is_some_and(|id| !recorded.iter().any(|known| known == id)))
        .filter(|r| {
            let ends = ["from", "to"].map(|side| {
                r.pointer(&format!("/selectors/0/allow/{side}/0/id")).and_then(Value::as_str).is_some_and(|id| components.iter().any(|c| c == id))
            });
            ends == [true, true]
        })
        .cloned()
        .collect();
    if added.is_empty() {
        return;
    }
    match document.get_mut("relationships") {
        Some(Value::Array(relationships)) => relationships.extend(added),
        _ => document["relationships"] = Value::Array(added),
    }
}

/// What Meshery's conversion of a `services:` design keeps beyond the
/// component itself (`design_conversion.go`): the canvas position, the
/// namespaced flag and `dependsOn`. A service without `apiVersion` gets
/// the registry's, so Meshery can look its kind up.
fn add_legacy_details(document: &mut Value, design: &Design, services: &Value, registry: &Registry) {
    let Some(components) = document.get_mut("components").and_then(Value::as_array_mut) else { return };
    for (component, source) in components.iter_mut().zip(&design.components) {
        let Some(service) = services.pointer(&source.origin.pointer) else { continue };
        let meshmap = service.pointer("/traits/meshmap");
        let position = meshmap.and_then(|m| m.get("position"));
        if let (Some(x), Some(y)) = (position.and_then(|p| p.get("posX")), position.and_then(|p| p.get("posY"))) {
            component["styles"] = json!({"position": {"x": x, "y": y}});
        }
        let mut metadata = serde_json::Map::new();
        // Meshery reads `meshmodel-metadata`; files it wrote say `model-metadata` too.
        let namespaced = meshmap.and_then(|m| m.pointer("/meshmodel-metadata/isNamespaced").or_else(|| m.pointer("/model-metadata/isNamespaced")));
        if let Some(namespaced) = namespaced.and_then(|n| n.as_bool().or_else(|| n.as_str().map(|s| s == "true"))) {
            metadata.insert("isNamespaced".into(), json!(namespaced));
        }
        if let Some(depends_on) = service.get("dependsOn").filter(|d| d.as_array().is_some_and(|d| !d.is_empty())) {
            metadata.insert("dependsOn".into(), depends_on.clone());
        }
        if !metadata.is_empty() {
            component["metadata"] = Value::Object(metadata);
        }
        if source.api_version.is_empty()
            && let Some(definition) = registry.lookup("", &source.kind)
        {
            component["component"]["version"] = json!(definition.api_version);
        }
    }
}

/// A UUIDv5 of the design's name and component ids: the same source
/// imports to the same id.
fn content_id(document: &Value) -> String {
    let mut key = document.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
    for component in document.get("components").and_then(Value::as_array).into_iter().flatten() {
        key.push('/');
        key.push_str(component.get("id").and_then(Value::as_str).unwrap_or_default());
    }
    uuid::Uuid::new_v5(&ID_NAMESPACE, key.as_bytes()).to_string()
}

/// Writes the design, component and model schema versions of `version`.
fn set_schema_version(document: &mut Value, version: SchemaVersion) {
    document["schemaVersion"] = json!(version.design());
    for component in document.get_mut("components").and_then(Value::as_array_mut).into_iter().flatten() {
        let Some(component) = component.as_object_mut() else { continue };
        component.insert("schemaVersion".into(), json!(version.component()));
        if let Some(Value::Object(model)) = component.get_mut("model")
            && (model.contains_key("schemaVersion") || version == SchemaVersion::V1beta3)
        {
            model.insert("schemaVersion".into(), json!(version.model()));
        }
    }
}

/// The name a source gives its design: the file's name without its
/// extensions (`shop.tar.gz` → `shop`), or the folder's.
fn stem(path: &Path) -> String {
    let name = std::fs::canonicalize(path).ok().and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    let name = name.or_else(|| path.file_name().map(|n| n.to_string_lossy().into_owned())).unwrap_or_else(|| "design".into());
    if path.is_dir() {
        return name;
    }
    let base = [".tar.gz", ".tgz", ".tar", ".yaml", ".yml", ".json"].iter().find_map(|ext| name.strip_suffix(ext)).unwrap_or(&name);
    if base.is_empty() { "design".into() } else { base.to_owned() }
}

/// A path for messages: relative to the working directory, and `.` for it
/// (which `load::display_path` shows as nothing).
pub(crate) fn shown(path: &Path) -> String {
    let display = load::display_path(path);
    if display.is_empty() { ".".into() } else { display }
}

fn helm_chart(display: &str) -> Error {
    Error::input(format!(
        "{display} is a Helm chart: weft imports rendered charts only; run `helm template RELEASE {display} | weft import - -o design.yaml`"
    ))
}
