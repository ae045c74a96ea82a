//! Designs read from git: any commit, tag or branch, straight from the
//! object database (no checkout), of a local repository or of a remote one
//! fetched into a cache directory.
//!
//! Remotes are named by URL (`file://`, `https://`, `ssh://`, or
//! `user@host:path`). Credentials: https takes a token from
//! `WEFT_GIT_TOKEN`; ssh takes the key file `WEFT_GIT_SSH_KEY`, else the
//! ssh agent.

use super::Fatal;
use git2::{Cred, CredentialType, FetchOptions, ObjectType, RemoteCallbacks, Repository};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// libgit2's `GIT_FETCH_DEPTH_UNSHALLOW`: fetch the history a shallow
/// repository lacks.
const UNSHALLOW: i32 = i32::MAX;

/// A repository to read revisions of.
pub struct Source {
    repo: Repository,
    /// As the user named it, for messages.
    location: String,
    /// Fetched from a URL: branches live under `refs/remotes/origin/`.
    remote: bool,
}

/// One file of a revision.
pub struct Blob {
    /// The path in the repository, `/`-separated.
    pub path: String,
    pub content: Result<Vec<u8>, BlobError>,
}

/// One file of a revision, not read yet.
pub struct Entry {
    /// The path in the repository, `/`-separated.
    pub path: String,
    oid: git2::Oid,
    /// Its size in bytes, or why the object database could not tell.
    pub size: Result<u64, String>,
}

impl Entry {
    fn new(odb: &git2::Odb, path: String, oid: git2::Oid) -> Entry {
        let size = odb.read_header(oid).map(|(size, _)| size as u64).map_err(|e| format!("cannot read git object {oid}: {}", e.message()));
        Entry { path, oid, size }
    }
}

pub enum BlobError {
    /// Over the size cap: its size in bytes.
    TooLarge(u64),
    /// The object database could not give it.
    Unreadable(String),
}

/// Whether `location` names a remote rather than a local path.
pub fn is_url(location: &str) -> bool {
    location.contains("://") || (location.contains('@') && location.contains(':') && !Path::new(location).exists())
}

impl Source {
    /// Opens the repository holding `location` (a path), or fetches
    /// `location` (a URL) into `cache` and opens that.
    pub fn open(location: &str, cache: &Path) -> Result<Source, Fatal> {
        if is_url(location) {
            return Self::fetch(location, cache);
        }
        let repo = Repository::discover(location).map_err(|e| Fatal(format!("{location}: not in a git repository ({})", e.message())))?;
        Ok(Source { repo, location: location.to_owned(), remote: false })
    }

    fn fetch(url: &str, cache: &Path) -> Result<Source, Fatal> {
        let dir = cache.join(crate::render::hex(&Sha256::digest(url.as_bytes()))[..16].to_owned());
        let repo = match Repository::open_bare(&dir) {
            Ok(repo) => repo,
            Err(_) => {
                std::fs::create_dir_all(&dir).map_err(|e| Fatal(format!("cannot create the git cache {}: {e}", dir.display())))?;
                Repository::init_bare(&dir).map_err(|e| Fatal(format!("cannot create the git cache {}: {}", dir.display(), e.message())))?
            }
        };
        // A new cache takes only the tips of branches and tags, one commit
        // deep, where the transport can (libgit2's file:// transport cannot:
        // it refuses any depth). Later fetches add what is new to what the
        // cache has; `resolve` deepens it when a revision needs more history.
        let fresh = repo.references().map(|mut refs| refs.next().is_none()).unwrap_or(false);
        let source = Source { repo, location: url.to_owned(), remote: true };
        let shallow = fresh && !url.starts_with("file://");
        match source.download(if shallow { 1 } else { 0 }) {
            // A server without shallow support is fetched whole.
            Err(e) if shallow && (e.message().contains("shallow") || e.message().contains("not supported")) => source.download(0),
            result => result,
        }
        .map_err(|e| Fatal(format!("cannot fetch {url}: {}", e.message())))?;
        Ok(source)
    }

    /// Fetches every branch and tag of the remote, `depth` commits deep
    /// (0: all that is missing; `UNSHALLOW`: the whole history).
    fn download(&self, depth: i32) -> Result<(), git2::Error> {
        // Processes sharing a cache (a CI job beside a daemon) fetch one
        // after the other; libgit2's ref locks would fail the second
        // instead. Released when the file closes; a cache where the lock
        // cannot be taken is fetched unguarded.
        let _guard = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(self.repo.path().join("weft-fetch.lock")).and_then(|file| file.lock().map(|()| file));
        let mut remote = self.repo.remote_anonymous(&self.location)?;
        let mut callbacks = RemoteCallbacks::new();
        callbacks.credentials(credentials);
        let mut options = FetchOptions::new();
        options.remote_callbacks(callbacks);
        options.download_tags(git2::AutotagOption::All);
        options.depth(depth);
        // Forced: a branch that was force-pushed moves with the remote.
        let refspecs = ["+HEAD:refs/remotes/origin/HEAD", "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"];
        remote.fetch(&refspecs, Some(&mut options), None)
    }

