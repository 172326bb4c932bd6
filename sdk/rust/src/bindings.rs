//! The bindings wit-bindgen generates from `wit/weir.wit`, one module per
//! world. Nothing here is public API: plugin authors go through the traits and
//! the `export_*!` macros, which refer to these modules by path.
//!
//! `pub_export_macro` makes wit-bindgen split each world's description in
//! two: the imports are recorded here, the exports only where a plugin invokes
//! the export macro. That is what lets one SDK crate carry both worlds while a
//! component built with it exports only the one its plugin implements.

/// Bindings of the `transform` world.
pub mod transform_bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "transform",
        pub_export_macro: true,
        export_macro_name: "export_transform_world",
        default_bindings_module: "weir_sdk::__private::transform_bindings",
    });
}

/// Bindings of the `validate` world.
pub mod validator_bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "validate",
        pub_export_macro: true,
        export_macro_name: "export_validator_world",
        default_bindings_module: "weir_sdk::__private::validator_bindings",
    });
}

/// Bindings of the `aggregate` world.
pub mod aggregator_bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "aggregate",
        pub_export_macro: true,
        export_macro_name: "export_aggregate_world",
        default_bindings_module: "weir_sdk::__private::aggregator_bindings",
    });
}
