//! A window stage on one worker: reads each event's aggregate inputs from
//! its JSON value, feeds the window operator, and turns window results into
//! events. A stage with an aggregator plugin is in [`super::aggregator`].
//!
//! A result event's value is one JSON object:
//! `{"key":…,"window_start":…,"window_end":…,<aggregates…>,"update":false}`
//! with the aggregates in the order the stage lists them. Its time is
//! `window_end - 1`, its key and route key the window's key.

use std::sync::Arc;

use super::aggregator::AggregatorWindows;
use super::keys;
use super::stage::StageError;
use crate::config::{AggregateConfig, WindowStage as WindowConfig};
use crate::event::{DeadLetter, ErrorKind, Event, SourcePosition};
use crate::metrics::Metrics;
use crate::plugin::Plugin;
use crate::plugin::instance::{InstanceError, StageSpec};
use crate::sink::encode;
use crate::state::{StageState, StateBatch, StateError};
use crate::window::aggregate::{Input, InputKind, Value, write_number};
use crate::window::{Accumulate, CorruptState, Verdict, WindowOperator, WindowResult, WindowSpec};

/// A window stage running on one worker.
pub struct WindowStage {
    windows: Windows,
    /// Where its state is kept at checkpoints, if it is.
    persisted: Option<Persisted>,
}

/// Built-in aggregates, or an aggregator plugin.
enum Windows {
    /// Built-in aggregates.
    Builtin(Box<BuiltinWindows>),
    /// A Wasm aggregator.
    Plugin(Box<AggregatorWindows>),
}

/// Where a window stage puts what it produces.
pub struct WindowOutput<'a> {
    /// Result events, in order.
    pub events: &'a mut Vec<Event>,
    /// Events whose aggregate inputs could not be read, and windows an
    /// aggregator plugin could not finish.
    pub dead: &'a mut Vec<DeadLetter>,
    /// Events too late for every window they belong to.
    pub late: &'a mut Vec<Event>,
}

impl WindowStage {
    /// A window stage named `name`; `plugin` is the loaded aggregator when
    /// the stage has one.
    ///
    /// # Errors
    ///
    /// [`InstanceError`] when the aggregator cannot be instantiated or
    /// refuses its configuration.
    pub fn new(
        name: Arc<str>,
        config: &WindowConfig,
        plugin: Option<Arc<Plugin>>,
        metrics: &Arc<Metrics>,
    ) -> Result<Self, InstanceError> {
        let spec = WindowSpec {
            kind: config.window,
            allowed_lateness: config.allowed_lateness_ms,
            functions: config.aggregates.iter().map(|a| a.function).collect(),
        };
        match (&config.aggregator, plugin) {
            (Some(aggregator), Some(plugin)) => {
                let stage = StageSpec {
                    name,
                    config: aggregator.config.clone(),
                    limits: aggregator.limits,
                };
                let windows = AggregatorWindows::new(plugin, stage, spec, metrics)?;
                Ok(WindowStage::from(Windows::Plugin(Box::new(windows))))
            }
            _ => Ok(WindowStage::from(Windows::Builtin(Box::new(
                BuiltinWindows {
                    name,
                    aggregates: config.aggregates.clone(),
                    operator: WindowOperator::new(spec),
                    results: Vec::new(),
                },
            )))),
        }
    }

    fn from(windows: Windows) -> Self {
        WindowStage {
            windows,
            persisted: None,
        }
    }

    /// Adds a batch of events to their windows.
    ///
    /// # Errors
    ///
    /// [`StageError::Instance`] when an aggregator plugin instance cannot
    /// be made.
    pub fn process(&mut self, events: Vec<Event>, out: WindowOutput<'_>) -> Result<(), StageError> {
        match &mut self.windows {
            Windows::Builtin(windows) => {
                windows.process(events, out);
                Ok(())
            }
            Windows::Plugin(windows) => windows.process(events, out),
        }
    }

