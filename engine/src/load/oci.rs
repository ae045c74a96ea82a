//! Meshery OCI design tarballs (a docker-save layout whose gzip layer holds
//! `design.yml`) and plain `.tar`/`.tgz` archives of designs. Every read is
//! capped, so a decompression bomb costs at most the file-size cap.

use std::io::{Cursor, Read};
use std::path::Path;

pub fn is_archive(path: &Path, bytes: &[u8]) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with(".tar") || name.ends_with(".tgz") || name.ends_with(".tar.gz") || is_gzip(bytes) && !name.ends_with(".json")
}

fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Why an archive yielded no designs.
pub enum NoDesigns {
    /// The archive is fine but holds something else (a Helm chart).
    Other(String),
    /// The archive cannot be read.
    Unreadable(String),
}

impl From<String> for NoDesigns {
    fn from(message: String) -> Self {
        NoDesigns::Unreadable(message)
    }
}

/// The design files in an archive, as (member name, bytes).
/// `cap` bounds each member; the whole archive, layers included, may
/// expand to four times that.
pub fn design_files(bytes: &[u8], cap: u64) -> Result<Vec<(String, Vec<u8>)>, NoDesigns> {
    let mut budget = cap.saturating_mul(4);
    let members = tar_members(bytes, cap, &mut budget)?;
    if let Some((_, manifest)) = members.iter().find(|(name, _)| name == "manifest.json") {
        return Ok(oci_designs(&members, manifest, cap, &mut budget)?);
    }
    // Chart templates are not YAML until rendered.
    if members.iter().any(|(name, _)| name.split('/').take(2).any(|part| part == "Chart.yaml")) {
        return Err(NoDesigns::Other(
            "a Helm chart: weft reads rendered manifests (`helm template CHART > manifests.yaml`)".into(),
        ));
    }
    let designs: Vec<_> = members
        .into_iter()
        .filter(|(name, _)| {
            let base = name.rsplit('/').next().unwrap_or(name);
            (base.ends_with(".yml") || base.ends_with(".yaml") || base.ends_with(".json"))
                && !base.starts_with("artifacthub-pkg")
        })
        .collect();
    if designs.is_empty() {
        return Err(NoDesigns::Other("the archive holds no design file".into()));
    }
    Ok(designs)
}

fn oci_designs(
    members: &[(String, Vec<u8>)],
    manifest: &[u8],
    cap: u64,
    budget: &mut u64,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let manifest: serde_json::Value =
        serde_json::from_slice(manifest).map_err(|e| format!("OCI manifest.json is not JSON: {e}"))?;
    let layers = manifest
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|image| image.get("Layers").and_then(|l| l.as_array()))
        .flatten()
        .filter_map(|layer| layer.as_str());
    let mut designs = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for layer in layers.filter(|layer| seen.insert(*layer)) {
        let Some((_, data)) = members.iter().find(|(name, _)| name == layer) else {
            return Err(format!("OCI manifest names layer {layer}, which the archive lacks"));
        };
        for (name, content) in tar_members(data, cap, budget)? {
            let base = name.rsplit('/').next().unwrap_or(&name);
            if base == "design.yml" || base == "design.yaml" {
                designs.push((name, content));
            }
        }
    }
    if designs.is_empty() {
        return Err("OCI image holds no design.yml".into());
    }
    Ok(designs)
}

/// Regular-file members of a tar archive, gunzipped first if needed. What
/// is read is taken from `budget`, shared by every archive of one file.
fn tar_members(bytes: &[u8], cap: u64, budget: &mut u64) -> Result<Vec<(String, Vec<u8>)>, String> {
    let too_big = || format!("the archive expands to more than {} bytes", cap.saturating_mul(4));
    if !is_gzip(bytes) {
        return read_tar(Cursor::new(bytes), cap, budget, &too_big);
    }
    // A gzip stream cut off at the budget looks like a corrupt tar; say why.
    let limit = *budget;
    let mut gunzipped = flate2::read::GzDecoder::new(bytes).take(limit);
    let result = read_tar(&mut gunzipped, cap, budget, &too_big);
    match result {
        Err(_) if gunzipped.limit() == 0 => Err(too_big()),
        other => other,
    }
}

fn read_tar<R: Read>(
    reader: R,
    cap: u64,
    budget: &mut u64,
    too_big: &dyn Fn() -> String,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut archive = tar::Archive::new(reader);
    let mut members = Vec::new();
    let entries = archive.entries().map_err(|e| format!("not a readable tar archive: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("corrupt tar archive: {e}"))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry
            .path()
            .map_err(|e| format!("bad member name in archive: {e}"))?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_owned();
        if entry.size() > cap {
            return Err(format!("archive member {name} is {} bytes, over the {cap} byte cap", entry.size()));
        }
        let mut content = Vec::with_capacity(entry.size() as usize);
        entry
            .by_ref()
            .take(cap)
            .read_to_end(&mut content)
            .map_err(|e| format!("cannot read archive member {name}: {e}"))?;
        *budget = budget.checked_sub(content.len() as u64).ok_or_else(too_big)?;
        members.push((name, content));
    }
    Ok(members)
}
