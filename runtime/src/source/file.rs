//! The file source: a JSON Lines file, one event per line.
//!
//! Each line, without its `\n` or `\r\n`, is an event's value; the event has
//! no key, no headers and time 0 (event time, if the pipeline wants it, comes
//! from a field later). Empty lines are skipped but still count: an event's
//! offset is its line number from 0, so offsets name lines in the file.
//! Nothing checks that a line is JSON or even UTF-8; the router dead-letters
//! what it cannot read.
//!
//! With `follow = true` the source keeps reading lines appended to the file,
//! polling every 100 ms, until the pipeline stops. A last line without a
//! newline is held back until its newline arrives (or, without `follow`,
//! emitted at the end of the file).
//!
//! The line reading here is shared with the stdin source.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::{Emit, Position, Source, SourceError, Stopped};
use crate::event::{Event, SourcePosition};

/// How often a followed file is checked for new lines.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Initial size of the read buffer; it grows for longer lines.
const BUFFER_BYTES: usize = 64 << 10;

/// Reads one JSON Lines file.
pub struct FileSource {
    name: Arc<str>,
    path: PathBuf,
    follow: bool,
    file: Option<File>,
    /// Where reading starts: byte offset and line number.
    start: (u64, u64),
}

impl FileSource {
    /// Opens `path` for the source `name`, to read from its beginning or
    /// from `start` (a byte offset and its line number, from a checkpoint).
    ///
    /// # Errors
    ///
    /// [`SourceError::Io`] when the file cannot be opened or positioned,
    /// [`SourceError::Resume`] when it is shorter than `start`.
    pub fn open(
        name: &str,
        path: &Path,
        follow: bool,
        start: Option<(u64, u64)>,
    ) -> Result<Self, SourceError> {
        let io = |error| SourceError::Io {
            source_name: name.to_string(),
            what: path.display().to_string(),
            error,
        };
        let mut file = File::open(path).map_err(io)?;
        let start = start.unwrap_or((0, 0));
        if start.0 > 0 {
            let len = file.metadata().map_err(io)?.len();
            if len < start.0 {
                return Err(SourceError::Resume {
                    source_name: name.to_string(),
                    what: path.display().to_string(),
                    message: format!(
                        "the checkpoint read up to byte {}, but the file now has {len} bytes; \
                         was it replaced or truncated?",
                        start.0
                    ),
                });
            }
            file.seek(SeekFrom::Start(start.0)).map_err(io)?;
        }
        Ok(FileSource {
            name: Arc::from(name),
            path: path.to_path_buf(),
            follow,
            file: Some(file),
            start,
        })
    }
}

impl Source for FileSource {
    fn run(&mut self, out: &mut dyn Emit) -> Result<(), SourceError> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        tracing::debug!(source = %self.name, path = %self.path.display(), follow = self.follow, "file source started");
        let options = LineOptions {
            follow: self.follow,
            flush_on_short_read: false,
        };
        let mut lines = Lines::new(&self.name, file);
        (lines.consumed, lines.offset) = self.start;
        lines.read(options, out).map_err(|error| SourceError::Io {
            source_name: self.name.to_string(),
            what: self.path.display().to_string(),
            error,
        })
    }
}

/// How [`read_lines`] behaves at the end of its input.
#[derive(Clone, Copy, Debug)]
pub(super) struct LineOptions {
    /// At the end of the input, wait for more instead of returning.
    pub follow: bool,
    /// Flush before a read when the previous read came back short, meaning
    /// the writer is slower than we are and the next read may block. (A
    /// full read suggests more input is already waiting, and flushing then
    /// would only cut batches short.)
    pub flush_on_short_read: bool,
}

/// Emits each line of `input` as an event of the source `name`, until the
/// input ends (unless following) or the pipeline stops.
pub(super) fn read_lines(
    name: &Arc<str>,
    input: impl Read,
    options: LineOptions,
    out: &mut dyn Emit,
) -> std::io::Result<()> {
    Lines::new(name, input).read(options, out)
}

enum LinesError {
    Stopped,
    Io(std::io::Error),
}

impl From<Stopped> for LinesError {
    fn from(_: Stopped) -> Self {
        LinesError::Stopped
    }
}

impl From<std::io::Error> for LinesError {
    fn from(error: std::io::Error) -> Self {
        LinesError::Io(error)
    }
}

/// A line splitter over a reader that can continue after the end of input
/// (for files that grow).
struct Lines<'a, R> {
    name: &'a Arc<str>,
    input: R,
    buf: Vec<u8>,
    /// Unread bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// Whether the last read filled the space it was offered.
    last_read_full: bool,
    /// Offset of the next line.
    offset: u64,
    /// Bytes of the input before `buf[0]`.
    consumed: u64,
}

impl<'a, R: Read> Lines<'a, R> {
    fn new(name: &'a Arc<str>, input: R) -> Self {
        Lines {
            name,
            input,
            buf: vec![0; BUFFER_BYTES],
            start: 0,
            end: 0,
            last_read_full: false,
            offset: 0,
            consumed: 0,
        }
    }

    /// Runs until the input ends or the pipeline stops, then reports where
    /// it stopped.
    fn read(&mut self, options: LineOptions, out: &mut dyn Emit) -> std::io::Result<()> {
        let result = self.run(options, out);
        let _ = out.at(self.position());
        match result {
            Ok(()) | Err(LinesError::Stopped) => Ok(()),
            Err(LinesError::Io(error)) => Err(error),
        }
    }

    /// Where the next line starts.
    fn position(&self) -> Position {
        Position::File {
            offset: self.consumed + self.start as u64,
            line: self.offset,
        }
    }

