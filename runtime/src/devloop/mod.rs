//! The plugin author's loop: `weir plugin new` ([`scaffold`]), `weir plugin
//! build` ([`build`]) and `weir plugin test` ([`test`]).
//!
//! Scaffolding and building need the weir checkout: the Rust and Go SDKs
//! are path dependencies, and Python, JavaScript, Go and C plugins are built
//! by the SDKs' `build.py`, `build.js` and `build.sh` scripts. That checkout
//! is [`weir_home`]: `$WEIR_HOME` when set, else the checkout this binary was
//! built from.

use std::fmt;
use std::path::PathBuf;

pub mod build;
pub mod scaffold;
pub mod test;

/// A language plugins are written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Language {
    /// Rust, with `sdk/rust`.
    Rust,
    /// Python, with `sdk/python` and componentize-py.
    Python,
    /// JavaScript, with `sdk/js` and componentize-js.
    Js,
    /// Go, with `sdk/go` and the WASI preview 1 adapter.
    Go,
    /// C, with `sdk/c`, clang and wasi-libc.
    C,
}

impl Language {
    /// The language's name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Python => "python",
            Language::Js => "js",
            Language::Go => "go",
            Language::C => "c",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The weir checkout whose SDKs scaffolded plugins use: `$WEIR_HOME` when
/// set and not empty, else the checkout this binary was built from (the
/// parent of `runtime/`, fixed at compile time).
pub fn weir_home() -> PathBuf {
    match std::env::var_os("WEIR_HOME") {
        Some(home) if !home.is_empty() => PathBuf::from(home),
        _ => {
            let built_from = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
            std::fs::canonicalize(built_from).unwrap_or_else(|_| PathBuf::from(built_from))
        }
    }
}
