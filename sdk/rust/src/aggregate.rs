//! Window aggregators: the accumulator a plugin keeps per window, and how the
//! SDK runs an [`Aggregator`] over weir's batched `add`, `merge` and `finish`
//! calls.

use crate::event::{Event, OwnedEvent};
use crate::frame::{self, Output, encode};
use crate::{Config, run::NOT_INITIALISED};

/// A window aggregate computed by a plugin: weir decides which events belong
/// to which window, keeps each window's accumulator and asks the plugin to
/// add events to it, merge two of them and finish a window.
///
/// weir relies on three laws: adding events in any order gives the same
/// result; merging is associative and commutative; merging with
/// `State::default()` changes nothing. An aggregate that depends on order
/// (the latest value) keeps event times in its state and compares them.
///
/// ```no_run
/// use weir_sdk::{Aggregator, Config, Event, State, Window, WindowEmitter};
///
/// /// Counts the events of each window.
/// struct Count;
///
/// #[derive(Default)]
/// struct Total(u64);
///
/// impl State for Total {
///     fn encode(&self, out: &mut Vec<u8>) {
///         out.extend_from_slice(&self.0.to_le_bytes());
///     }
///     fn decode(bytes: &[u8]) -> Result<Self, String> {
///         let bytes = bytes.try_into().map_err(|_| "a count is 8 bytes")?;
///         Ok(Total(u64::from_le_bytes(bytes)))
///     }
/// }
///
/// impl Aggregator for Count {
///     type State = Total;
///
///     fn init(_config: &Config) -> Result<Self, String> {
///         Ok(Count)
///     }
///
///     fn add(&mut self, state: &mut Total, _event: &Event<'_>) -> Result<(), String> {
///         state.0 += 1;
///         Ok(())
///     }
///
///     fn merge(&mut self, into: &mut Total, other: Total) {
///         into.0 += other.0;
///     }
///
///     fn finish(&mut self, state: Total, window: &Window<'_>, out: &mut WindowEmitter<'_>) {
///         out.emit_value(format!("{{\"start\":{},\"count\":{}}}", window.start, state.0));
///     }
/// }
///
/// weir_sdk::export_aggregator!(Count);
/// # fn main() {}
/// ```
pub trait Aggregator: Sized + 'static {
    /// What the plugin keeps per window.
    type State: State;

    /// Creates the instance from the stage's configuration. Called once per
    /// instance, before anything else.
    ///
    /// # Errors
    ///
    /// An error stops the pipeline at start with the message.
    fn init(config: &Config) -> Result<Self, String>;

    /// Adds one event to a window's state.
    ///
    /// # Errors
    ///
    /// An error refuses the event: it goes to the dead-letter output with the
    /// message. Check the event before changing `state`: a refused event
    /// must leave it as it was.
    fn add(&mut self, state: &mut Self::State, event: &Event<'_>) -> Result<(), String>;

    /// Folds `other` into `into`.
    fn merge(&mut self, into: &mut Self::State, other: Self::State);

    /// Turns a complete window into the events to emit (none, one or
    /// several).
    fn finish(&mut self, state: Self::State, window: &Window<'_>, out: &mut WindowEmitter<'_>);
}

/// How an accumulator is stored between calls: weir keeps the bytes.
pub trait State: Default {
    /// Appends the state's bytes to `out`.
    fn encode(&self, out: &mut Vec<u8>);

    /// Reads a state back from the bytes [`State::encode`] wrote.
    ///
    /// # Errors
    ///
    /// A message when the bytes are not a state of this type; weir then
    /// dead-letters the events or window involved.
    fn decode(bytes: &[u8]) -> Result<Self, String>;
}

/// The window being finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window<'a> {
    /// The key the window is for.
    pub key: &'a [u8],
    /// Start, inclusive, in ms since the Unix epoch.
    pub start: i64,
    /// End, exclusive, in ms since the Unix epoch.
    pub end: i64,
    /// Whether this corrects a result emitted before (a late event arrived
    /// within the allowed lateness).
    pub update: bool,
}

/// Where [`Aggregator::finish`] puts the events a window becomes.
pub struct WindowEmitter<'a> {
    out: &'a mut Output,
    origin: u32,
    window: &'a Window<'a>,
}

