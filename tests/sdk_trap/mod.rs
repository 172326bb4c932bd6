//! Running a language's `tests/panic` plugin, which fails with the language's
//! own error (an exception, a panic) on marked events: exactly those go to the
//! dead-letter output as traps, and every other event arrives.

use serde_json::Value;
use weir_tests::{Scratch, run_pipeline, toml_path};

/// The ids of the marked events among 1..=8.
pub const MARKED: [u64; 2] = [3, 6];

/// Runs `component` over eight events and returns the trap messages of the
/// marked ones, after checking that only they were dead-lettered.
pub fn run_marked(component: &std::path::Path) -> Vec<String> {
    let input: String = (1..=8)
        .map(|id| format!("{{\"id\":{id},\"mark\":{}}}\n", MARKED.contains(&id)))
        .collect();
    let scratch = Scratch::new();
    scratch.write("in.jsonl", &input);
    let path = scratch.write(
        "pipeline.toml",
        &format!(
            r#"
[pipeline]
name = "sdk-trap"

[[source]]
name = "in"
type = "file"
path = "in.jsonl"

[[stage]]
name = "panic"
plugin = {plugin}

[[sink]]
name = "out"
type = "file"
path = "out.jsonl"

[dead_letter]
type = "file"
path = "dead.jsonl"
"#,
            plugin = toml_path(component),
        ),
    );
    run_pipeline(&path).expect("the pipeline survives a trapping plugin");
    let unmarked: Vec<&str> = input.lines().filter(|l| l.contains(":false")).collect();
    assert_eq!(scratch.lines("out.jsonl"), unmarked);
    let dead: Vec<Value> = scratch
        .lines("dead.jsonl")
        .iter()
        .map(|l| serde_json::from_str(l).expect("dead letters are json"))
        .collect();
    assert_eq!(dead.len(), MARKED.len(), "{dead:#?}");
    dead.iter()
        .zip(MARKED)
        .map(|(letter, id)| {
            assert_eq!(letter["kind"], "trap", "{letter}");
            assert_eq!(letter["event"]["value"]["id"], id);
            letter["message"].as_str().expect("message").to_owned()
        })
        .collect()
}
