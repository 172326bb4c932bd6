//! Event-time windows over keyed events: tumbling, sliding and session
//! windows with built-in aggregates, allowed lateness and late events.
//!
//! # Semantics
//!
//! A watermark `W` says "no more events with time `<= W` are expected". A
//! window `[start, end)` is complete when `W >= end - 1`; its result is
//! emitted then (not an update). It stays alive for `allowed_lateness` more:
//! until `W >= end - 1 + allowed_lateness`, when its state is dropped.
//!
//! An event with time `t > W` is on time and is added. An event with
//! `t <= W` is late: it is added to the windows containing it that are still
//! alive, and each of those that was already complete is emitted again with
//! the corrected result, marked as an update. A late event with no alive
//! window is returned as [`Verdict::Late`] for the late side output: never
//! dropped silently. Emissions a late event causes are updates; emissions a
//! watermark causes are not.
//!
//! Windows start at multiples of the slide (of the size for tumbling
//! windows), counted from the Unix epoch. A window with no event emits
//! nothing. A session window is `[first event, last event + gap)`; an event
//! that falls within `gap` of a session joins it, and one that bridges two
//! sessions merges them.
//!
//! Sliding windows are assembled from slices of `gcd(size, slide)`: an event
//! updates one slice, whatever `size / slide` is; a window's result merges
//! its slices when it is emitted.
//!
//! What a window accumulates is the [`Accumulate`] type the operator is made
//! with: the built-in aggregates ([`Accumulators`]), or the deferred
//! accumulators of a Wasm aggregator plugin, which record what to add and
//! merge and leave the calls to the stage (one batched call per batch of
//! events rather than one per event). A deferred accumulator asks the
//! operator to remember which accumulators changed
//! ([`WindowOperator::take_touched`]).
//!
//! # Checkpoints
//!
//! With [`WindowOperator::track_changes`], the operator remembers which
//! keys' state changed; [`WindowOperator::take_changes`] hands each such
//! key's state over in its byte form (see `codec`), or says that it is gone,
//! so that the stage writes only what changed into the state store at a
//! checkpoint barrier. [`WindowOperator::restore`] puts a key's state back
//! and schedules again the timers of its windows that had not fired yet
//! (those that had, at the restored watermark, fire no second time).
//!
//! FIXME: window state is held in memory (per worker) between checkpoints;
//! the state store holds a copy written at each barrier, so state survives
//! restarts but is still bounded by memory rather than disk.

pub mod aggregate;
pub mod codec;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use aggregate::{Accumulator, Function, Input, Value};
use codec::{Reader, Writer};

/// What a window accumulates: a value that takes events one at a time and
/// merges with another of its kind.
///
/// The operator relies on `add` in any order and `merge` giving the same
/// result, and on a fresh accumulator (a clone of the one the operator was
/// made with) changing nothing when merged.
pub trait Accumulate: Clone {
    /// What one event contributes.
    type Input: ?Sized;
    /// What a finished window carries.
    type Output;
    /// Whether the operator must record which accumulators changed, so that
    /// their owner can complete deferred work on them.
    const DEFERRED: bool = false;

    /// Adds one event; `time` and `seq` (its arrival order) break ties for
    /// order-sensitive aggregates.
    fn add(&mut self, input: &Self::Input, time: i64, seq: u64);
    /// Folds `other` into this accumulator.
    fn merge(&mut self, other: &Self);
    /// The window's result.
    fn finish(self) -> Self::Output;
    /// Appends the accumulator's byte form (for checkpoints).
    fn encode(&self, out: &mut Writer<'_>);
    /// Reads an accumulator written by [`Accumulate::encode`]; `None` when
    /// the bytes are not one.
    fn decode(input: &mut Reader<'_>) -> Option<Self>;
}

/// The built-in aggregates of one window, in spec order.
#[derive(Clone, Debug, PartialEq)]
pub struct Accumulators(Vec<Accumulator>);

impl Accumulators {
    /// Empty accumulators for `functions`.
    pub fn new(functions: &[Function]) -> Self {
        Accumulators(functions.iter().map(|f| Accumulator::new(*f)).collect())
    }
}

impl Accumulate for Accumulators {
    type Input = [Input];
    type Output = Vec<Value>;

    fn add(&mut self, inputs: &[Input], time: i64, seq: u64) {
        for (acc, input) in self.0.iter_mut().zip(inputs) {
            acc.add(input, time, seq);
        }
    }

    fn merge(&mut self, other: &Self) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            a.merge(b);
        }
    }

