//! Relationship inference end to end: real manifests, the Meshery UI
//! fixture, exact kind matching, external objects.

mod common;
use common::*;
use std::collections::{BTreeMap, BTreeSet};

fn graph(paths: &[&str]) -> serde_json::Value {
    let mut args = vec!["graph", "--format", "json"];
    args.extend(paths);
    let out = weft(&args, &repo_root());
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Inferred edges as (kind/type/subType, from Kind/name, to Kind/name).
fn inferred(graph: &serde_json::Value) -> BTreeSet<(String, String, String)> {
    let nodes: BTreeMap<&str, String> = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), format!("{}/{}", n["kind"].as_str().unwrap(), n["name"].as_str().unwrap())))
        .collect();
    graph["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["inferred"] == true)
        .map(|e| {
            (
                format!("{}/{}/{}", e["kind"].as_str().unwrap(), e["type"].as_str().unwrap(), e["subType"].as_str().unwrap()),
                nodes[e["from"].as_str().unwrap()].clone(),
                nodes[e["to"].as_str().unwrap()].clone(),
            )
        })
        .collect()
}

#[test]
fn every_online_boutique_service_selects_exactly_its_deployment() {
    let edges = inferred(&graph(&["tests/fixtures/manifests/online-boutique.yaml"]));
    let mut selected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (family, from, to) in &edges {
        if family == "edge/non-binding/network" && from.starts_with("Service/") {
            selected.entry(from.clone()).or_default().push(to.clone());
        }
    }
    assert_eq!(selected.len(), 12, "{selected:?}");
    for (service, targets) in &selected {
        let app = service.trim_start_matches("Service/").trim_end_matches("-external");
        assert_eq!(targets, &[format!("Deployment/{app}")], "{service}");
    }
}

#[test]
fn the_meshery_ui_fixture_yields_its_recorded_relationships() {
    let path = "tests/fixtures/relationships/meshery-ui-fixture-service-deployment-edge-non-binding-network.json";
    let edges = inferred(&graph(&[path]));
    // The fixture records inventory (Service, Deployment → Namespace
    // default) and the Service → Deployment network edge; they are declared
    // in the design, so weft infers the same ones and adds no duplicates.
    assert!(edges.is_empty(), "{edges:?}");
    let declared = graph(&[path])["edges"].as_array().unwrap().len();
    assert_eq!(declared, 4);
}

#[test]
fn kinds_match_exactly() {
    let edges = inferred(&graph(&["tests/fixtures/relationships/kinds.yaml"]));
    let network: Vec<_> = edges.iter().filter(|e| e.0 == "edge/non-binding/network").collect();
    assert_eq!(network, [&("edge/non-binding/network".to_owned(), "Service/web".to_owned(), "Pod/web".to_owned())]);
    // The PDB guards the Pod (its own relationship), and is not a Service target.
    assert!(edges.contains(&("edge/non-binding/reference".into(), "PodDisruptionBudget/web".into(), "Pod/web".into())));
}

#[test]
fn external_objects_resolve_references_and_missing_ones_are_reported() {
    let (status, report) = validate_json(&["tests/fixtures/relationships/external"], &repo_root());
    assert_eq!(status, 1, "{report}");
    let missing: Vec<_> = with_code(&report, "missing-reference").iter().map(|d| (d.1, d.4.to_owned())).collect();
    assert_eq!(missing, [(45, "Secret `not-there` is not in the repository and not declared external".to_owned())], "{report}");
}

#[test]
fn weft_yaml_changes_severities_and_turns_codes_off() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(repo_root().join("tests/fixtures/relationships/external/app.yaml"), dir.path().join("app.yaml")).unwrap();
    let external = "external:\n  - {kind: Secret, namespace: shop, name: db-password}\n";
    std::fs::write(dir.path().join("weft.yaml"), format!("{external}checks:\n  bestPractices: false\n  severity: {{missing-reference: warning}}\n")).unwrap();
    let (status, report) = validate_json(&["."], dir.path());
    assert_eq!((status, report["summary"]["warnings"].as_u64()), (0, Some(1)), "{report}");
    std::fs::write(dir.path().join("weft.yaml"), format!("{external}checks:\n  bestPractices: false\n  disable: [missing-reference]\n")).unwrap();
    let (status, report) = validate_json(&["."], dir.path());
    assert_eq!((status, report["diagnostics"].as_array().unwrap().len()), (0, 0), "{report}");
}

