//! Checkpoints in the engine: barriers placed by the routers, aligned by
//! the workers and the sink thread, and completed by the [`Coordinator`] on
//! the sink thread.
//!
//! 1. The coordinator starts checkpoint `n` (a `.partial` directory) and
//!    asks for barrier `n` ([`Barriers::requested`]).
//! 2. Each source, between two records, tells its router where it is; the
//!    router sends what it has buffered, records the position and its
//!    watermark ([`Barriers::placed`]) and sends barrier `n` to every
//!    worker, behind the events before it.
//! 3. A worker that has barrier `n` from every input (see `inputs`) writes
//!    its window state changes to its state store, makes a RocksDB
//!    checkpoint of the store into the partial directory, and passes the
//!    barrier on to the sink thread with its operators' watermarks.
//! 4. Once the sink thread has barrier `n` from every worker, every event
//!    before it has been written to the sinks. The coordinator has the sinks
//!    stage what they wrote ([`crate::sink::Sink::prepare`]), writes the
//!    manifest (after which the checkpoint is complete and durable), has
//!    the sinks make it visible ([`crate::sink::Sink::commit`]), and prunes
//!    old checkpoints.
//!
//! A restart restores the newest complete checkpoint: the state stores
//! from its RocksDB checkpoints, each source from its position, each
//! router's watermark, and each sink from what it had staged, finishing a
//! commit that a crash interrupted (see [`crate::sink::file`]). Everything
//! after the checkpoint is read again and written again, to outputs that no
//! longer hold it.
//!
//! When every source has ended (or the pipeline is stopped), the workers
//! write their last state changes and end, and the coordinator takes a last
//! checkpoint, so that a bounded run commits everything and a stopped one
//! resumes where it stopped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::EngineError;
use crate::checkpoint::{
    self as manifest, Checkpoints, FileCommit, FilePosition, Found, GeneratorPosition,
    KafkaPosition, Manifest, OperatorState, Pending, PendingCommit, SinkCommit, SourcePartition,
    Topology,
};
use crate::config::{CheckpointConfig, PipelineConfig, StageKind};
use crate::metrics::Metrics;
use crate::sink::Prepared;
use crate::sink::file::FileCommit as FileStaged;
use crate::source::{KafkaOffset, Position};
use crate::state::StateStore;

/// Where a router's source was at a barrier or at its end.
#[derive(Clone, Debug)]
pub(crate) struct SourceAt {
    pub position: Position,
    pub watermark: i64,
}

#[derive(Default)]
struct Slot {
    /// The last barrier placed, and where.
    at_barrier: Option<(u64, SourceAt)>,
    /// Where the source was when it ended.
    ended: Option<SourceAt>,
    /// Whether the router has ended.
    done: bool,
}

/// What the threads of a pipeline share about checkpoints.
pub(crate) struct Barriers {
    /// The newest barrier asked for; 0 before the first.
    requested: AtomicU64,
    /// A thread failed: no last checkpoint may be taken.
    failed: AtomicBool,
    /// Where workers write their state checkpoints for the requested
    /// barrier.
    state_dir: Mutex<Option<PathBuf>>,
    /// Per router.
    slots: Mutex<Vec<Slot>>,
}

impl Barriers {
    pub(crate) fn new(inputs: usize) -> Self {
        Barriers {
            requested: AtomicU64::new(0),
            failed: AtomicBool::new(false),
            state_dir: Mutex::new(None),
            slots: Mutex::new((0..inputs).map(|_| Slot::default()).collect()),
        }
    }

    /// The newest barrier asked for.
    pub(crate) fn requested(&self) -> u64 {
        self.requested.load(Ordering::Acquire)
    }

    /// Router `input` placed barrier `id` at `at`.
    pub(crate) fn placed(&self, input: usize, id: u64, at: SourceAt) {
        lock(&self.slots)[input].at_barrier = Some((id, at));
    }

    /// Router `input` ended, at `at` (unknown when its source failed).
    pub(crate) fn ended(&self, input: usize, at: Option<SourceAt>) {
        let mut slots = lock(&self.slots);
        slots[input].ended = at;
        slots[input].done = true;
    }

    /// A thread failed.
    pub(crate) fn fail(&self) {
        self.failed.store(true, Ordering::Release);
    }

    fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// Whether every router has ended.
    fn all_ended(&self) -> bool {
        lock(&self.slots).iter().all(|slot| slot.done)
    }

