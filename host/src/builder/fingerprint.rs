//! Whether a JS or Python component's sources changed since its last build.
//!
//! Those builds take seconds (a JS engine or a Python interpreter is snapshotted into the
//! component), so an unchanged component is not rebuilt. The fingerprint covers every
//! file under the given input directories except dependency and output directories and
//! the app's `moose.config.toml` (host settings, not component source), plus the WIT
//! contract.

use std::path::{Path, PathBuf};

use xxhash_rust::xxh3::Xxh3;

/// Directories that never hold a component's own sources.
const SKIPPED: &[&str] = &[
    "node_modules",
    ".moose",
    "target",
    "__pycache__",
    ".git",
    ".venv",
    "venv",
    ".mypy_cache",
];

/// Digest of the files under `inputs` (paths relative to their input, sizes and contents)
/// and of `wit`. Relative paths keep the digest of a copied project unchanged.
pub fn digest(inputs: &[PathBuf], wit: &str) -> u128 {
    let mut hasher = Xxh3::new();
    hasher.update(wit.as_bytes());
    for input in inputs {
        let mut files = Vec::new();
        collect(input, &mut files);
        files.sort();
        for file in files {
            let relative = file.strip_prefix(input).unwrap_or(&file);
            hasher.update(relative.as_os_str().as_encoded_bytes());
            if let Ok(bytes) = std::fs::read(&file) {
                hasher.update(&(bytes.len() as u64).to_le_bytes());
                hasher.update(&bytes);
            }
        }
    }
    hasher.digest128()
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            let skipped = entry
                .file_name()
                .to_str()
                .is_some_and(|name| SKIPPED.contains(&name));
            if !skipped {
                collect(&path, files);
            }
        } else if kind.is_file() && entry.file_name() != crate::config::CONFIG_FILE {
            files.push(path);
        }
    }
}

/// The recorded fingerprint of a component's last successful build.
pub struct Stamp {
    path: PathBuf,
}

impl Stamp {
    pub fn new(out_dir: &Path, name: &str) -> Self {
        Self {
            path: out_dir.join(format!("{name}.fingerprint")),
        }
    }

    pub fn matches(&self, digest: u128) -> bool {
        std::fs::read_to_string(&self.path)
            .is_ok_and(|recorded| recorded == format!("{digest:032x}"))
    }

    /// Forgets the last build, so an interrupted build is never taken as current.
    pub fn clear(&self) {
        let _ = std::fs::remove_file(&self.path);
    }

    /// Records a successful build. Failing to write only costs a rebuild next time.
    pub fn record(&self, digest: u128) {
        let _ = std::fs::write(&self.path, format!("{digest:032x}"));
    }
}
