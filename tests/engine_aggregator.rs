//! Window stages whose windows a Wasm aggregator computes (the shipped
//! `velocity` plugin): exact alerts, corrected results for late events,
//! refused events in the dead-letter output, results equal to the built-in
//! aggregates over every window type, and plugins of the wrong world refused
//! before any event is read.

use serde_json::Value;
use weir_tests::{Scratch, file_pipeline, plugin, run_pipeline, toml_path};

/// The pipeline body: time from `ts`, keyed by card, one window stage named
/// `velocity` over `window` that computes what `computes` (TOML lines of
/// the stage table) says, and a late output.
fn body(window: &str, computes: &str) -> String {
    format!(
        r#"
[event_time]
field = "ts"

[key_by]
field = "card"

[[stage]]
name = "velocity"
window = {window}
allowed_lateness_ms = 5
{computes}

[late]
type = "file"
path = "late.jsonl"
"#
    )
}

/// A pipeline whose window stage runs the velocity aggregator with
/// `config`, one event per batch.
fn pipeline(window: &str, config: &str) -> String {
    let computes = format!(
        "aggregator = {}\nconfig = {config}",
        toml_path(&plugin("velocity"))
    );
    file_pipeline(
        "name = \"aggregator\"\nbatch_size = 1",
        &body(window, &computes),
    )
}

