//! Built-in aggregates: what a window computes over its events.
//!
//! Every aggregate has an accumulator that can take one input and merge with
//! another accumulator, so windows can be assembled from slices (sliding
//! windows) and sessions can merge. Inputs are extracted from the event by
//! the caller, so this module never parses JSON.

use std::collections::BTreeSet;

use super::codec::{Reader, Writer};

/// Which function an aggregate computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    /// Number of events.
    Count,
    /// Sum of a numeric field.
    Sum,
    /// Smallest value of a numeric field.
    Min,
    /// Largest value of a numeric field.
    Max,
    /// Mean of a numeric field.
    Avg,
    /// Number of distinct values of a field (compared as JSON text).
    DistinctCount,
    /// The field's value in the event with the earliest time (the first to
    /// arrive among equal times).
    First,
    /// The field's value in the event with the latest time (the last to
    /// arrive among equal times).
    Last,
}

impl Function {
    /// The name used in pipeline files.
    pub fn as_str(self) -> &'static str {
        match self {
            Function::Count => "count",
            Function::Sum => "sum",
            Function::Min => "min",
            Function::Max => "max",
            Function::Avg => "avg",
            Function::DistinctCount => "distinct_count",
            Function::First => "first",
            Function::Last => "last",
        }
    }

    /// Whether the function reads a field, and whether it must be a number.
    pub fn input(self) -> InputKind {
        match self {
            Function::Count => InputKind::None,
            Function::Sum | Function::Min | Function::Max | Function::Avg => InputKind::Number,
            Function::DistinctCount | Function::First | Function::Last => InputKind::Json,
        }
    }
}

/// What an aggregate needs from each event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// Nothing (count).
    None,
    /// A JSON number.
    Number,
    /// Any JSON value, as its raw text.
    Json,
}

/// One event's input to one aggregate.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// For count.
    None,
    /// A number.
    Number(f64),
    /// A raw JSON value.
    Json(Vec<u8>),
}

/// An aggregate's running state.
#[derive(Clone, Debug, PartialEq)]
pub enum Accumulator {
    /// Count so far.
    Count(u64),
    /// Sum so far.
    Sum(f64),
    /// Minimum so far.
    Min(Option<f64>),
    /// Maximum so far.
    Max(Option<f64>),
    /// Sum and count so far.
    Avg(f64, u64),
    /// Distinct raw values so far.
    Distinct(BTreeSet<Vec<u8>>),
    /// Earliest (time, arrival sequence, value) so far.
    First(Option<(i64, u64, Vec<u8>)>),
    /// Latest (time, arrival sequence, value) so far.
    Last(Option<(i64, u64, Vec<u8>)>),
}

/// A finished aggregate value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// An integer (count, distinct count).
    Int(u64),
    /// A number.
    Number(f64),
    /// No value (min of nothing, first of nothing).
    Null,
    /// A raw JSON value.
    Json(Vec<u8>),
}

impl Accumulator {
    /// An empty accumulator for `function`.
    pub fn new(function: Function) -> Self {
        match function {
            Function::Count => Accumulator::Count(0),
            Function::Sum => Accumulator::Sum(0.0),
            Function::Min => Accumulator::Min(None),
            Function::Max => Accumulator::Max(None),
            Function::Avg => Accumulator::Avg(0.0, 0),
            Function::DistinctCount => Accumulator::Distinct(BTreeSet::new()),
            Function::First => Accumulator::First(None),
            Function::Last => Accumulator::Last(None),
        }
    }

    /// Adds one event's input; `time` and `seq` order first/last.
    pub fn add(&mut self, input: &Input, time: i64, seq: u64) {
        match (self, input) {
            (Accumulator::Count(n), _) => *n += 1,
            (Accumulator::Sum(s), Input::Number(x)) => *s += x,
            (Accumulator::Min(m), Input::Number(x)) => *m = Some(m.map_or(*x, |m| m.min(*x))),
            (Accumulator::Max(m), Input::Number(x)) => *m = Some(m.map_or(*x, |m| m.max(*x))),
            (Accumulator::Avg(s, n), Input::Number(x)) => {
                *s += x;
                *n += 1;
            }
            (Accumulator::Distinct(set), Input::Json(raw)) => {
                set.insert(raw.clone());
            }
            (Accumulator::First(best), Input::Json(raw))
                if best.as_ref().is_none_or(|(t, s, _)| (time, seq) < (*t, *s)) =>
            {
                *best = Some((time, seq, raw.clone()));
            }
            (Accumulator::Last(best), Input::Json(raw))
                if best.as_ref().is_none_or(|(t, s, _)| (time, seq) > (*t, *s)) =>
            {
                *best = Some((time, seq, raw.clone()));
            }
            // The caller extracts inputs by `Function::input`, so a mismatch
            // cannot happen; ignoring it keeps the host panic-free.
            _ => {}
        }
    }

