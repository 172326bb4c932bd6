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
  sdk-deps  install the toolchains the language SDKs under sdk/ build with
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
        "sdk-deps" => sdk_deps(&root),
        "lint" => lint(&root),
        _ => {
            eprintln!("{USAGE}");
            bail!("unknown task `{task}`")
        }
    }
}

fn root() -> PathBuf {
    // `cargo run` sets the variable for the process too; that one names
    // this checkout even when a target directory shared between checkouts
    // holds an xtask binary built in another (cargo does not rebuild it for
    // a new path).
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest.parent().expect("xtask is in the workspace").into()
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

/// Debian packages the host build needs: RocksDB as a shared library (keyed
/// state links against it, see .cargo/config.toml) and libclang, with which
/// the `rocksdb` crate generates its bindings.
const DEBIAN_PACKAGES: &[&str] = &["librocksdb-dev", "libclang-dev"];

/// Installs whichever of `packages` is not installed, with apt-get (through
/// sudo when not root), running `apt-get update` first only if the install
/// fails. One `dpkg -s` per package when all are there. Without dpkg (not
/// Debian) it says what the build needs and carries on.
fn ensure_debian_packages(packages: &[&str]) -> anyhow::Result<()> {
    let Some(missing) = missing_debian_packages(packages) else {
        eprintln!(
            "xtask: no dpkg here; the build needs RocksDB and libclang ({} on Debian)",
            packages.join(", ")
        );
        return Ok(());
    };
    if missing.is_empty() {
        return Ok(());
    }
    let step = format!("installing {} (apt-get)", missing.join(" "));
    let install = || run(&step, apt_get().args(["install", "-y"]).args(&missing));
    if install().is_ok() {
        return Ok(());
    }
    run(
        "updating the package lists (apt-get)",
        apt_get().arg("update"),
    )?;
    install()
}

/// The packages among `packages` that dpkg does not list as installed, or
/// `None` when there is no dpkg.
fn missing_debian_packages<'a>(packages: &[&'a str]) -> Option<Vec<&'a str>> {
    let mut missing = Vec::new();
    for &package in packages {
        let output = Command::new("dpkg").args(["-s", package]).output().ok()?;
        let installed = output.status.success()
            && String::from_utf8_lossy(&output.stdout)
                .lines()
                .any(|l| l == "Status: install ok installed");
        if !installed {
            missing.push(package);
        }
    }
    Some(missing)
}

/// `apt-get`, non-interactive, through sudo unless we are root.
fn apt_get() -> Command {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let mut command = if root {
        Command::new("apt-get")
    } else {
        let mut sudo = Command::new("sudo");
        sudo.arg("apt-get");
        sudo
    };
    command.env("DEBIAN_FRONTEND", "noninteractive");
    command
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
    ensure_debian_packages(DEBIAN_PACKAGES)?;
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
    ensure_debian_packages(DEBIAN_PACKAGES)?;
    plugins(root)?;
    sdk_deps(root)?;
    run(
        "testing the Python SDK on the host",
        Command::new("python3")
            .args(["-m", "pytest", "-q", "sdk/python/tests"])
            .current_dir(root),
    )?;
    run(
        "testing the JavaScript SDK on the host",
        Command::new("node")
            .args(["--test", "sdk/js/test"])
            .current_dir(root),
    )?;
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
    ensure_debian_packages(DEBIAN_PACKAGES)?;
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
    ensure_debian_packages(DEBIAN_PACKAGES)?;
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

/// componentize-py, which builds Python plugins (sdk/python).
const COMPONENTIZE_PY: &str = "0.25.1";

/// Installs what the language SDKs build with, each only when it is missing
/// or at another version, so that a second run takes a second: componentize-py
/// from PyPI, the JavaScript SDK's npm packages (componentize-js, rolldown)
/// from sdk/js/package-lock.json.
fn sdk_deps(root: &Path) -> anyhow::Result<()> {
    if !prints("componentize-py", &["--version"], COMPONENTIZE_PY) {
        run(
            "installing componentize-py (pip)",
            Command::new("python3").args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                &format!("componentize-py=={COMPONENTIZE_PY}"),
            ]),
        )?;
    }
    for dir in ["sdk/js", "sdk/js/examples/json-schema"] {
        let dir = root.join(dir);
        if up_to_date(
            &dir.join("package-lock.json"),
            &dir.join("node_modules/.package-lock.json"),
        ) {
            continue;
        }
        run(
            &format!("installing npm packages in {}", dir.display()),
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir),
        )?;
    }
    go_and_c_deps(root)
}

