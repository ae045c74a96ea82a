//! The designs in `catalog/`: each validates cleanly (no errors, no
//! warnings), carries Meshery's catalog metadata and a README line, and the
//! weft design (weft deploying itself) applies to the test server, leaves
//! a no-op plan behind, and grants only the RBAC its README promises.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use weft_testserver::{TestServer, Verb};

fn catalog() -> PathBuf {
    repo_root().join("catalog")
}

/// The catalog's entries: one folder each, holding its design.
fn entries() -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(catalog())
        .expect("catalog/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    entries.sort();
    assert!(!entries.is_empty(), "catalog/ has no entries");
    entries
}

/// Every YAML or JSON file below `dir`.
fn design_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(design_files(&path));
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")) {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn read_yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn weft_design() -> Value {
    read_yaml(&catalog().join("weft/design.yaml"))
}

/// The components of `kind` in a design, as (name, configuration).
fn components<'a>(design: &'a Value, kind: &str) -> Vec<(&'a str, &'a Value)> {
    design["components"]
        .as_array()
        .expect("components")
        .iter()
        .filter(|c| c["component"]["kind"] == kind)
        .map(|c| (c["displayName"].as_str().expect("displayName"), &c["configuration"]))
        .collect()
}

fn strings(value: &Value) -> Vec<&str> {
    value.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

#[test]
fn every_catalog_design_validates_without_errors_or_warnings() {
    let root = repo_root();
    let readme = std::fs::read_to_string(catalog().join("README.md")).expect("catalog/README.md");
    for entry in entries() {
        let name = entry.file_name().unwrap().to_str().unwrap().to_owned();
        let files = design_files(&entry);
        assert!(!files.is_empty(), "catalog/{name} holds no design");
        // As `weft catalog use` will read an entry: on its own, warnings failing the run.
        let relative = format!("catalog/{name}");
        let (code, report) = validate_json(&["--strict", &relative], &root);
        assert_eq!(diagnostics(&report), &Vec::<Value>::new(), "catalog/{name}: {report:#}");
        assert_eq!((report["summary"]["errors"].as_u64(), report["summary"]["warnings"].as_u64()), (Some(0), Some(0)), "{report:#}");
        assert_eq!(code, 0, "{report:#}");
        // Every file of the entry is read as a design, none skipped.
        let read: BTreeSet<&str> = report["designs"].as_array().unwrap().iter().filter_map(|d| d["file"].as_str()).collect();
        for file in &files {
            let file = file.strip_prefix(&root).unwrap().to_str().unwrap();
            assert!(read.contains(file), "{file} was not read as a design: {report:#}");
        }
        // One README line per entry, naming its folder.
        assert!(readme.lines().any(|l| l.contains(&format!("`{name}/`")) || l.contains(&format!("({name}/"))), "catalog/README.md has no line for {name}");
    }
    // The whole catalog at once: no object is defined twice across entries.
    let (code, report) = validate_json(&["--strict", "catalog"], &root);
    assert_eq!((code, diagnostics(&report).len()), (0, 0), "{report:#}");
}

#[test]
fn every_catalog_design_has_meshery_catalog_data() {
    const CLASSES: [&str; 5] = ["official", "verified", "reference architecture", "community", "project"];
    const TYPES: [&str; 8] = ["Deployment", "Observability", "Resiliency", "Scaling", "Security", "Traffic-management", "Troubleshooting", "Workloads"];
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(repo_root().join("schemas/design-v1beta1.schema.json")).unwrap()).unwrap();
    let schema = jsonschema::validator_for(&schema).expect("the design schema compiles");
    for entry in entries() {
        for file in design_files(&entry) {
            let design = read_yaml(&file);
            let at = file.display();
            assert_eq!(design["schemaVersion"], "designs.meshery.io/v1beta1", "{at}");
            let errors: Vec<String> = schema.iter_errors(&design).map(|e| format!("{e} at {}", e.instance_path())).collect();
            assert!(errors.is_empty(), "{at} against schemas/design-v1beta1.schema.json: {errors:#?}");
            let metadata = &design["metadata"];
            let data = if metadata["catalog_data"].is_object() { &metadata["catalog_data"] } else { &metadata["catalogData"] };
            assert!(data.is_object(), "{at}: no metadata.catalog_data");
            // Either casing, as Meshery's schemas have both.
            let field = |snake: &str, camel: &str| if data[snake].is_null() { data[camel].clone() } else { data[snake].clone() };

            let version = data["publishedVersion"].as_str().unwrap_or_else(|| panic!("{at}: publishedVersion"));
            let numbers: Vec<&str> = version.trim_start_matches('v').split('.').collect();
            assert!(numbers.len() == 3 && numbers.iter().all(|n| n.parse::<u32>().is_ok()), "{at}: publishedVersion {version} is not a version");
            let class = data["class"].as_str().unwrap_or_else(|| panic!("{at}: class"));
            assert!(CLASSES.contains(&class), "{at}: class {class}");
            let compatibility = strings(&data["compatibility"]);
            assert!(!compatibility.is_empty() && compatibility.iter().all(|m| *m == "kubernetes"), "{at}: compatibility {compatibility:?}");
            assert_eq!(compatibility.iter().collect::<BTreeSet<_>>().len(), compatibility.len(), "{at}: compatibility repeats a model");
            let kind = data["type"].as_str().unwrap_or_else(|| panic!("{at}: type"));
            assert!(TYPES.contains(&kind), "{at}: type {kind}");
            let info = field("pattern_info", "patternInfo");
            assert!(info.as_str().is_some_and(|s| !s.trim().is_empty()), "{at}: pattern_info is required and not empty");
            let caveats = field("pattern_caveats", "patternCaveats");
            let caveats = caveats.as_str().unwrap_or_else(|| panic!("{at}: pattern_caveats"));
            // Meshery's v1beta2 catalog schema caps the caveats at 500 characters.
            assert!(caveats.chars().count() <= 500, "{at}: pattern_caveats has {} characters", caveats.chars().count());
            if !data["snapshotURL"].is_null() {
                assert!(strings(&data["snapshotURL"]).iter().all(|u| u.starts_with("https://") || u.starts_with("http://") || u.starts_with("oci://")), "{at}");
            }
        }
    }
}

