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

#[test]
fn ctrl_c_drains_what_was_read_and_flushes_the_sinks() {
    let scratch = Scratch::new();
    scratch.write(
        "pipeline.toml",
        r#"
[pipeline]
name = "endless"
parallelism = 2

[[source]]
name = "clicks"
type = "generator"
events = "clicks"
rate = 5000.0

[key_by]
field = "user"

[[sink]]
name = "out"
type = "file"
path = "out.jsonl"
"#,
    );
    let child = Command::new(weir_binary())
        .args(["run", "pipeline.toml"])
        .current_dir(scratch.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("weir starts");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    assert!(status.expect("kill runs").success());
    let output = child.wait_with_output().expect("weir exits");
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "stderr: {stderr}");
    assert!(
        stderr.contains("stopping: draining what was read"),
        "{stderr}"
    );

    // Every event read was written, and the file holds exactly those.
    let summary = stderr
        .lines()
        .find(|l| l.starts_with("endless: read "))
        .expect("summary");
    let numbers: Vec<u64> = summary
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    let (read, written) = (numbers[0], numbers[1]);
    assert!(read > 0, "{summary}");
    assert_eq!(read, written, "{summary}");
    assert_eq!(scratch.lines("out.jsonl").len() as u64, written);
}

#[test]
fn metrics_are_served_in_the_prometheus_format() {
    let scratch = Scratch::new();
    scratch.write("in.jsonl", "{\"n\":1}\n{\"n\":5}\nnot json\n");
    scratch.write(
        "pipeline.toml",
        &format!(
            r#"
[pipeline]
name = "observed"

[[source]]
name = "in"
type = "file"
path = "in.jsonl"
follow = true

[[stage]]
name = "big"
plugin = {filter}
config = {{ field = "n", op = ">", value = "2" }}

[[sink]]
name = "out"
type = "file"
path = "out.jsonl"
"#,
            filter = toml_path(&plugin("filter")),
        ),
    );
    let addr = format!("127.0.0.1:{}", weir_tests::free_port());
    let mut child = Command::new(weir_binary())
        .args(["run", "pipeline.toml", "--metrics-addr", &addr])
        .current_dir(scratch.path())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("weir starts");

    // The followed file keeps the pipeline running; poll until all three
    // events are counted.
    let mut body = String::new();
    for _ in 0..100 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        body = weir_tests::scrape_metrics(&addr).unwrap_or_default();
        if body.contains("weir_sink_events_total{pipeline=\"observed\",sink=\"out\"} 1\n") {
            break;
        }
    }
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let _ = child.wait();

    for expected in [
        "weir_source_events_total{pipeline=\"observed\",source=\"in\"} 3\n",
        "weir_stage_events_in_total{pipeline=\"observed\",stage=\"big\"} 3\n",
        "weir_stage_events_out_total{pipeline=\"observed\",stage=\"big\"} 1\n",
        "weir_dead_letters_total{pipeline=\"observed\",stage=\"big\",kind=\"rejected\"} 1\n",
        "weir_sink_events_total{pipeline=\"observed\",sink=\"out\"} 1\n",
        "# TYPE weir_plugin_call_duration_seconds histogram\n",
    ] {
        assert!(body.contains(expected), "missing {expected:?} in\n{body}");
    }
}
