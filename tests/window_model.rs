//! The window operator against a reference model: random out-of-order
//! streams, random watermarks and lateness, every window type; every emitted
//! result (including updates) and every late verdict must match.
//!
//! The model keeps the accepted events themselves and recomputes each window
//! from them by brute force, so it shares no logic with the operator's
//! slices, timers and session merging. At random points the operator's
//! state goes through its checkpoint form and into a fresh operator, which
//! must carry on exactly as the first would have.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use proptest::prelude::*;
use weir::window::aggregate::{Function, Input, Value};
use weir::window::{Verdict, WindowKind, WindowOperator, WindowResult, WindowSpec};

const FUNCTIONS: [Function; 8] = [
    Function::Count,
    Function::Sum,
    Function::Min,
    Function::Max,
    Function::Avg,
    Function::DistinctCount,
    Function::First,
    Function::Last,
];

#[derive(Clone, Debug)]
enum Op {
    /// An event of key `key` at `time` with an integer `value`.
    Add { key: u8, time: i64, value: i64 },
    /// Move the watermark forward by this much.
    Advance(i64),
    /// Write the operator's changed state to a store, then go on with a
    /// fresh operator restored from that store (a checkpoint and a
    /// restart); the model does not notice.
    Restart,
}

#[derive(Clone, Debug)]
struct Event {
    key: u8,
    time: i64,
    seq: u64,
    value: i64,
}

fn inputs(value: i64) -> Vec<Input> {
    FUNCTIONS
        .iter()
        .map(|f| match f {
            Function::Count => Input::None,
            Function::Sum | Function::Min | Function::Max | Function::Avg => {
                Input::Number(value as f64)
            }
            _ => Input::Json(value.to_string().into_bytes()),
        })
        .collect()
}

/// The brute-force model.
struct Model {
    kind: WindowKind,
    lateness: i64,
    watermark: i64,
    seq: u64,
    events: Vec<Event>,
}

impl Model {
    fn purge_time(&self, end: i64) -> i64 {
        (end - 1).saturating_add(self.lateness)
    }

    /// (start, end) of the tumbling or sliding windows containing `time`,
    /// by increasing start.
    fn windows_of(&self, time: i64) -> Vec<(i64, i64)> {
        let (size, slide) = match self.kind {
            WindowKind::Tumbling { size } => (size, size),
            WindowKind::Sliding { size, slide } => (size, slide),
            WindowKind::Session { .. } => unreachable!("sessions have no fixed windows"),
        };
        let mut windows = Vec::new();
        let mut start = (time - size + 1).div_euclid(slide) * slide - slide;
        while start <= time {
            if start + size > time && start <= time {
                windows.push((start, start + size));
            }
            start += slide;
        }
        windows
    }

    /// Sessions of `key` over `events`: (start, end, members).
    fn sessions(&self, key: u8, events: &[Event]) -> Vec<(i64, i64, Vec<Event>)> {
        let WindowKind::Session { gap } = self.kind else {
            unreachable!()
        };
        let mut mine: Vec<Event> = events.iter().filter(|e| e.key == key).cloned().collect();
        mine.sort_by_key(|e| (e.time, e.seq));
        let mut sessions: Vec<(i64, i64, Vec<Event>)> = Vec::new();
        for event in mine {
            match sessions.last_mut() {
                Some((_, end, members)) if event.time < *end => {
                    *end = (*end).max(event.time + gap);
                    members.push(event);
                }
                _ => sessions.push((event.time, event.time + gap, vec![event])),
            }
        }
        sessions
    }

    fn result(key: u8, start: i64, end: i64, members: &[&Event], update: bool) -> WindowResult {
        let values = FUNCTIONS
            .iter()
            .map(|f| {
                let numbers = members.iter().map(|e| e.value as f64);
                let by_time = |e: &&&Event| (e.time, e.seq);
                match f {
                    Function::Count => Value::Int(members.len() as u64),
                    Function::Sum => Value::Number(numbers.sum()),
                    Function::Min => Value::Number(numbers.fold(f64::INFINITY, f64::min)),
                    Function::Max => Value::Number(numbers.fold(f64::NEG_INFINITY, f64::max)),
                    Function::Avg => Value::Number(numbers.sum::<f64>() / members.len() as f64),
                    Function::DistinctCount => Value::Int(
                        members
                            .iter()
                            .map(|e| e.value)
                            .collect::<BTreeSet<_>>()
                            .len() as u64,
                    ),
                    Function::First => {
                        let e = members.iter().min_by_key(by_time).unwrap();
                        Value::Json(e.value.to_string().into_bytes())
                    }
                    Function::Last => {
                        let e = members.iter().max_by_key(by_time).unwrap();
                        Value::Json(e.value.to_string().into_bytes())
                    }
                }
            })
            .collect();
        WindowResult {
            key: Arc::from(&[key][..]),
            start,
            end,
            values,
            update,
        }
    }

