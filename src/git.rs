//! Git access for siteward, and the only user of `git2` in the crate.
//!
//! Objects (blobs, trees, commits) are built directly in the object database: nothing here
//! touches the working tree or the index. A branch is moved last, with a compare-and-swap
//! ([`Repo::update_ref`]), so concurrent writers never lose each other's commits.
//!
//! Fetch and push run the system `git` (every argument its own argv element, no shell): git2's
//! default build has no https/ssh transport, and libgit2's local transport overwrites the remote
//! ref after its own fast-forward check, which races with other pushers. `git receive-pack`
//! checks the old value under the ref lock, so a push can never drop someone else's record.
//! Every such `git` runs in its own process group under a deadline: a remote that never
//! answers is stopped (with whatever `git` started, such as `ssh`) instead of hanging the run.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, TimeZone, Utc};
use git2::{ErrorCode, ObjectType, Oid, Repository, Signature, Time, TreeWalkMode};

/// A git failure, naming the repository object involved.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot open git repository at `{path}`")]
    Open {
        path: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("revision `{rev}` not found")]
    Revision {
        rev: String,
        #[source]
        source: git2::Error,
    },
    #[error("`{name}` moved while siteward was updating it")]
    Conflict { name: String },
    #[error("git {what}")]
    Git {
        what: String,
        #[source]
        source: git2::Error,
    },
    #[error("`{path}` is not a valid path inside the repository")]
    BadPath { path: String },
    #[error("`{remote}` is not a valid remote name or URL")]
    BadRemote { remote: String },
    #[error("cannot run `git {args}`")]
    Spawn {
        args: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`git {args}` failed: {stderr}")]
    Command { args: String, stderr: String },
    #[error(
        "`{remote}` did not answer within {after} (`git {args}` was stopped); check that the \
remote is reachable, or raise `--timeout`"
    )]
    Timeout {
        remote: String,
        args: String,
        after: String,
    },
    #[error(
        "`{name}` is locked by `{lock}`: a git process is updating it, or one was killed while \
doing so; if no git process is running, remove that file"
    )]
    Locked { name: String, lock: PathBuf },
    #[error(
        "`{name}` cannot be created because ref `{by}` exists (a ref cannot be both a name and a \
directory); rename `{by}` or choose another branch"
    )]
    Blocked { name: String, by: String },
    #[error("cannot {what} `{path}`")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn wrap(what: impl Into<String>) -> impl FnOnce(git2::Error) -> GitError {
    let what = what.into();
    move |source| GitError::Git { what, source }
}

/// A commit's id (full hex when displayed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommitId(Oid);

/// A tree's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeId(Oid);

/// A blob's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobId(Oid);

impl std::fmt::Display for CommitId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Who wrote a commit: `Name <email>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub email: String,
}

impl std::str::FromStr for Identity {
    type Err = String;
    /// Parses `Name <email>`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not an identity; write it as `Name <email>`");
        let (name, rest) = s.split_once('<').ok_or_else(bad)?;
        let email = rest.strip_suffix('>').ok_or_else(bad)?;
        let name = name.trim();
        let unsafe_char = |c: char| c.is_control() || "<>".contains(c);
        if name.is_empty() || email.is_empty() || s.contains(char::is_control) {
            return Err(bad());
        }
        if name.contains(unsafe_char) || email.contains(unsafe_char) {
            return Err(bad());
        }
        Ok(Identity {
            name: name.to_owned(),
            email: email.to_owned(),
        })
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} <{}>", self.name, self.email)
    }
}

/// A commit's metadata.
#[derive(Debug, Clone)]
pub struct CommitInfo {
    pub id: CommitId,
    pub tree: TreeId,
    pub parents: Vec<CommitId>,
    pub author: Identity,
    /// Author time, UTC.
    pub authored: DateTime<Utc>,
    /// Committer time, UTC.
    pub committed: DateTime<Utc>,
    pub message: String,
}

/// How a file differs between a revision and the working tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileChange {
    Added,
    Modified,
    Deleted,
}

/// The outcome of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// The remote branch now points at our tip.
    Pushed,
    /// The remote branch moved on: fetch, rebuild on its tip, push again.
    Rejected { reason: String },
}

/// Why a push was refused because the remote branch moved, from `git push --porcelain`'s
/// output: `!<TAB>src:dst<TAB>[rejected] (fetch first)` when the remote tip was ahead before
/// the push; `[remote rejected] (failed to update ref)` with `remote: error: cannot lock ref
/// ...` on stderr when another push created or moved the branch while this one ran (the
/// receiving side checks the old value under its ref lock). `None` for any other refusal (a
/// hook, a protected branch, a full disk), which retrying cannot fix.
fn moved_remote(stdout: &str, stderr: &str) -> Option<String> {
    let mut refused = stdout.lines().filter(|l| l.starts_with('!'));
    let summary = |l: &str| l.rsplit('\t').next().unwrap_or(l).to_owned();
    if let Some(line) = refused.clone().find(|l| l.contains("[rejected]")) {
        return Some(summary(line));
    }
    refused.find(|l| l.contains("[remote rejected]"))?;
    let lock = stderr.lines().find(|l| l.contains("cannot lock ref"))?;
    Some(lock.trim_start_matches("remote: ").trim().to_owned())
}

