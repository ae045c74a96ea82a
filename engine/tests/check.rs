//! `weft check` on a fixture pull request: a repository built with git2
//! whose base commit has a ConfigMap, a Deployment using it and a Service
//! in front, and whose head changes the ConfigMap, removes the Service and
//! adds a Secret. Golden files hold the text and Markdown output.

mod common;

use common::*;
use git2::Repository;
use serde_json::Value;

const CONFIG: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
data:
  mode: fast
";

const WEB: &str = "apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.example.com/web:1.4.2
        envFrom:
        - configMapRef: {name: settings}
        ports:
        - containerPort: 8080
";

const SERVICE: &str = "apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
";

const SECRET: &str = "apiVersion: v1
kind: Secret
metadata:
  name: token
  namespace: shop
stringData:
  token: not-in-any-output
";

/// The pull request: `main` is the base, `feature` the head.
fn pull_request() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init(dir.path()).unwrap();
    repo.set_head("refs/heads/main").unwrap();
    let base = git_commit(
        &repo,
        &[("weft.yaml", "name: shop\n"), ("manifests/config.yaml", CONFIG), ("manifests/web.yaml", WEB), ("manifests/service.yaml", SERVICE)],
        "base",
    );
    repo.branch("feature", &repo.find_commit(base).unwrap(), false).unwrap();
    repo.set_head("refs/heads/feature").unwrap();
    git_remove(&repo, "manifests/service.yaml");
    git_commit(&repo, &[("manifests/config.yaml", &CONFIG.replace("fast", "careful")), ("manifests/secret.yaml", SECRET)], "head");
    dir
}