    /// Moves the stage's watermark, emitting the windows it completes.
    ///
    /// # Errors
    ///
    /// As for [`WindowStage::process`].
    pub fn advance(&mut self, watermark: i64, out: WindowOutput<'_>) -> Result<(), StageError> {
        match &mut self.windows {
            Windows::Builtin(windows) => {
                windows.operator.advance(watermark, &mut windows.results);
                windows.emit(out.events);
                Ok(())
            }
            Windows::Plugin(windows) => windows.advance(watermark, out),
        }
    }

    /// The stage's watermark and arrival counter, as a checkpoint records
    /// them.
    pub fn progress(&self) -> (i64, u64) {
        match &self.windows {
            Windows::Builtin(w) => (w.operator.watermark(), w.operator.seq()),
            Windows::Plugin(w) => (w.operator().watermark(), w.operator().seq()),
        }
    }

    /// Writes the state that changed since the last barrier to the state
    /// store, in one write (nothing without [`WindowStage::attach_state`]).
    ///
    /// # Errors
    ///
    /// A [`StateError`] when the store cannot be written.
    pub fn snapshot(&mut self) -> Result<(), StateError> {
        let Some(persisted) = &mut self.persisted else {
            return Ok(());
        };
        match &mut self.windows {
            Windows::Builtin(w) => persisted.snapshot(&mut w.operator),
            Windows::Plugin(w) => persisted.snapshot(w.operator_mut()),
        }
    }

    /// Loads the stage's state from the store after a restore, with the
    /// watermark and arrival counter the checkpoint recorded; returns how
    /// many keys it loaded.
    ///
    /// # Errors
    ///
    /// A [`RestoreError`] when the store cannot be read or holds something
    /// else than window state.
    pub fn restore(&mut self, watermark: i64, seq: u64) -> Result<usize, RestoreError> {
        let Some(persisted) = &self.persisted else {
            return Ok(0);
        };
        match &mut self.windows {
            Windows::Builtin(w) => persisted.restore(&mut w.operator, watermark, seq),
            Windows::Plugin(w) => persisted.restore(w.operator_mut(), watermark, seq),
        }
    }
}

impl WindowStage {
    /// Keeps the stage's state in `state` from now on: changes are written
    /// there at each checkpoint barrier ([`WindowStage::snapshot`]).
    pub fn attach_state(&mut self, state: StageState, key_groups: u32) {
        match &mut self.windows {
            Windows::Builtin(w) => w.operator.track_changes(),
            Windows::Plugin(w) => w.operator_mut().track_changes(),
        }
        self.persisted = Some(Persisted { state, key_groups });
    }
}

/// A window stage's state in the state store.
pub struct Persisted {
    state: StageState,
    key_groups: u32,
}

impl Persisted {
    /// Writes the operator's changed keys in one batch.
    fn snapshot<A: Accumulate>(
        &mut self,
        operator: &mut WindowOperator<A>,
    ) -> Result<(), StateError> {
        let mut batch = StateBatch::new();
        operator.take_changes(|key, bytes| {
            // Key groups are at most 32768, so the group fits in a u16.
            let group = keys::key_group(key, self.key_groups) as u16;
            match bytes {
                Some(bytes) => batch.put(group, key, bytes),
                None => batch.delete(group, key),
            }
        });
        if batch.is_empty() {
            return Ok(());
        }
        self.state.commit(batch)
    }

    /// Loads every key of the worker's key groups into `operator`.
    fn restore<A: Accumulate>(
        &self,
        operator: &mut WindowOperator<A>,
        watermark: i64,
        seq: u64,
    ) -> Result<usize, RestoreError> {
        operator.resume_at(watermark, seq);
        let mut keys = 0;
        for group in self.state.key_groups() {
            for entry in self.state.scan_prefix(group, b"")? {
                let (key, value) = entry?;
                operator.restore(Arc::from(key), &value)?;
                keys += 1;
            }
        }
        Ok(keys)
    }
}

