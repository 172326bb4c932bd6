//! Tests of the state store against a real RocksDB in a temporary directory.

use tempfile::TempDir;

use super::*;

fn open() -> (TempDir, StateStore) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = StateStore::open(&dir.path().join("state")).expect("open the state store");
    (dir, store)
}

fn scan(state: &StageState, key_group: u16, prefix: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    state
        .scan_prefix(key_group, prefix)
        .expect("scan")
        .collect::<Result<_, _>>()
        .expect("scan entries")
}

fn entry(key: &[u8], value: &[u8]) -> (Vec<u8>, Vec<u8>) {
    (key.to_vec(), value.to_vec())
}

#[test]
fn stages_and_key_groups_are_isolated() {
    let (_dir, store) = open();
    let mut one = store.stage(1, 0..4);
    let mut two = store.stage(2, 0..4);
    one.put(0, b"k", b"one-0").unwrap();
    one.put(1, b"k", b"one-1").unwrap();
    two.put(0, b"k", b"two-0").unwrap();
    // A key that sorts right after the prefix `k` in the same group.
    one.put(0, b"l", b"one-0-l").unwrap();

    assert_eq!(one.get(0, b"k").unwrap().as_deref(), Some(&b"one-0"[..]));
    assert_eq!(one.get(1, b"k").unwrap().as_deref(), Some(&b"one-1"[..]));
    assert_eq!(two.get(0, b"k").unwrap().as_deref(), Some(&b"two-0"[..]));
    assert_eq!(two.get(1, b"k").unwrap(), None);
    assert_eq!(one.get(2, b"k").unwrap(), None);

    assert_eq!(scan(&one, 0, b"k"), [entry(b"k", b"one-0")]);
    assert_eq!(
        scan(&one, 0, b""),
        [entry(b"k", b"one-0"), entry(b"l", b"one-0-l")]
    );
    assert_eq!(scan(&one, 1, b""), [entry(b"k", b"one-1")]);
    assert_eq!(scan(&two, 0, b""), [entry(b"k", b"two-0")]);
    assert_eq!(scan(&two, 3, b""), []);
}

#[test]
fn scan_prefix_is_ordered_and_bounded() {
    let (_dir, store) = open();
    let mut state = store.stage(7, 0..1);
    for key in [&b"w\x02b"[..], b"w\x01b", b"w\x01a", b"w\xff", b"x", b"v"] {
        state.put(0, key, key).unwrap();
    }
    let keys: Vec<Vec<u8>> = scan(&state, 0, b"w").into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, [&b"w\x01a"[..], b"w\x01b", b"w\x02b", b"w\xff"]);
    assert_eq!(scan(&state, 0, b"w\x01").len(), 2);
}

#[test]
fn key_groups_outside_the_handle_are_refused() {
    let (_dir, store) = open();
    let mut state = store.stage(1, 4..8);
    assert!(matches!(
        state.get(3, b"k"),
        Err(StateError::NotOwned {
            stage: 1,
            key_group: 3,
            first: 4,
            end: 8
        })
    ));
    let mut batch = StateBatch::new();
    batch.put(4, b"k", b"v");
    batch.put(8, b"k", b"v");
    assert!(matches!(
        state.commit(batch),
        Err(StateError::NotOwned { key_group: 8, .. })
    ));
    // Nothing of the refused batch was written.
    assert_eq!(state.get(4, b"k").unwrap(), None);
    assert!(state.delete_key_group(8).is_err());
    assert!(state.iter_key_group(0).is_err());
}

#[test]
fn ttl_hides_expired_values_and_the_sweep_deletes_them() {
    let (_dir, store) = open();
    let mut state = store.stage(1, 0..2);
    state.put_with_ttl(0, b"early", b"e", 100).unwrap();
    state.put_with_ttl(1, b"late", b"l", 200).unwrap();
    state.put(0, b"forever", b"f").unwrap();

    state.advance_time(99);
    assert_eq!(state.get(0, b"early").unwrap().as_deref(), Some(&b"e"[..]));
    state.advance_time(100);
    assert_eq!(state.get(0, b"early").unwrap(), None, "expired at its time");
    assert_eq!(scan(&state, 0, b""), [entry(b"forever", b"f")]);
    // Expired but not swept: still stored.
    assert_eq!(state.iter_key_group(0).unwrap().count(), 3);

    assert_eq!(state.expire(150).unwrap(), 1);
    let stored: Vec<RawEntry> = state
        .iter_key_group(0)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(stored.len(), 1, "value and index entry gone: {stored:?}");
    assert_eq!(state.get(1, b"late").unwrap().as_deref(), Some(&b"l"[..]));

    assert_eq!(state.expire(1_000).unwrap(), 1);
    assert_eq!(state.expire(2_000).unwrap(), 0);
    assert_eq!(state.iter_key_group(1).unwrap().count(), 0);
    assert_eq!(
        state.get(0, b"forever").unwrap().as_deref(),
        Some(&b"f"[..])
    );
}

