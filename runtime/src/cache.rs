//! Precompiled components on disk, keyed by the component's content hash and by the
//! engine's compatibility hash (wasmtime version and compilation settings).
//!
//! Artifacts are written to a temporary file and renamed into place, never rewritten:
//! loaded artifacts are memory-mapped.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

use super::RuntimeError;

/// How a component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadSource {
    /// Compiled now (and stored in the cache).
    Compiled,
    /// Loaded from a precompiled artifact.
    Cached,
}

/// A loaded component and how long loading took.
pub struct Loaded {
    pub component: Component,
    pub source: LoadSource,
    pub elapsed: Duration,
    /// Hex SHA-256 of the component's bytes.
    pub digest: String,
}

/// The engine's compatibility hash as 16 hex digits: precompiled components load only
/// into an engine with the same hash (same wasmtime build and compilation settings).
pub fn compatibility_hash(engine: &Engine) -> String {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// The directory of precompiled artifacts.
#[derive(Debug, Clone)]
pub struct ArtifactCache {
    dir: PathBuf,
}

impl ArtifactCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Loads `wasm` for `engine`, from the cache when a compatible artifact exists,
    /// otherwise by compiling it and caching the result. An artifact that fails to load
    /// (truncated, from another build) is compiled again and replaced.
    pub fn load(&self, engine: &Engine, wasm: &Path) -> Result<Loaded, RuntimeError> {
        let started = Instant::now();
        let bytes = std::fs::read(wasm).map_err(|source| RuntimeError::Read {
            path: wasm.to_path_buf(),
            source,
        })?;
        let digest = hex::encode(Sha256::digest(&bytes));
        let artifact = self.artifact_path(engine, &digest);

        if artifact.exists() {
            // SAFETY: the file was written by `store` below for this engine's
            // compatibility hash and is only ever replaced by rename, so the mapping
            // stays valid; wasmtime checks the header and rejects foreign artifacts.
            match unsafe { Component::deserialize_file(engine, &artifact) } {
                Ok(component) => {
                    return Ok(Loaded {
                        component,
                        source: LoadSource::Cached,
                        elapsed: started.elapsed(),
                        digest,
                    })
                }
                Err(error) => tracing::warn!(
                    artifact = %artifact.display(),
                    "discarding unusable precompiled component: {error:#}"
                ),
            }
        }

        let compiled =
            engine
                .precompile_component(&bytes)
                .map_err(|source| RuntimeError::Compile {
                    path: wasm.to_path_buf(),
                    source,
                })?;
        self.store(&artifact, &compiled)?;
        // SAFETY: as above; the artifact was just produced by this engine.
        let component =
            unsafe { Component::deserialize_file(engine, &artifact) }.map_err(|source| {
                RuntimeError::Compile {
                    path: wasm.to_path_buf(),
                    source,
                }
            })?;
        Ok(Loaded {
            component,
            source: LoadSource::Compiled,
            elapsed: started.elapsed(),
            digest,
        })
    }

    fn artifact_path(&self, engine: &Engine, digest: &str) -> PathBuf {
        self.dir
            .join(format!("{digest}-{}.cwasm", compatibility_hash(engine)))
    }

    fn store(&self, artifact: &Path, compiled: &[u8]) -> Result<(), RuntimeError> {
        let cache_error = |source| RuntimeError::Cache {
            path: artifact.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(&self.dir).map_err(cache_error)?;
        let mut file = tempfile::NamedTempFile::new_in(&self.dir).map_err(cache_error)?;
        file.write_all(compiled).map_err(cache_error)?;
        file.as_file().sync_all().map_err(cache_error)?;
        file.persist(artifact)
            .map_err(|error| cache_error(error.error))?;
        Ok(())
    }
}
