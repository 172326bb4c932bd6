//! Pipeline files: the TOML a user writes, and the checked configuration the
//! engine runs.
//!
//! [`load`] reads a file and [`parse`] checks its text. Both either return a
//! [`PipelineConfig`] in which every value is in range, every name unique and
//! every referenced file present, or a [`ConfigError`] that points at the
//! offending value as `{path}:{line}:{column}: {message}`.
//!
//! # The file
//!
//! ```toml
//! [pipeline]
//! name = "fraud"            # default: the file name without `.toml`
//! parallelism = 2           # workers, default 1
//! key_groups = 128          # default 128; at least `parallelism`, at most 32768
//! batch_size = 1024         # events per batch, 1..=65536, default 1024
//! batch_linger_ms = 10      # how long a partial batch may wait, default 10
//! channel_capacity = 4      # batches per worker channel, default 4
//! state_dir = "state"       # keyed state; default `.weir/<name>/state`
//!
//! [checkpoints]             # optional: restart from consistent snapshots
//! interval_ms = 1000        # between checkpoints, 10..=86400000, default 1000
//! keep = 3                  # complete checkpoints kept, default 3
//! mode = "exactly-once"     # or "at-least-once" (any sink, lower latency)
//! dir = "checkpoints"       # default `.weir/<name>/checkpoints`
//! # Sources: generator, file, kafka (not stdin). Exactly once: file sinks
//! # only (dead-letter and late outputs included); kafka and stdout sinks
//! # need "at-least-once".
//!
//! [[source]]                # at least one
//! name = "payments"
//! type = "generator"        # or "file" (`path`, `follow`) or "stdin"
//! events = "payments"       # or "clicks"
//! count = 100000            # default: endless
//! rate = 5000.0             # events per second, default: as fast as possible
//! seed = 7                  # default 0
//! partitions = 4            # default 1
//! out_of_order = 0.05       # share of events whose time goes back, 0..=1
//! max_delay_ms = 5000       # how far back, default 5000
//! malformed = 0.001         # share of broken events, 0..=1
//! start_time_ms = 1767225600000  # default 2026-01-01T00:00:00Z
//! interval_ms = 10          # event-time step between events, default 10
//!
//! [[source]]                # Kafka, read in a consumer group
//! name = "orders"
//! type = "kafka"
//! brokers = "127.0.0.1:9092"
//! topics = ["orders"]       # or topic_pattern = "^orders-.*"
//! group = "weir-orders"
//! start = "earliest"        # without a committed offset: or "latest",
//!                           # { timestamp_ms = … }, "committed" (an error)
//! commit_interval_ms = 1000 # default 1000
//! properties = { "fetch.max.bytes" = 1048576 }  # any librdkafka setting
//! # With [checkpoints], a restart resumes at the checkpoint's offsets, not
//! # the group's, and the pipeline must be the group's only member.
//!
//! [key_by]                  # default: key by source partition
//! field = "card"            # a dotted JSON path, or `event_key = true`
//!
//! [event_time]              # needed by window stages
//! field = "ts"              # default: the time the source gave the record
//! format = "epoch_ms"       # or "epoch_s", "rfc3339"
//! max_out_of_orderness_ms = 5000  # default 0
//! idle_timeout_ms = 10000   # an idle partition stops holding the watermark
//!
//! [[stage]]                 # zero or more, run in order
//! name = "validate"
//! plugin = "plugins/validate.wasm"
//! config = { min_amount = 1, currencies = ["EUR", "USD"] }
//! limits = { memory_mib = 64, timeout_ms = 1000, max_output_mib = 16 }
//! on_error = "dlq"          # or "skip", "fail", { retry = 3 }
//!
//! [[stage]]                 # a window instead of a plugin
//! name = "velocity"
//! window = { type = "sliding", size_ms = 60000, slide_ms = 10000 }
//! # or { type = "tumbling", size_ms = … }, { type = "session", gap_ms = … }
//! allowed_lateness_ms = 5000  # default 0
//! aggregates = [
//!   { function = "count" },  # also sum, min, max, avg, distinct_count,
//!   { function = "sum", field = "amount", name = "total" },  # first, last
//! ]
//!
//! [[stage]]                 # drop retried events (needs [event_time], [key_by])
//! name = "dedupe"
//! dedupe = { field = "id", within_ms = 600000 }
//!
//! [[sink]]                  # at least one; every output event goes to each
//! name = "out"
//! type = "file"             # or "stdout"
//! path = "out/payments.jsonl"
//! format = "value"          # or "envelope"
//!
//! [[sink]]                  # Kafka: the event's key, value, headers, time
//! name = "alerts"
//! type = "kafka"
//! brokers = "127.0.0.1:9092"
//! topic = "alerts"
//! topic_header = "weir.topic"  # optional: a header naming another topic
//! compression = "lz4"       # or "none" (default), "gzip", "snappy", "zstd"
//! properties = { "linger.ms" = 5 }  # idempotent unless turned off here
//!
//! [dead_letter]             # default: file `dead-letters.jsonl` beside this file
//! type = "stdout"
//!
//! [late]                    # events too late for every window; only with
//! type = "file"             # window stages; default: file
//! path = "out/late.jsonl"   # `late-events.jsonl` beside this file
//! ```
//!
//! Relative paths (plugins, input and output files) are resolved against the
//! directory of the pipeline file, not the working directory.
//!
//! Stage `config` values reach the plugin as strings: TOML strings as they
//! are, numbers, booleans and dates as written by Rust's `Display`, arrays and
//! tables as compact JSON with keys in written order.