/// A ref lock file left behind, removed by [`Repo::remove_stale_ref_lock`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleLock {
    pub path: PathBuf,
    /// How long the file had existed.
    pub age: Duration,
}

/// An open repository.
pub struct Repo {
    inner: Repository,
}

impl Repo {
    /// Opens the repository containing `path` (searching upwards, like `git`).
    pub fn open(path: &Path) -> Result<Repo, GitError> {
        Repository::discover(path)
            .map(|inner| Repo { inner })
            .map_err(|source| GitError::Open {
                path: path.to_owned(),
                source,
            })
    }

    /// Creates a repository at `path` with branch `main` and commits every file in its working
    /// tree (index included, so the tree looks like a normal clone).
    pub fn init_with_commit(
        path: &Path,
        author: &Identity,
        message: &str,
    ) -> Result<Repo, GitError> {
        let mut opts = git2::RepositoryInitOptions::new();
        opts.initial_head("main");
        let inner = Repository::init_opts(path, &opts).map_err(|source| GitError::Open {
            path: path.to_owned(),
            source,
        })?;
        let tree = {
            let mut index = inner.index().map_err(wrap("opening the index"))?;
            index
                .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
                .and_then(|()| index.write())
                .map_err(wrap("adding files to the index"))?;
            index.write_tree().map_err(wrap("writing the tree"))?
        };
        let repo = Repo { inner };
        let now = Utc::now();
        let commit = repo.write_commit(TreeId(tree), &[], author, (now, now), message)?;
        repo.update_ref("refs/heads/main", commit, None, "siteward: initial commit")?;
        Ok(repo)
    }

    /// The `.git` directory.
    pub fn git_dir(&self) -> &Path {
        self.inner.path()
    }

    /// The working tree, unless the repository is bare.
    pub fn workdir(&self) -> Option<&Path> {
        self.inner.workdir()
    }

    /// The commit `HEAD` points at; `None` in a repository without commits.
    pub fn head_commit(&self) -> Result<Option<CommitId>, GitError> {
        match self.inner.head() {
            Ok(r) => r
                .peel_to_commit()
                .map(|c| Some(CommitId(c.id())))
                .map_err(wrap("HEAD")),
            Err(e) if matches!(e.code(), ErrorCode::UnbornBranch | ErrorCode::NotFound) => Ok(None),
            Err(e) => Err(wrap("HEAD")(e)),
        }
    }

    /// The commit a full ref name (`refs/heads/x`) points at; `None` when the ref is absent.
    pub fn read_ref(&self, name: &str) -> Result<Option<CommitId>, GitError> {
        match self.inner.find_reference(name) {
            Ok(r) => r
                .peel_to_commit()
                .map(|c| Some(CommitId(c.id())))
                .map_err(wrap(format!("reading `{name}`"))),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(wrap(format!("reading `{name}`"))(e)),
        }
    }

