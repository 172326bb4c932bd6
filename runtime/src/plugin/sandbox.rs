//! What a plugin instance can reach: the data of its `Store`.
//!
//! A plugin gets no ambient authority. Components built for wasm32-wasip2
//! import WASI through their standard library, so WASI is linked, but with
//! nothing behind it: no preopened directories, no environment, no arguments,
//! no network (every address denied, no name lookup), stdin closed, a wall
//! clock stopped at the Unix epoch, a monotonic clock that never moves (it
//! reads 1 ns: some language runtimes, Go's among them, refuse to start on a
//! monotonic clock that reads zero), and
//! seeded randomness. Standard error is captured into a small buffer so that
//! a panic message can be attached to the dead letter of the event that
//! caused it; standard output is discarded.
//!
//! Memory growth past the stage's limit traps with [`MemoryLimitExceeded`],
//! so the engine can tell an out-of-memory failure from any other trap.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

use super::bindings::{host, state};
use super::keyed::KeyedState;
use crate::metrics::StageMetrics;

/// How much of a plugin's standard error is kept (the tail of a panic
/// message is what matters).
const STDERR_CAPACITY: usize = 16 * 1024;

/// Log lines a plugin instance may write per second before lines are dropped.
const LOG_LINES_PER_SECOND: u32 = 100;

/// The data of one plugin instance's `Store`.
pub struct StoreState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
    stderr: TailPipe,
    log: LogBudget,
    stage: Arc<str>,
    metrics: StageMetrics,
    /// The stage's keyed state during a call, for plugins that import it.
    pub(super) keyed: Option<KeyedState>,
}

impl StoreState {
    /// A sandbox for one instance of `stage`'s plugin.
    pub fn new(stage: Arc<str>, memory_limit: u64, metrics: StageMetrics) -> Self {
        let stderr = TailPipe::default();
        let wasi = WasiCtx::builder()
            .stderr(stderr.clone())
            .wall_clock(StoppedClock)
            .monotonic_clock(StoppedClock)
            .insecure_random_seed(0)
            .allow_ip_name_lookup(false)
            .allow_tcp(false)
            .allow_udp(false)
            .build();
        StoreState {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                limit: memory_limit,
            },
            stderr,
            log: LogBudget::new(),
            stage,
            metrics,
            keyed: None,
        }
    }

    /// The resource limiter to install on the store.
    pub fn limiter(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.limiter
    }

    /// What the plugin last wrote to standard error about a panic, used to
    /// explain a trap: from its last line containing "panicked at" up to (not
    /// including) the `note:` Rust's default hook adds; failing that, its
    /// last non-empty line.
    pub fn panic_message(&self) -> Option<String> {
        let bytes = self.stderr.contents();
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let Some(start) = lines.iter().rposition(|l| l.contains("panicked at")) else {
            return lines.last().map(|l| l.to_string());
        };
        let message: Vec<&str> = lines[start..]
            .iter()
            .take_while(|l| !l.starts_with("note: "))
            .copied()
            .collect();
        Some(message.join(" "))
    }
}

impl state::Host for StoreState {
    fn get(&mut self, event: u32, name: String) -> wasmtime::Result<Option<Vec<u8>>> {
        self.keyed()?.get(event, &name)
    }

    fn set(
        &mut self,
        event: u32,
        name: String,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> wasmtime::Result<()> {
        self.keyed()?.set(event, &name, &value, ttl_ms)
    }

    fn delete(&mut self, event: u32, name: String) -> wasmtime::Result<()> {
        self.keyed()?.delete(event, &name)
    }
}

impl StoreState {
    fn keyed(&mut self) -> wasmtime::Result<&mut KeyedState> {
        self.keyed.as_mut().ok_or_else(|| {
            wasmtime::Error::new(super::keyed::StateMisuse(
                "only available while transforming a batch, in a pipeline with a `[key_by]`".into(),
            ))
        })
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl host::Host for StoreState {
    fn log(&mut self, level: host::Level, message: String) {
        if !self.log.take() {
            self.metrics.log_dropped();
            return;
        }
        let stage = &*self.stage;
        match level {
            host::Level::Trace => tracing::trace!(stage, "{message}"),
            host::Level::Debug => tracing::debug!(stage, "{message}"),
            host::Level::Info => tracing::info!(stage, "{message}"),
            host::Level::Warn => tracing::warn!(stage, "{message}"),
            host::Level::Error => tracing::error!(stage, "{message}"),
        }
    }
}

/// A plugin tried to grow its memory past the stage's limit.
#[derive(Debug, thiserror::Error)]
#[error("plugin exceeded its memory limit of {limit} bytes (asked for {desired} bytes)")]
pub struct MemoryLimitExceeded {
    /// The limit in bytes.
    pub limit: u64,
    /// The size the plugin asked to grow to.
    pub desired: u64,
}

struct MemoryLimiter {
    limit: u64,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let desired = desired as u64;
        if desired > self.limit {
            // Trapping (rather than returning false) makes the failure
            // unambiguous: a guest allocator that sees a failed grow usually
            // aborts with a generic `unreachable`.
            return Err(MemoryLimitExceeded {
                limit: self.limit,
                desired,
            }
            .into());
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// A clock that always reads zero: plugins get no wall clock.
struct StoppedClock;

impl HostWallClock for StoppedClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for StoppedClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }

    fn now(&self) -> u64 {
        // Not zero: Go's runtime treats a zero monotonic reading as fatal.
        1
    }
}

/// A per-second allowance of log lines.
struct LogBudget {
    window: Instant,
    used: u32,
}

impl LogBudget {
    fn new() -> Self {
        LogBudget {
            window: Instant::now(),
            used: 0,
        }
    }

    /// Whether one more line may be written now.
    fn take(&mut self) -> bool {
        if self.window.elapsed() >= Duration::from_secs(1) {
            self.window = Instant::now();
            self.used = 0;
        }
        self.used += 1;
        self.used <= LOG_LINES_PER_SECOND
    }
}

/// Standard error for a plugin: keeps the last [`STDERR_CAPACITY`] bytes and
/// never fails a write (a plugin that prints a lot must not trap because of
/// it; Rust's `eprintln!` panics when a write fails).
#[derive(Clone, Default)]
struct TailPipe {
    buffer: Arc<Mutex<VecDeque<u8>>>,
}

impl TailPipe {
    fn contents(&self) -> Vec<u8> {
        let buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        buffer.iter().copied().collect()
    }

    fn push(&self, bytes: &[u8]) {
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let bytes = &bytes[bytes.len().saturating_sub(STDERR_CAPACITY)..];
        let overflow = (buffer.len() + bytes.len()).saturating_sub(STDERR_CAPACITY);
        buffer.drain(..overflow);
        buffer.extend(bytes);
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for TailPipe {
    async fn ready(&mut self) {}
}

impl OutputStream for TailPipe {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(STDERR_CAPACITY)
    }
}

impl tokio::io::AsyncWrite for TailPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for TailPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for TailPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}
