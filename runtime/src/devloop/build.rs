//! `weir plugin build`: finds out which language a plugin directory is
//! written in and builds it into a component with that language's tools.
//!
//! - Rust (`Cargo.toml`): `cargo build --release`; the component is the
//!   `.wasm` file cargo reports (a crate scaffolded by `weir plugin new`
//!   targets `wasm32-wasip2` through `.cargo/config.toml`).
//! - Python (`weir-plugin.toml` with `lang = "python"`, or `app.py`):
//!   `python3 sdk/python/build.py` of [`weir_home`], into `build/NAME.wasm`.
//! - JavaScript (`weir-plugin.toml` with `lang = "js"`, or `app.js`):
//!   `node sdk/js/build.js` of [`weir_home`], into `build/NAME.wasm`.
//! - Go (`weir-plugin.toml` with `lang = "go"`, or `go.mod`): `sh
//!   sdk/go/build.sh` of [`weir_home`], into `build/NAME.wasm`, with its
//!   intermediate files in `build/work`.
//! - C (`weir-plugin.toml` with `lang = "c"`, or a `.c` file): `sh
//!   sdk/c/build.sh` of [`weir_home`], into `build/NAME.wasm`, with its
//!   intermediate files in `build/work`.
//!
//! `Cargo.toml` wins over everything, then the manifest's `lang`, then the
//! other files in the order above. For the languages built by an SDK
//! script, `NAME` is the manifest's `name`, else the directory's name.
//!
//! The tools write to the inherited standard error as they run, so their
//! errors reach the author as they are; [`BuildError`] then says in one line
//! which step failed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use super::{Language, weir_home};

/// A plugin could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Nothing in the directory says which language it is.
    #[error(
        "no plugin in {}: expected Cargo.toml (rust), app.py (python), app.js (js), go.mod (go) \
         or a .c file (c), or weir-plugin.toml naming the `lang`",
        .0.display()
    )]
    NotFound(PathBuf),
    /// `weir-plugin.toml` could not be read or names an unknown language.
    #[error("{}: {message}", path.display())]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The SDK's build script is not in the weir checkout.
    #[error("cannot find {}: set WEIR_HOME to a weir checkout", .0.display())]
    NoSdk(PathBuf),
    /// The build tool could not be started.
    #[error("building the {language} plugin failed: cannot run `{program}`: {source}")]
    Spawn {
        /// The plugin's language.
        language: Language,
        /// The program.
        program: String,
        /// Why it could not be started.
        source: std::io::Error,
    },
    /// A build step failed; the tool has said why on standard error.
    #[error("building the {language} plugin failed: {command} exited with {}", describe(*.status))]
    Failed {
        /// The plugin's language.
        language: Language,
        /// The command, as the author would type it.
        command: String,
        /// How it ended.
        status: ExitStatus,
    },
    /// Cargo succeeded but built no component.
    #[error(
        "building the rust plugin failed: cargo build --release built no .wasm file (is \
         wasm32-wasip2 the target in .cargo/config.toml, and the crate a cdylib?)"
    )]
    NoComponent,
}

/// A built plugin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Built {
    /// The plugin's language.
    pub language: Language,
    /// The component file.
    pub component: PathBuf,
}

/// Finds out which language the plugin in `dir` is written in.
///
/// # Errors
///
/// [`BuildError::NotFound`] when nothing says, [`BuildError::Manifest`]
/// when `weir-plugin.toml` cannot be read or names an unknown language.
pub fn detect(dir: &Path) -> Result<Language, BuildError> {
    if dir.join("Cargo.toml").is_file() {
        return Ok(Language::Rust);
    }
    let manifest = dir.join("weir-plugin.toml");
    if manifest.is_file()
        && let Some(lang) = read_manifest(&manifest)?.get("lang")
    {
        return match lang.as_str() {
            Some("rust") => Ok(Language::Rust),
            Some("python") => Ok(Language::Python),
            Some("js") => Ok(Language::Js),
            Some("go") => Ok(Language::Go),
            Some("c") => Ok(Language::C),
            _ => Err(BuildError::Manifest {
                path: manifest,
                message: format!(
                    "unknown `lang` {lang}, expected \"rust\", \"python\", \"js\", \"go\" or \"c\""
                ),
            }),
        };
    }
    if dir.join("app.py").is_file() {
        Ok(Language::Python)
    } else if dir.join("app.js").is_file() {
        Ok(Language::Js)
    } else if dir.join("go.mod").is_file() {
        Ok(Language::Go)
    } else if has_c_file(dir) {
        Ok(Language::C)
    } else {
        Err(BuildError::NotFound(dir.to_owned()))
    }
}

