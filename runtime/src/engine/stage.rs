//! One stage on one worker: a plugin instance plus the stage's error policy.
//!
//! A batch goes to the plugin in one call. When the call fails as a whole
//! (trap, timeout, memory, invalid output), the batch is bisected: each half
//! is called again on a fresh instance, recursively, until the events that
//! fail on their own are isolated. Only those meet the error policy; every
//! other event is delivered, in its original order.

use std::sync::Arc;

use crate::config::ErrorPolicy;
use crate::event::{DeadLetter, ErrorKind, Event};
use crate::metrics::{Metrics, StageMetrics};
use crate::plugin::Plugin;
use crate::plugin::instance::{CallFailure, Instance, InstanceError, Outcome, Output, StageSpec};

/// The pipeline must stop: a stage with the `fail` policy met a failing
/// event, or no plugin instance can be made.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// An event failed in a stage whose policy is `fail`.
    #[error("stage `{stage}` failed on the event from {position}: {kind}: {message}")]
    Failed {
        /// The stage.
        stage: Arc<str>,
        /// Where the event came from.
        position: crate::event::SourcePosition,
        /// The kind of failure.
        kind: ErrorKind,
        /// The failure's message.
        message: String,
    },
    /// No instance of the stage's plugin could be made.
    #[error(transparent)]
    Instance(#[from] InstanceError),
    /// The keyed state store failed.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
}

/// A stage running on one worker.
pub struct Stage {
    name: Arc<str>,
    instance: Instance,
    policy: ErrorPolicy,
    metrics: StageMetrics,
}

/// Where a stage puts what it produces.
pub struct StageOutput<'a> {
    /// Events for the next stage (or the sinks), in order.
    pub events: &'a mut Vec<Event>,
    /// Events for the dead-letter output.
    pub dead: &'a mut Vec<DeadLetter>,
}

impl Stage {
    /// Instantiates the stage's plugin for one worker.
    ///
    /// # Errors
    ///
    /// [`InstanceError`] when the plugin cannot be instantiated or its
    /// `init` refuses the configuration.
    pub fn new(
        plugin: Arc<Plugin>,
        spec: StageSpec,
        policy: ErrorPolicy,
        metrics: Arc<Metrics>,
    ) -> Result<Self, InstanceError> {
        let name = spec.name.clone();
        let metrics = metrics.stage_metrics(&spec.name);
        let instance = Instance::new(plugin, spec, metrics.clone())?;
        Ok(Stage {
            name,
            instance,
            policy,
            metrics,
        })
    }

    /// Gives the stage its keyed state (for a plugin that imports it).
    pub fn attach_state(&mut self, keyed: crate::plugin::keyed::KeyedState) {
        self.instance.attach_state(keyed);
    }

    /// Moves the stage's keyed state to `watermark`: values whose
    /// time-to-live has passed are deleted.
    ///
    /// # Errors
    ///
    /// [`StageError::Instance`] when the state store fails.
    pub fn advance(&mut self, watermark: i64) -> Result<(), StageError> {
        Ok(self.instance.expire_state(watermark)?)
    }

    /// Runs a batch through the stage.
    ///
    /// # Errors
    ///
    /// [`StageError`] when the pipeline must stop.
    pub fn process(&mut self, input: Vec<Event>, out: StageOutput<'_>) -> Result<(), StageError> {
        let n_in = input.len() as u64;
        let before = out.events.len();
        let dead_before = out.dead.len();
        self.run(input, out.events, out.dead)?;
        let n_out = (out.events.len() - before) as u64;
        self.metrics.batch(n_in, n_out);
        for letter in &out.dead[dead_before..] {
            self.metrics.dead_lettered(letter.kind);
        }
        Ok(())
    }