    /// Folds `other` (an accumulator of the same function) into this one.
    pub fn merge(&mut self, other: &Accumulator) {
        match (self, other) {
            (Accumulator::Count(a), Accumulator::Count(b)) => *a += b,
            (Accumulator::Sum(a), Accumulator::Sum(b)) => *a += b,
            (Accumulator::Min(a), Accumulator::Min(b)) => *a = min_opt(*a, *b, f64::min),
            (Accumulator::Max(a), Accumulator::Max(b)) => *a = min_opt(*a, *b, f64::max),
            (Accumulator::Avg(s, n), Accumulator::Avg(s2, n2)) => {
                *s += s2;
                *n += n2;
            }
            (Accumulator::Distinct(a), Accumulator::Distinct(b)) => a.extend(b.iter().cloned()),
            (Accumulator::First(a), Accumulator::First(Some(b)))
                if a.as_ref().is_none_or(|(t, s, _)| (b.0, b.1) < (*t, *s)) =>
            {
                *a = Some(b.clone());
            }
            (Accumulator::Last(a), Accumulator::Last(Some(b)))
                if a.as_ref().is_none_or(|(t, s, _)| (b.0, b.1) > (*t, *s)) =>
            {
                *a = Some(b.clone());
            }
            _ => {}
        }
    }

    /// The aggregate's value.
    pub fn finish(&self) -> Value {
        match self {
            Accumulator::Count(n) => Value::Int(*n),
            Accumulator::Sum(s) => Value::Number(*s),
            Accumulator::Min(m) | Accumulator::Max(m) => m.map_or(Value::Null, Value::Number),
            Accumulator::Avg(_, 0) => Value::Null,
            Accumulator::Avg(s, n) => Value::Number(s / *n as f64),
            Accumulator::Distinct(set) => Value::Int(set.len() as u64),
            Accumulator::First(v) | Accumulator::Last(v) => v
                .as_ref()
                .map_or(Value::Null, |(_, _, raw)| Value::Json(raw.clone())),
        }
    }
}

impl Accumulator {
    /// Appends this accumulator's byte form (see `codec`).
    pub fn encode(&self, out: &mut Writer<'_>) {
        let optional = |out: &mut Writer<'_>, tag: u8, v: &Option<f64>| {
            out.u8(tag);
            out.u8(u8::from(v.is_some()));
            out.f64(v.unwrap_or(0.0));
        };
        let event = |out: &mut Writer<'_>, tag: u8, v: &Option<(i64, u64, Vec<u8>)>| {
            out.u8(tag);
            out.u8(u8::from(v.is_some()));
            if let Some((time, seq, raw)) = v {
                out.i64(*time);
                out.u64(*seq);
                out.bytes(raw);
            }
        };
        match self {
            Accumulator::Count(n) => {
                out.u8(0);
                out.u64(*n);
            }
            Accumulator::Sum(s) => {
                out.u8(1);
                out.f64(*s);
            }
            Accumulator::Min(m) => optional(out, 2, m),
            Accumulator::Max(m) => optional(out, 3, m),
            Accumulator::Avg(s, n) => {
                out.u8(4);
                out.f64(*s);
                out.u64(*n);
            }
            Accumulator::Distinct(set) => {
                out.u8(5);
                out.u32(set.len() as u32);
                for raw in set {
                    out.bytes(raw);
                }
            }
            Accumulator::First(v) => event(out, 6, v),
            Accumulator::Last(v) => event(out, 7, v),
        }
    }

    /// Reads an accumulator written by [`Accumulator::encode`].
    pub fn decode(input: &mut Reader<'_>) -> Option<Accumulator> {
        let optional = |input: &mut Reader<'_>| {
            let some = input.u8()? == 1;
            let v = input.f64()?;
            Some(some.then_some(v))
        };
        let event = |input: &mut Reader<'_>| {
            if input.u8()? == 0 {
                return Some(None);
            }
            let time = input.i64()?;
            let seq = input.u64()?;
            Some(Some((time, seq, input.bytes()?.to_vec())))
        };
        Some(match input.u8()? {
            0 => Accumulator::Count(input.u64()?),
            1 => Accumulator::Sum(input.f64()?),
            2 => Accumulator::Min(optional(input)?),
            3 => Accumulator::Max(optional(input)?),
            4 => Accumulator::Avg(input.f64()?, input.u64()?),
            5 => {
                let n = input.u32()?;
                let mut set = BTreeSet::new();
                for _ in 0..n {
                    set.insert(input.bytes()?.to_vec());
                }
                Accumulator::Distinct(set)
            }
            6 => Accumulator::First(event(input)?),
            7 => Accumulator::Last(event(input)?),
            _ => return None,
        })
    }
}

