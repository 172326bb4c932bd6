//! One live plugin instance: a `Store` with its sandbox, called with batches.
//!
//! An instance is made from the plugin's `InstancePre` and initialised with
//! the stage's configuration. A call that fails in any way (trap, timeout,
//! memory, invalid output) poisons the store: it is dropped, and the next
//! call makes a fresh instance. A trapped store is never reused.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::{Store, Trap};

use super::bindings::aggregator::Aggregate as Aggregator;
use super::bindings::transform::{Transform, exports::weir::plugin::transformer::Transformed};
use super::bindings::validator::Validate as Validator;
use super::bindings::{Batch, EventError};
use super::frame::{self, Decoded};
use super::keyed::{KeyedState, StateMisuse};
use super::sandbox::MemoryLimitExceeded;
use super::{EPOCH_TICK, Plugin, PluginPre, StoreState, World};

/// A window as an aggregator plugin sees it when finishing it.
pub use super::bindings::aggregator::exports::weir::plugin::aggregator::Window as AggregatorWindow;
use crate::config::Limits;
use crate::event::{ErrorKind, Event};
use crate::metrics::StageMetrics;

/// What a stage instance needs to know besides its plugin.
#[derive(Clone, Debug)]
pub struct StageSpec {
    /// The stage's name in the pipeline file.
    pub name: Arc<str>,
    /// The stage's `config` table, in order.
    pub config: Vec<(String, String)>,
    /// The stage's limits.
    pub limits: Limits,
}

/// A call to a plugin failed as a whole; the events of the batch have no
/// verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallFailure {
    /// What kind of failure it was.
    pub kind: ErrorKind,
    /// What happened, for the dead letter.
    pub message: String,
}

/// An instance could not be made or initialised.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    /// The stage's keyed state store failed.
    #[error("stage `{stage}`: keyed state: {error}")]
    State {
        /// The stage.
        stage: Arc<str>,
        /// The store's error.
        #[source]
        error: crate::state::StateError,
    },
    /// The plugin's `init` refused the stage's configuration.
    #[error("stage `{stage}`: plugin init failed: {message}")]
    Init {
        /// The stage.
        stage: Arc<str>,
        /// The plugin's message.
        message: String,
    },
    /// Instantiation itself failed (the instance pool is exhausted, or the
    /// component trapped while starting).
    #[error("stage `{stage}`: cannot instantiate plugin: {message}")]
    Instantiate {
        /// The stage.
        stage: Arc<str>,
        /// What wasmtime reported.
        message: String,
    },
}

/// What one event became in a successful call.
#[derive(Debug, PartialEq, Eq)]
pub enum Output {
    /// The input event at this index, unchanged.
    Keep(u32),
    /// A new event derived from the input event at this index.
    New(u32, Decoded),
}

/// The verdict of a successful call.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Events to pass on, in order.
    pub outputs: Vec<Output>,
    /// Input events the plugin refused (index, reason), by increasing index.
    pub refused: Vec<(u32, String)>,
}

/// A live plugin instance for one stage on one worker.
pub struct Instance {
    plugin: Arc<Plugin>,
    spec: StageSpec,
    metrics: StageMetrics,
    live: Option<Live>,
    input: Batch,
    /// The stage's keyed state, for a plugin that imports it.
    keyed: Option<KeyedState>,
}

struct Live {
    store: Store<StoreState>,
    exports: Exports,
}

enum Exports {
    Transform(Transform),
    Validator(Validator),
    Aggregator(Aggregator),
}

impl Exports {
    fn world(&self) -> World {
        match self {
            Exports::Transform(_) => World::Transform,
            Exports::Validator(_) => World::Validator,
            Exports::Aggregator(_) => World::Aggregator,
        }
    }
}

impl Instance {
    /// Makes and initialises an instance of `plugin` for a stage.
    ///
    /// # Errors
    ///
    /// [`InstanceError`] when instantiation or the plugin's `init` fails.
    pub fn new(
        plugin: Arc<Plugin>,
        spec: StageSpec,
        metrics: StageMetrics,
    ) -> Result<Self, InstanceError> {
        let mut instance = Instance {
            plugin,
            spec,
            metrics,
            live: None,
            input: empty_batch(),
            keyed: None,
        };
        instance.live = Some(instance.instantiate()?);
        Ok(instance)
    }

