//! From the file as written to a checked [`PipelineConfig`]: defaults,
//! ranges, names, paths and references, each error pointing at its value.
//!
//! Checks run in file-section order (pipeline, sources, key-by, stages,
//! sinks, dead letter) and stop at the first error.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_spanned::Spanned;

use super::raw::{
    RawAggregate, RawCheckpoints, RawDeadLetter, RawDedupe, RawEventTime, RawKeyBy, RawLimits,
    RawPipeline, RawPipelineTable, RawSink, RawSinkType, RawSource, RawSourceType, RawStage,
    RawWindow, RawWindowType, SinkKeys,
};
use super::{
    AggregateConfig, AggregatorStage, CheckpointConfig, ConfigError, DedupeStage, ErrorPolicy,
    EventTime, GeneratorConfig, Guarantee, KeyBy, Limits, PipelineConfig, PluginStage, SinkConfig,
    SinkFormat, SinkKind, SourceConfig, SourceKind, StageConfig, StageKind, TimeFormat,
    WindowStage,
};
use crate::window::WindowKind;

mod kafka;
use crate::window::aggregate::{Function, InputKind};

/// Most characters in a name.
const MAX_NAME_LEN: usize = 64;
/// Most MiB of memory or output a stage may be given (wasm32's address space).
const MAX_MIB: u64 = 4096;
/// Longest call timeout a stage may be given: one hour.
const MAX_TIMEOUT_MS: u64 = 3_600_000;
/// Longest window, gap, lateness or out-of-orderness: 366 days.
const MAX_TIME_SPAN_MS: u64 = 366 * 24 * 3_600_000;
/// Default `idle_timeout_ms`.
const DEFAULT_IDLE_TIMEOUT_MS: u64 = 10_000;
/// Fields every window result has; aggregates may not take these names.
const RESERVED: [&str; 4] = ["key", "window_start", "window_end", "update"];

/// Checks `raw`, read from `text` in the file `path`.
pub(super) fn validate(
    raw: RawPipeline,
    text: &str,
    path: &Path,
) -> Result<PipelineConfig, ConfigError> {
    Checker::new(text, path).pipeline(raw)
}

type Span = Range<usize>;

/// The file being checked, and the names and files seen so far.
struct Checker<'a> {
    text: &'a str,
    path: &'a Path,
    /// The directory relative paths are resolved against.
    dir: PathBuf,
    /// Names seen per kind ("source", "stage", "sink"), with their spans.
    names: HashMap<(&'static str, String), Span>,
    /// Files read or written: path → (who, whether it writes, the span
    /// naming it).
    files: HashMap<PathBuf, (String, bool, Option<Span>)>,
    /// The source reading stdin, if any.
    stdin: Option<(String, Span)>,
    /// `[checkpoints] mode`, once read: what sources and sinks must support.
    guarantee: Option<Guarantee>,
}

impl<'a> Checker<'a> {
    fn new(text: &'a str, path: &'a Path) -> Self {
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Checker {
            text,
            path,
            dir,
            names: HashMap::new(),
            files: HashMap::new(),
            stdin: None,
            guarantee: None,
        }
    }

    fn pipeline(mut self, raw: RawPipeline) -> Result<PipelineConfig, ConfigError> {
        let table = raw.pipeline.unwrap_or(RawPipelineTable {
            name: None,
            parallelism: None,
            key_groups: None,
            batch_size: None,
            batch_linger_ms: None,
            channel_capacity: None,
            state_dir: None,
        });
        let name = match &table.name {
            Some(name) => self.name(name)?,
            None => self
                .path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
        };
        let state_dir = match &table.state_dir {
            Some(dir) => self.resolve(dir.get_ref()),
            None => self.resolve(&format!(".weir/{name}/state")),
        };
        let parallelism = self.parallelism(&table)?;
        let key_groups = self.key_groups(&table, parallelism)?;
        let batch_size = match &table.batch_size {
            Some(v) => self.range(v, "batch_size", 1, PipelineConfig::MAX_BATCH_SIZE)?,
            None => PipelineConfig::DEFAULT_BATCH_SIZE,
        };
        let batch_linger_ms = match &table.batch_linger_ms {
            Some(v) => self.range(v, "batch_linger_ms", 0, PipelineConfig::MAX_BATCH_LINGER_MS)?,
            None => PipelineConfig::DEFAULT_BATCH_LINGER_MS,
        };
        let channel_capacity = match &table.channel_capacity {
            Some(v) => self.range(
                v,
                "channel_capacity",
                1,
                PipelineConfig::MAX_CHANNEL_CAPACITY,
            )?,
            None => PipelineConfig::DEFAULT_CHANNEL_CAPACITY,
        };

        let checkpoints = match raw.checkpoints {
            Some(table) => Some(self.checkpoints(table, &name)?),
            None => None,
        };
        self.guarantee = checkpoints.as_ref().map(|c| c.mode);
        let raw_sources = raw.source.unwrap_or_default();
        if raw_sources.is_empty() {
            return Err(self.error(0..0, "the pipeline has no source, add a `[[source]]` table"));
        }
        let sources = raw_sources
            .into_iter()
            .map(|source| self.source(source))
            .collect::<Result<Vec<_>, _>>()?;
        let key_by = match raw.key_by {
            Some(key_by) => self.key_by(key_by)?,
            None => KeyBy::SourcePartition,
        };
        let event_time = match raw.event_time {
            Some(event_time) => Some(self.event_time(event_time)?),
            None => None,
        };
        let stages = raw
            .stage
            .unwrap_or_default()
            .into_iter()
            .map(|stage| self.stage(stage, event_time.is_some(), &key_by))
            .collect::<Result<Vec<_>, _>>()?;
        let raw_sinks = raw.sink.unwrap_or_default();
        if raw_sinks.is_empty() {
            return Err(self.error(0..0, "the pipeline has no sink, add a `[[sink]]` table"));
        }
        let sinks = raw_sinks
            .into_iter()
            .map(|sink| self.sink(sink))
            .collect::<Result<Vec<_>, _>>()?;
        let dead_letter = self.dead_letter(raw.dead_letter)?;
        let windows = stages
            .iter()
            .any(|s| matches!(s.kind, StageKind::Window(_)));
        let late = match (windows, raw.late) {
            (false, _) => None,
            (true, late) => Some(self.late(late)?),
        };

        Ok(PipelineConfig {
            file: self.path.to_path_buf(),
            name,
            parallelism,
            key_groups,
            batch_size,
            batch_linger: Duration::from_millis(batch_linger_ms),
            channel_capacity,
            sources,
            key_by,
            stages,
            sinks,
            dead_letter,
            event_time,
            late,
            state_dir,
            checkpoints,
        })
    }

