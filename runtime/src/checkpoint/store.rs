//! [`Checkpoints`], the directory that holds a pipeline's checkpoints;
//! [`Pending`], one being written; [`Found`], one read back.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use super::CheckpointError;
use super::manifest::{Manifest, decode_file, encode_file};

/// Every checkpoint directory's name starts with this.
const PREFIX: &str = "chk-";

/// The suffix of a checkpoint directory being written (or deleted).
const PARTIAL: &str = ".partial";

/// Digits of the id in a directory name: every `u64` fits, and names sort
/// as their ids do.
const ID_DIGITS: usize = 20;

/// The manifest file in a checkpoint directory.
const MANIFEST: &str = "MANIFEST";

/// The RocksDB checkpoint in a checkpoint directory.
const STATE: &str = "state";

/// The checkpoints of one pipeline, under one root directory.
#[derive(Debug)]
pub struct Checkpoints {
    root: PathBuf,
    keep: usize,
    /// Ids of the live [`Pending`]s: their `.partial` directories are not
    /// leftovers, and [`Checkpoints::prune`] leaves them alone.
    writing: Arc<Mutex<BTreeSet<u64>>>,
}

/// What [`Checkpoints::list`] returns: each complete checkpoint's id, newest
/// first, with the checkpoint if it is usable or why it is not.
pub type Listing = Vec<(u64, Result<Found, CheckpointError>)>;

/// What [`Checkpoints::latest`] found.
#[derive(Debug)]
pub struct Latest {
    /// The newest usable checkpoint, if any.
    pub found: Option<Found>,
    /// The newer checkpoints that were unusable, newest first, with why.
    pub skipped: Vec<(u64, CheckpointError)>,
}

/// A checkpoint being written: a `.partial` directory, until
/// [`Pending::complete`] or [`Pending::abort`]. Dropping it aborts it.
#[derive(Debug)]
pub struct Pending {
    id: u64,
    root: PathBuf,
    /// The `.partial` directory.
    dir: PathBuf,
    /// The complete checkpoint's directory.
    target: PathBuf,
    writing: Arc<Mutex<BTreeSet<u64>>>,
    /// Whether the partial directory became the complete checkpoint.
    completed: bool,
}

/// A usable checkpoint, read back from disk.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Its directory.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
}

