//! The pipeline file as written: serde structs that mirror the TOML.
//!
//! Every value a later check may complain about is a [`Spanned`], so that the
//! complaint can point at it. Nothing here checks meaning; `validate` turns
//! these structs into a [`PipelineConfig`](super::PipelineConfig).

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use serde_spanned::Spanned;

use super::{ErrorPolicy, GeneratedKind, SinkFormat};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a pipeline file")]
pub(super) struct RawPipeline {
    pub pipeline: Option<RawPipelineTable>,
    pub source: Option<Vec<RawSource>>,
    pub key_by: Option<Spanned<RawKeyBy>>,
    pub stage: Option<Vec<RawStage>>,
    pub sink: Option<Vec<RawSink>>,
    pub dead_letter: Option<RawDeadLetter>,
    pub event_time: Option<Spanned<RawEventTime>>,
    pub late: Option<RawDeadLetter>,
    pub checkpoints: Option<Spanned<RawCheckpoints>>,
}

/// `[checkpoints]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a `[checkpoints]` table")]
pub(super) struct RawCheckpoints {
    pub interval_ms: Option<Spanned<u64>>,
    pub keep: Option<Spanned<usize>>,
    pub mode: Option<Spanned<super::Guarantee>>,
    pub dir: Option<Spanned<String>>,
}

/// `[event_time]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an `[event_time]` table")]
pub(super) struct RawEventTime {
    pub field: Option<Spanned<String>>,
    pub format: Option<Spanned<super::TimeFormat>>,
    pub max_out_of_orderness_ms: Option<Spanned<u64>>,
    pub idle_timeout_ms: Option<Spanned<u64>>,
}

/// A window stage's `window = { type = …, size_ms = …, … }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a `window` table")]
pub(super) struct RawWindow {
    #[serde(rename = "type")]
    pub kind: Spanned<RawWindowType>,
    pub size_ms: Option<Spanned<u64>>,
    pub slide_ms: Option<Spanned<u64>>,
    pub gap_ms: Option<Spanned<u64>>,
}

impl RawWindow {
    pub fn kind_name(&self) -> &'static str {
        match self.kind.get_ref() {
            RawWindowType::Tumbling => "tumbling",
            RawWindowType::Sliding => "sliding",
            RawWindowType::Session => "session",
        }
    }
}

/// A dedupe stage's `dedupe = { field = …, within_ms = … }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a `dedupe` table")]
pub(super) struct RawDedupe {
    pub field: Spanned<String>,
    pub within_ms: Spanned<u64>,
}

/// A window's `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum RawWindowType {
    Tumbling,
    Sliding,
    Session,
}

/// One of a window stage's `aggregates = [ { function = …, field = … } ]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an aggregate table")]
pub(super) struct RawAggregate {
    pub function: Spanned<String>,
    pub field: Option<Spanned<String>>,
    pub name: Option<Spanned<String>>,
}

/// `[pipeline]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a `[pipeline]` table")]
pub(super) struct RawPipelineTable {
    pub name: Option<Spanned<String>>,
    pub parallelism: Option<Spanned<u32>>,
    pub key_groups: Option<Spanned<u32>>,
    pub batch_size: Option<Spanned<usize>>,
    pub batch_linger_ms: Option<Spanned<u64>>,
    pub channel_capacity: Option<Spanned<usize>>,
    pub state_dir: Option<Spanned<String>>,
}

/// `[[source]]`: one flat table for every source type; `validate` rejects
/// the keys that do not belong to the chosen `type`. (A serde tagged enum
/// would lose the location of every error inside the table.)
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a `[[source]]` table")]
pub(super) struct RawSource {
    pub name: Spanned<String>,
    #[serde(rename = "type")]
    pub kind: Spanned<RawSourceType>,
    pub events: Option<Spanned<GeneratedKind>>,
    pub count: Option<Spanned<u64>>,
    pub rate: Option<Spanned<f64>>,
    pub seed: Option<Spanned<u64>>,
    pub partitions: Option<Spanned<u32>>,
    pub out_of_order: Option<Spanned<f64>>,
    pub max_delay_ms: Option<Spanned<u64>>,
    pub malformed: Option<Spanned<f64>>,
    pub start_time_ms: Option<Spanned<i64>>,
    pub interval_ms: Option<Spanned<u64>>,
    pub path: Option<Spanned<String>>,
    pub follow: Option<Spanned<bool>>,
    // `kafka`
    pub brokers: Option<Spanned<String>>,
    pub topics: Option<Spanned<Vec<String>>>,
    pub topic_pattern: Option<Spanned<String>>,
    pub group: Option<Spanned<String>>,
    pub start: Option<Spanned<toml::Value>>,
    pub commit_interval_ms: Option<Spanned<u64>>,
    pub properties: Option<Spanned<toml::Table>>,
}

/// A source's `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum RawSourceType {
    Generator,
    File,
    Stdin,
    Kafka,
}

impl RawSourceType {
    pub fn as_str(self) -> &'static str {
        match self {
            RawSourceType::Generator => "generator",
            RawSourceType::File => "file",
            RawSourceType::Stdin => "stdin",
            RawSourceType::Kafka => "kafka",
        }
    }
}

/// `[key_by]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a `[key_by]` table")]
pub(super) struct RawKeyBy {
    pub field: Option<Spanned<String>>,
    pub event_key: Option<Spanned<bool>>,
}

