//! TypeScript and JavaScript components: the project depends on the JS guest SDK
//! (`@moose/guest`), whose build script type-checks, bundles with esbuild and runs
//! componentize-js; for [`Profile::Dev`] it bundles the app's source for the SDK's
//! development runtime, which it builds once into [`crate::config::dev_runtime_dir`].

use std::path::Path;
use std::process::Command;

use super::{build_with_tool, file_name, BuildError, BuiltComponent, Profile};
use crate::toolchain::node;
use moose_model::app::Language;

/// The SDK's build script, relative to the project.
const BUILD_SCRIPT: &str = "node_modules/@moose/guest/bin/moose-build.mjs";

pub fn build(dir: &Path, profile: Profile) -> Result<BuiltComponent, BuildError> {
    let manifest = read_manifest(dir)?;
    let name = package_name(dir, &manifest)?;
    if node::uses_embedded_sdk(&manifest)? {
        node::js_sdk()?;
    }
    install_dependencies(dir)?;
    let sdk = dir
        .join("node_modules/@moose/guest")
        .canonicalize()
        .map_err(|source| BuildError::Spawn {
            tool: "node",
            dir: dir.to_path_buf(),
            source,
        })?;
    let mut script = Command::new("node");
    script.arg(BUILD_SCRIPT);
    build_with_tool(
        Language::TypeScript,
        dir,
        &file_name(&name),
        &[dir.to_path_buf(), sdk],
        "node",
        profile,
        script,
    )
}

/// The project's `package.json`.
fn read_manifest(dir: &Path) -> Result<serde_json::Value, BuildError> {
    let path = dir.join("package.json");
    let project_error = |reason: String| BuildError::Project {
        path: path.clone(),
        reason,
    };
    let text = std::fs::read_to_string(&path).map_err(|e| project_error(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| project_error(format!("invalid JSON: {e}")))
}

/// The `name` of `package.json`, as a file name.
fn package_name(dir: &Path, manifest: &serde_json::Value) -> Result<String, BuildError> {
    match manifest.get("name").and_then(|n| n.as_str()) {
        Some(name) if !name.is_empty() => Ok(name.trim_start_matches('@').replace('/', "-")),
        _ => Err(BuildError::Project {
            path: dir.join("package.json"),
            reason: "needs a \"name\"".into(),
        }),
    }
}

/// Runs `npm ci` (with a lock file) or `npm install` when the SDK is not installed yet.
fn install_dependencies(dir: &Path) -> Result<(), BuildError> {
    if dir.join(BUILD_SCRIPT).is_file() {
        return Ok(());
    }
    let npm = node::npm()?;
    let install = if dir.join("package-lock.json").is_file() {
        "ci"
    } else {
        "install"
    };
    eprintln!("  npm {install} in {}", dir.display());
    let status = Command::new(npm)
        .args([install, "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .status()
        .map_err(|source| BuildError::Spawn {
            tool: "npm",
            dir: dir.to_path_buf(),
            source,
        })?;
    if !status.success() {
        return Err(BuildError::Failed {
            language: Language::TypeScript,
            dir: dir.to_path_buf(),
        });
    }
    if !dir.join(BUILD_SCRIPT).is_file() {
        return Err(BuildError::Project {
            path: dir.join("package.json"),
            reason: "must depend on the JS guest SDK, @moose/guest".into(),
        });
    }
    Ok(())
}