impl Checkpoints {
    /// Opens the checkpoint store in `root`, creating the directory if it
    /// does not exist. [`Checkpoints::prune`] keeps the newest `keep`
    /// complete checkpoints that are not savepoints.
    ///
    /// # Errors
    ///
    /// When `keep` is 0 or the directory cannot be created.
    pub fn open(root: &Path, keep: usize) -> Result<Checkpoints, CheckpointError> {
        if keep == 0 {
            return Err(CheckpointError::Keep { root: root.into() });
        }
        fs::create_dir_all(root).map_err(io_error("create directory", root))?;
        Ok(Checkpoints {
            root: root.into(),
            keep,
            writing: Arc::default(),
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Starts checkpoint `id` in a fresh `chk-<id>.partial` directory,
    /// removing a leftover one of an earlier run first.
    ///
    /// # Errors
    ///
    /// When checkpoint `id` is complete already or being written (a bug in
    /// the caller: ids must increase), or the directory cannot be made.
    pub fn begin(&self, id: u64) -> Result<Pending, CheckpointError> {
        let target = self.root.join(dir_name(id));
        if fs::symlink_metadata(&target).is_ok() {
            return Err(CheckpointError::Exists { dir: target });
        }
        let dir = self.root.join(format!("{}{PARTIAL}", dir_name(id)));
        if !lock(&self.writing).insert(id) {
            return Err(CheckpointError::Exists { dir });
        }
        // From here on, dropping `pending` unregisters the id and removes
        // the partial directory, also on an error below.
        let pending = Pending {
            id,
            root: self.root.clone(),
            dir,
            target,
            writing: Arc::clone(&self.writing),
            completed: false,
        };
        remove_dir_if_exists(&pending.dir)?;
        fs::create_dir(&pending.dir).map_err(io_error("create directory", &pending.dir))?;
        tracing::debug!(checkpoint = id, path = %pending.dir.display(), "checkpoint started");
        Ok(pending)
    }

    /// Every complete checkpoint, newest first, each read back with
    /// [`Checkpoints::read`]'s checks: `Ok` if usable, else why not.
    /// `.partial` directories are not listed, nor entries whose name is not
    /// a checkpoint's.
    ///
    /// # Errors
    ///
    /// When the root directory cannot be read.
    pub fn list(&self) -> Result<Listing, CheckpointError> {
        Ok(self
            .complete_ids()?
            .into_iter()
            .map(|id| (id, read_checkpoint(&self.root.join(dir_name(id)), Some(id))))
            .collect())
    }

    /// The newest usable checkpoint whose id is at most `at_most` (any id
    /// when `None`). Each newer one that is unusable is logged as a warning
    /// and returned in [`Latest::skipped`]; checkpoints after `at_most` are
    /// not looked at.
    ///
    /// Restoring from an older checkpoint than the newest complete one
    /// replays what the newer one had committed; the caller decides whether
    /// that is acceptable and says so.
    ///
    /// # Errors
    ///
    /// When the root directory cannot be read.
    pub fn latest(&self, at_most: Option<u64>) -> Result<Latest, CheckpointError> {
        let mut skipped = Vec::new();
        for id in self.complete_ids()? {
            if at_most.is_some_and(|at_most| id > at_most) {
                continue;
            }
            match read_checkpoint(&self.root.join(dir_name(id)), Some(id)) {
                Ok(found) => {
                    return Ok(Latest {
                        found: Some(found),
                        skipped,
                    });
                }
                Err(error) => {
                    tracing::warn!(
                        checkpoint = id, reason = %error,
                        "skipping unusable checkpoint"
                    );
                    skipped.push((id, error));
                }
            }
        }
        Ok(Latest {
            found: None,
            skipped,
        })
    }

    /// Deletes the `.partial` leftovers (not those of a live [`Pending`])
    /// and every usable, complete checkpoint that is not a savepoint, except
    /// the newest `keep` of them and those whose id is in `protect`.
    /// Unusable checkpoints are never deleted: one may be a savepoint, or be
    /// wanted to find out what went wrong.
    ///
    /// # Errors
    ///
    /// When the root cannot be read or a directory cannot be deleted; what
    /// was deleted before stays deleted.
    pub fn prune(&self, protect: &[u64]) -> Result<(), CheckpointError> {
        let writing = lock(&self.writing);
        for (id, dir) in self.partial_dirs()? {
            if writing.contains(&id) {
                continue;
            }
            tracing::info!(checkpoint = id, path = %dir.display(), "removing partial checkpoint");
            remove_dir_if_exists(&dir)?;
        }
        drop(writing);

        let mut kept = 0;
        for (id, found) in self.list()? {
            let Ok(found) = found else { continue };
            if found.manifest.savepoint {
                continue;
            }
            if kept < self.keep {
                kept += 1;
                continue;
            }
            if protect.contains(&id) {
                continue;
            }
            self.delete(id, &found.dir)?;
        }
        Ok(())
    }

    /// Reads the checkpoint in `dir`, which may be anywhere (`weir run
    /// --from DIR`), with the checks of a usable checkpoint. The id check
    /// applies when the directory is named like a checkpoint
    /// (`chk-<id>`); a savepoint copied elsewhere under another name is
    /// read by its manifest alone.
    ///
    /// # Errors
    ///
    /// When the directory cannot be read, is a `.partial` one, or the
    /// checkpoint in it is unusable.
    pub fn read(dir: &Path) -> Result<Found, CheckpointError> {
        let name = dir
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(parse_name);
        match name {
            Some((_, true)) => Err(CheckpointError::Partial { dir: dir.into() }),
            Some((id, false)) => read_checkpoint(dir, Some(id)),
            None => read_checkpoint(dir, None),
        }
    }

    /// Deletes complete checkpoint `id` in `dir`: renames it to `.partial`
    /// first, durably, so that a crash while deleting leaves a leftover
    /// rather than a damaged checkpoint that still looks complete.
    fn delete(&self, id: u64, dir: &Path) -> Result<(), CheckpointError> {
        let partial = self.root.join(format!("{}{PARTIAL}", dir_name(id)));
        fs::rename(dir, &partial).map_err(|error| CheckpointError::Rename {
            from: dir.into(),
            to: partial.clone(),
            error,
        })?;
        sync_dir(&self.root)?;
        remove_dir_if_exists(&partial)?;
        tracing::info!(checkpoint = id, path = %dir.display(), "checkpoint pruned");
        Ok(())
    }

    /// The ids of the complete checkpoints, newest first.
    fn complete_ids(&self) -> Result<Vec<u64>, CheckpointError> {
        let mut ids: Vec<u64> = self
            .entries()?
            .into_iter()
            .filter(|&(_, partial, _)| !partial)
            .map(|(id, _, _)| id)
            .collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        Ok(ids)
    }

    /// The `.partial` directories, by id.
    fn partial_dirs(&self) -> Result<Vec<(u64, PathBuf)>, CheckpointError> {
        Ok(self
            .entries()?
            .into_iter()
            .filter(|&(_, partial, _)| partial)
            .map(|(id, _, path)| (id, path))
            .collect())
    }

    /// Every entry of the root named like a checkpoint: its id, whether it
    /// is partial, its path.
    fn entries(&self) -> Result<Vec<(u64, bool, PathBuf)>, CheckpointError> {
        let read_error = io_error("read directory", &self.root);
        let mut entries = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(read_error)? {
            let entry = entry.map_err(io_error("read directory", &self.root))?;
            let name = entry.file_name();
            if let Some((id, partial)) = name.to_str().and_then(parse_name) {
                entries.push((id, partial, entry.path()));
            }
        }
        Ok(entries)
    }
}

impl Pending {
    /// The checkpoint's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// `<partial>/state`, which does not exist yet: where each worker's
    /// [`StateStore::checkpoint`](crate::state::StateStore::checkpoint)
    /// writes its RocksDB checkpoint, as [`worker_dir`].
    pub fn state_dir(&self) -> PathBuf {
        self.dir.join(STATE)
    }

    /// Completes the checkpoint: writes `manifest` to `<partial>/MANIFEST`,
    /// fsyncs every file and directory under the partial directory, renames
    /// it to `chk-<id>` and fsyncs the root. Once this returns `Ok` the
    /// checkpoint is complete and durable; on an error, or a crash before
    /// it returns, what is left is a `.partial` directory that is never
    /// used.
    ///
    /// # Errors
    ///
    /// When the manifest is of another id or says there is state that
    /// [`Pending::state_dir`] does not hold (bugs in the caller), or the
    /// disk fails. The partial directory is then removed.
    pub fn complete(mut self, manifest: &Manifest) -> Result<Found, CheckpointError> {
        if manifest.id != self.id {
            return Err(CheckpointError::IdMismatch {
                dir: self.dir.clone(),
                expected: self.id,
                manifest: manifest.id,
            });
        }
        check_state(&self.dir, manifest)?;

        let path = self.dir.join(MANIFEST);
        fs::write(&path, encode_file(manifest)).map_err(io_error("write", &path))?;
        sync_tree(&self.dir)?;
        fs::rename(&self.dir, &self.target).map_err(|error| CheckpointError::Rename {
            from: self.dir.clone(),
            to: self.target.clone(),
            error,
        })?;
        if let Err(error) = sync_dir(&self.root) {
            // Not known to be durable: make it partial again, so that a
            // checkpoint reported as failed is never restored from.
            if let Err(error) = fs::rename(&self.target, &self.dir) {
                tracing::warn!(
                    checkpoint = self.id, path = %self.target.display(), %error,
                    "cannot undo a checkpoint that failed to complete"
                );
            }
            return Err(error);
        }
        self.completed = true;

        tracing::info!(checkpoint = self.id, path = %self.target.display(), "checkpoint complete");
        Ok(Found {
            dir: self.target.clone(),
            manifest: manifest.clone(),
        })
    }

    /// Abandons the checkpoint (it failed): removes the partial directory.
    /// A failure to remove it is logged; [`Checkpoints::prune`] removes it
    /// later.
    pub fn abort(self) {
        tracing::info!(checkpoint = self.id, "checkpoint aborted");
        // Dropping removes the directory.
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        lock(&self.writing).remove(&self.id);
        if self.completed {
            return;
        }
        if let Err(error) = remove_dir_if_exists(&self.dir) {
            tracing::warn!(checkpoint = self.id, %error, "cannot remove partial checkpoint");
        }
    }
}

impl Found {
    /// Makes `live` a RocksDB directory holding this checkpoint's state:
    /// removes `live`, then hard-links the table files (`*.sst`, `*.blob`,
    /// which RocksDB never changes) and copies every other file (`CURRENT`,
    /// `MANIFEST-*`, `OPTIONS-*`, `*.log`, which it appends to or
    /// rewrites), so the database opened at `live` never writes into the
    /// checkpoint. Copies table files too when hard links fail (`live` on
    /// another file system). A checkpoint without state leaves no `live`
    /// directory: the state is empty.
    ///
    /// Nothing is fsynced: after a crash the state is restored again.
    ///
    /// # Errors
    ///
    /// When `live` cannot be removed or a file cannot be linked nor copied.
    pub fn restore_state(&self, live: &Path) -> Result<(), CheckpointError> {
        remove_dir_if_exists(live)?;
        if !self.manifest.has_state {
            tracing::info!(
                checkpoint = self.manifest.id, path = %live.display(),
                "checkpoint has no state to restore"
            );
            return Ok(());
        }
        let mut link = true;
        restore_tree(&self.dir.join(STATE), live, &mut link)?;
        tracing::info!(
            checkpoint = self.manifest.id, path = %live.display(), linked = link,
            "state restored from checkpoint"
        );
        Ok(())
    }

    /// The total size in bytes of the files in the checkpoint's directory
    /// (hard-linked files counted whole); what cannot be read counts 0.
    pub fn size_bytes(&self) -> u64 {
        tree_size(&self.dir)
    }
}

/// `chk-<id, 20 digits>`.
fn dir_name(id: u64) -> String {
    format!("{PREFIX}{id:0ID_DIGITS$}")
}

/// The id of a checkpoint directory's name and whether it is partial, or
/// `None` if the name is not a checkpoint's.
fn parse_name(name: &str) -> Option<(u64, bool)> {
    let rest = name.strip_prefix(PREFIX)?;
    let (digits, partial) = match rest.strip_suffix(PARTIAL) {
        Some(digits) => (digits, true),
        None => (rest, false),
    };
    if digits.len() != ID_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((digits.parse().ok()?, partial))
}

/// Reads the checkpoint in `dir` and checks that it is usable, and of
/// checkpoint `id` if given.
fn read_checkpoint(dir: &Path, id: Option<u64>) -> Result<Found, CheckpointError> {
    fs::metadata(dir).map_err(io_error("open checkpoint directory", dir))?;
    let path = dir.join(MANIFEST);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Err(CheckpointError::MissingManifest { dir: dir.into() });
        }
        Err(error) => return Err(io_error("read", &path)(error)),
    };
    let manifest = decode_file(dir, &bytes)?;
    if let Some(id) = id
        && manifest.id != id
    {
        return Err(CheckpointError::IdMismatch {
            dir: dir.into(),
            expected: id,
            manifest: manifest.id,
        });
    }
    check_state(dir, &manifest)?;
    Ok(Found {
        dir: dir.into(),
        manifest,
    })
}

/// Checks that the checkpoint in `dir` holds, if its manifest says it has
/// state, a RocksDB checkpoint for every worker: `state/worker-<i>/`.
fn check_state(dir: &Path, manifest: &Manifest) -> Result<(), CheckpointError> {
    if !manifest.has_state {
        return Ok(());
    }
    let state = dir.join(STATE);
    if !state.is_dir() {
        return Err(CheckpointError::MissingState { dir: dir.into() });
    }
    let workers = manifest.topology.as_ref().map_or(0, |t| t.parallelism);
    for worker in 0..workers {
        if !state.join(worker_dir(worker)).join("CURRENT").is_file() {
            return Err(CheckpointError::IncompleteState {
                dir: dir.into(),
                worker,
            });
        }
    }
    Ok(())
}

/// The directory of worker `worker`'s RocksDB checkpoint within `state/`
/// (and of its live database within the state directory).
pub fn worker_dir(worker: u32) -> String {
    format!("worker-{worker}")
}

/// Copies the RocksDB checkpoint in `from` to `to`, hard-linking table
/// files while `link` holds; a failed link clears it.
pub(super) fn restore_tree(from: &Path, to: &Path, link: &mut bool) -> Result<(), CheckpointError> {
    fs::create_dir_all(to).map_err(io_error("create directory", to))?;
    for entry in fs::read_dir(from).map_err(io_error("read directory", from))? {
        let entry = entry.map_err(io_error("read directory", from))?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        if entry
            .file_type()
            .map_err(io_error("read", &source))?
            .is_dir()
        {
            restore_tree(&source, &target, link)?;
            continue;
        }
        if *link && is_table_file(&source) {
            match fs::hard_link(&source, &target) {
                Ok(()) => continue,
                Err(error) => {
                    tracing::warn!(
                        path = %source.display(), %error,
                        "cannot hard-link checkpoint state, copying it instead"
                    );
                    *link = false;
                }
            }
        }
        fs::copy(&source, &target).map_err(|error| CheckpointError::Copy {
            from: source.clone(),
            to: target.clone(),
            error,
        })?;
    }
    Ok(())
}

/// Whether RocksDB never changes the file once written: table and blob
/// files.
fn is_table_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|extension| extension.to_str()),
        Some("sst" | "blob")
    )
}