    /// Local branches whose name starts with `prefix/` (`siteward-proposals/…`), by name, with
    /// the commit each points at.
    pub fn branches_under(&self, prefix: &str) -> Result<Vec<(String, CommitId)>, GitError> {
        let glob = format!("refs/heads/{prefix}/*");
        let what = || format!("listing `{glob}`");
        let mut out = Vec::new();
        for r in self.inner.references_glob(&glob).map_err(wrap(what()))? {
            let r = r.map_err(wrap(what()))?;
            let Some(name) = r.name().ok().and_then(|n| n.strip_prefix("refs/heads/")) else {
                continue;
            };
            let name = name.to_owned();
            let commit = r.peel_to_commit().map_err(wrap(what()))?;
            out.push((name, CommitId(commit.id())));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Resolves a revision (`HEAD~1`, `origin/main`, a commit id) to a commit.
    pub fn resolve(&self, rev: &str) -> Result<CommitId, GitError> {
        let revision = |source| GitError::Revision {
            rev: rev.to_owned(),
            source,
        };
        let obj = self.inner.revparse_single(rev).map_err(revision)?;
        obj.peel_to_commit()
            .map(|c| CommitId(c.id()))
            .map_err(revision)
    }

    /// The `user.name`/`user.email` of git config, when both are set.
    pub fn config_identity(&self) -> Option<Identity> {
        let config = self.inner.config().ok()?;
        Some(Identity {
            name: config.get_string("user.name").ok()?,
            email: config.get_string("user.email").ok()?,
        })
    }

    /// Whether `name` is a configured remote (as opposed to a URL or path).
    pub fn has_remote(&self, name: &str) -> bool {
        self.inner.find_remote(name).is_ok()
    }

    /// Stores `data` as a blob.
    pub fn write_blob(&self, data: &[u8]) -> Result<BlobId, GitError> {
        self.inner
            .blob(data)
            .map(BlobId)
            .map_err(wrap("writing a blob"))
    }

    /// The root tree of a commit.
    pub fn commit_tree(&self, commit: CommitId) -> Result<TreeId, GitError> {
        self.find_commit(commit).map(|c| TreeId(c.tree_id()))
    }

    /// A new tree: `base` (or the empty tree) with `files` added or replaced. Paths are
    /// `/`-separated and relative; intermediate trees are created as needed.
    pub fn tree_with_files(
        &self,
        base: Option<TreeId>,
        files: &[(String, BlobId)],
    ) -> Result<TreeId, GitError> {
        let mut tree = base;
        for (path, blob) in files {
            let parts: Vec<&str> = path.split('/').collect();
            if parts
                .iter()
                .any(|p| p.is_empty() || *p == "." || *p == ".." || p.contains('\0'))
            {
                return Err(GitError::BadPath { path: path.clone() });
            }
            tree = Some(self.insert_path(tree, &parts, blob.0)?);
        }
        match tree {
            Some(t) => Ok(t),
            None => self
                .inner
                .treebuilder(None)
                .and_then(|b| b.write())
                .map(TreeId)
                .map_err(wrap("writing an empty tree")),
        }
    }

    fn insert_path(
        &self,
        tree: Option<TreeId>,
        parts: &[&str],
        blob: Oid,
    ) -> Result<TreeId, GitError> {
        let what = || format!("building tree for `{}`", parts.join("/"));
        let base = tree
            .map(|t| self.inner.find_tree(t.0))
            .transpose()
            .map_err(wrap(what()))?;
        let mut builder = self
            .inner
            .treebuilder(base.as_ref())
            .map_err(wrap(what()))?;
        let (first, rest) = parts.split_first().ok_or_else(|| GitError::BadPath {
            path: String::new(),
        })?;
        if rest.is_empty() {
            builder
                .insert(first, blob, 0o100644)
                .map_err(wrap(what()))?;
        } else {
            let child = builder
                .get(first)
                .map_err(wrap(what()))?
                .filter(|e| e.kind() == Some(ObjectType::Tree))
                .map(|e| TreeId(e.id()));
            let child = self.insert_path(child, rest, blob)?;
            builder
                .insert(first, child.0, 0o040000)
                .map_err(wrap(what()))?;
        }
        builder.write().map(TreeId).map_err(wrap(what()))
    }

    /// Writes a commit object (no ref is moved); `author` is also the committer.
    pub fn write_commit(
        &self,
        tree: TreeId,
        parents: &[CommitId],
        author: &Identity,
        (authored, committed): (DateTime<Utc>, DateTime<Utc>),
        message: &str,
    ) -> Result<CommitId, GitError> {
        let sig = |t: DateTime<Utc>| {
            Signature::new(&author.name, &author.email, &Time::new(t.timestamp(), 0))
                .map_err(wrap(format!("author `{author}`")))
        };
        let tree = self
            .inner
            .find_tree(tree.0)
            .map_err(wrap("reading a tree"))?;
        let parents = parents
            .iter()
            .map(|p| self.find_commit(*p))
            .collect::<Result<Vec<_>, _>>()?;
        let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
        self.inner
            .commit(
                None,
                &sig(authored)?,
                &sig(committed)?,
                message,
                &tree,
                &parents,
            )
            .map(CommitId)
            .map_err(wrap("writing a commit"))
    }

    /// Moves ref `name` to `new` only if it still points at `expected` (`None`: only if it
    /// does not exist yet). Returns [`GitError::Conflict`] when someone else moved it first.
    pub fn update_ref(
        &self,
        name: &str,
        new: CommitId,
        expected: Option<CommitId>,
        log_message: &str,
    ) -> Result<(), GitError> {
        // The expected value is compared under the ref's lock. "Must not exist yet" is the zero
        // id: libgit2 checks a plain create (`force: false`) before taking the lock, so two
        // writers creating the branch at once could both pass and one commit would be lost.
        let old = expected.map_or(git2::Oid::ZERO_SHA1, |c| c.0);
        let result = self
            .inner
            .reference_matching(name, new.0, true, old, log_message);
        match result {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.code(), ErrorCode::Modified | ErrorCode::Exists) => {
                Err(GitError::Conflict {
                    name: name.to_owned(),
                })
            }
            Err(e) if e.code() == ErrorCode::Locked => Err(self.locked(name)),
            Err(e) => Err(wrap(format!("updating `{name}`"))(e)),
        }
    }

    /// The lock file that git and libgit2 hold while they update ref `name`.
    pub fn ref_lock_path(&self, name: &str) -> PathBuf {
        // Refs live in the common directory, also when this is a linked worktree.
        self.inner.commondir().join(format!("{name}.lock"))
    }

    fn locked(&self, name: &str) -> GitError {
        GitError::Locked {
            name: name.to_owned(),
            lock: self.ref_lock_path(name),
        }
    }

    /// Removes the lock file of ref `name` once it is at least `stale_after` old, waiting for
    /// a younger one to go away or to age; `None` when there was none (or it went away).
    ///
    /// Only call this while no other writer that respects the repo lock can run: git itself
    /// holds a ref lock for milliseconds, so a lock file this old was left by a killed process.
    pub fn remove_stale_ref_lock(
        &self,
        name: &str,
        stale_after: Duration,
    ) -> Result<Option<StaleLock>, GitError> {
        let path = self.ref_lock_path(name);
        let cannot = |what, source| GitError::Io {
            what,
            path: path.clone(),
            source,
        };
        loop {
            let modified = match std::fs::metadata(&path).and_then(|m| m.modified()) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(cannot("read the lock file", e)),
            };
            // A time in the future (clock skew) counts as brand new.
            let age = SystemTime::now()
                .duration_since(modified)
                .unwrap_or_default();
            if age >= stale_after {
                return match std::fs::remove_file(&path) {
                    Ok(()) => Ok(Some(StaleLock { path, age })),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(cannot("remove the stale lock file", e)),
                };
            }
            std::thread::sleep((stale_after - age).min(Duration::from_millis(50)));
        }
    }

