//! The Go SDK (`sdk/go`): its `filter` and `json-schema` examples, built
//! with Go for wasip1 and the WASI preview 1 adapter, behave like the Rust
//! plugins on the shared corpus and import no keyed state; its `sequence`
//! example numbers each key's events with keyed state exactly as the Rust
//! plugin does, also while Go's collector runs; a Go panic traps with its
//! own message and the line that panicked.

use std::collections::HashMap;

use weir_tests::sdk::{Language, build, check_corpus};
use weir_tests::sequence::{assert_imports_state, check_sequence};
use weir_tests::{Scratch, file_pipeline, run_pipeline, toml_path};

mod sdk_trap;

#[test]
fn examples_match_the_rust_plugins_on_the_corpus() {
    let components = HashMap::from([
        ("filter", build(Language::Go, "examples/filter")),
        ("json-schema", build(Language::Go, "examples/json-schema")),
    ]);
    check_corpus("go", &components);
    for component in components.values() {
        assert_imports_state(component, false);
    }
}

#[test]
fn sequence_matches_the_rust_plugin_in_keyed_pipelines() {
    check_sequence("go", &build(Language::Go, "examples/sequence"));
}

/// The host lowers a value `State.Get` reads through `cabi_realloc` while
/// the import call is under way; a collection started there would call
/// imports the component model forbids and trap ("cannot leave component
/// instance"). `tests/state-gc` makes that likely: without the SDK's guard
/// about a third of its events trapped.
#[test]
fn state_reads_survive_collections_while_the_host_lowers_a_value() {
    let component = build(Language::Go, "tests/state-gc");
    let scratch = Scratch::new();
    let input: Vec<String> = (0..160)
        .map(|i| format!(r#"{{"card":"c{}","i":{i}}}"#, i % 5))
        .collect();
    scratch.write("in.jsonl", &(input.join("\n") + "\n"));
    let stage = format!(
        "[key_by]\nfield = \"card\"\n\n[[stage]]\nname = \"state-gc\"\nplugin = {}\n",
        toml_path(&component)
    );
    let path = scratch.write(
        "pipeline.toml",
        &file_pipeline("name = \"state-gc\"\nbatch_size = 16", &stage),
    );
    run_pipeline(&path).expect("pipeline runs");
    assert_eq!(scratch.lines("dead.jsonl"), Vec::<String>::new());
    assert_eq!(scratch.lines("out.jsonl"), input);
}

#[test]
fn a_panic_traps_with_its_message_and_line() {
    let component = build(Language::Go, "tests/panic");
    let messages = sdk_trap::run_marked(&component);
    for (message, id) in messages.iter().zip(sdk_trap::MARKED) {
        assert!(
            message.contains(&format!(
                "plugin panicked at main.go:20: poisoned event {id}"
            )),
            "{message}"
        );
    }
}
