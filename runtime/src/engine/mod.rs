//! The engine: sources, key-by, workers and sinks wired with bounded
//! channels.
//!
//! ```text
//! source partition ─▶ router ─┬─▶ worker 0: stage ▶ stage ▶ … ─┬─▶ sink thread ─▶ sinks
//! source partition ─▶ router ─┴─▶ worker 1: stage ▶ stage ▶ … ─┘         └─▶ dead-letter sink
//! ```
//!
//! Each source partition runs on its own thread with a [`router::Router`];
//! each worker owns one instance of every stage and processes batches in
//! arrival order; one sink thread writes everything out. Messages between
//! them are in-band: a worker ends when every router has sent it `End`, and
//! the sink thread when every router and worker has, so checkpoint barriers
//! and watermarks can later travel the same way and be aligned per input.
//!
//! Progress markers travel the same way: a source asks its router for one
//! ([`crate::source::Emit::mark`]), every worker passes it on after the
//! batches before it, and the sink thread acknowledges it to the source
//! once every worker has and the outputs are flushed. That is what lets
//! the Kafka source commit an offset only after everything before it was
//! written.

pub mod aggregator;
mod checkpoint;
mod dedupe_stage;
mod inputs;
pub(crate) mod keys;
mod router;
pub mod stage;
pub mod time;
pub mod window_stage;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use std::path::Path;

use crossbeam_channel::{Sender, bounded};

use checkpoint::{Barriers, Coordinator};
use dedupe_stage::DedupeStage;
use inputs::{Inputs, Received};
pub use keys::{assignment, key_group};
use router::{Router, Routing};
use stage::{Stage, StageError, StageOutput};
use window_stage::{WindowOutput, WindowStage};

use crate::checkpoint::{OperatorState, Topology};
use crate::config::{Guarantee, PipelineConfig, StageKind};
use crate::event::{DeadLetter, Event};
use crate::metrics::Metrics;
use crate::plugin::instance::{InstanceError, StageSpec};
use crate::plugin::keyed::KeyedState;
use crate::plugin::{Plugin, PluginError, PluginRuntime, World};
use crate::sink::file::Opening as FileOpening;
use crate::sink::{self, Prepared, Sink, SinkError};
use crate::source::{self, Acks, SourceError};
use crate::state::StateStore;

/// What flows from routers to a worker. `input` is the router's index.
pub enum WorkerMessage {
    /// Events to process, in order.
    Batch {
        /// The router that sent them.
        input: usize,
        /// The events.
        events: Vec<Event>,
    },
    /// No event with time at or below `watermark` will come from `input`.
    Watermark {
        /// The router.
        input: usize,
        /// The partition's watermark.
        watermark: i64,
    },
    /// `input`'s source partition has been idle past its timeout.
    Idle {
        /// The router.
        input: usize,
    },
    /// A progress marker of `input` (see [`crate::source::Emit::mark`]):
    /// forwarded to the sink thread once every batch before it is done.
    Marker {
        /// The router.
        input: usize,
        /// The marker's token.
        token: u64,
    },
    /// Dead letters of events the router could not route (they travel
    /// through a worker so that barriers find them in order).
    DeadLetters(Vec<DeadLetter>),
    /// Checkpoint barrier `id` of `input`: every event before it belongs to
    /// checkpoint `id`, none after it.
    Barrier {
        /// The router.
        input: usize,
        /// The checkpoint.
        id: u64,
    },
    /// `input` has ended.
    End {
        /// The router.
        input: usize,
        /// Whether its source read all its input (rather than being
        /// stopped): then it holds no watermark back any more, which
        /// completes every window. A stopped source of a pipeline with
        /// checkpoints completes none, so that the run resumes them.
        exhausted: bool,
    },
}

/// What flows to the sink thread.
pub enum SinkMessage {
    /// Events for every sink, in order.
    Events(Vec<Event>),
    /// Events for the dead-letter sink.
    DeadLetters(Vec<DeadLetter>),
    /// Events too late for every window, for the late sink.
    Late(Vec<Event>),
    /// A worker has passed on everything router `input` sent it before
    /// the marker `token`.
    Marker {
        /// The router.
        input: usize,
        /// The marker's token.
        token: u64,
    },
    /// The worker passed checkpoint barrier `id` on, after writing its
    /// state; `operators` is what the manifest records of its stages.
    Barrier {
        /// The checkpoint.
        id: u64,
        /// The worker's stages' watermarks.
        operators: Vec<OperatorState>,
    },
    /// The worker has ended; `operators` is what the last checkpoint
    /// records of its stages (`None` after a failure).
    End {
        /// The worker's stages' watermarks.
        operators: Option<Vec<OperatorState>>,
    },
}

