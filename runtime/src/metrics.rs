//! Every metric weir exports, named in one place.
//!
//! Names follow `weir_<noun>_<unit>_total` for counters; labels are few and
//! bounded (pipeline, stage, source, sink, error kind). Metrics are updated
//! once per batch, never per event. [`Metrics::encode`] renders the
//! Prometheus text format served on `--metrics-addr`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::event::ErrorKind;

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
}

impl Metrics {
    /// Creates and registers every metric for a pipeline.
    pub fn new(pipeline: &str) -> Self {
        let mut registry = Registry::default();
        let call_seconds = Family::<StageLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_01, 4.0, 10))
        });
        let metrics = Metrics {
            pipeline: pipeline.to_string(),
            source_events: Family::default(),
            stage_in: Family::default(),
            stage_out: Family::default(),
            dead_letters: Family::default(),
            skipped: Family::default(),
            sink_events: Family::default(),
            call_seconds,
            instantiations: Family::default(),
            log_dropped: Family::default(),
            totals: Totals::default(),
            registry: Registry::default(),
        };
        registry.register(
            "weir_source_events",
            "Events read from a source",
            metrics.source_events.clone(),
        );
        registry.register(
            "weir_stage_events_in",
            "Events that entered a stage",
            metrics.stage_in.clone(),
        );
        registry.register(
            "weir_stage_events_out",
            "Events a stage passed on",
            metrics.stage_out.clone(),
        );
        registry.register(
            "weir_dead_letters",
            "Events sent to the dead-letter output, by stage and error kind",
            metrics.dead_letters.clone(),
        );
        registry.register(
            "weir_events_skipped",
            "Failed events dropped by a `skip` error policy",
            metrics.skipped.clone(),
        );
        registry.register(
            "weir_sink_events",
            "Events written to a sink",
            metrics.sink_events.clone(),
        );
        registry.register(
            "weir_plugin_call_duration_seconds",
            "Time of one plugin call with one batch",
            metrics.call_seconds.clone(),
        );
        registry.register(
            "weir_plugin_instantiations",
            "Plugin instances created (at start and after a failed call)",
            metrics.instantiations.clone(),
        );
        registry.register(
            "weir_plugin_log_lines_dropped",
            "Plugin log lines dropped by the per-instance rate limit",
            metrics.log_dropped.clone(),
        );
        Metrics {
            registry,
            ..metrics
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

    fn stage(&self, stage: &str) -> StageLabels {
        StageLabels {
            pipeline: self.pipeline.clone(),
            stage: stage.to_string(),
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

    /// A stage took `n_in` events and passed on `n_out`.
    pub fn stage_batch(&self, stage: &str, n_in: u64, n_out: u64) {
        let labels = self.stage(stage);
        self.stage_in.get_or_create(&labels).inc_by(n_in);
        self.stage_out.get_or_create(&labels).inc_by(n_out);
    }

    /// One plugin call took `elapsed`.
    pub fn stage_call(&self, stage: &str, elapsed: Duration) {
        self.call_seconds
            .get_or_create(&self.stage(stage))
            .observe(elapsed.as_secs_f64());
    }

    /// `n` events of `kind` were dead-lettered by `stage`.
    pub fn dead_lettered(&self, stage: &str, kind: ErrorKind, n: u64) {
        let labels = KindLabels {
            pipeline: self.pipeline.clone(),
            stage: stage.into(),
            kind: kind.as_str(),
        };
        self.dead_letters.get_or_create(&labels).inc_by(n);
    }

    /// `n` dead letters reached the dead-letter sink.
    pub fn dead_letters_written(&self, n: u64) {
        self.totals.dead_lettered.fetch_add(n, Ordering::Relaxed);
    }

    /// `n` failed events of `kind` were dropped by `stage`'s skip policy.
    pub fn skipped(&self, stage: &str, kind: ErrorKind, n: u64) {
        let labels = KindLabels {
            pipeline: self.pipeline.clone(),
            stage: stage.into(),
            kind: kind.as_str(),
        };
        self.skipped.get_or_create(&labels).inc_by(n);
        self.totals.skipped.fetch_add(n, Ordering::Relaxed);
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

    /// A plugin instance was created for `stage`.
    pub fn plugin_instantiated(&self, stage: &str) {
        self.instantiations.get_or_create(&self.stage(stage)).inc();
    }

    /// A plugin log line from `stage` was dropped by the rate limit.
    pub fn plugin_log_dropped(&self, stage: &str) {
        self.log_dropped.get_or_create(&self.stage(stage)).inc();
    }
}
