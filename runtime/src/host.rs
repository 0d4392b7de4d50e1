//! Per-instance host state and the implementation of the `moose:app/host` imports.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::moose::app::host::Host;
use super::bindings::types::{Batch, QueryError};
use super::bindings::{LogLevel, QueryParam};
use super::guest_io::GuestIo;
use super::limits::MemoryLimiter;
use super::query::QueryService;

/// What one store holds besides the guest: WASI state, limits and the host services.
pub struct HostState {
    pub(super) io: GuestIo,
    wasi: WasiCtx,
    table: ResourceTable,
    pub(super) limiter: MemoryLimiter,
    query: Arc<dyn QueryService>,
    /// What `moose:app/dev-source.source` answers: the app a development runtime evaluates.
    dev_source: Option<Arc<str>>,
}

impl HostState {
    /// State for one instance whose logs, stdout and stderr go to `io`. WASI gets no
    /// preopened directories, no environment, no arguments and no network.
    pub fn new(
        io: GuestIo,
        memory_limit: usize,
        query: Arc<dyn QueryService>,
        dev_source: Option<Arc<str>>,
    ) -> Self {
        let wasi = WasiCtx::builder()
            .stdout(io.stdout())
            .stderr(io.stderr())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Self {
            io,
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(memory_limit),
            query,
            dev_source,
        }
    }

    /// The app source of a development runtime; an error for a component loaded without one.
    pub(super) fn dev_source(&self) -> wasmtime::Result<String> {
        match &self.dev_source {
            Some(source) => Ok(source.to_string()),
            None => Err(wasmtime::Error::msg(
                "this component is a development runtime (world `moose-dev-runtime`) and was \
                 loaded without an app source; build it with `moose build` for production",
            )),
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl Host for HostState {
    fn log(&mut self, level: LogLevel, message: String) {
        self.io.log(level, &message);
    }

    fn query(&mut self, sql: String, params: Vec<QueryParam>) -> Result<Batch, QueryError> {
        self.query.query(&sql, &params)
    }
}

impl super::bindings::moose::app::types::Host for HostState {}