/// A pipeline could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A stage's plugin could not be loaded.
    #[error("stage `{stage}`: {error}")]
    Plugin {
        /// The stage.
        stage: String,
        /// Why.
        #[source]
        error: PluginError,
    },
    /// A plugin instance could not be made or initialised.
    #[error(transparent)]
    Instance(#[from] InstanceError),
    /// A source failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A sink failed.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// A stage stopped the pipeline (its `fail` policy).
    #[error(transparent)]
    Stage(#[from] StageError),
    /// The keyed state store could not be opened.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// A checkpoint could not be written or read.
    #[error(transparent)]
    Checkpoint(#[from] crate::checkpoint::CheckpointError),
    /// The checkpoint to restore does not fit the pipeline.
    #[error("cannot restore checkpoint `{}`: {reason}", checkpoint.display())]
    Incompatible {
        /// The checkpoint's directory.
        checkpoint: PathBuf,
        /// Why not.
        reason: String,
    },
    /// A window stage's state could not be restored.
    #[error("stage `{stage}`: cannot restore its state: {error}")]
    Restore {
        /// The stage.
        stage: String,
        /// Why.
        #[source]
        error: window_stage::RestoreError,
    },
    /// The state directory could not be cleared for a fresh run.
    #[error("cannot clear the state directory `{path}`: {error}")]
    ClearState {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        error: std::io::Error,
    },
    /// A thread could not be started or died unexpectedly (an internal error).
    #[error("internal error: {0}")]
    Internal(String),
}

/// What a finished run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Events read from the sources.
    pub read: u64,
    /// Events written to the first sink.
    pub written: u64,
    /// Dead letters written.
    pub dead_lettered: u64,
    /// Failed events dropped by `skip` policies.
    pub skipped: u64,
    /// Events too late for every window (written to the late output).
    pub late: u64,
    /// Events dropped as duplicates by dedupe stages.
    pub deduplicated: u64,
    /// How long the run took.
    pub elapsed: Duration,
}

/// A pipeline ready to run: plugins loaded, instances made, state
/// restored.
pub struct Pipeline {
    config: PipelineConfig,
    workers: Vec<Worker>,
    metrics: Arc<Metrics>,
    /// The checkpoint restored, if any.
    restore: Option<checkpoint::Restore>,
    topology: Topology,
    /// Set to have the last checkpoint be a savepoint.
    savepoint: Arc<AtomicBool>,
}

/// One worker's stages and state.
struct Worker {
    operators: Vec<Operator>,
    /// Its state store, when a stage keeps state.
    store: Option<StateStore>,
    /// The key groups it owns.
    key_groups: std::ops::Range<u16>,
}

/// One stage on one worker.
enum Operator {
    Plugin(Box<Stage>),
    Window(WindowStage),
    Dedupe(DedupeStage),
}

impl Pipeline {
    /// Loads every stage's plugin and makes one instance per worker, so that
    /// a bad plugin or configuration fails before any event is read; with
    /// `[checkpoints]`, restores the checkpoint in `from`, or else the
    /// newest usable one, if there is one.
    ///
    /// # Errors
    ///
    /// [`EngineError::Plugin`] or [`EngineError::Instance`] for a plugin;
    /// [`EngineError::Checkpoint`], [`EngineError::Incompatible`] or
    /// [`EngineError::Restore`] for the checkpoint.
    pub fn prepare(
        config: PipelineConfig,
        runtime: &PluginRuntime,
        from: Option<&Path>,
    ) -> Result<Self, EngineError> {
        let metrics = runtime.metrics().clone();
        let loaded = load_plugins(&config, runtime)?;
        let digests: Vec<Option<String>> = loaded
            .iter()
            .map(|p| p.as_ref().map(|p| p.digest().to_string()))
            .collect();
        let topology = checkpoint::topology(&config, &digests);
        let restore = match &config.checkpoints {
            Some(checkpoints) => checkpoint::find(checkpoints, from, &topology)?,
            None => None,
        };
        let restoring = Instant::now();
        let keyed = config.key_by != crate::config::KeyBy::SourcePartition;
        let plugin_state = keyed && loaded.iter().flatten().any(|p| p.uses_state());
        let stateful = config.stages.iter().any(|s| match s.kind {
            StageKind::Dedupe(_) => true,
            StageKind::Window(_) => config.checkpoints.is_some(),
            StageKind::Plugin(_) => false,
        });
        let keeps_state = stateful || plugin_state;
        prepare_state_dir(&config, keeps_state, restore.as_ref())?;
        let table = keys::assignment(config.key_groups, config.parallelism);
        let mut workers = Vec::new();
        for worker in 0..config.parallelism {
            let key_groups = owned_groups(&table, worker);
            let store = match keeps_state {
                true => {
                    let dir = config
                        .state_dir
                        .join(checkpoint::worker_dir(worker as usize));
                    Some(crate::state::StateStore::open(&dir)?)
                }
                false => None,
            };
            let mut operators = Vec::new();
            for (stage, plugin) in config.stages.iter().zip(&loaded) {
                let name: Arc<str> = stage.name.as_str().into();
                let id = operators.len() as u16;
                let operator = match (&stage.kind, plugin) {
                    (StageKind::Plugin(settings), Some(plugin)) => {
                        let spec = StageSpec {
                            name,
                            config: settings.config.clone(),
                            limits: settings.limits,
                        };
                        let policy = settings.on_error;
                        let mut stage = Stage::new(plugin.clone(), spec, policy, metrics.clone())?;
                        if keyed && plugin.uses_state() {
                            let handle = state_handle(&store, id, &key_groups)?;
                            stage.attach_state(KeyedState::new(handle, config.key_groups));
                        }
                        Operator::Plugin(Box::new(stage))
                    }
                    (StageKind::Window(window), plugin) => {
                        let mut windows = WindowStage::new(name, window, plugin.clone(), &metrics)?;
                        if config.checkpoints.is_some() {
                            let handle = state_handle(&store, id, &key_groups)?;
                            windows.attach_state(handle, config.key_groups);
                            if let Some(restore) = &restore
                                && let Some(state) =
                                    restore.operator(u32::from(id), u32::from(key_groups.start))
                            {
                                let keys = windows.restore(state.watermark, state.seq).map_err(
                                    |error| EngineError::Restore {
                                        stage: stage.name.clone(),
                                        error,
                                    },
                                )?;
                                tracing::debug!(
                                    stage = %stage.name,
                                    worker,
                                    keys,
                                    "window state restored"
                                );
                            }
                        }
                        Operator::Window(windows)
                    }
                    (StageKind::Dedupe(dedupe), _) => {
                        let handle = state_handle(&store, id, &key_groups)?;
                        let groups = config.key_groups;
                        let m = metrics.clone();
                        Operator::Dedupe(DedupeStage::new(name, dedupe.clone(), groups, handle, m))
                    }
                    (StageKind::Plugin(_), None) => {
                        return Err(EngineError::Internal(
                            "a plugin stage lost its plugin".into(),
                        ));
                    }
                };
                operators.push(operator);
            }
            workers.push(Worker {
                operators,
                store,
                key_groups,
            });
        }
        if restore.is_some() {
            metrics.restored(restoring.elapsed());
        }
        Ok(Pipeline {
            config,
            workers,
            metrics,
            restore,
            topology,
            savepoint: Arc::default(),
        })
    }

    /// The checkpoint [`Pipeline::prepare`] restored: its id and directory.
    pub fn restored(&self) -> Option<(u64, &Path)> {
        let found = &self.restore.as_ref()?.found;
        Some((found.manifest.id, &found.dir))
    }

    /// Set to make the checkpoint taken when the pipeline stops a
    /// savepoint (kept until deleted by hand).
    pub fn savepoint_flag(&self) -> Arc<AtomicBool> {
        self.savepoint.clone()
    }

    /// Runs until every source has ended, or until `stop` is set (then what
    /// was read is drained through the stages and flushed to the sinks,
    /// and, with `[checkpoints]`, a last checkpoint taken).
    ///
    /// # Errors
    ///
    /// The first error of a source, stage, sink or checkpoint; the pipeline
    /// stops.
    pub fn run(self, stop: Arc<AtomicBool>) -> Result<Summary, EngineError> {
        let started = Instant::now();
        let Pipeline {
            config,
            workers,
            metrics,
            restore,
            topology,
            savepoint,
        } = self;
        let restore = restore.as_ref();
        let guarantee = config.checkpoints.as_ref().map(|c| c.mode);
        let opening = |role: &str, name: &str| match (guarantee, restore) {
            (None, _) => FileOpening::Fresh,
            (Some(Guarantee::AtLeastOnce), None) => FileOpening::Fresh,
            (Some(Guarantee::AtLeastOnce), Some(_)) => FileOpening::Append,
            (Some(Guarantee::ExactlyOnce), restore) => FileOpening::Staged {
                restore: restore.and_then(|r| r.sink(&checkpoint::sink_id(role, name))),
            },
        };
        let mut sinks = Vec::new();
        for sink in &config.sinks {
            let opening = opening("sink", &sink.name);
            sinks.push((sink.name.clone(), sink::build(sink, &metrics, &opening)?));
        }
        let dead = &config.dead_letter;
        let dead_sink = sink::build(dead, &metrics, &opening("dead-letter", &dead.name))?;
        let late_sink = match &config.late {
            Some(late) => Some(sink::build(late, &metrics, &opening("late", &late.name))?),
            None => None,
        };
        let mut sources = Vec::new();
        let mut inputs = Vec::new();
        for source in &config.sources {
            let name: Arc<str> = source.name.as_str().into();
            let checkpointed = config.checkpoints.is_some();
            let kafka = matches!(source.kind, crate::config::SourceKind::Kafka(_));
            let resume = |partition| match restore {
                Some(restore) => restore.position(&source.name, partition),
                // A checkpointed Kafka source starts by its `start`, not at
                // the group's offsets: those may cover records whose results
                // no checkpoint committed.
                None if checkpointed && kafka => Some(source::Position::Kafka(Vec::new())),
                None => None,
            };
            for (partition, built) in source::build(source, &metrics, &resume)?
                .into_iter()
                .enumerate()
            {
                sources.push((name.clone(), built));
                inputs.push(checkpoint::InputName {
                    source: source.name.clone(),
                    partition: partition as u32,
                });
            }
        }
        let acks: Vec<Arc<Acks>> = sources.iter().map(|_| Arc::default()).collect();
        let barriers = config
            .checkpoints
            .as_ref()
            .map(|_| Arc::new(Barriers::new(sources.len())));
        let coordinator = match (&config.checkpoints, &barriers) {
            (Some(checkpoints), Some(barriers)) => Some(Coordinator::new(
                checkpoints,
                barriers.clone(),
                topology,
                inputs.clone(),
                workers.iter().map(|w| w.store.clone()).collect(),
                restore.map(|r| r.found.manifest.id),
                savepoint,
                metrics.clone(),
            )?),
            _ => None,
        };

        let capacity = config.channel_capacity;
        // Per worker, its channel to the sink thread; per router and worker,
        // the router's channel to the worker.
        let sink_capacity = capacity * (1 + sources.len().div_ceil(workers.len()));
        let (sink_txs, sink_rxs): (Vec<_>, Vec<_>) =
            workers.iter().map(|_| bounded(sink_capacity)).unzip();
        let mut router_txs: Vec<Vec<Sender<WorkerMessage>>> =
            sources.iter().map(|_| Vec::new()).collect();
        let mut worker_rxs = Vec::new();
        for _ in &workers {
            let mut rxs = Vec::new();
            for txs in &mut router_txs {
                let (tx, rx) = bounded(capacity);
                txs.push(tx);
                rxs.push(rx);
            }
            worker_rxs.push(rxs);
        }
        let fail = {
            let stop = stop.clone();
            let barriers = barriers.clone();
            move || {
                if let Some(barriers) = &barriers {
                    barriers.fail();
                }
                stop.store(true, Ordering::Relaxed);
            }
        };
        let dead_name = checkpoint::sink_id("dead-letter", &config.dead_letter.name);
        let late_name = config
            .late
            .as_ref()
            .map(|l| checkpoint::sink_id("late", &l.name));
        let mut threads: Vec<JoinHandle<Result<(), EngineError>>> = Vec::new();
        threads.push(spawn("weir-sink", {
            let metrics = metrics.clone();
            let fail = fail.clone();
            let acks = acks.clone();
            let workers = workers.len();
            move || {
                let outputs = Outputs {
                    sinks,
                    dead: dead_sink,
                    late: late_sink,
                    dead_name,
                    late_name,
                };
                let markers = Markers::new(acks, workers);
                let inputs = Inputs::new(sink_rxs);
                let result = run_sinks(inputs, outputs, markers, coordinator, &metrics);
                if result.is_err() {
                    fail();
                }
                result
            }
        })?);
        for (id, ((worker, rxs), sink)) in workers
            .into_iter()
            .zip(worker_rxs)
            .zip(sink_txs)
            .enumerate()
        {
            let fail = fail.clone();
            let context = WorkerContext {
                id,
                barriers: barriers.clone(),
                metrics: metrics.clone(),
            };
            threads.push(spawn(&format!("weir-worker-{id}"), move || {
                let result = run_worker(Inputs::new(rxs), worker, &sink, &context);
                let operators = match &result {
                    Ok(operators) => operators.clone(),
                    Err(_) => {
                        fail();
                        None
                    }
                };
                let _ = sink.send(SinkMessage::End { operators });
                result.map(|_| ())
            })?);
        }
        let routing = Arc::new(Routing {
            key_by: config.key_by.clone(),
            key_groups: config.key_groups,
            table: keys::assignment(config.key_groups, config.parallelism),
            batch_size: config.batch_size,
            linger: config.batch_linger,
            event_time: config.event_time.clone(),
        });
        for (input, ((name, mut source), workers)) in
            sources.into_iter().zip(router_txs).enumerate()
        {
            let floor = restore.map_or(i64::MIN, |r| {
                r.watermark(&inputs[input].source, inputs[input].partition)
            });
            let wiring = router::Wiring {
                workers,
                stop: stop.clone(),
                metrics: metrics.clone(),
                acks: acks[input].clone(),
                barriers: barriers.clone(),
                floor,
            };
            let router = Router::new(input, name.clone(), routing.clone(), wiring);
            let fail = fail.clone();
            threads.push(spawn(&format!("weir-source-{name}"), move || {
                let mut router = router;
                let result = source.run(&mut router);
                if result.is_err() {
                    fail();
                }
                router.finish(result.is_err());
                result.map_err(EngineError::from)
            })?);
        }

        let mut first_error = None;
        for thread in threads {
            let result = thread.join().unwrap_or_else(|_| {
                Err(EngineError::Internal("a pipeline thread panicked".into()))
            });
            if let Err(error) = result {
                first_error.get_or_insert(error);
            }
        }
        if let Some(error) = first_error {
            return Err(error);
        }
        let totals = metrics.totals();
        Ok(Summary {
            read: totals.read.load(Ordering::Relaxed),
            written: totals.written.load(Ordering::Relaxed),
            dead_lettered: totals.dead_lettered.load(Ordering::Relaxed),
            skipped: totals.skipped.load(Ordering::Relaxed),
            late: totals.late.load(Ordering::Relaxed),
            deduplicated: totals.deduplicated.load(Ordering::Relaxed),
            elapsed: started.elapsed(),
        })
    }
}

fn spawn<F>(name: &str, body: F) -> Result<JoinHandle<Result<(), EngineError>>, EngineError>
where
    F: FnOnce() -> Result<(), EngineError> + Send + 'static,
{
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(body)
        .map_err(|e| EngineError::Internal(format!("cannot start thread `{name}`: {e}")))
}

/// Loads every stage's plugin (once per file) and checks it implements
/// the world its stage needs; `None` for stages without a plugin.
fn load_plugins(
    config: &PipelineConfig,
    runtime: &PluginRuntime,
) -> Result<Vec<Option<Arc<Plugin>>>, EngineError> {
    let mut plugins: HashMap<PathBuf, Arc<Plugin>> = HashMap::new();
    let mut loaded = Vec::new();
    for stage in &config.stages {
        let Some(file) = stage.plugin_file() else {
            loaded.push(None);
            continue;
        };
        let plugin = match plugins.get(file) {
            Some(plugin) => plugin.clone(),
            None => {
                let plugin = runtime.load(file).map_err(|error| EngineError::Plugin {
                    stage: stage.name.clone(),
                    error,
                })?;
                plugins.insert(file.to_owned(), plugin.clone());
                plugin
            }
        };
        let expected = match stage.kind {
            StageKind::Window(_) => &[World::Aggregator][..],
            _ => &[World::Transform, World::Validator][..],
        };
        if !expected.contains(&plugin.world()) {
            let error = PluginError::Refused {
                path: file.to_owned(),
                reason: match stage.kind {
                    StageKind::Window(_) => format!(
                        "a window stage's aggregator must implement the aggregator \
                         world, and this plugin is a {}",
                        plugin.world()
                    ),
                    _ => "an aggregator runs in a window stage \
                          (`aggregator = \"<file>\"`), not as a plugin stage"
                        .to_string(),
                },
            };
            return Err(EngineError::Plugin {
                stage: stage.name.clone(),
                error,
            });
        }
        if plugin.uses_state() && config.key_by == crate::config::KeyBy::SourcePartition {
            // It may not use it in this configuration; if it does, the
            // call traps with a message that says what is missing.
            tracing::warn!(
                stage = %stage.name,
                "the plugin imports keyed state, which needs a `[key_by]`; \
                 this pipeline has none"
            );
        }
        tracing::info!(
            stage = %stage.name,
            plugin = %plugin.digest(),
            world = %plugin.world(),
            "stage ready"
        );
        loaded.push(Some(plugin));
    }
    Ok(loaded)
}

/// Empties the state directory, then fills it from the restored
/// checkpoint's state if there is one. Without checkpoints, or with none to
/// restore, state starts empty: the sources start from the beginning, and
/// state kept from a previous run would count their events twice.
fn prepare_state_dir(
    config: &PipelineConfig,
    keeps_state: bool,
    restore: Option<&checkpoint::Restore>,
) -> Result<(), EngineError> {
    let dir = &config.state_dir;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|error| EngineError::ClearState {
            path: dir.clone(),
            error,
        })?;
    }
    match restore {
        Some(restore) if keeps_state && restore.found.manifest.has_state => {
            restore.found.restore_state(dir)?;
        }
        _ => {}
    }
    Ok(())
}

