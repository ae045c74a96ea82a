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
    assert_unreadable_app_yaml(dir.path(), &blob);
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

/// Serves the repositories below `base` over git:// (the smart protocol,
/// which can fetch shallow; libgit2's file:// transport cannot): each
/// connection is answered by `git daemon --inetd`. None when `git` is not
/// installed.
fn git_server(base: &Path) -> Option<String> {
    use std::os::fd::OwnedFd;
    use std::process::{Command, Stdio};
    if Command::new("git").arg("--version").output().map(|o| !o.status.success()).unwrap_or(true) {
        eprintln!("git is not installed: the git:// part of this test is skipped");
        return None;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let base = base.to_path_buf();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let Ok(output) = stream.try_clone() else { continue };
            let _ = Command::new("git")
                .args(["daemon", "--inetd", "--export-all", "--informative-errors"])
                .arg(format!("--base-path={}", base.display()))
                .stdin(Stdio::from(OwnedFd::from(stream)))
                .stdout(Stdio::from(OwnedFd::from(output)))
                .stderr(Stdio::null())
                .spawn()
                .map(|mut child| std::thread::spawn(move || child.wait()));
        }
    });
    Some(format!("git://127.0.0.1:{port}"))
}

/// The one clone in a git cache folder.
fn cached_clone(cache: &Path) -> std::path::PathBuf {
    let clones: Vec<_> = std::fs::read_dir(cache).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(clones.len(), 1, "{clones:?}");
    clones[0].clone()
}

#[test]
fn a_remote_is_fetched_shallow_and_deepened_for_older_revisions() {
    let (dir, repo, good) = history();
    let bad = repo.head().unwrap().peel_to_commit().unwrap().id();
    let fixed = git_commit(&repo, &[("manifests/app.yaml", &GOOD.replace("fast", "fixed"))], "fixed");
    let Some(server) = git_server(dir.path().parent().unwrap()) else { return };
    let url = format!("{server}/{}", dir.path().file_name().unwrap().to_str().unwrap());
    let cache = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let validate = |rev: &str| validate_json(&["--repo", &url, "--rev", rev, "--git-cache", cache.path().to_str().unwrap()], elsewhere.path());

    let (code, report) = validate("main");
    assert_eq!(code, 0, "{report}");
    let clone = cached_clone(cache.path());
    let shallow = std::fs::read_to_string(clone.join("shallow")).expect("the first fetch is shallow");
    assert!(shallow.contains(&fixed.to_string()), "{shallow}");
    assert!(!shallow.contains(&bad.to_string()), "{shallow}");
    let cached = Repository::open_bare(&clone).unwrap();
    assert!(cached.find_commit(bad).is_err(), "the commit before the tip is not fetched");
    // A tag is fetched at its own commit, so it needs no deepening.
    let (code, report) = validate("v1");
    assert_eq!(code, 0, "{report}");
    assert!(clone.join("shallow").exists());

    // An older commit, by expression and by id: the cache is deepened.
    let (code, report) = validate("main~1");
    assert_eq!(code, 1, "{report}");
    assert_eq!(with_code(&report, "yaml-syntax")[0].0, "manifests/app.yaml", "{report}");
    assert!(!clone.join("shallow").exists(), "the cache holds the whole history now");
    let (code, report) = validate(&good.to_string()[..10]);
    assert_eq!(code, 0, "{report}");
    let other = tempfile::tempdir().unwrap();
    let args = ["--repo", &url, "--git-cache", other.path().to_str().unwrap()];
    let (code, report) = validate_json(&[&args[..], &["--rev", "main"]].concat(), elsewhere.path());
    assert_eq!(code, 0, "{report}");
    assert!(cached_clone(other.path()).join("shallow").exists());
    let (code, report) = validate_json(&[&args[..], &["--rev", &bad.to_string()]].concat(), elsewhere.path());
    assert_eq!(code, 1, "{report}");
    assert!(!cached_clone(other.path()).join("shallow").exists());

    // A revision the remote does not have is still a clear error.
    let fresh = tempfile::tempdir().unwrap();
    let output = weft(&["validate", "--repo", &url, "--rev", "no-such-branch", "--git-cache", fresh.path().to_str().unwrap()], elsewhere.path());
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no branch, tag or commit `no-such-branch`"), "{stderr}");
}

/// Moves `main` of `repo` to a new commit whose parent is `parent`, as a
/// force-push does; the old tip is no longer on the branch.
fn force_push(repo: &Repository, parent: git2::Oid, text: &str) -> git2::Oid {
    let parent = repo.find_commit(parent).unwrap();
    let mut index = git2::Index::new().unwrap();
    index.read_tree(&parent.tree().unwrap()).unwrap();
    let blob = repo.blob(text.as_bytes()).unwrap();
    index
        .add(&git2::IndexEntry {
            ctime: git2::IndexTime::new(0, 0),
            mtime: git2::IndexTime::new(0, 0),
            dev: 0,
            ino: 0,
            mode: 0o100644,
            uid: 0,
            gid: 0,
            file_size: text.len() as u32,
            id: blob,
            flags: "manifests/app.yaml".len() as u16,
            flags_extended: 0,
            path: b"manifests/app.yaml".to_vec(),
        })
        .unwrap();
    let tree = repo.find_tree(index.write_tree_to(repo).unwrap()).unwrap();
    let signature = git2::Signature::now("weft test", "test@example.com").unwrap();
    let commit = repo.commit(None, &signature, &signature, "rewritten", &tree, &[&parent]).unwrap();
    repo.reference("refs/heads/main", commit, true, "force-push").unwrap();
    commit
}

