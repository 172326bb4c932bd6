//! The `filter` plugin in every guest language, side by side: component
//! size, compile time, cached load time, instantiate time (with `init`) and
//! events per second per core at batch 1024 on ~200-byte JSON payments,
//! relative to Rust.
//!
//! Run with `cargo bench -p weir-benches --bench languages` after
//! `cargo xtask plugins` and `cargo xtask sdk-deps`; each language's example
//! is built first (Python and JavaScript take most of a minute).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use weir::config::{ErrorPolicy, Limits};
use weir::engine::stage::{Stage, StageOutput};
use weir::metrics::Metrics;
use weir::plugin::PluginRuntime;
use weir::plugin::instance::StageSpec;
use weir_benches::{measure, payments, root, si};
use weir_tests::sdk::{Language, build};

const BUDGET: Duration = Duration::from_secs(3);

fn main() {
    let rust = root().join("plugins/target/wasm32-wasip2/release/filter.wasm");
    let languages = [
        ("rust", rust),
        ("python", build(Language::Python, "examples/filter")),
        ("js", build(Language::Js, "examples/filter")),
        ("go", build(Language::Go, "examples/filter")),
        ("c", build(Language::C, "examples/filter")),
    ];
    println!("filter `amount > 500`, batch 1024, ~200-byte JSON events, one core");
    println!(
        "{:>7} {:>10} {:>10} {:>12} {:>12} {:>11} {:>9}",
        "lang", "size", "compile", "cached load", "instantiate", "events/s", "vs rust"
    );
    let mut rust_rate = None;
    for (name, component) in &languages {
        let row = measure_language(name, component);
        let rate = *rust_rate.get_or_insert(row.rate);
        println!(
            "{name:>7} {:>10} {:>8.0}ms {:>10.1}ms {:>10.2}ms {:>11} {:>8.2}x",
            format!("{:.1} MB", row.size as f64 / 1e6),
            row.compile.as_secs_f64() * 1e3,
            row.cached_load.as_secs_f64() * 1e3,
            row.instantiate.as_secs_f64() * 1e3,
            si(row.rate),
            rate / row.rate,
        );
    }
}

struct Row {
    size: u64,
    compile: Duration,
    cached_load: Duration,
    instantiate: Duration,
    rate: f64,
}

fn measure_language(name: &str, component: &Path) -> Row {
    let size = std::fs::metadata(component).expect("component built").len();
    let metrics = Arc::new(Metrics::new("bench"));
    // A fresh artifact cache per language, so the first load compiles.
    let cache = root().join("target/bench-language-cache").join(name);
    let _ = std::fs::remove_dir_all(&cache);

    // Compile: a runtime with an empty cache compiles and stores.
    let runtime = PluginRuntime::new(Some(cache.clone()), metrics.clone()).unwrap();
    let started = Instant::now();
    runtime.load(component).expect("plugin loads");
    let compile = started.elapsed();

    // Cached load: a second runtime finds the stored artifact.
    let runtime = PluginRuntime::new(Some(cache.clone()), metrics.clone()).unwrap();
    let started = Instant::now();
    let plugin = runtime
        .load(component)
        .expect("plugin loads from the cache");
    let cached_load = started.elapsed();

    let spec = StageSpec {
        name: "filter".into(),
        config: vec![
            ("field".into(), "amount".into()),
            ("op".into(), ">".into()),
            ("value".into(), "500".into()),
        ],
        limits: Limits {
            memory_bytes: 512 << 20,
            ..Limits::default()
        },
    };
    let make = || {
        Stage::new(
            plugin.clone(),
            spec.clone(),
            ErrorPolicy::DeadLetter,
            metrics.clone(),
        )
    };
    let started = Instant::now();
    let rounds = 5;
    for _ in 0..rounds {
        make().expect("stage instantiates");
    }
    let instantiate = started.elapsed() / rounds;

    let mut stage = make().expect("stage instantiates");
    let input = payments(1024);
    let (mut out, mut dead) = (Vec::new(), Vec::new());
    let rate = measure(&input, BUDGET, |events| {
        out.clear();
        stage
            .process(
                events,
                StageOutput {
                    events: &mut out,
                    dead: &mut dead,
                },
            )
            .unwrap();
    });
    let _ = std::fs::remove_dir_all(&cache);
    Row {
        size,
        compile,
        cached_load,
        instantiate,
        rate,
    }
}
