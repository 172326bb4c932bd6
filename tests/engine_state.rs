//! Keyed state for transform plugins (`weir:plugin/state`) in whole
//! pipelines: per-key values across batches and workers, time-to-live by
//! the watermark, refused events and failed calls leaving state unchanged,
//! and the `[key_by]` it needs.

use std::collections::BTreeMap;

use serde_json::Value;
use weir_tests::{Scratch, file_pipeline, plugin, run_pipeline, toml_path};

/// A pipeline keyed by card with one stage running `plugin_name` with
/// `config`; `settings` goes into `[pipeline]`, `extra` after the stage.
fn pipeline(settings: &str, plugin_name: &str, config: &str, extra: &str) -> String {
    let body = format!(
        r#"
[key_by]
field = "card"

[[stage]]
name = "stateful"
plugin = {}
config = {config}
{extra}
"#,
        toml_path(&plugin(plugin_name))
    );
    file_pipeline(settings, &body)
}

#[test]
fn sequence_numbers_each_key_across_batches_and_workers() {
    let scratch = Scratch::new();
    let mut input = String::new();
    for i in 0..60 {
        let card = ["a", "b", "c", "d", "e"][i * 7 % 5];
        if i == 13 {
            // Without a card: dead-lettered by key-by, never counted.
            input.push_str("[\"a\"]\n");
            continue;
        }
        input.push_str(&format!("{{\"card\":\"{card}\",\"i\":{i}}}\n"));
    }
    scratch.write("in.jsonl", &input);
    let text = pipeline(
        "name = \"sequence\"\nparallelism = 2\nbatch_size = 4",
        "sequence",
        "{}",
        "",
    );
    let path = scratch.write("pipeline.toml", &text);
    run_pipeline(&path).expect("pipeline runs");

    // Outputs of the two workers interleave; per card they are in input
    // order and numbered 1, 2, 3, …
    let mut per_card: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
    for line in scratch.lines("out.jsonl") {
        let v: Value = serde_json::from_str(&line).unwrap();
        per_card
            .entry(v["card"].as_str().unwrap().to_owned())
            .or_default()
            .push((v["seq"].as_u64().unwrap(), v["i"].as_u64().unwrap()));
    }
    assert_eq!(per_card.len(), 5);
    for (card, seen) in &per_card {
        let expected: Vec<(u64, u64)> = (0..60u64)
            .filter(|&i| i != 13 && ["a", "b", "c", "d", "e"][(i * 7 % 5) as usize] == card)
            .enumerate()
            .map(|(n, i)| (n as u64 + 1, i))
            .collect();
        assert_eq!(seen, &expected, "card {card}");
    }
    let dead = scratch.lines("dead.jsonl");
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].starts_with(r#"{"kind":"malformed","message":"key field `card` is missing","#),
        "{}",
        dead[0]
    );
}

#[test]
fn a_value_with_a_ttl_expires_when_the_watermark_passes() {
    let scratch = Scratch::new();
    // One event per batch, each followed by its partition's watermark (the
    // newest time minus one). Card a's count lives until its last event's
    // time plus 50 ms.
    scratch.write(
        "in.jsonl",
        r#"{"card":"a","ts":0}
{"card":"a","ts":40}
{"card":"b","ts":89}
{"card":"a","ts":90}
{"card":"b","ts":200}
{"card":"a","ts":201}
"#,
    );
    let text = pipeline(
        "name = \"ttl\"\nbatch_size = 1",
        "sequence",
        r#"{ ttl_ms = "50" }"#,
        "[event_time]\nfield = \"ts\"\n",
    );
    let path = scratch.write("pipeline.toml", &text);
    run_pipeline(&path).expect("pipeline runs");
    assert_eq!(
        scratch.lines("out.jsonl"),
        [
            r#"{"seq":1,"card":"a","ts":0}"#,
            // 40 < 0 + 50: still counted.
            r#"{"seq":2,"card":"a","ts":40}"#,
            r#"{"seq":1,"card":"b","ts":89}"#,
            // The watermark (88) has not passed 40 + 50.
            r#"{"seq":3,"card":"a","ts":90}"#,
            // The watermark moves after each batch: it is still 89 here, so
            // b's count (until 139) is alive.
            r#"{"seq":2,"card":"b","ts":200}"#,
            // Now it is 199: a's count (until 140) has expired.
            r#"{"seq":1,"card":"a","ts":201}"#,
        ]
    );
}

/// Eight events of one card through the hostile plugin counting them, in
/// batches of four; event `marked` misbehaves as `behaviour` says.
fn count_through_hostile(behaviour: &str, marked: u32) -> (Vec<String>, Vec<String>) {
    let scratch = Scratch::new();
    let mut input = String::new();
    for id in 1..=8 {
        let mark = if id == marked { ",\"mark\":true" } else { "" };
        input.push_str(&format!("{{\"card\":\"a\",\"id\":{id}{mark}}}\n"));
    }
    scratch.write("in.jsonl", &input);
    let text = pipeline(
        "name = \"counted\"\nbatch_size = 4\nbatch_linger_ms = 60000",
        "hostile",
        &format!(r#"{{ behaviour = "{behaviour}", count = "true" }}"#),
        "",
    );
    let path = scratch.write("pipeline.toml", &text);
    run_pipeline(&path).expect("pipeline runs");
    (scratch.lines("out.jsonl"), scratch.lines("dead.jsonl"))
}

/// `{"id":…,"count":N}` for `ids`, counted 1, 2, 3, …
fn counted(ids: &[u32]) -> Vec<String> {
    ids.iter()
        .enumerate()
        .map(|(n, id)| format!(r#"{{"id":{id},"count":{}}}"#, n + 1))
        .collect()
}

#[test]
fn a_refused_event_changes_no_state() {
    // Event 4 counts itself, then is refused: the last of its batch, so
    // nothing read its change before it was dropped.
    let (out, dead) = count_through_hostile("refuse", 4);
    assert_eq!(out, counted(&[1, 2, 3, 5, 6, 7, 8]));
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].starts_with(r#"{"kind":"rejected","message":"hostile: refused event 4","#),
        "{}",
        dead[0]
    );
}

#[test]
fn a_failed_call_changes_no_state() {
    // Event 3 counts itself, then traps: its batch is retried in parts on
    // fresh instances, and every other event is counted once.
    let (out, dead) = count_through_hostile("panic", 3);
    assert_eq!(out, counted(&[1, 2, 4, 5, 6, 7, 8]));
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].starts_with(
            r#"{"kind":"trap","message":"wasm trap: wasm `unreachable` instruction executed: plugin panicked at "#
        ) && dead[0].contains(r#"hostile: poisoned event 3","stage":"stateful","#),
        "{}",
        dead[0]
    );
}

#[test]
fn keyed_state_without_a_key_by_traps_with_the_reason() {
    let scratch = Scratch::new();
    scratch.write("in.jsonl", "{\"n\":1}\n");
    let body = format!(
        "[[stage]]\nname = \"numbered\"\nplugin = {}\n",
        toml_path(&plugin("sequence"))
    );
    let path = scratch.write("pipeline.toml", &file_pipeline("name = \"nokey\"", &body));
    run_pipeline(&path).expect("pipeline runs");
    assert!(scratch.lines("out.jsonl").is_empty());
    let dead = scratch.lines("dead.jsonl");
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].starts_with(
            r#"{"kind":"trap","message":"keyed state: only available while transforming a batch, in a pipeline with a `[key_by]`","stage":"numbered","#
        ),
        "{}",
        dead[0]
    );
}
