//! The Rust toolchain: cargo, and the `wasm32-wasip2` target, added with rustup on first
//! use.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{find_on_path, install, sdk, ToolchainError};

/// The target Rust components compile for.
pub const TARGET: &str = "wasm32-wasip2";

/// Checks that rustc has the [`TARGET`] standard library, adding it with rustup if not.
pub fn ensure_target() -> Result<(), ToolchainError> {
    let missing_rust = || ToolchainError::MissingTool {
        tool: "cargo",
        hint: "install Rust with rustup (https://rustup.rs) to build Rust components".into(),
    };
    let output = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .map_err(|_| missing_rust())?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if sysroot.join("lib/rustlib").join(TARGET).is_dir() {
        return Ok(());
    }
    let rustup = find_on_path("rustup").ok_or_else(|| ToolchainError::MissingTool {
        tool: "the wasm32-wasip2 Rust target",
        hint: format!(
            "add the {TARGET} standard library to the Rust toolchain at {} (rustup: `rustup target add {TARGET}`)",
            sysroot.display()
        ),
    })?;
    install(
        &format!("the {TARGET} Rust target (rustup target add)"),
        Command::new(rustup).args(["target", "add", TARGET]),
    )
}

/// Checks the crate's dependency on the Rust SDK (`moose-guest = { path = … }`, as
/// `moose init` writes it) with [`sdk::check_dependency`]: true when it is this binary's.
/// A manifest that does not parse is left to cargo to report.
pub fn check_sdk_dependency(manifest: &Path) -> Result<bool, ToolchainError> {
    let Ok(text) = std::fs::read_to_string(manifest) else {
        return Ok(false);
    };
    let Ok(parsed) = text.parse::<toml::Table>() else {
        return Ok(false);
    };
    let path = parsed
        .get("dependencies")
        .and_then(|d| d.get("moose-guest"))
        .and_then(|d| d.get("path"))
        .and_then(|p| p.as_str());
    match path {
        Some(path) => {
            let path = manifest.parent().unwrap_or(manifest).join(path);
            sdk::check_dependency(&path, "guest-sdk-rust")
        }
        None => Ok(false),
    }
}
