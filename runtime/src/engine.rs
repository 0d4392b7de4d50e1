//! The one wasmtime [`Engine`] of a host: pooling allocation, epoch interruption and a
//! background thread that advances the epoch.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

use super::function_cache::{FunctionCache, FUNCTION_CACHE_LIMIT};
use super::guest_io::LogLimits;
use super::limits::OutputLimits;
use super::RuntimeError;

/// Limits and tuning of the component runtime.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Largest linear memory one instance may grow to, in bytes.
    pub memory_limit: usize,
    /// Longest a single guest call (describe, one batch, one API request) may run.
    pub call_timeout: Duration,
    /// How often the epoch advances; deadlines are rounded up to whole ticks (see
    /// [`RuntimeConfig::deadline_ticks`]).
    pub epoch_tick: Duration,
    /// Most instances alive at once across all components.
    pub max_instances: u32,
    /// Bounds on what one call may log.
    pub log: LogLimits,
    /// Bounds on what one call may return.
    pub output: OutputLimits,
    /// Where compiled functions are kept between compilations (see
    /// [`crate::FunctionCache`]); `None` compiles every function of every component.
    pub function_cache: Option<PathBuf>,
    /// Where precompiled development runtimes ([`crate::Runtime::load_dev`]) are kept,
    /// shared by every app that uses the same runtime (emptied past
    /// [`DEV_RUNTIME_CACHE_LIMIT`] when a runtime starts); `None` keeps them with the
    /// other components.
    pub dev_runtime_cache: Option<PathBuf>,
}

/// Most bytes the cache of precompiled development runtimes may hold when a runtime
/// starts (a TypeScript or Python runtime compiles to about 37 MiB).
pub const DEV_RUNTIME_CACHE_LIMIT: u64 = 1 << 30;

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            memory_limit: 512 << 20,
            call_timeout: Duration::from_secs(10),
            epoch_tick: Duration::from_millis(10),
            max_instances: 256,
            log: LogLimits::default(),
            output: OutputLimits::default(),
            function_cache: None,
            dev_runtime_cache: None,
        }
    }
}

impl RuntimeConfig {
    /// Epoch ticks a call may run before it is interrupted: the timeout in whole ticks,
    /// plus one, because the first tick may come at once after the call starts. A call
    /// thus runs at least `call_timeout` and at most one tick longer.
    pub fn deadline_ticks(&self) -> u64 {
        let tick = self.epoch_tick.as_nanos().max(1);
        self.call_timeout.as_nanos().div_ceil(tick) as u64 + 1
    }
}

/// Most frames of a trap's backtrace the engine captures: enough to tell a stack overflow.
pub const BACKTRACE_FRAMES: usize = 64;

/// Builds the engine every component of a host is compiled for.
pub fn build_engine(config: &RuntimeConfig) -> Result<Engine, RuntimeError> {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(config.max_instances)
        .total_core_instances(config.max_instances * 4)
        .total_memories(config.max_instances * 2)
        .total_tables(config.max_instances * 2)
        .total_stacks(config.max_instances)
        .max_memory_size(config.memory_limit)
        // Interpreters compiled to WebAssembly (JS, Python) have large function tables
        // and instance state.
        .table_elements(1 << 17)
        .max_component_instance_size(4 << 20)
        .max_core_instance_size(4 << 20);

    let mut wasm = Config::new();
    wasm.wasm_component_model(true)
        .epoch_interruption(true)
        .cranelift_opt_level(OptLevel::Speed)
        .wasm_backtrace_max_frames(std::num::NonZeroUsize::new(BACKTRACE_FRAMES))
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    if let Some(dir) = &config.function_cache {
        // The cache only saves time: without it, every function is compiled.
        match FunctionCache::open(dir, FUNCTION_CACHE_LIMIT) {
            Ok(cache) => {
                wasm.enable_incremental_compilation(Arc::new(cache))
                    .map_err(|source| RuntimeError::Engine { source })?;
            }
            Err(error) => tracing::warn!(
                dir = %dir.display(),
                "compiling without the compiled-function cache: {error}"
            ),
        }
    }
    Engine::new(&wasm).map_err(|source| RuntimeError::Engine { source })
}

/// Advances an engine's epoch every tick until dropped.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub fn start(engine: Engine, tick: Duration) -> Result<Self, RuntimeError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("moose-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .map_err(|source| RuntimeError::EpochThread { source })?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_is_never_short_of_the_timeout() {
        let config = |timeout_ms, tick_ms| RuntimeConfig {
            call_timeout: Duration::from_millis(timeout_ms),
            epoch_tick: Duration::from_millis(tick_ms),
            ..RuntimeConfig::default()
        };
        // The first tick may fall right after the call starts: one tick more than the
        // timeout holds.
        assert_eq!(config(100, 10).deadline_ticks(), 11);
        assert_eq!(config(105, 10).deadline_ticks(), 12);
        assert_eq!(config(0, 10).deadline_ticks(), 1);
    }
}
