//! Performance tests as steps of a design: `PerformanceTest` components
//! are taken out of the objects to apply (they are not cluster objects)
//! and run after an apply, their results kept per design, test and commit.

use crate::design::Design;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The API group of weft's own kinds.
pub const GROUP: &str = "perf.weft.dev";
pub const KIND: &str = "PerformanceTest";

/// One `PerformanceTest` of a design.
#[derive(Clone, Debug)]
pub struct TestStep {
    pub design: String,
    pub file: String,
    pub name: String,
    pub namespace: String,
    /// The component's `spec`.
    pub spec: Value,
}

/// Takes the performance tests out of `designs`: they are marked so
/// rendering skips them, and returned.
pub fn take(designs: &mut [Design]) -> Vec<TestStep> {
    let mut steps = Vec::new();
    for design in designs {
        for component in &mut design.components {
            let group = component.api_version.split_once('/').map_or("", |(group, _)| group);
            if component.kind != KIND || group != GROUP || component.ignored || component.is_annotation {
                continue;
            }
            component.ignored = true;
            let configuration = &component.configuration;
            let name = configuration.pointer("/metadata/name").and_then(Value::as_str).map_or_else(|| component.name.clone(), str::to_owned);
            let namespace = configuration
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| component.namespace.clone())
                .unwrap_or_else(|| "default".to_owned());
            steps.push(TestStep { design: design.name.clone(), file: design.file.clone(), name, namespace, spec: configuration.get("spec").cloned().unwrap_or(Value::Null) });
        }
    }
    steps
}

/// Where the results of one test are kept: `<root>/<design>/<test>/`.
pub fn results_dir(root: &Path, step: &TestStep) -> PathBuf {
    root.join(crate::render::dns_label(&step.design)).join(crate::render::dns_label(&format!("{}-{}", step.namespace, step.name)))
}

/// The newest result in `dir` that `keep` accepts, by file name (results
/// are named so that the name sorts by time).
pub fn newest<T>(dir: &Path, keep: impl Fn(&Path) -> Option<T>) -> Option<T> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).ok()?.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "json")).collect();
    files.sort();
    files.iter().rev().find_map(|path| keep(path))
}

/// A result's file name: the time (sortable) and, when known, the commit.
pub fn result_name(commit: Option<&str>) -> String {
    let time = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S%.3fZ").to_string();
    match commit {
        Some(commit) => format!("{time}-{}.json", &commit[..commit.len().min(12)]),
        None => format!("{time}.json"),
    }
}
