//! Checkpoints, recovery and exactly-once file output, proven by killing
//! the `weir` process: with SIGKILL at random moments, between a
//! checkpoint becoming durable and its commit, after damaging the newest
//! checkpoint, and through `weir savepoint` and `weir run --from`. In every
//! case the committed output must equal, line for line, what a plain model
//! in this file computes from the generator's events. A last test looks
//! into the checkpoints' state: only open windows and unexpired ids.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use weir::config::SourceKind;
use weir::source::generator::GeneratorSource;
use weir_tests::{Rng, Scratch, weir_binary, window_line};

/// Events the generator makes in every test.
const EVENTS: u64 = 100_000;

/// A windowed pipeline over a rate-limited generator with two partitions:
/// key-by card, dedupe by id, 10 s tumbling windows with count, min and
/// max of the amount (order-independent, so that results do not depend on
/// how the partitions interleave), checkpoints every `interval_ms`.
fn pipeline(dir: &Path, count: u64, rate: u64, interval_ms: u64) -> PathBuf {
    let text = format!(
        r#"
[pipeline]
name = "chaos"
parallelism = 2
batch_size = 256

[checkpoints]
interval_ms = {interval_ms}
keep = 2

[[source]]
name = "payments"
type = "generator"
events = "payments"
count = {count}
rate = {rate}.0
partitions = 2
seed = 11
out_of_order = 0.05
max_delay_ms = 2000
malformed = 0.002

[key_by]
field = "card"

[event_time]
field = "ts"
max_out_of_orderness_ms = 2000

[[stage]]
name = "dedupe"
dedupe = {{ field = "id", within_ms = 60000 }}

[[stage]]
name = "windows"
window = {{ type = "tumbling", size_ms = 10000 }}
aggregates = [
  {{ function = "count" }},
  {{ function = "min", field = "amount", name = "min" }},
  {{ function = "max", field = "amount", name = "max" }},
]

[[sink]]
name = "out"
type = "file"
path = "out.jsonl"
"#
    );
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// What the pipeline must write: the window results, sorted, and the
/// (partition, offset) of every event it must dead-letter.
struct Model {
    results: Vec<String>,
    dead: BTreeSet<(u64, u64)>,
}

/// Computes the model from the generator's own events (taken from the
/// library, which makes the same events as the running binary).
fn model(pipeline: &Path) -> Model {
    let config = weir::config::load(pipeline).unwrap();
    let SourceKind::Generator(generator) = &config.sources[0].kind else {
        panic!("the pipeline reads a generator");
    };
    let per_partition = EVENTS.div_ceil(u64::from(generator.partitions));
    // (card, window start) → (count, min, max)
    let mut windows: BTreeMap<(String, i64), (u64, f64, f64)> = BTreeMap::new();
    let mut dead = BTreeSet::new();
    for (p, partition) in GeneratorSource::partitions("payments", generator)
        .into_iter()
        .enumerate()
    {
        for offset in 0..per_partition {
            let seq = offset * u64::from(generator.partitions) + p as u64;
            if seq >= EVENTS {
                break;
            }
            let event = partition.event(offset);
            let parsed: Option<(String, i64, f64)> = serde_json::from_slice(&event.value)
                .ok()
                .and_then(|v: serde_json::Value| {
                    let card = v.get("card")?.as_str()?.to_string();
                    let ts = v.get("ts")?.as_i64()?;
                    let amount = v.get("amount")?.as_f64()?;
                    Some((card, ts, amount))
                });
            let Some((card, ts, amount)) = parsed else {
                dead.insert((p as u64, offset));
                continue;
            };
            let start = ts.div_euclid(10_000) * 10_000;
            let entry =
                windows
                    .entry((card, start))
                    .or_insert((0, f64::INFINITY, f64::NEG_INFINITY));
            entry.0 += 1;
            entry.1 = entry.1.min(amount);
            entry.2 = entry.2.max(amount);
        }
    }
    let mut results: Vec<String> = windows
        .into_iter()
        .map(|((card, start), (count, min, max))| window_line(&card, start, count, min, max))
        .collect();
    results.sort();
    Model { results, dead }
}

/// Checks the committed outputs against the model: every window result
/// once, every malformed event dead-lettered once, nothing staged left.
fn check(dir: &Path, model: &Model) {
    let out = std::fs::read_to_string(dir.join("out.jsonl")).unwrap();
    let mut results: Vec<&str> = out.lines().collect();
    results.sort_unstable();
    let expected: Vec<&str> = model.results.iter().map(String::as_str).collect();
    if results != expected {
        let got: BTreeSet<&str> = results.iter().copied().collect();
        let want: BTreeSet<&str> = expected.iter().copied().collect();
        let missing: Vec<_> = want.difference(&got).take(5).collect();
        let extra: Vec<_> = got.difference(&want).take(5).collect();
        panic!(
            "{} results, {} expected; missing {missing:?}; unexpected {extra:?}; duplicates: {}",
            results.len(),
            expected.len(),
            results.len() - got.len()
        );
    }
    let letters = std::fs::read_to_string(dir.join("dead-letters.jsonl")).unwrap();
    let mut dead = Vec::new();
    for line in letters.lines() {
        let letter: serde_json::Value = serde_json::from_str(line).unwrap();
        let source = &letter["source"];
        dead.push((
            source["partition"].as_u64().unwrap(),
            source["offset"].as_u64().unwrap(),
        ));
    }
    let unique: BTreeSet<(u64, u64)> = dead.iter().copied().collect();
    assert_eq!(unique.len(), dead.len(), "a dead letter was written twice");
    assert_eq!(unique, model.dead, "dead letters differ from the model");
    assert_eq!(
        std::fs::read_to_string(dir.join("late-events.jsonl")).unwrap(),
        "",
        "no event is late in this pipeline"
    );
    let staged: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".weir-part-"))
        .collect();
    assert!(staged.is_empty(), "staged parts left behind: {staged:?}");
}

