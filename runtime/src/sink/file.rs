//! The file sink: one line per event in a file.
//!
//! Its directory is created if missing. Writes go through a buffer;
//! [`Sink::flush`] pushes them to the operating system. How the file is
//! opened and when lines become visible depends on the pipeline's
//! checkpoints ([`Opening`]):
//!
//! - **Without checkpoints**, the file is truncated when the pipeline
//!   starts and lines are written to it directly.
//! - **At least once**, the same, except that a restart from a checkpoint
//!   keeps the file and appends (dropping a partly written last line, which
//!   the replay writes again).
//! - **Exactly once**, lines go to a staging file beside it,
//!   `<file>.weir-pending`. A checkpoint barrier makes the staged lines
//!   durable and renames them `<file>.weir-part-<id>` ([`Sink::prepare`]);
//!   once the checkpoint is complete they are appended to the file, which
//!   is synced, and the part is removed ([`Sink::commit`]). The checkpoint
//!   records the part, its length and the file's length before it, so a
//!   restart finishes a commit a crash interrupted (the part is still
//!   there) and cuts off anything appended after the checkpoint. A reader
//!   therefore only ever sees lines of complete checkpoints, each once,
//!   though it may see a commit's lines while they are being appended.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{Prepared, Sink, SinkError, write_line};
use crate::config::SinkFormat;
use crate::event::Event;

/// Size of the write buffer.
const BUFFER_BYTES: usize = 256 << 10;

/// How a file sink opens its file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Opening {
    /// Truncate it and write to it directly.
    Fresh,
    /// Keep it (a restart, at least once): append, after dropping a partly
    /// written last line.
    Append,
    /// Exactly once: stage lines until a checkpoint commits them. `restore`
    /// is what the restored checkpoint recorded for this sink (`None` on a
    /// first run: the file is truncated).
    Staged {
        /// The sink's part of the restored checkpoint.
        restore: Option<FileCommit>,
    },
}

/// A file sink's part of a checkpoint: what it needs to finish the commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileCommit {
    /// The staged part (absent once committed).
    pub staged: PathBuf,
    /// The file's length before the part is appended.
    pub visible_len: u64,
    /// The part's length.
    pub staged_len: u64,
}

/// Writes events to a file.
pub struct FileSink {
    name: String,
    path: PathBuf,
    format: SinkFormat,
    out: BufWriter<File>,
    line: Vec<u8>,
    /// Exactly once: the staged part of the checkpoint being committed.
    staging: Option<Staging>,
}

struct Staging {
    pending: PathBuf,
    prepared: Option<(u64, FileCommit)>,
    /// The append of the last committed part, on a thread of its own so
    /// that the sink thread goes on meanwhile; the next prepare waits for
    /// it, since the next part's `visible_len` is the file's length after
    /// it.
    committing: Option<(PathBuf, std::thread::JoinHandle<std::io::Result<()>>)>,
}

impl Staging {
    /// Waits for the last commit's append to end.
    fn settle(&mut self, name: &str) -> Result<(), SinkError> {
        let Some((part, append)) = self.committing.take() else {
            return Ok(());
        };
        match append.join() {
            Ok(result) => result.map_err(|e| io_error(name, &part, e)),
            Err(_) => Err(io_error(
                name,
                &part,
                std::io::Error::other("the thread appending it panicked"),
            )),
        }
    }
}

impl FileSink {
    /// Opens `path` as `opening` says, creating its directory if needed.
    ///
    /// # Errors
    ///
    /// [`SinkError::Io`] when the directory or a file cannot be created,
    /// read or written, [`SinkError::Restore`] when the file is shorter
    /// than the restored checkpoint says it was.
    pub fn open(
        name: &str,
        path: &Path,
        format: SinkFormat,
        opening: &Opening,
    ) -> Result<Self, SinkError> {
        let io = |error| io_error(name, path, error);
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let (file, staging) = match opening {
            Opening::Fresh => (File::create(path).map_err(io)?, None),
            Opening::Append => (append_whole_lines(path).map_err(io)?, None),
            Opening::Staged { restore } => {
                recover(name, path, restore.as_ref())?;
                let pending = sibling(path, "weir-pending");
                let file = File::create(&pending).map_err(|e| io_error(name, &pending, e))?;
                let staging = Staging {
                    pending,
                    prepared: None,
                    committing: None,
                };
                (file, Some(staging))
            }
        };
        tracing::debug!(sink = name, path = %path.display(), ?opening, "file sink opened");
        Ok(FileSink {
            name: name.to_string(),
            path: path.to_path_buf(),
            format,
            out: BufWriter::with_capacity(BUFFER_BYTES, file),
            line: Vec::new(),
            staging,
        })
    }

