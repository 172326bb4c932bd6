//! Keyed state in every language: a language SDK's `examples/sequence`
//! against the Rust `plugins/sequence` on the same inputs, in keyed
//! pipelines.
//!
//! Each case runs twice, once with each plugin, in its own scratch
//! directory (so each run starts from an empty state store). The pipeline
//! reads `in.jsonl`, keys by `card`, runs the test-only `hostile` plugin
//! with `behaviour = "unwrap"` (a marked event's value becomes the text of
//! its `raw` field, so that `sequence` also sees values that are not JSON
//! objects, which a `[key_by]` field would refuse before any stage) and
//! then the plugin under test.
//!
//! [`check_sequence`] first checks the Rust plugin's run against what the
//! case expects (so that the comparison cannot pass on two empty runs),
//! then asserts that the language's run is the same: the same `init` error,
//! or the same output values byte for byte (in the same order where one
//! worker writes them; with two, each key's outputs keep their order but the
//! workers' interleave as they come, so the values are compared sorted: each
//! holds its count) and the same dead letters (kind, message, stage, source
//! position, event). The one allowance is that of the SDK corpus: a "value
//! is not json" reason need only share that prefix, because each language's
//! JSON parser words its errors its own way.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::{Scratch, file_pipeline, plugin, run_pipeline, runtime, toml_path};

/// The prefix of every "value is not json" reason.
const NOT_JSON: &str = "value is not json: ";
/// The reason for a value that is JSON but not an object.
const NOT_OBJECT: &str = "value is not a json object";
/// What key-by says of an event without a card.
const NO_CARD: &str = "key field `card` is missing";
/// Where an expected output's number goes.
const N: &str = "{N}";

/// What the Rust plugin is expected to do with one input line.
#[derive(Clone, Debug)]
enum Expect {
    /// The value has no `card`: key-by dead-letters it.
    Malformed,
    /// The event is numbered: this output, with the key's count for `{N}`.
    Numbered(String),
    /// `sequence` refuses the event with this reason (for reasons that are
    /// the JSON parser's own, only the [`NOT_JSON`] prefix).
    Refused(String),
}

/// One pipeline, run with each plugin.
struct Case {
    /// The case's name, for failure messages.
    name: &'static str,
    /// Lines of the `[pipeline]` table besides its name.
    settings: &'static str,
    /// Whether one worker runs the pipeline, so that the outputs' order is
    /// fixed.
    ordered: bool,
    /// Tables written after `[key_by]`, such as `[event_time]`.
    extra: &'static str,
    /// The `sequence` stage's `config` value (an inline TOML table).
    config: String,
    /// The input lines and what the Rust plugin does with each.
    input: Vec<(String, Expect)>,
    /// The Rust plugin's `init` error, for a config it refuses.
    init_error: Option<String>,
}

/// What a run produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SequenceRun {
    /// The pipeline ran to its end.
    Ran {
        /// The output values as written, sorted when two workers wrote
        /// them (their outputs interleave as they come).
        out: Vec<String>,
        /// The dead letters by input line, without the plugin digest and
        /// with a "value is not json" reason cut to that prefix.
        dead: Vec<Value>,
    },
    /// The plugin's `init` refused the config with this message.
    InitFailed(String),
}

/// Runs `component`, a language's `examples/sequence`, and the Rust
/// `sequence` plugin over the same inputs and asserts the same results.
///
/// # Panics
///
/// When the component does not import keyed state, when the Rust plugin
/// does not do what a case expects, or when the two runs differ.
pub fn check_sequence(language: &str, component: &Path) {
    assert_imports_state(component, true);
    let rust = plugin("sequence");
    let mut cases = vec![numbering(), field(), ttl()];
    cases.extend(configs());
    for case in &cases {
        let expected = run(&rust, case);
        check_expected(case, &expected);
        let observed = run(component, case);
        assert_eq!(
            expected, observed,
            "{language} sequence, case {} with config {}: the Rust plugin's run (left) differs \
             from the {language} plugin's (right)",
            case.name, case.config
        );
    }
}

