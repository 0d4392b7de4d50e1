//! What the host calls on an app: `describe`, `process`, `handle-api` and the `window-*`
//! calls, dispatched to what was declared.

use super::options::api_ref;
use super::App;
use crate::api::{ApiError, ApiResponse};
use crate::defs::AppDef;
use crate::process::{Batch, GuestError, ProcessOutput};
use crate::window::{AccumulateOutput, WindowBounds, WindowFunction};

impl App {
    /// The app as plain data (what `describe` returns to the host).
    pub fn describe(&self) -> AppDef {
        AppDef {
            models: self.models.as_slice().to_vec(),
            streams: self.streams.clone(),
            tables: self.tables.clone(),
            ingests: self.ingests.clone(),
            functions: self.functions.clone(),
            aggregations: self.aggregations.clone(),
            windowed_aggregations: self.windowed_aggregations.clone(),
            views: self.views.clone(),
            apis: self.apis.iter().map(|a| a.def.clone()).collect(),
        }
    }

    /// Runs streaming function `function` on `input`.
    pub fn process(&self, function: &str, input: &Batch) -> Result<ProcessOutput, GuestError> {
        match self.function_impls.get(function) {
            Some(f) => f.process(input),
            None => Err(GuestError::UnknownFunction(function.to_owned())),
        }
    }

    /// Runs query API `api` (`name`, or `name/version` for a versioned API) with
    /// `params`, a JSON object.
    pub fn handle_api(&self, api: &str, params: &[u8]) -> Result<ApiResponse, ApiError> {
        match self.apis.iter().find(|a| api_ref(&a.def) == api) {
            Some(registered) => registered.handler.call(&registered.def.params, params),
            None => Err(ApiError::UnknownApi(api.to_owned())),
        }
    }

    fn window_function(&self, aggregation: &str) -> Result<&dyn WindowFunction, GuestError> {
        self.window_impls
            .get(aggregation)
            .map(|f| f.as_ref())
            .ok_or_else(|| GuestError::UnknownFunction(aggregation.to_owned()))
    }

    /// `window-init`: the encoded state of an empty window of `aggregation`.
    pub fn window_init(
        &self,
        aggregation: &str,
        window: &WindowBounds,
    ) -> Result<Vec<u8>, GuestError> {
        self.window_function(aggregation)?.init(window)
    }

    /// `window-accumulate`: folds `input` into `state`.
    pub fn window_accumulate(
        &self,
        aggregation: &str,
        window: &WindowBounds,
        state: &[u8],
        input: &Batch,
    ) -> Result<AccumulateOutput, GuestError> {
        self.window_function(aggregation)?
            .accumulate(window, state, input)
    }

    /// `window-merge`: combines two states of one window.
    pub fn window_merge(
        &self,
        aggregation: &str,
        window: &WindowBounds,
        a: &[u8],
        b: &[u8],
    ) -> Result<Vec<u8>, GuestError> {
        let _ = window;
        self.window_function(aggregation)?.merge(a, b)
    }

    /// `window-emit`: the rows of a closed window.
    pub fn window_emit(
        &self,
        aggregation: &str,
        window: &WindowBounds,
        state: &[u8],
    ) -> Result<Batch, GuestError> {
        self.window_function(aggregation)?.emit(window, state)
    }
}
