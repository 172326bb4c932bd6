//! Keyed state: small named values weir keeps per key-by key for a
//! transform stage, so that a plugin can remember what it has seen of a key
//! (a running count, the last value) without keeping anything itself.
//!
//! ```no_run
//! use weir_sdk::{Config, Emitter, Event, Transform};
//!
//! /// Passes on only the first event of each key.
//! struct FirstPerKey;
//!
//! impl Transform for FirstPerKey {
//!     fn init(_config: &Config) -> Result<Self, String> {
//!         Ok(FirstPerKey)
//!     }
//!
//!     fn transform(&mut self, event: &Event<'_>, out: &mut Emitter) -> Result<(), String> {
//!         let state = event.state();
//!         if state.get("seen").is_none() {
//!             state.set("seen", b"1");
//!             out.keep();
//!         }
//!         Ok(())
//!     }
//! }
//!
//! weir_sdk::export_transform!(FirstPerKey);
//! # fn main() {}
//! ```
//!
//! The state reached from an event is its key's in this stage: a plugin
//! cannot read another key's. Changes made while transforming an event take
//! effect only when the transform returns `Ok`; an event it refuses leaves
//! state as it was, and so does a call that traps (weir retries the batch in
//! parts). Within a batch, events see the changes made before them, also
//! those made for an event that was then refused: check an event before
//! changing state for it. The pipeline needs a `[key_by]`; values with a time-to-live
//! expire when the pipeline's watermark passes the event's time plus the
//! time-to-live, so expiry needs an `[event_time]`.
//!
//! A component imports `weir:plugin/state` only if its plugin calls
//! [`Event::state`]; weir sets up a state store only for such plugins.
//!
//! Outside a component (in unit tests run natively) the state is an
//! in-memory map per thread keyed by the event's key, which
//! [`crate::testing::clear_state`] empties; time-to-live is not applied
//! there, and changes for a refused event are kept.

use crate::event::Event;

/// The keyed state of one event's key; see the [module docs](self).
pub struct KeyedState<'e> {
    event: &'e Event<'e>,
}

impl<'e> KeyedState<'e> {
    pub(crate) fn new(event: &'e Event<'e>) -> Self {
        KeyedState { event }
    }

    /// The value stored under `name`, if any.
    pub fn get(&self, name: &str) -> Option<Vec<u8>> {
        backend::get(self.event, name)
    }

    /// Stores `value` under `name`.
    pub fn set(&self, name: &str, value: impl AsRef<[u8]>) {
        backend::set(self.event, name, value.as_ref(), None);
    }

    /// Stores `value` under `name` until the watermark passes this event's
    /// time plus `ttl_ms`.
    pub fn set_with_ttl(&self, name: &str, value: impl AsRef<[u8]>, ttl_ms: u64) {
        backend::set(self.event, name, value.as_ref(), Some(ttl_ms));
    }

    /// Deletes the value stored under `name`.
    pub fn delete(&self, name: &str) {
        backend::delete(self.event, name);
    }
}

#[cfg(target_arch = "wasm32")]
mod backend {
    use crate::bindings::transform_bindings::weir::plugin::state;
    use crate::event::Event;

    pub fn get(event: &Event<'_>, name: &str) -> Option<Vec<u8>> {
        state::get(event.index, name)
    }

    pub fn set(event: &Event<'_>, name: &str, value: &[u8], ttl_ms: Option<u64>) {
        state::set(event.index, name, value, ttl_ms);
    }

    pub fn delete(event: &Event<'_>, name: &str) {
        state::delete(event.index, name);
    }
}

/// Natively, a map per thread keyed by (event key, name), for unit tests.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) mod backend {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use crate::event::Event;

    type Map = HashMap<(Vec<u8>, String), Vec<u8>>;

    thread_local! {
        static STATE: RefCell<Map> = RefCell::new(HashMap::new());
    }

    fn slot(event: &Event<'_>, name: &str) -> (Vec<u8>, String) {
        (event.key().unwrap_or_default().to_vec(), name.to_owned())
    }

    pub fn get(event: &Event<'_>, name: &str) -> Option<Vec<u8>> {
        STATE.with_borrow(|state| state.get(&slot(event, name)).cloned())
    }

    pub fn set(event: &Event<'_>, name: &str, value: &[u8], _ttl_ms: Option<u64>) {
        STATE.with_borrow_mut(|state| state.insert(slot(event, name), value.to_vec()));
    }

    pub fn delete(event: &Event<'_>, name: &str) {
        STATE.with_borrow_mut(|state| state.remove(&slot(event, name)));
    }

    /// Forgets every value.
    pub fn clear() {
        STATE.with_borrow_mut(HashMap::clear);
    }
}
