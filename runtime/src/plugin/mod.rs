//! The Wasm host: one wasmtime `Engine` per process, plugins compiled once and
//! cached, instances made cheaply from a pre-instantiated component.
//!
//! - [`PluginRuntime`] owns the engine, the linker (WASI with nothing behind
//!   it plus weir's `host` interface), the epoch ticker thread and the
//!   compiled-artifact cache.
//! - [`Plugin`] is a loaded component: its digest, which world it implements,
//!   and its `InstancePre`.
//! - [`instance::Instance`] is one live instance (one per stage and worker)
//!   and is what the engine calls with batches.

mod bindings;
mod cache;
pub mod check;
mod frame;
pub mod instance;
pub mod keyed;
mod sandbox;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::metrics::Metrics;
use bindings::aggregator::AggregatePre;
use bindings::transform::TransformPre;
use bindings::validator::ValidatePre as ValidatorPre;
pub use cache::ArtifactCache;
pub use sandbox::StoreState;

/// How often the epoch advances; the granularity of per-call time limits.
pub const EPOCH_TICK: Duration = Duration::from_millis(2);

/// The export that marks a component as a transform.
pub const TRANSFORM_EXPORT: &str = "weir:plugin/transformer@0.1.0";
/// The export that marks a component as a validator.
pub const VALIDATOR_EXPORT: &str = "weir:plugin/validator@0.1.0";
/// The import of a plugin that keeps keyed state.
pub const STATE_IMPORT: &str = "weir:plugin/state@0.1.0";
/// The export that marks a component as a window aggregator.
pub const AGGREGATOR_EXPORT: &str = "weir:plugin/aggregator@0.1.0";

/// Which of weir's worlds a component implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum World {
    /// `weir:plugin/transform`: events in, zero or more events out per event.
    Transform,
    /// `weir:plugin/validator`: pass, or reject with a reason.
    Validator,
    /// `weir:plugin/aggregate`: accumulators for the windows of a window
    /// stage.
    Aggregator,
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            World::Transform => "transform",
            World::Validator => "validator",
            World::Aggregator => "aggregator",
        })
    }
}

/// A plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The file could not be read.
    #[error("cannot read plugin `{path}`: {error}")]
    Read {
        /// The plugin file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        error: std::io::Error,
    },
    /// The bytes are not a component weir can run; the message says why.
    #[error("plugin `{path}` refused: {reason}")]
    Refused {
        /// The plugin file.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// The wasmtime engine could not be set up (an internal error).
    #[error("cannot create the wasm engine: {0}")]
    Engine(String),
}

/// The process-wide Wasm host.
pub struct PluginRuntime {
    engine: Engine,
    linker: Linker<StoreState>,
    cache: Option<ArtifactCache>,
    metrics: Arc<Metrics>,
    ticker: Option<Ticker>,
}

