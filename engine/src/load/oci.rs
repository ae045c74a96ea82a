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

/// The regular files of a tar archive (gunzipped if need be), as (name,
/// bytes): each at most `cap` bytes, all of them at most four times that.
pub fn members(bytes: &[u8], cap: u64) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut budget = cap.saturating_mul(4);
    tar_members(bytes, cap, &mut budget)
}

/// Regular-file members of a tar archive, gunzipped first if needed. What
/// is read is taken from `budget`, shared by every archive of one file.
/// Names are plain relative paths: one that climbs out (`../x`, `/etc/x`)
/// makes the archive unreadable, since importing may unpack it.
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
        let path = entry.path().map_err(|e| format!("bad member name in archive: {e}"))?;
        if !path.components().all(|c| matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir)) {
            return Err(format!("archive member {} points outside the archive", path.display()));
        }
        let name = path.to_string_lossy().trim_start_matches("./").to_owned();
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

/// A Meshery OCI design tarball, the layout `oci.rs` reads and Meshery's
/// `?oci=true` export writes: a docker-save archive (`manifest.json`, an
/// image config named by its digest, one gzip layer) whose layer holds
/// `files` (Meshery puts `design.yml` and `artifacthub-pkg.yml` there).
/// The bytes depend only on the arguments (zero mtimes, fixed owners,
/// meshkit's zero `created` time), so an export can be a golden file.
pub fn pack(repo_tag: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let hex = |bytes: &[u8]| crate::render::hex(&Sha256::digest(bytes));
    let layer_tar = tar_of(files.iter().map(|(name, content)| (name.to_string(), content.to_vec())));
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gzip, &layer_tar).expect("writing to memory");
    let layer = gzip.finish().expect("writing to memory");
    let layer_name = format!("{}.tar.gz", hex(&layer));
    let config = serde_json::json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", hex(&layer_tar))]},
        "config": {},
    });
    let config = serde_json::to_vec(&config).expect("JSON values serialise");
    let config_name = format!("sha256:{}", hex(&config));
    let manifest = serde_json::json!([{"Config": config_name, "RepoTags": [repo_tag], "Layers": [layer_name]}]);
    let manifest = serde_json::to_vec(&manifest).expect("JSON values serialise");
    tar_of([("manifest.json".to_string(), manifest), (config_name, config), (layer_name, layer)])
}

fn tar_of(members: impl IntoIterator<Item = (String, Vec<u8>)>) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, content) in members {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder.append_data(&mut header, &name, content.as_slice()).expect("writing to memory");
    }
    builder.into_inner().expect("writing to memory")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_tarballs_read_back_and_are_reproducible() {
        let design = b"name: shop\nschemaVersion: designs.meshery.io/v1beta1\n";
        let package = b"name: shop\nversion: 0.1.0\n";
        let files: [(&str, &[u8]); 2] = [("design.yml", design), ("artifacthub-pkg.yml", package)];
        let packed = pack("shop:0.1.0", &files);
        assert_eq!(packed, pack("shop:0.1.0", &files));
        assert!(is_archive(Path::new("shop.tar"), &packed));
        let Ok(designs) = design_files(&packed, 1 << 20) else { panic!("the tarball must read back") };
        assert_eq!(designs, vec![("design.yml".to_string(), design.to_vec())]);
    }

    #[test]
    fn members_that_climb_out_of_the_archive_are_refused() {
        let mut header = tar::Header::new_old();
        let name = b"../outside.yaml";
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.set_size(2);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        let mut archive = header.as_bytes().to_vec();
        archive.extend_from_slice(b"a\n");
        archive.resize(archive.len() + 510 + 1024, 0);
        let Err(why) = members(&archive, 1 << 20) else { panic!("a member outside the archive was read") };
        assert_eq!(why, "archive member ../outside.yaml points outside the archive");
    }
}
