//! weir: a stream-processing runtime whose user logic runs as sandboxed
//! WebAssembly components.
//!
//! The host owns everything that must be fast or shared (sources, key-by,
//! workers, sinks, metrics); plugins transform and validate batches of events
//! behind the contract in `wit/`. ARCHITECTURE.md has the map.

pub mod checkpoint;
pub mod config;
pub mod devloop;
pub mod engine;
pub mod event;
pub mod kafka;
pub mod metrics;
pub mod plugin;
pub mod sink;
pub mod source;
pub mod state;
pub mod window;
