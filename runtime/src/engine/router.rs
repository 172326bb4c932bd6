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

use super::WorkerMessage;
use super::checkpoint::{Barriers, SourceAt};
use super::keys;
use super::time::{self, SourceWatermarks};
use crate::config::{EventTime, KeyBy};
use crate::event::{DeadLetter, ErrorKind, Event};
use crate::metrics::Metrics;
use crate::source::{Acks, Emit, Position, Stopped};

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
    /// Event time, when the pipeline works in it.
    pub event_time: Option<EventTime>,
}

/// Routes one source partition's events to the workers.
pub struct Router {
    /// This router's index among every worker's inputs.
    input: usize,
    source: Arc<str>,
    routing: Arc<Routing>,
    workers: Vec<Sender<WorkerMessage>>,
    buffers: Vec<Vec<Event>>,
    dead: Vec<DeadLetter>,
    oldest: Option<Instant>,
    since_clock: u32,
    unreported: u64,
    stop: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
    watermarks: SourceWatermarks,
    /// The watermark last sent to each worker.
    sent: Vec<i64>,
    /// When the source started, for idleness before any event.
    started: Instant,
    /// Whether the workers were told this input is idle.
    idle: bool,
    /// The last progress marker's token.
    marker: u64,
    acks: Arc<Acks>,
    /// Checkpoints, when the pipeline takes them.
    barriers: Option<Arc<Barriers>>,
    /// The last barrier placed.
    barrier: u64,
    /// Where the source last said it was.
    position: Option<Position>,
}

/// How a router is wired into its pipeline.
pub struct Wiring {
    /// The workers' inputs from this router, by worker.
    pub workers: Vec<Sender<WorkerMessage>>,
    /// Set when the pipeline stops.
    pub stop: Arc<AtomicBool>,
    /// The pipeline's metrics.
    pub metrics: Arc<Metrics>,
    /// Where the sink thread acknowledges this router's markers.
    pub acks: Arc<Acks>,
    /// Checkpoints, when the pipeline takes them.
    pub barriers: Option<Arc<Barriers>>,
    /// The watermark a restored checkpoint recorded for this input.
    pub floor: i64,
}

impl Router {
    /// A router for input `input`, reading `source`.
    pub fn new(input: usize, source: Arc<str>, routing: Arc<Routing>, wiring: Wiring) -> Self {
        let Wiring {
            workers,
            stop,
            metrics,
            acks,
            barriers,
            floor,
        } = wiring;
        let buffers = workers.iter().map(|_| Vec::new()).collect();
        let bound = routing
            .event_time
            .as_ref()
            .map_or(0, |t| t.max_out_of_orderness_ms);
        Router {
            input,
            watermarks: SourceWatermarks::new(bound).with_floor(floor),
            sent: vec![i64::MIN; workers.len()],
            started: Instant::now(),
            idle: false,
            marker: 0,
            acks,
            barriers,
            barrier: 0,
            position: None,
            source,
            routing,
            workers,
            buffers,
            dead: Vec::new(),
            oldest: None,
            since_clock: 0,
            unreported: 0,
            stop,
            metrics,
        }
    }

    /// Sends what is buffered, records where the source ended (for the
    /// last checkpoint; unknown when `failed`), then tells every worker
    /// that this input has ended. Called once, after the source returned.
    pub fn finish(mut self, failed: bool) {
        // A send fails only when the receiver has gone (the pipeline is
        // failing); there is nobody left to tell.
        let _ = self.send_all();
        if let Some(barriers) = &self.barriers {
            let at = self
                .position
                .take()
                .filter(|_| !failed)
                .map(|position| SourceAt {
                    position,
                    watermark: self.watermarks.current(),
                });
            barriers.ended(self.input, at);
        }
        let exhausted = self.barriers.is_none() || !self.stopping();
        for worker in &self.workers {
            let message = WorkerMessage::End {
                input: self.input,
                exhausted,
            };
            let _ = worker.send(message);
        }
    }

    /// Sets the event's time and route key; returns its worker, or why it
    /// cannot be routed.
    fn route(&self, event: &mut Event) -> Result<usize, String> {
        let routing = &*self.routing;
        if let Some(spec) = &routing.event_time {
            event.time = time::event_time(spec, &event.value, event.time)
                .map_err(|e| format!("no usable event time: {e}"))?;
        }
        let key: Arc<[u8]> = match &routing.key_by {
            KeyBy::SourcePartition => {
                return Ok(event.position.partition as usize % self.workers.len());
            }
            KeyBy::EventKey => match &event.key {
                Some(key) => Arc::from(key.as_slice()),
                None => return Err("event has no key to key by".into()),
            },
            KeyBy::Field(path) => match weir_json::find(&event.value, path) {
                Ok(Some(raw)) => Arc::from(&*weir_json::key_bytes(raw)),
                Ok(None) => return Err(format!("key field `{path}` is missing")),
                Err(error) => return Err(format!("value is not json: {error}")),
            },
        };
        let group = keys::key_group(&key, routing.key_groups);
        event.route_key = Some(key);
        Ok(routing.table[group as usize] as usize)
    }

