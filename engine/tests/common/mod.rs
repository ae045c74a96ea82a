//! Helpers shared by the end-to-end tests: run the real `weft` binary the
//! way users do and read its JSON output.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

pub fn fixtures() -> PathBuf {
    repo_root().join("tests/fixtures")
}

pub fn weft(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .expect("weft runs")
}

/// `weft validate ARGS --format json` in `cwd`: the exit code and the parsed report.
pub fn validate_json(args: &[&str], cwd: &Path) -> (i32, serde_json::Value) {
    let mut all = vec!["validate", "--format", "json"];
    all.extend_from_slice(args);
    let output = weft(&all, cwd);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("output is not JSON ({e}):\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&output.stderr))
    });
    (output.status.code().expect("exit code"), report)
}

pub fn diagnostics(report: &serde_json::Value) -> &Vec<serde_json::Value> {
    report["diagnostics"].as_array().expect("diagnostics array")
}

/// The diagnostics with `code`, as (file, line, column, severity, message).
pub fn with_code<'a>(report: &'a serde_json::Value, code: &str) -> Vec<(&'a str, u64, u64, &'a str, &'a str)> {
    diagnostics(report)
        .iter()
        .filter(|d| d["code"] == code)
        .map(|d| {
            (
                d["file"].as_str().unwrap_or(""),
                d["line"].as_u64().unwrap(),
                d["column"].as_u64().unwrap(),
                d["severity"].as_str().unwrap(),
                d["message"].as_str().unwrap(),
            )
        })
        .collect()
}

/// Compares `actual` with the golden file `tests/golden/<name>`; with
/// `WEFT_UPDATE_GOLDEN=1` set, rewrites the file instead.
pub fn assert_golden(name: &str, actual: &str) {
    let path = repo_root().join("tests/golden").join(name);
    if std::env::var_os("WEFT_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with WEFT_UPDATE_GOLDEN=1 to create it)", path.display()));
    if expected != actual {
        panic!(
            "output differs from {} (run with WEFT_UPDATE_GOLDEN=1 to accept):\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        );
    }
}

/// Writes `files` (path, text) into the working tree of `repo`, stages
/// them and commits on the current branch.
pub fn git_commit(repo: &git2::Repository, files: &[(&str, &str)], message: &str) -> git2::Oid {
    let root = repo.workdir().expect("a working tree");
    let mut index = repo.index().unwrap();
    for (path, text) in files {
        let target = root.join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(&target, text).unwrap();
        index.add_path(Path::new(path)).unwrap();
    }
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let signature = git2::Signature::now("weft test", "test@example.com").unwrap();
    let parents: Vec<git2::Commit> = repo.head().ok().and_then(|h| h.peel_to_commit().ok()).into_iter().collect();
    let parents: Vec<&git2::Commit> = parents.iter().collect();
    repo.commit(Some("HEAD"), &signature, &signature, message, &tree, &parents).unwrap()
}

/// Removes `path` from the index and the working tree of `repo`.
pub fn git_remove(repo: &git2::Repository, path: &str) {
    let mut index = repo.index().unwrap();
    index.remove_path(Path::new(path)).unwrap();
    index.write().unwrap();
    let _ = std::fs::remove_file(repo.workdir().unwrap().join(path));
}

/// A plain HTTP target answering 200 `ok` on keep-alive connections,
/// after `delay`, served from its own thread: what a performance test
/// loads. Its base URL, without a trailing slash.
pub fn http_target(delay: std::time::Duration) -> String {
    use http_body_util::Full;
    use hyper::body::Bytes;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |_request| async move {
                        tokio::time::sleep(delay).await;
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from_static(b"ok\n"))))
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), service).await;
                });
            }
        });
    });
    format!("http://{address}")
}
