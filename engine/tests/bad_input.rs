//! Bad input, one case each: every case yields a diagnostic with a stable
//! code, a severity, a message, a file, a line, a column and a hint, a
//! non-zero exit code, and no panic or hang.

mod common;

use common::*;
use std::fs;
use std::time::{Duration, Instant};

fn bad_dir() -> std::path::PathBuf {
    fixtures().join("bad")
}

/// Validates one fixture file and returns the diagnostics with `code`.
fn single(file: &str, code: &str) -> (i32, Vec<(String, u64, u64, String, String)>, serde_json::Value) {
    let (status, report) = validate_json(&[file], &bad_dir());
    let found = with_code(&report, code)
        .into_iter()
        .map(|(f, l, c, s, m)| (f.to_owned(), l, c, s.to_owned(), m.to_owned()))
        .collect();
    (status, found, report)
}

fn assert_complete(report: &serde_json::Value) {
    for d in diagnostics(report) {
        for key in ["severity", "code", "message", "file", "line", "column", "hint"] {
            assert!(!d[key].is_null(), "diagnostic lacks {key}: {d}");
        }
    }
}

#[test]
fn malformed_yaml_points_at_the_error() {
    let (status, found, report) = single("malformed.yaml", "yaml-syntax");
    assert_eq!(status, 1);
    assert_eq!(found.len(), 1, "{report}");
    let (file, line, _, severity, _) = &found[0];
    assert_eq!(file, "malformed.yaml");
    assert!(*line >= 6, "error reported at line {line}, the list opens on line 6");
    assert_eq!(severity, "error");
    assert_complete(&report);
}

#[test]
fn duplicate_keys_are_an_error_at_the_second_key() {
    let (status, found, report) = single("duplicate-key.yaml", "duplicate-key");
    assert_eq!(status, 1);
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!((found[0].1, found[0].2), (8, 3), "{report}");
    assert!(found[0].4.contains("replicas"), "{}", found[0].4);
    assert_complete(&report);
}

#[test]
fn non_utf8_bytes_are_located() {
    let (status, found, report) = single("not-utf8.yaml", "not-utf8");
    assert_eq!(status, 1);
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!((found[0].1, found[0].2), (6, 11));
    assert!(found[0].4.contains("0xfc"));
    assert_complete(&report);
}

#[test]
fn empty_documents_warn_but_pass() {
    let (status, found, report) = single("empty.yaml", "empty-document");
    assert_eq!(status, 0, "a warning alone does not fail the run");
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!(found[0].3, "warning");
    let output = weft(&["validate", "--strict", "empty.yaml"], &bad_dir());
    assert_eq!(output.status.code(), Some(1), "--strict fails on warnings");
}

#[test]
fn colliding_component_ids() {
    let (status, found, report) = single("colliding-ids.yaml", "duplicate-component-id");
    assert_eq!(status, 1);
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!((found[0].1, found[0].2), (12, 5), "points at the second id: {report}");
    assert!(found[0].4.contains("ConfigMap/default/first"), "{}", found[0].4);
}

#[test]
fn relationship_to_a_missing_component() {
    let (status, found, report) = single("dangling-relationship.yaml", "dangling-relationship");
    assert_eq!(status, 1);
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!(found[0].1, 23, "points at the missing `to` id: {report}");
    assert!(found[0].4.contains("00000000dead"));
}

#[test]
fn the_same_object_in_two_files() {
    let (status, report) =
        validate_json(&["duplicate-object-a.yaml", "duplicate-object-b.yaml"], &bad_dir());
    assert_eq!(status, 1);
    let found = with_code(&report, "duplicate-object");
    assert_eq!(found.len(), 1, "{report}");
    let (file, line, column, _, message) = found[0];
    assert_eq!((file, line, column), ("duplicate-object-b.yaml", 4, 3));
    assert!(message.contains("duplicate-object-a.yaml:4:3"), "{message}");
}

#[test]
fn schema_and_semantic_errors_point_at_fields() {
    let (status, report) = validate_json(&["schema-errors.yaml"], &bad_dir());
    assert_eq!(status, 1);
    let at = |code: &str| -> Vec<(u64, u64)> { with_code(&report, code).iter().map(|d| (d.1, d.2)).collect() };
    assert!(at("schema").contains(&(7, 3)), "replicas: three at 7:3 in {report}");
    assert!(at("schema").contains(&(20, 15)), "containerPort: http-port at 20:15 in {report}");
    assert_eq!(at("invalid-name"), vec![(4, 3)], "{report}");
    assert_eq!(at("namespace-on-cluster-scoped"), vec![(26, 3)], "{report}");
    assert_eq!(at("unknown-kind"), vec![(35, 1)], "{report}");
    assert_eq!(at("unknown-version"), vec![(41, 1)], "{report}");
    assert_complete(&report);
    let norway: Vec<_> = diagnostics(&report).iter().filter(|d| d["line"] == 52).collect();
    assert_eq!(norway.len(), 1, "only the unquoted `yes` is an error: {report}");
    assert!(norway[0]["hint"].as_str().unwrap().contains("quote it"), "{report}");

    let (status, relaxed) = validate_json(&["--allow-unknown", "schema-errors.yaml"], &bad_dir());
    assert_eq!(status, 1, "schema errors remain errors");
    let unknown = with_code(&relaxed, "unknown-kind");
    assert_eq!(unknown[0].3, "warning", "--allow-unknown downgrades unknown kinds");
}