    fn checkpoints(
        &self,
        raw: Spanned<RawCheckpoints>,
        name: &str,
    ) -> Result<CheckpointConfig, ConfigError> {
        let raw = raw.into_inner();
        let interval_ms = match &raw.interval_ms {
            Some(v) => self.range(
                v,
                "interval_ms",
                CheckpointConfig::MIN_INTERVAL_MS,
                CheckpointConfig::MAX_INTERVAL_MS,
            )?,
            None => CheckpointConfig::DEFAULT_INTERVAL_MS,
        };
        let keep = match &raw.keep {
            Some(v) => self.range(v, "keep", 1, CheckpointConfig::MAX_KEEP)?,
            None => CheckpointConfig::DEFAULT_KEEP,
        };
        let dir = match &raw.dir {
            Some(dir) => self.resolve(dir.get_ref()),
            None => self.resolve(&format!(".weir/{name}/checkpoints")),
        };
        Ok(CheckpointConfig {
            interval: Duration::from_millis(interval_ms),
            keep,
            mode: raw
                .mode
                .as_ref()
                .map_or(Guarantee::ExactlyOnce, |m| *m.get_ref()),
            dir,
        })
    }

    fn event_time(&self, raw: Spanned<RawEventTime>) -> Result<EventTime, ConfigError> {
        let raw = raw.into_inner();
        let field = match &raw.field {
            Some(field) => match weir_json::Path::parse(field.get_ref()) {
                Ok(path) => Some(path),
                Err(error) => {
                    return Err(
                        self.error(field.span(), format!("invalid event-time field: {error}"))
                    );
                }
            },
            None => None,
        };
        let format = raw
            .format
            .as_ref()
            .map_or(TimeFormat::EpochMs, |f| *f.get_ref());
        if field.is_none()
            && let Some(format) = &raw.format
        {
            return Err(self.error(
                format.span(),
                "`format` applies to an event-time `field`; without one, the record's own time is used",
            ));
        }
        let bound = match &raw.max_out_of_orderness_ms {
            Some(v) => self.range(v, "max_out_of_orderness_ms", 0, MAX_TIME_SPAN_MS)?,
            None => 0,
        };
        let idle = match &raw.idle_timeout_ms {
            Some(v) => self.range(v, "idle_timeout_ms", 1, MAX_TIME_SPAN_MS)?,
            None => DEFAULT_IDLE_TIMEOUT_MS,
        };
        Ok(EventTime {
            field,
            format,
            max_out_of_orderness_ms: bound as i64,
            idle_timeout: Duration::from_millis(idle),
        })
    }

    fn late(&mut self, raw: Option<RawDeadLetter>) -> Result<SinkConfig, ConfigError> {
        let Some(raw) = raw else {
            let path = self.resolve(PipelineConfig::DEFAULT_LATE_FILE);
            self.claim_file(&path, "the late-event output".to_string(), true, None)?;
            let kind = SinkKind::File {
                path,
                format: SinkFormat::Value,
            };
            return Ok(SinkConfig {
                name: PipelineConfig::DEFAULT_LATE.to_string(),
                kind,
            });
        };
        let name = match &raw.name {
            Some(name) => self.unique_name("sink", name)?,
            None => PipelineConfig::DEFAULT_LATE.to_string(),
        };
        let who = "the late-event output".to_string();
        let kind = self.sink_kind(who, raw.keys())?;
        Ok(SinkConfig { name, kind })
    }

