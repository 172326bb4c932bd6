//! Event time and watermarks: reading an event's time, generating a
//! watermark per source partition, and merging the watermarks of a worker's
//! inputs.
//!
//! A watermark `W` promises that no more events with time `<= W` will come.
//! Each source partition's watermark is `newest time seen -
//! max_out_of_orderness - 1`; a router (one per source thread, reading one
//! partition or, for Kafka, every partition assigned to it) sends the
//! minimum over its partitions that are not idle in-band to every worker,
//! after the events it covers. A worker's watermark is the minimum over its inputs,
//! leaving out inputs that declared themselves idle, and never goes back.
//! An ended input counts as `i64::MAX`, so the end of every source completes
//! every window.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{EventTime, TimeFormat};
use crate::event::SourcePosition;

/// Reads the event time of a JSON value per `spec`; `record_time` is what
/// the source gave the record (used when `spec` names no field).
///
/// # Errors
///
/// Why the value has no usable time, for the dead letter.
pub fn event_time(spec: &EventTime, value: &[u8], record_time: i64) -> Result<i64, String> {
    let Some(field) = &spec.field else {
        return Ok(record_time);
    };
    let raw = match weir_json::find(value, field) {
        Ok(Some(raw)) => raw,
        Ok(None) => return Err(format!("event-time field `{field}` is missing")),
        Err(error) => return Err(format!("value is not json: {error}")),
    };
    let bad = |what: &str| {
        format!(
            "event-time field `{field}` is not {what}: {}",
            String::from_utf8_lossy(&raw[..raw.len().min(64)])
        )
    };
    match (spec.format, weir_json::scalar(raw)) {
        (TimeFormat::EpochMs, weir_json::Scalar::Number(ms)) if in_range(ms) => Ok(ms as i64),
        (TimeFormat::EpochMs, _) => Err(bad("a number of milliseconds since the epoch")),
        (TimeFormat::EpochS, weir_json::Scalar::Number(s)) if in_range(s * 1000.0) => {
            Ok((s * 1000.0).round() as i64)
        }
        (TimeFormat::EpochS, _) => Err(bad("a number of seconds since the epoch")),
        (TimeFormat::Rfc3339, weir_json::Scalar::String(text)) => {
            parse_rfc3339(&text).ok_or_else(|| bad("an rfc 3339 timestamp"))
        }
        (TimeFormat::Rfc3339, _) => Err(bad("an rfc 3339 timestamp")),
    }
}

