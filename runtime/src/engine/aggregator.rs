//! A window stage whose windows a Wasm aggregator plugin computes.
//!
//! The window operator decides which accumulator each event joins, which
//! accumulators merge and when a window is finished, exactly as for the
//! built-in aggregates; the accumulators it holds are [`Deferred`]: the
//! plugin's accumulator bytes plus what still has to be added and merged.
//! After each batch the stage settles every changed accumulator in one
//! batched `add` call, and finishes completed windows with one `merge` call
//! (for windows assembled from several slices or sessions) and one `finish`
//! call, so the number of plugin calls grows with batches, not events.
//!
//! Failures stay local: when a batched call fails (a trap, a timeout, a
//! result of the wrong shape), the stage repeats it one event or one window
//! at a time on a fresh instance, so that only the event or window that
//! fails goes to the dead-letter output. A failed window's dead letter is an
//! event describing it: `{"key":…,"window_start":…,"window_end":…,"update":…}`.
//!
//! Accumulators are held in memory like the built-in windows' state, and
//! written to the state store at checkpoint barriers (see `crate::window`).

use std::collections::HashSet;
use std::sync::Arc;

use super::stage::StageError;
use super::window_stage::WindowOutput;
use crate::event::{DeadLetter, ErrorKind, Event, SourcePosition};
use crate::metrics::{Metrics, StageMetrics};
use crate::plugin::Plugin;
use crate::plugin::instance::{
    AggregatorWindow, CallFailure, Instance, InstanceError, Outcome, Output, StageSpec,
};
use crate::sink::encode;
use crate::window::codec::{Reader, Writer};
use crate::window::{Accumulate, Verdict, WindowOperator, WindowResult, WindowSpec};

/// A plugin accumulator as the window operator holds it: states to merge
/// and events of the current batch still to add.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Deferred {
    /// Accumulator states whose merge is this accumulator; none means the
    /// plugin's empty accumulator.
    parts: Vec<Arc<[u8]>>,
    /// Events of the batch being processed still to add (their index in
    /// it).
    pending: Vec<u32>,
}

impl Accumulate for Deferred {
    type Input = u32;
    type Output = Deferred;
    const DEFERRED: bool = true;

    fn add(&mut self, index: &u32, _time: i64, _seq: u64) {
        self.pending.push(*index);
    }

    fn merge(&mut self, other: &Self) {
        self.parts.extend(other.parts.iter().cloned());
        self.pending.extend_from_slice(&other.pending);
    }

    fn finish(self) -> Deferred {
        self
    }

    /// The states to merge; the stage settles pending events after every
    /// batch, so at a checkpoint barrier there are none.
    fn encode(&self, out: &mut Writer<'_>) {
        debug_assert!(
            self.pending.is_empty(),
            "a deferred accumulator is unsettled"
        );
        out.u32(self.parts.len() as u32);
        for part in &self.parts {
            out.bytes(part);
        }
    }

    fn decode(input: &mut Reader<'_>) -> Option<Self> {
        let n = input.u32()?;
        let parts = (0..n)
            .map(|_| input.bytes().map(Arc::from))
            .collect::<Option<Vec<_>>>()?;
        Some(Deferred {
            parts,
            pending: Vec::new(),
        })
    }
}

impl Deferred {
    /// What the pending events are added to: the one state there is, or an
    /// empty accumulator when there are none or several (they stay parts
    /// and merge when the window is finished).
    fn base<'a>(&'a self, empty: &'a [u8]) -> &'a [u8] {
        match self.parts.as_slice() {
            [one] => one,
            _ => empty,
        }
    }

    /// Takes the state `add` returned for [`Deferred::base`] plus the
    /// pending events.
    fn settle(&mut self, state: Arc<[u8]>) {
        if self.parts.len() <= 1 {
            self.parts = vec![state];
        } else {
            self.parts.push(state);
        }
        self.pending.clear();
    }
}

/// A window stage with an aggregator plugin, on one worker.
pub struct AggregatorWindows {
    name: Arc<str>,
    digest: Arc<str>,
    instance: Instance,
    metrics: StageMetrics,
    /// The plugin's empty accumulator (`create`, called once).
    empty: Arc<[u8]>,
    operator: WindowOperator<Deferred>,
    results: Vec<WindowResult<Deferred>>,
}