    fn run(
        &mut self,
        input: Vec<Event>,
        events: &mut Vec<Event>,
        dead: &mut Vec<DeadLetter>,
    ) -> Result<(), StageError> {
        if input.is_empty() {
            return Ok(());
        }
        let failure = match self.instance.call(&input) {
            Ok(outcome) => return self.apply(input, outcome, events, dead),
            Err(Ok(failure)) => failure,
            Err(Err(error)) => return Err(error.into()),
        };
        if input.len() > 1 {
            let mut first = input;
            let second = first.split_off(first.len() / 2);
            self.run(first, events, dead)?;
            return self.run(second, events, dead);
        }
        match input.into_iter().next() {
            Some(event) => self.single_failure(event, failure, events, dead),
            None => Ok(()),
        }
    }

    /// One event failed a call on its own.
    fn single_failure(
        &mut self,
        event: Event,
        mut failure: CallFailure,
        events: &mut Vec<Event>,
        dead: &mut Vec<DeadLetter>,
    ) -> Result<(), StageError> {
        if let ErrorPolicy::Retry { attempts } = self.policy {
            for _ in 0..attempts {
                let input = std::slice::from_ref(&event);
                match self.instance.call(input) {
                    Ok(outcome) => return self.apply(vec![event], outcome, events, dead),
                    Err(Ok(again)) => failure = again,
                    Err(Err(error)) => return Err(error.into()),
                }
            }
        }
        self.refuse(event, failure.kind, failure.message, dead)
    }

    /// Applies the error policy to an event the plugin refused or failed on.
    fn refuse(
        &mut self,
        event: Event,
        kind: ErrorKind,
        message: String,
        dead: &mut Vec<DeadLetter>,
    ) -> Result<(), StageError> {
        match self.policy {
            ErrorPolicy::Skip => {
                self.metrics.skipped(kind);
                Ok(())
            }
            ErrorPolicy::Fail => Err(StageError::Failed {
                stage: self.name.clone(),
                position: event.position,
                kind,
                message,
            }),
            ErrorPolicy::DeadLetter | ErrorPolicy::Retry { .. } => {
                dead.push(DeadLetter {
                    event,
                    kind,
                    message,
                    stage: Some(self.name.clone()),
                    plugin: Some(self.instance.plugin_digest().clone()),
                });
                Ok(())
            }
        }
    }

    /// Turns a successful call's outcome into events and dead letters.
    fn apply(
        &mut self,
        input: Vec<Event>,
        outcome: Outcome,
        events: &mut Vec<Event>,
        dead: &mut Vec<DeadLetter>,
    ) -> Result<(), StageError> {
        let Outcome { outputs, refused } = outcome;
        // How many outputs still refer to each input, so that the last one
        // can take the event instead of cloning it.
        let mut uses = vec![0u32; input.len()];
        for output in &outputs {
            let (Output::Keep(i) | Output::New(i, _)) = output;
            uses[*i as usize] += 1;
        }
        let mut input: Vec<Option<Event>> = input.into_iter().map(Some).collect();
        // The instance checked that origins are in range and never refused,
        // so every origin is present until its last use.
        for output in outputs {
            match output {
                Output::Keep(i) => {
                    let i = i as usize;
                    uses[i] -= 1;
                    let event = if uses[i] == 0 {
                        input[i].take()
                    } else {
                        input[i].clone()
                    };
                    events.extend(event);
                }
                Output::New(i, decoded) => {
                    let i = i as usize;
                    uses[i] -= 1;
                    // A derived event keeps its origin's position and key-by
                    // key: it stays the same record, on the same worker.
                    let origin = if uses[i] == 0 { input[i].take() } else { None };
                    let origin = origin.as_ref().or(input[i].as_ref());
                    events.push(Event {
                        key: decoded.key,
                        value: decoded.value,
                        headers: decoded.headers,
                        time: decoded.time,
                        position: origin.map(|e| e.position.clone()).unwrap_or_default(),
                        route_key: origin.and_then(|e| e.route_key.clone()),
                    });
                }
            }
        }
        for (i, reason) in refused {
            if let Some(event) = input[i as usize].take() {
                self.refuse(event, ErrorKind::Rejected, reason, dead)?;
            }
        }
        Ok(())
    }
}
