//! [`StageState`], one stage's view of the state database over the key
//! groups its worker owns, and [`StateBatch`], the changes of one event
//! batch applied in one write.

use std::collections::HashMap;
use std::ops::Range;

use rocksdb::{DBRawIterator, ReadOptions, WriteBatch};

use super::layout::{
    PREFIX_LEN, decode_value, encode_value, prefix, split_time, successor, time_key, value_key,
};
use super::{Column, StateError, StateStore};

/// Bound of a key group whose time index may hold anything: scan it.
const UNKNOWN: i64 = i64::MIN;

/// Bound of a key group whose time index is known to be empty.
const EMPTY: i64 = i64::MAX;

/// One stage's keyed state over the key groups its worker owns. Reads take
/// `&self`; writes take `&mut self` because they keep the per-group time
/// bounds up to date.
#[derive(Debug)]
pub struct StageState {
    store: StateStore,
    stage: u16,
    key_groups: Range<u16>,
    now: i64,
    timers: Bounds,
    expiry: Bounds,
}

/// An event-time timer taken by [`StageState::due_timers`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    /// The key group it was registered in.
    pub key_group: u16,
    /// When it fires.
    pub time: i64,
    /// The bytes it was registered with (typically the key and the window).
    pub key: Vec<u8>,
}

/// One stored entry of a key group, as [`StageState::iter_key_group`] reads
/// it, for copying the group elsewhere verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    /// The column family it is in.
    pub column: Column,
    /// The key after `stage | key group`.
    pub key: Vec<u8>,
    /// The stored value, in the layout of its column family.
    pub value: Vec<u8>,
}

impl StageState {
    pub(super) fn new(store: StateStore, stage: u16, key_groups: Range<u16>) -> StageState {
        StageState {
            store,
            stage,
            timers: Bounds::new(key_groups.clone()),
            expiry: Bounds::new(key_groups.clone()),
            key_groups,
            now: i64::MIN,
        }
    }

    /// The stage id every key of this handle starts with.
    pub fn stage(&self) -> u16 {
        self.stage
    }

    /// The key groups this handle owns.
    pub fn key_groups(&self) -> Range<u16> {
        self.key_groups.clone()
    }

    /// The handle's clock: values whose expiry time is at or before it are
    /// invisible. Starts at `i64::MIN`.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// Moves the clock forward to `now`; never moves it back.
    pub fn advance_time(&mut self, now: i64) {
        self.now = self.now.max(now);
    }

    /// The value of `key` in `key_group`, unless it is absent or expired.
    pub fn get(&self, key_group: u16, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.owned(key_group)?;
        let raw = self
            .store
            .db()
            .get_pinned_cf(
                self.store.cf(Column::Values),
                value_key(self.stage, key_group, key),
            )
            .map_err(|error| self.read_error(error))?;
        let Some(raw) = raw else {
            return Ok(None);
        };
        let (expires_at, value) = decode_value(&raw).ok_or_else(|| self.corrupt_value())?;
        Ok(live(expires_at, self.now).then(|| value.to_vec()))
    }

