//! The shared SDK corpus (`tests/fixtures/sdk-corpus/`) and building the
//! example plugins of each language SDK into components.
//!
//! The corpus is the Rust plugins' behaviour written down: `sdk_corpus`
//! checks that the Rust plugins still produce it (and rewrites it with
//! `WEIR_BLESS=1`), and each `sdk_<language>` test runs that language's
//! plugins over the same input and compares with [`assert_matches`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use serde_json::{Value, json};

use crate::{Scratch, root, run_pipeline, toml_path, toml_string};

/// Which plugin a case configures.
pub const PLUGINS: [&str; 2] = ["filter", "json-schema"];

/// One configuration of one plugin, run over the whole input.
#[derive(Clone, Debug)]
pub struct Case {
    /// The case's name; also the stem of its expected files.
    pub name: String,
    /// `filter` or `json-schema`.
    pub plugin: String,
    /// The stage's `config` table, in order.
    pub config: Vec<(String, String)>,
}

/// What a run of a case produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observed {
    /// The pipeline ran: output lines as the file sink wrote them, and the
    /// dead letters as `(input line from 0, kind, message)`.
    Ran {
        /// Output lines, byte for byte.
        out: Vec<String>,
        /// Dead letters in order.
        dead: Vec<(u64, String, String)>,
    },
    /// The plugin's `init` refused the config with this message.
    InitFailed(String),
}

/// The corpus directory.
pub fn corpus_dir() -> PathBuf {
    root().join("tests/fixtures/sdk-corpus")
}

/// Every case of the corpus, in file order.
pub fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(corpus_dir().join("cases.json")).expect("read cases.json");
    let cases: Vec<Value> = serde_json::from_str(&text).expect("cases.json is json");
    cases
        .iter()
        .map(|case| Case {
            name: case["name"].as_str().expect("case name").to_owned(),
            plugin: case["plugin"].as_str().expect("case plugin").to_owned(),
            config: case["config"]
                .as_object()
                .expect("case config")
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().expect("config values are strings").to_owned(),
                    )
                })
                .collect(),
        })
        .collect()
}

/// Runs `component` as the only stage over the corpus input with `case`'s
/// config.
pub fn run_case(component: &Path, case: &Case) -> Observed {
    let scratch = Scratch::new();
    let config: Vec<String> = case
        .config
        .iter()
        .map(|(k, v)| format!("{} = {}", toml_string(k), toml_string(v)))
        .collect();
    let path = scratch.write(
        "pipeline.toml",
        &format!(
            r#"
[pipeline]
name = "sdk-corpus"

[[source]]
name = "in"
type = "file"
path = {input}

[[stage]]
name = "stage"
plugin = {plugin}
config = {{ {config} }}

[[sink]]
name = "out"
type = "file"
path = "out.jsonl"

[dead_letter]
type = "file"
path = "dead.jsonl"
"#,
            input = toml_path(&corpus_dir().join("input.jsonl")),
            plugin = toml_path(component),
            config = config.join(", "),
        ),
    );
    match run_pipeline(&path) {
        Ok(_) => {}
        Err(error) => {
            let marker = "plugin init failed: ";
            let at = error
                .find(marker)
                .unwrap_or_else(|| panic!("case {}: the pipeline failed: {error}", case.name));
            return Observed::InitFailed(error[at + marker.len()..].to_owned());
        }
    }
    let dead = scratch
        .lines("dead.jsonl")
        .iter()
        .map(|line| {
            let letter: Value = serde_json::from_str(line).expect("dead letters are json");
            (
                letter["source"]["offset"].as_u64().expect("offset"),
                letter["kind"].as_str().expect("kind").to_owned(),
                letter["message"].as_str().expect("message").to_owned(),
            )
        })
        .collect();
    Observed::Ran {
        out: scratch.lines("out.jsonl"),
        dead,
    }
}

fn expected_path(case: &Case) -> PathBuf {
    corpus_dir()
        .join("expected")
        .join(format!("{}.json", case.name))
}

/// What the Rust plugin produced for `case`, as recorded in the corpus.
pub fn expected(case: &Case) -> Observed {
    let path = expected_path(case);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; run sdk_corpus with WEIR_BLESS=1",
            path.display()
        )
    });
    let value: Value = serde_json::from_str(&text).expect("expected file is json");
    if let Some(message) = value["init_error"].as_str() {
        return Observed::InitFailed(message.to_owned());
    }
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|s| s.as_str().expect("string").to_owned())
            .collect()
    };
    Observed::Ran {
        out: strings(&value["out"]),
        dead: value["dead"]
            .as_array()
            .expect("dead")
            .iter()
            .map(|d| {
                (
                    d["line"].as_u64().expect("line"),
                    d["kind"].as_str().expect("kind").to_owned(),
                    d["message"].as_str().expect("message").to_owned(),
                )
            })
            .collect(),
    }
}