/// Fsyncs every file and directory under `dir`, and `dir`.
fn sync_tree(dir: &Path) -> Result<(), CheckpointError> {
    for entry in fs::read_dir(dir).map_err(io_error("read directory", dir))? {
        let entry = entry.map_err(io_error("read directory", dir))?;
        let path = entry.path();
        if entry.file_type().map_err(io_error("read", &path))?.is_dir() {
            sync_tree(&path)?;
        } else {
            File::open(&path)
                .and_then(|file| file.sync_all())
                .map_err(io_error("sync", &path))?;
        }
    }
    sync_dir(dir)
}

/// Fsyncs the directory `dir`, making its entries durable.
fn sync_dir(dir: &Path) -> Result<(), CheckpointError> {
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(io_error("sync", dir))
}

/// Removes `dir` and everything under it; a missing `dir` is fine.
fn remove_dir_if_exists(dir: &Path) -> Result<(), CheckpointError> {
    match fs::remove_dir_all(dir) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => {
            Err(io_error("remove", dir)(error))
        }
        _ => Ok(()),
    }
}

/// The total length of the files under `path`.
fn tree_size(path: &Path) -> u64 {
    let Ok(metadata) = fs::symlink_metadata(path) else {
        return 0;
    };
    if !metadata.is_dir() {
        return metadata.len();
    }
    let Ok(entries) = fs::read_dir(path) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| tree_size(&entry.path()))
        .sum()
}

/// Locks the set of live [`Pending`] ids; a panic elsewhere while it was
/// held leaves it consistent (every change is one insert or remove).
fn lock(writing: &Mutex<BTreeSet<u64>>) -> std::sync::MutexGuard<'_, BTreeSet<u64>> {
    writing.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Makes an [`io::Error`] of `action` on `path` a [`CheckpointError::Io`].
fn io_error(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(io::Error) -> CheckpointError + use<> {
    let path = path.to_path_buf();
    move |error| CheckpointError::Io {
        action,
        path,
        error,
    }
}