mod raw;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// A checked pipeline file.
#[derive(Clone, Debug, PartialEq)]
pub struct PipelineConfig {
    /// The pipeline file, as the user named it.
    pub file: PathBuf,
    /// `[pipeline] name`; the file name without its extension by default.
    pub name: String,
    /// Number of workers; at least 1.
    pub parallelism: u32,
    /// Number of key groups keys are hashed into; the most workers the
    /// pipeline can ever have. At least `parallelism`, at most 32768.
    pub key_groups: u32,
    /// Most events in one batch; 1..=65536.
    pub batch_size: usize,
    /// How long a partly filled batch may wait for more events.
    pub batch_linger: Duration,
    /// Batches each worker's input channel holds.
    pub channel_capacity: usize,
    /// The sources, in file order; at least one.
    pub sources: Vec<SourceConfig>,
    /// How events are keyed.
    pub key_by: KeyBy,
    /// The stages, in the order events pass through them.
    pub stages: Vec<StageConfig>,
    /// The sinks; every output event goes to every sink. At least one.
    pub sinks: Vec<SinkConfig>,
    /// Where dead letters go. Without a `[dead_letter]` table, a file sink
    /// named `dead-letters` writing `dead-letters.jsonl` beside the pipeline
    /// file.
    pub dead_letter: SinkConfig,
    /// `[event_time]`, when the pipeline works in event time.
    pub event_time: Option<EventTime>,
    /// Where events too late for every window go: `[late]`, or a file sink
    /// named `late` writing `late-events.jsonl` beside the pipeline file.
    /// `None` when the pipeline has no window stage.
    pub late: Option<SinkConfig>,
    /// `[pipeline] state_dir`: where keyed state lives; by default
    /// `.weir/<name>/state` beside the pipeline file.
    pub state_dir: PathBuf,
    /// `[checkpoints]`, when the pipeline takes them.
    pub checkpoints: Option<CheckpointConfig>,
}

/// `[checkpoints]`: periodic consistent snapshots the pipeline restarts
/// from.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointConfig {
    /// Time between the end of one checkpoint and the start of the next.
    pub interval: Duration,
    /// Complete checkpoints kept (savepoints are never deleted).
    pub keep: usize,
    /// What a restart guarantees about the outputs.
    pub mode: Guarantee,
    /// Where checkpoints are written; by default `.weir/<name>/checkpoints`
    /// beside the pipeline file.
    pub dir: PathBuf,
}

impl CheckpointConfig {
    /// Default `interval_ms`.
    pub const DEFAULT_INTERVAL_MS: u64 = 1000;
    /// Shortest `interval_ms`.
    pub const MIN_INTERVAL_MS: u64 = 10;
    /// Longest `interval_ms` (one day).
    pub const MAX_INTERVAL_MS: u64 = 86_400_000;
    /// Default `keep`.
    pub const DEFAULT_KEEP: usize = 3;
    /// Most `keep`.
    pub const MAX_KEEP: usize = 1000;
}

/// `[checkpoints] mode`: what the outputs hold after a restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Guarantee {
    /// Every result exactly once: sinks write into staging that a completed
    /// checkpoint makes visible. Every sink must be able to take part.
    ExactlyOnce,
    /// Every result at least once: sinks write at once, and a restart
    /// replays what came after the checkpoint. Lower latency; any sink.
    AtLeastOnce,
}

