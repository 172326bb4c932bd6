//! The Python SDK (`sdk/python`): its `filter` and `json-schema` examples,
//! built with componentize-py, behave like the Rust plugins on the shared
//! corpus and import no keyed state; its `sequence` example numbers each
//! key's events with keyed state exactly as the Rust plugin does; a Python
//! exception traps with Python's own message.

use std::collections::HashMap;

use weir_tests::sdk::{Language, build, check_corpus};
use weir_tests::sequence::{assert_imports_state, check_sequence};

mod sdk_trap;

#[test]
fn examples_match_the_rust_plugins_on_the_corpus() {
    let components = HashMap::from([
        ("filter", build(Language::Python, "examples/filter")),
        (
            "json-schema",
            build(Language::Python, "examples/json-schema"),
        ),
    ]);
    check_corpus("python", &components);
    for component in components.values() {
        assert_imports_state(component, false);
    }
}

#[test]
fn sequence_matches_the_rust_plugin_in_keyed_pipelines() {
    check_sequence("python", &build(Language::Python, "examples/sequence"));
}

#[test]
fn an_exception_traps_with_its_traceback_line() {
    let component = build(Language::Python, "tests/panic");
    let messages = sdk_trap::run_marked(&component);
    for (message, id) in messages.iter().zip(sdk_trap::MARKED) {
        assert!(
            message.contains(&format!("RuntimeError: poisoned event {id}")),
            "{message}"
        );
    }
}
