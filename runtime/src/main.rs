//! The `weir` command line: run a pipeline, inspect a plugin.

use std::io::{IsTerminal, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use weir::engine::{EngineError, Pipeline, Summary};
use weir::metrics::Metrics;
use weir::plugin::{PluginRuntime, check};
use weir::sink::SinkError;

/// weir: stream processing with sandboxed WebAssembly plugins.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a pipeline until its sources end (or Ctrl-C, which drains and
    /// flushes what was read and, with checkpoints, takes a last one).
    Run(RunArgs),
    /// Have a running pipeline take a savepoint and stop; prints the
    /// savepoint's directory, which `weir run --from` resumes from.
    Savepoint(SavepointArgs),
    /// Work with plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

#[derive(clap::Args)]
struct RunArgs {
    /// The pipeline file (TOML).
    pipeline: PathBuf,
    /// Serve Prometheus metrics on this address (for example 127.0.0.1:9464).
    #[arg(long)]
    metrics_addr: Option<SocketAddr>,
    /// Where compiled plugins are cached [default: $WEIR_CACHE_DIR, else
    /// $XDG_CACHE_HOME/weir, else ~/.cache/weir].
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// No live status line and no summary.
    #[arg(long, short)]
    quiet: bool,
    /// Resume from this checkpoint or savepoint directory instead of the
    /// newest checkpoint.
    #[arg(long, value_name = "DIR")]
    from: Option<PathBuf>,
}

#[derive(clap::Args)]
struct SavepointArgs {
    /// The pipeline file (TOML) of the running pipeline.
    pipeline: PathBuf,
    /// How long to wait for the pipeline to stop, in seconds.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
}

/// The files through which `weir savepoint` reaches a running pipeline, in
/// its checkpoint directory.
struct Control {
    /// Holds the running process's id.
    pid: PathBuf,
    /// Exists while a savepoint is asked for.
    request: PathBuf,
}

impl Control {
    fn new(checkpoints: &weir::config::CheckpointConfig) -> Control {
        Control {
            pid: checkpoints.dir.join("weir.pid"),
            request: checkpoints.dir.join("savepoint.request"),
        }
    }
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Say which world a component implements, what it imports, and whether
    /// weir would run it.
    Check {
        /// The component file.
        file: PathBuf,
    },
    /// Create a plugin project in ./NAME that builds as it is.
    New {
        /// The plugin's language.
        #[arg(long, value_enum)]
        lang: weir::devloop::Language,
        /// The plugin's name, also its directory's.
        name: String,
    },
    /// Build the plugin in DIR (its language is detected) into a component.
    Build {
        /// The plugin's directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Run a component over a JSON Lines file (an event per line): outputs
    /// on stdout, refused and failed events and a summary on stderr.
    Test {
        /// The component file.
        component: PathBuf,
        /// The JSON Lines file.
        input: PathBuf,
        /// A config entry for the plugin; repeatable.
        #[arg(long = "config", value_name = "KEY=VALUE", value_parser = weir::devloop::test::parse_config)]
        config: Vec<(String, String)>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("WEIR_LOG").unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Savepoint(args) => savepoint(&args),
        Command::Plugin(PluginCommand::Check { file }) => plugin_check(&file),
        Command::Plugin(PluginCommand::New { lang, name }) => plugin_new(lang, &name),
        Command::Plugin(PluginCommand::Build { dir }) => plugin_build(&dir),
        Command::Plugin(PluginCommand::Test {
            component,
            input,
            config,
        }) => plugin_test(&component, &input, config),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let config = weir::config::load(&args.pipeline)?;
    let metrics = Arc::new(Metrics::new(&config.name));
    let cache_dir = args.cache_dir.or_else(default_cache_dir);
    let runtime = PluginRuntime::new(cache_dir, metrics.clone())?;
    if let Some(addr) = args.metrics_addr {
        serve_metrics(addr, metrics.clone())?;
    }
    let name = config.name.clone();
    let control = config.checkpoints.as_ref().map(Control::new);
    let pipeline = Pipeline::prepare(config, &runtime, args.from.as_deref())?;
    if let Some((id, dir)) = pipeline.restored()
        && !args.quiet
    {
        eprintln!("{name}: resuming from checkpoint {id} ({})", dir.display());
    }

    let stop = Arc::new(AtomicBool::new(false));
    if let Some(control) = &control {
        watch_for_savepoint(control, stop.clone(), pipeline.savepoint_flag())?;
    }
    let interrupted = stop.clone();
    ctrlc::set_handler(move || {
        if interrupted.swap(true, Ordering::Relaxed) {
            // A second Ctrl-C: the user does not want to wait for the drain.
            std::process::exit(130);
        }
        eprintln!("\nstopping: draining what was read (Ctrl-C again to quit at once)");
    })
    .context("cannot install the Ctrl-C handler")?;

    let done = Arc::new(AtomicBool::new(false));
    let status = (!args.quiet && std::io::stderr().is_terminal())
        .then(|| status_line(name.clone(), metrics.clone(), done.clone()));
    let result = pipeline.run(stop);
    if let Some(control) = &control {
        let _ = std::fs::remove_file(&control.pid);
    }
    done.store(true, Ordering::Relaxed);
    if let Some(status) = status {
        let _ = status.join();
    }
    let summary = match result {
        // `weir run … | head`: the reader has gone, which is not a failure.
        Err(EngineError::Sink(SinkError::Io { error, .. }))
            if error.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            return Ok(ExitCode::SUCCESS);
        }
        result => result?,
    };
    if !args.quiet {
        eprintln!("{}", describe(&name, &summary));
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the pid file, and watches for a savepoint request: then the
/// pipeline stops, and its last checkpoint is a savepoint.
fn watch_for_savepoint(
    control: &Control,
    stop: Arc<AtomicBool>,
    savepoint: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    if let Some(dir) = control.pid.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create `{}`", dir.display()))?;
    }
    let _ = std::fs::remove_file(&control.request);
    std::fs::write(&control.pid, std::process::id().to_string())
        .with_context(|| format!("cannot write `{}`", control.pid.display()))?;
    let request = control.request.clone();
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
            if std::fs::remove_file(&request).is_ok() {
                eprintln!("taking a savepoint and stopping");
                savepoint.store(true, Ordering::Relaxed);
                stop.store(true, Ordering::Relaxed);
            }
        }
    });
    Ok(())
}