/// Where one pending accumulator of a settle call lives.
enum Holder {
    Live(crate::window::Touched),
    Result(usize),
}

impl AggregatorWindows {
    /// Instantiates the plugin and asks it for an empty accumulator.
    ///
    /// # Errors
    ///
    /// [`InstanceError`] when the plugin cannot be instantiated, its `init`
    /// refuses the configuration, or `create` fails.
    pub fn new(
        plugin: Arc<Plugin>,
        spec: StageSpec,
        window: WindowSpec,
        metrics: &Arc<Metrics>,
    ) -> Result<Self, InstanceError> {
        let name = spec.name.clone();
        let digest = plugin.digest().clone();
        let metrics = metrics.stage_metrics(&name);
        let mut instance = Instance::new(plugin, spec, metrics.clone())?;
        let empty = instance.create().map_err(|error| match error {
            Ok(failure) => InstanceError::Init {
                stage: name.clone(),
                message: format!("create failed: {}", failure.message),
            },
            Err(error) => error,
        })?;
        Ok(AggregatorWindows {
            name,
            digest,
            instance,
            metrics,
            empty: empty.into(),
            operator: WindowOperator::with_accumulator(window, Deferred::default()),
            results: Vec::new(),
        })
    }

    /// The window operator.
    pub(super) fn operator(&self) -> &WindowOperator<Deferred> {
        &self.operator
    }

    /// The window operator, to persist or restore its state.
    pub(super) fn operator_mut(&mut self) -> &mut WindowOperator<Deferred> {
        &mut self.operator
    }

    /// Adds a batch of events to their windows; windows it updates (late
    /// events within the allowed lateness) are finished.
    ///
    /// # Errors
    ///
    /// [`StageError::Instance`] when no plugin instance can be made.
    pub fn process(&mut self, events: Vec<Event>, out: WindowOutput<'_>) -> Result<(), StageError> {
        let n_in = events.len() as u64;
        let mut batch = Vec::with_capacity(events.len());
        let mut late = Vec::new();
        for event in events {
            let Some(key) = event.route_key.clone() else {
                out.dead.push(self.dead_letter(
                    event,
                    ErrorKind::Malformed,
                    "event has no key to window by".into(),
                ));
                continue;
            };
            let index = batch.len() as u32;
            let verdict = self
                .operator
                .add(&key, event.time, &index, &mut self.results);
            if verdict == Verdict::Late {
                late.push(index);
            }
            batch.push(event);
        }
        self.settle(&batch, out.dead)?;
        let before = out.events.len();
        self.finish(out.events, out.dead)?;
        self.metrics.batch(n_in, (out.events.len() - before) as u64);
        if !late.is_empty() {
            let mut late = late.into_iter().peekable();
            for (index, event) in batch.into_iter().enumerate() {
                if late.peek() == Some(&(index as u32)) {
                    late.next();
                    out.late.push(event);
                }
            }
        }
        Ok(())
    }

    /// Moves the watermark, finishing the windows it completes.
    ///
    /// # Errors
    ///
    /// [`StageError::Instance`] when no plugin instance can be made.
    pub fn advance(&mut self, watermark: i64, out: WindowOutput<'_>) -> Result<(), StageError> {
        self.operator.advance(watermark, &mut self.results);
        self.finish(out.events, out.dead)
    }

