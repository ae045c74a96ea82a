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

// --- `weft catalog` ---------------------------------------------------------

/// The entries' names, as folders of catalog/.
fn entry_names() -> Vec<String> {
    entries().iter().map(|e| e.file_name().unwrap().to_str().unwrap().to_owned()).collect()
}

/// `weft ARGS` in `cwd`; panics unless it exits with `code`. Returns stdout and stderr.
fn run_weft(args: &[&str], cwd: &Path, code: i32) -> (String, String) {
    let output = weft(args, cwd);
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned());
    assert_eq!(output.status.code(), Some(code), "weft {args:?}:\n{stdout}\n{stderr}");
    (stdout, stderr)
}

fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12]) && groups.iter().all(|g| g.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()))
}

fn component_ids(design: &Value) -> Vec<String> {
    design["components"].as_array().unwrap().iter().map(|c| c["id"].as_str().expect("component id").to_owned()).collect()
}

#[test]
fn every_file_in_the_catalog_is_an_entry_design_or_the_readme() {
    let readme = std::fs::read_to_string(catalog().join("README.md")).unwrap();
    for item in std::fs::read_dir(catalog()).unwrap() {
        let path = item.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if path.is_file() {
            assert_eq!(name, "README.md", "catalog/{name}: only entry folders and the README belong in catalog/");
            continue;
        }
        let files: Vec<String> = std::fs::read_dir(&path).unwrap().map(|f| f.unwrap().file_name().to_str().unwrap().to_owned()).collect();
        assert_eq!(files, ["design.yaml"], "catalog/{name} holds one design.yaml and nothing else");
        let design = read_yaml(&path.join("design.yaml"));
        // `weft catalog import` names an entry after its design.
        assert_eq!(design["name"], name.as_str(), "catalog/{name}: the design's name is its folder's");
        assert!(design["id"].as_str().is_some_and(is_uuid), "catalog/{name}: the design id is a UUID");
        let ids = component_ids(&design);
        assert!(ids.iter().all(|id| is_uuid(id)), "catalog/{name}: component ids are UUIDs: {ids:?}");
        assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len(), "catalog/{name}: component ids repeat");
        assert!(readme.contains(&format!("\n## {name}/")), "catalog/README.md has no section `## {name}/`");
    }
}

#[test]
fn the_built_in_catalog_is_the_catalog_folder_and_works_from_any_directory() {
    let elsewhere = tempfile::tempdir().unwrap();
    let (stdout, _) = run_weft(&["catalog", "list", "--format", "json"], elsewhere.path(), 0);
    let listed: Vec<Value> = serde_json::from_str(&stdout).unwrap();
    let names: Vec<&str> = listed.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, entry_names(), "the catalog built into weft differs from catalog/: rebuild");
    for entry in &listed {
        let name = entry["name"].as_str().unwrap();
        let design = read_yaml(&catalog().join(name).join("design.yaml"));
        assert_eq!(entry["components"].as_u64(), Some(design["components"].as_array().unwrap().len() as u64), "{name}");
        let data = &design["metadata"]["catalog_data"];
        for field in ["class", "type", "pattern_info", "pattern_caveats", "publishedVersion"] {
            assert_eq!(entry["catalog_data"][field], data[field], "{name}: {field}");
        }
    }
}

#[test]
fn catalog_list_prints_a_table_of_the_entries() {
    let elsewhere = tempfile::tempdir().unwrap();
    let (stdout, _) = run_weft(&["catalog", "list"], elsewhere.path(), 0);
    assert_golden("cli/catalog-list.txt", &stdout);
}