#[test]
fn velocity_alerts_update_and_dead_letter_exactly() {
    let scratch = Scratch::new();
    // One event per batch, so that each event is followed by its
    // partition's watermark (the newest time minus one).
    scratch.write(
        "in.jsonl",
        r#"{"card":"a","amount":100,"merchant":"m1","ts":0}
{"card":"a","amount":200,"merchant":"m2","ts":4}
{"card":"b","amount":50,"merchant":"m1","ts":6}
{"card":"a","amount":"x","merchant":"m1","ts":7}
{"card":"a","amount":300,"merchant":"m3","ts":12}
{"card":"a","amount":400,"merchant":"m1","ts":5}
{"card":"b","amount":5,"merchant":"m9","ts":30}
{"card":"a","amount":1,"merchant":"m1","ts":2}
"#,
    );
    let path = scratch.write(
        "pipeline.toml",
        &pipeline(
            r#"{ type = "tumbling", size_ms = 10 }"#,
            r#"{ count_limit = "2", total_limit = "1000", merchant_limit = "2", threshold = "0.5" }"#,
        ),
    );
    let summary = run_pipeline(&path).expect("pipeline runs");

    assert_eq!(
        scratch.lines("out.jsonl"),
        [
            // ts=12 completes [0, 10): card a scores 0.5 + 0.3·0.3 + 0.2·1;
            // card b (0.365) stays under the threshold and emits nothing.
            r#"{"card":"a","window_start":0,"window_end":10,"payments":2,"total":300,"merchants":2,"score":0.79,"update":false}"#,
            // ts=5 is late but within the lateness: the corrected window.
            r#"{"card":"a","window_start":0,"window_end":10,"payments":3,"total":700,"merchants":2,"score":0.91,"update":true}"#,
        ]
    );
    // ts=2 arrives when [0, 10) can no longer change.
    assert_eq!(
        scratch.lines("late.jsonl"),
        [r#"{"card":"a","amount":1,"merchant":"m1","ts":2}"#]
    );
    let digest = weir::plugin::digest(&std::fs::read(plugin("velocity")).unwrap());
    assert_eq!(
        scratch.lines("dead.jsonl"),
        [format!(
            r#"{{"kind":"rejected","message":"payment's `amount` is not a number","stage":"velocity","plugin":"{digest}","source":{{"name":"in","partition":0,"offset":3}},"event":{{"key":null,"value":{{"card":"a","amount":"x","merchant":"m1","ts":7}},"headers":{{}},"time":7}}}}"#
        )]
    );
    assert_eq!(
        (
            summary.read,
            summary.written,
            summary.late,
            summary.dead_lettered
        ),
        (8, 2, 1, 1)
    );
}

/// A deterministic stream of payments over a few cards, out of order by up
/// to 12 ms, and one in twenty by up to 39 ms, later than windows allow.
fn random_payments(seed: u64, n: usize) -> String {
    let mut state = seed;
    let mut next = move |bound: u64| {
        // xorshift64*: plenty for test data.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d) % bound
    };
    let mut out = String::new();
    let mut clock = 0;
    for _ in 0..n {
        clock += next(4);
        // One event in twenty is delayed past any window's lateness.
        let delay = if next(20) == 0 { next(40) } else { next(13) };
        let ts = clock - delay.min(clock);
        out.push_str(&format!(
            "{{\"card\":\"c{}\",\"amount\":{},\"merchant\":\"m{}\",\"ts\":{ts}}}\n",
            next(4),
            next(100),
            next(6),
        ));
    }
    out
}

/// (key, start, end, count, total, update) of every result line, with the
/// field names the built-in aggregates or the velocity plugin use.
fn results(
    lines: &[String],
    key: &str,
    count: &str,
    total: &str,
) -> Vec<(String, i64, i64, u64, f64, bool)> {
    lines
        .iter()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            (
                v[key].as_str().unwrap().to_owned(),
                v["window_start"].as_i64().unwrap(),
                v["window_end"].as_i64().unwrap(),
                v[count].as_u64().unwrap(),
                v[total].as_f64().unwrap(),
                v["update"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// Batches of seven events, flushed only when full or at the end of the
/// input, so that the watermark moves at the same events in both runs
/// whatever the speed of each.
const BATCHES: &str = "batch_size = 7\nbatch_linger_ms = 60000";

#[test]
fn aggregator_results_equal_the_built_in_aggregates_for_every_window_type() {
    let windows = [
        r#"{ type = "tumbling", size_ms = 10 }"#,
        r#"{ type = "sliding", size_ms = 20, slide_ms = 5 }"#,
        r#"{ type = "session", gap_ms = 6 }"#,
    ];
    for (i, window) in windows.into_iter().enumerate() {
        let input = random_payments(0x5eed + i as u64, 400);

        let builtin = Scratch::new();
        builtin.write("in.jsonl", &input);
        let builtin_body = body(
            window,
            r#"aggregates = [{ function = "count" }, { function = "sum", field = "amount" }]"#,
        );
        let path = builtin.write(
            "pipeline.toml",
            &file_pipeline(&format!("name = \"builtin\"\n{BATCHES}"), &builtin_body),
        );
        run_pipeline(&path).expect("built-in pipeline runs");

        let wasm = Scratch::new();
        wasm.write("in.jsonl", &input);
        // count_limit 1: every window with a payment scores at least 0.5.
        let text = pipeline(window, r#"{ count_limit = "1", threshold = "0.001" }"#)
            .replace("batch_size = 1", BATCHES);
        let path = wasm.write("pipeline.toml", &text);
        run_pipeline(&path).expect("aggregator pipeline runs");

        let expected = results(&builtin.lines("out.jsonl"), "key", "count", "sum_amount");
        assert!(
            expected.len() > 50,
            "{window}: only {} results",
            expected.len()
        );
        assert!(
            expected.iter().any(|r| r.5),
            "{window}: the stream should cause updates"
        );
        assert_eq!(
            results(&wasm.lines("out.jsonl"), "card", "payments", "total"),
            expected,
            "{window}"
        );
        let late = builtin.lines("late.jsonl");
        assert!(
            !late.is_empty(),
            "{window}: the stream should have late events"
        );
        assert_eq!(wasm.lines("late.jsonl"), late, "{window}");
        assert!(wasm.lines("dead.jsonl").is_empty(), "{window}");
    }
}

#[test]
fn plugins_of_the_wrong_world_are_refused_at_start() {
    let scratch = Scratch::new();
    scratch.write("in.jsonl", "{\"card\":\"a\",\"ts\":1}\n");
    let filter = plugin("filter");
    let text = pipeline(r#"{ type = "tumbling", size_ms = 10 }"#, "{}")
        .replace(&toml_path(&plugin("velocity")), &toml_path(&filter));
    let path = scratch.write("window.toml", &text);
    assert_eq!(
        run_pipeline(&path).unwrap_err(),
        format!(
            "stage `velocity`: plugin `{}` refused: a window stage's aggregator must \
             implement the aggregator world, and this plugin is a transform",
            filter.display()
        )
    );

    let velocity = plugin("velocity");
    let body = format!(
        "[[stage]]\nname = \"score\"\nplugin = {}\n",
        toml_path(&velocity)
    );
    let path = scratch.write("stage.toml", &file_pipeline("name = \"wrong\"", &body));
    assert_eq!(
        run_pipeline(&path).unwrap_err(),
        format!(
            "stage `score`: plugin `{}` refused: an aggregator runs in a window stage \
             (`aggregator = \"<file>\"`), not as a plugin stage",
            velocity.display()
        )
    );
    assert!(!scratch.path().join("out.jsonl").exists());
}