    /// The live values in `key_group` whose key starts with `prefix`, in key
    /// order, as `(key, value)`.
    pub fn scan_prefix(&self, key_group: u16, prefix: &[u8]) -> Result<Scan<'_>, StateError> {
        self.owned(key_group)?;
        let start = value_key(self.stage, key_group, prefix);
        let raw = RawScan::new(
            &self.store,
            Column::Values,
            self.stage,
            start.clone(),
            &start,
        );
        Ok(Scan {
            raw,
            now: self.now,
            stage: self.stage,
        })
    }

    /// Sets `key` to `value` in one write of its own.
    pub fn put(&mut self, key_group: u16, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        let mut batch = StateBatch::new();
        batch.put(key_group, key, value);
        self.commit(batch)
    }

    /// Sets `key` to `value` until the clock reaches `expires_at`, in one
    /// write of its own.
    pub fn put_with_ttl(
        &mut self,
        key_group: u16,
        key: &[u8],
        value: &[u8],
        expires_at: i64,
    ) -> Result<(), StateError> {
        let mut batch = StateBatch::new();
        batch.put_with_ttl(key_group, key, value, expires_at);
        self.commit(batch)
    }

    /// Deletes `key` in one write of its own.
    pub fn delete(&mut self, key_group: u16, key: &[u8]) -> Result<(), StateError> {
        let mut batch = StateBatch::new();
        batch.delete(key_group, key);
        self.commit(batch)
    }

    /// Registers a timer in one write of its own.
    pub fn register_timer(
        &mut self,
        key_group: u16,
        time: i64,
        key: &[u8],
    ) -> Result<(), StateError> {
        let mut batch = StateBatch::new();
        batch.register_timer(key_group, time, key);
        self.commit(batch)
    }

    /// Applies every change in `batch` in one atomic write: all of them or,
    /// on error, none.
    ///
    /// # Errors
    ///
    /// [`StateError::NotOwned`] (and nothing written) when the batch touches
    /// a key group this handle does not own; [`StateError::Write`] when
    /// RocksDB fails.
    pub fn commit(&mut self, batch: StateBatch) -> Result<(), StateError> {
        if batch.is_empty() {
            return Ok(());
        }
        for &(key_group, _) in batch.values.keys() {
            self.owned(key_group)?;
        }
        for &(key_group, _, _) in batch.timers.keys() {
            self.owned(key_group)?;
        }
        let (values, timers) = (batch.values.len(), batch.timers.len());
        let mut write = WriteBatch::default();
        self.add_values(&mut write, batch.values);
        self.add_timers(&mut write, batch.timers);
        self.write(write)?;
        tracing::trace!(stage = self.stage, values, timers, "state batch written");
        Ok(())
    }

    fn add_values(&mut self, write: &mut WriteBatch, values: HashMap<(u16, Vec<u8>), Pending>) {
        let (cf, expiry) = (self.store.cf(Column::Values), self.store.cf(Column::Expiry));
        for ((key_group, key), pending) in values {
            let stored = value_key(self.stage, key_group, &key);
            let Pending::Put { value, expires_at } = pending else {
                write.delete_cf(cf, stored);
                continue;
            };
            write.put_cf(cf, stored, encode_value(&value, expires_at));
            if let Some(time) = expires_at {
                write.put_cf(expiry, time_key(self.stage, key_group, time, &key), []);
                self.expiry.lower(key_group, time);
            }
        }
    }

    fn add_timers(&mut self, write: &mut WriteBatch, timers: HashMap<(u16, i64, Vec<u8>), bool>) {
        let cf = self.store.cf(Column::Timers);
        for ((key_group, time, key), register) in timers {
            let stored = time_key(self.stage, key_group, time, &key);
            if register {
                write.put_cf(cf, stored, []);
                self.timers.lower(key_group, time);
            } else {
                write.delete_cf(cf, stored);
            }
        }
    }

    /// Takes every timer at or before `up_to` in the owned key groups,
    /// ordered by time (then key group, then key), and deletes them in one
    /// write. All of them are held in memory at once: call it as the
    /// watermark advances, not after skipping far ahead.
    pub fn due_timers(&mut self, up_to: i64) -> Result<Vec<Timer>, StateError> {
        let mut write = WriteBatch::default();
        let Due {
            entries: mut due,
            bounds,
        } = self.take_due(Column::Timers, &self.timers, up_to, &mut write)?;
        if due.is_empty() {
            self.timers.update(bounds);
            return Ok(due);
        }
        self.write(write)?;
        self.timers.update(bounds);
        due.sort_unstable_by(|a, b| {
            (a.time, a.key_group, &a.key).cmp(&(b.time, b.key_group, &b.key))
        });
        tracing::trace!(
            stage = self.stage,
            up_to,
            timers = due.len(),
            "timers taken"
        );
        Ok(due)
    }

    /// Advances the clock to `now` and deletes every value that has expired
    /// by then, with the index entries that pointed at them, in one write.
    /// Returns how many values it deleted.
    pub fn expire(&mut self, now: i64) -> Result<usize, StateError> {
        self.advance_time(now);
        let now = self.now;
        let mut write = WriteBatch::default();
        let Due {
            entries: mut due,
            bounds,
        } = self.take_due(Column::Expiry, &self.expiry, now, &mut write)?;
        if due.is_empty() {
            self.expiry.update(bounds);
            return Ok(0);
        }
        // A key put with a TTL several times has several index entries.
        due.sort_unstable_by(|a, b| (a.key_group, &a.key).cmp(&(b.key_group, &b.key)));
        due.dedup_by(|a, b| (a.key_group, &a.key) == (b.key_group, &b.key));
        let cf = self.store.cf(Column::Values);
        let mut expired = 0;
        for entry in &due {
            let key = value_key(self.stage, entry.key_group, &entry.key);
            let raw = self
                .store
                .db()
                .get_pinned_cf(cf, &key)
                .map_err(|error| self.read_error(error))?;
            // Gone, or overwritten with a later expiry or none: the index
            // entry was stale.
            let Some(raw) = raw else { continue };
            let (expires_at, _) = decode_value(&raw).ok_or_else(|| self.corrupt_value())?;
            if expires_at.is_some_and(|time| time <= now) {
                write.delete_cf(cf, &key);
                expired += 1;
            }
        }
        self.write(write)?;
        self.expiry.update(bounds);
        tracing::trace!(stage = self.stage, now, expired, "expired state swept");
        Ok(expired)
    }

    /// Deletes everything of `key_group` in every column family (values,
    /// timers, expiry index) in one write, for example after it has moved
    /// to another worker.
    pub fn delete_key_group(&mut self, key_group: u16) -> Result<(), StateError> {
        self.owned(key_group)?;
        let (start, end) = self.group_range(key_group);
        let mut write = WriteBatch::default();
        for column in Column::ALL {
            write.delete_range_cf(self.store.cf(column), &start, &end);
        }
        self.write(write)?;
        self.timers.set(key_group, EMPTY);
        self.expiry.set(key_group, EMPTY);
        tracing::debug!(stage = self.stage, key_group, "key group state deleted");
        Ok(())
    }

    /// Every stored entry of `key_group`, column family by column family,
    /// including expired values not yet swept, in the stored layout.
    pub fn iter_key_group(&self, key_group: u16) -> Result<KeyGroupEntries<'_>, StateError> {
        self.owned(key_group)?;
        let (start, _) = self.group_range(key_group);
        let scans = Column::ALL
            .iter()
            .map(|&column| {
                let scan = RawScan::new(&self.store, column, self.stage, start.clone(), &start);
                (column, scan)
            })
            .collect();
        Ok(KeyGroupEntries { scans })
    }

    /// Reads and marks for deletion (in `write`) every entry of a time index
    /// at or before `up_to`, in each owned key group whose bound says it may
    /// hold one.
    fn take_due(
        &self,
        column: Column,
        bounds: &Bounds,
        up_to: i64,
        write: &mut WriteBatch,
    ) -> Result<Due, StateError> {
        let cf = self.store.cf(column);
        let mut due = Vec::new();
        let mut visited = Vec::new();
        for key_group in self.key_groups.clone() {
            let bound = bounds.get(key_group);
            if bound > up_to {
                continue;
            }
            // Everything before the bound was taken already: seeking to it
            // skips the tombstones those deletions left.
            let (group, _) = self.group_range(key_group);
            let seek = time_key(self.stage, key_group, bound, &[]);
            let mut scan = RawScan::new(&self.store, column, self.stage, seek, &group);
            let mut next = EMPTY;
            while let Some(entry) = scan.step() {
                let (rest, _) = entry?;
                let (time, key) = split_time(rest).ok_or(StateError::Corrupt {
                    stage: self.stage,
                    column: column.name(),
                    what: "key too short for a time",
                })?;
                if time > up_to {
                    next = time;
                    break;
                }
                write.delete_cf(cf, [&group[..], rest].concat());
                due.push(Timer {
                    key_group,
                    time,
                    key: key.to_vec(),
                });
            }
            visited.push((key_group, next));
        }
        Ok(Due {
            entries: due,
            bounds: visited,
        })
    }

    /// `stage | key group` and the prefix of the next key group: the key
    /// range of one group.
    fn group_range(&self, key_group: u16) -> (Vec<u8>, Vec<u8>) {
        // An owned key group is below `key_groups.end`, so `+ 1` fits.
        (
            prefix(self.stage, key_group).to_vec(),
            prefix(self.stage, key_group + 1).to_vec(),
        )
    }

    fn owned(&self, key_group: u16) -> Result<(), StateError> {
        if self.key_groups.contains(&key_group) {
            return Ok(());
        }
        Err(StateError::NotOwned {
            stage: self.stage,
            key_group,
            first: self.key_groups.start,
            end: self.key_groups.end,
        })
    }

    fn write(&self, write: WriteBatch) -> Result<(), StateError> {
        self.store
            .db()
            .write(write)
            .map_err(|error| StateError::Write {
                stage: self.stage,
                error,
            })
    }

    fn read_error(&self, error: rocksdb::Error) -> StateError {
        StateError::Read {
            stage: self.stage,
            error,
        }
    }

    fn corrupt_value(&self) -> StateError {
        StateError::Corrupt {
            stage: self.stage,
            column: Column::Values.name(),
            what: "unknown value tag",
        }
    }
}

