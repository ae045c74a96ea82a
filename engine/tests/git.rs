//! Reading designs from git (`--rev`, `--repo`): temporary repositories
//! built with git2, read at several commits, locally and through a
//! `file://` URL fetched into a cache; missing refs and corrupt objects
//! are clear errors.

mod common;

use common::*;
use git2::Repository;
use std::path::Path;

const GOOD: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: default
data:
  mode: fast
";

/// Broken: an unclosed flow sequence, reported where the next key appears (5:12).
const BAD: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: [settings
  namespace: default
";

/// A repository whose `main` has a good commit (tagged `v1`) and then a
/// bad one, with a good file again in the (uncommitted) working tree.
fn history() -> (tempfile::TempDir, Repository, git2::Oid) {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init(dir.path()).unwrap();
    repo.set_head("refs/heads/main").unwrap();
    let good = git_commit(&repo, &[("weft.yaml", "name: gitdemo\n"), ("manifests/app.yaml", GOOD)], "good");
    repo.tag_lightweight("v1", &repo.find_object(good, None).unwrap(), false).unwrap();
    git_commit(&repo, &[("manifests/app.yaml", BAD)], "bad");
    std::fs::write(dir.path().join("manifests/app.yaml"), GOOD).unwrap();
    (dir, repo, good)
}

#[test]
fn a_revision_is_read_from_git_not_from_the_working_tree() {
    let (dir, _repo, good) = history();
    let path = dir.path().to_str().unwrap();
    let (code, report) = validate_json(&[path], dir.path());
    assert_eq!(code, 0, "the working tree is good: {report}");

    let (code, report) = validate_json(&["--rev", "HEAD", path], dir.path());
    assert_eq!(code, 1, "{report}");
    assert_eq!(with_code(&report, "yaml-syntax").iter().map(|d| (d.0, d.1, d.2)).collect::<Vec<_>>(), vec![("manifests/app.yaml", 5, 12)], "{report}");

    for rev in ["HEAD~1", "v1", &good.to_string(), &good.to_string()[..8]] {
        let (code, report) = validate_json(&["--rev", rev, path], dir.path());
        assert_eq!(code, 0, "{rev}: {report}");
        assert_eq!(report["designs"][0]["components"], 1, "{rev}: {report}");
    }
    // A path inside the repository narrows the read, from any directory.
    let (code, report) = validate_json(&["--rev", "main", "manifests"], dir.path());
    assert_eq!(code, 1, "{report}");
    let elsewhere = tempfile::tempdir().unwrap();
    let (code, _) = validate_json(&["--rev", "v1", &format!("{path}/manifests")], elsewhere.path());
    assert_eq!(code, 0);
}

#[test]
fn a_remote_is_fetched_into_the_cache() {
    let (dir, _repo, _) = history();
    let cache = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().display());
    let cache_arg = cache.path().to_str().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let (code, report) = validate_json(&["--repo", &url, "--rev", "v1", "--git-cache", cache_arg], elsewhere.path());
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["designs"][0]["components"], 1, "{report}");
    let (code, report) = validate_json(&["--repo", &url, "--rev", "main", "--git-cache", cache_arg], elsewhere.path());
    assert_eq!(code, 1, "{report}");
    assert_eq!(with_code(&report, "yaml-syntax")[0].0, "manifests/app.yaml");
    // The default revision is the remote's HEAD.
    let (code, _) = validate_json(&["--repo", &url, "--git-cache", cache_arg], elsewhere.path());
    assert_eq!(code, 1);
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 1, "one cached clone per URL");
}

