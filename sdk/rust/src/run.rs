//! The glue between the generated exports and a plugin's trait impl: holding
//! the instance, decoding batches, calling the plugin per event and packing
//! the results. The `export_*!` macros call into here; nothing here is public
//! API.

use std::cell::RefCell;
use std::thread::LocalKey;

use crate::aggregate::{self, WindowRef};
use crate::bindings::{
    aggregator_bindings as ab, transform_bindings as tb, validator_bindings as vb,
};
use crate::frame::{self, Emitter, Output};
use crate::{Aggregator, Config, State, Transform, Validator};

use tb::exports::weir::plugin::transformer::Transformed;

/// Where a plugin instance lives between calls. A component instance runs on
/// one thread, so a thread-local is a plain static there; on the build
/// machine it keeps host-side tests sound.
pub type Slot<T> = LocalKey<RefCell<Option<T>>>;

/// The reason given for every event of a batch that arrives before a
/// successful `init`.
pub const NOT_INITIALISED: &str = "plugin is not initialised: init was not called or failed";

/// Runs the plugin's `init` and keeps the instance in `slot`.
pub fn init<T: 'static>(
    slot: &'static Slot<T>,
    config: Vec<(String, String)>,
    init: fn(&Config) -> Result<T, String>,
) -> Result<(), String> {
    install_panic_hook();
    // Drop an earlier instance first: a failed init leaves none behind.
    slot.with_borrow_mut(|plugin| *plugin = None);
    let instance = init(&Config::new(config))?;
    slot.with_borrow_mut(|plugin| *plugin = Some(instance));
    Ok(())
}

/// Makes a panic print one line, `plugin panicked at <file:line:col>:
/// <message>`, to standard error.
///
/// A panic traps the instance and weir explains the trap with the last lines
/// the plugin wrote to standard error. Rust's default hook spreads a panic over
/// three lines and ends with advice about `RUST_BACKTRACE`, which means
/// nothing inside a plugin; one line keeps the message where weir looks.
#[cfg(target_arch = "wasm32")]
fn install_panic_hook() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message = info
                .payload_as_str()
                .unwrap_or("(a panic payload that is not text)");
            let message = message.replace('\n', " ");
            match info.location() {
                Some(at) => eprintln!("plugin panicked at {at}: {message}"),
                None => eprintln!("plugin panicked: {message}"),
            }
        }));
    });
}

/// Outside WebAssembly (unit tests) the test harness's own hook stays.
#[cfg(not(target_arch = "wasm32"))]
fn install_panic_hook() {}

/// Runs a transform over a batch.
pub fn transform<T: Transform + 'static>(
    slot: &'static Slot<T>,
    input: tb::weir::plugin::types::Batch,
) -> Transformed {
    let (output, errors) =
        slot.with_borrow_mut(|plugin| transform_batch(plugin.as_mut(), &input.frames, &input.ends));
    Transformed {
        events: tb::weir::plugin::types::Batch {
            frames: output.frames,
            ends: output.ends,
        },
        origins: output.origins,
        errors: errors
            .into_iter()
            .map(|(index, message)| tb::weir::plugin::types::EventError { index, message })
            .collect(),
    }
}

/// Runs a validator over a batch.
pub fn validate<T: Validator + 'static>(
    slot: &'static Slot<T>,
    input: vb::weir::plugin::types::Batch,
) -> Vec<vb::weir::plugin::types::EventError> {
    let errors =
        slot.with_borrow_mut(|plugin| validate_batch(plugin.as_mut(), &input.frames, &input.ends));
    errors
        .into_iter()
        .map(|(index, message)| vb::weir::plugin::types::EventError { index, message })
        .collect()
}

/// An aggregator's empty accumulator.
pub fn create<T: Aggregator>() -> Vec<u8> {
    let mut out = Vec::new();
    T::State::default().encode(&mut out);
    out
}

/// Runs an aggregator's `add` over a batch.
pub fn add<T: Aggregator>(
    slot: &'static Slot<T>,
    states: Vec<Vec<u8>>,
    input: ab::weir::plugin::types::Batch,
    targets: Vec<u32>,
) -> ab::exports::weir::plugin::aggregator::Added {
    let (states, errors) = slot.with_borrow_mut(|plugin| {
        aggregate::add_batch(
            plugin.as_mut(),
            states,
            &input.frames,
            &input.ends,
            &targets,
        )
    });
    ab::exports::weir::plugin::aggregator::Added {
        states,
        errors: errors
            .into_iter()
            .map(|(index, message)| ab::weir::plugin::types::EventError { index, message })
            .collect(),
    }
}

/// Runs an aggregator's `merge`.
pub fn merge<T: Aggregator>(
    slot: &'static Slot<T>,
    states: Vec<Vec<u8>>,
    ends: Vec<u32>,
) -> Result<Vec<Vec<u8>>, String> {
    slot.with_borrow_mut(|plugin| aggregate::merge_groups(plugin.as_mut(), &states, &ends))
}

/// Runs an aggregator's `finish`.
pub fn finish<T: Aggregator>(
    slot: &'static Slot<T>,
    windows: Vec<ab::exports::weir::plugin::aggregator::Window>,
    states: Vec<Vec<u8>>,
) -> ab::exports::weir::plugin::aggregator::Finished {
    let refs = windows.iter().map(|w| WindowRef {
        key: &w.key,
        start: w.start,
        end: w.end,
        update: w.update,
    });
    let (output, errors) =
        slot.with_borrow_mut(|plugin| aggregate::finish_windows(plugin.as_mut(), refs, &states));
    ab::exports::weir::plugin::aggregator::Finished {
        events: ab::weir::plugin::types::Batch {
            frames: output.frames,
            ends: output.ends,
        },
        origins: output.origins,
        errors: errors
            .into_iter()
            .map(|(index, message)| ab::weir::plugin::types::EventError { index, message })
            .collect(),
    }
}

