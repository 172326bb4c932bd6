//! Hostile plugins: whatever a plugin does, the host survives, exactly the
//! events that provoked it are dead-lettered with the right kind, and every
//! other event arrives, in order.

use std::time::{Duration, Instant};

use serde_json::Value;
use weir_tests::{Scratch, file_pipeline, plugin, run_pipeline, toml_path};

/// Ten events; 3 and 7 are marked.
const MARKED: [u64; 2] = [3, 7];

fn input() -> String {
    (1..=10)
        .map(|id| {
            let mark = MARKED.contains(&id);
            format!("{{\"id\":{id},\"mark\":{mark}}}\n")
        })
        .collect()
}

struct Run {
    out: Vec<String>,
    dead: Vec<Value>,
    elapsed: Duration,
}

/// Runs the hostile plugin with `behaviour` over the ten events.
fn run(behaviour: &str, extra_config: &str, limits: &str, batch_size: usize) -> Run {
    let scratch = Scratch::new();
    scratch.write("in.jsonl", &input());
    let stage = format!(
        r#"
[[stage]]
name = "hostile"
plugin = {plugin}
config = {{ behaviour = "{behaviour}"{extra_config} }}
limits = {{ {limits} }}
"#,
        plugin = toml_path(&plugin("hostile")),
    );
    let settings = format!("name = \"hostile\"\nbatch_size = {batch_size}");
    let path = scratch.write("pipeline.toml", &file_pipeline(&settings, &stage));
    let started = Instant::now();
    let summary = run_pipeline(&path).expect("the pipeline survives a hostile plugin");
    let elapsed = started.elapsed();
    let dead: Vec<Value> = scratch
        .lines("dead.jsonl")
        .iter()
        .map(|l| serde_json::from_str(l).expect("dead letters are json"))
        .collect();
    assert_eq!(summary.read, 10);
    assert_eq!(summary.dead_lettered, dead.len() as u64);
    Run {
        out: scratch.lines("out.jsonl"),
        dead,
        elapsed,
    }
}

/// The unmarked events, in input order.
fn unmarked() -> Vec<String> {
    input()
        .lines()
        .filter(|l| l.contains("\"mark\":false"))
        .map(str::to_string)
        .collect()
}

/// Checks that exactly the marked events were dead-lettered with `kind`, and
/// returns their messages.
fn assert_marked_dead(run: &Run, kind: &str) -> Vec<String> {
    assert_eq!(
        run.out,
        unmarked(),
        "every unmarked event arrives, in order"
    );
    assert_eq!(
        run.dead.len(),
        MARKED.len(),
        "dead letters: {:#?}",
        run.dead
    );
    let plugin_digest = weir::plugin::digest(&std::fs::read(plugin("hostile")).unwrap());
    run.dead
        .iter()
        .zip(MARKED)
        .map(|(letter, id)| {
            assert_eq!(letter["kind"], kind, "{letter}");
            assert_eq!(letter["stage"], "hostile");
            assert_eq!(letter["plugin"], plugin_digest.as_str());
            assert_eq!(letter["source"]["name"], "in");
            assert_eq!(
                letter["source"]["offset"],
                id - 1,
                "offsets count lines from 0"
            );
            assert_eq!(letter["event"]["value"]["id"], id);
            letter["message"]
                .as_str()
                .expect("message is a string")
                .to_string()
        })
        .collect()
}

#[test]
fn panic_is_a_trap_with_the_panic_message() {
    let run = run("panic", "", "", 1024);
    let messages = assert_marked_dead(&run, "trap");
    for (message, id) in messages.iter().zip(MARKED) {
        assert!(
            message.contains(&format!("hostile: poisoned event {id}")),
            "{message}"
        );
        assert!(message.contains("unreachable"), "{message}");
    }
}

#[test]
fn unreachable_is_a_trap() {
    let run = run("unreachable", "", "", 1024);
    for message in assert_marked_dead(&run, "trap") {
        assert_eq!(
            message,
            "wasm trap: wasm `unreachable` instruction executed"
        );
    }
}

#[test]
fn infinite_loop_is_cut_at_the_time_limit() {
    let run = run("loop", "", "timeout_ms = 100", 1024);
    for message in assert_marked_dead(&run, "timeout") {
        assert_eq!(message, "plugin ran past its time limit of 100 ms");
    }
    // Bisecting ten events costs a handful of timeouts, not an endless hang.
    assert!(
        run.elapsed < Duration::from_secs(30),
        "took {:?}",
        run.elapsed
    );
}

#[test]
fn unbounded_memory_is_a_memory_error() {
    let run = run("memory", "", "memory_mib = 32", 1024);
    for message in assert_marked_dead(&run, "memory") {
        assert!(
            message.starts_with("plugin exceeded its memory limit of 33554432 bytes (asked for "),
            "{message}"
        );
    }
}

#[test]
fn stack_overflow_is_a_trap() {
    let run = run("recursion", "", "", 1024);
    for message in assert_marked_dead(&run, "trap") {
        assert_eq!(message, "wasm trap: call stack exhausted");
    }
}

#[test]
fn output_over_the_limit_is_invalid_output() {
    let run = run(
        "big-output",
        ", bytes = 2097152",
        "max_output_mib = 1",
        1024,
    );
    for message in assert_marked_dead(&run, "invalid-output") {
        assert!(message.starts_with("plugin returned 20"), "{message}");
        assert!(message.ends_with("bytes, more than the stage's limit of 1048576 bytes"));
    }
}

#[test]
fn invalid_utf8_reason_is_invalid_output() {
    let run = run("bad-utf8-reason", "", "", 1024);
    for message in assert_marked_dead(&run, "invalid-output") {
        assert!(message.contains("utf-8"), "{message}");
    }
}

#[test]
fn invalid_utf8_header_name_is_invalid_output() {
    let run = run("bad-utf8-header", "", "", 1024);
    for message in assert_marked_dead(&run, "invalid-output") {
        assert!(
            message.starts_with("output event 0: header name is not valid utf-8"),
            "{message}"
        );
    }
}

#[test]
fn file_system_is_not_reachable() {
    let run = run("read-file", "", "", 1024);
    for message in assert_marked_dead(&run, "trap") {
        assert!(message.contains("hostile: read /etc/hostname"), "{message}");
    }
}

#[test]
fn environment_is_empty() {
    let run = run("env", "", "", 1024);
    for message in assert_marked_dead(&run, "trap") {
        assert!(message.contains("hostile: env HOME"), "{message}");
    }
}

#[test]
fn network_is_not_reachable() {
    let run = run("connect", "", "", 1024);
    for message in assert_marked_dead(&run, "trap") {
        assert!(message.contains("hostile: connect"), "{message}");
    }
}

#[test]
fn wall_clock_is_stopped() {
    let run = run("clock", "", "", 1024);
    assert!(run.dead.is_empty(), "{:?}", run.dead);
    let clocks: Vec<&String> = run.out.iter().filter(|l| l.contains("now_ms")).collect();
    assert_eq!(clocks, [r#"{"now_ms":0}"#, r#"{"now_ms":0}"#]);
}

#[test]
fn batch_size_one_gives_the_same_result() {
    let run = run("panic", "", "", 1);
    assert_marked_dead(&run, "trap");
}