#[test]
fn catalog_show_prints_metadata_components_and_caveats() {
    let (stdout, _) = run_weft(&["catalog", "show", "webapp-postgres"], &repo_root(), 0);
    let design = read_yaml(&catalog().join("webapp-postgres/design.yaml"));
    assert!(stdout.starts_with("webapp-postgres v0.1.0\n  type: Workloads\n  class: reference architecture\n"), "{stdout}");
    for (kind, name) in [("StatefulSet", "todo-api/db"), ("Secret", "todo-api/db-credentials"), ("Deployment", "todo-api/api")] {
        assert!(stdout.lines().any(|l| l.split_whitespace().take(2).eq([kind, name])), "{kind} {name} in:\n{stdout}");
    }
    let caveats = stdout.split_once("\ncaveats:\n").expect("a caveats section").1;
    let words = |text: &str| text.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(words(caveats), words(design["metadata"]["catalog_data"]["pattern_caveats"].as_str().unwrap()));

    let (stdout, _) = run_weft(&["catalog", "show", "webapp-postgres", "--format", "json"], &repo_root(), 0);
    let shown: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(shown["components"].as_array().unwrap().len(), design["components"].as_array().unwrap().len());
    assert_eq!(shown["design"]["id"], design["id"]);

    let (_, stderr) = run_weft(&["catalog", "show", "no-such-entry"], &repo_root(), 2);
    assert!(stderr.contains("no catalog entry `no-such-entry` (entries: cert-manager-tls,"), "{stderr}");
}

/// A `--set` for an entry: a label on the first component that has labels,
/// and the replicas of its first Deployment, if any; with what each set.
fn sets_for(design: &Value) -> Vec<(String, String, Vec<&'static str>, Value)> {
    let components = design["components"].as_array().unwrap();
    let mut sets = Vec::new();
    let labelled = components.iter().find(|c| c["configuration"]["metadata"]["labels"].is_object()).expect("a component with labels");
    let (kind, name) = (labelled["component"]["kind"].as_str().unwrap(), labelled["displayName"].as_str().unwrap());
    sets.push((format!("{kind}/{name}.metadata.labels.team=payments"), labelled["id"].as_str().unwrap().to_owned(), vec!["metadata", "labels", "team"], Value::from("payments")));
    if let Some(deployment) = components.iter().find(|c| c["component"]["kind"] == "Deployment") {
        let name = deployment["displayName"].as_str().unwrap();
        sets.push((format!("Deployment/{name}.spec.replicas=3"), deployment["id"].as_str().unwrap().to_owned(), vec!["spec", "replicas"], Value::from(3)));
    }
    sets
}