/// Whether `dir` holds a `.c` file, as `sdk/c/build.sh` compiles.
fn has_c_file(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|entry| {
            let path = entry.path();
            path.extension().is_some_and(|ext| ext == "c") && path.is_file()
        })
    })
}

/// Builds the plugin in `dir` into a component.
///
/// # Errors
///
/// [`BuildError`] when the language cannot be found out, or when the SDK is
/// missing or a build step fails.
pub fn build(dir: &Path) -> Result<Built, BuildError> {
    let dir = std::fs::canonicalize(dir).map_err(|_| BuildError::NotFound(dir.to_owned()))?;
    let language = detect(&dir)?;
    let component = match language {
        Language::Rust => build_rust(&dir)?,
        Language::Python => {
            build_with_script(&dir, language, "python3", "sdk/python/build.py", false)?
        }
        Language::Js => build_with_script(&dir, language, "node", "sdk/js/build.js", false)?,
        Language::Go => build_with_script(&dir, language, "sh", "sdk/go/build.sh", true)?,
        Language::C => build_with_script(&dir, language, "sh", "sdk/c/build.sh", true)?,
    };
    Ok(Built {
        language,
        component,
    })
}

fn build_rust(dir: &Path) -> Result<PathBuf, BuildError> {
    let spawn = |source| BuildError::Spawn {
        language: Language::Rust,
        program: "cargo".to_owned(),
        source,
    };
    // Cargo renders its diagnostics on standard error (inherited) and
    // reports artifacts as JSON on standard output, which finds the
    // component wherever the target directory is.
    let mut child = Command::new("cargo")
        .args([
            "build",
            "--release",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(spawn)?;
    let mut component = None;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(wasm) = wasm_artifact(&line) {
                component = Some(wasm);
            }
        }
    }
    let status = child.wait().map_err(spawn)?;
    if !status.success() {
        return Err(BuildError::Failed {
            language: Language::Rust,
            command: "cargo build --release".to_owned(),
            status,
        });
    }
    component.ok_or(BuildError::NoComponent)
}

/// The `.wasm` file of a cdylib in one line of cargo's JSON messages.
fn wasm_artifact(line: &str) -> Option<PathBuf> {
    let message: serde_json::Value = serde_json::from_str(line).ok()?;
    if message["reason"] != "compiler-artifact" {
        return None;
    }
    let cdylib = message["target"]["crate_types"]
        .as_array()?
        .iter()
        .any(|t| t == "cdylib");
    if !cdylib {
        return None;
    }
    message["filenames"]
        .as_array()?
        .iter()
        .filter_map(|f| f.as_str())
        .find(|f| f.ends_with(".wasm"))
        .map(PathBuf::from)
}

