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
        {
            let mut remote = repo.remote_anonymous(url).map_err(|e| Fatal(format!("{url}: {}", e.message())))?;
            let mut callbacks = RemoteCallbacks::new();
            callbacks.credentials(credentials);
            let mut options = FetchOptions::new();
            options.remote_callbacks(callbacks);
            options.download_tags(git2::AutotagOption::All);
            // Forced: a branch that was force-pushed moves with the remote.
            let refspecs = ["+HEAD:refs/remotes/origin/HEAD", "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"];
            remote.fetch(&refspecs, Some(&mut options), None).map_err(|e| Fatal(format!("cannot fetch {url}: {}", e.message())))?;
        }
        Ok(Source { repo, location: url.to_owned(), remote: true })
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
    pub fn resolve(&self, rev: &str) -> Result<git2::Oid, Fatal> {
        let candidates: Vec<String> = if self.remote {
            vec![format!("refs/remotes/origin/{rev}"), format!("refs/tags/{rev}"), rev.replacen("HEAD", "refs/remotes/origin/HEAD", 1), rev.to_owned()]
        } else {
            vec![rev.to_owned()]
        };
        for candidate in &candidates {
            if let Ok(object) = self.repo.revparse_single(candidate) {
                return object
                    .peel_to_commit()
                    .map(|c| c.id())
                    .map_err(|e| Fatal(format!("{}: `{rev}` is not a commit ({})", self.location, e.message())));
            }
        }
        Err(Fatal(format!("{}: no branch, tag or commit `{rev}`", self.location)))
    }

    /// The blob at `path` in commit `id`, if the commit has one there.
    pub fn file(&self, id: git2::Oid, path: &str, max_size: u64) -> Result<Option<Blob>, Fatal> {
        let commit = self.repo.find_commit(id).map_err(|e| Fatal(format!("{}: cannot read commit {id}: {}", self.location, e.message())))?;
        let tree = commit.tree().map_err(|e| Fatal(format!("{}: cannot read the tree of {id}: {}", self.location, e.message())))?;
        let Ok(entry) = tree.get_path(Path::new(path)) else { return Ok(None) };
        if entry.kind() != Some(ObjectType::Blob) {
            return Ok(None);
        }
        Ok(Some(Blob { path: path.to_owned(), content: self.read(entry.id(), max_size)? }))
    }

    fn read(&self, oid: git2::Oid, max_size: u64) -> Result<Result<Vec<u8>, BlobError>, Fatal> {
        let odb = self.repo.odb().map_err(|e| Fatal(format!("{}: {}", self.location, e.message())))?;
        Ok(match odb.read_header(oid) {
            Err(e) => Err(BlobError::Unreadable(format!("cannot read git object {oid}: {}", e.message()))),
            Ok((size, _)) if size as u64 > max_size => Err(BlobError::TooLarge(size as u64)),
            Ok(_) => odb.read(oid).map(|o| o.data().to_vec()).map_err(|e| BlobError::Unreadable(format!("cannot read git object {oid}: {}", e.message()))),
        })
    }

    /// The blobs of commit `id` whose paths `keep` accepts, read whole
    /// unless over `max_size`. Symbolic links and submodules are skipped.
    pub fn files(&self, id: git2::Oid, max_size: u64, keep: &dyn Fn(&str) -> bool) -> Result<Vec<Blob>, Fatal> {
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
        found.into_iter().map(|(path, oid)| Ok(Blob { content: self.read(oid, max_size)?, path })).collect()
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
