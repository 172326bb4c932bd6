//! The checkpoint manifest (`weir.checkpoint.v1`, documented in
//! `runtime/proto/checkpoint.proto`) and the `MANIFEST` file that frames it.
//!
//! The messages are written by hand with prost's derive macros rather than
//! generated, so building weir needs no `protoc`. Their field numbers must
//! match the `.proto` file; the tests pin both.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use prost::Message as _;

use super::CheckpointError;

/// The manifest format this weir writes and the newest it reads.
pub const FORMAT: u32 = 1;

/// The first 8 bytes of every `MANIFEST` file.
pub const MAGIC: &[u8; 8] = b"WEIRCKPT";

/// Bytes of a `MANIFEST` file around the encoded manifest: the magic and
/// the length before it, the checksum after it.
const FRAME_LEN: usize = MAGIC.len() + 4 + 4;

/// One checkpoint: where every source partition was, what every sink has
/// staged but not yet made visible, and which operator state the keyed
/// state holds, all as of one aligned barrier.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Manifest {
    /// The manifest's format, [`FORMAT`] when this weir wrote it.
    #[prost(uint32, tag = "1")]
    pub format: u32,
    /// The checkpoint's id, from 1, increasing; equal to the id in the
    /// directory's name.
    #[prost(uint64, tag = "2")]
    pub id: u64,
    /// When the checkpoint was taken, in milliseconds since the Unix epoch
    /// (wall clock).
    #[prost(int64, tag = "3")]
    pub created_unix_ms: i64,
    /// Whether `weir savepoint` took it: kept until deleted by hand, never
    /// pruned.
    #[prost(bool, tag = "4")]
    pub savepoint: bool,
    /// The pipeline the checkpoint was taken of.
    #[prost(message, optional, tag = "5")]
    pub topology: Option<Topology>,
    /// Every source partition's position and watermark at the barrier.
    #[prost(message, repeated, tag = "6")]
    pub sources: Vec<SourcePartition>,
    /// What each sink staged before the barrier, to make visible on commit.
    #[prost(message, repeated, tag = "7")]
    pub sinks: Vec<SinkCommit>,
    /// Each operator instance's (stage on a worker) state at the barrier.
    #[prost(message, repeated, tag = "8")]
    pub operators: Vec<OperatorState>,
    /// Whether the checkpoint's `state/` holds a RocksDB checkpoint.
    #[prost(bool, tag = "9")]
    pub has_state: bool,
}

/// The shape of the pipeline a checkpoint was taken of.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Topology {
    /// The pipeline's name, from its pipeline file.
    #[prost(string, tag = "1")]
    pub pipeline: String,
    /// The number of key groups keys hash into; fixed for the life of the
    /// state.
    #[prost(uint32, tag = "2")]
    pub key_groups: u32,
    /// The number of workers the key groups were spread over.
    #[prost(uint32, tag = "3")]
    pub parallelism: u32,
    /// The stages in pipeline order; [`OperatorState::stage`] indexes this.
    #[prost(message, repeated, tag = "4")]
    pub stages: Vec<Stage>,
}

/// One stage of the pipeline.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Stage {
    /// The stage's name in the pipeline file.
    #[prost(string, tag = "1")]
    pub name: String,
    /// `"plugin"`, `"window"` or `"dedupe"`.
    #[prost(string, tag = "2")]
    pub kind: String,
    /// The digest of the stage's plugin component; empty without one.
    #[prost(string, tag = "3")]
    pub plugin: String,
    /// A digest of what must not change for the stage's state to stay
    /// readable; empty for a stage without state.
    #[prost(string, tag = "4")]
    pub state_fingerprint: String,
}

/// Where one partition of one source was at the barrier.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SourcePartition {
    /// The source's name in the pipeline file.
    #[prost(string, tag = "1")]
    pub source: String,
    /// The partition's index within the source, from 0.
    #[prost(uint32, tag = "2")]
    pub partition: u32,
    /// The partition's watermark at the barrier (event-time milliseconds);
    /// `i64::MIN` when it had none yet.
    #[prost(int64, tag = "3")]
    pub watermark: i64,
    /// Where the partition resumes; `None` for a source that cannot resume.
    #[prost(oneof = "Position", tags = "4, 5, 6")]
    pub position: Option<Position>,
}

/// Where a source partition resumes, by kind of source
/// (`SourcePartition.position`).
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Position {
    /// A generator partition's position.
    #[prost(message, tag = "4")]
    Generator(GeneratorPosition),
    /// A file partition's position.
    #[prost(message, tag = "5")]
    File(FilePosition),
    /// A Kafka source partition's position.
    #[prost(message, tag = "6")]
    Kafka(KafkaPosition),
}

/// A generator partition's position.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GeneratorPosition {
    /// The number of events the partition emitted before the barrier.
    #[prost(uint64, tag = "1")]
    pub emitted: u64,
}

/// A file partition's position.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FilePosition {
    /// The byte offset of the first line not read before the barrier.
    #[prost(uint64, tag = "1")]
    pub offset: u64,
    /// That line's number, from 0.
    #[prost(uint64, tag = "2")]
    pub line: u64,
}

/// A Kafka source partition's position: the topic partitions it read.
#[derive(Clone, PartialEq, prost::Message)]
pub struct KafkaPosition {
    /// One entry per topic partition the source partition had assigned.
    #[prost(message, repeated, tag = "1")]
    pub offsets: Vec<KafkaOffset>,
}