/// Records `observed` as the expected result of `case`.
pub fn write_expected(case: &Case, observed: &Observed) {
    let value = match observed {
        Observed::InitFailed(message) => json!({ "init_error": message }),
        Observed::Ran { out, dead } => json!({
            "out": out,
            "dead": dead
                .iter()
                .map(|(line, kind, message)| json!({"line": line, "kind": kind, "message": message}))
                .collect::<Vec<_>>(),
        }),
    };
    let text = serde_json::to_string_pretty(&value).expect("serialise") + "\n";
    std::fs::write(expected_path(case), text).expect("write the expected file");
}

/// The prefix every "value is not json" reason shares; what follows is the
/// JSON parser's own wording, which differs per language.
const NOT_JSON: &str = "value is not json: ";

/// Checks a language's result against the Rust plugin's, comparing what the
/// corpus README says must match:
///
/// - outputs, byte for byte, and which input lines are dead-lettered, with
///   which kind;
/// - `filter` messages exactly, except that a "value is not json" reason
///   need only share that prefix (each language's JSON parser words its
///   errors its own way);
/// - `json-schema` messages by the instance locations they list (each
///   language's JSON Schema library words problems its own way and may order
///   them differently);
/// - init errors by the text before the library's own wording: all of it for
///   `filter`, up to the second `: ` for `json-schema`.
pub fn assert_matches(language: &str, case: &Case, expected: &Observed, observed: &Observed) {
    let context = format!(
        "{language} {}: expected {expected:#?}\nobserved {observed:#?}",
        case.name
    );
    match (expected, observed) {
        (Observed::InitFailed(want), Observed::InitFailed(got)) => {
            if case.plugin == "filter" {
                assert_eq!(want, got, "{context}");
            } else {
                assert_eq!(init_error_head(want), init_error_head(got), "{context}");
            }
        }
        (
            Observed::Ran {
                out: want_out,
                dead: want_dead,
            },
            Observed::Ran { out, dead },
        ) => {
            assert_eq!(want_out, out, "outputs differ: {context}");
            assert_eq!(
                want_dead.len(),
                dead.len(),
                "dead letters differ: {context}"
            );
            for ((wl, wk, wm), (l, k, m)) in want_dead.iter().zip(dead) {
                assert_eq!((wl, wk), (l, k), "dead letters differ: {context}");
                assert!(
                    same_reason(&case.plugin, wm, m),
                    "reasons differ: {wm:?} vs {m:?}: {context}"
                );
            }
        }
        _ => panic!("one run failed at init, the other did not: {context}"),
    }
}

fn init_error_head(message: &str) -> &str {
    match message.match_indices(": ").nth(1) {
        Some((at, _)) => &message[..at],
        None => message,
    }
}

fn same_reason(plugin: &str, want: &str, got: &str) -> bool {
    if want.starts_with(NOT_JSON) {
        return got.starts_with(NOT_JSON);
    }
    if plugin == "filter" {
        return want == got;
    }
    schema_locations(want) == schema_locations(got)
}

/// The sorted instance locations a json-schema reason lists.
pub fn schema_locations(reason: &str) -> Vec<String> {
    let mut locations: Vec<String> = reason
        .split("; ")
        .filter(|part| !part.starts_with("and ") || !part.ends_with(" more"))
        .filter_map(|part| part.split(": ").next())
        .map(str::to_owned)
        .collect();
    locations.sort();
    locations
}

/// Runs every corpus case through the `filter` and `json-schema` components
/// of one language and compares each with the Rust plugins' results.
pub fn check_corpus(language: &str, components: &HashMap<&str, PathBuf>) {
    let cases = cases();
    assert!(cases.len() > 20, "the corpus has its cases");
    for case in &cases {
        let component = &components[case.plugin.as_str()];
        let observed = run_case(component, case);
        assert_matches(language, case, &expected(case), &observed);
    }
}

/// A language with an SDK under `sdk/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Language {
    /// `sdk/python`, built with componentize-py.
    Python,
    /// `sdk/js`, bundled with rolldown and built with componentize-js.
    Js,
    /// `sdk/go`, built with Go for wasip1 and made a component with the
    /// WASI preview 1 adapter.
    Go,
    /// `sdk/c`, built with clang and wasi-libc over `wit-bindgen c`
    /// bindings and made a component with the WASI preview 1 adapter.
    C,
}