fn start(pipeline: &Path, envs: &[(&str, &str)]) -> Child {
    let mut command = Command::new(weir_binary());
    command
        .args(["run", "--quiet"])
        .arg(pipeline)
        .env("WEIR_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (key, value) in envs {
        command.env(key, value);
    }
    command.spawn().unwrap()
}

/// Runs the pipeline to its end; returns its standard error.
fn finish(pipeline: &Path) -> String {
    let output = Command::new(weir_binary())
        .args(["run", "--quiet"])
        .arg(pipeline)
        .env("WEIR_LOG", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "weir run failed: {stderr}");
    stderr
}

/// The ids of the complete checkpoints in `dir`.
fn checkpoints(dir: &Path) -> Vec<u64> {
    let mut ids: Vec<u64> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| {
                    let name = e.ok()?.file_name().to_string_lossy().into_owned();
                    name.strip_prefix("chk-")?.parse().ok()
                })
                .collect()
        })
        .unwrap_or_default();
    ids.sort_unstable();
    ids
}

#[test]
fn killed_at_random_moments_the_committed_output_equals_the_model() {
    let (_, mut rng) = Rng::seeded("WEIR_CHAOS_SEED", "chaos");
    let scratch = Scratch::new();
    let dir = scratch.path();
    let pipeline = pipeline(dir, EVENTS, 8_000, 100);
    let model = model(&pipeline);

    let mut kills = 0;
    while kills < 20 {
        let mut child = start(&pipeline, &[]);
        std::thread::sleep(Duration::from_millis(150 + rng.below(500)));
        if child.try_wait().unwrap().is_some() {
            panic!("the pipeline ended after {kills} kills; the run is too short");
        }
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
    }
    finish(&pipeline);
    check(dir, &model);
}

#[test]
fn killed_between_a_durable_checkpoint_and_its_commit_the_restart_finishes_the_commit() {
    let scratch = Scratch::new();
    let dir = scratch.path();
    let pipeline = pipeline(dir, EVENTS, 20_000, 200);
    let model = model(&pipeline);

    let mut child = start(&pipeline, &[("WEIR_TEST_PAUSE_BEFORE_COMMIT_MS", "60000")]);
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut paused = None;
    for line in stderr.lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("weir-test: checkpoint ") {
            paused = rest.split(' ').next().map(|id| id.parse::<u64>().unwrap());
            break;
        }
    }
    let id = paused.expect("the pipeline never paused before a commit");
    child.kill().unwrap();
    child.wait().unwrap();
    // The checkpoint is complete; its output is staged, not yet visible.
    let checkpoint_dir = dir.join(".weir/chaos/checkpoints");
    assert_eq!(checkpoints(&checkpoint_dir).last(), Some(&id));
    let part = dir.join(format!("out.jsonl.weir-part-{id}"));
    let dead_part = dir.join(format!("dead-letters.jsonl.weir-part-{id}"));
    assert!(
        part.exists() || dead_part.exists(),
        "checkpoint {id} staged nothing"
    );
    let visible = std::fs::read_to_string(dir.join("out.jsonl")).unwrap();
    assert!(
        visible.is_empty(),
        "output of checkpoint {id} is visible before its commit"
    );

    finish(&pipeline);
    check(dir, &model);
}

