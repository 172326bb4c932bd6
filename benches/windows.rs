//! The event-time window operator over a million keys: a keyed tumbling
//! count, and a sliding sum of size 60 s with a slide of 10 s and of 1 s.
//!
//! Run with `cargo bench -p weir-benches --bench windows`. Each workload
//! runs in a child process of its own (the same binary, with
//! `WEIR_BENCH_WINDOW` naming it), so that its peak resident memory is its
//! own. Events are made before the clock starts; the timed part adds them
//! to the operator in batches of 1024, advancing the watermark after each
//! batch as a worker does, and takes every result. Time is the thread's
//! CPU time.

use std::process::Command;
use std::sync::Arc;

use weir::window::aggregate::{Function, Input};
use weir::window::{WindowKind, WindowOperator, WindowSpec};
use weir_benches::{si, thread_cpu_time};

/// Distinct keys.
const KEYS: u64 = 1_000_000;
/// Events per workload.
const EVENTS: u64 = 4_000_000;
/// Event time between consecutive events (ms): 4 M events cover about 67
/// minutes, so each key has a few events an hour, spread over its windows.
const STEP_MS: i64 = 1;
/// How far behind the newest event the watermark trails (ms).
const OUT_OF_ORDERNESS_MS: i64 = 2_000;
const BATCH: usize = 1024;

const WORKLOADS: [(&str, &str); 3] = [
    ("tumbling-count", "tumbling 60 s, count"),
    ("sliding-10s", "sliding 60 s / 10 s, sum"),
    ("sliding-1s", "sliding 60 s / 1 s, sum"),
];

fn main() {
    if let Ok(name) = std::env::var("WEIR_BENCH_WINDOW") {
        return run(&name);
    }
    println!(
        "window operator, {} M events over {} M keys, one core",
        EVENTS / 1_000_000,
        KEYS / 1_000_000
    );
    println!(
        "{:<26} {:>12} {:>14} {:>16} {:>14}",
        "", "events/s", "results", "results/event", "peak RSS"
    );
    let me = std::env::current_exe().expect("the bench binary's path");
    for (name, title) in WORKLOADS {
        let output = Command::new(&me)
            .env("WEIR_BENCH_WINDOW", name)
            .output()
            .expect("run a workload");
        assert!(
            output.status.success(),
            "workload {name} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let line = String::from_utf8_lossy(&output.stdout);
        let fields: Vec<f64> = line
            .split_whitespace()
            .map(|f| f.parse().expect("a number"))
            .collect();
        let [rate, results, rss_kb] = fields[..] else {
            panic!("workload {name} printed `{line}`");
        };
        println!(
            "{title:<26} {:>12} {:>14} {:>16.2} {:>11.0} MB",
            si(rate),
            results as u64,
            results / EVENTS as f64,
            rss_kb / 1024.0
        );
    }
}

/// Runs one workload and prints `events/s results peak-rss-kb`.
fn run(name: &str) {
    let (kind, function) = match name {
        "tumbling-count" => (WindowKind::Tumbling { size: 60_000 }, Function::Count),
        "sliding-10s" => (
            WindowKind::Sliding {
                size: 60_000,
                slide: 10_000,
            },
            Function::Sum,
        ),
        "sliding-1s" => (
            WindowKind::Sliding {
                size: 60_000,
                slide: 1_000,
            },
            Function::Sum,
        ),
        other => panic!("no workload `{other}`"),
    };
    let mut operator = WindowOperator::new(WindowSpec {
        kind,
        allowed_lateness: 0,
        functions: vec![function],
    });
    let keys: Vec<Arc<[u8]>> = (0..KEYS)
        .map(|k| Arc::from(format!("card-{k:07}").into_bytes()))
        .collect();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let events: Vec<(usize, i64, Input)> = (0..EVENTS)
        .map(|i| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let input = match function {
                Function::Count => Input::None,
                _ => Input::Number((seed % 10_000) as f64 / 100.0),
            };
            ((seed % KEYS) as usize, i as i64 * STEP_MS, input)
        })
        .collect();

    let mut results = Vec::new();
    let mut emitted = 0u64;
    let started = thread_cpu_time();
    for batch in events.chunks(BATCH) {
        let mut newest = i64::MIN;
        for (key, time, input) in batch {
            operator.add(
                &keys[*key],
                *time,
                std::slice::from_ref(input),
                &mut results,
            );
            newest = newest.max(*time);
        }
        operator.advance(newest - OUT_OF_ORDERNESS_MS, &mut results);
        emitted += results.len() as u64;
        results.clear();
    }
    operator.advance(i64::MAX, &mut results);
    emitted += results.len() as u64;
    let elapsed = (thread_cpu_time() - started).as_secs_f64();
    println!("{} {emitted} {}", EVENTS as f64 / elapsed, peak_rss_kb());
}

/// This process's peak resident set size, in KiB.
fn peak_rss_kb() -> i64 {
    // SAFETY: `usage` is a valid, writable rusage; RUSAGE_SELF is a constant
    // Linux supports.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    assert_eq!(rc, 0, "getrusage failed");
    usage.ru_maxrss
}