    fn finish(self) -> Vec<Value> {
        self.0.iter().map(Accumulator::finish).collect()
    }

    fn encode(&self, out: &mut Writer<'_>) {
        out.u32(self.0.len() as u32);
        for accumulator in &self.0 {
            accumulator.encode(out);
        }
    }

    fn decode(input: &mut Reader<'_>) -> Option<Self> {
        let n = input.u32()?;
        (0..n)
            .map(|_| Accumulator::decode(input))
            .collect::<Option<Vec<_>>>()
            .map(Accumulators)
    }
}

/// The shape of a window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowKind {
    /// Fixed, non-overlapping windows of `size` milliseconds.
    Tumbling {
        /// Window length in ms.
        size: i64,
    },
    /// Windows of `size` ms starting every `slide` ms.
    Sliding {
        /// Window length in ms.
        size: i64,
        /// Distance between window starts in ms.
        slide: i64,
    },
    /// Windows that close after `gap` ms without events for the key.
    Session {
        /// Inactivity gap in ms.
        gap: i64,
    },
}

/// A window operator's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowSpec {
    /// The window shape.
    pub kind: WindowKind,
    /// How long after completion late events still update a window, in ms.
    pub allowed_lateness: i64,
    /// The aggregate functions, in output order (built-in aggregates only;
    /// see [`WindowOperator::with_accumulator`]).
    pub functions: Vec<Function>,
}

/// One emitted window result; `values` is what the accumulator finished
/// into (the built-in aggregates' values by default).
#[derive(Clone, Debug, PartialEq)]
pub struct WindowResult<V = Vec<Value>> {
    /// The key.
    pub key: Arc<[u8]>,
    /// Window start (inclusive), ms.
    pub start: i64,
    /// Window end (exclusive), ms.
    pub end: i64,
    /// One value per aggregate, in spec order.
    pub values: V,
    /// Whether this corrects a result emitted before (caused by a late
    /// event).
    pub update: bool,
}

/// What became of an added event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The event is in at least one window.
    Accepted,
    /// Too late for every window it belongs to: route it to the late output.
    Late,
}

/// The window operator for the keys of one worker.
pub struct WindowOperator<A: Accumulate = Accumulators> {
    spec: WindowSpec,
    fresh: A,
    watermark: i64,
    seq: u64,
    keys: HashMap<Arc<[u8]>, KeyState<A>>,
    /// Pending work by time: fire a window or drop state.
    timers: Timers,
    /// Accumulators changed since [`WindowOperator::take_touched`] (only
    /// for deferred accumulators).
    touched: HashSet<Touched>,
    /// Whether to list keys whose state changed (for checkpoints).
    track: bool,
    /// Keys whose state changed since [`WindowOperator::take_changes`],
    /// possibly more than once.
    changed: Vec<Arc<[u8]>>,
}

/// Stored window state that cannot be read back.
#[derive(Debug, thiserror::Error)]
#[error("window state of a key is not in the form this weir writes ({what})")]
pub struct CorruptState {
    what: &'static str,
}

/// Names one accumulator of the operator: a key's slice (by start) or
/// session (by end).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Touched {
    key: Arc<[u8]>,
    session: bool,
    at: i64,
}

/// Pending work by time: fire a window or drop state, for a key, with the
/// window's end or the slice's start.
///
/// Timers are grouped by time, because many keys' windows end at the same
/// moment (every key's tumbling window ends on the same boundary): adding
/// one appends to its time's list, instead of inserting into one ordered
/// set of every timer, whose comparisons of keys dominated. A time's timers
/// are sorted (fire before cleanup, then by key and value) and
/// deduplicated when they fall due, so each fires once and in a
/// deterministic order.
#[derive(Default)]
struct Timers {
    by_time: BTreeMap<i64, Vec<Timer>>,
}

/// One timer: what it does, for which key, with which window end or slice
/// start.
type Timer = (TimerKind, Arc<[u8]>, i64);