    /// Opens `path` fresh (truncated).
    ///
    /// # Errors
    ///
    /// As for [`FileSink::open`].
    pub fn create(name: &str, path: &Path, format: SinkFormat) -> Result<Self, SinkError> {
        FileSink::open(name, path, format, &Opening::Fresh)
    }

    fn error(&self, error: std::io::Error) -> SinkError {
        io_error(&self.name, &self.path, error)
    }
}

fn io_error(sink: &str, path: &Path, error: std::io::Error) -> SinkError {
    SinkError::Io {
        sink: sink.to_string(),
        what: path.display().to_string(),
        error,
    }
}

/// `<path>.<suffix>`.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

/// Opens `path` for appending, creating it, and cuts off a last line that
/// has no newline (a write a crash interrupted).
fn append_whole_lines(path: &Path) -> std::io::Result<File> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    let len = file.metadata()?.len();
    let mut keep = len;
    let mut chunk = vec![0; 64 << 10];
    while keep > 0 {
        let from = keep.saturating_sub(chunk.len() as u64);
        let n = (keep - from) as usize;
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut chunk[..n])?;
        match chunk[..n].iter().rposition(|&b| b == b'\n') {
            Some(i) => {
                keep = from + i as u64 + 1;
                break;
            }
            None => keep = from,
        }
    }
    if keep < len {
        file.set_len(keep)?;
    }
    file.seek(SeekFrom::End(0))?;
    Ok(file)
}

/// Brings `path` to what the restored checkpoint committed: finishes its
/// commit if a crash interrupted it, cuts off what came after, and removes
/// staged files of checkpoints that never completed.
fn recover(name: &str, path: &Path, restore: Option<&FileCommit>) -> Result<(), SinkError> {
    let io = |error| io_error(name, path, error);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    match restore {
        None => file.set_len(0).map_err(io)?,
        Some(commit) => {
            if len < commit.visible_len {
                return Err(SinkError::Restore {
                    sink: name.to_string(),
                    what: path.display().to_string(),
                    message: format!(
                        "the checkpoint had {} bytes committed to it, but it has {len}; was it \
                         truncated or replaced?",
                        commit.visible_len
                    ),
                });
            }
            if commit.staged_len > 0 && commit.staged.exists() {
                file.set_len(commit.visible_len).map_err(io)?;
                append_part(&file, &commit.staged)
                    .map_err(|e| io_error(name, &commit.staged, e))?;
                tracing::info!(
                    sink = name,
                    part = %commit.staged.display(),
                    "finished an interrupted commit"
                );
            } else {
                let committed = commit.visible_len + commit.staged_len;
                if len < committed {
                    return Err(SinkError::Restore {
                        sink: name.to_string(),
                        what: path.display().to_string(),
                        message: format!(
                            "the checkpoint had {committed} bytes committed to it, but it has \
                             {len}; was it truncated or replaced?"
                        ),
                    });
                }
                file.set_len(committed).map_err(io)?;
            }
        }
    }
    file.sync_all().map_err(io)?;
    remove_staged(path).map_err(io)
}

/// Appends the part file `part` to `file`, syncs `file`, and removes the
/// part.
fn append_part(mut file: &File, part: &Path) -> std::io::Result<()> {
    file.seek(SeekFrom::End(0))?;
    let mut staged = File::open(part)?;
    std::io::copy(&mut staged, &mut file)?;
    file.sync_all()?;
    std::fs::remove_file(part)
}

