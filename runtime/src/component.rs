//! A loaded component: its pre-linked instance template, a pool of live instances, and
//! the guest calls (`describe`, `process`, `handle-api` and the four `window-*` calls).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime::{Store, Trap, WasmBacktrace};

use moose_model::types::AppDef;

use super::bindings::types::{
    AccumulateOutput, ApiError, ApiResponse, Batch, GuestError, ProcessOutput, WindowBounds,
};
use super::bindings::{MooseApp, MooseAppPre};
use super::cache::LoadSource;
use super::engine::EpochTicker;
use super::guest_io::{GuestIo, LogLimits};
use super::host::HostState;
use super::limits::{MemoryLimitExceeded, OutputLimitExceeded, OutputLimits};
use super::query::QueryService;

/// Idle instances kept per component for reuse.
const MAX_IDLE_INSTANCES: usize = 16;

/// An instance whose memories grew by more than this is dropped after its call rather than
/// kept for reuse, so one large call does not keep its memory resident.
const MAX_IDLE_GROWTH: usize = 64 << 20;

/// An out-of-bounds access with a backtrace this deep (the most the engine captures, see
/// [`super::engine::BACKTRACE_FRAMES`]) is the guest's own stack overflowing: safe code does
/// not reach outside its memory otherwise.
const DEEP_STACK_FRAMES: usize = super::engine::BACKTRACE_FRAMES;

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
    #[error("component `{component}`: `{call}` overflowed its stack (at least {frames} calls deep): {which}")]
    StackOverflow {
        component: Arc<str>,
        call: &'static str,
        frames: usize,
        which: &'static str,
    },
    #[error("component `{component}`: `{call}` returned too much: {source}")]
    OutputLimit {
        component: Arc<str>,
        call: &'static str,
        source: OutputLimitExceeded,
    },
    #[error("component `{component}`: `{call}` {message}")]
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
    /// Hex SHA-256 of the `.wasm` file; for a development runtime, of that digest followed
    /// by the app source.
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
    log: LogLimits,
    output: OutputLimits,
    timeout: Duration,
    deadline_ticks: u64,
    query: Arc<dyn QueryService>,
    info: LoadInfo,
    dev_source: Option<Arc<str>>,
    _ticker: Arc<EpochTicker>,
}

/// Everything [`GuestComponent::new`] needs besides the pre-linked component.
pub(super) struct ComponentParts {
    pub name: Arc<str>,
    pub pre: MooseAppPre<HostState>,
    pub memory_limit: usize,
    pub log: LogLimits,
    pub output: OutputLimits,
    pub timeout: Duration,
    pub deadline_ticks: u64,
    pub query: Arc<dyn QueryService>,
    pub info: LoadInfo,
    pub ticker: Arc<EpochTicker>,
    /// The app a development runtime evaluates.
    pub dev_source: Option<Arc<str>>,
}

