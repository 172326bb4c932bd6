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

use crate::event::OwnedEvent;
use crate::frame::{self, len_u32};
use crate::run;
use crate::{Transform, Validator};

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

fn one_event_batch(event: &OwnedEvent) -> (Vec<u8>, [u32; 1]) {
    let mut frames = Vec::new();
    frame::encode(event, &mut frames);
    let end = len_u32(frames.len());
    (frames, [end])
}