/// Stage `id`'s handle on `store`, for `key_groups`.
fn state_handle(
    store: &Option<StateStore>,
    id: u16,
    key_groups: &std::ops::Range<u16>,
) -> Result<crate::state::StageState, EngineError> {
    match store {
        Some(store) => Ok(store.stage(id, key_groups.clone())),
        None => Err(EngineError::Internal("no state store".into())),
    }
}

/// The contiguous range of key groups `worker` owns in `table`.
fn owned_groups(table: &[u32], worker: u32) -> std::ops::Range<u16> {
    let first = table.iter().position(|&w| w == worker).unwrap_or(0);
    let count = table.iter().filter(|&&w| w == worker).count();
    first as u16..(first + count) as u16
}

/// How often a worker wakes up without input (to see idle inputs).
const WORKER_TICK: Duration = Duration::from_millis(100);

/// What a worker thread needs besides its stages and channels.
struct WorkerContext {
    id: usize,
    barriers: Option<Arc<Barriers>>,
    metrics: Arc<Metrics>,
}

/// A worker: runs each batch through its operators, in order, moves
/// window stages' watermarks as its inputs' watermarks advance, and takes
/// its part of each checkpoint once a barrier is aligned. Returns what the
/// last checkpoint records of its stages (with checkpoints).
fn run_worker(
    mut inputs: Inputs<WorkerMessage>,
    mut worker: Worker,
    sink: &Sender<SinkMessage>,
    context: &WorkerContext,
) -> Result<Option<Vec<OperatorState>>, EngineError> {
    let mut watermarks = time::InputWatermarks::new(inputs.len());
    let mut aligning: Option<Instant> = None;
    while !inputs.all_ended() {
        let (input, message) = match inputs.recv(WORKER_TICK) {
            Received::Message(input, message) => (input, message),
            Received::Timeout => continue,
            // A router went away without saying so (its thread died);
            // the error is reported by that thread.
            Received::Gone(input) => (
                input,
                WorkerMessage::End {
                    input,
                    exhausted: false,
                },
            ),
        };
        let mut out = WorkerOutput::default();
        let mut aligned = None;
        match message {
            WorkerMessage::Batch { events, .. } => {
                watermarks.active(input);
                run_chain(&mut worker.operators, 0, events, &mut out)?;
            }
            WorkerMessage::Watermark { watermark, .. } => watermarks.watermark(input, watermark),
            WorkerMessage::Idle { .. } => watermarks.idle(input),
            WorkerMessage::Marker { token, .. } => out.marker = Some((input, token)),
            WorkerMessage::DeadLetters(letters) => out.dead.extend(letters),
            WorkerMessage::Barrier { id, .. } => {
                aligning.get_or_insert_with(Instant::now);
                aligned = inputs.barrier(input, id);
            }
            WorkerMessage::End { exhausted, .. } => {
                if exhausted {
                    watermarks.ended(input);
                }
                aligned = inputs.end(input);
            }
        }
        if let Some(watermark) = watermarks.advance() {
            advance(&mut worker.operators, watermark, &mut out)?;
        }
        // The sink thread only goes away after a sink failed; that error is
        // reported by the sink thread itself.
        if out.send(sink).is_err() {
            return Ok(None);
        }
        if let Some(id) = aligned {
            if let Some(started) = aligning.take() {
                context.metrics.barrier_aligned(started.elapsed());
            }
            let operators = snapshot(&mut worker, context, watermarks.current(), true)?;
            if sink.send(SinkMessage::Barrier { id, operators }).is_err() {
                return Ok(None);
            }
        }
    }
    match context.barriers {
        Some(_) => Ok(Some(snapshot(
            &mut worker,
            context,
            watermarks.current(),
            false,
        )?)),
        None => Ok(None),
    }
}