#[test]
fn alias_bomb_is_rejected_quickly() {
    let dir = tempfile::tempdir().unwrap();
    // Nine levels of nine aliases: about 387 million "lol"s if expanded.
    let mut bomb = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n");
    bomb.push_str("  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..=9 {
        let refs = vec![format!("*l{}", level - 1); 9].join(", ");
        bomb.push_str(&format!("  l{level}: &l{level} [{refs}]\n"));
    }
    fs::write(dir.path().join("bomb.yaml"), bomb).unwrap();
    let started = Instant::now();
    let (status, report) = validate_json(&["bomb.yaml"], dir.path());
    assert!(started.elapsed() < Duration::from_secs(20), "the bomb must not hang weft");
    assert_eq!(status, 1);
    let found = with_code(&report, "alias-limit");
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!(found[0].0, "bomb.yaml");
}

#[test]
fn files_over_the_size_cap_are_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n");
    while text.len() < 4096 {
        text.push_str("  k: \"0123456789012345678901234567890123456789\"\n".replace('k', &format!("k{}", text.len())).as_str());
    }
    fs::write(dir.path().join("big.yaml"), &text).unwrap();
    let (status, report) = validate_json(&["--max-file-size", "1KiB", "big.yaml"], dir.path());
    assert_eq!(status, 1);
    let found = with_code(&report, "file-too-large");
    assert_eq!(found.len(), 1, "{report}");
    assert!(found[0].4.contains("1024"), "{}", found[0].4);

    fs::write(dir.path().join("weft.yaml"), "limits:\n  maxFileSize: 2KiB\n").unwrap();
    let (status, report) = validate_json(&["."], dir.path());
    assert_eq!(status, 1, "weft.yaml sets the cap too: {report}");
    assert_eq!(with_code(&report, "file-too-large").len(), 1);
}

#[test]
fn default_size_cap_is_16_mib() {
    let dir = tempfile::tempdir().unwrap();
    let file = fs::File::create(dir.path().join("huge.yaml")).unwrap();
    file.set_len(16 * 1024 * 1024 + 1).unwrap();
    let (status, report) = validate_json(&["huge.yaml"], dir.path());
    assert_eq!(status, 1);
    assert_eq!(with_code(&report, "file-too-large").len(), 1, "{report}");
}

#[test]
fn nesting_deeper_than_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let depth = 10_000;
    let text = format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: deep}}\nx: {}{}\n", "[".repeat(depth), "]".repeat(depth));
    fs::write(dir.path().join("deep.yaml"), text).unwrap();
    let (status, report) = validate_json(&["deep.yaml"], dir.path());
    assert_eq!(status, 1);
    let found = with_code(&report, "nesting-limit");
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!(found[0].1, 4);

    let block: String = (0..200).map(|i| format!("{}k{i}:\n", "  ".repeat(i))).collect();
    fs::write(dir.path().join("deep.yaml"), format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: deep}}\n{block}")).unwrap();
    let (status, report) = validate_json(&["--max-depth", "50", "deep.yaml"], dir.path());
    assert_eq!(status, 1);
    assert_eq!(with_code(&report, "nesting-limit").len(), 1, "{report}");
}

#[test]
fn unreadable_path_exits_2() {
    let output = weft(&["validate", "does-not-exist"], &bad_dir());
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("does-not-exist"));
    let output = weft(&["validate", "--format", "nonsense", "."], &bad_dir());
    assert_eq!(output.status.code(), Some(2), "bad flags exit 2");
}

#[test]
fn duplicate_in_a_huge_mapping_is_found_without_quadratic_cost() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big, namespace: x}\ndata:\n");
    for i in 0..100_000 {
        text.push_str(&format!("  k{i}: v\n"));
    }
    text.push_str("  k7: again\n");
    fs::write(dir.path().join("big.yaml"), text).unwrap();
    let started = Instant::now();
    let (status, report) = validate_json(&["big.yaml"], dir.path());
    assert!(started.elapsed() < Duration::from_secs(30), "must not scan the mapping per key");
    assert_eq!(status, 1);
    let found = with_code(&report, "duplicate-key");
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!((found[0].1, found[0].2), (100_005, 3));
}