    fn add(&mut self, key: u8, time: i64, value: i64, out: &mut Vec<WindowResult>) -> Verdict {
        self.seq += 1;
        let event = Event {
            key,
            time,
            seq: self.seq,
            value,
        };
        let late = time <= self.watermark;
        if let WindowKind::Session { .. } = self.kind {
            let mut with = self.events.clone();
            with.push(event.clone());
            let sessions = self.sessions(key, &with);
            let (start, end, members) = sessions
                .iter()
                .find(|(_, _, m)| m.iter().any(|e| e.seq == event.seq))
                .unwrap();
            if late && self.purge_time(*end) <= self.watermark {
                return Verdict::Late;
            }
            self.events.push(event);
            if *end - 1 <= self.watermark {
                let members: Vec<&Event> = members.iter().collect();
                out.push(Self::result(key, *start, *end, &members, true));
            }
            return Verdict::Accepted;
        }
        let alive: Vec<(i64, i64)> = self
            .windows_of(time)
            .into_iter()
            .filter(|(_, end)| self.purge_time(*end) > self.watermark)
            .collect();
        if late && alive.is_empty() {
            return Verdict::Late;
        }
        self.events.push(event);
        if late {
            for (start, end) in alive {
                if end - 1 <= self.watermark {
                    let members = self.members(key, start, end);
                    out.push(Self::result(key, start, end, &members, true));
                }
            }
        }
        Verdict::Accepted
    }

    fn members(&self, key: u8, start: i64, end: i64) -> Vec<&Event> {
        self.events
            .iter()
            .filter(|e| e.key == key && start <= e.time && e.time < end)
            .collect()
    }

    fn advance(&mut self, watermark: i64, out: &mut Vec<WindowResult>) {
        if watermark <= self.watermark {
            return;
        }
        let old = self.watermark;
        let due = |end: i64| old < end - 1 && end - 1 <= watermark;
        if let WindowKind::Session { .. } = self.kind {
            let keys: BTreeSet<u8> = self.events.iter().map(|e| e.key).collect();
            let mut fired = Vec::new();
            for key in keys {
                for (start, end, members) in self.sessions(key, &self.events) {
                    if due(end) {
                        let members: Vec<&Event> = members.iter().collect();
                        fired.push((end - 1, key, Self::result(key, start, end, &members, false)));
                    }
                }
            }
            fired.sort_by_key(|(at, key, _)| (*at, *key));
            out.extend(fired.into_iter().map(|(_, _, r)| r));
            self.watermark = watermark;
            // Drop the events of sessions that can no longer change.
            let mut keep = Vec::new();
            let keys: BTreeSet<u8> = self.events.iter().map(|e| e.key).collect();
            for key in keys {
                for (_, end, members) in self.sessions(key, &self.events) {
                    if self.purge_time(end) > watermark {
                        keep.extend(members);
                    }
                }
            }
            self.events = keep;
            return;
        }
        let mut windows = BTreeSet::new();
        for event in &self.events {
            for (start, end) in self.windows_of(event.time) {
                if due(end) {
                    windows.insert((end - 1, event.key, start, end));
                }
            }
        }
        for (_, key, start, end) in windows {
            let members = self.members(key, start, end);
            out.push(Self::result(key, start, end, &members, false));
        }
        self.watermark = watermark;
        let events = std::mem::take(&mut self.events);
        self.events = events
            .into_iter()
            .filter(|e| {
                let last_end = self.windows_of(e.time).last().map(|(_, end)| *end).unwrap();
                self.purge_time(last_end) > watermark
            })
            .collect();
    }
}

