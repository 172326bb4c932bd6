//! The keys of `kafka` sources and sinks.

use std::time::Duration;

use serde_spanned::Spanned;

use super::{Checker, Span};
use crate::config::raw::{RawSource, SinkKeys};
use crate::config::{
    ConfigError, KafkaCompression, KafkaSinkConfig, KafkaSourceConfig, KafkaStart, KafkaTopics,
};

/// Longest commit interval: one hour.
const MAX_COMMIT_INTERVAL_MS: u64 = 3_600_000;

/// librdkafka settings weir sets itself, and why a pipeline may not.
const SOURCE_OWNED: [(&str, &str); 6] = [
    ("bootstrap.servers", "set `brokers` instead"),
    ("group.id", "set `group` instead"),
    ("auto.offset.reset", "set `start` instead"),
    (
        "enable.auto.commit",
        "weir commits an offset only once everything before it has reached the sinks",
    ),
    (
        "enable.auto.offset.store",
        "weir commits an offset only once everything before it has reached the sinks",
    ),
    (
        "enable.partition.eof",
        "weir reads a topic as an endless stream",
    ),
];
const SINK_OWNED: [(&str, &str); 2] = [
    ("bootstrap.servers", "set `brokers` instead"),
    ("compression.type", "set `compression` instead"),
];