/// The relationships of `path` as (kind, from, to) by kind and name, not
/// id or namespace (a Namespace is named by its kind alone, since `use`
/// renames it).
fn relationships_of(path: &Path) -> BTreeSet<(String, String, String)> {
    let (stdout, stderr) = run_weft(&["graph", path.to_str().unwrap(), "--format", "json"], &repo_root(), 0);
    assert!(stderr.is_empty(), "{stderr}");
    let graph: Value = serde_json::from_str(&stdout).unwrap();
    let label = |id: &Value| {
        let node = graph["nodes"].as_array().unwrap().iter().find(|n| n["id"] == *id).expect("edge ends are nodes");
        let kind = node["kind"].as_str().unwrap();
        if kind == "Namespace" { kind.to_owned() } else { format!("{kind}/{}", node["name"].as_str().unwrap()) }
    };
    graph["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (format!("{}/{}/{}", e["kind"].as_str().unwrap(), e["type"].as_str().unwrap(), e["subType"].as_str().unwrap()), label(&e["from"]), label(&e["to"])))
        .collect()
}

#[test]
fn every_entry_instantiates_into_a_namespace_with_values_set_and_validates_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let into = dir.path().to_str().unwrap().to_owned();
    for name in entry_names() {
        let original = read_yaml(&catalog().join(&name).join("design.yaml"));
        let sets = sets_for(&original);
        let mut args = vec!["catalog", "use", name.as_str(), "--into", into.as_str(), "--namespace", "team-a", "--format", "json"];
        for (set, ..) in &sets {
            args.extend(["--set", set.as_str()]);
        }
        // The validation report of the copy: clean.
        let (stdout, stderr) = run_weft(&args, &repo_root(), 0);
        let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{name}: {e}\n{stdout}"));
        assert_eq!(diagnostics(&report), &Vec::<Value>::new(), "{name}: {report:#}");
        assert!(stderr.contains(&format!("{name}.yaml")), "{stderr}");
        let file = dir.path().join(format!("{name}.yaml"));
        let (code, strict) = validate_json(&["--strict", file.to_str().unwrap()], &repo_root());
        assert_eq!((code, diagnostics(&strict).len()), (0, 0), "{name}: {strict:#}");

        let copy = read_yaml(&file);
        // New ids, none of the entry's, none repeated; the same components.
        let (old_ids, new_ids) = (component_ids(&original), component_ids(&copy));
        assert_eq!(new_ids.len(), old_ids.len(), "{name}");
        assert!(new_ids.iter().all(|id| is_uuid(id) && !old_ids.contains(id)), "{name}: {new_ids:?}");
        assert_eq!(new_ids.iter().collect::<BTreeSet<_>>().len(), new_ids.len(), "{name}");
        assert!(copy["id"].as_str().is_some_and(is_uuid) && copy["id"] != original["id"], "{name}");
        // The namespace: on every namespaced component, and the Namespace's name.
        for (before, after) in original["components"].as_array().unwrap().iter().zip(copy["components"].as_array().unwrap()) {
            assert_eq!(before["component"], after["component"], "{name}: components keep their order");
            if before["component"]["kind"] == "Namespace" {
                assert_eq!(after["displayName"], "team-a", "{name}");
            } else if before["configuration"]["metadata"]["namespace"].is_string() {
                assert_eq!(after["configuration"]["metadata"]["namespace"], "team-a", "{name}: {}", before["displayName"]);
            } else {
                assert!(after["configuration"]["metadata"]["namespace"].is_null(), "{name}: a cluster-scoped {} got a namespace", before["component"]["kind"]);
            }
        }
        // The values, on the components they name.
        for (set, id, path, value) in &sets {
            let at = old_ids.iter().position(|i| i == id).unwrap();
            let mut field = &copy["components"][at]["configuration"];
            for segment in path {
                field = &field[*segment];
            }
            assert_eq!(field, value, "{name}: --set {set}");
        }
        // weft finds the same relationships between the same objects.
        let before = relationships_of(&catalog().join(&name));
        assert!(!before.is_empty(), "{name}: weft infers no relationship in the entry");
        assert_eq!(relationships_of(&file), before, "{name}: the copy's relationships differ from the entry's");

        // Again, into the same namespace: the same file.
        let text = std::fs::read_to_string(&file).unwrap();
        let (_, stderr) = run_weft(&args, &repo_root(), 2);
        assert!(stderr.contains("exists; pass --force"), "{stderr}");
        let mut forced = args.clone();
        forced.push("--force");
        run_weft(&forced, &repo_root(), 0);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), text, "{name}: re-running `use` changed the copy");
        // Into another namespace: other ids.
        let other = tempfile::tempdir().unwrap();
        run_weft(&["catalog", "use", &name, "--into", other.path().to_str().unwrap(), "--namespace", "team-b"], &repo_root(), 0);
        let second = read_yaml(&other.path().join(format!("{name}.yaml")));
        assert!(component_ids(&second).iter().all(|id| !new_ids.contains(id)), "{name}: two instances share ids");
        assert_ne!(second["id"], copy["id"]);
    }
}