#[test]
fn the_sweep_keeps_values_overwritten_with_a_later_expiry() {
    let (_dir, store) = open();
    let mut state = store.stage(1, 0..1);
    state.put_with_ttl(0, b"k", b"old", 10).unwrap();
    state.put_with_ttl(0, b"k", b"new", 30).unwrap();
    state.put_with_ttl(0, b"gone", b"g", 10).unwrap();
    state.delete(0, b"gone").unwrap();
    state.put_with_ttl(0, b"kept", b"x", 10).unwrap();
    state.put(0, b"kept", b"no ttl").unwrap();

    assert_eq!(state.expire(20).unwrap(), 0);
    assert_eq!(state.get(0, b"k").unwrap().as_deref(), Some(&b"new"[..]));
    assert_eq!(
        state.get(0, b"kept").unwrap().as_deref(),
        Some(&b"no ttl"[..])
    );
    assert_eq!(state.expire(30).unwrap(), 1);
    assert_eq!(state.get(0, b"k").unwrap(), None);
    // Only the plain value is left: every index entry was swept.
    assert_eq!(state.iter_key_group(0).unwrap().count(), 1);
}

#[test]
fn the_clock_never_goes_back() {
    let (_dir, store) = open();
    let mut state = store.stage(1, 0..1);
    state.put_with_ttl(0, b"k", b"v", 10).unwrap();
    state.advance_time(10);
    state.advance_time(5);
    assert_eq!(state.now(), 10);
    assert_eq!(state.get(0, b"k").unwrap(), None);
}

#[test]
fn state_stays_bounded_under_an_endless_stream_with_ttl() {
    let (_dir, store) = open();
    let mut state = store.stage(1, 0..8);
    // Event times advance by 1; each id lives 50; sweep every batch.
    for batch_start in (0..2_000i64).step_by(100) {
        let mut batch = StateBatch::new();
        for time in batch_start..batch_start + 100 {
            let id = format!("id-{time}");
            batch.put_with_ttl((time % 8) as u16, id.as_bytes(), b"", time + 50);
        }
        state.commit(batch).unwrap();
        state.expire(batch_start + 99).unwrap();
    }
    let stored: usize = (0..8)
        .map(|group| state.iter_key_group(group).unwrap().count())
        .sum();
    // The last 50 ids, each a value and an index entry.
    assert_eq!(stored, 2 * 50);
}

#[test]
fn timers_come_out_in_time_order_across_signs() {
    let (_dir, store) = open();
    let mut state = store.stage(3, 0..4);
    let mut batch = StateBatch::new();
    for (group, time) in [
        (0, 5),
        (1, -5),
        (2, 0),
        (3, i64::MIN),
        (0, -1),
        (1, 1),
        (3, 7),
    ] {
        batch.register_timer(group, time, format!("t{time}").as_bytes());
    }
    batch.register_timer(0, 5, b"t5");
    state.commit(batch).unwrap();
    // Another stage's timers are not this stage's.
    store
        .stage(4, 0..4)
        .register_timer(0, -100, b"other")
        .unwrap();

    let due = state.due_timers(0).unwrap();
    let times: Vec<i64> = due.iter().map(|t| t.time).collect();
    assert_eq!(times, [i64::MIN, -5, -1, 0]);
    assert_eq!(due[1].key_group, 1);
    assert_eq!(due[1].key, b"t-5");
    assert!(state.due_timers(0).unwrap().is_empty(), "taken once");

    // A timer registered after a sweep, earlier than what is left.
    state.register_timer(2, 2, b"t2").unwrap();
    let times: Vec<i64> = state
        .due_timers(i64::MAX)
        .unwrap()
        .iter()
        .map(|t| t.time)
        .collect();
    assert_eq!(times, [1, 2, 5, 7], "t5 registered twice is one timer");
}

#[test]
fn deleted_timers_do_not_fire() {
    let (_dir, store) = open();
    let mut state = store.stage(1, 0..1);
    state.register_timer(0, 10, b"a").unwrap();
    state.register_timer(0, 10, b"b").unwrap();
    let mut batch = StateBatch::new();
    batch.delete_timer(0, 10, b"a");
    state.commit(batch).unwrap();
    let keys: Vec<Vec<u8>> = state
        .due_timers(10)
        .unwrap()
        .into_iter()
        .map(|t| t.key)
        .collect();
    assert_eq!(keys, [b"b".to_vec()]);
}

#[test]
fn timers_survive_a_reopen() {
    let (dir, store) = open();
    let path = store.path().to_path_buf();
    store.stage(1, 0..2).register_timer(1, 42, b"k").unwrap();
    drop(store);
    let store = StateStore::open(&path).unwrap();
    // A new handle knows nothing of the group's bounds and must look.
    let due = store.stage(1, 0..2).due_timers(100).unwrap();
    assert_eq!(due.len(), 1);
    drop(dir);
}

