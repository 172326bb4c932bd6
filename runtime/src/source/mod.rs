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
pub mod stdin;

use crate::config::{SourceConfig, SourceKind};
use crate::event::Event;

/// The sources for `config`, one per partition, in partition order.
///
/// # Errors
///
/// [`SourceError::Io`] when a file source's file cannot be opened.
pub fn build(config: &SourceConfig) -> Result<Vec<Box<dyn Source>>, SourceError> {
    Ok(match &config.kind {
        SourceKind::Generator(generator) => {
            generator::GeneratorSource::partitions(&config.name, generator)
                .into_iter()
                .map(|source| Box::new(source) as Box<dyn Source>)
                .collect()
        }
        SourceKind::File { path, follow } => {
            vec![Box::new(file::FileSource::open(
                &config.name,
                path,
                *follow,
            )?)]
        }
        SourceKind::Stdin => vec![Box::new(stdin::StdinSource::new(&config.name))],
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
        /// How many events had been emitted at each flush.
        pub flushes: Vec<usize>,
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
    }
}
