//! The `weir` binary as a user types it: `weir run` and `weir plugin check`.

use std::process::{Command, Output};

use weir_tests::{Scratch, plugin, toml_path, weir_binary};

fn weir(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(weir_binary())
        .args(args)
        .current_dir(dir)
        .env("WEIR_CACHE_DIR", dir.join("cache"))
        .output()
        .expect("weir runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn run_writes_outputs_to_stdout_and_a_summary_to_stderr() {
    let scratch = Scratch::new();
    scratch.write("in.jsonl", "{\"n\":1}\n{\"n\":5}\nnot json\n{\"n\":9}\n");
    scratch.write(
        "pipeline.toml",
        &format!(
            r#"
[pipeline]
name = "cli"

[[source]]
name = "in"
type = "file"
path = "in.jsonl"

[[stage]]
name = "big"
plugin = {filter}
config = {{ field = "n", op = ">", value = "2" }}

[[sink]]
name = "out"
type = "stdout"

[dead_letter]
type = "file"
path = "dead.jsonl"
"#,
            filter = toml_path(&plugin("filter")),
        ),
    );
    let output = weir(&["run", "pipeline.toml"], scratch.path());
    assert!(output.status.success(), "stderr: {}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "{\"n\":5}\n{\"n\":9}\n");
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("cli: read 4 events, wrote 2, dead-lettered 1 in "),
        "stderr: {stderr}"
    );
    let dead = scratch.lines("dead.jsonl");
    assert_eq!(dead.len(), 1);
    assert!(dead[0].starts_with(r#"{"kind":"rejected","message":"value is not json: "#));
}

#[test]
fn run_reports_a_bad_pipeline_file_with_its_location() {
    let scratch = Scratch::new();
    scratch.write("pipeline.toml", "[pipeline]\nparalelism = 2\n");
    let output = weir(&["run", "pipeline.toml"], scratch.path());
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with("error: pipeline.toml:2:1: unknown field `paralelism`"),
        "stderr: {stderr}"
    );
}

#[test]
fn run_reports_a_failing_plugin_init() {
    let scratch = Scratch::new();
    scratch.write("in.jsonl", "{}\n");
    scratch.write(
        "pipeline.toml",
        &format!(
            r#"
[[source]]
name = "in"
type = "file"
path = "in.jsonl"

[[stage]]
name = "bad"
plugin = {filter}
config = {{ field = "n", op = "=~", value = "2" }}

[[sink]]
name = "out"
type = "stdout"
"#,
            filter = toml_path(&plugin("filter")),
        ),
    );
    let output = weir(&["run", "pipeline.toml"], scratch.path());
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        "error: stage `bad`: plugin init failed: config `op`: unknown operator `=~`, \
         expected one of ==, !=, <, >, <=, >=, contains\n"
    );
    assert_eq!(text(&output.stdout), "");
}

#[test]
fn plugin_check_names_the_world_and_imports() {
    let scratch = Scratch::new();
    let hostile = plugin("hostile");
    let output = weir(
        &["plugin", "check", hostile.to_str().unwrap()],
        scratch.path(),
    );
    assert!(output.status.success(), "stderr: {}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let digest = weir::plugin::digest(&std::fs::read(&hostile).unwrap());
    assert!(stdout.contains(&format!("digest:  {digest}\n")), "{stdout}");
    assert!(
        stdout.contains("world:   weir:plugin/transform\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  weir:plugin/host@0.1.0: weir's log\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  weir:plugin/types@0.1.0: types only\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(": linked, no directory granted\n"),
        "{stdout}"
    );
    assert!(stdout.ends_with("weir would run this plugin\n"), "{stdout}");

    let schema = plugin("json-schema");
    let output = weir(
        &["plugin", "check", schema.to_str().unwrap()],
        scratch.path(),
    );
    assert!(output.status.success());
    assert!(text(&output.stdout).contains("world:   weir:plugin/validator\n"));
}

#[test]
fn plugin_check_refuses_what_is_not_a_component() {
    let scratch = Scratch::new();
    scratch.write("notes.txt", "hello");
    // The smallest core module: the magic number and version 1.
    std::fs::write(scratch.path().join("core.wasm"), b"\0asm\x01\0\0\0").unwrap();

    let output = weir(&["plugin", "check", "notes.txt"], scratch.path());
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        "error: weir would refuse this plugin: not a webassembly file (5 bytes)\n"
    );

    let output = weir(&["plugin", "check", "core.wasm"], scratch.path());
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        "error: weir would refuse this plugin: a core webassembly module, not a component; \
         build for wasm32-wasip2 or wrap it with `wasm-tools component new`\n"
    );

    let output = weir(&["plugin", "check", "missing.wasm"], scratch.path());
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).starts_with("error: cannot read plugin `missing.wasm`: "));
}
