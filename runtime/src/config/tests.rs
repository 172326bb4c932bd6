//! Unit tests of pipeline-file parsing and checking; the table of bad files
//! with their exact messages is in `tests/config_errors.rs`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

const MINIMAL: &str = r#"
[[source]]
name = "in"
type = "generator"
events = "payments"

[[sink]]
name = "out"
type = "stdout"
"#;

/// A directory holding `pipeline.toml` and an (empty) plugin file.
struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("plugins")).unwrap();
        std::fs::write(dir.path().join("plugins/check.wasm"), b"").unwrap();
        std::fs::write(dir.path().join("in.jsonl"), b"{}\n").unwrap();
        Dir { dir }
    }

    fn file(&self) -> PathBuf {
        self.dir.path().join("pipeline.toml")
    }

    fn parse(&self, text: &str) -> Result<PipelineConfig, ConfigError> {
        parse(text, &self.file())
    }

    fn error(&self, text: &str) -> String {
        let message = self.parse(text).unwrap_err().to_string();
        let prefix = format!("{}:", self.file().display());
        message
            .strip_prefix(&prefix)
            .unwrap_or(&message)
            .to_string()
    }
}

#[test]
fn a_minimal_file_gets_the_defaults() {
    let dir = Dir::new();
    let config = dir.parse(MINIMAL).unwrap();
    assert_eq!(config.file, dir.file());
    assert_eq!(config.name, "pipeline");
    assert_eq!(config.parallelism, 1);
    assert_eq!(config.key_groups, 128);
    assert_eq!(config.batch_size, 1024);
    assert_eq!(config.batch_linger, Duration::from_millis(10));
    assert_eq!(config.channel_capacity, 4);
    assert_eq!(config.key_by, KeyBy::SourcePartition);
    assert!(config.stages.is_empty());
    assert_eq!(
        config.sources,
        [SourceConfig {
            name: "in".into(),
            kind: SourceKind::Generator(GeneratorConfig::new(GeneratedKind::Payments)),
        }]
    );
    assert_eq!(
        config.sinks,
        [SinkConfig {
            name: "out".into(),
            kind: SinkKind::Stdout {
                format: SinkFormat::Value
            },
        }]
    );
    assert_eq!(
        config.dead_letter,
        SinkConfig {
            name: "dead-letters".into(),
            kind: SinkKind::File {
                path: dir.dir.path().join("dead-letters.jsonl"),
                format: SinkFormat::Value,
            },
        }
    );
}

#[test]
fn a_full_file_sets_everything() {
    let dir = Dir::new();
    let config = dir
        .parse(
            r#"
[pipeline]
name = "fraud"
parallelism = 2
key_groups = 64
batch_size = 256
batch_linger_ms = 0
channel_capacity = 8

[[source]]
name = "gen"
type = "generator"
events = "clicks"
count = 1000
rate = 50
seed = 9
partitions = 4
out_of_order = 0.25
max_delay_ms = 100
malformed = 0.5
start_time_ms = 0
interval_ms = 1

[[source]]
name = "file"
type = "file"
path = "in.jsonl"
follow = true

[[source]]
name = "console"
type = "stdin"

[key_by]
field = "payer.card"

[[stage]]
name = "check"
plugin = "plugins/check.wasm"
config = { z = "text", a = 1, f = 2.5, b = true, list = [1, "two", { x = 3.0 }], t = { k = "v", n = [] } }
limits = { memory_mib = 8, timeout_ms = 20, max_output_mib = 2 }
on_error = { retry = 3 }

[[stage]]
name = "skip"
plugin = "plugins/check.wasm"
on_error = "skip"

[[sink]]
name = "out"
type = "file"
path = "out/result.jsonl"
format = "envelope"

[dead_letter]
name = "dlq"
type = "stdout"
format = "envelope"
"#,
        )
        .unwrap();
    let root = dir.dir.path();
    assert_eq!(config.name, "fraud");
    assert_eq!((config.parallelism, config.key_groups), (2, 64));
    assert_eq!((config.batch_size, config.channel_capacity), (256, 8));
    assert_eq!(config.batch_linger, Duration::ZERO);
    assert_eq!(
        config.sources[0].kind,
        SourceKind::Generator(GeneratorConfig {
            events: GeneratedKind::Clicks,
            count: Some(1000),
            rate: Some(50.0),
            seed: 9,
            partitions: 4,
            out_of_order: 0.25,
            max_delay_ms: 100,
            malformed: 0.5,
            start_time_ms: 0,
            interval_ms: 1,
        })
    );
    assert_eq!(
        config.sources[1].kind,
        SourceKind::File {
            path: root.join("in.jsonl"),
            follow: true
        }
    );
    assert_eq!(config.sources[2].kind, SourceKind::Stdin);
    assert_eq!(
        config.key_by,
        KeyBy::Field(weir_json::Path::parse("payer.card").unwrap())
    );

    let check = config.stages[0].plugin().expect("a plugin stage");
    assert_eq!(check.plugin, root.join("plugins/check.wasm"));
    let pairs: Vec<(&str, &str)> = check
        .config
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("z", "text"),
            ("a", "1"),
            ("f", "2.5"),
            ("b", "true"),
            ("list", r#"[1,"two",{"x":3}]"#),
            ("t", r#"{"k":"v","n":[]}"#),
        ]
    );
    assert_eq!(
        check.limits,
        Limits {
            memory_bytes: 8 << 20,
            timeout: Duration::from_millis(20),
            max_output_bytes: 2 << 20,
        }
    );
    assert_eq!(check.on_error, ErrorPolicy::Retry { attempts: 3 });
    assert_eq!(
        config.stages[1].plugin().unwrap().on_error,
        ErrorPolicy::Skip
    );
    assert_eq!(config.stages[1].plugin().unwrap().limits, Limits::default());

    assert_eq!(
        config.sinks[0].kind,
        SinkKind::File {
            path: root.join("out/result.jsonl"),
            format: SinkFormat::Envelope
        }
    );
    assert_eq!(config.dead_letter.name, "dlq");
    assert_eq!(
        config.dead_letter.kind,
        SinkKind::Stdout {
            format: SinkFormat::Envelope
        }
    );
}

