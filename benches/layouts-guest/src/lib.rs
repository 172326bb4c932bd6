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

    fn alternate(input: Vec<Event>) -> Vec<Event> {
        input.into_iter().step_by(2).collect()
    }

    fn alternate_packed(frames: Vec<u8>, ends: Vec<u32>) -> Vec<u32> {
        // Touch each frame's bounds as a real plugin would before deciding.
        let mut start = 0u32;
        let mut kept = Vec::with_capacity(ends.len() / 2 + 1);
        for (i, &end) in ends.iter().enumerate() {
            if i % 2 == 0 && end >= start && (end as usize) <= frames.len() {
                kept.push(i as u32);
            }
            start = end;
        }
        kept
    }
}

export!(Filter);
