//! `weir plugin test`: runs a component over a JSON Lines file, one event per
//! line, in one stage with default limits and the `dlq` error policy.
//!
//! The stage is the engine's own [`Stage`], so batching, bisecting failed
//! calls and refusing events work exactly as in a pipeline. Outputs go to
//! one writer (standard output: one value per line), refused and failed
//! events (line number, kind, message) and the summary to another
//! (standard error).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{ErrorPolicy, Limits};
use crate::engine::stage::{Stage, StageError, StageOutput};
use crate::event::{ErrorKind, Event, SourcePosition};
use crate::plugin::instance::{InstanceError, StageSpec};
use crate::plugin::{PluginError, PluginRuntime};

/// Events per call, as in a pipeline's default `batch_size`.
const BATCH: usize = 1024;

/// A test run could not start or could not go on.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    /// A `--config` argument is not `key=value`.
    #[error("invalid --config `{0}`: expected key=value")]
    Config(String),
    /// The input file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Input {
        /// The input file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The component could not be loaded.
    #[error(transparent)]
    Load(#[from] PluginError),
    /// The component could not be instantiated, or its `init` refused the
    /// configuration.
    #[error(transparent)]
    Instance(#[from] InstanceError),
    /// The stage stopped (no fresh instance could be made after a failed
    /// call).
    #[error(transparent)]
    Stage(#[from] StageError),
    /// Outputs or messages could not be written.
    #[error("cannot write the results: {0}")]
    Write(#[from] std::io::Error),
}

/// What a run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Events read (non-empty lines).
    pub read: u64,
    /// Events the plugin passed on or emitted.
    pub written: u64,
    /// Events the plugin refused.
    pub rejected: u64,
    /// Events a call failed on (trap, timeout, memory, invalid output).
    pub failed: u64,
}

/// Reads a `--config key=value` argument.
///
/// # Errors
///
/// [`TestError::Config`] when there is no `=` or the key is empty.
pub fn parse_config(arg: &str) -> Result<(String, String), TestError> {
    match arg.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(TestError::Config(arg.to_owned())),
    }
}

/// Runs `component` over the JSON Lines file `input` with the stage config
/// `config`. Writes each output value on a line of `out`; each refused or
/// failed event as `line N: KIND: MESSAGE` on `messages`, then the summary.
///
/// # Errors
///
/// [`TestError`] when the input cannot be read, the component cannot be
/// loaded or initialised, or the results cannot be written. Refused and
/// failed events are not errors: they are reported.
pub fn run(
    runtime: &PluginRuntime,
    component: &Path,
    input: &Path,
    config: Vec<(String, String)>,
    out: &mut dyn Write,
    messages: &mut dyn Write,
) -> Result<Report, TestError> {
    let text = std::fs::read(input).map_err(|source| TestError::Input {
        path: input.to_owned(),
        source,
    })?;
    let plugin = runtime.load(component)?;
    let name: Arc<str> = component
        .file_stem()
        .map_or_else(|| "plugin".into(), |s| s.to_string_lossy().into());
    let spec = StageSpec {
        name: name.clone(),
        config,
        limits: Limits::default(),
    };
    let mut stage = Stage::new(
        plugin,
        spec,
        ErrorPolicy::DeadLetter,
        runtime.metrics().clone(),
    )?;

    let source: Arc<str> = input.display().to_string().into();
    let events: Vec<Event> = text
        .split(|&b| b == b'\n')
        .enumerate()
        .filter_map(|(offset, line)| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            (!line.trim_ascii().is_empty()).then(|| Event {
                position: SourcePosition {
                    source: source.clone(),
                    topic: None,
                    partition: 0,
                    offset: offset as u64,
                },
                ..Event::from_value(line)
            })
        })
        .collect();

    let mut report = Report {
        read: events.len() as u64,
        ..Report::default()
    };
    let mut outputs = Vec::new();
    let mut dead = Vec::new();
    let mut events = events.into_iter().peekable();
    while events.peek().is_some() {
        let batch: Vec<Event> = events.by_ref().take(BATCH).collect();
        stage.process(
            batch,
            StageOutput {
                events: &mut outputs,
                dead: &mut dead,
            },
        )?;
        for event in outputs.drain(..) {
            out.write_all(&event.value)?;
            out.write_all(b"\n")?;
            report.written += 1;
        }
        for letter in dead.drain(..) {
            if letter.kind == ErrorKind::Rejected {
                report.rejected += 1;
            } else {
                report.failed += 1;
            }
            writeln!(
                messages,
                "line {}: {}: {}",
                letter.event.position.offset + 1,
                letter.kind,
                letter.message
            )?;
        }
    }
    out.flush()?;
    writeln!(
        messages,
        "{name}: read {} events, wrote {}, rejected {}, failed {}",
        report.read, report.written, report.rejected, report.failed
    )?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_config_arguments() {
        assert_eq!(
            parse_config("tag=a=b").unwrap(),
            ("tag".to_owned(), "a=b".to_owned())
        );
        assert_eq!(parse_config("k=").unwrap(), ("k".to_owned(), String::new()));
        assert_eq!(
            parse_config("=x").unwrap_err().to_string(),
            "invalid --config `=x`: expected key=value"
        );
        assert!(parse_config("novalue").is_err());
    }
}