    /// The digest of the plugin this instance runs.
    pub fn plugin_digest(&self) -> &Arc<str> {
        self.plugin.digest()
    }

    /// Calls the plugin with a batch, making a fresh instance first if the
    /// previous call poisoned the old one.
    ///
    /// # Errors
    ///
    /// `Err(Ok(failure))` when the call failed as a whole (the store is then
    /// dropped); `Err(Err(error))` when no instance could be made, which
    /// the pipeline cannot recover from.
    pub fn call(
        &mut self,
        events: &[Event],
    ) -> Result<Outcome, Result<CallFailure, InstanceError>> {
        if let Some(keyed) = &mut self.keyed {
            keyed.begin(events.iter());
        }
        frame::encode(events, &mut self.input);
        let input = std::mem::replace(&mut self.input, empty_batch());
        let result = self.invoke(|exports, store| match exports {
            Exports::Transform(t) => t
                .weir_plugin_transformer()
                .call_transform(store, &input)
                .map(Raw::Transform),
            Exports::Validator(v) => v
                .weir_plugin_validator()
                .call_validate(store, &input)
                .map(Raw::Validator),
            Exports::Aggregator(_) => Err(wrong_world(World::Aggregator, "call")),
        });
        self.input = input;
        let outcome = result.and_then(|raw| self.checked(self.check(raw, events.len())));
        let Some(keyed) = &mut self.keyed else {
            return outcome;
        };
        let state_error = |error| InstanceError::State {
            stage: self.spec.name.clone(),
            error,
        };
        match outcome {
            Ok(outcome) => {
                let refused: Vec<u32> = outcome.refused.iter().map(|(i, _)| *i).collect();
                keyed.commit(&refused).map_err(|e| Err(state_error(e)))?;
                Ok(outcome)
            }
            Err(failure) => match keyed.discard() {
                Some(error) => Err(Err(state_error(error))),
                None => Err(failure),
            },
        }
    }

    /// Gives the instance its stage's keyed state, which the plugin reaches
    /// through `weir:plugin/state` while it transforms a batch.
    pub fn attach_state(&mut self, keyed: KeyedState) {
        self.keyed = Some(keyed);
    }

    /// Moves the keyed state's clock to `watermark`, deleting what expired.
    ///
    /// # Errors
    ///
    /// [`InstanceError::State`] when the store fails.
    pub fn expire_state(&mut self, watermark: i64) -> Result<(), InstanceError> {
        match &mut self.keyed {
            Some(keyed) => keyed
                .expire(watermark)
                .map_err(|error| InstanceError::State {
                    stage: self.spec.name.clone(),
                    error,
                }),
            None => Ok(()),
        }
    }

    /// An empty accumulator of an aggregator plugin.
    ///
    /// # Errors
    ///
    /// As for [`Instance::call`].
    pub fn create(&mut self) -> Result<Vec<u8>, Result<CallFailure, InstanceError>> {
        let state = self.invoke(|exports, store| match exports {
            Exports::Aggregator(a) => a.weir_plugin_aggregator().call_create(store),
            other => Err(wrong_world(other.world(), "create")),
        })?;
        let size = state.len() as u64;
        self.checked(self.check_size(size))?;
        Ok(state)
    }

