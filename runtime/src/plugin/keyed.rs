//! Keyed state for transform plugins (`weir:plugin/state`), host side.
//!
//! A stage whose plugin imports the state interface gets a [`KeyedState`]
//! over its worker's key groups. Before each call the instance tells it
//! which key-by key and time each event of the batch has; the plugin's
//! `get`, `set` and `delete` then reach only that event's key, as
//! `len(key) ‖ key ‖ name` in the key's key group of this stage. Changes are
//! logged per event and seen by later reads of the call; when the call
//! succeeds the instance commits the changes of every event the plugin did
//! not refuse in one write, and when it fails it discards them all, so that
//! a batch retried in parts changes state once per event.

use std::collections::HashMap;
use std::sync::Arc;

use crate::engine::keys;
use crate::event::Event;
use crate::state::{StageState, StateBatch, StateError};

/// A plugin called the state interface in a way weir cannot serve (no
/// key to scope it to, an event outside the batch, or the store failed);
/// the call traps with this message.
#[derive(Debug, thiserror::Error)]
#[error("keyed state: {0}")]
pub struct StateMisuse(pub String);

/// A new value and when it expires, or `None` for a deletion.
type NewValue = Option<(Vec<u8>, Option<i64>)>;

/// One change of a call: the event it was made for, the key group and
/// state key, and the new value.
type Change = (u32, u16, Vec<u8>, NewValue);

/// One stage's keyed state on one worker, and the changes of the call in
/// progress.
pub struct KeyedState {
    state: StageState,
    key_groups: u32,
    /// Per event of the current call: its key-by key (the key group is
    /// worked out only for events the plugin asks about).
    keys: Vec<Option<Arc<[u8]>>>,
    /// Per event of the current call: its event time.
    times: Vec<i64>,
    /// The call's changes, in order.
    changes: Vec<Change>,
    /// The latest change of each (key group, state key), an index into
    /// `changes`.
    latest: HashMap<(u16, Vec<u8>), usize>,
    /// The store's error, if it failed during the call.
    failure: Option<StateError>,
}

impl KeyedState {
    /// Keyed state over `state`, for a pipeline of `key_groups` key groups.
    pub fn new(state: StageState, key_groups: u32) -> Self {
        KeyedState {
            state,
            key_groups,
            keys: Vec::new(),
            times: Vec::new(),
            changes: Vec::new(),
            latest: HashMap::new(),
            failure: None,
        }
    }

    /// Prepares for a call over `events`, forgetting any earlier call's
    /// uncommitted changes.
    pub fn begin<'a>(&mut self, events: impl Iterator<Item = &'a Event>) {
        self.keys.clear();
        self.times.clear();
        self.changes.clear();
        self.latest.clear();
        self.failure = None;
        for event in events {
            self.keys.push(event.route_key.clone());
            self.times.push(event.time);
        }
    }

    /// Makes the call's changes durable, in one write, except those made
    /// for the events in `refused` (indices, increasing).
    ///
    /// # Errors
    ///
    /// The store's error, from the call or from the write.
    pub fn commit(&mut self, refused: &[u32]) -> Result<(), StateError> {
        self.latest.clear();
        if let Some(failure) = self.failure.take() {
            self.changes.clear();
            return Err(failure);
        }
        let mut batch = StateBatch::new();
        for (event, group, slot, change) in self.changes.drain(..) {
            if refused.binary_search(&event).is_ok() {
                continue;
            }
            match change {
                Some((value, Some(expires_at))) => {
                    batch.put_with_ttl(group, &slot, &value, expires_at);
                }
                Some((value, None)) => batch.put(group, &slot, &value),
                None => batch.delete(group, &slot),
            }
        }
        self.state.commit(batch)
    }

    /// Drops the call's changes; returns the store's error if it failed
    /// during the call.
    pub fn discard(&mut self) -> Option<StateError> {
        self.changes.clear();
        self.latest.clear();
        self.failure.take()
    }

    /// Moves the state's clock to `watermark`, deleting expired values.
    ///
    /// # Errors
    ///
    /// The store's error.
    pub fn expire(&mut self, watermark: i64) -> Result<(), StateError> {
        self.state.expire(watermark).map(|_| ())
    }

    /// The key group and state key of `name` for event `event`.
    fn slot(&self, event: u32, name: &str) -> wasmtime::Result<(u16, Vec<u8>)> {
        let Some(key) = self.keys.get(event as usize) else {
            return Err(wasmtime::Error::new(StateMisuse(format!(
                "event {event} is not in the batch of {} events",
                self.keys.len()
            ))));
        };
        let Some(key) = key else {
            return Err(wasmtime::Error::new(StateMisuse(format!(
                "event {event} has no key-by key"
            ))));
        };
        let mut slot = Vec::with_capacity(4 + key.len() + name.len());
        slot.extend_from_slice(&(key.len() as u32).to_be_bytes());
        slot.extend_from_slice(key);
        slot.extend_from_slice(name.as_bytes());
        // Key groups are at most 32768, so the group fits in a u16.
        let group = keys::key_group(key, self.key_groups) as u16;
        Ok((group, slot))
    }

    /// Remembers a store failure and turns it into a trap.
    fn failed(&mut self, error: StateError) -> wasmtime::Error {
        let trap = wasmtime::Error::new(StateMisuse(error.to_string()));
        self.failure.get_or_insert(error);
        trap
    }

    pub(super) fn get(&mut self, event: u32, name: &str) -> wasmtime::Result<Option<Vec<u8>>> {
        let (group, slot) = self.slot(event, name)?;
        if let Some(&at) = self.latest.get(&(group, slot.clone())) {
            return Ok(match &self.changes[at].3 {
                Some((value, expires_at)) => expires_at
                    .is_none_or(|at| at > self.state.now())
                    .then(|| value.clone()),
                None => None,
            });
        }
        match self.state.get(group, &slot) {
            Ok(value) => Ok(value),
            Err(error) => Err(self.failed(error)),
        }
    }

    fn log(
        &mut self,
        event: u32,
        group: u16,
        slot: Vec<u8>,
        change: Option<(Vec<u8>, Option<i64>)>,
    ) {
        self.latest
            .insert((group, slot.clone()), self.changes.len());
        self.changes.push((event, group, slot, change));
    }

    pub(super) fn set(
        &mut self,
        event: u32,
        name: &str,
        value: &[u8],
        ttl_ms: Option<u64>,
    ) -> wasmtime::Result<()> {
        let (group, slot) = self.slot(event, name)?;
        let expires_at = ttl_ms.map(|ttl| {
            let ttl = i64::try_from(ttl).unwrap_or(i64::MAX);
            self.times[event as usize].saturating_add(ttl)
        });
        self.log(event, group, slot, Some((value.to_vec(), expires_at)));
        Ok(())
    }

    pub(super) fn delete(&mut self, event: u32, name: &str) -> wasmtime::Result<()> {
        let (group, slot) = self.slot(event, name)?;
        self.log(event, group, slot, None);
        Ok(())
    }
}
