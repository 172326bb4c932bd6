//! The Go SDK (`sdk/go`): its `filter` and `json-schema` examples, built
//! with Go for wasip1 and the WASI preview 1 adapter, behave like the Rust
//! plugins on the shared corpus, and a Go panic traps with its own message
//! and the line that panicked.

use std::collections::HashMap;

use weir_tests::sdk::{Language, build, check_corpus};

mod sdk_trap;

#[test]
fn examples_match_the_rust_plugins_on_the_corpus() {
    let components = HashMap::from([
        ("filter", build(Language::Go, "examples/filter")),
        ("json-schema", build(Language::Go, "examples/json-schema")),
    ]);
    check_corpus("go", &components);
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