impl fmt::Display for Guarantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Guarantee::ExactlyOnce => "exactly-once",
            Guarantee::AtLeastOnce => "at-least-once",
        })
    }
}

/// Default `[pipeline]` values.
impl PipelineConfig {
    /// Default number of key groups.
    pub const DEFAULT_KEY_GROUPS: u32 = 128;
    /// Most key groups a pipeline may have.
    pub const MAX_KEY_GROUPS: u32 = 32768;
    /// Default events per batch.
    pub const DEFAULT_BATCH_SIZE: usize = 1024;
    /// Most events per batch.
    pub const MAX_BATCH_SIZE: usize = 65536;
    /// Default batch linger in milliseconds.
    pub const DEFAULT_BATCH_LINGER_MS: u64 = 10;
    /// Longest batch linger in milliseconds.
    pub const MAX_BATCH_LINGER_MS: u64 = 60_000;
    /// Default batches per worker channel.
    pub const DEFAULT_CHANNEL_CAPACITY: usize = 4;
    /// Most batches per worker channel.
    pub const MAX_CHANNEL_CAPACITY: usize = 1024;
    /// Name of the default dead-letter sink and, with `.jsonl`, its file.
    pub const DEFAULT_DEAD_LETTER: &str = "dead-letters";
    /// Name of the default late-event sink.
    pub const DEFAULT_LATE: &str = "late";
    /// File of the default late-event sink.
    pub const DEFAULT_LATE_FILE: &str = "late-events.jsonl";
}

/// How events are assigned a key, and so a key group and a worker.
#[derive(Clone, Debug, PartialEq)]
pub enum KeyBy {
    /// No `[key_by]`: events stay with the worker that owns their source
    /// partition; order is kept per partition.
    SourcePartition,
    /// `event_key = true`: the event's own key (a Kafka record key).
    EventKey,
    /// `field = "a.b"`: the JSON value at this path in the event's value.
    Field(weir_json::Path),
}

/// `[event_time]`: where an event's time comes from and how watermarks are
/// made.
#[derive(Clone, Debug, PartialEq)]
pub struct EventTime {
    /// `field = "ts"`: the JSON field holding the time; `None` uses the time
    /// the source gave the record.
    pub field: Option<weir_json::Path>,
    /// `format`: how the field is written.
    pub format: TimeFormat,
    /// `max_out_of_orderness_ms` (default 0): how far behind the newest
    /// event of a partition an event may be and still be on time.
    pub max_out_of_orderness_ms: i64,
    /// `idle_timeout_ms` (default 10000): a partition with no data for this
    /// long stops holding the watermark back until it has data again.
    pub idle_timeout: Duration,
}

/// How an event-time field is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeFormat {
    /// A number of milliseconds since the Unix epoch (the default).
    EpochMs,
    /// A number of seconds since the Unix epoch (fractions allowed).
    EpochS,
    /// An RFC 3339 timestamp string, e.g. `2026-01-01T00:00:00.250Z`.
    Rfc3339,
}

/// One `[[stage]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct StageConfig {
    /// The stage's name, unique among stages.
    pub name: String,
    /// What the stage runs.
    pub kind: StageKind,
}

/// What a stage runs: a plugin, or a window built into weir.
#[derive(Clone, Debug, PartialEq)]
pub enum StageKind {
    /// `plugin = "…"`: a Wasm component.
    Plugin(PluginStage),
    /// `window = { … }`: an event-time window with built-in aggregates.
    Window(WindowStage),
    /// `dedupe = { … }`: drops events whose id was seen shortly before.
    Dedupe(DedupeStage),
}

/// A dedupe stage: `dedupe = { field = "id", within_ms = 600000 }`.
///
/// An event is dropped when an event of the same key with the same id was
/// kept less than `within_ms` of event time before (or after) it, so that a
/// producer that retries does not count twice. The ids it remembers live in
/// the keyed state store and are forgotten once the watermark passes their
/// time plus `within_ms`.
#[derive(Clone, Debug, PartialEq)]
pub struct DedupeStage {
    /// The JSON field holding the event's id.
    pub field: weir_json::Path,
    /// How long an id is remembered, in ms of event time.
    pub within_ms: i64,
}

