//! Policy checks end to end: the shipped best-practice pack against a pass
//! and a fail fixture per rule, waivers, weft.yaml settings, and users'
//! own policies (including broken ones).

mod common;
use common::*;
use std::collections::BTreeSet;
use weft::diagnostic::codes;

const CHECKS: &str = "tests/fixtures/policies/checks";

/// Codes the shipped pack emits, read from its Rego.
fn shipped_codes() -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(repo_root().join("policies/checks")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            if let Some(rest) = line.trim().strip_prefix("\"code\": \"") {
                found.insert(rest.split('"').next().unwrap().to_owned());
            }
        }
    }
    found
}

/// Lines of `file` marked `# expect: CODE`.
fn expected_lines(file: &str, code: &str) -> Vec<u64> {
    let text = std::fs::read_to_string(repo_root().join(file)).unwrap();
    let marker = format!("# expect: {code}");
    text.lines().enumerate().filter(|(_, l)| l.contains(&marker)).map(|(i, _)| i as u64 + 1).collect()
}

#[test]
fn every_shipped_rule_has_a_code_a_pass_and_a_fail_fixture() {
    let shipped = shipped_codes();
    assert!(shipped.len() >= 15, "{shipped:?}");
    let fixtures: BTreeSet<String> = std::fs::read_dir(repo_root().join(CHECKS))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(shipped, fixtures, "one fixture folder per shipped code");
    for code in &shipped {
        let known = codes::ALL.iter().find(|c| c.name == code).unwrap_or_else(|| panic!("{code} is not in the code table"));
        assert!(known.hint.is_some(), "{code} has a hint");
    }
}

#[test]
fn each_rule_flags_its_fail_fixture_at_the_marked_lines_and_passes_its_pass_fixture() {
    for code in shipped_codes() {
        let fail = format!("{CHECKS}/{code}/fail.yaml");
        let (status, report) = validate_json(&[&fail], &repo_root());
        let found = with_code(&report, &code);
        let lines: Vec<u64> = found.iter().map(|d| d.1).collect();
        let expected = expected_lines(&fail, &code);
        assert!(!expected.is_empty(), "{fail} marks no line");
        assert_eq!(lines, expected, "{code}: {report}");
        let severity = codes::ALL.iter().find(|c| c.name == code).unwrap().severity.to_string();
        assert!(found.iter().all(|d| d.3 == severity), "{code} is reported as {severity}: {found:?}");
        assert!(found.iter().all(|d| !d.4.is_empty()), "{code} has a message");
        if severity == "error" {
            assert_eq!(status, 1, "{code}");
        }

        let pass = format!("{CHECKS}/{code}/pass.yaml");
        let (_, report) = validate_json(&[&pass], &repo_root());
        assert_eq!(with_code(&report, &code), vec![], "{pass}: {report}");
    }
}

#[test]
fn the_pack_runs_on_meshery_designs_and_points_into_the_configuration() {
    // The example design is clean; break one container in a copy.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo_root().join("examples/designs/payments.yaml")).unwrap();
    let text = text.replace("storefront-payments:3.1.0", "storefront-payments:latest");
    std::fs::write(dir.path().join("payments.yaml"), &text).unwrap();
    let (_, report) = validate_json(&["payments.yaml"], dir.path());
    let found = with_code(&report, "image-latest-tag");
    let line = text.lines().position(|l| l.contains("storefront-payments:latest")).unwrap() as u64 + 1;
    assert_eq!(found.iter().map(|d| (d.0, d.1)).collect::<Vec<_>>(), [("payments.yaml", line)], "{report}");
}

#[test]
fn objects_waive_checks_by_annotation_and_weft_yaml_sets_severity_and_enablement() {
    let dir = tempfile::tempdir().unwrap();
    let fail = std::fs::read_to_string(repo_root().join(CHECKS).join("host-network/fail.yaml")).unwrap();
    std::fs::write(dir.path().join("app.yaml"), &fail).unwrap();
    let (_, report) = validate_json(&["."], dir.path());
    assert_eq!(with_code(&report, "host-network").len(), 1);

    // The waiver names codes; others on the same object stay.
    let waived = fail.replace("  namespace: shop\n", "  namespace: shop\n  annotations:\n    weft.io/ignore: \"host-network, run-as-root\"\n");
    std::fs::write(dir.path().join("app.yaml"), &waived).unwrap();
    let (_, report) = validate_json(&["."], dir.path());
    assert_eq!(with_code(&report, "host-network").len(), 0, "{report}");
    std::fs::write(dir.path().join("app.yaml"), fail.replace("image: ghcr.io/example/web:1.2.3", "image: web")).unwrap();

    std::fs::write(dir.path().join("weft.yaml"), "checks:\n  severity:\n    host-network: error\n  disable: [image-latest-tag]\n").unwrap();
    let (status, report) = validate_json(&["."], dir.path());
    assert_eq!((status, with_code(&report, "host-network")[0].3), (1, "error"));
    assert_eq!(with_code(&report, "image-latest-tag").len(), 0);

    std::fs::write(dir.path().join("weft.yaml"), "checks:\n  bestPractices: false\n").unwrap();
    let (status, report) = validate_json(&["."], dir.path());
    assert_eq!((status, diagnostics(&report).len()), (0, 0), "{report}");
}

