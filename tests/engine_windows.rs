//! Windows in a whole pipeline: event time read from a field, watermarks
//! travelling with the data, results emitted when the watermark passes,
//! corrected results for late events within the allowed lateness, and the
//! late output for events later than that.

use weir_tests::{Scratch, file_pipeline, run_pipeline};

/// Sent one event per batch, so that each event is followed by its
/// partition's watermark and the run is deterministic.
const INPUT: &str = r#"{"card":"a","amount":1,"ts":0}
{"card":"b","amount":2,"ts":3}
{"card":"a","amount":4,"ts":9}
{"card":"a","amount":8,"ts":12}
{"card":"a","amount":16,"ts":5}
{"card":"b","amount":32,"ts":30}
{"card":"a","amount":64,"ts":1}
not json
{"card":"c","amount":"x","ts":31}
"#;

fn pipeline(window: &str) -> String {
    let body = format!(
        r#"
[event_time]
field = "ts"

[key_by]
field = "card"

[[stage]]
name = "velocity"
window = {window}
allowed_lateness_ms = 5
aggregates = [{{ function = "count" }}, {{ function = "sum", field = "amount" }}]

[late]
type = "file"
path = "late.jsonl"
"#
    );
    file_pipeline("name = \"windows\"\nbatch_size = 1", &body)
}

#[test]
fn tumbling_windows_emit_update_and_route_late_events() {
    let scratch = Scratch::new();
    scratch.write("in.jsonl", INPUT);
    let path = scratch.write(
        "pipeline.toml",
        &pipeline(r#"{ type = "tumbling", size_ms = 10 }"#),
    );
    let summary = run_pipeline(&path).expect("pipeline runs");

    let result = |key: &str, start: u32, count: u32, sum: u32, update: bool| {
        format!(
            r#"{{"key":"{key}","window_start":{start},"window_end":{},"count":{count},"sum_amount":{sum},"update":{update}}}"#,
            start + 10
        )
    };
    assert_eq!(
        scratch.lines("out.jsonl"),
        [
            // ts=12 moves the watermark to 11: [0, 10) is complete.
            result("a", 0, 2, 5, false),
            result("b", 0, 1, 2, false),
            // ts=5 is late but within the 5 ms lateness: a corrected result.
            result("a", 0, 3, 21, true),
            // ts=30 moves the watermark to 29.
            result("a", 10, 1, 8, false),
            // The end of input completes everything.
            result("b", 30, 1, 32, false),
        ]
    );
    // ts=1 arrives when [0, 10) can no longer change.
    assert_eq!(
        scratch.lines("late.jsonl"),
        [r#"{"card":"a","amount":64,"ts":1}"#]
    );

    let dead = scratch.lines("dead.jsonl");
    assert_eq!(dead.len(), 2);
    assert!(
        dead[0].starts_with(
            r#"{"kind":"malformed","message":"no usable event time: value is not json: "#
        ),
        "{}",
        dead[0]
    );
    assert!(
        dead[1].starts_with(
            r#"{"kind":"malformed","message":"aggregate `sum_amount` needs field `amount` to be a number","stage":"velocity","plugin":null,"#
        ),
        "{}",
        dead[1]
    );
    assert_eq!((summary.read, summary.written, summary.late), (9, 5, 1));
}

#[test]
fn session_windows_merge_across_a_late_bridging_event() {
    let scratch = Scratch::new();
    // Two sessions of card a ([0, 10) and [15, 25) with a 10 ms gap), then
    // an event at 7 that falls within the gap of both.
    scratch.write(
        "in.jsonl",
        r#"{"card":"a","amount":1,"ts":0}
{"card":"a","amount":2,"ts":15}
{"card":"z","amount":0,"ts":31}
{"card":"a","amount":4,"ts":7}
"#,
    );
    let path = scratch.write(
        "pipeline.toml",
        &pipeline(r#"{ type = "session", gap_ms = 10 }"#),
    );
    run_pipeline(&path).expect("pipeline runs");
    assert_eq!(
        scratch.lines("out.jsonl"),
        [
            r#"{"key":"a","window_start":0,"window_end":10,"count":1,"sum_amount":1,"update":false}"#,
            // The watermark reached 30: [15, 25) completed too, but [0, 10)
            // was dropped (9 + 5 <= 30), so the event at 7 joins only the
            // second session, whose lateness (24 + 5 = 29) has also passed.
            r#"{"key":"a","window_start":15,"window_end":25,"count":1,"sum_amount":2,"update":false}"#,
            r#"{"key":"z","window_start":31,"window_end":41,"count":1,"sum_amount":0,"update":false}"#,
        ]
    );
    assert_eq!(
        scratch.lines("late.jsonl"),
        [r#"{"card":"a","amount":4,"ts":7}"#]
    );
}