    fn parallelism(&self, table: &RawPipelineTable) -> Result<u32, ConfigError> {
        let Some(parallelism) = &table.parallelism else {
            return Ok(1);
        };
        if *parallelism.get_ref() == 0 {
            return Err(self.error(parallelism.span(), "parallelism must be at least 1"));
        }
        Ok(*parallelism.get_ref())
    }

    fn key_groups(&self, table: &RawPipelineTable, parallelism: u32) -> Result<u32, ConfigError> {
        let key_groups = match &table.key_groups {
            Some(v) => self.range(v, "key_groups", 1, PipelineConfig::MAX_KEY_GROUPS)?,
            None => PipelineConfig::DEFAULT_KEY_GROUPS,
        };
        if key_groups < parallelism {
            let span = match (&table.key_groups, &table.parallelism) {
                (Some(v), _) => v.span(),
                (None, Some(v)) => v.span(),
                (None, None) => 0..0,
            };
            return Err(self.error(
                span,
                format!(
                    "key_groups ({key_groups}) must be at least parallelism ({parallelism}), \
                     since a key group is the unit of work a worker owns"
                ),
            ));
        }
        Ok(key_groups)
    }

    fn source(&mut self, raw: RawSource) -> Result<SourceConfig, ConfigError> {
        let name = self.unique_name("source", &raw.name)?;
        let kind = *raw.kind.get_ref();
        self.fields_apply(&raw, kind)?;
        let kind = match kind {
            RawSourceType::Generator => SourceKind::Generator(self.generator(&raw)?),
            RawSourceType::File => {
                let Some(path) = &raw.path else {
                    return Err(self.error(raw.kind.span(), "a `file` source needs `path`"));
                };
                let resolved = self.existing_file(path, "input file")?;
                self.claim_file(
                    &resolved,
                    format!("source `{name}`"),
                    false,
                    Some(path.span()),
                )?;
                SourceKind::File {
                    path: resolved,
                    follow: raw.follow.as_ref().is_some_and(|f| *f.get_ref()),
                }
            }
            RawSourceType::Kafka => SourceKind::Kafka(self.kafka_source(&raw)?),
            RawSourceType::Stdin => {
                if self.guarantee.is_some() {
                    return Err(self.error(
                        raw.kind.span(),
                        "a `stdin` source cannot be read again after a restart, so a pipeline \
                         with `[checkpoints]` cannot have one",
                    ));
                }
                if let Some((other, span)) = &self.stdin {
                    let (line, column) = super::line_column(self.text, span.start);
                    return Err(self.error(
                        raw.kind.span(),
                        format!(
                            "only one source may read stdin, and source `{other}` (line {line}, \
                             column {column}) already does"
                        ),
                    ));
                }
                self.stdin = Some((name.clone(), raw.kind.span()));
                SourceKind::Stdin
            }
        };
        Ok(SourceConfig { name, kind })
    }

    /// Rejects the keys of `raw` that belong to another source type.
    fn fields_apply(&self, raw: &RawSource, kind: RawSourceType) -> Result<(), ConfigError> {
        let generator = [
            ("events", raw.events.as_ref().map(Spanned::span)),
            ("count", raw.count.as_ref().map(Spanned::span)),
            ("rate", raw.rate.as_ref().map(Spanned::span)),
            ("seed", raw.seed.as_ref().map(Spanned::span)),
            ("partitions", raw.partitions.as_ref().map(Spanned::span)),
            ("out_of_order", raw.out_of_order.as_ref().map(Spanned::span)),
            ("max_delay_ms", raw.max_delay_ms.as_ref().map(Spanned::span)),
            ("malformed", raw.malformed.as_ref().map(Spanned::span)),
            (
                "start_time_ms",
                raw.start_time_ms.as_ref().map(Spanned::span),
            ),
            ("interval_ms", raw.interval_ms.as_ref().map(Spanned::span)),
        ];
        let file = [
            ("path", raw.path.as_ref().map(Spanned::span)),
            ("follow", raw.follow.as_ref().map(Spanned::span)),
        ];
        let kafka = [
            ("brokers", raw.brokers.as_ref().map(Spanned::span)),
            ("topics", raw.topics.as_ref().map(Spanned::span)),
            (
                "topic_pattern",
                raw.topic_pattern.as_ref().map(Spanned::span),
            ),
            ("group", raw.group.as_ref().map(Spanned::span)),
            ("start", raw.start.as_ref().map(Spanned::span)),
            (
                "commit_interval_ms",
                raw.commit_interval_ms.as_ref().map(Spanned::span),
            ),
            ("properties", raw.properties.as_ref().map(Spanned::span)),
        ];
        let foreign: Vec<&(&str, Option<Span>)> = match kind {
            RawSourceType::Generator => file.iter().chain(&kafka).collect(),
            RawSourceType::File => generator.iter().chain(&kafka).collect(),
            RawSourceType::Stdin => generator.iter().chain(&file).chain(&kafka).collect(),
            RawSourceType::Kafka => generator.iter().chain(&file).collect(),
        };
        if let Some((field, Some(span))) = foreign.into_iter().find(|(_, span)| span.is_some()) {
            return Err(self.error(
                span.clone(),
                format!("`{field}` does not apply to a `{}` source", kind.as_str()),
            ));
        }
        Ok(())
    }

