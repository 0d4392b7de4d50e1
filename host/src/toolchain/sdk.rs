//! The guest SDKs and the WIT contract this binary carries, unpacked on first use into
//! `<cache>/sdk/<version>-<digest>/` (the repository's layout: `wit/`, `guest-sdk-js/`,
//! `guest-sdk-python/`, `guest-sdk-rust/`), where apps made by `moose init` depend on them.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::ToolchainError;

include!(concat!(env!("OUT_DIR"), "/sdk_files.rs"));

/// Marks a complete unpacking; written last.
const COMPLETE: &str = ".complete";

/// The directory of this binary's SDKs, unpacked if it is not yet.
pub fn root() -> Result<PathBuf, ToolchainError> {
    let root = crate::config::cache_dir().join("sdk").join(version_dir());
    if !root.join(COMPLETE).is_file() {
        unpack(&root)?;
    }
    Ok(root)
}

/// The JS guest SDK's package directory.
pub fn js() -> Result<PathBuf, ToolchainError> {
    Ok(root()?.join("guest-sdk-js"))
}

/// The Python guest SDK's project directory.
pub fn python() -> Result<PathBuf, ToolchainError> {
    Ok(root()?.join("guest-sdk-python"))
}

/// The Rust guest SDK's crate directory.
pub fn rust() -> Result<PathBuf, ToolchainError> {
    Ok(root()?.join("guest-sdk-rust"))
}

/// Checks an app's dependency on the SDK `name` (`guest-sdk-js`, `guest-sdk-rust`) at
/// `path`: true when it is this binary's, which is then unpacked (a cleared cache lacks
/// it). A path into the unpacked SDKs of another moose version that are gone is an error
/// naming this binary's; any other path is the app's business.
pub fn check_dependency(path: &Path, name: &str) -> Result<bool, ToolchainError> {
    let unpacked = crate::config::cache_dir().join("sdk");
    let current = unpacked.join(version_dir()).join(name);
    match classify(path, &unpacked, &current) {
        Dependency::This => {
            root()?;
            Ok(true)
        }
        Dependency::Other => Ok(false),
        Dependency::Gone => Err(ToolchainError::GoneSdk {
            dependency: path.to_path_buf(),
            current,
        }),
    }
}

/// What an app's SDK dependency is to this binary.
#[derive(Debug, PartialEq, Eq)]
enum Dependency {
    /// This binary's unpacked SDK.
    This,
    /// Anything else that exists, or is outside the unpacked SDKs.
    Other,
    /// Another version's unpacked SDK, no longer there.
    Gone,
}

fn classify(path: &Path, unpacked: &Path, current: &Path) -> Dependency {
    if path == current {
        Dependency::This
    } else if path.starts_with(unpacked) && !path.exists() {
        Dependency::Gone
    } else {
        Dependency::Other
    }
}

/// The embedded contents of the file at `path` (relative to the SDK root).
pub fn file(path: &str) -> Option<&'static [u8]> {
    FILES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, bytes)| *bytes)
}

/// `<WIT package version>-<digest of the files>`: a changed SDK unpacks beside the old.
fn version_dir() -> &'static str {
    static DIR: OnceLock<String> = OnceLock::new();
    DIR.get_or_init(|| {
        let mut digest = xxhash_rust::xxh3::Xxh3::new();
        for (path, bytes) in FILES {
            digest.update(path.as_bytes());
            digest.update(&(bytes.len() as u64).to_le_bytes());
            digest.update(bytes);
        }
        format!("{}-{:016x}", wit_version(), digest.digest())
    })
}

/// The contract every component is built against, `wit/moose.wit`.
pub fn wit() -> &'static str {
    file("wit/moose.wit")
        .and_then(|w| std::str::from_utf8(w).ok())
        .unwrap_or_default()
}

/// The version of the WIT package (`package moose:app@<version>;`), which the SDKs'
/// versions follow.
pub fn wit_version() -> &'static str {
    wit()
        .lines()
        .find_map(|l| l.strip_prefix("package moose:app@"))
        .map_or("0", |v| v.trim_end_matches(';'))
}

