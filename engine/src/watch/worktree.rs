//! A working tree as the daemon's source: file events (inotify on Linux)
//! debounced into one "something changed" signal, so an editor's burst of
//! writes and renames becomes a single sync. What changed is not tracked:
//! the loop reads the tree again and compares fingerprints.

use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Watches a tree while it lives.
pub struct TreeWatcher {
    _debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
}

/// Calls `changed` with the time of the burst's first event after each
/// debounced burst of changes to files weft reads under `root`. Git's own files and anything under `skip` (the
/// daemon's state directory, if it lies in the tree) do not count.
pub fn watch(root: &Path, skip: Option<PathBuf>, debounce: Duration, changed: impl Fn(std::time::Instant) + Send + 'static) -> Result<TreeWatcher, String> {
    let root_owned = root.to_path_buf();
    let mut debouncer = new_debouncer(debounce, None, move |result: DebounceEventResult| {
        let Ok(events) = result else { return };
        let first = events.iter().filter(|e| e.paths.iter().any(|path| is_design_input(&root_owned, path, skip.as_deref()))).map(|e| e.time).min();
        if let Some(first) = first {
            changed(first);
        }
    })
    .map_err(|e| format!("cannot watch {}: {e}", root.display()))?;
    debouncer.watch(root, RecursiveMode::Recursive).map_err(|e| format!("cannot watch {}: {e}", root.display()))?;
    Ok(TreeWatcher { _debouncer: debouncer })
}

fn is_design_input(root: &Path, path: &Path, skip: Option<&Path>) -> bool {
    if skip.is_some_and(|skip| path.starts_with(skip)) {
        return false;
    }
    let inside = path.strip_prefix(root).unwrap_or(path);
    if inside.components().any(|c| c.as_os_str() == ".git") {
        return false;
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    // A removed folder arrives as the folder's own path.
    let extension = Path::new(name).extension().and_then(|e| e.to_str()).unwrap_or_default();
    matches!(extension, "yaml" | "yml" | "json" | "tgz" | "tar" | "gz" | "rego") || !name.contains('.')
}

/// A fingerprint of the files a load read, standing for a commit id in
/// the status: `worktree:` and 12 hex digits.
pub fn fingerprint<'a>(files: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut hash = Sha256::new();
    for (name, text) in files {
        hash.update(name.as_bytes());
        hash.update([0]);
        hash.update(text.as_bytes());
        hash.update([0]);
    }
    format!("worktree:{}", &crate::render::hex(&hash.finalize())[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_weft_reads_count_as_changes() {
        let root = Path::new("/repo");
        assert!(is_design_input(root, Path::new("/repo/manifests/app.yaml"), None));
        assert!(is_design_input(root, Path::new("/repo/weft.yaml"), None));
        assert!(is_design_input(root, Path::new("/repo/manifests"), None));
        assert!(!is_design_input(root, Path::new("/repo/.git/index"), None));
        assert!(!is_design_input(root, Path::new("/repo/.git/refs/heads/main"), None));
        assert!(!is_design_input(root, Path::new("/repo/.weft-watch/state.json"), Some(Path::new("/repo/.weft-watch"))));
        assert!(!is_design_input(root, Path::new("/repo/notes.md"), None));
    }

    #[test]
    fn fingerprints_change_with_names_and_contents() {
        let a = fingerprint([("a.yaml", "x: 1")].into_iter());
        assert_eq!(a, fingerprint([("a.yaml", "x: 1")].into_iter()));
        assert_ne!(a, fingerprint([("a.yaml", "x: 2")].into_iter()));
        assert_ne!(a, fingerprint([("b.yaml", "x: 1")].into_iter()));
        assert!(a.starts_with("worktree:") && a.len() == "worktree:".len() + 12);
    }
}