/// A window stage: `window`, `allowed_lateness_ms`, and either built-in
/// `aggregates` or an `aggregator` plugin.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowStage {
    /// The window's shape.
    pub window: crate::window::WindowKind,
    /// How long after a window completes late events still update it (ms).
    pub allowed_lateness_ms: i64,
    /// The aggregates each result carries, in order (empty with an
    /// aggregator plugin).
    pub aggregates: Vec<AggregateConfig>,
    /// The Wasm aggregator that computes each window's result
    /// (`aggregator = "<file>"`, with the stage's `config` and `limits`).
    pub aggregator: Option<AggregatorStage>,
}

/// A window stage's aggregator plugin.
#[derive(Clone, Debug, PartialEq)]
pub struct AggregatorStage {
    /// The plugin's component file, absolute.
    pub plugin: PathBuf,
    /// The stage's `config` table as (key, value) strings, in written order.
    pub config: Vec<(String, String)>,
    /// Resource limits for each plugin instance.
    pub limits: Limits,
}

/// One entry of a window stage's `aggregates`.
#[derive(Clone, Debug, PartialEq)]
pub struct AggregateConfig {
    /// The result field's name (`name`; default `count`, or `<function>_<field>`).
    pub name: String,
    /// The function.
    pub function: crate::window::aggregate::Function,
    /// The field it reads (none for `count`).
    pub field: Option<weir_json::Path>,
}

/// A plugin stage's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct PluginStage {
    /// The plugin's component file, absolute; it existed when the file was
    /// checked.
    pub plugin: PathBuf,
    /// The stage's `config` table as (key, value) strings, in written order.
    pub config: Vec<(String, String)>,
    /// Resource limits for each plugin instance.
    pub limits: Limits,
    /// What to do with events the plugin fails on.
    pub on_error: ErrorPolicy,
}

impl StageConfig {
    /// The plugin settings, when this is a plugin stage.
    pub fn plugin(&self) -> Option<&PluginStage> {
        match &self.kind {
            StageKind::Plugin(plugin) => Some(plugin),
            StageKind::Window(_) | StageKind::Dedupe(_) => None,
        }
    }

    /// The component file the stage runs, if any: a plugin stage's plugin
    /// or a window stage's aggregator.
    pub fn plugin_file(&self) -> Option<&std::path::Path> {
        match &self.kind {
            StageKind::Plugin(plugin) => Some(&plugin.plugin),
            StageKind::Window(window) => window.aggregator.as_ref().map(|a| a.plugin.as_path()),
            StageKind::Dedupe(_) => None,
        }
    }
}

/// Resource limits for one plugin instance (`limits = { ... }`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory the instance may grow to (`memory_mib`, default 64,
    /// at most 4096).
    pub memory_bytes: u64,
    /// Longest one call may run (`timeout_ms`, default 1000).
    pub timeout: Duration,
    /// Most output bytes one call may return (`max_output_mib`, default 16,
    /// at most 4096).
    pub max_output_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            timeout: Duration::from_millis(1000),
            max_output_bytes: 16 << 20,
        }
    }
}

/// A stage's `on_error`: what happens to an event the plugin fails on
/// (trap, timeout, out of memory, rejection, invalid output).
///
/// Written `on_error = "dlq"` (the default), `"skip"`, `"fail"`, or
/// `on_error = { retry = 3 }`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ErrorPolicy {
    /// `"dlq"`: send the event to the dead-letter output, keep going.
    #[default]
    DeadLetter,
    /// `"skip"`: drop the event (counted in metrics), keep going.
    Skip,
    /// `"fail"`: stop the pipeline with an error.
    Fail,
    /// `{ retry = N }`: call the plugin again, up to `attempts` more times;
    /// events that still fail go to the dead-letter output. At least 1.
    Retry {
        /// How many times to try again after the first failure.
        attempts: u32,
    },
}

/// One `[[source]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceConfig {
    /// The source's name, unique among sources; it names the source in
    /// event positions and dead letters.
    pub name: String,
    /// What the source reads.
    pub kind: SourceKind,
}

/// What a source reads (its `type`).
#[derive(Clone, Debug, PartialEq)]
pub enum SourceKind {
    /// `type = "generator"`: synthetic events.
    Generator(GeneratorConfig),
    /// `type = "file"`: a JSON Lines file.
    File {
        /// The file, absolute.
        path: PathBuf,
        /// Keep reading lines appended to the file (`follow`, default false).
        follow: bool,
    },
    /// `type = "stdin"`: JSON Lines on standard input; at most one per
    /// pipeline.
    Stdin,
    /// `type = "kafka"`: records of Kafka topics, read in a consumer group.
    Kafka(KafkaSourceConfig),
}

