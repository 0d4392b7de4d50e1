//! Embeds the guest SDKs and the WIT contract in the `moose` binary (see
//! `src/toolchain/sdk.rs`), so apps build without the source tree: writes
//! `$OUT_DIR/sdk_files.rs`, the list of their files as `(path, bytes)`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What the SDKs are made of, relative to the repository root: files, and directories
/// taken whole (less caches and build output). Only what a packed SDK holds.
const SOURCES: &[&str] = &[
    "wit",
    "guest-sdk-js/package.json",
    "guest-sdk-js/package-lock.json",
    "guest-sdk-js/README.md",
    "guest-sdk-js/tsconfig.json",
    "guest-sdk-js/bin",
    "guest-sdk-js/src",
    "guest-sdk-python/pyproject.toml",
    "guest-sdk-python/README.md",
    "guest-sdk-python/src",
    "guest-sdk-rust/Cargo.toml",
    "guest-sdk-rust/README.md",
    "guest-sdk-rust/src",
    "guest-sdk-rust/wit",
    "guest-sdk-rust/macros/Cargo.toml",
    "guest-sdk-rust/macros/src",
];

/// Names never embedded: caches and build output the tests leave behind.
fn skipped(name: &str) -> bool {
    name.starts_with('.')
        || name == "__pycache__"
        || name == "node_modules"
        || name.ends_with(".egg-info")
        || name.ends_with(".pyc")
}

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir.parent().expect("host/ is in the repository");
    let mut files = Vec::new();
    for source in SOURCES {
        collect(root, &root.join(source), &mut files);
    }
    files.sort();
    let mut out = String::from("/// The embedded SDK files: path relative to the SDK root, contents.\npub const FILES: &[(&str, &[u8])] = &[\n");
    for (relative, absolute) in &files {
        // Each file reruns this script when it changes (not the directories: the tests
        // write caches into them). A new file comes with an edit that imports it.
        println!("cargo:rerun-if-changed={}", absolute.display());
        writeln!(
            out,
            "    ({relative:?}, include_bytes!({:?})),",
            absolute.display().to_string()
        )
        .expect("writing to a String");
    }
    out.push_str("];\n");
    let dest =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("sdk_files.rs");
    std::fs::write(&dest, out).expect("writing sdk_files.rs");
}

/// Adds `path` (a file, or a directory's files) to `files` as (relative to `root`, absolute).
fn collect(root: &Path, path: &Path, files: &mut Vec<(String, PathBuf)>) {
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
            .map(|entry| entry.expect("directory entry").path())
            .collect();
        entries.sort();
        for entry in entries {
            let name = entry
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !skipped(&name) {
                collect(root, &entry, files);
            }
        }
    } else if path.is_file() {
        let relative = path.strip_prefix(root).expect("under the root");
        let relative = relative
            .to_str()
            .expect("SDK paths are UTF-8")
            .replace('\\', "/");
        files.push((relative, path.to_path_buf()));
    } else {
        panic!(
            "{} is missing: the SDKs are embedded from it",
            path.display()
        );
    }
}
