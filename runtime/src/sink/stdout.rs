//! The stdout sink: one line per event on standard output.
//!
//! Writes go through a buffer of their own; [`Sink::flush`] pushes them out.
//! A closed pipe (`weir run … | head`) surfaces as [`SinkError::Io`] with
//! [`std::io::ErrorKind::BrokenPipe`]; the binary decides whether that is a
//! failure.

use std::io::{BufWriter, Stdout, Write};

use super::{Sink, SinkError, write_line};
use crate::config::SinkFormat;
use crate::event::Event;

/// Size of the write buffer.
const BUFFER_BYTES: usize = 64 << 10;

/// Writes events to standard output.
pub struct StdoutSink {
    name: String,
    format: SinkFormat,
    out: BufWriter<Stdout>,
    line: Vec<u8>,
}

impl StdoutSink {
    /// A sink named `name` writing `format` lines to standard output.
    pub fn new(name: &str, format: SinkFormat) -> Self {
        StdoutSink {
            name: name.to_string(),
            format,
            out: BufWriter::with_capacity(BUFFER_BYTES, std::io::stdout()),
            line: Vec::new(),
        }
    }

    fn error(&self, error: std::io::Error) -> SinkError {
        SinkError::Io {
            sink: self.name.clone(),
            what: "stdout".to_string(),
            error,
        }
    }
}

impl Sink for StdoutSink {
    fn write(&mut self, events: &[Event]) -> Result<(), SinkError> {
        for event in events {
            write_line(&mut self.out, &mut self.line, event, self.format)
                .map_err(|e| self.error(e))?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.out.flush().map_err(|e| self.error(e))
    }
}