#[test]
fn a_damaged_newest_checkpoint_is_skipped_with_its_reason_and_the_previous_one_restored() {
    let scratch = Scratch::new();
    let dir = scratch.path();
    let pipeline = pipeline(dir, EVENTS, 10_000, 100);
    let model = model(&pipeline);
    let checkpoint_dir = dir.join(".weir/chaos/checkpoints");

    let mut child = start(&pipeline, &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while checkpoints(&checkpoint_dir).len() < 2 {
        assert!(Instant::now() < deadline, "no two checkpoints within 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let ids = checkpoints(&checkpoint_dir);
    let newest = *ids.last().unwrap();
    let manifest = checkpoint_dir.join(format!("chk-{newest:020}/MANIFEST"));
    let bytes = std::fs::read(&manifest).unwrap();
    std::fs::write(&manifest, &bytes[..bytes.len() / 2]).unwrap();

    let stderr = finish(&pipeline);
    let skipped = format!("checkpoint={newest}");
    assert!(
        stderr.contains("skipping unusable checkpoint")
            && stderr.contains(&skipped)
            && stderr.contains("manifest is truncated"),
        "weir did not say it skipped checkpoint {newest}: {stderr}"
    );
    check(dir, &model);
}

#[test]
fn a_savepoint_stops_the_pipeline_and_run_from_resumes_it() {
    let scratch = Scratch::new();
    let dir = scratch.path();
    let pipeline = pipeline(dir, EVENTS, 10_000, 1000);
    let model = model(&pipeline);

    let mut child = start(&pipeline, &[]);
    std::thread::sleep(Duration::from_millis(1500));
    let output = Command::new(weir_binary())
        .arg("savepoint")
        .arg(&pipeline)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "weir savepoint failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let status = child.wait().unwrap();
    assert!(status.success(), "the pipeline did not stop cleanly");
    let savepoint = PathBuf::from(String::from_utf8(output.stdout).unwrap().trim());
    assert!(
        savepoint.join("MANIFEST").exists(),
        "{}",
        savepoint.display()
    );
    // Everything before the savepoint is committed.
    let visible = std::fs::read_to_string(dir.join("out.jsonl")).unwrap();
    assert!(
        !visible.is_empty(),
        "nothing was committed by the savepoint"
    );

    let output = Command::new(weir_binary())
        .args(["run", "--from"])
        .arg(&savepoint)
        .arg(&pipeline)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "weir run --from failed: {stderr}");
    let id: u64 = savepoint
        .file_name()
        .and_then(|name| name.to_str()?.strip_prefix("chk-")?.parse().ok())
        .unwrap();
    let resuming = format!(
        "chaos: resuming from checkpoint {id} ({})",
        savepoint.display()
    );
    assert!(stderr.contains(&resuming), "{stderr}");
    check(dir, &model);
}

/// Entries the dedupe stage (stage 0) and the window stage (stage 1) hold
/// in the state of checkpoint `dir`, over both workers.
fn stored(dir: &Path) -> (usize, usize) {
    let found = weir::checkpoint::Checkpoints::read(dir).unwrap();
    let scratch = Scratch::new();
    let live = scratch.path().join("state");
    found.restore_state(&live).unwrap();
    let mut counts = [0; 2];
    for worker in 0..2 {
        let store = weir::state::StateStore::open(&live.join(format!("worker-{worker}"))).unwrap();
        for (stage, count) in counts.iter_mut().enumerate() {
            let state = store.stage(stage as u16, 0..128);
            for group in 0..128 {
                *count += state.scan_prefix(group, b"").unwrap().count();
            }
        }
    }
    (counts[0], counts[1])
}

#[test]
fn state_holds_only_open_windows_and_unexpired_ids() {
    let scratch = Scratch::new();
    let dir = scratch.path();
    let pipeline = pipeline(dir, EVENTS, 20_000, 100);
    let checkpoint_dir = dir.join(".weir/chaos/checkpoints");
    let newest = |dir: &Path| {
        let id = *checkpoints(dir).last().unwrap();
        dir.join(format!("chk-{id:020}"))
    };

    let mut child = start(&pipeline, &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while checkpoints(&checkpoint_dir).last().is_none_or(|&id| id < 8) {
        assert!(Instant::now() < deadline, "no 8 checkpoints within 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Mid-run: at most one key per card (2000 cards) with open windows,
    // and the ids of about the last minute of event time (10 ms apart,
    // plus what the watermark has not passed yet).
    let (ids, windows) = stored(&newest(&checkpoint_dir));
    assert!(
        (1..=2000).contains(&windows),
        "{windows} keys with window state"
    );
    assert!((1..=6_500).contains(&ids), "{ids} ids remembered");

    // At the end of the input every window fired and every id expired:
    // nothing is left.
    finish(&pipeline);
    assert_eq!(stored(&newest(&checkpoint_dir)), (0, 0));
}
