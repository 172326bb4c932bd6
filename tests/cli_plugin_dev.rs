//! The plugin author's loop through the `weir` binary: `weir plugin new`
//! scaffolds a project per language, `weir plugin build` builds it into a
//! component, `weir plugin test` runs a component over a JSON Lines file.
//!
//! Run `cargo build --release -p weir` first: `cargo test -p weir-tests` does
//! not rebuild the binary. The Python, JavaScript, Go and C tests need the
//! SDKs' tools (`cargo xtask sdk-deps`); each Python, JavaScript or Go build
//! takes tens of seconds.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use weir_tests::{Scratch, plugin, root, weir_binary};

/// Every Rust plugin these tests build shares one target directory, so the
/// SDK and its dependencies are compiled once.
fn rust_target_dir() -> PathBuf {
    root().join("target/devloop-test-plugins")
}

/// `weir ARGS` in `dir`, with the checkout it was built from as its
/// `weir_home`.
fn weir_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(weir_binary());
    command
        .args(args)
        .current_dir(dir)
        .env_remove("WEIR_LOG")
        .env_remove("WEIR_HOME")
        .env("WEIR_CACHE_DIR", root().join("target/test-plugin-cache"))
        .env("CARGO_TARGET_DIR", rust_target_dir());
    command
}

fn weir(dir: &Path, args: &[&str]) -> Output {
    weir_command(dir, args).output().expect("cannot run weir")
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
fn go_plugin_scaffolds_builds_and_runs() {
    scaffold_build_test(
        "go",
        "go-tag",
        &["main.go", "go.mod", "weir-plugin.toml"],
        "go-tag/build/go-tag.wasm",
    );
}

#[test]
fn c_plugin_scaffolds_builds_and_runs() {
    scaffold_build_test(
        "c",
        "ctag",
        &["plugin.c", "weir-plugin.toml"],
        "ctag/build/ctag.wasm",
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

    // Nothing to build, a taken name.
    let output = weir(scratch.path(), &["plugin", "build"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        format!(
            "error: no plugin in {}: expected Cargo.toml (rust), app.py (python), app.js (js), \
             go.mod (go) or a .c file (c), or weir-plugin.toml naming the `lang`\n",
            std::fs::canonicalize(scratch.path()).unwrap().display()
        )
    );
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

/// Builds `dir` (in the scratch directory) and checks that it fails with
/// the toolchain's error `toolchain_error` on stderr, then the SDK script's
/// line naming `step`, then weir's line naming the script.
#[track_caller]
fn build_fails_at(scratch: &Scratch, dir: &str, lang: &str, toolchain_error: &str, step: &str) {
    let output = weir(scratch.path(), &["plugin", "build", dir]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(text(&output.stdout), "");
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(toolchain_error),
        "no `{toolchain_error}` in:\n{stderr}"
    );
    let script = std::fs::canonicalize(root().join("sdk").join(lang).join("build.sh")).unwrap();
    let last: Vec<&str> = stderr.trim_end().lines().rev().take(2).collect();
    assert_eq!(
        last,
        [
            format!(
                "error: building the {lang} plugin failed: sh {} exited with status 1",
                script.display()
            ),
            format!("build.sh: {step} failed"),
        ],
        "{stderr}"
    );
}

#[test]
fn a_failed_go_or_c_build_shows_the_toolchain_error_and_the_step() {
    let scratch = Scratch::new();
    for (lang, name) in [("go", "gobroken"), ("c", "cbroken")] {
        succeeds(&weir(
            scratch.path(),
            &["plugin", "new", "--lang", lang, name],
        ));
    }
    scratch.write(
        "gobroken/main.go",
        "package main\n\nfunc main() { notDefined() }\n",
    );
    build_fails_at(
        &scratch,
        "gobroken",
        "go",
        "undefined: notDefined",
        "go build",
    );
    scratch.write(
        "cbroken/plugin.c",
        "#include \"weir.h\"\n\nvoid weir_transform(const weir_event *event, weir_emitter *out) {\n  weir_keep(out)\n}\n",
    );
    build_fails_at(
        &scratch,
        "cbroken",
        "c",
        "plugin.c:4:17: error: expected ';' after expression",
        "clang",
    );

    // A checkout without the SDKs: the Go project cannot name its SDK, and
    // no plugin can be built without the SDK's script.
    let empty = Scratch::new();
    let home = empty.path().to_str().unwrap();
    let output = weir_command(scratch.path(), &["plugin", "new", "--lang", "go", "x"])
        .env("WEIR_HOME", home)
        .output()
        .expect("cannot run weir");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        format!(
            "error: cannot find the weir go sdk at {home}/sdk/go: set WEIR_HOME to a weir \
             checkout\n"
        )
    );
    assert!(!scratch.path().join("x").exists());
    for (lang, name) in [("go", "gobroken"), ("c", "cbroken")] {
        let output = weir_command(scratch.path(), &["plugin", "build", name])
            .env("WEIR_HOME", home)
            .output()
            .expect("cannot run weir");
        assert_eq!(output.status.code(), Some(1));
        assert_eq!(
            text(&output.stderr),
            format!(
                "error: cannot find {home}/sdk/{lang}/build.sh: set WEIR_HOME to a weir checkout\n"
            )
        );
    }
}
