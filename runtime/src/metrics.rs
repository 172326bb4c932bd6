//! Every metric weir exports, named in one place.
//!
//! Names follow `weir_<noun>_<unit>_total` for counters; labels are few and
//! bounded (pipeline, stage, source, sink, error kind). Metrics are updated
//! once per batch, never per event. [`Metrics::encode`] renders the
//! Prometheus text format served on `--metrics-addr`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::event::ErrorKind;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PipelineLabels {
    pipeline: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabels {
    pipeline: String,
    stage: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    pipeline: String,
    stage: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    pipeline: String,
    source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SinkLabels {
    pipeline: String,
    sink: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClientLabels {
    pipeline: String,
    /// The source or sink the Kafka client belongs to.
    client: String,
}

/// The stage name used on dead letters that no stage produced (malformed
/// input found by key-by).
pub const INPUT_STAGE: &str = "input";

/// The process's metrics.
pub struct Metrics {
    pipeline: String,
    registry: Registry,
    source_events: Family<SourceLabels, Counter>,
    stage_in: Family<StageLabels, Counter>,
    stage_out: Family<StageLabels, Counter>,
    dead_letters: Family<KindLabels, Counter>,
    skipped: Family<KindLabels, Counter>,
    sink_events: Family<SinkLabels, Counter>,
    call_seconds: Family<StageLabels, Histogram>,
    instantiations: Family<StageLabels, Counter>,
    log_dropped: Family<StageLabels, Counter>,
    late_events: Family<PipelineLabels, Counter>,
    duplicates: Family<StageLabels, Counter>,
    kafka_errors: Family<ClientLabels, Counter>,
    kafka_commits: Family<ClientLabels, Counter>,
    kafka_rebalances: Family<ClientLabels, Counter>,
    kafka_pauses: Family<ClientLabels, Counter>,
    checkpoints: Family<PipelineLabels, Counter>,
    checkpoint_seconds: Family<PipelineLabels, Histogram>,
    checkpoint_bytes: Family<PipelineLabels, Gauge>,
    checkpoint_last_id: Family<PipelineLabels, Gauge>,
    alignment_seconds: Family<PipelineLabels, Histogram>,
    restore_seconds: Family<PipelineLabels, Gauge<f64, AtomicU64>>,
    totals: Totals,
}

/// Whole-pipeline totals, for the status line and the summary.
#[derive(Debug, Default)]
pub struct Totals {
    /// Events read from every source.
    pub read: AtomicU64,
    /// Events written to the (first) sink.
    pub written: AtomicU64,
    /// Dead letters written.
    pub dead_lettered: AtomicU64,
    /// Events dropped by a `skip` error policy.
    pub skipped: AtomicU64,
    /// Events too late for every window, written to the late output.
    pub late: AtomicU64,
    /// Events dropped as duplicates by dedupe stages.
    pub deduplicated: AtomicU64,
}

impl Metrics {
    /// Creates and registers every metric for a pipeline.
    pub fn new(pipeline: &str) -> Self {
        let mut registry = Registry::default();
        let source_events = Family::default();
        let stage_in = Family::default();
        let stage_out = Family::default();
        let dead_letters = Family::default();
        let skipped = Family::default();
        let sink_events = Family::default();
        let call_seconds = Family::<StageLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_01, 4.0, 10))
        });
        let instantiations = Family::default();
        let log_dropped = Family::default();
        let late_events = Family::default();
        let duplicates = Family::default();
        let kafka_errors = Family::default();
        let kafka_commits = Family::default();
        let kafka_rebalances = Family::default();
        let kafka_pauses = Family::default();
        let checkpoints = Family::default();
        let seconds = || {
            Family::<PipelineLabels, Histogram>::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.000_1, 4.0, 10))
            })
        };
        let checkpoint_seconds = seconds();
        let checkpoint_bytes = Family::default();
        let checkpoint_last_id = Family::default();
        let alignment_seconds = seconds();
        let restore_seconds = Family::default();
        let r = &mut registry;
        r.register(
            "weir_source_events",
            "Events read from a source",
            source_events.clone(),
        );
        r.register(
            "weir_stage_events_in",
            "Events that entered a stage",
            stage_in.clone(),
        );
        r.register(
            "weir_stage_events_out",
            "Events a stage passed on",
            stage_out.clone(),
        );
        r.register(
            "weir_dead_letters",
            "Events sent to the dead-letter output, by stage and error kind",
            dead_letters.clone(),
        );
        r.register(
            "weir_events_skipped",
            "Failed events dropped by a `skip` error policy",
            skipped.clone(),
        );
        r.register(
            "weir_sink_events",
            "Events written to a sink",
            sink_events.clone(),
        );
        r.register(
            "weir_plugin_call_duration_seconds",
            "Time of one plugin call with one batch",
            call_seconds.clone(),
        );
        r.register(
            "weir_plugin_instantiations",
            "Plugin instances created (at start and after a failed call)",
            instantiations.clone(),
        );
        r.register(
            "weir_plugin_log_lines_dropped",
            "Plugin log lines dropped by the per-instance rate limit",
            log_dropped.clone(),
        );
        r.register(
            "weir_late_events",
            "Events too late for every window, sent to the late output",
            late_events.clone(),
        );
        r.register(
            "weir_duplicates_dropped",
            "Events a dedupe stage dropped because their id was seen before",
            duplicates.clone(),
        );
        r.register(
            "weir_kafka_client_errors",
            "Errors a Kafka client reported (a broker down, a failed request); it retries",
            kafka_errors.clone(),
        );
        r.register(
            "weir_kafka_offset_commits",
            "Offset commits of a Kafka source",
            kafka_commits.clone(),
        );
        r.register(
            "weir_kafka_rebalances",
            "Partition assignments and revocations a Kafka source went through",
            kafka_rebalances.clone(),
        );
        r.register(
            "weir_kafka_pauses",
            "Times a Kafka source paused its partitions because the workers were behind",
            kafka_pauses.clone(),
        );
        r.register(
            "weir_checkpoints",
            "Checkpoints completed (savepoints included)",
            checkpoints.clone(),
        );
        r.register(
            "weir_checkpoint_duration_seconds",
            "Time from asking for a checkpoint's barrier to its commit",
            checkpoint_seconds.clone(),
        );
        r.register(
            "weir_checkpoint_size_bytes",
            "Bytes on disk of the last completed checkpoint",
            checkpoint_bytes.clone(),
        );
        r.register(
            "weir_checkpoint_last_completed_id",
            "The id of the last completed checkpoint",
            checkpoint_last_id.clone(),
        );
        r.register(
            "weir_checkpoint_alignment_seconds",
            "Time a worker or the sink thread held inputs back to align a barrier",
            alignment_seconds.clone(),
        );
        r.register(
            "weir_checkpoint_restore_seconds",
            "Time the last start took to restore its checkpoint",
            restore_seconds.clone(),
        );
        Metrics {
            checkpoints,
            checkpoint_seconds,
            checkpoint_bytes,
            checkpoint_last_id,
            alignment_seconds,
            restore_seconds,
            late_events,
            duplicates,
            kafka_errors,
            kafka_commits,
            kafka_rebalances,
            kafka_pauses,
            pipeline: pipeline.to_string(),
            registry,
            source_events,
            stage_in,
            stage_out,
            dead_letters,
            skipped,
            sink_events,
            call_seconds,
            instantiations,
            log_dropped,
            totals: Totals::default(),
        }
    }

    /// Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// The whole-pipeline totals.
    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    fn kind_labels(&self, stage: &str, kind: ErrorKind) -> KindLabels {
        KindLabels {
            pipeline: self.pipeline.clone(),
            stage: stage.into(),
            kind: kind.as_str(),
        }
    }

    /// `n` events were read from `source`.
    pub fn source_read(&self, source: &str, n: u64) {
        let labels = SourceLabels {
            pipeline: self.pipeline.clone(),
            source: source.into(),
        };
        self.source_events.get_or_create(&labels).inc_by(n);
        self.totals.read.fetch_add(n, Ordering::Relaxed);
    }

    /// `n` events of `kind` were dead-lettered before any stage (by key-by).
    pub fn input_dead_lettered(&self, kind: ErrorKind, n: u64) {
        self.dead_letters
            .get_or_create(&self.kind_labels(INPUT_STAGE, kind))
            .inc_by(n);
    }

    /// `n` events too late for every window reached the late output.
    pub fn late_written(&self, n: u64) {
        self.late_events
            .get_or_create(&self.pipeline_labels())
            .inc_by(n);
        self.totals.late.fetch_add(n, Ordering::Relaxed);
    }

    /// `stage` dropped `n` duplicate events.
    pub fn deduplicated(&self, stage: &str, n: u64) {
        let labels = StageLabels {
            pipeline: self.pipeline.clone(),
            stage: stage.to_string(),
        };
        self.duplicates.get_or_create(&labels).inc_by(n);
        self.totals.deduplicated.fetch_add(n, Ordering::Relaxed);
    }

    fn pipeline_labels(&self) -> PipelineLabels {
        PipelineLabels {
            pipeline: self.pipeline.clone(),
        }
    }

    /// `n` dead letters reached the dead-letter sink.
    pub fn dead_letters_written(&self, n: u64) {
        self.totals.dead_lettered.fetch_add(n, Ordering::Relaxed);
    }

    /// `n` events were written to `sink`; `primary` marks the first sink,
    /// whose count is the pipeline's output total.
    pub fn sink_wrote(&self, sink: &str, n: u64, primary: bool) {
        let labels = SinkLabels {
            pipeline: self.pipeline.clone(),
            sink: sink.into(),
        };
        self.sink_events.get_or_create(&labels).inc_by(n);
        if primary {
            self.totals.written.fetch_add(n, Ordering::Relaxed);
        }
    }

    fn client_labels(&self, client: &str) -> ClientLabels {
        ClientLabels {
            pipeline: self.pipeline.clone(),
            client: client.to_string(),
        }
    }

    /// The Kafka client of `client` (a source or sink name) reported an
    /// error.
    pub fn kafka_error(&self, client: &str) {
        self.kafka_errors
            .get_or_create(&self.client_labels(client))
            .inc();
    }

    /// Kafka source `client` committed offsets.
    pub fn kafka_commit(&self, client: &str) {
        self.kafka_commits
            .get_or_create(&self.client_labels(client))
            .inc();
    }

    /// Kafka source `client` was assigned or gave up partitions.
    pub fn kafka_rebalance(&self, client: &str) {
        self.kafka_rebalances
            .get_or_create(&self.client_labels(client))
            .inc();
    }

    /// Kafka source `client` paused its partitions.
    pub fn kafka_paused(&self, client: &str) {
        self.kafka_pauses
            .get_or_create(&self.client_labels(client))
            .inc();
    }

    /// Checkpoint `id` completed after `took`, `bytes` on disk.
    pub fn checkpoint_completed(&self, id: u64, took: Duration, bytes: u64) {
        let labels = self.pipeline_labels();
        self.checkpoints.get_or_create(&labels).inc();
        self.checkpoint_seconds
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        self.checkpoint_bytes
            .get_or_create(&labels)
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        self.checkpoint_last_id
            .get_or_create(&labels)
            .set(i64::try_from(id).unwrap_or(i64::MAX));
    }

    /// A barrier took `took` to align on one thread.
    pub fn barrier_aligned(&self, took: Duration) {
        self.alignment_seconds
            .get_or_create(&self.pipeline_labels())
            .observe(took.as_secs_f64());
    }

    /// Restoring a checkpoint at start took `took`.
    pub fn restored(&self, took: Duration) {
        self.restore_seconds
            .get_or_create(&self.pipeline_labels())
            .set(took.as_secs_f64());
    }

    /// The metrics of one stage, resolved once so that the per-batch path
    /// does no label lookups.
    pub fn stage_metrics(self: &Arc<Self>, stage: &str) -> StageMetrics {
        let labels = StageLabels {
            pipeline: self.pipeline.clone(),
            stage: stage.to_string(),
        };
        let by_kind = |family: &Family<KindLabels, Counter>| {
            ErrorKind::ALL.map(|kind| family.get_or_create(&self.kind_labels(stage, kind)).clone())
        };
        StageMetrics {
            events_in: self.stage_in.get_or_create(&labels).clone(),
            events_out: self.stage_out.get_or_create(&labels).clone(),
            call_seconds: self.call_seconds.get_or_create(&labels).clone(),
            instantiations: self.instantiations.get_or_create(&labels).clone(),
            log_dropped: self.log_dropped.get_or_create(&labels).clone(),
            dead_letters: by_kind(&self.dead_letters),
            skipped: by_kind(&self.skipped),
            metrics: self.clone(),
        }
    }
}

