//! The plugin author's loop through the `weir` binary: `weir plugin new`
//! scaffolds a project per language, `weir plugin build` builds it into a
//! component, `weir plugin test` runs a component over a JSON Lines file.
//!
//! Run `cargo build --release -p weir` first: `cargo test -p weir-tests` does
//! not rebuild the binary. The Python and JavaScript tests need the SDKs'
//! tools (`cargo xtask sdk-deps`); each build takes tens of seconds.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use weir_tests::{Scratch, plugin, root, weir_binary};

/// Every Rust plugin these tests build shares one target directory, so the
/// SDK and its dependencies are compiled once.
fn rust_target_dir() -> PathBuf {
    root().join("target/devloop-test-plugins")
}

fn weir(dir: &Path, args: &[&str]) -> Output {
    Command::new(weir_binary())
        .args(args)
        .current_dir(dir)
        .env_remove("WEIR_LOG")
        .env_remove("WEIR_HOME")
        .env("WEIR_CACHE_DIR", root().join("target/test-plugin-cache"))
        .env("CARGO_TARGET_DIR", rust_target_dir())
        .output()
        .expect("cannot run weir")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn succeeds(output: &Output) -> String {
    assert!(
        output.status.success(),
        "weir failed ({})\nstdout:\n{}\nstderr:\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// Input for the scaffolded transform: objects get a `tag`, other values are
/// refused, blank lines are skipped (but counted in line numbers).
const INPUT: &str = "{\"id\":1}\n[2]\n\n{}\n {\"a\": \"x\"} \n";
const TAGGED: &str = "{\"tag\":\"hi\",\"id\":1}\n{\"tag\":\"hi\"}\n{\"tag\":\"hi\",\"a\": \"x\"}\n";

/// Scaffolds `name` in `lang`, builds it and runs it over [`INPUT`]; checks
/// the files, where the component is, and exactly what the test printed.
fn scaffold_build_test(lang: &str, name: &str, files: &[&str], component: &str) {
    let scratch = Scratch::new();
    let stdout = succeeds(&weir(
        scratch.path(),
        &["plugin", "new", "--lang", lang, name],
    ));
    assert!(
        stdout.starts_with(&format!("created the {lang} plugin {name} in ")),
        "{stdout}"
    );
    let dir = scratch.path().join(name);
    for file in files.iter().chain(&["README.md", ".gitignore"]) {
        assert!(dir.join(file).is_file(), "{name}/{file} was not created");
    }

    let stdout = succeeds(&weir(scratch.path(), &["plugin", "build", name]));
    let built = stdout
        .trim_end()
        .lines()
        .last()
        .and_then(|line| line.strip_prefix("built "))
        .unwrap_or_else(|| panic!("no `built` line in {stdout:?}"));
    let built = PathBuf::from(built);
    assert!(built.is_file(), "{} does not exist", built.display());
    assert!(
        built.ends_with(component),
        "{} is not …/{component}",
        built.display()
    );

    let input = scratch.write("in.jsonl", INPUT);
    let output = weir(
        scratch.path(),
        &[
            "plugin",
            "test",
            built.to_str().unwrap(),
            input.to_str().unwrap(),
            "--config",
            "tag=hi",
        ],
    );
    assert_eq!(succeeds(&output), TAGGED);
    let stem = built.file_stem().unwrap().to_string_lossy();
    assert_eq!(
        text(&output.stderr),
        format!(
            "line 2: rejected: value is not a json object\n\
             {stem}: read 4 events, wrote 3, rejected 1, failed 0\n"
        )
    );

    // Without config the tag is the default.
    let output = weir(
        scratch.path(),
        &["plugin", "test", built.to_str().unwrap(), "in.jsonl"],
    );
    assert_eq!(succeeds(&output), TAGGED.replace("\"hi\"", "\"hello\""));
}

#[test]
fn rust_plugin_scaffolds_builds_and_runs() {
    scaffold_build_test(
        "rust",
        "tagger",
        &["Cargo.toml", ".cargo/config.toml", "src/lib.rs"],
        "wasm32-wasip2/release/tagger.wasm",
    );
}

#[test]
fn python_plugin_scaffolds_builds_and_runs() {
    scaffold_build_test(
        "python",
        "pytag",
        &["app.py", "weir-plugin.toml"],
        "pytag/build/pytag.wasm",
    );
}

#[test]
fn js_plugin_scaffolds_builds_and_runs() {
    scaffold_build_test(
        "js",
        "jstag",
        &["app.js", "weir-plugin.toml", "package.json"],
        "jstag/build/jstag.wasm",
    );
}

#[test]
fn tests_the_shipped_filter_plugin() {
    let scratch = Scratch::new();
    scratch.write(
        "in.jsonl",
        "{\"id\":1}\n{\"id\":0}\nnot json\n\n{\"other\":2}\n{\"id\":7}\n",
    );
    let filter = plugin("filter");
    let filter = filter.to_str().unwrap();
    let output = weir(
        scratch.path(),
        &[
            "plugin",
            "test",
            filter,
            "in.jsonl",
            "--config",
            "field=id",
            "--config",
            "op=>=",
            "--config",
            "value=1",
            "--config",
            "missing=reject",
        ],
    );
    assert_eq!(succeeds(&output), "{\"id\":1}\n{\"id\":7}\n");
    assert_eq!(
        text(&output.stderr),
        "line 3: rejected: value is not json: invalid json at byte 1: expected `null`\n\
         line 5: rejected: field `id` is missing\n\
         filter: read 5 events, wrote 2, rejected 2, failed 0\n"
    );

    // init refusing the config is the one failure with a non-zero exit.
    let output = weir(scratch.path(), &["plugin", "test", filter, "in.jsonl"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(text(&output.stdout), "");
    assert_eq!(
        text(&output.stderr),
        "error: stage `filter`: plugin init failed: missing config key `field`\n"
    );

    let output = weir(
        scratch.path(),
        &["plugin", "test", filter, "in.jsonl", "--config", "nokey"],
    );
    assert_eq!(output.status.code(), Some(2), "clap rejects the argument");
    assert!(
        text(&output.stderr).contains("invalid --config `nokey`: expected key=value"),
        "{}",
        text(&output.stderr)
    );

    let output = weir(
        scratch.path(),
        &["plugin", "test", "missing.wasm", "in.jsonl"],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).starts_with("error: cannot read plugin `missing.wasm`"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn a_failed_build_shows_the_toolchain_error_and_the_step() {
    let scratch = Scratch::new();
    succeeds(&weir(
        scratch.path(),
        &["plugin", "new", "--lang", "rust", "broken"],
    ));
    scratch.write("broken/src/lib.rs", "fn broken( {}\n");
    let output = weir(&scratch.path().join("broken"), &["plugin", "build"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("error: this file contains an unclosed delimiter"),
        "no rustc error in:\n{stderr}"
    );
    assert_eq!(
        stderr.trim_end().lines().last(),
        Some(
            "error: building the rust plugin failed: cargo build --release exited with status 101"
        ),
        "{stderr}"
    );

    // Nothing to build, a language without an SDK, a taken name.
    let output = weir(scratch.path(), &["plugin", "build"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).starts_with("error: no plugin in "),
        "{}",
        text(&output.stderr)
    );
    for lang in ["go", "c"] {
        let output = weir(scratch.path(), &["plugin", "new", "--lang", lang, "x"]);
        assert_eq!(output.status.code(), Some(1));
        assert_eq!(
            text(&output.stderr),
            format!("error: {lang} plugins are not supported yet (no sdk/{lang} in weir)\n")
        );
    }
    let output = weir(
        scratch.path(),
        &["plugin", "new", "--lang", "python", "broken"],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).ends_with("broken already exists\n"),
        "{}",
        text(&output.stderr)
    );
}
