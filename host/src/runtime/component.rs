//! A loaded component: its pre-linked instance template, a pool of live instances, and
//! the guest calls (`describe`, `process`, `handle-api` and the four `window-*` calls).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime::{Store, Trap};

use super::bindings::types::{
    AccumulateOutput, ApiError, ApiResponse, AppDef, Batch, GuestError, ProcessOutput, WindowBounds,
};
use super::bindings::{MooseApp, MooseAppPre};
use super::cache::LoadSource;
use super::engine::EpochTicker;
use super::host::HostState;
use super::limits::MemoryLimitExceeded;
use super::query::QueryService;

/// Idle instances kept per component for reuse.
const MAX_IDLE_INSTANCES: usize = 16;

/// Why a guest call produced no answer. The instance involved is discarded; the next call
/// gets a fresh one, so one failure never affects later calls.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("component `{component}`: `{call}` ran past its {timeout:?} time limit")]
    Timeout {
        component: Arc<str>,
        call: &'static str,
        timeout: Duration,
    },
    #[error("component `{component}`: `{call}` exceeded the memory limit: {source}")]
    MemoryLimit {
        component: Arc<str>,
        call: &'static str,
        source: MemoryLimitExceeded,
    },
    #[error("component `{component}`: `{call}` trapped: {message}")]
    Trap {
        component: Arc<str>,
        call: &'static str,
        message: String,
    },
    #[error("component `{component}` could not be instantiated: {message}")]
    Instantiate {
        component: Arc<str>,
        message: String,
    },
}

/// Facts about how a component was loaded, for reports and benchmarks.
#[derive(Debug, Clone)]
pub struct LoadInfo {
    pub source: LoadSource,
    /// Time to compile, or to map the precompiled artifact.
    pub load_time: Duration,
    /// Size of the `.wasm` file in bytes.
    pub wasm_size: u64,
    /// Hex SHA-256 of the `.wasm` file.
    pub digest: String,
}

struct Instance {
    store: Store<HostState>,
    app: MooseApp,
}

/// A component ready to be called from any thread.
pub struct GuestComponent {
    name: Arc<str>,
    pre: MooseAppPre<HostState>,
    idle: Mutex<Vec<Instance>>,
    memory_limit: usize,
    timeout: Duration,
    deadline_ticks: u64,
    query: Arc<dyn QueryService>,
    info: LoadInfo,
    _ticker: Arc<EpochTicker>,
}

/// Everything [`GuestComponent::new`] needs besides the pre-linked component.
pub(super) struct ComponentParts {
    pub name: Arc<str>,
    pub pre: MooseAppPre<HostState>,
    pub memory_limit: usize,
    pub timeout: Duration,
    pub deadline_ticks: u64,
    pub query: Arc<dyn QueryService>,
    pub info: LoadInfo,
    pub ticker: Arc<EpochTicker>,
}

impl GuestComponent {
    pub(super) fn new(parts: ComponentParts) -> Self {
        Self {
            name: parts.name,
            pre: parts.pre,
            idle: Mutex::new(Vec::new()),
            memory_limit: parts.memory_limit,
            timeout: parts.timeout,
            deadline_ticks: parts.deadline_ticks,
            query: parts.query,
            info: parts.info,
            _ticker: parts.ticker,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn info(&self) -> &LoadInfo {
        &self.info
    }

    /// The component's part of the app.
    pub fn describe(&self) -> Result<AppDef, CallError> {
        self.call("describe", |app, store| {
            app.moose_app_guest().call_describe(store)
        })
    }

    /// Runs streaming function `function` on one batch.
    pub fn process(
        &self,
        function: &str,
        input: &Batch,
    ) -> Result<Result<ProcessOutput, GuestError>, CallError> {
        self.call("process", |app, store| {
            app.moose_app_guest().call_process(store, function, input)
        })
    }

    /// Runs query API `api` with its validated parameters (a JSON object).
    pub fn handle_api(
        &self,
        api: &str,
        params: &[u8],
    ) -> Result<Result<ApiResponse, ApiError>, CallError> {
        self.call("handle-api", |app, store| {
            app.moose_app_guest().call_handle_api(store, api, params)
        })
    }

    /// The state of an empty window of windowed aggregation `aggregation`.
    pub fn window_init(
        &self,
        aggregation: &str,
        window: WindowBounds,
    ) -> Result<Result<Vec<u8>, GuestError>, CallError> {
        self.call("window-init", |app, store| {
            app.moose_app_guest()
                .call_window_init(store, aggregation, window)
        })
    }

    /// Folds `input` (records of `window`) into `state`.
    pub fn window_accumulate(
        &self,
        aggregation: &str,
        window: WindowBounds,
        state: &[u8],
        input: &Batch,
    ) -> Result<Result<AccumulateOutput, GuestError>, CallError> {
        self.call("window-accumulate", |app, store| {
            app.moose_app_guest()
                .call_window_accumulate(store, aggregation, window, state, input)
        })
    }

    /// Combines two states of `window`.
    pub fn window_merge(
        &self,
        aggregation: &str,
        window: WindowBounds,
        a: &[u8],
        b: &[u8],
    ) -> Result<Result<Vec<u8>, GuestError>, CallError> {
        self.call("window-merge", |app, store| {
            app.moose_app_guest()
                .call_window_merge(store, aggregation, window, a, b)
        })
    }

    /// The rows of closed window `window`, from its merged `state`.
    pub fn window_emit(
        &self,
        aggregation: &str,
        window: WindowBounds,
        state: &[u8],
    ) -> Result<Result<Batch, GuestError>, CallError> {
        self.call("window-emit", |app, store| {
            app.moose_app_guest()
                .call_window_emit(store, aggregation, window, state)
        })
    }

    /// Creates a fresh instance; the time limit applies to instantiation too.
    pub fn instantiate(&self) -> Result<(), CallError> {
        let instance = self.new_instance()?;
        self.release(instance);
        Ok(())
    }

    fn call<R>(
        &self,
        call: &'static str,
        run: impl FnOnce(&MooseApp, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut instance = match idle {
            Some(instance) => instance,
            None => self.new_instance()?,
        };
        instance.store.set_epoch_deadline(self.deadline_ticks);
        match run(&instance.app, &mut instance.store) {
            Ok(result) => {
                self.release(instance);
                Ok(result)
            }
            Err(error) => Err(self.classify(call, error)),
        }
    }

    fn new_instance(&self) -> Result<Instance, CallError> {
        let state = HostState::new(self.name.clone(), self.memory_limit, self.query.clone());
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(self.deadline_ticks);
        match self.pre.instantiate(&mut store) {
            Ok(app) => Ok(Instance { store, app }),
            Err(error) => Err(match self.classify("instantiate", error) {
                CallError::Trap { message, .. } => CallError::Instantiate {
                    component: self.name.clone(),
                    message,
                },
                other => other,
            }),
        }
    }

    fn release(&self, instance: Instance) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_IDLE_INSTANCES {
                idle.push(instance);
            }
        }
    }

    fn classify(&self, call: &'static str, error: wasmtime::Error) -> CallError {
        let component = self.name.clone();
        if let Some(Trap::Interrupt) = error.downcast_ref::<Trap>() {
            return CallError::Timeout {
                component,
                call,
                timeout: self.timeout,
            };
        }
        if let Some(exceeded) = error.downcast_ref::<MemoryLimitExceeded>() {
            return CallError::MemoryLimit {
                component,
                call,
                source: exceeded.clone(),
            };
        }
        CallError::Trap {
            component,
            call,
            message: format!("{error:?}"),
        }
    }
}