    /// Whether the cache holds only part of the remote's history.
    pub fn is_shallow(&self) -> bool {
        self.remote && self.repo.is_shallow()
    }

    /// When commit `id` was made: its committer time, in seconds since the
    /// epoch.
    pub fn commit_time(&self, id: git2::Oid) -> Option<i64> {
        self.repo.find_commit(id).ok().map(|c| c.time().seconds())
    }

    /// The working tree's root, for a local repository that has one.
    pub fn workdir(&self) -> Option<&Path> {
        if self.remote { None } else { self.repo.workdir() }
    }

    /// A name for the repository: its folder, or the URL's last segment.
    pub fn name(&self) -> String {
        let base = match self.workdir() {
            Some(dir) => dir.to_string_lossy().trim_end_matches('/').to_owned(),
            None => self.location.trim_end_matches('/').trim_end_matches(".git").to_owned(),
        };
        base.rsplit(['/', ':']).next().unwrap_or("default").to_owned()
    }

    /// The commit `rev` names: a branch, tag, commit id or revision
    /// expression (`HEAD~2`). Branches of a remote are its own.
    ///
    /// A shallow cache that lacks the revision (an older commit, `main~3`)
    /// is deepened to the remote's whole history first.
    pub fn resolve(&self, rev: &str) -> Result<git2::Oid, Fatal> {
        if let Some(found) = self.lookup(&self.repo, rev) {
            return found;
        }
        if self.is_shallow() {
            self.download(UNSHALLOW).map_err(|e| Fatal(format!("cannot fetch the history of {}: {}", self.location, e.message())))?;
            // Looked up in a handle opened afresh, so that no commit parsed
            // while the cache was shallow (without parents) can be reused.
            let deepened = Repository::open_bare(self.repo.path()).map_err(|e| Fatal(format!("{}: {}", self.location, e.message())))?;
            if let Some(found) = self.lookup(&deepened, rev) {
                return found;
            }
        }
        Err(Fatal(format!("{}: no branch, tag or commit `{rev}`", self.location)))
    }

    fn lookup(&self, repo: &Repository, rev: &str) -> Option<Result<git2::Oid, Fatal>> {
        let candidates: Vec<String> = if self.remote {
            vec![format!("refs/remotes/origin/{rev}"), format!("refs/tags/{rev}"), rev.replacen("HEAD", "refs/remotes/origin/HEAD", 1), rev.to_owned()]
        } else {
            vec![rev.to_owned()]
        };
        let object = candidates.iter().find_map(|candidate| repo.revparse_single(candidate).ok())?;
        Some(object.peel_to_commit().map(|c| c.id()).map_err(|e| Fatal(format!("{}: `{rev}` is not a commit ({})", self.location, e.message()))))
    }

    /// The blob at `path` in commit `id`, if the commit has one there.
    pub fn file(&self, id: git2::Oid, path: &str, max_size: u64) -> Result<Option<Blob>, Fatal> {
        let commit = self.repo.find_commit(id).map_err(|e| Fatal(format!("{}: cannot read commit {id}: {}", self.location, e.message())))?;
        let tree = commit.tree().map_err(|e| Fatal(format!("{}: cannot read the tree of {id}: {}", self.location, e.message())))?;
        let Ok(entry) = tree.get_path(Path::new(path)) else { return Ok(None) };
        if entry.kind() != Some(ObjectType::Blob) {
            return Ok(None);
        }
        let odb = self.repo.odb().map_err(|e| Fatal(format!("{}: {}", self.location, e.message())))?;
        Ok(self.read(vec![Entry::new(&odb, path.to_owned(), entry.id())], max_size)?.pop())
    }

