//! Bad pipeline files and the exact errors they produce.
//!
//! Each fixture under `fixtures/config/` is wrong in one way; the table pairs
//! it with the whole message weir prints, location included. Paths in
//! messages are as the user gave them, so fixtures are loaded by a path
//! relative to this package's root (the working directory of its tests).
//! `{dir}` in an expected message stands for the fixture directory made
//! absolute, which is how resolved paths appear.

use std::path::{Path, PathBuf};

/// (fixture file, expected message after `fixtures/config/<file>:`).
const CASES: &[(&str, &str)] = &[
    // The file is not TOML, or not the expected shape (serde's words).
    ("syntax_error.toml", "1:10: unclosed table, expected `]`"),
    (
        "unknown_key.toml",
        "4:1: unknown field `paralelism`, expected one of `name`, `parallelism`, `key_groups`, \
         `batch_size`, `batch_linger_ms`, `channel_capacity`, `state_dir`",
    ),
    (
        "wrong_type.toml",
        "2:15: invalid type: string \"4\", expected u32",
    ),
    (
        "source_not_a_table.toml",
        "1:10: invalid type: string \"payments\", expected a sequence",
    ),
    ("source_missing_name.toml", "1:1: missing field `name`"),
    (
        "unknown_source_type.toml",
        "3:8: unknown variant `kinesis`, expected one of `generator`, `file`, `stdin`, `kafka`",
    ),
    (
        "unknown_event_kind.toml",
        "4:10: unknown variant `orders`, expected `payments` or `clicks`",
    ),
    (
        "unknown_limit.toml",
        "9:12: unknown field `memory_mb`, expected one of `memory_mib`, `timeout_ms`, \
         `max_output_mib`",
    ),
    (
        "unknown_sink_format.toml",
        "9:10: unknown variant `csv`, expected `value` or `envelope`",
    ),
    (
        "unknown_error_policy.toml",
        "9:12: unknown error policy `ignore`, expected `\"dlq\"`, `\"skip\"`, `\"fail\"` or \
         `{ retry = <attempts> }`",
    ),
    (
        "retry_without_attempts.toml",
        "9:12: `retry` needs a number of attempts, as in `on_error = { retry = 3 }`",
    ),
    // [pipeline] values out of range.
    (
        "parallelism_zero.toml",
        "2:15: parallelism must be at least 1",
    ),
    (
        "key_groups_below_parallelism.toml",
        "3:14: key_groups (4) must be at least parallelism (8), since a key group is the unit \
         of work a worker owns",
    ),
    (
        "key_groups_too_many.toml",
        "2:14: key_groups must be between 1 and 32768, found 40000",
    ),
    (
        "batch_size_zero.toml",
        "2:14: batch_size must be between 1 and 65536, found 0",
    ),
    (
        "invalid_pipeline_name.toml",
        "2:8: invalid name `fraud detection`, expected 1 to 64 ASCII letters, digits, `-`, `_` \
         or `.`",
    ),
    // Sources.
    (
        "no_source.toml",
        "1:1: the pipeline has no source, add a `[[source]]` table",
    ),
    (
        "duplicate_source_name.toml",
        "7:8: duplicate source name `payments`, first used at line 2, column 8",
    ),
    (
        "foreign_source_field.toml",
        "5:10: `follow` does not apply to a `generator` source",
    ),
    (
        "generator_without_events.toml",
        "3:8: a `generator` source needs `events = \"payments\"` or `events = \"clicks\"`",
    ),
    (
        "share_out_of_range.toml",
        "5:13: malformed must be a share between 0 and 1, found 1.5",
    ),
    (
        "rate_zero.toml",
        "5:8: rate must be a positive number of events per second, found 0",
    ),
    (
        "missing_input_file.toml",
        "4:8: input file `no-such-input.jsonl` does not exist (looked for \
         `{dir}/no-such-input.jsonl`)",
    ),
    (
        "two_stdin_sources.toml",
        "7:8: only one source may read stdin, and source `a` (line 3, column 8) already does",
    ),
    // Key-by.
    (
        "invalid_key_by_field.toml",
        "7:9: invalid key-by field: empty segment in field path `payer..card`",
    ),
    (
        "key_by_both.toml",
        "7:9: `[key_by]` takes either `field` or `event_key = true`, not both",
    ),
    (
        "key_by_empty.toml",
        "6:1: `[key_by]` needs `field = \"<path>\"` or `event_key = true`; leave it out to key \
         by source partition",
    ),
    // Stages.
    (
        "missing_plugin.toml",
        "8:10: plugin file `plugins/missing.wasm` does not exist (looked for \
         `{dir}/plugins/missing.wasm`)",
    ),
    // Sinks and the dead-letter output.
    (
        "no_sink.toml",
        "1:1: the pipeline has no sink, add a `[[sink]]` table",
    ),
    (
        "duplicate_sink_name.toml",
        "11:8: duplicate sink name `out`, first used at line 7, column 8",
    ),
    (
        "stdout_with_path.toml",
        "9:8: `path` does not apply to a `stdout` sink",
    ),
    (
        "file_sink_without_path.toml",
        "8:8: a `file` sink needs `path`",
    ),
    (
        "sink_overwrites_input.toml",
        "9:8: sink `out` would overwrite the input of source `in`: `{dir}/events.jsonl`",
    ),
    // Event time, windows and dedupe.
    (
        "window_without_event_time.toml",
        "11:10: window stage `velocity` needs an `[event_time]` table",
    ),
    (
        "window_without_key_by.toml",
        "11:10: window stage `velocity` needs a `[key_by]`: its state is per key",
    ),
    (
        "slide_exceeds_size.toml",
        "14:57: slide_ms (5000) must not exceed size_ms (1000)",
    ),
    (
        "unknown_aggregate.toml",
        "15:28: unknown aggregate function `median`, expected one of count, sum, min, max, avg, \
         distinct_count, first, last",
    ),
    (
        "aggregate_without_field.toml",
        "15:28: `sum` needs a `field`",
    ),
    (
        "aggregates_and_aggregator.toml",
        "16:14: window stage `velocity` has both `aggregates` and `aggregator`; it computes one \
         or the other",
    ),
    (
        "missing_aggregator.toml",
        "15:14: aggregator file `velocity.wasm` does not exist (looked for \
         `{dir}/velocity.wasm`)",
    ),
    (
        "config_without_aggregator.toml",
        "16:10: `config` applies to plugin stages and to a window's `aggregator`, and window \
         stage `velocity` has built-in `aggregates`",
    ),
    (
        "unknown_time_format.toml",
        "8:10: unknown variant `iso`, expected one of `epoch_ms`, `epoch_s`, `rfc3339`",
    ),
    (
        "kafka_auto_commit.toml",
        "7:14: `properties` may not set `enable.auto.commit`: weir commits an offset only once everything before it has reached the sinks",
    ),
    (
        "kafka_unknown_start.toml",
        "7:9: unknown start `beginning`, expected `\"earliest\"`, `\"latest\"`, `\"committed\"` or `{ timestamp_ms = <ms> }`",
    ),
    (
        "kafka_topics_and_pattern.toml",
        "6:17: a `kafka` source takes `topics` or `topic_pattern`, not both",
    ),
    (
        "kafka_bad_broker.toml",
        "4:11: invalid broker `localhost`, expected `<host>:<port>`",
    ),
    (
        "kafka_without_group.toml",
        "3:8: a `kafka` source needs `group`, the consumer group whose committed offsets it resumes from",
    ),
    (
        "kafka_sink_format.toml",
        "10:10: `format` does not apply to a `kafka` sink; a record carries the event's key, value, headers and time as they are",
    ),
    (
        "kafka_unknown_compression.toml",
        "9:15: unknown compression `brotli`, expected `none`, `gzip`, `snappy`, `lz4` or `zstd`",
    ),
    (
        "kafka_bad_topic.toml",
        "9:9: invalid topic `alerts/eu`, expected 1 to 249 ASCII letters, digits, `.`, `_` or `-`",
    ),
    (
        "kafka_field_on_file_source.toml",
        "5:9: `group` does not apply to a `file` source",
    ),
    (
        "plugin_and_dedupe.toml",
        "15:10: stage `once` has both `plugin` and `dedupe`; a stage runs one",
    ),
    (
        "dead_letter_same_file.toml",
        "13:8: the dead-letter output writes to the same file as sink `out`: \
         `{dir}/out/all.jsonl`",
    ),
    // Checkpoints need sources that can be read again and, exactly once,
    // sinks that can stage.
    (
        "checkpoints_stdin.toml",
        "6:8: a `stdin` source cannot be read again after a restart, so a pipeline with \
         `[checkpoints]` cannot have one",
    ),
    (
        "checkpoints_stdout_exactly_once.toml",
        "10:8: sink `out` cannot take part in exactly-once checkpoints: a `stdout` sink \
         cannot take back what it wrote; use a `file` sink or set \
         `mode = \"at-least-once\"` in `[checkpoints]`",
    ),
    (
        "checkpoints_interval.toml",
        "2:15: interval_ms must be between 10 and 86400000, found 5",
    ),
    (
        "checkpoints_mode.toml",
        "2:8: unknown variant `exactly_once`, expected `exactly-once` or `at-least-once`",
    ),
];

