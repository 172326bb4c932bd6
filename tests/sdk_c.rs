//! The C SDK (`sdk/c`): its `filter` example, built with clang, wasi-libc
//! and `wit-bindgen c` bindings and the WASI preview 1 adapter, behaves like
//! the Rust plugin on the shared corpus and imports no keyed state; its
//! `sequence` example numbers each key's events with keyed state exactly as
//! the Rust plugin does; a `WEIR_PANIC` traps with its message and line.
//!
//! FIXME: there is no C `json-schema` example (sdk/c/README.md says why), so
//! the corpus's json-schema cases are not run for C.

use weir_tests::sdk::{Language, assert_matches, build, cases, expected, run_case};
use weir_tests::sequence::{assert_imports_state, check_sequence};

mod sdk_trap;

#[test]
fn filter_matches_the_rust_plugin_on_the_corpus() {
    let component = build(Language::C, "examples/filter");
    let cases: Vec<_> = cases()
        .into_iter()
        .filter(|c| c.plugin == "filter")
        .collect();
    assert!(cases.len() > 10, "the corpus has its filter cases");
    for case in &cases {
        assert_matches("c", case, &expected(case), &run_case(&component, case));
    }
    assert_imports_state(&component, false);
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
