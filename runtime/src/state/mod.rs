//! Keyed state: one RocksDB database per weir process, under a local state
//! directory, holding the state of every stateful stage (window contents,
//! aggregator accumulators, the keyed state plugins import, dedupe ids).
//!
//! Invariants:
//!
//! - **Plugins never see RocksDB.** They reach state only through host
//!   functions scoped to the current stage and key; this module is host-only.
//! - **Every key is prefixed by stage and key group**, so one key group of one
//!   stage is one contiguous key range in every column family and can be
//!   copied, dropped or moved to another worker as a unit
//!   ([`StageState::iter_key_group`], [`StageState::delete_key_group`]).
//! - **One write per batch.** Stages buffer an event batch's changes in a
//!   [`StateBatch`] and apply them with one atomic RocksDB write
//!   ([`StageState::commit`]); nothing writes to RocksDB per event. The
//!   single-entry writes ([`StageState::put`] and friends) are for setup,
//!   tests and rare events.
//! - **One owner per key group.** A key group of a stage is read and written
//!   through one [`StageState`] at a time: the one of the worker that owns
//!   the group. The handle caches, per key group, a lower bound on the
//!   earliest timer and expiry, which another writer would make stale.
//!
//! # Layout
//!
//! Three column families, every key starting with `stage (u16 BE) | key
//! group (u16 BE)`:
//!
//! ```text
//! values   stage | key group | key          → tag (0 plain, 1 expiring)
//!                                              | expiry (8, if tag 1) | value
//! timers   stage | key group | time (8) | key → empty
//! expiry   stage | key group | time (8) | key → empty
//! ```
//!
//! `key` is the caller's bytes (a namespace and the user key, as the caller
//! chooses). `time` is an `i64` with its sign bit flipped, big-endian, so
//! that byte order is numeric order and, within a key group, the time
//! indexes sort by time with negative times first. Big-endian throughout
//! makes range scans by (stage, key group) and by time plain key ranges.
//!
//! # Time and time-to-live
//!
//! Times are `i64` in whatever unit and clock the stage uses (event time in
//! milliseconds for windows). A value put with an expiry time is invisible
//! once the handle's clock ([`StageState::now`], advanced by
//! [`StageState::advance_time`] and [`StageState::expire`]) has reached it,
//! and [`StageState::expire`] deletes it through the `expiry` index, so
//! state stays bounded on an endless stream. Overwriting or deleting an
//! expiring value does not remove its index entry (that would cost a read
//! per write); the sweep drops such stale entries when their time comes, so
//! the index holds at most one entry per expiring put within one TTL.
//!
//! # Durability
//!
//! Writes go through RocksDB's write-ahead log without syncing it: a
//! process crash loses nothing, a machine crash may lose the last writes.
//! Recovery to a consistent point is the job of checkpoints
//! ([`StateStore::checkpoint`] makes the RocksDB part of one).

mod layout;
mod stage;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::checkpoint::Checkpoint;
use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, DB, Options};

pub use stage::{KeyGroupEntries, RawEntry, Scan, StageState, StateBatch, Timer};

/// RocksDB's info logs (`LOG`, `LOG.old.*`) kept in the state directory;
/// each open starts a new one.
const KEEP_LOG_FILES: usize = 4;

/// Why keyed state failed. Every variant is the disk's or RocksDB's fault
/// (retrying rarely helps) except [`StateError::NotOwned`], which is a bug
/// in the caller.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The state directory could not be created.
    #[error("cannot create state directory `{}`: {error}", path.display())]
    CreateDir {
        path: PathBuf,
        error: std::io::Error,
    },
    /// RocksDB refused to open the database (locked by another process,
    /// damaged, or made by an incompatible version).
    #[error("cannot open state database `{}`: {error}", path.display())]
    Open {
        path: PathBuf,
        error: rocksdb::Error,
    },
    /// A read or a scan failed.
    #[error("cannot read state of stage {stage}: {error}")]
    Read { stage: u16, error: rocksdb::Error },
    /// A write failed; nothing of the batch was applied.
    #[error("cannot write state of stage {stage}: {error}")]
    Write { stage: u16, error: rocksdb::Error },
    /// A stored entry is not in the layout this module writes.
    #[error("corrupt state entry of stage {stage} in `{column}`: {what}")]
    Corrupt {
        stage: u16,
        column: &'static str,
        what: &'static str,
    },
    /// A handle was asked about a key group it does not own.
    #[error(
        "stage {stage}'s state handle does not own key group {key_group} (it owns {first}..{end})"
    )]
    NotOwned {
        stage: u16,
        key_group: u16,
        first: u16,
        end: u16,
    },
    /// A checkpoint could not be made (the directory exists, or the disk
    /// failed).
    #[error("cannot create state checkpoint `{}`: {error}", path.display())]
    Checkpoint {
        path: PathBuf,
        error: rocksdb::Error,
    },
}