    fn generator(&self, raw: &RawSource) -> Result<GeneratorConfig, ConfigError> {
        let Some(events) = &raw.events else {
            return Err(self.error(
                raw.kind.span(),
                "a `generator` source needs `events = \"payments\"` or `events = \"clicks\"`",
            ));
        };
        let mut config = GeneratorConfig::new(*events.get_ref());
        config.count = raw.count.as_ref().map(|c| *c.get_ref());
        if let Some(rate) = &raw.rate {
            let value = *rate.get_ref();
            if !(value.is_finite() && value > 0.0) {
                return Err(self.error(
                    rate.span(),
                    format!("rate must be a positive number of events per second, found {value}"),
                ));
            }
            config.rate = Some(value);
        }
        if let Some(seed) = &raw.seed {
            config.seed = *seed.get_ref();
        }
        if let Some(partitions) = &raw.partitions {
            config.partitions =
                self.range(partitions, "partitions", 1, GeneratorConfig::MAX_PARTITIONS)?;
        }
        if let Some(share) = &raw.out_of_order {
            config.out_of_order = self.share(share, "out_of_order")?;
        }
        if let Some(delay) = &raw.max_delay_ms {
            config.max_delay_ms = *delay.get_ref();
        }
        if let Some(share) = &raw.malformed {
            config.malformed = self.share(share, "malformed")?;
        }
        if let Some(start) = &raw.start_time_ms {
            config.start_time_ms = *start.get_ref();
        }
        if let Some(interval) = &raw.interval_ms {
            config.interval_ms = *interval.get_ref();
        }
        Ok(config)
    }

    fn key_by(&self, raw: Spanned<RawKeyBy>) -> Result<KeyBy, ConfigError> {
        let span = raw.span();
        let raw = raw.into_inner();
        let event_key = raw.event_key.filter(|e| *e.get_ref());
        match (raw.field, event_key) {
            (Some(field), Some(_)) => Err(self.error(
                field.span(),
                "`[key_by]` takes either `field` or `event_key = true`, not both",
            )),
            (Some(field), None) => match weir_json::Path::parse(field.get_ref()) {
                Ok(path) => Ok(KeyBy::Field(path)),
                Err(error) => {
                    Err(self.error(field.span(), format!("invalid key-by field: {error}")))
                }
            },
            (None, Some(_)) => Ok(KeyBy::EventKey),
            (None, None) => Err(self.error(
                span,
                "`[key_by]` needs `field = \"<path>\"` or `event_key = true`; leave it out to \
                 key by source partition",
            )),
        }
    }

    fn stage(
        &mut self,
        raw: RawStage,
        event_time: bool,
        key_by: &KeyBy,
    ) -> Result<StageConfig, ConfigError> {
        let name = self.unique_name("stage", &raw.name)?;
        let chosen: Vec<(&str, Span)> = [
            raw.plugin.as_ref().map(|p| ("plugin", p.span())),
            raw.window.as_ref().map(|w| ("window", w.span())),
            raw.dedupe.as_ref().map(|d| ("dedupe", d.span())),
        ]
        .into_iter()
        .flatten()
        .collect();
        if let [(first, _), (second, span), ..] = chosen.as_slice() {
            return Err(self.error(
                span.clone(),
                format!("stage `{name}` has both `{first}` and `{second}`; a stage runs one"),
            ));
        }
        let Some((what, span)) = chosen.first().cloned() else {
            return Err(self.error(
                raw.name.span(),
                format!(
                    "stage `{name}` needs `plugin = \"<file>\"`, `window = {{ … }}` or \
                     `dedupe = {{ … }}`"
                ),
            ));
        };
        if what != "plugin" {
            if !event_time {
                return Err(self.error(
                    span,
                    format!("{what} stage `{name}` needs an `[event_time]` table"),
                ));
            }
            if *key_by == KeyBy::SourcePartition {
                return Err(self.error(
                    span,
                    format!("{what} stage `{name}` needs a `[key_by]`: its state is per key"),
                ));
            }
        }
        let kind = match (&raw.plugin, &raw.window, &raw.dedupe) {
            (Some(plugin), _, _) => StageKind::Plugin(self.plugin_stage(&name, plugin, &raw)?),
            (_, Some(window), _) => StageKind::Window(self.window_stage(&name, window, &raw)?),
            (_, _, Some(dedupe)) => StageKind::Dedupe(self.dedupe_stage(&name, dedupe, &raw)?),
            (None, None, None) => unreachable!("a stage kind was chosen above"),
        };
        Ok(StageConfig { name, kind })
    }