/// `weir savepoint`: asks the running pipeline for a savepoint, waits for
/// it to stop, and prints the savepoint's directory.
fn savepoint(args: &SavepointArgs) -> anyhow::Result<ExitCode> {
    let config = weir::config::load(&args.pipeline)?;
    let Some(checkpoints) = &config.checkpoints else {
        bail!(
            "pipeline `{}` takes no checkpoints (it has no `[checkpoints]` table)",
            config.name
        );
    };
    let control = Control::new(checkpoints);
    let running = std::fs::read_to_string(&control.pid)
        .ok()
        .and_then(|pid| pid.trim().parse::<u32>().ok())
        .filter(|pid| Path::new(&format!("/proc/{pid}")).exists());
    let Some(pid) = running else {
        bail!(
            "pipeline `{}` is not running (no live process in `{}`)",
            config.name,
            control.pid.display()
        );
    };
    std::fs::write(&control.request, "")
        .with_context(|| format!("cannot write `{}`", control.request.display()))?;
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    while Path::new(&format!("/proc/{pid}")).exists() && control.pid.exists() {
        if Instant::now() >= deadline {
            bail!(
                "pipeline `{}` did not stop within {} s",
                config.name,
                args.timeout
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let store = weir::checkpoint::Checkpoints::open(&checkpoints.dir, checkpoints.keep)?;
    let newest = store
        .list()?
        .into_iter()
        .find_map(|(_, found)| found.ok().filter(|f| f.manifest.savepoint));
    match newest {
        Some(found) => {
            println!("{}", found.dir.display());
            Ok(ExitCode::SUCCESS)
        }
        None => bail!(
            "pipeline `{}` stopped without writing a savepoint; see its log",
            config.name
        ),
    }
}

fn describe(name: &str, s: &Summary) -> String {
    let secs = s.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        s.read as f64 / secs
    } else {
        0.0
    };
    let mut line = format!(
        "{name}: read {} events, wrote {}, dead-lettered {}",
        s.read, s.written, s.dead_lettered
    );
    if s.skipped > 0 {
        line += &format!(", skipped {}", s.skipped);
    }
    if s.deduplicated > 0 {
        line += &format!(", dropped {} duplicates", s.deduplicated);
    }
    if s.late > 0 {
        line += &format!(", {} too late for their windows", s.late);
    }
    line + &format!(" in {secs:.2} s ({rate:.0} events/s)")
}

/// Redraws a one-line status on standard error every second until `done`.
fn status_line(
    name: String,
    metrics: Arc<Metrics>,
    done: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let totals = metrics.totals();
        let mut last = (0, 0, Instant::now());
        while !done.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
            let elapsed = last.2.elapsed();
            if elapsed < Duration::from_secs(1) {
                continue;
            }
            let read = totals.read.load(Ordering::Relaxed);
            let written = totals.written.load(Ordering::Relaxed);
            let dead = totals.dead_lettered.load(Ordering::Relaxed);
            let secs = elapsed.as_secs_f64();
            eprint!(
                "\r\x1b[2K{name}: in {:.0}/s  out {:.0}/s  dead-lettered {dead}",
                (read - last.0) as f64 / secs,
                (written - last.1) as f64 / secs,
            );
            let _ = std::io::stderr().flush();
            last = (read, written, Instant::now());
        }
        eprint!("\r\x1b[2K");
    })
}

