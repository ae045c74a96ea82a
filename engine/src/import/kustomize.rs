//! Kustomize sources: a folder (or a file, or an archive of one) with a
//! kustomization, rendered by `kubectl kustomize` into the manifests that
//! are then imported. Archives are unpacked into a private temporary
//! folder first, with the loader's caps, and only plain relative paths.

use super::Error;
use crate::load::yaml::Node;
use std::path::{Path, PathBuf};

const FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The kustomization file of a folder, if it has one.
pub fn kustomization_file(dir: &Path) -> Option<PathBuf> {
    FILE_NAMES.iter().map(|name| dir.join(name)).find(|path| path.is_file())
}

/// A document that is a kustomization (`kind: Kustomization` or
/// `Component` of `kustomize.config.k8s.io`).
pub fn is_kustomization(document: &Node) -> bool {
    let api_version = document.get("apiVersion").and_then(Node::as_str).unwrap_or("");
    api_version.starts_with("kustomize.config.k8s.io/")
        && matches!(document.get("kind").and_then(Node::as_str), Some("Kustomization" | "Component"))
}

/// The manifests `kubectl kustomize DIR` renders.
pub fn build(dir: &Path) -> Result<String, Error> {
    let shown = super::shown(dir);
    let output = match std::process::Command::new("kubectl").arg("kustomize").arg(dir).output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::Run(format!(
                "{shown} is a Kustomization, which weft renders with `kubectl kustomize`, and kubectl is not on PATH; install kubectl, or run `kustomize build {shown} | weft import - -o design.yaml`"
            )));
        }
        Err(e) => return Err(Error::Run(format!("cannot run `kubectl kustomize {shown}`: {e}"))),
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(Error::input(format!("`kubectl kustomize {shown}` failed: {}", stderr.trim())));
    }
    String::from_utf8(output.stdout).map_err(|_| Error::input(format!("`kubectl kustomize {shown}` wrote something that is not UTF-8")))
}

/// What an archive holds, as far as importing goes.
pub enum Archive {
    /// A kustomization, unpacked; `dir` is the folder of the top one.
    Kustomization(Unpacked),
    HelmChart,
    /// Anything else: designs or manifests, for the loader.
    Other,
}

/// A temporary folder an archive was unpacked into, removed on drop.
pub struct Unpacked {
    root: tempfile::TempDir,
    kustomization: PathBuf,
}

impl Unpacked {
    /// The folder of the archive's top-most kustomization.
    pub fn dir(&self) -> &Path {
        &self.kustomization
    }
}

/// Looks into a `.tar`/`.tgz` archive: a chart (`Chart.yaml` at its top or
/// one folder down, as charts are packed), a kustomization (unpacked), or
/// something else. `cap` bounds each member; all of them together may
/// come to four times that, as in the loader.
pub fn inspect_archive(bytes: &[u8], cap: u64) -> Result<Archive, String> {
    let members = crate::load::oci::members(bytes, cap)?;
    let names: Vec<&str> = members.iter().map(|(name, _)| name.as_str()).collect();
    if names.iter().any(|name| name.split('/').take(2).any(|part| part == "Chart.yaml")) {
        return Ok(Archive::HelmChart);
    }
    // The shallowest kustomization is the one the others are bases of.
    let top = names
        .iter()
        .filter(|name| FILE_NAMES.iter().any(|file| name.rsplit('/').next() == Some(file)))
        .min_by_key(|name| (name.matches('/').count(), name.to_string()));
    let Some(top) = top else { return Ok(Archive::Other) };
    let folder = Path::new(top).parent().map(Path::to_path_buf).unwrap_or_default();
    let root = tempfile::Builder::new().prefix("weft-import-").tempdir().map_err(|e| format!("cannot make a temporary folder: {e}"))?;
    let unpacked = Unpacked { kustomization: root.path().join(folder), root };
    for (name, content) in &members {
        let target = unpacked.root.path().join(name);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot unpack the archive: {e}"))?;
        }
        std::fs::write(&target, content).map_err(|e| format!("cannot unpack the archive: {e}"))?;
    }
    Ok(Archive::Kustomization(unpacked))
}