#[test]
fn ports_line_up_and_selectors_do_not_cross_namespaces() {
    let (status, report) = validate_json(&["tests/fixtures/relationships/ports.yaml"], &repo_root());
    assert_eq!(status, 1, "a backend port the Service does not expose is an error");
    let found: Vec<(&str, u64, &str)> = diagnostics(&report)
        .iter()
        .filter(|d| !d["code"].as_str().unwrap().starts_with("missing-"))
        .map(|d| (d["code"].as_str().unwrap(), d["line"].as_u64().unwrap(), d["severity"].as_str().unwrap()))
        .collect();
    assert_eq!(
        found,
        [
            // `targetPort: http` names a container port: fine. `admin` names none.
            ("target-port-mismatch", 35, "warning"),
            // No targetPort: the port number itself, not declared by the container.
            ("target-port-mismatch", 37, "warning"),
            // The Service in `default` would select the Deployment in `shop`:
            // said precisely, instead of "selects nothing".
            ("selector-other-namespace", 45, "warning"),
            // Ingress backend by number (8080 is the container's, not the
            // Service's); the one by name (`http`) is fine.
            ("backend-port-mismatch", 63, "error"),
            // HTTPRoute backendRefs: 80 is served, 81 is not.
            ("backend-port-mismatch", 84, "error"),
            ("selector-other-namespace", 94, "warning"),
        ],
        "{report}"
    );
    assert!(with_code(&report, "service-selects-nothing").is_empty());
    assert!(with_code(&report, "selector-matches-nothing").is_empty());
}

#[test]
fn bindings_to_the_clusters_own_cluster_roles_need_no_definition() {
    let dir = tempfile::tempdir().unwrap();
    let binding = |name: &str, role: &str| {
        format!("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: {name}\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: {role}\nsubjects:\n  - kind: Group\n    name: team\n    apiGroup: rbac.authorization.k8s.io\n")
    };
    let text = [binding("a", "view"), binding("b", "system:auth-delegator"), binding("c", "team-reader")].join("---\n");
    std::fs::write(dir.path().join("rbac.yaml"), text).unwrap();
    let (_, report) = validate_json(&["rbac.yaml"], dir.path());
    let missing: Vec<u64> = with_code(&report, "missing-reference").iter().map(|d| d.1).collect();
    assert_eq!(missing, [34], "only the binding to `team-reader` (line 34): {report}");
}

/// `tests/fixtures/relationships/kinds/<name>.yaml` with the exact set of
/// relationships it must yield in `<name>.expected`, one per line:
/// `kind/type/subType From/name -> To/name`.
#[test]
fn each_relationship_kind_yields_exactly_its_expected_set() {
    let dir = repo_root().join("tests/fixtures/relationships/kinds");
    let mut fixtures: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    fixtures.sort();
    assert!(fixtures.len() >= 12, "{fixtures:?}");
    for path in fixtures {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let expected: BTreeSet<(String, String, String)> = std::fs::read_to_string(path.with_extension("expected"))
            .unwrap_or_else(|e| panic!("{name}.expected: {e}"))
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (family, ends) = l.split_once(' ').unwrap();
                let (from, to) = ends.split_once(" -> ").unwrap();
                (family.to_owned(), from.trim().to_owned(), to.trim().to_owned())
            })
            .collect();
        let relative = format!("tests/fixtures/relationships/kinds/{name}.yaml");
        assert_eq!(inferred(&graph(&[&relative])), expected, "{name}");
        // Every reference in these fixtures resolves.
        let (_, report) = validate_json(&[&relative], &repo_root());
        for code in ["missing-reference", "service-selects-nothing", "selector-matches-nothing", "target-port-mismatch", "backend-port-mismatch"] {
            assert_eq!(with_code(&report, code), vec![], "{name}: {code}");
        }
    }
}