impl WindowEmitter<'_> {
    /// Emits an event with this value, keyed by the window's key, at the
    /// window's last millisecond (`end - 1`), without headers.
    pub fn emit_value(&mut self, value: impl Into<Vec<u8>>) {
        self.emit(
            OwnedEvent::new(value)
                .with_key(self.window.key)
                .with_time(self.window.end - 1),
        );
    }

    /// Emits an event as given.
    pub fn emit(&mut self, event: OwnedEvent) {
        encode(&event, &mut self.out.frames);
        self.out.ends.push(frame::len_u32(self.out.frames.len()));
        self.out.origins.push(self.origin);
    }
}

/// The result of [`add_batch`]: new states and refused events.
pub(crate) type Added = (Vec<Vec<u8>>, Vec<(u32, String)>);

/// Adds event `i` to `states[targets[i]]`, in order.
pub(crate) fn add_batch<T: Aggregator>(
    mut plugin: Option<&mut T>,
    states: Vec<Vec<u8>>,
    frames: &[u8],
    ends: &[u32],
    targets: &[u32],
) -> Added {
    let mut errors = Vec::new();
    let mut decoded: Vec<Result<T::State, String>> =
        states.iter().map(|bytes| T::State::decode(bytes)).collect();
    for (index, frame) in frame::frames(frames, ends) {
        let Some(plugin) = plugin.as_deref_mut() else {
            errors.push((index, NOT_INITIALISED.to_owned()));
            continue;
        };
        let target = targets.get(index as usize).copied().unwrap_or(u32::MAX);
        let Some(state) = decoded.get_mut(target as usize) else {
            errors.push((index, format!("no accumulator {target} for event {index}")));
            continue;
        };
        let result = match (state, frame.and_then(frame::decode)) {
            (Ok(state), Ok(event)) => plugin.add(state, &event),
            (Err(error), _) => Err(format!("accumulator is unreadable: {error}")),
            (_, Err(error)) => Err(error.to_string()),
        };
        if let Err(message) = result {
            errors.push((index, message));
        }
    }
    // A state that could not be read goes back as it came.
    let states = decoded
        .into_iter()
        .zip(states)
        .map(|(state, bytes)| match state {
            Ok(state) => {
                let mut out = Vec::with_capacity(bytes.len());
                state.encode(&mut out);
                out
            }
            Err(_) => bytes,
        })
        .collect();
    (states, errors)
}

/// Merges each group of states into one.
pub(crate) fn merge_groups<T: Aggregator>(
    plugin: Option<&mut T>,
    states: &[Vec<u8>],
    ends: &[u32],
) -> Result<Vec<Vec<u8>>, String> {
    let plugin = plugin.ok_or(NOT_INITIALISED)?;
    let mut merged = Vec::with_capacity(ends.len());
    let mut start = 0usize;
    for (group, &end) in ends.iter().enumerate() {
        let end = end as usize;
        let parts = states
            .get(start..end)
            .ok_or_else(|| format!("group {group} ends outside the accumulators"))?;
        let mut into = T::State::default();
        for part in parts {
            let part = T::State::decode(part)
                .map_err(|error| format!("accumulator is unreadable: {error}"))?;
            plugin.merge(&mut into, part);
        }
        let mut out = Vec::new();
        into.encode(&mut out);
        merged.push(out);
        start = end;
    }
    Ok(merged)
}

/// A window as the bindings describe it.
pub(crate) struct WindowRef<'a> {
    pub(crate) key: &'a [u8],
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) update: bool,
}

