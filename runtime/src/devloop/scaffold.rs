//! `weir plugin new`: a plugin project that builds as it is.
//!
//! Every language gets the same small transform (it adds a `tag` field to
//! JSON objects and refuses other values) and a README saying how to build
//! and test it. The templates are files under `runtime/templates/`, with
//! `{{name}}`-style placeholders.
//!
//! - Rust: a standalone crate (its own `[workspace]`, a `cdylib`,
//!   `.cargo/config.toml` making `wasm32-wasip2` the target) depending on
//!   `weir-sdk` by path in [`weir_home`](super::weir_home).
//! - Python: `app.py` and `weir-plugin.toml`, as `sdk/python/build.py`
//!   expects.
//! - JavaScript: `app.js`, `weir-plugin.toml` and a `package.json` for npm
//!   dependencies, as `sdk/js/build.js` expects.
//! - Go: `main.go`, `weir-plugin.toml` and a `go.mod` whose `replace`
//!   points `weir.dev/sdk` at `sdk/go` in [`weir_home`](super::weir_home),
//!   as `sdk/go/build.sh` expects.
//! - C: `plugin.c` and `weir-plugin.toml`, as `sdk/c/build.sh` expects (it
//!   compiles every `.c` file of the directory with the SDK).

use std::path::{Path, PathBuf};

use super::{Language, weir_home};

/// A plugin project could not be created.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name cannot name a plugin.
    #[error(
        "invalid plugin name `{0}`: use an ASCII letter followed by letters, digits, `-` or `_`"
    )]
    InvalidName(String),
    /// Something is already where the project would go.
    #[error("{} already exists", .0.display())]
    Exists(PathBuf),
    /// The SDK the project depends on by path is not where it should be.
    #[error(
        "cannot find the weir {} sdk at {}: set WEIR_HOME to a weir checkout",
        .0,
        .1.display()
    )]
    NoSdk(Language, PathBuf),
    /// A file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// One file of a template: where it goes in the project, and its text.
type Template = (&'static str, &'static str);

const RUST: &[Template] = &[
    (
        "Cargo.toml",
        include_str!("../../templates/rust/Cargo.toml.tmpl"),
    ),
    (
        ".cargo/config.toml",
        include_str!("../../templates/rust/config.toml.tmpl"),
    ),
    (
        "src/lib.rs",
        include_str!("../../templates/rust/lib.rs.tmpl"),
    ),
    (
        "README.md",
        include_str!("../../templates/rust/README.md.tmpl"),
    ),
    (
        ".gitignore",
        include_str!("../../templates/rust/gitignore.tmpl"),
    ),
];

const PYTHON: &[Template] = &[
    ("app.py", include_str!("../../templates/python/app.py.tmpl")),
    (
        "weir-plugin.toml",
        include_str!("../../templates/python/weir-plugin.toml.tmpl"),
    ),
    (
        "README.md",
        include_str!("../../templates/python/README.md.tmpl"),
    ),
    (
        ".gitignore",
        include_str!("../../templates/python/gitignore.tmpl"),
    ),
];

const JS: &[Template] = &[
    ("app.js", include_str!("../../templates/js/app.js.tmpl")),
    (
        "weir-plugin.toml",
        include_str!("../../templates/js/weir-plugin.toml.tmpl"),
    ),
    (
        "package.json",
        include_str!("../../templates/js/package.json.tmpl"),
    ),
    (
        "README.md",
        include_str!("../../templates/js/README.md.tmpl"),
    ),
    (
        ".gitignore",
        include_str!("../../templates/js/gitignore.tmpl"),
    ),
];

const GO: &[Template] = &[
    ("main.go", include_str!("../../templates/go/main.go.tmpl")),
    ("go.mod", include_str!("../../templates/go/go.mod.tmpl")),
    (
        "weir-plugin.toml",
        include_str!("../../templates/go/weir-plugin.toml.tmpl"),
    ),
    (
        "README.md",
        include_str!("../../templates/go/README.md.tmpl"),
    ),
    (
        ".gitignore",
        include_str!("../../templates/go/gitignore.tmpl"),
    ),
];

const C: &[Template] = &[
    ("plugin.c", include_str!("../../templates/c/plugin.c.tmpl")),
    (
        "weir-plugin.toml",
        include_str!("../../templates/c/weir-plugin.toml.tmpl"),
    ),
    (
        "README.md",
        include_str!("../../templates/c/README.md.tmpl"),
    ),
    (
        ".gitignore",
        include_str!("../../templates/c/gitignore.tmpl"),
    ),
];

/// Creates the project `name` of `language` in `parent/name`; returns its
/// directory.
///
/// # Errors
///
/// [`ScaffoldError`] when the name is not valid, the directory exists, the
/// Rust or Go SDK (which the project names by path) cannot be found, or a
/// file cannot be written.
pub fn create(language: Language, name: &str, parent: &Path) -> Result<PathBuf, ScaffoldError> {
    let templates = match language {
        Language::Rust => RUST,
        Language::Python => PYTHON,
        Language::Js => JS,
        Language::Go => GO,
        Language::C => C,
    };
    if !valid_name(name) {
        return Err(ScaffoldError::InvalidName(name.to_owned()));
    }
    let dir = parent.join(name);
    if dir.exists() {
        return Err(ScaffoldError::Exists(dir));
    }
    let mut values = vec![
        ("name", name.to_owned()),
        ("crate_name", name.replace('-', "_")),
    ];
    // The Rust and Go projects name the SDK by path, in a TOML or go.mod
    // string.
    let sdk = match language {
        Language::Rust => Some(("sdk/rust", "Cargo.toml")),
        Language::Go => Some(("sdk/go", "go.mod")),
        Language::Python | Language::Js | Language::C => None,
    };
    if let Some((sdk, manifest)) = sdk {
        let sdk = weir_home().join(sdk);
        if !sdk.join(manifest).is_file() {
            return Err(ScaffoldError::NoSdk(language, sdk));
        }
        values.push(("sdk_path", quoted(&sdk.display().to_string())));
    }
    for (path, template) in templates {
        let file = dir.join(path);
        let text = fill(template, &values);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(|source| ScaffoldError::Write {
                path: parent.to_owned(),
                source,
            })?;
        }
        std::fs::write(&file, text)
            .map_err(|source| ScaffoldError::Write { path: file, source })?;
    }
    Ok(dir)
}

/// A name that is a valid crate, package and directory name in every
/// language.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Replaces every `{{key}}` in `template`.
fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut text = template.to_owned();
    for (key, value) in values {
        text = text.replace(&format!("{{{{{key}}}}}"), value);
    }
    text
}

/// A string literal holding `text`, both a TOML basic string and a Go
/// interpreted string literal (the form of a quoted path in `go.mod`): the
/// two share these escapes.
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_names() {
        assert!(valid_name("my-plugin_2"));
        assert!(!valid_name(""));
        assert!(!valid_name("2x"));
        assert!(!valid_name("a/b"));
        assert!(!valid_name("a b"));
    }

    #[test]
    fn fills_placeholders() {
        let values = [("name", "x".to_owned()), ("sdk_path", "\"p\"".to_owned())];
        assert_eq!(
            fill("{{name}}: {{sdk_path}} {{name}}", &values),
            "x: \"p\" x"
        );
        assert_eq!(quoted("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(quoted("a\nb"), r#""a\u000Ab""#);
    }
}