    /// Adds `events[i]` to `states[targets[i]]` in an aggregator plugin.
    /// Returns the new states, one per state passed in, and the events the
    /// plugin refused.
    ///
    /// # Errors
    ///
    /// As for [`Instance::call`]; a result of the wrong shape is an invalid
    /// output.
    pub fn add(
        &mut self,
        states: &[Vec<u8>],
        events: &[&Event],
        targets: &[u32],
    ) -> Result<Added, Result<CallFailure, InstanceError>> {
        frame::encode(events.iter().copied(), &mut self.input);
        let input = std::mem::replace(&mut self.input, empty_batch());
        let result = self.invoke(|exports, store| match exports {
            Exports::Aggregator(a) => a
                .weir_plugin_aggregator()
                .call_add(store, states, &input, targets),
            other => Err(wrong_world(other.world(), "add")),
        });
        self.input = input;
        let added = result?;
        let size = added.states.iter().map(|s| s.len() as u64).sum::<u64>()
            + added
                .errors
                .iter()
                .map(|e| e.message.len() as u64)
                .sum::<u64>();
        self.checked(self.check_size(size))?;
        if added.states.len() != states.len() {
            let message = format!(
                "plugin returned {} accumulators for {} passed in",
                added.states.len(),
                states.len()
            );
            return self.checked(Err(invalid(message)));
        }
        let refused = self.checked(check_refused(added.errors, events.len()).map_err(invalid))?;
        Ok((added.states, refused))
    }

    /// Merges groups of accumulators (group `j` ends at `ends[j]`) in an
    /// aggregator plugin, one result per group.
    ///
    /// # Errors
    ///
    /// As for [`Instance::call`]; the plugin's own error is a call failure
    /// of kind [`ErrorKind::Rejected`], and the instance is kept.
    pub fn merge(
        &mut self,
        accumulators: &[Vec<u8>],
        ends: &[u32],
    ) -> Result<Vec<Vec<u8>>, Result<CallFailure, InstanceError>> {
        let result = self.invoke(|exports, store| match exports {
            Exports::Aggregator(a) => {
                a.weir_plugin_aggregator()
                    .call_merge(store, accumulators, ends)
            }
            other => Err(wrong_world(other.world(), "merge")),
        })?;
        let merged = result.map_err(|message| {
            Ok(CallFailure {
                kind: ErrorKind::Rejected,
                message,
            })
        })?;
        let size = merged.iter().map(|s| s.len() as u64).sum();
        self.checked(self.check_size(size))?;
        if merged.len() != ends.len() {
            let message = format!(
                "plugin returned {} merged accumulators for {} groups",
                merged.len(),
                ends.len()
            );
            return self.checked(Err(invalid(message)));
        }
        Ok(merged)
    }

    /// Finishes windows (`accumulators[i]` is `windows[i]`'s) in an
    /// aggregator plugin: the events each window emits, as outputs whose
    /// origin is the window's index, and the windows it could not finish.
    ///
    /// # Errors
    ///
    /// As for [`Instance::call`].
    pub fn finish(
        &mut self,
        windows: &[AggregatorWindow],
        accumulators: &[Vec<u8>],
    ) -> Result<Outcome, Result<CallFailure, InstanceError>> {
        let result = self.invoke(|exports, store| match exports {
            Exports::Aggregator(a) => {
                a.weir_plugin_aggregator()
                    .call_finish(store, windows, accumulators)
            }
            other => Err(wrong_world(other.world(), "finish")),
        })?;
        let finished = Transformed {
            events: result.events,
            origins: result.origins,
            errors: result.errors,
        };
        let raw = Raw::Transform(finished);
        self.checked(self.check(raw, windows.len()))
    }

    /// Runs one call on a live instance (made first if the previous call
    /// poisoned the old one). A failed call drops the instance.
    fn invoke<R>(
        &mut self,
        call: impl FnOnce(&Exports, &mut Store<StoreState>) -> wasmtime::Result<R>,
    ) -> Result<R, Result<CallFailure, InstanceError>> {
        let mut live = match self.live.take() {
            Some(live) => live,
            None => self.instantiate().map_err(Err)?,
        };
        live.store.set_epoch_deadline(self.deadline_ticks());
        live.store.data_mut().keyed = self.keyed.take();
        let started = Instant::now();
        let result = call(&live.exports, &mut live.store);
        self.metrics.call(started.elapsed());
        self.keyed = live.store.data_mut().keyed.take();
        match result {
            Ok(value) => {
                self.live = Some(live);
                Ok(value)
            }
            Err(error) => {
                let failure = self.classify(&error, &live.store);
                self.poisoned(&failure);
                Err(Ok(failure))
            }
        }
    }