/// Writes the worker's window state changes to its state store and, when
/// `store_checkpoint`, makes a RocksDB checkpoint of the store for the
/// checkpoint being taken. Returns what the manifest records of its stages.
fn snapshot(
    worker: &mut Worker,
    context: &WorkerContext,
    merged: i64,
    store_checkpoint: bool,
) -> Result<Vec<OperatorState>, EngineError> {
    let mut states = Vec::new();
    for (stage, operator) in worker.operators.iter_mut().enumerate() {
        let (watermark, seq) = match operator {
            Operator::Window(windows) => {
                windows.snapshot()?;
                windows.progress()
            }
            Operator::Dedupe(_) => (merged, 0),
            Operator::Plugin(_) => continue,
        };
        states.push(OperatorState {
            stage: stage as u32,
            first_key_group: u32::from(worker.key_groups.start),
            end_key_group: u32::from(worker.key_groups.end),
            watermark,
            seq,
        });
    }
    if store_checkpoint
        && let (Some(store), Some(barriers)) = (&worker.store, &context.barriers)
        && let Some(dir) = barriers.worker_state_dir(context.id)
    {
        store.checkpoint(&dir)?;
    }
    Ok(states)
}

/// What one worker step produced.
#[derive(Default)]
struct WorkerOutput {
    events: Vec<Event>,
    dead: Vec<DeadLetter>,
    late: Vec<Event>,
    /// A marker to pass on after the outputs.
    marker: Option<(usize, u64)>,
}