    /// Checks, without changing anything, that ref `name` can be moved now and that new
    /// objects can be written: the object database takes a file, no ref is in the way of
    /// the name, and the ref's lock can be taken (it is released at once).
    pub fn check_ref_writable(&self, name: &str) -> Result<(), GitError> {
        let objects = self.inner.commondir().join("objects");
        // `tmp_` files in the object directory are git's own: `git gc` removes any left behind.
        tempfile::Builder::new()
            .prefix("tmp_siteward_probe_")
            .tempfile_in(&objects)
            .map_err(|source| GitError::Io {
                what: "write to the object database",
                path: objects,
                source,
            })?;
        let blocked = |by: &str| GitError::Blocked {
            name: name.to_owned(),
            by: by.to_owned(),
        };
        // `refs/heads/a/b` is blocked by a ref `refs/heads/a`, `refs/heads/a` by `refs/heads/a/…`.
        let parts: Vec<&str> = name.split('/').collect();
        for end in 3..parts.len() {
            let prefix = parts[..end].join("/");
            if self.inner.find_reference(&prefix).is_ok() {
                return Err(blocked(&prefix));
            }
        }
        let under = self
            .inner
            .references_glob(&format!("{name}/*"))
            .map_err(wrap(format!("reading refs under `{name}`")))?
            .filter_map(Result::ok)
            .find_map(|r| r.name().ok().map(str::to_owned));
        if let Some(by) = under {
            return Err(blocked(&by));
        }
        let mut tx = self
            .inner
            .transaction()
            .map_err(wrap(format!("locking `{name}`")))?;
        match tx.lock_ref(name) {
            Ok(()) => Ok(()),
            Err(e) if e.code() == ErrorCode::Locked => Err(self.locked(name)),
            Err(e) => Err(wrap(format!("locking `{name}`"))(e)),
        }
        // Dropping the transaction releases the lock without touching the ref.
    }

    /// Files under `pathspecs` that differ between `rev` and the working tree (index and
    /// untracked files included), as repo-relative paths.
    pub fn changed_files(
        &self,
        rev: &str,
        pathspecs: &[&str],
    ) -> Result<Vec<(String, FileChange)>, GitError> {
        let commit = self.resolve(rev)?;
        let tree = self
            .find_commit(commit)?
            .tree()
            .map_err(wrap(format!("tree of `{rev}`")))?;
        let mut opts = git2::DiffOptions::new();
        opts.include_untracked(true).recurse_untracked_dirs(true);
        for p in pathspecs {
            opts.pathspec(p);
        }
        let diff = self
            .inner
            .diff_tree_to_workdir_with_index(Some(&tree), Some(&mut opts))
            .map_err(wrap(format!("diff against `{rev}`")))?;
        let mut out = Vec::new();
        for d in diff.deltas() {
            let (file, change) = match d.status() {
                git2::Delta::Deleted => (d.old_file(), FileChange::Deleted),
                git2::Delta::Added | git2::Delta::Untracked => (d.new_file(), FileChange::Added),
                _ => (d.new_file(), FileChange::Modified),
            };
            if let Some(path) = file.path().and_then(Path::to_str) {
                out.push((path.to_owned(), change));
            }
        }
        Ok(out)
    }

    /// The content of `path` at `commit`; `None` when the file does not exist there.
    pub fn read_file_at(&self, commit: CommitId, path: &str) -> Result<Option<Vec<u8>>, GitError> {
        let tree = self
            .find_commit(commit)?
            .tree()
            .map_err(wrap("reading a tree"))?;
        let entry = match tree.get_path(Path::new(path)) {
            Ok(e) => e,
            Err(e) if e.code() == ErrorCode::NotFound => return Ok(None),
            Err(e) => return Err(wrap(format!("reading `{path}`"))(e)),
        };
        match self.inner.find_blob(entry.id()) {
            Ok(b) => Ok(Some(b.content().to_vec())),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(wrap(format!("reading `{path}`"))(e)),
        }
    }