impl GuestComponent {
    pub(super) fn new(parts: ComponentParts) -> Self {
        Self {
            name: parts.name,
            pre: parts.pre,
            idle: Mutex::new(Vec::new()),
            memory_limit: parts.memory_limit,
            log: parts.log,
            output: parts.output,
            timeout: parts.timeout,
            deadline_ticks: parts.deadline_ticks,
            query: parts.query,
            info: parts.info,
            dev_source: parts.dev_source,
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
        let described = self.call("describe", |app, store| {
            app.moose_app_guest().call_describe(store)
        })?;
        Ok(described.into())
    }

    /// Runs streaming function `function` on one batch.
    pub fn process(
        &self,
        function: &str,
        input: &Batch,
    ) -> Result<Result<ProcessOutput, GuestError>, CallError> {
        let result = self.call("process", |app, store| {
            app.moose_app_guest().call_process(store, function, input)
        })?;
        if let Ok(output) = &result {
            self.check_output("process", self.output.check_batch(&output.output))?;
        }
        Ok(result)
    }

    /// Runs query API `api` with its validated parameters (a JSON object).
    pub fn handle_api(
        &self,
        api: &str,
        params: &[u8],
    ) -> Result<Result<ApiResponse, ApiError>, CallError> {
        let result = self.call("handle-api", |app, store| {
            app.moose_app_guest().call_handle_api(store, api, params)
        })?;
        if let Ok(response) = &result {
            self.check_output("handle-api", self.output.check_bytes(response.body.len()))?;
        }
        Ok(result)
    }

    /// The state of an empty window of windowed aggregation `aggregation`.
    pub fn window_init(
        &self,
        aggregation: &str,
        window: WindowBounds,
    ) -> Result<Result<Vec<u8>, GuestError>, CallError> {
        let result = self.call("window-init", |app, store| {
            app.moose_app_guest()
                .call_window_init(store, aggregation, window)
        })?;
        if let Ok(state) = &result {
            self.check_output("window-init", self.output.check_bytes(state.len()))?;
        }
        Ok(result)
    }

    /// Folds `input` (records of `window`) into `state`.
    pub fn window_accumulate(
        &self,
        aggregation: &str,
        window: WindowBounds,
        state: &[u8],
        input: &Batch,
    ) -> Result<Result<AccumulateOutput, GuestError>, CallError> {
        let result = self.call("window-accumulate", |app, store| {
            app.moose_app_guest()
                .call_window_accumulate(store, aggregation, window, state, input)
        })?;
        if let Ok(output) = &result {
            self.check_output(
                "window-accumulate",
                self.output.check_bytes(output.state.len()),
            )?;
        }
        Ok(result)
    }

    /// Combines two states of `window`.
    pub fn window_merge(
        &self,
        aggregation: &str,
        window: WindowBounds,
        a: &[u8],
        b: &[u8],
    ) -> Result<Result<Vec<u8>, GuestError>, CallError> {
        let result = self.call("window-merge", |app, store| {
            app.moose_app_guest()
                .call_window_merge(store, aggregation, window, a, b)
        })?;
        if let Ok(state) = &result {
            self.check_output("window-merge", self.output.check_bytes(state.len()))?;
        }
        Ok(result)
    }

    /// The rows of closed window `window`, from its merged `state`.
    pub fn window_emit(
        &self,
        aggregation: &str,
        window: WindowBounds,
        state: &[u8],
    ) -> Result<Result<Batch, GuestError>, CallError> {
        let result = self.call("window-emit", |app, store| {
            app.moose_app_guest()
                .call_window_emit(store, aggregation, window, state)
        })?;
        if let Ok(rows) = &result {
            self.check_output("window-emit", self.output.check_batch(rows))?;
        }
        Ok(result)
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
        let io = instance.store.data().io.clone();
        io.begin_call();
        let outcome = run(&instance.app, &mut instance.store);
        io.end_call();
        match outcome {
            Ok(result) => {
                self.release(instance);
                Ok(result)
            }
            Err(error) => Err(self.classify(call, error, &io)),
        }
    }

    fn check_output(
        &self,
        call: &'static str,
        checked: Result<(), OutputLimitExceeded>,
    ) -> Result<(), CallError> {
        checked.map_err(|source| CallError::OutputLimit {
            component: self.name.clone(),
            call,
            source,
        })
    }

    fn new_instance(&self) -> Result<Instance, CallError> {
        let io = GuestIo::new(self.name.clone(), self.log);
        let state = HostState::new(
            io.clone(),
            self.memory_limit,
            self.query.clone(),
            self.dev_source.clone(),
        );
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(self.deadline_ticks);
        io.begin_call();
        let instantiated = self.pre.instantiate(&mut store);
        io.end_call();
        match instantiated {
            Ok(app) => Ok(Instance { store, app }),
            Err(error) => Err(match self.classify("instantiate", error, &io) {
                CallError::Trap { message, .. } => CallError::Instantiate {
                    component: self.name.clone(),
                    message,
                },
                other => other,
            }),
        }
    }

    /// Keeps `instance` for the next call unless enough are kept or its memory grew much.
    fn release(&self, instance: Instance) {
        if instance.store.data().limiter.grown() > MAX_IDLE_GROWTH {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_IDLE_INSTANCES {
                idle.push(instance);
            }
        }
    }

    /// What went wrong in a failed call, in words a user can act on: the limit it hit, the
    /// stack overflow, or the trap with the panic message or last stderr of the guest.
    fn classify(&self, call: &'static str, error: wasmtime::Error, io: &GuestIo) -> CallError {
        let component = self.name.clone();
        let trap = error.downcast_ref::<Trap>().copied();
        if let Some(Trap::Interrupt) = trap {
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
        let frames = error
            .downcast_ref::<WasmBacktrace>()
            .map_or(0, |trace| trace.frames().len());
        tracing::debug!(component = %component, call, "guest call failed: {error:?}");
        match trap {
            Some(Trap::StackOverflow) => CallError::StackOverflow {
                component,
                call,
                frames,
                which: "the engine's call stack is exhausted",
            },
            Some(Trap::MemoryOutOfBounds) if frames >= DEEP_STACK_FRAMES => {
                CallError::StackOverflow {
                    component,
                    call,
                    frames,
                    which: "the stack in the guest's own memory is exhausted \
                            (1 MiB for Rust components; recurse less or keep large \
                            values on the heap)",
                }
            }
            _ => CallError::Trap {
                component,
                call,
                message: trap_message(trap, &error, &io.stderr_tail()),
            },
        }
    }
}

/// `trapped (<why>)` for a trap, `failed: <error>` otherwise, followed by what the guest last
/// wrote to stderr: the message of a Rust panic, or the last lines of other output.
fn trap_message(trap: Option<Trap>, error: &wasmtime::Error, stderr: &str) -> String {
    let what = match trap {
        Some(trap) => {
            let trap = trap.to_string();
            format!("trapped ({})", trap.trim_start_matches("wasm trap: "))
        }
        None => format!("failed: {}", error.root_cause()),
    };
    if let Some(panic) = rust_panic(stderr) {
        return format!("{what}: the guest {panic}");
    }
    let said = last_lines(stderr, 512);
    if said.is_empty() {
        what
    } else {
        format!("{what}; the guest's last words on stderr: {said}")
    }
}

/// `panicked at src/lib.rs:7:5: message` from the last Rust panic report in `stderr`.
fn rust_panic(stderr: &str) -> Option<String> {
    let start = stderr.rfind("panicked at ")?;
    let report = &stderr[start..];
    let (location, message) = report.split_once(":\n")?;
    let message: Vec<&str> = message
        .lines()
        .take_while(|line| !line.starts_with("note: run with `RUST_BACKTRACE"))
        .collect();
    Some(format!("{location}: {}", message.join("\n").trim()))
}

/// The end of `text`, at most `max` bytes, starting on a line where possible.
fn last_lines(text: &str, max: usize) -> &str {
    let text = text.trim();
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let tail = &text[start..];
    tail.find('\n').map_or(tail, |line| &tail[line + 1..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_rust_panic_message() {
        let stderr = "some output\nthread '<unnamed>' (1) panicked at src/lib.rs:78:20:\nboom a\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            rust_panic(stderr).as_deref(),
            Some("panicked at src/lib.rs:78:20: boom a")
        );
        assert_eq!(rust_panic("just output\n"), None);
    }

    #[test]
    fn keeps_the_last_lines() {
        assert_eq!(last_lines("a\nb\n", 10), "a\nb");
        assert_eq!(last_lines("first line\nsecond\nthird", 14), "second\nthird");
        assert_eq!(last_lines("first line\nsecond\nthird", 12), "third");
    }
}
