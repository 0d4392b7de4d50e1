//! Building component sources into `.wasm` components.
//!
//! The language of a component is detected from its directory: a `Cargo.toml` is a Rust
//! crate built for `wasm32-wasip2`, a `package.json` a TypeScript/JavaScript project built
//! by the JS guest SDK, a `pyproject.toml` a Python project built by the Python guest SDK.
//! The toolchains' own diagnostics (which name the user's files and lines) stream to the
//! terminal as the build runs.

mod fingerprint;
mod js;
mod python;
mod rust;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::toolchain::sdk;
use moose_model::app::Language;

/// The world of the WIT contract ([`sdk::wit`]) that components target.
const WORLD: &str = "moose-app";

/// Why a component could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(
        "{}: no component found (expected a Cargo.toml, a package.json or a pyproject.toml)",
        dir.display()
    )]
    UnknownLanguage { dir: PathBuf },
    #[error(transparent)]
    Toolchain(#[from] crate::toolchain::ToolchainError),
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
    #[error("{}: {reason}", path.display())]
    Project { path: PathBuf, reason: String },
    #[error("writing {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
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
    /// The app source `wasm` evaluates when it is a development runtime ([`Profile::Dev`]).
    pub dev_source: Option<PathBuf>,
    pub build_time: Duration,
    /// The sources were unchanged since the last build, which was reused.
    pub fresh: bool,
}

/// What a build is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Self-contained components, the app snapshotted into them: `moose build` and the
    /// commands that describe an app.
    Release,
    /// `moose dev`: a TypeScript or Python app is built as its source (bundled, or its
    /// modules), which the language's development runtime (engine and SDK, built once per
    /// SDK and WIT version, and for Python per set of imported outside modules, into
    /// [`crate::config::dev_runtime_dir`]) evaluates when instantiated. An edit then costs
    /// the checks and the bundle, and loading reuses the compiled runtime. Rust builds
    /// with the `moose-dev` cargo profile: the crate's release profile without LTO, with
    /// 16 codegen units, opt-level 2 and incremental compilation.
    Dev,
}

/// Detects the language of the component in `dir`.
pub fn detect(dir: &Path) -> Result<Language, BuildError> {
    if dir.join("Cargo.toml").is_file() {
        Ok(Language::Rust)
    } else if dir.join("package.json").is_file() {
        Ok(Language::TypeScript)
    } else if dir.join("pyproject.toml").is_file() {
        Ok(Language::Python)
    } else {
        Err(BuildError::UnknownLanguage {
            dir: dir.to_path_buf(),
        })
    }
}

/// Builds the component in `dir` for `profile`.
pub fn build(dir: &Path, profile: Profile) -> Result<BuiltComponent, BuildError> {
    match detect(dir)? {
        Language::Rust => rust::build(dir, profile),
        Language::TypeScript => js::build(dir, profile),
        Language::Python => python::build(dir, profile),
    }
}

/// Where a JS or Python component's build writes its output and inputs.
struct OutputDir {
    dir: PathBuf,
}

impl OutputDir {
    /// `<component>/.moose/build`, with the WIT contract written into `wit/`.
    fn prepare(component: &Path) -> Result<Self, BuildError> {
        let dir = component.join(".moose").join("build");
        let wit = dir.join("wit");
        let write_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| BuildError::Write { path, source }
        };
        std::fs::create_dir_all(&wit).map_err(write_error(&wit))?;
        let file = wit.join("moose.wit");
        if std::fs::read_to_string(&file).ok().as_deref() != Some(sdk::wit()) {
            std::fs::write(&file, sdk::wit()).map_err(write_error(&file))?;
        }
        Ok(Self { dir })
    }

    fn wit(&self) -> PathBuf {
        self.dir.join("wit")
    }

    fn wasm(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.wasm"))
    }

    /// The development build: the runtime component and the app source it evaluates.
    fn dev(&self, name: &str) -> (PathBuf, PathBuf) {
        (
            self.dir.join(format!("{name}.dev-runtime.wasm")),
            self.dir.join(format!("{name}.dev-source")),
        )
    }
}

/// Builds a JS or Python component for `profile` with the SDK's build script, `script`
/// (a command to which the arguments every SDK build script takes are added: `--wit`,
/// `--world`, `--out` and, for [`Profile::Dev`], `--dev-source` and `--runtime-cache`),
/// unless its inputs are unchanged since the last successful build of that profile,
/// whose output is then reused.
fn build_with_tool(
    language: Language,
    dir: &Path,
    name: &str,
    inputs: &[PathBuf],
    tool: &'static str,
    profile: Profile,
    mut script: Command,
) -> Result<BuiltComponent, BuildError> {
    let started = Instant::now();
    let out = OutputDir::prepare(dir)?;
    let (wasm, dev_source, stamp_name) = match profile {
        Profile::Release => (out.wasm(name), None, name.to_string()),
        Profile::Dev => {
            let (runtime, source) = out.dev(name);
            (runtime, Some(source), format!("{name}.dev"))
        }
    };
    let stamp = fingerprint::Stamp::new(&out.dir, &stamp_name);
    let digest = fingerprint::digest(inputs, sdk::wit());
    let outputs_exist = wasm.is_file() && dev_source.as_ref().is_none_or(|s| s.is_file());
    let fresh = outputs_exist && stamp.matches(digest);
    if !fresh {
        stamp.clear();
        script
            .arg("--wit")
            .arg(out.wit())
            .args(["--world", WORLD])
            .arg("--out")
            .arg(&wasm);
        if let Some(source) = &dev_source {
            script
                .arg("--dev-source")
                .arg(source)
                .arg("--runtime-cache")
                .arg(crate::config::dev_runtime_dir());
        }
        let status = script
            .current_dir(dir)
            .status()
            .map_err(|source| BuildError::Spawn {
                tool,
                dir: dir.to_path_buf(),
                source,
            })?;
        if !status.success() {
            return Err(BuildError::Failed {
                language,
                dir: dir.to_path_buf(),
            });
        }
        for written in std::iter::once(&wasm).chain(&dev_source) {
            if !written.is_file() {
                return Err(BuildError::NoArtifact {
                    language,
                    dir: dir.to_path_buf(),
                    reason: format!(
                        "{tool} exited successfully but wrote no {}",
                        written.display()
                    ),
                });
            }
        }
        stamp.record(digest);
    }
    Ok(BuiltComponent {
        name: name.to_string(),
        language,
        source: dir.to_path_buf(),
        wasm,
        dev_source,
        build_time: started.elapsed(),
        fresh,
    })
}

/// A name usable as a file name: letters, digits, `-` and `_`.
fn file_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
