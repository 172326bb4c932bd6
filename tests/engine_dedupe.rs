//! The dedupe stage: a retried event (same key, same id, close in event
//! time) is dropped; ids are forgotten once the watermark has passed them;
//! ids live in the keyed state store.

use weir_tests::{Scratch, file_pipeline, run_pipeline};

#[test]
fn retried_events_are_dropped_within_the_window_only() {
    let scratch = Scratch::new();
    let input = [
        r#"{"id":"p1","card":"a","ts":0}"#,
        r#"{"id":"p1","card":"a","ts":5}"#, // a retry: dropped
        r#"{"id":"p2","card":"a","ts":10}"#,
        r#"{"id":"p1","card":"b","ts":20}"#, // same id, other card: kept
        r#"{"id":"p1","card":"a","ts":150}"#, // 150 ms after the first: kept
        r#"{"id":"p2","card":"a","ts":160}"#, // p2 was forgotten at watermark 149
        r#"{"id":"p1","card":"a","ts":149}"#, // 1 ms from the kept copy at 150
        r#"{"card":"a","ts":170}"#,          // no id: dead-lettered
    ];
    scratch.write("in.jsonl", &(input.join("\n") + "\n"));
    let body = r#"
[event_time]
field = "ts"

[key_by]
field = "card"

[[stage]]
name = "once"
dedupe = { field = "id", within_ms = 100 }
"#;
    let settings = "name = \"dedupe\"\nbatch_size = 1\nstate_dir = \"state\"";
    let path = scratch.write("pipeline.toml", &file_pipeline(settings, body));
    let summary = run_pipeline(&path).expect("pipeline runs");
    assert_eq!(
        scratch.lines("out.jsonl"),
        [input[0], input[2], input[3], input[4], input[5]]
    );
    let dead = scratch.lines("dead.jsonl");
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].starts_with(
            r#"{"kind":"malformed","message":"dedupe field `id` is missing","stage":"once","#
        ),
        "{}",
        dead[0]
    );
    assert_eq!(summary.deduplicated, 2);
    assert!(
        scratch.path().join("state/worker-0/CURRENT").exists(),
        "ids live in rocksdb"
    );
}
