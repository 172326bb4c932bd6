//! What checkpoints cost: the throughput of a keyed window pipeline with
//! exactly-once checkpoints every second against the same pipeline without
//! checkpoints, and the time a restart takes to restore a checkpoint with
//! about 1 GB of keyed state and process its first event.
//!
//! Run with `cargo bench -p weir-benches --bench checkpoints`. Both
//! pipelines run in this process through `Pipeline::prepare` and
//! `Pipeline::run`, interleaved (without, with, without, with, …), and
//! the best round of each is reported with their ratio. The state for the
//! restart is written straight into a dedupe stage's RocksDB store (one
//! per worker), checkpointed by a first run, and then restored by a
//! second one whose source starts past the end of its input.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use weir::engine::Pipeline;
use weir::metrics::Metrics;
use weir::plugin::PluginRuntime;
use weir_benches::si;

/// Events per throughput round.
const EVENTS: u64 = 2_000_000;
const ROUNDS: usize = 3;

/// Keyed state written for the restart: entries and bytes per value.
const STATE_ENTRIES: u64 = 1_000_000;
const VALUE_BYTES: usize = 1024;

fn main() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    throughput(dir.path());
    restart(dir.path());
}

/// A pipeline over a generator (`count` events, 1 ms of event time apart,
/// so that a card has about five events per 10 s window), keyed by card, with
/// `stages` and a file sink; `checkpoints` is the `[checkpoints]` table or
/// nothing.
fn pipeline(dir: &Path, name: &str, count: u64, stages: &str, checkpoints: &str) -> Pipeline {
    let file = write_pipeline(dir, name, count, stages, checkpoints);
    let config = weir::config::load(&file).expect("a valid pipeline");
    let metrics = Arc::new(Metrics::new(name));
    let runtime = PluginRuntime::new(None, metrics).expect("a plugin runtime");
    Pipeline::prepare(config, &runtime, None).expect("the pipeline prepares")
}

fn write_pipeline(
    dir: &Path,
    name: &str,
    count: u64,
    stages: &str,
    checkpoints: &str,
) -> std::path::PathBuf {
    let text = format!(
        r#"
[pipeline]
name = "{name}"
parallelism = 2
{checkpoints}
[[source]]
name = "payments"
type = "generator"
events = "payments"
count = {count}
partitions = 2
interval_ms = 1

[key_by]
field = "card"

[event_time]
field = "ts"
max_out_of_orderness_ms = 1000
{stages}
[[sink]]
name = "out"
type = "file"
path = "{name}.jsonl"
"#
    );
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, text).expect("write the pipeline file");
    file
}

const WINDOW: &str = r#"
[[stage]]
name = "windows"
window = { type = "tumbling", size_ms = 10000 }
aggregates = [{ function = "count" }, { function = "sum", field = "amount" }]
"#;

fn throughput(dir: &Path) {
    println!(
        "keyed tumbling window, {} M generated events, 2 workers, file sink",
        EVENTS / 1_000_000
    );
    let mut best = [0f64; 2];
    for round in 0..ROUNDS {
        for (i, checkpoints) in ["", "[checkpoints]\ninterval_ms = 1000\n"]
            .iter()
            .enumerate()
        {
            let name = format!("throughput-{i}-{round}");
            let pipeline = pipeline(dir, &name, EVENTS, WINDOW, checkpoints);
            let summary = pipeline
                .run(Arc::new(AtomicBool::new(false)))
                .expect("the pipeline runs");
            let rate = summary.read as f64 / summary.elapsed.as_secs_f64();
            best[i] = best[i].max(rate);
        }
    }
    println!("{:<40} {:>12}", "without checkpoints", si(best[0]));
    println!(
        "{:<40} {:>12}  {:.2}x",
        "exactly-once checkpoints every 1 s",
        si(best[1]),
        best[1] / best[0]
    );
}