fn kinds() -> impl Strategy<Value = WindowKind> {
    prop_oneof![
        (1i64..25).prop_map(|size| WindowKind::Tumbling { size }),
        (1i64..6, 1i64..5).prop_map(|(slide, k)| WindowKind::Sliding {
            size: slide * k,
            slide
        }),
        (1i64..6, 1i64..8).prop_map(|(slide, extra)| WindowKind::Sliding {
            size: slide + extra,
            slide
        }),
        (1i64..20).prop_map(|gap| WindowKind::Session { gap }),
    ]
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        4 => (0u8..3, -20i64..120, -5i64..20).prop_map(|(key, time, value)| Op::Add { key, time, value }),
        1 => (0i64..25).prop_map(Op::Advance),
        1 => Just(Op::Restart),
    ];
    proptest::collection::vec(op, 0..120)
}

fn check(kind: WindowKind, lateness: i64, ops: &[Op]) -> Result<(), TestCaseError> {
    let spec = WindowSpec {
        kind,
        allowed_lateness: lateness,
        functions: FUNCTIONS.to_vec(),
    };
    let mut operator = WindowOperator::new(spec.clone());
    operator.track_changes();
    // What a checkpoint's state store holds: key → state.
    let mut store: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut model = Model {
        kind,
        lateness,
        watermark: i64::MIN,
        seq: 0,
        events: Vec::new(),
    };
    let mut watermark = -30;
    let (mut got, mut want) = (Vec::new(), Vec::new());
    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::Add { key, time, value } => {
                let a = operator.add(&Arc::from(&[key][..]), time, &inputs(value), &mut got);
                let b = model.add(key, time, value, &mut want);
                prop_assert_eq!(a, b, "verdict at step {} ({:?})", step, op);
            }
            Op::Advance(by) => {
                watermark += by;
                operator.advance(watermark, &mut got);
                model.advance(watermark, &mut want);
            }
            Op::Restart => {
                operator.take_changes(|key, state| match state {
                    Some(bytes) => {
                        store.insert(key.to_vec(), bytes.to_vec());
                    }
                    None => {
                        store.remove(&key[..]);
                    }
                });
                let mut restored = WindowOperator::new(spec.clone());
                restored.track_changes();
                restored.resume_at(operator.watermark(), operator.seq());
                for (key, bytes) in &store {
                    restored.restore(Arc::from(&key[..]), bytes).unwrap();
                }
                prop_assert_eq!(restored.live_keys(), operator.live_keys());
                operator = restored;
            }
        }
        prop_assert_eq!(&got, &want, "results after step {} ({:?})", step, op);
    }
    // The end of input: the final watermark completes every window.
    operator.advance(i64::MAX, &mut got);
    model.advance(i64::MAX, &mut want);
    prop_assert_eq!(&got, &want, "results at the end of input");
    prop_assert_eq!(
        operator.live_keys(),
        0,
        "state left after the final watermark"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn operator_matches_the_model(kind in kinds(), lateness in 0i64..30, ops in ops()) {
        check(kind, lateness, &ops)?;
    }
}

#[test]
fn session_windows_merge_when_a_bridging_event_arrives() {
    let spec = WindowSpec {
        kind: WindowKind::Session { gap: 10 },
        allowed_lateness: 100,
        functions: vec![Function::Count, Function::Sum],
    };
    let mut operator = WindowOperator::new(spec);
    let mut out = Vec::new();
    let n = |x| vec![Input::None, Input::Number(x)];
    let k: Arc<[u8]> = Arc::from(&b"k"[..]);
    // Two sessions of key "k": [0, 10) and [15, 25).
    operator.add(&k, 0, &n(1.0), &mut out);
    operator.add(&k, 15, &n(2.0), &mut out);
    operator.advance(30, &mut out);
    let result = |start, end, count, sum, update| WindowResult {
        key: Arc::from(&b"k"[..]),
        start,
        end,
        values: vec![Value::Int(count), Value::Number(sum)],
        update,
    };
    assert_eq!(
        out,
        [result(0, 10, 1, 1.0, false), result(15, 25, 1, 2.0, false)]
    );

    // A late event at 7 is within 10 of both: one merged session, as an update.
    out.clear();
    assert_eq!(operator.add(&k, 7, &n(4.0), &mut out), Verdict::Accepted);
    assert_eq!(out, [result(0, 25, 3, 7.0, true)]);

    // Past the lateness the merged session is gone; a late event is late.
    out.clear();
    operator.advance(200, &mut out);
    assert_eq!(operator.add(&k, 20, &n(1.0), &mut out), Verdict::Late);
    assert!(out.is_empty());
    assert_eq!(operator.live_keys(), 0);
}
