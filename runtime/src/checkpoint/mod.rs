//! Checkpoints on disk: the store of complete checkpoints under a root
//! directory ([`Checkpoints`]), the making of one ([`Pending`]), the
//! restoring of one's keyed state ([`Found::restore_state`]), and the
//! versioned manifest that describes one ([`Manifest`], documented in
//! `runtime/proto/checkpoint.proto`). Taking a checkpoint (barriers,
//! alignment, sink commits) is the engine's; this module only keeps them.
//!
//! # Layout
//!
//! ```text
//! root/
//!   chk-00000000000000000007/           complete checkpoint 7
//!     MANIFEST                          the manifest, framed (below)
//!     state/                            RocksDB checkpoint, if `has_state`
//!       CURRENT  MANIFEST-…  OPTIONS-…  *.sst  *.log …
//!   chk-00000000000000000008.partial/   checkpoint 8 being written, or a
//!                                       leftover of a crash: never read
//! ```
//!
//! Ids have 20 digits (all of `u64`), so names sort as ids do.
//!
//! # The `MANIFEST` file
//!
//! ```text
//! offset 0       8 bytes   magic, ASCII `WEIRCKPT`
//! offset 8       4 bytes   N, u32 little-endian
//! offset 12      N bytes   the Protobuf-encoded `Manifest`
//! offset 12 + N  4 bytes   CRC-32 of those N bytes (crc32fast), u32 LE
//! ```
//!
//! and nothing after it. Readers refuse a manifest whose `format` is newer
//! than [`FORMAT`]; fields they do not know are ignored, as Protobuf does.
//!
//! # Invariants
//!
//! - **A checkpoint is complete iff its directory has no `.partial`
//!   suffix.** [`Pending::complete`] writes the manifest, fsyncs every file
//!   and directory under the partial directory, renames it and fsyncs the
//!   root; a crash at any earlier point leaves only a `.partial` directory,
//!   which nothing reads and [`Checkpoints::prune`] deletes. Pruning renames
//!   a checkpoint back to `.partial` before deleting it, so a crash while
//!   deleting leaves no half-deleted checkpoint that looks complete.
//! - **A checkpoint is usable iff** its manifest reads whole (no truncation,
//!   no trailing bytes), its checksum matches, it decodes, its `format` is at
//!   most [`FORMAT`], its `id` is the directory's, and, when `has_state` is
//!   set, `state/` exists with a `CURRENT` file. Each failure is its own
//!   [`CheckpointError`] variant; [`Checkpoints::latest`] skips unusable
//!   checkpoints, loudly, for the newest usable one.
//! - **A checkpoint is never written to after it is complete.** Restoring
//!   hard-links its immutable table files into the live database and copies
//!   every file RocksDB appends to or rewrites.
//! - **Nothing that cannot be read is deleted.** Pruning removes only usable,
//!   non-savepoint checkpoints; an unusable one may be a savepoint or be
//!   wanted for a post-mortem, and is left for a person to remove.

#![warn(missing_docs)]

mod manifest;
mod store;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use manifest::{
    FORMAT, FileCommit, FilePosition, GeneratorPosition, KafkaCommit, KafkaOffset, KafkaPosition,
    MAGIC, Manifest, OperatorState, PendingCommit, Position, SinkCommit, SourcePartition, Stage,
    Topology,
};
pub use store::{Checkpoints, Found, Latest, Listing, Pending, worker_dir};

