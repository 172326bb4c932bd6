//! The JavaScript SDK (`sdk/js`): its `filter` and `json-schema` examples,
//! bundled with rolldown and built with componentize-js, behave like the Rust
//! plugins on the shared corpus, and a JavaScript exception traps with
//! JavaScript's own message.

use std::collections::HashMap;

use weir_tests::sdk::{Language, build, check_corpus};

mod sdk_trap;

#[test]
fn examples_match_the_rust_plugins_on_the_corpus() {
    let components = HashMap::from([
        ("filter", build(Language::Js, "examples/filter")),
        ("json-schema", build(Language::Js, "examples/json-schema")),
    ]);
    check_corpus("js", &components);
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