#[test]
fn use_names_unknown_components_and_fields_and_refuses_bad_namespaces() {
    let dir = tempfile::tempdir().unwrap();
    let into = dir.path().to_str().unwrap();
    let fails = |extra: &[&str], expected: &str| {
        let mut args = vec!["catalog", "use", "webapp-postgres", "--into", into];
        args.extend_from_slice(extra);
        let (_, stderr) = run_weft(&args, &repo_root(), 2);
        assert!(stderr.contains(expected), "{extra:?}: {stderr}");
    };
    fails(&["--set", "web.spec.replicas=3"], "no component web (components: Secret/db-credentials, ConfigMap/db-init,");
    fails(&["--set", "api.spec.replicas=3"], "`api` names 2 components (Deployment/api, Service/api): write KIND/api");
    fails(&["--set", "Deployment/api.spec.replica.count=3"], "Deployment/api has no field `replica` in `spec` (fields: replicas, selector, template)");
    fails(&["--set", "Deployment/api.spec.template.spec.containers.1.image=x"], "`spec.template.spec.containers` of Deployment/api is a list of 1; `1` is not an index in it");
    fails(&["--set", "Deployment/api.spec.replicas.x=3"], "`spec.replicas` of Deployment/api is a number, which has no field `x`");
    fails(&["--set", "Deployment/api=3"], "no field after the component");
    fails(&["--namespace", "Team_A"], "--namespace Team_A: not a namespace name");
    // A value may be a password: a failed --set names where it was to go, never the value.
    let mut args = vec!["catalog", "use", "webapp-postgres", "--into", into, "--set", "Secret/db-credentials.stringData.pasword.x=hunter2"];
    let (_, stderr) = run_weft(&args, &repo_root(), 2);
    assert!(stderr.contains("--set Secret/db-credentials.stringData.pasword.x=…:") && !stderr.contains("hunter2"), "{stderr}");
    args[6] = "Secret/db-credentials.stringData.password=[hunter2";
    let (_, stderr) = run_weft(&args, &repo_root(), 2);
    assert!(stderr.contains("the value is not YAML") && !stderr.contains("hunter2"), "{stderr}");
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "a failed `use` wrote a file");

    // A value the schema refuses is written, reported, and fails the run.
    let (stdout, _) = run_weft(&["catalog", "use", "webapp-postgres", "--into", into, "--set", "Deployment/api.spec.replicas=many"], &repo_root(), 1);
    assert!(stdout.contains("error[schema]") && stdout.contains("/spec/replicas"), "{stdout}");
    // Kind matches whatever its case; a label key with dots is escaped.
    let (stdout, _) = run_weft(
        &["catalog", "use", "webapp-postgres", "--into", into, "--force", "--set", r"deployment/api.metadata.labels.app\.kubernetes\.io/version=12.2.3", "--set", "Secret/db-credentials.stringData.password=\"12345\""],
        &repo_root(),
        0,
    );
    assert!(stdout.contains("no problems"), "{stdout}");
    let copy = read_yaml(&dir.path().join("webapp-postgres.yaml"));
    let (_, api) = components(&copy, "Deployment")[0];
    assert_eq!(api["metadata"]["labels"]["app.kubernetes.io/version"], "12.2.3");
    let (_, secret) = components(&copy, "Secret")[0];
    assert_eq!(secret["stringData"]["password"], "12345", "a quoted number stays a string");
    // The header comment records the --set, but not the Secret's value: it
    // would outlive the Secret taken out of the copy.
    let text = std::fs::read_to_string(dir.path().join("webapp-postgres.yaml")).unwrap();
    assert_eq!(text.matches("12345").count(), 1, "{text}");
    assert!(text.contains("# --set Secret/db-credentials.stringData.password=(value not recorded)\n"), "{text}");
    assert!(text.contains("# --set deployment/api.metadata.labels.app\\.kubernetes\\.io/version=12.2.3\n"), "{text}");
}

/// A catalog folder in `dir` holding `entries` as (name, design).
fn write_catalog(dir: &Path, entries: &[(&str, &Value)]) {
    for (name, design) in entries {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        std::fs::write(dir.join(name).join("design.yaml"), serde_json::to_string_pretty(design).unwrap()).unwrap();
    }
}

