//! A built production artifact, as `moose build --docker` lays it out under `/app`:
//!
//! ```text
//! moose.config.toml        production config template (environment variables override it)
//! components/<name>.wasm   the raw component
//! components/<name>.cwasm  the same, precompiled for the engine named in the manifest
//! infra_map.json           the app's infrastructure map
//! plan.json                the reviewed migration plan (`moose plan --save` format)
//! manifest.json            [`Manifest`]
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::assemble::{describe_loaded, loaded_info, AssembleError, Assembled, Step};
use moose_model::app::Language;
use moose_runtime::{compatibility_hash, GuestComponent, Runtime, RuntimeError};

/// The artifact's description of itself.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The reviewed migration plan.
pub const PLAN_FILE: &str = "plan.json";
/// The app's infrastructure map.
pub const INFRA_MAP_FILE: &str = "infra_map.json";
/// The directory of `.wasm` and `.cwasm` files.
pub const COMPONENTS_DIR: &str = "components";

/// `manifest.json`: what the build put into the artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The app's name.
    pub app: String,
    /// The version of the host that built the artifact.
    pub host_version: String,
    /// [`compatibility_hash`] of the engine that precompiled the `.cwasm` files.
    pub engine_compat_hash: String,
    /// In the app's order.
    pub components: Vec<ManifestComponent>,
}

/// One component of [`Manifest::components`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestComponent {
    pub name: String,
    pub language: Language,
    /// Hex SHA-256 of `components/<name>.wasm`.
    pub sha256: String,
}

/// Why an artifact could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    #[error(
        "component `{component}`: {} does not match the manifest (SHA-256 {found}, manifest {expected})",
        wasm.display()
    )]
    Digest {
        component: String,
        wasm: PathBuf,
        expected: String,
        found: String,
    },
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Assemble(#[from] AssembleError),
}

/// An artifact directory and its manifest.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub root: PathBuf,
    pub manifest: Manifest,
}

impl Artifact {
    /// Reads the manifest of the artifact at `root` and checks that every file it names
    /// is there.
    pub fn open(root: &Path) -> Result<Self, ArtifactError> {
        let path = root.join(MANIFEST_FILE);
        let file_error = |path: &Path, message: String| ArtifactError::File {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            file_error(
                &path,
                format!("{e} (is {} a built artifact?)", root.display()),
            )
        })?;
        let manifest: Manifest =
            serde_json::from_str(&text).map_err(|e| file_error(&path, e.to_string()))?;
        let artifact = Self {
            root: root.to_path_buf(),
            manifest,
        };
        let required = artifact
            .manifest
            .components
            .iter()
            .map(|c| artifact.wasm(&c.name))
            .chain([artifact.plan_file()]);
        for file in required {
            if !file.is_file() {
                return Err(file_error(&file, "missing from the artifact".into()));
            }
        }
        Ok(artifact)
    }

    /// `components/<name>.wasm`.
    pub fn wasm(&self, component: &str) -> PathBuf {
        self.root
            .join(COMPONENTS_DIR)
            .join(format!("{component}.wasm"))
    }

    /// `components/<name>.cwasm`.
    pub fn precompiled(&self, component: &str) -> PathBuf {
        self.root
            .join(COMPONENTS_DIR)
            .join(format!("{component}.cwasm"))
    }

    /// `plan.json`.
    pub fn plan_file(&self) -> PathBuf {
        self.root.join(PLAN_FILE)
    }

    /// Loads every component (precompiled when the manifest's engine is this runtime's,
    /// else compiled with a warning; never built from sources), checks it against the
    /// manifest, describes it, and merges and validates the app.
    pub fn assemble(
        &self,
        runtime: &Runtime,
        report: impl FnMut(Step<'_>),
    ) -> Result<Assembled, ArtifactError> {
        let host = env!("CARGO_PKG_VERSION");
        if self.manifest.host_version != host {
            tracing::warn!(
                "the artifact was built by moose {}, this is moose {host}",
                self.manifest.host_version
            );
        }
        let engine = compatibility_hash(runtime.engine());
        let matches = self.manifest.engine_compat_hash == engine;
        if !matches {
            tracing::warn!(
                artifact = %self.manifest.engine_compat_hash,
                host = %engine,
                "the components were precompiled for another engine: compiling them instead"
            );
        }
        let mut loaded = Vec::new();
        for entry in &self.manifest.components {
            let component = self.load(runtime, entry, matches)?;
            if component.info().digest != entry.sha256 {
                return Err(ArtifactError::Digest {
                    component: entry.name.clone(),
                    wasm: self.wasm(&entry.name),
                    expected: entry.sha256.clone(),
                    found: component.info().digest.clone(),
                });
            }
            let info = loaded_info(
                entry.name.clone(),
                entry.language,
                self.root.join(COMPONENTS_DIR),
                self.wasm(&entry.name),
                &component,
            );
            loaded.push((info, component));
        }
        Ok(describe_loaded(&self.manifest.app, loaded, report)?)
    }

    /// One component: from its `.cwasm` when `precompiled_fits`, falling back to compiling
    /// its `.wasm` (with a warning) when that is missing or refused.
    fn load(
        &self,
        runtime: &Runtime,
        entry: &ManifestComponent,
        precompiled_fits: bool,
    ) -> Result<GuestComponent, ArtifactError> {
        let wasm = self.wasm(&entry.name);
        let cwasm = self.precompiled(&entry.name);
        if precompiled_fits {
            if !cwasm.is_file() {
                tracing::warn!(component = %entry.name, "no precompiled component: compiling it");
            } else {
                match runtime.load_prebuilt(&entry.name, &wasm, Some(&cwasm)) {
                    Ok(component) => return Ok(component),
                    Err(e) => tracing::warn!(
                        component = %entry.name,
                        "the precompiled component is unusable, compiling it instead: {e}"
                    ),
                }
            }
        }
        Ok(runtime.load_prebuilt(&entry.name, &wasm, None)?)
    }
}