#[test]
fn the_weft_design_applies_to_a_cluster_and_then_plans_no_changes() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let design = catalog().join("weft");
    let run = |command: &str, extra: &[&str]| {
        let mut args = vec![command, design.to_str().unwrap(), "--kubeconfig", kubeconfig.to_str().unwrap(), "--format", "json"];
        args.extend_from_slice(extra);
        let output = weft(&args, &repo_root());
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let value: Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{command}: not JSON ({e}):\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr)));
        (output.status.code().unwrap_or(-1), value)
    };
    let objects = weft_design()["components"].as_array().unwrap().len() as u64;

    let (code, result) = run("apply", &[]);
    assert_eq!(code, 0, "{result:#}");
    let steps = result["result"]["steps"].as_array().unwrap();
    assert_eq!(steps.iter().filter(|s| s["outcome"] == "applied").count() as u64, objects, "{result:#}");

    // What a cluster now runs.
    let deployment = server.get("apps/v1", "Deployment", Some("weft-system"), "weft").expect("the Deployment");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "weft");
    assert!(strings(&pod["containers"][0]["args"]).contains(&"--leader-elect"), "{pod:#}");
    let role = server.get("rbac.authorization.k8s.io/v1", "Role", Some("weft-system"), "weft").expect("the Role");
    assert!(role["rules"].as_array().is_some_and(|r| !r.is_empty()), "{role:#}");
    assert!(server.get("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", None, "weft-apply").is_some());
    assert!(server.get("policy/v1", "PodDisruptionBudget", Some("weft-system"), "weft").is_some());
    let secret = server.get("v1", "Secret", Some("weft-system"), "weft-webhook").expect("the webhook Secret");
    assert!(secret["data"]["secret"].is_string(), "{secret:#}");

    // A second plan finds the cluster as the design says: nothing to do.
    let (code, plan) = run("plan", &["--detailed-exitcode"]);
    assert_eq!(code, 0, "{plan:#}");
    assert_eq!(plan["summary"]["unchanged"].as_u64(), Some(objects), "{plan:#}");
    for action in ["create", "update", "delete", "deferred", "retain", "error"] {
        assert_eq!(plan["summary"][action].as_u64(), Some(0), "{action}: {plan:#}");
    }
    let changes = plan["targets"][0]["changes"].as_array().unwrap();
    assert!(changes.iter().all(|c| c["action"] == "unchanged"), "{plan:#}");
}

