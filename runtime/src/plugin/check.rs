//! `weir plugin check`: what a component is, what it imports, and whether
//! weir would run it (and if not, why).

use std::path::Path;

use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

use super::{PluginError, PluginRuntime, World, world_of};

/// What weir found in a component file.
#[derive(Debug)]
pub struct Report {
    /// `sha256:` digest of the file.
    pub digest: String,
    /// The file's size in bytes.
    pub size: usize,
    /// The world it implements, when it implements one.
    pub world: Option<World>,
    /// Every import, with what weir puts behind it.
    pub imports: Vec<(String, &'static str)>,
    /// Why weir would refuse to run it; `None` when it would run it.
    pub refusal: Option<String>,
}

/// Fails with a clear reason when `bytes` is not a WebAssembly component.
pub fn ensure_component(bytes: &[u8]) -> Result<(), String> {
    let Some(header) = bytes.get(..8) else {
        return Err(format!("not a webassembly file ({} bytes)", bytes.len()));
    };
    if &header[..4] != b"\0asm" {
        return Err("not a webassembly file (no `\\0asm` header)".into());
    }
    if header[6..8] == [0, 0] {
        return Err(
            "a core webassembly module, not a component; build for wasm32-wasip2 \
                    or wrap it with `wasm-tools component new`"
                .into(),
        );
    }
    Ok(())
}

/// Inspects the component at `path`.
///
/// # Errors
///
/// [`PluginError::Read`] when the file cannot be read. Anything wrong with
/// its contents is reported in [`Report::refusal`].
pub fn inspect(runtime: &PluginRuntime, path: &Path) -> Result<Report, PluginError> {
    let bytes = std::fs::read(path).map_err(|error| PluginError::Read {
        path: path.to_owned(),
        error,
    })?;
    let mut report = Report {
        digest: super::digest(&bytes),
        size: bytes.len(),
        world: None,
        imports: Vec::new(),
        refusal: None,
    };
    if let Err(reason) = ensure_component(&bytes) {
        report.refusal = Some(reason);
        return Ok(report);
    }
    let component = match Component::new(runtime.engine(), &bytes) {
        Ok(component) => component,
        Err(e) => {
            report.refusal = Some(format!("invalid component: {e:#}"));
            return Ok(report);
        }
    };
    let ty = component.component_type();
    for (name, item) in ty.imports(runtime.engine()) {
        let granted = match item.ty {
            ComponentItem::ComponentInstance(_) => grant(name),
            _ => "not an interface; weir cannot provide it",
        };
        report.imports.push((name.to_string(), granted));
    }
    report.world = world_of(runtime.engine(), &component)
        .map_err(|r| report.refusal = Some(r))
        .ok();
    if report.refusal.is_none()
        && let Err(e) = runtime.linker.instantiate_pre(&component)
    {
        report.refusal = Some(format!("{e:#}"));
    }
    Ok(report)
}

/// What weir links behind an import, in a few words.
fn grant(name: &str) -> &'static str {
    let interface = name.split('@').next().unwrap_or(name);
    match interface {
        "weir:plugin/host" => "weir's log",
        "weir:plugin/state" => "keyed state, per key-by key (needs a `[key_by]`)",
        "weir:plugin/types" => "types only",
        "wasi:filesystem/types" | "wasi:filesystem/preopens" => "linked, no directory granted",
        "wasi:cli/environment" => "linked, empty environment and arguments",
        "wasi:cli/stdin" => "linked, closed",
        "wasi:cli/stdout" => "linked, discarded",
        "wasi:cli/stderr" => "linked, captured for trap messages",
        "wasi:clocks/wall-clock" => "linked, stopped at the unix epoch",
        "wasi:clocks/monotonic-clock" => "linked, never advances",
        "wasi:random/random" | "wasi:random/insecure" | "wasi:random/insecure-seed" => {
            "linked, deterministic"
        }
        i if i.starts_with("wasi:sockets/") => "linked, every address denied",
        i if i.starts_with("wasi:io/") || i.starts_with("wasi:cli/") => "linked",
        _ => "not provided by weir",
    }
}