    /// Passes a checked result on; a failed check drops the instance, whose
    /// state can no longer be trusted.
    fn checked<T>(
        &mut self,
        result: Result<T, CallFailure>,
    ) -> Result<T, Result<CallFailure, InstanceError>> {
        result.map_err(|failure| {
            self.live = None;
            self.poisoned(&failure);
            Ok(failure)
        })
    }

    fn poisoned(&self, failure: &CallFailure) {
        tracing::debug!(
            stage = %self.spec.name,
            kind = %failure.kind,
            error = %failure.message,
            "plugin call failed; dropping its instance"
        );
    }

    fn deadline_ticks(&self) -> u64 {
        let tick = EPOCH_TICK.as_micros().max(1);
        // One extra tick: the current tick may be about to end.
        (self.spec.limits.timeout.as_micros().div_ceil(tick) + 1) as u64
    }

    fn instantiate(&self) -> Result<Live, InstanceError> {
        let stage = &self.spec.name;
        let state = StoreState::new(
            stage.clone(),
            self.spec.limits.memory_bytes,
            self.metrics.clone(),
        );
        let mut store = Store::new(self.plugin.engine(), state);
        store.limiter(|state| state.limiter());
        store.set_epoch_deadline(self.deadline_ticks());
        let failed = |e: wasmtime::Error| InstanceError::Instantiate {
            stage: stage.clone(),
            message: format!("{e:#}"),
        };
        let exports = match &self.plugin.pre {
            PluginPre::Transform(pre) => {
                Exports::Transform(pre.instantiate(&mut store).map_err(failed)?)
            }
            PluginPre::Validator(pre) => {
                Exports::Validator(pre.instantiate(&mut store).map_err(failed)?)
            }
            PluginPre::Aggregator(pre) => {
                Exports::Aggregator(pre.instantiate(&mut store).map_err(failed)?)
            }
        };
        let config = &self.spec.config;
        let init = match &exports {
            Exports::Transform(t) => t.weir_plugin_transformer().call_init(&mut store, config),
            Exports::Validator(v) => v.weir_plugin_validator().call_init(&mut store, config),
            Exports::Aggregator(a) => a.weir_plugin_aggregator().call_init(&mut store, config),
        };
        self.metrics.instantiated();
        match init {
            Ok(Ok(())) => Ok(Live { store, exports }),
            Ok(Err(message)) => Err(InstanceError::Init {
                stage: stage.clone(),
                message,
            }),
            Err(e) => Err(InstanceError::Init {
                stage: stage.clone(),
                message: self.classify(&e, &store).message,
            }),
        }
    }

    /// Turns a failed call into a dead-letter kind and message.
    fn classify(&self, error: &wasmtime::Error, store: &Store<StoreState>) -> CallFailure {
        if let Some(limit) = error.downcast_ref::<MemoryLimitExceeded>() {
            return CallFailure {
                kind: ErrorKind::Memory,
                message: limit.to_string(),
            };
        }
        if let Some(misuse) = error.downcast_ref::<StateMisuse>() {
            return CallFailure {
                kind: ErrorKind::Trap,
                message: misuse.to_string(),
            };
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => CallFailure {
                kind: ErrorKind::Timeout,
                message: format!(
                    "plugin ran past its time limit of {} ms",
                    self.spec.limits.timeout.as_millis()
                ),
            },
            Some(trap) => {
                let mut message = trap.to_string();
                if let Some(panic) = store.data().panic_message() {
                    message = format!("{message}: {panic}");
                }
                CallFailure {
                    kind: ErrorKind::Trap,
                    message,
                }
            }
            // Not a trap: wasmtime could not lift the result (invalid UTF-8
            // in a string, an out-of-bounds list).
            None => CallFailure {
                kind: ErrorKind::InvalidOutput,
                message: format!("{error}"),
            },
        }
    }

    /// Checks the size of a plugin's result against the stage's limit.
    fn check_size(&self, size: u64) -> Result<(), CallFailure> {
        let limit = self.spec.limits.max_output_bytes;
        if size > limit {
            return Err(invalid(format!(
                "plugin returned {size} bytes, more than the stage's limit of {limit} bytes"
            )));
        }
        Ok(())
    }