#[test]
fn generated_names_and_service_names_follow_the_api_server() {
    let dir = tempfile::tempdir().unwrap();
    let job = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: migrate-\n  namespace: ops\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: m, image: busybox}]\n";
    let service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: 1web\n  namespace: ops\nspec:\n  ports: [{port: 80}]\n";
    fs::write(dir.path().join("jobs.yaml"), format!("{job}---\n{job}---\n{service}")).unwrap();
    let (status, report) = validate_json(&["jobs.yaml"], dir.path());
    assert_eq!(status, 1);
    assert!(with_code(&report, "duplicate-object").is_empty(), "generated names never collide: {report}");
    let names = with_code(&report, "invalid-name");
    assert_eq!(names.len(), 1, "only the Service: {report}");
    assert_eq!(names[0].1, 26);
    assert!(names[0].4.contains("start with a lower-case letter"), "{}", names[0].4);
}

#[test]
fn a_file_named_twice_is_read_once() {
    let (status, report) = validate_json(&[".", "duplicate-key.yaml", "./duplicate-key.yaml"], &bad_dir());
    assert_eq!(status, 1);
    assert_eq!(with_code(&report, "duplicate-key").len(), 1, "{report}");
    assert_eq!(report["files"], 9, "nine fixture files: {report}");
}

#[test]
fn command_line_limits_override_weft_yaml_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("weft.yaml"), "limits:\n  maxFileSize: 50\n").unwrap();
    fs::write(dir.path().join("cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: ns}\ndata: {a: b}\n").unwrap();
    let (_, report) = validate_json(&["--max-depth", "64", "."], dir.path());
    assert_eq!(with_code(&report, "file-too-large").len(), 1, "--max-depth keeps weft.yaml's size cap: {report}");
    let (status, report) = validate_json(&["--max-file-size", "1MiB", "."], dir.path());
    assert_eq!(status, 0, "{report}");
}

/// A docker-save archive whose layers each hold a `design.yml` of `size` bytes.
fn oci_archive(layers: usize, size: usize, repeat_first: usize) -> Vec<u8> {
    fn append(builder: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, data).unwrap();
    }
    let mut design = String::from("name: big\nschemaVersion: designs.meshery.io/v1beta1\nversion: v0.0.1\ncomponents: []\n");
    while design.len() < size {
        design.push_str("# padding padding padding padding padding padding padding\n");
    }
    let mut outer = tar::Builder::new(Vec::new());
    let mut names = Vec::new();
    for i in 0..layers {
        let mut inner = tar::Builder::new(Vec::new());
        append(&mut inner, "design.yml", design.as_bytes());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut gz, &inner.into_inner().unwrap()).unwrap();
        let name = format!("layer{i}.tar.gz");
        append(&mut outer, &name, &gz.finish().unwrap());
        names.push(name);
    }
    for _ in 0..repeat_first {
        names.push(names[0].clone());
    }
    let manifest = serde_json::json!([{"Config": "config.json", "RepoTags": ["big:latest"], "Layers": names}]);
    append(&mut outer, "manifest.json", manifest.to_string().as_bytes());
    outer.into_inner().unwrap()
}

#[test]
fn archives_expand_within_one_budget() {
    let dir = tempfile::tempdir().unwrap();
    // A layer named a hundred times is read once.
    fs::write(dir.path().join("repeat.tar"), oci_archive(1, 300_000, 100)).unwrap();
    let (_, report) = validate_json(&["--max-file-size", "1MiB", "repeat.tar"], dir.path());
    assert_eq!(report["designs"].as_array().unwrap().len(), 1, "{report}");
    // Ten distinct layers of 500 KB each exceed four times the 1 MiB cap.
    fs::write(dir.path().join("layers.tar"), oci_archive(10, 500_000, 0)).unwrap();
    let (status, report) = validate_json(&["--max-file-size", "1MiB", "layers.tar"], dir.path());
    assert_eq!(status, 1);
    let found = with_code(&report, "unreadable");
    assert_eq!(found.len(), 1, "{report}");
    assert!(found[0].4.contains("expands to more than"), "{report}");
}

#[test]
fn a_schema_error_in_a_secret_never_shows_its_value() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: shop\ndata:\n  password: 31415926535\nstringData:\n  token: [\"s3cr3t-t0ken\"]\n";
    fs::write(dir.path().join("secret.yaml"), secret).unwrap();
    let (status, report) = validate_json(&["secret.yaml"], dir.path());
    assert_eq!(status, 1, "{report}");
    let found = with_code(&report, "schema");
    assert_eq!(found.len(), 2, "{report}");
    assert!(found.iter().any(|(_, line, _, _, message)| *line == 7 && message.contains("/data/password")), "{report}");
    let text = weft(&["validate", "secret.yaml"], dir.path());
    for output in [report.to_string(), String::from_utf8_lossy(&text.stdout).into_owned(), String::from_utf8_lossy(&text.stderr).into_owned()] {
        assert!(!output.contains("31415926535") && !output.contains("s3cr3t-t0ken"), "a secret value leaked: {output}");
    }
    assert!(String::from_utf8_lossy(&text.stdout).contains("secret.yaml:7:"), "the location is still given");
}
