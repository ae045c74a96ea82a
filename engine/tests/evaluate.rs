//! `weft evaluate`: Meshery-compatible evaluation responses, checked
//! against Meshery's own UI fixture (its evaluated relationships are
//! recorded in the file) and against manifests.

mod common;
use common::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;

const FIXTURE: &str = "tests/fixtures/relationships/meshery-ui-fixture-service-deployment-edge-non-binding-network.json";

fn evaluate(args: &[&str], cwd: &Path) -> (i32, Value) {
    let mut all = vec!["evaluate", "--format", "json"];
    all.extend_from_slice(args);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(&all)
        .current_dir(cwd)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let value = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (output.status.code().unwrap(), value)
}

fn fixture() -> Value {
    serde_json::from_str(&std::fs::read_to_string(repo_root().join(FIXTURE)).unwrap()).unwrap()
}

/// (family, from id, to id) of relationships.
fn ends(relationships: &[Value]) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for r in relationships {
        let family = format!("{}-{}-{}", r["kind"].as_str().unwrap(), r["type"].as_str().unwrap(), r["subType"].as_str().unwrap());
        for s in r["selectors"].as_array().unwrap() {
            for f in s["allow"]["from"].as_array().unwrap() {
                for t in s["allow"]["to"].as_array().unwrap() {
                    out.insert((family.clone(), f["id"].as_str().unwrap().to_owned(), t["id"].as_str().unwrap().to_owned()));
                }
            }
        }
    }
    out
}

fn ops(response: &Value) -> Vec<&str> {
    response["actions"].as_array().unwrap().iter().map(|a| a["op"].as_str().unwrap()).collect()
}

fn write_design(dir: &Path, design: &Value) {
    std::fs::write(dir.join("design.json"), serde_json::to_string_pretty(design).unwrap()).unwrap();
}

#[test]
fn an_evaluated_meshery_design_is_a_fixed_point() {
    let (status, response) = evaluate(&[FIXTURE], &repo_root());
    assert_eq!(status, 0);
    let keys: BTreeSet<&str> = response.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["schemaVersion", "design", "actions", "trace", "timestamp"]));
    assert_eq!(response["timestamp"], "2023-11-14T22:13:20Z");
    assert_eq!(ops(&response), Vec::<&str>::new(), "{}", response["actions"]);
    assert_eq!(response["design"], fixture(), "nothing changes, unknown fields included");
    for key in ["componentsAdded", "componentsRemoved", "componentsUpdated", "relationshipsAdded", "relationshipsRemoved", "relationshipsUpdated"] {
        assert_eq!(response["trace"][key], json!([]), "{key}");
    }
}

#[test]
fn relationships_removed_from_the_fixture_are_inferred_again() {
    let original = fixture();
    let recorded = ends(original["relationships"].as_array().unwrap());
    let mut stripped = original.clone();
    stripped["relationships"] = json!([]);
    let dir = tempfile::tempdir().unwrap();
    write_design(dir.path(), &stripped);
    let (status, response) = evaluate(&["design.json"], dir.path());
    assert_eq!(status, 0);
    assert_eq!(ops(&response), ["add_relationship"; 3]);
    let added = ends(response["design"]["relationships"].as_array().unwrap());
    // Meshery's alias relationship ties its own Container component to the
    // Deployment; every Kubernetes relationship it recorded comes back.
    let kubernetes: BTreeSet<_> = recorded.into_iter().filter(|(family, ..)| family != "hierarchical-parent-alias").collect();
    assert_eq!(added, kubernetes);
    assert_eq!(response["trace"]["relationshipsAdded"].as_array().unwrap().len(), 3);
    assert_eq!(response["design"]["version"], "0.0.3", "a changed design bumps its patch version");
    for r in response["design"]["relationships"].as_array().unwrap() {
        let id = uuid::Uuid::parse_str(r["id"].as_str().unwrap()).unwrap();
        assert_eq!(id.get_version_num(), 5, "ids are UUIDv5 of the bound selector");
        assert_eq!(r["status"], "approved");
        assert!(r["metadata"].get("weftCheck").is_none(), "weft's extension stays out of Meshery's format");
    }
    // Deterministic: the same input gives the same output, ids included.
    assert_eq!(evaluate(&["design.json"], dir.path()).1, response);
}