/// What [`StageState::take_due`] found.
struct Due {
    /// The entries due, key group by key group, in time order within one.
    entries: Vec<Timer>,
    /// The new bound of each key group visited, to apply once the deletions
    /// are written.
    bounds: Vec<(u16, i64)>,
}

/// Whether a value with this expiry is visible at `now`.
fn live(expires_at: Option<i64>, now: i64) -> bool {
    expires_at.is_none_or(|time| time > now)
}

/// The changes one event batch makes to one stage's state, applied by
/// [`StageState::commit`] in one write. Later changes to the same key (or
/// timer) replace earlier ones, so a batch writes each key at most once.
#[derive(Debug, Default)]
pub struct StateBatch {
    values: HashMap<(u16, Vec<u8>), Pending>,
    /// `true` registers the timer, `false` deletes it.
    timers: HashMap<(u16, i64, Vec<u8>), bool>,
}

#[derive(Debug)]
enum Pending {
    Put {
        value: Vec<u8>,
        expires_at: Option<i64>,
    },
    Delete,
}

impl StateBatch {
    /// An empty batch.
    pub fn new() -> StateBatch {
        StateBatch::default()
    }

    /// Sets `key` to `value`, without expiry.
    pub fn put(&mut self, key_group: u16, key: &[u8], value: &[u8]) {
        let pending = Pending::Put {
            value: value.to_vec(),
            expires_at: None,
        };
        self.values.insert((key_group, key.to_vec()), pending);
    }