    fn run(&mut self, options: LineOptions, out: &mut dyn Emit) -> Result<(), LinesError> {
        loop {
            while let Some(newline) = self.buf[self.start..self.end]
                .iter()
                .position(|&b| b == b'\n')
            {
                let line_end = self.start + newline;
                self.emit(self.start, line_end, out)?;
                self.start = line_end + 1;
                if out.barrier_due() {
                    out.at(self.position())?;
                }
            }
            if options.flush_on_short_read && !self.last_read_full {
                out.flush()?;
            }
            if self.fill()? > 0 {
                continue;
            }
            if !options.follow {
                if self.start < self.end {
                    self.emit(self.start, self.end, out)?;
                    self.start = self.end;
                }
                return Ok(());
            }
            out.flush()?;
            if out.barrier_due() {
                out.at(self.position())?;
            }
            if !wait(out) {
                return Ok(());
            }
        }
    }

    /// Emits `buf[from..to]` (a line without its `\n`) unless it is empty.
    fn emit(&mut self, from: usize, to: usize, out: &mut dyn Emit) -> Result<(), Stopped> {
        let offset = self.offset;
        self.offset += 1;
        let mut line = &self.buf[from..to];
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        if line.is_empty() {
            return Ok(());
        }
        let mut event = Event::from_value(line);
        event.position = SourcePosition {
            source: Arc::clone(self.name),
            topic: None,
            partition: 0,
            offset,
        };
        out.emit(event)
    }

    /// Moves unread bytes to the front (growing the buffer when a line fills
    /// it), reads once, and returns how many bytes came in.
    fn fill(&mut self) -> std::io::Result<usize> {
        self.consumed += self.start as u64;
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.end == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let space = self.buf.len() - self.end;
        let n = loop {
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(n) => break n,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            }
        };
        self.end += n;
        self.last_read_full = n == space;
        Ok(n)
    }
}

/// Sleeps one poll interval unless the pipeline is stopping; returns whether
/// to go on.
fn wait(out: &dyn Emit) -> bool {
    if out.stopping() {
        return false;
    }
    std::thread::sleep(POLL_INTERVAL);
    !out.stopping()
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use super::*;
    use crate::source::testing::Collect;

    fn lines(input: &[u8], options: LineOptions) -> Collect {
        let name: Arc<str> = Arc::from("in");
        let mut out = Collect::default();
        read_lines(&name, Cursor::new(input.to_vec()), options, &mut out).unwrap();
        out
    }

    const ONCE: LineOptions = LineOptions {
        follow: false,
        flush_on_short_read: false,
    };

    #[test]
    fn lines_become_events_with_line_offsets() {
        let out = lines(b"{\"a\":1}\r\n\n{\"a\":2}\nnot json\n\n", ONCE);
        assert_eq!(out.values(), ["{\"a\":1}", "{\"a\":2}", "not json"]);
        let offsets: Vec<u64> = out.events.iter().map(|e| e.position.offset).collect();
        assert_eq!(offsets, [0, 2, 3]);
        assert!(
            out.events
                .iter()
                .all(|e| &*e.position.source == "in" && e.time == 0)
        );
    }

    #[test]
    fn a_last_line_without_newline_is_emitted_at_the_end() {
        assert_eq!(lines(b"a\nb", ONCE).values(), ["a", "b"]);
        assert!(lines(b"", ONCE).events.is_empty());
    }

    #[test]
    fn lines_longer_than_the_buffer_are_kept_whole() {
        let long = "x".repeat(BUFFER_BYTES * 3 + 7);
        let input = format!("{long}\nshort\n{long}");
        let out = lines(input.as_bytes(), ONCE);
        assert_eq!(out.values(), [long.as_str(), "short", long.as_str()]);
    }

    #[test]
    fn invalid_utf8_is_passed_through() {
        let out = lines(b"\xff\xfe\n", ONCE);
        assert_eq!(out.events[0].value, b"\xff\xfe");
    }

    #[test]
    fn a_stopped_pipeline_ends_reading() {
        let name: Arc<str> = Arc::from("in");
        let mut out = Collect {
            stop_after: Some(2),
            ..Collect::default()
        };
        read_lines(&name, Cursor::new(b"1\n2\n3\n4\n".to_vec()), ONCE, &mut out).unwrap();
        assert_eq!(out.values(), ["1", "2"]);
    }

    #[test]
    fn short_reads_flush_when_asked() {
        let options = LineOptions {
            follow: false,
            flush_on_short_read: true,
        };
        let out = lines(b"1\n2\n", options);
        assert_eq!(out.flushes, [0, 2]);
    }

    #[test]
    fn a_followed_file_yields_appended_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.jsonl");
        std::fs::write(&path, "1\n2\npart").unwrap();

        let writer_path = path.clone();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(writer_path)
                .unwrap();
            file.write_all(b"ial\n3\n").unwrap();
        });

        let mut source = FileSource::open("in", &path, true, None).unwrap();
        let mut out = Collect {
            stop_after: Some(4),
            ..Collect::default()
        };
        source.run(&mut out).unwrap();
        writer.join().unwrap();
        assert_eq!(out.values(), ["1", "2", "partial", "3"]);
        assert_eq!(out.flushes.first(), Some(&2), "flushed before waiting");
    }

    #[test]
    fn a_missing_file_names_source_and_path() {
        let Err(error) = FileSource::open("in", Path::new("/nonexistent/in.jsonl"), false, None)
        else {
            panic!("opened a missing file");
        };
        assert!(
            error
                .to_string()
                .starts_with("source `in`: cannot read /nonexistent/in.jsonl: "),
            "{error}"
        );
    }
}