/// Writes the files into a temporary sibling of `root`, then renames it into place; a
/// concurrent unpacking that wins the rename is as good.
fn unpack(root: &Path) -> Result<(), ToolchainError> {
    let parent = root.parent().unwrap_or(root);
    std::fs::create_dir_all(parent).map_err(ToolchainError::io(parent))?;
    let partial = tempfile::Builder::new()
        .prefix(".unpacking-")
        .tempdir_in(parent)
        .map_err(ToolchainError::io(parent))?;
    for (path, bytes) in FILES {
        let dest = partial.path().join(path);
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(ToolchainError::io(dir))?;
        }
        std::fs::write(&dest, bytes).map_err(ToolchainError::io(&dest))?;
    }
    let complete = partial.path().join(COMPLETE);
    std::fs::write(&complete, version_dir()).map_err(ToolchainError::io(&complete))?;
    if std::fs::rename(partial.path(), root).is_err() && !root.join(COMPLETE).is_file() {
        // Neither this rename nor another process's: an incomplete directory is in the way.
        std::fs::remove_dir_all(root).map_err(ToolchainError::io(root))?;
        std::fs::rename(partial.path(), root).map_err(ToolchainError::io(root))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SDKs' package versions are the WIT package version they implement.
    #[test]
    fn every_sdk_is_versioned_as_the_wit_package() {
        let text = |path| std::str::from_utf8(file(path).expect(path)).expect("UTF-8");
        let version = wit_version();
        assert_ne!(version, "0", "the WIT names its package version");

        let js: serde_json::Value =
            serde_json::from_str(text("guest-sdk-js/package.json")).expect("JSON");
        assert_eq!(js["version"], version);
        let python: toml::Table = text("guest-sdk-python/pyproject.toml")
            .parse()
            .expect("TOML");
        assert_eq!(python["project"]["version"].as_str(), Some(version));
        for manifest in [
            "guest-sdk-rust/Cargo.toml",
            "guest-sdk-rust/macros/Cargo.toml",
        ] {
            let rust: toml::Table = text(manifest).parse().expect("TOML");
            assert_eq!(
                rust["package"]["version"].as_str(),
                Some(version),
                "{manifest}"
            );
        }
        assert_eq!(
            file("guest-sdk-rust/wit/moose.wit"),
            file("wit/moose.wit"),
            "the Rust SDK carries the WIT it is generated from"
        );
    }

    #[test]
    fn the_sdks_are_embedded_without_caches() {
        assert!(file("guest-sdk-js/bin/moose-build.mjs").is_some());
        assert!(file("guest-sdk-python/src/moose_guest/build.py").is_some());
        assert!(file("guest-sdk-rust/macros/src/lib.rs").is_some());
        for (path, _) in FILES {
            assert!(
                !path.contains("node_modules") && !path.contains("__pycache__"),
                "{path}"
            );
        }
    }

    #[test]
    fn a_dependency_on_another_versions_sdk_that_is_gone_is_told_apart() {
        let dir = tempfile::tempdir().expect("temp dir");
        let unpacked = dir.path().join("sdk");
        let current = unpacked.join("0.2.0-b").join("guest-sdk-js");
        let kept = unpacked.join("0.1.0-k").join("guest-sdk-js");
        std::fs::create_dir_all(&kept).expect("an older SDK, still there");
        let gone = unpacked.join("0.1.0-a").join("guest-sdk-js");
        assert_eq!(classify(&current, &unpacked, &current), Dependency::This);
        assert_eq!(classify(&kept, &unpacked, &current), Dependency::Other);
        assert_eq!(classify(&gone, &unpacked, &current), Dependency::Gone);
        let elsewhere = dir.path().join("checkout/guest-sdk-js");
        assert_eq!(classify(&elsewhere, &unpacked, &current), Dependency::Other);
    }

    #[test]
    fn unpacking_writes_every_file_and_the_marker() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("sdk");
        unpack(&root).expect("unpacks");
        unpack(&root).expect("unpacks again over a complete one");
        for (path, bytes) in FILES {
            assert_eq!(&std::fs::read(root.join(path)).expect(path), bytes);
        }
        assert!(root.join(COMPLETE).is_file());
    }
}
