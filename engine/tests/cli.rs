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
    let edges = graph["edges"].as_array().unwrap();
    let inferred = edges.iter().filter(|e| e["inferred"] == true).count();
    assert_eq!((edges.len() - inferred, inferred), (2, 18), "2 declared by payments.yaml; 18 inferred");
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
    for command in ["validate", "graph", "evaluate", "model"] {
        assert!(out.contains(command), "{out}");
    }
}

#[test]
fn real_application_manifests_validate() {
    // Each app alone: schemas pass everywhere; what is left are references
    // to objects another file of the app defines, and the one real gap
    // (mysql-wordpress expects the Secret `mysql-pass` to be created by
    // hand, as its README says).
    // Warnings come from relationship checks and from the best-practice
    // pack: Deployments without probes, limits or requests, and the
    // LoadBalancer Services of WordPress and Online Boutique.
    let probes_and_resources = |n| vec![("missing-liveness-probe", n), ("missing-memory-limit", n), ("missing-readiness-probe", n), ("missing-resource-requests", n)];
    let expected: [(&str, Vec<&str>, Vec<(&str, u64)>); 8] = [
        // HTTPRoutes name Services of bookinfo.yaml; Services select its Pods.
        ("bookinfo-gateway-api.yaml", vec!["missing-reference"; 2], vec![("service-selects-nothing", 6)]),
        ("bookinfo-istio-networking.yaml", vec![], vec![]),
        ("bookinfo.yaml", vec![], probes_and_resources(6)),
        ("emojivoto.yaml", vec![], probes_and_resources(4)),
        // guestbook requests resources but sets no limits.
        ("guestbook.yaml", vec![], vec![("missing-liveness-probe", 3), ("missing-memory-limit", 3), ("missing-readiness-probe", 3)]),
        (
            "mysql-wordpress.yaml",
            vec!["missing-reference"; 3],
            [vec![("load-balancer-not-allowed", 1)], probes_and_resources(2)].concat(),
        ),
        ("online-boutique-istio.yaml", vec!["missing-reference"], vec![]),
        // Only the load generator lacks probes.
        (
            "online-boutique.yaml",
            vec![],
            vec![("load-balancer-not-allowed", 1), ("missing-liveness-probe", 1), ("missing-readiness-probe", 1)],
        ),
    ];
    for (app, errors, warnings) in expected {
        let path = format!("tests/fixtures/manifests/{app}");
        let (status, report) = validate_json(&[&path], &repo_root());
        let codes: Vec<&str> = report["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["severity"] == "error")
            .map(|d| d["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, errors, "{app}: {report}");
        assert_eq!(status, if errors.is_empty() { 0 } else { 1 }, "{app}");
        let mut counted: std::collections::BTreeMap<&str, u64> = Default::default();
        for d in diagnostics(&report).iter().filter(|d| d["severity"] == "warning") {
            *counted.entry(d["code"].as_str().unwrap()).or_default() += 1;
        }
        assert_eq!(counted.into_iter().collect::<Vec<_>>(), warnings, "{app}: {report}");
    }
    let secret: Vec<_> = with_code(
        &validate_json(&["tests/fixtures/manifests/mysql-wordpress.yaml"], &repo_root()).1,
        "missing-reference",
    )
    .iter()
    .map(|d| d.1)
    .collect();
    assert_eq!(secret, [85, 94, 163], "each secretKeyRef naming `mysql-pass` is reported at its line");

    // Apps whose parts live in two files are whole together.
    for pair in [["bookinfo.yaml", "bookinfo-gateway-api.yaml"], ["online-boutique.yaml", "online-boutique-istio.yaml"]] {
        let paths: Vec<String> = pair.iter().map(|f| format!("tests/fixtures/manifests/{f}")).collect();
        let (status, report) = validate_json(&[&paths[0], &paths[1]], &repo_root());
        let relationship_findings: Vec<_> = diagnostics(&report)
            .iter()
            .filter(|d| ["missing-reference", "service-selects-nothing", "selector-matches-nothing"].contains(&d["code"].as_str().unwrap()))
            .collect();
        assert_eq!((status, relationship_findings.len()), (0, 0), "{report}");
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
