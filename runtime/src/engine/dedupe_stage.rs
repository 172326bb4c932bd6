//! A dedupe stage on one worker: drops events whose id was already kept
//! within `within_ms` of event time, remembering ids in the keyed state
//! store (RocksDB).
//!
//! Ids are scoped to the event's key-by key (state is stored in the key's
//! key group under the key and the id), so a retried event, which has the
//! same key, meets its first copy, and equal ids of different keys do not
//! collide.
//! Each remembered id is stored with the event time it was first kept at
//! and a time-to-live of that time plus `within_ms`; the store's clock is the
//! worker's watermark, so an id is forgotten, and its state deleted, once the
//! watermark passes that time. One state write per batch.

use std::sync::Arc;

use crate::config::DedupeStage as DedupeConfig;
use crate::engine::keys;
use crate::event::{DeadLetter, ErrorKind, Event};
use crate::metrics::Metrics;
use crate::state::{StageState, StateBatch, StateError};

/// A dedupe stage running on one worker.
pub struct DedupeStage {
    name: Arc<str>,
    config: DedupeConfig,
    key_groups: u32,
    state: StageState,
    metrics: Arc<Metrics>,
}

impl DedupeStage {
    /// A dedupe stage keeping its ids in `state` (the worker's key groups
    /// of this stage), for a pipeline of `key_groups` key groups.
    pub fn new(
        name: Arc<str>,
        config: DedupeConfig,
        key_groups: u32,
        state: StageState,
        metrics: Arc<Metrics>,
    ) -> Self {
        DedupeStage {
            name,
            config,
            key_groups,
            state,
            metrics,
        }
    }

    /// Passes on the first copy of each id and drops the others.
    ///
    /// # Errors
    ///
    /// A [`StateError`] when the state store cannot be read or written.
    pub fn process(
        &mut self,
        events: Vec<Event>,
        out: &mut Vec<Event>,
        dead: &mut Vec<DeadLetter>,
    ) -> Result<(), StateError> {
        let mut batch = StateBatch::new();
        let mut dropped = 0u64;
        for event in events {
            let (group, id) = match self.id(&event) {
                Ok(found) => found,
                Err(message) => {
                    dead.push(DeadLetter {
                        event,
                        kind: ErrorKind::Malformed,
                        message,
                        stage: Some(self.name.clone()),
                        plugin: None,
                    });
                    continue;
                }
            };
            let seen = batch
                .get(&self.state, group, &id)?
                .and_then(|v| decode_time(&v));
            if seen.is_some_and(|at| event.time.abs_diff(at) < self.config.within_ms as u64) {
                dropped += 1;
                continue;
            }
            let expires_at = event.time.saturating_add(self.config.within_ms);
            batch.put_with_ttl(group, &id, &event.time.to_be_bytes(), expires_at);
            out.push(event);
        }
        if !batch.is_empty() {
            self.state.commit(batch)?;
        }
        if dropped > 0 {
            self.metrics.deduplicated(&self.name, dropped);
        }
        Ok(())
    }

    /// Moves the store's clock to the watermark and forgets expired ids.
    ///
    /// # Errors
    ///
    /// A [`StateError`] when the state store cannot be written.
    pub fn advance(&mut self, watermark: i64) -> Result<(), StateError> {
        self.state.expire(watermark).map(|_| ())
    }

    /// The event's key group and state key (its key, length-prefixed, then
    /// its id), or why it has none.
    fn id(&self, event: &Event) -> Result<(u16, Vec<u8>), String> {
        let field = &self.config.field;
        let raw = match weir_json::find(&event.value, field) {
            Ok(Some(raw)) => raw,
            Ok(None) => return Err(format!("dedupe field `{field}` is missing")),
            Err(error) => return Err(format!("value is not json: {error}")),
        };
        let Some(key) = &event.route_key else {
            return Err("event has no key to dedupe by".into());
        };
        // Key groups are at most 32768, so the group fits in a u16.
        let group = keys::key_group(key, self.key_groups) as u16;
        let id = weir_json::key_bytes(raw);
        let mut state_key = Vec::with_capacity(4 + key.len() + id.len());
        state_key.extend_from_slice(&(key.len() as u32).to_be_bytes());
        state_key.extend_from_slice(key);
        state_key.extend_from_slice(&id);
        Ok((group, state_key))
    }
}

fn decode_time(bytes: &[u8]) -> Option<i64> {
    Some(i64::from_be_bytes(bytes.try_into().ok()?))
}
