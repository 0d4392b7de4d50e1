//! Node.js, and the npm dependencies (esbuild, TypeScript, componentize-js) of the
//! embedded JS guest SDK, installed into its unpacked directory on first use, where every
//! app made by `moose init` links to it.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{find_on_path, install, lock, sdk, ToolchainError};

/// The oldest Node.js major version the JS SDK runs on (its `engines`).
const NODE_MAJOR: u32 = 20;

/// npm, after checking that Node.js is new enough.
pub fn npm() -> Result<PathBuf, ToolchainError> {
    let missing = |hint: String| ToolchainError::MissingTool { tool: "node", hint };
    let install_hint =
        format!("install Node.js {NODE_MAJOR} or newer, with npm, to build TypeScript components");
    let node = find_on_path("node").ok_or_else(|| missing(install_hint.clone()))?;
    let version = Command::new(&node)
        .arg("--version")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_default();
    let major = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok());
    if major.is_none_or(|major| major < NODE_MAJOR) {
        return Err(missing(format!(
            "{} is {version:?}: {install_hint}",
            node.display()
        )));
    }
    find_on_path("npm").ok_or(ToolchainError::MissingTool {
        tool: "npm",
        hint: install_hint,
    })
}

/// The embedded JS SDK's directory, with its dependencies installed.
pub fn js_sdk() -> Result<PathBuf, ToolchainError> {
    let dir = sdk::js()?;
    let installed = |dir: &Path| dir.join("node_modules/.package-lock.json").is_file();
    if !installed(&dir) {
        let _turn = lock(&dir)?;
        if !installed(&dir) {
            let npm = npm()?;
            install(
                "the TypeScript SDK's dependencies (esbuild, TypeScript, componentize-js; npm ci)",
                Command::new(npm)
                    .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                    .current_dir(&dir),
            )?;
        }
    }
    Ok(dir)
}

/// Whether a project's `package.json`, `manifest`, depends on this binary's JS SDK (as
/// `moose init` writes it: `"@moose/guest": "file:<unpacked SDK>"`); see
/// [`sdk::check_dependency`].
pub fn uses_embedded_sdk(manifest: &serde_json::Value) -> Result<bool, ToolchainError> {
    let path = manifest
        .get("dependencies")
        .and_then(|d| d.get("@moose/guest"))
        .and_then(|s| s.as_str())
        .and_then(|spec| spec.strip_prefix("file:"));
    match path {
        Some(path) => sdk::check_dependency(Path::new(path), "guest-sdk-js"),
        None => Ok(false),
    }
}
