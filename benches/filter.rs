//! A Wasm `filter` stage against the same filter as a native Rust closure,
//! on ~200-byte JSON payments, at batch sizes 1, 64 and 1024.
//!
//! Run with `cargo xtask bench` (or `cargo bench -p weir-benches --bench
//! filter` once the plugins are built). Prints events per second per core
//! for both and the ratio of their costs per event.

use std::time::Duration;

use weir::engine::stage::StageOutput;
use weir::event::Event;
use weir_benches::{filter_stage, measure, payments, si};
use weir_json::{Path, Scalar};

const BUDGET: Duration = Duration::from_secs(3);

fn main() {
    let (_runtime, mut stage) = filter_stage();
    let path = Path::parse("amount").unwrap();

    // For profiling one side: WEIR_BENCH_ONLY=wasm or native, and
    // WEIR_BENCH_BATCH=1024 to run a single batch size.
    let only = std::env::var("WEIR_BENCH_ONLY").unwrap_or_default();
    let sizes: Vec<usize> = match std::env::var("WEIR_BENCH_BATCH") {
        Ok(size) => vec![size.parse().expect("WEIR_BENCH_BATCH is a number")],
        Err(_) => vec![1, 64, 1024],
    };
    println!("filter `amount > 500` on ~200-byte JSON events, one core");
    println!(
        "{:>6}  {:>14}  {:>14}  {:>10}",
        "batch", "wasm ev/s", "native ev/s", "wasm/native"
    );
    for batch in sizes {
        let input = payments(batch);
        let mut out = Vec::with_capacity(batch);
        let mut dead = Vec::new();
        let wasm = (only != "native").then(|| {
            measure(&input, BUDGET, |events| {
                out.clear();
                let output = StageOutput {
                    events: &mut out,
                    dead: &mut dead,
                };
                stage
                    .process(events, output)
                    .expect("filter never fails here");
            })
        });
        let native = (only != "wasm").then(|| {
            measure(&input, BUDGET, |events| {
                out.clear();
                native_filter(events, &path, &mut out);
            })
        });
        let ratio = match (wasm, native) {
            (Some(wasm), Some(native)) => format!("{:.2}x", native / wasm),
            _ => "-".into(),
        };
        let show = |rate: Option<f64>| rate.map_or("-".into(), si);
        println!(
            "{batch:>6}  {:>14}  {:>14}  {ratio:>11}",
            show(wasm),
            show(native)
        );
    }
}

/// The filter plugin's logic as a native closure: keep events whose
/// `amount` is a number greater than 500.
fn native_filter(events: Vec<Event>, path: &Path, out: &mut Vec<Event>) {
    for event in events {
        let keep = match weir_json::find(&event.value, path) {
            Ok(Some(raw)) => matches!(weir_json::scalar(raw), Scalar::Number(n) if n > 500.0),
            _ => false,
        };
        if keep {
            out.push(event);
        }
    }
}
