//! Shared helpers for weir's integration tests: building and locating the
//! plugins, writing pipeline files into a temporary directory, running them
//! in-process or through the `weir` binary, and reading outputs back.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock};

use weir::engine::{Pipeline, Summary};
use weir::metrics::Metrics;
use weir::plugin::PluginRuntime;

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

/// The path of a built plugin component, e.g. `plugin("filter")`. Builds the
/// plugins workspace the first time it is called in a test process.
pub fn plugin(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(build_plugins);
    let file = root()
        .join("plugins/target/wasm32-wasip2/release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    assert!(file.exists(), "plugin {} was not built", file.display());
    file
}

fn build_plugins() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet"])
        .current_dir(root().join("plugins"))
        .env("CARGO_TARGET_DIR", root().join("plugins/target"))
        .status()
        .expect("cannot run cargo to build the plugins");
    assert!(
        status.success(),
        "building the plugins failed; run `cargo xtask plugins`"
    );
}

/// A scratch directory for one test, removed when dropped.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    /// A new empty directory.
    pub fn new() -> Self {
        Scratch {
            dir: tempfile::tempdir().expect("cannot create a temporary directory"),
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `contents` to `name` inside the directory; returns its path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("cannot create directories");
        }
        std::fs::write(&path, contents).expect("cannot write a scratch file");
        path
    }

    /// The lines of a file inside the directory (empty when it does not
    /// exist).
    pub fn lines(&self, name: &str) -> Vec<String> {
        match std::fs::read_to_string(self.dir.path().join(name)) {
            Ok(text) => text.lines().map(str::to_string).collect(),
            Err(_) => Vec::new(),
        }
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

/// One plugin runtime per test process: engines are heavy, and sharing one
/// is what weir does too.
pub fn runtime() -> &'static PluginRuntime {
    static RUNTIME: OnceLock<PluginRuntime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let cache = root().join("target/test-plugin-cache");
        PluginRuntime::new(Some(cache), Arc::new(Metrics::new("test")))
            .expect("cannot create the plugin runtime")
    })
}

/// Runs the pipeline file at `path` in this process, to completion.
pub fn run_pipeline(path: &Path) -> Result<Summary, String> {
    // Tests share one runtime and so one set of metrics; serialise runs so
    // that each run's summary counts only its own events.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let config = weir::config::load(path).map_err(|e| e.to_string())?;
    let runtime = runtime();
    let before = snapshot(runtime);
    let pipeline = Pipeline::prepare(config, runtime, None).map_err(|e| e.to_string())?;
    let mut summary = pipeline
        .run(Arc::new(AtomicBool::new(false)))
        .map_err(|e| e.to_string())?;
    summary.read -= before.read;
    summary.written -= before.written;
    summary.dead_lettered -= before.dead_lettered;
    summary.skipped -= before.skipped;
    summary.late -= before.late;
    summary.deduplicated -= before.deduplicated;
    Ok(summary)
}

fn snapshot(runtime: &PluginRuntime) -> Summary {
    use std::sync::atomic::Ordering::Relaxed;
    let totals = runtime.metrics().totals();
    Summary {
        read: totals.read.load(Relaxed),
        written: totals.written.load(Relaxed),
        dead_lettered: totals.dead_lettered.load(Relaxed),
        skipped: totals.skipped.load(Relaxed),
        late: totals.late.load(Relaxed),
        deduplicated: totals.deduplicated.load(Relaxed),
        elapsed: Default::default(),
    }
}

/// The `weir` binary next to the test executable (built by `cargo test`).
pub fn weir_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let binary = dir.join("weir");
    assert!(
        binary.exists(),
        "{} not built; run `cargo build -p weir`",
        binary.display()
    );
    binary
}

/// The body of `GET /metrics` from a `weir run --metrics-addr ADDR`.
///
/// # Errors
///
/// When nothing answers at `addr`.
pub fn scrape_metrics(addr: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.write_all(b"GET /metrics HTTP/1.1\r\nhost: localhost\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default())
}

/// A free port on 127.0.0.1 (free when asked; tests take it at once).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The line a window stage with `count`, `min` and `max` aggregates
/// writes for `key`'s 10 s window starting at `start` (not an update).
pub fn window_line(key: &str, start: i64, count: u64, min: f64, max: f64) -> String {
    let number = |x: f64| {
        let mut out = Vec::new();
        weir::window::aggregate::write_number(&mut out, x);
        String::from_utf8(out).expect("numbers are ASCII")
    };
    let end = start + 10_000;
    format!(
        "{{\"key\":\"{key}\",\"window_start\":{start},\"window_end\":{end},\
         \"count\":{count},\"min\":{},\"max\":{},\"update\":false}}",
        number(min),
        number(max)
    )
}

/// A small deterministic generator, for the moments chaos tests kill at.
pub struct Rng(u64);

impl Rng {
    /// A generator seeded from the environment variable `var`, or from the
    /// clock; prints the seed (with `label`) and how to replay it.
    pub fn seeded(var: &str, label: &str) -> (u64, Rng) {
        let seed = std::env::var(var)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("the clock is after 1970")
                    .as_nanos() as u64
            });
        println!("{label} seed {seed} (set {var}={seed} to replay)");
        (seed, Rng(seed))
    }

    /// A number below `n` (splitmix64).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

/// A TOML string literal for a path (paths in tests may contain anything).
pub fn toml_path(path: &Path) -> String {
    toml_string(&path.display().to_string())
}

/// A TOML basic string holding `text`.
pub fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub mod kafka;
pub mod sdk;
pub mod sequence;

/// The text of a pipeline file that reads `in.jsonl`, runs `stages` (TOML
/// `[[stage]]` tables), writes outputs to `out.jsonl` and dead letters to
/// `dead.jsonl`, all beside the pipeline file. `settings` is the body of the
/// `[pipeline]` table.
pub fn file_pipeline(settings: &str, stages: &str) -> String {
    format!(
        r#"
[pipeline]
{settings}

[[source]]
name = "in"
type = "file"
path = "in.jsonl"

{stages}

[[sink]]
name = "out"
type = "file"
path = "out.jsonl"

[dead_letter]
type = "file"
path = "dead.jsonl"
"#
    )
}