/// Why the checkpoint store failed, or why one checkpoint is unusable.
///
/// Whose fault it is: [`CheckpointError::Io`], [`CheckpointError::Rename`]
/// and [`CheckpointError::Copy`] are the disk's (a retry rarely helps);
/// [`CheckpointError::Keep`], [`CheckpointError::Exists`], and
/// [`Pending::complete`] refusing a manifest of another id or one that
/// claims state it does not have, are bugs in the caller;
/// [`CheckpointError::Partial`] is the user's (`--from` a `.partial`
/// directory). The others say why a checkpoint on disk cannot be used
/// (damaged, tampered with, or written by a newer weir), which no retry
/// changes.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// A file system operation failed.
    #[error("cannot {action} `{}`: {error}", path.display())]
    Io {
        /// What was being done ("read", "create directory", ...).
        action: &'static str,
        /// The file or directory it was done to.
        path: PathBuf,
        /// The underlying error.
        #[source]
        error: std::io::Error,
    },
    /// A directory could not be renamed.
    #[error("cannot rename `{}` to `{}`: {error}", from.display(), to.display())]
    Rename {
        /// The directory.
        from: PathBuf,
        /// Its new name.
        to: PathBuf,
        /// The underlying error.
        #[source]
        error: std::io::Error,
    },
    /// A file of a checkpoint's state could not be copied.
    #[error("cannot copy `{}` to `{}`: {error}", from.display(), to.display())]
    Copy {
        /// The file in the checkpoint.
        from: PathBuf,
        /// Where it was being copied to.
        to: PathBuf,
        /// The underlying error.
        #[source]
        error: std::io::Error,
    },
    /// [`Checkpoints::open`] was asked to keep no checkpoint.
    #[error("checkpoint store `{}`: must keep at least 1 checkpoint", root.display())]
    Keep {
        /// The store's root directory.
        root: PathBuf,
    },
    /// [`Checkpoints::begin`] was given the id of a complete checkpoint.
    #[error("checkpoint `{}` already exists", dir.display())]
    Exists {
        /// The complete checkpoint's directory.
        dir: PathBuf,
    },
    /// [`Checkpoints::read`] was given a `.partial` directory: a checkpoint
    /// that never completed, or one being deleted.
    #[error("checkpoint `{}`: is not complete (a `.partial` directory)", dir.display())]
    Partial {
        /// The directory.
        dir: PathBuf,
    },
    /// The checkpoint directory has no `MANIFEST`.
    #[error("checkpoint `{}`: manifest is missing", dir.display())]
    MissingManifest {
        /// The checkpoint directory.
        dir: PathBuf,
    },
    /// The manifest does not start with [`MAGIC`]: it is not a weir
    /// checkpoint manifest.
    #[error("checkpoint `{}`: manifest does not start with `WEIRCKPT`", dir.display())]
    BadMagic {
        /// The checkpoint directory.
        dir: PathBuf,
    },
    /// The manifest file is shorter than its length field says.
    #[error("checkpoint `{}`: manifest is truncated ({actual} of {expected} bytes)", dir.display())]
    Truncated {
        /// The checkpoint directory.
        dir: PathBuf,
        /// The file's length in bytes.
        actual: usize,
        /// The length its header announces (16, the least a manifest file
        /// can have, when the header itself is cut).
        expected: usize,
    },
    /// The manifest file goes on after its checksum.
    #[error("checkpoint `{}`: manifest has {extra} trailing bytes", dir.display())]
    TrailingBytes {
        /// The checkpoint directory.
        dir: PathBuf,
        /// Bytes after the checksum.
        extra: usize,
    },
    /// The manifest's checksum does not match its bytes.
    #[error(
        "checkpoint `{}`: manifest checksum mismatch \
         (stored {stored:08x}, computed {computed:08x})",
        dir.display()
    )]
    ChecksumMismatch {
        /// The checkpoint directory.
        dir: PathBuf,
        /// The checksum in the file.
        stored: u32,
        /// The checksum of the manifest bytes in the file.
        computed: u32,
    },
    /// The manifest's bytes are not a `Manifest`.
    #[error("checkpoint `{}`: manifest does not decode: {error}", dir.display())]
    Decode {
        /// The checkpoint directory.
        dir: PathBuf,
        /// prost's reason.
        #[source]
        error: prost::DecodeError,
    },
    /// The manifest was written in a format newer than [`FORMAT`].
    #[error(
        "checkpoint `{}`: written by a newer weir (format {format}, this one reads up to {FORMAT})",
        dir.display()
    )]
    NewerFormat {
        /// The checkpoint directory.
        dir: PathBuf,
        /// The manifest's format.
        format: u32,
    },
    /// The manifest is of another checkpoint than its directory's name
    /// says.
    #[error(
        "checkpoint `{}`: manifest is of checkpoint {manifest} instead of {expected}",
        dir.display()
    )]
    IdMismatch {
        /// The checkpoint directory.
        dir: PathBuf,
        /// The id its name (or [`Pending::id`]) says.
        expected: u64,
        /// The id in the manifest.
        manifest: u64,
    },
    /// The manifest says the checkpoint has state, but `state/` is missing.
    #[error("checkpoint `{}`: state directory is missing", dir.display())]
    MissingState {
        /// The checkpoint directory.
        dir: PathBuf,
    },
    /// A worker's directory in `state/` has no `CURRENT` file: it is not a
    /// complete RocksDB checkpoint.
    #[error(
        "checkpoint `{}`: state of worker {worker} has no `CURRENT` file",
        dir.display()
    )]
    IncompleteState {
        /// The checkpoint directory.
        dir: PathBuf,
        /// The worker.
        worker: u32,
    },
}