    /// Sends the partition's watermark to `worker` if it advanced there.
    /// Called only when `worker`'s buffer is empty, so the watermark follows
    /// every event it covers.
    fn send_watermark(&mut self, worker: usize) -> Result<(), Stopped> {
        let watermark = self.watermarks.current();
        if self.routing.event_time.is_none() || watermark <= self.sent[worker] {
            return Ok(());
        }
        self.sent[worker] = watermark;
        let message = WorkerMessage::Watermark {
            input: self.input,
            watermark,
        };
        self.workers[worker].send(message).map_err(|_| Stopped)
    }

    fn send(&mut self, worker: usize) -> Result<(), Stopped> {
        let batch = std::mem::take(&mut self.buffers[worker]);
        if !batch.is_empty() {
            let message = WorkerMessage::Batch {
                input: self.input,
                events: batch,
            };
            self.workers[worker].send(message).map_err(|_| Stopped)?;
        }
        self.send_watermark(worker)
    }

    fn send_all(&mut self) -> Result<(), Stopped> {
        if !self.dead.is_empty() {
            let dead = std::mem::take(&mut self.dead);
            self.metrics
                .input_dead_lettered(ErrorKind::Malformed, dead.len() as u64);
            // Dead letters travel through a worker, ahead of the batches
            // sent with them (whose stages' dead letters then follow them)
            // and before any barrier placed after them.
            let worker = self.input % self.workers.len();
            self.workers[worker]
                .send(WorkerMessage::DeadLetters(dead))
                .map_err(|_| Stopped)?;
        }
        for worker in 0..self.buffers.len() {
            self.send(worker)?;
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
        self.idle = false;
        let mut event = event;
        match self.route(&mut event) {
            Ok(worker) => {
                self.watermarks.observe(&event.position, event.time);
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
        // A source flushes before it waits; partitions that have waited
        // past the idle timeout stop holding the watermark back, which may
        // move it, so idleness is settled before the watermark is sent.
        let all_idle = match &self.routing.event_time {
            Some(spec) => {
                let all_idle = self
                    .watermarks
                    .check_idle(Instant::now(), spec.idle_timeout);
                // Before its first event a source is idle once it has
                // waited that long since it started.
                all_idle && self.started.elapsed() >= spec.idle_timeout
            }
            None => false,
        };
        self.send_all()?;
        if all_idle && !self.idle {
            self.idle = true;
            tracing::debug!(source = %self.source, input = self.input, "source idle");
            for worker in &self.workers {
                worker
                    .send(WorkerMessage::Idle { input: self.input })
                    .map_err(|_| Stopped)?;
            }
        }
        Ok(())
    }

    fn mark(&mut self) -> Result<u64, Stopped> {
        self.send_all()?;
        self.marker += 1;
        for worker in &self.workers {
            let message = WorkerMessage::Marker {
                input: self.input,
                token: self.marker,
            };
            worker.send(message).map_err(|_| Stopped)?;
        }
        Ok(self.marker)
    }

    fn acks(&self) -> Arc<Acks> {
        self.acks.clone()
    }

    fn congested(&self) -> bool {
        self.workers.iter().any(Sender::is_full)
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn barrier_due(&self) -> bool {
        self.barriers
            .as_ref()
            .is_some_and(|b| b.requested() > self.barrier)
    }

    fn at(&mut self, position: Position) -> Result<(), Stopped> {
        let requested = match &self.barriers {
            Some(barriers) => barriers.requested(),
            None => return Ok(()),
        };
        if requested > self.barrier && !self.stopping() {
            self.send_all()?;
            let at = SourceAt {
                position: position.clone(),
                watermark: self.watermarks.current(),
            };
            if let Some(barriers) = &self.barriers {
                barriers.placed(self.input, requested, at);
            }
            self.barrier = requested;
            for worker in &self.workers {
                let message = WorkerMessage::Barrier {
                    input: self.input,
                    id: requested,
                };
                worker.send(message).map_err(|_| Stopped)?;
            }
        }
        self.position = Some(position);
        Ok(())
    }
}