#[test]
fn a_renamed_namespace_patches_its_members() {
    let mut design = fixture();
    for c in design["components"].as_array_mut().unwrap() {
        if c["component"]["kind"] == "Namespace" {
            c["displayName"] = json!("shop");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    write_design(dir.path(), &design);
    let (_, response) = evaluate(&["design.json"], dir.path());
    let patches: Vec<(&str, &Value, &Value)> = response["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["op"] == "update_component_configuration")
        .map(|a| (a["value"]["id"].as_str().unwrap(), &a["value"]["path"], &a["value"]["value"]))
        .collect();
    let path = json!(["configuration", "metadata", "namespace"]);
    assert_eq!(
        patches,
        [
            ("9dc01b8b-5cae-44b0-b8d7-c27da5f7c1b8", &path, &json!("shop")),
            ("20b9e320-8329-4804-ab5c-3da8c620cac5", &path, &json!("shop")),
        ],
        "{}",
        response["actions"]
    );
    for c in response["design"]["components"].as_array().unwrap() {
        if ["Service", "Deployment"].contains(&c["component"]["kind"].as_str().unwrap()) {
            assert_eq!(c["configuration"]["metadata"]["namespace"], "shop");
        }
    }
    assert_eq!(response["trace"]["componentsUpdated"].as_array().unwrap().len(), 2);
}

#[test]
fn relationships_to_removed_components_are_deleted() {
    let mut design = fixture();
    design["components"].as_array_mut().unwrap().retain(|c| c["component"]["kind"] != "Deployment");
    let dir = tempfile::tempdir().unwrap();
    write_design(dir.path(), &design);
    let (_, response) = evaluate(&["design.json"], dir.path());
    let deleted: BTreeSet<&str> = response["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["op"] == "delete_relationship")
        .map(|a| a["value"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        deleted,
        BTreeSet::from(["b23c7cf2-5d99-4fce-8e10-f490dbdff49f", "c7b6e9fa-4443-4010-bd41-35958a4f6277", "da3034be-f608-4dfc-985f-b1df380150ae"])
    );
    assert_eq!(response["design"]["relationships"].as_array().unwrap().len(), 1);
}

#[test]
fn manifests_become_a_design_with_their_namespace_added() {
    let (status, response) = evaluate(&["tests/fixtures/manifests/guestbook.yaml"], &repo_root());
    assert_eq!(status, 0);
    let design = &response["design"];
    assert_eq!(design["schemaVersion"], "designs.meshery.io/v1beta1");
    let added: Vec<&Value> = response["actions"].as_array().unwrap().iter().filter(|a| a["op"] == "add_component").collect();
    assert_eq!(added.len(), 1, "guestbook lands in `default`, which the file does not define");
    let namespace = &added[0]["value"]["item"];
    assert_eq!((namespace["component"]["kind"].as_str(), namespace["displayName"].as_str()), (Some("Namespace"), Some("default")));
    let relationships = ends(design["relationships"].as_array().unwrap());
    let components = design["components"].as_array().unwrap();
    let inventory = relationships.iter().filter(|(f, _, to)| f == "hierarchical-parent-inventory" && to == namespace["id"].as_str().unwrap()).count();
    assert_eq!(inventory, components.len() - 1, "every object belongs to the added Namespace");
    let network = relationships.iter().filter(|(f, ..)| f == "edge-non-binding-network").count();
    assert_eq!(network, 3, "each guestbook Service selects its Deployment");
}

#[test]
fn yaml_output_holds_the_same_response() {
    let json_out = evaluate(&[FIXTURE], &repo_root()).1;
    let output = weft(&["evaluate", FIXTURE], &repo_root());
    assert!(output.status.success());
    let yaml: Value = serde_saphyr::from_str(&String::from_utf8_lossy(&output.stdout)).unwrap();
    assert_eq!(yaml["design"], json_out["design"]);
    assert_eq!(yaml["actions"], json_out["actions"]);
}

#[test]
fn evaluate_rejects_what_is_not_one_readable_design() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(weft(&["evaluate", "."], dir.path()).status.code(), Some(2));
    std::fs::write(dir.path().join("bad.yaml"), "apiVersion: v1\nkind: [\n").unwrap();
    let output = weft(&["evaluate", "bad.yaml"], dir.path());
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("bad.yaml:2:7"), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn binding_relationships_name_their_binding_component() {
    let (status, response) = evaluate(
        &["--models", "tests/fixtures/relationships/meshery-binding/models", "tests/fixtures/relationships/meshery-binding/rbac.yaml"],
        &repo_root(),
    );
    assert_eq!(status, 0);
    let components = response["design"]["components"].as_array().unwrap();
    let id_of = |kind: &str, name: &str| {
        components.iter().find(|c| c["component"]["kind"] == kind && c["displayName"] == name).unwrap()["id"].clone()
    };
    let binding: Vec<&Value> = response["design"]["relationships"].as_array().unwrap().iter().filter(|r| r["type"] == "binding").collect();
    assert_eq!(binding.len(), 2);
    for r in binding {
        let allow = &r["selectors"][0]["allow"];
        let via = allow["from"][0]["match"]["to"][0].clone();
        let expected = match via["kind"].as_str().unwrap() {
            "RoleBinding" => id_of("RoleBinding", "deployer-deploy"),
            "ClusterRoleBinding" => id_of("ClusterRoleBinding", "auditors"),
            other => panic!("{other}"),
        };
        assert_eq!(via["id"], expected, "{r}");
    }
}