/// Asserts whether `component` imports `weir:plugin/state`, which makes weir
/// open a state store for it.
///
/// # Panics
///
/// When it does not as `expected`, or when it cannot be loaded.
pub fn assert_imports_state(component: &Path, expected: bool) {
    let plugin = runtime()
        .load(component)
        .unwrap_or_else(|e| panic!("cannot load {}: {e}", component.display()));
    assert_eq!(
        plugin.uses_state(),
        expected,
        "{} {} weir:plugin/state",
        component.display(),
        if expected {
            "does not import"
        } else {
            "imports"
        }
    );
}

/// `text` as a JSON string.
fn json_string(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

/// A marked event of `card` that the `unwrap` stage turns into `raw`.
fn marked(card: &str, raw: &str) -> String {
    format!(
        r#"{{"card":"{card}","mark":true,"raw":{}}}"#,
        json_string(raw)
    )
}

/// Values the `unwrap` stage hands to `sequence`, with what the Rust plugin
/// does with each (`{N}` is the count in an output).
fn unusual_values() -> Vec<(&'static str, Expect)> {
    let numbered = |out: &str| Expect::Numbered(out.to_owned());
    let refused = |reason: &str| Expect::Refused(reason.to_owned());
    vec![
        ("{}", numbered(r#"{"seq":{N}}"#)),
        ("{ \t}", numbered(r#"{"seq":{N}}"#)),
        (
            " \t{\"x\":[1,{\"y\":null}]} ",
            numbered(r#"{"seq":{N},"x":[1,{"y":null}]}"#),
        ),
        ("{ \"x\" : 1 }", numbered(r#"{"seq":{N}, "x" : 1 }"#)),
        ("{\"a\":1,\"a\":2}", numbered(r#"{"seq":{N},"a":1,"a":2}"#)),
        (
            "{\"e\":\"\\u00e9\u{e9}\u{2028}\",\"n\":1e400}",
            numbered("{\"seq\":{N},\"e\":\"\\u00e9\u{e9}\u{2028}\",\"n\":1e400}"),
        ),
        ("[1,2]", refused(NOT_OBJECT)),
        ("\"text\"", refused(NOT_OBJECT)),
        ("\"\u{e9}\"", refused(NOT_OBJECT)),
        (" 42", refused(NOT_OBJECT)),
        ("null", refused(NOT_OBJECT)),
        ("true", refused(NOT_OBJECT)),
        ("{\"a\":", refused(NOT_JSON)),
        ("{\"a\":1}{\"b\":2}", refused(NOT_JSON)),
        ("{\"a\":1,}", refused(NOT_JSON)),
        ("{\"a\":01}", refused(NOT_JSON)),
        ("nul", refused(NOT_JSON)),
        ("", refused(NOT_JSON)),
    ]
}

const CARDS: [&str; 5] = ["a", "b", "c", "d", "e"];

/// Many events of five cards in batches of three over two workers, every
/// unusual value among them, and events without a card.
fn numbering() -> Case {
    let unusual = unusual_values();
    let mut input = Vec::new();
    let mut next_unusual = 0;
    for i in 0..90 {
        let card = CARDS[i * 7 % 5];
        if i % 13 == 6 {
            input.push((format!(r#"{{"i":{i}}}"#), Expect::Malformed));
        } else if i % 4 == 1 && next_unusual < unusual.len() {
            let (raw, expect) = &unusual[next_unusual];
            next_unusual += 1;
            input.push((marked(card, raw), expect.clone()));
        } else {
            input.push((
                format!(r#"{{"card":"{card}","i":{i}}}"#),
                Expect::Numbered(format!(r#"{{"seq":{N},"card":"{card}","i":{i}}}"#)),
            ));
        }
    }
    assert_eq!(next_unusual, unusual.len(), "every unusual value is used");
    Case {
        name: "numbering",
        settings: "parallelism = 2\nbatch_size = 3",
        ordered: false,
        extra: "",
        config: "{}".into(),
        input,
        init_error: None,
    }
}

/// A member name that needs escaping, over two workers in batches of two.
fn field() -> Case {
    // TOML for the name `n"\`, U+0001, `é/`; weir-json writes U+0001 as
    // `\u0001`.
    let config = r#"{ field = "n\"\\\u0001é/" }"#.to_owned();
    let member = "\"n\\\"\\\\\\u0001\u{e9}/\":";
    let mut input = Vec::new();
    for i in 0..14 {
        let card = CARDS[i % 3];
        input.push((
            format!(r#"{{"card":"{card}","i":{i}}}"#),
            Expect::Numbered(format!(r#"{{{member}{N},"card":"{card}","i":{i}}}"#)),
        ));
    }
    input.push((
        marked("a", "{ }"),
        Expect::Numbered(format!("{{{member}{N}}}")),
    ));
    input.push((marked("b", "[]"), Expect::Refused(NOT_OBJECT.into())));
    Case {
        name: "field",
        settings: "parallelism = 2\nbatch_size = 2",
        ordered: false,
        extra: "",
        config,
        input,
        init_error: None,
    }
}

/// `ttl_ms`: counts expire once the watermark passes an event's time plus
/// 50 ms (`tests/engine_state.rs` explains each number). One event per
/// batch on one worker, so that the watermark moves between events.
fn ttl() -> Case {
    let lines = [
        (r#"{"card":"a","ts":0}"#, 1),
        (r#"{"card":"a","ts":40}"#, 2),
        (r#"{"card":"b","ts":89}"#, 1),
        (r#"{"card":"a","ts":90}"#, 3),
        (r#"{"card":"b","ts":200}"#, 2),
        (r#"{"card":"a","ts":201}"#, 1),
    ];
    Case {
        name: "ttl",
        settings: "batch_size = 1",
        ordered: true,
        extra: "[event_time]\nfield = \"ts\"\n",
        config: r#"{ ttl_ms = "50" }"#.into(),
        input: lines
            .iter()
            .map(|(line, n)| {
                // The count is fixed here rather than by the model in
                // `check_expected`, which knows nothing of expiry.
                let numbered = format!(r#"{{"seq":{n},{}"#, &line[1..]);
                ((*line).to_owned(), Expect::Numbered(numbered))
            })
            .collect(),
        init_error: None,
    }
}

/// Config values the Rust plugin refuses at init or accepts.
fn configs() -> Vec<Case> {
    let ttl_refused = [
        "soon",
        "0",
        "-1",
        " 5",
        "5 ",
        "1_000",
        "5ms",
        "",
        "+",
        "\u{663}",
        "18446744073709551616",
    ];
    let mut cases: Vec<Case> = ttl_refused
        .iter()
        .map(|ttl| {
            config_case(
                format!("{{ ttl_ms = {} }}", json_string(ttl)),
                Some(format!(
                    "config `ttl_ms`: expected a positive whole number of milliseconds, got `{ttl}`"
                )),
            )
        })
        .collect();
    cases.push(config_case(
        r#"{ field = "" }"#.into(),
        Some("config `field`: must not be empty".into()),
    ));
    for ttl in ["+5", "007", "18446744073709551615"] {
        cases.push(config_case(format!("{{ ttl_ms = \"{ttl}\" }}"), None));
    }
    cases
}

/// Three events of one card with the stage config `config`, which the Rust
/// plugin refuses with `init_error` or accepts.
fn config_case(config: String, init_error: Option<String>) -> Case {
    Case {
        name: "config",
        settings: "",
        ordered: true,
        extra: "",
        init_error,
        config,
        input: (0..3)
            .map(|i| {
                (
                    format!(r#"{{"card":"a","i":{i}}}"#),
                    Expect::Numbered(format!(r#"{{"seq":{N},"card":"a","i":{i}}}"#)),
                )
            })
            .collect(),
    }
}

/// Runs `case` with `component` as the `sequence` stage.
fn run(component: &Path, case: &Case) -> SequenceRun {
    let scratch = Scratch::new();
    let input: String = case
        .input
        .iter()
        .map(|(line, _)| format!("{line}\n"))
        .collect();
    scratch.write("in.jsonl", &input);
    let stages = format!(
        r#"
[key_by]
field = "card"

{extra}

[[stage]]
name = "unwrap"
plugin = {hostile}
config = {{ behaviour = "unwrap" }}

[[stage]]
name = "sequence"
plugin = {component}
config = {config}
"#,
        extra = case.extra,
        hostile = toml_path(&plugin("hostile")),
        component = toml_path(component),
        config = case.config,
    );
    let settings = format!("name = \"sequence\"\n{}", case.settings);
    let path = scratch.write("pipeline.toml", &file_pipeline(&settings, &stages));
    if let Err(error) = run_pipeline(&path) {
        let marker = "plugin init failed: ";
        let at = error.find(marker).unwrap_or_else(|| {
            panic!(
                "case {} with {}: the pipeline failed: {error}",
                case.name,
                component.display()
            )
        });
        return SequenceRun::InitFailed(error[at + marker.len()..].to_owned());
    }
    let mut out = scratch.lines("out.jsonl");
    if !case.ordered {
        out.sort();
    }
    let mut dead: Vec<Value> = scratch
        .lines("dead.jsonl")
        .iter()
        .map(|line| {
            let mut letter: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("dead letters are json: {e}: {line}"));
            let object = letter.as_object_mut().expect("a dead letter is an object");
            object.remove("plugin");
            if object["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(NOT_JSON))
            {
                object.insert("message".into(), NOT_JSON.into());
            }
            letter
        })
        .collect();
    dead.sort_by_key(|letter| letter["source"]["offset"].as_u64());
    SequenceRun::Ran { out, dead }
}

/// Checks the Rust plugin's run of `case` against what the case expects:
/// its `init` error, or the outputs (numbered per card in input order, a
/// refused event not counted) and the dead letters.
fn check_expected(case: &Case, run: &SequenceRun) {
    let context = format!("case {} with config {}", case.name, case.config);
    let (out, dead) = match (run, &case.init_error) {
        (SequenceRun::Ran { out, dead, .. }, None) => (out, dead),
        (SequenceRun::InitFailed(message), Some(expected)) => {
            assert_eq!(message, expected, "{context}: the Rust plugin's init error");
            return;
        }
        (run, expected) => {
            panic!("{context}: the Rust plugin did {run:?}, expected the init error {expected:?}")
        }
    };
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut expected_out = Vec::new();
    let mut expected_dead = Vec::new();
    for (offset, (line, expect)) in case.input.iter().enumerate() {
        let value: Value = serde_json::from_str(line).expect("input lines are json");
        match expect {
            Expect::Malformed => expected_dead.push((offset, "malformed", NO_CARD.to_owned())),
            Expect::Refused(reason) => expected_dead.push((offset, "rejected", reason.clone())),
            Expect::Numbered(template) => {
                let card = value["card"].as_str().expect("a numbered event has a card");
                let n = counts.entry(card.to_owned()).or_default();
                *n += 1;
                expected_out.push(template.replace(N, &n.to_string()));
            }
        }
    }
    if !case.ordered {
        expected_out.sort();
    }
    assert_eq!(out, &expected_out, "{context}: the Rust plugin's outputs");
    let dead: Vec<(usize, &str, String)> = dead
        .iter()
        .map(|letter| {
            (
                letter["source"]["offset"].as_u64().expect("offset") as usize,
                letter["kind"].as_str().expect("kind"),
                letter["message"].as_str().expect("message").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        dead, expected_dead,
        "{context}: the Rust plugin's dead letters"
    );
}
