//! Rust components: `cargo build --release --target wasm32-wasip2`.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use cargo_metadata::Message;

use super::{BuildError, BuiltComponent};
use crate::app::Language;

const TARGET: &str = "wasm32-wasip2";

pub fn build(dir: &Path) -> Result<BuiltComponent, BuildError> {
    check_target()?;
    let started = Instant::now();
    let spawn_error = |source| BuildError::Spawn {
        tool: "cargo",
        dir: dir.to_path_buf(),
        source,
    };
    let manifest = dir.join("Cargo.toml").canonicalize().map_err(spawn_error)?;
    let mut child = Command::new(cargo())
        .args(["build", "--release", "--target", TARGET])
        .arg("--message-format=json-render-diagnostics")
        .arg("--manifest-path")
        .arg(&manifest)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(spawn_error)?;

    let mut artifact: Option<(String, PathBuf)> = None;
    if let Some(stdout) = child.stdout.take() {
        for message in Message::parse_stream(BufReader::new(stdout)) {
            let Ok(Message::CompilerArtifact(built)) = message else {
                continue;
            };
            if built.manifest_path.as_std_path() != manifest {
                continue;
            }
            if let Some(wasm) = built
                .filenames
                .iter()
                .find(|f| f.extension() == Some("wasm"))
            {
                artifact = Some((built.target.name.clone(), wasm.clone().into_std_path_buf()));
            }
        }
    }
    let status = child.wait().map_err(spawn_error)?;
    if !status.success() {
        return Err(BuildError::Failed {
            language: Language::Rust,
            dir: dir.to_path_buf(),
        });
    }
    let (name, wasm) = artifact.ok_or_else(|| BuildError::NoArtifact {
        language: Language::Rust,
        dir: dir.to_path_buf(),
        reason: "the crate needs `crate-type = [\"cdylib\"]` in its [lib] section".into(),
    })?;
    Ok(BuiltComponent {
        name,
        language: Language::Rust,
        source: dir.to_path_buf(),
        wasm,
        build_time: started.elapsed(),
        fresh: false,
    })
}

fn cargo() -> PathBuf {
    std::env::var_os("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("cargo"))
}

/// Fails early, with the fix, when the wasm32-wasip2 standard library is missing.
fn check_target() -> Result<(), BuildError> {
    let output = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .map_err(|source| BuildError::Spawn {
            tool: "rustc",
            dir: PathBuf::from("."),
            source,
        })?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if sysroot.join("lib/rustlib").join(TARGET).is_dir() {
        Ok(())
    } else {
        Err(BuildError::MissingTool {
            tool: "the wasm32-wasip2 Rust target",
            hint: format!("run `rustup target add {TARGET}` (scripts/setup.sh does this)"),
        })
    }
}