impl Timers {
    fn insert(&mut self, at: i64, kind: TimerKind, key: Arc<[u8]>, value: i64) {
        self.by_time.entry(at).or_default().push((kind, key, value));
    }

    /// The timers of the earliest time, if it is at or before `watermark`,
    /// removed, in order and once each.
    fn pop_due(&mut self, watermark: i64) -> Option<Vec<Timer>> {
        let (&at, _) = self.by_time.first_key_value()?;
        if at > watermark {
            return None;
        }
        let (_, mut due) = self.by_time.pop_first()?;
        due.sort_unstable();
        due.dedup();
        Some(due)
    }
}

/// What a timer does; fire before cleanup at the same time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    /// Emit the window ending at the timer's `end`.
    Fire,
    /// Drop the slice starting (or the session ending) at the timer's value.
    Cleanup,
}

struct KeyState<A> {
    /// Tumbling and sliding: slice start → accumulator.
    slices: BTreeMap<i64, A>,
    /// Sessions: end → (start, accumulator).
    sessions: BTreeMap<i64, (i64, A)>,
    /// Whether it changed since the last [`WindowOperator::take_changes`]
    /// (and is listed in `changed`).
    changed: bool,
}

impl<A> Default for KeyState<A> {
    fn default() -> Self {
        KeyState {
            slices: BTreeMap::new(),
            sessions: BTreeMap::new(),
            changed: false,
        }
    }
}

impl<A: Accumulate> KeyState<A> {
    fn encode(&self, out: &mut Vec<u8>) {
        let mut out = Writer(out);
        out.u8(codec::VERSION);
        out.u32(self.slices.len() as u32);
        for (start, accumulator) in &self.slices {
            out.i64(*start);
            accumulator.encode(&mut out);
        }
        out.u32(self.sessions.len() as u32);
        for (end, (start, accumulator)) in &self.sessions {
            out.i64(*end);
            out.i64(*start);
            accumulator.encode(&mut out);
        }
    }

    fn decode(bytes: &[u8]) -> Result<Self, CorruptState> {
        let corrupt = |what| CorruptState { what };
        let mut input = Reader(bytes);
        if input.u8() != Some(codec::VERSION) {
            return Err(corrupt("unknown version"));
        }
        let mut state = KeyState::default();
        let short = || corrupt("truncated");
        for _ in 0..input.u32().ok_or_else(short)? {
            let start = input.i64().ok_or_else(short)?;
            let accumulator = A::decode(&mut input).ok_or_else(|| corrupt("bad accumulator"))?;
            state.slices.insert(start, accumulator);
        }
        for _ in 0..input.u32().ok_or_else(short)? {
            let end = input.i64().ok_or_else(short)?;
            let start = input.i64().ok_or_else(short)?;
            let accumulator = A::decode(&mut input).ok_or_else(|| corrupt("bad accumulator"))?;
            state.sessions.insert(end, (start, accumulator));
        }
        if !input.is_empty() {
            return Err(corrupt("trailing bytes"));
        }
        Ok(state)
    }
}

impl WindowOperator<Accumulators> {
    /// An operator with the spec's built-in aggregates, no state and no
    /// watermark yet.
    pub fn new(spec: WindowSpec) -> Self {
        let fresh = Accumulators::new(&spec.functions);
        WindowOperator::with_accumulator(spec, fresh)
    }
}

impl<A: Accumulate> WindowOperator<A> {
    /// An operator whose windows start from clones of `fresh` (the spec's
    /// `functions` are not used).
    pub fn with_accumulator(spec: WindowSpec, fresh: A) -> Self {
        WindowOperator {
            spec,
            fresh,
            watermark: i64::MIN,
            seq: 0,
            keys: HashMap::new(),
            timers: Timers::default(),
            touched: HashSet::new(),
            track: false,
            changed: Vec::new(),
        }
    }

    /// Starts listing the keys whose state changes, for
    /// [`WindowOperator::take_changes`].
    pub fn track_changes(&mut self) {
        self.track = true;
    }