/// wasm-tools and wit-bindgen, which the Go and C SDKs (sdk/go, sdk/c) build
/// with; a fresh `cargo install` of each takes about 13 minutes.
const WASM_TOOLS: &str = "1.263.0";
const WIT_BINDGEN: &str = "0.61.1";
/// The crate whose bytes are the WASI preview 1 reactor adapter.
const ADAPTER_PROVIDER: &str = "46.0.1";
/// clang's wasm32 target and its runtime library, and wasi-libc (Debian 12).
const C_PACKAGES: &[&str] = &["clang", "lld", "wasi-libc", "libclang-rt-14-dev-wasm32"];

/// What the Go and C SDKs need, each step skipped when already done: the
/// Debian packages, wasm-tools and wit-bindgen at their exact versions, Go
/// 1.24 or newer (checked, not installed), the json-schema example's Go
/// modules and the WASI adapter in target/wasi-adapter.
fn go_and_c_deps(root: &Path) -> anyhow::Result<()> {
    ensure_debian_packages(C_PACKAGES)?;
    for (tool, krate, version) in [
        ("wasm-tools", "wasm-tools", WASM_TOOLS),
        ("wit-bindgen", "wit-bindgen-cli", WIT_BINDGEN),
    ] {
        if !prints(tool, &["--version"], &format!(" {version}")) {
            run(
                &format!("installing {krate} {version} (cargo install, about 13 minutes)"),
                cargo().args(["install", "--locked", &format!("{krate}@{version}")]),
            )?;
        }
    }
    let go = Command::new("go").arg("version").output().ok();
    let minor = go
        .as_ref()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split(" go1.")
                .nth(1)
                .map(str::to_owned)
        })
        .and_then(|v| {
            v.split(['.', ' '])
                .next()
                .and_then(|m| m.parse::<u32>().ok())
        });
    if minor.is_none_or(|m| m < 24) {
        bail!(
            "go 1.24 or newer is needed for sdk/go (//go:wasmexport) and `go version` says {:?}; install it from https://go.dev/dl",
            go.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        );
    }
    run(
        "downloading the Go modules of sdk/go/examples/json-schema",
        Command::new("go")
            .args(["mod", "download"])
            .current_dir(root.join("sdk/go/examples/json-schema")),
    )?;
    wasi_adapter(root)
}

/// Writes target/wasi-adapter/wasi_snapshot_preview1.reactor.wasm from the
/// crate wasi-preview1-component-adapter-provider, with a throwaway binary.
fn wasi_adapter(root: &Path) -> anyhow::Result<()> {
    let dir = root.join("target/wasi-adapter");
    let adapter = dir.join("wasi_snapshot_preview1.reactor.wasm");
    let manifest = dir.join("writer/Cargo.toml");
    let wanted = format!(
        "[package]\nname = \"wasi-adapter-writer\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [workspace]\n\n[dependencies]\nwasi-preview1-component-adapter-provider = \"={ADAPTER_PROVIDER}\"\n"
    );
    if adapter.exists() && std::fs::read_to_string(&manifest).is_ok_and(|m| m == wanted) {
        return Ok(());
    }
    std::fs::create_dir_all(dir.join("writer/src")).context("cannot create target/wasi-adapter")?;
    std::fs::write(
        dir.join("writer/src/main.rs"),
        "fn main() {\n    let out = std::env::args().nth(1).expect(\"the output path\");\n    \
         std::fs::write(&out, wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER)\n        \
         .expect(\"write the adapter\");\n}\n",
    )
    .context("cannot write the adapter writer")?;
    std::fs::write(&manifest, wanted).context("cannot write the adapter writer")?;
    run(
        &format!(
            "writing the wasi adapter (wasi-preview1-component-adapter-provider {ADAPTER_PROVIDER})"
        ),
        cargo()
            .args(["run", "--quiet", "--manifest-path"])
            .arg(&manifest)
            .arg("--")
            .arg(&adapter)
            .env("CARGO_TARGET_DIR", dir.join("writer/target")),
    )
}

/// Whether `program args` runs and prints `expected` (e.g. a version).
fn prints(program: &str, args: &[&str], expected: &str) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains(expected))
}

/// Whether `made` exists and is not older than `source`.
fn up_to_date(source: &Path, made: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(source), modified(made)) {
        (Some(source), Some(made)) => made >= source,
        _ => false,
    }
}