/// A column family of the state database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    /// Values, by `stage | key group | key`.
    Values,
    /// Event-time timers, by `stage | key group | time | key`.
    Timers,
    /// When expiring values expire, by `stage | key group | time | key`.
    Expiry,
}

impl Column {
    /// Every column family, in the order [`StageState::iter_key_group`]
    /// visits them.
    pub const ALL: [Column; 3] = [Column::Values, Column::Timers, Column::Expiry];

    /// The column family's name in RocksDB.
    pub fn name(self) -> &'static str {
        match self {
            Column::Values => "values",
            Column::Timers => "timers",
            Column::Expiry => "expiry",
        }
    }
}

/// The state database of one weir process. Cheap to clone; every clone is
/// the same database. Closed when the last clone and the last
/// [`StageState`] are dropped.
#[derive(Clone)]
pub struct StateStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: DB,
    path: PathBuf,
}

impl StateStore {
    /// Opens the state database in `dir`, creating the directory and the
    /// database if they do not exist.
    ///
    /// # Errors
    ///
    /// When the directory cannot be created or RocksDB cannot open the
    /// database, for example because another process has it open.
    pub fn open(dir: &Path) -> Result<StateStore, StateError> {
        std::fs::create_dir_all(dir).map_err(|error| StateError::CreateDir {
            path: dir.into(),
            error,
        })?;
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        options.set_keep_log_file_num(KEEP_LOG_FILES);
        let families = Column::ALL
            .iter()
            .map(|column| ColumnFamilyDescriptor::new(column.name(), Options::default()));
        let db =
            DB::open_cf_descriptors(&options, dir, families).map_err(|error| StateError::Open {
                path: dir.into(),
                error,
            })?;
        tracing::info!(path = %dir.display(), "state store opened");
        Ok(StateStore {
            inner: Arc::new(Inner {
                db,
                path: dir.into(),
            }),
        })
    }

    /// The state directory.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The handle through which `stage` reads and writes the key groups in
    /// `key_groups` (the ones its worker owns). See the module docs: one
    /// handle per (stage, key group) at a time.
    pub fn stage(&self, stage: u16, key_groups: std::ops::Range<u16>) -> StageState {
        StageState::new(self.clone(), stage, key_groups)
    }

    /// Writes a RocksDB checkpoint of the whole database to `dir`, which
    /// must not exist: a directory that opens as a database with the same
    /// content, made of hard links to the immutable table files (so it is
    /// cheap on the same file system) and copies of the rest.
    ///
    /// # Errors
    ///
    /// When `dir` exists or RocksDB cannot write it.
    pub fn checkpoint(&self, dir: &Path) -> Result<(), StateError> {
        let error = |error| StateError::Checkpoint {
            path: dir.into(),
            error,
        };
        Checkpoint::new(&self.inner.db)
            .map_err(error)?
            .create_checkpoint(dir)
            .map_err(error)?;
        tracing::info!(path = %dir.display(), "state checkpoint created");
        Ok(())
    }

    fn db(&self) -> &DB {
        &self.inner.db
    }

    fn cf(&self, column: Column) -> &ColumnFamily {
        self.inner
            .db
            .cf_handle(column.name())
            .expect("the database is opened with every column family")
    }
}

impl fmt::Debug for StateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}