impl Language {
    /// The SDK's folder name.
    pub fn dir(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Js => "js",
            Language::Go => "go",
            Language::C => "c",
        }
    }
}

/// Builds the plugin project at `sdk/<language>/<project>` (e.g.
/// `examples/filter`) into a component, once per test process.
///
/// # Panics
///
/// When the language's toolchain is missing, with how to install it; when
/// the build fails, with the toolchain's output.
pub fn build(language: Language, project: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<(Language, String), PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    // One build at a time: the machine has few cores and the tools are heavy.
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.get(&(language, project.to_owned())) {
        return path.clone();
    }
    let source = root().join("sdk").join(language.dir()).join(project);
    let out_dir = root()
        .join("target/sdk-build")
        .join(language.dir())
        .join(project);
    std::fs::create_dir_all(&out_dir).expect("create the build directory");
    let output = out_dir.join("plugin.wasm");
    let _ = std::fs::remove_file(&output);
    let mut command = match language {
        Language::Python => {
            require_tool(
                "componentize-py",
                &["--version"],
                "componentize-py 0.25.1",
                "pip install componentize-py==0.25.1",
            );
            let mut command = Command::new("python3");
            command
                .arg(root().join("sdk/python/build.py"))
                .arg(&source)
                .arg("-o")
                .arg(&output)
                .arg("--build-dir")
                .arg(&out_dir);
            command
        }
        Language::Js => {
            require_tool("node", &["--version"], "v", "apt-get install nodejs npm");
            let sdk = root().join("sdk/js");
            assert!(
                sdk.join("node_modules/@bytecodealliance/componentize-js/package.json")
                    .exists(),
                "componentize-js is not installed in sdk/js; run `cargo xtask sdk-deps` \
                 (or `npm ci` in sdk/js)"
            );
            if source.join("package.json").exists() && !source.join("node_modules").exists() {
                let installed = Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund"])
                    .current_dir(&source)
                    .status()
                    .expect("run npm");
                assert!(installed.success(), "npm ci in {} failed", source.display());
            }
            let mut command = Command::new("node");
            command
                .arg(sdk.join("build.js"))
                .arg(&source)
                .arg("-o")
                .arg(&output)
                .arg("--build-dir")
                .arg(&out_dir);
            command
        }
        Language::Go | Language::C => {
            let (tool, args, version, install) = match language {
                Language::Go => (
                    "go",
                    &["version"][..],
                    "go1.",
                    "https://go.dev/dl, Go 1.24 or newer",
                ),
                _ => (
                    "clang",
                    &["--version"][..],
                    "clang version",
                    "apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32",
                ),
            };
            require_tool(tool, args, version, install);
            require_tool(
                "wasm-tools",
                &["--version"],
                "wasm-tools 1.263.0",
                "cargo install --locked wasm-tools@1.263.0",
            );
            if language == Language::C {
                require_tool(
                    "wit-bindgen",
                    &["--version"],
                    "wit-bindgen-cli 0.61.1",
                    "cargo install --locked wit-bindgen-cli@0.61.1",
                );
            }
            let adapter = wasi_adapter();
            assert!(
                adapter.exists(),
                "the wasi preview 1 adapter {} is missing; run `cargo xtask sdk-deps`",
                adapter.display()
            );
            let mut command = Command::new("sh");
            command
                .arg(root().join("sdk").join(language.dir()).join("build.sh"))
                .arg(&source)
                .arg("-o")
                .arg(&output)
                .arg("--build-dir")
                .arg(&out_dir)
                .arg("--adapter")
                .arg(adapter);
            command
        }
    };
    let result = command.output().expect("start the build");
    assert!(
        result.status.success() && output.exists(),
        "building {} failed:\n{}{}",
        source.display(),
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    built.insert((language, project.to_owned()), output.clone());
    output
}

/// The WASI preview 1 reactor adapter the Go and C SDKs build with, written
/// by `cargo xtask sdk-deps` from the crate
/// `wasi-preview1-component-adapter-provider`.
pub fn wasi_adapter() -> PathBuf {
    root().join("target/wasi-adapter/wasi_snapshot_preview1.reactor.wasm")
}

/// Fails unless `tool args` runs and prints `version`.
///
/// # Panics
///
/// Says how to install the tool: `cargo xtask sdk-deps` or `install`.
pub fn require_tool(tool: &str, args: &[&str], version: &str, install: &str) {
    let printed = Command::new(tool)
        .args(args)
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
        })
        .unwrap_or_default();
    assert!(
        printed.contains(version),
        "{version} is needed and `{tool}` is missing or another version ({:?}); install it with \
         `cargo xtask sdk-deps` (or `{install}`)",
        printed.trim()
    );
}
