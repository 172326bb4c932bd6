//! The filter `amount > 500` against the records layout of
//! `benches/wit/layouts.wit`, for the layout benchmark only.

wit_bindgen::generate!({
    path: "../wit",
    world: "records-filter",
});

use exports::weir::bench::records::{Event, Guest};

struct Filter;

impl Guest for Filter {
    fn filter(input: Vec<Event>) -> Vec<Event> {
        let path = weir_json::Path::parse("amount").expect("constant path");
        input
            .into_iter()
            .filter(|event| match weir_json::find(&event.value, &path) {
                Ok(Some(raw)) => {
                    matches!(weir_json::scalar(raw), weir_json::Scalar::Number(n) if n > 500.0)
                }
                _ => false,
            })
            .collect()
    }
}

export!(Filter);
