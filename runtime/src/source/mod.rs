//! Sources: where events enter a pipeline.
//!
//! A source runs on its own thread and hands records to an [`Emit`], which
//! routes them to workers. `Emit::emit` blocks when the workers are behind,
//! which is how backpressure reaches a source: it simply reads no further.
//!
//! [`build`] turns a source's configuration into one [`Source`] per
//! partition: the generator can have several, files and stdin have one.

pub mod file;
pub mod generator;
pub mod kafka;
pub mod stdin;

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::config::{SourceConfig, SourceKind};
use crate::event::Event;
use crate::metrics::Metrics;

/// The sources for `config`, one per partition, in partition order.
///
/// # Errors
///
/// [`SourceError::Io`] when a file source's file cannot be opened.
/// `resume(partition)` is where a restored checkpoint left that
/// partition, if anywhere.
pub fn build(
    config: &SourceConfig,
    metrics: &Arc<Metrics>,
    resume: &dyn Fn(u32) -> Option<Position>,
) -> Result<Vec<Box<dyn Source>>, SourceError> {
    Ok(match &config.kind {
        SourceKind::Generator(generator) => {
            generator::GeneratorSource::partitions(&config.name, generator)
                .into_iter()
                .enumerate()
                .map(|(partition, source)| {
                    let source = match resume(partition as u32) {
                        Some(Position::Generator { emitted }) => source.resume(emitted),
                        _ => source,
                    };
                    Box::new(source) as Box<dyn Source>
                })
                .collect()
        }
        SourceKind::File { path, follow } => {
            let start = match resume(0) {
                Some(Position::File { offset, line }) => Some((offset, line)),
                _ => None,
            };
            vec![Box::new(file::FileSource::open(
                &config.name,
                path,
                *follow,
                start,
            )?)]
        }
        SourceKind::Stdin => vec![Box::new(stdin::StdinSource::new(&config.name))],
        SourceKind::Kafka(kafka) => {
            let start = match resume(0) {
                Some(Position::Kafka(offsets)) => Some(offsets),
                _ => None,
            };
            vec![Box::new(kafka::KafkaSource::new(
                &config.name,
                kafka,
                metrics.clone(),
                start,
            )?)]
        }
    })
}

/// What a source hands its records to.
pub trait Emit {
    /// Routes one event. Blocks while downstream channels are full.
    ///
    /// # Errors
    ///
    /// [`Stopped`] once the pipeline is shutting down; the source should
    /// return promptly.
    fn emit(&mut self, event: Event) -> Result<(), Stopped>;

    /// Sends on whatever is buffered. A source calls this before it waits for
    /// more input (a rate limit, a file that has no new line yet), so that
    /// buffered events are not held back by the wait.
    ///
    /// # Errors
    ///
    /// [`Stopped`] once the pipeline is shutting down.
    fn flush(&mut self) -> Result<(), Stopped>;

    /// Whether the pipeline asked sources to stop (Ctrl-C); a source that can
    /// wait forever (stdin, a followed file) checks this between waits.
    fn stopping(&self) -> bool;

    /// Sends on whatever is buffered, then a progress marker behind it, and
    /// returns the marker's token. [`Emit::acks`] reports the token once
    /// every event emitted before it has been through every stage and its
    /// outputs (dead letters included) written and flushed by every sink:
    /// the point at which a source may forget those events (commit a Kafka
    /// offset).
    ///
    /// # Errors
    ///
    /// [`Stopped`] once the pipeline is shutting down.
    fn mark(&mut self) -> Result<u64, Stopped>;

    /// Where this source's markers are acknowledged.
    fn acks(&self) -> Arc<Acks>;

    /// Whether the workers are behind, so that the next [`Emit::emit`] may
    /// block; a source that can pause its input (Kafka) does so instead.
    fn congested(&self) -> bool;

    /// Whether a checkpoint barrier waits to be placed. A source asks
    /// between two records (it is one atomic load) and, when it is, says
    /// where it is with [`Emit::at`].
    fn barrier_due(&self) -> bool;

    /// Tells where the source is: every record before `position` has been
    /// emitted, none after it. Places a waiting checkpoint barrier behind
    /// the events emitted so far, with `position` as where to resume from.
    /// A source also calls this once when it returns, so that a checkpoint
    /// taken after it ended resumes it at its end.
    ///
    /// # Errors
    ///
    /// [`Stopped`] once the pipeline is shutting down (the position is
    /// still recorded).
    fn at(&mut self, position: Position) -> Result<(), Stopped>;
}

/// Where a source partition is in its input: what a checkpoint records to
/// resume it from exactly there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Position {
    /// A generator partition: how many events it has emitted.
    Generator {
        /// Events emitted (the offset of the next one).
        emitted: u64,
    },
    /// A file: where its next line starts.
    File {
        /// Byte offset of the next line.
        offset: u64,
        /// Its line number, from 0 (the next event's offset).
        line: u64,
    },
    /// Kafka: the next offset of every partition the source reads.
    Kafka(Vec<KafkaOffset>),
}

