//! Embeds the shipped catalog (`catalog/<entry>/design.yaml`) into the
//! binary, so `weft catalog` works from any directory and from an
//! installed binary without the repository beside it.

use std::path::Path;

fn main() {
    let catalog = Path::new(env!("CARGO_MANIFEST_DIR")).join("../catalog");
    // A directory watched by cargo is compared by the newest mtime of
    // everything below it: adding, removing or editing an entry rebuilds.
    println!("cargo:rerun-if-changed={}", catalog.display());
    let mut entries: Vec<(String, String)> = Vec::new();
    // Outside the workspace (a packaged crate) there is no catalog to
    // embed: say so at build time rather than ship an empty one silently.
    if !catalog.is_dir() {
        println!("cargo:warning=no catalog at {}: `weft catalog` will list nothing but what --catalog names", catalog.display());
    }
    if let Ok(dir) = std::fs::read_dir(&catalog) {
        for folder in dir.flatten() {
            let design = folder.path().join("design.yaml");
            if design.is_file() {
                let name = folder.file_name().to_string_lossy().into_owned();
                let path = design.canonicalize().unwrap_or(design);
                entries.push((name, path.to_string_lossy().into_owned()));
            }
        }
    }
    entries.sort();
    let mut code = String::from("/// The catalog shipped with weft: (entry name, design text), by name.\npub(crate) const SHIPPED: &[(&str, &str)] = &[\n");
    for (name, path) in &entries {
        code.push_str(&format!("    ({name:?}, include_str!({path:?})),\n"));
    }
    code.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("catalog_entries.rs");
    std::fs::write(out, code).expect("OUT_DIR is writable");
}
