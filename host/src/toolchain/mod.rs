//! What building components needs besides the user's code, made available on first use:
//! the guest SDKs and the WIT contract, which the binary carries ([`sdk`]); the npm
//! dependencies of the JS SDK ([`node`]); the Python build environment ([`python`]); the
//! `wasm32-wasip2` Rust target ([`rust`]); and the embedded ClickHouse engine's Python
//! ([`engine`]). Each install prints a progress line, and a
//! missing system tool (node, python3, cargo) is an error naming it and how to get it.

pub mod engine;
pub mod node;
pub mod python;
pub mod rust;
pub mod sdk;
mod venv;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Why a toolchain is not available.
#[derive(Debug, thiserror::Error)]
pub enum ToolchainError {
    #[error("{tool} is not available: {hint}")]
    MissingTool { tool: &'static str, hint: String },
    #[error(
        "the app depends on {}, a guest SDK of another moose version that is gone: \
         depend on this moose's, {}",
        dependency.display(),
        current.display()
    )]
    GoneSdk {
        dependency: PathBuf,
        current: PathBuf,
    },
    #[error("installing {what} failed: {detail}")]
    Install { what: String, detail: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ToolchainError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The first `tool` on `PATH`.
pub fn find_on_path(tool: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(tool))
        .find(|path| path.is_file())
}

/// Holds `<path>.lock` until dropped, so one process at a time installs into `path`.
fn lock(path: &Path) -> Result<std::fs::File, ToolchainError> {
    let lock = path.with_extension("lock");
    hold_lock(&lock).map_err(ToolchainError::io(&lock))
}

/// Waits for, then holds (until the file is dropped), an exclusive lock on the file at
/// `path`, creating it and its directory.
pub fn hold_lock(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    file.lock()?;
    Ok(file)
}

/// Runs `command`, an install of `what`, with progress on stderr: a line when it starts,
/// a spinner with the elapsed time on a terminal, and a line when it ends.
fn install(what: &str, command: &mut Command) -> Result<(), ToolchainError> {
    let started = Instant::now();
    eprintln!("  installing {what} (first use)...");
    let spinner = indicatif::ProgressBar::new_spinner();
    if !spinner.is_hidden() {
        spinner.set_style(
            indicatif::ProgressStyle::with_template("  {spinner} {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        spinner.enable_steady_tick(Duration::from_millis(120));
    }
    let output = command.output();
    spinner.finish_and_clear();
    let output = output.map_err(|e| ToolchainError::Install {
        what: what.to_string(),
        detail: format!("could not run {:?}: {e}", command.get_program()),
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
        return Err(ToolchainError::Install {
            what: what.to_string(),
            detail: format!(
                "{:?} exited with {}:\n{}",
                command.get_program(),
                output.status,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ),
        });
    }
    eprintln!("  installed in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
