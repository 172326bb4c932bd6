//! Shared pieces of weir's benchmarks: input events and a small side-by-side
//! timing harness that reports throughput and ratios.

use std::time::{Duration, Instant};

use std::path::PathBuf;
use std::sync::Arc;

use weir::config::{ErrorPolicy, Limits};
use weir::engine::stage::Stage;
use weir::event::Event;
use weir::metrics::Metrics;
use weir::plugin::PluginRuntime;
use weir::plugin::instance::StageSpec;

/// `n` payment events of about 200 bytes, with amounts spread over
/// 0..1000 so that a filter on `amount > 500` keeps about half.
pub fn payments(n: usize) -> Vec<Event> {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|i| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let amount = (seed % 100_000) as f64 / 100.0;
            let value = format!(
                "{{\"id\":\"p-{i:010}\",\"card\":\"c-{:04}\",\"amount\":{amount:.2},\
                 \"currency\":\"EUR\",\"merchant\":\"m-{:03}\",\"country\":\"DE\",\
                 \"email\":\"user{}@example.com\",\"ip\":\"10.1.2.3\",\"ts\":{}}}",
                seed % 5000,
                seed % 300,
                seed % 5000,
                1_767_225_600_000u64 + i as u64 * 10,
            );
            Event::from_value(value)
        })
        .collect()
}

/// Measures `run` over copies of `input` for about `budget` and returns
/// the median events per CPU-second over rounds of about 256 k events.
/// Copies are made before each round, outside the timed part, so that only
/// `run` is measured. Time is the thread's CPU time, not wall time, so that
/// other processes on a shared machine skew the result less (Linux accounts
/// CPU time in scheduler ticks; rounds are long enough for that to average
/// out).
pub fn measure(input: &[Event], budget: Duration, mut run: impl FnMut(Vec<Event>)) -> f64 {
    let calls = (262_144 / input.len()).max(1);
    let mut rates = Vec::new();
    let started = Instant::now();
    let mut round = 0;
    while started.elapsed() < budget || rates.len() < 5 {
        let copies: Vec<Vec<Event>> = (0..calls).map(|_| input.to_vec()).collect();
        let timed = thread_cpu_time();
        for copy in copies {
            run(copy);
        }
        let elapsed = (thread_cpu_time() - timed).as_secs_f64();
        // The first round warms caches and lazily made state; drop it.
        if round > 0 {
            rates.push((calls * input.len()) as f64 / elapsed);
        }
        round += 1;
    }
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

/// `1234567.8` as `1.23 M`.
pub fn si(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.2} M", rate / 1e6)
    } else if rate >= 1e3 {
        format!("{:.1} k", rate / 1e3)
    } else {
        format!("{rate:.0}")
    }
}

/// CPU time used by the calling thread.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant
    // Linux supports for every thread.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The repository root.
pub fn root() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("benches/ has a parent")
        .into()
}

/// A weir stage running the shipped `filter` plugin with `amount > 500`,
/// and the runtime it came from, which must outlive it (its ticker thread
/// enforces the stage's time limit).
pub fn filter_stage() -> (PluginRuntime, Stage) {
    let metrics = Arc::new(Metrics::new("bench"));
    let cache = root().join("target/bench-plugin-cache");
    let runtime = PluginRuntime::new(Some(cache), metrics.clone()).expect("plugin runtime");
    let filter = root().join("plugins/target/wasm32-wasip2/release/filter.wasm");
    let plugin = runtime
        .load(&filter)
        .expect("run `cargo xtask plugins` first");
    let spec = StageSpec {
        name: "filter".into(),
        config: vec![
            ("field".into(), "amount".into()),
            ("op".into(), ">".into()),
            ("value".into(), "500".into()),
        ],
        limits: Limits::default(),
    };
    let stage = Stage::new(plugin, spec, ErrorPolicy::DeadLetter, metrics).expect("filter stage");
    (runtime, stage)
}
