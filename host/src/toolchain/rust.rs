//! The Rust toolchain: cargo, and the `wasm32-wasip2` target, added with rustup on first
//! use.

use std::path::PathBuf;
use std::process::Command;

use super::{find_on_path, install, ToolchainError};

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
