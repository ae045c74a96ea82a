//! Any bytes, read as a YAML file or as an archive: weft must return
//! designs or diagnostics, never panic, and stay within its limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft::load::{load_bytes, yaml::Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_file_size: 1 << 20, max_depth: 64, max_alias_replay: 10_000, max_nodes: 100_000 };
    let name = if data.first() == Some(&0x1f) { "input.tgz" } else { "input.yaml" };
    let (designs, diagnostics) = load_bytes(name, data, &limits);
    for diagnostic in &diagnostics {
        assert!(!diagnostic.message.is_empty());
    }
    for design in &designs {
        for component in &design.components {
            assert!(!component.kind.is_empty());
        }
    }
});
