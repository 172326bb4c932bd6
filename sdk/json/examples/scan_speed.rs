//! Measures how long `find` and `validate` take on a few event shapes, the
//! main one being the ~200-byte payment event of weir's filter benchmark.
//!
//! Run with `cargo run --release -p weir-json --example scan_speed`. Each case
//! is timed in several rounds: the median round's wall-clock time is printed
//! and, on Linux, the time this thread actually ran (the fairer number on a
//! busy machine).

use std::hint::black_box;
use std::time::Instant;

use weir_json::{Path, find, validate};

/// The event of weir's filter benchmark: flat, short strings, a few numbers.
const PAYMENT: &[u8] = br#"{"id":"p-0000000042","card":"c-0131","amount":123.45,"currency":"EUR","merchant":"m-017","country":"DE","email":"user131@example.com","ip":"10.1.2.3","ts":1767225600420}"#;

/// A flat event with longer strings and literals.
const FLAT: &[u8] = br#"{"id":"evt-000123","card":"4111-1111-1111-1111","amount":1234.56,"currency":"EUR","country":"DE","merchant":"coffee shop no. 7","ts":1718000000000,"ok":true,"note":null}"#;

/// Pretty-printed and nested, as a human would write it.
const NESTED: &[u8] = br#"{
  "id": "evt-000123",
  "payer": {
    "card": { "id": "c-0131", "brand": "visa", "last4": "1111" },
    "address": { "city": "Berlin", "zip": "10115" }
  },
  "items": [
    { "sku": "a-1", "qty": 2, "price": 9.99 },
    { "sku": "b-2", "qty": 1, "price": 19.5 }
  ],
  "amount": 39.48
}"#;

/// Strings with escapes and non-ASCII text.
const TEXT: &[u8] = "{\"name\":\"Zo\u{eb} M\u{fc}ller\",\"city\":\"K\u{f8}benhavn\",\
\"quote\":\"she said \\\"hi\\\" \\u2014 then left\\n\",\"emoji\":\"\u{1f600} ok\",\
\"path\":\"C:\\\\tmp\\\\x\",\"amount\":5}"
    .as_bytes();

/// A run of numbers.
const NUMBERS: &[u8] =
    br#"[1,22,333,4444,55555,-6.5,7e3,0.125,1234567.891,42,17,-3,0,99.99,1e-7,31415926]"#;

fn main() {
    let cases: &[(&str, &[u8], &str)] = &[
        ("payment", PAYMENT, "amount"),
        ("payment", PAYMENT, "ts"),
        ("payment", PAYMENT, "missing"),
        ("flat", FLAT, "card"),
        ("flat", FLAT, "note"),
        ("nested", NESTED, "payer.card.id"),
        ("nested", NESTED, "amount"),
        ("text", TEXT, "amount"),
        ("numbers", NUMBERS, "15"),
    ];

    let mut shown = None;
    for &(shape, json, path_text) in cases {
        if shown != Some(shape) {
            // Each shape is validated once on its own line before its finds.
            shown = Some(shape);
            println!("{shape} ({} bytes)", json.len());
            time("  validate", || validate(black_box(json)).is_ok());
        }
        let path = Path::parse(path_text).expect("valid path");
        assert!(find(json, &path).is_ok(), "{shape} is valid json");
        time(&format!("  find {path_text}"), || {
            find(black_box(json), &path).is_ok()
        });
    }
}

/// Runs `f` in several rounds and prints the median wall-clock time per
/// call, and the on-CPU time per call over all rounds (Linux accounts it in
/// scheduler ticks, too coarse to split by round).
fn time(name: &str, mut f: impl FnMut() -> bool) {
    const ROUNDS: usize = 9;
    const RUNS: u32 = 200_000;
    for _ in 0..RUNS {
        black_box(f());
    }

    let mut walls = Vec::with_capacity(ROUNDS);
    let cpu_start = thread_cpu_ns();
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for _ in 0..RUNS {
            black_box(f());
        }
        walls.push(start.elapsed().as_nanos() as f64 / f64::from(RUNS));
    }

    let wall = median(&mut walls);
    match (cpu_start, thread_cpu_ns()) {
        (Some(a), Some(b)) => {
            let cpu = (b - a) as f64 / (f64::from(RUNS) * ROUNDS as f64);
            println!("{name:<22} {wall:7.1} ns wall {cpu:7.1} ns on cpu");
        }
        _ => println!("{name:<22} {wall:7.1} ns wall"),
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The time this thread has spent on a CPU, from Linux's scheduler statistics.
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}
