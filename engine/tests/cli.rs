//! The CLI as users see it: exact output of the main commands on the
//! example repo and the bad-input fixtures, pinned by golden files.

mod common;

use common::*;

fn run(args: &[&str]) -> (i32, String) {
    let output = weft(args, &repo_root());
    assert!(output.stderr.is_empty() || !args.contains(&"validate"), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    (output.status.code().unwrap(), String::from_utf8(output.stdout).unwrap())
}

#[test]
fn examples_are_valid() {
    let (status, out) = run(&["validate", "examples"]);
    assert_eq!(status, 0, "{out}");
    assert_golden("cli/validate-examples.txt", &out);
    let (status, report) = validate_json(&["--strict", "examples"], &repo_root());
    assert_eq!(status, 0, "{report}");
    assert_eq!(report["summary"], serde_json::json!({"errors": 0, "warnings": 0}));
    assert_eq!(report["designs"].as_array().unwrap().len(), 2);
}

#[test]
fn bad_inputs_text() {
    let (status, out) = run(&["validate", "tests/fixtures/bad"]);
    assert_eq!(status, 1);
    assert_golden("cli/validate-bad.txt", &out);
}

#[test]
fn bad_inputs_machine_formats() {
    for (format, golden) in [("json", "json"), ("sarif", "sarif"), ("junit", "junit.xml"), ("github", "github.txt")] {
        let (status, out) = run(&["validate", "--format", format, "tests/fixtures/bad"]);
        assert_eq!(status, 1, "{format}");
        assert_golden(&format!("cli/validate-bad.{golden}"), &out);
    }
}

#[test]
fn graphs_of_the_examples() {
    for (format, golden) in [("json", "json"), ("dot", "dot"), ("mermaid", "mmd")] {
        let (status, out) = run(&["graph", "--format", format, "examples"]);
        assert_eq!(status, 0, "{format}");
        assert_golden(&format!("cli/graph-examples.{golden}"), &out);
    }
    let (_, json) = run(&["graph", "--format", "json", "examples"]);
    let graph: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(graph["nodes"].as_array().unwrap().len(), 14);
    assert_eq!(graph["edges"].as_array().unwrap().len(), 2);
}

#[test]
fn model_commands() {
    let (status, out) = run(&["model", "list"]);
    assert_eq!(status, 0);
    assert_golden("cli/model-list.txt", &out);
    let (status, out) = run(&["model", "show", "Deployment", "--json"]);
    assert_eq!(status, 0);
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["apiVersion"], "apps/v1", "{shown}");
    let (status, _) = run(&["model", "show", "NoSuchKind"]);
    assert_ne!(status, 0);
}

#[test]
fn help_lists_the_commands() {
    let (status, out) = run(&["--help"]);
    assert_eq!(status, 0);
    for command in ["validate", "graph", "model"] {
        assert!(out.contains(command), "{out}");
    }
}

#[test]
fn real_application_manifests_validate() {
    // Each app alone: two of them both define `frontend` in the default
    // namespace, which weft rightly reports when they share a repo.
    let dir = fixtures().join("manifests");
    let mut apps: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    apps.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
    apps.sort();
    assert_eq!(apps.len(), 8);
    for app in apps {
        let (status, report) = validate_json(&[app.to_str().unwrap()], &repo_root());
        assert_eq!(status, 0, "{}: {report}", app.display());
        assert_eq!(report["summary"]["warnings"], 0, "{report}");
    }
    let (status, report) = validate_json(&["tests/fixtures/manifests"], &repo_root());
    assert_eq!(status, 1);
    assert_eq!(with_code(&report, "duplicate-object").len(), 2, "{report}");
}

#[test]
fn a_repos_own_crd_validates_its_custom_resources() {
    let (status, report) = validate_json(&["tests/fixtures/repo-crd"], &repo_root());
    assert_eq!(status, 1, "{report}");
    assert!(with_code(&report, "unknown-kind").is_empty(), "{report}");
    let errors: Vec<_> = with_code(&report, "schema").iter().map(|d| (d.0, d.1, d.2)).collect();
    assert_eq!(
        errors,
        [("tests/fixtures/repo-crd/widgets.yaml", 16, 3), ("tests/fixtures/repo-crd/widgets.yaml", 17, 3)],
        "size below minimum and a color outside the enum: {report}"
    );
    // Without the CRD, the same resources are of an unknown kind.
    let (_, report) = validate_json(&["tests/fixtures/repo-crd/widgets.yaml"], &repo_root());
    assert_eq!(with_code(&report, "unknown-kind").len(), 2, "{report}");
}