    /// Sets `key` to `value` until the stage's clock reaches `expires_at`.
    pub fn put_with_ttl(&mut self, key_group: u16, key: &[u8], value: &[u8], expires_at: i64) {
        let pending = Pending::Put {
            value: value.to_vec(),
            expires_at: Some(expires_at),
        };
        self.values.insert((key_group, key.to_vec()), pending);
    }

    /// Deletes `key`.
    pub fn delete(&mut self, key_group: u16, key: &[u8]) {
        self.values
            .insert((key_group, key.to_vec()), Pending::Delete);
    }

    /// Registers a timer that [`StageState::due_timers`] returns once its
    /// `up_to` reaches `time`. A timer is its (key group, time, key):
    /// registering the same one twice leaves one.
    pub fn register_timer(&mut self, key_group: u16, time: i64, key: &[u8]) {
        self.timers.insert((key_group, time, key.to_vec()), true);
    }

    /// Deletes a timer registered earlier (a no-op if there is none).
    pub fn delete_timer(&mut self, key_group: u16, time: i64, key: &[u8]) {
        self.timers.insert((key_group, time, key.to_vec()), false);
    }

    /// The value of `key` as it will be once this batch is committed to
    /// `state`: the batch's own change if it has one, else the stored value.
    pub fn get(
        &self,
        state: &StageState,
        key_group: u16,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, StateError> {
        // Allocates a key to look up; a batch lookup is rare next to the
        // RocksDB read it saves or the one that follows.
        match self.values.get(&(key_group, key.to_vec())) {
            Some(Pending::Put { value, expires_at }) => {
                Ok(live(*expires_at, state.now()).then(|| value.clone()))
            }
            Some(Pending::Delete) => Ok(None),
            None => state.get(key_group, key),
        }
    }

    /// How many keys and timers the batch changes.
    pub fn len(&self) -> usize {
        self.values.len() + self.timers.len()
    }

    /// Whether the batch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Live values of one key group under a key prefix; see
/// [`StageState::scan_prefix`].
pub struct Scan<'a> {
    raw: RawScan<'a>,
    now: i64,
    stage: u16,
}

impl Iterator for Scan<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>), StateError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (key, raw) = match self.raw.step()? {
                Ok(entry) => entry,
                Err(error) => return Some(Err(error)),
            };
            let Some((expires_at, value)) = decode_value(raw) else {
                return Some(Err(StateError::Corrupt {
                    stage: self.stage,
                    column: Column::Values.name(),
                    what: "unknown value tag",
                }));
            };
            if live(expires_at, self.now) {
                return Some(Ok((key.to_vec(), value.to_vec())));
            }
        }
    }
}

