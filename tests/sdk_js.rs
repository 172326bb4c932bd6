//! The JavaScript SDK (`sdk/js`): its `filter` and `json-schema` examples,
//! bundled with rolldown and built with componentize-js, behave like the Rust
//! plugins on the shared corpus and import no keyed state; its `sequence`
//! example numbers each key's events with keyed state exactly as the Rust
//! plugin does; a JavaScript exception traps with JavaScript's own message.

use std::collections::HashMap;

use weir_tests::sdk::{Language, build, check_corpus};
use weir_tests::sequence::{assert_imports_state, check_sequence};

mod sdk_trap;

#[test]
fn examples_match_the_rust_plugins_on_the_corpus() {
    let components = HashMap::from([
        ("filter", build(Language::Js, "examples/filter")),
        ("json-schema", build(Language::Js, "examples/json-schema")),
    ]);
    check_corpus("js", &components);
    for component in components.values() {
        assert_imports_state(component, false);
    }
}

#[test]
fn sequence_matches_the_rust_plugin_in_keyed_pipelines() {
    check_sequence("js", &build(Language::Js, "examples/sequence"));
}

#[test]
fn an_exception_traps_with_its_message() {
    let component = build(Language::Js, "tests/panic");
    let messages = sdk_trap::run_marked(&component);
    for (message, id) in messages.iter().zip(sdk_trap::MARKED) {
        assert!(
            message.contains(&format!("TypeError: poisoned event {id}")),
            "{message}"
        );
    }
}