    /// Checks a plugin's result against the input and the stage's limits.
    fn check(&self, raw: Raw, inputs: usize) -> Result<Outcome, CallFailure> {
        self.check_size(raw.size())?;
        match raw {
            Raw::Validator(rejected) => {
                let refused = check_refused(rejected, inputs).map_err(invalid)?;
                let mut outputs = Vec::with_capacity(inputs - refused.len());
                let mut next = refused.iter().map(|(i, _)| *i).peekable();
                for i in 0..inputs as u32 {
                    if next.peek() == Some(&i) {
                        next.next();
                    } else {
                        outputs.push(Output::Keep(i));
                    }
                }
                Ok(Outcome { outputs, refused })
            }
            Raw::Transform(t) => check_transformed(t, inputs).map_err(invalid),
        }
    }
}

/// What an aggregator's `add` returns once checked: the new accumulators,
/// one per accumulator passed in, and the refused events (index, reason).
pub type Added = (Vec<Vec<u8>>, Vec<(u32, String)>);

/// A batch with no events and no buffers.
fn empty_batch() -> Batch {
    Batch {
        frames: Vec::new(),
        ends: Vec::new(),
    }
}

fn invalid(message: String) -> CallFailure {
    CallFailure {
        kind: ErrorKind::InvalidOutput,
        message,
    }
}

/// The error for calling a world's function on a plugin of another world;
/// the engine only pairs stages with plugins of their world, so this is an
/// internal error.
fn wrong_world(world: World, function: &str) -> wasmtime::Error {
    wasmtime::Error::msg(format!("`{function}` called on a {world} plugin"))
}

enum Raw {
    Transform(Transformed),
    Validator(Vec<EventError>),
}

impl Raw {
    fn size(&self) -> u64 {
        let errors =
            |errors: &[EventError]| -> usize { errors.iter().map(|e| 4 + e.message.len()).sum() };
        (match self {
            Raw::Transform(t) => {
                t.events.frames.len()
                    + 4 * t.events.ends.len()
                    + 4 * t.origins.len()
                    + errors(&t.errors)
            }
            Raw::Validator(v) => errors(v),
        }) as u64
    }
}

fn check_refused(errors: Vec<EventError>, inputs: usize) -> Result<Vec<(u32, String)>, String> {
    let mut previous = None;
    let mut refused = Vec::with_capacity(errors.len());
    for EventError { index, message } in errors {
        if index as usize >= inputs {
            return Err(format!(
                "plugin refused event {index} of a batch of {inputs}"
            ));
        }
        if previous.is_some_and(|p| p >= index) {
            return Err(format!(
                "plugin refused event {index} out of order or twice"
            ));
        }
        previous = Some(index);
        refused.push((index, message));
    }
    Ok(refused)
}

fn check_transformed(t: Transformed, inputs: usize) -> Result<Outcome, String> {
    let Transformed {
        events,
        origins,
        errors,
    } = t;
    if origins.len() != events.ends.len() {
        return Err(format!(
            "plugin returned {} events but {} origins",
            events.ends.len(),
            origins.len()
        ));
    }
    let refused = check_refused(errors, inputs)?;
    let mut outputs = Vec::with_capacity(origins.len());
    let mut start = 0usize;
    let mut previous = 0u32;
    for (i, (&end, &origin)) in events.ends.iter().zip(&origins).enumerate() {
        let end = end as usize;
        if end < start || end > events.frames.len() {
            return Err(format!("output event {i} has an invalid frame end {end}"));
        }
        if origin as usize >= inputs || origin < previous {
            return Err(format!(
                "output event {i} names input {origin}, out of order or range"
            ));
        }
        if refused.binary_search_by_key(&origin, |(i, _)| *i).is_ok() {
            return Err(format!(
                "output event {i} comes from input {origin}, which was refused"
            ));
        }
        previous = origin;
        let output = if end == start {
            Output::Keep(origin)
        } else {
            let event = frame::decode(&events.frames[start..end])
                .map_err(|e| format!("output event {i}: {e}"))?;
            Output::New(origin, event)
        };
        outputs.push(output);
        start = end;
    }
    Ok(Outcome { outputs, refused })
}
