//! Host bindings generated from `wit/weir.wit`.
//!
//! Each world gets its own module; the validator and aggregator worlds reuse
//! the types and host interface generated for the transform world so that
//! one `Host` implementation serves all three.

/// Bindings for the `transform` world (and the shared interfaces).
pub mod transform {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "transform",
        // Keyed state traps when the store fails or an event index is out
        // of range; the host keeps the store's error to stop the pipeline.
        imports: {
            "weir:plugin/state.get": trappable,
            "weir:plugin/state.set": trappable,
            "weir:plugin/state.delete": trappable,
        },
    });
}

/// Bindings for the `validator` world.
pub mod validator {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "validate",
        with: {
            "weir:plugin/types": super::transform::weir::plugin::types,
            "weir:plugin/host": super::transform::weir::plugin::host,
        },
    });
}

/// Bindings for the `aggregate` world.
pub mod aggregator {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "aggregate",
        with: {
            "weir:plugin/types": super::transform::weir::plugin::types,
            "weir:plugin/host": super::transform::weir::plugin::host,
        },
    });
}

pub use transform::weir::plugin::types::{Batch, EventError};
pub use transform::weir::plugin::{host, state};