impl PluginRuntime {
    /// Creates the engine, the linker and the epoch ticker. Compiled
    /// artifacts are cached under `cache_dir` when one is given.
    ///
    /// # Errors
    ///
    /// [`PluginError::Engine`] when wasmtime rejects the configuration.
    pub fn new(cache_dir: Option<PathBuf>, metrics: Arc<Metrics>) -> Result<Self, PluginError> {
        let engine =
            Engine::new(&engine_config()).map_err(|e| PluginError::Engine(e.to_string()))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| PluginError::Engine(e.to_string()))?;
        bindings::host::add_to_linker::<_, HasSelf<StoreState>>(&mut linker, |s| s)
            .map_err(|e| PluginError::Engine(e.to_string()))?;
        bindings::state::add_to_linker::<_, HasSelf<StoreState>>(&mut linker, |s| s)
            .map_err(|e| PluginError::Engine(e.to_string()))?;
        let cache = cache_dir.map(|dir| ArtifactCache::new(dir, &engine));
        let ticker = Some(
            Ticker::start(engine.clone())
                .map_err(|e| PluginError::Engine(format!("cannot start the epoch thread: {e}")))?,
        );
        Ok(PluginRuntime {
            engine,
            linker,
            cache,
            metrics,
            ticker,
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The metrics plugin instances report to.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Loads a component from a file: compiles it (or reuses the cached
    /// artifact), checks that it implements one of weir's worlds and that
    /// every import can be satisfied.
    ///
    /// # Errors
    ///
    /// [`PluginError::Read`] when the file cannot be read,
    /// [`PluginError::Refused`] when it is not a component weir can run.
    pub fn load(&self, path: &Path) -> Result<Arc<Plugin>, PluginError> {
        let bytes = std::fs::read(path).map_err(|error| PluginError::Read {
            path: path.to_owned(),
            error,
        })?;
        let refused = |reason: String| PluginError::Refused {
            path: path.to_owned(),
            reason,
        };
        let started = Instant::now();
        let digest = digest(&bytes);
        let component = self.compile(&bytes, &digest).map_err(refused)?;
        let world = world_of(&self.engine, &component).map_err(refused)?;
        let uses_state = component
            .component_type()
            .imports(&self.engine)
            .any(|(name, _)| name == STATE_IMPORT);
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| refused(format!("{e:#}")))?;
        let pre = match world {
            World::Transform => {
                PluginPre::Transform(TransformPre::new(pre).map_err(|e| refused(format!("{e:#}")))?)
            }
            World::Validator => {
                PluginPre::Validator(ValidatorPre::new(pre).map_err(|e| refused(format!("{e:#}")))?)
            }
            World::Aggregator => PluginPre::Aggregator(
                AggregatePre::new(pre).map_err(|e| refused(format!("{e:#}")))?,
            ),
        };
        tracing::debug!(
            plugin = %path.display(),
            %digest,
            %world,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "plugin loaded"
        );
        Ok(Arc::new(Plugin {
            digest: digest.into(),
            world,
            uses_state,
            pre,
            size: bytes.len(),
            engine: self.engine.clone(),
        }))
    }

    /// Compiles `bytes`, going through the artifact cache when there is one.
    fn compile(&self, bytes: &[u8], digest: &str) -> Result<Component, String> {
        check::ensure_component(bytes)?;
        match &self.cache {
            Some(cache) => cache.get_or_compile(&self.engine, bytes, digest),
            None => Component::new(&self.engine, bytes).map_err(|e| format!("{e:#}")),
        }
    }
}

impl Drop for PluginRuntime {
    fn drop(&mut self) {
        if let Some(ticker) = self.ticker.take() {
            ticker.stop();
        }
    }
}

/// A loaded plugin, shared by every instance of every stage that uses it.
pub struct Plugin {
    digest: Arc<str>,
    world: World,
    uses_state: bool,
    pre: PluginPre,
    size: usize,
    engine: Engine,
}

impl Plugin {
    /// `sha256:` and the hex digest of the component's bytes.
    pub fn digest(&self) -> &Arc<str> {
        &self.digest
    }

    /// The world the component implements.
    pub fn world(&self) -> World {
        self.world
    }

    /// Whether the component imports keyed state (`weir:plugin/state`).
    pub fn uses_state(&self) -> bool {
        self.uses_state
    }

    /// The component's size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    fn engine(&self) -> &Engine {
        &self.engine
    }
}

enum PluginPre {
    Transform(TransformPre<StoreState>),
    Validator(ValidatorPre<StoreState>),
    Aggregator(AggregatePre<StoreState>),
}

/// `sha256:<hex>` of some bytes.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Which weir world a compiled component exports.
fn world_of(engine: &Engine, component: &Component) -> Result<World, String> {
    let ty = component.component_type();
    let mut found = None;
    for (name, _) in ty.exports(engine) {
        let world = match name {
            TRANSFORM_EXPORT => World::Transform,
            VALIDATOR_EXPORT => World::Validator,
            AGGREGATOR_EXPORT => World::Aggregator,
            _ => continue,
        };
        if found.replace(world).is_some() {
            return Err("component exports more than one weir world".into());
        }
    }
    found.ok_or_else(|| {
        format!(
            "component exports none of `{TRANSFORM_EXPORT}`, `{VALIDATOR_EXPORT}` and \
             `{AGGREGATOR_EXPORT}`; build it against weir's wit package"
        )
    })
}

/// The engine configuration every weir process uses. Artifacts compiled by
/// one configuration are only ever loaded by the same one (the cache key
/// includes the engine's compatibility hash).
fn engine_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    // weir calls plugins synchronously; the async machinery only adds cost
    // to every call.
    config.concurrency_support(false);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(1000);
    pool.total_core_instances(4000);
    pool.total_memories(1000);
    pool.total_tables(1000);
    pool.max_memory_size(4 << 30);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    // For profiling plugins with `perf`: compiled code is otherwise one
    // anonymous `[JIT]` blob. Read once, when the engine is made.
    if std::env::var_os("WEIR_WASM_PERFMAP").is_some_and(|v| v == "1") {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    config
}

/// The thread that advances the engine's epoch every [`EPOCH_TICK`], which
/// is what makes per-call deadlines fire.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Ticker {
    fn start(engine: Engine) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("weir-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })?;
        Ok(Ticker { stop, thread })
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}