/// Removes every `<path>.weir-part-*` and `<path>.weir-pending`.
fn remove_staged(path: &Path) -> std::io::Result<()> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(());
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!("{}.weir-", name.to_string_lossy());
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let file = entry.file_name();
        let file = file.to_string_lossy();
        if let Some(rest) = file.strip_prefix(&prefix)
            && (rest == "pending" || rest.starts_with("part-"))
        {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// Syncs the directory holding `path`, so that a rename in it is durable.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => File::open(dir)?.sync_all(),
        None => File::open(".")?.sync_all(),
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

    fn prepare(&mut self, checkpoint: u64) -> Result<Option<Prepared>, SinkError> {
        self.flush()?;
        let Some(staging) = &mut self.staging else {
            return Ok(None);
        };
        staging.settle(&self.name)?;
        let pending = staging.pending.clone();
        let io = |e| io_error(&self.name, &pending, e);
        let file = self.out.get_ref();
        file.sync_data().map_err(io)?;
        let staged_len = file.metadata().map_err(io)?.len();
        let visible_len = match std::fs::metadata(&self.path) {
            Ok(meta) => meta.len(),
            Err(e) => return Err(self.error(e)),
        };
        let part = sibling(&self.path, &format!("weir-part-{checkpoint}"));
        if staged_len > 0 {
            std::fs::rename(&pending, &part).map_err(io)?;
            sync_dir(&part).map_err(io)?;
            let file = File::create(&pending).map_err(io)?;
            self.out = BufWriter::with_capacity(BUFFER_BYTES, file);
        }
        let commit = FileCommit {
            staged: part,
            visible_len,
            staged_len,
        };
        if let Some(staging) = &mut self.staging {
            staging.prepared = Some((checkpoint, commit.clone()));
        }
        Ok(Some(Prepared::File(commit)))
    }

    fn commit(&mut self, checkpoint: u64) -> Result<(), SinkError> {
        let Some(staging) = &mut self.staging else {
            return Ok(());
        };
        let Some((id, commit)) = staging.prepared.take() else {
            return Ok(());
        };
        debug_assert_eq!(
            id, checkpoint,
            "a commit of another checkpoint than prepared"
        );
        if commit.staged_len == 0 {
            return Ok(());
        }
        let file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(|e| io_error(&self.name, &self.path, e))?;
        let part = commit.staged.clone();
        let append = std::thread::Builder::new()
            .name(format!("weir-commit-{}", self.name))
            .spawn(move || append_part(&file, &commit.staged))
            .map_err(|e| io_error(&self.name, &part, e))?;
        staging.committing = Some((part, append));
        Ok(())
    }

    fn close(&mut self) -> Result<(), SinkError> {
        self.flush()?;
        match &mut self.staging {
            Some(staging) => staging.settle(&self.name),
            None => Ok(()),
        }
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        // A commit still appending after an error elsewhere: let it end,
        // so that the part is appended or left whole for the restart.
        if let Some(staging) = &mut self.staging
            && let Err(error) = staging.settle(&self.name)
        {
            tracing::error!(sink = %self.name, %error, "a commit's append failed");
        }
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

    fn staged(path: &Path, restore: Option<FileCommit>) -> FileSink {
        FileSink::open("out", path, SinkFormat::Value, &Opening::Staged { restore }).unwrap()
    }

    fn prepared(sink: &mut FileSink, id: u64) -> FileCommit {
        match sink.prepare(id).unwrap() {
            Some(Prepared::File(commit)) => commit,
            None => panic!("a staged sink prepared nothing"),
        }
    }

    #[test]
    fn staged_lines_become_visible_only_at_commit_and_a_restart_finishes_or_undoes_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let read = || std::fs::read_to_string(&path).unwrap();
        let mut sink = staged(&path, None);
        sink.write(&[Event::from_value(&b"a"[..])]).unwrap();
        sink.flush().unwrap();
        assert_eq!(read(), "");
        let first = prepared(&mut sink, 1);
        assert_eq!((first.visible_len, first.staged_len), (0, 2));
        assert!(first.staged.exists());
        assert_eq!(read(), "");
        sink.commit(1).unwrap();
        sink.close().unwrap();
        assert_eq!(read(), "a\n");
        assert!(!first.staged.exists());

        sink.write(&[Event::from_value(&b"b"[..])]).unwrap();
        let second = prepared(&mut sink, 2);
        // A crash after checkpoint 2 became durable, before its commit.
        drop(sink);
        let mut sink = staged(&path, Some(second.clone()));
        assert_eq!(read(), "a\nb\n", "the restart finished the commit");
        assert!(!second.staged.exists());

        // Lines of a checkpoint that never completed are gone after a
        // restart from the one before, and so is a commit made after it.
        sink.write(&[Event::from_value(&b"c"[..])]).unwrap();
        let third = prepared(&mut sink, 3);
        sink.commit(3).unwrap();
        sink.close().unwrap();
        drop(sink);
        assert_eq!(read(), "a\nb\nc\n");
        let _sink = staged(&path, Some(second));
        assert_eq!(read(), "a\nb\n");
        assert!(!third.staged.exists());
        let pending = dir.path().join("out.jsonl.weir-pending");
        assert_eq!(std::fs::read(pending).unwrap(), b"");
    }

    #[test]
    fn a_file_shorter_than_its_checkpoint_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        std::fs::write(&path, "a\n").unwrap();
        let commit = FileCommit {
            staged: dir.path().join("out.jsonl.weir-part-9"),
            visible_len: 10,
            staged_len: 4,
        };
        let opening = Opening::Staged {
            restore: Some(commit),
        };
        let Err(error) = FileSink::open("out", &path, SinkFormat::Value, &opening) else {
            panic!("a truncated file was accepted");
        };
        assert_eq!(
            error.to_string(),
            format!(
                "sink `out`: cannot restore {}: the checkpoint had 10 bytes committed to it, but \
                 it has 2; was it truncated or replaced?",
                path.display()
            )
        );
    }

    #[test]
    fn appending_after_a_restart_drops_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        std::fs::write(&path, "a\nb\npart").unwrap();
        let mut sink = FileSink::open("out", &path, SinkFormat::Value, &Opening::Append).unwrap();
        sink.write(&[Event::from_value(&b"c"[..])]).unwrap();
        sink.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nb\nc\n");
    }
}
