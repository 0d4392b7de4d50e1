//! Compiled functions on disk, shared by every component an engine compiles (wasmtime's
//! incremental compilation cache).
//!
//! A JS or Python component is an interpreter plus a snapshot of the user's code: an edit
//! changes the snapshot's data but few of its tens of thousands of functions. Each function
//! Cranelift compiled is kept under a hash of its input, so recompiling an edited component
//! only compiles the functions that changed. The cache lives in a machine-wide directory, so
//! a new app reuses the interpreter another app compiled.
//!
//! Entries are written to a temporary file and renamed into place, so concurrent hosts may
//! share the directory. The directory is bounded: when a host starts and finds it over
//! [`FUNCTION_CACHE_LIMIT`], it empties it.

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::CacheStore;

/// Most bytes the function cache may hold when a host starts (the interpreters of the JS and
/// Python SDKs take about 60 MiB each).
pub const FUNCTION_CACHE_LIMIT: u64 = 1 << 30;

/// A directory of compiled functions, one file per function, named by the hash of its key.
#[derive(Debug)]
pub struct FunctionCache {
    dir: PathBuf,
}

impl FunctionCache {
    /// Opens the cache in `dir`, creating it, or emptying it when it holds more than
    /// `limit` bytes.
    pub fn open(dir: &Path, limit: u64) -> std::io::Result<Self> {
        crate::bounded_dir::open(dir, limit, "compiled-function")?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    fn entry(&self, key: &[u8]) -> PathBuf {
        self.dir.join(hex::encode(&Sha256::digest(key)[..16]))
    }
}

impl CacheStore for FunctionCache {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        std::fs::read(self.entry(key)).ok().map(Cow::Owned)
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        let path = self.entry(key);
        let written = tempfile::NamedTempFile::new_in(&self.dir)
            .and_then(|mut file| {
                file.write_all(&value)?;
                Ok(file)
            })
            .and_then(|file| file.persist(&path).map_err(|error| error.error));
        written.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_an_oversized_cache_is_emptied() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("functions");
        let cache = FunctionCache::open(&path, 1 << 20).expect("open");
        assert!(cache.get(b"key").is_none());
        assert!(cache.insert(b"key", vec![7; 1000]));
        assert_eq!(cache.get(b"key").as_deref(), Some(&[7u8; 1000][..]));
        assert!(cache.get(b"other").is_none());

        // Within the limit, a reopened cache keeps its entries; over it, it starts empty.
        let cache = FunctionCache::open(&path, 1000).expect("reopen");
        assert!(cache.get(b"key").is_some());
        let cache = FunctionCache::open(&path, 999).expect("reopen over the limit");
        assert!(cache.get(b"key").is_none());
        assert!(cache.insert(b"key", vec![1]));
    }
}