fn restart(dir: &Path) {
    let name = "restart";
    let checkpoints = "[checkpoints]\ninterval_ms = 1000\n";
    let dedupe =
        "\n[[stage]]\nname = \"dedupe\"\ndedupe = { field = \"id\", within_ms = 86400000 }\n";
    let file = write_pipeline(dir, name, 1_000_000, dedupe, checkpoints);
    let config = weir::config::load(&file).expect("a valid pipeline");
    let size = seed_checkpoint(&config);

    let started = Instant::now();
    let metrics = Arc::new(Metrics::new(name));
    let runtime = PluginRuntime::new(None, metrics).expect("a plugin runtime");
    let pipeline = Pipeline::prepare(config, &runtime, None).expect("the pipeline restores");
    let restored = started.elapsed();
    assert!(pipeline.restored().is_some(), "the checkpoint was restored");
    let summary = pipeline
        .run(Arc::new(AtomicBool::new(false)))
        .expect("the restored run");
    let total = started.elapsed();
    assert_eq!(
        summary.read, RESUMED,
        "the run resumes {RESUMED} events before the end"
    );
    println!(
        "restart with {:.2} GB of keyed state in its checkpoint: restored in {} ms, \
         its last {RESUMED} events processed and a last checkpoint taken {} ms after the start",
        size as f64 / 1e9,
        restored.as_millis(),
        total.as_millis()
    );
}

/// Events the restored run has left to read.
const RESUMED: u64 = 1000;

/// Writes a checkpoint of `config` (two workers, one dedupe stage) whose
/// state holds `STATE_ENTRIES` values of `VALUE_BYTES` and whose generator
/// partitions are `RESUMED` events short of their end; returns its size.
fn seed_checkpoint(config: &weir::config::PipelineConfig) -> u64 {
    use weir::checkpoint::{self as c, Checkpoints};
    let seed = config.state_dir.with_file_name("seed");
    let checkpoints = config.checkpoints.as_ref().expect("checkpoints");
    let store = Checkpoints::open(&checkpoints.dir, checkpoints.keep).expect("the store");
    let pending = store.begin(1).expect("begin a checkpoint");
    std::fs::create_dir_all(pending.state_dir()).expect("its state directory");
    let mut value = vec![0u8; VALUE_BYTES];
    for worker in 0..2u16 {
        let db = weir::state::StateStore::open(&seed.join(format!("worker-{worker}")))
            .expect("a worker's store");
        let groups = worker * 64..(worker + 1) * 64;
        let mut handle = db.stage(0, groups.clone());
        let mut batch = weir::state::StateBatch::new();
        for i in 0..STATE_ENTRIES / 2 {
            let group = groups.start + (i % 64) as u16;
            scramble(&mut value, i);
            batch.put(group, &i.to_be_bytes(), &value);
            if batch.len() >= 4096 {
                handle
                    .commit(std::mem::take(&mut batch))
                    .expect("write state");
            }
        }
        handle.commit(batch).expect("write state");
        db.checkpoint(&pending.state_dir().join(c::worker_dir(u32::from(worker))))
            .expect("checkpoint a worker's store");
    }
    let weir::config::StageKind::Dedupe(stage) = &config.stages[0].kind else {
        panic!("the first stage dedupes");
    };
    let topology = c::Topology {
        pipeline: config.name.clone(),
        key_groups: config.key_groups,
        parallelism: config.parallelism,
        stages: vec![c::Stage {
            name: config.stages[0].name.clone(),
            kind: "dedupe".into(),
            plugin: String::new(),
            state_fingerprint: format!("{stage:?}"),
        }],
    };
    let mut manifest = c::Manifest::new(1, topology);
    manifest.has_state = true;
    let per_partition = 1_000_000 / 2;
    manifest.sources = (0..2)
        .map(|partition| c::SourcePartition {
            source: "payments".into(),
            partition,
            watermark: i64::MIN,
            position: Some(c::Position::Generator(c::GeneratorPosition {
                emitted: per_partition - RESUMED / 2,
            })),
        })
        .collect();
    manifest.operators = (0..2)
        .map(|worker| c::OperatorState {
            stage: 0,
            first_key_group: worker * 64,
            end_key_group: (worker + 1) * 64,
            watermark: i64::MIN,
            seq: 0,
        })
        .collect();
    let found = pending
        .complete(&manifest)
        .expect("complete the checkpoint");
    found.size_bytes()
}

/// Fills `value` with bytes that do not compress (a xorshift stream seeded
/// by `i`), so that the state on disk is as large as what was written.
fn scramble(value: &mut [u8], i: u64) {
    let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for chunk in value.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
}
