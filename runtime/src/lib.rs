//! The component runtime: loads WebAssembly components built against `wit/moose.wit` and
//! calls them safely.
//!
//! One [`Runtime`] per host owns the wasmtime engine (pooling allocator, epoch
//! interruption), the linker with the host imports, and the cache of precompiled
//! components. [`Runtime::load`] turns a `.wasm` file into a [`GuestComponent`], which
//! any thread may call:
//!
//! ```no_run
//! use std::sync::Arc;
//! use moose_runtime::{types::{Batch, Encoding}, NoQueryService, Runtime, RuntimeConfig};
//!
//! # fn main() -> anyhow::Result<()> {
//! let runtime = Runtime::new(RuntimeConfig::default(), ".moose/cache".into(), Arc::new(NoQueryService))?;
//! let component = runtime.load("quickstart", "quickstart.wasm".as_ref())?;
//! let app = component.describe()?;
//! println!("{} models", app.models.len());
//! let input = Batch { encoding: Encoding::Json, count: 1, data: br#"{"id":"a"}"#.to_vec() };
//! match component.process("enrich_order", &input)? {
//!     Ok(output) => println!("{} records out, {} rejected", output.output.count, output.errors.len()),
//!     Err(error) => println!("the guest refused the batch: {error:?}"),
//! }
//! # Ok(()) }
//! ```
//!
//! A guest that traps, runs past [`RuntimeConfig::call_timeout`], grows its memory past
//! [`RuntimeConfig::memory_limit`] or returns more than [`RuntimeConfig::output`] allows
//! fails that one call with a [`CallError`]; an instance that trapped is thrown away and
//! the next call gets a fresh one. What a guest logs or writes to stdout and stderr becomes
//! host log lines, bounded by [`RuntimeConfig::log`].

mod bindings;
mod bounded_dir;
mod cache;
mod component;
mod engine;
mod function_cache;
mod guest_io;
mod handle;
mod host;
mod limits;
mod lower;
mod query;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::component::Linker;
use wasmtime::Engine;

/// The call types of the interface: batches and what guest calls return. The schema an
/// app declares is [`moose_model::types`], lowered from the interface in one place.
pub mod types {
    pub use super::bindings::types::{
        AccumulateOutput, ApiError, ApiResponse, Batch, Encoding, GuestError, ProcessOutput,
        QueryError, RecordError, WindowBounds,
    };
}
pub use bindings::{LogLevel, QueryParam};
pub use cache::{compatibility_hash, LoadSource};
pub use component::{CallError, GuestComponent, LoadInfo};
pub use engine::{RuntimeConfig, DEV_RUNTIME_CACHE_LIMIT};
pub use function_cache::{FunctionCache, FUNCTION_CACHE_LIMIT};
pub use guest_io::LogLimits;
pub use handle::{handle, ComponentHandle};
pub use limits::{MemoryLimitExceeded, OutputLimitExceeded, OutputLimits};
pub use query::{NoQueryService, QueryService};

use bindings::MooseAppPre;
use cache::ArtifactCache;
use component::ComponentParts;
use engine::EpochTicker;
use host::HostState;

/// The interface through which a development runtime gets its app (see `wit/moose.wit`).
const DEV_SOURCE_INTERFACE: &str = "moose:app/dev-source@0.1.0";

/// Why the runtime could not start or load a component.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("could not configure the WebAssembly engine: {source}")]
    Engine { source: wasmtime::Error },
    #[error("could not start the epoch thread: {source}")]
    EpochThread { source: std::io::Error },
    #[error("could not link the host imports: {source}")]
    Link { source: wasmtime::Error },
    #[error("could not read component {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a valid component: {source:?}", path.display())]
    Compile {
        path: PathBuf,
        source: wasmtime::Error,
    },
    #[error("could not write the precompiled component {}: {source}", path.display())]
    Cache {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("component `{component}` does not fit the host: {source:?}")]
    Imports {
        component: String,
        source: wasmtime::Error,
    },
}

/// The engine, linker and component cache shared by all components of a host.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    cache: ArtifactCache,
    /// Precompiled development runtimes: [`RuntimeConfig::dev_runtime_cache`], else `cache`.
    dev_cache: ArtifactCache,
    config: RuntimeConfig,
    query: Arc<dyn QueryService>,
    ticker: Arc<EpochTicker>,
}