#[test]
fn a_batch_is_applied_whole_and_reads_its_own_writes() {
    let (_dir, store) = open();
    let mut state = store.stage(1, 0..2);
    state.put(0, b"old", b"1").unwrap();

    let mut batch = StateBatch::new();
    batch.put(0, b"a", b"1");
    batch.put(0, b"a", b"2");
    batch.delete(0, b"old");
    batch.put(1, b"b", b"3");
    batch.register_timer(1, 9, b"b");
    assert_eq!(batch.len(), 4);
    assert_eq!(
        batch.get(&state, 0, b"a").unwrap().as_deref(),
        Some(&b"2"[..])
    );
    assert_eq!(batch.get(&state, 0, b"old").unwrap(), None);
    assert_eq!(batch.get(&state, 1, b"c").unwrap(), None);
    // Nothing is visible before the commit.
    assert_eq!(state.get(0, b"a").unwrap(), None);
    assert_eq!(state.get(0, b"old").unwrap().as_deref(), Some(&b"1"[..]));

    state.commit(batch).unwrap();
    assert_eq!(state.get(0, b"a").unwrap().as_deref(), Some(&b"2"[..]));
    assert_eq!(state.get(0, b"old").unwrap(), None);
    assert_eq!(state.get(1, b"b").unwrap().as_deref(), Some(&b"3"[..]));
    assert_eq!(state.due_timers(9).unwrap().len(), 1);
}

#[test]
fn data_survives_a_reopen() {
    let (_dir, store) = open();
    let path = store.path().to_path_buf();
    let mut state = store.stage(1, 0..1);
    state.put(0, b"k", b"v").unwrap();
    state.put_with_ttl(0, b"t", b"v", 50).unwrap();
    drop((state, store));

    let store = StateStore::open(&path).unwrap();
    let mut state = store.stage(1, 0..1);
    assert_eq!(state.get(0, b"k").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(
        state.expire(60).unwrap(),
        1,
        "the expiry index survives too"
    );
}

#[test]
fn an_open_database_cannot_be_opened_again() {
    let (_dir, store) = open();
    let error = StateStore::open(store.path()).unwrap_err();
    assert!(matches!(error, StateError::Open { .. }));
    assert!(
        error
            .to_string()
            .starts_with("cannot open state database `"),
        "{error}"
    );
}

#[test]
fn delete_key_group_removes_only_that_group() {
    let (_dir, store) = open();
    let mut state = store.stage(1, 0..3);
    let mut neighbour = store.stage(2, 0..3);
    for group in 0..3 {
        state.put(group, b"k", b"v").unwrap();
        state.put_with_ttl(group, b"t", b"v", 10).unwrap();
        state.register_timer(group, 5, b"k").unwrap();
    }
    neighbour.put(1, b"k", b"v").unwrap();
    assert_eq!(state.iter_key_group(1).unwrap().count(), 4);

    state.delete_key_group(1).unwrap();
    assert_eq!(state.iter_key_group(1).unwrap().count(), 0);
    assert_eq!(state.iter_key_group(0).unwrap().count(), 4);
    assert_eq!(state.iter_key_group(2).unwrap().count(), 4);
    assert_eq!(neighbour.get(1, b"k").unwrap().as_deref(), Some(&b"v"[..]));
    let groups: Vec<u16> = state
        .due_timers(5)
        .unwrap()
        .iter()
        .map(|t| t.key_group)
        .collect();
    assert_eq!(groups, [0, 2]);
}

#[test]
fn iter_key_group_reads_every_column_family() {
    let (_dir, store) = open();
    let mut state = store.stage(1, 0..1);
    state.put(0, b"k", b"v").unwrap();
    state.put_with_ttl(0, b"t", b"w", 10).unwrap();
    state.register_timer(0, -1, b"k").unwrap();
    let entries: Vec<RawEntry> = state
        .iter_key_group(0)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let columns: Vec<Column> = entries.iter().map(|e| e.column).collect();
    assert_eq!(
        columns,
        [
            Column::Values,
            Column::Values,
            Column::Timers,
            Column::Expiry
        ]
    );
    assert_eq!(entries[0].key, b"k");
    assert_eq!(
        entries[2].key,
        [&[0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff][..], b"k"].concat()
    );
}

#[test]
fn a_checkpoint_opens_with_the_same_content() {
    let (dir, store) = open();
    let mut state = store.stage(1, 0..2);
    state.put(0, b"k", b"v").unwrap();
    state.put(1, b"l", b"w").unwrap();
    state.register_timer(1, 3, b"l").unwrap();
    let copy = dir.path().join("checkpoint");
    store.checkpoint(&copy).unwrap();
    // Later writes are not in it.
    state.put(0, b"after", b"x").unwrap();
    assert!(matches!(
        store.checkpoint(&copy),
        Err(StateError::Checkpoint { .. })
    ));

    let restored = StateStore::open(&copy).unwrap();
    let mut restored = restored.stage(1, 0..2);
    assert_eq!(restored.get(0, b"k").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(restored.get(1, b"l").unwrap().as_deref(), Some(&b"w"[..]));
    assert_eq!(restored.get(0, b"after").unwrap(), None);
    assert_eq!(restored.due_timers(3).unwrap().len(), 1);
}
