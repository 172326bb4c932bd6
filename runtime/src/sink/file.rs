//! The file sink: one line per event in a file that is truncated when the
//! pipeline starts.
//!
//! Its directory is created if missing. Writes go through a buffer;
//! [`Sink::flush`] pushes them to the operating system.
//!
//! FIXME: the file is rewritten from the start on every run and nothing is
//! staged, so a crash can leave a partly written last line; exactly-once file
//! output (stage, then rename on checkpoint commit) is not built yet.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{Sink, SinkError, write_line};
use crate::config::SinkFormat;
use crate::event::Event;

/// Size of the write buffer.
const BUFFER_BYTES: usize = 256 << 10;

/// Writes events to a file.
pub struct FileSink {
    name: String,
    path: PathBuf,
    format: SinkFormat,
    out: BufWriter<File>,
    line: Vec<u8>,
}

impl FileSink {
    /// Creates (or truncates) `path`, creating its directory if needed.
    ///
    /// # Errors
    ///
    /// [`SinkError::Io`] when the directory or file cannot be created.
    pub fn create(name: &str, path: &Path, format: SinkFormat) -> Result<Self, SinkError> {
        let error = |error| SinkError::Io {
            sink: name.to_string(),
            what: path.display().to_string(),
            error,
        };
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(error)?;
        }
        let file = File::create(path).map_err(error)?;
        tracing::debug!(sink = name, path = %path.display(), "file sink opened");
        Ok(FileSink {
            name: name.to_string(),
            path: path.to_path_buf(),
            format,
            out: BufWriter::with_capacity(BUFFER_BYTES, file),
            line: Vec::new(),
        })
    }

    fn error(&self, error: std::io::Error) -> SinkError {
        SinkError::Io {
            sink: self.name.clone(),
            what: self.path.display().to_string(),
            error,
        }
    }
}

impl Sink for FileSink {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_lines_creating_the_directory_and_truncating() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/out.jsonl");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "old content that must go\n").unwrap();

        let mut sink = FileSink::create("out", &path, SinkFormat::Value).unwrap();
        sink.write(&[
            Event::from_value(&b"{\"a\":1}"[..]),
            Event::from_value(&b"x"[..]),
        ])
        .unwrap();
        sink.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"a\":1}\nx\n");

        let nested = dir.path().join("new/dir/out.jsonl");
        let mut sink = FileSink::create("out", &nested, SinkFormat::Envelope).unwrap();
        sink.write(&[Event::from_value(&b"{\"a\":1}"[..])]).unwrap();
        sink.flush().unwrap();
        assert_eq!(
            std::fs::read_to_string(&nested).unwrap(),
            "{\"key\":null,\"value\":{\"a\":1},\"headers\":{},\"time\":0}\n"
        );
    }

    #[test]
    fn an_uncreatable_file_names_the_sink_and_path() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        let path = blocker.join("out.jsonl");
        let Err(error) = FileSink::create("out", &path, SinkFormat::Value) else {
            panic!("a file below a regular file was created");
        };
        let message = error.to_string();
        let prefix = format!("sink `out`: cannot write {}: ", path.display());
        assert!(message.starts_with(&prefix), "{message}");
    }
}
