//! Keyed-state writes to RocksDB: one write per event against one
//! `StateBatch` write per event batch (64 and 1024 events), and a keyed
//! count done as read, modify, write per event inside a batch.
//!
//! Run with `cargo xtask bench` (or `cargo bench -p weir-benches --bench
//! state`). Prints events per CPU-second of the whole process, not of the
//! calling thread: RocksDB flushes and compacts on threads of its own, and
//! that is part of the cost. The database lives in the system's temporary
//! directory for the run.

use std::time::{Duration, Instant};

use weir::state::{StageState, StateBatch, StateStore};
use weir_benches::si;

const BUDGET: Duration = Duration::from_secs(2);

/// Distinct keys written, spread over the key groups.
const KEYS: u64 = 100_000;

const KEY_GROUPS: u16 = 128;

/// Events per timed round.
const ROUND: u64 = 65_536;

fn main() {
    let dir = std::env::temp_dir().join(format!("weir-bench-state-{}", std::process::id()));
    let store = StateStore::open(&dir).expect("open the state store");
    let mut state = store.stage(1, 0..KEY_GROUPS);
    let mut next = 0u64;

    println!("keyed state writes, 16-byte values, {KEYS} keys over {KEY_GROUPS} key groups");
    println!("{:<34}  {:>12}", "", "events/s");
    let unbatched = measure(|| {
        for _ in 0..ROUND {
            let (group, key) = event(&mut next);
            state.put(group, &key, &[7; 16]).expect("a put of its own");
        }
    });
    println!("{:<34}  {:>12}", "put, one write per event", si(unbatched));
    for size in [64, 1024] {
        let rate = measure(|| batched(&mut state, &mut next, size));
        let label = format!("put, one write per {size} events");
        println!("{label:<34}  {:>12}  {:.1}x", si(rate), rate / unbatched);
    }
    let count = measure(|| counted(&mut state, &mut next, 1024));
    println!("{:<34}  {:>12}", "count (get + put), batch 1024", si(count));

    drop((state, store));
    if let Err(error) = std::fs::remove_dir_all(&dir) {
        eprintln!("cannot remove {}: {error}", dir.display());
    }
}

/// The key group and key of the next event.
fn event(next: &mut u64) -> (u16, Vec<u8>) {
    *next += 1;
    // A multiplicative hash, so that consecutive events hit scattered keys.
    let key = next.wrapping_mul(0x9e37_79b9_7f4a_7c15) % KEYS;
    (
        (key % u64::from(KEY_GROUPS)) as u16,
        key.to_be_bytes().to_vec(),
    )
}

/// One round of puts, committed every `size` events.
fn batched(state: &mut StageState, next: &mut u64, size: u64) {
    for _ in 0..ROUND / size {
        let mut batch = StateBatch::new();
        for _ in 0..size {
            let (group, key) = event(next);
            batch.put(group, &key, &[7; 16]);
        }
        state.commit(batch).expect("a batch write");
    }
}

/// One round of a keyed count: each event reads its key's count (through
/// the batch, so repeats within a batch see each other) and writes it back.
fn counted(state: &mut StageState, next: &mut u64, size: u64) {
    for _ in 0..ROUND / size {
        let mut batch = StateBatch::new();
        for _ in 0..size {
            let (group, key) = event(next);
            let count = batch
                .get(state, group, &key)
                .expect("a read")
                .and_then(|v| <[u8; 8]>::try_from(v).ok())
                .map_or(0, u64::from_be_bytes);
            batch.put(group, &key, &(count + 1).to_be_bytes());
        }
        state.commit(batch).expect("a batch write");
    }
}

/// Runs `round` for about `BUDGET` and returns the median events per
/// process CPU-second over the rounds after the first.
fn measure(mut round: impl FnMut()) -> f64 {
    let started = Instant::now();
    let mut rates = Vec::new();
    let mut rounds = 0;
    while started.elapsed() < BUDGET || rates.len() < 5 {
        let timed = process_cpu_time();
        round();
        let rate = ROUND as f64 / (process_cpu_time() - timed).as_secs_f64();
        // The first round warms the memtable and caches; drop it.
        if rounds > 0 {
            rates.push(rate);
        }
        rounds += 1;
    }
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

/// CPU time used by every thread of this process.
fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant
    // Linux supports for every process.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}
