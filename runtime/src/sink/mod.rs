//! Sinks: where events leave a pipeline.
//!
//! Every sink runs on the pipeline's sink thread and receives events in
//! batches, in the order each worker produced them. Dead letters are turned
//! into events (see [`dead_letter`]) so that any sink can serve as the
//! dead-letter output.
//!
//! # Line formats
//!
//! Both built-in sinks write one line per event, ending in `\n`:
//!
//! - `format = "value"`: the value bytes as they are. A value holding a
//!   newline therefore spans two lines; built-in sources never produce one.
//! - `format = "envelope"`: `{"key":…,"value":…,"headers":{…},"time":…}`, as
//!   described in [`encode`].

pub mod dead_letter;
pub mod encode;
pub mod file;
pub mod kafka;
pub mod stdout;

use std::io::Write;
use std::sync::Arc;

use crate::config::{SinkConfig, SinkFormat, SinkKind};
use crate::event::Event;
use crate::metrics::Metrics;

/// Opens the sink `config` describes.
///
/// # Errors
///
/// [`SinkError::Io`] when a file sink's file or directory cannot be
/// created, [`SinkError::Kafka`] when a Kafka producer cannot be made.
/// A file sink opens its file as `opening` says.
pub fn build(
    config: &SinkConfig,
    metrics: &Arc<Metrics>,
    opening: &file::Opening,
) -> Result<Box<dyn Sink>, SinkError> {
    Ok(match &config.kind {
        SinkKind::Stdout { format } => Box::new(stdout::StdoutSink::new(&config.name, *format)),
        SinkKind::File { path, format } => {
            Box::new(file::FileSink::open(&config.name, path, *format, opening)?)
        }
        SinkKind::Kafka(kafka) => {
            Box::new(kafka::KafkaSink::new(&config.name, kafka, metrics.clone())?)
        }
    })
}

/// Writes `event` as one `format` line to `out`; `scratch` is reused between
/// calls to encode envelopes.
fn write_line(
    out: &mut impl Write,
    scratch: &mut Vec<u8>,
    event: &Event,
    format: SinkFormat,
) -> std::io::Result<()> {
    match format {
        SinkFormat::Value => {
            out.write_all(&event.value)?;
            out.write_all(b"\n")
        }
        SinkFormat::Envelope => {
            scratch.clear();
            encode::envelope(scratch, event);
            scratch.push(b'\n');
            out.write_all(scratch)
        }
    }
}

/// A place events are written to.
pub trait Sink: Send {
    /// Writes a batch of events, in order.
    ///
    /// # Errors
    ///
    /// A [`SinkError`] when the output cannot be written.
    fn write(&mut self, events: &[Event]) -> Result<(), SinkError>;

    /// Makes everything written so far durable or visible (flushes buffers).
    ///
    /// # Errors
    ///
    /// A [`SinkError`] when the output cannot be written.
    fn flush(&mut self) -> Result<(), SinkError>;

    /// A checkpoint barrier: everything written so far belongs to
    /// checkpoint `checkpoint`. Makes it durable, ready to become visible,
    /// and returns what a restart needs to finish or abort that (`None`
    /// for a sink that writes at once, which only flushes).
    ///
    /// # Errors
    ///
    /// A [`SinkError`]; the checkpoint then fails.
    fn prepare(&mut self, checkpoint: u64) -> Result<Option<Prepared>, SinkError> {
        let _ = checkpoint;
        self.flush()?;
        Ok(None)
    }

    /// Checkpoint `checkpoint` is complete (its manifest is durable): makes
    /// what [`Sink::prepare`] staged for it visible.
    ///
    /// # Errors
    ///
    /// A [`SinkError`]; the restart finishes the commit.
    fn commit(&mut self, checkpoint: u64) -> Result<(), SinkError> {
        let _ = checkpoint;
        Ok(())
    }

    /// The pipeline has ended: flushes, and waits for a commit still being
    /// made visible.
    ///
    /// # Errors
    ///
    /// A [`SinkError`] when the output cannot be written.
    fn close(&mut self) -> Result<(), SinkError> {
        self.flush()
    }
}

/// A sink's part of a checkpoint: what a restart needs to finish its
/// commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prepared {
    /// A file sink's staged part.
    File(file::FileCommit),
}

/// A sink could not write.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Writing to a file or stream failed.
    #[error("sink `{sink}`: cannot write {what}: {error}")]
    Io {
        /// The sink's name in the pipeline file.
        sink: String,
        /// What was being written (a path, "stdout").
        what: String,
        /// The underlying error.
        #[source]
        error: std::io::Error,
    },
    /// The output does not match the checkpoint being restored.
    #[error("sink `{sink}`: cannot restore {what}: {message}")]
    Restore {
        /// The sink's name in the pipeline file.
        sink: String,
        /// What was being restored (a path).
        what: String,
        /// Why.
        message: String,
    },
    /// A Kafka producer could not be made, or a record not delivered.
    #[error("sink `{sink}`: {message}")]
    Kafka {
        /// The sink's name in the pipeline file.
        sink: String,
        /// What failed, with librdkafka's words.
        message: String,
    },
}
