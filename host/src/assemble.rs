//! From a project directory to a validated [`App`]: build every component, load it into
//! the runtime, ask it to describe itself, merge the parts and validate the whole.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::builder::{self, BuildError, BuiltComponent, Profile};
use crate::config::Project;
use moose_model::app::{
    self, App, ComponentInfo, ComponentPart, Language, MergeError, ValidationErrors,
};
use moose_runtime::{CallError, GuestComponent, LoadSource, Runtime, RuntimeError};

/// Why an app could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum AssembleError {
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("describing the app failed: {0}")]
    Describe(#[from] CallError),
    #[error(transparent)]
    Merge(#[from] MergeError),
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
}

/// A step of assembling, reported as it finishes.
#[derive(Debug, Clone)]
pub enum Step<'a> {
    Built {
        component: &'a str,
        elapsed: Duration,
    },
    Loaded {
        component: &'a str,
        source: LoadSource,
        elapsed: Duration,
    },
    Described {
        component: &'a str,
        elapsed: Duration,
    },
}

/// The assembled app and its loaded components, in the order of the project's config.
pub struct Assembled {
    pub app: App,
    pub components: Vec<GuestComponent>,
}

/// Builds (for `profile`), loads and describes every component of `project`, then merges
/// and validates.
pub fn assemble(
    project: &Project,
    runtime: &Runtime,
    profile: Profile,
    mut report: impl FnMut(Step<'_>),
) -> Result<Assembled, AssembleError> {
    let mut loaded = Vec::new();
    for dir in project.component_dirs() {
        let built = builder::build(&dir, profile)?;
        report(Step::Built {
            component: &built.name,
            elapsed: built.build_time,
        });
        let component = load_built(runtime, &built)?;
        let info = loaded_info(
            built.name,
            built.language,
            built.source,
            built.wasm,
            &component,
        );
        loaded.push((info, component));
    }
    describe_loaded(&project.config.app.name, loaded, report)
}

/// Loads a built component: a development runtime with its app source, or a component.
pub fn load_built(
    runtime: &Runtime,
    built: &BuiltComponent,
) -> Result<GuestComponent, RuntimeError> {
    match &built.dev_source {
        Some(path) => {
            let source = std::fs::read_to_string(path).map_err(|source| RuntimeError::Read {
                path: path.clone(),
                source,
            })?;
            runtime.load_dev(&built.name, &built.wasm, source.into())
        }
        None => runtime.load(&built.name, &built.wasm),
    }
}

/// What is known of a loaded component before it has described what it runs.
pub fn loaded_info(
    name: String,
    language: Language,
    source: PathBuf,
    wasm: PathBuf,
    component: &GuestComponent,
) -> ComponentInfo {
    ComponentInfo {
        name,
        language,
        source,
        wasm,
        wasm_size: component.info().wasm_size,
        digest: component.info().digest.clone(),
        functions: vec![],
        apis: vec![],
        windowed_aggregations: vec![],
    }
}

/// Reports each component as loaded, asks it to describe itself, then merges the parts
/// into app `name` and validates the whole.
pub fn describe_loaded(
    name: &str,
    loaded: Vec<(ComponentInfo, GuestComponent)>,
    mut report: impl FnMut(Step<'_>),
) -> Result<Assembled, AssembleError> {
    let mut parts = Vec::new();
    let mut components = Vec::new();
    for (info, component) in loaded {
        report(Step::Loaded {
            component: &info.name,
            source: component.info().source,
            elapsed: component.info().load_time,
        });
        let started = Instant::now();
        let def = component.describe()?;
        report(Step::Described {
            component: &info.name,
            elapsed: started.elapsed(),
        });
        parts.push(ComponentPart { info, def });
        components.push(component);
    }
    let app = app::merge(name, parts)?;
    app::validate(&app)?;
    Ok(Assembled { app, components })
}