#[test]
fn missing_revisions_and_repositories_are_clear_errors() {
    let (dir, _repo, _) = history();
    let path = dir.path().to_str().unwrap();
    let output = weft(&["validate", "--rev", "no-such-branch", path], dir.path());
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no branch, tag or commit `no-such-branch`"), "{stderr}");

    let plain = tempfile::tempdir().unwrap();
    let output = weft(&["validate", "--rev", "HEAD", plain.path().to_str().unwrap()], plain.path());
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not in a git repository"));

    let cache = tempfile::tempdir().unwrap();
    let url = format!("file://{}/nowhere", plain.path().display());
    let output = weft(&["validate", "--repo", &url, "--git-cache", cache.path().to_str().unwrap()], plain.path());
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot fetch"), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn a_corrupt_object_is_a_diagnostic_at_its_file() {
    let (dir, repo, good) = history();
    let blob = repo.find_commit(good).unwrap().tree().unwrap().get_path(Path::new("manifests/app.yaml")).unwrap().id().to_string();
    let object = dir.path().join(".git/objects").join(&blob[..2]).join(&blob[2..]);
    let mut permissions = std::fs::metadata(&object).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    std::fs::set_permissions(&object, permissions).unwrap();
    std::fs::write(&object, b"not a zlib stream").unwrap();
    let (code, report) = validate_json(&["--rev", "v1", dir.path().to_str().unwrap()], dir.path());
    assert_eq!(code, 1, "{report}");
    let unreadable = with_code(&report, "unreadable");
    assert_eq!(unreadable.len(), 1, "{report}");
    assert_eq!(unreadable[0].0, "manifests/app.yaml");
    assert!(unreadable[0].4.contains(&blob), "{report}");
}

#[test]
fn a_plan_of_a_revision_applies_what_the_commit_holds() {
    let (dir, _repo, _) = history();
    let server = weft_testserver::TestServer::start();
    let kubeconfig = dir.path().join(".kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    std::fs::write(dir.path().join("manifests/app.yaml"), GOOD.replace("fast", "uncommitted")).unwrap();
    let output = weft(
        &["plan", "--rev", "v1", dir.path().to_str().unwrap(), "--kubeconfig", kubeconfig.to_str().unwrap(), "--format", "json"],
        dir.path(),
    );
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
    let change = &plan["targets"][0]["changes"][0];
    assert_eq!((change["action"].as_str(), change["name"].as_str()), (Some("create"), Some("settings")), "{plan}");
    let diff = change["diff"].as_str().unwrap();
    assert!(diff.contains("mode: fast") && !diff.contains("uncommitted"), "{diff}");
    // The inventory is named by weft.yaml as the commit has it.
    assert!(diff.contains("applyset"), "{diff}");
    let output = weft(&["apply", "--rev", "v1", dir.path().to_str().unwrap(), "--kubeconfig", kubeconfig.to_str().unwrap()], dir.path());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(server.get("v1", "ConfigMap", Some("default"), "weft-gitdemo").is_some(), "inventory named from the commit's weft.yaml");
}

#[test]
fn environment_paths_select_designs_from_git_as_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init(dir.path()).unwrap();
    repo.set_head("refs/heads/main").unwrap();
    let weft_yaml = "name: envs\nenvironments:\n  apps:\n    contexts: [weft-test]\n    paths: [./apps/]\n";
    git_commit(&repo, &[("weft.yaml", weft_yaml), ("apps/app.yaml", GOOD), ("infra/infra.yaml", &GOOD.replace("settings", "infra"))], "two folders");
    let server = weft_testserver::TestServer::start();
    let kubeconfig = dir.path().join(".kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().display());
    let planned = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["plan", "--env", "apps", "--kubeconfig", kubeconfig.to_str().unwrap(), "--format", "json"];
        args.extend_from_slice(extra);
        let output = weft(&args, dir.path());
        let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
        plan["targets"][0]["changes"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(planned(&[dir.path().to_str().unwrap()]), vec!["settings"], "from the working tree");
    assert_eq!(planned(&["--rev", "main", dir.path().to_str().unwrap()]), vec!["settings"], "from a local commit");
    assert_eq!(planned(&["--repo", &url, "--git-cache", cache.path().to_str().unwrap()]), vec!["settings"], "from a fetched remote");
}