fn fixture_dir() -> PathBuf {
    PathBuf::from("fixtures/config")
}

#[test]
fn every_bad_file_gets_its_exact_message() {
    let dir = std::path::absolute(fixture_dir()).unwrap();
    let mut failures = Vec::new();
    for (file, expected) in CASES {
        let path = fixture_dir().join(file);
        let expected = format!(
            "{}:{}",
            path.display(),
            expected.replace("{dir}", &dir.display().to_string())
        );
        match weir::config::load(&path) {
            Ok(_) => failures.push(format!("{file}: accepted, expected `{expected}`")),
            Err(error) if error.to_string() != expected => {
                failures.push(format!(
                    "{file}:\n  got      {error}\n  expected {expected}"
                ));
            }
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_fixture_is_in_the_table() {
    let mut listed: Vec<&str> = CASES.iter().map(|(file, _)| *file).collect();
    listed.sort_unstable();
    let mut found: Vec<String> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".toml"))
        .collect();
    found.sort_unstable();
    assert_eq!(listed, found);
}

#[test]
fn a_missing_pipeline_file_is_a_read_error() {
    let path = Path::new("fixtures/config/no-such-pipeline.toml");
    let error = weir::config::load(path).unwrap_err();
    let expected = "cannot read pipeline file `fixtures/config/no-such-pipeline.toml`: ";
    assert!(error.to_string().starts_with(expected), "{error}");
}