    fn plugin_stage(
        &mut self,
        name: &str,
        plugin: &Spanned<String>,
        raw: &RawStage,
    ) -> Result<PluginStage, ConfigError> {
        let window_only = [
            raw.aggregates.as_ref().map(|a| ("aggregates", a.span())),
            raw.aggregator.as_ref().map(|a| ("aggregator", a.span())),
            raw.allowed_lateness_ms
                .as_ref()
                .map(|a| ("allowed_lateness_ms", a.span())),
        ];
        if let Some((key, span)) = window_only.into_iter().flatten().next() {
            return Err(self.error(
                span,
                format!("`{key}` applies to window stages, and stage `{name}` runs a plugin"),
            ));
        }
        let plugin = self.existing_file(plugin, "plugin file")?;
        let (config, limits) = self.config_and_limits(raw)?;
        let on_error = match &raw.on_error {
            Some(policy) => {
                if let ErrorPolicy::Retry { attempts: 0 } = policy.get_ref() {
                    return Err(self.error(policy.span(), "retry attempts must be at least 1"));
                }
                *policy.get_ref()
            }
            None => ErrorPolicy::DeadLetter,
        };
        Ok(PluginStage {
            plugin,
            config,
            limits,
            on_error,
        })
    }

    fn dedupe_stage(
        &self,
        name: &str,
        dedupe: &Spanned<RawDedupe>,
        raw: &RawStage,
    ) -> Result<DedupeStage, ConfigError> {
        let others = [
            raw.config.as_ref().map(|c| ("config", c.span())),
            raw.on_error.as_ref().map(|c| ("on_error", c.span())),
            raw.limits.as_ref().map(|_| ("limits", dedupe.span())),
            raw.aggregates.as_ref().map(|a| ("aggregates", a.span())),
            raw.aggregator.as_ref().map(|a| ("aggregator", a.span())),
            raw.allowed_lateness_ms
                .as_ref()
                .map(|a| ("allowed_lateness_ms", a.span())),
        ];
        if let Some((key, span)) = others.into_iter().flatten().next() {
            return Err(self.error(
                span,
                format!("`{key}` does not apply to stage `{name}`, which is a dedupe stage"),
            ));
        }
        let d = dedupe.get_ref();
        let field = weir_json::Path::parse(d.field.get_ref()).map_err(|error| {
            self.error(d.field.span(), format!("invalid dedupe field: {error}"))
        })?;
        let within_ms = self.range(&d.within_ms, "within_ms", 1, MAX_TIME_SPAN_MS)? as i64;
        Ok(DedupeStage { field, within_ms })
    }

    fn window_stage(
        &self,
        name: &str,
        window: &Spanned<RawWindow>,
        raw: &RawStage,
    ) -> Result<WindowStage, ConfigError> {
        let plugin_only = [
            raw.aggregator
                .is_none()
                .then(|| raw.config.as_ref().map(|c| ("config", c.span())))
                .flatten(),
            raw.aggregator
                .is_none()
                .then(|| raw.limits.as_ref().map(|_| ("limits", window.span())))
                .flatten(),
            raw.on_error.as_ref().map(|c| ("on_error", c.span())),
        ];
        if let Some((key, span)) = plugin_only.into_iter().flatten().next() {
            return Err(self.error(
                span,
                if key == "on_error" {
                    format!("`{key}` applies to plugin stages, and stage `{name}` is a window")
                } else {
                    format!(
                        "`{key}` applies to plugin stages and to a window's `aggregator`, \
                         and window stage `{name}` has built-in `aggregates`"
                    )
                },
            ));
        }
        let w = window.get_ref();
        let ms = |v: &Option<Spanned<u64>>, key: &str| -> Result<Option<i64>, ConfigError> {
            match v {
                Some(v) => Ok(Some(self.range(v, key, 1, MAX_TIME_SPAN_MS)? as i64)),
                None => Ok(None),
            }
        };
        let (size, slide, gap) = (
            ms(&w.size_ms, "size_ms")?,
            ms(&w.slide_ms, "slide_ms")?,
            ms(&w.gap_ms, "gap_ms")?,
        );
        let needs = |key: &str| {
            self.error(
                window.span(),
                format!("a `{}` window needs `{key}`", w.kind_name()),
            )
        };
        let unused = |key: &str, span: Span| {
            self.error(
                span,
                format!("`{key}` does not apply to a `{}` window", w.kind_name()),
            )
        };
        let kind = match *w.kind.get_ref() {
            RawWindowType::Tumbling => {
                if let Some(v) = w.slide_ms.as_ref().or(w.gap_ms.as_ref()) {
                    let key = if w.slide_ms.is_some() {
                        "slide_ms"
                    } else {
                        "gap_ms"
                    };
                    return Err(unused(key, v.span()));
                }
                WindowKind::Tumbling {
                    size: size.ok_or_else(|| needs("size_ms"))?,
                }
            }
            RawWindowType::Sliding => {
                if let Some(v) = &w.gap_ms {
                    return Err(unused("gap_ms", v.span()));
                }
                let size = size.ok_or_else(|| needs("size_ms"))?;
                let slide = slide.ok_or_else(|| needs("slide_ms"))?;
                if slide > size {
                    let span = w.slide_ms.as_ref().map_or(window.span(), |s| s.span());
                    return Err(self.error(
                        span,
                        format!("slide_ms ({slide}) must not exceed size_ms ({size})"),
                    ));
                }
                WindowKind::Sliding { size, slide }
            }
            RawWindowType::Session => {
                if let Some(v) = w.size_ms.as_ref().or(w.slide_ms.as_ref()) {
                    let key = if w.size_ms.is_some() {
                        "size_ms"
                    } else {
                        "slide_ms"
                    };
                    return Err(unused(key, v.span()));
                }
                WindowKind::Session {
                    gap: gap.ok_or_else(|| needs("gap_ms"))?,
                }
            }
        };
        let allowed_lateness_ms = match &raw.allowed_lateness_ms {
            Some(v) => self.range(v, "allowed_lateness_ms", 0, MAX_TIME_SPAN_MS)? as i64,
            None => 0,
        };
        let aggregates = match (&raw.aggregates, &raw.aggregator) {
            (Some(aggregates), None) => aggregates,
            (None, Some(plugin)) => {
                let plugin = self.existing_file(plugin, "aggregator file")?;
                let (config, limits) = self.config_and_limits(raw)?;
                return Ok(WindowStage {
                    window: kind,
                    allowed_lateness_ms,
                    aggregates: Vec::new(),
                    aggregator: Some(AggregatorStage {
                        plugin,
                        config,
                        limits,
                    }),
                });
            }
            (Some(_), Some(plugin)) => {
                return Err(self.error(
                    plugin.span(),
                    format!(
                        "window stage `{name}` has both `aggregates` and `aggregator`; \
                         it computes one or the other"
                    ),
                ));
            }
            (None, None) => {
                return Err(self.error(
                    window.span(),
                    format!(
                        "window stage `{name}` needs `aggregates`, e.g. \
                         `aggregates = [{{ function = \"count\" }}]`, or \
                         `aggregator = \"<file>\"`"
                    ),
                ));
            }
        };
        let mut seen: HashMap<String, Span> = HashMap::new();
        let mut out = Vec::new();
        for aggregate in aggregates.get_ref() {
            let aggregate = self.aggregate(aggregate)?;
            let span = aggregates.span();
            if seen.insert(aggregate.name.clone(), span.clone()).is_some()
                || RESERVED.contains(&aggregate.name.as_str())
            {
                return Err(self.error(
                    span,
                    format!(
                        "window stage `{name}` has two result fields named `{}`; give one a `name`",
                        aggregate.name
                    ),
                ));
            }
            out.push(aggregate);
        }
        Ok(WindowStage {
            window: kind,
            allowed_lateness_ms,
            aggregates: out,
            aggregator: None,
        })
    }