/// Serves the Prometheus text format on `addr`, one request per connection.
fn serve_metrics(addr: SocketAddr, metrics: Arc<Metrics>) -> anyhow::Result<()> {
    let listener =
        TcpListener::bind(addr).with_context(|| format!("cannot listen for metrics on {addr}"))?;
    tracing::info!(%addr, "serving metrics");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            // Read (and ignore) the request; every path answers with metrics.
            let mut request = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut request);
            let body = metrics.encode();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Ok(())
}

fn plugin_check(file: &Path) -> anyhow::Result<ExitCode> {
    let runtime = PluginRuntime::new(None, Arc::new(Metrics::new("check")))?;
    let report = check::inspect(&runtime, file)?;
    println!("file:    {}", file.display());
    println!("digest:  {}", report.digest);
    println!("size:    {} bytes", report.size);
    match report.world {
        Some(world) => println!("world:   weir:plugin/{world}"),
        None => println!("world:   none"),
    }
    println!("imports:");
    if report.imports.is_empty() {
        println!("  (none)");
    }
    for (name, granted) in &report.imports {
        println!("  {name}: {granted}");
    }
    if let Some(reason) = report.refusal {
        bail!("weir would refuse this plugin: {reason}");
    }
    println!("weir would run this plugin");
    Ok(ExitCode::SUCCESS)
}

fn plugin_new(lang: weir::devloop::Language, name: &str) -> anyhow::Result<ExitCode> {
    let dir = weir::devloop::scaffold::create(lang, name, Path::new("."))?;
    println!("created the {lang} plugin {name} in {}", dir.display());
    println!("build it with `weir plugin build {name}`; {name}/README.md says more");
    Ok(ExitCode::SUCCESS)
}

fn plugin_build(dir: &Path) -> anyhow::Result<ExitCode> {
    let built = weir::devloop::build::build(dir)?;
    println!("built {}", built.component.display());
    Ok(ExitCode::SUCCESS)
}

fn plugin_test(
    component: &Path,
    input: &Path,
    config: Vec<(String, String)>,
) -> anyhow::Result<ExitCode> {
    let runtime = PluginRuntime::new(default_cache_dir(), Arc::new(Metrics::new("test")))?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    weir::devloop::test::run(
        &runtime,
        component,
        input,
        config,
        &mut out,
        &mut std::io::stderr(),
    )?;
    Ok(ExitCode::SUCCESS)
}

fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("WEIR_CACHE_DIR") {
        return Some(dir.into());
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("weir"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/weir"))
}