/// The verbs `rules` grant on `resource` of `group`, for the object `name`.
fn granted(rules: &Value, group: &str, resource: &str, name: &str) -> BTreeSet<String> {
    let mut verbs = BTreeSet::new();
    for rule in rules.as_array().into_iter().flatten() {
        let names = strings(&rule["resourceNames"]);
        if strings(&rule["apiGroups"]).contains(&group) && strings(&rule["resources"]).contains(&resource) && (names.is_empty() || names.contains(&name)) {
            verbs.extend(strings(&rule["verbs"]).into_iter().map(str::to_owned));
        }
    }
    verbs
}

#[test]
fn the_weft_design_grants_leader_election_and_no_wildcards() {
    let design = weft_design();
    let (deployment_name, deployment) = components(&design, "Deployment")[0];
    assert_eq!(deployment_name, "weft");
    let namespace = deployment["metadata"]["namespace"].as_str().unwrap();
    assert_eq!(namespace, "weft-system");
    let pod = &deployment["spec"]["template"]["spec"];
    let account = pod["serviceAccountName"].as_str().unwrap();
    let container = &pod["containers"][0];
    assert!(strings(&container["args"]).contains(&"--leader-elect"), "{container:#}");
    // The Lease namespace and holder identity come from the downward API.
    let env: Vec<(&str, &str)> =
        container["env"].as_array().unwrap().iter().filter_map(|e| Some((e["name"].as_str()?, e["valueFrom"]["fieldRef"]["fieldPath"].as_str()?))).collect();
    assert!(env.contains(&("POD_NAME", "metadata.name")) && env.contains(&("POD_NAMESPACE", "metadata.namespace")), "{env:?}");

    // A Role in weft-system, bound to the Deployment's ServiceAccount,
    // grants the Lease `weft` get, create and update.
    let bound: Vec<&str> = components(&design, "RoleBinding")
        .into_iter()
        .filter(|(_, b)| b["metadata"]["namespace"] == namespace && b["roleRef"]["kind"] == "Role")
        .filter(|(_, b)| b["subjects"].as_array().unwrap().iter().any(|s| s["kind"] == "ServiceAccount" && s["name"] == account && s["namespace"] == namespace))
        .filter_map(|(_, b)| b["roleRef"]["name"].as_str())
        .collect();
    let mut lease_verbs = BTreeSet::new();
    for (name, role) in components(&design, "Role") {
        if role["metadata"]["namespace"] == namespace && bound.contains(&name) {
            lease_verbs.extend(granted(&role["rules"], "coordination.k8s.io", "leases", "weft"));
        }
    }
    for verb in ["get", "create", "update"] {
        assert!(lease_verbs.contains(verb), "the Lease `weft` in {namespace} lacks `{verb}`: {lease_verbs:?}");
    }

    // The ClusterRole is bound to the same account, and weft's applier
    // gets what server-side apply needs on the kinds it grants.
    let cluster_bound: Vec<&str> = components(&design, "ClusterRoleBinding")
        .into_iter()
        .filter(|(_, b)| b["subjects"].as_array().unwrap().iter().any(|s| s["kind"] == "ServiceAccount" && s["name"] == account && s["namespace"] == namespace))
        .filter_map(|(_, b)| b["roleRef"]["name"].as_str())
        .collect();
    assert_eq!(cluster_bound, vec!["weft-apply"]);
    let (_, apply) = components(&design, "ClusterRole").into_iter().find(|(n, _)| *n == "weft-apply").expect("ClusterRole weft-apply");
    for (group, resource) in [("", "configmaps"), ("apps", "deployments"), ("networking.k8s.io", "ingresses")] {
        let verbs = granted(&apply["rules"], group, resource, "any");
        for verb in ["get", "list", "watch", "create", "patch", "delete"] {
            assert!(verbs.contains(verb), "weft-apply lacks {verb} on {resource}: {verbs:?}");
        }
    }

    // No rule anywhere in the catalog grants `*`, or verbs that escalate.
    for entry in entries() {
        for file in design_files(&entry) {
            let design = read_yaml(&file);
            for kind in ["Role", "ClusterRole"] {
                for (name, role) in components(&design, kind) {
                    for rule in role["rules"].as_array().into_iter().flatten() {
                        for field in ["verbs", "apiGroups", "resources", "nonResourceURLs"] {
                            assert!(!strings(&rule[field]).contains(&"*"), "{}: {kind} {name} grants `*` in {field}: {rule}", file.display());
                        }
                        for verb in ["escalate", "bind", "impersonate"] {
                            assert!(!strings(&rule["verbs"]).contains(&verb), "{}: {kind} {name} grants {verb}: {rule}", file.display());
                        }
                    }
                }
            }
            for kind in ["RoleBinding", "ClusterRoleBinding"] {
                for (name, binding) in components(&design, kind) {
                    assert_ne!(binding["roleRef"]["name"], "cluster-admin", "{}: {kind} {name}", file.display());
                }
            }
        }
    }
}