#[test]
fn entries_whose_components_are_not_maps_are_input_errors_with_their_position() {
    // A component that is a string or a number (a hand-edited or imported
    // entry) used to panic `use` while it gave ids out.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("odd")).unwrap();
    let text = "schemaVersion: designs.meshery.io/v1beta1\nname: odd\nversion: v0.0.1\nmetadata:\n  catalog_data:\n    pattern_info: An odd entry.\ncomponents:\n  - just-a-string\n  - 42\n";
    std::fs::write(dir.path().join("odd/design.yaml"), text).unwrap();
    let catalog_dir = dir.path().to_str().unwrap();
    let into = dir.path().join("out");
    for namespace in [None, Some("shop")] {
        let mut args = vec!["catalog", "use", "odd", "--catalog", catalog_dir, "--into", into.to_str().unwrap()];
        args.extend(namespace.iter().flat_map(|ns| ["--namespace", ns]));
        let (_, stderr) = run_weft(&args, &repo_root(), 1);
        assert!(stderr.contains("odd/design.yaml:8:5: a component must be a map"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert!(!into.exists(), "a failed `use` wrote a file");
    let (_, stderr) = run_weft(&["catalog", "show", "odd", "--catalog", catalog_dir], &repo_root(), 1);
    assert!(stderr.contains("odd/design.yaml:8:5: a component must be a map"), "{stderr}");
    run_weft(&["catalog", "list", "--catalog", catalog_dir], &repo_root(), 1);
    // Exporting it, or importing a file that is no tarball, is an input error too.
    let tarball = dir.path().join("odd.tar");
    let (_, stderr) = run_weft(&["catalog", "export", "odd", "--oci", "-o", tarball.to_str().unwrap(), "--catalog", catalog_dir], &repo_root(), 1);
    assert!(stderr.contains("odd/design.yaml:8:5: a component must be a map") && !tarball.exists(), "{stderr}");
    // A YAML error is named where it is.
    std::fs::write(dir.path().join("odd/design.yaml"), "schemaVersion: designs.meshery.io/v1beta1\nname: [odd\n").unwrap();
    let (_, stderr) = run_weft(&["catalog", "show", "odd", "--catalog", catalog_dir], &repo_root(), 1);
    assert!(stderr.contains("odd/design.yaml:2:7: "), "{stderr}");
    std::fs::write(&tarball, "not a tarball").unwrap();
    run_weft(&["catalog", "import", tarball.to_str().unwrap(), "--into", dir.path().join("imported").to_str().unwrap()], &repo_root(), 1);
    // An endless input is refused once past the cap, not read into memory.
    let (_, stderr) = run_weft(&["catalog", "import", "/dev/zero", "--into", dir.path().join("imported").to_str().unwrap()], &repo_root(), 1);
    assert!(stderr.contains("/dev/zero: more than the 67108864 byte cap"), "{stderr}");
}

#[test]
fn use_remaps_declared_relationships_to_the_new_ids() {
    // The gateway entry with a relationship declared between the route and
    // its Service, as Meshery's designer records one.
    let mut design = read_yaml(&catalog().join("gateway-route/design.yaml"));
    let id_of = |design: &Value, kind: &str| design["components"].as_array().unwrap().iter().find(|c| c["component"]["kind"] == kind).unwrap()["id"].clone();
    let (service, route) = (id_of(&design, "Service"), id_of(&design, "HTTPRoute"));
    design["relationships"] = serde_json::json!([{
        "id": "0b8f5a1e-7d0c-4d35-9f43-6a1c2f0e9b11",
        "kind": "edge", "type": "non-binding", "subType": "network", "status": "approved",
        "selectors": [{"allow": {"from": [{"id": service, "kind": "Service"}], "to": [{"id": route, "kind": "HTTPRoute"}]}}],
    }]);
    let dir = tempfile::tempdir().unwrap();
    write_catalog(&dir.path().join("catalog"), &[("gateway-route", &design)]);
    let catalog_dir = dir.path().join("catalog");
    let into = dir.path().join("repo");
    let (stdout, _) = run_weft(
        &["catalog", "use", "gateway-route", "--catalog", catalog_dir.to_str().unwrap(), "--into", into.to_str().unwrap(), "--namespace", "edge"],
        &repo_root(),
        0,
    );
    assert!(stdout.contains("no problems"), "{stdout}");
    let copy = read_yaml(&into.join("gateway-route.yaml"));
    let relationship = &copy["relationships"][0];
    assert_ne!(relationship["id"], "0b8f5a1e-7d0c-4d35-9f43-6a1c2f0e9b11");
    let allow = &relationship["selectors"][0]["allow"];
    assert_eq!((&allow["from"][0]["id"], &allow["to"][0]["id"]), (&id_of(&copy, "Service"), &id_of(&copy, "HTTPRoute")));
    assert_ne!(allow["to"][0]["id"], route);
}

#[test]
fn catalog_data_reads_the_same_in_snake_case_and_camel_case() {
    let snake = read_yaml(&catalog().join("servicemonitor/design.yaml"));
    let mut camel = snake.clone();
    let data = camel["metadata"].as_object_mut().unwrap().remove("catalog_data").unwrap();
    let mut renamed = serde_json::Map::new();
    for (key, value) in data.as_object().unwrap() {
        let key = match key.as_str() {
            "pattern_info" => "patternInfo",
            "pattern_caveats" => "patternCaveats",
            other => other,
        };
        renamed.insert(key.to_owned(), value.clone());
    }
    assert!(renamed.contains_key("patternInfo") && renamed.contains_key("patternCaveats"));
    camel["metadata"]["catalogData"] = Value::Object(renamed);
    let dir = tempfile::tempdir().unwrap();
    write_catalog(dir.path(), &[("snake", &snake), ("camel", &camel)]);
    let show = |name: &str| {
        let (stdout, _) = run_weft(&["catalog", "show", name, "--catalog", dir.path().to_str().unwrap(), "--format", "json"], &repo_root(), 0);
        serde_json::from_str::<Value>(&stdout).unwrap()
    };
    let (snake, camel) = (show("snake"), show("camel"));
    assert_eq!(snake["catalog_data"], camel["catalog_data"]);
    assert_eq!(snake["catalog_data"]["type"], "Observability");
    assert!(snake["catalog_data"]["pattern_info"].as_str().unwrap().starts_with("Metrics of an application"));
    // An entry without catalog metadata is named; the others still list.
    let mut bare = read_yaml(&catalog().join("servicemonitor/design.yaml"));
    bare["metadata"].as_object_mut().unwrap().remove("catalog_data");
    write_catalog(dir.path(), &[("bare", &bare)]);
    let (stdout, stderr) = run_weft(&["catalog", "list", "--catalog", dir.path().to_str().unwrap()], &repo_root(), 1);
    assert!(stderr.contains("bare/design.yaml: the design has no metadata.catalog_data"), "{stderr}");
    let rows: Vec<&str> = stdout.lines().skip(1).map(|l| l.split_once("  ").unwrap().1.trim_start()).collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    assert_eq!(rows[0], rows[1], "{stdout}");
}

#[test]
fn entries_round_trip_through_meshery_oci_tarballs() {
    let dir = tempfile::tempdir().unwrap();
    let imported = dir.path().join("imported");
    for name in entry_names() {
        let tarball = dir.path().join(format!("{name}.tar"));
        run_weft(&["catalog", "export", &name, "--oci", "-o", tarball.to_str().unwrap()], &repo_root(), 0);
        let bytes = std::fs::read(&tarball).unwrap();
        // Meshery's layout: manifest.json naming one layer that holds design.yml.
        let Ok(designs) = weft::load::oci::design_files(&bytes, 1 << 24) else { panic!("{name}: the tarball does not read back") };
        let original = std::fs::read(catalog().join(&name).join("design.yaml")).unwrap();
        assert_eq!(designs, vec![("design.yml".to_owned(), original.clone())], "{name}");
        // weft reads the tarball as it reads the folder.
        let (code, report) = validate_json(&["--strict", tarball.to_str().unwrap()], &repo_root());
        assert_eq!((code, diagnostics(&report).len()), (0, 0), "{name}: {report:#}");
        // And back into a catalog: the entry as it was, byte for byte.
        run_weft(&["catalog", "import", tarball.to_str().unwrap(), "--into", imported.to_str().unwrap()], &repo_root(), 0);
        assert_eq!(std::fs::read(imported.join(&name).join("design.yaml")).unwrap(), original, "{name}");
        // An export depends on the entry alone.
        let again = dir.path().join("again.tar");
        run_weft(&["catalog", "export", &name, "--oci", "-o", again.to_str().unwrap()], &repo_root(), 0);
        assert_eq!(std::fs::read(&again).unwrap(), bytes, "{name}: two exports differ");
    }
    let (stdout, _) = run_weft(&["catalog", "list", "--catalog", imported.to_str().unwrap(), "--format", "json"], &repo_root(), 0);
    let (built_in, _) = run_weft(&["catalog", "list", "--format", "json"], &repo_root(), 0);
    assert_eq!(stdout, built_in);
    let (_, stderr) = run_weft(&["catalog", "import", dir.path().join("weft.tar").to_str().unwrap(), "--into", imported.to_str().unwrap()], &repo_root(), 2);
    assert!(stderr.contains("exists; pass --force"), "{stderr}");

    // A design Meshery exported (no catalog metadata: Meshery keeps it
    // beside the design) imports with a minimal one, and lists.
    let meshery = fixtures().join("meshery/meshkit-valid-design-oci.tar");
    let other = dir.path().join("from-meshery");
    run_weft(&["catalog", "import", meshery.to_str().unwrap(), "--into", other.to_str().unwrap()], &repo_root(), 0);
    let (stdout, _) = run_weft(&["catalog", "list", "--catalog", other.to_str().unwrap()], &repo_root(), 0);
    assert!(stdout.lines().nth(1).is_some_and(|l| l.starts_with("my-design") && l.contains("community")), "{stdout}");
}

#[test]
fn instantiated_entries_apply_to_a_cluster_and_then_plan_no_changes() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let repo = dir.path().join("repo");
    let into = repo.to_str().unwrap();
    // Entries without a Namespace expect it in the repository, as a user's holds it.
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(repo.join("namespace.yaml"), "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n").unwrap();
    run_weft(&["catalog", "use", "webapp-postgres", "--into", into, "--namespace", "shop"], &repo_root(), 0);
    run_weft(&["catalog", "use", "ingress-app", "--into", into, "--namespace", "shop", "--set", "Deployment/web.spec.replicas=3"], &repo_root(), 0);
    let run = |command: &str| {
        let output = weft(&[command, repo.to_str().unwrap(), "--kubeconfig", kubeconfig.to_str().unwrap(), "--format", "json"], &repo_root());
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let value: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{command}: {e}\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr)));
        (output.status.code(), value)
    };
    let (code, applied) = run("apply");
    assert_eq!(code, Some(0), "{applied:#}");
    let statefulset = server.get("apps/v1", "StatefulSet", Some("shop"), "db").expect("the database StatefulSet");
    assert_eq!(statefulset["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"], "10Gi");
    let web = server.get("apps/v1", "Deployment", Some("shop"), "web").expect("the web Deployment");
    assert_eq!(web["spec"]["replicas"], 3);
    assert!(server.get("networking.k8s.io/v1", "Ingress", Some("shop"), "web").is_some());
    let (code, plan) = run("plan");
    assert_eq!(code, Some(0), "{plan:#}");
    // The Namespace and both entries' objects.
    let objects = 1 + ["webapp-postgres", "ingress-app"].iter().map(|n| read_yaml(&catalog().join(n).join("design.yaml"))["components"].as_array().unwrap().len()).sum::<usize>();
    assert_eq!(plan["summary"]["unchanged"].as_u64(), Some(objects as u64), "{plan:#}");
    for action in ["create", "update", "delete", "deferred", "retain", "error"] {
        assert_eq!(plan["summary"][action].as_u64(), Some(0), "{action}: {plan:#}");
    }
}