    fn aggregate(&self, raw: &RawAggregate) -> Result<AggregateConfig, ConfigError> {
        let function = match raw.function.get_ref().as_str() {
            "count" => Function::Count,
            "sum" => Function::Sum,
            "min" => Function::Min,
            "max" => Function::Max,
            "avg" => Function::Avg,
            "distinct_count" => Function::DistinctCount,
            "first" => Function::First,
            "last" => Function::Last,
            other => {
                return Err(self.error(
                    raw.function.span(),
                    format!(
                        "unknown aggregate function `{other}`, expected one of count, sum, \
                         min, max, avg, distinct_count, first, last"
                    ),
                ));
            }
        };
        let field = match (&raw.field, function.input()) {
            (Some(field), InputKind::None) => {
                return Err(self.error(field.span(), "`count` takes no `field`"));
            }
            (None, InputKind::Number | InputKind::Json) => {
                return Err(self.error(
                    raw.function.span(),
                    format!("`{}` needs a `field`", function.as_str()),
                ));
            }
            (None, InputKind::None) => None,
            (Some(field), _) => match weir_json::Path::parse(field.get_ref()) {
                Ok(path) => Some(path),
                Err(error) => {
                    return Err(
                        self.error(field.span(), format!("invalid aggregate field: {error}"))
                    );
                }
            },
        };
        let name = match (&raw.name, &field) {
            (Some(name), _) => name.get_ref().clone(),
            (None, Some(field)) => {
                format!("{}_{}", function.as_str(), field.as_str().replace('.', "_"))
            }
            (None, None) => function.as_str().to_string(),
        };
        Ok(AggregateConfig {
            name,
            function,
            field,
        })
    }

    /// A plugin's `config` and `limits` (a plugin stage's or a window's
    /// aggregator's), each empty or the defaults when absent.
    fn config_and_limits(
        &self,
        raw: &RawStage,
    ) -> Result<(Vec<(String, String)>, Limits), ConfigError> {
        let config = match &raw.config {
            Some(table) => self.stage_config(table)?,
            None => Vec::new(),
        };
        let limits = match &raw.limits {
            Some(limits) => self.limits(limits)?,
            None => Limits::default(),
        };
        Ok((config, limits))
    }

    fn stage_config(
        &self,
        table: &Spanned<toml::Table>,
    ) -> Result<Vec<(String, String)>, ConfigError> {
        table
            .get_ref()
            .iter()
            .map(|(key, value)| match config_value(value) {
                Ok(text) => Ok((key.clone(), text)),
                Err(message) => {
                    Err(self.error(table.span(), format!("config value `{key}` {message}")))
                }
            })
            .collect()
    }