/// The next offset to read from one Kafka partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaOffset {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The offset of the next record to read.
    pub next: i64,
}

/// Acknowledgements of one source partition's progress markers (see
/// [`Emit::mark`]), written by the sink thread and awaited by the source.
#[derive(Debug, Default)]
pub struct Acks {
    state: Mutex<AckState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct AckState {
    /// The newest token acknowledged; tokens are acknowledged in order.
    acked: u64,
    /// The sink thread has ended: no more acknowledgements will come.
    closed: bool,
}

/// The pipeline's outputs have ended; a marker not yet acknowledged never
/// will be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the pipeline's outputs have stopped")]
pub struct OutputsClosed;

impl Acks {
    /// The newest token acknowledged (0 before the first).
    pub fn acked(&self) -> u64 {
        self.lock().acked
    }

    /// Waits up to `timeout` for `token` to be acknowledged; returns whether
    /// it was.
    ///
    /// # Errors
    ///
    /// [`OutputsClosed`] when it never will be.
    pub fn wait(&self, token: u64, timeout: Duration) -> Result<bool, OutputsClosed> {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        loop {
            if state.acked >= token {
                return Ok(true);
            }
            if state.closed {
                return Err(OutputsClosed);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Acknowledges every token up to `token`.
    pub(crate) fn ack(&self, token: u64) {
        let mut state = self.lock();
        if token > state.acked {
            state.acked = token;
            self.changed.notify_all();
        }
    }

    /// No more acknowledgements will come.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, AckState> {
        // The state is two plain values; a panic elsewhere cannot leave it
        // half-written.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The pipeline is shutting down; returned by [`Emit`] methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the pipeline is stopping")]
pub struct Stopped;

/// A running source.
pub trait Source: Send {
    /// Reads until the input ends or [`Emit`] reports [`Stopped`].
    ///
    /// # Errors
    ///
    /// A [`SourceError`] when the input cannot be read; events already
    /// emitted stay emitted.
    fn run(&mut self, out: &mut dyn Emit) -> Result<(), SourceError>;
}

/// A source could not read its input.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Reading from a file or stream failed.
    #[error("source `{source_name}`: cannot read {what}: {error}")]
    Io {
        /// The source's name in the pipeline file.
        source_name: String,
        /// What was being read (a path, "stdin").
        what: String,
        /// The underlying error.
        #[source]
        error: std::io::Error,
    },
    /// A restored position does not fit the input any more.
    #[error("source `{source_name}`: cannot resume {what}: {message}")]
    Resume {
        /// The source's name in the pipeline file.
        source_name: String,
        /// What was being resumed (a path).
        what: String,
        /// Why.
        message: String,
    },
    /// A Kafka client could not be made or failed for good.
    #[error("source `{source_name}`: {message}")]
    Kafka {
        /// The source's name in the pipeline file.
        source_name: String,
        /// What failed, with librdkafka's words.
        message: String,
    },
}

#[cfg(test)]
pub(crate) mod testing {
    //! An [`Emit`] that collects what sources hand it.

    use super::{Emit, Stopped};
    use crate::event::Event;

    /// Collects events; reports [`Stopped`] after `stop_after` events.
    #[derive(Default)]
    pub(crate) struct Collect {
        pub events: Vec<Event>,
        pub acks: std::sync::Arc<super::Acks>,
        /// How many events had been emitted at each mark.
        pub marks: Vec<usize>,
        /// How many events had been emitted at each flush.
        pub flushes: Vec<usize>,
        /// Positions reported, with how many events had been emitted.
        pub positions: Vec<(usize, super::Position)>,
        /// Whether a barrier is due (the collector places it at once).
        pub barrier_due: bool,
        pub stop_after: Option<usize>,
    }

    impl Collect {
        pub(crate) fn values(&self) -> Vec<String> {
            self.events
                .iter()
                .map(|e| String::from_utf8_lossy(&e.value).into_owned())
                .collect()
        }
    }

    impl Emit for Collect {
        fn emit(&mut self, event: Event) -> Result<(), Stopped> {
            if self.stopping() {
                return Err(Stopped);
            }
            self.events.push(event);
            Ok(())
        }

        fn flush(&mut self) -> Result<(), Stopped> {
            self.flushes.push(self.events.len());
            if self.stopping() {
                Err(Stopped)
            } else {
                Ok(())
            }
        }

        fn stopping(&self) -> bool {
            self.stop_after.is_some_and(|n| self.events.len() >= n)
        }

        /// Acknowledges at once: nothing runs behind a collector.
        fn mark(&mut self) -> Result<u64, Stopped> {
            self.marks.push(self.events.len());
            let token = self.marks.len() as u64;
            self.acks.ack(token);
            Ok(token)
        }

        fn acks(&self) -> std::sync::Arc<super::Acks> {
            self.acks.clone()
        }

        fn congested(&self) -> bool {
            false
        }

        fn barrier_due(&self) -> bool {
            self.barrier_due
        }

        fn at(&mut self, position: super::Position) -> Result<(), Stopped> {
            self.positions.push((self.events.len(), position));
            Ok(())
        }
    }
}