/// What each entry is for shows in its graph: the relationship that makes
/// the pattern (the route to its Service, the plugin to the Pods it loads
/// into) is inferred, so `weft graph` and the impact in `weft check` see it.
#[test]
fn every_entry_shows_the_relationship_it_is_about() {
    let expected: &[(&str, &str, &str, &str)] = &[
        ("cert-manager-tls", "edge/non-binding/reference", "Issuer/ca", "Certificate/web-tls"),
        ("cert-manager-tls", "edge/non-binding/reference", "Certificate/web-tls", "Deployment/web"),
        ("gateway-route", "hierarchical/parent/network", "HTTPRoute/podinfo", "Gateway/public"),
        ("gateway-route", "edge/non-binding/network", "Service/podinfo", "HTTPRoute/podinfo"),
        ("ingress-app", "edge/non-binding/network", "Service/web", "Ingress/web"),
        ("istio-traffic-split", "edge/non-binding/network", "Service/echo", "VirtualService/echo"),
        ("istio-traffic-split", "edge/non-binding/network", "Service/echo", "DestinationRule/echo"),
        ("istio-wasm-plugin", "edge/non-binding/network", "WasmPlugin/basic-auth", "Deployment/httpbin"),
        ("performance-test", "edge/non-binding/reference", "Service/podinfo", "PerformanceTest/podinfo-latency"),
        ("servicemonitor", "edge/non-binding/network", "ServiceMonitor/example-app", "Service/example-app"),
        ("webapp-postgres", "edge/non-binding/reference", "Secret/db-credentials", "StatefulSet/db"),
        ("webapp-postgres", "edge/non-binding/network", "Service/db", "StatefulSet/db"),
        ("weft", "edge/non-binding/permission", "ClusterRole/weft-apply", "ClusterRoleBinding/weft-apply"),
    ];
    for name in entry_names() {
        assert!(expected.iter().any(|(entry, ..)| *entry == name), "{name}: say which relationship the entry is about");
    }
    for (entry, kind, from, to) in expected {
        let found = relationships_of(&catalog().join(entry));
        let wanted = (kind.to_string(), from.to_string(), to.to_string());
        assert!(found.contains(&wanted), "{entry}: no {kind} {from} -> {to} in {found:?}");
    }
}