/// Finishes each window; windows whose state cannot be read are refused.
pub(crate) fn finish_windows<'a, T: Aggregator>(
    mut plugin: Option<&mut T>,
    windows: impl Iterator<Item = WindowRef<'a>>,
    states: &[Vec<u8>],
) -> (Output, Vec<(u32, String)>) {
    let mut output = Output::default();
    let mut errors = Vec::new();
    for (index, window) in windows.enumerate() {
        let index = frame::len_u32(index);
        let Some(plugin) = plugin.as_deref_mut() else {
            errors.push((index, NOT_INITIALISED.to_owned()));
            continue;
        };
        let state = match states.get(index as usize).map(|s| T::State::decode(s)) {
            Some(Ok(state)) => state,
            Some(Err(error)) => {
                errors.push((index, format!("accumulator is unreadable: {error}")));
                continue;
            }
            None => {
                errors.push((index, format!("no accumulator for window {index}")));
                continue;
            }
        };
        let window = Window {
            key: window.key,
            start: window.start,
            end: window.end,
            update: window.update,
        };
        let mut out = WindowEmitter {
            out: &mut output,
            origin: index,
            window: &window,
        };
        plugin.finish(state, &window, &mut out);
    }
    (output, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sums the `amount` byte (the value's first byte) per window; refuses
    /// empty values.
    struct Sum;

    #[derive(Default, Debug, PartialEq)]
    struct Total(u64);

    impl State for Total {
        fn encode(&self, out: &mut Vec<u8>) {
            out.extend_from_slice(&self.0.to_le_bytes());
        }
        fn decode(bytes: &[u8]) -> Result<Self, String> {
            let bytes = bytes.try_into().map_err(|_| "not 8 bytes".to_owned())?;
            Ok(Total(u64::from_le_bytes(bytes)))
        }
    }

    impl Aggregator for Sum {
        type State = Total;
        fn init(_: &Config) -> Result<Self, String> {
            Ok(Sum)
        }
        fn add(&mut self, state: &mut Total, event: &Event<'_>) -> Result<(), String> {
            let first = event.value().first().ok_or("empty value")?;
            state.0 += u64::from(*first);
            Ok(())
        }
        fn merge(&mut self, into: &mut Total, other: Total) {
            into.0 += other.0;
        }
        fn finish(&mut self, state: Total, window: &Window<'_>, out: &mut WindowEmitter<'_>) {
            if state.0 > 0 {
                out.emit_value(format!("{}:{}", window.start, state.0));
            }
        }
    }

    fn bytes(n: u64) -> Vec<u8> {
        n.to_le_bytes().to_vec()
    }

    fn batch(values: &[&[u8]]) -> (Vec<u8>, Vec<u32>) {
        let mut frames = Vec::new();
        let mut ends = Vec::new();
        for value in values {
            encode(&OwnedEvent::new(*value), &mut frames);
            ends.push(frame::len_u32(frames.len()));
        }
        (frames, ends)
    }

    #[test]
    fn adds_events_to_their_targets_and_refuses_bad_ones() {
        let (frames, ends) = batch(&[&[3], &[], &[4], &[5]]);
        let states = vec![bytes(10), bytes(0), vec![1, 2]];
        let (states, errors) = add_batch(Some(&mut Sum), states, &frames, &ends, &[0, 1, 1, 2]);
        assert_eq!(states, [bytes(13), bytes(4), vec![1, 2]]);
        assert_eq!(
            errors,
            [
                (1, "empty value".to_owned()),
                (3, "accumulator is unreadable: not 8 bytes".to_owned())
            ]
        );
    }

    #[test]
    fn merges_groups() {
        let states = [bytes(1), bytes(2), bytes(3), bytes(4)];
        let merged = merge_groups(Some(&mut Sum), &states, &[3, 3, 4]).unwrap();
        assert_eq!(merged, [bytes(6), bytes(0), bytes(4)]);
        assert_eq!(
            merge_groups(Some(&mut Sum), &states, &[5]),
            Err("group 0 ends outside the accumulators".to_owned())
        );
    }

    #[test]
    fn finishes_windows_keyed_at_their_last_millisecond() {
        let windows = [(b"k1", 0), (b"k2", 10)].map(|(key, start)| WindowRef {
            key,
            start,
            end: start + 10,
            update: false,
        });
        let (output, errors) =
            finish_windows(Some(&mut Sum), windows.into_iter(), &[bytes(7), bytes(0)]);
        assert!(errors.is_empty());
        assert_eq!(output.origins, [0]);
        let event = frame::decode(&output.frames).unwrap();
        assert_eq!(event.value(), b"0:7");
        assert_eq!(event.key(), Some(&b"k1"[..]));
        assert_eq!(event.time(), 9);
    }
}
