//! Developer tasks: `cargo xtask demo | test | bench | plugins | lint`.
//!
//! Each task installs what it needs first (the wasm32-wasip2 target), so the
//! two commands in the README work on a fresh machine.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  demo      build weir and the plugins, run the fraud-detection example
  test      install what the tests need, then run every test
  bench     run the benchmarks (criterion); extra arguments go to criterion
  plugins   build the plugins under plugins/ for wasm32-wasip2
  lint      cargo fmt --check and clippy -D warnings on every workspace";

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let root = root();
    match task.as_str() {
        "demo" => demo(&root),
        "test" => test(&root, &rest),
        "bench" => bench(&root, &rest),
        "plugins" => plugins(&root),
        "lint" => lint(&root),
        _ => {
            eprintln!("{USAGE}");
            bail!("unknown task `{task}`")
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is in the workspace")
        .into()
}

/// Runs a command, failing with the step's name when it fails.
fn run(step: &str, command: &mut Command) -> anyhow::Result<()> {
    eprintln!("xtask: {step}");
    let status = command
        .status()
        .with_context(|| format!("{step}: cannot start {command:?}"))?;
    if !status.success() {
        bail!("{step} failed ({status})");
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn ensure_wasm_target() -> anyhow::Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("cannot run rustup; install Rust with rustup first")?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == "wasm32-wasip2")
    {
        return Ok(());
    }
    run(
        "installing the wasm32-wasip2 target",
        Command::new("rustup").args(["target", "add", "wasm32-wasip2"]),
    )
}

fn plugins(root: &Path) -> anyhow::Result<()> {
    ensure_wasm_target()?;
    run(
        "building plugins (wasm32-wasip2)",
        plugin_cargo(root).args(["build", "--release"]),
    )
}

/// Cargo for the plugins workspace. Its target directory is always
/// `plugins/target`, even when CARGO_TARGET_DIR points the host build
/// elsewhere, because tests and examples load components from there.
fn plugin_cargo(root: &Path) -> Command {
    let mut command = cargo();
    command
        .current_dir(root.join("plugins"))
        .env("CARGO_TARGET_DIR", root.join("plugins/target"));
    command
}

fn demo(root: &Path) -> anyhow::Result<()> {
    plugins(root)?;
    run(
        "building weir",
        cargo()
            .current_dir(root)
            .args(["build", "--release", "-p", "weir"]),
    )?;
    let example = root.join("examples/fraud");
    let out = example.join("out");
    if out.exists() {
        std::fs::remove_dir_all(&out).with_context(|| format!("cannot clear {}", out.display()))?;
    }
    run(
        "running examples/fraud/pipeline.toml",
        Command::new(root.join("target/release/weir"))
            .args(["run", "pipeline.toml"])
            .current_dir(&example),
    )?;
    eprintln!(
        "\nthe demo ran. look at:
  examples/fraud/out/alerts.jsonl        payments that passed validation, masked and scored
  examples/fraud/out/dead-letters.jsonl  malformed and rejected payments, with the reason
  examples/fraud/pipeline.toml           the pipeline; edit it and run
                                         target/release/weir run examples/fraud/pipeline.toml"
    );
    Ok(())
}

fn test(root: &Path, rest: &[String]) -> anyhow::Result<()> {
    plugins(root)?;
    run(
        "testing the plugins' logic on the host",
        plugin_cargo(root).args(["test", "--target", host_target()?.as_str()]),
    )?;
    // The CLI tests run the `weir` binary, which `cargo test` does not build
    // for a package without integration tests of its own.
    run(
        "building weir",
        cargo()
            .current_dir(root)
            .args(["build", "--release", "-p", "weir"]),
    )?;
    run(
        "testing the workspace",
        cargo()
            .current_dir(root)
            .args(["test", "--release", "--workspace"])
            .args(rest),
    )
}

fn bench(root: &Path, rest: &[String]) -> anyhow::Result<()> {
    plugins(root)?;
    run(
        "building the layout benchmark's guest (wasm32-wasip2)",
        cargo()
            .current_dir(root.join("benches/layouts-guest"))
            .args(["build", "--release"])
            .env(
                "CARGO_TARGET_DIR",
                root.join("benches/layouts-guest/target"),
            ),
    )?;
    run(
        "running benchmarks",
        cargo()
            .current_dir(root)
            .args(["bench", "-p", "weir-benches", "--"])
            .args(rest),
    )
}

fn lint(root: &Path) -> anyhow::Result<()> {
    ensure_wasm_target()?;
    run(
        "cargo fmt --check",
        cargo().current_dir(root).args(["fmt", "--all", "--check"]),
    )?;
    run(
        "cargo fmt --check (plugins)",
        plugin_cargo(root).args(["fmt", "--all", "--check"]),
    )?;
    run(
        "clippy",
        cargo().current_dir(root).args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--release",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    run(
        "clippy (plugins)",
        plugin_cargo(root).args(["clippy", "--release", "--", "-D", "warnings"]),
    )
}

/// The host's target triple, for running plugin unit tests natively.
fn host_target() -> anyhow::Result<String> {
    let output = Command::new("rustc")
        .arg("-vV")
        .output()
        .context("cannot run rustc")?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_string)
        .context("rustc -vV printed no host triple")
}