    /// Hands over every key whose state changed since the last call:
    /// `write(key, Some(state))` with its state's byte form, or
    /// `write(key, None)` when it has none any more.
    pub fn take_changes(&mut self, mut write: impl FnMut(&Arc<[u8]>, Option<&[u8]>)) {
        let mut buf = Vec::new();
        for key in std::mem::take(&mut self.changed) {
            match self.keys.get_mut(&key) {
                Some(state) if state.changed => {
                    state.changed = false;
                    buf.clear();
                    state.encode(&mut buf);
                    write(&key, Some(&buf));
                }
                // Listed twice; written at its first listing.
                Some(_) => {}
                None => write(&key, None),
            }
        }
    }

    /// Sets the watermark and arrival counter a checkpoint recorded; called
    /// on a fresh operator, before [`WindowOperator::restore`].
    pub fn resume_at(&mut self, watermark: i64, seq: u64) {
        self.watermark = watermark;
        self.seq = seq;
    }

    /// The arrival counter (for checkpoints).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Puts back `key`'s state from its byte form (see
    /// [`WindowOperator::take_changes`]) and schedules its windows that
    /// have not fired at the current watermark, and the cleanup of its
    /// state.
    ///
    /// # Errors
    ///
    /// [`CorruptState`] when `bytes` is not a key's state.
    pub fn restore(&mut self, key: Arc<[u8]>, bytes: &[u8]) -> Result<(), CorruptState> {
        let state = KeyState::<A>::decode(bytes)?;
        let slices: Vec<i64> = state.slices.keys().copied().collect();
        let sessions: Vec<i64> = state.sessions.keys().copied().collect();
        self.keys.insert(key.clone(), state);
        match self.spec.kind {
            WindowKind::Tumbling { size } => {
                for start in slices {
                    self.schedule_slice(&key, start, size, size);
                }
            }
            WindowKind::Sliding { size, slide } => {
                for start in slices {
                    self.schedule_slice(&key, start, size, slide);
                }
            }
            WindowKind::Session { .. } => {
                for end in sessions {
                    self.schedule_session(&key, end);
                }
            }
        }
        Ok(())
    }

    /// Notes that `key`'s state changed or went away (when tracking); the
    /// paths that add events mark their key in place, without a second
    /// lookup.
    fn changed(&mut self, key: &Arc<[u8]>) {
        if !self.track {
            return;
        }
        match self.keys.get_mut(key) {
            Some(state) if state.changed => {}
            Some(state) => {
                state.changed = true;
                self.changed.push(key.clone());
            }
            None => self.changed.push(key.clone()),
        }
    }

    /// The accumulators changed since the last call (deferred accumulators
    /// only; always empty otherwise). Some may be gone since: merged away
    /// or dropped; [`WindowOperator::accumulator_mut`] then finds nothing.
    pub fn take_touched(&mut self) -> Vec<Touched> {
        self.touched.drain().collect()
    }

    /// The accumulator `touched` names, if it still exists.
    pub fn accumulator_mut(&mut self, touched: &Touched) -> Option<&mut A> {
        let state = self.keys.get_mut(&touched.key)?;
        if touched.session {
            state.sessions.get_mut(&touched.at).map(|(_, acc)| acc)
        } else {
            state.slices.get_mut(&touched.at)
        }
    }

    fn touch(&mut self, key: &Arc<[u8]>, session: bool, at: i64) {
        if A::DEFERRED {
            self.touched.insert(Touched {
                key: key.clone(),
                session,
                at,
            });
        }
    }

    /// The current watermark.
    pub fn watermark(&self) -> i64 {
        self.watermark
    }

    /// Number of keys with live state (for metrics and tests).
    pub fn live_keys(&self) -> usize {
        self.keys.len()
    }

    /// Adds an event of `key` at `time` whose aggregate inputs are `inputs`
    /// (one per function, in spec order). Updates caused by a late event are
    /// appended to `out`.
    pub fn add(
        &mut self,
        key: &Arc<[u8]>,
        time: i64,
        inputs: &A::Input,
        out: &mut Vec<WindowResult<A::Output>>,
    ) -> Verdict {
        self.seq += 1;
        match self.spec.kind {
            WindowKind::Tumbling { size } => self.add_sliced(key, time, inputs, size, size, out),
            WindowKind::Sliding { size, slide } => {
                self.add_sliced(key, time, inputs, size, slide, out)
            }
            WindowKind::Session { gap } => self.add_session(key, time, inputs, gap, out),
        }
    }

