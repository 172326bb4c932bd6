//! Measures how long `find` and `validate` take on a typical ~200-byte flat
//! event. Run with `cargo run --release -p weir-json --example scan_speed`.

use std::hint::black_box;
use std::time::Instant;

use weir_json::{Path, find, validate};

const EVENT: &[u8] = br#"{"id":"evt-000123","card":"4111-1111-1111-1111","amount":1234.56,"currency":"EUR","country":"DE","merchant":"coffee shop no. 7","ts":1718000000000,"ok":true,"note":null}"#;

fn main() {
    let path = Path::parse("card").expect("valid path");
    let last = Path::parse("note").expect("valid path");
    println!("event: {} bytes", EVENT.len());

    time("validate", || validate(black_box(EVENT)).is_ok());
    time("find first field", || find(black_box(EVENT), &path).is_ok());
    time("find last field", || find(black_box(EVENT), &last).is_ok());
}

/// Runs `f` many times and prints the mean time per call: wall-clock time and,
/// on Linux, the time this thread actually ran (the fairer number on a busy
/// machine).
fn time(name: &str, mut f: impl FnMut() -> bool) {
    const RUNS: u32 = 2_000_000;
    for _ in 0..RUNS / 10 {
        black_box(f());
    }
    let start = Instant::now();
    let cpu_start = thread_cpu_ns();
    for _ in 0..RUNS {
        black_box(f());
    }
    let wall = start.elapsed().as_nanos() as f64 / f64::from(RUNS);
    match (cpu_start, thread_cpu_ns()) {
        (Some(a), Some(b)) => {
            let cpu = (b - a) as f64 / f64::from(RUNS);
            println!("{name}: {wall:.1} ns wall, {cpu:.1} ns on cpu");
        }
        _ => println!("{name}: {wall:.1} ns wall"),
    }
}

/// The time this thread has spent on a CPU, from Linux's scheduler statistics.
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}