impl WorkerOutput {
    fn send(self, sink: &Sender<SinkMessage>) -> Result<(), ()> {
        let messages = [
            (!self.dead.is_empty()).then_some(SinkMessage::DeadLetters(self.dead)),
            (!self.late.is_empty()).then_some(SinkMessage::Late(self.late)),
            (!self.events.is_empty()).then_some(SinkMessage::Events(self.events)),
            self.marker
                .map(|(input, token)| SinkMessage::Marker { input, token }),
        ];
        for message in messages.into_iter().flatten() {
            sink.send(message).map_err(|_| ())?;
        }
        Ok(())
    }
}

/// Runs `events` through `operators[from..]`; what comes out of the last
/// goes to `out.events`.
fn run_chain(
    operators: &mut [Operator],
    from: usize,
    mut events: Vec<Event>,
    out: &mut WorkerOutput,
) -> Result<(), StageError> {
    for operator in &mut operators[from..] {
        if events.is_empty() {
            return Ok(());
        }
        let mut next = Vec::with_capacity(events.len());
        match operator {
            Operator::Plugin(stage) => {
                stage.process(
                    events,
                    StageOutput {
                        events: &mut next,
                        dead: &mut out.dead,
                    },
                )?;
            }
            Operator::Window(window) => {
                let output = WindowOutput {
                    events: &mut next,
                    dead: &mut out.dead,
                    late: &mut out.late,
                };
                window.process(events, output)?;
            }
            Operator::Dedupe(dedupe) => dedupe.process(events, &mut next, &mut out.dead)?,
        }
        events = next;
    }
    out.events.extend(events);
    Ok(())
}

