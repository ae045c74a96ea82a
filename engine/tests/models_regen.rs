//! The committed `models/` tree is exactly what the generator makes from
//! `models/sources/`. With `WEFT_BLESS=1` these tests rewrite the tree
//! (and `engine/src/model/object_meta.json`) instead of comparing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn bless() -> bool {
    std::env::var_os("WEFT_BLESS").is_some_and(|v| v == "1")
}

/// Relative paths of the files under `dir`, skipping `skip` (relative).
fn files(dir: &Path, skip: &[&str]) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(current) = todo.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(dir).unwrap().to_path_buf();
            // Relationship definitions are written by hand, in Meshery's format.
            if skip.iter().any(|s| relative == Path::new(s)) || path.file_name().is_some_and(|n| n == "relationships") {
                continue;
            }
            if path.is_dir() {
                todo.push(path);
            } else {
                out.insert(relative);
            }
        }
    }
    out
}

#[test]
fn committed_models_match_regeneration() {
    let models = repo().join("models");
    if bless() {
        weft::model::import::regenerate(&models.join("sources"), &models).unwrap();
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    weft::model::import::regenerate(&models.join("sources"), temp.path()).unwrap();

    // Everything in models/ but the inputs and the hand-written files
    // (this script, the README, relationships/) is generated.
    let committed = files(&models, &["sources", "regenerate.sh", "README.md"]);
    let generated = files(temp.path(), &[]);
    assert!(generated.len() > 150, "the generator wrote only {} files", generated.len());
    for path in generated.union(&committed) {
        let new = std::fs::read(temp.path().join(path)).ok();
        let old = std::fs::read(models.join(path)).ok();
        match (old, new) {
            (Some(old), Some(new)) if old == new => {}
            (Some(_), Some(_)) => panic!(
                "models/{} differs from what models/regenerate.sh makes; run it (or WEFT_BLESS=1 cargo test --test models_regen) and commit",
                path.display()
            ),
            (None, _) => panic!("models/{} is missing; run models/regenerate.sh", path.display()),
            (_, None) => panic!("models/{} is not generated from models/sources; remove it", path.display()),
        }
    }
}

#[test]
fn object_meta_for_crds_matches_kubernetes_source() {
    let source = repo().join("models/sources/kubernetes/v1.35.0/_definitions.json");
    let text = std::fs::read_to_string(source).unwrap();
    let closure = weft::model::import::object_meta_closure(&text).unwrap();
    let expected = serde_json::to_string_pretty(&closure).unwrap() + "\n";
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/model/object_meta.json");
    if bless() {
        std::fs::write(&file, &expected).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&file).unwrap();
    assert!(committed == expected, "{} is stale; rerun with WEFT_BLESS=1", file.display());
}

#[test]
fn generation_is_deterministic() {
    let sources = repo().join("models/sources");
    let text = std::fs::read_to_string(sources.join("crds/cert-manager-v1.21.1.yaml")).unwrap();
    let a = weft::model::import::from_crds("cert-manager.yaml", &text, "cert-manager", "v1.21.1").unwrap();
    let b = weft::model::import::from_crds("cert-manager.yaml", &text, "cert-manager", "v1.21.1").unwrap();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    weft::model::import::write_model(&a, dirs[0].path()).unwrap();
    weft::model::import::write_model(&b, dirs[1].path()).unwrap();
    let listing = files(dirs[0].path(), &[]);
    assert_eq!(listing, files(dirs[1].path(), &[]));
    for path in &listing {
        assert_eq!(
            std::fs::read(dirs[0].path().join(path)).unwrap(),
            std::fs::read(dirs[1].path().join(path)).unwrap(),
            "{}",
            path.display()
        );
    }
}