/// Calls `plugin` once per event; refused events leave no output behind.
pub(crate) fn transform_batch<T: Transform>(
    mut plugin: Option<&mut T>,
    frames: &[u8],
    ends: &[u32],
) -> (Output, Vec<(u32, String)>) {
    let mut output = Output::for_inputs(ends.len());
    let mut errors = Vec::new();
    for (index, frame) in frame::frames(frames, ends) {
        let Some(plugin) = plugin.as_deref_mut() else {
            errors.push((index, NOT_INITIALISED.to_owned()));
            continue;
        };
        let mut event = match frame.and_then(frame::decode) {
            Ok(event) => event,
            Err(err) => {
                errors.push((index, err.to_string()));
                continue;
            }
        };
        event.index = index;
        let mark = output.mark();
        let result = plugin.transform(&event, &mut Emitter::new(&mut output, index, &event));
        if let Err(message) = result {
            output.rollback(mark);
            errors.push((index, message));
        }
    }
    (output, errors)
}

/// Calls `plugin` once per event and collects the rejections.
pub(crate) fn validate_batch<T: Validator>(
    mut plugin: Option<&mut T>,
    frames: &[u8],
    ends: &[u32],
) -> Vec<(u32, String)> {
    let mut errors = Vec::new();
    for (index, frame) in frame::frames(frames, ends) {
        let Some(plugin) = plugin.as_deref_mut() else {
            errors.push((index, NOT_INITIALISED.to_owned()));
            continue;
        };
        let result = match frame.and_then(frame::decode) {
            Ok(event) => plugin.validate(&event),
            Err(err) => Err(err.to_string()),
        };
        if let Err(message) = result {
            errors.push((index, message));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, OwnedEvent};

    /// Drops events whose value is `drop`, refuses `bad` after emitting,
    /// duplicates `twice`, keeps the rest.
    struct Script;

    impl Transform for Script {
        fn init(_: &Config) -> Result<Self, String> {
            Ok(Script)
        }

        fn transform(&mut self, event: &Event<'_>, out: &mut Emitter) -> Result<(), String> {
            match event.value() {
                b"drop" => {}
                b"bad" => {
                    out.emit_value("partial");
                    return Err("bad event".to_owned());
                }
                b"twice" => {
                    out.keep();
                    out.emit_value("again");
                }
                _ => out.keep(),
            }
            Ok(())
        }
    }

    impl Validator for Script {
        fn init(_: &Config) -> Result<Self, String> {
            Ok(Script)
        }

        fn validate(&mut self, event: &Event<'_>) -> Result<(), String> {
            match event.value() {
                b"bad" => Err("bad event".to_owned()),
                _ => Ok(()),
            }
        }
    }

    fn batch(values: &[&str]) -> (Vec<u8>, Vec<u32>) {
        let mut frames = Vec::new();
        let mut ends = Vec::new();
        for value in values {
            frame::encode(&OwnedEvent::new(*value), &mut frames);
            ends.push(frame::len_u32(frames.len()));
        }
        (frames, ends)
    }

    #[test]
    fn transforms_a_batch() {
        let (frames, ends) = batch(&["a", "drop", "bad", "twice", "b"]);
        let (output, errors) = transform_batch(Some(&mut Script), &frames, &ends);
        assert_eq!(output.origins, [0, 3, 3, 4]);
        assert_eq!(errors, [(2, "bad event".to_owned())]);
        // Kept events are empty frames; only "again" has bytes.
        assert_eq!(output.ends[0], 0);
        assert_eq!(output.ends[1], 0);
        let again = frame::decode(&output.frames[..output.ends[2] as usize]).unwrap();
        assert_eq!(again.value(), b"again");
        assert_eq!(output.ends[3], output.ends[2]);
    }

    #[test]
    fn validates_a_batch() {
        let (frames, ends) = batch(&["a", "bad", "b", "bad"]);
        let errors = validate_batch(Some(&mut Script), &frames, &ends);
        assert_eq!(
            errors,
            [(1, "bad event".to_owned()), (3, "bad event".to_owned())]
        );
    }

    #[test]
    fn refuses_every_event_before_init() {
        let (frames, ends) = batch(&["a", "b"]);
        let (output, errors) = transform_batch::<Script>(None, &frames, &ends);
        assert!(output.origins.is_empty());
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[1], (1, NOT_INITIALISED.to_owned()));
        assert_eq!(validate_batch::<Script>(None, &frames, &ends).len(), 2);
    }

    #[test]
    fn refuses_malformed_frames_one_by_one() {
        let (mut frames, mut ends) = batch(&["a"]);
        frames.extend_from_slice(&[1, 2, 3]);
        ends.push(frame::len_u32(frames.len()));
        let (output, errors) = transform_batch(Some(&mut Script), &frames, &ends);
        assert_eq!(output.origins, [0]);
        assert_eq!(
            errors,
            [(1, "malformed input frame: truncated event time".to_owned())]
        );
    }

    thread_local! {
        static SLOT: RefCell<Option<Script>> = const { RefCell::new(None) };
    }

    #[test]
    fn a_failed_init_leaves_no_instance() {
        init(&SLOT, Vec::new(), |_| Ok(Script)).unwrap();
        assert!(SLOT.with_borrow(Option::is_some));
        let failed = init(&SLOT, Vec::new(), |_| Err::<Script, _>("no".to_owned()));
        assert_eq!(failed, Err("no".to_owned()));
        assert!(SLOT.with_borrow(Option::is_none));
    }
}