/// Moves every window stage to `watermark`, in stage order; each one's
/// results run through the stages after it before the next one advances.
fn advance(
    operators: &mut [Operator],
    watermark: i64,
    out: &mut WorkerOutput,
) -> Result<(), StageError> {
    for i in 0..operators.len() {
        match &mut operators[i] {
            Operator::Window(window) => {
                let mut results = Vec::new();
                let output = WindowOutput {
                    events: &mut results,
                    dead: &mut out.dead,
                    late: &mut out.late,
                };
                window.advance(watermark, output)?;
                run_chain(operators, i + 1, results, out)?;
            }
            Operator::Dedupe(dedupe) => dedupe.advance(watermark)?,
            Operator::Plugin(stage) => stage.advance(watermark)?,
        }
    }
    Ok(())
}

/// Every output of a pipeline.
struct Outputs {
    sinks: Vec<(String, Box<dyn Sink>)>,
    dead: Box<dyn Sink>,
    late: Option<Box<dyn Sink>>,
    /// The dead-letter and late sinks' names in manifests.
    dead_name: String,
    late_name: Option<String>,
}

/// The longest the sink thread waits to flush once a marker is complete
/// while input keeps coming (it flushes at once when it has caught up).
const ACK_FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// The sink thread: writes events to every sink, dead letters to the
/// dead-letter sink and late events to the late sink; flushes whenever it
/// has caught up, and acknowledges markers once flushed; completes each
/// checkpoint once its barrier is aligned, and the last one when every
/// worker has ended.
fn run_sinks(
    mut inputs: Inputs<SinkMessage>,
    mut outputs: Outputs,
    mut markers: Markers,
    mut coordinator: Option<Coordinator>,
    metrics: &Metrics,
) -> Result<(), EngineError> {
    let workers = inputs.len();
    // However this ends, sources waiting for acknowledgements must learn
    // that none will come.
    let result = (|| {
        let mut last_flush = Instant::now();
        // Per worker: what it sent with the barrier being aligned, and with
        // its end.
        let mut at_barrier: Vec<Option<Vec<OperatorState>>> = vec![None; workers];
        let mut at_end: Vec<Option<Vec<OperatorState>>> = vec![None; workers];
        let mut aligning: Option<Instant> = None;
        while !inputs.all_ended() {
            let wait = match &mut coordinator {
                Some(coordinator) => {
                    coordinator.tick()?;
                    coordinator
                        .wait()
                        .clamp(Duration::from_millis(1), WORKER_TICK)
                }
                None => WORKER_TICK,
            };
            let (input, message) = match inputs.recv(wait) {
                Received::Message(input, message) => (input, message),
                Received::Timeout => continue,
                Received::Gone(input) => (input, SinkMessage::End { operators: None }),
            };
            let mut aligned = None;
            match message {
                SinkMessage::Events(events) => {
                    for (i, (name, sink)) in outputs.sinks.iter_mut().enumerate() {
                        sink.write(&events)?;
                        metrics.sink_wrote(name, events.len() as u64, i == 0);
                    }
                }
                SinkMessage::DeadLetters(letters) => {
                    let events: Vec<Event> =
                        letters.iter().map(sink::dead_letter::to_event).collect();
                    outputs.dead.write(&events)?;
                    metrics.dead_letters_written(events.len() as u64);
                }
                SinkMessage::Late(events) => {
                    if let Some(late) = &mut outputs.late {
                        late.write(&events)?;
                    }
                    metrics.late_written(events.len() as u64);
                }
                SinkMessage::Marker { input, token } => markers.passed(input, token),
                SinkMessage::Barrier { id, operators } => {
                    aligning.get_or_insert_with(Instant::now);
                    at_barrier[input] = Some(operators);
                    aligned = inputs.barrier(input, id);
                }
                SinkMessage::End { operators } => {
                    at_end[input] = operators;
                    aligned = inputs.end(input);
                }
            }
            if let (Some(id), Some(coordinator)) = (aligned, &mut coordinator) {
                if let Some(started) = aligning.take() {
                    metrics.barrier_aligned(started.elapsed());
                }
                // A worker that ended before the barrier reached it counts
                // with its state at its end.
                let mut operators = Vec::new();
                let mut ended = Vec::new();
                for worker in 0..workers {
                    match at_barrier[worker].take() {
                        Some(states) => operators.extend(states),
                        None => {
                            ended.push(worker);
                            operators.extend(at_end[worker].iter().flatten().cloned());
                        }
                    }
                }
                coordinator.aligned(id, operators, &ended, &mut outputs)?;
                markers.acknowledge();
                last_flush = Instant::now();
            }
            let due = markers.pending() && last_flush.elapsed() >= ACK_FLUSH_INTERVAL;
            if inputs.caught_up() || due {
                outputs.flush()?;
                markers.acknowledge();
                last_flush = Instant::now();
            }
        }
        outputs.flush()?;
        markers.acknowledge();
        if let Some(coordinator) = &mut coordinator {
            let operators = at_end.into_iter().flatten().flatten().collect();
            coordinator.finish(operators, &mut outputs)?;
        }
        outputs.close()
    })();
    markers.close();
    result
}

