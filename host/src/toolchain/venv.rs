//! Python virtual environments holding pinned requirements, created and updated on
//! first use: a file in the environment lists the requirements it was installed with.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{find_on_path, install, lock, ToolchainError};

/// Lists, in an environment, the requirements it was installed with.
const MARKER: &str = "moose-requirements.txt";

/// The oldest Python the environments are created with.
const PYTHON_MINOR: u32 = 11;

/// The interpreter of the environment at `venv`, which is created (with the machine's
/// `python3`) and given `requirements` (with `pip install <pip_flags> <requirements>`)
/// unless it holds them already. `what` names them in the progress line.
pub fn with_requirements(
    venv: &Path,
    requirements: &[String],
    pip_flags: &[&str],
    what: &str,
) -> Result<PathBuf, ToolchainError> {
    let python = venv.join("bin/python");
    let marker = venv.join(MARKER);
    let wanted = requirements.join("\n");
    let ready =
        || python.is_file() && std::fs::read_to_string(&marker).ok().as_deref() == Some(&wanted);
    if ready() {
        return Ok(python);
    }
    let _turn = lock(venv)?;
    if ready() {
        return Ok(python);
    }
    if !python.is_file() {
        create(venv)?;
    }
    install(
        &format!(
            "{what} ({}) into {}",
            requirements.join(", "),
            venv.display()
        ),
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(pip_flags)
            .args(requirements),
    )?;
    std::fs::write(&marker, wanted).map_err(ToolchainError::io(&marker))?;
    Ok(python)
}

/// `python3 -m venv <venv>`, with a python3 new enough.
fn create(venv: &Path) -> Result<(), ToolchainError> {
    let missing = |hint: &str| ToolchainError::MissingTool {
        tool: "python3",
        hint: format!("install Python 3.{PYTHON_MINOR} or newer{hint}"),
    };
    let python3 = find_on_path("python3").ok_or_else(|| missing(""))?;
    let new_enough = Command::new(&python3)
        .arg("-c")
        .arg(format!(
            "import sys; sys.exit(0 if sys.version_info >= (3, {PYTHON_MINOR}) else 1)"
        ))
        .status()
        .is_ok_and(|s| s.success());
    if !new_enough {
        return Err(missing(&format!(" ({} is older)", python3.display())));
    }
    if let Some(parent) = venv.parent() {
        std::fs::create_dir_all(parent).map_err(ToolchainError::io(parent))?;
    }
    let created = Command::new(&python3)
        .arg("-m")
        .arg("venv")
        .arg(venv)
        .output();
    if created.is_ok_and(|out| out.status.success()) {
        return Ok(());
    }
    // A partial environment would pass for one next time.
    let _ = std::fs::remove_dir_all(venv);
    Err(ToolchainError::MissingTool {
        tool: "Python's venv module",
        hint: format!(
            "`{} -m venv` failed: install it (Debian/Ubuntu: apt-get install python3-venv)",
            python3.display()
        ),
    })
}

/// The requirements of a pip requirements file's text: its lines less comments and blanks.
pub fn requirements(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect()
}
