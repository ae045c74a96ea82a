//! `weft.yaml`: the optional repo-level settings file.

use super::yaml::Limits;
use crate::diagnostic::{Diagnostic, Span, codes};
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "weft.yaml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// Name of the inventory weft keeps on each cluster (default: the repo folder's name).
    #[serde(default)]
    pub name: Option<String>,
    /// Paths (relative to the repo root) that hold designs; all of the repo when empty.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Glob patterns (gitignore syntax) of files and folders to skip.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Extra model registries, searched before the shipped one.
    #[serde(default)]
    pub models: Vec<String>,
    /// Extra Rego policy directories.
    #[serde(default)]
    pub policies: Vec<String>,
    /// Objects that exist outside the repository (created by another
    /// team, an operator or the cluster): references to them resolve.
    #[serde(default)]
    pub external: Vec<crate::relate::ExternalObject>,
    /// Policy checks: severities, codes turned off.
    #[serde(default)]
    pub checks: ChecksConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Named sets of clusters for `--env`.
    #[serde(default)]
    pub environments: std::collections::BTreeMap<String, Environment>,
    /// Settings of `weft watch` for this repository; its flags override them.
    #[serde(default)]
    pub watch: WatchConfig,
    #[serde(default, rename = "$schema")]
    pub schema: Option<String>,
}

/// weft.yaml `watch`: the daemon's settings, kept with the designs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WatchConfig {
    pub branch: Option<String>,
    /// With a unit: `30s`, `5m`.
    pub interval: Option<String>,
    pub listen: Option<String>,
    pub env: Option<String>,
    pub auto_sync: Option<bool>,
    pub self_heal: Option<bool>,
    pub prune: Option<bool>,
    /// Relative to weft.yaml.
    pub state_dir: Option<String>,
    /// Relative to weft.yaml.
    pub webhook_secret_file: Option<String>,
    /// URLs that receive a JSON event on sync success, failure and drift.
    #[serde(default)]
    pub notify: Vec<String>,
    pub leader_elect: Option<bool>,
}

/// One environment of weft.yaml: the contexts that receive the designs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    pub contexts: Vec<String>,
    #[serde(default)]
    pub kubeconfig: Option<String>,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChecksConfig {
    /// Whether the shipped best-practice pack (`policies/checks/`) runs.
    #[serde(default = "yes")]
    pub best_practices: bool,
    /// Codes that are not reported at all.
    #[serde(default)]
    pub disable: Vec<String>,
    /// Severity per code: `error`, `warning` or `info`.
    #[serde(default)]
    pub severity: std::collections::BTreeMap<String, crate::diagnostic::Severity>,
}

impl Default for ChecksConfig {
    fn default() -> Self {
        ChecksConfig { best_practices: true, disable: Vec::new(), severity: Default::default() }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LimitsConfig {
    /// Bytes, or a size such as `16MiB`.
    pub max_file_size: Option<Size>,
    pub max_depth: Option<usize>,
    pub max_alias_expansions: Option<usize>,
    /// Design files one run reads at most.
    pub max_files: Option<usize>,
    /// Their total size: bytes, or a size such as `256MiB`.
    pub max_total_size: Option<Size>,
}

#[derive(Debug, Clone, Copy)]
pub struct Size(pub u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bytes(n) => Ok(Size(n)),
            Raw::Text(text) => parse_size(&text).map(Size).ok_or_else(|| {
                serde::de::Error::custom(format!("`{text}` is not a size (use bytes or e.g. 16MiB, 512KiB)"))
            }),
        }
    }
}

pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "Ki" | "K" | "KB" => 1 << 10,
        "MiB" | "Mi" | "M" | "MB" => 1 << 20,
        "GiB" | "Gi" | "G" | "GB" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(factor)
}

impl Config {
    /// Reads `<root>/weft.yaml` if there is one.
    pub fn find(root: &Path, display: &str) -> Result<Option<Config>, Diagnostic> {
        let path = root.join(FILE_NAME);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Diagnostic::new(&codes::UNREADABLE, format!("cannot read {FILE_NAME}: {e}"))
                    .at(display, None));
            }
        };
        Config::parse(&text, display).map(Some)
    }

    /// A weft.yaml's text (as read from disk or from a git revision).
    pub fn parse(text: &str, display: &str) -> Result<Config, Diagnostic> {
        let mut options = serde_saphyr::Options::default();
        options.with_snippet = false;
        serde_saphyr::from_str_with_options::<Option<Config>>(text, options)
            .map(Option::unwrap_or_default)
            .map_err(|e| {
                let span = e.location().map(|l| Span {
                    line: l.line() as u32,
                    column: l.column() as u32,
                    len: 0,
                });
                Diagnostic::new(&codes::CONFIG, e.without_snippet().to_string()).at(display, span)
            })
    }

    pub fn apply_limits(&self, limits: &mut Limits) {
        if let Some(size) = self.limits.max_file_size {
            limits.max_file_size = size.0;
        }
        if let Some(depth) = self.limits.max_depth {
            limits.max_depth = depth;
        }
        if let Some(aliases) = self.limits.max_alias_expansions {
            limits.max_alias_replay = aliases;
        }
    }

    /// What one run may read in all: the defaults, with weft.yaml's caps.
    pub fn budget(&self) -> super::Budget {
        let mut budget = super::Budget::default();
        if let Some(files) = self.limits.max_files {
            budget.max_files = files;
        }
        if let Some(size) = self.limits.max_total_size {
            budget.max_total_size = size.0;
        }
        budget
    }

    pub fn model_dirs(&self, root: &Path) -> Vec<PathBuf> {
        self.models.iter().map(|m| root.join(m)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16MiB"), Some(16 << 20));
        assert_eq!(parse_size("512 KiB"), Some(512 << 10));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("lots"), None);
    }
}
