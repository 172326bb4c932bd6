//! Dead-letter records: a [`DeadLetter`] turned into an [`Event`] that any
//! sink can write.
//!
//! # The record
//!
//! The value is one compact JSON object with its fields in this order:
//!
//! | field | content |
//! |---|---|
//! | `kind` | the [`ErrorKind`](crate::event::ErrorKind) name: `malformed`, `rejected`, `trap`, `timeout`, `memory`, `invalid-output` |
//! | `message` | the error message, a JSON string |
//! | `stage` | the stage's name, or `null` when the source or key-by refused the event |
//! | `plugin` | the plugin digest (`sha256:…`), or `null` |
//! | `source` | `{"name":…,"partition":…,"offset":…}`, the event's source position; `{"name":…,"topic":…,"partition":…,"offset":…}` for a Kafka record |
//! | `event` | the event as [`encode::envelope`] writes it: `{"key":…,"value":…,"headers":{…},"time":…}` |
//!
//! ```text
//! {"kind":"rejected","message":"amount is negative","stage":"validate","plugin":"sha256:ab12","source":{"name":"payments","partition":1,"offset":42},"event":{"key":"c-0131","value":{"id":"p-0000000042","amount":-5},"headers":{},"time":1767225600420}}
//! ```
//!
//! Strings are escaped and the key and value encoded as [`encode`]
//! describes (the JSON itself when the bytes are valid JSON, else a string,
//! else `{"base64":…}`), so the same letter always gives the same bytes.
//!
//! The event keeps the original key, time and position, and carries these
//! headers, in this order, for outputs such as Kafka that can filter on
//! headers: `weir.error.kind`, `weir.error.message`, `weir.error.stage`
//! (only when there is a stage), `weir.source.name`, `weir.source.topic`
//! (only for a Kafka record), `weir.source.partition` and
//! `weir.source.offset` (decimal numbers).

use super::encode;
use crate::event::{DeadLetter, Event};

/// Header holding the error kind.
pub const HEADER_ERROR_KIND: &str = "weir.error.kind";
/// Header holding the error message.
pub const HEADER_ERROR_MESSAGE: &str = "weir.error.message";
/// Header holding the stage name, present only when a stage refused the event.
pub const HEADER_ERROR_STAGE: &str = "weir.error.stage";
/// Header holding the source name.
pub const HEADER_SOURCE_NAME: &str = "weir.source.name";
/// Header holding the Kafka topic the record was read from, present only
/// for Kafka records.
pub const HEADER_SOURCE_TOPIC: &str = "weir.source.topic";
/// Header holding the source partition, in decimal.
pub const HEADER_SOURCE_PARTITION: &str = "weir.source.partition";
/// Header holding the offset within the source partition, in decimal.
pub const HEADER_SOURCE_OFFSET: &str = "weir.source.offset";

/// The dead-letter record for `letter` (see the module docs).
pub fn to_event(letter: &DeadLetter) -> Event {
    let event = &letter.event;
    let position = &event.position;

    let mut value = Vec::with_capacity(event.value.len() + letter.message.len() + 192);
    value.extend_from_slice(b"{\"kind\":");
    encode::json_string(&mut value, letter.kind.as_str());
    value.extend_from_slice(b",\"message\":");
    encode::json_string(&mut value, &letter.message);
    value.extend_from_slice(b",\"stage\":");
    string_or_null(&mut value, letter.stage.as_deref());
    value.extend_from_slice(b",\"plugin\":");
    string_or_null(&mut value, letter.plugin.as_deref());
    value.extend_from_slice(b",\"source\":{\"name\":");
    encode::json_string(&mut value, &position.source);
    if let Some(topic) = &position.topic {
        value.extend_from_slice(b",\"topic\":");
        encode::json_string(&mut value, topic);
    }
    value.extend_from_slice(format!(",\"partition\":{}", position.partition).as_bytes());
    value.extend_from_slice(format!(",\"offset\":{}}}", position.offset).as_bytes());
    value.extend_from_slice(b",\"event\":");
    encode::envelope(&mut value, event);
    value.push(b'}');

    let mut headers = Vec::with_capacity(7);
    headers.push((
        HEADER_ERROR_KIND.to_string(),
        letter.kind.as_str().as_bytes().to_vec(),
    ));
    headers.push((
        HEADER_ERROR_MESSAGE.to_string(),
        letter.message.as_bytes().to_vec(),
    ));
    if let Some(stage) = &letter.stage {
        headers.push((HEADER_ERROR_STAGE.to_string(), stage.as_bytes().to_vec()));
    }
    headers.push((
        HEADER_SOURCE_NAME.to_string(),
        position.source.as_bytes().to_vec(),
    ));
    if let Some(topic) = &position.topic {
        headers.push((HEADER_SOURCE_TOPIC.to_string(), topic.as_bytes().to_vec()));
    }
    headers.push((
        HEADER_SOURCE_PARTITION.to_string(),
        position.partition.to_string().into_bytes(),
    ));
    headers.push((
        HEADER_SOURCE_OFFSET.to_string(),
        position.offset.to_string().into_bytes(),
    ));

    Event {
        key: event.key.clone(),
        value,
        headers,
        time: event.time,
        position: position.clone(),
        route_key: None,
    }
}

