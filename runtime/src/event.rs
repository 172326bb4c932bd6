//! The event: what flows through a pipeline, and where it came from.
//!
//! Events are owned and cheap to move: bytes are `Vec<u8>`, headers a small
//! vector. Every event remembers its [`SourcePosition`] so that a dead letter
//! can name the record that caused it and, later, so that checkpoints can say
//! how far each source has been read.

use std::fmt;
use std::sync::Arc;

/// One event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The event's key, if it has one (a Kafka record key, for instance).
    pub key: Option<Vec<u8>>,
    /// The payload; JSON for every built-in source and plugin.
    pub value: Vec<u8>,
    /// Named byte values travelling with the event, in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Event time in milliseconds since the Unix epoch.
    pub time: i64,
    /// The source record this event came from.
    pub position: SourcePosition,
    /// The key key-by found when the event entered the pipeline (`None`
    /// when keying by source partition). Windows group by it, so a stage
    /// that rewrites the key field does not move the event to another key.
    pub route_key: Option<Arc<[u8]>>,
}

impl Event {
    /// An event with only a value, at time 0, from an unnamed position.
    pub fn from_value(value: impl Into<Vec<u8>>) -> Self {
        Event {
            key: None,
            value: value.into(),
            headers: Vec::new(),
            time: 0,
            position: SourcePosition::default(),
            route_key: None,
        }
    }

    /// The value of the first header called `name`.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// Where an event was read: which source, which of its partitions, which
/// record in that partition.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SourcePosition {
    /// The source's name in the pipeline file.
    pub source: Arc<str>,
    /// The Kafka topic the record was read from; `None` for other sources.
    pub topic: Option<Arc<str>>,
    /// The partition within the source (0 for sources with one; the topic's
    /// partition for Kafka).
    pub partition: u32,
    /// The record's offset within the partition: a line number (from 0) for
    /// files and stdin, a sequence number for the generator.
    pub offset: u64,
}

impl fmt::Display for SourcePosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.topic {
            Some(topic) => write!(
                f,
                "{}:{topic}[{}]@{}",
                self.source, self.partition, self.offset
            ),
            None => write!(f, "{}[{}]@{}", self.source, self.partition, self.offset),
        }
    }
}

/// Why an event left the main flow for the dead-letter output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The input could not be read as the pipeline requires (not JSON, no key
    /// field, no usable time).
    Malformed,
    /// A plugin rejected the event with a reason (a validator's verdict, or an
    /// error a transform returned for it).
    Rejected,
    /// The plugin trapped (a panic, `unreachable`, a stack overflow, an
    /// exception) while processing the event.
    Trap,
    /// The plugin ran past its time limit.
    Timeout,
    /// The plugin ran out of its memory limit.
    Memory,
    /// The plugin returned something weir cannot accept: a malformed batch,
    /// invalid UTF-8 where text is expected, more output than allowed.
    InvalidOutput,
}

impl ErrorKind {
    /// Every kind, in a fixed order; used to pre-register metric labels.
    pub const ALL: [ErrorKind; 6] = [
        ErrorKind::Malformed,
        ErrorKind::Rejected,
        ErrorKind::Trap,
        ErrorKind::Timeout,
        ErrorKind::Memory,
        ErrorKind::InvalidOutput,
    ];

    /// The kind's name in dead letters, logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Malformed => "malformed",
            ErrorKind::Rejected => "rejected",
            ErrorKind::Trap => "trap",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Memory => "memory",
            ErrorKind::InvalidOutput => "invalid-output",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event that could not be processed, with everything needed to find out
/// why and to replay it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// The event as it entered the stage that refused it (or as read, for
    /// malformed input).
    pub event: Event,
    /// What went wrong.
    pub kind: ErrorKind,
    /// The error message (a plugin's reason, a trap message, a parse error).
    pub message: String,
    /// The stage that refused the event; `None` when the source or key-by did.
    pub stage: Option<Arc<str>>,
    /// The digest of the plugin that refused it (`sha256:…`), if a plugin did.
    pub plugin: Option<Arc<str>>,
}
