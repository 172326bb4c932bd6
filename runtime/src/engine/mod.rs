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
mod dedupe_stage;
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

use crossbeam_channel::{Receiver, Sender, bounded};

use dedupe_stage::DedupeStage;
pub use keys::{assignment, key_group};
use router::{Router, Routing};
use stage::{Stage, StageError, StageOutput};
use window_stage::{WindowOutput, WindowStage};

use crate::config::{PipelineConfig, StageKind};
use crate::event::{DeadLetter, Event};
use crate::metrics::Metrics;
use crate::plugin::instance::{InstanceError, StageSpec};
use crate::plugin::keyed::KeyedState;
use crate::plugin::{Plugin, PluginError, PluginRuntime, World};
use crate::sink::{self, Sink, SinkError};
use crate::source::{self, Acks, SourceError};

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
    /// `input` has ended.
    End {
        /// The router.
        input: usize,
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
    /// One input (a router or a worker) has ended.
    End,
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

/// A pipeline ready to run: plugins loaded, instances made, sinks opened.
pub struct Pipeline {
    config: PipelineConfig,
    workers: Vec<Vec<Operator>>,
    metrics: Arc<Metrics>,
}

/// One stage on one worker.
enum Operator {
    Plugin(Box<Stage>),
    Window(WindowStage),
    Dedupe(DedupeStage),
}

impl Pipeline {
    /// Loads every stage's plugin and makes one instance per worker, so that
    /// a bad plugin or configuration fails before any event is read.
    ///
    /// # Errors
    ///
    /// [`EngineError::Plugin`] or [`EngineError::Instance`].
    pub fn prepare(config: PipelineConfig, runtime: &PluginRuntime) -> Result<Self, EngineError> {
        let metrics = runtime.metrics().clone();
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
        let keyed = config.key_by != crate::config::KeyBy::SourcePartition;
        let keeps_state = keyed && loaded.iter().flatten().any(|p| p.uses_state());
        let state = open_state(&config, keeps_state)?;
        let table = keys::assignment(config.key_groups, config.parallelism);
        let mut workers = Vec::new();
        for worker in 0..config.parallelism {
            let mut operators = Vec::new();
            for (stage, plugin) in config.stages.iter().zip(&loaded) {
                let name: Arc<str> = stage.name.as_str().into();
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
                            let Some(store) = &state else {
                                return Err(EngineError::Internal("no state store".into()));
                            };
                            let id = operators.len() as u16;
                            let handle = store.stage(id, owned_groups(&table, worker));
                            stage.attach_state(KeyedState::new(handle, config.key_groups));
                        }
                        Operator::Plugin(Box::new(stage))
                    }
                    (StageKind::Window(window), plugin) => {
                        Operator::Window(WindowStage::new(name, window, plugin.clone(), &metrics)?)
                    }
                    (StageKind::Dedupe(dedupe), _) => {
                        let Some(store) = &state else {
                            return Err(EngineError::Internal("no state store".into()));
                        };
                        let id = operators.len() as u16;
                        let handle = store.stage(id, owned_groups(&table, worker));
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
            workers.push(operators);
        }
        Ok(Pipeline {
            config,
            workers,
            metrics,
        })
    }

    /// Runs until every source has ended, or until `stop` is set (then what
    /// was read is drained through the stages and flushed to the sinks).
    ///
    /// # Errors
    ///
    /// The first error of a source, stage or sink; the pipeline stops.
    pub fn run(self, stop: Arc<AtomicBool>) -> Result<Summary, EngineError> {
        let started = Instant::now();
        let Pipeline {
            config,
            workers,
            metrics,
        } = self;
        let mut sinks = Vec::new();
        for sink in &config.sinks {
            sinks.push((sink.name.clone(), sink::build(sink, &metrics)?));
        }
        let dead_sink = sink::build(&config.dead_letter, &metrics)?;
        let late_sink = match &config.late {
            Some(late) => Some(sink::build(late, &metrics)?),
            None => None,
        };
        let mut sources = Vec::new();
        for source in &config.sources {
            let name: Arc<str> = source.name.as_str().into();
            for partition in source::build(source, &metrics)? {
                sources.push((name.clone(), partition));
            }
        }
        let acks: Vec<Arc<Acks>> = sources.iter().map(|_| Arc::default()).collect();

        let capacity = config.channel_capacity;
        let (sink_tx, sink_rx) = bounded(capacity * (workers.len() + sources.len()));
        let mut worker_txs = Vec::new();
        let mut threads: Vec<JoinHandle<Result<(), EngineError>>> = Vec::new();
        let sink_inputs = workers.len() + sources.len();
        threads.push(spawn("weir-sink", {
            let metrics = metrics.clone();
            let stop = stop.clone();
            let acks = acks.clone();
            let workers = workers.len();
            move || {
                let outputs = Outputs {
                    sinks,
                    dead: dead_sink,
                    late: late_sink,
                };
                let markers = Markers::new(acks, workers);
                let result = run_sinks(sink_rx, outputs, markers, sink_inputs, &metrics);
                if result.is_err() {
                    stop.store(true, Ordering::Relaxed);
                }
                result.map_err(EngineError::from)
            }
        })?);
        for (id, stages) in workers.into_iter().enumerate() {
            let (tx, rx) = bounded(capacity);
            worker_txs.push(tx);
            let inputs = sources.len();
            let sink = sink_tx.clone();
            let stop = stop.clone();
            threads.push(spawn(&format!("weir-worker-{id}"), move || {
                let result = run_worker(rx, stages, &sink, inputs);
                if result.is_err() {
                    stop.store(true, Ordering::Relaxed);
                }
                let _ = sink.send(SinkMessage::End);
                result.map_err(EngineError::from)
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
        for (input, (name, mut source)) in sources.into_iter().enumerate() {
            let router = Router::new(
                input,
                name.clone(),
                routing.clone(),
                worker_txs.clone(),
                sink_tx.clone(),
                stop.clone(),
                metrics.clone(),
                acks[input].clone(),
            );
            let stop = stop.clone();
            threads.push(spawn(&format!("weir-source-{name}"), move || {
                let mut router = router;
                let result = source.run(&mut router);
                router.finish();
                if result.is_err() {
                    stop.store(true, Ordering::Relaxed);
                }
                result.map_err(EngineError::from)
            })?);
        }
        drop(worker_txs);
        drop(sink_tx);

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

/// Opens the keyed state store when a stage needs one.
///
/// FIXME: state starts empty on every run (the directory is cleared) because
/// there are no checkpoints yet to restore it from; keeping state from a
/// previous run while sources start from the beginning would drop every
/// replayed event as a duplicate.
fn open_state(
    config: &PipelineConfig,
    plugins_keep_state: bool,
) -> Result<Option<crate::state::StateStore>, EngineError> {
    let dedupes = config
        .stages
        .iter()
        .any(|s| matches!(s.kind, StageKind::Dedupe(_)));
    if !dedupes && !plugins_keep_state {
        return Ok(None);
    }
    let dir = &config.state_dir;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|error| EngineError::ClearState {
            path: dir.clone(),
            error,
        })?;
    }
    Ok(Some(crate::state::StateStore::open(dir)?))
}

/// The contiguous range of key groups `worker` owns in `table`.
fn owned_groups(table: &[u32], worker: u32) -> std::ops::Range<u16> {
    let first = table.iter().position(|&w| w == worker).unwrap_or(0);
    let count = table.iter().filter(|&&w| w == worker).count();
    first as u16..(first + count) as u16
}

/// How often a worker wakes up without input (to see idle inputs).
const WORKER_TICK: Duration = Duration::from_millis(100);

/// A worker: runs each batch through its operators, in order, and moves
/// window stages' watermarks as its inputs' watermarks advance.
fn run_worker(
    input: Receiver<WorkerMessage>,
    mut operators: Vec<Operator>,
    sink: &Sender<SinkMessage>,
    inputs: usize,
) -> Result<(), StageError> {
    let mut watermarks = time::InputWatermarks::new(inputs);
    let mut ended = 0;
    while ended < inputs {
        let message = match input.recv_timeout(WORKER_TICK) {
            Ok(message) => message,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => continue,
            // Every router holds a sender until it has sent `End`, so the
            // channel cannot close before all inputs ended.
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        };
        let mut out = WorkerOutput::default();
        match message {
            WorkerMessage::Batch { input, events } => {
                watermarks.active(input);
                run_chain(&mut operators, 0, events, &mut out)?;
            }
            WorkerMessage::Watermark { input, watermark } => watermarks.watermark(input, watermark),
            WorkerMessage::Idle { input } => watermarks.idle(input),
            WorkerMessage::Marker { input, token } => out.marker = Some((input, token)),
            WorkerMessage::End { input } => {
                watermarks.ended(input);
                ended += 1;
            }
        }
        if let Some(watermark) = watermarks.advance() {
            advance(&mut operators, watermark, &mut out)?;
        }
        // The sink thread only goes away after a sink failed; that error is
        // reported by the sink thread itself.
        if out.send(sink).is_err() {
            break;
        }
    }
    Ok(())
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
}

/// The longest the sink thread waits to flush once a marker is complete
/// while input keeps coming (it flushes at once when it has caught up).
const ACK_FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// The sink thread: writes events to every sink, dead letters to the
/// dead-letter sink and late events to the late sink; flushes whenever it
/// has caught up, and acknowledges markers once flushed.
fn run_sinks(
    input: Receiver<SinkMessage>,
    mut outputs: Outputs,
    mut markers: Markers,
    inputs: usize,
    metrics: &Metrics,
) -> Result<(), SinkError> {
    // However this ends, sources waiting for acknowledgements must learn
    // that none will come.
    let result = (|| {
        let mut ended = 0;
        let mut last_flush = Instant::now();
        while ended < inputs {
            let Ok(message) = input.recv() else { break };
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
                SinkMessage::End => ended += 1,
            }
            let due = markers.pending() && last_flush.elapsed() >= ACK_FLUSH_INTERVAL;
            if input.is_empty() || due {
                outputs.flush()?;
                markers.acknowledge();
                last_flush = Instant::now();
            }
        }
        outputs.flush()?;
        markers.acknowledge();
        Ok(())
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
}