/// A `kafka` source's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaSourceConfig {
    /// `brokers`: bootstrap servers, `host:port` separated by commas.
    pub brokers: String,
    /// `topics` or `topic_pattern`.
    pub topics: KafkaTopics,
    /// `group`: the consumer group; its committed offsets are where a
    /// restarted pipeline resumes. With `[checkpoints]` a restart resumes
    /// at the restored checkpoint's offsets instead (offsets are still
    /// committed, for monitoring), and the pipeline must be the group's
    /// only member: partitions moved to another process by a rebalance are
    /// not covered by its checkpoints.
    pub group: String,
    /// `start`: where a partition the group has never committed begins.
    pub start: KafkaStart,
    /// `commit_interval_ms`: how often offsets of written events are
    /// committed (default 1000).
    pub commit_interval: Duration,
    /// `properties`: librdkafka settings passed through, as strings.
    pub properties: Vec<(String, String)>,
}

impl KafkaSourceConfig {
    /// Default `commit_interval_ms`.
    pub const DEFAULT_COMMIT_INTERVAL_MS: u64 = 1000;
}

/// What a `kafka` source subscribes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KafkaTopics {
    /// `topics = ["a", "b"]`.
    Names(Vec<String>),
    /// `topic_pattern = "^payments-.*"`: every topic whose name matches the
    /// regular expression, also topics created later.
    Pattern(String),
}

/// Where a partition without a committed offset for the group begins
/// (`start`). A committed offset always wins, so that a restarted pipeline
/// resumes where it stopped; reading a topic again needs a new group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KafkaStart {
    /// `"committed"`: nowhere; a partition without one stops the source
    /// with an error (for pipelines that must neither skip nor reread).
    Committed,
    /// `"earliest"` (default): at the oldest record kept.
    Earliest,
    /// `"latest"`: after the newest record, at the time of assignment.
    Latest,
    /// `{ timestamp_ms = … }`: at the first record whose timestamp is at or
    /// after it (the end when there is none).
    Timestamp(i64),
}

/// A generator source's settings; see `source::generator` for the events.
#[derive(Clone, Debug, PartialEq)]
pub struct GeneratorConfig {
    /// Which events (`events`, required).
    pub events: GeneratedKind,
    /// How many events in all partitions together; `None` for endless.
    pub count: Option<u64>,
    /// Events per second over all partitions; `None` for as fast as
    /// possible. Positive and finite.
    pub rate: Option<f64>,
    /// Seed of the generator; the same seed gives the same bytes.
    pub seed: u64,
    /// Number of partitions, 1..=1024 (default 1).
    pub partitions: u32,
    /// Share of events, 0..=1, whose time lies before their predecessors'.
    pub out_of_order: f64,
    /// How far back, at most, an out-of-order event's time goes (default
    /// 5000 ms).
    pub max_delay_ms: u64,
    /// Share of events, 0..=1, that are malformed (not JSON, or missing the
    /// key field).
    pub malformed: f64,
    /// Event time of the first event, in ms since the Unix epoch (default
    /// 2026-01-01T00:00:00Z).
    pub start_time_ms: i64,
    /// Event-time step between consecutive events (default 10 ms).
    pub interval_ms: u64,
}

impl GeneratorConfig {
    /// 2026-01-01T00:00:00Z in milliseconds since the Unix epoch.
    pub const DEFAULT_START_TIME_MS: i64 = 1_767_225_600_000;
    /// Default `max_delay_ms`.
    pub const DEFAULT_MAX_DELAY_MS: u64 = 5000;
    /// Default `interval_ms`.
    pub const DEFAULT_INTERVAL_MS: u64 = 10;
    /// Most partitions a generator may have.
    pub const MAX_PARTITIONS: u32 = 1024;

    /// A generator of `events` with every other setting at its default:
    /// endless, unpaced, seed 0, one partition, in order, well formed.
    pub fn new(events: GeneratedKind) -> Self {
        GeneratorConfig {
            events,
            count: None,
            rate: None,
            seed: 0,
            partitions: 1,
            out_of_order: 0.0,
            max_delay_ms: Self::DEFAULT_MAX_DELAY_MS,
            malformed: 0.0,
            start_time_ms: Self::DEFAULT_START_TIME_MS,
            interval_ms: Self::DEFAULT_INTERVAL_MS,
        }
    }
}