    /// Every blob under directory `dir` (no trailing `/`) of `commit`'s tree, as `(path, blob)`
    /// with repo-relative paths; empty when there is no such directory. One read per tree.
    pub fn files_under(
        &self,
        commit: CommitId,
        dir: &str,
    ) -> Result<Vec<(String, BlobId)>, GitError> {
        let root = self
            .find_commit(commit)?
            .tree()
            .map_err(wrap("reading a tree"))?;
        let entry = match root.get_path(Path::new(dir)) {
            Ok(e) if e.kind() == Some(ObjectType::Tree) => e,
            Ok(_) => return Ok(Vec::new()),
            Err(e) if e.code() == ErrorCode::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(wrap(format!("reading `{dir}`"))(e)),
        };
        let tree = self
            .inner
            .find_tree(entry.id())
            .map_err(wrap(format!("reading `{dir}`")))?;
        let mut out = Vec::new();
        tree.walk(TreeWalkMode::PreOrder, |sub, e| {
            if e.kind() == Some(ObjectType::Blob)
                && let Ok(name) = e.name()
            {
                out.push((format!("{dir}/{sub}{name}"), BlobId(e.id())));
            }
            git2::TreeWalkResult::Ok
        })
        .map_err(wrap(format!("reading `{dir}` of {commit}")))?;
        Ok(out)
    }

    /// Blobs that `commit` added or changed relative to its first parent (or all of its files
    /// for a root commit), as `(path, blob)`.
    pub fn files_added_by(&self, commit: CommitId) -> Result<Vec<(String, BlobId)>, GitError> {
        let c = self.find_commit(commit)?;
        let new = c.tree().map_err(wrap("reading a tree"))?;
        let old = match c.parents().next() {
            Some(p) => Some(p.tree().map_err(wrap("reading a tree"))?),
            None => None,
        };
        let mut out = Vec::new();
        if let Some(old) = old {
            let diff = self
                .inner
                .diff_tree_to_tree(Some(&old), Some(&new), None)
                .map_err(wrap(format!("diff of {commit}")))?;
            for d in diff.deltas() {
                if d.status() == git2::Delta::Deleted {
                    continue;
                }
                if let Some(path) = d.new_file().path().and_then(Path::to_str) {
                    out.push((path.to_owned(), BlobId(d.new_file().id())));
                }
            }
        } else {
            new.walk(TreeWalkMode::PreOrder, |dir, e| {
                if e.kind() == Some(ObjectType::Blob)
                    && let Ok(name) = e.name()
                {
                    out.push((format!("{dir}{name}"), BlobId(e.id())));
                }
                git2::TreeWalkResult::Ok
            })
            .map_err(wrap(format!("reading tree of {commit}")))?;
        }
        Ok(out)
    }

    /// Paths that differ between `commit` and any of its parents (added, changed or deleted),
    /// or all of its files for a root commit.
    pub fn changed_paths(&self, commit: CommitId) -> Result<Vec<String>, GitError> {
        let c = self.find_commit(commit)?;
        if c.parent_count() == 0 {
            return Ok(self
                .files_added_by(commit)?
                .into_iter()
                .map(|(p, _)| p)
                .collect());
        }
        let new = c.tree().map_err(wrap("reading a tree"))?;
        let mut out = Vec::new();
        for parent in c.parents() {
            let old = parent.tree().map_err(wrap("reading a tree"))?;
            let diff = self
                .inner
                .diff_tree_to_tree(Some(&old), Some(&new), None)
                .map_err(wrap(format!("diff of {commit}")))?;
            for d in diff.deltas() {
                let file = match d.status() {
                    git2::Delta::Deleted => d.old_file(),
                    _ => d.new_file(),
                };
                if let Some(path) = file.path().and_then(Path::to_str) {
                    out.push(path.to_owned());
                }
            }
        }
        Ok(out)
    }

    /// The content of a blob.
    pub fn read_blob(&self, blob: BlobId) -> Result<Vec<u8>, GitError> {
        self.inner
            .find_blob(blob.0)
            .map(|b| b.content().to_vec())
            .map_err(wrap(format!("reading blob {}", blob.0)))
    }

    /// A commit's metadata.
    pub fn commit_info(&self, id: CommitId) -> Result<CommitInfo, GitError> {
        let c = self.find_commit(id)?;
        let utc = |t: Time| {
            Utc.timestamp_opt(t.seconds(), 0)
                .single()
                .unwrap_or_default()
        };
        let author = c.author();
        Ok(CommitInfo {
            id,
            tree: TreeId(c.tree_id()),
            parents: c.parent_ids().map(CommitId).collect(),
            author: Identity {
                name: String::from_utf8_lossy(author.name_bytes()).into_owned(),
                email: String::from_utf8_lossy(author.email_bytes()).into_owned(),
            },
            authored: utc(author.when()),
            committed: utc(c.time()),
            message: String::from_utf8_lossy(c.message_bytes()).into_owned(),
        })
    }