/// `[[stage]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a `[[stage]]` table")]
pub(super) struct RawStage {
    pub name: Spanned<String>,
    pub plugin: Option<Spanned<String>>,
    pub window: Option<Spanned<RawWindow>>,
    pub dedupe: Option<Spanned<RawDedupe>>,
    pub aggregates: Option<Spanned<Vec<RawAggregate>>>,
    pub aggregator: Option<Spanned<String>>,
    pub allowed_lateness_ms: Option<Spanned<u64>>,
    pub config: Option<Spanned<toml::Table>>,
    pub limits: Option<RawLimits>,
    pub on_error: Option<Spanned<ErrorPolicy>>,
}

/// A stage's `limits = { ... }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a `limits` table")]
pub(super) struct RawLimits {
    pub memory_mib: Option<Spanned<u64>>,
    pub timeout_ms: Option<Spanned<u64>>,
    pub max_output_mib: Option<Spanned<u64>>,
}

/// `[[sink]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a `[[sink]]` table")]
pub(super) struct RawSink {
    pub name: Spanned<String>,
    #[serde(rename = "type")]
    pub kind: Spanned<RawSinkType>,
    pub path: Option<Spanned<String>>,
    pub format: Option<Spanned<SinkFormat>>,
    // `kafka`
    pub brokers: Option<Spanned<String>>,
    pub topic: Option<Spanned<String>>,
    pub topic_header: Option<Spanned<String>>,
    pub compression: Option<Spanned<String>>,
    pub properties: Option<Spanned<toml::Table>>,
}

/// `[dead_letter]` and `[late]`: a sink whose name is optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a sink table")]
pub(super) struct RawDeadLetter {
    pub name: Option<Spanned<String>>,
    #[serde(rename = "type")]
    pub kind: Spanned<RawSinkType>,
    pub path: Option<Spanned<String>>,
    pub format: Option<Spanned<SinkFormat>>,
    // `kafka`
    pub brokers: Option<Spanned<String>>,
    pub topic: Option<Spanned<String>>,
    pub topic_header: Option<Spanned<String>>,
    pub compression: Option<Spanned<String>>,
    pub properties: Option<Spanned<toml::Table>>,
}

/// The keys of `[[sink]]`, `[dead_letter]` and `[late]` besides the name.
pub(super) struct SinkKeys<'a> {
    pub kind: &'a Spanned<RawSinkType>,
    pub path: Option<&'a Spanned<String>>,
    pub format: Option<&'a Spanned<SinkFormat>>,
    pub brokers: Option<&'a Spanned<String>>,
    pub topic: Option<&'a Spanned<String>>,
    pub topic_header: Option<&'a Spanned<String>>,
    pub compression: Option<&'a Spanned<String>>,
    pub properties: Option<&'a Spanned<toml::Table>>,
}

macro_rules! sink_keys {
    ($raw:ty) => {
        impl $raw {
            pub fn keys(&self) -> SinkKeys<'_> {
                SinkKeys {
                    kind: &self.kind,
                    path: self.path.as_ref(),
                    format: self.format.as_ref(),
                    brokers: self.brokers.as_ref(),
                    topic: self.topic.as_ref(),
                    topic_header: self.topic_header.as_ref(),
                    compression: self.compression.as_ref(),
                    properties: self.properties.as_ref(),
                }
            }
        }
    };
}
sink_keys!(RawSink);
sink_keys!(RawDeadLetter);

/// A sink's `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum RawSinkType {
    Stdout,
    File,
    Kafka,
}

impl RawSinkType {
    pub fn as_str(self) -> &'static str {
        match self {
            RawSinkType::Stdout => "stdout",
            RawSinkType::File => "file",
            RawSinkType::Kafka => "kafka",
        }
    }
}

/// `on_error = "dlq" | "skip" | "fail"` or `on_error = { retry = N }`.
///
/// Written by hand rather than derived so that `on_error = "retry"` gets a
/// message that shows the right form instead of serde's "expected newtype
/// variant".
impl<'de> Deserialize<'de> for ErrorPolicy {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PolicyVisitor)
    }
}

const POLICY_FORMS: &str = "`\"dlq\"`, `\"skip\"`, `\"fail\"` or `{ retry = <attempts> }`";

struct PolicyVisitor;

impl<'de> Visitor<'de> for PolicyVisitor {
    type Value = ErrorPolicy;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{POLICY_FORMS}")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<ErrorPolicy, E> {
        match value {
            "dlq" => Ok(ErrorPolicy::DeadLetter),
            "skip" => Ok(ErrorPolicy::Skip),
            "fail" => Ok(ErrorPolicy::Fail),
            "retry" => Err(E::custom(
                "`retry` needs a number of attempts, as in `on_error = { retry = 3 }`",
            )),
            other => Err(E::custom(format!(
                "unknown error policy `{other}`, expected {POLICY_FORMS}"
            ))),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ErrorPolicy, A::Error> {
        let Some(key) = map.next_key::<String>()? else {
            return Err(de::Error::custom(format!(
                "empty error policy, expected {POLICY_FORMS}"
            )));
        };
        if key != "retry" {
            return Err(de::Error::custom(format!(
                "unknown error policy `{key}`, expected {POLICY_FORMS}"
            )));
        }
        let attempts: u32 = map.next_value()?;
        if let Some(extra) = map.next_key::<String>()? {
            return Err(de::Error::custom(format!(
                "unexpected `{extra}` after `retry`, expected {POLICY_FORMS}"
            )));
        }
        Ok(ErrorPolicy::Retry { attempts })
    }
}
