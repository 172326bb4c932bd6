//! The router: runs on a source's thread, finds each event's key, and batches
//! events per worker.
//!
//! Events of one key always go to the same worker, in the order the source
//! produced them, which is what preserves per-key order. Input that key-by
//! cannot use (not JSON, no key field, no event key) becomes a dead letter of
//! kind `malformed`; it never stops the pipeline. Sends block when a worker's
//! channel is full: that is how a slow stage slows its source.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use super::keys;
use super::{SinkMessage, WorkerMessage};
use crate::config::KeyBy;
use crate::event::{DeadLetter, ErrorKind, Event};
use crate::metrics::Metrics;
use crate::source::{Emit, Stopped};

/// How often (in events) the router looks at the clock for the linger time.
const CLOCK_EVERY: u32 = 64;

/// Routing settings shared by every router of a pipeline.
pub struct Routing {
    /// How keys are found.
    pub key_by: KeyBy,
    /// The number of key groups.
    pub key_groups: u32,
    /// Which worker owns each key group.
    pub table: Vec<u32>,
    /// Events per batch.
    pub batch_size: usize,
    /// How long a partly filled batch may wait.
    pub linger: Duration,
}

/// Routes one source partition's events to the workers.
pub struct Router {
    source: Arc<str>,
    routing: Arc<Routing>,
    workers: Vec<Sender<WorkerMessage>>,
    sink: Sender<SinkMessage>,
    buffers: Vec<Vec<Event>>,
    dead: Vec<DeadLetter>,
    oldest: Option<Instant>,
    since_clock: u32,
    unreported: u64,
    stop: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
}

impl Router {
    /// A router for `source` sending to `workers` and (dead letters) `sink`.
    pub fn new(
        source: Arc<str>,
        routing: Arc<Routing>,
        workers: Vec<Sender<WorkerMessage>>,
        sink: Sender<SinkMessage>,
        stop: Arc<AtomicBool>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let buffers = workers.iter().map(|_| Vec::new()).collect();
        Router {
            source,
            routing,
            workers,
            sink,
            buffers,
            dead: Vec::new(),
            oldest: None,
            since_clock: 0,
            unreported: 0,
            stop,
            metrics,
        }
    }

    /// Sends what is buffered, then tells every worker and the sink that
    /// this input has ended. Called once, after the source returned.
    pub fn finish(mut self) {
        // A send fails only when the receiver has gone (the pipeline is
        // failing); there is nobody left to tell.
        let _ = self.send_all();
        for worker in &self.workers {
            let _ = worker.send(WorkerMessage::End);
        }
        let _ = self.sink.send(SinkMessage::End);
    }

    /// The worker for `event`, or why it cannot be routed.
    fn route(&self, event: &Event) -> Result<usize, String> {
        let routing = &*self.routing;
        let group = match &routing.key_by {
            KeyBy::SourcePartition => {
                return Ok(event.position.partition as usize % self.workers.len());
            }
            KeyBy::EventKey => match &event.key {
                Some(key) => keys::key_group(key, routing.key_groups),
                None => return Err("event has no key to key by".into()),
            },
            KeyBy::Field(path) => match weir_json::find(&event.value, path) {
                Ok(Some(raw)) => keys::key_group(&weir_json::key_bytes(raw), routing.key_groups),
                Ok(None) => return Err(format!("key field `{path}` is missing")),
                Err(error) => return Err(format!("value is not json: {error}")),
            },
        };
        Ok(routing.table[group as usize] as usize)
    }

    fn send(&mut self, worker: usize) -> Result<(), Stopped> {
        let batch = std::mem::take(&mut self.buffers[worker]);
        if batch.is_empty() {
            return Ok(());
        }
        self.workers[worker]
            .send(WorkerMessage::Batch(batch))
            .map_err(|_| Stopped)
    }

    fn send_all(&mut self) -> Result<(), Stopped> {
        for worker in 0..self.buffers.len() {
            self.send(worker)?;
        }
        if !self.dead.is_empty() {
            let dead = std::mem::take(&mut self.dead);
            self.metrics
                .input_dead_lettered(ErrorKind::Malformed, dead.len() as u64);
            self.sink
                .send(SinkMessage::DeadLetters(dead))
                .map_err(|_| Stopped)?;
        }
        self.metrics
            .source_read(&self.source, std::mem::take(&mut self.unreported));
        self.oldest = None;
        Ok(())
    }
}

impl Emit for Router {
    fn emit(&mut self, event: Event) -> Result<(), Stopped> {
        if self.stop.load(Ordering::Relaxed) {
            return Err(Stopped);
        }
        self.unreported += 1;
        if self.oldest.is_none() {
            self.oldest = Some(Instant::now());
        }
        match self.route(&event) {
            Ok(worker) => {
                self.buffers[worker].push(event);
                if self.buffers[worker].len() >= self.routing.batch_size {
                    self.send(worker)?;
                }
            }
            Err(message) => {
                self.dead.push(DeadLetter {
                    event,
                    kind: ErrorKind::Malformed,
                    message,
                    stage: None,
                    plugin: None,
                });
                if self.dead.len() >= self.routing.batch_size {
                    self.send_all()?;
                }
            }
        }
        self.since_clock += 1;
        if self.since_clock >= CLOCK_EVERY {
            self.since_clock = 0;
            if self
                .oldest
                .is_some_and(|t| t.elapsed() >= self.routing.linger)
            {
                self.send_all()?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Stopped> {
        self.send_all()
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}