    /// Commits reachable from `tip` but not from `hide`, newest first: children before their
    /// parents, then by committer time.
    pub fn walk(
        &self,
        tip: CommitId,
        hide: Option<CommitId>,
    ) -> Result<impl Iterator<Item = Result<CommitId, GitError>> + '_, GitError> {
        let mut walk = self.inner.revwalk().map_err(wrap("walking history"))?;
        walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::TIME)
            .map_err(wrap("walking history"))?;
        walk.push(tip.0).map_err(wrap("walking history"))?;
        if let Some(h) = hide {
            walk.hide(h.0).map_err(wrap("walking history"))?;
        }
        Ok(walk.map(|r| r.map(CommitId).map_err(wrap("walking history"))))
    }

    /// The commits of [`Repo::walk`] from `tip` (nothing hidden), in the same order, each read
    /// once and only when asked for: along a linear history a commit's only parent is the next
    /// one, so the first commits come without the whole-history read that the topological sort
    /// needs; from the first merge on, the rest comes from [`Repo::walk`].
    pub fn commits(&self, tip: CommitId) -> Commits<'_> {
        Commits {
            repo: self,
            tip,
            read: 0,
            state: WalkState::Chain(Some(tip)),
        }
    }

    /// Another handle on this repository, for another thread (a [`Repo`] is `Send`, not `Sync`).
    pub fn reopen(&self) -> Result<Repo, GitError> {
        let path = self.inner.path();
        Repository::open(path)
            .map(|inner| Repo { inner })
            .map_err(|source| GitError::Open {
                path: path.to_owned(),
                source,
            })
    }

    /// Pushes local branch `branch` to the same branch on `remote` (a remote name, URL or
    /// path), never forcing; stopped after `timeout`.
    pub fn push_branch(
        &self,
        remote: &str,
        branch: &str,
        timeout: Duration,
    ) -> Result<PushOutcome, GitError> {
        check_remote(remote)?;
        let refspec = format!("refs/heads/{branch}:refs/heads/{branch}");
        let (ok, stdout, stderr) =
            self.git(&["push", "--porcelain", remote, &refspec], remote, timeout)?;
        if ok {
            return Ok(PushOutcome::Pushed);
        }
        match moved_remote(&stdout, &stderr) {
            Some(reason) => Ok(PushOutcome::Rejected { reason }),
            None => Err(GitError::Command {
                args: format!("push {remote} {refspec}"),
                stderr: stderr.trim().to_owned(),
            }),
        }
    }

    /// Fetches `branch` from `remote` into the ref `into` and returns its tip; stopped after
    /// `timeout`.
    pub fn fetch_branch(
        &self,
        remote: &str,
        branch: &str,
        into: &str,
        timeout: Duration,
    ) -> Result<CommitId, GitError> {
        check_remote(remote)?;
        let refspec = format!("+refs/heads/{branch}:{into}");
        let (ok, _, stderr) = self.git(
            &["fetch", "--no-tags", "--quiet", remote, &refspec],
            remote,
            timeout,
        )?;
        if !ok {
            return Err(GitError::Command {
                args: format!("fetch {remote} {refspec}"),
                stderr: stderr.trim().to_owned(),
            });
        }
        self.read_ref(into)?.ok_or_else(|| GitError::Command {
            args: format!("fetch {remote} {refspec}"),
            stderr: format!("`{into}` is missing after the fetch"),
        })
    }

    /// Runs the system `git` on this repository, talking to `remote`: `(success, stdout,
    /// stderr)`. After `timeout` git and everything it started are killed.
    fn git(
        &self,
        args: &[&str],
        remote: &str,
        timeout: Duration,
    ) -> Result<(bool, String, String), GitError> {
        use std::os::unix::process::CommandExt;
        let spawn = |source| GitError::Spawn {
            args: args.join(" "),
            source,
        };
        let mut child = Command::new("git")
            .arg("--git-dir")
            .arg(self.git_dir())
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            // Its own group, so the deadline also stops `ssh` or a helper git started.
            .process_group(0)
            .spawn()
            .map_err(spawn)?;
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = child.try_wait().map_err(spawn)? {
                break status;
            }
            if Instant::now() >= deadline {
                let group = rustix::process::Pid::from_child(&child);
                let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
                let _ = child.kill();
                let _ = child.wait();
                return Err(GitError::Timeout {
                    remote: remote.to_owned(),
                    args: args.join(" "),
                    after: format!("{}s", timeout.as_secs_f64()),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let text = |h: std::thread::JoinHandle<Vec<u8>>| {
            String::from_utf8_lossy(&h.join().unwrap_or_default()).into_owned()
        };
        Ok((status.success(), text(stdout), text(stderr)))
    }

    fn find_commit(&self, id: CommitId) -> Result<git2::Commit<'_>, GitError> {
        self.inner
            .find_commit(id.0)
            .map_err(wrap(format!("reading commit {id}")))
    }
}

/// Stops checking, for the rest of the process, that each object read hashes to its id: with
/// loose objects that check is a quarter of the time spent reading them. zlib's checksum still
/// catches a damaged object. For read-only commands.
pub fn skip_hash_checks() {
    git2::opts::strict_hash_verification(false);
}

/// The iterator of [`Repo::commits`].
pub struct Commits<'r> {
    repo: &'r Repo,
    tip: CommitId,
    /// Commits yielded so far.
    read: usize,
    state: WalkState<'r>,
}

enum WalkState<'r> {
    /// Following single parents: the next commit, if any.
    Chain(Option<CommitId>),
    /// A merge was yielded: the rest comes from a revwalk, past the commits already yielded.
    Merged,
    Walk(Box<dyn Iterator<Item = Result<CommitId, GitError>> + 'r>),
}