    /// Moves the watermark to `watermark` (ignored unless it advances):
    /// emits every window it completes and drops state no window needs.
    pub fn advance(&mut self, watermark: i64, out: &mut Vec<WindowResult<A::Output>>) {
        if watermark <= self.watermark {
            return;
        }
        self.watermark = watermark;
        while let Some(due) = self.timers.pop_due(watermark) {
            for (kind, key, value) in due {
                self.fire(kind, key, value, out);
            }
        }
    }

    /// Does what one due timer says.
    fn fire(
        &mut self,
        kind: TimerKind,
        key: Arc<[u8]>,
        value: i64,
        out: &mut Vec<WindowResult<A::Output>>,
    ) {
        match (kind, self.spec.kind) {
            (TimerKind::Fire, WindowKind::Session { .. }) => {
                if let Some(result) = self.session_result(&key, value, false) {
                    out.push(result);
                }
            }
            (TimerKind::Fire, _) => {
                if let Some(result) = self.sliced_result(&key, value, false) {
                    out.push(result);
                }
            }
            (TimerKind::Cleanup, WindowKind::Session { .. }) => {
                self.drop_state(&key, |state| state.sessions.remove(&value).is_some());
            }
            (TimerKind::Cleanup, _) => {
                self.drop_state(&key, |state| state.slices.remove(&value).is_some());
            }
        }
    }

    fn drop_state(&mut self, key: &Arc<[u8]>, remove: impl FnOnce(&mut KeyState<A>) -> bool) {
        if let Some(state) = self.keys.get_mut(key)
            && remove(state)
        {
            if state.slices.is_empty() && state.sessions.is_empty() {
                self.keys.remove(key);
            }
            self.changed(key);
        }
    }

    fn accumulators(&self) -> A {
        self.fresh.clone()
    }

    /// The last moment a window ending at `end` may change.
    fn purge_time(&self, end: i64) -> i64 {
        (end - 1).saturating_add(self.spec.allowed_lateness)
    }

    fn add_sliced(
        &mut self,
        key: &Arc<[u8]>,
        time: i64,
        inputs: &A::Input,
        size: i64,
        slide: i64,
        out: &mut Vec<WindowResult<A::Output>>,
    ) -> Verdict {
        let slice = gcd(size, slide);
        let slice_start = time.div_euclid(slice) * slice;
        // Starts of the windows containing `time`, latest first.
        let latest = time.div_euclid(slide) * slide;
        let starts: Vec<i64> = (0..)
            .map(|k| latest - k * slide)
            .take_while(|s| s + size > time)
            .collect();
        let watermark = self.watermark;
        let late = time <= watermark;
        let alive: Vec<i64> = starts
            .iter()
            .copied()
            .filter(|s| self.purge_time(s + size) > watermark)
            .collect();
        if late && alive.is_empty() {
            return Verdict::Late;
        }

        let fresh = self.accumulators();
        let key = key.clone();
        let state = self.keys.entry(key.clone()).or_default();
        if self.track && !state.changed {
            state.changed = true;
            self.changed.push(key.clone());
        }
        let created = !state.slices.contains_key(&slice_start);
        let accumulator = state.slices.entry(slice_start).or_insert(fresh);
        accumulator.add(inputs, time, self.seq);
        self.touch(&key, false, slice_start);
        if created {
            self.schedule_slice(&key, slice_start, size, slide);
        }
        if late {
            // Correct every alive window that had already completed, in
            // order of their end.
            for start in alive.into_iter().rev() {
                if start + size - 1 <= watermark
                    && let Some(result) = self.sliced_result(&key, start + size, true)
                {
                    out.push(result);
                }
            }
        }
        Verdict::Accepted
    }

