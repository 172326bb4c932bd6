//! Compiled components on disk, so a plugin is compiled once per engine
//! configuration rather than at every start.
//!
//! An artifact's file name is the component's sha256 plus the engine's
//! compatibility hash, so an upgraded weir (or a changed engine
//! configuration) never loads an artifact it did not produce. Each file
//! starts with a header of our own holding the sha256 of the artifact bytes;
//! a file whose header does not match (truncated, corrupted, or not written by
//! weir) is never deserialized: the component is compiled again and the file
//! replaced. Files are written to a temporary name and renamed, so a crash
//! never leaves a half-written artifact under the real name.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Marks a file as a weir artifact; followed by 32 bytes of sha256.
const MAGIC: &[u8; 16] = b"weir-artifact-1\n";

/// The on-disk cache of compiled components.
pub struct ArtifactCache {
    dir: PathBuf,
    engine_hash: String,
}

impl ArtifactCache {
    /// A cache under `dir` (created on first write) for `engine`.
    pub fn new(dir: PathBuf, engine: &Engine) -> Self {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        ArtifactCache {
            dir,
            engine_hash: format!("{:016x}", hasher.finish()),
        }
    }

    /// The compiled component for `bytes` (whose digest is `digest`),
    /// from the cache when a valid artifact is there, else compiled and
    /// stored.
    pub fn get_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
        digest: &str,
    ) -> Result<Component, String> {
        let path = self.path_for(digest);
        if let Some(component) = self.read(engine, &path) {
            return Ok(component);
        }
        let component = Component::new(engine, bytes).map_err(|e| format!("{e:#}"))?;
        if let Err(error) = self.write(&component, &path) {
            // A cache that cannot be written only costs time on the next start.
            tracing::warn!(path = %path.display(), %error, "cannot store compiled plugin");
        }
        Ok(component)
    }

    fn path_for(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir.join(format!("{hex}-{}.cwasm", self.engine_hash))
    }

    fn read(&self, engine: &Engine, path: &Path) -> Option<Component> {
        let file = std::fs::read(path).ok()?;
        let Some(artifact) = verified_body(&file) else {
            tracing::warn!(path = %path.display(), "ignoring a damaged compiled plugin");
            return None;
        };
        // SAFETY: the bytes were produced by `Component::serialize` in a weir
        // process with the same engine configuration: the file name carries
        // the engine's compatibility hash and the header's checksum proves the
        // body is intact. Uploaded or foreign bytes never reach this call.
        match unsafe { Component::deserialize(engine, artifact) } {
            Ok(component) => Some(component),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "cannot load compiled plugin");
                None
            }
        }
    }

    fn write(&self, component: &Component, path: &Path) -> std::io::Result<()> {
        let body = component.serialize().map_err(std::io::Error::other)?;
        std::fs::create_dir_all(&self.dir)?;
        let mut file = Vec::with_capacity(MAGIC.len() + 32 + body.len());
        file.extend_from_slice(MAGIC);
        file.extend_from_slice(&Sha256::digest(&body));
        file.extend_from_slice(&body);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, &file)?;
        std::fs::rename(&tmp, path)
    }
}

/// The artifact body if `file` has weir's header and the checksum matches.
fn verified_body(file: &[u8]) -> Option<&[u8]> {
    let rest = file.strip_prefix(MAGIC.as_slice())?;
    if rest.len() < 32 {
        return None;
    }
    let (sum, body) = rest.split_at(32);
    (Sha256::digest(body).as_slice() == sum).then_some(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_must_match_body() {
        let body = b"compiled bytes";
        let mut file = MAGIC.to_vec();
        file.extend_from_slice(&Sha256::digest(body));
        file.extend_from_slice(body);
        assert_eq!(verified_body(&file), Some(&body[..]));

        let last = file.len() - 1;
        file[last] ^= 1;
        assert_eq!(verified_body(&file), None);
        assert_eq!(verified_body(b"\0asm\x0d\0\x01\0"), None);
        assert_eq!(verified_body(&file[..MAGIC.len() + 10]), None);
    }
}
