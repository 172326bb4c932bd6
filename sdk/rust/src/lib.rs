//! Write weir plugins in Rust.
//!
//! A weir plugin is a WebAssembly component that runs one pipeline stage. This
//! crate hides the component bindings and weir's packed batch layout: a plugin
//! implements [`Transform`] (an event in, zero or more out) or [`Validator`]
//! (pass or reject each event), one event at a time, and exports it with
//! [`export_transform!`] or [`export_validator!`]. A window stage's
//! aggregate is an [`Aggregator`], exported with [`export_aggregator!`].
//!
//! ```no_run
//! use weir_sdk::{Config, Emitter, Event, Transform};
//!
//! struct Upper;
//!
//! impl Transform for Upper {
//!     fn init(_config: &Config) -> Result<Self, String> {
//!         Ok(Upper)
//!     }
//!
//!     fn transform(&mut self, event: &Event<'_>, out: &mut Emitter) -> Result<(), String> {
//!         out.emit_value(event.value().to_ascii_uppercase());
//!         Ok(())
//!     }
//! }
//!
//! weir_sdk::export_transform!(Upper);
//! # fn main() {}
//! ```
//!
//! Build it as a `cdylib` for `wasm32-wasip2` (`cargo build --release --target
//! wasm32-wasip2`); the `.wasm` file cargo leaves is the component weir loads.
//!
//! # How a plugin runs
//!
//! weir calls `init` once per instance with the stage's configuration, then
//! hands over batches. The SDK calls the plugin once per event of a batch, in
//! order. An instance runs on one thread and may be dropped and replaced at any
//! moment (after a trap, on a hot swap, on restart), so a plugin keeps no state
//! that must survive.
//!
//! Returning `Err(reason)` for an event refuses it: it goes to the stage's
//! dead-letter output with the reason and anything emitted for it is
//! discarded. A panic traps the whole instance; weir then finds the offending
//! event by bisecting the batch, so prefer `Err` for bad input.
//!
//! Cost: decoding a batch allocates nothing per event, [`Emitter::keep`]
//! copies nothing, and every emitted event is appended to one output buffer.

#![deny(missing_docs)]

// Generated code: wit-bindgen copies the WIT docs but leaves some generated
// items (modules, aliases, the `Guest` traits) undocumented.
mod aggregate;
#[allow(missing_docs)]
mod bindings;
mod config;
mod event;
mod frame;
pub mod log;
mod run;
pub mod state;
pub mod testing;

pub use aggregate::{Aggregator, State, Window, WindowEmitter};
pub use config::Config;
pub use event::{Event, FrameError, Headers, OwnedEvent};
pub use frame::{Emitter, ValueWriter};
/// The JSON scanner weir itself uses: validate a value and find a field in one
/// pass without allocating.
pub use weir_json as json;

/// A stage that maps each event to zero or more events.
pub trait Transform: Sized + 'static {
    /// Creates the instance from the stage's configuration. Called once per
    /// instance, before any event.
    ///
    /// # Errors
    ///
    /// An error stops the pipeline at start with the message; name the
    /// offending key, e.g. ``config `op`: unknown operator `=~` ``.
    fn init(config: &Config) -> Result<Self, String>;

    /// Transforms one event: emit what it becomes through `out` (nothing drops
    /// it, [`Emitter::keep`] passes it on unchanged).
    ///
    /// # Errors
    ///
    /// An error refuses the event: it goes to the dead-letter output with the
    /// message and whatever was emitted for it is discarded.
    fn transform(&mut self, event: &Event<'_>, out: &mut Emitter<'_>) -> Result<(), String>;
}

/// A stage that passes or rejects each event.
pub trait Validator: Sized + 'static {
    /// Creates the instance from the stage's configuration. Called once per
    /// instance, before any event.
    ///
    /// # Errors
    ///
    /// An error stops the pipeline at start with the message.
    fn init(config: &Config) -> Result<Self, String>;

    /// Checks one event; `Ok` passes it unchanged.
    ///
    /// # Errors
    ///
    /// An error rejects the event: it goes to the dead-letter output with the
    /// message.
    fn validate(&mut self, event: &Event<'_>) -> Result<(), String>;
}

