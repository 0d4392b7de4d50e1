//! Python components: built by the Python guest SDK (`python -m moose_guest.build`),
//! which checks the user's modules and runs componentize-py, from the build environment
//! `guest-sdk-python/setup-build-env.sh` creates; for [`Profile::Dev`] it writes the
//! project's modules for the SDK's development runtime, built once per set of imported
//! modules into [`crate::config::dev_runtime_dir`].

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{build_with_tool, file_name, BuildError, BuiltComponent, Profile};
use moose_model::app::Language;

/// The Python SDK's sources, unless `MOOSE_SDK_PYTHON` says otherwise; part of the
/// fingerprint so an SDK change rebuilds components.
const SDK_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../guest-sdk-python");

pub fn build(dir: &Path, profile: Profile) -> Result<BuiltComponent, BuildError> {
    let name = project_name(dir)?;
    let python = build_python();
    if !python.is_file() {
        return Err(BuildError::MissingTool {
            tool: "the Python component build environment",
            hint: format!(
                "{} is missing: run guest-sdk-python/setup-build-env.sh (scripts/setup.sh does), \
                 or point MOOSE_PYTHON_BUILD at a Python with componentize-py and moose-guest",
                python.display()
            ),
        });
    }
    let sdk =
        std::env::var_os("MOOSE_SDK_PYTHON").map_or_else(|| PathBuf::from(SDK_DIR), PathBuf::from);
    let project = dir.canonicalize().map_err(|source| BuildError::Spawn {
        tool: "python",
        dir: dir.to_path_buf(),
        source,
    })?;
    let mut script = Command::new(&python);
    script.args(["-m", "moose_guest.build"]).arg(&project);
    build_with_tool(
        Language::Python,
        dir,
        &file_name(&name),
        &[dir.to_path_buf(), sdk],
        "python",
        profile,
        script,
    )
}

/// `$MOOSE_PYTHON_BUILD`, else the interpreter of the build venv
/// (`$MOOSE_PYTHON_BUILD_VENV`, default `~/.local/share/moose/python-build-venv`).
pub fn build_python() -> PathBuf {
    if let Some(python) = std::env::var_os("MOOSE_PYTHON_BUILD") {
        return PathBuf::from(python);
    }
    std::env::var_os("MOOSE_PYTHON_BUILD_VENV")
        .map_or_else(
            || crate::config::tools_dir().join("python-build-venv"),
            PathBuf::from,
        )
        .join("bin/python")
}

/// `[project] name` of `pyproject.toml`.
fn project_name(dir: &Path) -> Result<String, BuildError> {
    let path = dir.join("pyproject.toml");
    let project_error = |reason: String| BuildError::Project {
        path: path.clone(),
        reason,
    };
    let text = std::fs::read_to_string(&path).map_err(|e| project_error(e.to_string()))?;
    let manifest: toml::Table =
        toml::from_str(&text).map_err(|e| project_error(format!("invalid TOML: {e}")))?;
    manifest
        .get("project")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .ok_or_else(|| project_error("needs `[project] name`".into()))
}