/// A window stage's state could not be restored.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The state store failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// A stored key's state is not window state.
    #[error(transparent)]
    Corrupt(#[from] CorruptState),
}

/// A window stage with built-in aggregates on one worker.
pub struct BuiltinWindows {
    name: Arc<str>,
    aggregates: Vec<AggregateConfig>,
    operator: WindowOperator,
    results: Vec<WindowResult>,
}

impl BuiltinWindows {
    /// Adds a batch of events to their windows.
    fn process(&mut self, events: Vec<Event>, out: WindowOutput<'_>) {
        for event in events {
            let inputs = match self.inputs(&event) {
                Ok(inputs) => inputs,
                Err(message) => {
                    out.dead.push(self.dead_letter(event, message));
                    continue;
                }
            };
            let Some(key) = event.route_key.clone() else {
                out.dead
                    .push(self.dead_letter(event, "event has no key to window by".into()));
                continue;
            };
            let verdict = self
                .operator
                .add(&key, event.time, &inputs, &mut self.results);
            if verdict == Verdict::Late {
                out.late.push(event);
            }
        }
        self.emit(out.events);
    }

    fn dead_letter(&self, event: Event, message: String) -> DeadLetter {
        DeadLetter {
            event,
            kind: ErrorKind::Malformed,
            message,
            stage: Some(self.name.clone()),
            plugin: None,
        }
    }

    /// Each aggregate's input from the event's value.
    fn inputs(&self, event: &Event) -> Result<Vec<Input>, String> {
        let mut inputs = Vec::with_capacity(self.aggregates.len());
        for aggregate in &self.aggregates {
            let Some(field) = &aggregate.field else {
                inputs.push(Input::None);
                continue;
            };
            let raw = match weir_json::find(&event.value, field) {
                Ok(Some(raw)) => raw,
                Ok(None) => {
                    return Err(format!(
                        "aggregate `{}` needs field `{field}`",
                        aggregate.name
                    ));
                }
                Err(error) => return Err(format!("value is not json: {error}")),
            };
            inputs.push(match aggregate.function.input() {
                InputKind::Number => match weir_json::scalar(raw) {
                    weir_json::Scalar::Number(x) => Input::Number(x),
                    _ => {
                        return Err(format!(
                            "aggregate `{}` needs field `{field}` to be a number",
                            aggregate.name
                        ));
                    }
                },
                InputKind::Json | InputKind::None => Input::Json(raw.to_vec()),
            });
        }
        Ok(inputs)
    }

    fn emit(&mut self, events: &mut Vec<Event>) {
        for result in self.results.drain(..) {
            events.push(result_event(&self.name, &self.aggregates, result));
        }
    }
}

/// The event for one window result.
fn result_event(stage: &Arc<str>, aggregates: &[AggregateConfig], r: WindowResult) -> Event {
    use std::io::Write;
    let mut value = Vec::with_capacity(128);
    value.extend_from_slice(b"{\"key\":");
    encode::json_bytes(&mut value, &r.key);
    let _ = write!(
        value,
        ",\"window_start\":{},\"window_end\":{}",
        r.start, r.end
    );
    for (aggregate, result) in aggregates.iter().zip(&r.values) {
        value.push(b',');
        encode::json_string(&mut value, &aggregate.name);
        value.push(b':');
        match result {
            Value::Int(n) => {
                let _ = write!(value, "{n}");
            }
            Value::Number(x) => write_number(&mut value, *x),
            Value::Null => value.extend_from_slice(b"null"),
            Value::Json(raw) => value.extend_from_slice(raw),
        }
    }
    let _ = write!(value, ",\"update\":{}}}", r.update);
    Event {
        key: Some(r.key.to_vec()),
        value,
        headers: Vec::new(),
        time: r.end - 1,
        position: SourcePosition {
            source: stage.clone(),
            topic: None,
            partition: 0,
            offset: 0,
        },
        route_key: Some(r.key),
    }
}