/// Every stored entry of one key group; see [`StageState::iter_key_group`].
pub struct KeyGroupEntries<'a> {
    /// Still to read, in order; the first is the current one.
    scans: Vec<(Column, RawScan<'a>)>,
}

impl Iterator for KeyGroupEntries<'_> {
    type Item = Result<RawEntry, StateError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (column, scan) = self.scans.first_mut()?;
            let column = *column;
            match scan.step() {
                Some(Ok((key, value))) => {
                    return Some(Ok(RawEntry {
                        column,
                        key: key.to_vec(),
                        value: value.to_vec(),
                    }));
                }
                Some(Err(error)) => return Some(Err(error)),
                None => {
                    self.scans.remove(0);
                }
            }
        }
    }
}

/// A key (after `stage | key group`) and its stored value, borrowed from a
/// scan.
type RawItem<'a> = (&'a [u8], &'a [u8]);

/// A forward scan over the keys of one column family that start with a
/// given prefix (which starts with `stage | key group`), yielding each key
/// without its `stage | key group` and its stored value.
struct RawScan<'a> {
    iter: DBRawIterator<'a>,
    within: Vec<u8>,
    stage: u16,
    /// Whether the iterator is on an entry already returned.
    moved: bool,
    done: bool,
}

impl<'a> RawScan<'a> {
    /// Scans from `seek` (at or after `within`) to the end of `within`.
    fn new(
        store: &'a StateStore,
        column: Column,
        stage: u16,
        seek: Vec<u8>,
        within: &[u8],
    ) -> RawScan<'a> {
        let mut options = ReadOptions::default();
        // Stops RocksDB at the end of the prefix instead of after it, where
        // it might step over many deleted keys of the next group.
        if let Some(end) = successor(within) {
            options.set_iterate_upper_bound(end);
        }
        let mut iter = store.db().raw_iterator_cf_opt(store.cf(column), options);
        iter.seek(seek);
        RawScan {
            iter,
            within: within.to_vec(),
            stage,
            moved: false,
            done: false,
        }
    }

    /// The next entry as `(key after stage | key group, stored value)`.
    fn step(&mut self) -> Option<Result<RawItem<'_>, StateError>> {
        if self.done {
            return None;
        }
        if self.moved {
            self.iter.next();
        }
        self.moved = true;
        let item = self
            .iter
            .item()
            .filter(|(key, _)| key.starts_with(&self.within));
        let Some((key, value)) = item else {
            self.done = true;
            let stage = self.stage;
            return self
                .iter
                .status()
                .err()
                .map(|error| Err(StateError::Read { stage, error }));
        };
        Some(Ok((&key[PREFIX_LEN..], value)))
    }
}

/// Per owned key group, a lower bound on the earliest time in one time
/// index: a sweep seeks only into groups that may hold something due, and
/// starts at the bound.
#[derive(Debug)]
struct Bounds {
    first: u16,
    earliest: Vec<i64>,
}

impl Bounds {
    fn new(key_groups: Range<u16>) -> Bounds {
        Bounds {
            first: key_groups.start,
            earliest: vec![UNKNOWN; key_groups.len()],
        }
    }

    fn get(&self, key_group: u16) -> i64 {
        self.earliest[usize::from(key_group - self.first)]
    }

    fn set(&mut self, key_group: u16, time: i64) {
        self.earliest[usize::from(key_group - self.first)] = time;
    }

    /// Notes an entry added at `time`.
    fn lower(&mut self, key_group: u16, time: i64) {
        let bound = &mut self.earliest[usize::from(key_group - self.first)];
        *bound = (*bound).min(time);
    }

    fn update(&mut self, visited: Vec<(u16, i64)>) {
        for (key_group, time) in visited {
            self.set(key_group, time);
        }
    }
}