impl Checker<'_> {
    pub(super) fn kafka_source(&self, raw: &RawSource) -> Result<KafkaSourceConfig, ConfigError> {
        let at = raw.kind.span();
        let brokers = self.brokers(raw.brokers.as_ref(), at.clone(), "source")?;
        let topics = match (&raw.topics, &raw.topic_pattern) {
            (Some(_), Some(pattern)) => {
                return Err(self.error(
                    pattern.span(),
                    "a `kafka` source takes `topics` or `topic_pattern`, not both",
                ));
            }
            (Some(topics), None) => {
                if topics.get_ref().is_empty() {
                    return Err(self.error(topics.span(), "`topics` is empty"));
                }
                for topic in topics.get_ref() {
                    if let Err(why) = topic_name(topic) {
                        return Err(self.error(topics.span(), why));
                    }
                }
                KafkaTopics::Names(topics.get_ref().clone())
            }
            (None, Some(pattern)) => {
                let text = pattern.get_ref();
                if text.is_empty() {
                    return Err(self.error(pattern.span(), "`topic_pattern` is empty"));
                }
                // librdkafka takes a subscription starting with `^` as a
                // regular expression.
                let regex = if text.starts_with('^') {
                    text.clone()
                } else {
                    format!("^{text}")
                };
                KafkaTopics::Pattern(regex)
            }
            (None, None) => {
                return Err(self.error(
                    at,
                    "a `kafka` source needs `topics = [\"<topic>\", …]` or `topic_pattern = \
                     \"<regex>\"`",
                ));
            }
        };
        let Some(group) = &raw.group else {
            return Err(self.error(
                at,
                "a `kafka` source needs `group`, the consumer group whose committed offsets it \
                 resumes from",
            ));
        };
        if group.get_ref().trim().is_empty() {
            return Err(self.error(group.span(), "`group` is empty"));
        }
        let start = match &raw.start {
            Some(start) => self.start(start)?,
            None => KafkaStart::Earliest,
        };
        let commit_ms = match &raw.commit_interval_ms {
            Some(ms) => self.range(ms, "commit_interval_ms", 1, MAX_COMMIT_INTERVAL_MS)?,
            None => KafkaSourceConfig::DEFAULT_COMMIT_INTERVAL_MS,
        };
        let properties = self.properties(raw.properties.as_ref(), &SOURCE_OWNED)?;
        Ok(KafkaSourceConfig {
            brokers,
            topics,
            group: group.get_ref().clone(),
            start,
            commit_interval: Duration::from_millis(commit_ms),
            properties,
        })
    }

    pub(super) fn kafka_sink(&self, keys: &SinkKeys<'_>) -> Result<KafkaSinkConfig, ConfigError> {
        let at = keys.kind.span();
        let brokers = self.brokers(keys.brokers, at.clone(), "sink")?;
        let Some(topic) = keys.topic else {
            return Err(self.error(
                at,
                "a `kafka` sink needs `topic`, where events go (unless `topic_header` names \
                 another)",
            ));
        };
        if let Err(why) = topic_name(topic.get_ref()) {
            return Err(self.error(topic.span(), why));
        }
        let topic_header = match keys.topic_header {
            Some(header) if header.get_ref().is_empty() => {
                return Err(self.error(header.span(), "`topic_header` is empty"));
            }
            Some(header) => Some(header.get_ref().clone()),
            None => None,
        };
        let compression = match keys.compression {
            None => KafkaCompression::None,
            Some(name) => {
                let found = KafkaCompression::ALL
                    .iter()
                    .find(|(n, _)| n == name.get_ref());
                let Some((_, codec)) = found else {
                    return Err(self.error(
                        name.span(),
                        format!(
                            "unknown compression `{}`, expected `none`, `gzip`, `snappy`, `lz4` \
                             or `zstd`",
                            name.get_ref()
                        ),
                    ));
                };
                *codec
            }
        };
        let properties = self.properties(keys.properties, &SINK_OWNED)?;
        Ok(KafkaSinkConfig {
            brokers,
            topic: topic.get_ref().clone(),
            topic_header,
            compression,
            properties,
        })
    }

    fn brokers(
        &self,
        brokers: Option<&Spanned<String>>,
        at: Span,
        what: &str,
    ) -> Result<String, ConfigError> {
        let Some(brokers) = brokers else {
            return Err(self.error(
                at,
                format!("a `kafka` {what} needs `brokers = \"<host>:<port>,…\"`"),
            ));
        };
        for broker in brokers.get_ref().split(',') {
            let broker = broker.trim();
            let port = broker
                .rsplit_once(':')
                .map(|(host, port)| (host, port.parse::<u16>()));
            if !matches!(port, Some((host, Ok(_))) if !host.is_empty()) {
                return Err(self.error(
                    brokers.span(),
                    format!("invalid broker `{broker}`, expected `<host>:<port>`"),
                ));
            }
        }
        Ok(brokers.get_ref().clone())
    }

    /// `where = "earliest" | "latest" | "committed" | { timestamp_ms = … }`.
    fn start(&self, start: &Spanned<toml::Value>) -> Result<KafkaStart, ConfigError> {
        const FORMS: &str =
            "`\"earliest\"`, `\"latest\"`, `\"committed\"` or `{ timestamp_ms = <ms> }`";
        match start.get_ref() {
            toml::Value::String(name) => match name.as_str() {
                "earliest" => Ok(KafkaStart::Earliest),
                "latest" => Ok(KafkaStart::Latest),
                "committed" => Ok(KafkaStart::Committed),
                other => Err(self.error(
                    start.span(),
                    format!("unknown start `{other}`, expected {FORMS}"),
                )),
            },
            toml::Value::Table(table) => match table.get("timestamp_ms") {
                Some(toml::Value::Integer(ms)) if table.len() == 1 && *ms >= 0 => {
                    Ok(KafkaStart::Timestamp(*ms))
                }
                _ => Err(self.error(
                    start.span(),
                    format!("invalid start, expected {FORMS} with a non-negative timestamp"),
                )),
            },
            _ => Err(self.error(start.span(), format!("invalid start, expected {FORMS}"))),
        }
    }

    /// `properties = { "name" = value, … }` as strings; `owned` are the
    /// settings weir makes itself.
    fn properties(
        &self,
        properties: Option<&Spanned<toml::Table>>,
        owned: &[(&str, &str)],
    ) -> Result<Vec<(String, String)>, ConfigError> {
        let Some(properties) = properties else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (name, value) in properties.get_ref() {
            if let Some((_, why)) = owned.iter().find(|(n, _)| n == name) {
                return Err(self.error(
                    properties.span(),
                    format!("`properties` may not set `{name}`: {why}"),
                ));
            }
            let text = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                _ => {
                    return Err(self.error(
                        properties.span(),
                        format!(
                            "property `{name}` must be a string, number or boolean, as \
                             librdkafka takes it"
                        ),
                    ));
                }
            };
            out.push((name.clone(), text));
        }
        Ok(out)
    }
}

/// Checks a topic name as Kafka does: 1 to 249 of `[a-zA-Z0-9._-]`, not
/// `.` or `..`.
fn topic_name(topic: &str) -> Result<(), String> {
    let valid = !topic.is_empty()
        && topic.len() <= 249
        && topic != "."
        && topic != ".."
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid topic `{topic}`, expected 1 to 249 ASCII letters, digits, `.`, `_` or `-`"
        ))
    }
}
