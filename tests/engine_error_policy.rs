//! Error policies: what a stage does with an event its plugin fails on.
//! `dlq` (the default) is covered by `plugins_hostile`; here `skip`, `fail`
//! and `retry`.

use weir_tests::{Scratch, file_pipeline, plugin, run_pipeline, runtime, toml_path};

/// Ten events; 3 and 7 make the hostile plugin panic.
fn input() -> String {
    (1..=10)
        .map(|id| format!("{{\"id\":{id},\"mark\":{}}}\n", id == 3 || id == 7))
        .collect()
}

fn pipeline(
    scratch: &Scratch,
    stage: &str,
    on_error: &str,
    batch_size: usize,
) -> std::path::PathBuf {
    scratch.write("in.jsonl", &input());
    let stage = format!(
        r#"
[[stage]]
name = "{stage}"
plugin = {plugin}
config = {{ behaviour = "panic" }}
on_error = {on_error}
"#,
        plugin = toml_path(&plugin("hostile")),
    );
    let settings = format!("batch_size = {batch_size}");
    scratch.write("pipeline.toml", &file_pipeline(&settings, &stage))
}

fn ids(lines: &[String]) -> Vec<u64> {
    lines
        .iter()
        .map(|l| {
            let value: serde_json::Value = serde_json::from_str(l).unwrap();
            value["id"]
                .as_u64()
                .or_else(|| value["event"]["value"]["id"].as_u64())
                .unwrap()
        })
        .collect()
}

#[test]
fn skip_drops_failing_events_and_counts_them() {
    let scratch = Scratch::new();
    let summary = run_pipeline(&pipeline(&scratch, "skipping", r#""skip""#, 1024)).unwrap();
    assert_eq!(ids(&scratch.lines("out.jsonl")), [1, 2, 4, 5, 6, 8, 9, 10]);
    assert_eq!(scratch.lines("dead.jsonl"), Vec::<String>::new());
    assert_eq!(
        (summary.written, summary.dead_lettered, summary.skipped),
        (8, 0, 2)
    );
    let metrics = runtime().metrics().encode();
    assert!(
        metrics.contains(
            "weir_events_skipped_total{pipeline=\"test\",stage=\"skipping\",kind=\"trap\"} 2\n"
        ),
        "{metrics}"
    );
}

#[test]
fn fail_stops_the_pipeline_at_the_failing_event() {
    let scratch = Scratch::new();
    let error = run_pipeline(&pipeline(&scratch, "strict", r#""fail""#, 1)).unwrap_err();
    assert!(
        error.starts_with(
            "stage `strict` failed on the event from in[0]@2: trap: wasm trap: wasm \
             `unreachable` instruction executed: plugin panicked at "
        ),
        "{error}"
    );
    assert!(error.ends_with(": hostile: poisoned event 3"), "{error}");
    // Batches before the failing one were delivered; nothing after it was.
    assert_eq!(ids(&scratch.lines("out.jsonl")), [1, 2]);
}

/// Plugin instances created for `stage` so far.
fn instantiations(stage: &str) -> u64 {
    let metrics = runtime().metrics().encode();
    let prefix =
        format!("weir_plugin_instantiations_total{{pipeline=\"test\",stage=\"{stage}\"}} ");
    let line = metrics
        .lines()
        .find(|l| l.starts_with(&prefix))
        .expect("metric present");
    line[prefix.len()..].parse().unwrap()
}

#[test]
fn retry_calls_a_failing_event_again_on_fresh_instances_then_dead_letters_it() {
    let once = Scratch::new();
    run_pipeline(&pipeline(&once, "retry-once", "{ retry = 1 }", 1024)).unwrap();
    let thrice = Scratch::new();
    run_pipeline(&pipeline(&thrice, "retry-thrice", "{ retry = 3 }", 1024)).unwrap();

    for scratch in [&once, &thrice] {
        assert_eq!(ids(&scratch.lines("out.jsonl")), [1, 2, 4, 5, 6, 8, 9, 10]);
        assert_eq!(ids(&scratch.lines("dead.jsonl")), [3, 7]);
    }
    // Every retry fails and poisons its instance: two more retries for each
    // of the two failing events cost exactly four more instances.
    assert_eq!(
        instantiations("retry-thrice") - instantiations("retry-once"),
        4
    );
}