#[test]
fn meshery_binding_relationships_join_through_the_binding_component() {
    // Meshery's own edge/binding/permission definition, from an extra
    // registry: a Role relates to a ServiceAccount through the RoleBinding
    // that names both, a ClusterRole through a ClusterRoleBinding.
    let out = weft(
        &["graph", "--format", "json", "--models", "tests/fixtures/relationships/meshery-binding/models", "tests/fixtures/relationships/meshery-binding/rbac.yaml"],
        &repo_root(),
    );
    let edges = inferred(&serde_json::from_slice(&out.stdout).unwrap());
    let binding: Vec<_> = edges.iter().filter(|(family, ..)| family == "edge/binding/permission").collect();
    assert_eq!(
        binding,
        [
            &("edge/binding/permission".to_owned(), "ClusterRole/audit".to_owned(), "ServiceAccount/auditor".to_owned()),
            &("edge/binding/permission".to_owned(), "Role/deploy".to_owned(), "ServiceAccount/deployer".to_owned()),
        ],
        "`idle` is bound by nothing, and no Role pairs with a ClusterRoleBinding: {edges:?}"
    );
}

#[test]
fn a_focused_inference_finds_exactly_the_relationships_touching_its_focus() {
    // `weft check` infers the base only around the changed files: with a
    // focus, inference must return what the full inference returns among
    // the relationships with an end (or binding component) in the focus.
    use weft::relate::{self, End};
    let kinds = repo_root().join("tests/fixtures/relationships/kinds");
    let mut cases: Vec<(Vec<std::path::PathBuf>, Option<std::path::PathBuf>)> = std::fs::read_dir(&kinds)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| (vec![p], None))
        .collect();
    let binding = repo_root().join("tests/fixtures/relationships/meshery-binding");
    cases.push((vec![binding.join("rbac.yaml")], Some(binding.join("models"))));
    cases.push((vec![repo_root().join("tests/fixtures/relationships/ports.yaml")], None));
    cases.sort();
    let mut touched = 0;
    for (paths, models) in cases {
        let repo = weft::load::load(&paths, &Default::default(), &weft::progress::Progress::hidden()).unwrap();
        let dirs: Vec<std::path::PathBuf> = models.into_iter().chain(weft::model::Registry::shipped_dir()).collect();
        let registry = weft::model::Registry::open(&dirs).unwrap();
        let (definitions, _) = relate::load_definitions(&registry);
        let members: Vec<(usize, usize)> = repo.designs.iter().enumerate().flat_map(|(d, design)| (0..design.components.len()).map(move |c| (d, c))).collect();
        let found = |inference: &relate::Inference| -> BTreeSet<(usize, End, End, Option<End>)> {
            inference.relationships.iter().map(|r| (inference.rules[r.rule].def, r.from, r.to, r.via)).collect()
        };
        let full = relate::infer(&repo.designs, &members, &definitions, &registry, &Default::default()).unwrap();
        let all = found(&full);
        // Each component alone, then every other component.
        let mut foci: Vec<Vec<(usize, usize)>> = members.iter().map(|&m| vec![m]).collect();
        foci.push(members.iter().copied().step_by(2).collect());
        for focus in foci {
            let options = relate::Options { focus: Some(&focus), ..Default::default() };
            let focused = relate::infer(&repo.designs, &members, &definitions, &registry, &options).unwrap();
            assert_eq!(focused.definitions, full.definitions);
            let is_focus = |end: End| matches!(end, End::Component { design, component } if focus.contains(&(design, component)));
            let expected: BTreeSet<_> = all.iter().filter(|(_, f, t, via)| is_focus(*f) || is_focus(*t) || via.is_some_and(is_focus)).cloned().collect();
            touched += expected.len();
            assert_eq!(found(&focused), expected, "{paths:?} with focus {focus:?}");
            assert!(focused.unresolved.is_empty());
        }
    }
    assert!(touched > 50, "the fixtures have relationships to find: {touched}");
}