/// Exports a [`Transform`] as the component's `transformer` interface.
///
/// Invoke it once, at the top level of the plugin crate, with the type that
/// implements [`Transform`].
#[macro_export]
macro_rules! export_transform {
    ($plugin:ty) => {
        const _: () = {
            use $crate::__private::transform_bindings::exports::weir::plugin::transformer
                as exports;

            ::std::thread_local! {
                static PLUGIN: ::core::cell::RefCell<::core::option::Option<$plugin>> =
                    const { ::core::cell::RefCell::new(::core::option::Option::None) };
            }

            // Never constructed: the generated exports call its functions.
            #[allow(dead_code)]
            struct WeirTransformExport;

            impl exports::Guest for WeirTransformExport {
                fn init(
                    config: exports::Config,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    $crate::__private::init(&PLUGIN, config, <$plugin as $crate::Transform>::init)
                }

                fn transform(input: exports::Batch) -> exports::Transformed {
                    $crate::__private::transform(&PLUGIN, input)
                }
            }

            // Only a component exports anything. On the build machine the
            // export names (`weir:plugin/...#init`) would not even link into a
            // shared library, and plugin unit tests do not need them.
            #[cfg(target_arch = "wasm32")]
            $crate::__private::transform_bindings::export_transform_world!(
                WeirTransformExport with_types_in $crate::__private::transform_bindings
            );
        };
    };
}

/// Exports a [`Validator`] as the component's `validator` interface.
///
/// Invoke it once, at the top level of the plugin crate, with the type that
/// implements [`Validator`].
#[macro_export]
macro_rules! export_validator {
    ($plugin:ty) => {
        const _: () = {
            use $crate::__private::validator_bindings::exports::weir::plugin::validator as exports;

            ::std::thread_local! {
                static PLUGIN: ::core::cell::RefCell<::core::option::Option<$plugin>> =
                    const { ::core::cell::RefCell::new(::core::option::Option::None) };
            }

            // Never constructed: the generated exports call its functions.
            #[allow(dead_code)]
            struct WeirValidatorExport;

            impl exports::Guest for WeirValidatorExport {
                fn init(
                    config: exports::Config,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    $crate::__private::init(&PLUGIN, config, <$plugin as $crate::Validator>::init)
                }

                fn validate(input: exports::Batch) -> ::std::vec::Vec<exports::EventError> {
                    $crate::__private::validate(&PLUGIN, input)
                }
            }

            // Only a component exports anything. On the build machine the
            // export names (`weir:plugin/...#init`) would not even link into a
            // shared library, and plugin unit tests do not need them.
            #[cfg(target_arch = "wasm32")]
            $crate::__private::validator_bindings::export_validator_world!(
                WeirValidatorExport with_types_in $crate::__private::validator_bindings
            );
        };
    };
}

/// Exports an [`Aggregator`] as the component's `aggregator` interface.
///
/// Invoke it once, at the top level of the plugin crate, with the type that
/// implements [`Aggregator`].
#[macro_export]
macro_rules! export_aggregator {
    ($plugin:ty) => {
        const _: () = {
            use $crate::__private::aggregator_bindings::exports::weir::plugin::aggregator
                as exports;

            ::std::thread_local! {
                static PLUGIN: ::core::cell::RefCell<::core::option::Option<$plugin>> =
                    const { ::core::cell::RefCell::new(::core::option::Option::None) };
            }

            // Never constructed: the generated exports call its functions.
            #[allow(dead_code)]
            struct WeirAggregatorExport;

            impl exports::Guest for WeirAggregatorExport {
                fn init(
                    config: exports::Config,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    $crate::__private::init(&PLUGIN, config, <$plugin as $crate::Aggregator>::init)
                }

                fn create() -> ::std::vec::Vec<u8> {
                    $crate::__private::create::<$plugin>()
                }

                fn add(
                    states: ::std::vec::Vec<::std::vec::Vec<u8>>,
                    input: exports::Batch,
                    targets: ::std::vec::Vec<u32>,
                ) -> exports::Added {
                    $crate::__private::add(&PLUGIN, states, input, targets)
                }

                fn merge(
                    accumulators: ::std::vec::Vec<::std::vec::Vec<u8>>,
                    ends: ::std::vec::Vec<u32>,
                ) -> ::core::result::Result<
                    ::std::vec::Vec<::std::vec::Vec<u8>>,
                    ::std::string::String,
                > {
                    $crate::__private::merge(&PLUGIN, accumulators, ends)
                }

                fn finish(
                    windows: ::std::vec::Vec<exports::Window>,
                    accumulators: ::std::vec::Vec<::std::vec::Vec<u8>>,
                ) -> exports::Finished {
                    $crate::__private::finish(&PLUGIN, windows, accumulators)
                }
            }

            // Only a component exports anything (see `export_transform!`).
            #[cfg(target_arch = "wasm32")]
            $crate::__private::aggregator_bindings::export_aggregate_world!(
                WeirAggregatorExport with_types_in $crate::__private::aggregator_bindings
            );
        };
    };
}

/// What the export macros expand to. Not public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::{aggregator_bindings, transform_bindings, validator_bindings};
    pub use crate::run::{add, create, finish, init, merge, transform, validate};
}
