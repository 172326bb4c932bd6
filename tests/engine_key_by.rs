//! Key-by: every event arrives exactly once, and events of one key keep
//! their order, whatever the parallelism.

use std::collections::HashMap;

use weir_tests::{Scratch, plugin, run_pipeline, toml_path};

const EVENTS: usize = 20_000;

fn pipeline(scratch: &Scratch, parallelism: u32) -> std::path::PathBuf {
    scratch.write(
        "pipeline.toml",
        &format!(
            r#"
[pipeline]
name = "keyed"
parallelism = {parallelism}
batch_size = 256

[[source]]
name = "payments"
type = "generator"
events = "payments"
count = {EVENTS}
seed = 11
partitions = 3

[key_by]
field = "card"

[[stage]]
name = "everything"
plugin = {filter}
config = {{ field = "amount", op = ">=", value = "0" }}

[[sink]]
name = "out"
type = "file"
path = "out.jsonl"
"#,
            filter = toml_path(&plugin("filter")),
        ),
    )
}

/// (card, id) of every output line, in output order.
fn cards_and_ids(lines: &[String]) -> Vec<(String, String)> {
    lines
        .iter()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("output is json");
            let field = |name: &str| value[name].as_str().expect("string field").to_string();
            (field("card"), field("id"))
        })
        .collect()
}

fn check(parallelism: u32) -> Vec<(String, String)> {
    let scratch = Scratch::new();
    let summary = run_pipeline(&pipeline(&scratch, parallelism)).expect("pipeline runs");
    assert_eq!(summary.read, EVENTS as u64);
    assert_eq!(summary.written, EVENTS as u64);
    assert_eq!(summary.dead_lettered, 0);

    let output = cards_and_ids(&scratch.lines("out.jsonl"));
    assert_eq!(output.len(), EVENTS, "every event arrives once");
    let mut ids: Vec<&str> = output.iter().map(|(_, id)| id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), EVENTS, "no event arrives twice");

    // A generator partition emits its events in id order, so within one key
    // and one partition ids must increase. Partition p owns ids congruent to
    // p modulo the partition count, which the id's sequence number tells.
    let mut last: HashMap<(String, u64), String> = HashMap::new();
    for (card, id) in &output {
        let seq: u64 = id.trim_start_matches("p-").parse().expect("numeric id");
        let partition = seq % 3;
        if let Some(previous) = last.insert((card.clone(), partition), id.clone()) {
            assert!(previous < *id, "card {card}: {id} arrived after {previous}");
        }
    }
    output
}

#[test]
fn parallelism_1_keeps_order_and_count() {
    check(1);
}

#[test]
fn parallelism_2_keeps_order_and_count() {
    check(2);
}

#[test]
fn parallelism_8_keeps_order_and_count() {
    check(8);
}

#[test]
fn same_input_gives_same_multiset_at_any_parallelism() {
    let mut one = check(1);
    let mut eight = check(8);
    one.sort();
    eight.sort();
    assert_eq!(one, eight);
}
