//! The stdin source: JSON Lines on standard input, one event per line.
//!
//! Lines become events exactly as in the file source (see `file`): the
//! offset is the line number from 0, empty lines are skipped, nothing is
//! validated. The source returns at the end of input.
//!
//! Interactive use must not wait for a batch to fill: before a read that may
//! block, the source flushes what it has emitted. It cannot ask whether a read
//! would block, so it flushes whenever the previous read came back shorter
//! than the space offered (the writer is slower than weir); when input is
//! piped in faster than weir reads it, reads come back full and batches stay
//! full.
//!
//! A blocking read cannot be interrupted, so on Ctrl-C the source notices the
//! stop only once the next line (or the end of input) arrives.

use std::sync::Arc;

use super::file::{LineOptions, read_lines};
use super::{Emit, Source, SourceError};

/// Reads standard input.
pub struct StdinSource {
    name: Arc<str>,
}

impl StdinSource {
    /// The source `name` reading standard input.
    pub fn new(name: &str) -> Self {
        StdinSource {
            name: Arc::from(name),
        }
    }
}

impl Source for StdinSource {
    fn run(&mut self, out: &mut dyn Emit) -> Result<(), SourceError> {
        tracing::debug!(source = %self.name, "stdin source started");
        let options = LineOptions {
            follow: false,
            flush_on_short_read: true,
        };
        read_lines(&self.name, std::io::stdin(), options, out).map_err(|error| SourceError::Io {
            source_name: self.name.to_string(),
            what: "stdin".to_string(),
            error,
        })
    }
}