/// Progress markers on their way through the workers: a marker of a router
/// is complete once every worker has passed it on, and acknowledged to its
/// source once the outputs before it are flushed.
struct Markers {
    acks: Vec<Arc<Acks>>,
    workers: usize,
    /// Per router: token → how many workers have passed it on.
    passing: Vec<std::collections::BTreeMap<u64, usize>>,
    /// Per router: the newest complete token not yet acknowledged.
    complete: Vec<Option<u64>>,
}

impl Markers {
    fn new(acks: Vec<Arc<Acks>>, workers: usize) -> Self {
        let routers = acks.len();
        Markers {
            acks,
            workers,
            passing: vec![Default::default(); routers],
            complete: vec![None; routers],
        }
    }

    /// A worker passed on `input`'s marker `token`. Workers pass markers on
    /// in order, so once every worker has passed a token, every earlier
    /// token is complete too.
    fn passed(&mut self, input: usize, token: u64) {
        let passing = &mut self.passing[input];
        let count = passing.entry(token).or_insert(0);
        *count += 1;
        if *count == self.workers {
            *passing = passing.split_off(&(token + 1));
            self.complete[input] = Some(token);
        }
    }

    fn pending(&self) -> bool {
        self.complete.iter().any(Option::is_some)
    }

    /// Acknowledges every complete marker; called after a flush.
    fn acknowledge(&mut self) {
        for (complete, acks) in self.complete.iter_mut().zip(&self.acks) {
            if let Some(token) = complete.take() {
                acks.ack(token);
            }
        }
    }

