//! The Python that builds Python components: a virtual environment holding the Python
//! SDK's build requirements (its `build` extra: componentize-py and the time zone
//! database), created on first use, which runs the embedded SDK from its sources.

use std::path::PathBuf;
use std::process::Command;

use super::{sdk, venv, ToolchainError};

/// A Python able to run `python -m moose_guest.build`.
#[derive(Debug, Clone)]
pub struct BuildPython {
    /// The interpreter.
    pub python: PathBuf,
    /// The Python SDK's project directory (its sources are in `src/`).
    pub sdk: PathBuf,
}

impl BuildPython {
    /// The interpreter, with the SDK's sources first on its module path.
    pub fn command(&self) -> Command {
        let mut path = vec![self.sdk.join("src")];
        if let Some(existing) = std::env::var_os("PYTHONPATH") {
            path.extend(std::env::split_paths(&existing));
        }
        let mut command = Command::new(&self.python);
        if let Ok(path) = std::env::join_paths(path) {
            command.env("PYTHONPATH", path);
        }
        command
    }
}

/// `$MOOSE_PYTHON_BUILD` (a Python the user provides with the build requirements), else
/// the build environment at `$MOOSE_PYTHON_BUILD_VENV` (default
/// `~/.local/share/moose/python-build-venv`), created or updated when it lacks the
/// requirements of this binary's SDK.
pub fn build_python() -> Result<BuildPython, ToolchainError> {
    let sdk = sdk::python()?;
    if let Some(python) = std::env::var_os("MOOSE_PYTHON_BUILD") {
        return Ok(BuildPython {
            python: PathBuf::from(python),
            sdk,
        });
    }
    let venv = std::env::var_os("MOOSE_PYTHON_BUILD_VENV").map_or_else(
        || crate::config::tools_dir().join("python-build-venv"),
        PathBuf::from,
    );
    let python =
        venv::with_requirements(&venv, &build_requirements()?, &[], "the Python build tools")?;
    Ok(BuildPython { python, sdk })
}

/// The SDK's `[project.optional-dependencies] build`.
fn build_requirements() -> Result<Vec<String>, ToolchainError> {
    let invalid = |detail: &str| ToolchainError::Install {
        what: "the Python build tools".into(),
        detail: format!("the embedded guest-sdk-python/pyproject.toml {detail}"),
    };
    let text = sdk::file("guest-sdk-python/pyproject.toml")
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
        .ok_or_else(|| invalid("is missing"))?;
    let manifest: toml::Table = text.parse().map_err(|_| invalid("is not TOML"))?;
    manifest
        .get("project")
        .and_then(|p| p.get("optional-dependencies"))
        .and_then(|d| d.get("build"))
        .and_then(|b| b.as_array())
        .map(|build| {
            build
                .iter()
                .filter_map(|r| r.as_str().map(str::to_string))
                .collect()
        })
        .ok_or_else(|| invalid("has no `build` extra"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_requirements_are_the_sdks_build_extra() {
        let requirements = build_requirements().expect("the embedded pyproject.toml");
        assert!(
            requirements
                .iter()
                .any(|r| r.starts_with("componentize-py==")),
            "{requirements:?}"
        );
    }
}