/// One stage's metrics (see [`Metrics::stage_metrics`]).
#[derive(Clone)]
pub struct StageMetrics {
    events_in: Counter,
    events_out: Counter,
    call_seconds: Histogram,
    instantiations: Counter,
    log_dropped: Counter,
    dead_letters: [Counter; ErrorKind::ALL.len()],
    skipped: [Counter; ErrorKind::ALL.len()],
    metrics: Arc<Metrics>,
}

impl StageMetrics {
    /// The stage took `n_in` events and passed on `n_out`.
    pub fn batch(&self, n_in: u64, n_out: u64) {
        self.events_in.inc_by(n_in);
        self.events_out.inc_by(n_out);
    }

    /// One plugin call took `elapsed`.
    pub fn call(&self, elapsed: Duration) {
        self.call_seconds.observe(elapsed.as_secs_f64());
    }

    /// A plugin instance was created.
    pub fn instantiated(&self) {
        self.instantiations.inc();
    }

    /// A plugin log line was dropped by the rate limit.
    pub fn log_dropped(&self) {
        self.log_dropped.inc();
    }

    /// An event of `kind` was dead-lettered by the stage.
    pub fn dead_lettered(&self, kind: ErrorKind) {
        self.dead_letters[kind as usize].inc();
    }

    /// A failed event of `kind` was dropped by the stage's skip policy.
    pub fn skipped(&self, kind: ErrorKind) {
        self.skipped[kind as usize].inc();
        self.metrics.totals.skipped.fetch_add(1, Ordering::Relaxed);
    }
}
