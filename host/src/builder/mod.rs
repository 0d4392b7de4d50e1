//! Building component sources into `.wasm` components.
//!
//! The language of a component is detected from its directory: a `Cargo.toml` is a Rust
//! crate built for `wasm32-wasip2`. The toolchain's own diagnostics (which name the
//! user's files and lines) stream to the terminal as the build runs.

mod rust;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::app::Language;

/// Why a component could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{}: no component found (expected a Cargo.toml for a Rust component)", dir.display())]
    UnknownLanguage { dir: PathBuf },
    #[error("{tool} is not available: {hint}")]
    MissingTool { tool: &'static str, hint: String },
    #[error("could not run {tool} for {}: {source}", dir.display())]
    Spawn {
        tool: &'static str,
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("the {language} component in {} failed to build (see the errors above)", dir.display())]
    Failed { language: Language, dir: PathBuf },
    #[error("the {language} component in {} built no .wasm file: {reason}", dir.display())]
    NoArtifact {
        language: Language,
        dir: PathBuf,
        reason: String,
    },
}

/// A component built from source.
#[derive(Debug, Clone)]
pub struct BuiltComponent {
    /// The package's name.
    pub name: String,
    pub language: Language,
    pub source: PathBuf,
    pub wasm: PathBuf,
    pub build_time: Duration,
}

/// Detects the language of the component in `dir`.
pub fn detect(dir: &Path) -> Result<Language, BuildError> {
    if dir.join("Cargo.toml").is_file() {
        Ok(Language::Rust)
    } else {
        Err(BuildError::UnknownLanguage {
            dir: dir.to_path_buf(),
        })
    }
}

/// Builds the component in `dir` in release mode.
pub fn build(dir: &Path) -> Result<BuiltComponent, BuildError> {
    match detect(dir)? {
        Language::Rust => rust::build(dir),
    }
}