fn min_opt(a: Option<f64>, b: Option<f64>, pick: fn(f64, f64) -> f64) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(pick(a, b)),
        (a, b) => a.or(b),
    }
}

/// Writes a number as JSON: integers without a fraction, others in Rust's
/// shortest round-trip form.
pub fn write_number(out: &mut Vec<u8>, x: f64) {
    use std::io::Write;
    if !x.is_finite() {
        out.extend_from_slice(b"null");
    } else if x.fract() == 0.0 && x.abs() < 1e15 {
        let _ = write!(out, "{}", x as i64);
    } else {
        let _ = write!(out, "{x}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(function: Function, inputs: &[(Input, i64)]) -> Value {
        let mut acc = Accumulator::new(function);
        for (seq, (input, time)) in inputs.iter().enumerate() {
            acc.add(input, *time, seq as u64);
        }
        acc.finish()
    }

    #[test]
    fn functions_over_inputs() {
        let numbers = [
            (Input::Number(3.0), 5),
            (Input::Number(-1.5), 1),
            (Input::Number(4.0), 9),
        ];
        assert_eq!(run(Function::Count, &numbers), Value::Int(3));
        assert_eq!(run(Function::Sum, &numbers), Value::Number(5.5));
        assert_eq!(run(Function::Min, &numbers), Value::Number(-1.5));
        assert_eq!(run(Function::Max, &numbers), Value::Number(4.0));
        assert_eq!(run(Function::Avg, &numbers[..2]), Value::Number(0.75));
        assert_eq!(run(Function::Avg, &[]), Value::Null);
        let raw = |s: &str| Input::Json(s.as_bytes().to_vec());
        let texts = [(raw("\"a\""), 5), (raw("\"b\""), 5), (raw("\"a\""), 2)];
        assert_eq!(run(Function::DistinctCount, &texts), Value::Int(2));
        assert_eq!(run(Function::First, &texts), Value::Json(b"\"a\"".to_vec()));
        // Equal times: first keeps the earlier arrival, last the later one.
        assert_eq!(run(Function::Last, &texts), Value::Json(b"\"b\"".to_vec()));
        assert_eq!(
            run(Function::First, &texts[..2]),
            Value::Json(b"\"a\"".to_vec())
        );
    }

    #[test]
    fn merge_equals_adding_everything_to_one() {
        let inputs: Vec<(Input, i64)> = (0..10)
            .map(|i| (Input::Number(i as f64 * 3.0 - 7.0), 10 - i))
            .collect();
        for function in [
            Function::Count,
            Function::Sum,
            Function::Min,
            Function::Max,
            Function::Avg,
        ] {
            let whole = run(function, &inputs);
            let mut left = Accumulator::new(function);
            let mut right = Accumulator::new(function);
            for (seq, (input, time)) in inputs.iter().enumerate() {
                let side = if seq % 3 == 0 { &mut left } else { &mut right };
                side.add(input, *time, seq as u64);
            }
            left.merge(&right);
            assert_eq!(left.finish(), whole, "{function:?}");
        }
    }

    #[test]
    fn numbers_are_written_compactly() {
        let text = |x| {
            let mut out = Vec::new();
            write_number(&mut out, x);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(text(12.0), "12");
        assert_eq!(text(-3.0), "-3");
        assert_eq!(text(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(text(f64::NAN), "null");
    }
}