impl Runtime {
    /// Starts a runtime whose precompiled components live in `cache_dir` and whose guests
    /// query through `query`.
    pub fn new(
        config: RuntimeConfig,
        cache_dir: PathBuf,
        query: Arc<dyn QueryService>,
    ) -> Result<Self, RuntimeError> {
        let engine = engine::build_engine(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|source| RuntimeError::Link { source })?;
        bindings::MooseApp::add_to_linker::<_, wasmtime::component::HasSelf<_>>(
            &mut linker,
            |state| state,
        )
        .map_err(|source| RuntimeError::Link { source })?;
        linker
            .instance(DEV_SOURCE_INTERFACE)
            .and_then(|mut dev| {
                dev.func_wrap("source", |store, (): ()| {
                    Ok((HostState::dev_source(store.data())?,))
                })
            })
            .map_err(|source| RuntimeError::Link { source })?;
        let ticker = Arc::new(EpochTicker::start(engine.clone(), config.epoch_tick)?);
        let dev_cache = match &config.dev_runtime_cache {
            Some(dir) => {
                match bounded_dir::open(dir, DEV_RUNTIME_CACHE_LIMIT, "development runtime") {
                    Ok(()) => ArtifactCache::new(dir),
                    Err(error) => {
                        // The shared cache only saves time: each app then compiles its own.
                        tracing::warn!(dir = %dir.display(), "keeping development runtimes with the app's components: {error}");
                        ArtifactCache::new(&cache_dir)
                    }
                }
            }
            None => ArtifactCache::new(&cache_dir),
        };
        Ok(Self {
            engine,
            linker,
            cache: ArtifactCache::new(cache_dir),
            dev_cache,
            config,
            query,
            ticker,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Loads the component at `wasm` (from the precompiled cache when possible) and links
    /// it against the host imports.
    pub fn load(&self, name: &str, wasm: &Path) -> Result<GuestComponent, RuntimeError> {
        let loaded = self.cache.load(&self.engine, wasm)?;
        self.link(name, wasm, loaded, None)
    }

    /// Loads a language's development runtime `wasm` (world `moose-dev-runtime`, from the
    /// precompiled cache when possible) with the app `source` it evaluates. The runtime is
    /// the same for every edit of every app on one SDK version, so only its first load on
    /// a machine compiles (with [`RuntimeConfig::dev_runtime_cache`] set).
    pub fn load_dev(
        &self,
        name: &str,
        wasm: &Path,
        source: Arc<str>,
    ) -> Result<GuestComponent, RuntimeError> {
        let mut loaded = self.dev_cache.load(&self.engine, wasm)?;
        let mut digest = <sha2::Sha256 as sha2::Digest>::new();
        sha2::Digest::update(&mut digest, loaded.digest.as_bytes());
        sha2::Digest::update(&mut digest, source.as_bytes());
        loaded.digest = hex::encode(sha2::Digest::finalize(digest));
        self.link(name, wasm, loaded, Some(source))
    }

    /// Loads the component `wasm` of a production artifact without using the cache:
    /// memory-maps `precompiled` when given, else compiles `wasm` in memory.
    ///
    /// `precompiled` must be trusted: it is native code, produced from `wasm` by an engine
    /// whose [`compatibility_hash`] equals this one's (wasmtime still rejects artifacts of
    /// another version or configuration, with an error).
    pub fn load_prebuilt(
        &self,
        name: &str,
        wasm: &Path,
        precompiled: Option<&Path>,
    ) -> Result<GuestComponent, RuntimeError> {
        let started = std::time::Instant::now();
        let bytes = std::fs::read(wasm).map_err(|source| RuntimeError::Read {
            path: wasm.to_path_buf(),
            source,
        })?;
        let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
        let (component, source) = match precompiled {
            // SAFETY: the caller vouches for the artifact (see above); it is never
            // rewritten while mapped.
            Some(path) => (
                unsafe { wasmtime::component::Component::deserialize_file(&self.engine, path) }
                    .map_err(|source| RuntimeError::Compile {
                        path: path.to_path_buf(),
                        source,
                    })?,
                LoadSource::Cached,
            ),
            None => (
                wasmtime::component::Component::new(&self.engine, &bytes).map_err(|source| {
                    RuntimeError::Compile {
                        path: wasm.to_path_buf(),
                        source,
                    }
                })?,
                LoadSource::Compiled,
            ),
        };
        let loaded = cache::Loaded {
            component,
            source,
            elapsed: started.elapsed(),
            digest,
        };
        self.link(name, wasm, loaded, None)
    }

    /// Links a loaded component against the host imports; `dev_source` is the app of a
    /// development runtime.
    fn link(
        &self,
        name: &str,
        wasm: &Path,
        loaded: cache::Loaded,
        dev_source: Option<Arc<str>>,
    ) -> Result<GuestComponent, RuntimeError> {
        let imports_error = |source| RuntimeError::Imports {
            component: name.to_string(),
            source,
        };
        let instance_pre = self
            .linker
            .instantiate_pre(&loaded.component)
            .map_err(imports_error)?;
        let pre = MooseAppPre::new(instance_pre).map_err(imports_error)?;
        let wasm_size = std::fs::metadata(wasm).map(|m| m.len()).unwrap_or(0);
        Ok(GuestComponent::new(ComponentParts {
            name: name.into(),
            pre,
            memory_limit: self.config.memory_limit,
            log: self.config.log,
            output: self.config.output,
            timeout: self.config.call_timeout,
            deadline_ticks: self.config.deadline_ticks(),
            query: self.query.clone(),
            info: LoadInfo {
                source: loaded.source,
                load_time: loaded.elapsed,
                wasm_size,
                digest: loaded.digest,
            },
            ticker: self.ticker.clone(),
            dev_source,
        }))
    }
}