impl Iterator for Commits<'_> {
    type Item = Result<CommitInfo, GitError>;

    fn next(&mut self) -> Option<Self::Item> {
        let repo = self.repo;
        loop {
            match &mut self.state {
                WalkState::Chain(next) => {
                    let info = repo.commit_info(next.take()?);
                    if let Ok(info) = &info {
                        self.read += 1;
                        match info.parents.as_slice() {
                            [] => {}
                            [parent] => *next = Some(*parent),
                            _ => self.state = WalkState::Merged,
                        }
                    }
                    return Some(info);
                }
                // Every commit not yielded yet is an ancestor of the merge, so any topological
                // order starts with the chain already yielded.
                WalkState::Merged => match repo.walk(self.tip, None) {
                    Ok(walk) => self.state = WalkState::Walk(Box::new(walk.skip(self.read))),
                    Err(e) => {
                        self.state = WalkState::Chain(None);
                        return Some(Err(e));
                    }
                },
                WalkState::Walk(walk) => {
                    return walk.next().map(|id| id.and_then(|id| repo.commit_info(id)));
                }
            }
        }
    }
}

/// Reads a child's pipe to its end on a thread, so a chatty child never blocks on a full pipe.
fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

/// A remote must not look like an option to `git`.
fn check_remote(remote: &str) -> Result<(), GitError> {
    if remote.is_empty() || remote.starts_with('-') || remote.contains(char::is_control) {
        return Err(GitError::BadRemote {
            remote: remote.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        "Test <test@example.org>".parse().unwrap()
    }

    #[test]
    fn a_push_refused_by_a_moved_or_concurrently_created_branch_is_a_moved_remote() {
        // As `git push --porcelain` prints them (git 2.47).
        let out = |summary: &str| format!("To r.git\n!\tHEAD:refs/heads/a\t{summary}\nDone\n");
        let behind = out("[rejected] (fetch first)");
        assert_eq!(
            moved_remote(&behind, "").as_deref(),
            Some("[rejected] (fetch first)")
        );
        let raced = out("[remote rejected] (failed to update ref)");
        for why in ["reference already exists", "is at 1a2b but expected 3c4d"] {
            let err = format!(
                "remote: error: cannot lock ref 'refs/heads/a': {why}        \n\
                 error: failed to push some refs to 'r.git'\n"
            );
            assert_eq!(
                moved_remote(&raced, &err),
                Some(format!("error: cannot lock ref 'refs/heads/a': {why}"))
            );
        }
        let hook = out("[remote rejected] (pre-receive hook declined)");
        assert_eq!(moved_remote(&hook, "remote: rejected by policy\n"), None);
        assert_eq!(moved_remote(&raced, "remote: error: disk full\n"), None);
        assert_eq!(
            moved_remote("", "fatal: could not read from remote\n"),
            None
        );
    }

    #[test]
    fn identity_parsing() {
        let id = identity();
        assert_eq!(
            (id.name.as_str(), id.email.as_str()),
            ("Test", "test@example.org")
        );
        for bad in ["Test", "<a@b>", "Test <>", "A <b@c> x", "A\n <b@c>"] {
            assert!(bad.parse::<Identity>().is_err(), "{bad}");
        }
    }

    #[test]
    fn trees_commits_and_compare_and_swap() {
        let dir = tempfile::tempdir().unwrap();
        Repository::init(dir.path()).unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        assert_eq!(repo.head_commit().unwrap(), None);
        let blob = repo.write_blob(b"one").unwrap();
        let t1 = repo
            .tree_with_files(None, &[("a/b/c.json".into(), blob)])
            .unwrap();
        let now = Utc::now();
        let c1 = repo
            .write_commit(t1, &[], &identity(), (now, now), "one")
            .unwrap();
        let name = "refs/heads/x";
        repo.update_ref(name, c1, None, "create").unwrap();
        // Creating again expecting absence is a conflict.
        assert!(matches!(
            repo.update_ref(name, c1, None, "again"),
            Err(GitError::Conflict { .. })
        ));
        let blob2 = repo.write_blob(b"two").unwrap();
        let t2 = repo
            .tree_with_files(Some(t1), &[("a/b/d.json".into(), blob2)])
            .unwrap();
        let c2 = repo
            .write_commit(t2, &[c1], &identity(), (now, now), "two")
            .unwrap();
        let c3 = repo
            .write_commit(t2, &[c1], &identity(), (now, now), "three")
            .unwrap();
        repo.update_ref(name, c2, Some(c1), "move").unwrap();
        // A writer that read c1 earlier must not overwrite c2.
        assert!(matches!(
            repo.update_ref(name, c3, Some(c1), "stale"),
            Err(GitError::Conflict { .. })
        ));
        assert_eq!(repo.read_ref(name).unwrap(), Some(c2));
        assert_eq!(
            repo.read_file_at(c2, "a/b/c.json").unwrap().as_deref(),
            Some(&b"one"[..])
        );
        assert_eq!(repo.read_file_at(c2, "a/nope").unwrap(), None);
        let added = repo.files_added_by(c2).unwrap();
        assert_eq!(added.len(), 1);
        assert_eq!(added[0].0, "a/b/d.json");
        assert_eq!(repo.files_added_by(c1).unwrap()[0].0, "a/b/c.json");
        let mut under = repo.files_under(c2, "a").unwrap();
        under.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(
            under,
            vec![("a/b/c.json".into(), blob), ("a/b/d.json".into(), blob2)]
        );
        assert_eq!(repo.files_under(c2, "nope").unwrap(), vec![]);
        assert_eq!(repo.changed_paths(c2).unwrap(), ["a/b/d.json"]);
        assert_eq!(repo.changed_paths(c1).unwrap(), ["a/b/c.json"]);
        assert_eq!(repo.files_under(c2, "a/b/c.json").unwrap(), vec![]);
        let walked: Vec<_> = repo.walk(c2, None).unwrap().map(Result::unwrap).collect();
        assert_eq!(walked, vec![c2, c1]);
        // Nothing touched the working tree.
        assert!(!dir.path().join("a").exists());
        for bad in ["../x", "/x", "a//b", "a/./b"] {
            assert!(repo.tree_with_files(None, &[(bad.into(), blob)]).is_err());
        }
    }

    #[test]
    fn commits_come_in_walk_order_before_and_after_a_merge() {
        let (_dir, repo, c1) = repo_with_commit();
        let tree = repo.commit_tree(c1).unwrap();
        let at = |minute| Utc.with_ymd_and_hms(2026, 1, 1, 0, minute, 0).unwrap();
        let commit = |parents: &[CommitId], minute| {
            repo.write_commit(tree, parents, &identity(), (at(minute), at(minute)), "c")
                .unwrap()
        };
        let (a, b) = (commit(&[c1], 1), commit(&[c1], 2));
        let (a2, b2) = (commit(&[a], 3), commit(&[b], 4));
        let merge = commit(&[a2, b2], 5);
        let tip = commit(&[commit(&[merge], 6)], 7);
        for from in [tip, merge, a2, c1] {
            let walked: Vec<_> = repo.walk(from, None).unwrap().map(Result::unwrap).collect();
            let read: Vec<_> = repo.commits(from).map(|c| c.unwrap().id).collect();
            assert_eq!(read, walked);
        }
    }

    /// A new repository with one commit (not on any branch yet); the directory lives as long
    /// as the returned guard.
    fn repo_with_commit() -> (tempfile::TempDir, Repo, CommitId) {
        let dir = tempfile::tempdir().unwrap();
        Repository::init(dir.path()).unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        let tree = repo.tree_with_files(None, &[]).unwrap();
        let now = Utc::now();
        let c1 = repo
            .write_commit(tree, &[], &identity(), (now, now), "one")
            .unwrap();
        (dir, repo, c1)
    }

    #[test]
    fn ref_locks_block_updates_until_stale_ones_are_removed() {
        let (_dir, repo, c1) = repo_with_commit();
        let name = "refs/heads/audit";
        assert_eq!(
            repo.remove_stale_ref_lock(name, Duration::ZERO).unwrap(),
            None
        );
        repo.check_ref_writable(name).unwrap();
        let lock = repo.ref_lock_path(name);
        assert!(!lock.exists(), "the check takes the lock and releases it");
        std::fs::write(&lock, b"").unwrap();
        let locked = repo.update_ref(name, c1, None, "create").unwrap_err();
        assert!(matches!(locked, GitError::Locked { .. }), "{locked:?}");
        let msg = locked.to_string();
        assert!(
            msg.starts_with("`refs/heads/audit` is locked by `")
                && msg.ends_with("remove that file"),
            "{msg}"
        );
        assert!(matches!(
            repo.check_ref_writable(name),
            Err(GitError::Locked { .. })
        ));
        // A young lock is waited for until it is stale.
        let stale_after = Duration::from_millis(300);
        let removed = repo
            .remove_stale_ref_lock(name, stale_after)
            .unwrap()
            .unwrap();
        assert!(
            removed.age >= stale_after && removed.path == lock,
            "{removed:?}"
        );
        repo.update_ref(name, c1, None, "create").unwrap();
        // One that goes away while waited for is no stale lock.
        std::fs::write(&lock, b"").unwrap();
        let gone = {
            let lock = lock.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                std::fs::remove_file(lock).unwrap();
            })
        };
        assert_eq!(
            repo.remove_stale_ref_lock(name, Duration::from_secs(10))
                .unwrap(),
            None
        );
        gone.join().unwrap();
    }

    #[test]
    fn a_ref_in_the_way_of_a_branch_name_is_named() {
        let (_dir, repo, c1) = repo_with_commit();
        repo.update_ref("refs/heads/audit/old", c1, None, "x")
            .unwrap();
        repo.update_ref("refs/heads/ops", c1, None, "x").unwrap();
        for (name, by) in [
            ("refs/heads/audit", "refs/heads/audit/old"),
            ("refs/heads/ops/audit", "refs/heads/ops"),
        ] {
            match repo.check_ref_writable(name) {
                Err(GitError::Blocked { by: b, .. }) => assert_eq!(b, by),
                other => panic!("{name}: {other:?}"),
            }
        }
        repo.check_ref_writable("refs/heads/audit2").unwrap();
    }

    #[test]
    fn remotes_that_look_like_options_are_refused() {
        assert!(check_remote("--upload-pack=evil").is_err());
        assert!(check_remote("origin").is_ok());
    }
}