    /// The blobs of commit `id` whose paths `keep` accepts, with their
    /// sizes but not yet read. Symbolic links and submodules are skipped.
    pub fn entries(&self, id: git2::Oid, keep: &dyn Fn(&str) -> bool) -> Result<Vec<Entry>, Fatal> {
        let commit = self.repo.find_commit(id).map_err(|e| Fatal(format!("{}: cannot read commit {id}: {}", self.location, e.message())))?;
        let tree = commit.tree().map_err(|e| Fatal(format!("{}: cannot read the tree of {id}: {}", self.location, e.message())))?;
        let mut found = Vec::new();
        let mut walk_error = None;
        tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            if entry.kind() != Some(ObjectType::Blob) || entry.filemode() == 0o120000 {
                return git2::TreeWalkResult::Ok;
            }
            match entry.name() {
                Some(name) => {
                    let path = format!("{dir}{name}");
                    if keep(&path) {
                        found.push((path, entry.id()));
                    }
                }
                None => walk_error = Some(format!("a file name in {dir} is not UTF-8")),
            }
            git2::TreeWalkResult::Ok
        })
        .map_err(|e| Fatal(format!("{}: cannot walk the tree of {id}: {}", self.location, e.message())))?;
        if let Some(error) = walk_error {
            return Err(Fatal(format!("{}: {error}", self.location)));
        }
        let odb = self.repo.odb().map_err(|e| Fatal(format!("{}: {}", self.location, e.message())))?;
        Ok(found.into_iter().map(|(path, oid)| Entry::new(&odb, path, oid)).collect())
    }

    /// Reads `entries` whole, except those over `max_size` or unreadable.
    pub fn read(&self, entries: Vec<Entry>, max_size: u64) -> Result<Vec<Blob>, Fatal> {
        let odb = self.repo.odb().map_err(|e| Fatal(format!("{}: {}", self.location, e.message())))?;
        Ok(entries
            .into_iter()
            .map(|entry| {
                let content = match entry.size {
                    Err(message) => Err(BlobError::Unreadable(message)),
                    Ok(size) if size > max_size => Err(BlobError::TooLarge(size)),
                    Ok(_) => odb
                        .read(entry.oid)
                        .map(|o| o.data().to_vec())
                        .map_err(|e| BlobError::Unreadable(format!("cannot read git object {}: {}", entry.oid, e.message()))),
                };
                Blob { path: entry.path, content }
            })
            .collect())
    }

    /// The blobs of commit `id` whose paths `keep` accepts, read whole
    /// unless over `max_size`. Symbolic links and submodules are skipped.
    pub fn files(&self, id: git2::Oid, max_size: u64, keep: &dyn Fn(&str) -> bool) -> Result<Vec<Blob>, Fatal> {
        self.read(self.entries(id, keep)?, max_size)
    }

    /// Writes the files below `dir` (a repository path) of commit `id`
    /// under `to`, for what weft reads from disk (model folders).
    pub fn extract(&self, id: git2::Oid, dir: &str, to: &Path) -> Result<(), Fatal> {
        let prefix = format!("{}/", dir.trim_matches('/'));
        for blob in self.files(id, u64::MAX, &|path| path.starts_with(&prefix))? {
            let bytes = match blob.content {
                Ok(bytes) => bytes,
                Err(BlobError::Unreadable(message)) => return Err(Fatal(format!("{}: {}: {message}", self.location, blob.path))),
                Err(BlobError::TooLarge(_)) => continue,
            };
            let target = to.join(&blob.path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Fatal(format!("cannot write {}: {e}", parent.display())))?;
            }
            std::fs::write(&target, bytes).map_err(|e| Fatal(format!("cannot write {}: {e}", target.display())))?;
        }
        Ok(())
    }

    /// The repository path of a file system path inside the working tree.
    pub fn relative(&self, path: &Path) -> Option<String> {
        let workdir = self.workdir()?;
        let workdir = std::fs::canonicalize(workdir).unwrap_or_else(|_| workdir.to_path_buf());
        let absolute = std::fs::canonicalize(path).ok().or_else(|| std::env::current_dir().ok().map(|cwd| cwd.join(path)))?;
        let relative = absolute.strip_prefix(&workdir).ok()?;
        Some(relative.to_string_lossy().replace('\\', "/"))
    }

    /// The paths of the files that differ between commits `from` and `to`
    /// (added, removed, modified, or changed in type; a rename is its old
    /// and its new path), by comparing their trees.
    pub fn changed_paths(&self, from: git2::Oid, to: git2::Oid) -> Result<Vec<String>, Fatal> {
        let tree = |id: git2::Oid| {
            self.repo
                .find_commit(id)
                .and_then(|c| c.tree())
                .map_err(|e| Fatal(format!("{}: cannot read the tree of {id}: {}", self.location, e.message())))
        };
        let (old, new) = (tree(from)?, tree(to)?);
        let diff = self
            .repo
            .diff_tree_to_tree(Some(&old), Some(&new), None)
            .map_err(|e| Fatal(format!("{}: cannot compare {from} with {to}: {}", self.location, e.message())))?;
        let mut paths = Vec::new();
        for delta in diff.deltas() {
            for file in [delta.old_file(), delta.new_file()] {
                if let Some(path) = file.path() {
                    let Some(path) = path.to_str() else { return Err(Fatal(format!("{}: a file name is not UTF-8", self.location))) };
                    paths.push(path.replace('\\', "/"));
                }
            }
        }
        paths.sort();
        paths.dedup();
        Ok(paths)
    }
}

fn credentials(_url: &str, username: Option<&str>, allowed: CredentialType) -> Result<Cred, git2::Error> {
    if allowed.contains(CredentialType::SSH_KEY) {
        let user = username.unwrap_or("git");
        return match std::env::var_os("WEFT_GIT_SSH_KEY") {
            Some(key) => Cred::ssh_key(user, None, &PathBuf::from(key), None),
            None => Cred::ssh_key_from_agent(user),
        };
    }
    if allowed.contains(CredentialType::USER_PASS_PLAINTEXT)
        && let Ok(token) = std::env::var("WEFT_GIT_TOKEN")
    {
        return Cred::userpass_plaintext(username.unwrap_or("x-access-token"), &token);
    }
    Err(git2::Error::from_str("the remote wants credentials: set WEFT_GIT_TOKEN (https) or WEFT_GIT_SSH_KEY or an ssh agent (ssh)"))
}

/// Where remote repositories are fetched to by default.
pub fn default_cache() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("weft").join("git")
}