#[test]
fn event_key_and_policies_parse() {
    let dir = Dir::new();
    let text = format!("{MINIMAL}\n[key_by]\nevent_key = true\n");
    assert_eq!(dir.parse(&text).unwrap().key_by, KeyBy::EventKey);
    for (written, policy) in [
        ("\"dlq\"", ErrorPolicy::DeadLetter),
        ("\"skip\"", ErrorPolicy::Skip),
        ("\"fail\"", ErrorPolicy::Fail),
        ("{ retry = 1 }", ErrorPolicy::Retry { attempts: 1 }),
    ] {
        let text = format!(
            "{MINIMAL}\n[[stage]]\nname = \"s\"\nplugin = \"plugins/check.wasm\"\non_error = {written}\n"
        );
        assert_eq!(
            dir.parse(&text).unwrap().stages[0]
                .plugin()
                .unwrap()
                .on_error,
            policy,
            "{written}"
        );
    }
}

#[test]
fn errors_point_at_the_offending_value() {
    let dir = Dir::new();
    let cases = [
        (
            "[pipeline]\nparallelism = 0\n",
            "2:15: parallelism must be at least 1",
        ),
        (
            "[pipeline]\n  batch_size = 0\n",
            "2:16: batch_size must be between 1 and 65536, found 0",
        ),
        (
            "",
            "1:1: the pipeline has no source, add a `[[source]]` table",
        ),
        (
            "[[source]]\nname = \"in\"\ntype = \"stdin\"\n",
            "1:1: the pipeline has no sink, add a `[[sink]]` table",
        ),
        (
            &format!("{MINIMAL}[key_by]\nfield = \"\"\n"),
            "11:9: invalid key-by field: empty field path",
        ),
        (
            &format!(
                "{MINIMAL}[[stage]]\nname = \"s\"\nplugin = \"plugins/check.wasm\"\non_error = {{ retry = 0 }}\n"
            ),
            "13:12: retry attempts must be at least 1",
        ),
        (
            &format!(
                "{MINIMAL}[[stage]]\nname = \"s\"\nplugin = \"plugins/check.wasm\"\non_error = \"retry\"\n"
            ),
            "13:12: `retry` needs a number of attempts, as in `on_error = { retry = 3 }`",
        ),
        (
            &format!(
                "{MINIMAL}[[stage]]\nname = \"s\"\nplugin = \"plugins/check.wasm\"\nconfig = {{ a = [nan] }}\n"
            ),
            "13:10: config value `a` holds NaN, which JSON cannot represent",
        ),
        (
            &format!(
                "{MINIMAL}[[sink]]\nname = \"x\"\ntype = \"file\"\npath = \"in.jsonl\"\n[[source]]\nname = \"f\"\ntype = \"file\"\npath = \"in.jsonl\"\n"
            ),
            &format!(
                "13:8: sink `x` would overwrite the input of source `f`: `{}`",
                dir.dir.path().join("in.jsonl").display()
            ),
        ),
        (
            &format!(
                "{MINIMAL}[[sink]]\nname = \"x\"\ntype = \"file\"\npath = \"dead-letters.jsonl\"\n"
            ),
            &format!(
                "13:8: sink `x` writes to the same file as the dead-letter output: `{}`",
                dir.dir.path().join("dead-letters.jsonl").display()
            ),
        ),
        (
            "[[source]]\nname = \"é\"\ntype = \"stdin\"\n",
            "2:8: invalid name `é`, expected 1 to 64 ASCII letters, digits, `-`, `_` or `.`",
        ),
        (
            "[[source]]\nname = \"a\"\ntype = \"stdin\"\n[[source]]\nname = \"b\"\ntype = \"stdin\"\n",
            "6:8: only one source may read stdin, and source `a` (line 3, column 8) already does",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(dir.error(text), expected, "for:\n{text}");
    }
}

#[test]
fn columns_count_characters_not_bytes() {
    assert_eq!(line_column("ab\ncé d", 7), (2, 4));
    assert_eq!(line_column("abc", 0), (1, 1));
    assert_eq!(line_column("a\n", 2), (2, 1));
    assert_eq!(line_column("a", 99), (1, 2));
}

#[test]
fn a_relative_pipeline_path_resolves_against_the_working_directory() {
    let dir = Dir::new();
    let config = parse(MINIMAL, Path::new("pipeline.toml")).unwrap();
    let _ = dir;
    assert_eq!(
        config.dead_letter.kind,
        SinkKind::File {
            path: std::path::absolute("dead-letters.jsonl").unwrap(),
            format: SinkFormat::Value
        }
    );
}

#[test]
fn a_missing_file_is_a_read_error() {
    let error = load(Path::new("/nonexistent/pipeline.toml")).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("cannot read pipeline file `/nonexistent/pipeline.toml`: "),
        "{error}"
    );
}