    fn limits(&self, raw: &RawLimits) -> Result<Limits, ConfigError> {
        let mut limits = Limits::default();
        if let Some(mib) = &raw.memory_mib {
            limits.memory_bytes = self.range(mib, "memory_mib", 1, MAX_MIB)? << 20;
        }
        if let Some(ms) = &raw.timeout_ms {
            limits.timeout =
                Duration::from_millis(self.range(ms, "timeout_ms", 1, MAX_TIMEOUT_MS)?);
        }
        if let Some(mib) = &raw.max_output_mib {
            limits.max_output_bytes = self.range(mib, "max_output_mib", 1, MAX_MIB)? << 20;
        }
        Ok(limits)
    }

    fn sink(&mut self, raw: RawSink) -> Result<SinkConfig, ConfigError> {
        let name = self.unique_name("sink", &raw.name)?;
        let who = format!("sink `{name}`");
        let kind = self.sink_kind(who, raw.keys())?;
        Ok(SinkConfig { name, kind })
    }

    fn dead_letter(&mut self, raw: Option<RawDeadLetter>) -> Result<SinkConfig, ConfigError> {
        let Some(raw) = raw else {
            let name = PipelineConfig::DEFAULT_DEAD_LETTER.to_string();
            let path = self.resolve(&format!("{name}.jsonl"));
            self.claim_file(&path, "the dead-letter output".to_string(), true, None)?;
            let format = SinkFormat::Value;
            return Ok(SinkConfig {
                name,
                kind: SinkKind::File { path, format },
            });
        };
        let name = match &raw.name {
            Some(name) => self.unique_name("sink", name)?,
            None => PipelineConfig::DEFAULT_DEAD_LETTER.to_string(),
        };
        let who = "the dead-letter output".to_string();
        let kind = self.sink_kind(who, raw.keys())?;
        Ok(SinkConfig { name, kind })
    }

    /// A sink's type and the keys of that type; `who` names the sink in
    /// errors.
    fn sink_kind(&mut self, who: String, keys: SinkKeys<'_>) -> Result<SinkKind, ConfigError> {
        let kind = keys.kind;
        let kafka = [
            ("brokers", keys.brokers.map(Spanned::span)),
            ("topic", keys.topic.map(Spanned::span)),
            ("topic_header", keys.topic_header.map(Spanned::span)),
            ("compression", keys.compression.map(Spanned::span)),
            ("properties", keys.properties.map(Spanned::span)),
        ];
        let others = [
            ("path", keys.path.map(Spanned::span)),
            ("format", keys.format.map(Spanned::span)),
        ];
        let foreign: &[(&str, Option<Span>)] = match kind.get_ref() {
            RawSinkType::Kafka => &others,
            RawSinkType::Stdout | RawSinkType::File => &kafka,
        };
        if let Some((field, Some(span))) = foreign.iter().find(|(_, span)| span.is_some()) {
            let hint = if *kind.get_ref() == RawSinkType::Kafka {
                "; a record carries the event's key, value, headers and time as they are"
            } else {
                ""
            };
            return Err(self.error(
                span.clone(),
                format!(
                    "`{field}` does not apply to a `{}` sink{hint}",
                    kind.get_ref().as_str()
                ),
            ));
        }
        let format = keys.format.map_or(SinkFormat::Value, |f| *f.get_ref());
        if self.guarantee == Some(Guarantee::ExactlyOnce) && *kind.get_ref() != RawSinkType::File {
            // FIXME: exactly-once Kafka sinks (a transactional producer whose
            // transaction commits with the checkpoint) are not built yet.
            return Err(self.error(
                kind.span(),
                format!(
                    "{who} cannot take part in exactly-once checkpoints: a `{}` sink cannot \
                     take back what it wrote; use a `file` sink or set \
                     `mode = \"at-least-once\"` in `[checkpoints]`",
                    kind.get_ref().as_str()
                ),
            ));
        }
        match (kind.get_ref(), keys.path) {
            (RawSinkType::Kafka, _) => Ok(SinkKind::Kafka(self.kafka_sink(&keys)?)),
            (RawSinkType::Stdout, None) => Ok(SinkKind::Stdout { format }),
            (RawSinkType::Stdout, Some(path)) => {
                Err(self.error(path.span(), "`path` does not apply to a `stdout` sink"))
            }
            (RawSinkType::File, None) => Err(self.error(
                kind.span(),
                format!("a `{}` sink needs `path`", kind.get_ref().as_str()),
            )),
            (RawSinkType::File, Some(path)) => {
                let resolved = self.resolve(path.get_ref());
                self.claim_file(&resolved, who, true, Some(path.span()))?;
                Ok(SinkKind::File {
                    path: resolved,
                    format,
                })
            }
        }
    }