/// Whether a number of milliseconds is a usable time (about ±285 000 years).
fn in_range(ms: f64) -> bool {
    ms.is_finite() && ms.abs() < 9.0e18
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` into milliseconds since
/// the Unix epoch. `t` and `z` may be lower case; a space may separate date
/// and time.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = b.get(range)?;
        digits.iter().all(u8::is_ascii_digit).then(|| {
            digits
                .iter()
                .fold(0i64, |n, d| n * 10 + i64::from(d - b'0'))
        })
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let separators = [b[4], b[7], b[10], b[13], b[16]];
    if separators[0] != b'-' || separators[1] != b'-' || separators[3] != b':' {
        return None;
    }
    if !matches!(separators[2], b'T' | b't' | b' ') || separators[4] != b':' {
        return None;
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut at = 19;
    let mut millis = 0i64;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            if at - start < 3 {
                millis = millis * 10 + i64::from(b[at] - b'0');
            }
            at += 1;
        }
        if at == start {
            return None;
        }
        for _ in (at - start)..3 {
            millis *= 10;
        }
    }
    let offset_minutes = match b.get(at..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let d = |x: u8| i64::from(x - b'0');
            let minutes =
                (d(digits[0]) * 10 + d(digits[1])) * 60 + d(digits[2]) * 10 + d(digits[3]);
            if *sign == b'-' { -minutes } else { minutes }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The watermark of one source partition: bounded out-of-orderness.
#[derive(Clone, Debug)]
pub struct PartitionWatermark {
    bound: i64,
    newest: Option<i64>,
}

impl PartitionWatermark {
    /// A generator allowing events up to `bound` ms behind the newest.
    pub fn new(bound: i64) -> Self {
        PartitionWatermark {
            bound,
            newest: None,
        }
    }

    /// Notes an event's time.
    pub fn observe(&mut self, time: i64) {
        self.newest = Some(self.newest.map_or(time, |n| n.max(time)));
    }

    /// The current watermark; `i64::MIN` before the first event.
    pub fn current(&self) -> i64 {
        self.newest
            .map_or(i64::MIN, |n| n.saturating_sub(self.bound).saturating_sub(1))
    }
}

/// The watermarks of the partitions one router reads, merged by minimum
/// over those that are not idle: one partition for most sources, every
/// partition assigned to a Kafka consumer. A partition joins when its first
/// event arrives.
///
/// FIXME: a Kafka partition assigned but not yet read from holds nothing
/// back, so a backlog read from one partition first can make the others'
/// first records late; assigned partitions should join at assignment.
#[derive(Clone, Debug)]
pub struct SourceWatermarks {
    bound: i64,
    /// The least watermark it reports (a restored checkpoint's).
    floor: i64,
    parts: Vec<Part>,
    /// The part of the previous event; consecutive events mostly share it.
    last: usize,
}

#[derive(Clone, Debug)]
struct Part {
    topic: Option<Arc<str>>,
    partition: u32,
    watermark: PartitionWatermark,
    /// Whether an event arrived since the last idleness check.
    active: bool,
    /// When the last idleness check saw it active.
    seen: Instant,
    idle: bool,
}

impl SourceWatermarks {
    /// No partitions yet; each allows events up to `bound` ms behind its
    /// newest.
    pub fn new(bound: i64) -> Self {
        SourceWatermarks {
            bound,
            floor: i64::MIN,
            parts: Vec::new(),
            last: 0,
        }
    }

    /// Never reports less than `floor`: the watermark a restored checkpoint
    /// recorded, which the replayed events must not move back.
    pub fn with_floor(self, floor: i64) -> Self {
        SourceWatermarks { floor, ..self }
    }

    /// Notes an event's time in its partition.
    pub fn observe(&mut self, position: &SourcePosition, time: i64) {
        let same = |p: &Part| p.partition == position.partition && p.topic == position.topic;
        let index = match self.parts.get(self.last) {
            Some(part) if same(part) => self.last,
            _ => match self.parts.iter().position(same) {
                Some(i) => i,
                None => {
                    self.parts.push(Part {
                        topic: position.topic.clone(),
                        partition: position.partition,
                        watermark: PartitionWatermark::new(self.bound),
                        active: false,
                        seen: Instant::now(),
                        idle: false,
                    });
                    self.parts.len() - 1
                }
            },
        };
        self.last = index;
        let part = &mut self.parts[index];
        part.watermark.observe(time);
        part.active = true;
        part.idle = false;
    }

    /// Marks the partitions without events for `timeout` (up to `now`) as
    /// idle; returns whether every partition is idle.
    pub fn check_idle(&mut self, now: Instant, timeout: Duration) -> bool {
        for part in &mut self.parts {
            if std::mem::take(&mut part.active) {
                part.seen = now;
            } else if now.saturating_duration_since(part.seen) >= timeout {
                part.idle = true;
            }
        }
        self.parts.iter().all(|p| p.idle)
    }

    /// The minimum watermark over partitions that are not idle, at least
    /// the floor; the floor (`i64::MIN` unless restored) before the first
    /// event or while every partition is idle.
    pub fn current(&self) -> i64 {
        self.parts
            .iter()
            .filter(|p| !p.idle)
            .map(|p| p.watermark.current())
            .min()
            .unwrap_or(i64::MIN)
            .max(self.floor)
    }
}

/// The watermarks of a worker's inputs (one per router), merged.
#[derive(Clone, Debug)]
pub struct InputWatermarks {
    inputs: Vec<Input>,
    merged: i64,
}

#[derive(Clone, Copy, Debug)]
struct Input {
    watermark: i64,
    idle: bool,
}

impl InputWatermarks {
    /// `count` inputs, none heard from yet.
    pub fn new(count: usize) -> Self {
        let input = Input {
            watermark: i64::MIN,
            idle: false,
        };
        InputWatermarks {
            inputs: vec![input; count],
            merged: i64::MIN,
        }
    }

    /// Input `input` sent data or a watermark: it is active again.
    pub fn active(&mut self, input: usize) {
        self.inputs[input].idle = false;
    }

    /// Input `input` reached watermark `watermark`.
    pub fn watermark(&mut self, input: usize, watermark: i64) {
        let input = &mut self.inputs[input];
        input.idle = false;
        input.watermark = input.watermark.max(watermark);
    }

    /// Input `input` has had no data for its idle timeout.
    pub fn idle(&mut self, input: usize) {
        self.inputs[input].idle = true;
    }

    /// Input `input` ended: it holds nothing back any more.
    pub fn ended(&mut self, input: usize) {
        self.inputs[input] = Input {
            watermark: i64::MAX,
            idle: false,
        };
    }

    /// The merged watermark if it advanced since the last call.
    pub fn advance(&mut self) -> Option<i64> {
        let active = self
            .inputs
            .iter()
            .filter(|i| !i.idle)
            .map(|i| i.watermark)
            .min()?;
        (active > self.merged).then(|| {
            self.merged = active;
            active
        })
    }

    /// The merged watermark.
    pub fn current(&self) -> i64 {
        self.merged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(topic: &str, partition: u32) -> SourcePosition {
        SourcePosition {
            source: Arc::from("in"),
            topic: Some(Arc::from(topic)),
            partition,
            offset: 0,
        }
    }

    #[test]
    fn a_source_watermark_is_the_minimum_over_partitions_that_are_not_idle() {
        let mut w = SourceWatermarks::new(10);
        assert_eq!(w.current(), i64::MIN);
        w.observe(&at("t", 0), 1_000);
        w.observe(&at("t", 1), 400);
        w.observe(&at("u", 0), 700);
        // The lagging partition holds the others back.
        assert_eq!(w.current(), 400 - 10 - 1);

        let start = Instant::now();
        let timeout = Duration::from_secs(5);
        assert!(!w.check_idle(start, timeout));
        // Only `t`[0] and `u`[0] have events again before the timeout.
        w.observe(&at("t", 0), 1_200);
        w.observe(&at("u", 0), 900);
        assert!(!w.check_idle(start + timeout, timeout));
        assert_eq!(w.current(), 900 - 11, "t[1] is idle and left out");

        // Back from idleness, it holds the watermark again.
        w.observe(&at("t", 1), 500);
        assert_eq!(w.current(), 500 - 11);
        assert!(!w.check_idle(start + timeout * 3, timeout));
        assert!(w.check_idle(start + timeout * 4, timeout));
        assert_eq!(w.current(), i64::MIN, "every partition idle");
    }

    fn spec(field: &str, format: TimeFormat) -> EventTime {
        EventTime {
            field: Some(weir_json::Path::parse(field).unwrap()),
            format,
            max_out_of_orderness_ms: 0,
            idle_timeout: std::time::Duration::from_secs(10),
        }
    }

    #[test]
    fn reads_time_in_each_format() {
        let ms = spec("ts", TimeFormat::EpochMs);
        assert_eq!(
            event_time(&ms, br#"{"ts":1767225600250}"#, 0),
            Ok(1_767_225_600_250)
        );
        let s = spec("t", TimeFormat::EpochS);
        assert_eq!(
            event_time(&s, br#"{"t":1767225600.25}"#, 0),
            Ok(1_767_225_600_250)
        );
        let rfc = spec("at", TimeFormat::Rfc3339);
        let at = |text: &str| event_time(&rfc, format!(r#"{{"at":"{text}"}}"#).as_bytes(), 0);
        assert_eq!(at("2026-01-01T00:00:00.25Z"), Ok(1_767_225_600_250));
        assert_eq!(at("2026-01-01T01:00:00+01:00"), Ok(1_767_225_600_000));
        assert_eq!(at("1969-12-31T23:59:59.999Z"), Ok(-1));
        assert_eq!(at("2024-02-29t12:00:00z"), Ok(1_709_208_000_000));
        assert_eq!(
            at("2025-02-29T12:00:00Z"),
            Err(
                "event-time field `at` is not an rfc 3339 timestamp: \"2025-02-29T12:00:00Z\""
                    .into()
            )
        );
    }

    #[test]
    fn explains_unusable_times() {
        let ms = spec("ts", TimeFormat::EpochMs);
        assert_eq!(
            event_time(&ms, b"{}", 0),
            Err("event-time field `ts` is missing".into())
        );
        assert_eq!(
            event_time(&ms, br#"{"ts":"soon"}"#, 0),
            Err(
                "event-time field `ts` is not a number of milliseconds since the epoch: \"soon\""
                    .into()
            )
        );
        assert!(
            event_time(&ms, b"{", 0)
                .unwrap_err()
                .starts_with("value is not json: ")
        );
        let record = EventTime { field: None, ..ms };
        assert_eq!(event_time(&record, b"not json", 42), Ok(42));
    }

    #[test]
    fn partition_watermark_trails_the_newest_time() {
        let mut w = PartitionWatermark::new(100);
        assert_eq!(w.current(), i64::MIN);
        w.observe(1000);
        w.observe(900);
        assert_eq!(w.current(), 899);
        w.observe(1500);
        assert_eq!(w.current(), 1399);
    }

    #[test]
    fn merged_watermark_is_the_minimum_of_active_inputs_and_never_goes_back() {
        let mut w = InputWatermarks::new(3);
        w.watermark(0, 10);
        w.watermark(1, 20);
        assert_eq!(w.advance(), None, "input 2 has said nothing yet");
        w.watermark(2, 30);
        assert_eq!(w.advance(), Some(10));
        w.idle(0);
        assert_eq!(w.advance(), Some(20));
        // Input 0 comes back behind: the merged watermark does not go back.
        w.watermark(0, 15);
        assert_eq!(w.advance(), None);
        assert_eq!(w.current(), 20);
        w.ended(0);
        w.ended(1);
        w.ended(2);
        assert_eq!(w.advance(), Some(i64::MAX));
    }
}