#[test]
fn a_force_pushed_branch_is_followed() {
    let (dir, repo, good) = history();
    let old_tip = repo.head().unwrap().peel_to_commit().unwrap().id();
    let mut urls = vec![format!("file://{}", dir.path().display())];
    urls.extend(git_server(dir.path().parent().unwrap()).map(|server| format!("{server}/{}", dir.path().file_name().unwrap().to_str().unwrap())));
    let caches: Vec<tempfile::TempDir> = urls.iter().map(|_| tempfile::tempdir().unwrap()).collect();
    let elsewhere = tempfile::tempdir().unwrap();
    let validate = |url: &str, cache: &Path| validate_json(&["--repo", url, "--rev", "main", "--git-cache", cache.to_str().unwrap()], elsewhere.path());
    for (url, cache) in urls.iter().zip(&caches) {
        let (code, report) = validate(url, cache.path());
        assert_eq!(code, 1, "{url}: the old tip is bad: {report}");
    }
    let new_tip = force_push(&repo, good, &GOOD.replace("settings", "rewritten"));
    assert!(!repo.graph_descendant_of(new_tip, old_tip).unwrap());
    for (url, cache) in urls.iter().zip(&caches) {
        let (code, report) = validate(url, cache.path());
        assert_eq!(code, 0, "{url}: the cache follows the force-push: {report}");
        let cached = Repository::open_bare(cached_clone(cache.path())).unwrap();
        assert_eq!(cached.find_reference("refs/remotes/origin/main").unwrap().target(), Some(new_tip), "{url}");
    }
}

#[test]
fn a_missing_object_is_a_diagnostic_at_its_file() {
    let (dir, repo, good) = history();
    let blob = repo.find_commit(good).unwrap().tree().unwrap().get_path(Path::new("manifests/app.yaml")).unwrap().id().to_string();
    let object = dir.path().join(".git/objects").join(&blob[..2]).join(&blob[2..]);
    std::fs::remove_file(&object).unwrap();
    assert_unreadable_app_yaml(dir.path(), &blob);
}

#[test]
fn a_revision_or_folder_over_the_total_caps_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init(dir.path()).unwrap();
    repo.set_head("refs/heads/main").unwrap();
    let files: Vec<(String, String)> = (0..3).map(|i| (format!("manifests/app{i}.yaml"), GOOD.replace("settings", &format!("settings{i}")))).collect();
    let total: usize = files.iter().map(|f| f.1.len()).sum();
    let mut committed: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    committed.push(("weft.yaml", "limits:\n  maxFiles: 2\n"));
    let few = git_commit(&repo, &committed, "three files, two allowed");
    let within = format!("limits:\n  maxTotalSize: {total}\n");
    git_commit(&repo, &[("weft.yaml", &within)], "exactly the total");
    let over = format!("limits:\n  maxTotalSize: {}\n", total - 1);
    git_commit(&repo, &[("weft.yaml", &over)], "one byte too few");
    let path = dir.path().to_str().unwrap();

    let run = |args: &[&str]| {
        let output = weft(args, dir.path());
        (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
    };
    let (code, stderr) = run(&["validate", "--rev", &few.to_string()[..12], path]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(&format!("at `{}`", &few.to_string()[..12])) && stderr.contains(&few.to_string()), "names the revision: {stderr}");
    assert!(stderr.contains("3 design files to read, over the cap of 2") && stderr.contains("limits.maxFiles"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    let (code, report) = validate_json(&["--rev", "main~1", path], dir.path());
    assert_eq!(code, 0, "a total equal to the cap is read: {report}");
    assert_eq!(report["designs"].as_array().unwrap().len(), 3, "{report}");

    let (code, stderr) = run(&["validate", "--rev", "main", path]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("at `main`"), "{stderr}");
    assert!(stderr.contains(&format!("come to {total} bytes")) && stderr.contains(&format!("cap of {} bytes", total - 1)), "{stderr}");
    assert!(stderr.contains("limits.maxTotalSize"), "{stderr}");

    // The same caps hold for the working tree.
    let (code, stderr) = run(&["validate", path]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(path) && stderr.contains("limits.maxTotalSize"), "names the folder: {stderr}");
    // A file over maxFileSize is not read, so it does not count.
    std::fs::write(dir.path().join("weft.yaml"), format!("limits:\n  maxTotalSize: {total}\n  maxFileSize: {}\n", GOOD.len() + 5)).unwrap();
    std::fs::write(dir.path().join("manifests/big.yaml"), GOOD.repeat(3)).unwrap();
    let (code, report) = validate_json(&[path], dir.path());
    assert_eq!(code, 1, "{report}");
    assert_eq!(with_code(&report, "file-too-large").len(), 1, "{report}");
    assert_eq!(report["designs"].as_array().unwrap().len(), 3, "{report}");
}

/// Validating tag v1 reports `manifests/app.yaml`, whose blob `blob` the
/// object database cannot give, as one `unreadable` diagnostic.
fn assert_unreadable_app_yaml(dir: &Path, blob: &str) {
    let (code, report) = validate_json(&["--rev", "v1", dir.to_str().unwrap()], dir);
    assert_eq!(code, 1, "{report}");
    let unreadable = with_code(&report, "unreadable");
    assert_eq!(unreadable.len(), 1, "{report}");
    assert_eq!(unreadable[0].0, "manifests/app.yaml");
    assert!(unreadable[0].4.contains(blob), "{report}");
}