fn check(dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let mut all = vec!["check", "--base", "main", "--head", "feature"];
    all.extend_from_slice(args);
    let output = weft(&all, dir);
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn a_pull_request_lists_changes_with_their_impact() {
    let dir = pull_request();
    let (code, out) = check(dir.path(), &["--format", "json"]);
    assert_eq!(code, 0, "{out}");
    let value: Value = serde_json::from_str(&out).unwrap();
    let components: Vec<(String, String)> = value["changes"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["change"].as_str().unwrap().to_owned(), c["component"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        components,
        vec![
            ("added".to_owned(), "Secret shop/token".to_owned()),
            ("removed".to_owned(), "Service shop/web".to_owned()),
            ("changed".to_owned(), "ConfigMap shop/settings".to_owned()),
        ],
        "{value}"
    );
    let changed = &value["changes"]["components"][2];
    assert_eq!(changed["fields"], serde_json::json!(["/data/mode"]));
    let impact = |c: &Value| c["impact"].as_array().unwrap().iter().map(|r| r["component"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert!(impact(changed).contains(&"Deployment.apps shop/web".to_owned()), "the Deployment that reads the ConfigMap: {changed}");
    let removed = &value["changes"]["components"][1];
    assert!(impact(removed).contains(&"Deployment.apps shop/web".to_owned()), "what the Service pointed at: {removed}");
    let relationships = value["changes"]["relationships"].as_array().unwrap();
    assert!(
        relationships.iter().any(|r| r["change"] == "removed" && r["from"] == "Service shop/web" && r["to"] == "Deployment.apps shop/web"),
        "{relationships:?}"
    );
    assert!(!out.contains("not-in-any-output"), "Secret values stay out of reports");
}

#[test]
fn reading_only_the_changed_files_of_the_base_agrees_with_reading_it_whole() {
    // The head reuses its own designs for the files the base did not
    // change; once weft.yaml differs, the base is read and inferred whole.
    let dir = pull_request();
    let (_, in_part) = check(dir.path(), &["--format", "json"]);
    let repo = Repository::open(dir.path()).unwrap();
    git_commit(&repo, &[("weft.yaml", "name: shop\n# read the base whole\n")], "touch weft.yaml");
    let (code, whole) = check(dir.path(), &["--format", "json"]);
    assert_eq!(code, 0, "{whole}");
    let changes = |out: &str| serde_json::from_str::<Value>(out).unwrap()["changes"].clone();
    assert_eq!(changes(&in_part), changes(&whole));
    assert!(!changes(&whole)["relationships"].as_array().unwrap().is_empty());
}

#[test]
fn text_and_markdown_match_their_golden_files() {
    let dir = pull_request();
    let (code, text) = check(dir.path(), &[]);
    assert_eq!(code, 0, "{text}");
    assert_golden("check/pull-request.txt", &text);
    let (_, markdown) = check(dir.path(), &["--format", "markdown"]);
    assert_golden("check/pull-request.md", &markdown);
}

#[test]
fn head_errors_fail_the_check_and_are_located_in_the_head() {
    let dir = pull_request();
    let repo = Repository::open(dir.path()).unwrap();
    git_commit(&repo, &[("manifests/config.yaml", &CONFIG.replace("\ndata:", "\ndata: ["))], "break it");
    let (code, out) = check(dir.path(), &["--format", "sarif"]);
    assert_eq!(code, 1, "{out}");
    let sarif: Value = serde_json::from_str(&out).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let syntax: Vec<&Value> = results.iter().filter(|r| r["ruleId"] == "yaml-syntax").collect();
    assert_eq!(syntax.len(), 1, "{out}");
    let location = &syntax[0]["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "manifests/config.yaml");
    assert_eq!((location["region"]["startLine"].as_u64(), location["region"]["startColumn"].as_u64()), (Some(6), Some(7)), "{location}");

    let (code, out) = check(dir.path(), &["--format", "junit"]);
    assert_eq!(code, 1);
    assert!(out.contains("<testsuite ") && out.contains("type=\"yaml-syntax\""), "{out}");
    let (code, out) = check(dir.path(), &["--format", "github"]);
    assert_eq!(code, 1);
    assert!(out.contains("::error file=manifests/config.yaml"), "{out}");
}

#[test]
fn fail_on_warning_tightens_the_check() {
    let dir = pull_request();
    let (code, out) = check(dir.path(), &["--format", "json"]);
    assert_eq!(code, 0);
    let value: Value = serde_json::from_str(&out).unwrap();
    let warnings = value["report"]["summary"]["warnings"].as_u64().unwrap();
    assert!(warnings > 0, "the fixture has best-practice warnings (no resource limits): {value}");
    let (code, _) = check(dir.path(), &["--fail-on", "warning"]);
    assert_eq!(code, 1);
}

#[test]
fn the_plan_of_the_head_comes_from_a_snapshot() {
    let dir = pull_request();
    let server = weft_testserver::TestServer::start();
    let scratch = tempfile::tempdir().unwrap();
    let kubeconfig = scratch.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let kubeconfig = kubeconfig.to_str().unwrap();
    let output = weft(&["apply", "--rev", "main", "--kubeconfig", kubeconfig], dir.path());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let snapshot = scratch.path().join("snapshot.json");
    let output = weft(&["snapshot", "--rev", "feature", "--kubeconfig", kubeconfig, "-o", snapshot.to_str().unwrap()], dir.path());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    server.reset_requests();
    let (code, out) = check(dir.path(), &["--snapshot", snapshot.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{out}");
    assert!(server.requests().is_empty(), "a check with a snapshot needs no cluster");
    let value: Value = serde_json::from_str(&out).unwrap();
    let actions: Vec<(String, String)> = value["plan"]["targets"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "unchanged")
        .map(|c| (c["action"].as_str().unwrap().to_owned(), c["name"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        actions,
        vec![("update".to_owned(), "settings".to_owned()), ("create".to_owned(), "token".to_owned()), ("retain".to_owned(), "web".to_owned())],
        "{value}"
    );
    let (_, markdown) = check(dir.path(), &["--snapshot", snapshot.to_str().unwrap(), "--format", "markdown"]);
    assert!(markdown.contains("<details><summary>Plan of the head</summary>"), "{markdown}");
    assert!(!markdown.contains("not-in-any-output"), "Secret values stay masked");
}

#[test]
fn sarif_validates_against_the_sarif_schema_and_junit_is_well_formed() {
    let dir = pull_request();
    let (_, out) = check(dir.path(), &["--format", "sarif"]);
    let sarif: Value = serde_json::from_str(&out).unwrap();
    // The published schema's `language` patterns have a stray `]` that
    // ECMAScript regexes accept and Rust's do not; escape it.
    let text = std::fs::read_to_string(repo_root().join("tests/fixtures/schemas/sarif-2.1.0-rtm.5.json")).unwrap();
    let schema: Value = serde_json::from_str(&text.replace("{2}]?$", "{2}\\\\]?$")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the SARIF schema compiles");
    let errors: Vec<String> = validator.iter_errors(&sarif).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let mut broken = sarif.clone();
    broken["runs"][0]["results"][0]["level"] = Value::String("severe".into());
    assert!(!validator.is_valid(&broken), "the schema is applied");
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 4, "the head's four warnings");

    let (_, xml) = check(dir.path(), &["--format", "junit"]);
    let document = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    let suite = document.root_element();
    assert_eq!(suite.tag_name().name(), "testsuite");
    let cases: Vec<_> = suite.children().filter(|n| n.has_tag_name("testcase")).collect();
    assert_eq!(suite.attribute("tests").and_then(|t| t.parse::<usize>().ok()), Some(cases.len()), "{xml}");
    let failures = cases.iter().filter(|c| c.children().any(|n| n.has_tag_name("failure"))).count();
    assert_eq!(suite.attribute("failures").and_then(|t| t.parse::<usize>().ok()), Some(failures), "{xml}");
}

/// The shipped hook and action definitions: they parse, and every command
/// and flag they run is one weft has.
#[test]
fn the_pre_commit_hook_and_the_action_run_real_commands() {
    let hooks: Value = serde_saphyr::from_str(&std::fs::read_to_string(repo_root().join(".pre-commit-hooks.yaml")).unwrap()).unwrap();
    let dir = pull_request();
    for hook in hooks.as_array().unwrap() {
        let entry: Vec<&str> = hook["entry"].as_str().unwrap().split_whitespace().collect();
        assert_eq!(entry[0], "weft", "{hook}");
        assert_eq!(hook["pass_filenames"], false, "weft reads the repository whole");
        let output = weft(&entry[1..], dir.path());
        assert_eq!(output.status.code(), Some(0), "{hook}: {}", String::from_utf8_lossy(&output.stdout));
    }

    let action: Value = serde_saphyr::from_str(&std::fs::read_to_string(repo_root().join("action.yml")).unwrap()).unwrap();
    assert_eq!(action["runs"]["using"], "composite");
    let help = String::from_utf8_lossy(&weft(&["check", "--help"], dir.path()).stdout).into_owned();
    let script: String = action["runs"]["steps"].as_array().unwrap().iter().filter_map(|s| s["run"].as_str()).collect::<Vec<_>>().join("\n");
    let checks: Vec<&str> = script.lines().filter(|l| l.contains("\" check ")).collect();
    assert_eq!(checks.len(), 3, "{script}");
    for line in checks {
        for flag in line.split_whitespace().filter(|w| w.starts_with("--")) {
            assert!(help.contains(flag), "`weft check` has no {flag}: {line}");
        }
        let format = line.split("--format ").nth(1).and_then(|rest| rest.split_whitespace().next()).unwrap();
        assert!(help.contains(format), "`weft check` has no format {format}");
    }
    assert!(script.contains("--path \"$GITHUB_ACTION_PATH/engine\""), "the action installs this repository's weft");
}