    /// Records that `who` reads (`writes == false`) or writes `path`. A
    /// file written by one user and read or written by another is an error:
    /// every output file is truncated when the pipeline starts.
    fn claim_file(
        &mut self,
        path: &Path,
        who: String,
        writes: bool,
        span: Option<Span>,
    ) -> Result<(), ConfigError> {
        let Some((first, first_writes, first_span)) = self.files.get(path).cloned() else {
            self.files.insert(path.to_path_buf(), (who, writes, span));
            return Ok(());
        };
        if !writes && !first_writes {
            return Ok(());
        }
        let message = if !first_writes {
            format!("{who} would overwrite the input of {first}")
        } else if !writes {
            format!("{first} would overwrite the input of {who}")
        } else if span.is_some() {
            format!("{who} writes to the same file as {first}")
        } else {
            format!("{first} writes to the same file as {who}")
        };
        let at = span.or(first_span).unwrap_or(0..0);
        Err(self.error(at, format!("{message}: `{}`", path.display())))
    }

    /// Resolves `path` and checks that it names an existing file.
    fn existing_file(&self, path: &Spanned<String>, what: &str) -> Result<PathBuf, ConfigError> {
        let written = path.get_ref();
        let resolved = self.resolve(written);
        match std::fs::metadata(&resolved) {
            Ok(meta) if meta.is_file() => Ok(resolved),
            Ok(_) => Err(self.error(
                path.span(),
                format!(
                    "{what} `{written}` is not a file (looked at `{}`)",
                    resolved.display()
                ),
            )),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(self.error(
                path.span(),
                format!(
                    "{what} `{written}` does not exist (looked for `{}`)",
                    resolved.display()
                ),
            )),
            Err(error) => Err(self.error(
                path.span(),
                format!("cannot read {what} `{}`: {error}", resolved.display()),
            )),
        }
    }

    /// `path` made absolute, relative to the pipeline file's directory.
    fn resolve(&self, path: &str) -> PathBuf {
        let joined = self.dir.join(path);
        std::path::absolute(&joined).unwrap_or(joined)
    }

    /// Checks a name's spelling and that no other `kind` has it.
    fn unique_name(
        &mut self,
        kind: &'static str,
        name: &Spanned<String>,
    ) -> Result<String, ConfigError> {
        let text = self.name(name)?;
        if let Some(first) = self.names.get(&(kind, text.clone())) {
            let (line, column) = super::line_column(self.text, first.start);
            return Err(self.error(
                name.span(),
                format!(
                    "duplicate {kind} name `{text}`, first used at line {line}, column {column}"
                ),
            ));
        }
        self.names.insert((kind, text.clone()), name.span());
        Ok(text)
    }

    /// Checks a name's spelling: it ends up in metric labels, logs, file
    /// names and Kafka headers.
    fn name(&self, name: &Spanned<String>) -> Result<String, ConfigError> {
        let text = name.get_ref();
        let valid = !text.is_empty()
            && text.len() <= MAX_NAME_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !valid {
            return Err(self.error(
                name.span(),
                format!(
                    "invalid name `{text}`, expected 1 to {MAX_NAME_LEN} ASCII letters, digits, \
                     `-`, `_` or `.`"
                ),
            ));
        }
        Ok(text.clone())
    }

    /// Checks `low <= value <= high`.
    fn range<T>(&self, value: &Spanned<T>, what: &str, low: T, high: T) -> Result<T, ConfigError>
    where
        T: Copy + PartialOrd + std::fmt::Display,
    {
        let v = *value.get_ref();
        if v < low || v > high {
            return Err(self.error(
                value.span(),
                format!("{what} must be between {low} and {high}, found {v}"),
            ));
        }
        Ok(v)
    }

    /// Checks a share: a number from 0 to 1.
    fn share(&self, value: &Spanned<f64>, what: &str) -> Result<f64, ConfigError> {
        let v = *value.get_ref();
        if !(0.0..=1.0).contains(&v) {
            return Err(self.error(
                value.span(),
                format!("{what} must be a share between 0 and 1, found {v}"),
            ));
        }
        Ok(v)
    }

    fn error(&self, span: Span, message: impl std::fmt::Display) -> ConfigError {
        ConfigError::at(self.path, self.text, span.start, message)
    }
}

/// A stage config value as the string the plugin receives; `Err` holds the
/// rest of a message ("holds …").
fn config_value(value: &toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        toml::Value::Datetime(d) => Ok(d.to_string()),
        toml::Value::Array(_) | toml::Value::Table(_) => {
            let mut out = Vec::new();
            json_value(&mut out, value)?;
            String::from_utf8(out).map_err(|_| "is not valid UTF-8 as JSON".to_string())
        }
    }
}

/// Appends a TOML value as compact JSON; dates become strings.
fn json_value(out: &mut Vec<u8>, value: &toml::Value) -> Result<(), String> {
    use crate::sink::encode::json_string;

    match value {
        toml::Value::String(s) => json_string(out, s),
        toml::Value::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
        toml::Value::Float(f) if f.is_finite() => out.extend_from_slice(f.to_string().as_bytes()),
        toml::Value::Float(f) => return Err(format!("holds {f}, which JSON cannot represent")),
        toml::Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        toml::Value::Datetime(d) => json_string(out, &d.to_string()),
        toml::Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json_value(out, item)?;
            }
            out.push(b']');
        }
        toml::Value::Table(table) => {
            out.push(b'{');
            for (i, (key, item)) in table.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json_string(out, key);
                out.push(b':');
                json_value(out, item)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}