    /// Where worker `worker` writes its state checkpoint for the requested
    /// barrier.
    pub(crate) fn worker_state_dir(&self, worker: usize) -> Option<PathBuf> {
        lock(&self.state_dir)
            .as_ref()
            .map(|dir| dir.join(worker_dir(worker)))
    }

    /// Every router's position for checkpoint `id`: the one it placed
    /// barrier `id` at, or, for a router that ended before placing it,
    /// where it ended.
    fn positions(&self, id: u64) -> Result<Vec<SourceAt>, String> {
        let slots = lock(&self.slots);
        slots
            .iter()
            .enumerate()
            .map(|(input, slot)| match (&slot.at_barrier, &slot.ended) {
                (Some((placed, at)), _) if *placed == id => Ok(at.clone()),
                (_, Some(at)) if slot.done => Ok(at.clone()),
                _ => Err(format!(
                    "input {input} has no position for checkpoint {id} (its source failed)"
                )),
            })
            .collect()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Plain values, each written whole.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The directory of worker `worker`'s state, in the live state directory
/// and in a checkpoint's `state/`.
pub(crate) fn worker_dir(worker: usize) -> String {
    manifest::worker_dir(worker as u32)
}

/// The name a sink's part of a manifest is recorded under: its role and
/// name.
pub(crate) fn sink_id(role: &str, name: &str) -> String {
    format!("{role}/{name}")
}

/// What each source partition and sink resumes from.
pub(crate) struct Restore {
    pub found: Found,
}

impl Restore {
    /// Where source `source`'s partition `partition` resumes.
    pub(crate) fn position(&self, source: &str, partition: u32) -> Option<Position> {
        let entry = self.partition(source, partition)?;
        Some(match entry.position.as_ref()? {
            manifest::Position::Generator(g) => Position::Generator { emitted: g.emitted },
            manifest::Position::File(f) => Position::File {
                offset: f.offset,
                line: f.line,
            },
            manifest::Position::Kafka(k) => Position::Kafka(
                k.offsets
                    .iter()
                    .map(|o| KafkaOffset {
                        topic: o.topic.as_str().into(),
                        partition: o.partition,
                        next: o.next,
                    })
                    .collect(),
            ),
        })
    }

    /// The watermark source `source`'s partition `partition` had.
    pub(crate) fn watermark(&self, source: &str, partition: u32) -> i64 {
        self.partition(source, partition)
            .map_or(i64::MIN, |p| p.watermark)
    }

    fn partition(&self, source: &str, partition: u32) -> Option<&SourcePartition> {
        self.found
            .manifest
            .sources
            .iter()
            .find(|p| p.source == source && p.partition == partition)
    }

    /// What the sink recorded under `id` (see [`sink_id`]) had staged.
    pub(crate) fn sink(&self, id: &str) -> Option<FileStaged> {
        let commit = self.found.manifest.sinks.iter().find(|s| s.sink == id)?;
        match commit.pending.as_ref()? {
            PendingCommit::File(file) => Some(FileStaged {
                staged: PathBuf::from(&file.staged),
                visible_len: file.visible_len,
                staged_len: file.staged_len,
            }),
            PendingCommit::Kafka(_) => None,
        }
    }

    /// The operator state stage `stage` had on the worker owning
    /// `first_key_group`.
    pub(crate) fn operator(&self, stage: u32, first_key_group: u32) -> Option<&OperatorState> {
        self.found
            .manifest
            .operators
            .iter()
            .find(|o| o.stage == stage && o.first_key_group == first_key_group)
    }
}

/// The topology of `config` as a manifest records it; `digests` are the
/// stages' plugin digests.
pub(crate) fn topology(config: &PipelineConfig, digests: &[Option<String>]) -> Topology {
    let stages = config
        .stages
        .iter()
        .zip(digests)
        .map(|(stage, digest)| {
            let (kind, fingerprint) = match &stage.kind {
                StageKind::Plugin(_) => ("plugin", String::new()),
                StageKind::Window(window) => ("window", format!("{window:?}")),
                StageKind::Dedupe(dedupe) => ("dedupe", format!("{dedupe:?}")),
            };
            manifest::Stage {
                name: stage.name.clone(),
                kind: kind.into(),
                plugin: digest.clone().unwrap_or_default(),
                state_fingerprint: fingerprint,
            }
        })
        .collect();
    Topology {
        pipeline: config.name.clone(),
        key_groups: config.key_groups,
        parallelism: config.parallelism,
        stages,
    }
}

/// Finds the checkpoint to restore: the one in `from`, or the newest
/// usable one in the pipeline's checkpoint directory (saying which newer
/// ones it skipped and why), checked against the pipeline.
///
/// # Errors
///
/// [`EngineError::Checkpoint`] when `from` cannot be read or the store
/// not opened, [`EngineError::Incompatible`] when the checkpoint does not
/// fit the pipeline.
pub(crate) fn find(
    config: &CheckpointConfig,
    from: Option<&Path>,
    now: &Topology,
) -> Result<Option<Restore>, EngineError> {
    let found = match from {
        Some(dir) => Some(Checkpoints::read(dir)?),
        None => {
            let store = Checkpoints::open(&config.dir, config.keep)?;
            // `latest` says which newer ones it skipped, and why.
            store.latest(None)?.found
        }
    };
    let Some(found) = found else {
        return Ok(None);
    };
    compatible(&found, now)?;
    tracing::info!(
        checkpoint = found.manifest.id,
        dir = %found.dir.display(),
        "restoring checkpoint"
    );
    Ok(Some(Restore { found }))
}

/// Checks that `found` can be restored into a pipeline of topology `now`:
/// the same key groups and workers, and the same stages in the same order
/// with state of the same shape (a stage's plugin may change).
fn compatible(found: &Found, now: &Topology) -> Result<(), EngineError> {
    let refuse = |reason: String| EngineError::Incompatible {
        checkpoint: found.dir.clone(),
        reason,
    };
    let Some(then) = &found.manifest.topology else {
        return Err(refuse("its manifest has no topology".into()));
    };
    if then.key_groups != now.key_groups {
        return Err(refuse(format!(
            "it has {} key groups and the pipeline {}; state is partitioned by key group, \
             so `key_groups` cannot change",
            then.key_groups, now.key_groups
        )));
    }
    if then.parallelism != now.parallelism {
        // FIXME: restoring onto a different parallelism needs each worker's
        // key groups copied out of the old workers' state checkpoints.
        return Err(refuse(format!(
            "it was taken with parallelism {} and the pipeline has {}; changing parallelism \
             on restore is not supported yet",
            then.parallelism, now.parallelism
        )));
    }
    let names = |t: &Topology| {
        t.stages
            .iter()
            .map(|s| format!("{} ({})", s.name, s.kind))
            .collect::<Vec<_>>()
    };
    if names(then) != names(now) {
        return Err(refuse(format!(
            "its stages are [{}] and the pipeline's [{}]; stages cannot be added, removed or \
             reordered on restore",
            names(then).join(", "),
            names(now).join(", ")
        )));
    }
    for (old, new) in then.stages.iter().zip(&now.stages) {
        if old.state_fingerprint != new.state_fingerprint {
            return Err(refuse(format!(
                "stage `{}` changed its {} settings, so its state cannot be read back",
                new.name, new.kind
            )));
        }
        if old.plugin != new.plugin {
            tracing::info!(
                stage = %new.name,
                from = %old.plugin,
                to = %new.plugin,
                "stage's plugin changed since the checkpoint"
            );
        }
    }
    Ok(())
}

/// Where a router's checkpoint entry comes from: its source's name and
/// partition.
#[derive(Clone, Debug)]
pub(crate) struct InputName {
    pub source: String,
    pub partition: u32,
}

/// A test hook: how long to pause between a checkpoint becoming durable
/// and its commit (`WEIR_TEST_PAUSE_BEFORE_COMMIT_MS`), so that a test can
/// kill the process exactly there.
const PAUSE_BEFORE_COMMIT: &str = "WEIR_TEST_PAUSE_BEFORE_COMMIT_MS";

/// Takes the checkpoints, on the sink thread.
pub(crate) struct Coordinator {
    store: Checkpoints,
    barriers: Arc<Barriers>,
    interval: Duration,
    topology: Topology,
    inputs: Vec<InputName>,
    /// Per worker, its state store (for the last checkpoint, taken after
    /// the workers ended).
    stores: Vec<Option<StateStore>>,
    /// The checkpoint being taken.
    pending: Option<(Pending, Instant)>,
    /// The id of the next checkpoint.
    next: u64,
    /// When the last checkpoint completed (or the pipeline started).
    last: Instant,
    /// Set when the last checkpoint is to be a savepoint.
    savepoint: Arc<AtomicBool>,
    pause_before_commit: Option<Duration>,
    metrics: Arc<Metrics>,
}

impl Coordinator {
    /// A coordinator for the checkpoints of `config`, after `restored`.
    #[allow(
        clippy::too_many_arguments,
        reason = "each is a distinct part of the wiring"
    )]
    pub(crate) fn new(
        config: &CheckpointConfig,
        barriers: Arc<Barriers>,
        topology: Topology,
        inputs: Vec<InputName>,
        stores: Vec<Option<StateStore>>,
        restored: Option<u64>,
        savepoint: Arc<AtomicBool>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, EngineError> {
        let store = Checkpoints::open(&config.dir, config.keep)?;
        // Ids keep increasing past every checkpoint on disk, usable or not,
        // so that a new one never takes the name of an old one.
        let newest = store.list()?.first().map_or(0, |(id, _)| *id);
        let pause_before_commit = std::env::var(PAUSE_BEFORE_COMMIT)
            .ok()
            .and_then(|ms| ms.parse().ok())
            .map(Duration::from_millis);
        Ok(Coordinator {
            store,
            barriers,
            interval: config.interval,
            topology,
            inputs,
            stores,
            pending: None,
            next: newest.max(restored.unwrap_or(0)) + 1,
            last: Instant::now(),
            savepoint,
            pause_before_commit,
            metrics,
        })
    }

    /// How long the sink thread may wait for input before [`Coordinator::tick`]
    /// is due.
    pub(crate) fn wait(&self) -> Duration {
        if self.pending.is_some() {
            return Duration::from_millis(100);
        }
        self.interval.saturating_sub(self.last.elapsed())
    }

    /// Starts the next checkpoint when the interval has passed since the
    /// last one and none is being taken.
    pub(crate) fn tick(&mut self) -> Result<(), EngineError> {
        if self.pending.is_some() || self.last.elapsed() < self.interval {
            return Ok(());
        }
        self.begin()?;
        self.barriers.requested.store(self.next, Ordering::Release);
        tracing::debug!(checkpoint = self.next, "checkpoint barrier requested");
        Ok(())
    }

    fn begin(&mut self) -> Result<(), EngineError> {
        let pending = self.store.begin(self.next)?;
        let state_dir = pending.state_dir();
        if self.stores.iter().any(Option::is_some) {
            std::fs::create_dir_all(&state_dir).map_err(|error| {
                EngineError::Checkpoint(crate::checkpoint::CheckpointError::Io {
                    action: "create directory",
                    path: state_dir.clone(),
                    error,
                })
            })?;
        }
        *lock(&self.barriers.state_dir) = Some(state_dir);
        self.pending = Some((pending, Instant::now()));
        Ok(())
    }

    /// Barrier `id` is aligned: every worker passed it on with its
    /// `operators`, or ended before it (those in `ended`, whose state
    /// stores are checkpointed here), and everything before it has been
    /// written to `outputs`.
    pub(crate) fn aligned(
        &mut self,
        id: u64,
        operators: Vec<OperatorState>,
        ended: &[usize],
        outputs: &mut dyn Stage,
    ) -> Result<(), EngineError> {
        if id != self.next || self.pending.is_none() {
            return Err(EngineError::Internal(format!(
                "barrier {id} arrived while checkpoint {} was expected",
                self.next
            )));
        }
        self.checkpoint_stores(ended)?;
        self.complete(operators, outputs)
    }

    /// Checkpoints the state stores of `workers`, which have ended.
    fn checkpoint_stores(&self, workers: &[usize]) -> Result<(), EngineError> {
        for &worker in workers {
            if let (Some(Some(store)), Some(dir)) = (
                self.stores.get(worker),
                self.barriers.worker_state_dir(worker),
            ) {
                store.checkpoint(&dir)?;
            }
        }
        Ok(())
    }

    /// Every worker ended with its last `operators`; takes the last
    /// checkpoint (a savepoint when the pipeline was asked for one).
    /// Skipped after a failure, so that a restart resumes from the last
    /// good checkpoint.
    pub(crate) fn finish(
        &mut self,
        operators: Vec<OperatorState>,
        outputs: &mut dyn Stage,
    ) -> Result<(), EngineError> {
        if self.barriers.failed() {
            return Ok(());
        }
        if self.pending.is_none() {
            self.begin()?;
        }
        // The workers have ended: nothing writes to their stores any more.
        let all: Vec<usize> = (0..self.stores.len()).collect();
        self.checkpoint_stores(&all)?;
        self.complete(operators, outputs)
    }

    /// Writes the manifest of the checkpoint being taken, which makes it
    /// complete, then has the outputs commit. Nothing is written once a
    /// thread has failed: its state may be missing.
    fn complete(
        &mut self,
        operators: Vec<OperatorState>,
        outputs: &mut dyn Stage,
    ) -> Result<(), EngineError> {
        let id = self.next;
        let Some((pending, started)) = self.pending.take() else {
            return Err(EngineError::Internal("no checkpoint being taken".into()));
        };
        if self.barriers.failed() {
            pending.abort();
            return Ok(());
        }
        let savepoint = self.savepoint.load(Ordering::Relaxed) && self.barriers.all_ended();
        let mut manifest = Manifest::new(id, self.topology.clone());
        manifest.savepoint = savepoint;
        manifest.has_state = self.stores.iter().any(Option::is_some);
        manifest.operators = operators;
        let positions = self.barriers.positions(id).map_err(EngineError::Internal)?;
        manifest.sources = self
            .inputs
            .iter()
            .zip(positions)
            .map(|(name, at)| source_partition(name, at))
            .collect();
        let aligned = started.elapsed();
        let phase = Instant::now();
        manifest.sinks = outputs
            .prepare(id)?
            .into_iter()
            .map(|(sink, prepared)| sink_commit(sink, prepared))
            .collect();
        let prepared = phase.elapsed();
        let phase = Instant::now();
        let found = pending.complete(&manifest)?;
        let written = phase.elapsed();
        let durable = started.elapsed();
        if let Some(pause) = self.pause_before_commit {
            // The test hook's line, which the test waits for.
            eprintln!("weir-test: checkpoint {id} durable, pausing before commit");
            std::thread::sleep(pause);
        }
        let phase = Instant::now();
        outputs.commit(id)?;
        let committed = phase.elapsed();
        *lock(&self.barriers.state_dir) = None;
        let phase = Instant::now();
        self.store.prune(&[])?;
        let pruned = phase.elapsed();
        let size = found.size_bytes();
        self.metrics
            .checkpoint_completed(id, started.elapsed(), size);
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        tracing::info!(
            checkpoint = id,
            aligned_ms = ms(aligned),
            sinks_prepared_ms = ms(prepared),
            manifest_ms = ms(written),
            durable_ms = ms(durable),
            sinks_committed_ms = ms(committed),
            pruned_ms = ms(pruned),
            total_ms = ms(started.elapsed()),
            bytes = size,
            savepoint,
            "checkpoint complete"
        );
        if savepoint {
            tracing::info!(checkpoint = id, dir = %found.dir.display(), "savepoint written");
        }
        self.next += 1;
        self.last = Instant::now();
        Ok(())
    }
}

/// The outputs' part in a checkpoint, as the coordinator drives it.
pub(crate) trait Stage {
    /// Stages what was written; one entry per sink that staged something,
    /// by [`sink_id`].
    fn prepare(&mut self, id: u64) -> Result<Vec<(String, Prepared)>, EngineError>;
    /// Makes what was staged visible.
    fn commit(&mut self, id: u64) -> Result<(), EngineError>;
}

fn source_partition(name: &InputName, at: SourceAt) -> SourcePartition {
    let position = match at.position {
        Position::Generator { emitted } => {
            manifest::Position::Generator(GeneratorPosition { emitted })
        }
        Position::File { offset, line } => manifest::Position::File(FilePosition { offset, line }),
        Position::Kafka(offsets) => manifest::Position::Kafka(KafkaPosition {
            offsets: offsets
                .into_iter()
                .map(|o| manifest::KafkaOffset {
                    topic: o.topic.to_string(),
                    partition: o.partition,
                    next: o.next,
                    watermark: i64::MIN,
                })
                .collect(),
        }),
    };
    SourcePartition {
        source: name.source.clone(),
        partition: name.partition,
        watermark: at.watermark,
        position: Some(position),
    }
}

fn sink_commit(sink: String, prepared: Prepared) -> SinkCommit {
    let pending = match prepared {
        Prepared::File(file) => PendingCommit::File(FileCommit {
            staged: file.staged.display().to_string(),
            visible_len: file.visible_len,
            staged_len: file.staged_len,
        }),
    };
    SinkCommit {
        sink,
        pending: Some(pending),
    }
}