/// Runs an SDK's build script, which names its failing step itself. With
/// `work_dir`, the script is given `--build-dir build/work` for its
/// intermediate files (the Go and C scripts would otherwise make a new
/// temporary directory on every build and leave it behind); the Python and
/// JavaScript scripts use `build/` of the plugin by default.
fn build_with_script(
    dir: &Path,
    language: Language,
    program: &str,
    script: &str,
    work_dir: bool,
) -> Result<PathBuf, BuildError> {
    let script = weir_home().join(script);
    if !script.is_file() {
        return Err(BuildError::NoSdk(script));
    }
    let name = plugin_name(dir)?;
    let output = dir.join("build").join(format!("{name}.wasm"));
    let mut command = Command::new(program);
    command.arg(&script).arg(dir).arg("-o").arg(&output);
    if work_dir {
        // The script creates this directory, and so `build/` for the
        // component too.
        command.arg("--build-dir").arg(dir.join("build/work"));
    }
    let status = command
        .current_dir(dir)
        .status()
        .map_err(|source| BuildError::Spawn {
            language,
            program: program.to_owned(),
            source,
        })?;
    if !status.success() {
        return Err(BuildError::Failed {
            language,
            command: format!("{program} {}", script.display()),
            status,
        });
    }
    Ok(output)
}

/// `name` from `weir-plugin.toml`, else the directory's name.
fn plugin_name(dir: &Path) -> Result<String, BuildError> {
    let manifest = dir.join("weir-plugin.toml");
    if manifest.is_file()
        && let Some(name) = read_manifest(&manifest)?.get("name")
    {
        return match name.as_str() {
            Some(name) if !name.is_empty() && !name.contains(['/', '\\']) => Ok(name.to_owned()),
            _ => Err(BuildError::Manifest {
                path: manifest,
                message: "`name` must be a non-empty string without `/`".to_owned(),
            }),
        };
    }
    Ok(dir
        .file_name()
        .map_or_else(|| "plugin".to_owned(), |n| n.to_string_lossy().into_owned()))
}

fn read_manifest(path: &Path) -> Result<toml::Table, BuildError> {
    let manifest = |message: String| BuildError::Manifest {
        path: path.to_owned(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| manifest(format!("cannot read: {e}")))?;
    text.parse::<toml::Table>()
        .map_err(|e| manifest(e.message().to_owned()))
}

/// `status 101`, or how the process died.
fn describe(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("status {code}"),
        None => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_component_in_cargo_messages() {
        let line = r#"{"reason":"compiler-artifact","target":{"crate_types":["cdylib"]},"filenames":["/t/x.wasm"]}"#;
        assert_eq!(wasm_artifact(line), Some(PathBuf::from("/t/x.wasm")));
        let rlib = r#"{"reason":"compiler-artifact","target":{"crate_types":["lib"]},"filenames":["/t/x.rlib"]}"#;
        assert_eq!(wasm_artifact(rlib), None);
        assert_eq!(wasm_artifact("not json"), None);
    }

    #[test]
    fn detects_languages() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(detect(dir.path()), Err(BuildError::NotFound(_))));
        std::fs::write(dir.path().join("app.js"), "").unwrap();
        assert_eq!(detect(dir.path()).unwrap(), Language::Js);
        std::fs::write(dir.path().join("weir-plugin.toml"), "lang = \"python\"").unwrap();
        assert_eq!(detect(dir.path()).unwrap(), Language::Python);
        std::fs::write(dir.path().join("Cargo.toml"), "").unwrap();
        assert_eq!(detect(dir.path()).unwrap(), Language::Rust);

        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("include.c")).unwrap();
        assert!(
            matches!(detect(dir.path()), Err(BuildError::NotFound(_))),
            "a directory is not a .c file"
        );
        std::fs::write(dir.path().join("plugin.c"), "").unwrap();
        assert_eq!(detect(dir.path()).unwrap(), Language::C);
        std::fs::write(dir.path().join("go.mod"), "").unwrap();
        assert_eq!(detect(dir.path()).unwrap(), Language::Go);
        std::fs::write(dir.path().join("weir-plugin.toml"), "lang = \"c\"").unwrap();
        assert_eq!(detect(dir.path()).unwrap(), Language::C);
        std::fs::write(dir.path().join("weir-plugin.toml"), "lang = \"zig\"").unwrap();
        assert!(matches!(
            detect(dir.path()),
            Err(BuildError::Manifest { message, .. }) if message.starts_with("unknown `lang` \"zig\"")
        ));
    }
}
