//! The C SDK (`sdk/c`): its `filter` and `json-schema` examples, built with
//! clang, wasi-libc and `wit-bindgen c` bindings and the WASI preview 1
//! adapter, behave like the Rust plugins on the shared corpus and import no
//! keyed state; its `sequence` example numbers each key's events with keyed
//! state exactly as the Rust plugin does; a `WEIR_PANIC` traps with its
//! message and line.

use std::collections::HashMap;

use weir_tests::sdk::{Language, build, check_corpus};
use weir_tests::sequence::{assert_imports_state, check_sequence};

mod sdk_trap;

#[test]
fn examples_match_the_rust_plugins_on_the_corpus() {
    let components = HashMap::from([
        ("filter", build(Language::C, "examples/filter")),
        ("json-schema", build(Language::C, "examples/json-schema")),
    ]);
    check_corpus("c", &components);
    for component in components.values() {
        assert_imports_state(component, false);
    }
}

#[test]
fn sequence_matches_the_rust_plugin_in_keyed_pipelines() {
    check_sequence("c", &build(Language::C, "examples/sequence"));
}

#[test]
fn a_panic_traps_with_its_message_and_line() {
    let component = build(Language::C, "tests/panic");
    let messages = sdk_trap::run_marked(&component);
    for (message, id) in messages.iter().zip(sdk_trap::MARKED) {
        assert!(
            message.contains(&format!(
                "plugin panicked at panic.c:18: poisoned event {id}"
            )),
            "{message}"
        );
    }
}