fn string_or_null(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(s) => encode::json_string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::{ErrorKind, SourcePosition};

    fn event(value: &[u8]) -> Event {
        Event {
            key: Some(b"c-0131".to_vec()),
            value: value.to_vec(),
            headers: vec![("trace".to_string(), b"t-1".to_vec())],
            time: 1_767_225_600_420,
            position: SourcePosition {
                source: Arc::from("payments"),
                topic: None,
                partition: 1,
                offset: 42,
            },
            route_key: None,
        }
    }

    fn text(event: &Event) -> &str {
        std::str::from_utf8(&event.value).unwrap()
    }

    #[test]
    fn a_rejected_event_names_stage_plugin_and_position() {
        let letter = DeadLetter {
            event: event(br#"{"id":"p-0000000042","amount":-5}"#),
            kind: ErrorKind::Rejected,
            message: "amount is negative".to_string(),
            stage: Some(Arc::from("validate")),
            plugin: Some(Arc::from("sha256:ab12")),
        };
        let out = to_event(&letter);
        assert_eq!(
            text(&out),
            r#"{"kind":"rejected","message":"amount is negative","stage":"validate","plugin":"sha256:ab12","source":{"name":"payments","partition":1,"offset":42},"event":{"key":"c-0131","value":{"id":"p-0000000042","amount":-5},"headers":{"trace":"t-1"},"time":1767225600420}}"#
        );
        let headers: Vec<(&str, &str)> = out
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), std::str::from_utf8(v).unwrap()))
            .collect();
        assert_eq!(
            headers,
            [
                ("weir.error.kind", "rejected"),
                ("weir.error.message", "amount is negative"),
                ("weir.error.stage", "validate"),
                ("weir.source.name", "payments"),
                ("weir.source.partition", "1"),
                ("weir.source.offset", "42"),
            ]
        );
        assert_eq!(out.key.as_deref(), Some(&b"c-0131"[..]));
        assert_eq!(out.time, 1_767_225_600_420);
        assert_eq!(out.position, letter.event.position);
    }

    #[test]
    fn malformed_input_is_kept_as_a_string_and_stage_is_null() {
        let mut bad = event(br#"{"id":"p-0000000007","card":"#);
        bad.key = None;
        bad.headers.clear();
        let letter = DeadLetter {
            event: bad,
            kind: ErrorKind::Malformed,
            message: "invalid JSON: unexpected end of input at byte 27".to_string(),
            stage: None,
            plugin: None,
        };
        let out = to_event(&letter);
        assert_eq!(
            text(&out),
            r#"{"kind":"malformed","message":"invalid JSON: unexpected end of input at byte 27","stage":null,"plugin":null,"source":{"name":"payments","partition":1,"offset":42},"event":{"key":null,"value":"{\"id\":\"p-0000000007\",\"card\":","headers":{},"time":1767225600420}}"#
        );
        let names: Vec<&str> = out.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "weir.error.kind",
                "weir.error.message",
                "weir.source.name",
                "weir.source.partition",
                "weir.source.offset"
            ]
        );
    }

    #[test]
    fn a_kafka_record_names_its_topic() {
        let mut event = event(b"not json");
        event.position.topic = Some(Arc::from("payments-in"));
        let letter = DeadLetter {
            event,
            kind: ErrorKind::Malformed,
            message: "value is not json".to_string(),
            stage: None,
            plugin: None,
        };
        let out = to_event(&letter);
        assert!(
            text(&out).contains(
                r#""source":{"name":"payments","topic":"payments-in","partition":1,"offset":42}"#
            ),
            "{}",
            text(&out)
        );
        assert_eq!(out.header("weir.source.topic"), Some(&b"payments-in"[..]));
    }

    #[test]
    fn messages_are_escaped_and_binary_values_are_base64() {
        let letter = DeadLetter {
            event: event(&[0xff, 0xfe, b'x']),
            kind: ErrorKind::Trap,
            message: "panicked at \"src/lib.rs\":3\n\tbacktrace".to_string(),
            stage: Some(Arc::from("enrich")),
            plugin: Some(Arc::from("sha256:00")),
        };
        assert_eq!(
            text(&to_event(&letter)),
            r#"{"kind":"trap","message":"panicked at \"src/lib.rs\":3\n\tbacktrace","stage":"enrich","plugin":"sha256:00","source":{"name":"payments","partition":1,"offset":42},"event":{"key":"c-0131","value":{"base64":"//54"},"headers":{"trace":"t-1"},"time":1767225600420}}"#
        );
    }
}