/// One Kafka topic partition's position.
#[derive(Clone, PartialEq, prost::Message)]
pub struct KafkaOffset {
    /// The topic.
    #[prost(string, tag = "1")]
    pub topic: String,
    /// The partition within the topic.
    #[prost(int32, tag = "2")]
    pub partition: i32,
    /// The offset of the first record not emitted before the barrier.
    #[prost(int64, tag = "3")]
    pub next: i64,
    /// The topic partition's watermark at the barrier (event-time
    /// milliseconds); `i64::MIN` when it had none yet.
    #[prost(int64, tag = "4")]
    pub watermark: i64,
}

/// What one sink staged before the barrier and has not yet made visible.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SinkCommit {
    /// The sink's name in the pipeline file.
    #[prost(string, tag = "1")]
    pub sink: String,
    /// The staged output; `None` when the sink staged nothing.
    #[prost(oneof = "PendingCommit", tags = "2, 3")]
    pub pending: Option<PendingCommit>,
}

/// A sink's staged output, by kind of sink (`SinkCommit.pending`).
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum PendingCommit {
    /// A file sink's staged part file.
    #[prost(message, tag = "2")]
    File(FileCommit),
    /// A Kafka sink's open transaction.
    #[prost(message, tag = "3")]
    Kafka(KafkaCommit),
}

/// A file sink's staged part file, appended to the visible file on commit.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FileCommit {
    /// The part file's path, as the sink wrote it.
    #[prost(string, tag = "1")]
    pub staged: String,
    /// The visible file's length in bytes before the part is appended.
    #[prost(uint64, tag = "2")]
    pub visible_len: u64,
    /// The part file's length in bytes: after the commit the visible file
    /// is `visible_len + staged_len` long.
    #[prost(uint64, tag = "3")]
    pub staged_len: u64,
}

/// A Kafka sink's prepared, uncommitted transaction.
#[derive(Clone, PartialEq, prost::Message)]
pub struct KafkaCommit {
    /// The producer's transactional id, to commit the transaction with.
    #[prost(string, tag = "1")]
    pub transactional_id: String,
}

/// One operator instance's state: one stage on one worker.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OperatorState {
    /// The stage, as an index into [`Topology::stages`].
    #[prost(uint32, tag = "1")]
    pub stage: u32,
    /// The first key group the worker owned.
    #[prost(uint32, tag = "2")]
    pub first_key_group: u32,
    /// One past the last key group the worker owned.
    #[prost(uint32, tag = "3")]
    pub end_key_group: u32,
    /// The worker's input watermark at the barrier (event-time
    /// milliseconds); `i64::MIN` when it had none yet.
    #[prost(int64, tag = "4")]
    pub watermark: i64,
    /// The operator's sequence number at the barrier; 0 when it keeps none.
    #[prost(uint64, tag = "5")]
    pub seq: u64,
}

impl Manifest {
    /// An empty manifest of checkpoint `id` of `topology`, in this weir's
    /// [`FORMAT`], taken now: no sources, sinks or operators yet, no state,
    /// not a savepoint.
    pub fn new(id: u64, topology: Topology) -> Manifest {
        Manifest {
            format: FORMAT,
            id,
            created_unix_ms: unix_ms(SystemTime::now()),
            topology: Some(topology),
            ..Manifest::default()
        }
    }
}

/// Milliseconds since the Unix epoch, negative before it, saturating.
fn unix_ms(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// The bytes of a `MANIFEST` file holding `manifest`: magic, length,
/// encoded manifest, checksum.
pub(super) fn encode_file(manifest: &Manifest) -> Vec<u8> {
    let body = manifest.encode_to_vec();
    // A manifest holds a few entries per source partition, sink and
    // operator: kilobytes, never 4 GiB.
    let len = u32::try_from(body.len()).expect("a manifest is smaller than 4 GiB");
    let mut file = Vec::with_capacity(FRAME_LEN + body.len());
    file.extend_from_slice(MAGIC);
    file.extend_from_slice(&len.to_le_bytes());
    file.extend_from_slice(&body);
    file.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    file
}

/// Reads the bytes of the `MANIFEST` file of the checkpoint in `dir`:
/// checks the framing and the checksum, decodes the manifest and refuses a
/// format newer than [`FORMAT`]. The other checks of a checkpoint (its id,
/// its state) are the store's.
pub(super) fn decode_file(dir: &Path, bytes: &[u8]) -> Result<Manifest, CheckpointError> {
    let dir = || dir.to_path_buf();
    if !MAGIC.starts_with(&bytes[..bytes.len().min(MAGIC.len())]) {
        return Err(CheckpointError::BadMagic { dir: dir() });
    }
    let Some(len) = bytes.get(MAGIC.len()..MAGIC.len() + 4) else {
        return Err(CheckpointError::Truncated {
            dir: dir(),
            actual: bytes.len(),
            expected: FRAME_LEN,
        });
    };
    let len = u32::from_le_bytes(len.try_into().expect("a 4-byte slice")) as usize;
    let expected = FRAME_LEN + len;
    if bytes.len() < expected {
        return Err(CheckpointError::Truncated {
            dir: dir(),
            actual: bytes.len(),
            expected,
        });
    }
    if bytes.len() > expected {
        return Err(CheckpointError::TrailingBytes {
            dir: dir(),
            extra: bytes.len() - expected,
        });
    }

    let (body, crc) = bytes[MAGIC.len() + 4..].split_at(len);
    let stored = u32::from_le_bytes(crc.try_into().expect("a 4-byte slice"));
    let computed = crc32fast::hash(body);
    if stored != computed {
        return Err(CheckpointError::ChecksumMismatch {
            dir: dir(),
            stored,
            computed,
        });
    }

    let manifest =
        Manifest::decode(body).map_err(|error| CheckpointError::Decode { dir: dir(), error })?;
    if manifest.format > FORMAT {
        return Err(CheckpointError::NewerFormat {
            dir: dir(),
            format: manifest.format,
        });
    }
    Ok(manifest)
}