    /// Fires every window containing the slice at `slice_start` that has
    /// not completed yet, and drops the slice once the last of them can no
    /// longer change.
    fn schedule_slice(&mut self, key: &Arc<[u8]>, slice_start: i64, size: i64, slide: i64) {
        let slice = gcd(size, slide);
        let watermark = self.watermark;
        let first_start = (slice_start + slice - size).div_euclid(slide) * slide;
        let first_start = if first_start + size < slice_start + slice {
            first_start + slide
        } else {
            first_start
        };
        let mut last_end = i64::MIN;
        let mut start = first_start;
        while start <= slice_start {
            let end = start + size;
            if end - 1 > watermark {
                self.timers
                    .insert(end - 1, TimerKind::Fire, key.clone(), end);
            }
            last_end = last_end.max(end);
            start += slide;
        }
        let purge = self.purge_time(last_end);
        self.timers
            .insert(purge, TimerKind::Cleanup, key.clone(), slice_start);
    }

    /// Fires `key`'s session ending at `end` if it has not completed, and
    /// drops it once it can no longer change.
    fn schedule_session(&mut self, key: &Arc<[u8]>, end: i64) {
        if end - 1 > self.watermark {
            self.timers
                .insert(end - 1, TimerKind::Fire, key.clone(), end);
        }
        let purge = self.purge_time(end);
        self.timers
            .insert(purge, TimerKind::Cleanup, key.clone(), end);
    }

    /// The result of the tumbling or sliding window of `key` ending at `end`.
    fn sliced_result(
        &self,
        key: &Arc<[u8]>,
        end: i64,
        update: bool,
    ) -> Option<WindowResult<A::Output>> {
        let (size, _) = self.size_and_slide();
        let state = self.keys.get(key)?;
        let start = end - size;
        let mut merged: Option<A> = None;
        for (_, accumulator) in state.slices.range(start..end) {
            match &mut merged {
                None => merged = Some(accumulator.clone()),
                Some(merged) => merged.merge(accumulator),
            }
        }
        let values = merged?.finish();
        Some(WindowResult {
            key: key.clone(),
            start,
            end,
            values,
            update,
        })
    }

    fn size_and_slide(&self) -> (i64, i64) {
        match self.spec.kind {
            WindowKind::Tumbling { size } => (size, size),
            WindowKind::Sliding { size, slide } => (size, slide),
            WindowKind::Session { gap } => (gap, gap),
        }
    }

    fn add_session(
        &mut self,
        key: &Arc<[u8]>,
        time: i64,
        inputs: &A::Input,
        gap: i64,
        out: &mut Vec<WindowResult<A::Output>>,
    ) -> Verdict {
        let watermark = self.watermark;
        let mut fresh = self.accumulators();
        fresh.add(inputs, time, self.seq);
        let (mut start, mut end) = (time, time.saturating_add(gap));
        let key = key.clone();
        let overlapping: Vec<i64> = match self.keys.get(&key) {
            Some(state) => state
                .sessions
                .range(start.saturating_add(1)..)
                .take_while(|(_, (s, _))| *s < end)
                .map(|(e, _)| *e)
                .collect(),
            None => Vec::new(),
        };
        if let Some(state) = self.keys.get(&key) {
            for e in &overlapping {
                let (s, _) = &state.sessions[e];
                start = start.min(*s);
                end = end.max(*e);
            }
        }
        let late = time <= watermark;
        if late && self.purge_time(end) <= watermark {
            return Verdict::Late;
        }
        let state = self.keys.entry(key.clone()).or_default();
        if self.track && !state.changed {
            state.changed = true;
            self.changed.push(key.clone());
        }
        for e in overlapping {
            if let Some((_, accumulator)) = state.sessions.remove(&e) {
                fresh.merge(&accumulator);
            }
        }
        state.sessions.insert(end, (start, fresh));
        self.touch(&key, true, end);
        if end - 1 <= watermark
            && let Some(result) = self.session_result(&key, end, true)
        {
            out.push(result);
        }
        self.schedule_session(&key, end);
        Verdict::Accepted
    }

    /// The result of `key`'s session ending at `end`, if it still exists
    /// (timers of sessions that were merged away find nothing).
    fn session_result(
        &self,
        key: &Arc<[u8]>,
        end: i64,
        update: bool,
    ) -> Option<WindowResult<A::Output>> {
        let (start, accumulator) = self.keys.get(key)?.sessions.get(&end)?;
        let values = accumulator.clone().finish();
        Some(WindowResult {
            key: key.clone(),
            start: *start,
            end,
            values,
            update,
        })
    }
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { gcd(b, a % b) }
}