/// The kind of events a generator makes (`events`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GeneratedKind {
    /// `"payments"`: card payments keyed by `card`.
    Payments,
    /// `"clicks"`: page views keyed by `user`.
    Clicks,
}

/// One `[[sink]]`, or the `[dead_letter]` output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinkConfig {
    /// The sink's name, unique among sinks and the dead-letter output.
    pub name: String,
    /// Where the sink writes.
    pub kind: SinkKind,
}

/// Where a sink writes (its `type`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SinkKind {
    /// `type = "stdout"`: standard output.
    Stdout {
        /// How each event is written.
        format: SinkFormat,
    },
    /// `type = "file"`: a file, truncated when the pipeline starts; its
    /// directory is created if missing.
    File {
        /// The file, absolute.
        path: PathBuf,
        /// How each event is written.
        format: SinkFormat,
    },
    /// `type = "kafka"`: one record per event: the event's key, value,
    /// headers and time.
    Kafka(KafkaSinkConfig),
}

/// A `kafka` sink's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaSinkConfig {
    /// `brokers`: bootstrap servers, `host:port` separated by commas.
    pub brokers: String,
    /// `topic`: where events go unless their `topic_header` names another.
    pub topic: String,
    /// `topic_header`: a header whose value, when an event has it, is the
    /// topic the event goes to; the header itself is not written.
    pub topic_header: Option<String>,
    /// `compression` (default none).
    pub compression: KafkaCompression,
    /// `properties`: librdkafka settings passed through, as strings. The
    /// producer is idempotent unless they set `enable.idempotence = false`.
    pub properties: Vec<(String, String)>,
}

/// A Kafka producer's compression codec (`compression`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KafkaCompression {
    /// `"none"`.
    #[default]
    None,
    /// `"gzip"`.
    Gzip,
    /// `"snappy"`.
    Snappy,
    /// `"lz4"`.
    Lz4,
    /// `"zstd"`.
    Zstd,
}

impl KafkaCompression {
    /// Every codec, by name.
    pub const ALL: [(&'static str, KafkaCompression); 5] = [
        ("none", KafkaCompression::None),
        ("gzip", KafkaCompression::Gzip),
        ("snappy", KafkaCompression::Snappy),
        ("lz4", KafkaCompression::Lz4),
        ("zstd", KafkaCompression::Zstd),
    ];

    /// The name librdkafka's `compression.type` takes.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, c)| *c == self)
            .map_or("none", |(name, _)| name)
    }
}

/// How a sink writes each event as one line (`format`); see `sink` for the
/// exact bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkFormat {
    /// `"value"` (the default): the value bytes and `\n`.
    #[default]
    Value,
    /// `"envelope"`: a JSON object with the key, value, headers and time.
    Envelope,
}

/// A pipeline file could not be read, or is wrong.
///
/// Both variants are the user's to fix; retrying does not help.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read pipeline file `{}`: {error}", path.display())]
    Read {
        /// The file, as the user named it.
        path: PathBuf,
        /// The underlying error.
        #[source]
        error: std::io::Error,
    },
    /// The file is not valid TOML, does not have the expected shape, or
    /// holds a value that fails a check.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Invalid {
        /// The file, as the user named it.
        path: PathBuf,
        /// Line of the offending text, from 1.
        line: usize,
        /// Column (in characters) of the offending text, from 1.
        column: usize,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    /// An [`ConfigError::Invalid`] at byte `offset` of `text`.
    fn at(path: &Path, text: &str, offset: usize, message: impl fmt::Display) -> Self {
        let (line, column) = line_column(text, offset);
        ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            column,
            message: message.to_string(),
        }
    }
}

/// Reads and checks the pipeline file at `path`.
///
/// # Errors
///
/// [`ConfigError::Read`] if the file cannot be read, [`ConfigError::Invalid`]
/// if it is wrong.
pub fn load(path: &Path) -> Result<PipelineConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    parse(&text, path)
}

/// Checks the text of a pipeline file; `path` names it in errors and is the
/// base for relative paths inside it.
///
/// # Errors
///
/// [`ConfigError::Invalid`] if the text is wrong.
pub fn parse(text: &str, path: &Path) -> Result<PipelineConfig, ConfigError> {
    let raw: raw::RawPipeline = toml::from_str(text).map_err(|error| {
        let offset = error.span().map_or(0, |span| span.start);
        ConfigError::at(path, text, offset, error.message().trim_end())
    })?;
    validate::validate(raw, text, path)
}

/// The 1-based line and character column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests;