    fn close(&self) {
        for acks in &self.acks {
            acks.close();
        }
    }
}

impl Outputs {
    fn flush(&mut self) -> Result<(), SinkError> {
        for (_, sink) in &mut self.sinks {
            sink.flush()?;
        }
        if let Some(late) = &mut self.late {
            late.flush()?;
        }
        self.dead.flush()
    }

    fn close(&mut self) -> Result<(), EngineError> {
        for (_, sink) in self.each() {
            sink.close()?;
        }
        Ok(())
    }

    /// Every sink with its name in manifests.
    fn each(&mut self) -> impl Iterator<Item = (String, &mut Box<dyn Sink>)> {
        let sinks = self
            .sinks
            .iter_mut()
            .map(|(name, sink)| (checkpoint::sink_id("sink", name), sink));
        let late = self
            .late
            .as_mut()
            .zip(self.late_name.clone())
            .map(|(sink, name)| (name, sink));
        sinks
            .chain(late)
            .chain(std::iter::once((self.dead_name.clone(), &mut self.dead)))
    }
}

impl checkpoint::Stage for Outputs {
    fn prepare(&mut self, id: u64) -> Result<Vec<(String, Prepared)>, EngineError> {
        let mut staged = Vec::new();
        for (name, sink) in self.each() {
            if let Some(prepared) = sink.prepare(id)? {
                staged.push((name, prepared));
            }
        }
        Ok(staged)
    }

    fn commit(&mut self, id: u64) -> Result<(), EngineError> {
        for (_, sink) in self.each() {
            sink.commit(id)?;
        }
        Ok(())
    }
}