    /// Adds every pending event of `batch` to its accumulator (changed
    /// windows and the results taken from them), in one call.
    fn settle(&mut self, batch: &[Event], dead: &mut Vec<DeadLetter>) -> Result<(), StageError> {
        let mut states = Vec::new();
        let mut events: Vec<&Event> = Vec::new();
        let mut targets = Vec::new();
        let mut holders = Vec::new();
        let mut gather = |holder: Holder, acc: &Deferred, empty: &[u8]| {
            if acc.pending.is_empty() {
                return;
            }
            let target = states.len() as u32;
            states.push(acc.base(empty).to_vec());
            for &index in &acc.pending {
                events.push(&batch[index as usize]);
                targets.push(target);
            }
            holders.push(holder);
        };
        for touched in self.operator.take_touched() {
            if let Some(acc) = self.operator.accumulator_mut(&touched) {
                gather(Holder::Live(touched), acc, &self.empty);
            }
        }
        for (i, result) in self.results.iter().enumerate() {
            gather(Holder::Result(i), &result.values, &self.empty);
        }
        if states.is_empty() {
            return Ok(());
        }
        let (states, failed) = match self.instance.add(&states, &events, &targets) {
            Ok((states, refused)) => {
                let failed = refused
                    .into_iter()
                    .map(|(i, message)| (i, ErrorKind::Rejected, message))
                    .collect();
                (states, failed)
            }
            Err(Err(error)) => return Err(error.into()),
            Err(Ok(_)) => self.add_one_by_one(states, &events, &targets)?,
        };
        // An event may be pending in a live accumulator and in a result
        // taken from it: it is one event, with one dead letter.
        let mut reported = HashSet::new();
        for (i, kind, message) in failed {
            let event = events[i as usize];
            if reported.insert(event as *const Event) {
                dead.push(self.dead_letter(event.clone(), kind, message));
            }
        }
        for (holder, state) in holders.into_iter().zip(states) {
            let acc = match holder {
                Holder::Live(touched) => self.operator.accumulator_mut(&touched),
                Holder::Result(i) => Some(&mut self.results[i].values),
            };
            if let Some(acc) = acc {
                acc.settle(state.into());
            }
        }
        Ok(())
    }

    /// Repeats a failed `add` one event at a time: the events that fail on
    /// their own are returned with their failure and left out.
    fn add_one_by_one(
        &mut self,
        mut states: Vec<Vec<u8>>,
        events: &[&Event],
        targets: &[u32],
    ) -> Result<Failed, StageError> {
        let mut failed = Vec::new();
        for (i, (event, &target)) in events.iter().zip(targets).enumerate() {
            let state = std::mem::take(&mut states[target as usize]);
            match self
                .instance
                .add(std::slice::from_ref(&state), &[event], &[0])
            {
                Ok((mut new, refused)) if refused.is_empty() => {
                    states[target as usize] = new.swap_remove(0);
                }
                Ok((_, mut refused)) => {
                    states[target as usize] = state;
                    let (_, message) = refused.swap_remove(0);
                    failed.push((i as u32, ErrorKind::Rejected, message));
                }
                Err(Ok(CallFailure { kind, message })) => {
                    states[target as usize] = state;
                    failed.push((i as u32, kind, message));
                }
                Err(Err(error)) => return Err(error.into()),
            }
        }
        Ok((states, failed))
    }

    /// Finishes the windows in `self.results` into `events`; windows that
    /// cannot be merged or finished become dead letters.
    fn finish(
        &mut self,
        events: &mut Vec<Event>,
        dead: &mut Vec<DeadLetter>,
    ) -> Result<(), StageError> {
        if self.results.is_empty() {
            return Ok(());
        }
        let results = std::mem::take(&mut self.results);
        let mut accumulators: Vec<Option<Vec<u8>>> = Vec::with_capacity(results.len());
        let mut groups = Vec::new();
        for (i, result) in results.iter().enumerate() {
            match result.values.parts.as_slice() {
                [] => accumulators.push(Some(self.empty.to_vec())),
                [one] => accumulators.push(Some(one.to_vec())),
                parts => {
                    accumulators.push(None);
                    groups.push((i, parts));
                }
            }
        }
        for (i, merged) in self.merge(&groups)? {
            match merged {
                Ok(state) => accumulators[i] = Some(state),
                Err(failure) => dead.push(self.dead_window(&results[i], failure)),
            }
        }
        let mut windows = Vec::new();
        let mut states = Vec::new();
        let mut which = Vec::new();
        for (i, state) in accumulators.into_iter().enumerate() {
            if let Some(state) = state {
                let result = &results[i];
                windows.push(AggregatorWindow {
                    key: result.key.to_vec(),
                    start: result.start,
                    end: result.end,
                    update: result.update,
                });
                states.push(state);
                which.push(i);
            }
        }
        match self.instance.finish(&windows, &states) {
            Ok(outcome) => self.emit(&results, &which, outcome, events, dead),
            Err(Err(error)) => return Err(error.into()),
            Err(Ok(_)) => {
                for (j, (window, state)) in windows.into_iter().zip(states).enumerate() {
                    let single = [which[j]];
                    match self.instance.finish(&[window], &[state]) {
                        Ok(outcome) => self.emit(&results, &single, outcome, events, dead),
                        Err(Ok(failure)) => {
                            dead.push(self.dead_window(&results[which[j]], failure));
                        }
                        Err(Err(error)) => return Err(error.into()),
                    }
                }
            }
        }
        Ok(())
    }