#[test]
fn the_weft_design_runs_flags_weft_watch_has() {
    let design = weft_design();
    let (_, deployment) = components(&design, "Deployment")[0];
    let args = strings(&deployment["spec"]["template"]["spec"]["containers"][0]["args"]);
    assert_eq!(args.first(), Some(&"watch"));
    let output = weft(&["watch", "--help"], &repo_root());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in args.iter().filter(|a| a.starts_with("--")) {
        let flag = flag.split('=').next().unwrap();
        assert!(help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")), "`weft watch` has no flag {flag}:\n{help}");
    }
}

/// What a request to the API server asks RBAC for: (group, resource,
/// namespace, name); None for discovery and other non-resource paths.
fn resource_of(path: &str) -> Option<(String, String, Option<String>, Option<String>)> {
    let path = path.split('?').next().unwrap();
    let (group, rest) = if let Some(rest) = path.strip_prefix("/api/v1/") {
        ("", rest)
    } else {
        let rest = path.strip_prefix("/apis/")?;
        let mut parts = rest.splitn(3, '/');
        let group = parts.next()?;
        let _version = parts.next()?;
        (group, parts.next()?)
    };
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let (namespace, resource, name) = match segments.as_slice() {
        ["namespaces", namespace, resource, rest @ ..] => (Some(namespace.to_string()), resource.to_string(), rest.first().map(|n| n.to_string())),
        [resource, rest @ ..] => (None, resource.to_string(), rest.first().map(|n| n.to_string())),
        [] => return None,
    };
    Some((group.to_owned(), resource, namespace, name))
}

/// Whether `rules` allow `verb` on the object.
fn allows(rules: &Value, verb: &str, group: &str, resource: &str, name: Option<&str>) -> bool {
    rules.as_array().into_iter().flatten().any(|rule| {
        let names = strings(&rule["resourceNames"]);
        strings(&rule["verbs"]).contains(&verb)
            && strings(&rule["apiGroups"]).contains(&group)
            && strings(&rule["resources"]).contains(&resource)
            && (names.is_empty() || name.is_some_and(|n| names.contains(&n)))
    })
}

#[test]
fn the_weft_design_rbac_covers_what_weft_does_to_apply_and_prune_the_starter_kinds() {
    let design = weft_design();
    let (_, deployment) = components(&design, "Deployment")[0];
    let args = strings(&deployment["spec"]["template"]["spec"]["containers"][0]["args"]);
    let flag = |name: &str| args.iter().position(|a| *a == name).map(|i| args[i + 1].to_owned()).unwrap_or_else(|| panic!("{name} in {args:?}"));
    let (inventory, inventory_namespace) = (flag("--inventory"), flag("--inventory-namespace"));
    let (_, role) = components(&design, "Role").into_iter().find(|(n, _)| *n == "weft").expect("Role weft");
    let role_namespace = role["metadata"]["namespace"].as_str().unwrap().to_owned();
    let (_, cluster_role) = components(&design, "ClusterRole").into_iter().find(|(n, _)| *n == "weft-apply").expect("ClusterRole weft-apply");

    // The design in place, as an administrator bootstraps it.
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let kubeconfig = kubeconfig.to_str().unwrap().to_owned();
    let run = |args: &[&str]| {
        let output = weft(args, &repo_root());
        assert!(output.status.success(), "weft {args:?}:\n{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    };
    run(&["apply", catalog().join("weft").to_str().unwrap(), "--kubeconfig", &kubeconfig]);
    server.reset_requests();

    // Then what the in-cluster weft does with a repository of the starter
    // kinds (the examples: Namespaces, ConfigMaps, ServiceAccounts,
    // Deployments, a StatefulSet, Services, an Ingress): create, wait,
    // plan, and prune what leaves.
    let repo = tempfile::tempdir().unwrap();
    for (from, to) in [("manifests/storefront.yaml", "storefront.yaml"), ("designs/payments.yaml", "payments.yaml")] {
        std::fs::copy(repo_root().join("examples").join(from), repo.path().join(to)).unwrap();
    }
    let path = repo.path().to_str().unwrap().to_owned();
    let with_inventory = |command: &'static str, extra: &[&'static str]| {
        let mut all = vec![command, path.as_str(), "--kubeconfig", kubeconfig.as_str(), "--inventory", inventory.as_str(), "--inventory-namespace", inventory_namespace.as_str()];
        all.extend_from_slice(extra);
        run(&all);
    };
    with_inventory("apply", &["--wait"]);
    with_inventory("plan", &[]);
    std::fs::remove_file(repo.path().join("payments.yaml")).unwrap();
    with_inventory("apply", &["--prune"]);
    assert!(server.get("apps/v1", "Deployment", Some("payments"), "payments").is_none(), "the prune ran");

    let requests = server.requests();
    assert!(requests.iter().any(|r| r.verb == Verb::Apply) && requests.iter().any(|r| r.verb == Verb::Delete), "{requests:#?}");
    let mut denied = Vec::new();
    for r in &requests {
        let Some((group, resource, namespace, name)) = resource_of(&r.path) else {
            // /api, /apis and their groups: the default system:discovery binding.
            assert!(r.verb == Verb::Discovery || r.path == "/version", "{r:?}");
            continue;
        };
        // Server-side apply is a patch, and a create when it makes the object.
        let verbs: Vec<&str> = match r.verb {
            Verb::Get => vec!["get"],
            Verb::List => vec!["list"],
            Verb::Watch => vec!["watch"],
            Verb::Create => vec!["create"],
            Verb::Update => vec!["update"],
            Verb::Patch => vec!["patch"],
            Verb::Apply if r.status == 201 => vec!["patch", "create"],
            Verb::Apply => vec!["patch"],
            Verb::Delete => vec!["delete"],
            other => vec![other.as_str()],
        };
        let name = if matches!(r.verb, Verb::List | Verb::Watch | Verb::Create) { None } else { name.as_deref() };
        for verb in verbs {
            let by_role = namespace.as_deref() == Some(role_namespace.as_str()) && allows(&role["rules"], verb, &group, &resource, name);
            if !by_role && !allows(&cluster_role["rules"], verb, &group, &resource, name) {
                denied.push(format!("{verb} {group}/{resource} {namespace:?} {name:?} ({} {})", r.method, r.path));
            }
        }
    }
    assert!(denied.is_empty(), "the weft design's RBAC would refuse:\n{}", denied.join("\n"));
}
