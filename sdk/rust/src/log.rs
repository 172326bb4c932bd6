//! Writing to weir's log through the `host.log` import.
//!
//! Lines are tagged with the stage and plugin by the host and rate limited per
//! stage, so logging in the per-event path loses lines, not throughput; still,
//! prefer logging once per problem. Outside WebAssembly (a plugin's unit tests
//! on the build machine) lines go to standard error instead.

use crate::bindings::transform_bindings::weir::plugin::host::{self, Level};

/// Logs detailed tracing, off unless asked for.
pub fn trace(message: &str) {
    write(Level::Trace, message);
}

/// Logs diagnostics for the plugin's author.
pub fn debug(message: &str) {
    write(Level::Debug, message);
}

/// Logs normal operation worth recording.
pub fn info(message: &str) {
    write(Level::Info, message);
}

/// Logs that something looks wrong but processing continues.
pub fn warn(message: &str) {
    write(Level::Warn, message);
}

/// Logs that something failed.
pub fn error(message: &str) {
    write(Level::Error, message);
}

#[cfg(target_arch = "wasm32")]
fn write(level: Level, message: &str) {
    host::log(level, message);
}

#[cfg(not(target_arch = "wasm32"))]
fn write(level: Level, message: &str) {
    // The import exists only inside a component; keep the type in use so both
    // builds check the same signature.
    let _ = host::log as fn(Level, &str);
    eprintln!("weir plugin log [{level:?}]: {message}");
}