    /// Merges each group of parts into one state, in one call; when that
    /// fails, one call per group, so that only the groups that fail on
    /// their own fail.
    fn merge(&mut self, groups: &[(usize, &[Arc<[u8]>])]) -> Result<Merged, StageError> {
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        let mut flat = Vec::new();
        let mut ends = Vec::new();
        for (_, parts) in groups {
            flat.extend(parts.iter().map(|p| p.to_vec()));
            ends.push(flat.len() as u32);
        }
        match self.instance.merge(&flat, &ends) {
            Ok(merged) => Ok(groups
                .iter()
                .zip(merged)
                .map(|((i, _), state)| (*i, Ok(state)))
                .collect()),
            Err(Err(error)) => Err(error.into()),
            Err(Ok(_)) => {
                let mut out = Vec::with_capacity(groups.len());
                for (i, parts) in groups {
                    let flat: Vec<Vec<u8>> = parts.iter().map(|p| p.to_vec()).collect();
                    let ends = [flat.len() as u32];
                    match self.instance.merge(&flat, &ends) {
                        Ok(mut merged) => out.push((*i, Ok(merged.swap_remove(0)))),
                        Err(Ok(failure)) => out.push((*i, Err(failure))),
                        Err(Err(error)) => return Err(error.into()),
                    }
                }
                Ok(out)
            }
        }
    }

    /// Turns a `finish` outcome for the windows `which` into events and
    /// dead letters.
    fn emit(
        &self,
        results: &[WindowResult<Deferred>],
        which: &[usize],
        outcome: Outcome,
        events: &mut Vec<Event>,
        dead: &mut Vec<DeadLetter>,
    ) {
        for output in outcome.outputs {
            match output {
                Output::New(origin, decoded) => {
                    let result = &results[which[origin as usize]];
                    events.push(Event {
                        key: decoded.key,
                        value: decoded.value,
                        headers: decoded.headers,
                        time: decoded.time,
                        position: self.position(),
                        route_key: Some(result.key.clone()),
                    });
                }
                Output::Keep(origin) => {
                    let failure = CallFailure {
                        kind: ErrorKind::InvalidOutput,
                        message: "plugin returned an empty frame for a window; \
                                  a window has no input event to keep"
                            .into(),
                    };
                    dead.push(self.dead_window(&results[which[origin as usize]], failure));
                }
            }
        }
        for (origin, message) in outcome.refused {
            let failure = CallFailure {
                kind: ErrorKind::Rejected,
                message,
            };
            dead.push(self.dead_window(&results[which[origin as usize]], failure));
        }
    }

    fn position(&self) -> SourcePosition {
        SourcePosition {
            source: self.name.clone(),
            topic: None,
            partition: 0,
            offset: 0,
        }
    }

    fn dead_letter(&self, event: Event, kind: ErrorKind, message: String) -> DeadLetter {
        self.metrics.dead_lettered(kind);
        DeadLetter {
            event,
            kind,
            message,
            stage: Some(self.name.clone()),
            plugin: (kind != ErrorKind::Malformed).then(|| self.digest.clone()),
        }
    }

    /// The dead letter for a window the plugin could not merge or finish.
    fn dead_window(&self, result: &WindowResult<Deferred>, failure: CallFailure) -> DeadLetter {
        use std::io::Write;
        let mut value = Vec::with_capacity(96);
        value.extend_from_slice(b"{\"key\":");
        encode::json_bytes(&mut value, &result.key);
        let _ = write!(
            value,
            ",\"window_start\":{},\"window_end\":{},\"update\":{}}}",
            result.start, result.end, result.update
        );
        let event = Event {
            key: Some(result.key.to_vec()),
            value,
            headers: Vec::new(),
            time: result.end - 1,
            position: self.position(),
            route_key: Some(result.key.clone()),
        };
        self.dead_letter(event, failure.kind, failure.message)
    }
}

/// New states, and the failed events (index in the call, kind, message).
type Failed = (Vec<Vec<u8>>, Vec<(u32, ErrorKind, String)>);

/// Per group (the result's index): its merged state or why it failed.
type Merged = Vec<(usize, Result<Vec<u8>, CallFailure>)>;
