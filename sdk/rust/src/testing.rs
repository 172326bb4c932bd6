//! Running a plugin on the build machine, for its unit tests.
//!
//! These helpers push one event through the same encoding, decoding and
//! emitting code a component uses, without WebAssembly:
//!
//! ```
//! use weir_sdk::testing::{self, Emitted};
//! use weir_sdk::{Config, Emitter, Event, OwnedEvent, Transform};
//!
//! struct DropEmpty;
//!
//! impl Transform for DropEmpty {
//!     fn init(_: &Config) -> Result<Self, String> {
//!         Ok(DropEmpty)
//!     }
//!
//!     fn transform(&mut self, event: &Event<'_>, out: &mut Emitter) -> Result<(), String> {
//!         if !event.value().is_empty() {
//!             out.keep();
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let mut plugin = DropEmpty::init(&Config::default()).unwrap();
//! assert_eq!(testing::transform(&mut plugin, &OwnedEvent::new("x")), Ok(vec![Emitted::Kept]));
//! assert_eq!(testing::transform(&mut plugin, &OwnedEvent::new("")), Ok(vec![]));
//! ```

use crate::aggregate::{self, WindowRef};
use crate::event::OwnedEvent;
use crate::frame::{self, len_u32};
use crate::run;
use crate::{Aggregator, State, Transform, Validator, Window};

/// One event a transform emitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Emitted {
    /// The input event, unchanged ([`crate::Emitter::keep`]).
    Kept,
    /// A new or rewritten event.
    Event(OwnedEvent),
}

/// Runs `plugin` on one event and returns what it emitted.
///
/// # Errors
///
/// Returns the reason the plugin refused the event.
pub fn transform<T: Transform>(plugin: &mut T, event: &OwnedEvent) -> Result<Vec<Emitted>, String> {
    let (frames, ends) = one_event_batch(event);
    let (output, mut errors) = run::transform_batch(Some(plugin), &frames, &ends);
    if let Some((_, message)) = errors.pop() {
        return Err(message);
    }
    let mut start = 0;
    let mut emitted = Vec::with_capacity(output.ends.len());
    for &end in &output.ends {
        let end = end as usize;
        if end == start {
            emitted.push(Emitted::Kept);
            continue;
        }
        let event = frame::decode(&output.frames[start..end]).map_err(|err| err.to_string())?;
        emitted.push(Emitted::Event(event.to_owned_event()));
        start = end;
    }
    Ok(emitted)
}

/// Runs `plugin` on one event.
///
/// # Errors
///
/// Returns the reason the plugin rejected the event.
pub fn validate<T: Validator>(plugin: &mut T, event: &OwnedEvent) -> Result<(), String> {
    let (frames, ends) = one_event_batch(event);
    match run::validate_batch(Some(plugin), &frames, &ends).pop() {
        Some((_, message)) => Err(message),
        None => Ok(()),
    }
}

/// Adds `events` to `state`, in order, through the same batch code a
/// component runs, and returns the new state.
///
/// # Errors
///
/// The index and reason of the first event the plugin refused (the state
/// then holds every other event).
pub fn add<T: Aggregator>(
    plugin: &mut T,
    state: &T::State,
    events: &[OwnedEvent],
) -> Result<T::State, (u32, String)> {
    let mut frames = Vec::new();
    let mut ends = Vec::new();
    for event in events {
        frame::encode(event, &mut frames);
        ends.push(len_u32(frames.len()));
    }
    let mut bytes = Vec::new();
    state.encode(&mut bytes);
    let targets = vec![0; events.len()];
    let (mut states, mut errors) =
        aggregate::add_batch(Some(&mut *plugin), vec![bytes], &frames, &ends, &targets);
    if !errors.is_empty() {
        return Err(errors.swap_remove(0));
    }
    T::State::decode(&states.swap_remove(0)).map_err(|message| (0, message))
}

/// Merges `states` into one through the same code a component runs.
///
/// # Errors
///
/// The reason a state could not be read back.
pub fn merge<T: Aggregator>(plugin: &mut T, states: &[T::State]) -> Result<T::State, String> {
    let bytes: Vec<Vec<u8>> = states
        .iter()
        .map(|state| {
            let mut bytes = Vec::new();
            state.encode(&mut bytes);
            bytes
        })
        .collect();
    let mut merged = aggregate::merge_groups(Some(plugin), &bytes, &[len_u32(bytes.len())])?;
    T::State::decode(&merged.swap_remove(0))
}

/// Finishes one window and returns the events it emitted.
pub fn finish<T: Aggregator>(
    plugin: &mut T,
    state: &T::State,
    window: &Window<'_>,
) -> Vec<OwnedEvent> {
    let mut bytes = Vec::new();
    state.encode(&mut bytes);
    let window = WindowRef {
        key: window.key,
        start: window.start,
        end: window.end,
        update: window.update,
    };
    let (output, _) = aggregate::finish_windows(Some(plugin), std::iter::once(window), &[bytes]);
    let mut start = 0;
    let mut events = Vec::new();
    for &end in &output.ends {
        let end = end as usize;
        if let Ok(event) = frame::decode(&output.frames[start..end]) {
            events.push(event.to_owned_event());
        }
        start = end;
    }
    events
}

fn one_event_batch(event: &OwnedEvent) -> (Vec<u8>, [u32; 1]) {
    let mut frames = Vec::new();
    frame::encode(event, &mut frames);
    let end = len_u32(frames.len());
    (frames, [end])
}

/// Forgets the keyed state that transforms run on this thread have stored
/// (natively, state is a map per thread keyed by the event's key).
#[cfg(not(target_arch = "wasm32"))]
pub fn clear_state() {
    crate::state::backend::clear();
}