#[test]
fn user_policies_from_weft_yaml_run_and_broken_ones_are_reported_at_their_line() {
    let repo = repo_root().join("tests/fixtures/policies/user-repo");
    let (status, report) = validate_json(&["."], &repo);
    assert_eq!(status, 1);
    let found: BTreeSet<(String, String, u64)> = diagnostics(&report)
        .iter()
        .map(|d| (d["code"].as_str().unwrap().to_owned(), d["file"].as_str().unwrap().to_owned(), d["line"].as_u64().unwrap()))
        .collect();
    let expected: BTreeSet<(String, String, u64)> = [
        // `deny` with a code and a dotted path: an error at the labels.
        ("team-label", "app.yaml", 6),
        // A `warn` string: the package is the code, the object the place.
        ("main", "app.yaml", 1),
        // A `deny_combined` rule over every object, naming each object it
        // reports by index: both Deployments, at their namespace.
        ("namespace-isolation", "app.yaml", 5),
        ("namespace-isolation", "app.yaml", 25),
        // A syntax error and an unknown function, each at its position;
        // `main.registry` still ran (and `worker` waives it).
        ("policy-error", "policy/broken.rego", 6),
        ("policy-error", "policy/unknown_function.rego", 6),
    ]
    .into_iter()
    .map(|(c, f, l)| (c.to_owned(), f.to_owned(), l))
    .collect();
    assert_eq!(found, expected, "{report}");
    let team = with_code(&report, "team-label");
    assert_eq!((team[0].3, team[0].4), ("error", "Deployment `api` has no `team` label"));
}

#[test]
fn policies_from_the_command_line_and_runtime_failures() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    std::fs::copy(repo_root().join("tests/fixtures/policies/user-repo/app.yaml"), dir.path().join("app.yaml")).unwrap();
    std::fs::write(
        dir.path().join("rules/images.rego"),
        "package main\n\nimport rego.v1\n\nwarn contains {\"msg\": \"pinned\", \"code\": \"pinned\", \"path\": \"/spec/template/spec/containers/0/image\", \"severity\": \"info\"} if input.kind == \"Deployment\"\n\ndeny contains msg if {\n\tmsg := sprintf(\"%v\", [count(input.metadata.labels) / 0])\n}\n",
    )
    .unwrap();
    let (status, report) = validate_json(&["app.yaml", "--policies", "rules", "--verbose"], dir.path());
    assert_eq!(status, 1);
    let pinned = with_code(&report, "pinned");
    assert_eq!(pinned.iter().map(|d| (d.1, d.3)).collect::<Vec<_>>(), [(19, "info"), (42, "info")], "{report}");
    let failed = with_code(&report, "policy-error");
    assert_eq!(failed.len(), 1, "one report per failing rule, not per object: {report}");
    assert_eq!((failed[0].0, failed[0].1), ("rules/images.rego", 8));
    assert!(failed[0].4.contains("divide by zero"), "{failed:?}");
    // The shipped pack ran beside them.
    assert!(!with_code(&report, "missing-liveness-probe").is_empty());

    let (status, report) = validate_json(&["app.yaml", "--policies", "missing-dir"], dir.path());
    assert_eq!(status, 1);
    assert_eq!(with_code(&report, "policy-error").len(), 1, "{report}");
}

#[test]
fn empty_fields_are_absent_to_policies() {
    let (status, report) = validate_json(&["tests/fixtures/policies/nulls.yaml"], &repo_root());
    let codes: BTreeSet<&str> = diagnostics(&report).iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(
        codes,
        BTreeSet::from(["missing-liveness-probe", "missing-memory-limit", "missing-readiness-probe", "missing-resource-requests"]),
        "{report}"
    );
    assert_eq!(status, 0);
}

/// The shipped pack runs on regorus's virtual machine; the interpreter is
/// the reference. Both give the same diagnostics on every fixture, beside
/// users' policies (which stay on the interpreter), broken ones and rules
/// that fail at run time included.
#[test]
fn the_virtual_machine_agrees_with_the_interpreter() {
    use weft::policy;
    let root = repo_root();
    let paths: Vec<_> = ["tests/fixtures/policies", "tests/fixtures/relationships", "examples"].iter().map(|p| root.join(p)).collect();
    let repo = weft::load::load(&paths, &Default::default(), &weft::progress::Progress::hidden()).expect("loads");
    assert!(repo.designs.iter().map(|d| d.components.len()).sum::<usize>() > 100);
    let shipped = policy::shipped_modules();
    assert!(policy::runs_on_machine(&shipped), "the shipped pack compiles for the virtual machine");
    let (mut user, _) = policy::user_modules(&[root.join("tests/fixtures/policies/user-repo/policy")]);
    assert!(!user.is_empty());
    user.push(policy::Module {
        display: "rules/failing.rego".into(),
        text: "package main.failing\n\nimport rego.v1\n\ndeny contains msg if {\n\tmsg := sprintf(\"%v\", [count(input.metadata) / 0])\n}\n".into(),
        shipped: false,
    });
    for modules in [shipped.clone(), [shipped, user.clone()].concat()] {
        let run = |machine: bool| {
            let options = policy::Options { machine, ..Default::default() };
            let found = policy::check(&repo.designs, &repo.sources, &modules, &options);
            let mut found: Vec<String> = found.iter().map(|d| format!("{d:?}")).collect();
            found.sort();
            found
        };
        let (on_machine, interpreted) = (run(true), run(false));
        assert!(on_machine.len() > 50, "{on_machine:#?}");
        let differ: Vec<_> = on_machine.iter().zip(&interpreted).filter(|(a, b)| a != b).take(3).collect();
        assert!(on_machine.len() == interpreted.len() && differ.is_empty(), "{} vs {}: {differ:#?}", on_machine.len(), interpreted.len());
    }
    assert!(format!("{:?}", policy::check(&repo.designs, &repo.sources, &user, &Default::default())).contains("divide by zero"));
}
