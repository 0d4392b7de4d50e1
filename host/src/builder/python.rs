//! Python components: built by the Python guest SDK (`python -m moose_guest.build`),
//! which checks the user's modules and runs componentize-py, with the build Python of
//! [`crate::toolchain::python`]; for [`Profile::Dev`] it writes the project's modules for
//! the SDK's development runtime, built once per set of imported modules into
//! [`crate::config::dev_runtime_dir`].

use std::path::Path;

use super::{build_with_tool, file_name, BuildError, BuiltComponent, Profile};
use crate::toolchain::python::build_python;
use moose_model::app::Language;

pub fn build(dir: &Path, profile: Profile) -> Result<BuiltComponent, BuildError> {
    let name = project_name(dir)?;
    let python = build_python()?;
    let project = dir.canonicalize().map_err(|source| BuildError::Spawn {
        tool: "python",
        dir: dir.to_path_buf(),
        source,
    })?;
    let mut script = python.command();
    script.args(["-m", "moose_guest.build"]).arg(&project);
    build_with_tool(
        Language::Python,
        dir,
        &file_name(&name),
        &[dir.to_path_buf(), python.sdk],
        "python",
        profile,
        script,
    )
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
